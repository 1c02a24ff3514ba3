//! Showing and recording a run: live progress on the console, the final summary, and the
//! run record on disk.

pub mod annotations;
pub mod html;
pub mod record;
pub mod sarif;
pub mod terminal;

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io::Write as _;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use crate::exec::{RunReport, Status};
use crate::runtime::{LogLevel, StepEvent};
use crate::types::Finding;

use self::terminal::clean;

/// The most characters of one log line the console shows (the whole line is in the log).
pub const CONSOLE_LINE: usize = 1000;

/// 128 random bits in hex from the OS (a CSP nonce, a stop-commands token); `None` when the
/// OS has none to give.
pub fn random_token() -> Option<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).ok()?;
    Some(hex::encode(bytes))
}

/// `12ms`, `1.24s`, `2m03s`.
pub fn format_elapsed(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{:.2}s", d.as_secs_f64())
    } else {
        format!("{}m{:02}s", ms / 60_000, (ms / 1000) % 60)
    }
}

/// How often, at most, a step's progress is printed when the console is not a terminal
/// (`SLUICE_PROGRESS_INTERVAL`, e.g. `10s`; `0s` prints every report the console receives).
pub const PROGRESS_INTERVAL: Duration = Duration::from_secs(5);

/// The environment variable that overrides [`PROGRESS_INTERVAL`].
pub const PROGRESS_INTERVAL_VAR: &str = "SLUICE_PROGRESS_INTERVAL";

/// `[lint] 412/3911 packages: src/net/http (1.24s)`: a step's progress as a plain line.
fn progress_line(step: &str, p: &crate::runtime::Progress, elapsed: Duration) -> String {
    let message: String = p.message.chars().take(200).collect();
    let percent = (p.done.min(p.total).saturating_mul(100))
        .checked_div(p.total)
        .map_or_else(String::new, |pc| format!(" {pc}%"));
    format!(
        "[{step}] {}/{}{percent} {} ({})",
        p.done,
        p.total,
        clean(&message),
        format_elapsed(elapsed)
    )
}

