//! From a manifest and what its plugins declare to a checked plan: the DAG from `needs` and
//! `${{ steps.<id>.outputs.<name> }}` references, cycle detection, kind checks of the wiring,
//! required inputs, and wanted-versus-granted capabilities. Every problem is reported at
//! once, at its place in the manifest. Nothing here runs a plugin.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use indexmap::IndexMap;

use crate::manifest::{Allow, Diagnostic, Diagnostics, Expr, Manifest, Step, StepId};
use crate::sandbox::fs::check_grants;
use crate::types::{OptionKind, PluginInfo, ValueKind};

/// What the planner needs to know of a plugin.
#[derive(Debug, Clone)]
pub struct PluginMeta {
    /// `sha256:<hex>` of the component.
    pub digest: String,
    /// What `describe()` returned.
    pub info: PluginInfo,
}

/// A checked pipeline, ready to run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Steps in a topological order (manifest order where the DAG allows).
    pub order: Vec<StepId>,
    /// Each step with its plugin and dependencies.
    pub steps: IndexMap<StepId, PlannedStep>,
}

/// One step of a plan.
#[derive(Debug, Clone)]
pub struct PlannedStep {
    /// The manifest's step.
    pub step: Step,
    /// Its plugin.
    pub plugin: PluginMeta,
    /// Steps that must pass before it runs (`needs` and references), in manifest order.
    pub deps: Vec<StepId>,
    /// The programs of `allow.exec`, resolved once on the host's `PATH`.
    pub programs: Vec<crate::sandbox::exec::Program>,
}

/// Builds the plan. `plugins` holds the steps whose plugin loaded; the others already have a
/// diagnostic from the caller and are only checked as far as possible without it.
/// On success the diagnostics hold warnings only.
pub fn build(
    manifest: &Manifest,
    plugins: &HashMap<StepId, PluginMeta>,
    diags: &mut Diagnostics,
) -> Option<Plan> {
    let ids: Vec<&str> = manifest
        .steps
        .keys()
        .map(StepId::as_str)
        .chain(manifest.broken_steps.iter().map(String::as_str))
        .collect();
    let mut deps: IndexMap<StepId, Vec<StepId>> = IndexMap::new();
    let mut programs: HashMap<StepId, Vec<crate::sandbox::exec::Program>> = HashMap::new();

    for (id, step) in &manifest.steps {
        let info = plugins.get(id).map(|p| &p.info);
        let mut step_deps: Vec<StepId> = Vec::new();
        let mut add_dep = |d: &StepId| {
            if !step_deps.contains(d) {
                step_deps.push(d.clone());
            }
        };

        for need in &step.needs {
            let target = need.get_ref();
            if target == id {
                diags.push(
                    Diagnostic::error("a step cannot need itself", Some(need.span()))
                        .step(id.as_str())
                        .label("this step")
                        .help(format!("remove `{target}` from `needs`")),
                );
            } else if manifest.broken_steps.iter().any(|b| b == target.as_str()) {
                // Already reported where that step is defined.
            } else if !manifest.steps.contains_key(target) {
                diags.push(unknown_step(
                    id,
                    target.as_str(),
                    need.span(),
                    &ids,
                    "`needs` names",
                ));
            } else {
                add_dep(target);
            }
        }

        for (key, entry) in &step.with {
            if let Some(info) = info
                && let Some(d) = unknown_option(id, step, info, key, entry)
            {
                diags.push(d);
                continue;
            }
            if let Some(info) = info
                && let Some(d) = wrong_kind(id, step, info, key, entry)
            {
                diags.push(d);
            }
            for expr in &entry.refs {
                let Expr::StepOutput {
                    step: target,
                    output,
                } = expr
                else {
                    continue;
                };
                let Some((target_id, target_step)) = manifest.steps.get_key_value(target.as_str())
                else {
                    if manifest.broken_steps.contains(target) {
                        continue;
                    }
                    diags.push(unknown_step(
                        id,
                        target,
                        entry.span.clone(),
                        &ids,
                        &format!("`with.{key}` refers to"),
                    ));
                    continue;
                };
                if target_id == id {
                    diags.push(
                        Diagnostic::error(
                            format!("`with.{key}` refers to this step's own output"),
                            Some(entry.span.clone()),
                        )
                        .step(id.as_str())
                        .label("self-reference")
                        .help("a step can only use outputs of other steps"),
                    );
                    continue;
                }
                add_dep(target_id);
                if let Some(target_meta) = plugins.get(target_id)
                    && target_meta.info.output(output).is_none()
                {
                    let names: Vec<&str> = target_meta
                        .info
                        .outputs
                        .iter()
                        .map(|p| p.name.as_str())
                        .collect();
                    let help = crate::manifest::did_you_mean(
                        output,
                        &names,
                        &format!(
                            "outputs of `{}`: {}",
                            target_step.uses.get_ref(),
                            list(&names)
                        ),
                    );
                    diags.push(
                        Diagnostic::error(
                            format!(
                                "step `{target}` (`{}`) has no output `{output}`",
                                target_step.uses.get_ref()
                            ),
                            Some(entry.span.clone()),
                        )
                        .step(id.as_str())
                        .label("unknown output")
                        .help(help),
                    );
                }
            }
            if let Some(info) = info {
                check_with_entry(manifest, plugins, id, step, info, key, entry, diags);
            }
        }

        if let Some(info) = info {
            for port in info.inputs.iter().filter(|p| p.required) {
                if !step.with.contains_key(&port.name) {
                    diags.push(
                        Diagnostic::error(
                            format!(
                                "missing required input `{}` ({}) of `{}`",
                                port.name,
                                port.kind,
                                step.uses.get_ref()
                            ),
                            Some(step.span.clone()),
                        )
                        .step(id.as_str())
                        .label("this step")
                        .help(format!(
                            "set it in `with`: `with = {{ {} = ... }}` ({})",
                            port.name, port.description
                        )),
                    );
                }
            }
            check_capabilities(manifest, id, step, info, diags);
        }
        check_grant_paths(manifest, id, step, diags);
        programs.insert(id.clone(), resolve_programs(id, step, diags));
        deps.insert(id.clone(), step_deps);
    }

    check_cycles(manifest, &deps, diags);
    diags.sort();
    if diags.has_errors() {
        return None;
    }
    let order = topological(&deps);
    let steps = manifest
        .steps
        .iter()
        .map(|(id, step)| {
            let plugin = plugins
                .get(id)
                .cloned()
                .expect("every step's plugin loaded when there are no errors");
            (
                id.clone(),
                PlannedStep {
                    step: step.clone(),
                    plugin,
                    deps: deps[id].clone(),
                    programs: programs.remove(id).unwrap_or_default(),
                },
            )
        })
        .collect();
    Some(Plan { order, steps })
}

