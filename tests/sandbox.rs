//! Every sandbox rule, attacked from inside a real plugin (`tests/plugins/probe`, built from
//! source for wasm32-wasip2).

use sluice_test_support::{NOT_A_STEP, Workspace, probe_report, step};

const SLUICE: &str = env!("CARGO_BIN_EXE_sluice");

/// A workspace with `granted/` (with a file and a symlink pointing out), a file beside it
/// that is not granted, and a file outside the workspace.
fn hostile_workspace() -> Workspace {
    let ws = Workspace::new();
    ws.with_probe().hostile_files();
    ws
}

fn run_probe(ws: &Workspace, step_toml: &str) -> (sluice_test_support::Output, serde_json::Value) {
    ws.manifest(&format!(
        "[steps.probe]\nuses = \"./probe.wasm\"\n{step_toml}\n"
    ));
    let out = ws.sluice(SLUICE, &["run"]);
    let run = ws.last_run();
    (out, run)
}

#[test]
fn reads_outside_the_grants_are_denied() {
    let ws = hostile_workspace();
    let (out, run) = run_probe(
        &ws,
        r#"allow = { read = ["granted"] }
with = { actions = [
  { op = "read", path = "/workspace/granted/inside.txt" },
  { op = "read", path = "/workspace/granted/../not-granted.txt" },
  { op = "read", path = "/workspace/../outside.txt" },
  { op = "read", path = "/workspace/granted/../../outside.txt" },
  { op = "read", path = "/workspace/not-granted.txt" },
  { op = "read", path = "/etc/passwd" },
  { op = "read", path = "/proc/self/environ" },
  { op = "read", path = "/proc/self/status" },
  { op = "list", path = "/" },
  { op = "read", path = "/workspace/granted/abs-link" },
  { op = "read", path = "/workspace/granted/rel-link" },
  { op = "read", path = "granted/inside.txt" },
] }"#,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report = probe_report(&run, "probe");
    assert_eq!(report[0], ("read".into(), true, "inside".into()));
    for (i, (op, ok, detail)) in report.iter().enumerate().skip(1) {
        assert!(!ok, "action {i} ({op}) should be denied, got {detail:?}");
        assert!(!detail.contains("secret"), "action {i} leaked {detail:?}");
    }
}

#[test]
fn writes_into_read_only_grants_are_denied_and_write_grants_work() {
    let ws = hostile_workspace();
    let (out, run) = run_probe(
        &ws,
        r#"allow = { read = ["granted"], write = ["out"] }
with = { actions = [
  { op = "write", path = "/workspace/granted/inside.txt", contents = "overwritten" },
  { op = "write", path = "/workspace/granted/new.txt", contents = "new" },
  { op = "write", path = "/workspace/out/result.txt", contents = "result" },
  { op = "write", path = "/workspace/out/../escape.txt", contents = "escape" },
] }"#,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report = probe_report(&run, "probe");
    let oks: Vec<bool> = report.iter().map(|r| r.1).collect();
    assert_eq!(oks, [false, false, true, false], "{report:?}");
    assert_eq!(
        std::fs::read_to_string(ws.dir().join("granted/inside.txt")).unwrap(),
        "inside"
    );
    assert!(!ws.dir().join("granted/new.txt").exists());
    assert_eq!(
        std::fs::read_to_string(ws.dir().join("out/result.txt")).unwrap(),
        "result"
    );
    assert!(!ws.dir().join("escape.txt").exists());
}

#[test]
fn a_single_file_grant_shows_only_that_file() {
    let ws = hostile_workspace();
    ws.file("conf/app.toml", "app")
        .file("conf/other.toml", "other");
    let (out, run) = run_probe(
        &ws,
        r#"allow = { read = ["conf/app.toml"] }
with = { actions = [
  { op = "read", path = "/workspace/conf/app.toml" },
  { op = "read", path = "/workspace/conf/other.toml" },
  { op = "list", path = "/workspace/conf" },
] }"#,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report = probe_report(&run, "probe");
    assert_eq!(report[0], ("read".into(), true, "app".into()));
    assert!(!report[1].1);
    assert_eq!(report[2], ("list".into(), true, "app.toml".into()));
}

#[test]
fn host_environment_variables_do_not_reach_a_step() {
    let ws = Workspace::new();
    ws.with_probe();
    ws.manifest(
        r#"[steps.probe]
uses = "./probe.wasm"
env = { GRANTED = "yes" }
with = { actions = [{ op = "env", name = "SLUICE_TEST_HOST_VAR" }, { op = "env", name = "HOME" }, { op = "env-all" }] }
"#,
    );
    let out = ws
        .command(SLUICE, &["run"])
        .env("SLUICE_TEST_HOST_VAR", "host value")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = probe_report(&ws.last_run(), "probe");
    assert!(!report[0].1 && !report[1].1, "{report:?}");
    assert_eq!(report[2], ("env-all".into(), true, "GRANTED=yes".into()));
}

#[test]
fn ungranted_secrets_are_not_readable_and_the_denial_is_logged() {
    let ws = Workspace::new();
    ws.with_probe();
    ws.manifest(
        r#"[steps.probe]
uses = "./probe.wasm"
with = { actions = [{ op = "secret", name = "SLUICE_TEST_TOKEN" }] }
"#,
    );
    let out = ws
        .command(SLUICE, &["run"])
        .env("SLUICE_TEST_TOKEN", "hunter2-not-granted")
        .output()
        .unwrap();
    assert!(out.status.success());
    let report = probe_report(&ws.last_run(), "probe");
    assert_eq!(
        report[0],
        (
            "secret".into(),
            false,
            "secret SLUICE_TEST_TOKEN not available".into()
        )
    );
    let records = ws.all_records();
    assert!(!records.contains("hunter2-not-granted"));
    assert!(records.contains("denied: the step asked for secret `SLUICE_TEST_TOKEN`, which is not granted; to allow it add `secrets = [\"SLUICE_TEST_TOKEN\"]`"), "{records}");
}

#[test]
fn granted_secrets_never_appear_in_any_log_output_or_record() {
    let ws = Workspace::new();
    ws.with_probe();
    ws.file("secrets.env", "FILE_TOKEN=from-the-file-0451\n");
    ws.manifest(
        r#"[steps.leaky]
uses = "./probe.wasm"
allow = { secrets = ["SLUICE_TEST_TOKEN", "FILE_TOKEN"] }
with = { actions = [{ op = "secret", name = "SLUICE_TEST_TOKEN" }, { op = "secret", name = "FILE_TOKEN" }, { op = "log", text = "done" }] }

[steps.after]
uses = "./probe.wasm"
with = { actions = [{ op = "text", value = "upstream said: " }], in-text = "${{ steps.leaky.outputs.text }}" }
"#,
    );
    let out = ws
        .command(SLUICE, &["run", "--secrets-file", "secrets.env"])
        .env("SLUICE_TEST_TOKEN", "hunter2-granted-7731")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let records = ws.all_records();
    for secret in ["hunter2-granted-7731", "from-the-file-0451"] {
        for (name, text) in [
            ("stdout", &*stdout),
            ("stderr", &*stderr),
            ("record", &*records),
        ] {
            assert!(
                !text.contains(secret),
                "{secret} leaked into {name}:\n{text}"
            );
        }
    }
    // The leaks were masked, not dropped: the plugin did print, log, output and report them.
    assert!(
        records.contains("stdout: SLUICE_TEST_TOKEN=***"),
        "{records}"
    );
    assert!(records.contains("stderr: FILE_TOKEN=***"), "{records}");
    assert!(records.contains("log: SLUICE_TEST_TOKEN=***"), "{records}");
    assert!(stdout.contains("leaked ***"), "{stdout}");
    let run = ws.last_run();
    assert_eq!(
        step(&run, "after")["outputs"]["text"]["value"],
        "upstream said: secret is ***"
    );
}

#[test]
fn an_infinite_loop_is_stopped_at_its_timeout() {
    let ws = Workspace::new();
    ws.with_probe();
    let (out, run) = run_probe(
        &ws,
        "timeout = \"1s\"\nwith = { actions = [{ op = \"loop\" }] }",
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    let s = step(&run, "probe");
    assert_eq!(s["status"], "errored");
    assert_eq!(s["error"], "timed out after 1s (the step's timeout)");
    let ms = s["duration_ms"].as_f64().unwrap();
    assert!((1000.0..5000.0).contains(&ms), "stopped after {ms}ms");
}

#[test]
fn a_sleeping_step_is_stopped_at_its_timeout_too() {
    let ws = Workspace::new();
    ws.with_probe();
    let (out, run) = run_probe(
        &ws,
        "timeout = \"500ms\"\nwith = { actions = [{ op = \"sleep\", ms = 60000 }] }",
    );
    assert_eq!(out.code, 1);
    assert_eq!(
        step(&run, "probe")["error"],
        "timed out after 500ms (the step's timeout)"
    );
}

#[test]
fn a_guest_allocating_4gib_is_stopped_at_its_memory_limit_and_host_rss_stays_bounded() {
    let ws = Workspace::new();
    ws.with_probe();
    ws.manifest("[steps.probe]\nuses = \"./probe.wasm\"\nmemory = \"64MiB\"\nwith = { actions = [{ op = \"alloc\", mib = 4096 }] }\n");
    let (code, rss_kib, _) = ws.run_measuring(SLUICE, &["run"]);
    assert_eq!(code, 1);
    let s = step(&ws.last_run(), "probe").clone();
    assert_eq!(s["status"], "errored");
    let error = s["error"].as_str().unwrap();
    assert!(
        error.starts_with("exceeded its memory limit of 64MiB (asked for "),
        "{error}"
    );
    assert!(rss_kib < 400 * 1024, "host peak RSS {} MiB", rss_kib / 1024);
}

#[test]
fn a_guest_panic_is_that_steps_error() {
    let ws = Workspace::new();
    ws.with_probe();
    let (out, run) = run_probe(
        &ws,
        "with = { actions = [{ op = \"panic\", message = \"the plugin is broken\" }] }",
    );
    assert_eq!(out.code, 1);
    let error = step(&run, "probe")["error"].as_str().unwrap().to_string();
    assert!(
        error.starts_with(
            "plugin panicked: the plugin is broken (at tests/plugins/probe/src/lib.rs:"
        ),
        "{error}"
    );
}

#[test]
fn an_undeclared_or_mistyped_output_is_an_error() {
    let ws = Workspace::new();
    ws.with_probe();
    ws.manifest(
        "[steps.a]\nuses = \"./probe.wasm\"\nwith = { actions = [{ op = \"undeclared-output\" }] }\n\n[steps.b]\nuses = \"./probe.wasm\"\nwith = { actions = [{ op = \"wrong-kind-output\" }] }\n",
    );
    let out = ws.sluice(SLUICE, &["run"]);
    assert_eq!(out.code, 1);
    let run = ws.last_run();
    assert_eq!(
        step(&run, "a")["error"],
        "the plugin returned output `bogus`, which its describe() does not declare (declared outputs: report, text, artifact, json, number)"
    );
    assert_eq!(
        step(&run, "b")["error"],
        "the plugin returned output `text` as integer, but its describe() declares it text"
    );
}

#[test]
fn corrupt_and_wrong_world_components_are_rejected_before_running() {
    let ws = Workspace::new();
    ws.file("corrupt.wasm", b"\0asm\x0d\0\x01\0garbage");
    std::fs::copy(NOT_A_STEP, ws.dir().join("command.wasm")).unwrap();
    ws.manifest("[steps.corrupt]\nuses = \"./corrupt.wasm\"\n\n[steps.command]\nuses = \"./command.wasm\"\n");
    let out = ws.sluice(SLUICE, &["run"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "error: step `corrupt`: plugin `./corrupt.wasm` not a valid WebAssembly component:"
        ),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("error: step `command`: plugin `./command.wasm` is not a sluice step"),
        "{}",
        out.stderr
    );
    assert!(!ws.dir().join(".sluice/runs").exists(), "nothing ran");
}

#[test]
fn digest_is_computed_only_for_visible_files() {
    let ws = hostile_workspace();
    let (out, run) = run_probe(
        &ws,
        r#"allow = { read = ["granted"] }
with = { actions = [
  { op = "digest", path = "/workspace/granted/inside.txt" },
  { op = "digest", path = "/workspace/granted/rel-link" },
  { op = "digest", path = "/workspace/granted/../not-granted.txt" },
  { op = "digest", path = "/etc/passwd" },
] }"#,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report = probe_report(&run, "probe");
    // sha256("inside")
    assert_eq!(
        report[0],
        (
            "digest".into(),
            true,
            "sha256:106b086224a4d945eae25f7be3805a931a873270326dd868b0e41f71ee9fff72".into()
        ),
        "{report:?}"
    );
    assert!(report[1..].iter().all(|r| !r.1), "{report:?}");
}
