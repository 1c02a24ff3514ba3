//! Provenance: how an artifact was made in this run, built by the host from what it planned
//! and ran (never from what a step says). Answers the `provenance.artifact` host call; the
//! `sign` step turns the document into SLSA Provenance v1. The format is documented in
//! `docs/provenance.md`.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use indexmap::IndexMap;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{RunContext, StepReport};
pub(crate) use crate::cache::tree::Tree;
use crate::manifest::StepId;
use crate::sandbox::limits::Deadline;
use crate::types::{ArtifactRef, Value};

/// The `type` of the documents: where the format is described.
pub const TYPE: &str = "https://github.com/sluice-ci/sluice/blob/main/docs/provenance.md#v1";

/// An artifact input of the step asking: where it is and where it came from.
#[derive(Debug, Clone)]
pub(crate) struct InputArtifact {
    pub(crate) input: String,
    pub(crate) guest_path: String,
    pub(crate) artifact: ArtifactRef,
    /// The step and output it came from (`None`: not from a step of this run).
    pub(crate) from: Option<(StepId, String)>,
}

#[derive(Serialize)]
struct Document<'a> {
    #[serde(rename = "type")]
    type_: &'static str,
    sluice: Tool,
    run: Run<'a>,
    artifact: Subject<'a>,
    steps: Vec<StepEntry<'a>>,
    sources: Vec<Source>,
}

#[derive(Serialize)]
struct Tool {
    version: &'static str,
}

#[derive(Serialize)]
struct Run<'a> {
    id: &'a str,
    started: &'a str,
    pipeline: &'a str,
    manifest: ManifestRef,
}

#[derive(Serialize)]
struct ManifestRef {
    path: String,
    digest: String,
}

#[derive(Serialize)]
struct Subject<'a> {
    name: &'a str,
    digest: &'a str,
    size: u64,
    step: &'a str,
    output: &'a str,
}

#[derive(Serialize)]
struct StepEntry<'a> {
    id: &'a str,
    uses: &'a str,
    plugin: PluginRef<'a>,
    with: &'a serde_json::Map<String, serde_json::Value>,
    inputs: &'a IndexMap<String, Value>,
    outputs: IndexMap<&'a str, &'a Value>,
    grants: &'a super::Grants,
    programs: &'a [crate::sandbox::exec::ProgramRun],
    started: &'a str,
    finished: &'a str,
}

#[derive(Serialize)]
struct PluginRef<'a> {
    name: &'a str,
    version: &'a str,
    digest: &'a str,
}

#[derive(Serialize)]
struct Source {
    path: String,
    digest: String,
    files: u64,
    bytes: u64,
    /// The steps granted it (read or write).
    steps: Vec<String>,
}