fn list(names: &[&str]) -> String {
    if names.is_empty() {
        "(none)".into()
    } else {
        names.join(", ")
    }
}

/// A `with` key that is neither an input nor an option of a plugin that declares its options.
fn unknown_option(
    id: &StepId,
    step: &Step,
    info: &PluginInfo,
    key: &str,
    entry: &crate::manifest::WithEntry,
) -> Option<Diagnostic> {
    let options = info.options.as_ref()?;
    if info.input(key).is_some() || options.iter().any(|o| o.name == key) {
        return None;
    }
    let mut names: Vec<&str> = options
        .iter()
        .map(|o| o.name.as_str())
        .chain(info.inputs.iter().map(|p| p.name.as_str()))
        .collect();
    names.sort_unstable();
    let help = crate::manifest::did_you_mean(
        key,
        &names,
        &format!(
            "`{}` takes: {} (`sluice plugins` describes each)",
            step.uses.get_ref(),
            list(&names)
        ),
    );
    Some(
        Diagnostic::error(
            format!("`{}` has no option `{key}`", step.uses.get_ref()),
            Some(entry.key_span.clone()),
        )
        .step(id.as_str())
        .label("unknown option")
        .help(help),
    )
}

/// A `with` value that is not of the kind its option declares.
fn wrong_kind(
    id: &StepId,
    step: &Step,
    info: &PluginInfo,
    key: &str,
    entry: &crate::manifest::WithEntry,
) -> Option<Diagnostic> {
    let option = info.options.as_ref()?.iter().find(|o| o.name == key)?;
    // A value that is one `${{ }}` takes the kind of what it names; an interpolated string is
    // only known at run time (so a choice cannot be checked).
    if entry.whole.is_some()
        || (!entry.refs.is_empty() && matches!(option.kind, OptionKind::Choice(_)))
        || option.kind.accepts(&entry.value)
    {
        return None;
    }
    let plugin = step.uses.get_ref();
    let kind = option.kind.describe();
    let summary = option.summary.trim_end_matches('.');
    let example = option.default.as_ref().map_or_else(String::new, |d| {
        format!("; the default is `{key} = {}`", toml_value(d))
    });
    let help = match (&option.kind, &entry.value) {
        (OptionKind::Choice(choices), serde_json::Value::String(s)) => {
            let names: Vec<&str> = choices.iter().map(String::as_str).collect();
            crate::manifest::did_you_mean(s, &names, &format!("`{key}` is one of {kind}{example}"))
        }
        _ => format!("`{key}`: {summary}{example}"),
    };
    let what = option.kind.expected();
    Some(
        Diagnostic::error(
            format!(
                "option `{key}` of `{plugin}` takes {what}, not {}",
                crate::types::json_kind_name(&entry.value)
            ),
            Some(entry.span.clone()),
        )
        .step(id.as_str())
        .label(format!("expected {what}"))
        .help(help),
    )
}

