//! `just bench-exec` (or `cargo bench -p sluice --bench exec`): what confinement costs.
//!
//! 1. a confined spawn of `/bin/true` through the `exec` capability (namespaces, mounts,
//!    Landlock, cgroup; start to reaped) against plain fork+exec of `/bin/true`, in the same
//!    run — target: at most 2 ms extra per spawn (medians);
//! 2. the demo's `go test` (race, coverage) through the `go-test` step against the same
//!    `go test` command run directly, both with warm caches — target: at most 1.05x (medians);
//! 3. the demo's `go build` through the `go-build` step against the same `go build` run
//!    directly, warm — target: at most 1.05x.
//!
//! (2) and (3) time the step as the run record reports it (from the host starting the step to
//! its end: instantiating the plugin, its `go` calls, reading the reports) and need Go and
//! gcc; `--quick` runs fewer rounds; `--no-go` skips them.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sluice::sandbox::Mount;
use sluice::sandbox::exec::{self, Output, Start, StepExec};
use sluice::sandbox::limits::Deadline;

const SLUICE: &str = env!("CARGO_BIN_EXE_sluice");

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let no_go = args.iter().any(|a| a == "--no-go");
    spawn_bench(if quick { 20 } else { 100 });
    if no_go {
        return;
    }
    if !have("go") || !have("gcc") {
        println!("go-test and go-build: skipped (needs golang-go and gcc)");
        return;
    }
    go_bench(if quick { 3 } else { 7 });
}

fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// 1. Confined `/bin/true` vs fork+exec, interleaved.
fn spawn_bench(n: usize) {
    if let Err(why) = exec::confinement() {
        println!("confined spawn: skipped ({why})");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("ws");
    std::fs::create_dir_all(ws.join("src")).unwrap();
    std::fs::create_dir_all(tmp.path().join("scratch")).unwrap();
    std::fs::create_dir_all(tmp.path().join("cache")).unwrap();
    let open =
        |p: &Path| cap_std::fs::Dir::open_ambient_dir(p, cap_std::ambient_authority()).unwrap();
    let program = exec::resolve("true", &exec::search_path()).expect("`true` on PATH");
    let mounts = vec![
        Mount::new("/workspace", false, open(&ws)),
        Mount::new("/workspace/src", false, open(&ws.join("src"))),
        Mount::new("/outputs", true, open(tmp.path())),
    ];
    let step = StepExec::new(
        "bench",
        vec![program],
        &mounts,
        Arc::new(open(&tmp.path().join("scratch"))),
        tmp.path().join("scratch"),
        open(&tmp.path().join("cache")),
        &[],
        1 << 30,
    )
    .unwrap();
    let deadline = Deadline {
        at: Instant::now() + Duration::from_secs(3600),
        cancel: Arc::default(),
    };
    let mut confined = Vec::with_capacity(n);
    let mut plain = Vec::with_capacity(n);
    for i in 0..n + 5 {
        let start = Instant::now();
        let mut running = step
            .start(Start {
                program: "true".into(),
                args: Vec::new(),
                cwd: "/workspace".into(),
                env: Vec::new(),
                stdin: None,
                stdout: Output::Discard,
                stderr: Output::Discard,
            })
            .expect("start");
        let exit = running.wait(&deadline).expect("wait");
        let took = start.elapsed();
        assert_eq!(exit.code, Some(0), "{exit:?}");
        let start = Instant::now();
        let status = Command::new("/bin/true")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        let base = start.elapsed();
        assert!(status.success());
        if i >= 5 {
            confined.push(took);
            plain.push(base);
        }
    }
    let (c, p) = (median(confined), median(plain));
    println!(
        "spawn /bin/true ({n} each, interleaved): confined p50 {}, fork+exec p50 {}, extra {} per spawn (target <= 2 ms)",
        ms(c),
        ms(p),
        ms(c.saturating_sub(p))
    );
}

/// Runs `sluice run` in `dir` and returns the step's duration from the run record.
fn step_time(dir: &Path, id: &str) -> Duration {
    let out = Command::new(SLUICE)
        .args(["run", "--json", "--no-step-cache"])
        .current_dir(dir)
        .stderr(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let run: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let step = run["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap();
    Duration::from_secs_f64(step["duration_ms"].as_f64().unwrap() / 1e3)
}

fn direct(dir: &Path, args: &[&str], env: &[(&str, &Path)], extra: &[(&str, &str)]) -> Duration {
    let mut cmd = Command::new("go");
    cmd.args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let start = Instant::now();
    let status = cmd.status().unwrap();
    assert!(status.success(), "go {args:?} failed");
    start.elapsed()
}

/// 2 and 3. The demo's go test and go build, through their steps and directly.
fn go_bench(rounds: usize) {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/go-service");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("svc");
    copy(&demo, &dir);
    let manifest = |steps: &str| std::fs::write(dir.join("sluice.toml"), steps).unwrap();
    let cache: PathBuf = tmp.path().join("gocache");
    let out_bin = tmp.path().join("server");
    let profile = tmp.path().join("cover.out");
    let go_env: Vec<(&str, &Path)> = vec![("GOCACHE", &cache)];
    let offline = [
        ("GOPROXY", "off"),
        ("GOFLAGS", ""),
        ("GOTOOLCHAIN", "local"),
    ];

    for (name, step_toml, args, cgo) in [
        (
            "go test",
            "[steps.test]\nuses = \"go-test\"\nallow = { read = [\".\"], exec = [\"go\"] }\nwith = { race = true }\n",
            vec![
                "test".to_string(),
                "-json".into(),
                "-race".into(),
                "-covermode=atomic".into(),
                format!("-coverprofile={}", profile.display()),
                "./...".into(),
            ],
            "1",
        ),
        (
            "go build",
            "[steps.build]\nuses = \"go-build\"\nallow = { read = [\".\"], exec = [\"go\"] }\nwith = { package = \"./cmd/server\", output = \"server\", platforms = [\"linux/amd64\"], x = { \"main.version\" = \"0.1.0\" } }\n",
            vec![
                "build".to_string(),
                "-buildvcs=false".into(),
                "-trimpath".into(),
                "-ldflags=-X=main.version=0.1.0".into(),
                "-o".into(),
                out_bin.display().to_string(),
                "./cmd/server".into(),
            ],
            "0",
        ),
    ] {
        manifest(step_toml);
        let id = if name == "go test" { "test" } else { "build" };
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut extra = offline.to_vec();
        extra.push(("CGO_ENABLED", cgo));
        // Warm both caches.
        step_time(&dir, id);
        direct(&dir, &args, &go_env, &extra);
        let mut through = Vec::new();
        let mut plain = Vec::new();
        for _ in 0..rounds {
            through.push(step_time(&dir, id));
            // The step writes a fresh output each time, and `go build -o` skips an output
            // that is up to date: start the direct build from none too.
            let _ = std::fs::remove_file(&out_bin);
            plain.push(direct(&dir, &args, &go_env, &extra));
        }
        let (t, p) = (median(through), median(plain));
        println!(
            "{name} (demo, warm caches, {rounds} rounds interleaved): step p50 {}, direct p50 {}, ratio {:.2}x (target <= 1.05x)",
            ms(t),
            ms(p),
            t.as_secs_f64() / p.as_secs_f64()
        );
    }
}

fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let name = entry.file_name();
        if name == ".sluice" {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            copy(&path, &to.join(&name));
        } else {
            std::fs::copy(&path, to.join(&name)).unwrap();
        }
    }
}