/// Shows events as they come until the sender side closes: on a terminal, a line per running
/// step with a spinner, then a bar with counts once the step reports progress, and its
/// elapsed time; otherwise plain lines (a step's progress at most every `progress_every`).
/// Log lines at `info` and above are shown; everything goes to the step's log file regardless.
pub async fn live(
    mut events: tokio::sync::mpsc::UnboundedReceiver<StepEvent>,
    tty: bool,
    progress_every: Duration,
) {
    let multi = MultiProgress::new();
    let mut bars: HashMap<String, ProgressBar> = HashMap::new();
    // Plain output: when each step started and when its progress was last printed.
    let mut started: HashMap<String, (std::time::Instant, Option<std::time::Instant>)> =
        HashMap::new();
    let spinner = ProgressStyle::with_template("{spinner} {prefix:.bold} {wide_msg} {elapsed:>4}")
        .expect("valid template");
    let bar_style = ProgressStyle::with_template(
        "{spinner} {prefix:.bold} [{bar:24}] {pos}/{len} {wide_msg} {elapsed:>4}",
    )
    .expect("valid template")
    .progress_chars("=> ");
    let stderr = std::io::stderr();
    let say = |line: String| {
        if tty {
            // Clear the spinners, print a plain line, redraw them.
            multi.suspend(|| eprintln!("{line}"));
        } else {
            let _ = writeln!(stderr.lock(), "{line}");
        }
    };
    while let Some(event) = events.recv().await {
        match event {
            StepEvent::Started { step } => {
                if tty {
                    let bar = multi.add(
                        ProgressBar::new_spinner()
                            .with_style(spinner.clone())
                            .with_prefix(step.clone())
                            .with_message("running"),
                    );
                    bar.enable_steady_tick(Duration::from_millis(100));
                    bars.insert(step, bar);
                } else {
                    say(format!("[{step}] started"));
                    started.insert(step, (std::time::Instant::now(), None));
                }
            }
            StepEvent::Progress { step, slot } => {
                let Some(p) = slot.take() else { continue };
                if let Some(bar) = bars.get(&step) {
                    if p.total > 0 {
                        if bar.length().is_none() {
                            bar.set_style(bar_style.clone());
                        }
                        bar.set_length(p.total);
                        bar.set_position(p.done.min(p.total));
                    }
                    bar.set_message(clean(&p.message).into_owned());
                } else if let Some((start, last)) = started.get_mut(&step) {
                    let now = std::time::Instant::now();
                    if last.is_none_or(|l| now.duration_since(l) >= progress_every)
                        && now.duration_since(*start) >= progress_every
                    {
                        *last = Some(now);
                        say(progress_line(&step, &p, now.duration_since(*start)));
                    }
                }
            }
            StepEvent::Log {
                step,
                level,
                message,
            } => {
                if level >= LogLevel::Info && level <= LogLevel::Error {
                    let shown: String = message.chars().take(CONSOLE_LINE).collect();
                    let more = if shown.len() < message.len() {
                        " … (the whole line is in the step's log)"
                    } else {
                        ""
                    };
                    let first = format!("[{step}] {}: ", level.name());
                    let next = format!("[{step}] {:>w$} ", "|", w = level.name().len() + 1);
                    say(format!("{}{more}", terminal::lines(&first, &next, &shown)));
                }
            }
            StepEvent::Finished {
                step,
                status,
                duration,
                findings,
                cached_from,
            } => {
                let line = match cached_from {
                    Some(run) => format!(
                        "[{step}] cached from run {run}: {status} in {}{}",
                        format_elapsed(duration),
                        plural_findings(findings)
                    ),
                    None => format!(
                        "[{step}] {status} in {}{}",
                        format_elapsed(duration),
                        plural_findings(findings)
                    ),
                };
                started.remove(&step);
                match bars.remove(&step) {
                    Some(bar) => {
                        bar.finish_and_clear();
                        say(line);
                    }
                    None => say(line),
                }
            }
        }
    }
}

/// The first line of `text`, masked, cleaned, cut to `max` characters (masked before it is
/// cut: a cut through a secret would hide it from the console's masker).
fn truncate(masker: &crate::sandbox::secrets::Masker, text: &str, max: usize) -> String {
    let text = masker.mask(text);
    let line = text.lines().next().unwrap_or_default();
    let line = clean(line);
    if line.chars().count() <= max && !text.contains('\n') {
        return line.into_owned();
    }
    let cut: String = line.chars().take(max - 1).collect();
    format!("{cut}…")
}

/// A step's active findings to list: all of them, or at most `max`, the most severe first
/// (then by place); and how many are left out.
pub fn most_severe(step: &crate::exec::StepReport, max: Option<usize>) -> (Vec<&Finding>, usize) {
    let mut active: Vec<&Finding> = step.findings.iter().filter(|f| f.is_active()).collect();
    let mut more = 0;
    if let Some(max) = max
        && active.len() > max
    {
        active.sort_by_key(|f| {
            (
                std::cmp::Reverse(f.severity),
                f.span.as_ref().map(|s| (s.path.as_str(), s.line, s.column)),
            )
        });
        more = active.len() - max;
        active.truncate(max);
    }
    (active, more)
}

fn plural_findings(n: usize) -> String {
    match n {
        0 => String::new(),
        1 => " (1 finding)".into(),
        n => format!(" ({n} findings)"),
    }
}

/// How many active findings of each step the console lists unless told otherwise (as
/// golangci-lint's `max-issues-per-linter`): a linter over a big tree can report hundreds of
/// thousands, which belong in the run record and the SARIF logs, not on a terminal.
pub const DEFAULT_MAX_FINDINGS: usize = 50;

