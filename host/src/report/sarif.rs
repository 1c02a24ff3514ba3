//! The one SARIF 2.1.0 writer: every step's findings, with its plugin's rule metadata, become
//! a run of a SARIF log (the step's `sarif` output).
//!
//! Locations are relative to the workspace (`uriBaseId` `%SRCROOT%`). Plugins report byte
//! columns with an inclusive end; SARIF wants UTF-16 columns (its default `columnKind`) with an
//! exclusive end, so the writer reads each line it points into and converts. Suppressed
//! findings are kept, with an `inSource` suppression, as code-scanning tools expect.
//!
//! The log is serialized straight from borrowed structs: a step may report hundreds of
//! thousands of findings, and an intermediate JSON tree cost seconds and gigabytes there.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

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

/// Writes a SARIF log with one run per step to `out` (compact JSON). `workspace` is the
/// directory finding paths are relative to; it is read to convert columns and recorded as
/// `%SRCROOT%`.
pub fn write(
    workspace: &Path,
    runs: &[RunInput<'_>],
    out: impl std::io::Write,
) -> serde_json::Result<()> {
    let mut lines = LineCache::new(workspace);
    let log = Log {
        schema: SCHEMA,
        version: "2.1.0",
        runs: runs.iter().map(|r| run(workspace, r, &mut lines)).collect(),
    };
    serde_json::to_writer(out, &log)
}

#[derive(Serialize)]
struct Log<'a> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: Vec<Run<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Run<'a> {
    tool: Tool<'a>,
    automation_details: AutomationDetails,
    original_uri_base_ids: HashMap<&'static str, Uri>,
    column_kind: &'static str,
    results: Vec<SarifResult<'a>>,
}

#[derive(Serialize)]
struct Tool<'a> {
    driver: Driver<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Driver<'a> {
    name: &'a str,
    version: &'a str,
    semantic_version: &'a str,
    information_uri: &'static str,
    full_description: Text<'a>,
    rules: Vec<RuleDescriptor<'a>>,
}

#[derive(Serialize)]
struct AutomationDetails {
    id: String,
}

#[derive(Serialize)]
struct Uri {
    uri: String,
}

#[derive(Serialize)]
struct Text<'a> {
    text: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RuleDescriptor<'a> {
    id: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    short_description: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    full_description: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    help: Option<Help<'a>>,
    default_configuration: Configuration,
    #[serde(skip_serializing_if = "RuleProperties::is_empty")]
    properties: RuleProperties<'a>,
}

#[derive(Serialize)]
struct Help<'a> {
    text: &'a str,
    markdown: &'a str,
}

#[derive(Serialize)]
struct Configuration {
    level: &'static str,
}

#[derive(Serialize)]
struct RuleProperties<'a> {
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    tags: Vec<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    precision: Option<&'static str>,
    /// Code-scanning tools read it as a string holding a number.
    #[serde(rename = "security-severity", skip_serializing_if = "Option::is_none")]
    security_severity: Option<String>,
}

impl RuleProperties<'_> {
    fn is_empty(&self) -> bool {
        self.tags.is_empty() && self.precision.is_none() && self.security_severity.is_none()
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult<'a> {
    rule_id: &'a str,
    rule_index: usize,
    level: &'static str,
    message: Text<'a>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    locations: Vec<Location>,
    #[serde(skip_serializing_if = "ResultProperties::is_empty")]
    properties: ResultProperties<'a>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    suppressions: Vec<SarifSuppression<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Location {
    physical_location: PhysicalLocation,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation {
    artifact_location: ArtifactLocation,
    region: Region,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ArtifactLocation {
    uri: String,
    uri_base_id: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Region {
    start_line: u32,
    start_column: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    end_line: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    end_column: Option<u32>,
}

#[derive(Serialize)]
struct ResultProperties<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    confidence: Option<f32>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    tags: &'a [String],
}

impl ResultProperties<'_> {
    fn is_empty(&self) -> bool {
        self.confidence.is_none() && self.tags.is_empty()
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifSuppression<'a> {
    kind: &'static str,
    status: &'static str,
    #[serde(skip_serializing_if = "str::is_empty")]
    justification: &'a str,
    properties: Annotation<'a>,
}

#[derive(Serialize)]
struct Annotation<'a> {
    annotation: &'a str,
}

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Note => "note",
        Severity::Warning => "warning",
        Severity::Error => "error",
    }
}

