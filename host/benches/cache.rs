//! `just bench-cache` (or `cargo bench -p sluice --bench cache`): the step-result cache and
//! the cost of starting Sluice, each a fresh `sluice run` process timed from spawn to exit,
//! against a baseline measured in the same run (rounds interleaved, medians).
//!
//! 1. The demo (`examples/go-service`: go-mod, golint, gosec, go test -race, go build, sign,
//!    verify) with every step cached, against a warm run of it with `--no-step-cache` (Go's
//!    build caches warm). Target <= 15 ms.
//! 2. golint + gosec over the Go standard library source (5,564 files) fully cached, against
//!    the same steps run with `--no-step-cache`. Target <= 100 ms.
//! 3. The demo's first run in a new clone on a machine where Sluice ran before (the user-level
//!    compile cache warm), against the warm run of (1). Two figures: with the clone's Go
//!    build caches cold (Go compiles the standard library for the race detector: not Sluice's
//!    cost), and with the steps' Go caches carried over (only Sluice's state is new: no step
//!    results, no stat index). Target for the latter: <= warm + 50 ms.
//! 4. The first run after a fresh install (empty compile cache, new workspace) of the demo's
//!    analysis steps (go-mod, golint, gosec: the pipeline the 1.6 s of the issue was measured
//!    on), against a run of the same with the compile cache warm; and `sluice plugins
//!    --precompile` from empty. Target: >= 2x faster than 1.6 s.
//! 5. One compiled step that is not cached (`--no-step-cache`), against fork+exec of
//!    `/bin/true`. Target <= 4 ms.
//!
//! Options: `--rounds N` (default 15; the slow rows run a third as many), `--no-go` (skip
//! what needs Go: rows 1-4).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;

const SLUICE: &str = env!("CARGO_BIN_EXE_sluice");
const REPO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

fn time(cmd: &mut Command) -> Duration {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::piped())
        .stdin(Stdio::null());
    let start = Instant::now();
    let out = cmd.output().expect("spawn");
    let elapsed = start.elapsed();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    elapsed
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn arg(args: &[String], name: &str, default: usize) -> usize {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map_or(default, |v| v.parse().expect("a number"))
}

/// Copies a tree, leaving out `.sluice`.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        let kind = entry.file_type().unwrap();
        if name == ".sluice" {
            continue;
        } else if kind.is_dir() {
            copy_tree(&entry.path(), &to.join(&name));
        } else if kind.is_file() {
            std::fs::copy(entry.path(), to.join(&name)).unwrap();
        }
    }
}

/// Copies the steps' own caches (`.sluice/cache/steps`: Go's build caches) of one workspace
/// into another.
fn copy_step_caches(from: &Path, to: &Path) {
    std::fs::create_dir_all(to.join(".sluice/cache")).unwrap();
    let status = Command::new("cp")
        .arg("-a")
        .arg(from.join(".sluice/cache/steps"))
        .arg(to.join(".sluice/cache/"))
        .status()
        .unwrap();
    assert!(status.success(), "cp -a failed");
}

struct Demo {
    env: Vec<(String, String)>,
}

impl Demo {
    /// A signing key pair for the demo's sign and verify steps.
    fn new(scratch: &Path, user_cache: &Path) -> Demo {
        let keys = scratch.join("keys");
        std::fs::create_dir_all(&keys).unwrap();
        let password = "bench-password".to_string();
        time(
            Command::new(SLUICE)
                .args(["keys", "generate", "--output-key-prefix"])
                .arg(keys.join("cosign"))
                .env("COSIGN_PASSWORD", &password)
                .env("SLUICE_CACHE_DIR", user_cache),
        );
        let key = std::fs::read_to_string(keys.join("cosign.key")).unwrap();
        Demo {
            env: vec![
                ("COSIGN_PASSWORD".into(), password),
                ("COSIGN_KEY".into(), key),
            ],
        }
    }

    /// A new copy of the demo's sources at `to` (a clone: no `.sluice`).
    fn clone_to(&self, scratch: &Path, to: &Path) {
        copy_tree(&Path::new(REPO).join("examples/go-service"), to);
        std::fs::copy(scratch.join("keys/cosign.pub"), to.join("cosign.pub")).unwrap();
    }

    fn run(&self, dir: &Path, user_cache: &Path, extra: &[&str]) -> Command {
        let mut cmd = Command::new(SLUICE);
        cmd.arg("run")
            .args(extra)
            .current_dir(dir)
            .env("SLUICE_CACHE_DIR", user_cache)
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
    }
}

