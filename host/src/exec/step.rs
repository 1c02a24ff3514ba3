//! Running one step: resolve its inputs, build its sandbox, call it, check and collect what
//! it returned.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use cap_std::fs::Dir;

use indexmap::IndexMap;

use super::{Grants, RunContext, Status, StepReport};
use crate::manifest::{Expr, StepId, WithEntry, refs, types::format_duration};
use crate::plan::PlannedStep;
use crate::runtime::{
    Call, CallEnd, GuestOutcome, GuestValue, HOST_COUNT, HOST_SARIF, InputValue, LoadedPlugin,
    LogLevel, LogLine, is_host_output,
};
use crate::sandbox::fs::{
    CopyError, GrantedFs, INPUTS, Mount, OUTPUTS, copy_bounded, create_dir_beneath, grant_list,
    workspace_mounts,
};
use crate::sandbox::limits::Deadline;
use crate::sandbox::{Limits, StepSandbox};
use crate::types::{ArtifactRef, PluginInfo, Value, ValueKind};

/// What a step is granted, as the run record and `sluice audit` show it.
pub fn grants(pipeline: &crate::manifest::Pipeline, planned: &PlannedStep) -> Grants {
    let limits = limits(pipeline, planned);
    let step = &planned.step;
    Grants {
        read: step
            .allow
            .read
            .iter()
            .map(|p| p.get_ref().to_string())
            .collect(),
        write: step
            .allow
            .write
            .iter()
            .map(|p| p.get_ref().to_string())
            .collect(),
        secrets: step
            .allow
            .secrets
            .iter()
            .map(|p| p.get_ref().to_string())
            .collect(),
        env: step.env.keys().map(|k| k.to_string()).collect(),
        timeout: format_duration(limits.timeout),
        memory: crate::manifest::ByteSize(limits.memory).to_string(),
        artifacts: crate::manifest::ByteSize(artifact_limit(pipeline, planned)).to_string(),
        exec: planned.programs.clone(),
        confinement: (!planned.programs.is_empty()).then(|| {
            crate::sandbox::exec::confinement().unwrap_or_else(|why| format!("unavailable: {why}"))
        }),
        net: step
            .allow
            .net
            .iter()
            .map(|g| g.get_ref().to_string())
            .collect(),
        send: step
            .allow
            .send
            .iter()
            .map(|g| {
                (
                    g.name.get_ref().to_string(),
                    g.origins.iter().map(|o| o.get_ref().to_string()).collect(),
                )
            })
            .collect(),
    }
}

/// The most bytes of artifacts a step may return: its own limit, or the pipeline's.
pub fn artifact_limit(pipeline: &crate::manifest::Pipeline, planned: &PlannedStep) -> u64 {
    planned
        .step
        .artifact_limit
        .as_ref()
        .map_or(pipeline.artifact_limit, |a| *a.get_ref())
}

/// The limits of a step: its own, or the pipeline's.
pub fn limits(ctx_pipeline: &crate::manifest::Pipeline, planned: &PlannedStep) -> Limits {
    Limits {
        timeout: planned
            .step
            .timeout
            .as_ref()
            .map_or(ctx_pipeline.timeout, |t| *t.get_ref()),
        memory: planned
            .step
            .memory
            .as_ref()
            .map_or(ctx_pipeline.memory, |m| *m.get_ref()),
    }
}

fn empty_report(
    pipeline: &crate::manifest::Pipeline,
    planned: &PlannedStep,
    status: Status,
) -> StepReport {
    let info = &planned.plugin.info;
    StepReport {
        id: planned.step.id.to_string(),
        uses: planned.step.uses.get_ref().to_string(),
        plugin: format!("{} {}", info.name, info.version),
        digest: planned.plugin.digest.clone(),
        status,
        started_ms: None,
        started_at: None,
        finished_at: None,
        inputs: IndexMap::new(),
        config: serde_json::Map::new(),
        programs: Vec::new(),
        duration: None,
        outputs: IndexMap::new(),
        findings: Vec::new(),
        summary: String::new(),
        error: None,
        grants: grants(pipeline, planned),
        egress: None,
        cache: None,
        log: Vec::new(),
    }
}

