//! The one SARIF 2.1.0 writer: every step's findings, with its plugin's rule metadata, become
//! a run of a SARIF log (the step's `sarif` output).
//!
//! Locations are relative to the workspace (`uriBaseId` `%SRCROOT%`). Plugins report byte
//! columns with an inclusive end; SARIF wants UTF-16 columns (its default `columnKind`) with an
//! exclusive end, so the writer reads each file findings point into and converts. It reads
//! them through a [`LineSource`]: for a step, [`StepFiles`], which sees only what the step
//! was granted, regular files only, capped, until the step's deadline. A finding pointing
//! anywhere else keeps its byte columns: the log reveals nothing the step could not read.
//! Every string of the log goes through the masker. Suppressed
//! findings are kept, with an `inSource` suppression, as code-scanning tools expect.
//!
//! The log is serialized straight from borrowed structs: a step may report hundreds of
//! thousands of findings, and an intermediate JSON tree cost seconds and gigabytes there.

use std::cell::Cell;
use std::collections::HashMap;
use std::path::Path;

use serde::Serialize;

use crate::sandbox::Mount;
use crate::sandbox::fs::{WORKSPACE, copy_bounded, open_read};
use crate::sandbox::limits::Deadline;
use crate::sandbox::secrets::{Masked, Masker};
use crate::types::{Finding, PluginInfo, Rule, Severity, confidence_level};

/// The largest file whose columns are converted.
pub const MAX_FILE_BYTES: u64 = 16 << 20;
/// The most bytes read for one step's log, over all its files.
pub const MAX_TOTAL_BYTES: u64 = 256 << 20;

/// Where the writer reads the files that findings point into.
pub trait LineSource {
    /// The bytes of the workspace-relative `path`, or `None` when it may not or cannot be
    /// read.
    fn read(&self, path: &str) -> Option<Vec<u8>>;
}

/// A step's own files: through its mounts, regular files only, at most
/// [`MAX_FILE_BYTES`] each and [`MAX_TOTAL_BYTES`] in all, until its deadline.
pub struct StepFiles<'a> {
    mounts: &'a [Mount],
    deadline: &'a Deadline,
    left: Cell<u64>,
}

impl<'a> StepFiles<'a> {
    /// The files visible through `mounts`.
    pub fn new(mounts: &'a [Mount], deadline: &'a Deadline) -> Self {
        StepFiles {
            mounts,
            deadline,
            left: Cell::new(MAX_TOTAL_BYTES),
        }
    }
}

impl LineSource for StepFiles<'_> {
    fn read(&self, path: &str) -> Option<Vec<u8>> {
        if path.starts_with('/') || path.split('/').any(|c| c == "..") {
            return None;
        }
        let (mut file, size) = open_read(self.mounts, &format!("{WORKSPACE}/{path}")).ok()?;
        let limit = MAX_FILE_BYTES.min(self.left.get());
        if size > limit {
            return None;
        }
        let mut bytes = Vec::with_capacity(size as usize);
        let deadline = self.deadline;
        let n = copy_bounded(&mut file, &mut bytes, limit, &|| deadline.check().is_some()).ok()?;
        self.left.set(self.left.get() - n);
        Some(bytes)
    }
}

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
    /// Where the files the findings point into are read from.
    pub files: &'a dyn LineSource,
}

/// Writes a SARIF log with one run per step to `out` (compact JSON), masked. `workspace` is
/// the directory finding paths are relative to, recorded as `%SRCROOT%`.
pub fn write(
    workspace: &Path,
    runs: &[RunInput<'_>],
    masker: &Masker,
    out: impl std::io::Write,
) -> serde_json::Result<()> {
    let log = Log {
        schema: SCHEMA,
        version: "2.1.0",
        runs: runs.iter().map(|r| run(workspace, r)).collect(),
    };
    serde_json::to_writer(out, &Masked(&log, masker))
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

fn run<'a>(workspace: &Path, input: &RunInput<'a>) -> Run<'a> {
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
    let columns = columns(input.findings, input.files);
    let results = input
        .findings
        .iter()
        .zip(columns)
        .map(|(f, cols)| result(f, index[f.rule.as_str()], cols))
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

/// UTF-16 start and (exclusive) end columns of each finding's span, reading each file once
/// and holding one file at a time.
fn columns(findings: &[Finding], files: &dyn LineSource) -> Vec<(u32, Option<u32>)> {
    let mut cols: Vec<(u32, Option<u32>)> = findings
        .iter()
        .map(|f| match &f.span {
            Some(s) => {
                let has_end = s.end_line >= s.line.max(1) && s.end_column > 0;
                (s.column.max(1), has_end.then_some(s.end_column + 1))
            }
            None => (1, None),
        })
        .collect();
    let mut by_path: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, f) in findings.iter().enumerate() {
        if let Some(s) = &f.span {
            by_path.entry(s.path.as_str()).or_default().push(i);
        }
    }
    for (path, indices) in by_path {
        let Some(text) = files.read(path) else {
            continue;
        };
        let starts: Vec<usize> = std::iter::once(0).chain(newline_ends(&text)).collect();
        for i in indices {
            let s = findings[i].span.as_ref().expect("grouped by span");
            let start_line = s.line.max(1);
            cols[i].0 = utf16_column(&text, &starts, start_line, cols[i].0);
            if let Some(end) = cols[i].1 {
                cols[i].1 = Some(utf16_column(&text, &starts, s.end_line, end));
            }
        }
    }
    cols
}

fn result(f: &Finding, rule_index: usize, cols: (u32, Option<u32>)) -> SarifResult<'_> {
    let locations = f
        .span
        .iter()
        .map(|span| {
            let start_line = span.line.max(1);
            Location {
                physical_location: PhysicalLocation {
                    artifact_location: ArtifactLocation {
                        uri: uri_escape(&span.path),
                        uri_base_id: "%SRCROOT%",
                    },
                    region: Region {
                        start_line,
                        start_column: cols.0,
                        end_line: cols.1.map(|_| span.end_line),
                        // Inclusive byte column to exclusive UTF-16 column.
                        end_column: cols.1,
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
    crate::sandbox::secrets::percent_encode(path, b"-._~/!$&'()*+,;=:@")
}

/// The UTF-16 column of 1-based byte column `column` on 1-based `line` of `text`; the byte
/// column itself when the position is outside the text or splits a character.
fn utf16_column(text: &[u8], starts: &[usize], line: u32, column: u32) -> u32 {
    let Some(&start) = (line as usize).checked_sub(1).and_then(|i| starts.get(i)) else {
        return column;
    };
    let end = (start + column as usize - 1).min(text.len());
    match std::str::from_utf8(&text[start.min(end)..end]) {
        Ok(prefix) => prefix.encode_utf16().count() as u32 + 1,
        Err(_) => column,
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
        let mount = Mount::open_host(&dir, WORKSPACE, false).unwrap();
        let deadline = Deadline {
            at: std::time::Instant::now() + std::time::Duration::from_secs(60),
            cancel: Default::default(),
        };
        let files = StepFiles::new(std::slice::from_ref(&mount), &deadline);
        write(
            &dir,
            &[RunInput {
                step: "s",
                plugin: &plugin,
                findings: std::slice::from_ref(&finding),
                files: &files,
            }],
            &Masker::default(),
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
