//! The run report: `.sluice/runs/<run-id>/report.html`, one self-contained file (styles and
//! script inline, nothing fetched) showing the pipeline as a DAG and a timeline, the findings
//! by step and file with severity filters, each step's grants as `sluice audit` prints them,
//! its requests and programs, its outputs and artifacts with digests, and its log.
//!
//! Everything a step said reaches the page masked (secrets), cleaned (control and bidi
//! characters shown escaped, as on the console) and HTML-escaped; findings travel as JSON in a
//! `<script type="application/json">` block with `<`, `>` and `&` escaped, and the page's own
//! script renders them with `textContent` only. A Content-Security-Policy with a fresh nonce
//! lets only the page's own style and script apply: markup that got in anyway could not run.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::exec::{RunReport, StepReport};
use crate::report::terminal::clean;
use crate::report::{format_elapsed, human_size};
use crate::types::{Severity, Value};

/// What the report shows besides the run itself, from the plan.
#[derive(Debug, Default)]
pub struct Context {
    /// Each step's dependencies, by step id.
    pub deps: HashMap<String, Vec<String>>,
    /// Each step's grants exactly as `sluice audit` prints them, by step id.
    pub grants: HashMap<String, String>,
}

/// The file name of the report in a run's directory.
pub const FILE: &str = "report.html";

/// Up to this many findings the page renders every file's findings at once; above, a file's
/// findings are rendered when it is opened.
const OPEN_ALL_UP_TO: usize = 2000;

/// The most bytes of a step's log the page shows (its end; the whole is in the log file).
const LOG_SHOWN: usize = 256 << 10;

/// The most characters of an output's value shown.
const VALUE_SHOWN: usize = 300;

/// Writes the report into `dir` (the run's directory) and returns its path.
pub fn write(dir: &Path, report: &RunReport, context: &Context) -> std::io::Result<PathBuf> {
    let path = dir.join(FILE);
    super::record::write_atomic_with(&path, |out| render(out, report, context))?;
    Ok(path)
}

/// `text` as the page shows step-provided text: masked, cleaned and escaped.
struct Shown<'a>(&'a RunReport);

impl Shown<'_> {
    fn text(&self, text: &str) -> String {
        escape(&clean(&self.0.masker.mask(text)))
    }

    /// Like `text`, cut to `max` characters (after masking: a cut must not split a secret).
    fn cut(&self, text: &str, max: usize) -> String {
        let masked = self.0.masker.mask(text);
        let cleaned = clean(&masked);
        if cleaned.chars().count() <= max {
            escape(&cleaned)
        } else {
            let cut: String = cleaned.chars().take(max).collect();
            format!("{}…", escape(&cut))
        }
    }
}

/// HTML-escapes text for element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match entity(c) {
            Some(e) => out.push_str(e),
            None => out.push(c),
        }
    }
    out
}

/// The entity HTML text must use for `c`, if any.
pub fn entity(c: char) -> Option<&'static str> {
    Some(match c {
        '&' => "&amp;",
        '<' => "&lt;",
        '>' => "&gt;",
        '"' => "&quot;",
        '\'' => "&#39;",
        _ => return None,
    })
}

/// A writer that makes JSON safe inside `<script>`: `<`, `>` and `&` (which JSON has only
/// inside strings) become `\u003c`, `\u003e`, `\u0026`, so no `</script>` or `<!--` can form.
struct ScriptSafe<'a, W: Write>(&'a mut W);

impl<W: Write> Write for ScriptSafe<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut start = 0;
        for (i, b) in buf.iter().enumerate() {
            let escaped: &[u8] = match b {
                b'<' => b"\\u003c",
                b'>' => b"\\u003e",
                b'&' => b"\\u0026",
                _ => continue,
            };
            self.0.write_all(&buf[start..i])?;
            self.0.write_all(escaped)?;
            start = i + 1;
        }
        self.0.write_all(&buf[start..])?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

fn nonce() -> String {
    super::random_token().unwrap_or_else(|| {
        // No randomness: a nonce of the clock still differs per report; the page's content
        // is escaped regardless, the policy is a second wall.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        hex::encode(now.to_le_bytes())
    })
}

