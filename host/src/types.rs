//! Host-side mirrors of the data in `wit/step.wit`, serializable for the run record and
//! `--json` output. The runtime converts between these and the generated bindings; nothing
//! else in the host sees wasmtime types.

use serde::{Deserialize, Serialize};

/// The kind of a value (`value-kind` in WIT).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ValueKind {
    /// UTF-8 text.
    Text,
    /// Signed 64-bit integer.
    Integer,
    /// 64-bit float.
    Number,
    /// Boolean.
    Boolean,
    /// A file moved by digest.
    Artifact,
    /// A JSON document.
    Json,
}

impl ValueKind {
    /// The kind's name as written in WIT and messages.
    pub fn name(self) -> &'static str {
        match self {
            ValueKind::Text => "text",
            ValueKind::Integer => "integer",
            ValueKind::Number => "number",
            ValueKind::Boolean => "boolean",
            ValueKind::Artifact => "artifact",
            ValueKind::Json => "json",
        }
    }
}

impl std::fmt::Display for ValueKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A declared input or output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Port {
    /// Its name.
    pub name: String,
    /// Its kind.
    pub kind: ValueKind,
    /// Whether it is required.
    pub required: bool,
    /// One line of documentation.
    pub description: String,
}

/// What `describe()` returned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PluginInfo {
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// One line of documentation.
    pub description: String,
    /// Declared inputs.
    pub inputs: Vec<Port>,
    /// Declared outputs.
    pub outputs: Vec<Port>,
    /// Wanted capabilities (`fs:read`, `fs:write`, `secret:<NAME>`).
    pub wants: Vec<String>,
    /// The rules its findings come from.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub rules: Vec<Rule>,
    /// The `with` keys it reads besides its inputs, when it declares them (then no other key
    /// is accepted).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub options: Option<Vec<ConfigOption>>,
}

/// A `with` key a plugin reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigOption {
    /// The key.
    pub name: String,
    /// What it sets.
    pub summary: String,
    /// The kind of value it takes (`any` when the plugin does not say).
    #[serde(default, skip_serializing_if = "OptionKind::is_any")]
    pub kind: OptionKind,
    /// Its default, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<serde_json::Value>,
}

/// The kind of value a `with` option takes.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OptionKind {
    /// A string.
    Text,
    /// A whole number.
    Integer,
    /// A number (whole or not).
    Number,
    /// `true` or `false`.
    Boolean,
    /// One of these strings.
    Choice(Vec<String>),
    /// A list of strings.
    TextList,
    /// A table.
    Table,
    /// Anything.
    #[default]
    Any,
}

impl OptionKind {
    fn is_any(&self) -> bool {
        *self == OptionKind::Any
    }

    /// How `sluice plugins` and error messages name it: `number`, `"set" | "count"`.
    pub fn describe(&self) -> String {
        match self {
            OptionKind::Text => "text".into(),
            OptionKind::Integer => "integer".into(),
            OptionKind::Number => "number".into(),
            OptionKind::Boolean => "boolean".into(),
            OptionKind::Choice(choices) => choices
                .iter()
                .map(|c| format!("{c:?}"))
                .collect::<Vec<_>>()
                .join(" | "),
            OptionKind::TextList => "list of text".into(),
            OptionKind::Table => "table".into(),
            OptionKind::Any => "any".into(),
        }
    }

    /// What a value must be, for messages: `a number`, `an integer`, `one of "a" | "b"`.
    pub fn expected(&self) -> String {
        match self {
            OptionKind::Choice(_) => format!("one of {}", self.describe()),
            OptionKind::Integer => "an integer".into(),
            OptionKind::Any => "anything".into(),
            other => format!("a {}", other.describe()),
        }
    }

    /// Whether `value` (a `with` value as JSON) is of this kind.
    pub fn accepts(&self, value: &serde_json::Value) -> bool {
        use serde_json::Value as J;
        match (self, value) {
            (OptionKind::Any, _) => true,
            (OptionKind::Text, J::String(_)) => true,
            (OptionKind::Integer, J::Number(n)) => n.is_i64() || n.is_u64(),
            (OptionKind::Number, J::Number(_)) => true,
            (OptionKind::Boolean, J::Bool(_)) => true,
            (OptionKind::Choice(choices), J::String(s)) => choices.iter().any(|c| c == s),
            (OptionKind::TextList, J::Array(items)) => items.iter().all(|i| i.is_string()),
            (OptionKind::Table, J::Object(_)) => true,
            _ => false,
        }
    }
}