/// A JSON value written as TOML: `0.8`, `"set"`, `["vendor", "testdata"]`, `{ a = 1 }`.
pub fn toml_value(value: &serde_json::Value) -> String {
    use serde_json::Value as J;
    match value {
        J::Null => "\"\"".into(),
        J::Array(items) => format!(
            "[{}]",
            items.iter().map(toml_value).collect::<Vec<_>>().join(", ")
        ),
        J::Object(map) if map.is_empty() => "{}".into(),
        J::Object(map) => format!(
            "{{ {} }}",
            map.iter()
                .map(|(k, v)| {
                    let bare = !k.is_empty()
                        && k.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
                    let key = if bare {
                        k.clone()
                    } else {
                        J::String(k.clone()).to_string()
                    };
                    format!("{key} = {}", toml_value(v))
                })
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => other.to_string(),
    }
}

fn unknown_step(
    id: &StepId,
    target: &str,
    span: std::ops::Range<usize>,
    ids: &[&str],
    what: &str,
) -> Diagnostic {
    let help = match crate::manifest::closest(target, ids) {
        Some(best) if best != id.as_str() => format!("did you mean `{best}`?"),
        _ => format!("steps in this pipeline: {}", list(ids)),
    };
    Diagnostic::error(format!("{what} unknown step `{target}`"), Some(span))
        .step(id.as_str())
        .label("unknown step")
        .help(help)
}

/// The kind of a literal TOML value, as an input would receive it.
fn literal_fits(value: &serde_json::Value, kind: ValueKind) -> bool {
    match kind {
        ValueKind::Text => value.is_string(),
        ValueKind::Integer => value.is_i64(),
        ValueKind::Number => value.is_number(),
        ValueKind::Boolean => value.is_boolean(),
        ValueKind::Json => true,
        ValueKind::Artifact => false,
    }
}

fn output_kind(
    manifest: &Manifest,
    plugins: &HashMap<StepId, PluginMeta>,
    expr: &Expr,
) -> Option<ValueKind> {
    match expr {
        Expr::StepOutput { step, output } => {
            let (id, _) = manifest.steps.get_key_value(step.as_str())?;
            plugins.get(id)?.info.output(output).map(|p| p.kind)
        }
        Expr::PipelineName | Expr::RunId => Some(ValueKind::Text),
    }
}

#[allow(clippy::too_many_arguments)]
fn check_with_entry(
    manifest: &Manifest,
    plugins: &HashMap<StepId, PluginMeta>,
    id: &StepId,
    step: &Step,
    info: &PluginInfo,
    key: &str,
    entry: &crate::manifest::WithEntry,
    diags: &mut Diagnostics,
) {
    let uses = step.uses.get_ref();
    let whole_ref = entry.whole.clone();
    let interpolated = !entry.refs.is_empty() && whole_ref.is_none();
    let artifact_refs: Vec<&Expr> = entry
        .refs
        .iter()
        .filter(|e| output_kind(manifest, plugins, e) == Some(ValueKind::Artifact))
        .collect();
    let port = info.input(key);

    if let Some(port) = port {
        if let Some(expr) = &whole_ref {
            if let Some(kind) = output_kind(manifest, plugins, expr) {
                let fits = kind == port.kind
                    || (port.kind == ValueKind::Text
                        && matches!(
                            kind,
                            ValueKind::Integer | ValueKind::Number | ValueKind::Boolean
                        ))
                    || (port.kind == ValueKind::Number && kind == ValueKind::Integer);
                if !fits {
                    diags.push(
                        Diagnostic::error(format!("kind mismatch: input `{key}` of `{uses}` takes {}, but `{expr}` is {}", article(port.kind), article(kind)), Some(entry.span.clone()))
                            .step(id.as_str())
                            .label(format!("{kind}, expected {}", port.kind))
                            .help(format!("wire `{key}` to an output of kind {}", port.kind)),
                    );
                }
            }
            return;
        }
        if interpolated {
            if !artifact_refs.is_empty() {
                diags.push(artifact_in_string(id, key, entry, artifact_refs[0]));
            } else if !matches!(port.kind, ValueKind::Text | ValueKind::Json) {
                diags.push(
                    Diagnostic::error(format!("kind mismatch: input `{key}` of `{uses}` takes {}, but an interpolated string is text", article(port.kind)), Some(entry.span.clone()))
                        .step(id.as_str())
                        .label(format!("text, expected {}", port.kind)),
                );
            }
            return;
        }
        if port.kind == ValueKind::Artifact {
            diags.push(
                Diagnostic::error(format!("input `{key}` of `{uses}` takes an artifact, which must come from another step"), Some(entry.span.clone()))
                    .step(id.as_str())
                    .label("a literal")
                    .help(format!("wire it to a step output: `{key} = \"${{{{ steps.<id>.outputs.<name> }}}}\"`")),
            );
        } else if !literal_fits(&entry.value, port.kind) {
            diags.push(
                Diagnostic::error(
                    format!(
                        "kind mismatch: input `{key}` of `{uses}` takes {}, found {}",
                        article(port.kind),
                        json_kind(&entry.value)
                    ),
                    Some(entry.span.clone()),
                )
                .step(id.as_str())
                .label(format!("expected {}", port.kind))
                .help(port.description.clone()),
            );
        }
        return;
    }

    // Not a declared input: plain configuration, where only scalar outputs may be used.
    if let Some(expr) = artifact_refs.first() {
        let inputs: Vec<&str> = info
            .inputs
            .iter()
            .filter(|p| p.kind == ValueKind::Artifact)
            .map(|p| p.name.as_str())
            .collect();
        if whole_ref.is_some() {
            diags.push(
                Diagnostic::error(format!("`{expr}` is an artifact, but `{key}` is not an artifact input of `{uses}`"), Some(entry.span.clone()))
                    .step(id.as_str())
                    .label("artifact")
                    .help(format!("artifacts can only be wired to declared artifact inputs; those of `{uses}`: {}", list(&inputs))),
            );
        } else {
            diags.push(artifact_in_string(id, key, entry, expr));
        }
    }
}

fn artifact_in_string(
    id: &StepId,
    key: &str,
    entry: &crate::manifest::WithEntry,
    expr: &Expr,
) -> Diagnostic {
    Diagnostic::error(
        format!("artifact `{expr}` cannot be interpolated into a string"),
        Some(entry.span.clone()),
    )
    .step(id.as_str())
    .label("artifact inside a string")
    .help(format!("wire it alone: `{key} = \"${{{{ {expr} }}}}\"`"))
}

fn article(kind: ValueKind) -> String {
    match kind {
        ValueKind::Integer | ValueKind::Artifact => format!("an {kind}"),
        ValueKind::Text => "text".into(),
        ValueKind::Json => "JSON".into(),
        ValueKind::Number | ValueKind::Boolean => format!("a {kind}"),
    }
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Number(n) if n.is_i64() => "an integer",
        serde_json::Value::Number(_) => "a float",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "a table",
        serde_json::Value::Null => "nothing",
    }
}

