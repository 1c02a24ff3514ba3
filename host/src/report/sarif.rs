//! The one SARIF 2.1.0 writer: every step's findings, with its plugin's rule metadata, become
//! a run of a SARIF log (the step's `sarif` output; `sluice run --sarif` writes all steps in
//! one log).
//!
//! Locations are relative to the workspace (`uriBaseId` `%SRCROOT%`). Plugins report byte
//! columns with an inclusive end; SARIF wants UTF-16 columns (its default `columnKind`) with an
//! exclusive end, so the writer reads each line it points into and converts. Suppressed
//! findings are kept, with an `inSource` suppression, as code-scanning tools expect.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::{Value as Json, json};

use crate::types::{Finding, PluginInfo, Rule, Severity, confidence_level};

/// The schema URI written in every log.
pub const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// One step's contribution: a SARIF run.
pub struct RunInput<'a> {
    /// The step id (becomes `automationDetails.id`).
    pub step: &'a str,
    /// The plugin's description and rules.
    pub plugin: &'a PluginInfo,
    /// The findings, suppressed ones included.
    pub findings: &'a [Finding],
}

/// Writes a SARIF log with one run per step. `workspace` is the directory finding paths are
/// relative to; it is read to convert columns and recorded as `%SRCROOT%`.
pub fn log(workspace: &Path, runs: &[RunInput<'_>]) -> Json {
    let mut lines = LineCache::new(workspace);
    json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": runs.iter().map(|r| run(workspace, r, &mut lines)).collect::<Vec<_>>(),
    })
}

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Note => "note",
        Severity::Warning => "warning",
        Severity::Error => "error",
    }
}

fn run(workspace: &Path, input: &RunInput<'_>, lines: &mut LineCache) -> Json {
    let mut rules: Vec<Rule> = input.plugin.rules.clone();
    let mut index: HashMap<String, usize> = rules
        .iter()
        .enumerate()
        .map(|(i, r)| (r.id.clone(), i))
        .collect();
    // Rules a finding uses but the plugin did not document still get an entry, so that every
    // result has a ruleIndex.
    for f in input.findings {
        if !index.contains_key(&f.rule) {
            index.insert(f.rule.clone(), rules.len());
            rules.push(Rule {
                id: f.rule.clone(),
                name: String::new(),
                summary: String::new(),
                help: String::new(),
                severity: f.severity,
                confidence: None,
                tags: Vec::new(),
                security_severity: None,
            });
        }
    }
    let mut root = workspace.display().to_string();
    if !root.ends_with('/') {
        root.push('/');
    }
    json!({
        "tool": {
            "driver": {
                "name": input.plugin.name,
                "version": input.plugin.version,
                "semanticVersion": input.plugin.version,
                "informationUri": "https://github.com/sluice-ci/sluice",
                "fullDescription": { "text": input.plugin.description },
                "rules": rules.iter().map(rule).collect::<Vec<_>>(),
            }
        },
        "automationDetails": { "id": format!("sluice/{}/", input.step) },
        "originalUriBaseIds": {
            "%SRCROOT%": { "uri": format!("file://{}", uri_escape(&root)) }
        },
        "columnKind": "utf16CodeUnits",
        "results": input
            .findings
            .iter()
            .map(|f| result(f, index[&f.rule], lines))
            .collect::<Vec<_>>(),
    })
}

fn rule(r: &Rule) -> Json {
    let mut out = json!({
        "id": r.id,
        "defaultConfiguration": { "level": level(r.severity) },
    });
    if !r.name.is_empty() {
        out["name"] = json!(r.name);
    }
    if !r.summary.is_empty() {
        out["shortDescription"] = json!({ "text": r.summary });
        out["fullDescription"] = json!({ "text": r.summary });
    }
    if !r.help.is_empty() {
        out["help"] = json!({ "text": r.help, "markdown": r.help });
    }
    let mut props = serde_json::Map::new();
    if !r.tags.is_empty() {
        let mut tags = r.tags.clone();
        tags.dedup();
        props.insert("tags".into(), json!(tags));
    }
    if let Some(c) = r.confidence {
        props.insert("precision".into(), json!(confidence_level(c)));
    }
    if let Some(s) = r.security_severity {
        // Code-scanning tools read it as a string holding a number.
        props.insert("security-severity".into(), json!(format!("{s:.1}")));
    }
    if !props.is_empty() {
        out["properties"] = Json::Object(props);
    }
    out
}

