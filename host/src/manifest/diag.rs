//! Diagnostics about a manifest: a message, the step it concerns, the span in `sluice.toml`
//! it points at, and the fix.

use std::fmt;
use std::ops::Range;

use annotate_snippets::{AnnotationKind, Group, Level, Origin, Renderer, Snippet};

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The pipeline cannot run.
    Error,
    /// The pipeline runs, but something is probably not what the author meant.
    Warning,
}

/// One problem found in a manifest.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// What is wrong, in one sentence.
    pub message: String,
    /// The step concerned, if any.
    pub step: Option<String>,
    /// Byte range in the manifest source.
    #[serde(skip)]
    pub span: Option<Range<usize>>,
    /// A short label shown under the caret.
    pub label: String,
    /// How to fix it.
    pub help: Option<String>,
}

impl Diagnostic {
    /// An error at `span`.
    pub fn error(message: impl Into<String>, span: Option<Range<usize>>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            step: None,
            span,
            label: String::new(),
            help: None,
        }
    }

    /// A warning at `span`.
    pub fn warning(message: impl Into<String>, span: Option<Range<usize>>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Self::error(message, span)
        }
    }

    /// Names the step concerned.
    pub fn step(mut self, step: impl Into<String>) -> Self {
        self.step = Some(step.into());
        self
    }

    /// Sets the label under the caret.
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    /// Says how to fix it.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Whether it is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Renders it against the manifest source, like a compiler error:
    /// `error: ...`, ` --> sluice.toml:12:9`, the line and a caret, then the help.
    pub fn render(&self, path: &str, source: &str) -> String {
        let title = match &self.step {
            Some(step) => format!("step `{step}`: {}", self.message),
            None => self.message.clone(),
        };
        let level = match self.severity {
            Severity::Error => Level::ERROR,
            Severity::Warning => Level::WARNING,
        };
        let title = level.primary_title(title);
        let group = match &self.span {
            Some(span) => title.element(
                Snippet::source(source).path(path).fold(true).annotation(
                    AnnotationKind::Primary
                        .span(clamp_span(source, span.clone()))
                        .label(&self.label),
                ),
            ),
            None => Group::with_title(title).element(Origin::path(path)),
        };
        let mut report: Vec<Group> = vec![group];
        if let Some(help) = &self.help {
            report.push(Group::with_title(Level::HELP.secondary_title(help)));
        }
        Renderer::plain().render(&report).to_string()
    }
}

/// Keeps a span within the source and on character boundaries; an empty span at the end
/// of the file points at the last character so the caret has something to stand under.
fn clamp_span(source: &str, span: Range<usize>) -> Range<usize> {
    let mut start = span.start.min(source.len());
    let mut end = span.end.clamp(start, source.len());
    while !source.is_char_boundary(start) {
        start -= 1;
    }
    while !source.is_char_boundary(end) {
        end += 1;
    }
    if start == end && start == source.len() && start > 0 {
        start = source[..start]
            .char_indices()
            .next_back()
            .map_or(0, |(i, _)| i);
        end = source.len();
    }
    start..end
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, source[line_start..offset].chars().count() + 1)
}

/// All diagnostics of one validation, in source order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// Adds one.
    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.0.push(diagnostic);
    }

    /// Whether any is an error.
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(Diagnostic::is_error)
    }

    /// The number of errors.
    pub fn error_count(&self) -> usize {
        self.0.iter().filter(|d| d.is_error()).count()
    }

    /// Sorts by position (diagnostics without a span last), keeping insertion order otherwise.
    pub fn sort(&mut self) {
        self.0
            .sort_by_key(|d| d.span.as_ref().map_or(usize::MAX, |s| s.start));
    }

    /// Renders all of them, followed by a one-line count.
    pub fn render(&self, path: &str, source: &str) -> String {
        let mut out = String::new();
        for d in &self.0 {
            out.push_str(&d.render(path, source));
            out.push_str("\n\n");
        }
        let errors = self.error_count();
        let warnings = self.0.len() - errors;
        let plural = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
        if errors > 0 {
            out.push_str(&format!(
                "error: {path} is invalid: {}{}\n",
                plural(errors, "error"),
                if warnings > 0 {
                    format!(", {}", plural(warnings, "warning"))
                } else {
                    String::new()
                }
            ));
        }
        out
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.0 {
            writeln!(f, "{}", d.message)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_from_one() {
        let src = "a = 1\nbb = 2\n";
        assert_eq!(line_col(src, 0), (1, 1));
        assert_eq!(line_col(src, 6), (2, 1));
        assert_eq!(line_col(src, 8), (2, 3));
    }

    #[test]
    fn renders_location_caret_and_help() {
        let src = "[steps.a]\nusez = \"x\"\n";
        let d = Diagnostic::error("unknown field `usez`", Some(10..14))
            .step("a")
            .label("unknown field")
            .help("did you mean `uses`?");
        let out = d.render("sluice.toml", src);
        assert!(
            out.contains("error: step `a`: unknown field `usez`"),
            "{out}"
        );
        assert!(out.contains("--> sluice.toml:2:1"), "{out}");
        assert!(out.contains("^^^^ unknown field"), "{out}");
        assert!(out.contains("help: did you mean `uses`?"), "{out}");
    }
}