/// The `allow = { ... }` line a step would have with one more entry.
fn allow_line(allow: &Allow, add: (&str, &str)) -> String {
    let mut parts: Vec<String> = Vec::new();
    for (name, existing) in [
        (
            "read",
            allow
                .read
                .iter()
                .map(|p| p.get_ref().to_string())
                .collect::<Vec<_>>(),
        ),
        (
            "write",
            allow
                .write
                .iter()
                .map(|p| p.get_ref().to_string())
                .collect(),
        ),
        (
            "secrets",
            allow
                .secrets
                .iter()
                .map(|s| s.get_ref().to_string())
                .collect(),
        ),
        (
            "exec",
            allow.exec.iter().map(|s| s.get_ref().clone()).collect(),
        ),
        (
            "net",
            allow.net.iter().map(|g| g.get_ref().to_string()).collect(),
        ),
    ] {
        let mut values = existing;
        if add.0 == name && !values.iter().any(|v| v == add.1) {
            values.push(add.1.to_string());
        }
        if !values.is_empty() {
            let quoted: Vec<String> = values.iter().map(|v| format!("{v:?}")).collect();
            parts.push(format!("{name} = [{}]", quoted.join(", ")));
        }
    }
    format!("allow = {{ {} }}", parts.join(", "))
}

