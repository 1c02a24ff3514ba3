//! Plugins in Python and JavaScript: the SDKs (`sdk/python`, `sdk/js`), their build commands
//! with the pinned tools, the examples, the polyglot pipeline, and the sandbox attacked from
//! inside a Python and a JavaScript plugin (`tests/plugins/py-probe`, `tests/plugins/js-probe`)
//! side by side with the Rust probe.
//!
//! Needs `python3` (with venv), `node` and `npm`: the build commands install componentize-py
//! and componentize-js into `target/plugin-tools/` on first use. Components are built once per
//! content (`target/polyglot-plugins/`), so a warm run builds nothing.

use std::path::Path;
use std::process::Command;

use sha2::Digest as _;

use sluice_test_support::{
    HTTP_CLIENT, Lang, PROBE, REPO, Workspace, copy_dir, polyglot_plugin, polyglot_tools,
    polyglot_tools_present, probe_report, run_ok, step,
};

const SLUICE: &str = env!("CARGO_BIN_EXE_sluice");

fn output_text(run: &serde_json::Value, id: &str, name: &str) -> String {
    step(run, id)["outputs"][name]["value"]
        .as_str()
        .unwrap_or_else(|| panic!("{id} has no text output {name}: {:#}", step(run, id)))
        .to_string()
}

