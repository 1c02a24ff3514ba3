//! Provenance: how an artifact was made in this run, built by the host from what it planned
//! and ran (never from what a step says). Answers the `provenance.artifact` host call; the
//! `sign` step turns the document into SLSA Provenance v1. The format is documented in
//! `docs/provenance.md`.

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cap_std::fs::Dir;
use indexmap::IndexMap;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{RunContext, StepReport};
use crate::manifest::StepId;
use crate::sandbox::limits::Deadline;
use crate::types::{ArtifactRef, Value};

/// The `type` of the documents: where the format is described.
pub const TYPE: &str = "https://github.com/sluice-ci/sluice/blob/main/docs/provenance.md#v1";

/// The most entries a tree digest walks; a larger tree is reported as too large.
const MAX_TREE_ENTRIES: usize = 200_000;
/// The deepest directory a tree digest descends into: a step with a write grant can nest
/// directories without end, and each level holds a descriptor and a stack frame of the host.
const MAX_TREE_DEPTH: usize = 128;

/// An artifact input of the step asking: where it is and where it came from.
#[derive(Debug, Clone)]
pub(crate) struct InputArtifact {
    pub(crate) input: String,
    pub(crate) guest_path: String,
    pub(crate) artifact: ArtifactRef,
    /// The step and output it came from (`None`: not from a step of this run).
    pub(crate) from: Option<(StepId, String)>,
}

/// The digest of a granted workspace path, as of the first time provenance asked for it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Tree {
    /// `sha256:<hex>` over the listing (see `docs/provenance.md`).
    pub(crate) digest: String,
    /// Regular files in it.
    pub(crate) files: u64,
    /// Their bytes.
    pub(crate) bytes: u64,
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
    let computed = digest_tree(&ctx.root, Path::new(path), deadline);
    if computed.is_ok() || deadline.check().is_none() {
        ctx.trees
            .lock()
            .expect("lock")
            .insert(path.to_string(), computed.clone());
    }
    computed.map_err(|e| format!("cannot digest the granted tree `{path}`: {e}"))
}

/// What a tree holds, one line per entry sorted by path: `<sha256 hex>  <path>` for a
/// regular file, `symlink <target>  <path>` for a symbolic link (never followed); the digest
/// is SHA-256 over those lines. `.sluice/` is left out, as steps never see it.
pub(crate) fn digest_tree(root: &Dir, rel: &Path, deadline: &Deadline) -> Result<Tree, String> {
    let mut lines: Vec<(String, String)> = Vec::new();
    let mut tree = Tree {
        digest: String::new(),
        files: 0,
        bytes: 0,
    };
    let top = open_beneath(root, rel)?;
    match top {
        Opened::File(file) => {
            let (hex, n) = hash_file(file, deadline)?;
            tree.files = 1;
            tree.bytes = n;
            lines.push((rel.display().to_string(), hex));
        }
        Opened::Dir(dir) => {
            let at_root = rel == Path::new(".") || rel.as_os_str().is_empty();
            walk(
                &dir,
                PathBuf::new(),
                0,
                at_root,
                deadline,
                &mut lines,
                &mut tree,
            )?;
        }
    }
    lines.sort();
    let mut h = Sha256::new();
    for (path, what) in &lines {
        h.update(format!("{what}  {path}\n").as_bytes());
    }
    tree.digest = format!("sha256:{}", hex::encode(h.finalize()));
    Ok(tree)
}

enum Opened {
    Dir(Dir),
    File(cap_std::fs::File),
}

fn open_beneath(root: &Dir, rel: &Path) -> Result<Opened, String> {
    let mut dir = root.try_clone().map_err(|e| e.to_string())?;
    let parts: Vec<_> = rel
        .components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect();
    for (i, c) in parts.iter().enumerate() {
        let std::path::Component::Normal(name) = c else {
            return Err(format!("{}: not a plain relative path", rel.display()));
        };
        let meta = dir
            .symlink_metadata(name)
            .map_err(|e| format!("{}: {e}", rel.display()))?;
        if meta.is_dir() {
            dir = open_dir_nofollow(&dir, Path::new(name))
                .map_err(|e| format!("{}: {e}", rel.display()))?;
        } else if meta.is_file() && i + 1 == parts.len() {
            return open_file(&dir, Path::new(name)).map(Opened::File);
        } else {
            return Err(format!(
                "{}: not a directory or regular file (symlinks are not followed)",
                rel.display()
            ));
        }
    }
    Ok(Opened::Dir(dir))
}

/// Opens a directory beneath `dir`, never through a symlink (one swapped in after the
/// `lstat` is refused by the kernel).
fn open_dir_nofollow(dir: &Dir, name: &Path) -> std::io::Result<Dir> {
    use rustix::fs::{Mode, OFlags};
    let fd = rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    Ok(Dir::from_std_file(std::fs::File::from(fd)))
}

fn open_file(dir: &Dir, name: &Path) -> Result<cap_std::fs::File, String> {
    use cap_std::fs::OpenOptionsExt;
    use rustix::fs::OFlags;
    let mut options = cap_std::fs::OpenOptions::new();
    options
        .read(true)
        .custom_flags((OFlags::NONBLOCK | OFlags::NOFOLLOW | OFlags::NOCTTY).bits() as i32);
    let file = dir
        .open_with(name, &options)
        .map_err(|e| format!("{}: {e}", name.display()))?;
    let meta = file.metadata().map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err(format!("{}: not a regular file", name.display()));
    }
    Ok(file)
}

fn hash_file(mut file: cap_std::fs::File, deadline: &Deadline) -> Result<(String, u64), String> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut n = 0u64;
    loop {
        if deadline.check().is_some() {
            return Err("stopped at the step's deadline".into());
        }
        let read = file.read(&mut buf).map_err(|e| e.to_string())?;
        if read == 0 {
            break;
        }
        h.update(&buf[..read]);
        n += read as u64;
    }
    Ok((hex::encode(h.finalize()), n))
}

fn walk(
    dir: &Dir,
    prefix: PathBuf,
    depth: usize,
    at_root: bool,
    deadline: &Deadline,
    lines: &mut Vec<(String, String)>,
    tree: &mut Tree,
) -> Result<(), String> {
    let mut entries: Vec<_> = dir
        .entries()
        .map_err(|e| e.to_string())?
        .filter_map(Result::ok)
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        if lines.len() >= MAX_TREE_ENTRIES {
            return Err(format!("more than {MAX_TREE_ENTRIES} entries"));
        }
        let name = entry.file_name();
        if at_root && name == crate::sandbox::fs::STATE_DIR {
            continue;
        }
        let path = prefix.join(&name);
        let Ok(meta) = dir.symlink_metadata(&name) else {
            continue;
        };
        if meta.is_dir() {
            if depth >= MAX_TREE_DEPTH {
                return Err(format!(
                    "{}: directories nested deeper than {MAX_TREE_DEPTH} levels",
                    path.display()
                ));
            }
            let sub = open_dir_nofollow(dir, Path::new(&name))
                .map_err(|e| format!("{}: {e}", path.display()))?;
            walk(&sub, path, depth + 1, false, deadline, lines, tree)?;
        } else if meta.is_file() {
            let file = open_file(dir, Path::new(&name))?;
            let (hex, n) = hash_file(file, deadline)?;
            tree.files += 1;
            tree.bytes += n;
            lines.push((path.display().to_string(), hex));
        } else if meta.file_type().is_symlink() {
            let target = dir
                .read_link_contents(&name)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            lines.push((
                path.display().to_string(),
                format!("symlink {}", target.display()),
            ));
        }
    }
    Ok(())
}