fn result(f: &Finding, rule_index: usize, lines: &mut LineCache) -> Json {
    let mut out = json!({
        "ruleId": f.rule,
        "ruleIndex": rule_index,
        "level": level(f.severity),
        "message": { "text": f.message },
    });
    if let Some(span) = &f.span {
        let start_line = span.line.max(1);
        let mut region = json!({
            "startLine": start_line,
            "startColumn": lines.utf16_column(&span.path, start_line, span.column.max(1)),
        });
        if span.end_line >= start_line && span.end_column > 0 {
            region["endLine"] = json!(span.end_line);
            // Inclusive byte column to exclusive UTF-16 column.
            region["endColumn"] =
                json!(lines.utf16_column(&span.path, span.end_line, span.end_column + 1));
        }
        out["locations"] = json!([{
            "physicalLocation": {
                "artifactLocation": { "uri": uri_escape(&span.path), "uriBaseId": "%SRCROOT%" },
                "region": region,
            }
        }]);
    }
    let mut props = serde_json::Map::new();
    if let Some(c) = f.confidence {
        props.insert("confidence".into(), json!(c));
    }
    if !f.tags.is_empty() {
        props.insert("tags".into(), json!(f.tags));
    }
    if !props.is_empty() {
        out["properties"] = Json::Object(props);
    }
    if let Some(s) = &f.suppression {
        let mut sup = json!({ "kind": "inSource", "status": "accepted" });
        if !s.justification.is_empty() {
            sup["justification"] = json!(s.justification);
        }
        sup["properties"] = json!({ "annotation": s.annotation });
        out["suppressions"] = json!([sup]);
    }
    out
}

/// Percent-encodes what may not appear in a URI reference (keeps `/`).
fn uri_escape(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=:@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A file's bytes and the offsets where its lines start.
type Lines = (Vec<u8>, Vec<usize>);

/// Workspace files read on demand, with their line starts, for column conversion.
struct LineCache {
    root: PathBuf,
    /// By workspace-relative path: the bytes and line starts, or `None` when unreadable.
    files: HashMap<String, Option<Lines>>,
}

impl LineCache {
    fn new(root: &Path) -> Self {
        LineCache {
            root: root.to_path_buf(),
            files: HashMap::new(),
        }
    }

    /// The UTF-16 column of 1-based byte column `column` on 1-based `line` of `path`; the
    /// byte column itself when the file cannot be read or the position is outside it.
    fn utf16_column(&mut self, path: &str, line: u32, column: u32) -> u32 {
        let root = &self.root;
        let file = self.files.entry(path.to_string()).or_insert_with(|| {
            // Only paths inside the workspace are read.
            if path.starts_with('/') || path.split('/').any(|c| c == "..") {
                return None;
            }
            let text = std::fs::read(root.join(path)).ok()?;
            let starts = std::iter::once(0).chain(newline_ends(&text)).collect();
            Some((text, starts))
        });
        let Some((text, starts)) = file else {
            return column;
        };
        let Some(&start) = (line as usize).checked_sub(1).and_then(|i| starts.get(i)) else {
            return column;
        };
        let end = (start + column as usize - 1).min(text.len());
        match std::str::from_utf8(&text[start.min(end)..end]) {
            Ok(prefix) => prefix.encode_utf16().count() as u32 + 1,
            Err(_) => column,
        }
    }
}

/// The offsets just after each newline.
fn newline_ends(text: &[u8]) -> impl Iterator<Item = usize> + '_ {
    text.iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .map(|(i, _)| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Span, Suppression};

    #[test]
    fn columns_become_utf16_and_ends_exclusive() {
        let dir = std::env::temp_dir().join(format!("sluice-sarif-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("a.go"), "x := \"héllo\" + y\n").unwrap();
        let plugin = PluginInfo {
            name: "t".into(),
            version: "1.0.0".into(),
            description: "test".into(),
            inputs: vec![],
            outputs: vec![],
            wants: vec![],
            rules: vec![],
        };
        let finding = Finding {
            rule: "R1".into(),
            severity: Severity::Warning,
            message: "m".into(),
            // `y` is at byte 17 (é is two bytes), UTF-16 column 16.
            span: Some(Span {
                path: "a.go".into(),
                line: 1,
                column: 17,
                end_line: 1,
                end_column: 17,
            }),
            tags: vec![],
            confidence: Some(0.9),
            suppression: Some(Suppression {
                annotation: "#nosec".into(),
                justification: "fine".into(),
            }),
        };
        let log = log(
            &dir,
            &[RunInput {
                step: "s",
                plugin: &plugin,
                findings: std::slice::from_ref(&finding),
            }],
        );
        let region = &log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"];
        assert_eq!(region["startColumn"], 16);
        assert_eq!(region["endColumn"], 17);
        assert_eq!(log["runs"][0]["tool"]["driver"]["rules"][0]["id"], "R1");
        assert_eq!(
            log["runs"][0]["results"][0]["suppressions"][0]["justification"],
            "fine"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
