//! Snapshots of what the `sluice` commands print (digests, times and run ids redacted).

use sluice_test_support::Workspace;

const SLUICE: &str = env!("CARGO_BIN_EXE_sluice");

fn show(ws: &Workspace, args: &[&str]) -> String {
    let out = ws.sluice(SLUICE, args);
    format!(
        "$ sluice {}\nexit: {}\n--- stdout\n{}--- stderr\n{}",
        args.join(" "),
        out.code,
        out.stdout,
        out.stderr
    )
}

macro_rules! snapshot {
    ($value:expr) => {
        insta::with_settings!({ filters => vec![
            (r"sha256:[0-9a-f]{12,64}", "sha256:[DIGEST]"),
            (r"\b\d+(\.\d+)?(ms|s)\b", "[TIME]"),
            (r"\d{8}T\d{9}Z-[0-9a-f]{4}", "[RUN-ID]"),
            (r"sluice \d+\.\d+\.\d+", "sluice [VERSION]"),
            // Column widths follow the durations: keep the content, not the padding.
            (r" {2,}", "  "),
        ]}, {
            insta::assert_snapshot!($value);
        });
    };
}

fn demo() -> Workspace {
    let ws = Workspace::new();
    ws.with_probe();
    ws.file(
        "go.mod",
        "module example.com/demo\n\ngo 1.22\n\nrequire golang.org/x/text v0.14.0\n",
    );
    // A fixed signing key (PKCS#8, unencrypted): the same signature every run.
    let key = signing::keys::signing_key_from_random(&[7; 32]).unwrap();
    ws.file(
        "cosign.key",
        signing::keys::private_key_pem(&key).unwrap().as_bytes(),
    );
    ws.manifest(
        r#"[pipeline]
name = "demo"
timeout = "2m"

[steps.module]
uses = "go-mod"
allow = { read = ["go.mod"] }

[steps.package]
uses = "./probe.wasm"
memory = "128MiB"
with = { in-text = "${{ steps.module.outputs.module }}", actions = [{ op = "artifact", name = "pkg.tar", contents = "x" }, { op = "text", value = "packaged " }] }

[steps.publish]
uses = "./probe.wasm"
needs = ["package"]
env = { REGION = "eu" }
allow = { secrets = ["PUBLISH_TOKEN"], write = ["dist"] }
with = { in-artifact = "${{ steps.package.outputs.artifact }}", actions = [{ op = "read-input" }] }

[steps.sign]
uses = "sign"
allow = { read = ["cosign.key"] }
with = { artifact = "${{ steps.package.outputs.artifact }}", key = "cosign.key", attest = true }
"#,
    );
    ws
}

#[test]
fn plugins_lists_the_built_ins() {
    snapshot!(show(&Workspace::new(), &["plugins"]));
}

#[test]
fn validate_prints_the_plan() {
    snapshot!(show(&demo(), &["validate"]));
}

#[test]
fn audit_shows_every_grant() {
    snapshot!(show(&demo(), &["audit"]));
}

/// A unix-socket grant is shown for what it is: control of the host's containers.
#[test]
fn audit_marks_an_engine_socket() {
    let ws = Workspace::new();
    ws.file("cosign.pub", "");
    ws.manifest(
        r#"[pipeline]
name = "release"

[steps.deploy]
uses = "deploy"
allow = { net = ["unix:/run/podman/podman.sock", "http://127.0.0.1:8080"], read = ["cosign.pub"], send = { DB_PASSWORD = "unix:/run/podman/podman.sock" } }
with = { engine = "unix:/run/podman/podman.sock", service = "go-service", image = "127.0.0.1:5000/demo/go-service@sha256:0000000000000000000000000000000000000000000000000000000000000000", ports = ["127.0.0.1:8080:8080"], health = { path = "/healthz" }, secret-env = { DB_PASSWORD = "DB_PASSWORD" }, verify-key = "cosign.pub" }
"#,
    );
    snapshot!(show(&ws, &["audit"]));
}

