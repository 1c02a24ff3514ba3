//! What a CI platform shows of a run (`sluice run --annotations github|gitlab`).
//!
//! GitHub Actions: workflow commands on stdout, `::error file=…,line=…,col=…::message` per
//! finding (warnings as `::warning`, notes as `::notice`), each step's log in a
//! `::group::`, and a Markdown job summary appended to `$GITHUB_STEP_SUMMARY` when it is set.
//! Step text cannot issue commands of its own: command data and properties are escaped as the
//! runner unescapes them, and logs are printed between `::stop-commands::<token>` and
//! `::<token>::` with a fresh random token, which turns command processing off.
//!
//! GitLab: a Code Quality report (`gl-code-quality-report.json`, the subset of the Code
//! Climate format GitLab reads: `description`, `check_name`, `fingerprint`, `severity`,
//! `location.path`, `location.lines.begin`), for `artifacts:reports:codequality`.
//!
//! Paths are made relative to the directory sluice runs in (the repository's root in CI),
//! since the platforms resolve them from there; findings without a location are listed in
//! the summary but are not annotations.

use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::exec::{RunReport, Status};
use crate::report::terminal::clean;
use crate::report::{format_elapsed, most_severe};
use crate::types::{Finding, Severity};

/// The platforms `--annotations` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Platform {
    /// GitHub Actions: workflow commands, grouped logs, the job summary.
    Github,
    /// GitLab CI: a Code Quality report.
    Gitlab,
}

/// The Code Quality report's file name, as GitLab's documentation names it.
pub const CODE_QUALITY_FILE: &str = "gl-code-quality-report.json";

/// The environment variable GitHub sets to the job summary's file.
pub const GITHUB_STEP_SUMMARY: &str = "GITHUB_STEP_SUMMARY";

/// The most characters of a message an annotation carries.
const MESSAGE_SHOWN: usize = 1000;

/// `path` (relative to the workspace) as the platform resolves it: relative to the current
/// directory, through `prefix` (the workspace's path from there, `""` when the same).
fn platform_path(prefix: &str, path: &str) -> String {
    let path = path.trim_start_matches("./");
    if prefix.is_empty() || prefix == "." {
        path.to_string()
    } else {
        format!("{}/{path}", prefix.trim_end_matches('/'))
    }
}

/// The workspace's path from the current directory: `""` when it is the current directory,
/// `examples/go-service` below it; absolute when it is elsewhere.
pub fn workspace_prefix(workspace: &Path) -> String {
    let abs = std::path::absolute(workspace).unwrap_or_else(|_| workspace.to_path_buf());
    let cwd = std::env::current_dir().ok();
    match cwd.as_deref().and_then(|c| abs.strip_prefix(c).ok()) {
        Some(rel) => rel.to_string_lossy().into_owned(),
        None => abs.to_string_lossy().into_owned(),
    }
}

/// Escapes a workflow command's message as the runner unescapes it.
fn gh_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a workflow command's property value.
fn gh_property(text: &str) -> String {
    gh_data(text).replace(':', "%3A").replace(',', "%2C")
}

fn gh_level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "notice",
    }
}

/// Step text for a command: masked, control characters shown escaped (a line break inside a
/// message is its `%0A`, which the runner shows as a line break in the annotation).
fn shown(report: &RunReport, text: &str, max: usize) -> String {
    let masked = report.masker.mask(text);
    let one: String = masked.chars().take(max).collect();
    let more = if one.len() < masked.len() { "…" } else { "" };
    // Keep line breaks (escaped as %0A by gh_data), clean the rest of each line.
    one.split('\n')
        .map(|l| clean(l.strip_suffix('\r').unwrap_or(l)).into_owned())
        .collect::<Vec<_>>()
        .join("\n")
        + more
}

