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

/// A workspace whose findings carry text that tries to issue workflow commands of its own.
fn annotated() -> Workspace {
    let ws = Workspace::new();
    ws.with_probe();
    ws.file("go.mod", "module example.com/x\n\ngo 1.21\n");
    ws.file(
        "audit.go",
        "package x\n\nvar requestId = 0\n\nfunc NextID() int {\n\trequestId += 1\n\treturn requestId\n}\n",
    );
    ws.manifest(
        r#"[steps.lint]
uses = "golint"
allow = { read = ["."] }

[steps.probe]
uses = "./probe.wasm"
with = { actions = [
  { op = "finding", rule = "R,1:x", message = "two\nlines ::error::injected 50%", path = "dir/a b.go", line = 3, column = 2, end_line = 3, end_column = 9 },
  { op = "finding", rule = "R2", message = "no place" },
  { op = "log", text = "::error file=x.go,line=1::fake" },
  { op = "log", text = "::endgroup::" },
] }
"#,
    );
    ws
}

#[test]
fn annotations_for_github_actions() {
    let ws = annotated();
    let summary = ws.dir().join("summary.md");
    std::fs::write(&summary, "## earlier step\n\n").unwrap();
    let out = ws
        .command(
            SLUICE,
            &["run", "--no-step-cache", "--annotations", "github"],
        )
        .env("GITHUB_STEP_SUMMARY", &summary)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8(out.stdout).unwrap();
    // Every line that starts with `::` is a command sluice issued: a step's logged `::error`
    // comes while commands are stopped (between the token lines).
    let commands: Vec<&str> = stdout.lines().filter(|l| l.starts_with("::")).collect();
    let token = commands
        .iter()
        .find_map(|l| l.strip_prefix("::stop-commands::"))
        .expect("commands are stopped around the logs");
    assert_eq!(token.len(), 32, "a fresh random token");
    let mut stopped = false;
    for line in stdout.lines() {
        if line == format!("::stop-commands::{token}") {
            stopped = true;
        } else if line == format!("::{token}::") {
            stopped = false;
        } else if line.starts_with("::error file=x.go") || line == "::endgroup::" && stopped {
            assert!(stopped, "a step's line issued a command: {line}");
        }
    }
    insta::with_settings!({ filters => vec![
        (r"[0-9a-f]{32}", "[TOKEN]"),
        (r"\d{8}T\d{9}Z-[0-9a-f]{4}", "[RUN-ID]"),
        (r"\+\d+ms", "+[MS]"),
        (r"\b\d+(\.\d+)?(ms|s)\b", "[TIME]"),
        (r"(?m)^(STEP|lint|probe) .*$", "[SUMMARY TABLE]"),
    ]}, {
        insta::assert_snapshot!("annotations_github", stdout);
        insta::assert_snapshot!(
            "annotations_github_job_summary",
            std::fs::read_to_string(&summary).unwrap()
        );
    });
}

/// GitLab's Code Quality report format, as GitLab's documentation states the fields it reads
/// (https://docs.gitlab.com/ci/testing/code_quality/#code-quality-report-format): a JSON array
/// of objects, each with a string `description`, `check_name` and `fingerprint` (unique in the
/// report), a `severity` of `info`, `minor`, `major`, `critical` or `blocker`, a
/// `location.path` relative to the repository (no leading `/` or `./`) and a whole
/// `location.lines.begin` (or `location.positions.begin.line`) of at least 1.
fn check_gitlab_code_quality(report: &serde_json::Value) {
    let entries = report.as_array().expect("a JSON array");
    let mut fingerprints = std::collections::HashSet::new();
    for e in entries {
        for field in ["description", "check_name", "fingerprint"] {
            assert!(
                e[field].as_str().is_some_and(|s| !s.is_empty()),
                "`{field}` is a non-empty string: {e}"
            );
        }
        assert!(
            fingerprints.insert(e["fingerprint"].as_str().unwrap()),
            "fingerprints are unique: {e}"
        );
        assert!(
            matches!(
                e["severity"].as_str(),
                Some("info" | "minor" | "major" | "critical" | "blocker")
            ),
            "severity: {e}"
        );
        let path = e["location"]["path"].as_str().expect("location.path");
        assert!(
            !path.is_empty() && !path.starts_with('/') && !path.starts_with("./"),
            "a repository-relative path: {path}"
        );
        let line = e["location"]["lines"]["begin"]
            .as_u64()
            .or_else(|| e["location"]["positions"]["begin"]["line"].as_u64());
        assert!(line.is_some_and(|l| l >= 1), "a begin line: {e}");
    }
}