/// What is wrong with a plugin's `describe()` whatever the pipeline that uses it: wants this
/// sluice cannot grant, port and option names a manifest could not write (not kebab-case, or
/// given twice), a version that is not `major.minor.patch`. Empty when nothing is.
pub fn check_info(info: &PluginInfo) -> Vec<String> {
    let kebab = |s: &str| {
        s.starts_with(|c: char| c.is_ascii_lowercase())
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !s.ends_with('-')
    };
    let mut problems = Vec::new();
    if !kebab(&info.name) {
        problems.push(format!(
            "name `{}` is not kebab-case (`[a-z][a-z0-9-]*`)",
            info.name
        ));
    }
    let core = info.version.split(['-', '+']).next().unwrap_or("");
    if core.split('.').count() != 3
        || !core
            .split('.')
            .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    {
        problems.push(format!(
            "version `{}` is not a semantic version (`1.2.3`)",
            info.version
        ));
    }
    for (what, names) in [
        (
            "input",
            info.inputs
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>(),
        ),
        (
            "output",
            info.outputs.iter().map(|p| p.name.as_str()).collect(),
        ),
        (
            "option",
            info.options
                .iter()
                .flatten()
                .map(|o| o.name.as_str())
                .collect(),
        ),
    ] {
        let mut seen = HashSet::new();
        for name in names {
            if !kebab(name) {
                problems.push(format!("{what} `{name}` is not kebab-case (`[a-z][a-z0-9-]*`): a manifest could not name it"));
            }
            if !seen.insert(name) {
                problems.push(format!("{what} `{name}` is declared twice"));
            }
        }
    }
    for option in info.options.iter().flatten() {
        if info.inputs.iter().any(|p| p.name == option.name) {
            problems.push(format!(
                "option `{}` is also an input: declare it once",
                option.name
            ));
        }
    }
    for want in &info.wants {
        let grantable = matches!(
            want.as_str(),
            "fs:read" | "fs:write" | "fs:read?" | "fs:write?" | "secret:*" | "net"
        ) || want.strip_prefix("exec:").is_some_and(|p| !p.is_empty())
            || want.strip_prefix("secret:").is_some_and(|p| !p.is_empty());
        if !grantable {
            problems.push(format!("wants `{want}`, which this version of sluice cannot grant: use `fs:read`, `fs:write`, `exec:<program>`, `secret:<NAME>`, `secret:*` or `net` (`?` after `fs:read` or `fs:write`: optional)"));
        }
    }
    problems
}

/// Whether a plugin asks for `cap` (`fs:read`, `secret:NAME`, …): as written, optionally
/// (`fs:read?`: its configuration may need it) or, for secrets, as `secret:*` (the secrets
/// its configuration names).
pub fn wants(info: &PluginInfo, cap: &str) -> bool {
    info.wants.iter().any(|w| {
        w == cap
            || w.strip_suffix('?') == Some(cap)
            || (w == "secret:*" && cap.starts_with("secret:"))
    })
}