/// The GitHub workflow commands of a run: an annotation per listed finding (at most
/// `max_findings` of each step, the most severe first), then each step's log in a group.
pub fn github(report: &RunReport, prefix: &str, max_findings: Option<usize>) -> String {
    let mut out = String::new();
    for step in &report.steps {
        let (listed, _) = most_severe(step, max_findings);
        for f in listed {
            let Some(span) = &f.span else { continue };
            let mut props = vec![
                format!(
                    "file={}",
                    gh_property(&platform_path(prefix, &shown(report, &span.path, 500)))
                ),
                format!("line={}", span.line.max(1)),
            ];
            if span.column > 0 {
                props.push(format!("col={}", span.column));
            }
            if span.end_line >= span.line && span.end_line > 0 {
                props.push(format!("endLine={}", span.end_line));
                if span.end_column > 0 && span.end_line == span.line {
                    props.push(format!("endColumn={}", span.end_column));
                }
            }
            props.push(format!(
                "title={}",
                gh_property(&format!("{} ({})", shown(report, &f.rule, 200), step.id))
            ));
            let _ = writeln!(
                out,
                "::{} {}::{}",
                gh_level(f.severity),
                props.join(","),
                gh_data(&shown(report, &f.message, MESSAGE_SHOWN))
            );
        }
    }
    // Without an unpredictable token a step could end the stop and issue commands: then its
    // log is not printed (it is in the run record).
    let token = super::random_token();
    for step in &report.steps {
        let time = step
            .duration
            .map_or_else(String::new, |d| format!(" in {}", format_elapsed(d)));
        let _ = writeln!(
            out,
            "::group::{}: {}{time}",
            gh_data(&step.id),
            step.status.name()
        );
        let Some(token) = &token else {
            let _ = writeln!(
                out,
                "(the log is in the run record: no random token to stop workflow commands with)\n::endgroup::"
            );
            continue;
        };
        // Nothing the step wrote is a command: commands are off until the token comes back.
        let _ = writeln!(out, "::stop-commands::{token}");
        for line in &step.log {
            let _ = writeln!(
                out,
                "[+{}ms] {}: {}",
                line.at_ms,
                line.level.name(),
                clean(&report.masker.mask(&line.message))
            );
        }
        if let Some(error) = &step.error {
            let _ = writeln!(
                out,
                "{}: {}",
                step.status.name(),
                clean(&report.masker.mask(error))
            );
        }
        let _ = writeln!(out, "::{token}::");
        let _ = writeln!(out, "::endgroup::");
    }
    out
}

