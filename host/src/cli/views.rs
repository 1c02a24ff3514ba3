//! What `validate`, `audit` and `plugins` print.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::report::terminal::clean;

use crate::exec::Grants;
use crate::manifest::{Expr, Manifest};
use crate::plan::Plan;
use crate::sandbox::fs::guest_path;
use crate::types::PluginInfo;

/// `path` relative to the current directory when it lies below it.
pub fn relative(path: &Path) -> String {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(|p| p.display().to_string()))
        .unwrap_or_else(|| path.display().to_string())
}

fn short(digest: &str) -> String {
    let hex = digest.trim_start_matches("sha256:");
    format!("sha256:{}", &hex[..hex.len().min(12)])
}

/// `validate` in text.
pub fn plan_text(manifest: &Manifest, plan: &Plan) -> String {
    let mut out = String::new();
    let n = plan.order.len();
    writeln!(
        out,
        "{} is valid: pipeline `{}`, {n} step{}",
        manifest.path,
        manifest.pipeline.name,
        if n == 1 { "" } else { "s" }
    )
    .unwrap();
    for id in &plan.order {
        let s = &plan.steps[id];
        let after = if s.deps.is_empty() {
            String::new()
        } else {
            format!(
                " after {}",
                s.deps
                    .iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        writeln!(
            out,
            "  {id}: {} {}{after}",
            clean(&s.plugin.info.name),
            clean(&s.plugin.info.version)
        )
        .unwrap();
    }
    out
}

/// `validate --json`.
pub fn plan_json(manifest: &Manifest, plan: &Plan) -> serde_json::Value {
    serde_json::json!({
        "manifest": manifest.path,
        "pipeline": manifest.pipeline.name,
        "valid": true,
        "order": plan.order.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        "steps": plan.order.iter().map(|id| {
            let s = &plan.steps[id];
            serde_json::json!({ "id": id.as_str(), "plugin": s.plugin.info.name, "version": s.plugin.info.version, "digest": s.plugin.digest, "needs": s.deps.iter().map(|d| d.as_str()).collect::<Vec<_>>() })
        }).collect::<Vec<_>>(),
    })
}

/// What one step may touch.
#[derive(Debug, Serialize)]
pub struct StepAudit {
    id: String,
    uses: String,
    builtin: bool,
    plugin: String,
    version: String,
    digest: String,
    #[serde(flatten)]
    grants: Grants,
    mounts: Vec<MountView>,
    inputs_from: Vec<String>,
    outputs: String,
    network: bool,
    wants: Vec<Want>,
    unwanted: Vec<String>,
}

/// Where a workspace grant appears inside the step.
#[derive(Debug, Serialize)]
struct MountView {
    path: String,
    guest: String,
    writable: bool,
}

#[derive(Debug, Serialize)]
struct Want {
    capability: String,
    granted: bool,
    /// The plugin may use it but does not require it (`fs:read?`, `secret:*`).
    optional: bool,
}

/// The whole audit.
#[derive(Debug, Serialize)]
pub struct Audit {
    manifest: String,
    pipeline: String,
    steps: Vec<StepAudit>,
}

/// Builds the audit of a valid plan.
pub fn audit(manifest: &Manifest, plan: &Plan) -> Audit {
    let steps = plan
        .order
        .iter()
        .map(|id| {
            let planned = &plan.steps[id];
            let step = &planned.step;
            let info = &planned.plugin.info;
            let has = |cap: &str| match cap.strip_suffix('?').unwrap_or(cap) {
                "fs:read" => !step.allow.read.is_empty() || !step.allow.write.is_empty(),
                "fs:write" => !step.allow.write.is_empty(),
                "net" => !step.allow.net.is_empty(),
                other if other.starts_with("exec:") => planned.programs.iter().any(|p| {
                    other["exec:".len()..] == p.name
                        || Path::new(&p.name)
                            .file_name()
                            .is_some_and(|f| f == &other["exec:".len()..])
                }),
                "secret:*" => !step.allow.secrets.is_empty(),
                other => other
                    .strip_prefix("secret:")
                    .is_some_and(|n| step.allow.secrets.iter().any(|s| s.get_ref().as_str() == n)),
            };
            let wants_any = |caps: &[&str]| caps.iter().any(|c| crate::plan::wants(info, c));
            let mut unwanted = Vec::new();
            if !wants_any(&["fs:read", "fs:write"]) {
                unwanted.extend(
                    step.allow
                        .read
                        .iter()
                        .map(|p| format!("read {}", p.get_ref())),
                );
            }
            if !wants_any(&["fs:write"]) {
                unwanted.extend(
                    step.allow
                        .write
                        .iter()
                        .map(|p| format!("write {}", p.get_ref())),
                );
            }
            unwanted.extend(
                step.allow
                    .secrets
                    .iter()
                    .filter(|s| !wants_any(&[&format!("secret:{}", s.get_ref())]))
                    .map(|s| format!("secret {}", s.get_ref())),
            );
            unwanted.extend(
                planned
                    .programs
                    .iter()
                    .filter(|p| {
                        let base = Path::new(&p.name)
                            .file_name()
                            .map(|f| f.to_string_lossy().into_owned())
                            .unwrap_or_default();
                        !wants_any(&[&format!("exec:{}", p.name), &format!("exec:{base}")])
                    })
                    .map(|p| format!("exec {}", p.name)),
            );
            if !wants_any(&["net"]) {
                unwanted.extend(
                    step.allow
                        .net
                        .iter()
                        .map(|g| format!("net {}", g.get_ref())),
                );
            }
            let mut inputs_from: Vec<String> = step
                .with
                .values()
                .flat_map(|e| e.refs.iter())
                .filter_map(|r| match r {
                    Expr::StepOutput { step, output } => Some(format!("{step}.{output}")),
                    _ => None,
                })
                .collect();
            inputs_from.dedup();
            StepAudit {
                id: id.to_string(),
                uses: step.uses.get_ref().to_string(),
                builtin: matches!(step.uses.get_ref(), crate::manifest::PluginRef::Builtin(_)),
                plugin: info.name.clone(),
                version: info.version.clone(),
                digest: planned.plugin.digest.clone(),
                grants: crate::exec::step_grants(&manifest.pipeline, planned),
                mounts: step
                    .allow
                    .read
                    .iter()
                    .map(|p| (p, false))
                    .chain(step.allow.write.iter().map(|p| (p, true)))
                    .map(|(p, writable)| MountView {
                        path: p.get_ref().to_string(),
                        guest: guest_path(p.get_ref().as_path()),
                        writable,
                    })
                    .collect(),
                inputs_from,
                outputs: "/outputs (private, writable)".into(),
                network: !step.allow.net.is_empty(),
                wants: info
                    .wants
                    .iter()
                    .map(|w| Want {
                        capability: w.clone(),
                        granted: has(w),
                        optional: w.ends_with('?') || w == "secret:*",
                    })
                    .collect(),
                unwanted,
            }
        })
        .collect();
    Audit {
        manifest: manifest.path.clone(),
        pipeline: manifest.pipeline.name.clone(),
        steps,
    }
}

/// `audit` in text.
pub fn audit_text(audit: &Audit) -> String {
    let mut out = String::new();
    writeln!(out, "pipeline `{}` ({})", audit.pipeline, audit.manifest).unwrap();
    for s in &audit.steps {
        writeln!(out).unwrap();
        out.push_str(&audit_step_text(s));
    }
    out
}

impl Audit {
    /// Each step's id with its part of `audit_text` (as the HTML report shows it).
    pub fn step_texts(&self) -> Vec<(String, String)> {
        self.steps
            .iter()
            .map(|s| (s.id.clone(), audit_step_text(s)))
            .collect()
    }
}

/// One step of `audit_text`: `step `id`` and its rows.
fn audit_step_text(s: &StepAudit) -> String {
    let mut out = String::new();
    let none = || "(none)".to_string();
    let list = |items: Vec<String>| {
        if items.is_empty() {
            none()
        } else {
            items.join(", ")
        }
    };
    {
        writeln!(out, "step `{}`", s.id).unwrap();
        let origin = if s.builtin {
            "built-in".to_string()
        } else {
            s.uses.clone()
        };
        let rows: Vec<(&str, String)> = vec![
            (
                "plugin",
                format!(
                    "{} {} ({origin}) {}",
                    clean(&s.plugin),
                    clean(&s.version),
                    short(&s.digest)
                ),
            ),
            (
                "read",
                list(
                    s.mounts
                        .iter()
                        .filter(|m| !m.writable)
                        .map(|m| {
                            let hidden = if m.path == "." {
                                "; never .sluice/"
                            } else {
                                ""
                            };
                            format!("{} at {} (read-only{hidden})", m.path, m.guest)
                        })
                        .collect(),
                ),
            ),
            (
                "write",
                list(
                    s.mounts
                        .iter()
                        .filter(|m| m.writable)
                        .map(|m| format!("{} at {} (read-write)", m.path, m.guest))
                        .collect(),
                ),
            ),
            ("secrets", list(s.grants.secrets.clone())),
            ("env", list(s.grants.env.clone())),
            (
                "inputs",
                list(s.inputs_from.iter().map(|i| format!("steps.{i}")).collect()),
            ),
            ("outputs", s.outputs.clone()),
            (
                "exec",
                list(
                    s.grants
                        .exec
                        .iter()
                        .map(|p| format!("{} = {} {}", clean(&p.name), p.path.display(), p.digest))
                        .collect(),
                ),
            ),
            (
                "network",
                if s.grants.net.is_empty() {
                    "none (no HTTP, no sockets)".into()
                } else {
                    format!(
                        "HTTP to {} (each request checked and logged; sockets denied)",
                        s.grants
                            .net
                            .iter()
                            .map(|g| if g.starts_with("unix:") {
                                format!(
                                    "{} (a unix socket: a container engine's API there is control of the host's containers, as root)",
                                    clean(g)
                                )
                            } else {
                                clean(g).into_owned()
                            })
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                },
            ),
            (
                "send",
                list(
                    s.grants
                        .send
                        .iter()
                        .map(|(n, o)| format!("{} to {} (never readable)", clean(n), o.join(", ")))
                        .collect(),
                ),
            ),
            (
                "limits",
                format!(
                    "timeout {}, memory {}, artifacts {}",
                    s.grants.timeout, s.grants.memory, s.grants.artifacts
                ),
            ),
            (
                "wants",
                list(
                    s.wants
                        .iter()
                        .map(|w| {
                            format!(
                                "{} ({})",
                                clean(&w.capability),
                                match (w.granted, w.optional) {
                                    (true, _) => "granted",
                                    (false, true) => "optional, not granted",
                                    (false, false) => "NOT granted",
                                }
                            )
                        })
                        .collect(),
                ),
            ),
        ];
        for (k, v) in rows {
            writeln!(out, "  {k:<8} {v}").unwrap();
            if k == "exec"
                && let Some(confinement) = &s.grants.confinement
            {
                writeln!(out, "  {:<8} programs run confined: {confinement}", "").unwrap();
                writeln!(
                    out,
                    "  {:<8} they see the grants above at the same paths, /usr read-only, a private /tmp, /cache (.sluice/cache/steps/{}/), no network",
                    "", s.id
                )
                .unwrap();
            }
        }
        if !s.unwanted.is_empty() {
            writeln!(out, "  {:<8} {}", "unwanted", s.unwanted.join(", ")).unwrap();
        }
    }
    out
}

/// `plugins` in text.
pub fn plugins_text(infos: &[(&str, String, PluginInfo)]) -> String {
    let mut out = String::new();
    for (uses, digest, info) in infos {
        writeln!(
            out,
            "{uses}  {} {}  {}",
            clean(&info.name),
            clean(&info.version),
            short(digest)
        )
        .unwrap();
        writeln!(out, "  {}", clean(&info.description)).unwrap();
        writeln!(
            out,
            "  wants    {}",
            if info.wants.is_empty() {
                "(nothing)".into()
            } else {
                clean(&info.wants.join(", ")).into_owned()
            }
        )
        .unwrap();
        if let Some(options) = &info.options {
            for (i, o) in options.iter().enumerate() {
                let label = if i == 0 { "options" } else { "" };
                let default = o.default.as_ref().map_or_else(String::new, |d| {
                    format!(", default {}", crate::plan::toml_value(d))
                });
                writeln!(
                    out,
                    "  {label:<8} {} ({}{}): {}",
                    clean(&o.name),
                    clean(&o.kind.describe()),
                    clean(&default),
                    clean(&o.summary)
                )
                .unwrap();
            }
        }
        for (title, ports) in [("inputs", &info.inputs), ("outputs", &info.outputs)] {
            if ports.is_empty() {
                writeln!(out, "  {title:<8} (none)").unwrap();
            }
            for (i, p) in ports.iter().enumerate() {
                let label = if i == 0 { title } else { "" };
                let required = if p.required { ", required" } else { "" };
                writeln!(
                    out,
                    "  {label:<8} {} ({}{required}): {}",
                    clean(&p.name),
                    p.kind,
                    clean(&p.description)
                )
                .unwrap();
            }
        }
    }
    out
}
