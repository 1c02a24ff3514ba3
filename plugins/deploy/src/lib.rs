//! Built-in `deploy` step: rolls an image, named by digest, out to a container engine that
//! speaks the Docker Engine API (podman's service, dockerd), checks its health and puts the
//! previous release back when it is not healthy.
//!
//! The engine is the only record: every container of a service carries labels (service,
//! release number, image digest, run, pipeline, step), so two machines deploying to one
//! engine agree on the history. A release is *promoted* (renamed from
//! `<service>.r<N>.candidate` to `<service>.r<N>`) only once it was healthy; rollback targets
//! are promoted releases. Deploys of one service are serialised by a lock container
//! (`<service>.lock`, created exclusively, labelled with its holder and an expiry at the
//! holder's deadline).
//!
//! Flow of `action = "deploy"`: verify the signature (`verify-key`), pull by digest, take
//! the lock, remove candidates an interrupted deploy left, create the candidate, stop the
//! running release, start the candidate, wait for health; healthy → promote, prune to
//! `keep` previous releases; not healthy or not started → stop it, start the previous
//! release, wait for its health, fail with `rolled back to sha256:…: <reason>` and the
//! candidate's last output lines.

pub mod config;
pub mod engine;
pub mod registry;

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value as Json, json};
use sluice_sdk::http::{Request, send};
use sluice_sdk::{
    Failure, Invocation, Kind, Level, Opt, Outcome, Plugin, PluginInfo, Port, RunDetails, Value,
    ValueKind,
};

use config::{Action, Config, EnvValue, ImageRef, Probe, Raw};
use engine::{ApiError, Container, Engine};

const OPTIONS: &[Opt] = &[
    Opt::new(
        "engine",
        Kind::Text,
        "The engine's API: \"unix:/run/podman/podman.sock\", \"unix:/var/run/docker.sock\" or \"http://127.0.0.1:2375\" (grant it in allow.net)",
    ),
    Opt::new(
        "service",
        Kind::Text,
        "The service's name: its containers are <service>.r<N>",
    ),
    Opt::new(
        "action",
        Kind::Choice(&["deploy", "rollback", "status"]),
        "Roll out the image, go back to the previous release, or report what runs",
    )
    .with_default("\"deploy\""),
    Opt::new(
        "ports",
        Kind::TextList,
        "Published ports, like [\"127.0.0.1:8080:8080\"]",
    ),
    Opt::new(
        "env",
        Kind::Table,
        "Environment of the container, a table of text values",
    ),
    Opt::new(
        "secret-env",
        Kind::Table,
        "Environment from send-only secrets: { NAME = \"SECRET\" }, each bound to the engine in allow.send",
    ),
    Opt::new(
        "memory",
        Kind::Any,
        "Memory limit: bytes, or text like \"64m\"",
    ),
    Opt::new("pids", Kind::Integer, "Process limit"),
    Opt::new(
        "restart",
        Kind::Choice(&["unless-stopped", "always", "on-failure", "no"]),
        "Restart policy",
    )
    .with_default("\"unless-stopped\""),
    Opt::new(
        "health",
        Kind::Table,
        "{ path = \"/healthz\", status = 200, port, interval = \"1s\", timeout = \"2s\", retries = 30, start-period } or { healthcheck = true } (the image's HEALTHCHECK)",
    ),
    Opt::new(
        "registry-tls-verify",
        Kind::Boolean,
        "false for a plain-HTTP registry such as 127.0.0.1:5000",
    )
    .with_default("true"),
    Opt::new(
        "verify-key",
        Kind::Text,
        "A cosign public key (workspace path): the image's signature is verified in its registry before the pull",
    ),
    Opt::new(
        "keep",
        Kind::Integer,
        "Previous releases kept, stopped, for rollback",
    )
    .with_default("2"),
    Opt::new(
        "stop-timeout",
        Kind::Text,
        "Grace before the old release is killed",
    )
    .with_default("\"10s\""),
];