/// Escapes step text for a cell of a Markdown table (GitHub-flavoured): no markup, links,
/// HTML or table breaks of its own.
fn md(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if let Some(e) = super::html::entity(c) {
            out.push_str(e);
            continue;
        }
        match c {
            '|' => out.push_str("&#124;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '(' | ')' | '#' | '!' | '~' | '{' | '}' | '+'
            | '-' | '.' | ':' | '@' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// The Markdown job summary: the verdict, a table of steps, the listed findings, where the
/// report is.
pub fn github_summary(
    report: &RunReport,
    prefix: &str,
    max_findings: Option<usize>,
    report_path: Option<&str>,
) -> String {
    let mut out = String::new();
    let verdict = report.verdict();
    let icon = |s: Status| match s {
        Status::Passed => "✅",
        Status::Failed | Status::Errored => "❌",
        Status::Skipped | Status::Cancelled => "⏭️",
    };
    let _ = writeln!(
        out,
        "## Sluice: {} {verdict} in {}\n",
        md(&report.pipeline),
        format_elapsed(report.duration)
    );
    let _ = writeln!(out, "| Step | Status | Time | Findings | Summary |");
    let _ = writeln!(out, "| --- | --- | ---: | ---: | --- |");
    for s in &report.steps {
        let cached = matches!(&s.cache, Some(c) if c.outcome == "hit");
        let summary = if s.summary.is_empty() {
            s.error.as_deref().unwrap_or_default()
        } else {
            &s.summary
        };
        let _ = writeln!(
            out,
            "| {} | {} {}{} | {} | {} | {} |",
            md(&s.id),
            icon(s.status),
            s.status.name(),
            if cached { " (cached)" } else { "" },
            s.duration.map_or_else(|| "-".into(), format_elapsed),
            s.active_findings(),
            md(&shown(report, summary, 200).replace('\n', " "))
        );
    }
    let mut any = false;
    for s in &report.steps {
        let (listed, unlisted) = most_severe(s, max_findings);
        if listed.is_empty() {
            continue;
        }
        if !any {
            let _ = writeln!(out, "\n### Findings\n");
            let _ = writeln!(out, "| Step | Severity | Rule | Where | Message |");
            let _ = writeln!(out, "| --- | --- | --- | --- | --- |");
            any = true;
        }
        for f in listed {
            let place = f.span.as_ref().map_or_else(String::new, |sp| {
                format!(
                    "{}:{}:{}",
                    platform_path(prefix, &shown(report, &sp.path, 300)),
                    sp.line,
                    sp.column
                )
            });
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                md(&s.id),
                f.severity.name(),
                md(&shown(report, &f.rule, 100)),
                md(&place),
                md(&shown(report, &f.message, 300).replace('\n', " "))
            );
        }
        if unlisted > 0 {
            let _ = writeln!(
                out,
                "| {} | | | | {unlisted} more not listed \\(all are in the run record and the step's SARIF\\) |",
                md(&s.id)
            );
        }
    }
    if let Some(path) = report_path {
        let _ = writeln!(
            out,
            "\nThe full report is `{}` \\(and `run.json` beside it\\): keep `.sluice/runs/` as an artifact to read it\\.",
            path.replace('`', "")
        );
    }
    out
}

/// GitLab's severities for a finding: `critical` for errors, `minor` for warnings, `info` for
/// notes.
fn gitlab_severity(s: Severity) -> &'static str {
    match s {
        Severity::Error => "critical",
        Severity::Warning => "minor",
        Severity::Note => "info",
    }
}

/// Writes the Code Quality report of the run's active findings with a location; returns how
/// many it holds.
pub fn gitlab(report: &RunReport, prefix: &str, out: &mut impl Write) -> std::io::Result<usize> {
    let mut seen = std::collections::HashMap::<String, u32>::new();
    let mut entries = Vec::new();
    for step in &report.steps {
        for f in step.findings.iter().filter(|f| f.is_active()) {
            let Some(span) = &f.span else { continue };
            let path = platform_path(prefix, &shown(report, &span.path, 1000));
            let rule = shown(report, &f.rule, 200);
            let message = shown(report, &f.message, MESSAGE_SHOWN);
            let fingerprint = fingerprint(
                &step.id,
                &rule,
                &path,
                span.line,
                span.column,
                &message,
                &mut seen,
            );
            entries.push(serde_json::json!({
                "description": message,
                "check_name": format!("{}/{rule}", step.id),
                "fingerprint": fingerprint,
                "severity": gitlab_severity(f.severity),
                "location": { "path": path, "lines": { "begin": span.line.max(1) } },
                "categories": categories(f),
                "engine_name": format!("sluice {}", step.id),
            }));
        }
    }
    serde_json::to_writer_pretty(&mut *out, &entries).map_err(std::io::Error::other)?;
    out.write_all(b"\n")?;
    Ok(entries.len())
}

/// Code Climate categories GitLab shows: `Security` for security rules, `Style` otherwise.
fn categories(f: &Finding) -> Vec<&'static str> {
    if f.tags
        .iter()
        .any(|t| t.starts_with("CWE-") || t == "security")
    {
        vec!["Security"]
    } else {
        vec!["Style"]
    }
}

/// A stable fingerprint (GitLab matches findings across pipelines by it): the SHA-256 of
/// what identifies the finding, with its occurrence number when two are alike.
fn fingerprint(
    step: &str,
    rule: &str,
    path: &str,
    line: u32,
    column: u32,
    message: &str,
    seen: &mut std::collections::HashMap<String, u32>,
) -> String {
    let mut h = Sha256::new();
    for part in [
        step,
        rule,
        path,
        &line.to_string(),
        &column.to_string(),
        message,
    ] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    let base = hex::encode(h.finalize());
    let n = seen.entry(base.clone()).or_insert(0);
    *n += 1;
    if *n == 1 {
        base
    } else {
        let mut h = Sha256::new();
        h.update(base.as_bytes());
        h.update(n.to_le_bytes());
        hex::encode(h.finalize())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workflow_command_escapes() {
        assert_eq!(gh_data("50% a\r\nb"), "50%25 a%0D%0Ab");
        assert_eq!(gh_property("a,b:c%"), "a%2Cb%3Ac%25");
        assert_eq!(platform_path("", "./a.go"), "a.go");
        assert_eq!(platform_path("examples/svc/", "a.go"), "examples/svc/a.go");
    }

    #[test]
    fn markdown_cells_hold_no_markup() {
        assert_eq!(
            md("[x](javascript:1) | <b>*y*</b>"),
            "\\[x\\]\\(javascript\\:1\\) &#124; &lt;b&gt;\\*y\\*&lt;/b&gt;"
        );
    }
}
