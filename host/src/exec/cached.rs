//! The step-result cache in a run: computing a step's key before it runs, replaying a
//! recorded result, recording a new one. See [`crate::cache`] for the key and the layout.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::{RunContext, Status, StepReport};
use crate::cache::key::{self, KeyParts};
use crate::cache::tree::Tree;
use crate::cache::{CacheNote, Entry, Lookup, btree};
use crate::plan::PlannedStep;
use crate::sandbox::limits::Deadline;

/// What to do with a step.
pub(crate) enum Decision {
    /// Replay this entry.
    Replay(Box<Entry>, CacheNote),
    /// Run it; with a key, record the result under it.
    Run(Option<Box<(KeyParts, String)>>, CacheNote),
}

fn off(why: impl Into<String>) -> Decision {
    Decision::Run(
        None,
        CacheNote {
            outcome: "off",
            key: None,
            from_run: None,
            why: why.into(),
            recorded: false,
        },
    )
}

/// Why a step is never looked up, if it is not.
pub(crate) fn never(ctx: &RunContext, planned: &PlannedStep) -> Option<String> {
    let step = &planned.step;
    if let Some(why) = &ctx.cache_off {
        return Some(why.clone());
    }
    if !step.cache {
        return Some("`cache = false` on the step".into());
    }
    if !step.allow.net.is_empty() || !step.allow.send.is_empty() {
        return Some("it has a `net` grant: it acts on the world, so it always runs".into());
    }
    if !step.allow.write.is_empty() {
        return Some(
            "it may write to the workspace (`write = [...]`): a replay would not redo its writes, so it always runs"
                .into(),
        );
    }
    None
}

/// Computes the step's key and looks it up.
pub(crate) fn lookup(ctx: &RunContext, planned: &PlannedStep, deadline: &Deadline) -> Decision {
    if let Some(why) = never(ctx, planned) {
        return off(why);
    }
    let Some(cache) = &ctx.cache else {
        return off("the step cache is off");
    };
    let (parts, trees) = match key_parts(ctx, planned, deadline) {
        Ok(p) => p,
        Err(why) => return off(format!("no key: {why}")),
    };
    let key = parts.key();
    let rehashed = rehashed(&trees);
    match cache.lookup(&key, &ctx.store) {
        Lookup::Hit(entry) => {
            let mut why = format!("nothing changed since run {}", entry.run);
            if let Some(r) = rehashed {
                why.push_str(&format!(" ({r}, same content)"));
            }
            cache.remember(&ctx.pipeline_id, planned.step.id.as_str(), &key);
            let note = CacheNote {
                outcome: "hit",
                key: Some(key),
                from_run: Some(entry.run.clone()),
                why,
                recorded: false,
            };
            Decision::Replay(entry, note)
        }
        Lookup::Miss(problem) => {
            let last = cache.last(&ctx.pipeline_id, planned.step.id.as_str());
            let mut why = match (&problem, &last) {
                (Some(problem), _) => format!("its recorded result is unusable: {problem}"),
                (None, None) => "no result of this step is recorded yet".to_string(),
                (None, Some(last)) => {
                    let changes = parts.changes_since(&last.parts);
                    if changes.is_empty() {
                        "its recorded result is gone (`sluice cache gc`?)".to_string()
                    } else {
                        format!("since run {}: {}", last.run, changes.join("; "))
                    }
                }
            };
            let changed: Vec<&str> = trees
                .iter()
                .flat_map(|t| t.changed.iter().map(String::as_str))
                .collect();
            if !changed.is_empty() {
                why.push_str(&format!(" (changed: {})", list(&changed)));
            }
            let note = CacheNote {
                outcome: "miss",
                key: Some(key.clone()),
                from_run: None,
                why,
                recorded: false,
            };
            Decision::Run(Some(Box::new((parts, key))), note)
        }
    }
}

fn list(paths: &[&str]) -> String {
    const SHOWN: usize = 5;
    let mut out = paths
        .iter()
        .take(SHOWN)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if paths.len() > SHOWN {
        out.push_str(&format!(" and {} more", paths.len() - SHOWN));
    }
    out
}

fn rehashed(trees: &[Tree]) -> Option<String> {
    let paths: Vec<&str> = trees
        .iter()
        .flat_map(|t| t.rehashed.iter().map(String::as_str))
        .collect();
    match paths.len() {
        0 => None,
        1 => Some(format!("re-hashed 1 file: {}", paths[0])),
        n => Some(format!("re-hashed {n} files: {}", list(&paths))),
    }
}

fn key_parts(
    ctx: &RunContext,
    planned: &PlannedStep,
    deadline: &Deadline,
) -> Result<(KeyParts, Vec<Tree>), String> {
    let step = &planned.step;
    let cache = ctx.cache.as_ref().expect("only called with a cache");
    let resolved = super::step::resolve_with(ctx, step.with.iter(), &planned.plugin.info, None)?;
    let mut trees = Vec::new();
    let mut files = Vec::new();
    for path in &step.allow.read {
        let path = path.get_ref().to_string();
        let tree =
            tree(ctx, &path, deadline).map_err(|e| format!("cannot digest `{path}`: {e}"))?;
        files.push((path, tree.digest.clone()));
        trees.push(tree);
    }
    let mut secrets = Vec::new();
    for name in &step.allow.secrets {
        let name = name.get_ref().to_string();
        let hash = match ctx.secrets.get(&name) {
            Some(value) => cache.secret_hash(&name, &value)?,
            None => "unset".to_string(),
        };
        secrets.push((name, hash));
    }
    let identities = ctx.identities.lock().expect("lock");
    let upstream = planned
        .deps
        .iter()
        .map(|d| {
            (
                d.to_string(),
                identities.get(d).cloned().unwrap_or_default(),
            )
        })
        .collect::<Vec<_>>();
    drop(identities);
    let parts = KeyParts {
        sluice: key::sluice_version(),
        plugin: planned.plugin.digest.clone(),
        config: key::digest_json(&resolved.config),
        inputs: btree(
            resolved
                .recorded
                .iter()
                .map(|(k, v)| (k.clone(), key::digest_json(v))),
        ),
        grants: key::digest_json(&super::step::grants(&ctx.manifest.pipeline, planned)),
        env: btree(
            step.env
                .iter()
                .map(|(k, v)| (k.to_string(), key::digest(v.as_bytes()))),
        ),
        files: btree(files),
        secrets: btree(secrets),
        upstream: btree(upstream),
    };
    Ok((parts, trees))
}

