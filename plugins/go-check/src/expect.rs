//! Expectations written in Go fixtures, for the analysers' tests: `// want <rule> "<message>"`
//! says a finding of `rule` with exactly that message is on the comment's line (or at
//! `@line:col` when given after the message); `// ok <rule>` says the line has no finding of
//! that rule (a negative case). Messages are Go string literals.

use std::path::Path;

/// One expectation.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Expect {
    /// Workspace-relative file.
    pub path: String,
    /// Line.
    pub line: u32,
    /// Column, when the annotation gives one.
    pub column: Option<u32>,
    /// Rule id.
    pub rule: String,
    /// Exact message (`want`), or `None` (`ok`).
    pub message: Option<String>,
    /// Trailing words after the message (`suppressed`, ...).
    pub flags: Vec<String>,
}

/// Reads every annotation of the `.go` files under `root` (paths relative to `root`).
pub fn read(root: &Path) -> Vec<Expect> {
    let mut out = Vec::new();
    let mut files = Vec::new();
    walk(root, root, &mut files);
    files.sort();
    for (rel, path) in files {
        let src = String::from_utf8_lossy(&std::fs::read(&path).expect("fixture")).into_owned();
        for (i, line) in src.lines().enumerate() {
            let mut rest = line;
            while let Some(at) = [rest.find("// want "), rest.find("// ok ")]
                .into_iter()
                .flatten()
                .min()
            {
                let want = rest[at..].starts_with("// want ");
                let body = &rest[at + if want { 8 } else { 6 }..];
                let (rule, after) = body.split_once(' ').unwrap_or((body, ""));
                let mut e = Expect {
                    path: rel.clone(),
                    line: i as u32 + 1,
                    column: None,
                    rule: rule.to_string(),
                    message: None,
                    flags: Vec::new(),
                };
                let mut tail = after;
                if want {
                    let lit_end = string_end(after).unwrap_or_else(|| {
                        panic!("{rel}:{}: `want` needs a quoted message", i + 1)
                    });
                    e.message = Some(
                        go_syntax::parser::unquote(&after[..lit_end])
                            .unwrap_or_else(|| panic!("{rel}:{}: bad message literal", i + 1)),
                    );
                    tail = &after[lit_end..];
                }
                for word in tail.split_whitespace() {
                    if let Some(pos) = word.strip_prefix('@') {
                        let (l, c) = pos.split_once(':').expect("@line:col");
                        e.line = l.parse().expect("line");
                        e.column = Some(c.parse().expect("column"));
                    } else if word.starts_with('(') || word.starts_with("//") {
                        break;
                    } else {
                        e.flags.push(word.to_string());
                    }
                }
                out.push(e);
                rest = &rest[at + 2..];
            }
        }
    }
    out
}

fn string_end(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    if b.first() != Some(&b'"') {
        return None;
    }
    let mut i = 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, std::path::PathBuf)>) {
    for entry in std::fs::read_dir(dir).expect("fixture dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            walk(root, &path, out);
        } else if path.extension().is_some_and(|e| e == "go") {
            let rel = path.strip_prefix(root).expect("under root");
            out.push((rel.display().to_string(), path));
        }
    }
}

/// Compares findings `(path, line, column, rule, message, suppressed)` with the
/// expectations; returns the differences, one line each (empty when they agree).
pub fn compare(
    expects: &[Expect],
    findings: &[(String, u32, u32, String, String, bool)],
) -> Vec<String> {
    let mut problems = Vec::new();
    let mut matched = vec![false; findings.len()];
    for e in expects.iter().filter(|e| e.message.is_some()) {
        let hit = findings.iter().enumerate().position(|(i, f)| {
            !matched[i]
                && f.0 == e.path
                && f.1 == e.line
                && e.column.is_none_or(|c| c == f.2)
                && f.3 == e.rule
                && Some(&f.4) == e.message.as_ref()
                && f.5 == e.flags.iter().any(|w| w == "suppressed")
        });
        match hit {
            Some(i) => matched[i] = true,
            None => problems.push(format!(
                "missing: {}:{}: {} {:?}{}",
                e.path,
                e.line,
                e.rule,
                e.message.as_deref().unwrap_or_default(),
                if e.flags.is_empty() {
                    String::new()
                } else {
                    format!(" {}", e.flags.join(" "))
                }
            )),
        }
    }
    for (i, f) in findings.iter().enumerate() {
        if !matched[i] {
            problems.push(format!(
                "unexpected: {}:{}:{}: {} {:?}{}",
                f.0,
                f.1,
                f.2,
                f.3,
                f.4,
                if f.5 { " suppressed" } else { "" }
            ));
        }
    }
    for e in expects.iter().filter(|e| e.message.is_none()) {
        if findings
            .iter()
            .any(|f| f.0 == e.path && f.1 == e.line && f.3 == e.rule)
        {
            problems.push(format!(
                "{}:{}: marked `ok {}` but has a finding of that rule",
                e.path, e.line, e.rule
            ));
        }
    }
    problems
}
