//! End-to-end runs of the real `sluice` binary.

use std::io::{BufRead, BufReader};
use std::path::Path;

use sluice_test_support::{REPO, Workspace, copy_dir, probe_report, step};

const SLUICE: &str = env!("CARGO_BIN_EXE_sluice");

#[test]
fn the_demo_pipeline_passes() {
    let have = |p: &str| {
        std::process::Command::new(p)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !have("gcc")
        || !std::process::Command::new("go")
            .arg("version")
            .output()
            .is_ok_and(|o| o.status.success())
    {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must install golang-go and gcc"
        );
        eprintln!(
            "skipped: the demo's test and build steps need `go` and `gcc` (./demo installs them)"
        );
        return;
    }
    let ws = Workspace::new();
    copy_dir(&Path::new(REPO).join("examples/go-service"), &ws.dir());
    // The key pair, made as ./demo makes it: outside the workspace, passed in as secrets.
    let keys = ws.outside().join("cosign");
    let made = ws
        .command(SLUICE, &["keys", "generate", "--output-key-prefix"])
        .arg(&keys)
        .env("COSIGN_PASSWORD", "demo password")
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    std::fs::copy(keys.with_extension("pub"), ws.dir().join("cosign.pub")).unwrap();
    let out = ws
        .command(SLUICE, &["run", "sluice.toml"])
        .env("COSIGN_PASSWORD", "demo password")
        .env(
            "COSIGN_KEY",
            std::fs::read_to_string(keys.with_extension("key")).unwrap(),
        )
        .output()
        .unwrap();
    let out = sluice_test_support::Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let run = ws.last_run();
    let module = step(&run, "module");
    assert_eq!(module["status"], "passed");
    assert_eq!(
        module["outputs"]["module"]["value"],
        "example.com/go-service"
    );
    assert_eq!(module["outputs"]["go-version"]["value"], "1.19");
    assert!(out.stdout.contains("passed: 7 steps in"), "{}", out.stdout);
    // The binary is signed with provenance, and verified against the public key.
    assert_eq!(step(&run, "verify")["status"], "passed");
    assert!(
        step(&run, "verify")["summary"]
            .as_str()
            .unwrap()
            .starts_with("verified signature, bundle, attestation of sha256:"),
        "{}",
        step(&run, "verify")
    );

    // go test with the race detector meets the demo's coverage gate; go build makes a static
    // binary that prints the version the pipeline set.
    let test = step(&run, "test");
    assert_eq!(test["status"], "passed", "{test}");
    assert_eq!(test["outputs"]["failed"]["value"], 0, "{test}");
    assert!(
        test["outputs"]["coverage"]["value"].as_f64().unwrap() >= 45.0,
        "{test}"
    );
    let build = step(&run, "build");
    assert_eq!(build["status"], "passed", "{build}");
    let digest = build["outputs"]["binary"]["value"]["digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_string();
    let bin = ws.outside().join("server");
    std::fs::copy(ws.dir().join(".sluice/store/sha256").join(digest), &bin).unwrap();
    std::fs::set_permissions(&bin, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let version = std::process::Command::new(&bin)
        .arg("-version")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&version.stdout), "0.1.0\n");

    // The attestation names the program `go-build` ran, by the digest the run recorded.
    let sign = step(&run, "sign");
    let digest = sign["outputs"]["attestation"]["value"]["digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_string();
    let envelope: serde_json::Value = serde_json::from_slice(
        &std::fs::read(ws.dir().join(".sluice/store/sha256").join(digest)).unwrap(),
    )
    .unwrap();
    use base64::Engine as _;
    let statement: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(envelope["payload"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    let go = statement["predicate"]["buildDefinition"]["resolvedDependencies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "program:go" && d["annotations"]["step"] == "build")
        .unwrap_or_else(|| panic!("{statement}"));
    assert_eq!(
        format!("sha256:{}", go["digest"]["sha256"].as_str().unwrap()),
        build["programs"][0]["digest"].as_str().unwrap()
    );
    assert_eq!(build["programs"][0]["name"], "go");

    // The deliberate findings of the demo's Go code (examples/go-service/README.md).
    let lint = step(&run, "lint");
    assert_eq!(lint["outputs"]["count"]["value"], 3, "{lint}");
    let sec = step(&run, "sec");
    assert_eq!(sec["outputs"]["count"]["value"], 2, "{sec}");
    assert_eq!(
        sec["outputs"]["sarif"]["value"]["media_type"], "application/sarif+json",
        "{sec}"
    );
    assert!(
        out.stdout.contains("internal/greet/audit.go:8:5  warning  var-naming  var requestId should be requestID  [lint, confidence high]"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("internal/greet/audit.go:17:9  warning  G306  Expect WriteFile permissions to be 0600 or less  [sec, confidence high, CWE-276]"),
        "{}",
        out.stdout
    );
}

#[test]
fn go_mod_reports_findings_with_positions() {
    let ws = Workspace::new();
    ws.file(
        "go.mod",
        "module example.com/x\n\ngo 1.21\n\nrequire github.com/pkg/errors v0.9.1\n\nreplace example.com/lib => ../lib\n",
    );
    ws.file("go.sum", "");
    ws.manifest("[steps.mod]\nuses = \"go-mod\"\nallow = { read = [\"go.mod\", \"go.sum\"] }\n");
    let out = ws.sluice(SLUICE, &["run"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("go.mod:5:9  warning  go-mod/missing-sum  missing go.sum entry for github.com/pkg/errors@v0.9.1; run `go mod tidy`  [mod]"), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("go.mod:7:1  warning  go-mod/local-replace"),
        "{}",
        out.stdout
    );
    // A malformed go.mod fails the step (a gate), with the line.
    ws.file("go.mod", "module example.com/x\ngo 1.21\nrequire broken\n");
    let out = ws.sluice(SLUICE, &["run"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stdout.contains(
            "go.mod:3:1  error  go-mod/malformed  usage: require module/path v1.2.3  [mod]"
        ),
        "{}",
        out.stdout
    );
    assert_eq!(step(&ws.last_run(), "mod")["status"], "failed");
}

#[test]
fn a_failing_step_exits_1_and_skips_its_dependants_while_other_branches_continue() {
    let ws = Workspace::new();
    ws.with_probe();
    ws.manifest(
        r#"[pipeline]
timeout = "3m"

[steps.gate]
uses = "./probe.wasm"
with = { actions = [{ op = "gate", message = "coverage 12% < 70%" }] }

[steps.after-gate]
uses = "./probe.wasm"
needs = ["gate"]

[steps.after-after]
uses = "./probe.wasm"
with = { in-text = "${{ steps.after-gate.outputs.text }}" }

[steps.independent]
uses = "./probe.wasm"
with = { actions = [{ op = "sleep", ms = 200 }] }
"#,
    );
    let out = ws.sluice(SLUICE, &["run"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let run = ws.last_run();
    let status = |id: &str| step(&run, id)["status"].as_str().unwrap().to_string();
    assert_eq!(status("gate"), "failed");
    assert_eq!(status("after-gate"), "skipped");
    assert_eq!(status("after-after"), "skipped");
    assert_eq!(status("independent"), "passed");
    assert_eq!(
        step(&run, "after-gate")["error"],
        "skipped: `gate` did not pass"
    );
    // A skipped step's record still says what it would have been granted.
    assert_eq!(step(&run, "after-gate")["grants"]["timeout"], "3m");
    assert_eq!(step(&run, "after-gate")["grants"]["memory"], "1GiB");
    assert_eq!(
        step(&run, "after-after")["error"],
        "skipped: `after-gate` did not pass"
    );
    assert_eq!(
        step(&run, "gate")["findings"][0]["message"],
        "coverage 12% < 70%"
    );
    assert!(
        out.stdout
            .contains("failed: 1 of 4 passed, 1 failed, 2 skipped"),
        "{}",
        out.stdout
    );
}

#[test]
fn fail_fast_stops_the_other_steps() {
    let ws = Workspace::new();
    ws.with_probe();
    ws.manifest(
        r#"[steps.broken]
uses = "./probe.wasm"
with = { actions = [{ op = "error", message = "cannot work" }] }

[steps.slow]
uses = "./probe.wasm"
with = { actions = [{ op = "loop" }] }

[steps.later]
uses = "./probe.wasm"
needs = ["slow"]
"#,
    );
    let out = ws.sluice(SLUICE, &["run", "--fail-fast", "--jobs", "2"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let run = ws.last_run();
    assert_eq!(step(&run, "broken")["status"], "errored");
    assert_eq!(step(&run, "broken")["error"], "cannot work");
    assert_eq!(step(&run, "slow")["status"], "cancelled");
    assert_eq!(step(&run, "later")["status"], "skipped");
    assert_eq!(run["cancelled"], false);
}

#[test]
fn text_and_artifacts_flow_across_three_steps() {
    let ws = Workspace::new();
    ws.with_probe();
    ws.manifest(
        r#"[steps.produce]
uses = "./probe.wasm"
with = { actions = [
  { op = "write", path = "/outputs/private.txt", contents = "not returned" },
  { op = "artifact", name = "app.bin", contents = "binary-v1" },
  { op = "text", value = "v1" },
] }

[steps.transform]
uses = "./probe.wasm"
with = { in-artifact = "${{ steps.produce.outputs.artifact }}", in-text = "${{ steps.produce.outputs.text }}", actions = [
  { op = "read-input" },
  { op = "list", path = "/inputs" },
  { op = "list", path = "/inputs/in-artifact" },
  { op = "list", path = "/outputs" },
  { op = "write", path = "/inputs/in-artifact/app.bin", contents = "tampered" },
  { op = "artifact", name = "app.tar", contents = "packaged binary-v1" },
  { op = "text", value = "pkg-" },
] }

[steps.consume]
uses = "./probe.wasm"
with = { in-artifact = "${{ steps.transform.outputs.artifact }}", in-text = "${{ steps.transform.outputs.text }}", actions = [
  { op = "read-input" },
  { op = "text", value = "release " },
] }
"#,
    );
    let out = ws.sluice(SLUICE, &["run"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let run = ws.last_run();
    let produced = &step(&run, "produce")["outputs"]["artifact"]["value"];
    let digest = produced["digest"].as_str().unwrap();
    assert_eq!(produced["name"], "app.bin");
    assert_eq!(produced["size"], 9);
    // The store holds it under its digest, read-only.
    let stored = ws
        .dir()
        .join(".sluice/store/sha256")
        .join(digest.trim_start_matches("sha256:"));
    assert_eq!(std::fs::read_to_string(&stored).unwrap(), "binary-v1");

    let t = probe_report(&run, "transform");
    assert_eq!(
        t[0],
        (
            "read-input".into(),
            true,
            format!("/inputs/in-artifact/app.bin {digest} binary-v1")
        )
    );
    assert_eq!(t[1], ("list".into(), true, "in-artifact".into()));
    assert_eq!(
        t[2],
        ("list".into(), true, "app.bin".into()),
        "only the artifact, not the producer's other files"
    );
    assert_eq!(
        t[3],
        ("list".into(), true, String::new()),
        "a fresh, private /outputs"
    );
    assert!(!t[4].1, "inputs are read-only: {:?}", t[4]);
    assert_eq!(std::fs::read_to_string(&stored).unwrap(), "binary-v1");
    assert_eq!(t[6], ("text".into(), true, "pkg-v1".into()));

    let c = probe_report(&run, "consume");
    let packaged = step(&run, "transform")["outputs"]["artifact"]["value"]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        c[0],
        (
            "read-input".into(),
            true,
            format!("/inputs/in-artifact/app.tar {packaged} packaged binary-v1")
        )
    );
    assert_eq!(c[1], ("text".into(), true, "release pkg-v1".into()));
    assert_eq!(
        step(&run, "consume")["outputs"]["text"]["value"],
        "release pkg-v1"
    );
}

#[test]
fn independent_steps_run_concurrently_up_to_jobs() {
    let ws = Workspace::new();
    ws.with_probe();
    let sleeper = |id: &str| {
        format!(
            "[steps.{id}]\nuses = \"./probe.wasm\"\nwith = {{ actions = [{{ op = \"sleep\", ms = 400 }}] }}\n"
        )
    };
    ws.manifest(&format!("{}{}{}", sleeper("a"), sleeper("b"), sleeper("c")));
    let out = ws.sluice(SLUICE, &["run", "--jobs", "2"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let run = ws.last_run();
    let span = |id: &str| {
        let s = step(&run, id);
        let start = s["started_ms"].as_f64().unwrap();
        (start, start + s["duration_ms"].as_f64().unwrap())
    };
    let (a, b, c) = (span("a"), span("b"), span("c"));
    assert!(b.0 < a.1, "a and b overlap: {a:?} {b:?}");
    assert!(
        c.0 >= a.1.min(b.1) - 1.0,
        "c waits for a free slot: {a:?} {b:?} {c:?}"
    );
}

#[test]
fn ctrl_c_cancels_the_run_and_the_record_is_still_written() {
    let ws = Workspace::new();
    ws.with_probe();
    ws.manifest(
        "[steps.spin]\nuses = \"./probe.wasm\"\nwith = { actions = [{ op = \"loop\" }] }\n\n[steps.next]\nuses = \"./probe.wasm\"\nneeds = [\"spin\"]\n",
    );
    let mut child = ws
        .command(SLUICE, &["run"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    for line in lines.by_ref() {
        if line.unwrap().contains("[spin] started") {
            break;
        }
    }
    let killed = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{rest:?}");
    let run = ws.last_run();
    assert_eq!(run["cancelled"], true);
    assert_eq!(step(&run, "spin")["status"], "cancelled");
    assert_eq!(step(&run, "next")["status"], "skipped");
    assert_eq!(
        step(&run, "next")["error"],
        "skipped: the run was cancelled"
    );
}

/// Hostile Go sources through both analysers as steps: a 50 MB generated file, expressions
/// nested past the parser's limit and just under it, a 100,000-term concatenation and a file
/// that is not UTF-8. Nothing crashes or hangs (the steps have a 2-minute timeout and must
/// pass); the files the parser refuses become `parse-error` findings at their position and
/// the rest of the package is still analysed.
/// Sources written to make gosec's constant resolution and query tracking expensive: names
/// declared from names forty times over, twelve deep (40^12 paths if each were re-walked), a
/// 100,000-term concatenation reaching a query, 5,000 queries and builders in one function
/// (each once a walk of the whole function), a 400-deep `!!!…true`. The step finishes inside
/// its timeout with the findings the rules call for.
#[test]
fn gosec_work_stays_bounded_on_sources_built_to_blow_it_up() {
    let ws = Workspace::new();
    ws.file("go.mod", "module example.com/blowup\n\ngo 1.19\n");
    let mut chain =
        String::from("package blowup\n\nimport \"os/exec\"\n\nfunc run() {\n\ta0 := \"x\"\n");
    for level in 1..=12 {
        let terms = vec![format!("a{}", level - 1); 40].join(" + ");
        chain.push_str(&format!("\ta{level} := {terms}\n"));
    }
    chain.push_str("\t_ = exec.Command(\"ls\", a12)\n}\n");
    ws.file("chain.go", &chain);

    let mut sink = String::from(
        "package blowup\n\nimport (\n\t\"crypto/tls\"\n\t\"database/sql\"\n\t\"strings\"\n)\n\nfunc queries(db *sql.DB, p string) {\n",
    );
    sink.push_str(&format!(
        "\t_, _ = db.Query(\"SELECT * FROM t WHERE a = \" + {}p)\n",
        "p + ".repeat(100_000)
    ));
    for i in 0..5_000 {
        sink.push_str(&format!(
            "\tq{i} := \"SELECT * FROM t WHERE id = \"\n\tq{i} += \"1\"\n\t_, _ = db.Query(q{i})\n\tvar b{i} strings.Builder\n\tb{i}.WriteString(\"?\")\n\t_, _ = db.Query(\"SELECT * FROM t WHERE id IN (\" + b{i}.String() + \")\")\n"
        ));
    }
    sink.push_str(&format!(
        "\t_ = &tls.Config{{InsecureSkipVerify: {}true}}\n}}\n",
        "!".repeat(400)
    ));
    ws.file("sink.go", &sink);
    ws.manifest(
        r#"[pipeline]
name = "blowup"

[steps.sec]
uses = "gosec"
allow = { read = ["."] }
timeout = "2m"
with = { fail-on = "none" }
"#,
    );
    let out = ws.sluice(SLUICE, &["run", "--no-step-cache"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let run = ws.last_run();
    let s = step(&run, "sec");
    assert_eq!(s["status"], "passed", "{}", s["error"]);
    let findings = s["findings"].as_array().unwrap();
    let of = |rule: &str| findings.iter().filter(|f| f["rule"] == rule).count();
    // The chain is made of constants: no G204. The long concatenation with `p` is the one
    // G202; the appended and built queries are constants. 400 `!` on true is true.
    assert_eq!(of("G204"), 0, "{findings:?}");
    assert_eq!(of("G202"), 1, "{findings:?}");
    assert_eq!(of("G402"), 1, "{findings:?}");
    let tls = findings.iter().find(|f| f["rule"] == "G402").unwrap();
    assert_eq!(tls["message"], "TLS InsecureSkipVerify set to true.");
}

#[test]
fn analysers_survive_huge_deep_and_malformed_sources() {
    let ws = Workspace::new();
    ws.file("go.mod", "module example.com/hostile\n\ngo 1.19\n");

    // ~50 MB: a table literal and many small functions, as code generators write them.
    let mut big = String::from("package hostile\n\nvar table = [...]uint32{\n");
    let mut i: u32 = 0;
    while big.len() < 25_000_000 {
        big.push_str(&format!(
            "\t0x{:08x}, 0x{:08x}, 0x{:08x}, 0x{:08x},\n",
            i,
            !i,
            i ^ 0x5555,
            i.rotate_left(7)
        ));
        i += 1;
    }
    big.push_str("}\n\n");
    let mut n = 0;
    while big.len() < 50_000_000 {
        big.push_str(&format!(
            "func gen{n}(x int) int {{\n\tif x > {n} {{\n\t\treturn x - {n}\n\t}}\n\treturn table[x%4] + {n}\n}}\n\n"
        ));
        n += 1;
    }
    ws.file("big.go", &big);

    // Past the parser's nesting limit (1,000 levels; a parenthesis takes two): refused with a
    // parse error at its position.
    let depth = 100_000;
    ws.file(
        "deep/deep.go",
        format!(
            "package deep\n\nvar X = {}1{}\n\nfunc ok() {{}}\n",
            "(".repeat(depth),
            ")".repeat(depth)
        ),
    );
    // Just under it, and a long flat chain: both parse, and the analysers walk them.
    ws.file(
        "deep/nested.go",
        format!(
            "package deep\n\nvar y = {}1{}\n\nvar query = \"SELECT * FROM t WHERE a = \" + {}\"z\"\n",
            "(".repeat(400),
            ")".repeat(400),
            "\"a\" + ".repeat(100_000)
        ),
    );
    // Latin-1, not UTF-8.
    ws.file(
        "latin/latin.go",
        b"package latin\n\n// Caf\xe9\nvar Name = \"caf\xe9\"\n".as_slice(),
    );
    ws.file("latin/ok.go", "package latin\n\nfunc Exported() {}\n");
    ws.manifest(
        r#"[pipeline]
name = "hostile"
timeout = "2m"

[steps.lint]
uses = "golint"
allow = { read = ["."] }

[steps.sec]
uses = "gosec"
allow = { read = ["."] }
with = { fail-on = "none" }
"#,
    );
    let out = ws.sluice(SLUICE, &["run"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let run = ws.last_run();
    for id in ["lint", "sec"] {
        let s = step(&run, id);
        assert_eq!(s["status"], "passed", "{id}: {}", s["error"]);
        let summary = s["summary"].as_str().unwrap();
        // Five files read; big.go, deep/nested.go and latin/ok.go make three packages.
        assert!(
            summary.contains("in 3 packages (5 files, 50."),
            "{id}: {summary} {}",
            s["findings"]
        );
        let findings = s["findings"].as_array().unwrap();
        let at = |path: &str| {
            findings
                .iter()
                .filter(|f| f["rule"] == "parse-error" && f["span"]["path"] == path)
                .map(|f| {
                    (
                        f["span"]["line"].as_u64().unwrap(),
                        f["message"].as_str().unwrap().to_string(),
                    )
                })
                .collect::<Vec<_>>()
        };
        let deep = at("deep/deep.go");
        assert_eq!(deep.len(), 1, "{id}: {findings:?}");
        assert_eq!(deep[0].0, 3, "{id}: {deep:?}");
        assert!(deep[0].1.contains("nest"), "{id}: {deep:?}");
        let latin = at("latin/latin.go");
        assert_eq!(latin.len(), 1, "{id}: {findings:?}");
        assert_eq!(latin[0].0, 3, "{id}: {latin:?}");
        assert!(latin[0].1.contains("UTF-8"), "{id}: {latin:?}");
        assert!(
            findings
                .iter()
                .all(|f| f["span"]["path"] != "big.go" || f["rule"] != "parse-error")
        );
    }
    // The rest of the latin package is still analysed.
    let lint = step(&run, "lint")["findings"].as_array().unwrap().clone();
    assert!(
        lint.iter().any(|f| f["span"]["path"] == "latin/ok.go"
            && f["message"] == "exported function Exported should have comment or be unexported"),
        "{lint:?}"
    );
    // gosec still reads the concatenation that builds SQL (G202 needs a non-constant operand,
    // so none here) and the huge file without a finding in either.
    let sec = step(&run, "sec")["findings"].as_array().unwrap().clone();
    assert!(sec.iter().all(|f| f["rule"] == "parse-error"), "{sec:?}");
}
