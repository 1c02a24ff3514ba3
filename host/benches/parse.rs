//! `just bench-parse` (or `cargo bench -p sluice --bench parse`): go-syntax over a Go source
//! corpus (default `/usr/share/go-1.19/src`, from Debian's `golang-go`; or `$GO_CORPUS`),
//! measured three ways in the same run:
//!
//! 1. natively (median of 5 passes over files already in memory);
//! 2. inside a `wasm32-wasip2` component under sluice's runtime, the corpus mounted read-only
//!    (timed in the guest, also median of 5 passes), once as steps run (epoch checks enforce
//!    timeouts) and once with the checks compiled out, which shows what interruption costs;
//! 3. Go's own `go/parser` (`plugins/go-syntax/tools/goparse -bench`), the baseline.
//!
//! Targets: native >= 64 MB/s (2x go/parser), wasm >= 0.7x native.

use std::borrow::Cow;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sluice::manifest::PluginRef;
use sluice::plugin::{self, PluginSource, cache::CompileCache};
use sluice::runtime::{Call, CallEnd, Cancel, GuestValue, Runtime};
use sluice::sandbox::{Limits, Mount, StepSandbox};
use sluice::types::Value;

mod common;

const PASSES: usize = 5;

fn peak_rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .unwrap_or(0)
        / 1024
}