/// The digest of a granted path for a key: reused between steps until a step that may write
/// to the workspace starts.
fn tree(ctx: &RunContext, path: &str, deadline: &Deadline) -> Result<Tree, String> {
    let reuse = !ctx.writers.load(Ordering::SeqCst);
    if reuse && let Some(known) = ctx.key_trees.lock().expect("lock").get(path) {
        let mut known = known.clone();
        known.rehashed.clear();
        known.changed.clear();
        return Ok(known);
    }
    let cache = ctx.cache.as_ref().expect("only called with a cache");
    let tree =
        crate::cache::tree::digest_tree(&ctx.root, Path::new(path), deadline, cache.index())?;
    if reuse {
        ctx.key_trees
            .lock()
            .expect("lock")
            .insert(path.to_string(), tree.clone());
    }
    Ok(tree)
}

/// The first granted readable path whose content is no longer what the key was computed
/// from (a file edited, or written by a parallel step, while the step ran): such a result
/// is not recorded. Unchanged files cost a `stat` each (the stat index).
fn changed_while_running(ctx: &RunContext, parts: &KeyParts) -> Option<String> {
    let cache = ctx.cache.as_ref()?;
    let deadline = Deadline {
        at: std::time::Instant::now() + Duration::from_secs(60),
        cancel: ctx.cancel.flag(),
    };
    parts.files.iter().find_map(|(path, digest)| {
        let now =
            crate::cache::tree::digest_tree(&ctx.root, Path::new(path), &deadline, cache.index());
        (now.map(|t| t.digest).as_ref() != Ok(digest)).then(|| path.clone())
    })
}

/// Fills the report from a recorded result: no plugin is loaded, nothing runs.
pub(crate) fn replay(
    ctx: &RunContext,
    planned: &PlannedStep,
    entry: Entry,
    note: CacheNote,
    report: &mut StepReport,
) {
    if let Ok(resolved) =
        super::step::resolve_with(ctx, planned.step.with.iter(), &planned.plugin.info, None)
    {
        report.inputs = resolved.recorded;
        if let serde_json::Value::Object(map) = resolved.config {
            report.config = map;
        }
    }
    let key = entry.key.clone();
    report.status = entry.status;
    report.started_at = entry.started_at;
    report.finished_at = entry.finished_at;
    report.duration = Some(Duration::from_micros(entry.duration_us));
    report.outputs = entry.outputs;
    report.findings = entry.findings;
    report.summary = entry.summary;
    report.error = entry.error;
    report.programs = entry.programs;
    report.log = entry.log;
    report.cache = Some(note);
    ctx.identities
        .lock()
        .expect("lock")
        .insert(planned.step.id.clone(), key);
}

/// After a run of the step: records its result under its key when it may be replayed, and
/// notes the step's identity for its dependants' keys.
pub(crate) fn record(
    ctx: &RunContext,
    planned: &PlannedStep,
    keyed: Option<Box<(KeyParts, String)>>,
    volatile: Option<String>,
    report: &mut StepReport,
) {
    let replayable = matches!(report.status, Status::Passed | Status::Failed);
    let identity = match (keyed.as_deref(), &volatile) {
        (Some((_, key)), None) => key.clone(),
        _ => key::digest_json(&report.outputs),
    };
    ctx.identities
        .lock()
        .expect("lock")
        .insert(planned.step.id.clone(), identity);
    let (Some((parts, key)), Some(cache)) = (keyed.map(|k| *k), &ctx.cache) else {
        return;
    };
    let note = report.cache.as_mut().expect("a keyed step has a note");
    if let Some(why) = volatile {
        note.why.push_str(&format!("; not recorded: {why}"));
        return;
    }
    if !replayable {
        note.why.push_str(&format!(
            "; not recorded: it {} (only passed steps and failed gates are)",
            report.status.name()
        ));
        return;
    }
    if let Some(path) = changed_while_running(ctx, &parts) {
        note.why.push_str(&format!(
            "; not recorded: `{path}` changed while it ran (its result may not match its key)"
        ));
        return;
    }
    let entry = Entry {
        format: key::FORMAT,
        key: key.clone(),
        parts,
        run: ctx.run_id.clone(),
        step: planned.step.id.to_string(),
        status: report.status,
        started_at: report.started_at.clone(),
        finished_at: report.finished_at.clone(),
        duration_us: report.duration.unwrap_or_default().as_micros() as u64,
        outputs: report.outputs.clone(),
        findings: report.findings.clone(),
        summary: report.summary.clone(),
        error: report.error.clone(),
        programs: report.programs.clone(),
        log: report.log.clone(),
    };
    match cache.put(&entry, &ctx.masker) {
        Ok(()) => {
            note.recorded = true;
            cache.remember(&ctx.pipeline_id, planned.step.id.as_str(), &key);
        }
        Err(e) => tracing::warn!(step = %planned.step.id, "cannot record the step's result: {e}"),
    }
}
