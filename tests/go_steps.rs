//! The built-in `go-test` and `go-build` steps on real Go modules, run by the real `go`
//! toolchain confined by the `exec` capability, their reports read back by independent
//! readers (`junitparser` and `pycobertura` from PyPI, pinned, set up by the test) and
//! compared with what `go test -json` and `go tool cover -func` say run directly.
//!
//! Needs Go (and gcc, for `-race`): `.ci/run` installs them; on a machine without them the
//! tests say so and are skipped (they fail under `CI=true`).

use std::path::Path;
use std::process::Command;

use sluice_test_support::{Workspace, python_venv, run_ok, step};

const SLUICE: &str = env!("CARGO_BIN_EXE_sluice");

/// Whether Go and gcc are here; under CI their absence is a failure.
fn toolchain() -> bool {
    let have = |p: &str| {
        Command::new(p)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
            || Command::new(p)
                .arg("version")
                .output()
                .is_ok_and(|o| o.status.success())
    };
    let ok = have("go") && have("gcc");
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must install golang-go and gcc (see .ci/run)"
        );
        eprintln!("skipped: needs `go` and `gcc` (apt-get install golang-go gcc)");
    }
    ok
}

const CALC_GO: &str = r#"package calc

// Add adds.
func Add(a, b int) int { return a + b }

// Sub subtracts.
func Sub(a, b int) int { return a - b }

// Counter counts, without locking.
type Counter struct{ n int }

// Inc adds one.
func (c *Counter) Inc() { c.n++ }
"#;

const CALC_TEST_GO: &str = r#"package calc

import (
	"sync"
	"testing"
)

func TestAdd(t *testing.T) {
	if Add(1, 2) != 3 {
		t.Fatal("add")
	}
}

func TestSub(t *testing.T) {
	if got := Sub(5, 3); got != 3 {
		t.Errorf("Sub(5, 3) = %d, want 3", got)
	}
}

func TestSkipped(t *testing.T) {
	t.Skip("not on this machine")
}

func TestTable(t *testing.T) {
	for _, c := range []struct {
		name    string
		a, b, w int
	}{{"one", 1, 1, 2}, {"two", 2, 2, 4}} {
		c := c
		t.Run(c.name, func(t *testing.T) {
			if Add(c.a, c.b) != c.w {
				t.Fail()
			}
		})
	}
}

func TestRace(t *testing.T) {
	var c Counter
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Inc()
		}()
	}
	wg.Wait()
}
"#;

const COV_GO: &str = r#"package cov

// A is tested.
func A() int { return 1 }

// B is not.
func B(x int) int {
	if x > 0 {
		return x
	}
	return -x
}

// C is not.
func C() string { return "c" }
"#;

const COV_TEST_GO: &str = r#"package cov

import "testing"

func TestA(t *testing.T) {
	if A() != 1 {
		t.Fatal("A")
	}
}
"#;

fn go_mod(name: &str) -> String {
    format!("module example.com/{name}\n\ngo 1.19\n")
}

/// Runs `go` natively in `dir` with a private cache, returning stdout.
fn go(dir: &Path, args: &[&str], cache: &Path) -> String {
    let out = Command::new("go")
        .args(args)
        .current_dir(dir)
        .env("GOCACHE", cache)
        .env("GOFLAGS", "-mod=mod")
        .env("GOPROXY", "off")
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn findings_of<'a>(run: &'a serde_json::Value, id: &str) -> Vec<&'a serde_json::Value> {
    step(run, id)["findings"]
        .as_array()
        .unwrap()
        .iter()
        .collect()
}

fn at(f: &serde_json::Value) -> String {
    format!(
        "{}:{}",
        f["span"]["path"].as_str().unwrap_or("-"),
        f["span"]["line"]
    )
}

