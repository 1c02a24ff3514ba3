//! `just bench-report` (or `cargo bench -p sluice --bench report`): the HTML run report of the
//! biggest run we have, golint and gosec over the whole Go standard library (tens of thousands
//! of findings), as `sluice run` writes it, and as headless Chromium opens it.
//!
//! Measured over `--runs N` runs (default 5) after one run that fills the caches (the steps
//! then replay from the step cache, so each run is mostly the writing of its record):
//!
//! 1. the time `sluice run` takes to write `report.html`, against the time it takes to write
//!    `run.json` in the same run (the baseline: the record every run has written so far), as
//!    `SLUICE_LOG=debug` reports them; and the sizes of both;
//! 2. Chromium (`chromium --headless --dump-dom`, Debian's) loading the report and running its
//!    script, less the same for an empty page (the browser's own start), medians of
//!    `--browser-runs N` (default 3); and what the page's script reports it took.
//!
//! Targets: written in <= 300 ms; opened in <= 2 s.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

mod common;

const SLUICE: &str = env!("CARGO_BIN_EXE_sluice");

fn arg(args: &[String], name: &str, default: usize) -> usize {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map_or(default, |v| v.parse().expect("a number"))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// `... written in 12.3 ms` from sluice's debug log.
fn written_in(stderr: &str, what: &str) -> f64 {
    let line = stderr
        .lines()
        .find(|l| l.contains(&format!("{what} written in ")))
        .unwrap_or_else(|| panic!("no `{what} written in` line in:\n{stderr}"));
    let rest = &line[line.find("written in ").unwrap() + "written in ".len()..];
    rest.split_whitespace().next().unwrap().parse().unwrap()
}

fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser"].into_iter().find_map(|c| {
        Command::new(c)
            .arg("--version")
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|_| PathBuf::from(c))
    })
}

/// Loads `page` in headless Chromium and returns the wall time and the DOM it ended with.
fn open(chromium: &Path, page: &Path, profile: &Path) -> (Duration, String) {
    let start = Instant::now();
    let out = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    let wall = start.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (wall, String::from_utf8_lossy(&out.stdout).into_owned())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let runs = arg(&args, "--runs", 5).max(1);
    let browser_runs = arg(&args, "--browser-runs", 3).max(1);

    let corpus = common::go_corpus();
    let scratch = tempfile::tempdir().unwrap();
    let ws = scratch.path().join("ws");
    let (files, _) = common::copy_tree(&corpus, &ws.join("src")).unwrap();
    std::fs::write(
        ws.join("sluice.toml"),
        r#"[pipeline]
name = "stdlib"

[steps.lint]
uses = "golint"
allow = { read = ["src"] }
with = { dir = "src", include-tests = true, build-constraints = false, skip-dirs = [], nested-modules = true }

[steps.sec]
uses = "gosec"
allow = { read = ["src"] }
with = { dir = "src", include-tests = true, build-constraints = false, skip-dirs = [], nested-modules = true, fail-on = "none" }
"#,
    )
    .unwrap();
    println!(
        "corpus: {} ({files} .go files); `sluice run` of golint + gosec over it, {runs} runs after a warm-up",
        corpus.display()
    );
    let run = || {
        let out = Command::new(SLUICE)
            .arg("run")
            .env("SLUICE_LOG", "sluice=debug")
            .env("NO_COLOR", "1")
            .current_dir(&ws)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    run();
    let (mut html_ms, mut json_ms) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let stderr = run();
        html_ms.push(written_in(&stderr, "HTML report"));
        json_ms.push(written_in(&stderr, "run record"));
    }
    let last = std::fs::read_dir(ws.join(".sluice/runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .max()
        .unwrap();
    let report = last.join("report.html");
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(last.join("run.json")).unwrap()).unwrap();
    let findings: usize = record["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["findings"].as_array().map_or(0, Vec::len))
        .sum();
    let size = |p: &Path| std::fs::metadata(p).unwrap().len() as f64 / 1e6;
    let (html, json) = (median(html_ms), median(json_ms));
    println!("findings: {findings}");
    println!(
        "report.html: {:.1} MB, written in {html:.1} ms (median of {runs}); target <= 300 ms: {}",
        size(&report),
        if html <= 300.0 { "met" } else { "MISSED" }
    );
    println!(
        "run.json (baseline): {:.1} MB, written in {json:.1} ms; report / record: {:.2}x",
        size(&last.join("run.json")),
        html / json
    );

    let Some(chromium) = chromium() else {
        println!("chromium: not installed (apt-get install chromium): the opening is not measured");
        return;
    };
    let blank = scratch.path().join("blank.html");
    std::fs::write(&blank, "<!doctype html><title>blank</title>").unwrap();
    let profile = scratch.path().join("chromium-profile");
    open(&chromium, &blank, &profile);
    let (mut page, mut empty, mut script) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..browser_runs {
        let (wall, dom) = open(&chromium, &report, &profile);
        page.push(wall.as_secs_f64() * 1000.0);
        let rendered = dom
            .split("data-rendered-ms=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .and_then(|ms| ms.parse::<f64>().ok())
            .expect("the page's script ran and said how long it took");
        script.push(rendered);
        empty.push(open(&chromium, &blank, &profile).0.as_secs_f64() * 1000.0);
    }
    let (page, empty, script) = (median(page), median(empty), median(script));
    let opened = page - empty;
    println!(
        "chromium: the report loads and renders in {opened:.0} ms beyond an empty page ({page:.0} ms vs {empty:.0} ms, medians of {browser_runs}); its script: {script:.0} ms; target <= 2 s: {}",
        if opened <= 2000.0 { "met" } else { "MISSED" }
    );
}
