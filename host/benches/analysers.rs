//! `just bench-analysers` (or `cargo bench -p sluice --bench analysers`): the built-in Go
//! analysers over the whole Go standard library source, as a user runs them, against Go's own
//! tools timed in the same run.
//!
//! The corpus (default `/usr/share/go-1.19/src`, from Debian's `golang-go`; or `$GO_CORPUS`)
//! is copied into a scratch workspace granted read-only to the steps; every `.go` file is
//! analysed (`include-tests`, `build-constraints = false`, no skipped directories, nested
//! modules). Measured, each a fresh process, wall time and peak RSS (`wait4`):
//!
//! 1. `sluice run` of a pipeline with one `golint` step; 2. with one `gosec` step; 3. with both
//!    as parallel steps — after one unmeasured run that fills the compiled-component cache;
//! 4. `go-staticcheck -checks 'ST*' std` with cold caches (fresh `GOCACHE` and staticcheck
//!    cache per run); 5. `go vet std`, cold and warm `GOCACHE`.
//!
//! Targets: (1), (2) and (3) each <= 3 s wall. Options: `--runs N` (sluice runs, default 5),
//! `--baseline-runs N` (Go tools, default 1: a cold staticcheck run of std takes minutes here), `--no-baselines`,
//! `--compare BIN`: another sluice binary (say, a build of an earlier commit) run on the same
//! pipelines, its runs alternating with this build's, with the ratio of the medians (to show a
//! change did not slow the analysers down, measured in one run on the same machine).

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;

const SLUICE: &str = env!("CARGO_BIN_EXE_sluice");

/// The options every step gets: the whole tree, as the other tools' figures are for theirs.
const WITH: &str = r#"dir = "src", include-tests = true, build-constraints = false, skip-dirs = [], nested-modules = true"#;

struct Sample {
    wall: Duration,
    peak_mib: f64,
    ok: bool,
}

/// Runs `cmd` to completion and returns its wall time and peak RSS (of the process and its
/// waited-for children, as the kernel reports for the process itself).
fn measure(cmd: &mut Command) -> Sample {
    let start = Instant::now();
    // Reaped with wait4 below (std's wait does not report the child's rusage).
    #[allow(clippy::zombie_processes)]
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let mut status = 0;
    // SAFETY: an all-zero `rusage` is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `child.id()` is our child, not yet waited for; `status` and `usage` are live.
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as i32, "wait4 failed");
    let wall = start.elapsed();
    Sample {
        wall,
        peak_mib: usage.ru_maxrss as f64 / 1024.0,
        ok: libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
    }
}

struct Summary {
    median: Duration,
    min: Duration,
    max: Duration,
    peak_mib: f64,
    runs: usize,
}

fn summarize(label: &str, samples: &[Sample]) -> Summary {
    assert!(
        samples.iter().all(|s| s.ok),
        "{label}: a run failed (exit status not 0)"
    );
    let mut walls: Vec<Duration> = samples.iter().map(|s| s.wall).collect();
    walls.sort();
    let mut peaks: Vec<f64> = samples.iter().map(|s| s.peak_mib).collect();
    peaks.sort_by(f64::total_cmp);
    Summary {
        median: walls[walls.len() / 2],
        min: walls[0],
        max: walls[walls.len() - 1],
        peak_mib: peaks[peaks.len() / 2],
        runs: samples.len(),
    }
}