/// The final summary: a table of steps, the findings grouped by file (at most `max_findings`
/// of each step, the most severe first; `None` lists all), what went wrong, and one closing
/// line.
/// Bytes as people read them: `812 B`, `9.8 MB`.
pub fn human_size(b: u64) -> String {
    match b {
        0..1_000 => format!("{b} B"),
        1_000..1_000_000 => format!("{:.1} kB", b as f64 / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1} MB", b as f64 / 1e6),
        _ => format!("{:.1} GB", b as f64 / 1e9),
    }
}

/// What the step-result cache did with each step, and why (`sluice run --explain-cache`).
pub fn explain_cache(report: &RunReport) -> String {
    let mut out = String::from("step cache:\n");
    let width = report.steps.iter().map(|s| s.id.len()).max().unwrap_or(0);
    for s in &report.steps {
        let (outcome, why) = match &s.cache {
            Some(c) => {
                let mut why = c.why.clone();
                if c.outcome == "miss" {
                    why.push_str(if c.recorded {
                        " → ran, recorded"
                    } else {
                        " → ran"
                    });
                }
                (c.outcome, why)
            }
            None => ("-", "not started".to_string()),
        };
        let why = clean(&report.masker.mask(&why)).into_owned();
        out.push_str(&format!("  {:<width$}  {outcome:<4}  {why}\n", s.id));
    }
    out.push('\n');
    out
}