struct Row {
    label: String,
    n: usize,
    median: Duration,
    baseline: Option<(String, Duration)>,
    target: Option<(String, bool)>,
}

fn row(label: &str, samples: Vec<Duration>) -> Row {
    Row {
        label: label.into(),
        n: samples.len(),
        median: median(samples),
        baseline: None,
        target: None,
    }
}

fn which(program: &str) -> bool {
    Command::new(program)
        .arg("version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rounds = arg(&args, "--rounds", 15).max(3);
    let go = !args.iter().any(|a| a == "--no-go");
    let scratch = tempfile::tempdir().unwrap();
    let scratch = scratch.path();
    let user_cache = scratch.join("user-cache");
    let mut rows: Vec<Row> = Vec::new();

    if go && !(which("go") && which("gcc")) {
        eprintln!("go and gcc are needed (`apt-get install golang-go gcc`) or pass --no-go");
        std::process::exit(1);
    }

    if go {
        // 1. The demo, every step cached, against a warm run without the step cache.
        let demo = Demo::new(scratch, &user_cache);
        let ws = scratch.join("demo");
        demo.clone_to(scratch, &ws);
        time(&mut demo.run(&ws, &user_cache, &[])); // compiles, fills every cache
        let slow_rounds = (rounds / 3).max(3);
        let (mut cached, mut warm) = (Vec::new(), Vec::new());
        for i in 0..rounds {
            cached.push(time(&mut demo.run(&ws, &user_cache, &[])));
            if i < slow_rounds {
                warm.push(time(&mut demo.run(&ws, &user_cache, &["--no-step-cache"])));
            }
        }
        let warm = median(warm);
        let mut r = row("demo, every step cached", cached);
        r.baseline = Some(("warm, --no-step-cache".into(), warm));
        r.target = Some(("<= 15 ms".into(), r.median <= Duration::from_millis(15)));
        rows.push(r);
        rows.push(row("demo, warm, --no-step-cache (baseline)", vec![warm; 1]));

        // 3. A new clone on a machine where Sluice ran before.
        let (mut cold_go, mut carried) = (Vec::new(), Vec::new());
        for i in 0..slow_rounds {
            let clone = scratch.join(format!("clone-{i}"));
            demo.clone_to(scratch, &clone);
            cold_go.push(time(&mut demo.run(&clone, &user_cache, &[])));
            let _ = std::fs::remove_dir_all(&clone);
            let clone = scratch.join(format!("clone-carried-{i}"));
            demo.clone_to(scratch, &clone);
            copy_step_caches(&ws, &clone);
            carried.push(time(&mut demo.run(&clone, &user_cache, &[])));
            let _ = std::fs::remove_dir_all(&clone);
        }
        let mut r = row("demo, new clone, Go caches cold", cold_go);
        r.baseline = Some(("warm, --no-step-cache".into(), warm));
        rows.push(r);
        let mut r = row("demo, new clone, steps' Go caches carried", carried);
        r.baseline = Some(("warm, --no-step-cache".into(), warm));
        r.target = Some((
            "<= warm + 50 ms".into(),
            r.median <= warm + Duration::from_millis(50),
        ));
        rows.push(r);

        // 2. golint + gosec over the Go standard library.
        let corpus = common::go_corpus();
        let std_ws = scratch.join("stdlib");
        copy_tree(&corpus, &std_ws.join("src"));
        std::fs::write(
            std_ws.join("sluice.toml"),
            "[steps.lint]\nuses = \"golint\"\nallow = { read = [\"src\"] }\nwith = { dir = \"src\", include-tests = true, build-constraints = false, skip-dirs = [], nested-modules = true }\n\n\
             [steps.sec]\nuses = \"gosec\"\nallow = { read = [\"src\"] }\nwith = { dir = \"src\", include-tests = true, build-constraints = false, skip-dirs = [], nested-modules = true, fail-on = \"none\" }\n",
        )
        .unwrap();
        let std_run = |extra: &[&str]| {
            let mut cmd = Command::new(SLUICE);
            cmd.arg("run")
                .args(extra)
                .current_dir(&std_ws)
                .env("SLUICE_CACHE_DIR", &user_cache);
            cmd
        };
        time(&mut std_run(&[]));
        // Past the racy window of the copied files' change times, so that the stat index
        // trusts them from the next run on (as it would in a checkout older than 2 s).
        std::thread::sleep(Duration::from_millis(2100));
        time(&mut std_run(&[]));
        let (mut cached, mut uncached) = (Vec::new(), Vec::new());
        for i in 0..rounds {
            cached.push(time(&mut std_run(&[])));
            if i < slow_rounds {
                uncached.push(time(&mut std_run(&["--no-step-cache"])));
            }
        }
        let uncached = median(uncached);
        let mut r = row("stdlib golint + gosec, cached", cached);
        r.baseline = Some(("same, --no-step-cache".into(), uncached));
        r.target = Some(("<= 100 ms".into(), r.median <= Duration::from_millis(100)));
        rows.push(r);

        // 4. First run after a fresh install: the demo's analysis steps.
        let analysis = "[steps.module]\nuses = \"go-mod\"\nallow = { read = [\"go.mod\"] }\n\n\
                        [steps.lint]\nuses = \"golint\"\nallow = { read = [\".\"] }\n\n\
                        [steps.sec]\nuses = \"gosec\"\nallow = { read = [\".\"] }\nwith = { fail-on = \"high\" }\n";
        let (mut fresh, mut warm_analysis, mut precompile) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..slow_rounds {
            let dir = scratch.join(format!("fresh-{i}"));
            demo.clone_to(scratch, &dir);
            std::fs::write(dir.join("sluice.toml"), analysis).unwrap();
            let empty = scratch.join(format!("fresh-cache-{i}"));
            fresh.push(time(&mut demo.run(&dir, &empty, &[])));
            warm_analysis.push(time(&mut demo.run(&dir, &empty, &["--no-step-cache"])));
            let empty = scratch.join(format!("precompile-cache-{i}"));
            precompile.push(time(
                Command::new(SLUICE)
                    .args(["plugins", "--precompile"])
                    .env("SLUICE_CACHE_DIR", &empty),
            ));
            let _ = std::fs::remove_dir_all(&dir);
        }
        let mut r = row("fresh install, first run (mod, lint, sec)", fresh);
        r.baseline = Some((
            "same, compiled, --no-step-cache".into(),
            median(warm_analysis),
        ));
        r.target = Some((
            ">= 2x faster than 1.6 s".into(),
            r.median.as_secs_f64() * 2.0 <= 1.6,
        ));
        rows.push(r);
        rows.push(row(
            "`sluice plugins --precompile`, empty cache",
            precompile,
        ));
    }

    // 5. One compiled step, not cached, against /bin/true.
    let noop = scratch.join("noop");
    std::fs::create_dir_all(&noop).unwrap();
    std::fs::copy(sluice_test_support::NOOP, noop.join("noop.wasm")).unwrap();
    std::fs::write(
        noop.join("sluice.toml"),
        "[steps.noop]\nuses = \"./noop.wasm\"\n",
    )
    .unwrap();
    let noop_run = || {
        let mut cmd = Command::new(SLUICE);
        cmd.args(["run", "--no-step-cache"])
            .current_dir(&noop)
            .env("SLUICE_CACHE_DIR", &user_cache);
        cmd
    };
    time(&mut noop_run());
    let (mut step, mut truth) = (Vec::new(), Vec::new());
    for _ in 0..rounds * 4 {
        step.push(time(&mut noop_run()));
        truth.push(time(&mut Command::new("/bin/true")));
    }
    let truth = median(truth);
    let mut r = row("one compiled step, --no-step-cache", step);
    r.baseline = Some(("/bin/true".into(), truth));
    r.target = Some(("<= 4 ms".into(), r.median <= Duration::from_millis(4)));
    rows.push(r);
    rows.push(row("fork+exec /bin/true (baseline)", vec![truth]));

    println!(
        "\n{:<46} {:>4} {:>11} {:>32} {:>8}  target",
        "measurement (fresh process each)", "n", "median", "baseline", "ratio"
    );
    for r in &rows {
        let (base, ratio) = match &r.baseline {
            Some((name, b)) => (
                format!("{} {name}", ms(*b)),
                format!("{:.3}x", r.median.as_secs_f64() / b.as_secs_f64()),
            ),
            None => (String::new(), String::new()),
        };
        let target = match &r.target {
            Some((t, ok)) => format!("{t}: {}", if *ok { "met" } else { "NOT met" }),
            None => String::new(),
        };
        println!(
            "{:<46} {:>4} {:>11} {:>32} {:>8}  {target}",
            r.label,
            r.n,
            ms(r.median),
            base,
            ratio
        );
    }
}
