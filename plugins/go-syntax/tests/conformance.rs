//! go-syntax against Go's own parser, on every `.go` file of the Go 1.19 standard library
//! source (Debian's `golang-go`, at `/usr/share/go-1.19/src`, or `$GO_CORPUS`):
//!
//! - acceptance, file by file, compared with `go/parser` (`tools/goparse`): no file Go accepts
//!   may be rejected, and at most 5 invalid files may be accepted (listed with Go's reason);
//! - positions: for every identifier of every accepted file, the byte offset and name must be
//!   those of go/ast (a digest per file, computed on both sides).
//!
//! CI installs Go (`.ci/run`); without it, this test fails under `CI=true` and is skipped with
//! a message elsewhere.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn corpus() -> PathBuf {
    PathBuf::from(std::env::var("GO_CORPUS").unwrap_or_else(|_| "/usr/share/go-1.19/src".into()))
}

/// Runs goparse with `args`, the file list on stdin, and returns its output lines.
fn goparse(bin: &Path, args: &[&str], list: &str) -> Vec<String> {
    let mut child = Command::new(bin)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run goparse");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(list.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "goparse failed");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn agrees_with_go_parser_on_the_standard_library() {
    let root = corpus();
    let go = Command::new("go")
        .arg("version")
        .output()
        .ok()
        .filter(|o| o.status.success());
    if !root.is_dir() || go.is_none() {
        let why = format!(
            "no Go toolchain or no corpus at {} (apt-get install golang-go)",
            root.display()
        );
        assert!(
            std::env::var_os("CI").is_none(),
            "{why}: CI must install it (.ci/run does)"
        );
        eprintln!("skipped: {why}");
        return;
    }
    let bin = Path::new(env!("CARGO_TARGET_TMPDIR")).join("goparse");
    let built = Command::new("go")
        .args(["build", "-o"])
        .arg(&bin)
        .arg(".")
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/goparse"))
        .status()
        .unwrap();
    assert!(built.success(), "go build tools/goparse");

    let paths = go_syntax::package::go_files(&root).unwrap();
    assert!(
        paths.len() > 5000,
        "expected the Go 1.19 source, found {} files",
        paths.len()
    );
    let list: String = paths.iter().map(|p| format!("{}\n", p.display())).collect();

    // Go's verdicts and identifier digests.
    let mut go_verdict: HashMap<String, Result<(), String>> = HashMap::new();
    for line in goparse(&bin, &[], &list) {
        if let Some(path) = line.strip_prefix("ok ") {
            go_verdict.insert(path.to_string(), Ok(()));
        } else if let Some(rest) = line.strip_prefix("err ") {
            let (path, msg) = rest.split_once('\t').unwrap();
            go_verdict.insert(path.to_string(), Err(msg.to_string()));
        }
    }
    let go_idents: HashMap<String, (usize, u64)> = goparse(&bin, &["-idents"], &list)
        .into_iter()
        .map(|line| {
            let f: Vec<&str> = line.split(' ').collect();
            (
                f[1].to_string(),
                (
                    f[2].parse().unwrap(),
                    u64::from_str_radix(f[3], 16).unwrap(),
                ),
            )
        })
        .collect();

    let mut wrongly_rejected = Vec::new();
    let mut wrongly_accepted = Vec::new();
    let mut position_mismatches = Vec::new();
    let (mut both_ok, mut both_err, mut same_error_line) = (0, 0, 0);
    for path in &paths {
        let name = path.display().to_string();
        let src = std::fs::read(path).unwrap();
        let ours = go_syntax::parse_file(&name, &src);
        match (&go_verdict[&name], ours) {
            (Ok(()), Ok(file)) => {
                both_ok += 1;
                // What analysers build from every tree must work on every real file.
                let _ = go_syntax::comments::comment_map(&file);
                let _ = go_syntax::resolve::resolve_imports(&file);
                if go_syntax::walk::identifier_digest(&file) != go_idents[&name] {
                    position_mismatches.push(name);
                }
            }
            (Ok(()), Err(e)) => wrongly_rejected.push(e.to_string()),
            (Err(go), Ok(_)) => wrongly_accepted.push(format!("{name}: go/parser: {go}")),
            (Err(go), Err(e)) => {
                both_err += 1;
                let go_line = go.split(':').nth(1).unwrap_or_default();
                if go_line == e.position.line.to_string() {
                    same_error_line += 1;
                }
            }
        }
    }
    eprintln!(
        "{} files: {both_ok} accepted by both, {both_err} rejected by both ({same_error_line} with the first error on the same line), {} wrongly rejected, {} wrongly accepted",
        paths.len(),
        wrongly_rejected.len(),
        wrongly_accepted.len()
    );
    for w in &wrongly_accepted {
        eprintln!("  accepted although invalid: {w}");
    }
    assert!(
        wrongly_rejected.is_empty(),
        "files go/parser accepts but we reject:\n{}",
        wrongly_rejected.join("\n")
    );
    assert!(
        wrongly_accepted.len() <= 5,
        "more than 5 invalid files accepted:\n{}",
        wrongly_accepted.join("\n")
    );
    assert!(
        position_mismatches.is_empty(),
        "identifier positions differ from go/ast in:\n{}",
        position_mismatches.join("\n")
    );
    assert!(both_ok >= 5500, "only {both_ok} files accepted by both");
}