/// The report of a step that did not run.
pub(crate) fn skipped(
    pipeline: &crate::manifest::Pipeline,
    planned: &PlannedStep,
    reason: String,
) -> StepReport {
    let mut r = empty_report(pipeline, planned, Status::Skipped);
    r.error = Some(format!("skipped: {reason}"));
    r
}

/// Runs one step (or replays its recorded result) and reports it. Never panics on a step's
/// misbehaviour.
pub(crate) async fn execute(ctx: Arc<RunContext>, planned: PlannedStep) -> StepReport {
    let limits = limits(&ctx.manifest.pipeline, &planned);
    let mut report = empty_report(&ctx.manifest.pipeline, &planned, Status::Errored);
    report.started_ms = Some(ctx.started.elapsed().as_millis() as u64);
    report.started_at = Some(now_rfc3339());
    let started = Instant::now();
    let deadline = Deadline {
        at: started + limits.timeout,
        cancel: ctx.cancel.flag(),
    };
    let keyed = match super::cached::lookup(&ctx, &planned, &deadline) {
        super::cached::Decision::Replay(entry, note) => {
            super::cached::replay(&ctx, &planned, *entry, note, &mut report);
            return report;
        }
        super::cached::Decision::Run(keyed, note) => {
            report.cache = Some(note);
            keyed
        }
    };
    if !planned.step.allow.write.is_empty() {
        ctx.writers.store(true, std::sync::atomic::Ordering::SeqCst);
    }
    let scratch_rel = Path::new(crate::sandbox::fs::STATE_DIR)
        .join("tmp")
        .join(&ctx.run_id)
        .join(planned.step.id.as_str());
    let result = match create_dir_beneath(&ctx.root, &scratch_rel) {
        Ok(scratch) => {
            prepare_and_call(&ctx, &planned, limits, &deadline, &scratch, &mut report).await
        }
        Err(e) => Err(format!("cannot create the step's scratch directory: {e}")),
    };
    let volatile = match result {
        Ok(volatile) => volatile,
        Err(message) => {
            report.status = Status::Errored;
            report.error = Some(message);
            None
        }
    };
    report.duration = Some(started.elapsed());
    report.finished_at = Some(now_rfc3339());
    let _ = ctx.tmp.remove_dir_all(planned.step.id.as_str());
    super::cached::record(&ctx, &planned, keyed, volatile, &mut report);
    report
}

/// Now, RFC 3339 in UTC to the millisecond.
fn now_rfc3339() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

