//! Conversions between the generated bindings and the host's own types.

use super::bindings::sluice::step::types as wit;
use crate::types::{Finding, PluginInfo, Port, Severity, Span, ValueKind};

pub(crate) fn kind(k: wit::ValueKind) -> ValueKind {
    match k {
        wit::ValueKind::Text => ValueKind::Text,
        wit::ValueKind::Integer => ValueKind::Integer,
        wit::ValueKind::Number => ValueKind::Number,
        wit::ValueKind::Boolean => ValueKind::Boolean,
        wit::ValueKind::Artifact => ValueKind::Artifact,
        wit::ValueKind::Json => ValueKind::Json,
    }
}

fn port(p: wit::Port) -> Port {
    Port {
        name: p.name,
        kind: kind(p.kind),
        required: p.required,
        description: p.description,
    }
}

pub(crate) fn info(i: wit::PluginInfo) -> PluginInfo {
    PluginInfo {
        name: i.name,
        version: i.version,
        description: i.description,
        inputs: i.inputs.into_iter().map(port).collect(),
        outputs: i.outputs.into_iter().map(port).collect(),
        wants: i.wants,
    }
}

pub(crate) fn finding(f: wit::Finding) -> Finding {
    Finding {
        rule: f.rule,
        severity: match f.severity {
            wit::Severity::Note => Severity::Note,
            wit::Severity::Warning => Severity::Warning,
            wit::Severity::Error => Severity::Error,
        },
        message: f.message,
        span: f.span.map(|s| Span {
            path: s.path,
            line: s.line,
            column: s.column,
            end_line: s.end_line,
            end_column: s.end_column,
        }),
        tags: f.tags,
    }
}

/// A value as the guest returned it; artifacts still carry their guest path.
#[derive(Debug, Clone, PartialEq)]
pub enum GuestValue {
    /// A non-artifact value.
    Plain(crate::types::Value),
    /// An artifact at a guest path.
    Artifact {
        /// The guest path the step returned.
        path: String,
        /// Media type.
        media_type: Option<String>,
    },
}

pub(crate) fn guest_value(v: wit::Value) -> GuestValue {
    use crate::types::Value;
    match v {
        wit::Value::Text(s) => GuestValue::Plain(Value::Text(s)),
        wit::Value::Integer(i) => GuestValue::Plain(Value::Integer(i)),
        wit::Value::Number(n) => GuestValue::Plain(Value::Number(n)),
        wit::Value::Boolean(b) => GuestValue::Plain(Value::Boolean(b)),
        wit::Value::Json(s) => GuestValue::Plain(Value::Json(s)),
        wit::Value::Artifact(a) => GuestValue::Artifact {
            path: a.path,
            media_type: a.media_type,
        },
    }
}

/// An input as passed to the guest.
#[derive(Debug, Clone, PartialEq)]
pub enum InputValue {
    /// A non-artifact value.
    Plain(crate::types::Value),
    /// An artifact visible at a guest path.
    Artifact {
        /// Where the step sees it.
        path: String,
        /// Its digest.
        digest: String,
        /// Media type.
        media_type: Option<String>,
    },
}

pub(crate) fn input_value(v: &InputValue) -> wit::Value {
    use crate::types::Value;
    match v {
        InputValue::Plain(Value::Text(s)) => wit::Value::Text(s.clone()),
        InputValue::Plain(Value::Integer(i)) => wit::Value::Integer(*i),
        InputValue::Plain(Value::Number(n)) => wit::Value::Number(*n),
        InputValue::Plain(Value::Boolean(b)) => wit::Value::Boolean(*b),
        InputValue::Plain(Value::Json(s)) => wit::Value::Json(s.clone()),
        InputValue::Plain(Value::Artifact(a)) => wit::Value::Artifact(wit::Artifact {
            path: String::new(),
            digest: a.digest.clone(),
            media_type: a.media_type.clone(),
        }),
        InputValue::Artifact {
            path,
            digest,
            media_type,
        } => wit::Value::Artifact(wit::Artifact {
            path: path.clone(),
            digest: digest.clone(),
            media_type: media_type.clone(),
        }),
    }
}