/// A failing test, a compile error and a data race are findings at their positions and fail
/// the gate; coverage below the gate fails with the figure; JUnit and Cobertura are read
/// back by independent readers with the counts and total Go itself gives.
#[test]
fn go_test_reports_failures_races_build_errors_and_coverage() {
    if !toolchain() {
        return;
    }
    let ws = Workspace::new();
    ws.file("calc/go.mod", go_mod("calc"))
        .file("calc/calc.go", CALC_GO)
        .file("calc/calc_test.go", CALC_TEST_GO)
        .file("broken/go.mod", go_mod("broken"))
        .file(
            "broken/broken.go",
            "package broken\n\nfunc F() int { return undefinedThing }\n",
        )
        .file(
            "broken/broken_test.go",
            "package broken\n\nimport \"testing\"\n\nfunc TestF(t *testing.T) { F() }\n",
        )
        .file("cov/go.mod", go_mod("cov"))
        .file("cov/cov.go", COV_GO)
        .file("cov/cov_test.go", COV_TEST_GO);
    ws.manifest(
        r#"[pipeline]
timeout = "5m"

[steps.calc]
uses = "go-test"
allow = { read = ["calc"], exec = ["go"] }
with = { dir = "calc", race = true }

[steps.broken]
uses = "go-test"
allow = { read = ["broken"], exec = ["go"] }
with = { dir = "broken" }

[steps.cov]
uses = "go-test"
allow = { read = ["cov"], exec = ["go"] }
with = { dir = "cov", min-coverage = 80 }
"#,
    );
    let out = ws.sluice(SLUICE, &["run", "--jobs", "3"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let run = ws.last_run();

    // calc: one failed test at its line, one race at the first frame in the module.
    let calc = step(&run, "calc");
    assert_eq!(calc["status"], "failed", "{calc}");
    let f = findings_of(&run, "calc");
    let failed: Vec<String> = f
        .iter()
        .filter(|f| f["rule"] == "go-test/failed")
        .map(|f| format!("{} {}", at(f), f["message"].as_str().unwrap()))
        .collect();
    assert!(
        failed.contains(&"calc/calc_test.go:16 TestSub failed: Sub(5, 3) = 2, want 3".to_string()),
        "{failed:?}"
    );
    let races: Vec<String> = f
        .iter()
        .filter(|f| f["rule"] == "go-test/data-race")
        .map(|f| at(f))
        .collect();
    assert_eq!(races, ["calc/calc.go:13"], "{f:?}");
    assert_eq!(calc["outputs"]["passed"]["value"], 4, "{calc}");
    assert_eq!(calc["outputs"]["failed"]["value"], 2, "{calc}");
    assert_eq!(calc["outputs"]["skipped"]["value"], 1, "{calc}");
    assert!(
        calc["summary"]
            .as_str()
            .unwrap()
            .starts_with("2 tests failed"),
        "{calc}"
    );

    // broken: the compile error at its position.
    let broken = step(&run, "broken");
    assert_eq!(broken["status"], "failed", "{broken}");
    let f = findings_of(&run, "broken");
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0]["rule"], "go-test/build-error");
    assert_eq!(at(f[0]), "broken/broken.go:3");
    assert_eq!(f[0]["message"], "undefined: undefinedThing");

    // cov: below the gate, with the figure.
    let cov = step(&run, "cov");
    assert_eq!(cov["status"], "failed", "{cov}");
    let coverage = cov["outputs"]["coverage"]["value"].as_f64().unwrap();
    assert!(
        cov["summary"]
            .as_str()
            .unwrap()
            .starts_with(&format!("coverage {coverage:.1}% < 80%")),
        "{cov}"
    );

    // Go's own figures, run directly.
    let cache = ws.outside().join("gocache");
    let profile = ws.outside().join("cov.out");
    go(
        &ws.dir().join("cov"),
        &[
            "test",
            &format!("-coverprofile={}", profile.display()),
            "./...",
        ],
        &cache,
    );
    let func = go(
        &ws.dir().join("cov"),
        &["tool", "cover", &format!("-func={}", profile.display())],
        &cache,
    );
    let total: f64 = func
        .lines()
        .last()
        .and_then(|l| l.split_whitespace().last())
        .and_then(|p| p.trim_end_matches('%').parse().ok())
        .unwrap_or_else(|| panic!("no total in {func}"));
    assert!(
        (coverage - total).abs() < 0.05,
        "step {coverage} vs go {total}"
    );
    let json = go(
        &ws.dir().join("calc"),
        &["test", "-json", "-race", "./..."],
        &cache,
    );
    let mut direct = [0u64; 3];
    for line in json.lines() {
        let e: serde_json::Value = serde_json::from_str(line).unwrap();
        if e["Test"].is_string() {
            match e["Action"].as_str().unwrap() {
                "pass" => direct[0] += 1,
                "fail" => direct[1] += 1,
                "skip" => direct[2] += 1,
                _ => {}
            }
        }
    }
    assert_eq!(direct, [4, 2, 1], "go test -json counts");

    // Independent readers.
    let python = python_venv("go-reports", &["junitparser==4.0.2", "pycobertura==4.1.0"]);
    let junit = ws.stored(&run, "calc", "junit");
    let cobertura = ws.stored(&run, "cov", "cobertura");
    let script = r#"
import sys, json
from junitparser import JUnitXml, Failure, Skipped, Error
from pycobertura import Cobertura
xml = JUnitXml.fromfile(sys.argv[1])
counts = {"passed": 0, "failed": 0, "skipped": 0, "errors": 0, "suites": 0}
for suite in xml:
    counts["suites"] += 1
    for case in suite:
        kinds = [type(r) for r in case.result]
        if Failure in kinds: counts["failed"] += 1
        elif Skipped in kinds: counts["skipped"] += 1
        elif Error in kinds: counts["errors"] += 1
        else: counts["passed"] += 1
cob = Cobertura(sys.argv[2])
counts["line_rate"] = cob.line_rate()
counts["files"] = cob.files()
print(json.dumps(counts))
"#;
    let out = run_ok(
        Command::new(&python)
            .arg("-c")
            .arg(script)
            .arg(&junit)
            .arg(&cobertura),
    );
    let read: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        [&read["passed"], &read["failed"], &read["skipped"]],
        [direct[0], direct[1], direct[2]]
            .map(serde_json::Value::from)
            .each_ref(),
        "{read}"
    );
    assert_eq!(read["suites"], 1);
    let rate = read["line_rate"].as_f64().unwrap() * 100.0;
    assert!(
        (rate - total).abs() < 0.05,
        "pycobertura {rate} vs go {total}"
    );
    assert_eq!(read["files"], serde_json::json!(["cov.go"]));
    eprintln!(
        "coverage: step {coverage:.2}%, go tool cover {total}%, pycobertura {rate:.2}%; junitparser {read}"
    );
}