fn run<'a>(workspace: &Path, input: &RunInput<'a>, lines: &mut LineCache) -> Run<'a> {
    let mut index: HashMap<&str, usize> = input
        .plugin
        .rules
        .iter()
        .enumerate()
        .map(|(i, r)| (r.id.as_str(), i))
        .collect();
    let mut rules: Vec<RuleDescriptor<'a>> = input.plugin.rules.iter().map(rule).collect();
    // Rules a finding uses but the plugin did not document still get an entry, so that every
    // result has a ruleIndex.
    for f in input.findings {
        if !index.contains_key(f.rule.as_str()) {
            index.insert(&f.rule, rules.len());
            rules.push(RuleDescriptor {
                id: &f.rule,
                name: "",
                short_description: None,
                full_description: None,
                help: None,
                default_configuration: Configuration {
                    level: level(f.severity),
                },
                properties: RuleProperties {
                    tags: Vec::new(),
                    precision: None,
                    security_severity: None,
                },
            });
        }
    }
    let mut root = workspace.display().to_string();
    if !root.ends_with('/') {
        root.push('/');
    }
    let results = input
        .findings
        .iter()
        .map(|f| result(f, index[f.rule.as_str()], lines))
        .collect();
    Run {
        tool: Tool {
            driver: Driver {
                name: &input.plugin.name,
                version: &input.plugin.version,
                semantic_version: &input.plugin.version,
                information_uri: "https://github.com/sluice-ci/sluice",
                full_description: Text {
                    text: &input.plugin.description,
                },
                rules,
            },
        },
        automation_details: AutomationDetails {
            id: format!("sluice/{}/", input.step),
        },
        original_uri_base_ids: HashMap::from([(
            "%SRCROOT%",
            Uri {
                uri: format!("file://{}", uri_escape(&root)),
            },
        )]),
        column_kind: "utf16CodeUnits",
        results,
    }
}

fn rule(r: &Rule) -> RuleDescriptor<'_> {
    let summary = (!r.summary.is_empty()).then_some(r.summary.as_str());
    let mut tags: Vec<&str> = r.tags.iter().map(String::as_str).collect();
    tags.dedup();
    RuleDescriptor {
        id: &r.id,
        name: &r.name,
        short_description: summary.map(|text| Text { text }),
        full_description: summary.map(|text| Text { text }),
        help: (!r.help.is_empty()).then_some(Help {
            text: &r.help,
            markdown: &r.help,
        }),
        default_configuration: Configuration {
            level: level(r.severity),
        },
        properties: RuleProperties {
            tags,
            precision: r.confidence.map(confidence_level),
            security_severity: r.security_severity.map(|s| format!("{s:.1}")),
        },
    }
}

fn result<'a>(f: &'a Finding, rule_index: usize, lines: &mut LineCache) -> SarifResult<'a> {
    let locations = f
        .span
        .iter()
        .map(|span| {
            let start_line = span.line.max(1);
            let has_end = span.end_line >= start_line && span.end_column > 0;
            Location {
                physical_location: PhysicalLocation {
                    artifact_location: ArtifactLocation {
                        uri: uri_escape(&span.path),
                        uri_base_id: "%SRCROOT%",
                    },
                    region: Region {
                        start_line,
                        start_column: lines.utf16_column(
                            &span.path,
                            start_line,
                            span.column.max(1),
                        ),
                        end_line: has_end.then_some(span.end_line),
                        // Inclusive byte column to exclusive UTF-16 column.
                        end_column: has_end.then(|| {
                            lines.utf16_column(&span.path, span.end_line, span.end_column + 1)
                        }),
                    },
                },
            }
        })
        .collect();
    SarifResult {
        rule_id: &f.rule,
        rule_index,
        level: level(f.severity),
        message: Text { text: &f.message },
        locations,
        properties: ResultProperties {
            confidence: f.confidence,
            tags: &f.tags,
        },
        suppressions: f
            .suppression
            .iter()
            .map(|s| SarifSuppression {
                kind: "inSource",
                status: "accepted",
                justification: &s.justification,
                properties: Annotation {
                    annotation: &s.annotation,
                },
            })
            .collect(),
    }
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

    /// Reads a workspace file and finds its line starts; only paths inside the workspace.
    fn read(root: &Path, path: &str) -> Option<Lines> {
        if path.starts_with('/') || path.split('/').any(|c| c == "..") {
            return None;
        }
        let text = std::fs::read(root.join(path)).ok()?;
        let starts = std::iter::once(0).chain(newline_ends(&text)).collect();
        Some((text, starts))
    }

    /// The UTF-16 column of 1-based byte column `column` on 1-based `line` of `path`; the
    /// byte column itself when the file cannot be read or the position is outside it.
    fn utf16_column(&mut self, path: &str, line: u32, column: u32) -> u32 {
        if !self.files.contains_key(path) {
            let file = Self::read(&self.root, path);
            self.files.insert(path.to_string(), file);
        }
        let Some((text, starts)) = &self.files[path] else {
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
            options: None,
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
        let mut bytes = Vec::new();
        write(
            &dir,
            &[RunInput {
                step: "s",
                plugin: &plugin,
                findings: std::slice::from_ref(&finding),
            }],
            &mut bytes,
        )
        .unwrap();
        let log: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
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