/// Loads the plugin, builds the sandbox, calls the step and collects what it returned.
/// Returns why the result must not be replayed, if the step said so.
async fn prepare_and_call(
    ctx: &Arc<RunContext>,
    planned: &PlannedStep,
    limits: Limits,
    deadline: &Deadline,
    scratch: &Dir,
    report: &mut StepReport,
) -> Result<Option<String>, String> {
    let step = &planned.step;
    let source = ctx
        .sources
        .get(&planned.plugin.digest)
        .expect("every planned plugin has a source");
    let load_err = |e: crate::runtime::LoadError| format!("plugin `{}` {e}", step.uses.get_ref());
    let plugin = ctx.loader.load(source).await.map_err(load_err)?;
    let runtime = ctx.loader.runtime().map_err(load_err)?;
    let plugin: &LoadedPlugin = &plugin;
    let info = &plugin.info;
    let scratch_err =
        |e: std::io::Error| format!("cannot create the step's scratch directory: {e}");
    scratch.create_dir("outputs").map_err(scratch_err)?;
    scratch.create_dir("inputs").map_err(scratch_err)?;
    let outputs_dir = scratch.open_dir("outputs").map_err(scratch_err)?;
    let inputs_dir = scratch.open_dir("inputs").map_err(scratch_err)?;

    let resolved = resolve_with(ctx, step.with.iter(), info, Some(&inputs_dir))?;
    let (inputs, config) = (resolved.inputs, resolved.config.to_string());
    report.inputs = resolved.recorded;
    if let serde_json::Value::Object(map) = resolved.config {
        report.config = map;
    }

    let granted: GrantedFs =
        workspace_mounts(&ctx.root, &step.allow, scratch).map_err(|problems| {
            let grants = grant_list(&step.allow);
            problems
                .iter()
                .map(|p| {
                    let (path, writable) = &grants[p.index.min(grants.len().saturating_sub(1))];
                    format!(
                        "grant `{} = [\"{path}\"]` refused at run time: {}",
                        if *writable { "write" } else { "read" },
                        p.error
                    )
                })
                .collect::<Vec<_>>()
                .join("; ")
        })?;
    let mut sandbox =
        StepSandbox::new(info.name.clone()).run_identity(crate::sandbox::RunIdentity {
            run: ctx.run_id.clone(),
            pipeline: ctx.manifest.pipeline.name.clone(),
        });
    for mount in &granted.mounts {
        sandbox = sandbox.mount(mount.clone());
    }
    if inputs
        .iter()
        .any(|(_, v)| matches!(v, InputValue::Artifact { .. }))
    {
        sandbox = sandbox.mount(Mount::new(INPUTS, false, inputs_dir));
    }
    let outputs = Mount::new(OUTPUTS, true, outputs_dir);
    sandbox = sandbox.mount(outputs.clone());
    for (name, value) in &step.env {
        sandbox = sandbox.env(name.as_str(), value);
    }
    if !planned.programs.is_empty() {
        let exec_err = |e: std::io::Error| format!("cannot prepare the step's programs: {e}");
        let cache =
            crate::sandbox::exec::step_cache(&ctx.root, step.id.as_str()).map_err(exec_err)?;
        let scratch_path = ctx
            .manifest
            .dir
            .join(crate::sandbox::fs::STATE_DIR)
            .join("tmp")
            .join(&ctx.run_id)
            .join(step.id.as_str());
        let scratch_path = std::path::absolute(&scratch_path).map_err(exec_err)?;
        let env: Vec<(String, String)> = step
            .env
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        let exec = crate::sandbox::exec::StepExec::new(
            step.id.as_str(),
            planned.programs.clone(),
            sandbox.mounts(),
            Arc::new(scratch.try_clone().map_err(exec_err)?),
            scratch_path,
            cache,
            &env,
            limits.memory,
        )
        .map_err(exec_err)?;
        sandbox = sandbox.programs(Arc::new(exec));
    }
    let source_ctx = ctx.clone();
    let artifacts = resolved.artifacts;
    sandbox = sandbox.provenance(crate::sandbox::ProvenanceSource(Arc::new(
        move |path: &str, deadline: &Deadline| {
            super::provenance::document(&source_ctx, &artifacts, path, deadline)
        },
    )));
    let mut notes = Vec::new();
    for name in &step.allow.secrets {
        match ctx.secrets.get(name.get_ref().as_str()) {
            Some(value) => sandbox = sandbox.secret(name.get_ref().as_str(), value),
            None => notes.push(format!("secret `{}` is granted but has no value: set it in the environment or the secrets file", name.get_ref())),
        }
    }
    if !step.allow.net.is_empty() {
        use crate::sandbox::net::{SendSecret, StepNet};
        let tls = ctx
            .tls
            .get_or_init(|| {
                let pem = match &ctx.manifest.pipeline.ca_file {
                    Some(path) => Some(
                        ctx.root
                            .read(path.get_ref().as_path())
                            .map_err(|e| format!("`ca-file` {}: {e}", path.get_ref()))?,
                    ),
                    None => None,
                };
                crate::sandbox::net::tls_config(pem.as_deref()).map_err(|e| {
                    match &ctx.manifest.pipeline.ca_file {
                        Some(path) => format!("`ca-file` {}: {e}", path.get_ref()),
                        None => e,
                    }
                })
            })
            .clone()
            .map_err(|e| format!("could not set up TLS for `allow.net`: {e}"))?;
        let mut send = Vec::new();
        for g in &step.allow.send {
            match ctx.secrets.get(g.name.get_ref().as_str()) {
                Some(value) => send.push(SendSecret::new(
                    g.name.get_ref().as_str(),
                    value,
                    g.origins.iter().map(|o| o.get_ref().clone()).collect(),
                )),
                None => notes.push(format!("send-only secret `{}` is granted but has no value: set it in the environment or the secrets file", g.name.get_ref())),
            }
        }
        let grants = step.allow.net.iter().map(|g| g.get_ref().clone()).collect();
        sandbox = sandbox.network(Arc::new(StepNet::new(grants, send, tls)));
    }

    let result = runtime
        .call(
            plugin,
            Call {
                step: step.id.as_str(),
                sandbox: &sandbox,
                limits,
                config,
                inputs,
                masker: ctx.masker.clone(),
                events: ctx.events.clone(),
                cancel: ctx.cancel.clone(),
            },
        )
        .await;
    report.programs = sandbox.exec().map(|e| e.runs()).unwrap_or_default();
    if !step.allow.net.is_empty() || !result.egress.requests.is_empty() {
        report.egress = Some(result.egress.clone());
    }
    let warn = |message: String| LogLine {
        at_ms: 0,
        level: LogLevel::Warn,
        message,
    };
    report.log = notes
        .into_iter()
        .map(warn)
        .chain(result.log)
        .chain(granted.replaced_files().into_iter().map(warn))
        .collect();

    let volatile = result.volatile;
    let (status, outcome) = match result.end {
        CallEnd::Passed(outcome) => (Status::Passed, outcome),
        CallEnd::Gate(outcome) => (Status::Failed, outcome),
        CallEnd::Cancelled => {
            report.status = Status::Cancelled;
            report.error = Some("cancelled".into());
            return Ok(None);
        }
        other => return Err(other.message()),
    };
    // Findings, summary and errors are masked where they are written (the run record, the
    // console, SARIF); outputs are masked here too, since they flow into other steps.
    report.summary = outcome.summary.clone();
    report.findings = outcome.findings.clone();
    let budget = ArtifactBudget {
        left: artifact_limit(&ctx.manifest.pipeline, planned),
        limit: artifact_limit(&ctx.manifest.pipeline, planned),
        deadline,
        timeout: limits.timeout,
    };
    report.outputs = collect_outputs(ctx, info, &outcome, &outputs, budget)?;
    add_host_outputs(ctx, planned, info, &sandbox, deadline, report)?;
    if status == Status::Passed
        && let Some(missing) = info
            .outputs
            .iter()
            .find(|p| p.required && !report.outputs.contains_key(&p.name))
    {
        return Err(format!(
            "the plugin did not return required output `{}`",
            missing.name
        ));
    }
    report.status = status;
    if status == Status::Failed {
        report.error = Some(if report.summary.is_empty() {
            "the step's gate failed".into()
        } else {
            report.summary.clone()
        });
    }
    Ok(volatile)
}