fn check_capabilities(
    manifest: &Manifest,
    id: &StepId,
    step: &Step,
    info: &PluginInfo,
    diags: &mut Diagnostics,
) {
    let _ = manifest;
    let uses = step.uses.get_ref();
    let wants = |cap: &str| wants(info, cap);
    let at = step.allow.span.clone().unwrap_or(step.span.clone());
    let missing = |what: String, add: (&str, &str)| {
        Diagnostic::error(what, Some(at.clone()))
            .step(id.as_str())
            .label(if step.allow.span.is_some() {
                "not granted here"
            } else {
                "this step"
            })
            .help(format!(
                "grant it in the step's table: `{}`",
                allow_line(&step.allow, add)
            ))
    };
    for want in &info.wants {
        match want.as_str() {
            "fs:read" if step.allow.read.is_empty() && step.allow.write.is_empty() => {
                diags.push(missing(format!("plugin `{uses}` wants to read files, but the step grants none"), ("read", ".")));
            }
            "fs:write" if step.allow.write.is_empty() => {
                diags.push(missing(format!("plugin `{uses}` wants to write files, but the step grants no `allow.write`"), ("write", ".")));
            }
            "fs:read" | "fs:write" | "fs:read?" | "fs:write?" | "secret:*" => {}
            "net" if step.allow.net.is_empty() => {
                diags.push(missing(format!("plugin `{uses}` wants to send HTTP requests, but the step grants no origin"), ("net", "https://<host>")));
            }
            "net" => {}
            other if other.starts_with("exec:") => {
                let name = &other["exec:".len()..];
                if !step.allow.exec.iter().any(|p| p.get_ref() == name || Path::new(p.get_ref()).file_name().is_some_and(|f| f == name)) {
                    diags.push(missing(format!("plugin `{uses}` wants to run program `{name}`, but the step does not grant it"), ("exec", name)));
                }
            }
            other => match other.strip_prefix("secret:") {
                Some(name) if !step.allow.secrets.iter().any(|s| s.get_ref().as_str() == name) => {
                    diags.push(missing(format!("plugin `{uses}` wants secret `{name}`, but the step does not grant it"), ("secrets", name)));
                }
                Some(_) => {}
                None => diags.push(
                    Diagnostic::error(format!("plugin `{uses}` wants `{other}`, which this version of sluice cannot grant"), Some(step.uses.span()))
                        .step(id.as_str())
                        .label("this plugin")
                        .help("use a plugin that needs only `fs:read`, `fs:write`, `exec:<program>`, `secret:<NAME>`, `secret:*` and `net` (`?` after `fs:read` or `fs:write`: optional)"),
                ),
            },
        }
    }
    // One warning per unwanted grant, or one for all of a kind when there are many (a step
    // with hundreds of file grants should not print hundreds of warnings).
    let unwanted = |diags: &mut Diagnostics,
                    grants: &[toml::Spanned<crate::manifest::WorkspacePath>],
                    key: &str,
                    what: &str,
                    help: &str| {
        if grants.len() > MAX_WARNINGS_PER_KIND {
            diags.push(
                Diagnostic::warning(
                    format!(
                        "`allow.{key}` grants {} paths (`{}`, …), but plugin `{uses}` does not ask to {what}",
                        grants.len(),
                        grants[0].get_ref()
                    ),
                    Some(grants[0].span()),
                )
                .step(id.as_str())
                .label(format!("and {} more, granted but not wanted", grants.len() - 1))
                .help(help.to_string()),
            );
            return;
        }
        for grant in grants {
            diags.push(
                Diagnostic::warning(
                    format!(
                        "`allow.{key}` grants `{}`, but plugin `{uses}` does not ask to {what}",
                        grant.get_ref()
                    ),
                    Some(grant.span()),
                )
                .step(id.as_str())
                .label("granted but not wanted")
                .help(help.to_string()),
            );
        }
    };
    if !wants("fs:read") && !wants("fs:write") {
        unwanted(
            diags,
            &step.allow.read,
            "read",
            "read files",
            "remove the grant unless the step's configuration needs it",
        );
    }
    if !wants("fs:write") {
        unwanted(
            diags,
            &step.allow.write,
            "write",
            "write files",
            "remove the grant, or move it to `allow.read` if the step only reads there",
        );
    }
    for program in &step.allow.exec {
        let name = Path::new(program.get_ref())
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !wants(&format!("exec:{}", program.get_ref())) && !wants(&format!("exec:{name}")) {
            diags.push(
                Diagnostic::warning(
                    format!(
                        "`allow.exec` grants `{}`, but plugin `{uses}` does not ask to run it",
                        program.get_ref()
                    ),
                    Some(program.span()),
                )
                .step(id.as_str())
                .label("granted but not wanted")
                .help("remove it unless the step's configuration needs it"),
            );
        }
    }
    if !wants("net")
        && let Some(first) = step.allow.net.first()
    {
        diags.push(
            Diagnostic::warning(
                format!(
                    "`allow.net` grants `{}`, but plugin `{uses}` does not ask for the network",
                    first.get_ref()
                ),
                Some(first.span()),
            )
            .step(id.as_str())
            .label("granted but not wanted")
            .help("remove `net` (and `send`): a step should reach only the origins it needs"),
        );
    }
    for secret in &step.allow.secrets {
        if !wants(&format!("secret:{}", secret.get_ref())) {
            diags.push(
                Diagnostic::warning(
                    format!(
                        "`allow.secrets` grants `{}`, but plugin `{uses}` does not ask for it",
                        secret.get_ref()
                    ),
                    Some(secret.span()),
                )
                .step(id.as_str())
                .label("granted but not wanted")
                .help("remove it: a secret should reach only the steps that need it"),
            );
        }
    }
}

/// Past this many unwanted grants of one kind, a step gets one warning for all of them.
const MAX_WARNINGS_PER_KIND: usize = 5;

/// Resolves `allow.exec` on the host's `PATH` (once: the run and `sluice audit` use what is
/// found here), and checks that this machine can confine programs at all.
fn resolve_programs(
    id: &StepId,
    step: &Step,
    diags: &mut Diagnostics,
) -> Vec<crate::sandbox::exec::Program> {
    use crate::sandbox::exec;
    if step.allow.exec.is_empty() {
        return Vec::new();
    }
    let search = exec::search_path();
    let mut programs = Vec::new();
    for granted in &step.allow.exec {
        match exec::resolve(granted.get_ref(), &search) {
            Ok(p) => {
                if !programs.iter().any(|q: &exec::Program| q.name == p.name) {
                    programs.push(p);
                }
            }
            Err(e) => diags.push(
                Diagnostic::error(e.to_string(), Some(granted.span()))
                    .step(id.as_str())
                    .label("not found")
                    .help(e.help()),
            ),
        }
    }
    if let Err(why) = exec::confinement() {
        diags.push(
            Diagnostic::error(
                format!("this machine cannot confine programs: {why}"),
                step.allow.exec.first().map(|g| g.span()),
            )
            .step(id.as_str())
            .label("programs are granted here")
            .help("sluice never runs a program unconfined: run on a Linux kernel with unprivileged user namespaces, Landlock and a writable cgroup, or remove `exec`"),
        );
    }
    programs
}