fn render(out: &mut impl Write, report: &RunReport, ctx: &Context) -> std::io::Result<()> {
    let nonce = nonce();
    let shown = Shown(report);
    let verdict = report.verdict();
    let total_findings: usize = report.steps.iter().map(|s| s.active_findings()).sum();
    write!(
        out,
        r##"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; img-src data:; base-uri 'none'; form-action 'none'">
<meta name="referrer" content="no-referrer">
<title>{verdict}: {pipeline} · sluice run {run}</title>
<style nonce="{nonce}">{STYLE}</style>
</head>
<body>
<header>
<h1><span class="badge {verdict}">{verdict}</span> {pipeline}</h1>
<p class="meta">run <code>{run}</code> · started {started} · {elapsed} · {steps} step{s} · <span id="total-findings">{total_findings}</span> finding{fs} · <code>{manifest}</code></p>
</header>
<nav><a href="#pipeline">Pipeline</a> <a href="#findings">Findings</a> <a href="#steps">Steps</a></nav>
"##,
        pipeline = escape(&report.pipeline),
        run = escape(&report.run_id),
        started = escape(&report.started),
        elapsed = format_elapsed(report.duration),
        steps = report.steps.len(),
        s = if report.steps.len() == 1 { "" } else { "s" },
        fs = if total_findings == 1 { "" } else { "s" },
        manifest = escape(&report.manifest),
        STYLE = STYLE,
    )?;

    // The pipeline: DAG and timeline.
    writeln!(out, r#"<section id="pipeline"><h2>Pipeline</h2>"#)?;
    out.write_all(dag(report, ctx).as_bytes())?;
    out.write_all(timeline(report, &shown).as_bytes())?;
    writeln!(out, "</section>")?;

    // Findings.
    writeln!(
        out,
        r#"<section id="findings"><h2>Findings</h2>
<p class="filters">Show: <label><input type="checkbox" data-hide="error" checked> errors</label> <label><input type="checkbox" data-hide="warning" checked> warnings</label> <label><input type="checkbox" data-hide="note" checked> notes</label> <label><input type="checkbox" data-hide="suppressed"> suppressed</label></p>"#
    )?;
    if report.steps.iter().all(|s| s.findings.is_empty()) {
        writeln!(out, "<p>No findings.</p>")?;
    }
    for (i, step) in report.steps.iter().enumerate() {
        if step.findings.is_empty() {
            continue;
        }
        let counts = severity_counts(step);
        let sarif = match step.outputs.get(crate::runtime::HOST_SARIF) {
            Some(Value::Artifact(a)) => format!(
                r#" · <a href="../../store/sha256/{hex}" download="{id}.sarif" title="{digest}">SARIF</a>"#,
                hex = escape(a.digest.trim_start_matches("sha256:")),
                id = escape(&step.id),
                digest = escape(&a.digest),
            ),
            _ => String::new(),
        };
        writeln!(
            out,
            r#"<div class="step-findings" id="findings-{id}" data-step="{i}"><h3>{id} <span class="count" data-count="{active}">{active} finding{s}</span></h3>
<p class="meta">{counts}{sarif}</p>
<div class="files" data-files="{i}"></div>
<script type="application/json" id="data-{i}">"#,
            id = escape(&step.id),
            active = step.active_findings(),
            s = if step.active_findings() == 1 { "" } else { "s" },
        )?;
        findings_json(&mut ScriptSafe(out), report, step)?;
        writeln!(out, "</script></div>")?;
    }
    writeln!(out, "</section>")?;

    // Each step.
    writeln!(out, r#"<section id="steps"><h2>Steps</h2>"#)?;
    for step in &report.steps {
        out.write_all(step_section(ctx, &shown, step).as_bytes())?;
    }
    writeln!(out, "</section>")?;
    write!(
        out,
        r#"<footer>Written by sluice {version}. The run record is <a href="run.json">run.json</a>; logs are in <a href="logs/">logs/</a>.</footer>
<script nonce="{nonce}">const OPEN_ALL_UP_TO = {OPEN_ALL_UP_TO};
{SCRIPT}</script>
</body>
</html>
"#,
        version = env!("CARGO_PKG_VERSION"),
        SCRIPT = SCRIPT,
    )?;
    Ok(())
}

fn severity_counts(step: &StepReport) -> String {
    let mut n = [0usize; 3];
    let mut suppressed = 0;
    for f in &step.findings {
        if f.is_active() {
            n[sev_index(f.severity)] += 1;
        } else {
            suppressed += 1;
        }
    }
    let mut parts = Vec::new();
    for (count, name) in [(n[0], "error"), (n[1], "warning"), (n[2], "note")] {
        if count > 0 {
            parts.push(format!(
                r#"<span class="sev-{name}">{count} {name}{}</span>"#,
                if count == 1 { "" } else { "s" }
            ));
        }
    }
    if suppressed > 0 {
        parts.push(format!("{suppressed} suppressed"));
    }
    parts.join(", ")
}

fn sev_index(s: Severity) -> usize {
    match s {
        Severity::Error => 0,
        Severity::Warning => 1,
        Severity::Note => 2,
    }
}

/// A step's findings, compact: `{"files": [...], "rules": [...], "f": [[file, line, column,
/// severity, rule, message, suppressed, tags], ...]}` (file -1: no location; severity 0
/// error, 1 warning, 2 note), every string masked and cleaned.
fn findings_json(
    out: &mut impl Write,
    report: &RunReport,
    step: &StepReport,
) -> std::io::Result<()> {
    let shown = |t: &str| clean(&report.masker.mask(t)).into_owned();
    let mut files: Vec<String> = Vec::new();
    let mut file_ix: HashMap<&str, usize> = HashMap::new();
    let mut rules: Vec<String> = Vec::new();
    let mut rule_ix: HashMap<&str, usize> = HashMap::new();
    let mut rows = Vec::with_capacity(step.findings.len());
    for f in &step.findings {
        let file = match &f.span {
            Some(span) => *file_ix.entry(span.path.as_str()).or_insert_with(|| {
                files.push(shown(&span.path));
                files.len() - 1
            }) as i64,
            None => -1,
        };
        let rule = *rule_ix.entry(f.rule.as_str()).or_insert_with(|| {
            rules.push(shown(&f.rule));
            rules.len() - 1
        });
        let (line, column) = f.span.as_ref().map_or((0, 0), |s| (s.line, s.column));
        let mut tags: Vec<String> = f.tags.iter().map(|t| shown(t)).collect();
        if let Some(c) = f.confidence {
            tags.insert(
                0,
                format!("confidence {}", crate::types::confidence_level(c)),
            );
        }
        if let Some(s) = &f.suppression {
            tags.push(format!("suppressed: {}", shown(&s.annotation)));
        }
        rows.push(serde_json::json!([
            file,
            line,
            column,
            sev_index(f.severity),
            rule,
            shown(&f.message),
            u8::from(!f.is_active()),
            tags.join(", "),
        ]));
    }
    serde_json::to_writer(
        out,
        &serde_json::json!({ "files": files, "rules": rules, "f": rows }),
    )
    .map_err(std::io::Error::other)
}

/// The DAG as SVG: a column per depth, an edge from each dependency.
fn dag(report: &RunReport, ctx: &Context) -> String {
    const W: usize = 190;
    const H: usize = 48;
    const NODE_W: usize = 150;
    const NODE_H: usize = 30;
    let mut depth: HashMap<&str, usize> = HashMap::new();
    for s in &report.steps {
        let d = ctx
            .deps
            .get(&s.id)
            .into_iter()
            .flatten()
            .filter_map(|d| depth.get(d.as_str()))
            .map(|d| d + 1)
            .max()
            .unwrap_or(0);
        depth.insert(&s.id, d);
    }
    let mut rows_in: HashMap<usize, usize> = HashMap::new();
    let mut place: HashMap<&str, (usize, usize)> = HashMap::new();
    for s in &report.steps {
        let d = depth[s.id.as_str()];
        let row = rows_in.entry(d).or_insert(0);
        place.insert(&s.id, (10 + d * W, 10 + *row * H));
        *row += 1;
    }
    let width = 20 + (depth.values().max().copied().unwrap_or(0)) * W + NODE_W;
    let height = 20 + rows_in.values().max().copied().unwrap_or(1) * H - (H - NODE_H);
    let mut svg = format!(
        r#"<svg class="dag" role="img" aria-label="the pipeline's steps and their dependencies" width="{width}" height="{height}" viewBox="0 0 {width} {height}">"#
    );
    for s in &report.steps {
        let (x, y) = place[s.id.as_str()];
        for d in ctx.deps.get(&s.id).into_iter().flatten() {
            if let Some((dx, dy)) = place.get(d.as_str()) {
                let (x1, y1) = (dx + NODE_W, dy + NODE_H / 2);
                let (x2, y2) = (x, y + NODE_H / 2);
                let mid = (x1 + x2) / 2;
                let _ = write!(
                    svg,
                    r#"<path class="edge" d="M{x1},{y1} C{mid},{y1} {mid},{y2} {x2},{y2}"/>"#
                );
            }
        }
    }
    for s in &report.steps {
        let (x, y) = place[s.id.as_str()];
        let cached = matches!(&s.cache, Some(c) if c.outcome == "hit");
        let label: String = s.id.chars().take(20).collect();
        let _ = write!(
            svg,
            r##"<a href="#step-{id}"><g class="node {status}{cached}"><title>{id}: {status}{cached_t}</title><rect x="{x}" y="{y}" width="{NODE_W}" height="{NODE_H}" rx="6"/><text x="{tx}" y="{ty}">{label}</text></g></a>"##,
            id = escape(&s.id),
            status = s.status.name(),
            cached = if cached { " cached" } else { "" },
            cached_t = if cached { " (cached)" } else { "" },
            tx = x + 10,
            ty = y + 20,
            label = escape(&label),
        );
    }
    svg.push_str("</svg>\n");
    svg
}

/// A table of steps with a bar per step on the run's time axis.
fn timeline(report: &RunReport, shown: &Shown) -> String {
    let total = (report.duration.as_millis() as f64).max(1.0);
    let mut html = String::from(
        r#"<table class="timeline"><thead><tr><th>Step</th><th>Plugin</th><th>Status</th><th class="num">Start</th><th class="num">Time</th><th class="num">Findings</th><th class="bar">Timeline</th></tr></thead><tbody>"#,
    );
    for s in &report.steps {
        let cached = matches!(&s.cache, Some(c) if c.outcome == "hit");
        let start = s.started_ms.unwrap_or(0) as f64;
        // A replayed step took no time in this run: its duration is the recorded run's.
        let dur = if cached {
            0.0
        } else {
            s.duration.map_or(0.0, |d| d.as_millis() as f64)
        };
        let x = (start / total * 1000.0).clamp(0.0, 998.0);
        let w = (dur / total * 1000.0).clamp(2.0, 1000.0 - x.min(998.0));
        let _ = write!(
            html,
            r##"<tr class="{status}"><td><a href="#step-{id}">{id}</a></td><td>{plugin}</td><td><span class="badge {status}">{status}</span>{cached}</td><td class="num">{start}</td><td class="num">{time}</td><td class="num">{findings}</td><td class="bar"><svg viewBox="0 0 1000 12" preserveAspectRatio="none" width="100%" height="12"><rect class="{status}" x="{x:.1}" y="0" width="{w:.1}" height="12"/></svg></td></tr>"##,
            id = escape(&s.id),
            plugin = shown.cut(&s.plugin, 60),
            status = s.status.name(),
            cached = if cached {
                r#" <span class="badge cached">cached</span>"#
            } else {
                ""
            },
            start = s.started_ms.map_or_else(
                || "-".into(),
                |ms| format!("+{}", format_elapsed(std::time::Duration::from_millis(ms)))
            ),
            time = match (cached, s.duration) {
                (_, None) => "-".into(),
                (true, Some(d)) => format!(
                    r#"<span class="meta" title="the recorded run's time">({})</span>"#,
                    format_elapsed(d)
                ),
                (false, Some(d)) => format_elapsed(d),
            },
            findings = s.active_findings(),
        );
    }
    html.push_str("</tbody></table>\n");
    html
}

fn step_section(ctx: &Context, shown: &Shown, s: &StepReport) -> String {
    let mut h = String::new();
    let cached = match &s.cache {
        Some(c) if c.outcome == "hit" => format!(
            r#" <span class="badge cached">cached from run {}</span>"#,
            escape(c.from_run.as_deref().unwrap_or("?"))
        ),
        _ => String::new(),
    };
    let _ = write!(
        h,
        r#"<article class="step" id="step-{id}"><h3>{id} <span class="badge {status}">{status}</span>{cached}</h3>
<p class="meta">{plugin} · <code title="{digest}">{short}</code> · {time}</p>
"#,
        id = escape(&s.id),
        status = s.status.name(),
        plugin = shown.cut(&s.plugin, 80),
        digest = escape(&s.digest),
        short = escape(&s.digest.chars().take(19).collect::<String>()),
        time = s.duration.map_or_else(|| "not run".into(), format_elapsed),
    );
    if !s.summary.is_empty() {
        let _ = writeln!(
            h,
            r#"<p class="summary">{}</p>"#,
            shown.cut(&s.summary, 500)
        );
    }
    if let Some(e) = &s.error {
        let _ = writeln!(h, r#"<p class="error">{}</p>"#, shown.cut(e, 2000));
    }
    if let Some(grants) = ctx.grants.get(&s.id) {
        let _ = writeln!(
            h,
            r#"<h4>Grants</h4><pre class="grants">{}</pre>"#,
            escape(grants.trim_end())
        );
    }
    if !s.outputs.is_empty() {
        h.push_str(r#"<h4>Outputs</h4><table class="outputs"><thead><tr><th>Output</th><th>Kind</th><th>Value</th></tr></thead><tbody>"#);
        for (name, value) in &s.outputs {
            let shown_value = match value {
                Value::Artifact(a) => format!(
                    r#"<code>{}</code> · {} · {}{}"#,
                    escape(&a.digest),
                    shown.cut(&a.name, 120),
                    human_size(a.size),
                    a.media_type
                        .as_deref()
                        .map(|m| format!(" · {}", shown.cut(m, 80)))
                        .unwrap_or_default()
                ),
                Value::Text(t) | Value::Json(t) => shown.cut(t, VALUE_SHOWN),
                Value::Integer(n) => n.to_string(),
                Value::Number(n) => n.to_string(),
                Value::Boolean(b) => b.to_string(),
            };
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{shown_value}</td></tr>",
                shown.cut(name, 80),
                value.kind().name()
            );
        }
        h.push_str("</tbody></table>\n");
    }
    if !s.programs.is_empty() {
        h.push_str(r#"<h4>Programs run</h4><table><thead><tr><th>Program</th><th>Path</th><th>Digest</th><th class="num">Starts</th></tr></thead><tbody>"#);
        for p in &s.programs {
            let _ = write!(
                h,
                r#"<tr><td>{}</td><td><code>{}</code></td><td><code>{}</code></td><td class="num">{}</td></tr>"#,
                escape(&p.name),
                escape(&p.path.display().to_string()),
                escape(&p.digest),
                p.starts
            );
        }
        h.push_str("</tbody></table>\n");
    }
    if let Some(egress) = &s.egress
        && !egress.requests.is_empty()
    {
        let _ = write!(
            h,
            r#"<h4>Network ({} request{})</h4><table class="egress"><thead><tr><th>Method</th><th>Origin</th><th>Path</th><th>Status</th><th class="num">Up</th><th class="num">Down</th><th class="num">Time</th><th>Denied or failed</th></tr></thead><tbody>"#,
            egress.requests.len(),
            if egress.requests.len() == 1 { "" } else { "s" }
        );
        for r in &egress.requests {
            let _ = write!(
                h,
                r#"<tr class="{class}"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}ms</td><td>{}</td></tr>"#,
                shown.cut(&r.method, 16),
                shown.cut(&r.origin, 120),
                shown.cut(&r.path, 200),
                r.status.map_or_else(|| "-".into(), |s| s.to_string()),
                human_size(r.bytes_up),
                human_size(r.bytes_down),
                r.duration_ms,
                r.denied
                    .as_deref()
                    .or(r.error.as_deref())
                    .map(|d| shown.cut(d, 300))
                    .unwrap_or_default(),
                class = if r.denied.is_some() { "denied" } else { "" },
            );
        }
        h.push_str("</tbody></table>\n");
        if egress.not_recorded > 0 {
            let _ = writeln!(
                h,
                "<p class=\"meta\">{} more requests not recorded</p>",
                egress.not_recorded
            );
        }
    }
    if !s.log.is_empty() || s.error.is_some() {
        let _ = write!(
            h,
            r#"<details class="log"><summary>Log ({} line{})</summary><pre>"#,
            s.log.len(),
            if s.log.len() == 1 { "" } else { "s" }
        );
        // The end of a long log (where a failure is); the whole is in logs/<step>.log.
        let mut bytes = 0;
        let first = s
            .log
            .iter()
            .rposition(|l| {
                bytes += l.message.len() + 24;
                bytes > LOG_SHOWN
            })
            .map_or(0, |i| i + 1);
        if first > 0 {
            let _ = writeln!(
                h,
                r#"<span class="meta">… {first} earlier line{} in <a href="logs/{id}.log">logs/{id}.log</a></span>"#,
                if first == 1 { "" } else { "s" },
                id = escape(&s.id)
            );
        }
        for line in &s.log[first..] {
            let _ = writeln!(
                h,
                r#"<span class="lvl-{lvl}">[+{at}ms] {lvl}: </span>{msg}"#,
                at = line.at_ms,
                lvl = line.level.name(),
                msg = shown.text(&line.message),
            );
        }
        h.push_str("</pre></details>\n");
    }
    h.push_str("</article>\n");
    h
}

const STYLE: &str = r#"
:root{--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--bg:#fff;--pass:#1a7f37;--fail:#cf222e;--err:#bc4c00;--skip:#8c959f;--cache:#8250df}
*{box-sizing:border-box}body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--fg);background:var(--bg);margin:0 auto;max-width:1200px;padding:0 20px 40px}
h1{font-size:22px;margin:20px 0 4px}h2{font-size:18px;border-bottom:1px solid var(--line);padding-bottom:4px;margin-top:28px}h3{font-size:15px;margin:18px 0 4px}h4{font-size:13px;margin:12px 0 4px;color:var(--muted)}
code,pre{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}pre{background:#f6f8fa;border:1px solid var(--line);border-radius:6px;padding:8px;overflow:auto;white-space:pre-wrap;word-break:break-all}
.meta{color:var(--muted);margin:2px 0}nav a{margin-right:12px}a{color:#0969da}
.badge{display:inline-block;border-radius:10px;padding:0 8px;font-size:12px;color:#fff;background:var(--skip)}.badge.passed{background:var(--pass)}.badge.failed{background:var(--fail)}.badge.errored{background:var(--err)}.badge.cached{background:var(--cache)}
table{border-collapse:collapse;width:100%;margin:6px 0}th,td{border-bottom:1px solid var(--line);padding:3px 6px;text-align:left;vertical-align:top}td.num,th.num{text-align:right;white-space:nowrap}th.bar,td.bar{width:35%}
svg rect.passed{fill:var(--pass)}svg rect.failed{fill:var(--fail)}svg rect.errored{fill:var(--err)}svg rect.skipped,svg rect.cancelled{fill:var(--skip)}
svg.dag{display:block;margin:8px 0 16px;max-width:100%}svg.dag .edge{fill:none;stroke:#8c959f;stroke-width:1.5}svg.dag rect{fill:#f6f8fa;stroke:var(--skip);stroke-width:2}svg.dag text{font:12px ui-monospace,monospace;fill:var(--fg)}
svg.dag .passed rect{stroke:var(--pass)}svg.dag .failed rect{stroke:var(--fail);fill:#ffebe9}svg.dag .errored rect{stroke:var(--err);fill:#fff1e5}svg.dag .cached rect{stroke-dasharray:4 3}
table.findings{table-layout:fixed}table.findings td:nth-child(1){width:64px}table.findings td:nth-child(2){width:70px}table.findings td:nth-child(3){width:170px;overflow-wrap:anywhere}table.findings td:nth-child(4){overflow-wrap:anywhere}table.findings td:nth-child(5){width:200px}
details.file{margin:2px 0}details.file>summary{cursor:pointer;font:12px ui-monospace,monospace}table.findings td{font-size:12px}
.sev-error{color:var(--fail)}.sev-warning{color:var(--err)}.sev-note{color:var(--muted)}tr.suppressed{opacity:.6}
body.hide-error tr.f-error,body.hide-warning tr.f-warning,body.hide-note tr.f-note,body.hide-suppressed tr.suppressed{display:none}
p.error{color:var(--fail)}tr.denied td{color:var(--fail)}details.log>summary{cursor:pointer;color:var(--muted)}.lvl-error{color:var(--fail)}.lvl-warn{color:var(--err)}
article.step{border:1px solid var(--line);border-radius:8px;padding:4px 14px 10px;margin:12px 0}footer{margin-top:30px;color:var(--muted)}
"#;

const SCRIPT: &str = r#"
(() => {
  'use strict';
  const started = performance.now();
  const SEV = ['error', 'warning', 'note'];
  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const rows = (data, items) => {
    const table = el('table', 'findings');
    const body = el('tbody');
    for (const f of items) {
      const tr = el('tr', 'f-' + SEV[f[3]] + (f[6] ? ' suppressed' : ''));
      tr.append(
        el('td', 'num', f[1] ? f[1] + ':' + f[2] : ''),
        el('td', 'sev-' + SEV[f[3]], SEV[f[3]]),
        el('td', '', data.rules[f[4]]),
        el('td', '', f[5]),
        el('td', 'meta', f[7]),
      );
      body.append(tr);
    }
    table.append(body);
    return table;
  };
  const all = [...document.querySelectorAll('script[type="application/json"][id^="data-"]')];
  let total = 0;
  const steps = all.map((node) => {
    const data = JSON.parse(node.textContent);
    total += data.f.length;
    return [node, data];
  });
  for (const [node, data] of steps) {
    const host = node.parentElement.querySelector('.files');
    const byFile = new Map();
    for (const f of data.f) {
      if (!byFile.has(f[0])) byFile.set(f[0], []);
      byFile.get(f[0]).push(f);
    }
    const files = [...byFile.keys()].sort((a, b) =>
      a < 0 ? 1 : b < 0 ? -1 : data.files[a] < data.files[b] ? -1 : data.files[a] > data.files[b] ? 1 : 0);
    for (const file of files) {
      const items = byFile.get(file).sort((a, b) => a[1] - b[1] || a[2] - b[2]);
      const details = el('details', 'file');
      const counts = SEV.map((s, i) => [s, items.filter((f) => f[3] === i && !f[6]).length]).filter(([, n]) => n);
      const summary = el('summary', '', (file < 0 ? '(no location)' : data.files[file]) + ' ');
      summary.append(el('span', 'meta', '(' + (counts.map(([s, n]) => n + ' ' + s + (n === 1 ? '' : 's')).join(', ') || 'suppressed only') + ')'));
      details.append(summary);
      const fill = () => {
        if (!details.dataset.filled) {
          details.dataset.filled = '1';
          details.append(rows(data, items));
        }
      };
      details.addEventListener('toggle', () => { if (details.open) fill(); });
      if (total <= OPEN_ALL_UP_TO) { details.open = true; fill(); }
      host.append(details);
    }
  }
  for (const box of document.querySelectorAll('input[data-hide]')) {
    const apply = () => document.body.classList.toggle('hide-' + box.dataset.hide, !box.checked);
    box.addEventListener('change', apply);
    apply();
  }
  document.body.dataset.renderedMs = String(Math.round(performance.now() - started));
})();
"#;