/// The end-of-run summary.
pub fn summary(report: &RunReport, max_findings: Option<usize>) -> String {
    let mut out = String::new();
    let rows: Vec<[String; 5]> = report
        .steps
        .iter()
        .map(|s| {
            [
                s.id.clone(),
                match &s.cache {
                    Some(c) if c.outcome == "hit" => format!("{} (cached)", s.status.name()),
                    _ => s.status.name().to_string(),
                },
                s.duration.map_or_else(|| "-".into(), format_elapsed),
                s.active_findings().to_string(),
                truncate(
                    &report.masker,
                    if s.summary.is_empty() {
                        s.error.as_deref().unwrap_or_default()
                    } else {
                        &s.summary
                    },
                    80,
                ),
            ]
        })
        .collect();
    let header = ["STEP", "STATUS", "TIME", "FINDINGS", "SUMMARY"];
    let widths: Vec<usize> = (0..4)
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: [&str; 5]| {
        format!(
            "{:<w0$}  {:<w1$}  {:>w2$}  {:>w3$}  {}",
            cells[0],
            cells[1],
            cells[2],
            cells[3],
            cells[4],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3]
        )
        .trim_end()
        .to_string()
    };
    writeln!(out, "{}", line(header)).unwrap();
    for r in &rows {
        writeln!(out, "{}", line([&r[0], &r[1], &r[2], &r[3], &r[4]])).unwrap();
    }
    let net: Vec<String> = report
        .steps
        .iter()
        .filter_map(|s| Some((s, s.egress.as_ref()?)))
        .flat_map(|(s, e)| {
            e.totals.iter().map(move |t| {
                let denied = if t.denied > 0 {
                    format!(" ({} denied)", t.denied)
                } else {
                    String::new()
                };
                format!(
                    "  {}  net: {} request{} to {}, {} up, {} down{denied}",
                    s.id,
                    t.requests,
                    if t.requests == 1 { "" } else { "s" },
                    clean(&t.origin),
                    human_size(t.bytes_up),
                    human_size(t.bytes_down)
                )
            })
        })
        .collect();
    if !net.is_empty() {
        writeln!(out, "\nnetwork:").unwrap();
        for l in net {
            writeln!(out, "{l}").unwrap();
        }
    }

    let mut findings: Vec<(&str, &Finding)> = Vec::new();
    let mut unlisted: Vec<(&str, usize)> = Vec::new();
    for s in &report.steps {
        let (active, more) = most_severe(s, max_findings);
        if more > 0 {
            unlisted.push((s.id.as_str(), more));
        }
        findings.extend(active.into_iter().map(|f| (s.id.as_str(), f)));
    }
    let total_active: usize = report.steps.iter().map(|s| s.active_findings()).sum();
    let suppressed: usize = report
        .steps
        .iter()
        .map(|s| s.findings.len() - s.active_findings())
        .sum();
    if !findings.is_empty() {
        writeln!(out, "\nfindings ({total_active}):").unwrap();
        let mut by_file: BTreeMap<&str, Vec<(&str, &Finding)>> = BTreeMap::new();
        for (step, f) in findings {
            by_file
                .entry(f.span.as_ref().map_or("", |s| s.path.as_str()))
                .or_default()
                .push((step, f));
        }
        for (file, mut items) in by_file {
            items.sort_by_key(|(_, f)| f.span.as_ref().map(|s| (s.line, s.column)));
            writeln!(
                out,
                "  {}",
                if file.is_empty() {
                    "(no location)".into()
                } else {
                    clean(file)
                }
            )
            .unwrap();
            for (step, f) in items {
                let place = f.span.as_ref().map_or_else(String::new, |s| {
                    format!("{}:{}:{}  ", clean(&s.path), s.line, s.column)
                });
                let confidence = f.confidence.map_or_else(String::new, |c| {
                    format!(", confidence {}", crate::types::confidence_level(c))
                });
                let tags = if f.tags.is_empty() {
                    String::new()
                } else {
                    format!(", {}", clean(&f.tags.join(", ")))
                };
                writeln!(
                    out,
                    "    {place}{}  {}  {}  [{step}{confidence}{tags}]",
                    f.severity.name(),
                    clean(&f.rule),
                    clean(&f.message)
                )
                .unwrap();
            }
        }
    }
    for (step, n) in &unlisted {
        writeln!(
            out,
            "\n{n} more finding{} of step `{step}` not listed (the most severe are above; all are in \
             the run record and the step's `sarif` output; `--max-findings 0` lists every one)",
            if *n == 1 { "" } else { "s" }
        )
        .unwrap();
    }
    if suppressed > 0 {
        writeln!(
            out,
            "\n{suppressed} suppressed finding{} not shown (they are in the run record and the SARIF logs)",
            if suppressed == 1 { "" } else { "s" }
        )
        .unwrap();
    }

    let problems: Vec<String> = report
        .steps
        .iter()
        .filter(|s| s.status != Status::Passed)
        .map(|s| {
            let why = s.error.clone().unwrap_or_default();
            let why = why.strip_prefix("skipped: ").unwrap_or(&why);
            format!("  step `{}` {}: {}", s.id, s.status.name(), clean(why))
        })
        .collect();
    if !problems.is_empty() {
        writeln!(out, "\nproblems:").unwrap();
        for p in problems {
            writeln!(out, "{p}").unwrap();
        }
    }

    let count = |st: Status| report.steps.iter().filter(|s| s.status == st).count();
    let total = report.steps.len();
    let elapsed = format_elapsed(report.duration);
    let verdict = if report.cancelled {
        format!(
            "cancelled: {} of {total} steps passed before the run was stopped ({elapsed})",
            count(Status::Passed)
        )
    } else if report.passed() {
        format!(
            "passed: {total} step{} in {elapsed}",
            if total == 1 { "" } else { "s" }
        )
    } else {
        let mut parts = Vec::new();
        for st in [
            Status::Failed,
            Status::Errored,
            Status::Cancelled,
            Status::Skipped,
        ] {
            let n = count(st);
            if n > 0 {
                parts.push(format!("{n} {}", st.name()));
            }
        }
        format!(
            "failed: {} of {total} passed, {} ({elapsed})",
            count(Status::Passed),
            parts.join(", ")
        )
    };
    writeln!(out, "\n{verdict}").unwrap();
    out
}