fn main() {
    let corpus = common::go_corpus();
    let paths = go_syntax::package::go_files(&corpus).expect("readable corpus");
    let files: Vec<(String, Vec<u8>)> = paths
        .iter()
        .map(|p| (p.display().to_string(), std::fs::read(p).unwrap()))
        .collect();
    let bytes: usize = files.iter().map(|(_, b)| b.len()).sum();
    let mb = bytes as f64 / 1e6;
    println!(
        "corpus: {} ({} files, {mb:.1} MB)",
        corpus.display(),
        files.len()
    );

    // 1. Native.
    let mut per_file = vec![Duration::MAX; files.len()];
    let mut passes = Vec::new();
    let mut accepted = 0;
    for _ in 0..PASSES {
        accepted = 0;
        let start = Instant::now();
        for (i, (name, src)) in files.iter().enumerate() {
            let t = Instant::now();
            accepted += usize::from(go_syntax::parse_file(name, src).is_ok());
            per_file[i] = per_file[i].min(t.elapsed());
        }
        passes.push(start.elapsed());
    }
    passes.sort();
    let native = passes[PASSES / 2].as_secs_f64();
    let native_rss = peak_rss_mib();

    // 2. Inside a component: as sluice runs steps (epoch checks enforce timeouts), and with
    //    the checks compiled out, to show what interruption costs.
    let wasm_bytes = std::fs::read(sluice_test_support::GO_PARSE).expect("the go-parse component");
    let digest = plugin::digest(&wasm_bytes);
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let source = PluginSource {
        uses: PluginRef::File("go-parse.wasm".into()),
        bytes: Cow::Owned(wasm_bytes),
        digest,
    };
    let sandbox = StepSandbox::new("go-parse")
        .mount(Mount::open_host(&corpus, "/workspace", false).expect("the corpus directory"));
    let limits = Limits {
        timeout: Duration::from_secs(600),
        memory: 2 << 30,
    };
    let in_wasm = |runtime: Runtime| {
        let runtime = Arc::new(runtime);
        let component = tokio.block_on(runtime.load(&source)).unwrap();
        let config = format!("{{\"passes\": {PASSES}}}");
        let result = tokio.block_on(runtime.call(
            &component,
            Call {
                step: "go-parse",
                sandbox: &sandbox,
                limits,
                config,
                inputs: Vec::new(),
                masker: Arc::default(),
                events: None,
                cancel: Cancel::default(),
            },
        ));
        let CallEnd::Passed(outcome) = result.end else {
            panic!("the go-parse component failed: {:?}", result.end)
        };
        let output = |name: &str| {
            outcome
                .outputs
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
        };
        let seconds = match output("seconds") {
            Some(GuestValue::Plain(Value::Number(s))) => s,
            other => panic!("no seconds output: {other:?}"),
        };
        let accepted = match output("accepted") {
            Some(GuestValue::Plain(Value::Integer(n))) => n,
            other => panic!("no accepted output: {other:?}"),
        };
        (seconds, accepted)
    };
    let (wasm, wasm_accepted) = in_wasm(Runtime::new(CompileCache::disabled()).unwrap());
    let (wasm_plain, _) = in_wasm(Runtime::uninterruptible(CompileCache::disabled()).unwrap());
    let total_rss = peak_rss_mib();

    // 3. go/parser.
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let goparse = repo.join("target/goparse");
    let built = Command::new("go")
        .args(["build", "-o"])
        .arg(&goparse)
        .arg(".")
        .current_dir(repo.join("plugins/go-syntax/tools/goparse"))
        .status();
    let go_mbps = match built {
        Ok(s) if s.success() => {
            let list: String = files.iter().map(|(p, _)| format!("{p}\n")).collect();
            let mut runs = Vec::new();
            for _ in 0..3 {
                let mut child = Command::new(&goparse)
                    .arg("-bench")
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .spawn()
                    .unwrap();
                use std::io::Write;
                child
                    .stdin
                    .take()
                    .unwrap()
                    .write_all(list.as_bytes())
                    .unwrap();
                let out = String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap();
                let mbps: f64 = out
                    .split("mbps=")
                    .nth(1)
                    .and_then(|v| v.trim().parse().ok())
                    .expect("goparse prints mbps=");
                runs.push(mbps);
            }
            runs.sort_by(f64::total_cmp);
            Some(runs[1])
        }
        _ => None,
    };

    let native_mbps = mb / native;
    let wasm_mbps = mb / wasm;
    let plain_mbps = mb / wasm_plain;
    println!(
        "\n{:<44} {:>9} {:>10} {:>12}",
        "measurement", "MB/s", "seconds", "vs go/parser"
    );
    let vs = |m: f64| go_mbps.map_or_else(|| "-".into(), |g| format!("{:.2}x", m / g));
    println!(
        "{:<44} {:>9.1} {:>10.3} {:>12}",
        format!("go-syntax native ({accepted} accepted)"),
        native_mbps,
        native,
        vs(native_mbps)
    );
    println!(
        "{:<44} {:>9.1} {:>10.3} {:>12}",
        format!("go-syntax in wasm, as a sluice step ({wasm_accepted} ok)"),
        wasm_mbps,
        wasm,
        vs(wasm_mbps)
    );
    println!(
        "{:<44} {:>9.1} {:>10.3} {:>12}",
        "go-syntax in wasm, epoch checks compiled out",
        plain_mbps,
        wasm_plain,
        vs(plain_mbps)
    );
    match go_mbps {
        Some(g) => println!(
            "{:<44} {:>9.1} {:>10.3} {:>12}",
            "go/parser (Go 1.19, baseline)",
            g,
            mb / g,
            "1.00x"
        ),
        None => println!("go/parser: not measured (no `go` on PATH: apt-get install golang-go)"),
    }
    println!(
        "\nwasm / native: {:.2}x as a sluice step (timeouts enforced by epoch checks), {:.2}x with the checks compiled out",
        wasm_mbps / native_mbps,
        plain_mbps / native_mbps
    );
    println!(
        "peak RSS: {native_rss} MiB after the native passes (the corpus in memory + one tree at a time); {total_rss} MiB after the wasm run"
    );
    let mut slow: Vec<(Duration, &str, usize)> = files
        .iter()
        .zip(&per_file)
        .map(|((n, b), d)| (*d, n.as_str(), b.len()))
        .collect();
    slow.sort_by_key(|s| std::cmp::Reverse(s.0));
    println!("slowest files (native, best of {PASSES}):");
    for (d, n, len) in slow.iter().take(5) {
        println!(
            "  {:>7.2} ms {:>7.1} MB/s  {}",
            d.as_secs_f64() * 1e3,
            *len as f64 / 1e6 / d.as_secs_f64(),
            n.trim_start_matches(&format!("{}/", corpus.display()))
        );
    }
    let native_ok = native_mbps >= 64.0 && go_mbps.is_none_or(|g| native_mbps >= 2.0 * g);
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    println!(
        "\ntargets: native >= 64 MB/s and >= 2x go/parser: {}; wasm >= 0.7x native: {} as a sluice step, {} without epoch checks",
        verdict(native_ok),
        verdict(wasm_mbps >= 0.7 * native_mbps),
        verdict(plain_mbps >= 0.7 * native_mbps)
    );
}
