//! Conversions between the generated bindings and the host's own types.

use super::bindings::sluice::step::types as wit;
use crate::sandbox::secrets::Masker;
use crate::types::{
    ConfigOption, Finding, OptionKind, PluginInfo, Port, Rule, Severity, Span, Suppression,
    ValueKind,
};

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

/// The outputs the host adds to every step, computed from its findings.
pub fn host_outputs() -> [Port; 2] {
    [
        Port {
            name: HOST_COUNT.into(),
            kind: ValueKind::Integer,
            required: true,
            description: "Findings that are not suppressed (provided by the host)".into(),
        },
        Port {
            name: HOST_SARIF.into(),
            kind: ValueKind::Artifact,
            required: true,
            description: "The step's findings as SARIF 2.1.0 (provided by the host)".into(),
        },
    ]
}

/// The host-provided output holding the number of active findings.
pub const HOST_COUNT: &str = "count";
/// The host-provided output holding the SARIF log.
pub const HOST_SARIF: &str = "sarif";

/// Whether `name` is an output the host provides (which a plugin may not declare or return).
pub fn is_host_output(name: &str) -> bool {
    name == HOST_COUNT || name == HOST_SARIF
}

/// What `describe-options` returns (an optional export, so looked up by name rather than
/// through the generated bindings of `step-core`).
#[derive(wasmtime::component::ComponentType, wasmtime::component::Lift)]
#[component(record)]
pub(crate) struct OptionSpec {
    name: String,
    kind: WitOptionKind,
    default: Option<String>,
}

#[derive(wasmtime::component::ComponentType, wasmtime::component::Lift)]
#[component(variant)]
pub(crate) enum WitOptionKind {
    #[component(name = "text")]
    Text,
    #[component(name = "integer")]
    Integer,
    #[component(name = "number")]
    Number,
    #[component(name = "boolean")]
    Boolean,
    #[component(name = "choice")]
    Choice(Vec<String>),
    #[component(name = "text-list")]
    TextList,
    #[component(name = "table")]
    Table,
    #[component(name = "any")]
    Any,
}

/// The most bytes of a default the host keeps (a default is shown, not used).
const MAX_DEFAULT: usize = 4096;

/// Fills in the kinds and defaults `describe-options` gave, checking that each names a
/// declared option, once, and that its default is JSON of its kind.
fn apply_specs(options: &mut [ConfigOption], specs: Vec<OptionSpec>) -> Result<(), String> {
    let mut seen = std::collections::HashSet::new();
    for spec in specs {
        let Some(option) = options.iter_mut().find(|o| o.name == spec.name) else {
            return Err(format!(
                "describe-options() gives a kind to `{}`, which describe() does not declare as an option",
                spec.name
            ));
        };
        if !seen.insert(spec.name.clone()) {
            return Err(format!(
                "describe-options() gives option `{}` twice",
                spec.name
            ));
        }
        option.kind = match spec.kind {
            WitOptionKind::Text => OptionKind::Text,
            WitOptionKind::Integer => OptionKind::Integer,
            WitOptionKind::Number => OptionKind::Number,
            WitOptionKind::Boolean => OptionKind::Boolean,
            WitOptionKind::Choice(c) if c.is_empty() => {
                return Err(format!(
                    "option `{}` is a choice of no values: list them",
                    spec.name
                ));
            }
            WitOptionKind::Choice(c) => OptionKind::Choice(c),
            WitOptionKind::TextList => OptionKind::TextList,
            WitOptionKind::Table => OptionKind::Table,
            WitOptionKind::Any => OptionKind::Any,
        };
        if let Some(default) = spec.default {
            if default.len() > MAX_DEFAULT {
                return Err(format!(
                    "the default of option `{}` is over {MAX_DEFAULT} bytes",
                    spec.name
                ));
            }
            let value: serde_json::Value = serde_json::from_str(&default).map_err(|e| {
                format!(
                    "the default of option `{}` is not JSON ({e}): write text as `\"text\"`",
                    spec.name
                )
            })?;
            if !option.kind.accepts(&value) {
                return Err(format!(
                    "the default of option `{}` is {}, not {}",
                    spec.name,
                    crate::types::json_kind_name(&value),
                    option.kind.expected()
                ));
            }
            option.default = Some(value);
        }
    }
    Ok(())
}

pub(crate) fn info(
    i: wit::PluginInfo,
    specs: Option<Vec<OptionSpec>>,
) -> Result<PluginInfo, String> {
    if let Some(p) = i.outputs.iter().find(|p| is_host_output(&p.name)) {
        return Err(format!(
            "it declares output `{}`, which the host provides for every step (`count` and `sarif` are reserved)",
            p.name
        ));
    }
    Ok(PluginInfo {
        name: i.name,
        version: i.version,
        description: i.description,
        inputs: i.inputs.into_iter().map(port).collect(),
        outputs: i
            .outputs
            .into_iter()
            .map(port)
            .chain(host_outputs())
            .collect(),
        wants: i.wants,
        rules: i
            .rules
            .into_iter()
            .map(|r| Rule {
                id: r.id,
                name: r.name,
                summary: r.summary,
                help: r.help,
                severity: severity(r.severity),
                confidence: r.confidence.map(clamp_unit),
                tags: r.tags,
                security_severity: r.security_severity.map(|s| s.clamp(0.0, 10.0)),
            })
            .collect(),
        options: i.options.map(|options| {
            options
                .into_iter()
                .map(|o| ConfigOption {
                    name: o.name,
                    summary: o.summary,
                    kind: OptionKind::Any,
                    default: None,
                })
                .collect()
        }),
    })
    .and_then(|mut info: PluginInfo| {
        match (specs, info.options.as_mut()) {
            (None, _) => {}
            (Some(specs), None) if specs.is_empty() => {}
            (Some(_), None) => {
                return Err(
                    "describe-options() gives kinds but describe() declares no options".into(),
                );
            }
            (Some(specs), Some(options)) => apply_specs(options, specs)?,
        }
        Ok(info)
    })
}

