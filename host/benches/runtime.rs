//! `just bench` (or `cargo bench -p sluice --bench runtime`): the host's per-step overhead.
//!
//! 1. warm no-op step: instantiate + run + teardown of a compiled component kept in memory
//!    (`Runtime::call`), p50 and p99 over many calls;
//! 2. a fresh `sluice run` process running a one-step pipeline with the on-disk compile cache
//!    warm, wall time;
//! 3. the same with `--no-cache` (every process compiles the component);
//! 4. fork+exec of `/bin/true`, the baseline, measured in the same run.
//!
//! Targets: (1) p50 <= 100 µs, (2) <= 25 ms.

use std::borrow::Cow;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sluice::manifest::PluginRef;
use sluice::plugin::{self, PluginSource, cache::CompileCache};
use sluice::runtime::{Call, CallEnd, Cancel, Runtime};
use sluice::sandbox::{Limits, StepSandbox};

const SLUICE: &str = env!("CARGO_BIN_EXE_sluice");

struct Stats {
    p50: Duration,
    p99: Duration,
    mean: Duration,
    n: usize,
}

fn stats(mut samples: Vec<Duration>) -> Stats {
    samples.sort();
    let n = samples.len();
    let at = |q: f64| samples[((n as f64 - 1.0) * q).round() as usize];
    Stats {
        p50: at(0.5),
        p99: at(0.99),
        mean: samples.iter().sum::<Duration>() / n as u32,
        n,
    }
}

fn fmt(d: Duration) -> String {
    if d < Duration::from_millis(1) {
        format!("{:.1} µs", d.as_secs_f64() * 1e6)
    } else {
        format!("{:.2} ms", d.as_secs_f64() * 1e3)
    }
}

fn time_command(n: usize, mut make: impl FnMut() -> Command) -> Vec<Duration> {
    (0..n)
        .map(|_| {
            let mut cmd = make();
            cmd.stdout(Stdio::null())
                .stderr(Stdio::null())
                .stdin(Stdio::null());
            let start = Instant::now();
            let status = cmd.status().expect("spawn");
            let elapsed = start.elapsed();
            assert!(status.success(), "{cmd:?} failed");
            elapsed
        })
        .collect()
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let (calls, processes) = if quick { (500, 5) } else { (5000, 40) };
    let bytes = std::fs::read(sluice_test_support::NOOP).expect("the noop component");
    let digest = plugin::digest(&bytes);
    println!("noop component: {} bytes, {digest}", bytes.len());

    // 1. Warm no-op step.
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let runtime = Arc::new(Runtime::new(CompileCache::disabled()).unwrap());
    let source = PluginSource {
        uses: PluginRef::File("noop.wasm".into()),
        bytes: Cow::Owned(bytes.clone()),
        digest,
    };
    let plugin = tokio.block_on(runtime.load(&source)).unwrap();
    let sandbox = StepSandbox::new("noop");
    let limits = Limits {
        timeout: Duration::from_secs(10),
        memory: 64 << 20,
    };
    let warm: Vec<Duration> = tokio.block_on(async {
        let mut samples = Vec::with_capacity(calls);
        for i in 0..calls + calls / 10 {
            let start = Instant::now();
            let result = runtime
                .call(
                    &plugin,
                    Call {
                        step: "noop",
                        sandbox: &sandbox,
                        limits,
                        config: "{}".into(),
                        inputs: Vec::new(),
                        masker: Arc::default(),
                        events: None,
                        cancel: Cancel::default(),
                    },
                )
                .await;
            let elapsed = start.elapsed();
            assert!(matches!(result.end, CallEnd::Passed(_)), "{:?}", result.end);
            if i >= calls / 10 {
                samples.push(elapsed);
            }
        }
        samples
    });

    // 2-3. Fresh processes.
    let ws = tempfile::tempdir().unwrap();
    std::fs::write(ws.path().join("noop.wasm"), &bytes).unwrap();
    std::fs::write(
        ws.path().join("sluice.toml"),
        "[steps.noop]\nuses = \"./noop.wasm\"\n",
    )
    .unwrap();
    let sluice = |extra: &'static [&'static str]| {
        let dir = ws.path().to_path_buf();
        move || {
            let mut c = Command::new(SLUICE);
            c.args(["run", "--no-step-cache"])
                .args(extra)
                .current_dir(&dir)
                .env_remove("SLUICE_CACHE_DIR");
            c
        }
    };
    time_command(2, sluice(&[])); // fills the cache
    let cached = time_command(processes, sluice(&[]));
    let uncached = time_command(processes.min(15), sluice(&["--no-cache"]));
    let baseline = time_command(processes * 5, || Command::new("/bin/true"));

    let rows = [
        ("warm no-op step (in-process call)", stats(warm)),
        ("fresh process, one step, cache warm", stats(cached)),
        ("fresh process, one step, no cache", stats(uncached)),
        ("fork+exec /bin/true (baseline)", stats(baseline)),
    ];
    let base = rows[3].1.p50.as_secs_f64();
    println!(
        "\n{:<38} {:>6} {:>11} {:>11} {:>11} {:>9}",
        "measurement", "n", "p50", "p99", "mean", "p50/true"
    );
    for (name, s) in &rows {
        println!(
            "{name:<38} {:>6} {:>11} {:>11} {:>11} {:>8.1}x",
            s.n,
            fmt(s.p50),
            fmt(s.p99),
            fmt(s.mean),
            s.p50.as_secs_f64() / base
        );
    }
    let warm_ok = rows[0].1.p50 <= Duration::from_micros(100);
    let fresh_ok = rows[1].1.p50 <= Duration::from_millis(25);
    println!(
        "\ntargets: warm no-op p50 <= 100 µs: {}; cached fresh-process step <= 25 ms: {}",
        if warm_ok { "met" } else { "MISSED" },
        if fresh_ok { "met" } else { "MISSED" }
    );
}
