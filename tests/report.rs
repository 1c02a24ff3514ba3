//! The HTML run report as a browser shows it: each run's `report.html` opened in headless
//! Chromium (Debian's `chromium`, which `.ci/run` installs; skipped with a note elsewhere),
//! its DOM after the page's script ran checked against the run record and `sluice audit`, a
//! screenshot written to `target/report-screenshots/`, and hostile step text that must stay
//! text.

use std::path::{Path, PathBuf};
use std::process::Command;

use sluice_test_support::{REPO, Workspace, tools_present};

const SLUICE: &str = env!("CARGO_BIN_EXE_sluice");

fn chromium_present() -> bool {
    tools_present(&["chromium"], "apt-get install chromium")
}

fn chromium(ws: &Workspace, args: &[&str], page: &Path) -> std::process::Output {
    let out = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .arg(format!(
            "--user-data-dir={}",
            ws.dir().join(".chromium").display()
        ))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The DOM once the page loaded and its script ran.
fn dom(ws: &Workspace, page: &Path) -> String {
    String::from_utf8(chromium(ws, &["--dump-dom"], page).stdout).unwrap()
}

/// The report of the workspace's last run, as the console's last line names it.
fn report_of(ws: &Workspace, stderr: &str) -> PathBuf {
    let last = stderr.lines().last().unwrap_or_default();
    let shown = last
        .strip_prefix("report: ")
        .unwrap_or_else(|| panic!("the last line names the report:\n{stderr}"));
    let path = ws.dir().join(shown);
    assert!(path.is_file(), "{}", path.display());
    path
}

/// Text as the DOM serializer writes it inside an element.
fn as_text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\u{a0}', "&nbsp;")
}

