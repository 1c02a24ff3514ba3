//! The `deploy` step against real container engines on this machine: podman's API service
//! (and dockerd when installed), images built by the pipeline from a Go fixture
//! (`tests/fixtures/deploy-service`), pushed to a real `docker-registry`, signed by `sign`.
//!
//! One test per engine runs the scenarios in order on one service (each engine has storage
//! of its own, removed at the end): a signed v1 deploys and answers; an unsigned image with
//! `verify-key` is refused before any pull; a v2 whose health check fails is rolled back
//! while a prober measures the longest run of failed requests; a good v2 replaces v1;
//! `rollback` brings v1 back; `status` reports it; Sluice killed during pull, after create
//! and during the health wait leaves a release that answers, and the next deploy recovers;
//! two concurrent deploys are serialised by the engine-side lock.

use std::io::{BufRead as _, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use sluice_test_support::{
    ContainerEngine, Prober, Registry, Workspace, deploy_images, http_get_root, step, tools_present,
};

const SLUICE: &str = env!("CARGO_BIN_EXE_sluice");
const TOKEN: &str = "tok-3f9a1c77e2";
const PASSWORD: &str = "deploy-test-key-password";

/// Whether the tools are here; under CI their absence is a failure.
fn tools(engine: &str) -> bool {
    tools_present(
        &[engine, "docker-registry", "go"],
        "apt-get install podman runc docker.io docker-registry golang-go",
    )
}

/// The fixture's images in a registry: v1, a v2 whose health check fails (unsigned), and a
/// good v2, by digest reference; v1 and v2 are signed with the workspace's `cosign.pub`.
struct Images {
    ws: Workspace,
    v1: String,
    bad: String,
    v2: String,
}

fn text(run: &serde_json::Value, id: &str, output: &str) -> String {
    step(run, id)["outputs"][output]["value"]
        .as_str()
        .unwrap_or_else(|| panic!("{id}.{output}: {}", step(run, id)))
        .to_string()
}

fn build_images(registry: &Registry) -> Images {
    let (ws, refs) = deploy_images(
        SLUICE,
        registry,
        &[
            ("v1", "v1", true, true),
            ("bad", "v2-broken", false, false),
            ("v2", "v2", true, true),
        ],
        PASSWORD,
    );
    let [v1, bad, v2] = <[String; 3]>::try_from(refs).unwrap();
    Images { ws, v1, bad, v2 }
}

fn digest(reference: &str) -> &str {
    reference.split_once('@').unwrap().1
}

/// A deploy step's manifest.
struct Deploy<'a> {
    engine: &'a ContainerEngine,
    registry: &'a Registry,
    service: &'a str,
    port: u16,
}

impl Deploy<'_> {
    fn manifest(&self, image: Option<&str>, extra: &str, timeout: &str) -> String {
        self.manifest_with_health(image, extra, timeout, "")
    }

    /// With `health` settings added to the usual ones (`start-period = "2s"`).
    fn manifest_with_health(
        &self,
        image: Option<&str>,
        extra: &str,
        timeout: &str,
        health: &str,
    ) -> String {
        let engine = self.engine.endpoint();
        let registry = self.registry.origin();
        let port = self.port;
        let image = image
            .map(|i| format!("image = \"{i}\", "))
            .unwrap_or_default();
        format!(
            r#"[pipeline]
name = "deploy-test"
timeout = "{timeout}"

[steps.deploy]
uses = "deploy"
allow = {{ net = ["{engine}", "http://127.0.0.1:{port}", "{registry}"], read = ["cosign.pub"], send = {{ API_TOKEN = "{engine}" }} }}
with = {{ engine = "{engine}", service = "{service}", {image}ports = ["127.0.0.1:{port}:8080"], registry-tls-verify = false, memory = "64m", pids = 64, secret-env = {{ API_TOKEN = "API_TOKEN" }}, stop-timeout = "2s", health = {{ path = "/healthz", interval = "100ms", timeout = "1s", retries = 30{health} }}{extra} }}
"#,
            service = self.service,
        )
    }

    /// Runs `sluice run` on a manifest: exit code and stdout + stderr.
    fn run(&self, ws: &Workspace, toml: &str) -> (i32, String) {
        let name = format!("deploy-{}.toml", self.service);
        ws.file(&name, toml);
        let out = ws
            .command(SLUICE, &["run", &name])
            .env("API_TOKEN", TOKEN)
            .output()
            .unwrap();
        let all = format!(
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!all.contains(TOKEN), "the secret leaked:\n{all}");
        (out.status.code().unwrap_or(-1), all)
    }

    fn deploy(&self, ws: &Workspace, image: &str) -> (i32, String) {
        self.run(ws, &self.manifest(Some(image), "", "2m"))
    }

    fn get(&self) -> Option<String> {
        http_get_root(self.port)
    }
}