#[test]
fn annotations_for_gitlab_code_quality() {
    let ws = annotated();
    let out = ws.sluice(
        SLUICE,
        &["run", "--no-step-cache", "--annotations", "gitlab"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("code quality report: gl-code-quality-report.json (5 findings)"),
        "{}",
        out.stderr
    );
    let text = std::fs::read_to_string(ws.dir().join("gl-code-quality-report.json")).unwrap();
    let report: serde_json::Value = serde_json::from_str(&text).unwrap();
    check_gitlab_code_quality(&report);
    insta::assert_snapshot!("annotations_gitlab_code_quality", text);
}

fn go_module_like_the_demo(ws: &Workspace) {
    let demo = std::path::Path::new(sluice_test_support::REPO).join("examples/go-service");
    for file in [
        "go.mod",
        "cmd/server/main.go",
        "cmd/server/main_test.go",
        "internal/greet/greet.go",
        "internal/greet/greet_test.go",
        "internal/greet/audit.go",
    ] {
        ws.file(file, std::fs::read(demo.join(file)).unwrap());
    }
}

#[test]
fn init_writes_a_pipeline_for_the_demo_module() {
    if !sluice_test_support::tools_present(&["go"], "apt-get install golang-go") {
        return;
    }
    let ws = Workspace::new();
    go_module_like_the_demo(&ws);
    snapshot!(show(&ws, &["init"]));
    let written = std::fs::read_to_string(ws.dir().join("sluice.toml")).unwrap();
    insta::assert_snapshot!("init_demo_sluice_toml", written);
    let validate = ws.sluice(SLUICE, &["validate"]);
    assert_eq!(validate.code, 0, "{}", validate.stderr);
    assert!(
        validate.stderr.is_empty(),
        "validate is clean, without warnings: {}",
        validate.stderr
    );
    // Least privilege: no step is granted what its plugin does not want.
    let audit = ws.sluice(SLUICE, &["audit"]);
    assert!(!audit.stdout.contains("unwanted"), "{}", audit.stdout);
    // And never over an existing pipeline.
    snapshot!(show(&ws, &["init"]));
    assert_eq!(
        std::fs::read_to_string(ws.dir().join("sluice.toml")).unwrap(),
        written
    );
}

#[test]
fn init_without_go_leaves_the_go_steps_commented() {
    let ws = Workspace::new();
    go_module_like_the_demo(&ws);
    let out = ws
        .command(SLUICE, &["init"])
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let written = std::fs::read_to_string(ws.dir().join("sluice.toml")).unwrap();
    insta::assert_snapshot!("init_without_go_sluice_toml", written);
    let validate = ws
        .command(SLUICE, &["validate"])
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    assert_eq!(
        validate.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&validate.stderr)
    );
}

#[test]
fn init_in_an_empty_directory() {
    snapshot!(show(&Workspace::new(), &["init"]));
}

/// The analysers count packages; without a terminal the console prints a step's progress as
/// plain lines, at most every `SLUICE_PROGRESS_INTERVAL`.
#[test]
fn analyser_progress_is_printed_with_counts() {
    let ws = Workspace::new();
    ws.file("go.mod", "module example.com/x\n\ngo 1.21\n");
    for dir in ["a", "b", "c/d"] {
        ws.file(&format!("{dir}/x.go"), "package x\n");
    }
    ws.manifest("[steps.lint]\nuses = \"golint\"\nallow = { read = [\".\"] }\n");
    let out = ws
        .command(SLUICE, &["run", "--no-step-cache"])
        .env("SLUICE_PROGRESS_INTERVAL", "0s")
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let progress: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("[lint] ") && l.contains('/') && l.contains("packages"))
        .collect();
    assert!(
        progress
            .last()
            .is_some_and(|l| l.starts_with("[lint] 3/3 100% packages: c/d (")),
        "{stderr}"
    );
    // By default a short step prints none.
    let quiet = ws.sluice(SLUICE, &["run", "--no-step-cache"]);
    assert!(!quiet.stderr.contains("packages:"), "{}", quiet.stderr);
    // A bad interval is refused, naming the variable.
    let bad = ws
        .command(SLUICE, &["run"])
        .env("SLUICE_PROGRESS_INTERVAL", "often")
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr)
            .contains("SLUICE_PROGRESS_INTERVAL=\"often\" is not a duration")
    );
}

/// On a terminal a step that reports progress gets a bar with its counts and elapsed time
/// (the console under a real pseudo-terminal, made by util-linux's `script`).
#[test]
fn a_terminal_shows_a_progress_bar_with_counts() {
    if !sluice_test_support::tools_present(&["script"], "apt-get install util-linux") {
        return;
    }
    let ws = Workspace::new();
    ws.with_probe();
    ws.manifest(
        "[steps.slow]\nuses = \"./probe.wasm\"\nwith = { actions = [{ op = \"flood-progress\", count = 40 }, { op = \"sleep\", ms = 700 }] }\n",
    );
    let command = format!("{SLUICE} run --no-step-cache");
    let out = ws
        .command("script", &["-qfec", &command, "/dev/null"])
        .env("COLUMNS", "100")
        .env("TERM", "xterm")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    // The terminal's frames, colours and cursor moves taken out.
    let screen = String::from_utf8_lossy(&out.stdout);
    let plain = regex_lite_strip(&screen);
    assert!(
        plain.contains("slow [") && plain.contains("] 39/40 flooding"),
        "no bar with counts in:\n{plain}"
    );
    assert!(plain.contains("[slow] passed in"), "{plain}");
}

/// `text` without ANSI escape sequences.
fn regex_lite_strip(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
        } else if c != '\r' {
            out.push(c);
        }
    }
    out
}