/// The provenance document of `guest_path`, one of `inputs`.
pub(crate) fn document(
    ctx: &Arc<RunContext>,
    inputs: &[InputArtifact],
    guest_path: &str,
    deadline: &Deadline,
) -> Result<String, String> {
    let Some(input) = inputs.iter().find(|i| i.guest_path == guest_path) else {
        let known: Vec<&str> = inputs.iter().map(|i| i.guest_path.as_str()).collect();
        return Err(format!(
            "{guest_path}: not an artifact input of this step; provenance covers the artifacts wired into it ({})",
            if known.is_empty() {
                "it has none".to_string()
            } else {
                known.join(", ")
            }
        ));
    };
    let Some((producer, output)) = &input.from else {
        return Err(format!(
            "input `{}` does not come from a step of this run, so the run has no provenance for it",
            input.input
        ));
    };
    let passed = ctx.passed.lock().expect("lock").clone();
    // The producing step first, then every step upstream of it, each once.
    let mut order: Vec<StepId> = Vec::new();
    let mut seen: HashSet<StepId> = HashSet::new();
    let mut queue = vec![producer.clone()];
    while let Some(id) = queue.pop() {
        if !seen.insert(id.clone()) {
            continue;
        }
        if let Some(deps) = ctx.deps.get(&id) {
            queue.extend(deps.iter().rev().cloned());
        }
        order.push(id);
    }
    let mut steps = Vec::new();
    for id in &order {
        let report: &StepReport = passed
            .get(id)
            .ok_or_else(|| format!("step `{id}` has no record in this run"))?;
        steps.push(entry(report));
    }
    if let Some(out) = passed.get(producer).and_then(|r| r.outputs.get(output))
        && !matches!(out, Value::Artifact(a) if a.digest == input.artifact.digest)
    {
        return Err(format!(
            "input `{}` does not match output `{output}` of step `{producer}`",
            input.input
        ));
    }
    let mut sources: IndexMap<String, Vec<String>> = IndexMap::new();
    for id in &order {
        let grants = &passed[id].grants;
        for path in grants.read.iter().chain(&grants.write) {
            let steps = sources.entry(path.clone()).or_default();
            if !steps.contains(&id.to_string()) {
                steps.push(id.to_string());
            }
        }
    }
    let mut source_entries = Vec::new();
    for (path, steps) in sources {
        let tree = tree(ctx, &path, deadline)?;
        source_entries.push(Source {
            path,
            digest: tree.digest,
            files: tree.files,
            bytes: tree.bytes,
            steps,
        });
    }
    let manifest = &ctx.manifest;
    let doc = Document {
        type_: TYPE,
        sluice: Tool {
            version: env!("CARGO_PKG_VERSION"),
        },
        run: Run {
            id: &ctx.run_id,
            started: &ctx.started_at,
            pipeline: &manifest.pipeline.name,
            manifest: ManifestRef {
                path: Path::new(&manifest.path).file_name().map_or_else(
                    || manifest.path.clone(),
                    |n| n.to_string_lossy().into_owned(),
                ),
                digest: format!("sha256:{}", hex::encode(Sha256::digest(&manifest.source))),
            },
        },
        artifact: Subject {
            name: &input.artifact.name,
            digest: &input.artifact.digest,
            size: input.artifact.size,
            step: producer.as_str(),
            output,
        },
        steps,
        sources: source_entries,
    };
    serde_json::to_string(&crate::sandbox::secrets::Masked(&doc, &ctx.masker))
        .map_err(|e| format!("cannot write the provenance: {e}"))
}

fn entry(report: &StepReport) -> StepEntry<'_> {
    let (name, version) = report
        .plugin
        .split_once(' ')
        .unwrap_or((report.plugin.as_str(), ""));
    StepEntry {
        id: &report.id,
        uses: &report.uses,
        plugin: PluginRef {
            name,
            version,
            digest: &report.digest,
        },
        with: &report.config,
        inputs: &report.inputs,
        outputs: report
            .outputs
            .iter()
            .filter(|(k, _)| !crate::runtime::is_host_output(k))
            .map(|(k, v)| (k.as_str(), v))
            .collect(),
        grants: &report.grants,
        programs: &report.programs,
        started: report.started_at.as_deref().unwrap_or(""),
        finished: report.finished_at.as_deref().unwrap_or(""),
    }
}

/// The digest of a granted path, computed once per run.
fn tree(ctx: &RunContext, path: &str, deadline: &Deadline) -> Result<Tree, String> {
    if let Some(known) = ctx.trees.lock().expect("lock").get(path) {
        return known.clone();
    }
    let none = crate::cache::tree::StatIndex::none();
    let index = ctx.cache.as_ref().map_or(&none, |c| c.index());
    let computed = crate::cache::tree::digest_tree(&ctx.root, Path::new(path), deadline, index);
    if computed.is_ok() || deadline.check().is_none() {
        ctx.trees
            .lock()
            .expect("lock")
            .insert(path.to_string(), computed.clone());
    }
    computed.map_err(|e| format!("cannot digest the granted tree `{path}`: {e}"))
}