fn pipeline(dir: &Path, name: &str, steps: &[(&str, &str, &str)]) -> PathBuf {
    let mut text = format!("[pipeline]\nname = \"{name}\"\n");
    for (id, uses, extra) in steps {
        text.push_str(&format!(
            "\n[steps.{id}]\nuses = \"{uses}\"\nallow = {{ read = [\"src\"] }}\nwith = {{ {WITH}{extra} }}\n"
        ));
    }
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

fn arg(args: &[String], name: &str, default: usize) -> usize {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map_or(default, |v| v.parse().expect("a number"))
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let runs = arg(&args, "--runs", 5).max(1);
    let baseline_runs = arg(&args, "--baseline-runs", 1).max(1);
    let baselines = !args.iter().any(|a| a == "--no-baselines");
    let compare: Option<PathBuf> = args
        .iter()
        .position(|a| a == "--compare")
        .map(|i| PathBuf::from(args.get(i + 1).expect("--compare BIN")));

    let corpus = common::go_corpus();
    let scratch = tempfile::tempdir().unwrap();
    let ws = scratch.path().join("ws");
    let (files, bytes) = common::copy_tree(&corpus, &ws.join("src")).unwrap();
    let mb = bytes as f64 / 1e6;
    println!(
        "corpus: {} ({files} .go files, {mb:.1} MB), copied into a scratch workspace",
        corpus.display()
    );
    println!("sluice: {runs} runs each after a warm-up run (compile cache filled)\n");

    let lint = pipeline(&ws, "lint", &[("lint", "golint", "")]);
    let sec = pipeline(&ws, "sec", &[("sec", "gosec", ", fail-on = \"none\"")]);
    let both = pipeline(
        &ws,
        "both",
        &[
            ("lint", "golint", ""),
            ("sec", "gosec", ", fail-on = \"none\""),
        ],
    );
    let run_with = |bin: &Path, manifest: &Path| {
        let mut cmd = Command::new(bin);
        cmd.args(["run", "--no-step-cache"])
            .arg(manifest)
            .current_dir(&ws);
        cmd
    };
    let sluice = |manifest: &Path| run_with(Path::new(SLUICE), manifest);
    // Fills the compile cache; also shows the runs pass before anything is timed.
    for m in [&lint, &sec, &both] {
        let s = measure(&mut sluice(m));
        assert!(s.ok, "`sluice run {}` failed", m.display());
        if let Some(other) = &compare {
            let s = measure(&mut run_with(other, m));
            assert!(s.ok, "`{} run {}` failed", other.display(), m.display());
        }
    }

    let mut rows: Vec<(String, Summary)> = Vec::new();
    let mut compared: Vec<(String, Summary, Summary)> = Vec::new();
    for (label, manifest) in [
        ("golint (one step)", &lint),
        ("gosec (one step)", &sec),
        ("golint + gosec (parallel steps)", &both),
    ] {
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            ours.push(measure(&mut sluice(manifest)));
            if let Some(other) = &compare {
                theirs.push(measure(&mut run_with(other, manifest)));
            }
        }
        let summary = summarize(label, &ours);
        if compare.is_some() {
            compared.push((
                label.into(),
                summarize(label, &ours),
                summarize(label, &theirs),
            ));
        }
        rows.push((label.into(), summary));
    }

    let mut staticcheck = None;
    if baselines {
        let go_tool = |program: &str, args: &[&str], cache: Option<&Path>| {
            let mut cmd = Command::new(program);
            cmd.args(args).current_dir(scratch.path());
            if let Some(cache) = cache {
                cmd.env("GOCACHE", cache.join("go"))
                    .env("XDG_CACHE_HOME", cache)
                    .env("STATICCHECK_CACHE", cache.join("staticcheck"));
            }
            // Each run in its own process group, so nothing it leaves behind is timed later.
            cmd.process_group(0);
            cmd
        };
        let fresh_cache = |i: usize| {
            let dir = scratch.path().join(format!("cache-{i}-{}", rand_suffix()));
            std::fs::create_dir_all(&dir).unwrap();
            dir
        };
        if which("go-staticcheck") {
            let label = "go-staticcheck -checks 'ST*' std (cold cache)";
            let samples: Vec<Sample> = (0..baseline_runs)
                .map(|i| {
                    let cache = fresh_cache(i);
                    let s = measure(&mut go_tool(
                        "go-staticcheck",
                        &["-checks", "ST*", "std"],
                        Some(&cache),
                    ));
                    // staticcheck exits 1 when it reports problems: that is a finished run.
                    let _ = std::fs::remove_dir_all(&cache);
                    Sample { ok: true, ..s }
                })
                .collect();
            let summary = summarize(label, &samples);
            staticcheck = Some(summary.median);
            rows.push((label.into(), summary));
        } else {
            println!("go-staticcheck not found (`apt-get install go-staticcheck`): skipped");
        }
        if which("go") {
            let warm = fresh_cache(99);
            let label = "go vet std (cold GOCACHE)";
            let samples: Vec<Sample> = (0..baseline_runs)
                .map(|i| {
                    let cache = fresh_cache(i);
                    let s = measure(&mut go_tool("go", &["vet", "std"], Some(&cache)));
                    let _ = std::fs::remove_dir_all(&cache);
                    s
                })
                .collect();
            rows.push((label.into(), summarize(label, &samples)));
            let _ = measure(&mut go_tool("go", &["vet", "std"], Some(&warm)));
            let label = "go vet std (warm GOCACHE)";
            let samples: Vec<Sample> = (0..baseline_runs)
                .map(|_| measure(&mut go_tool("go", &["vet", "std"], Some(&warm))))
                .collect();
            rows.push((label.into(), summarize(label, &samples)));
        } else {
            println!("go not found (`apt-get install golang-go`): skipped");
        }
    }

    println!(
        "{:<48} {:>4} {:>9} {:>9} {:>9} {:>9} {:>9} {:>12}",
        "", "runs", "median s", "min s", "max s", "MB/s", "peak MiB", "vs staticch."
    );
    for (label, s) in &rows {
        let ratio = staticcheck.map_or_else(
            || "-".into(),
            |base| format!("{:.3}x", secs(s.median) / secs(base)),
        );
        println!(
            "{label:<48} {:>4} {:>9.2} {:>9.2} {:>9.2} {:>9.1} {:>9.0} {:>12}",
            s.runs,
            secs(s.median),
            secs(s.min),
            secs(s.max),
            mb / secs(s.median),
            s.peak_mib,
            ratio
        );
    }
    println!(
        "\nMB/s is the corpus size over the median wall time (Go's tools read only the \
         packages of `std` for linux/amd64, a subset of the corpus).\ntarget: each sluice row <= 3.00 s"
    );
    for (label, s) in rows.iter().take(3) {
        let verdict = if secs(s.median) <= 3.0 {
            "met"
        } else {
            "NOT met"
        };
        println!("  {label}: {:.2} s — {verdict}", secs(s.median));
    }
    if let Some(other) = &compare {
        println!(
            "\nthis build against {} (runs alternating, {runs} each):",
            other.display()
        );
        println!(
            "{:<48} {:>12} {:>12} {:>8} {:>10} {:>10}",
            "", "this s", "compared s", "ratio", "this MiB", "comp. MiB"
        );
        for (label, ours, theirs) in &compared {
            println!(
                "{label:<48} {:>12.2} {:>12.2} {:>7.3}x {:>10.0} {:>10.0}",
                secs(ours.median),
                secs(theirs.median),
                secs(ours.median) / secs(theirs.median),
                ours.peak_mib,
                theirs.peak_mib
            );
        }
    }
}

fn which(program: &str) -> bool {
    Command::new(program)
        .arg("-h")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}