/// Splits `with` into typed inputs (declared ports) and the JSON config (the rest), resolving
/// `${{ }}` references against upstream outputs. Artifacts are made visible under
/// `/inputs/<input>/`.
/// A step's `with` table, resolved.
pub(crate) struct Resolved {
    /// Declared inputs, as the plugin receives them.
    inputs: Vec<(String, InputValue)>,
    /// The same, as the record shows them (artifacts by digest).
    pub(crate) recorded: IndexMap<String, Value>,
    /// Artifact inputs and where they came from, for provenance.
    artifacts: Vec<super::provenance::InputArtifact>,
    /// The rest of the table: the plugin's configuration.
    pub(crate) config: serde_json::Value,
}

/// Resolves `with`; with `inputs_dir`, artifact inputs are also made visible there.
pub(crate) fn resolve_with<'a>(
    ctx: &RunContext,
    with: impl Iterator<Item = (&'a String, &'a WithEntry)>,
    info: &PluginInfo,
    inputs_dir: Option<&Dir>,
) -> Result<Resolved, String> {
    let outputs = ctx.outputs.lock().expect("lock").clone();
    let lookup = |expr: &Expr| -> Option<Value> {
        match expr {
            Expr::StepOutput { step, output } => outputs
                .get(step.as_str())
                .and_then(|o| o.get(output))
                .cloned(),
            Expr::PipelineName => Some(Value::Text(ctx.manifest.pipeline.name.clone())),
            Expr::RunId => Some(Value::Text(ctx.run_id.clone())),
        }
    };
    let mut inputs = Vec::new();
    let mut recorded = IndexMap::new();
    let mut artifacts = Vec::new();
    let mut config = serde_json::Map::new();
    for (key, entry) in with {
        let whole = entry.whole.clone();
        match info.input(key) {
            Some(port) => {
                let value = match &whole {
                    Some(expr) => match lookup(expr) {
                        Some(v) => convert_kind(v, port.kind),
                        None if port.required => {
                            return Err(format!(
                                "input `{key}`: `{expr}` was not produced by its step"
                            ));
                        }
                        None => continue,
                    },
                    None => literal(&interpolate_json(&entry.value, &lookup)?, port.kind)
                        .ok_or_else(|| format!("input `{key}` takes {}", port.kind))?,
                };
                recorded.insert(key.clone(), value.clone());
                let input = match value {
                    Value::Artifact(_) if inputs_dir.is_none() => InputValue::Plain(value),
                    Value::Artifact(a) => {
                        let inputs_dir = inputs_dir.expect("checked above");
                        inputs_dir
                            .create_dir(key)
                            .map_err(|e| format!("cannot prepare input `{key}`: {e}"))?;
                        let dir = inputs_dir
                            .open_dir(key)
                            .map_err(|e| format!("cannot prepare input `{key}`: {e}"))?;
                        ctx.store
                            .materialize(&a.digest, &dir, &a.name)
                            .map_err(|e| {
                                format!("cannot prepare input `{key}` from the store: {e}")
                            })?;
                        let path = format!("{INPUTS}/{key}/{}", a.name);
                        artifacts.push(super::provenance::InputArtifact {
                            input: key.clone(),
                            guest_path: path.clone(),
                            artifact: a.clone(),
                            from: match &whole {
                                Some(Expr::StepOutput { step, output }) => {
                                    StepId::try_from(step.clone())
                                        .ok()
                                        .map(|id| (id, output.clone()))
                                }
                                _ => None,
                            },
                        });
                        InputValue::Artifact {
                            path,
                            digest: a.digest,
                            media_type: a.media_type,
                        }
                    }
                    other => InputValue::Plain(other),
                };
                inputs.push((key.clone(), input));
            }
            None => {
                let value = match &whole {
                    Some(expr) => lookup(expr).map_or(serde_json::Value::Null, |v| v.to_json()),
                    None => interpolate_json(&entry.value, &lookup)?,
                };
                config.insert(key.clone(), value);
            }
        }
    }
    Ok(Resolved {
        inputs,
        recorded,
        artifacts,
        config: serde_json::Value::Object(config),
    })
}