/// Two independent builds of the same sources and options give the same bytes; the binary
/// is static, runs and prints the `-X` version; `go version -m` shows the build settings;
/// several platforms build at once; a warm per-step cache makes the same step faster.
#[test]
fn go_build_is_reproducible_static_and_versioned() {
    if !toolchain() {
        return;
    }
    let ws = Workspace::new();
    ws.file("go.mod", go_mod("app")).file(
        "main.go",
        "package main\n\nimport \"fmt\"\n\nvar version = \"dev\"\n\nfunc main() { fmt.Println(\"app\", version) }\n",
    );
    ws.manifest(
        r#"[pipeline]
timeout = "5m"

[steps.a]
uses = "go-build"
allow = { read = ["."], exec = ["go"] }
with = { platforms = ["linux/amd64", "linux/arm64"], x = { "main.version" = "1.2.3" } }

[steps.b]
uses = "go-build"
allow = { read = ["."], exec = ["go"] }
with = { platforms = ["linux/amd64"], x = { "main.version" = "1.2.3" } }

[steps.untrimmed]
uses = "go-build"
allow = { read = ["."], exec = ["go"] }
with = { trimpath = false, output = "app", x = { "main.version" = "1.2.3" } }
"#,
    );
    let out = ws.sluice(SLUICE, &["run", "--jobs", "3"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let run = ws.last_run();
    let a = step(&run, "a");
    let b = step(&run, "b");
    assert_eq!(
        a["outputs"]["binary-linux-amd64"]["value"]["digest"],
        b["outputs"]["binary"]["value"]["digest"],
        "two builds of the same inputs differ"
    );
    assert_eq!(a["outputs"]["digest"], b["outputs"]["digest"]);
    assert!(
        a["outputs"]["go-version"]["value"]
            .as_str()
            .unwrap()
            .starts_with("go1.")
    );
    let binaries: serde_json::Value =
        serde_json::from_str(a["outputs"]["binaries"]["value"].as_str().unwrap()).unwrap();
    assert_eq!(
        binaries.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["linux/amd64", "linux/arm64"]
    );

    // Static, and it runs.
    let bin = ws.outside().join("app");
    std::fs::copy(ws.stored(&run, "a", "binary-linux-amd64"), &bin).unwrap();
    std::fs::set_permissions(&bin, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let elf = std::fs::read(&bin).unwrap();
    assert!(
        !has_interpreter(&elf),
        "the linux/amd64 binary is dynamically linked"
    );
    let out = Command::new(&bin).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "app 1.2.3\n");
    let arm = std::fs::read(ws.stored(&run, "a", "binary-linux-arm64")).unwrap();
    assert_eq!(
        u16::from_le_bytes([arm[18], arm[19]]),
        183,
        "arm64 ELF machine"
    );

    // Build settings: -trimpath (Go records -ldflags only without -trimpath, since they may
    // hold paths: the untrimmed build shows the -X).
    let version_m = |path: &Path| {
        let out = Command::new("go")
            .args(["version", "-m"])
            .arg(path)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let trimmed = version_m(&bin);
    assert!(trimmed.contains("build\t-trimpath=true"), "{trimmed}");
    assert!(trimmed.contains("build\tCGO_ENABLED=0"), "{trimmed}");
    let untrimmed_bin = ws.outside().join("app-untrimmed");
    std::fs::copy(ws.stored(&run, "untrimmed", "binary"), &untrimmed_bin).unwrap();
    std::fs::set_permissions(
        &untrimmed_bin,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let untrimmed = version_m(&untrimmed_bin);
    assert!(
        untrimmed.contains("build\t-ldflags=-X=main.version=1.2.3"),
        "{untrimmed}"
    );

    // The same step again, Go's build cache warm (the step cache off: it would replay).
    let cold = b["duration_ms"].as_f64().unwrap();
    let out = ws.sluice(SLUICE, &["run", "--jobs", "3", "--no-step-cache"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let again = ws.last_run();
    let warm = step(&again, "b")["duration_ms"].as_f64().unwrap();
    assert_eq!(
        step(&again, "b")["outputs"]["digest"],
        b["outputs"]["digest"],
        "a warm rebuild differs"
    );
    assert!(warm < cold, "warm {warm} ms vs cold {cold} ms");
    eprintln!("go-build step b: cold {cold:.0} ms, warm {warm:.0} ms");
}

/// Whether an ELF file has a `PT_INTERP` program header (is dynamically linked).
fn has_interpreter(elf: &[u8]) -> bool {
    assert_eq!(&elf[..4], b"\x7fELF");
    assert_eq!(elf[4], 2, "64-bit");
    let u16_at = |o: usize| u16::from_le_bytes([elf[o], elf[o + 1]]) as usize;
    let u64_at = |o: usize| u64::from_le_bytes(elf[o..o + 8].try_into().unwrap()) as usize;
    let phoff = u64_at(0x20);
    let phentsize = u16_at(0x36);
    let phnum = u16_at(0x38);
    (0..phnum).any(|i| {
        let o = phoff + i * phentsize;
        u32::from_le_bytes(elf[o..o + 4].try_into().unwrap()) == 3
    })
}