#[test]
fn the_report_shows_every_step_finding_count_and_grant() {
    if !chromium_present() {
        return;
    }
    let ws = Workspace::new();
    ws.with_probe();
    ws.file("go.mod", "module example.com/demo\n\ngo 1.21\n");
    ws.file(
        "audit.go",
        "package demo\n\nvar requestId = 0\n\nfunc NextID() int {\n\trequestId += 1\n\treturn requestId\n}\n",
    );
    ws.manifest(
        r#"[pipeline]
name = "demo"

[steps.module]
uses = "go-mod"
allow = { read = ["go.mod"] }

[steps.lint]
uses = "golint"
allow = { read = ["."] }

[steps.package]
uses = "./probe.wasm"
needs = ["module"]
with = { actions = [{ op = "artifact", name = "pkg.tar", contents = "x" }, { op = "log", text = "packing" }, { op = "finding", rule = "P1", message = "a note", path = "audit.go", line = 3, column = 5 }, { op = "text", value = "packaged" }] }

[steps.gate]
uses = "./probe.wasm"
needs = ["package"]
allow = { write = ["dist"] }
with = { in-artifact = "${{ steps.package.outputs.artifact }}", actions = [{ op = "read-input" }, { op = "gate", message = "too many" }] }

[steps.after]
uses = "./probe.wasm"
needs = ["gate"]
"#,
    );
    std::fs::create_dir_all(ws.dir().join("dist")).unwrap();
    let out = ws.sluice(SLUICE, &["run", "--no-step-cache"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let page = report_of(&ws, &out.stderr);
    let record = ws.last_run();
    let dom = dom(&ws, &page);

    assert!(dom.contains("data-rendered-ms="), "the page's script ran");
    let steps = record["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 5);
    let mut total = 0;
    for step in steps {
        let id = step["id"].as_str().unwrap();
        let status = step["status"].as_str().unwrap();
        assert!(
            dom.contains(&format!(
                r#"<article class="step" id="step-{id}"><h3>{id} <span class="badge {status}">{status}</span>"#
            )),
            "step {id} ({status}) is shown"
        );
        assert!(
            dom.contains(&format!(
                r##"<a href="#step-{id}"><g class="node {status}"##
            )),
            "step {id} is in the DAG"
        );
        let findings = step["findings"].as_array().map_or(0, Vec::len);
        total += findings;
        if findings > 0 {
            assert!(
                dom.contains(&format!(r#"id="findings-{id}" data-step="#))
                    && dom.contains(&format!(
                        r#"<h3>{id} <span class="count" data-count="{findings}">{findings} finding"#
                    )),
                "step {id}'s {findings} findings are counted"
            );
        }
    }
    assert!(total >= 4, "golint's findings and the probe's: {total}");
    assert_eq!(
        dom.matches("<tr class=\"f-").count(),
        total,
        "every finding is a row"
    );
    assert!(dom.contains(&format!(r#"<span id="total-findings">{total}</span>"#)));

    // Each step's grants, exactly as `sluice audit` prints them.
    let audit = ws.sluice(SLUICE, &["audit"]);
    assert_eq!(audit.code, 0);
    let blocks: Vec<&str> = audit.stdout.split("\n\n").skip(1).collect();
    assert_eq!(blocks.len(), 5, "{}", audit.stdout);
    for block in blocks {
        assert!(
            dom.contains(&format!(
                r#"<pre class="grants">{}</pre>"#,
                as_text(block.trim_end())
            )),
            "grants shown as audited:\n{block}"
        );
    }
    // Artifacts with their digests, logs, the failure.
    let artifact = steps[2]["outputs"]["artifact"]["value"]["digest"]
        .as_str()
        .unwrap();
    assert!(dom.contains(&format!("<code>{artifact}</code>")));
    assert!(dom.contains("info: </span>packing"));
    assert!(dom.contains(r#"<p class="error">"#) && dom.contains("too many"));

    let shots = Path::new(REPO).join("target/report-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let shot = shots.join("demo.png");
    let _ = std::fs::remove_file(&shot);
    chromium(
        &ws,
        &[
            "--window-size=1280,2200",
            &format!("--screenshot={}", shot.display()),
        ],
        &page,
    );
    assert!(std::fs::metadata(&shot).unwrap().len() > 20_000);
}

/// Markup, script and URLs from a step stay text: the page runs only its own script.
#[test]
fn hostile_step_text_stays_text() {
    if !chromium_present() {
        return;
    }
    let ws = Workspace::new();
    ws.with_probe();
    ws.manifest(
        r#"[pipeline]
name = "<i>pipeline</i>"

[steps.evil]
uses = "./probe.wasm"
with = { actions = [
  { op = "finding", rule = "</script><script>document.title='pwned'</script>", message = "<img src=x onerror=\"document.title='pwned'\">", path = "\"><svg onload=\"document.title='pwned'\">.go", line = 1, column = 1, tags = ["<b>tag</b>"] },
  { op = "finding", rule = "R2", message = "--></script><!--<script>document.title='pwned'</script>" },
  { op = "log", text = "<script>document.title='pwned'</script>" },
  { op = "log", text = "]]></pre></details><iframe src=\"javascript:parent.document.title='pwned'\"></iframe>" },
  { op = "text", value = "<a href=\"javascript:alert(1)\">click</a>\u202eevil" },
] }
"#,
    );
    let out = ws.sluice(SLUICE, &["run", "--no-step-cache"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let page = report_of(&ws, &out.stderr);
    let raw = std::fs::read_to_string(&page).unwrap();
    let dom = dom(&ws, &page);

    assert!(
        dom.contains("data-rendered-ms="),
        "the page's own script ran"
    );
    assert!(!dom.contains("pwned</title>"), "no step script ran");
    assert!(
        dom.contains("<title>passed: &lt;i&gt;pipeline&lt;/i&gt;"),
        "{}",
        &dom[..dom.len().min(600)]
    );
    for element in [
        "<img",
        "<iframe",
        "<svg onload",
        "<b>",
        "<i>",
        "<a href=\"javascript",
    ] {
        assert!(!dom.contains(element), "{element} was injected");
    }
    // The page's script and one data block: nothing else is a script.
    assert_eq!(dom.matches("<script").count(), 2);
    assert_eq!(raw.matches("</script>").count(), 2);
    // Shown as text, escaped where the browser parsed it.
    assert!(dom.contains("&lt;img src=x onerror=\"document.title='pwned'\"&gt;"));
    assert!(dom.contains("&lt;/script&gt;&lt;script&gt;document.title='pwned'&lt;/script&gt;"));
    assert!(dom.contains("&lt;b&gt;tag&lt;/b&gt;"));
    assert!(dom.contains("&lt;iframe src="));
    // A bidi override is shown escaped, as on the console.
    assert!(dom.contains("click&lt;/a&gt;\\u{202e}evil"));
    // And the page forbids any other script even if markup got in.
    assert!(raw.contains("script-src 'nonce-"));
}