/// Waits up to `secs` for the port to answer; the version it answered.
fn answers_within(port: u16, secs: u64) -> Option<String> {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(secs) {
        if let Some(v) = http_get_root(port) {
            return Some(v);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

/// Starts a deploy and SIGKILLs Sluice when its output shows `marker`; the output so far.
fn kill_at(d: &Deploy, ws: &Workspace, toml: &str, marker: &str) -> String {
    let name = format!("deploy-{}-kill.toml", d.service);
    ws.file(&name, toml);
    let mut child = ws
        .command(SLUICE, &["run", &name])
        .env("API_TOKEN", TOKEN)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The console's live lines (`[deploy] info: …`) go to stderr.
    let stderr = child.stderr.take().unwrap();
    let mut seen = String::new();
    for line in BufReader::new(stderr).lines() {
        let line = line.unwrap();
        seen.push_str(&line);
        seen.push('\n');
        if line.contains(marker) {
            child.kill().unwrap();
            break;
        }
    }
    let status = child.wait().unwrap();
    assert!(
        seen.contains(marker),
        "the deploy never reached {marker:?} ({status}):\n{seen}"
    );
    seen
}

/// Exactly one container of the service runs.
fn assert_one_running(engine: &ContainerEngine) {
    let all = engine.containers("svc");
    let running = all.iter().filter(|(_, s, _)| s == "running").count();
    assert_eq!(running, 1, "{all:?}");
}

fn scenarios(kind: &'static str, full: bool) {
    let registry = Registry::start(None);
    let images = build_images(&registry);
    let engine = ContainerEngine::start(kind);
    let ws = &images.ws;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let d = Deploy {
        engine: &engine,
        registry: &registry,
        service: "svc",
        port,
    };

    // A signed v1, verified before the pull, deploys and answers.
    let (code, out) = d.run(
        ws,
        &d.manifest(Some(&images.v1), ", verify-key = \"cosign.pub\"", "2m"),
    );
    assert_eq!(code, 0, "{kind}: v1:\n{out}");
    assert!(out.contains("verify: signature"), "{out}");
    assert_eq!(d.get().as_deref(), Some("v1"), "{kind}");
    let run = ws.last_run();
    assert_eq!(text(&run, "deploy", "release"), digest(&images.v1));
    assert_eq!(
        text(&run, "deploy", "url"),
        format!("http://127.0.0.1:{port}")
    );
    // The send-only secret reached the container's environment through the host.
    let (_, inspect) = engine.api("GET", "/containers/svc.r1/json");
    assert!(inspect.contains(&format!("API_TOKEN={TOKEN}")), "{inspect}");
    let mem: serde_json::Value = serde_json::from_str(&inspect).unwrap();
    assert_eq!(mem["HostConfig"]["Memory"], 64 << 20);
    assert_eq!(mem["Config"]["Labels"]["sluice.pipeline"], "deploy-test");
    assert_eq!(mem["Config"]["Labels"]["sluice.run"], run["run_id"]);

    // An unsigned image with verify-key is refused, and never pulled.
    let (code, out) = d.run(
        ws,
        &d.manifest(Some(&images.bad), ", verify-key = \"cosign.pub\"", "2m"),
    );
    assert_ne!(code, 0, "{out}");
    assert!(
        out.contains("verify: refused to deploy") && out.contains("is not signed"),
        "{out}"
    );
    let (status, _) = engine.api("GET", &format!("/images/{}/json", images.bad));
    assert_eq!(status, 404, "{kind}: the unsigned image was pulled");
    assert_eq!(d.get().as_deref(), Some("v1"));

    // A v2 that never gets healthy is rolled back; v1 keeps answering but for the switch.
    let prober = Prober::start(port);
    let (code, out) = d.deploy(ws, &images.bad);
    let probed = prober.finish();
    let (gap, seen) = (probed.worst_gap(), probed.versions());
    assert_ne!(code, 0, "{out}");
    assert!(
        out.contains(&format!("rolled back to {}: health:", digest(&images.v1))),
        "{out}"
    );
    assert!(
        out.contains("last lines of svc.r2.candidate's output"),
        "{out}"
    );
    assert!(out.contains("v2-broken listening on :8080"), "{out}");
    assert_eq!(d.get().as_deref(), Some("v1"));
    // The broken build serves `/` while its health check fails, until it is stopped.
    assert_eq!(seen.first().map(String::as_str), Some("v1"), "{seen:?}");
    assert_eq!(seen.last().map(String::as_str), Some("v1"), "{seen:?}");
    eprintln!("{kind}: rollback of a broken v2: the port unanswered for at most {gap:?}");
    assert!(gap < Duration::from_secs(15), "{gap:?}");
    let list = engine.containers("svc");
    assert_eq!(list.len(), 1, "{list:?}");

    // A good v2 replaces v1; v1 is kept, stopped.
    let prober = Prober::start(port);
    let (code, out) = d.deploy(ws, &images.v2);
    let probed = prober.finish();
    let gap = probed.switch_gap("v1", "v2").unwrap();
    let seen = probed.versions();
    assert_eq!(code, 0, "{out}");
    assert_eq!(d.get().as_deref(), Some("v2"));
    assert_eq!(seen, ["v1", "v2"]);
    eprintln!("{kind}: v1 → v2: last answer of v1 to first of v2: {gap:?}");
    let list = engine.containers("svc");
    assert_eq!(list.len(), 2, "{list:?}");
    assert!(
        list.iter()
            .any(|(n, s, i)| n == "svc.r2" && s == "running" && i == digest(&images.v2))
    );
    assert_eq!(
        text(&ws.last_run(), "deploy", "previous"),
        digest(&images.v1)
    );

    // rollback brings v1 back.
    let (code, out) = d.run(ws, &d.manifest(None, ", action = \"rollback\"", "2m"));
    assert_eq!(code, 0, "{out}");
    assert_eq!(d.get().as_deref(), Some("v1"));
    assert_eq!(
        text(&ws.last_run(), "deploy", "release"),
        digest(&images.v1)
    );

    // status reports it.
    let (code, out) = d.run(ws, &d.manifest(None, ", action = \"status\"", "2m"));
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("svc runs sha256:"), "{out}");
    assert_eq!(
        text(&ws.last_run(), "deploy", "release"),
        digest(&images.v1)
    );
    assert_eq!(text(&ws.last_run(), "deploy", "container"), "svc.r1");

    if !full {
        return;
    }

    // Sluice killed at each phase: a release answers right after, and the next deploy
    // takes the expired lock over and finishes.
    for (marker, health) in [
        ("pull: ", ""),
        ("create: created", ""),
        ("health: waiting", ", start-period = \"2s\""),
    ] {
        let before = d.get();
        let toml = d.manifest_with_health(Some(&images.v2), "", "6s", health);
        let seen = kill_at(&d, ws, &toml, marker);
        let after = answers_within(port, 10);
        assert!(
            after.is_some(),
            "{kind}: killed at {marker:?} (was {before:?}): nothing answers\n{seen}\n{:?}",
            engine.containers("svc")
        );
        eprintln!("{kind}: killed at {marker:?}: {before:?} → {after:?}");
        let (code, out) = d.deploy(ws, &images.v1);
        assert_eq!(code, 0, "after a kill at {marker:?}:\n{out}");
        assert_eq!(d.get().as_deref(), Some("v1"));
        assert_one_running(&engine);
    }

    // Two deploys at once: the lock serialises them; never both switching together.
    let spawn = |image: &str, name: &str| {
        ws.file(name, d.manifest(Some(image), "", "2m"));
        ws.command(SLUICE, &["run", name])
            .env("API_TOKEN", TOKEN)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let a = spawn(&images.v2, "concurrent-a.toml");
    let b = spawn(&images.bad, "concurrent-b.toml");
    let a = a.wait_with_output().unwrap();
    let b = b.wait_with_output().unwrap();
    let out = |o: &std::process::Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };
    let (a_out, b_out) = (out(&a), out(&b));
    assert!(
        a_out.contains("waiting for the deploy lock")
            || b_out.contains("waiting for the deploy lock"),
        "neither waited:\n{a_out}\n{b_out}"
    );
    assert!(a.status.success(), "{a_out}");
    assert!(!b.status.success(), "{b_out}");
    assert!(b_out.contains("rolled back to"), "{b_out}");
    assert_one_running(&engine);
    let v = d.get();
    assert!(
        v.as_deref() == Some("v2") || v.as_deref() == Some("v1"),
        "{v:?}"
    );
}

#[test]
fn podman_deploys_rolls_back_and_survives_crashes() {
    if !tools("podman") {
        return;
    }
    scenarios("podman", true);
}

#[test]
fn dockerd_deploys_and_rolls_back() {
    if !tools("dockerd") {
        return;
    }
    scenarios("dockerd", false);
}

/// Mistakes in a deploy step's configuration, and an engine that is not there: each step's
/// error, as the console prints it, under a snapshot. No engine is needed.
#[test]
fn configuration_mistakes_are_clear() {
    let ws = Workspace::new();
    let digest = format!("sha256:{}", "0".repeat(64));
    // Outside the workspace: a socket grant inside it is refused at validation.
    let elsewhere = tempfile::tempdir().unwrap();
    let missing = elsewhere.path().join("no-engine.sock");
    let engine = format!("unix:{}", missing.display());
    let steps = [
        (
            "tag",
            format!(
                "image = \"127.0.0.1:5000/demo/svc:1.0\", service = \"svc\", engine = \"{engine}\""
            ),
        ),
        (
            "tag-and-digest",
            format!(
                "image = \"127.0.0.1:5000/demo/svc:1.0@{digest}\", service = \"svc\", engine = \"{engine}\""
            ),
        ),
        (
            "no-image",
            format!("service = \"svc\", engine = \"{engine}\""),
        ),
        (
            "service",
            format!(
                "image = \"127.0.0.1:5000/demo/svc@{digest}\", service = \"My Service\", engine = \"{engine}\""
            ),
        ),
        (
            "port",
            format!(
                "image = \"127.0.0.1:5000/demo/svc@{digest}\", service = \"svc\", engine = \"{engine}\", ports = [\"8080\"]"
            ),
        ),
        (
            "health-port",
            format!(
                "image = \"127.0.0.1:5000/demo/svc@{digest}\", service = \"svc\", engine = \"{engine}\", health = {{ path = \"/healthz\" }}"
            ),
        ),
        (
            "engine-url",
            format!(
                "image = \"127.0.0.1:5000/demo/svc@{digest}\", service = \"svc\", engine = \"tcp://127.0.0.1:2375\""
            ),
        ),
        (
            "no-engine",
            format!("service = \"svc\", engine = \"{engine}\", action = \"status\""),
        ),
        (
            "secret-env",
            format!(
                "image = \"127.0.0.1:5000/demo/svc@{digest}\", service = \"svc\", engine = \"{engine}\", secret-env = {{ TOKEN = \"TOKEN\" }}, env = {{ TOKEN = \"x\" }}"
            ),
        ),
    ];
    let mut toml = String::from("[pipeline]\nname = \"deploy-mistakes\"\n");
    for (id, with) in &steps {
        toml.push_str(&format!(
            "\n[steps.{id}]\nuses = \"deploy\"\nallow = {{ net = [\"{engine}\"] }}\nwith = {{ {with} }}\n"
        ));
    }
    ws.manifest(&toml);
    let out = ws.sluice(SLUICE, &["run", "--jobs", "1"]);
    assert_ne!(out.code, 0);
    let run = ws.last_run();
    let mut errors = String::new();
    for (id, _) in &steps {
        let s = step(&run, id);
        errors.push_str(&format!(
            "{id}: {}\n",
            s["error"].as_str().unwrap_or("(no error)")
        ));
    }
    let errors = errors.replace(&elsewhere.path().display().to_string(), "DIR");
    insta::assert_snapshot!(errors);
}