const L_SERVICE: &str = "sluice.service";
const L_ROLE: &str = "sluice.role";
const L_RELEASE: &str = "sluice.release";
const L_IMAGE: &str = "sluice.image";
const L_REFERENCE: &str = "sluice.reference";
const L_RUN: &str = "sluice.run";
const L_PIPELINE: &str = "sluice.pipeline";
const L_STEP: &str = "sluice.step";
const L_EXPIRES: &str = "sluice.lock-expires";
const CANDIDATE: &str = ".candidate";

fn info(message: &str) {
    sluice_sdk::log(Level::Info, message);
}

fn warn(message: &str) {
    sluice_sdk::log(Level::Warn, message);
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Milliseconds left before the step's deadline.
fn remaining() -> Duration {
    Duration::from_millis(sluice_sdk::run_info().remaining_ms)
}

/// An error in a phase: "<phase>: <what the engine said>".
fn phase(name: &'static str) -> impl Fn(ApiError) -> Failure {
    move |e| Failure::error(format!("{name}: {e}"))
}

fn short(digest: &str) -> &str {
    &digest[..digest.len().min(19)]
}

/// A container of the service that is a release (not the lock).
#[derive(Debug, Clone)]
struct Release {
    id: String,
    name: String,
    number: u64,
    digest: String,
    reference: String,
    running: bool,
    promoted: bool,
}

impl Release {
    fn of(c: &Container) -> Option<Release> {
        if c.label(L_ROLE) != Some("release") {
            return None;
        }
        Some(Release {
            id: c.id.clone(),
            name: c.name().to_string(),
            number: c.label(L_RELEASE).and_then(|n| n.parse().ok()).unwrap_or(0),
            digest: c.label(L_IMAGE).unwrap_or("").to_string(),
            reference: c.label(L_REFERENCE).unwrap_or("").to_string(),
            running: c.running(),
            promoted: !c.name().ends_with(CANDIDATE),
        })
    }
}

fn releases(engine: &Engine, service: &str) -> Result<Vec<Release>, Failure> {
    let mut all: Vec<Release> = engine
        .list(service)
        .map_err(phase("list"))?
        .iter()
        .filter_map(Release::of)
        .collect();
    all.sort_by_key(|r| r.number);
    Ok(all)
}

/// The time a rollback needs: stop the candidate, start the previous release, see it healthy.
fn reserve(cfg: &Config) -> Duration {
    Duration::from_secs(5) + cfg.health.interval * 2 + cfg.health.timeout
}

/// Waits until the container is healthy, or says why it is not.
fn wait_healthy(engine: &Engine, id: &str, cfg: &Config, reserve: Duration) -> Result<(), String> {
    let h = &cfg.health;
    let started = Instant::now();
    if !h.start_period.is_zero() {
        std::thread::sleep(h.start_period.min(remaining().saturating_sub(reserve)));
    }
    let mut failures = 0;
    let mut last;
    loop {
        let state = engine
            .inspect(id)
            .map_err(|e| format!("inspecting the container: {e}"))?;
        let state = state.get("State").cloned().unwrap_or(Json::Null);
        let running = state.get("Running").and_then(Json::as_bool) == Some(true);
        let restarting = state.get("Restarting").and_then(Json::as_bool) == Some(true);
        if !running || restarting {
            let code = state.get("ExitCode").and_then(Json::as_i64).unwrap_or(0);
            let oom = if state.get("OOMKilled").and_then(Json::as_bool) == Some(true) {
                " (killed: out of memory)"
            } else {
                ""
            };
            return Err(format!("the container exited with code {code}{oom}"));
        }
        match &h.probe {
            Probe::Http { url, status } => {
                match send(&Request::get(url.as_str()).timeout(h.timeout)) {
                    Ok(r) if r.status == *status => return Ok(()),
                    Ok(r) => last = format!("GET {url} answered {}, not {status}", r.status),
                    Err(e) if e.contains("denied") => {
                        return Err(format!("GET {url}: {e}"));
                    }
                    Err(e) => last = format!("GET {url}: {e}"),
                }
            }
            Probe::Healthcheck => {
                let status = state
                    .get("Health")
                    .and_then(|h| h.get("Status"))
                    .and_then(Json::as_str)
                    .unwrap_or("");
                match status {
                    "healthy" => return Ok(()),
                    "unhealthy" => return Err("the image's HEALTHCHECK reports unhealthy".into()),
                    "" => {
                        return Err(
                            "the image has no HEALTHCHECK (or the engine does not run it): set `health.path`"
                                .into(),
                        );
                    }
                    s => last = format!("the image's HEALTHCHECK reports {s}"),
                }
            }
            Probe::Running => {
                if started.elapsed() >= h.interval {
                    return Ok(());
                }
                last = "started".into();
                failures = 0;
            }
        }
        failures += 1;
        if failures >= h.retries {
            return Err(format!("not healthy after {} checks: {last}", h.retries));
        }
        if remaining() < reserve + h.interval {
            return Err(format!(
                "not healthy before the step's deadline (kept {} s to roll back): {last}",
                reserve.as_secs()
            ));
        }
        std::thread::sleep(h.interval);
    }
}

/// The lock of a service: a container created exclusively.
struct Lock {
    id: String,
}

fn lock(engine: &Engine, cfg: &Config, image: &str, run: &RunDetails) -> Result<Lock, Failure> {
    let name = format!("{}.lock", cfg.service);
    let waited = Instant::now();
    let mut told = false;
    loop {
        let expires = now_ms() + remaining().as_millis() as u64;
        let body = json!({
            "Image": image,
            "Cmd": ["sluice-deploy-lock"],
            "Labels": {
                L_SERVICE: cfg.service,
                L_ROLE: "lock",
                L_RUN: run.run,
                L_PIPELINE: run.pipeline,
                L_STEP: run.step,
                L_EXPIRES: expires.to_string(),
            },
        });
        match engine.create(&name, &body) {
            Ok(id) => return Ok(Lock { id }),
            Err(e) if e.status == Some(409) || e.message.contains("already in use") => {}
            Err(e) => return Err(Failure::error(format!("lock: {e}"))),
        }
        let held = match engine.inspect(&name) {
            Ok(j) => j,
            Err(ApiError {
                status: Some(404), ..
            }) => continue,
            Err(e) => return Err(Failure::error(format!("lock: {e}"))),
        };
        let labels = held
            .get("Config")
            .and_then(|c| c.get("Labels"))
            .cloned()
            .unwrap_or(Json::Null);
        let label = |k: &str| {
            labels
                .get(k)
                .and_then(Json::as_str)
                .unwrap_or("?")
                .to_string()
        };
        let holder = format!("run {}, step `{}`", label(L_RUN), label(L_STEP));
        let expired = label(L_EXPIRES).parse::<u64>().is_ok_and(|t| t < now_ms());
        if expired {
            warn(&format!(
                "the deploy lock of `{}` held by {holder} expired (that step was stopped): taking it over",
                cfg.service
            ));
            let id = held.get("Id").and_then(Json::as_str).unwrap_or(&name);
            engine.remove(id).map_err(phase("lock"))?;
            continue;
        }
        if !told {
            info(&format!(
                "waiting for the deploy lock of `{}`, held by {holder}",
                cfg.service
            ));
            told = true;
        }
        if remaining() < reserve(cfg) + Duration::from_secs(1) {
            return Err(Failure::error(format!(
                "lock: another deploy of `{}` holds the lock ({holder}); waited {:.1} s, until this step's deadline",
                cfg.service,
                waited.elapsed().as_secs_f64()
            )));
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn unlock(engine: &Engine, lock: Lock) {
    if let Err(e) = engine.remove(&lock.id) {
        warn(&format!("could not remove the deploy lock: {e}"));
    }
}

/// The create request of a release container.
fn container_body(
    cfg: &Config,
    image: &ImageRef,
    run: &RunDetails,
    number: u64,
) -> Result<Json, Failure> {
    let mut env = Vec::new();
    for (k, v) in &cfg.env {
        match v {
            EnvValue::Text(t) => env.push(format!("{k}={t}")),
            EnvValue::Secret(s) => {
                let r = sluice_sdk::http::secret_ref(s).map_err(|e| {
                    Failure::invalid(format!(
                        "secret-env `{k}`: {e} (bind it to the engine: `send = {{ {s} = \"{}\" }}`)",
                        cfg.engine.grant()
                    ))
                })?;
                env.push(format!("{k}={r}"));
            }
        }
    }
    let mut exposed = serde_json::Map::new();
    let mut bindings: BTreeMap<String, Vec<Json>> = BTreeMap::new();
    for p in &cfg.ports {
        let key = format!("{}/{}", p.container_port, p.protocol);
        exposed.insert(key.clone(), json!({}));
        bindings
            .entry(key)
            .or_default()
            .push(json!({ "HostIp": p.host_ip, "HostPort": p.host_port.to_string() }));
    }
    let mut host = json!({
        "PortBindings": bindings,
        "RestartPolicy": { "Name": cfg.restart },
    });
    if cfg.restart == "on-failure" {
        host["RestartPolicy"]["MaximumRetryCount"] = json!(3);
    }
    if let Some(m) = cfg.memory {
        host["Memory"] = json!(m);
    }
    if let Some(p) = cfg.pids {
        host["PidsLimit"] = json!(p);
    }
    Ok(json!({
        "Image": image.reference(),
        "Env": env,
        "ExposedPorts": exposed,
        "Labels": {
            L_SERVICE: cfg.service,
            L_ROLE: "release",
            L_RELEASE: number.to_string(),
            L_IMAGE: image.digest,
            L_REFERENCE: image.reference(),
            L_RUN: run.run,
            L_PIPELINE: run.pipeline,
            L_STEP: run.step,
        },
        "HostConfig": host,
    }))
}

fn url_of(cfg: &Config) -> String {
    cfg.ports
        .iter()
        .find(|p| p.protocol == "tcp")
        .map(|p| {
            let ip = if p.host_ip == "0.0.0.0" {
                "127.0.0.1"
            } else {
                &p.host_ip
            };
            format!("http://{ip}:{}", p.host_port)
        })
        .unwrap_or_default()
}

fn outcome(
    cfg: &Config,
    release: &str,
    previous: &str,
    container: &str,
    summary: String,
) -> Outcome {
    Outcome::new()
        .output("release", Value::Text(release.to_string()))
        .output("previous", Value::Text(previous.to_string()))
        .output("container", Value::Text(container.to_string()))
        .output("url", Value::Text(url_of(cfg)))
        .summary(summary)
}

/// The candidate failed: read its logs, stop and remove it, restart `previous`, and say why.
fn undo_candidate(
    engine: &Engine,
    cfg: &Config,
    candidate: &str,
    candidate_name: &str,
    previous: Option<&Release>,
    reason: String,
) -> Failure {
    let logs = engine.logs(candidate, 20);
    let logs = if logs.is_empty() {
        String::new()
    } else {
        let lines: Vec<String> = logs
            .lines()
            .map(|l| format!("  {}", engine::cut(l, 300)))
            .collect();
        format!(
            "\nlast lines of {candidate_name}'s output:\n{}",
            lines.join("\n")
        )
    };
    if let Err(e) = engine.stop(candidate, Duration::from_secs(2)) {
        warn(&format!("stopping {candidate_name}: {e}"));
    }
    if let Err(e) = engine.remove(candidate) {
        warn(&format!("removing {candidate_name}: {e}"));
    }
    let Some(p) = previous else {
        return Failure::error(format!(
            "{reason}; there is no previous release to roll back to{logs}"
        ));
    };
    info(&format!(
        "rolling back to {} ({})",
        p.name,
        short(&p.digest)
    ));
    if let Err(e) = engine.start(&p.id) {
        return Failure::error(format!(
            "{reason}; rollback: starting {} failed: {e}{logs}",
            p.name
        ));
    }
    if let Err(e) = wait_healthy(engine, &p.id, cfg, Duration::ZERO) {
        return Failure::error(format!(
            "{reason}; rollback: the previous release {} ({}) is not healthy either: {e}{logs}",
            p.name, p.digest
        ));
    }
    Failure::error(format!("rolled back to {}: {reason}{logs}", p.digest))
}

fn deploy(
    engine: &Engine,
    cfg: &Config,
    image: &ImageRef,
    run: &RunDetails,
) -> Result<Outcome, Failure> {
    let reference = image.reference();
    if let Some(path) = &cfg.verify_key {
        let text = sluice_sdk::read_workspace_text(path, "verify-key")?;
        let key = signing::keys::public_key_from_pem(&text)
            .map_err(|e| Failure::invalid(format!("verify-key {path}: {e}")))?;
        let verified = registry::verify(image, &key, cfg.tls_verify)
            .map_err(|e| Failure::error(format!("verify: refused to deploy: {e}")))?;
        info(&format!("verify: {verified}"));
    }
    if engine.has_image(&reference).map_err(phase("pull"))? {
        info(&format!("pull: {reference} is present"));
    } else {
        info(&format!("pull: pulling {reference}"));
        let t = Instant::now();
        engine
            .pull(&reference, cfg.tls_verify)
            .map_err(phase("pull"))?;
        info(&format!("pull: done in {:.1} s", t.elapsed().as_secs_f64()));
    }
    let lock = lock(engine, cfg, &reference, run)?;
    let result = deploy_locked(engine, cfg, image, run);
    unlock(engine, lock);
    result
}

/// Removes candidates an interrupted deploy left; the promoted releases, oldest first.
fn recover(engine: &Engine, cfg: &Config) -> Result<(Vec<Release>, u64), Failure> {
    let all = releases(engine, &cfg.service)?;
    let next = all.iter().map(|r| r.number).max().unwrap_or(0) + 1;
    for c in all.iter().filter(|r| !r.promoted) {
        warn(&format!(
            "removing {} ({}), left by an interrupted deploy",
            c.name,
            short(&c.digest)
        ));
        engine.remove(&c.id).map_err(phase("recover"))?;
    }
    Ok((all.into_iter().filter(|r| r.promoted).collect(), next))
}

fn deploy_locked(
    engine: &Engine,
    cfg: &Config,
    image: &ImageRef,
    run: &RunDetails,
) -> Result<Outcome, Failure> {
    let (promoted, number) = recover(engine, cfg)?;
    let running: Vec<&Release> = promoted.iter().filter(|r| r.running).collect();
    let current = running.last().copied();
    // What to put back if the new release fails: the running one, else the newest.
    let previous = current.or(promoted.last());
    if let Some(c) = current
        && c.digest == image.digest
        && wait_healthy(engine, &c.id, cfg, reserve(cfg)).is_ok()
    {
        let before = promoted
            .iter()
            .rev()
            .find(|r| r.number < c.number)
            .map(|r| r.digest.as_str())
            .unwrap_or("");
        return Ok(outcome(
            cfg,
            &c.digest,
            before,
            &c.name,
            format!(
                "{} already runs {} ({}): unchanged",
                cfg.service,
                short(&c.digest),
                c.name
            ),
        ));
    }
    let name = format!("{}.r{number}", cfg.service);
    let candidate_name = format!("{name}{CANDIDATE}");
    let body = container_body(cfg, image, run, number)?;
    let id = engine
        .create(&candidate_name, &body)
        .map_err(phase("create"))?;
    info(&format!("create: created {candidate_name}"));
    for r in &running {
        info(&format!("stop: stopping {} ({})", r.name, short(&r.digest)));
        if let Err(e) = engine.stop(&r.id, cfg.stop_timeout) {
            let _ = engine.remove(&id);
            return Err(Failure::error(format!("stop: {e}")));
        }
    }
    let switched = Instant::now();
    info(&format!("start: starting {candidate_name}"));
    let healthy = engine
        .start(&id)
        .map_err(|e| format!("start: {e}"))
        .and_then(|()| {
            info("health: waiting for the new release to be healthy");
            wait_healthy(engine, &id, cfg, reserve(cfg)).map_err(|why| format!("health: {why}"))
        });
    if let Err(reason) = healthy {
        return Err(undo_candidate(
            engine,
            cfg,
            &id,
            &candidate_name,
            previous,
            reason,
        ));
    }
    let healthy_after = switched.elapsed();
    engine.rename(&id, &name).map_err(phase("promote"))?;
    info(&format!(
        "health: {name} healthy {:.2} s after the switch",
        healthy_after.as_secs_f64()
    ));
    // Keep `keep` previous releases, newest first; the rest go.
    let mut kept = 0;
    for r in promoted.iter().rev() {
        if kept < cfg.keep {
            kept += 1;
            continue;
        }
        info(&format!(
            "prune: removing {} ({})",
            r.name,
            short(&r.digest)
        ));
        if let Err(e) = engine.remove(&r.id) {
            warn(&format!("prune: {}: {e}", r.name));
        }
    }
    let prev = current.map(|c| c.digest.as_str()).unwrap_or("");
    Ok(outcome(
        cfg,
        &image.digest,
        prev,
        &name,
        format!(
            "{} now runs {} as {name} on {}; healthy {:.2} s after the switch{}",
            cfg.service,
            short(&image.digest),
            engine.name,
            healthy_after.as_secs_f64(),
            if prev.is_empty() {
                String::new()
            } else {
                format!("; previous {}", short(prev))
            }
        ),
    ))
}

fn rollback_action(engine: &Engine, cfg: &Config, run: &RunDetails) -> Result<Outcome, Failure> {
    let all = releases(engine, &cfg.service)?;
    let promoted: Vec<&Release> = all.iter().filter(|r| r.promoted).collect();
    let current = promoted.iter().rev().find(|r| r.running).copied();
    let target = match current {
        Some(c) => promoted.iter().rev().find(|r| r.number < c.number).copied(),
        None => promoted.last().copied(),
    };
    let Some(target) = target else {
        return Err(Failure::error(format!(
            "rollback: `{}` has no earlier release to roll back to ({} kept; `keep` sets how many)",
            cfg.service,
            promoted.len().saturating_sub(1)
        )));
    };
    let lock = lock(engine, cfg, &target.reference, run)?;
    let result = (|| {
        let (promoted, _) = recover(engine, cfg)?;
        let running: Vec<&Release> = promoted.iter().filter(|r| r.running).collect();
        for r in &running {
            info(&format!("stop: stopping {} ({})", r.name, short(&r.digest)));
            engine
                .stop(&r.id, cfg.stop_timeout)
                .map_err(phase("stop"))?;
        }
        info(&format!(
            "start: starting {} ({})",
            target.name,
            short(&target.digest)
        ));
        let started = engine.start(&target.id).map_err(|e| format!("start: {e}"));
        let healthy = started.and_then(|()| {
            wait_healthy(engine, &target.id, cfg, reserve(cfg)).map_err(|e| format!("health: {e}"))
        });
        if let Err(why) = healthy {
            let _ = engine.stop(&target.id, Duration::from_secs(2));
            for r in &running {
                let _ = engine.start(&r.id);
            }
            return Err(Failure::error(format!(
                "rollback: {} ({}) is not healthy: {why}; restored {}",
                target.name,
                target.digest,
                running
                    .iter()
                    .map(|r| r.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let from = current.map(|c| c.digest.as_str()).unwrap_or("");
        Ok(outcome(
            cfg,
            &target.digest,
            from,
            &target.name,
            format!(
                "{} rolled back to {} ({}){}",
                cfg.service,
                short(&target.digest),
                target.name,
                if from.is_empty() {
                    String::new()
                } else {
                    format!(" from {}", short(from))
                }
            ),
        ))
    })();
    unlock(engine, lock);
    result
}

fn status(engine: &Engine, cfg: &Config) -> Result<Outcome, Failure> {
    let all = releases(engine, &cfg.service)?;
    let running = all.iter().rev().find(|r| r.running);
    let Some(r) = running else {
        let kept = all.iter().filter(|r| r.promoted).count();
        return Ok(outcome(
            cfg,
            "",
            all.iter()
                .rev()
                .find(|r| r.promoted)
                .map(|r| r.digest.as_str())
                .unwrap_or(""),
            "",
            format!(
                "{}: no release runs ({kept} stopped release{} kept)",
                cfg.service,
                if kept == 1 { "" } else { "s" }
            ),
        ));
    };
    let previous = all
        .iter()
        .rev()
        .find(|p| p.promoted && p.number < r.number)
        .map(|p| p.digest.as_str())
        .unwrap_or("");
    Ok(outcome(
        cfg,
        &r.digest,
        previous,
        &r.name,
        format!(
            "{} runs {} ({}{}) on {}",
            cfg.service,
            short(&r.digest),
            r.name,
            if r.promoted {
                ""
            } else {
                ", not promoted: a deploy was interrupted"
            },
            engine.name
        ),
    ))
}

struct Deploy;

impl Plugin for Deploy {
    fn describe() -> PluginInfo {
        let info = PluginInfo::new(
            "deploy",
            env!("CARGO_PKG_VERSION"),
            "Rolls an image out to a container engine (podman, dockerd), checks its health, rolls back on failure",
        )
        .wants("net")
        .wants("fs:read?")
        .input(Port::new(
            "image",
            ValueKind::Text,
            "The image by digest, host/repository@sha256:… (oci-push's `reference`); needed to deploy",
        ))
        .output(Port::new("release", ValueKind::Text, "The image digest now running (empty: none)").required())
        .output(Port::new("previous", ValueKind::Text, "The digest of the release before it (empty: none)").required())
        .output(Port::new("container", ValueKind::Text, "The running container's name").required())
        .output(Port::new("url", ValueKind::Text, "http://ip:port of the first published port (empty: none)").required());
        info.options(OPTIONS)
    }

    fn run(invocation: Invocation) -> Result<Outcome, Failure> {
        let raw: Raw = invocation.config()?;
        let cfg = Config::from_raw(raw)?;
        let run = sluice_sdk::run_info();
        let image = match (cfg.action, invocation.text("image")) {
            (Action::Deploy, Some(i)) => Some(ImageRef::parse(i)?),
            (Action::Deploy, None) => {
                return Err(Failure::invalid(
                    "no image: set `image` to a digest reference, e.g. `image = \"${{ steps.push.outputs.reference }}\"`",
                ));
            }
            (_, _) => None,
        };
        let engine = Engine::connect(cfg.engine.clone()).map_err(|e| {
            Failure::error(format!(
                "engine: {e} (is the engine's API served at `{}`?)",
                cfg.engine.grant()
            ))
        })?;
        match (cfg.action, image) {
            (Action::Deploy, Some(image)) => deploy(&engine, &cfg, &image, &run),
            (Action::Rollback, _) => rollback_action(&engine, &cfg, &run),
            _ => status(&engine, &cfg),
        }
    }
}

sluice_sdk::export_plugin!(Deploy);