fn interpolate_json(
    value: &serde_json::Value,
    lookup: &impl Fn(&Expr) -> Option<Value>,
) -> Result<serde_json::Value, String> {
    Ok(match value {
        serde_json::Value::String(s) => {
            let found = refs::find(s)?;
            if found.is_empty() {
                serde_json::Value::String(s.replace("$${{", "${{"))
            } else {
                serde_json::Value::String(refs::interpolate(s, &found, |e| {
                    lookup(e).map(|v| v.to_text()).unwrap_or_default()
                }))
            }
        }
        serde_json::Value::Array(items) => serde_json::Value::Array(
            items
                .iter()
                .map(|v| interpolate_json(v, lookup))
                .collect::<Result<_, _>>()?,
        ),
        serde_json::Value::Object(map) => serde_json::Value::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), interpolate_json(v, lookup)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

fn convert_kind(value: Value, kind: ValueKind) -> Value {
    match (value, kind) {
        (v @ (Value::Integer(_) | Value::Number(_) | Value::Boolean(_)), ValueKind::Text) => {
            Value::Text(v.to_text())
        }
        (Value::Integer(i), ValueKind::Number) => Value::Number(i as f64),
        (v, _) => v,
    }
}

fn literal(value: &serde_json::Value, kind: ValueKind) -> Option<Value> {
    Some(match kind {
        ValueKind::Text => Value::Text(value.as_str()?.to_string()),
        ValueKind::Integer => Value::Integer(value.as_i64()?),
        ValueKind::Number => Value::Number(value.as_f64()?),
        ValueKind::Boolean => Value::Boolean(value.as_bool()?),
        ValueKind::Json => Value::Json(value.to_string()),
        ValueKind::Artifact => return None,
    })
}

/// What a step may still store as artifacts, and until when.
struct ArtifactBudget<'a> {
    left: u64,
    limit: u64,
    deadline: &'a Deadline,
    timeout: std::time::Duration,
}

/// Checks returned outputs against `describe()` and moves artifacts into the store.
fn collect_outputs(
    ctx: &RunContext,
    info: &PluginInfo,
    outcome: &GuestOutcome,
    outputs_dir: &Mount,
    mut budget: ArtifactBudget<'_>,
) -> Result<IndexMap<String, Value>, String> {
    let declared: Vec<&str> = info
        .outputs
        .iter()
        .map(|p| p.name.as_str())
        .filter(|n| !is_host_output(n))
        .collect();
    let mut out = IndexMap::new();
    for (name, value) in &outcome.outputs {
        let port = info.output(name).filter(|_| !is_host_output(name));
        let Some(port) = port else {
            return Err(format!(
                "the plugin returned output `{name}`, which its describe() does not declare (declared outputs: {})",
                if declared.is_empty() {
                    "(none)".to_string()
                } else {
                    declared.join(", ")
                }
            ));
        };
        let value = match value {
            GuestValue::Plain(v) => mask_value(ctx, name, v)?,
            GuestValue::Artifact { path, media_type } => Value::Artifact(store_artifact(
                ctx,
                name,
                path,
                media_type.clone(),
                outputs_dir,
                &mut budget,
            )?),
        };
        if value.kind() != port.kind {
            return Err(format!(
                "the plugin returned output `{name}` as {}, but its describe() declares it {}",
                value.kind(),
                port.kind
            ));
        }
        if out.insert(name.clone(), value).is_some() {
            return Err(format!("the plugin returned output `{name}` twice"));
        }
    }
    Ok(out)
}

/// An output as other steps will see it: secrets masked in text and JSON (keys and numbers
/// too); a number holding a secret cannot be masked and keep its kind, so it is refused.
fn mask_value(ctx: &RunContext, name: &str, v: &Value) -> Result<Value, String> {
    let holds_secret = |n: String| ctx.masker.matches(&n);
    Ok(match v {
        Value::Text(s) => Value::Text(ctx.masker.mask(s).into_owned()),
        Value::Json(s) => {
            let json: serde_json::Value = serde_json::from_str(s)
                .map_err(|e| format!("output `{name}` is not valid JSON: {e}"))?;
            let masked =
                serde_json::to_string(&crate::sandbox::secrets::Masked(&json, &ctx.masker))
                    .expect("JSON serializes");
            Value::Json(masked)
        }
        Value::Integer(i) if holds_secret(i.to_string()) => {
            return Err(format!(
                "output `{name}` holds the value of a secret; secrets never flow into other steps' inputs"
            ));
        }
        Value::Number(n) if holds_secret(n.to_string()) => {
            return Err(format!(
                "output `{name}` holds the value of a secret; secrets never flow into other steps' inputs"
            ));
        }
        other => other.clone(),
    })
}

/// Adds the outputs the host provides for every step: `count` (active findings) and `sarif`
/// (the findings as a SARIF log, stored like any artifact).
fn add_host_outputs(
    ctx: &RunContext,
    planned: &PlannedStep,
    info: &PluginInfo,
    sandbox: &StepSandbox,
    deadline: &Deadline,
    report: &mut StepReport,
) -> Result<(), String> {
    let active = report.active_findings();
    report
        .outputs
        .insert(HOST_COUNT.into(), Value::Integer(active as i64));
    let mut bytes = Vec::new();
    // Lines are read only through the step's own mounts, and only until its deadline.
    let lines = crate::report::sarif::StepFiles::new(sandbox.mounts(), deadline);
    crate::report::sarif::write(
        &ctx.manifest.dir,
        &[crate::report::sarif::RunInput {
            step: planned.step.id.as_str(),
            plugin: info,
            findings: &report.findings,
            files: &lines,
        }],
        &ctx.masker,
        &mut bytes,
    )
    .map_err(|e| format!("cannot write the step's SARIF log: {e}"))?;
    let (digest, size) = ctx
        .store
        .put(&mut bytes.as_slice())
        .map_err(|e| format!("cannot store the step's SARIF log: {e}"))?;
    report.outputs.insert(
        HOST_SARIF.into(),
        Value::Artifact(ArtifactRef {
            digest,
            name: format!("{}.sarif", planned.step.id.as_str()),
            size,
            media_type: Some("application/sarif+json".into()),
        }),
    );
    Ok(())
}

fn store_artifact(
    ctx: &RunContext,
    name: &str,
    path: &str,
    media_type: Option<String>,
    outputs_dir: &Mount,
    budget: &mut ArtifactBudget<'_>,
) -> Result<ArtifactRef, String> {
    let (mut file, size) = crate::sandbox::fs::open_read(std::slice::from_ref(outputs_dir), path)
        .map_err(|e| {
        format!(
            "output `{name}`: artifacts must be regular files the step wrote under {OUTPUTS}/ ({e})"
        )
    })?;
    let over = |size: u64| {
        format!(
            "output `{name}`: the step's artifacts come to more than its artifact limit of {} (this one is {}); raise it with `artifact-limit = \"…\"` on the step or in [pipeline]",
            crate::manifest::ByteSize(budget.limit),
            crate::manifest::ByteSize(size),
        )
    };
    if size > budget.left {
        return Err(over(size));
    }
    let deadline = budget.deadline;
    let stop = || deadline.check().is_some();
    let (digest, stored) = ctx
        .store
        .put_with(|out| copy_bounded(&mut file, out, budget.left, &stop))
        .map_err(|e| match e {
            CopyError::TooLarge { .. } => over(size),
            CopyError::Stopped if ctx.cancel.is_cancelled() => "cancelled".to_string(),
            CopyError::Stopped => format!(
                "timed out after {} (the step's timeout) while storing output `{name}`",
                format_duration(budget.timeout)
            ),
            CopyError::Io(e) => format!("output `{name}`: cannot store the artifact: {e}"),
        })?;
    budget.left -= stored;
    let file_name = Path::new(path)
        .file_name()
        .map_or_else(|| name.to_string(), |n| n.to_string_lossy().into_owned());
    // Both reach the steps this artifact is wired into: no secret goes with them.
    Ok(ArtifactRef {
        digest,
        name: ctx.masker.mask(&file_name).into_owned(),
        size: stored,
        media_type: media_type.map(|m| ctx.masker.mask(&m).into_owned()),
    })
}
