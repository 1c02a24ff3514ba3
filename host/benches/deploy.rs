//! `just bench-deploy` (or `cargo bench -p sluice --bench deploy`): the downtime of a release
//! switch. Two images of the deploy fixture (v1, v2) are built and pushed to a local
//! `docker-registry`; one podman API service runs both contenders, each on its own port:
//!
//! - the `deploy` step switching its service between v1 and v2 (stop the old release, start
//!   the new one, health-check it every 50 ms);
//! - `docker-compose up -d` (Debian's docker-compose 1.29, `DOCKER_HOST` at the same podman)
//!   recreating a compose service whose image changes between the same two references.
//!
//! A thread asks `GET /` every 2 ms; the gap of a switch is from the last answer of the old
//! version to the first answer of the new one. Rounds alternate between the contenders; the
//! figures are medians over the rounds (10, or 3 with `--quick`), with the ratio.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sluice_test_support::{ContainerEngine, Prober, Registry, deploy_images, http_get_root};

const SLUICE: &str = env!("CARGO_BIN_EXE_sluice");

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1e3)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for(port: u16, want: &str) {
    let start = Instant::now();
    while http_get_root(port).as_deref() != Some(want) {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{want} never answered on {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let rounds = if quick { 3 } else { 10 };
    let missing: Vec<&str> = ["podman", "docker-registry", "docker-compose", "go"]
        .into_iter()
        .filter(|t| {
            Command::new("sh")
                .args(["-c", &format!("command -v {t}")])
                .stdout(Stdio::null())
                .status()
                .map(|s| !s.success())
                .unwrap_or(true)
        })
        .collect();
    if !missing.is_empty() {
        eprintln!(
            "skipped: needs {missing:?} (apt-get install podman runc docker-registry docker-compose golang-go)"
        );
        return;
    }
    let registry = Registry::start(None);
    let (ws, refs) = deploy_images(
        SLUICE,
        &registry,
        &[("v1", "v1", true, false), ("v2", "v2", true, false)],
        "bench",
    );
    let engine = ContainerEngine::start("podman");
    let endpoint = engine.endpoint();
    let (sluice_port, compose_port) = (free_port(), free_port());

    let deploy = |image: &str| {
        ws.file(
            "deploy.toml",
            format!(
                r#"[pipeline]
name = "bench-deploy"

[steps.deploy]
uses = "deploy"
allow = {{ net = ["{endpoint}", "http://127.0.0.1:{sluice_port}"] }}
with = {{ engine = "{endpoint}", service = "bench", image = "{image}", registry-tls-verify = false, ports = ["127.0.0.1:{sluice_port}:8080"], stop-timeout = "2s", health = {{ path = "/healthz", interval = "50ms", retries = 100 }} }}
"#
            ),
        );
        let out = ws
            .command(SLUICE, &["run", "deploy.toml"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let compose = |image: &str| {
        ws.file(
            "docker-compose.yml",
            format!(
                "version: \"3\"\nservices:\n  web:\n    image: \"{image}\"\n    environment:\n      ADDR: \":8080\"\n    ports:\n      - \"127.0.0.1:{compose_port}:8080\"\n    stop_grace_period: 2s\n"
            ),
        );
        let out = ws
            .command("docker-compose", &["-p", "bench", "up", "-d"])
            .env("DOCKER_HOST", format!("unix://{}", engine.socket.display()))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "docker-compose: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };

    // v1 everywhere first (the deploy step pulls both images into podman: compose never
    // pulls, it finds them).
    deploy(&refs[1]);
    deploy(&refs[0]);
    compose(&refs[0]);
    wait_for(sluice_port, "v1");
    wait_for(compose_port, "v1");

    let versions = ["v1", "v2"];
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    let mut ours_total = Vec::new();
    let mut theirs_total = Vec::new();
    for round in 0..rounds {
        let (from, to) = (versions[round % 2], versions[(round + 1) % 2]);
        let image = &refs[(round + 1) % 2];
        for (name, port, gaps, totals) in [
            ("deploy", sluice_port, &mut ours, &mut ours_total),
            ("compose", compose_port, &mut theirs, &mut theirs_total),
        ] {
            let prober = Prober::start(port);
            std::thread::sleep(Duration::from_millis(50));
            let t = Instant::now();
            if name == "deploy" {
                deploy(image);
            } else {
                compose(image);
            }
            wait_for(port, to);
            totals.push(t.elapsed());
            std::thread::sleep(Duration::from_millis(50));
            let probed = prober.finish();
            let gap = probed
                .switch_gap(from, to)
                .unwrap_or_else(|| panic!("{name}: no {from} → {to} switch seen"));
            eprintln!("round {round}: {name:<7} {from} → {to}: gap {}", ms(gap));
            gaps.push(gap);
        }
    }
    let (o, t) = (median(ours), median(theirs));
    println!("switch gap (last answer of the old release → first of the new), median of {rounds}:");
    println!("  deploy step            {}", ms(o));
    println!("  docker-compose up -d   {}", ms(t));
    println!(
        "  ratio deploy/compose   {:.2}",
        o.as_secs_f64() / t.as_secs_f64()
    );
    println!(
        "whole command (start → new release answering), median: deploy {}, docker-compose {}",
        ms(median(ours_total)),
        ms(median(theirs_total))
    );
    let _ = ws
        .command("docker-compose", &["-p", "bench", "down"])
        .env("DOCKER_HOST", format!("unix://{}", engine.socket.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}