#[test]
fn audit_json() {
    snapshot!(show(&demo(), &["audit", "--json"]));
}

#[test]
fn run_prints_progress_a_summary_and_findings() {
    snapshot!(show(&demo(), &["run", "--jobs", "1"]));
}

#[test]
fn run_reports_what_went_wrong() {
    let ws = Workspace::new();
    ws.with_probe();
    ws.manifest(
        "[steps.crash]\nuses = \"./probe.wasm\"\nwith = { actions = [{ op = \"error\", message = \"cannot reach the registry\" }] }\n\n[steps.after]\nuses = \"./probe.wasm\"\nneeds = [\"crash\"]\n\n[steps.bad-config]\nuses = \"./probe.wasm\"\nwith = { actions = [{ op = \"fly\" }] }\n",
    );
    snapshot!(show(&ws, &["run", "--jobs", "1"]));
}

#[test]
fn a_missing_manifest_is_an_invocation_error() {
    snapshot!(show(&Workspace::new(), &["run", "nope.toml"]));
}

#[test]
fn help_names_the_commands_exit_codes_and_environment() {
    snapshot!(show(&Workspace::new(), &["--help"]));
}

#[test]
fn run_names_an_unknown_analyser_option() {
    let ws = Workspace::new();
    ws.file("go.mod", "module example.com/m\n\ngo 1.22\n");
    ws.manifest(
        "[steps.sec]\nuses = \"gosec\"\nallow = { read = [\".\"] }\nwith = { fial-on = \"high\" }\n",
    );
    snapshot!(show(&ws, &["run"]));
}

#[test]
fn run_lists_at_most_max_findings_per_step() {
    let ws = Workspace::new();
    ws.file("go.mod", "module example.com/m\n\ngo 1.22\n");
    // Six golint findings (package comment, error string, three exported names without
    // comments, ...): two are listed.
    ws.file(
        "a.go",
        "package a\n\nimport \"errors\"\n\nvar E = errors.New(\"Bad thing.\")\n\nfunc F() {}\n\nfunc G() {}\n",
    );
    ws.manifest("[steps.lint]\nuses = \"golint\"\nallow = { read = [\".\"] }\n");
    snapshot!(show(&ws, &["run", "--jobs", "1", "--max-findings", "2"]));
}

#[test]
fn run_shows_step_text_neutralised_and_grant_refusals_located() {
    let ws = Workspace::new();
    ws.with_probe();
    ws.file("build/.keep", "");
    ws.manifest(
        r#"[steps.plant]
uses = "./probe.wasm"
allow = { write = ["build"] }
with = { actions = [
  { op = "symlink", target = "../src", link = "/workspace/build/out" },
  { op = "log", text = "\u001b[2Jcleared\n[use] passed in 3ms" },
  { op = "finding", rule = "R\u001b]8;;http://x\u0007", message = "copy \u001b]52;c;aGk=\u0007 done", path = "a\rb.go", line = 1, column = 1 },
  { op = "summary", text = "ok\r[use] passed in 3ms" },
] }

[steps.use]
uses = "./probe.wasm"
needs = ["plant"]
allow = { write = ["build/out"] }
"#,
    );
    snapshot!(show(&ws, &["run", "--jobs", "1"]));
}

/// A component of the first contract (`step-core`: no `describe-options`) still loads and
/// runs; its options take any value.
#[test]
fn a_step_core_component_still_runs() {
    let ws = Workspace::new();
    std::fs::copy(sluice_test_support::CORE_ONLY, ws.dir().join("core.wasm")).unwrap();
    ws.manifest("[steps.old]\nuses = \"./core.wasm\"\nwith = { level = [1, \"two\"] }\n");
    snapshot!(show(&ws, &["plugins", "--describe", "core.wasm"]));
    let out = ws.sluice(SLUICE, &["run", "--no-step-cache"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains(r#"config {"level":[1,"two"]}"#),
        "{}",
        out.stdout
    );
}