/// Step `id` of `run`, which must have failed its gate: its findings, each as
/// `path:line severity rule: message`.
fn gate_findings(run: &serde_json::Value, id: &str) -> Vec<String> {
    let s = step(run, id);
    assert_eq!(s["status"], "failed", "{s:#}");
    s["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "{}:{} {} {}: {}",
                f["span"]["path"].as_str().unwrap(),
                f["span"]["line"],
                f["severity"].as_str().unwrap(),
                f["rule"].as_str().unwrap(),
                f["message"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn the_python_sdks_unit_tests_pass() {
    if !polyglot_tools_present() {
        return;
    }
    let python = polyglot_tools(Lang::Python).join("bin/python");
    run_ok(
        Command::new(python)
            .args(["-m", "pytest", "-q", "sdk/python/tests"])
            .current_dir(REPO),
    );
}

#[test]
fn the_javascript_sdks_unit_tests_pass() {
    if !polyglot_tools_present() {
        return;
    }
    let tools = polyglot_tools(Lang::Js);
    run_ok(
        Command::new("node")
            .arg("sdk/js/test/run.mjs")
            .arg(tools)
            .current_dir(REPO),
    );
}

#[test]
fn the_sdks_and_the_plugins_lint_and_type_check_clean() {
    if !polyglot_tools_present() {
        return;
    }
    let py = polyglot_tools(Lang::Python).join("bin");
    let sources = [
        "sdk/python",
        "sdk/python/build-plugin",
        "examples/python-plugin",
        "tests/plugins/py-probe",
        "tests/plugins/py-noop",
    ];
    let config = ["--config", "sdk/python/pyproject.toml"];
    run_ok(
        Command::new(py.join("ruff"))
            .arg("check")
            .args(config)
            .args(sources)
            .current_dir(REPO),
    );
    run_ok(
        Command::new(py.join("ruff"))
            .args(["format", "--check"])
            .args(config)
            .args(sources)
            .current_dir(REPO),
    );
    let tsc = polyglot_tools(Lang::Js).join("node_modules/.bin/tsc");
    for project in ["sdk/js", "sdk/js/tsconfig.sdk.json"] {
        run_ok(
            Command::new(&tsc)
                .args(["--noEmit", "-p", project])
                .current_dir(REPO),
        );
    }
}

#[test]
fn the_python_example_passes_and_its_gate_fails_with_findings() {
    if !polyglot_tools_present() {
        return;
    }
    let wasm = polyglot_plugin(Lang::Python, "examples/python-plugin");
    let ws = Workspace::new();
    copy_dir(&Path::new(REPO).join("examples/python-plugin"), &ws.dir());
    std::fs::copy(&wasm, ws.dir().join("plugin.wasm")).unwrap();
    let out = ws.sluice(SLUICE, &["run"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let run = ws.last_run();
    let headers = step(&run, "headers");
    assert_eq!(headers["outputs"]["checked"]["value"], 1, "{headers:#}");
    assert_eq!(headers["outputs"]["missing"]["value"], 0);
    let report = std::fs::read_to_string(ws.stored(&run, "headers", "report")).unwrap();
    assert_eq!(
        report,
        "# License headers of the Python example\n\n| file | header |\n|---|---|\n| `plugin.py` | yes |\n"
    );

    // On the demo's Go code, which has no headers: a failed gate with a finding per file.
    let ws = Workspace::new();
    copy_dir(&Path::new(REPO).join("examples/go-service"), &ws.dir());
    std::fs::copy(&wasm, ws.dir().join("headers.wasm")).unwrap();
    ws.manifest(
        "[steps.headers]\nuses = \"./headers.wasm\"\nallow = { read = [\"cmd\"] }\nwith = { header = \"SPDX-License-Identifier\", paths = [\"cmd\"] }\n",
    );
    let out = ws.sluice(SLUICE, &["run"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(
        gate_findings(&ws.last_run(), "headers"),
        [
            "cmd/server/main.go:1 error license-header/missing: `cmd/server/main.go` does not hold `SPDX-License-Identifier` in its first 5 lines",
            "cmd/server/main_test.go:1 error license-header/missing: `cmd/server/main_test.go` does not hold `SPDX-License-Identifier` in its first 5 lines"
        ]
    );
    assert!(
        out.stdout.contains("0 of 2 files carry the license header"),
        "{}",
        out.stdout
    );

    // A wrongly typed option is found before the run, where it is written: the Python
    // plugin's option kinds reach the host through `describe-options`.
    ws.manifest(
        "[steps.headers]\nuses = \"./headers.wasm\"\nallow = { read = [\"cmd\"] }\nwith = { header = \"H\", lines = \"five\" }\n",
    );
    let out = ws.sluice(SLUICE, &["run"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "error: step `headers`: option `lines` of `./headers.wasm` takes an integer, not text \"five\"\n --> sluice.toml:4:32"
        ),
        "{}",
        out.stderr
    );
    // What the SDK checks at run time (a key the kinds cannot judge: an option of kind `any`
    // declared without one) is still the step's invalid configuration.
    ws.manifest(
        "[steps.headers]\nuses = \"./headers.wasm\"\nallow = { read = [\"cmd\"] }\nwith = { lines = 5 }\n",
    );
    let out = ws.sluice(SLUICE, &["run"]);
    assert_eq!(out.code, 1);
    assert_eq!(
        step(&ws.last_run(), "headers")["error"],
        "invalid configuration: invalid `with` table: missing field `header`"
    );
}

#[test]
fn the_javascript_example_passes_and_its_gate_fails_with_findings() {
    if !polyglot_tools_present() {
        return;
    }
    let wasm = polyglot_plugin(Lang::Js, "examples/js-plugin");
    let ws = Workspace::new();
    copy_dir(&Path::new(REPO).join("examples/js-plugin"), &ws.dir());
    std::fs::copy(&wasm, ws.dir().join("plugin.wasm")).unwrap();
    let out = ws.sluice(SLUICE, &["run"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let run = ws.last_run();
    assert_eq!(
        output_text(&run, "changelog", "notes"),
        "### Added\n- `--verbose` prints each request."
    );
    let notes = std::fs::read_to_string(ws.stored(&run, "changelog", "release-notes")).unwrap();
    assert_eq!(
        notes,
        "# Release 0.2.0\n\n### Added\n- `--verbose` prints each request.\n"
    );

    // A version the changelog does not have, and versions out of order: a failed gate.
    ws.file(
        "CHANGELOG.md",
        "# Changelog\n\n## [0.1.0]\n- first\n\n## [0.2.0]\n- second\n",
    );
    ws.manifest(
        "[steps.changelog]\nuses = \"./plugin.wasm\"\nallow = { read = [\"CHANGELOG.md\"] }\nwith = { version = \"0.3.0\" }\n",
    );
    let out = ws.sluice(SLUICE, &["run"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(
        gate_findings(&ws.last_run(), "changelog"),
        [
            "CHANGELOG.md:3 warning changelog/order: 0.1.0 is listed above 0.2.0, which is newer",
            "CHANGELOG.md:1 error changelog/missing-entry: CHANGELOG.md has no section for 0.3.0: add `## [0.3.0]`"
        ]
    );

    // Not a version: the step's invalid configuration.
    ws.manifest(
        "[steps.changelog]\nuses = \"./plugin.wasm\"\nallow = { read = [\"CHANGELOG.md\"] }\nwith = { version = \"latest\" }\n",
    );
    assert_eq!(ws.sluice(SLUICE, &["run"]).code, 1);
    assert_eq!(
        step(&ws.last_run(), "changelog")["error"],
        "invalid configuration: input `version` is \"latest\": give a semantic version such as \"1.2.0\""
    );
}

#[test]
fn the_polyglot_pipeline_passes_text_and_artifacts_between_rust_python_and_javascript() {
    if !polyglot_tools_present() {
        return;
    }
    let ws = Workspace::new();
    copy_dir(&Path::new(REPO).join("examples/go-service"), &ws.dir());
    for (lang, dir) in [(Lang::Python, "python-plugin"), (Lang::Js, "js-plugin")] {
        let wasm = polyglot_plugin(lang, &format!("examples/{dir}"));
        std::fs::create_dir_all(ws.outside().join(dir)).unwrap();
        std::fs::copy(&wasm, ws.outside().join(dir).join("plugin.wasm")).unwrap();
    }
    let out = ws.sluice(SLUICE, &["run", "polyglot.toml"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let run = ws.last_run();
    // Rust → Python: the module path, as text.
    assert_eq!(
        output_text(&run, "module", "module"),
        "example.com/go-service"
    );
    let report = std::fs::read_to_string(ws.stored(&run, "headers", "report")).unwrap();
    assert!(
        report.starts_with("# License headers of example.com/go-service\n"),
        "{report}"
    );
    assert_eq!(step(&run, "headers")["outputs"]["missing"]["value"], 5);
    // Python → JavaScript: the report, as an artifact moved by digest.
    let report_digest = step(&run, "headers")["outputs"]["report"]["value"]["digest"].clone();
    assert_eq!(
        step(&run, "changelog")["inputs"]["attach"]["value"]["digest"],
        report_digest,
        "{:#}",
        step(&run, "changelog")
    );
    let notes = std::fs::read_to_string(ws.stored(&run, "changelog", "release-notes")).unwrap();
    assert!(
        notes.starts_with("# Release 0.1.0\n\n### Added\n- `GET /hello?name=...`"),
        "{notes}"
    );
    assert!(
        notes.contains("\n## License headers of example.com/go-service\n"),
        "{notes}"
    );
    assert!(
        notes.contains("| `internal/greet/greet.go` | **no** |"),
        "{notes}"
    );
}

/// A workspace with `granted/` (a file, and symlinks pointing out), a file beside it that is
/// not granted and one outside the workspace; the three probes in it.
fn hostile_workspace() -> Workspace {
    let ws = Workspace::new();
    ws.hostile_files();
    std::fs::copy(PROBE, ws.dir().join("rust.wasm")).unwrap();
    let py = polyglot_plugin(Lang::Python, "tests/plugins/py-probe");
    std::fs::copy(py, ws.dir().join("python.wasm")).unwrap();
    let js = polyglot_plugin(Lang::Js, "tests/plugins/js-probe");
    std::fs::copy(js, ws.dir().join("js.wasm")).unwrap();
    ws
}

/// The WASI error behind a probe's failure, whatever the language said it in: Rust's
/// `(os error 63)`, Python's `errno 63`, the JavaScript SDK's `(not-permitted)`.
fn wasi_error(detail: &str) -> String {
    let codes = [
        ("2", "access"),
        ("44", "no-entry"),
        ("63", "not-permitted"),
        ("54", "not-directory"),
        ("31", "is-directory"),
    ];
    for (errno, code) in codes {
        if detail.contains(&format!("(os error {errno})"))
            || detail.starts_with(&format!("errno {errno}:"))
            || detail.ends_with(&format!("({code})"))
        {
            return code.to_string();
        }
    }
    detail.to_string()
}

#[test]
fn the_sandbox_holds_in_python_and_javascript_exactly_as_in_rust() {
    if !polyglot_tools_present() {
        return;
    }
    let ws = hostile_workspace();
    let actions = r#"actions = [
  { op = "read", path = "/workspace/granted/inside.txt" },
  { op = "read", path = "/workspace/granted/../not-granted.txt" },
  { op = "read", path = "/workspace/../outside.txt" },
  { op = "read", path = "/workspace/granted/../../outside.txt" },
  { op = "read", path = "/workspace/not-granted.txt" },
  { op = "read", path = "/etc/passwd" },
  { op = "read", path = "/proc/self/environ" },
  { op = "list", path = "/" },
  { op = "read", path = "/workspace/granted/abs-link" },
  { op = "read", path = "/workspace/granted/rel-link" },
  { op = "write", path = "/workspace/granted/inside.txt", contents = "overwritten" },
  { op = "write", path = "/workspace/granted/new.txt", contents = "new" },
  { op = "env", name = "SLUICE_TEST_HOST_VAR" },
  { op = "env", name = "HOME" },
  { op = "secret", name = "SLUICE_TEST_TOKEN" },
]"#;
    let mut manifest = String::new();
    for lang in ["rust", "python", "js"] {
        manifest.push_str(&format!(
            "[steps.{lang}]\nuses = \"./{lang}.wasm\"\nallow = {{ read = [\"granted\"] }}\nwith = {{ {actions} }}\n\n"
        ));
    }
    ws.manifest(&manifest);
    let out = ws
        .command(SLUICE, &["run"])
        .env("SLUICE_TEST_HOST_VAR", "host value")
        .env("SLUICE_TEST_TOKEN", "hunter2-not-granted")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = ws.last_run();
    let rust = probe_report(&run, "rust");
    assert_eq!(rust.len(), 15);
    assert_eq!(rust[0], ("read".into(), true, "inside".into()));
    for lang in ["python", "js"] {
        let report = probe_report(&run, lang);
        assert_eq!(report.len(), rust.len(), "{lang}: {report:?}");
        for (i, (theirs, ours)) in report.iter().zip(&rust).enumerate() {
            assert_eq!(
                theirs.1, ours.1,
                "{lang}, action {i}: {theirs:?} vs Rust's {ours:?}"
            );
            if !ours.1 {
                assert_eq!(
                    wasi_error(&theirs.2),
                    wasi_error(&ours.2),
                    "{lang}, action {i}: {theirs:?} vs Rust's {ours:?}"
                );
            }
            for leak in [
                "workspace secret",
                "outside secret",
                "hunter2",
                "host value",
            ] {
                assert!(
                    !theirs.2.contains(leak),
                    "{lang}, action {i} leaked {theirs:?}"
                );
            }
        }
    }
    // The same denial, logged by the host for each of them.
    let records = ws.all_records();
    assert!(!records.contains("hunter2-not-granted"));
    for lang in ["rust", "python", "js"] {
        let log = std::fs::read_to_string(ws.dir().join(format!(
            ".sluice/runs/{}/logs/{lang}.log",
            run["run_id"].as_str().unwrap()
        )))
        .unwrap();
        assert!(log.contains("denied: the step asked for secret `SLUICE_TEST_TOKEN`, which is not granted; to allow it add `secrets = [\"SLUICE_TEST_TOKEN\"]`"), "{lang}: {log}");
    }
    assert_eq!(
        std::fs::read_to_string(ws.dir().join("granted/inside.txt")).unwrap(),
        "inside"
    );
    assert!(!ws.dir().join("granted/new.txt").exists());
}

/// The host's `denied:` lines of a run's logs, with `port` shown as `PORT`.
fn denials(ws: &Workspace, port: u16) -> Vec<String> {
    let mut out: Vec<String> = ws
        .records_without_report()
        .lines()
        .filter_map(|l| l.find("denied: ").map(|i| l[i..].to_string()))
        .map(|l| {
            l.replace(&port.to_string(), "PORT")
                .replace("\\\"", "\"")
                .trim_end_matches(['"', ',', '}'])
                .to_string()
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

#[test]
fn the_network_is_denied_to_python_and_javascript_as_to_rust() {
    if !polyglot_tools_present() {
        return;
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let ws = hostile_workspace();
    std::fs::copy(HTTP_CLIENT, ws.dir().join("http.wasm")).unwrap();
    let js_http = polyglot_plugin(Lang::JsHttp, "tests/plugins/js-probe");
    std::fs::copy(js_http, ws.dir().join("js-http.wasm")).unwrap();

    // Sockets: Python's socket module reaches wasi:sockets, where every address is refused,
    // as it is for the Rust client (`access-denied`, errno 2); no connection arrives.
    ws.manifest(&format!(
        "[steps.python]\nuses = \"./python.wasm\"\nwith = {{ actions = [{{ op = \"connect\", address = \"127.0.0.1:{port}\" }}] }}\n\n[steps.http]\nuses = \"./http.wasm\"\nallow = {{ net = [\"http://127.0.0.1:1\"] }}\nwith = {{ requests = [], sockets = {port} }}\n"
    ));
    let out = ws.sluice(SLUICE, &["run"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let run = ws.last_run();
    let python = probe_report(&run, "python");
    assert!(!python[0].1, "{python:?}");
    assert_eq!(wasi_error(&python[0].2), "access", "{python:?}");
    let rust: serde_json::Value =
        serde_json::from_str(&output_text(&run, "http", "results")).unwrap();
    assert!(
        rust["sockets"]["tcp"]
            .as_str()
            .unwrap()
            .contains("access-denied"),
        "{rust:#}"
    );
    assert!(listener.accept().is_err(), "a connection got through");

    // HTTP: a JavaScript plugin without wasi:http has no fetch, and says so...
    ws.manifest(&format!(
        "[steps.js]\nuses = \"./js.wasm\"\nwith = {{ actions = [{{ op = \"fetch\", url = \"http://127.0.0.1:{port}/\" }}] }}\n"
    ));
    assert_eq!(ws.sluice(SLUICE, &["run"]).code, 0);
    let js = probe_report(&ws.last_run(), "js");
    assert_eq!(
        js[0].2,
        "fetch() is not available: this plugin was built without wasi:http; build it with `build-plugin --http` and grant the origins it reaches with `allow.net`"
    );
    // ...one with wasi:http runs only with an `allow.net` grant, like a Rust one...
    let refusal = |uses: &str| {
        let ws2 = Workspace::new();
        std::fs::copy(ws.dir().join(uses), ws2.dir().join("plugin.wasm")).unwrap();
        ws2.manifest("[steps.s]\nuses = \"./plugin.wasm\"\nwith = {}\n");
        let out = ws2.sluice(SLUICE, &["validate"]);
        assert_eq!(out.code, 2, "{}", out.stderr);
        out.stderr
    };
    assert_eq!(refusal("js-http.wasm"), refusal("http.wasm"));
    // ...and is refused an origin it was not granted with the very denial a Rust plugin gets.
    ws.manifest(&format!(
        "[steps.js]\nuses = \"./js-http.wasm\"\nallow = {{ net = [\"http://127.0.0.1:1\"] }}\nwith = {{ actions = [{{ op = \"fetch\", url = \"http://127.0.0.1:{port}/x\" }}] }}\n"
    ));
    assert_eq!(ws.sluice(SLUICE, &["run"]).code, 0);
    let js = probe_report(&ws.last_run(), "js");
    assert!(!js[0].1, "{js:?}");
    let js_denials = denials(&ws, port);
    let ws_rust = Workspace::new();
    std::fs::copy(HTTP_CLIENT, ws_rust.dir().join("http.wasm")).unwrap();
    ws_rust.manifest(&format!(
        "[steps.http]\nuses = \"./http.wasm\"\nallow = {{ net = [\"http://127.0.0.1:1\"] }}\nwith = {{ requests = [{{ url = \"http://127.0.0.1:{port}/x\" }}] }}\n"
    ));
    assert_eq!(ws_rust.sluice(SLUICE, &["run"]).code, 0);
    let rust_denials = denials(&ws_rust, port);
    assert_eq!(js_denials, rust_denials);
    assert_eq!(
        js_denials,
        [
            "denied: GET http://127.0.0.1:PORT/x: `http://127.0.0.1:PORT` is not granted; to allow it use `net = [\"http://127.0.0.1:1\", \"http://127.0.0.1:PORT\"]` in the step's `allow` table"
        ]
    );
    assert!(listener.accept().is_err(), "a connection got through");
}

#[test]
fn a_python_exception_and_a_javascript_throw_are_that_steps_error() {
    if !polyglot_tools_present() {
        return;
    }
    let ws = hostile_workspace();
    ws.manifest(
        r#"[steps.python]
uses = "./python.wasm"
with = { actions = [{ op = "raise", message = "the build server is on fire" }] }

[steps.js]
uses = "./js.wasm"
with = { actions = [{ op = "throw", message = "the build server is on fire" }] }
"#,
    );
    let out = ws.sluice(SLUICE, &["run"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let run = ws.last_run();
    assert_eq!(step(&run, "python")["status"], "errored");
    assert_eq!(
        step(&run, "python")["error"],
        "RuntimeError: the build server is on fire"
    );
    assert_eq!(step(&run, "js")["status"], "errored");
    assert_eq!(
        step(&run, "js")["error"],
        "RangeError: the build server is on fire"
    );
    let logs = |id: &str| {
        std::fs::read_to_string(ws.dir().join(format!(
            ".sluice/runs/{}/logs/{id}.log",
            run["run_id"].as_str().unwrap()
        )))
        .unwrap()
    };
    let python = logs("python");
    assert!(
        python.contains("error: Traceback (most recent call last):"),
        "{python}"
    );
    assert!(python.contains("in attempt"), "{python}");
    let js = logs("js");
    assert!(
        js.contains("error: RangeError: the build server is on fire"),
        "{js}"
    );
    assert!(js.contains("attempt@"), "{js}");
    assert!(
        out.stdout
            .contains("RuntimeError: the build server is on fire"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_failed_gate_in_python_and_in_javascript_reports_its_findings() {
    if !polyglot_tools_present() {
        return;
    }
    let ws = hostile_workspace();
    ws.manifest(
        "[steps.python]\nuses = \"./python.wasm\"\nwith = { gate = 2 }\n\n[steps.js]\nuses = \"./js.wasm\"\nwith = { gate = 2 }\n",
    );
    let out = ws.sluice(SLUICE, &["run"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let run = ws.last_run();
    for id in ["python", "js"] {
        assert_eq!(
            gate_findings(&run, id),
            [
                "probe.txt:1 error probe/gate: finding 1",
                "probe.txt:2 error probe/gate: finding 2"
            ],
            "{id}"
        );
        // The outputs of a failed gate are still reported.
        assert_eq!(output_text(&run, id, "report"), "[]");
    }
}

#[test]
fn plugins_describe_shows_and_checks_a_built_component() {
    if !polyglot_tools_present() {
        return;
    }
    let ws = Workspace::new();
    let wasm = polyglot_plugin(Lang::Python, "examples/python-plugin");
    std::fs::copy(&wasm, ws.dir().join("plugin.wasm")).unwrap();
    let out = ws.sluice(SLUICE, &["plugins", "--describe", "plugin.wasm"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let digest: String = sha2::Sha256::digest(std::fs::read(&wasm).unwrap())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    insta::assert_snapshot!(out.stdout.replace(&digest[..12], "DIGEST"));

    let out = ws.sluice(SLUICE, &["plugins", "--describe", "plugin.wasm", "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc["info"]["name"], "license-header");
    assert_eq!(doc["problems"], serde_json::json!([]));

    ws.file("notes.txt", "not a component");
    let out = ws.sluice(SLUICE, &["plugins", "--describe", "notes.txt"]);
    assert_eq!(out.code, 2);
    let out2 = ws.sluice(SLUICE, &["plugins", "--describe", "missing.wasm"]);
    assert_eq!(out2.code, 2);
    insta::assert_snapshot!(format!("{}{}", out.stderr, out2.stderr));
}

#[test]
fn the_build_commands_say_what_is_wrong() {
    if !polyglot_tools_present() {
        return;
    }
    let ws = Workspace::new();
    std::fs::create_dir_all(ws.dir().join("empty")).unwrap();
    ws.file("broken-py/plugin.py", "def describe(:\n");
    ws.file("broken-js/plugin.js", "export function describe( {\n");
    let build = |sdk: &str, dir: &str| {
        let out = Command::new(Path::new(REPO).join(sdk).join("build-plugin"))
            .arg(dir)
            .current_dir(ws.dir())
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (py_code, py_empty) = build("sdk/python", "empty");
    let (js_code, js_empty) = build("sdk/js", "empty");
    assert_eq!((py_code, js_code), (2, 2));
    insta::assert_snapshot!(format!("{py_empty}{js_empty}"));

    let (code, err) = build("sdk/python", "broken-py");
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("SyntaxError"), "{err}");
    assert!(
        err.ends_with("error: componentize-py could not build broken-py/plugin.py\n"),
        "{err}"
    );
    let (code, err) = build("sdk/js", "broken-js");
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("broken-js/plugin.js:2:0"), "{err}");
    assert!(!ws.dir().join("broken-py/plugin.wasm").exists());
    assert!(!ws.dir().join("broken-js/plugin.wasm").exists());
}
