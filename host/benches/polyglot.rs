//! `just bench-polyglot` (or `cargo bench -p sluice --bench polyglot`): what a plugin costs in
//! each language. The same no-op step in Rust (`tests/plugins/noop`), Python
//! (`tests/plugins/py-noop`, componentize-py) and JavaScript (`tests/plugins/js-noop`,
//! componentize-js), all measured in the same run:
//!
//! 1. component size;
//! 2. first compile: the component compiled by Cranelift, no compile cache;
//! 3. a fresh `sluice run` process running the one-step pipeline, compile cache warm;
//! 4. a warm step in-process: instantiate + run + teardown of a compiled component kept in
//!    memory (`Runtime::call`).
//!
//! Targets for Python and JavaScript: (4) <= 1 ms, (3) <= 100 ms. Rows 3 and 4 interleave the
//! languages round by round; medians. Options: `--quick`, `--warm-only` (row 4 alone).
//!
//! Needs python3 (venv), node and npm: the plugins are built with the SDKs' build commands.

use std::borrow::Cow;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sluice::manifest::PluginRef;
use sluice::plugin::{self, PluginSource, cache::CompileCache};
use sluice::runtime::{Call, CallEnd, Cancel, Runtime};
use sluice::sandbox::{Limits, StepSandbox};
use sluice_test_support::{Lang, NOOP, polyglot_plugin, polyglot_tools_present};

const SLUICE: &str = env!("CARGO_BIN_EXE_sluice");

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples.get(samples.len() / 2).copied().unwrap_or_default()
}

fn fmt(d: Duration) -> String {
    if d < Duration::from_millis(1) {
        format!("{:.0} µs", d.as_secs_f64() * 1e6)
    } else if d < Duration::from_secs(1) {
        format!("{:.1} ms", d.as_secs_f64() * 1e3)
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

struct Lang3 {
    name: &'static str,
    bytes: Vec<u8>,
    compile: Vec<Duration>,
    fresh: Vec<Duration>,
    warm: Vec<Duration>,
    dir: tempfile::TempDir,
}

fn source(bytes: &[u8]) -> PluginSource {
    PluginSource {
        uses: PluginRef::File("plugin.wasm".into()),
        bytes: Cow::Owned(bytes.to_vec()),
        digest: plugin::digest(bytes),
    }
}

fn main() {
    if !polyglot_tools_present() {
        return;
    }
    let quick = std::env::args().any(|a| a == "--quick");
    let warm_only = std::env::args().any(|a| a == "--warm-only");
    let (compiles, processes, calls) = if quick { (1, 5, 200) } else { (3, 21, 2000) };
    let (compiles, processes) = if warm_only {
        (0, 0)
    } else {
        (compiles, processes)
    };
    let mut langs: Vec<Lang3> = [
        ("Rust", std::fs::read(NOOP).unwrap()),
        (
            "Python",
            std::fs::read(polyglot_plugin(Lang::Python, "tests/plugins/py-noop")).unwrap(),
        ),
        (
            "JavaScript",
            std::fs::read(polyglot_plugin(Lang::Js, "tests/plugins/js-noop")).unwrap(),
        ),
    ]
    .into_iter()
    .map(|(name, bytes)| {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("plugin.wasm"), &bytes).unwrap();
        std::fs::write(
            dir.path().join("sluice.toml"),
            "[steps.noop]\nuses = \"./plugin.wasm\"\n",
        )
        .unwrap();
        Lang3 {
            name,
            bytes,
            compile: Vec::new(),
            fresh: Vec::new(),
            warm: Vec::new(),
            dir,
        }
    })
    .collect();

    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    // 2. First compile, no cache.
    for _ in 0..compiles {
        for lang in &mut langs {
            let runtime = Runtime::new(CompileCache::disabled()).unwrap();
            let src = source(&lang.bytes);
            let start = Instant::now();
            tokio.block_on(runtime.load(&src)).unwrap();
            lang.compile.push(start.elapsed());
        }
    }

    // 3. Fresh processes, the compile cache (of its own) warm.
    let cache = tempfile::tempdir().unwrap();
    let sluice = |dir: &std::path::Path| {
        let mut c = Command::new(SLUICE);
        c.args(["run", "--no-step-cache"])
            .current_dir(dir)
            .env("SLUICE_CACHE_DIR", cache.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .stdin(Stdio::null());
        c
    };
    for lang in langs.iter().filter(|_| processes > 0) {
        let status = sluice(lang.dir.path()).status().unwrap(); // fills the cache
        assert!(status.success(), "{} no-op failed", lang.name);
    }
    for _ in 0..processes {
        for lang in &mut langs {
            let mut cmd = sluice(lang.dir.path());
            let start = Instant::now();
            let status = cmd.status().unwrap();
            lang.fresh.push(start.elapsed());
            assert!(status.success());
        }
    }

    // 4. Warm steps in-process.
    let runtime = Arc::new(Runtime::new(CompileCache::disabled()).unwrap());
    let plugins: Vec<_> = langs
        .iter()
        .map(|l| tokio.block_on(runtime.load(&source(&l.bytes))).unwrap())
        .collect();
    let sandbox = StepSandbox::new("noop");
    let limits = Limits {
        timeout: Duration::from_secs(10),
        memory: 256 << 20,
    };
    tokio.block_on(async {
        for i in 0..calls + calls / 10 {
            for (lang, plugin) in langs.iter_mut().zip(&plugins) {
                let start = Instant::now();
                let result = runtime
                    .call(
                        plugin,
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
                assert!(
                    matches!(result.end, CallEnd::Passed(_)),
                    "{}: {:?}",
                    lang.name,
                    result.end
                );
                if i >= calls / 10 {
                    lang.warm.push(elapsed);
                }
            }
        }
    });

    let rust = (
        median(langs[0].compile.clone()),
        median(langs[0].fresh.clone()),
        median(langs[0].warm.clone()),
    );
    println!(
        "\n{:<11} {:>9} {:>14} {:>22} {:>22}",
        "no-op step", "size", "first compile", "fresh process (cached)", "warm step in-process"
    );
    let mut met = true;
    for lang in &langs {
        let (c, f, w) = (
            median(lang.compile.clone()),
            median(lang.fresh.clone()),
            median(lang.warm.clone()),
        );
        let ratio = |x: Duration, base: Duration| x.as_secs_f64() / base.as_secs_f64();
        println!(
            "{:<11} {:>6.1} MB {:>14} {:>13} ({:>5.1}x) {:>13} ({:>5.1}x)",
            lang.name,
            lang.bytes.len() as f64 / 1e6,
            fmt(c),
            fmt(f),
            ratio(f, rust.1),
            fmt(w),
            ratio(w, rust.2),
        );
        if lang.name != "Rust" {
            met &= w <= Duration::from_millis(1) && f <= Duration::from_millis(100);
        }
    }
    println!(
        "\n(x: against the Rust no-op; {compiles} compiles, {processes} processes, {calls} warm calls per language, medians)"
    );
    println!(
        "targets, Python and JavaScript: warm step <= 1 ms, cached fresh process <= 100 ms: {}",
        if met { "met" } else { "MISSED" }
    );
}