/// What a `with` value is, for messages: `text "high"`, `a list`, `1.5`.
pub fn json_kind_name(value: &serde_json::Value) -> String {
    use serde_json::Value as J;
    let shown = |v: &serde_json::Value| {
        let s = v.to_string();
        if s.chars().count() > 40 {
            format!("{}…", s.chars().take(39).collect::<String>())
        } else {
            s
        }
    };
    match value {
        J::String(_) => format!("text {}", shown(value)),
        J::Number(n) if n.is_f64() => format!("the number {}", shown(value)),
        J::Number(_) => format!("the integer {}", shown(value)),
        J::Bool(b) => format!("the boolean {b}"),
        J::Array(_) => "a list".into(),
        J::Object(_) => "a table".into(),
        J::Null => "nothing".into(),
    }
}

impl PluginInfo {
    /// The declared input called `name`.
    pub fn input(&self, name: &str) -> Option<&Port> {
        self.inputs.iter().find(|p| p.name == name)
    }

    /// The declared output called `name`.
    pub fn output(&self, name: &str) -> Option<&Port> {
        self.outputs.iter().find(|p| p.name == name)
    }
}

/// An artifact in the content-addressed store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArtifactRef {
    /// `sha256:<hex>`.
    pub digest: String,
    /// The file name it was produced under (`/outputs/<name>`).
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// Media type, if the producer gave one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
}

/// A value produced by a step or set in the manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "lowercase")]
pub enum Value {
    /// Text.
    Text(String),
    /// Integer.
    Integer(i64),
    /// Number.
    Number(f64),
    /// Boolean.
    Boolean(bool),
    /// Artifact, by digest.
    Artifact(ArtifactRef),
    /// JSON, serialized.
    Json(String),
}

impl Value {
    /// Its kind.
    pub fn kind(&self) -> ValueKind {
        match self {
            Value::Text(_) => ValueKind::Text,
            Value::Integer(_) => ValueKind::Integer,
            Value::Number(_) => ValueKind::Number,
            Value::Boolean(_) => ValueKind::Boolean,
            Value::Artifact(_) => ValueKind::Artifact,
            Value::Json(_) => ValueKind::Json,
        }
    }

    /// How it reads inside an interpolated string.
    pub fn to_text(&self) -> String {
        match self {
            Value::Text(s) | Value::Json(s) => s.clone(),
            Value::Integer(i) => i.to_string(),
            Value::Number(n) => n.to_string(),
            Value::Boolean(b) => b.to_string(),
            Value::Artifact(a) => a.digest.clone(),
        }
    }

    /// The value as JSON, for the `config` document.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Text(s) => serde_json::Value::String(s.clone()),
            Value::Integer(i) => (*i).into(),
            Value::Number(n) => {
                serde_json::Number::from_f64(*n).map_or(serde_json::Value::Null, Into::into)
            }
            Value::Boolean(b) => (*b).into(),
            Value::Artifact(a) => serde_json::Value::String(a.digest.clone()),
            Value::Json(s) => {
                serde_json::from_str(s).unwrap_or_else(|_| serde_json::Value::String(s.clone()))
            }
        }
    }
}

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Informational.
    Note,
    /// Worth fixing.
    Warning,
    /// A defect.
    Error,
}

impl Severity {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Severity::Note => "note",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// A region of a file, relative to the workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    /// Workspace-relative path.
    pub path: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based byte column.
    pub column: u32,
    /// Inclusive end line, 0 if unknown.
    pub end_line: u32,
    /// Inclusive end column, 0 if unknown.
    pub end_column: u32,
}

/// One result of an analysis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Rule id.
    pub rule: String,
    /// Severity.
    pub severity: Severity,
    /// Message.
    pub message: String,
    /// Location.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub span: Option<Span>,
    /// Tags.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub tags: Vec<String>,
    /// How sure the rule is, 0.0 to 1.0.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub confidence: Option<f32>,
    /// Set when an annotation in the source suppresses the finding.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub suppression: Option<Suppression>,
}

impl Finding {
    /// Whether the finding counts (it is not suppressed).
    pub fn is_active(&self) -> bool {
        self.suppression.is_none()
    }
}

/// `low`, `medium` or `high` for a 0.0 to 1.0 confidence (below 0.5, below 0.8, above).
pub fn confidence_level(confidence: f32) -> &'static str {
    if confidence >= 0.8 {
        "high"
    } else if confidence >= 0.5 {
        "medium"
    } else {
        "low"
    }
}

/// Why a finding is suppressed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suppression {
    /// The annotation as written, e.g. `#nosec G101`.
    pub annotation: String,
    /// The justification after `--`, or empty.
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub justification: String,
}

/// What a plugin documents about one of its rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    /// The id findings carry.
    pub id: String,
    /// A kebab-case name.
    pub name: String,
    /// One line.
    pub summary: String,
    /// A paragraph of Markdown.
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub help: String,
    /// The usual severity.
    pub severity: Severity,
    /// The usual confidence.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub confidence: Option<f32>,
    /// Tags.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub tags: Vec<String>,
    /// A 0.0 to 10.0 score for security rules.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub security_severity: Option<f32>,
}