fn check_grant_paths(manifest: &Manifest, id: &StepId, step: &Step, diags: &mut Diagnostics) {
    let spans: Vec<_> = step
        .allow
        .read
        .iter()
        .chain(&step.allow.write)
        .map(|g| g.span())
        .collect();
    for problem in check_grants(&manifest.dir, &step.allow) {
        let span = spans.get(problem.index).cloned();
        diags.push(
            Diagnostic::error(problem.error.to_string(), span)
                .step(id.as_str())
                .label(problem.error.label())
                .help(problem.error.help()),
        );
    }
}

fn check_cycles(
    manifest: &Manifest,
    deps: &IndexMap<StepId, Vec<StepId>>,
    diags: &mut Diagnostics,
) {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    let mut marks: HashMap<&StepId, Mark> = deps.keys().map(|k| (k, Mark::New)).collect();
    let mut reported: HashSet<Vec<StepId>> = HashSet::new();
    for start in deps.keys() {
        if marks[start] != Mark::New {
            continue;
        }
        // Iterative DFS: (node, next edge index), with the active path alongside.
        let mut stack: Vec<(&StepId, usize)> = vec![(start, 0)];
        marks.insert(start, Mark::Active);
        while let Some((node, edge)) = stack.last_mut() {
            let node: &StepId = node;
            if let Some(next) = deps[node].get(*edge) {
                *edge += 1;
                match marks.get(next).copied() {
                    Some(Mark::New) => {
                        marks.insert(next, Mark::Active);
                        stack.push((next, 0));
                    }
                    Some(Mark::Active) => {
                        let from = stack
                            .iter()
                            .position(|(n, _)| *n == next)
                            .expect("active nodes are on the stack");
                        let cycle: Vec<StepId> =
                            stack[from..].iter().map(|(n, _)| (*n).clone()).collect();
                        let mut key = cycle.clone();
                        key.sort();
                        if reported.insert(key) {
                            // The stack reads in `needs` order: each step needs the next.
                            let first = cycle[0].clone();
                            let mut names: Vec<String> =
                                cycle.iter().map(|c| c.to_string()).collect();
                            names.push(first.to_string());
                            let span = manifest.steps[&first].span.clone();
                            diags.push(
                                Diagnostic::error(format!("steps form a cycle: {}", names.join(" → ")), Some(span))
                                    .step(first.as_str())
                                    .label("part of the cycle")
                                    .help("each step needs the next; remove one of the `needs` entries or `${{ steps... }}` references between them"),
                            );
                        }
                    }
                    _ => {}
                }
            } else {
                marks.insert(node, Mark::Done);
                stack.pop();
            }
        }
    }
}