fn severity(s: wit::Severity) -> Severity {
    match s {
        wit::Severity::Note => Severity::Note,
        wit::Severity::Warning => Severity::Warning,
        wit::Severity::Error => Severity::Error,
    }
}

/// A confidence as the contract defines it; NaN (which a guest can send) becomes 0.
fn clamp_unit(c: f32) -> f32 {
    if c.is_nan() { 0.0 } else { c.clamp(0.0, 1.0) }
}

/// The longest finding message kept (the rest is cut, and says so).
pub const MAX_MESSAGE: usize = 4 << 10;
/// The longest rule id, path or tag kept.
pub const MAX_NAME: usize = 1 << 10;
/// The longest summary or failure message kept.
pub const MAX_SUMMARY: usize = 16 << 10;

/// `s` masked, then cut to `max` bytes, saying so (masked first: a cut through a secret
/// would leave its first part where no sink's masker could recognise it).
pub(crate) fn bounded(s: String, max: usize, masker: &Masker) -> String {
    let mut s = match masker.mask(&s) {
        std::borrow::Cow::Borrowed(_) => s,
        std::borrow::Cow::Owned(masked) => masked,
    };
    if s.len() > max {
        let more = s.len() - super::host::cut(&s, max).len();
        s.truncate(super::host::cut(&s, max).len());
        s.push_str(&format!("… ({more} more bytes cut)"));
    }
    s
}

pub(crate) fn finding(f: wit::Finding, masker: &Masker) -> Finding {
    let bounded = |s: String, max: usize| bounded(s, max, masker);
    Finding {
        rule: bounded(f.rule, MAX_NAME),
        severity: severity(f.severity),
        message: bounded(f.message, MAX_MESSAGE),
        span: f.span.map(|s| Span {
            path: bounded(s.path, MAX_NAME),
            line: s.line,
            column: s.column,
            end_line: s.end_line,
            end_column: s.end_column,
        }),
        tags: f.tags.into_iter().map(|t| bounded(t, MAX_NAME)).collect(),
        confidence: f.confidence.map(clamp_unit),
        suppression: f.suppression.map(|s| Suppression {
            annotation: bounded(s.annotation, MAX_NAME),
            justification: bounded(s.justification, MAX_MESSAGE),
        }),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> Vec<ConfigOption> {
        ["level", "mode"]
            .map(|name| ConfigOption {
                name: name.into(),
                summary: String::new(),
                kind: OptionKind::Any,
                default: None,
            })
            .to_vec()
    }

    fn spec(name: &str, kind: WitOptionKind, default: Option<&str>) -> OptionSpec {
        OptionSpec {
            name: name.into(),
            kind,
            default: default.map(str::to_string),
        }
    }

    #[test]
    fn kinds_and_defaults_are_applied() {
        let mut options = options();
        apply_specs(
            &mut options,
            vec![
                spec("level", WitOptionKind::Number, Some("0.8")),
                spec(
                    "mode",
                    WitOptionKind::Choice(vec!["fast".into(), "full".into()]),
                    Some("\"fast\""),
                ),
            ],
        )
        .unwrap();
        assert_eq!(options[0].kind, OptionKind::Number);
        assert_eq!(options[0].default, Some(serde_json::json!(0.8)));
        assert_eq!(
            options[1].kind,
            OptionKind::Choice(vec!["fast".into(), "full".into()])
        );
    }

    #[test]
    fn a_plugin_cannot_describe_options_it_does_not_declare_or_give_bad_defaults() {
        let cases: Vec<(Vec<OptionSpec>, &str)> = vec![
            (
                vec![spec("colour", WitOptionKind::Text, None)],
                "describe-options() gives a kind to `colour`, which describe() does not declare as an option",
            ),
            (
                vec![
                    spec("level", WitOptionKind::Text, None),
                    spec("level", WitOptionKind::Integer, None),
                ],
                "describe-options() gives option `level` twice",
            ),
            (
                vec![spec("mode", WitOptionKind::Choice(vec![]), None)],
                "option `mode` is a choice of no values: list them",
            ),
            (
                vec![spec("level", WitOptionKind::Number, Some("high"))],
                "the default of option `level` is not JSON (expected value at line 1 column 1): write text as `\"text\"`",
            ),
            (
                vec![spec("level", WitOptionKind::Number, Some("\"high\""))],
                "the default of option `level` is text \"high\", not a number",
            ),
            (
                vec![spec(
                    "mode",
                    WitOptionKind::Choice(vec!["fast".into()]),
                    Some("\"slow\""),
                )],
                "the default of option `mode` is text \"slow\", not one of \"fast\"",
            ),
        ];
        for (specs, want) in cases {
            assert_eq!(apply_specs(&mut options(), specs).unwrap_err(), want);
        }
        let huge = format!("\"{}\"", "x".repeat(MAX_DEFAULT));
        assert_eq!(
            apply_specs(
                &mut options(),
                vec![spec("level", WitOptionKind::Text, Some(&huge))]
            )
            .unwrap_err(),
            format!("the default of option `level` is over {MAX_DEFAULT} bytes")
        );
    }
}
