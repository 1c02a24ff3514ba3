//! The SARIF logs sluice writes (every step's `sarif` output), checked by others' tools:
//! validated against the SARIF 2.1.0 JSON schema and read back with `sarif-tools` (PyPI).
//!
//! The test sets its tools up itself, once, under `<target>/test-tools/sarif`: a Python venv
//! with pinned `jsonschema` and `sarif-tools` from PyPI, and the SARIF 2.1.0 schema
//! (`sarif-2.1.0-rtm.5.json`, draft-04) from Microsoft's npm package `@microsoft/jest-sarif`
//! (MIT), fetched with `npm pack` and checked against a pinned SHA-256. Nothing is vendored.

use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};
use sluice_test_support::{REPO, Workspace, copy_dir, python_venv, run_ok, step, target_dir};

const SLUICE: &str = env!("CARGO_BIN_EXE_sluice");

const PIP_PACKAGES: &[&str] = &["jsonschema==4.26.0", "sarif-tools==3.0.5"];
const SCHEMA_PACKAGE: &str = "@microsoft/jest-sarif@1.0.0-beta.0";
const SCHEMA_TARBALL: &str = "microsoft-jest-sarif-1.0.0-beta.0.tgz";
const SCHEMA_IN_TARBALL: &str = "package/lib/schemas/sarif-2.1.0-rtm.5.json";
const SCHEMA_SHA256: &str = "2d99159ae54a3eea97f81781cff48780548657c35949f4b7f25e99a2ba4de4f8";

struct Tools {
    python: PathBuf,
    schema: PathBuf,
}

/// Installs (once) and returns the checking tools.
fn tools() -> Tools {
    let python = python_venv("sarif", PIP_PACKAGES);
    let dir = target_dir().join("test-tools/sarif");
    let schema = dir.join("sarif-2.1.0-rtm.5.json");
    let digest = |p: &Path| {
        std::fs::read(p)
            .ok()
            .map(|b| hex::encode(Sha256::digest(b)))
    };
    if digest(&schema).as_deref() != Some(SCHEMA_SHA256) {
        run_ok(
            Command::new("npm")
                .args(["pack", "--silent", SCHEMA_PACKAGE, "--pack-destination"])
                .arg(&dir)
                .current_dir(&dir),
        );
        run_ok(
            Command::new("tar")
                .arg("xzf")
                .arg(dir.join(SCHEMA_TARBALL))
                .arg("-C")
                .arg(&dir)
                .args([SCHEMA_IN_TARBALL, "package/package.json"]),
        );
        std::fs::copy(dir.join(SCHEMA_IN_TARBALL), &schema).unwrap();
        assert_eq!(
            digest(&schema).as_deref(),
            Some(SCHEMA_SHA256),
            "the schema from {SCHEMA_PACKAGE} is not the one this test pins"
        );
    }
    Tools { python, schema }
}

/// Runs the checker over `logs` and returns its report.
fn check(tools: &Tools, logs: &[&Path]) -> serde_json::Value {
    let out = Command::new(&tools.python)
        .arg(Path::new(REPO).join("tests/sarif/check.py"))
        .arg(&tools.schema)
        .args(logs)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "check.py failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn step_sarif_logs_are_valid_and_read_back_by_sarif_tools() {
    let tools = tools();
    let ws = Workspace::new();
    // The analysers' own fixtures: every rule, suppressions with justifications, non-ASCII
    // text before findings, a file that is not UTF-8 and a syntax error.
    copy_dir(
        &Path::new(REPO).join("tests/fixtures/golint"),
        &ws.dir().join("golint"),
    );
    copy_dir(
        &Path::new(REPO).join("tests/fixtures/gosec"),
        &ws.dir().join("gosec"),
    );
    ws.manifest(
        r#"[steps.lint]
uses = "golint"
allow = { read = ["golint"] }
with = { dir = "golint", include-tests = true }

[steps.sec]
uses = "gosec"
allow = { read = ["gosec"] }
with = { dir = "gosec", include-tests = true, nested-modules = true, fail-on = "none" }
"#,
    );
    let out = ws.sluice(SLUICE, &["run", "--jobs", "1"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let run = ws.last_run();

    let mut logs = Vec::new();
    let mut expected = Vec::new();
    for (id, tool) in [("lint", "golint"), ("sec", "gosec")] {
        let s = step(&run, id);
        let sarif = &s["outputs"]["sarif"]["value"];
        let digest = sarif["digest"].as_str().unwrap();
        let stored = ws
            .dir()
            .join(".sluice/store/sha256")
            .join(digest.trim_start_matches("sha256:"));
        let log = ws.dir().join(format!("{id}.sarif"));
        std::fs::copy(&stored, &log).unwrap();
        let mut records: Vec<serde_json::Value> = s["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                serde_json::json!([
                    f["span"]["path"],
                    f["span"]["line"],
                    f["rule"],
                    f["severity"]
                ])
            })
            .collect();
        records.sort_by_key(|r| r.to_string());
        assert!(records.len() > 20, "{id}: too few findings to show much");
        expected.push((log.clone(), tool, records));
        logs.push(log);
    }
    let suppressed = step(&run, "sec")["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| !f["suppression"].is_null())
        .count();
    assert!(
        suppressed > 0,
        "the gosec fixtures hold #nosec suppressions"
    );

    let paths: Vec<&Path> = logs.iter().map(PathBuf::as_path).collect();
    let report = check(&tools, &paths);
    assert_eq!(report["validator"], "Draft4Validator");
    for (log, tool, records) in &expected {
        let got = &report["logs"][log.to_str().unwrap()];
        assert_eq!(
            got["schema_errors"],
            serde_json::json!([]),
            "{}",
            log.display()
        );
        assert_eq!(got["tools"], serde_json::json!([tool]));
        assert_eq!(got["result_count"], records.len(), "{}", log.display());
        let mut read: Vec<serde_json::Value> = got["records"].as_array().unwrap().clone();
        read.sort_by_key(|r| r.to_string());
        assert_eq!(&read, records, "{}", log.display());
    }

    // The validator does fail on a log that breaks the schema: a level SARIF does not have
    // and a result without a message.
    let mut broken: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&logs[1]).unwrap()).unwrap();
    broken["runs"][0]["results"][0]["level"] = "fatal".into();
    broken["runs"][0]["results"][1]
        .as_object_mut()
        .unwrap()
        .remove("message");
    let bad = ws.dir().join("broken.sarif");
    std::fs::write(&bad, serde_json::to_vec(&broken).unwrap()).unwrap();
    let report = check(&tools, &[&bad]);
    let errors = report["logs"][bad.to_str().unwrap()]["schema_errors"]
        .as_array()
        .unwrap();
    assert!(
        errors
            .iter()
            .any(|e| e.as_str().unwrap().contains("'fatal' is not one of")),
        "{errors:?}"
    );
    assert!(
        errors.iter().any(|e| e
            .as_str()
            .unwrap()
            .contains("'message' is a required property")),
        "{errors:?}"
    );
}