/// Kahn's algorithm, taking ready steps in manifest order.
fn topological(deps: &IndexMap<StepId, Vec<StepId>>) -> Vec<StepId> {
    let mut done: HashSet<&StepId> = HashSet::new();
    let mut order = Vec::new();
    while order.len() < deps.len() {
        let next = deps
            .iter()
            .find(|(id, d)| !done.contains(id) && d.iter().all(|x| done.contains(x)))
            .map(|(id, _)| id)
            .expect("the graph has no cycles");
        done.insert(next);
        order.push(next.clone());
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Port;
    use std::path::PathBuf;

    fn meta(inputs: Vec<Port>, outputs: Vec<Port>, wants: &[&str]) -> PluginMeta {
        PluginMeta {
            digest: "sha256:00".into(),
            info: PluginInfo {
                name: "p".into(),
                version: "0".into(),
                description: String::new(),
                inputs,
                outputs,
                wants: wants.iter().map(|w| w.to_string()).collect(),
                rules: Vec::new(),
                options: None,
            },
        }
    }

    #[test]
    fn check_info_names_what_no_pipeline_could_use() {
        let mut info = meta(
            vec![
                port("src", ValueKind::Text),
                port("Src_Dir", ValueKind::Text),
            ],
            vec![
                port("out", ValueKind::Artifact),
                port("out", ValueKind::Text),
            ],
            &["fs:read", "net", "exec:go", "secret:TOKEN", "gpu", "exec:"],
        )
        .info;
        info.name = "my-plugin".into();
        info.version = "1.2".into();
        info.options = Some(vec![crate::types::ConfigOption {
            name: "src".into(),
            summary: String::new(),
            kind: OptionKind::Any,
            default: None,
        }]);
        let problems = check_info(&info);
        assert_eq!(
            problems,
            [
                "version `1.2` is not a semantic version (`1.2.3`)",
                "input `Src_Dir` is not kebab-case (`[a-z][a-z0-9-]*`): a manifest could not name it",
                "output `out` is declared twice",
                "option `src` is also an input: declare it once",
                "wants `gpu`, which this version of sluice cannot grant: use `fs:read`, `fs:write`, `exec:<program>`, `secret:<NAME>`, `secret:*` or `net` (`?` after `fs:read` or `fs:write`: optional)",
                "wants `exec:`, which this version of sluice cannot grant: use `fs:read`, `fs:write`, `exec:<program>`, `secret:<NAME>`, `secret:*` or `net` (`?` after `fs:read` or `fs:write`: optional)",
            ]
        );
        info.version = "0.1.0-rc.1".into();
        info.inputs.pop();
        info.outputs.pop();
        info.options = None;
        info.wants.truncate(4);
        assert_eq!(check_info(&info), Vec::<String>::new());
    }

    fn port(name: &str, kind: ValueKind) -> Port {
        Port {
            name: name.into(),
            kind,
            required: false,
            description: String::new(),
        }
    }

    fn plan(src: &str) -> (Option<Plan>, Diagnostics) {
        let (manifest, _) = crate::manifest::parse(
            "sluice.toml",
            PathBuf::from("/nonexistent"),
            src.to_string(),
        )
        .unwrap();
        let plugins = manifest
            .steps
            .iter()
            .map(|(id, step)| {
                let mut m = meta(
                    vec![
                        port("in", ValueKind::Artifact),
                        port("n", ValueKind::Integer),
                    ],
                    vec![
                        port("out", ValueKind::Artifact),
                        port("text", ValueKind::Text),
                    ],
                    &[],
                );
                // `uses = "declared"`: a plugin that declares its one option, `alpha`.
                if step.uses.get_ref().to_string() == "declared" {
                    m.info.options = Some(vec![crate::types::ConfigOption {
                        name: "alpha".into(),
                        summary: "a setting".into(),
                        kind: OptionKind::Number,
                        default: Some(serde_json::json!(0.5)),
                    }]);
                }
                (id.clone(), m)
            })
            .collect();
        let mut diags = Diagnostics::default();
        let plan = build(&manifest, &plugins, &mut diags);
        (plan, diags)
    }

    #[test]
    fn orders_steps_by_their_dependencies() {
        let (plan, diags) = plan(
            "[steps.c]\nuses = \"x\"\nneeds = [\"b\"]\n[steps.b]\nuses = \"x\"\nwith = { in = \"${{ steps.a.outputs.out }}\" }\n[steps.a]\nuses = \"x\"\n",
        );
        assert!(!diags.has_errors(), "{diags:?}");
        let plan = plan.unwrap();
        let order: Vec<&str> = plan.order.iter().map(StepId::as_str).collect();
        assert_eq!(order, ["a", "b", "c"]);
        assert_eq!(
            plan.steps["b"].deps,
            vec![StepId::try_from("a".to_string()).unwrap()]
        );
    }

    #[test]
    fn names_the_cycle() {
        let (plan, diags) = plan(
            "[steps.a]\nuses = \"x\"\nneeds = [\"c\"]\n[steps.b]\nuses = \"x\"\nneeds = [\"a\"]\n[steps.c]\nuses = \"x\"\nwith = { n = \"${{ steps.b.outputs.text }}\" }\n",
        );
        assert!(plan.is_none());
        let messages: Vec<&str> = diags.0.iter().map(|d| d.message.as_str()).collect();
        assert!(
            messages.contains(&"steps form a cycle: a → c → b → a"),
            "{messages:?}"
        );
        assert!(
            messages
                .iter()
                .any(|m| m.starts_with("kind mismatch: input `n`")),
            "{messages:?}"
        );
    }

    #[test]
    fn with_keys_are_checked_against_declared_options() {
        let src = "[steps.a]\nuses = \"declared\"\nwith = { alpha = 1, n = 2, alpah = 3 }\n[steps.b]\nuses = \"x\"\nwith = { anything = 1 }\n";
        let (_, diags) = plan(src);
        let errors: Vec<&Diagnostic> = diags.0.iter().collect();
        assert_eq!(errors.len(), 1, "{errors:?}");
        let d = errors[0];
        assert_eq!(d.message, "`declared` has no option `alpah`");
        // The span is the key's.
        let at = src.find("alpah").unwrap();
        assert_eq!(d.span.clone().unwrap(), at..at + "alpah".len());
        let help = d.help.as_deref().unwrap();
        assert!(
            help.starts_with("did you mean `alpha`? `declared` takes: alpha, in, n"),
            "{help}"
        );
    }

    #[test]
    fn allow_lines_merge_with_existing_grants() {
        let mut allow = Allow::default();
        assert_eq!(
            allow_line(&allow, ("read", ".")),
            "allow = { read = [\".\"] }"
        );
        allow.secrets.push(toml::Spanned::new(
            0..1,
            crate::manifest::VarName::try_from("A".to_string()).unwrap(),
        ));
        assert_eq!(
            allow_line(&allow, ("secrets", "B")),
            "allow = { secrets = [\"A\", \"B\"] }"
        );
    }
}
