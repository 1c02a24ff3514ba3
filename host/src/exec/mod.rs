//! The scheduler: runs a plan on tokio. A step starts as soon as every step it depends on
//! has passed, up to `jobs` at once; a step that fails skips its dependants while
//! independent branches go on, unless `fail_fast` stops everything; cancellation (Ctrl-C)
//! stops running steps at their next epoch tick and skips the rest.

mod cached;
mod provenance;
mod step;

pub use step::{grants as step_grants, limits as step_limits};

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use indexmap::IndexMap;
use serde::Serialize;
use tokio::task::JoinSet;

use crate::cache::{CacheNote, StepCache};
use crate::manifest::{Manifest, StepId};
use crate::plan::Plan;
use crate::plugin::PluginSource;
use crate::plugin::loader::Loader;
use crate::runtime::{Cancel, EventSink, LogLine, StepEvent};
use crate::sandbox::secrets::{Masker, SecretSource};
use crate::store::ArtifactStore;
use crate::types::{Finding, Value};

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// It returned `ok` with valid outputs.
    Passed,
    /// It ran and its gate failed.
    Failed,
    /// It could not run or did not finish: invalid config, error, trap, timeout, memory.
    Errored,
    /// It did not run because a step it depends on did not pass.
    Skipped,
    /// The run was cancelled while it ran.
    Cancelled,
}

impl Status {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Status::Passed => "passed",
            Status::Failed => "failed",
            Status::Errored => "errored",
            Status::Skipped => "skipped",
            Status::Cancelled => "cancelled",
        }
    }
}

/// What a step was allowed, for the record.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Grants {
    /// `allow.read`.
    pub read: Vec<String>,
    /// `allow.write`.
    pub write: Vec<String>,
    /// `allow.secrets` (names only).
    pub secrets: Vec<String>,
    /// Names of `env` entries.
    pub env: Vec<String>,
    /// Time limit.
    pub timeout: String,
    /// Memory limit.
    pub memory: String,
    /// Limit on the bytes of artifacts the step may return.
    pub artifacts: String,
    /// `allow.exec`: each program as resolved, with its digest.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exec: Vec<crate::sandbox::exec::Program>,
    /// The confinement the programs run under (when any are granted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confinement: Option<String>,
    /// `allow.net`: the origins it may send HTTP requests to.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub net: Vec<String>,
    /// `allow.send`: each send-only secret (name only) and where it may be sent.
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub send: IndexMap<String, Vec<String>>,
}

/// The result of one step.
#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    /// Step id.
    pub id: String,
    /// What `uses` said.
    pub uses: String,
    /// Plugin name and version from `describe()`.
    pub plugin: String,
    /// Component digest.
    pub digest: String,
    /// How it ended.
    pub status: Status,
    /// Milliseconds from the start of the run to the start of the step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_ms: Option<u64>,
    /// When it started, RFC 3339 (UTC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    /// When it ended, RFC 3339 (UTC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// The inputs it was given (declared ports), artifacts by digest (masked).
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub inputs: IndexMap<String, Value>,
    /// The rest of its `with` table, as the plugin received it (masked).
    #[serde(skip_serializing_if = "serde_json::Map::is_empty")]
    pub config: serde_json::Map<String, serde_json::Value>,
    /// The programs it started (`allow.exec`), with their digests.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub programs: Vec<crate::sandbox::exec::ProgramRun>,
    /// How long it ran.
    #[serde(
        rename = "duration_ms",
        skip_serializing_if = "Option::is_none",
        serialize_with = "ser_ms"
    )]
    pub duration: Option<Duration>,
    /// Outputs (masked).
    pub outputs: IndexMap<String, Value>,
    /// Findings (masked).
    pub findings: Vec<Finding>,
    /// The step's summary line (masked).
    pub summary: String,
    /// Why it failed, errored or was skipped (masked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What it was granted.
    pub grants: Grants,
    /// The HTTP requests it made (steps with an `allow.net` grant).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub egress: Option<crate::sandbox::net::egress::Egress>,
    /// What the step-result cache did: replayed it (with the run it came from), ran it and
    /// why, or was not used and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache: Option<CacheNote>,
    /// Its log (masked); written to its own file, not into run.json.
    #[serde(skip)]
    pub log: Vec<LogLine>,
}

impl StepReport {
    /// Findings that count: those no annotation suppresses.
    pub fn active_findings(&self) -> usize {
        self.findings.iter().filter(|f| f.is_active()).count()
    }
}

fn ser_ms<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_some(&(d.as_secs_f64() * 1000.0).round()),
        None => s.serialize_none(),
    }
}

/// The result of a run.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// Run id (also the record's directory name).
    pub run_id: String,
    /// Pipeline name.
    pub pipeline: String,
    /// The manifest path as given.
    pub manifest: String,
    /// Start time, RFC 3339.
    pub started: String,
    /// Wall-clock duration.
    #[serde(rename = "duration_ms", serialize_with = "ser_dur")]
    pub duration: Duration,
    /// Whether it was cancelled.
    pub cancelled: bool,
    /// Steps, in plan order.
    pub steps: Vec<StepReport>,
    /// Masks the values of the secrets granted in this run: every sink the report is
    /// written to (console, record, `--json`, logs) goes through it.
    #[serde(skip)]
    pub masker: Arc<Masker>,
}

fn ser_dur<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((d.as_secs_f64() * 1000.0).round())
}

impl RunReport {
    /// Whether every step passed.
    pub fn passed(&self) -> bool {
        !self.cancelled && self.steps.iter().all(|s| s.status == Status::Passed)
    }

    /// `passed`, `failed` or `cancelled`.
    pub fn verdict(&self) -> &'static str {
        if self.cancelled {
            "cancelled"
        } else if self.passed() {
            "passed"
        } else {
            "failed"
        }
    }
}

/// How to run.
pub struct RunOptions {
    /// Steps running at once.
    pub jobs: usize,
    /// Stop everything at the first failure.
    pub fail_fast: bool,
    /// Where secret values come from.
    pub secrets: SecretSource,
    /// Live events for the console.
    pub events: EventSink,
    /// Cancellation (wired to Ctrl-C by the CLI).
    pub cancel: Cancel,
    /// The run id.
    pub run_id: String,
    /// Whether to use the step-result cache (`--no-step-cache` turns it off).
    pub step_cache: bool,
}

/// A new run id: UTC time to the millisecond plus a random suffix, so that ids sort in the
/// order the runs started (`20261122T031502417Z-5d91`).
pub fn new_run_id() -> String {
    let stamp = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
    let compact: String = stamp
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{compact}-{:04x}",
        (nanos ^ std::process::id().rotate_left(16)) & 0xffff
    )
}

/// Everything a step task shares with the others.
pub(crate) struct RunContext {
    pub(crate) manifest: Manifest,
    /// The workspace, opened once: every grant is resolved beneath it.
    pub(crate) root: cap_std::fs::Dir,
    /// This run's scratch directory, `.sluice/tmp/<run-id>`.
    pub(crate) tmp: cap_std::fs::Dir,
    pub(crate) run_id: String,
    pub(crate) state_dir: PathBuf,
    pub(crate) store: ArtifactStore,
    pub(crate) masker: Arc<Masker>,
    pub(crate) secrets: SecretSource,
    pub(crate) events: EventSink,
    pub(crate) cancel: Cancel,
    /// Loads a step's plugin when the step runs (a replayed step loads nothing).
    pub(crate) loader: Arc<Loader>,
    /// Each planned plugin by digest.
    pub(crate) sources: HashMap<String, PluginSource>,
    /// The step-result cache, unless it is off (and then why).
    pub(crate) cache: Option<StepCache>,
    pub(crate) cache_off: Option<String>,
    /// The manifest's canonical path: names the pipeline in the cache's `last/` pointers.
    pub(crate) pipeline_id: String,
    /// Each finished step's identity for its dependants' keys: its key, or for a step with
    /// no key the digest of its outputs.
    pub(crate) identities: Mutex<HashMap<StepId, String>>,
    /// Whether a step that may write to the workspace has started: from then on tree
    /// digests are not reused between steps.
    pub(crate) writers: std::sync::atomic::AtomicBool,
    /// Tree digests for cache keys, reused between steps until a writer starts.
    pub(crate) key_trees: Mutex<HashMap<String, crate::cache::tree::Tree>>,
    pub(crate) outputs: Mutex<HashMap<StepId, IndexMap<String, Value>>>,
    /// The reports of the steps that passed, for provenance.
    pub(crate) passed: Mutex<HashMap<StepId, StepReport>>,
    /// Each step's dependencies, from the plan.
    pub(crate) deps: HashMap<StepId, Vec<StepId>>,
    /// When the run started, RFC 3339.
    pub(crate) started_at: String,
    /// Digests of workspace trees, computed once per run when provenance asks for them.
    pub(crate) trees: Mutex<HashMap<String, Result<provenance::Tree, String>>>,
    pub(crate) started: Instant,
    /// The TLS settings of HTTPS requests, made on first use.
    pub(crate) tls: std::sync::OnceLock<Result<Arc<rustls::ClientConfig>, String>>,
}

/// The state directory of a workspace: `<dir>/.sluice`.
pub fn state_dir(manifest: &Manifest) -> PathBuf {
    manifest.dir.join(".sluice")
}

/// Opens the workspace and this run's scratch directory, held under a lock so that a later
/// run can tell scratch directories of runs that died (kill -9) from live ones and remove
/// them.
fn open_workspace(
    manifest: &Manifest,
    run_id: &str,
) -> std::io::Result<(cap_std::fs::Dir, cap_std::fs::Dir, std::fs::File)> {
    use rustix::fs::{FlockOperation, flock};
    let root = crate::sandbox::fs::open_host_dir(&manifest.dir)?;
    let tmp_rel = std::path::Path::new(crate::sandbox::fs::STATE_DIR).join("tmp");
    let tmp_all = crate::sandbox::fs::create_dir_beneath(&root, &tmp_rel)?;
    let lock = tmp_all.create(format!("{run_id}.lock"))?.into_std();
    flock(&lock, FlockOperation::LockExclusive)?;
    for entry in tmp_all.entries()?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(other) = name.strip_suffix(".lock") else {
            if !tmp_all.exists(format!("{name}.lock")) {
                let _ = tmp_all.remove_dir_all(&name);
            }
            continue;
        };
        if other == run_id {
            continue;
        }
        let Ok(file) = tmp_all.open(&name) else {
            continue;
        };
        if flock(&file, FlockOperation::NonBlockingLockExclusive).is_ok() {
            let _ = tmp_all.remove_dir_all(other);
            let _ = tmp_all.remove_file(&name);
        }
    }
    tmp_all.create_dir(run_id)?;
    let tmp = tmp_all.open_dir(run_id)?;
    Ok((root, tmp, lock))
}

/// Runs the plan to the end (or to cancellation) and reports every step.
pub async fn run(
    manifest: &Manifest,
    plan: &Plan,
    loader: Arc<Loader>,
    sources: HashMap<String, PluginSource>,
    options: RunOptions,
) -> RunReport {
    let started_at = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
    let state = state_dir(manifest);
    let store = ArtifactStore::new(state.join("store"));
    store.sweep();
    let (root, tmp, _lock) = match open_workspace(manifest, &options.run_id) {
        Ok(opened) => opened,
        Err(e) => {
            let message = format!("cannot open the workspace {}: {e}", manifest.dir.display());
            return RunReport {
                run_id: options.run_id,
                pipeline: manifest.pipeline.name.clone(),
                manifest: manifest.path.clone(),
                started: started_at,
                duration: Duration::ZERO,
                cancelled: false,
                masker: Arc::default(),
                steps: plan
                    .order
                    .iter()
                    .map(|id| {
                        let mut r =
                            step::skipped(&manifest.pipeline, &plan.steps[id], message.clone());
                        r.status = Status::Errored;
                        r.error = Some(message.clone());
                        r
                    })
                    .collect(),
            };
        }
    };
    let secret_values: Vec<String> = plan
        .steps
        .values()
        .flat_map(|s| {
            let readable = s.step.allow.secrets.iter().map(|n| n.get_ref().to_string());
            let send = s
                .step
                .allow
                .send
                .iter()
                .map(|g| g.name.get_ref().to_string());
            readable.chain(send).collect::<Vec<_>>()
        })
        .filter_map(|name| options.secrets.get(&name))
        .collect();
    // Opened even with `--no-step-cache`: the run holds the cache's lock (so that `sluice
    // cache gc` never removes the artifacts it is making) and notes its artifacts for gc.
    let (cache, mut cache_off) = match StepCache::open(&state.join("cache")) {
        Ok(c) => (Some(c), None),
        Err(e) => (None, Some(format!("the step cache cannot be opened: {e}"))),
    };
    if !options.step_cache {
        cache_off = Some("the step cache is off (--no-step-cache)".to_string());
    }
    let pipeline_id = std::fs::canonicalize(&manifest.path)
        .unwrap_or_else(|_| manifest.dir.join(&manifest.path))
        .display()
        .to_string();
    let ctx = Arc::new(RunContext {
        loader,
        sources,
        cache,
        cache_off,
        pipeline_id,
        identities: Mutex::new(HashMap::new()),
        writers: std::sync::atomic::AtomicBool::new(false),
        key_trees: Mutex::new(HashMap::new()),
        manifest: manifest.clone(),
        run_id: options.run_id.clone(),
        root,
        tmp,
        store,
        state_dir: state,
        masker: Arc::new(Masker::new(secret_values)),
        secrets: options.secrets,
        events: options.events,
        cancel: options.cancel.clone(),
        outputs: Mutex::new(HashMap::new()),
        passed: Mutex::new(HashMap::new()),
        deps: plan
            .steps
            .iter()
            .map(|(id, s)| (id.clone(), s.deps.clone()))
            .collect(),
        started_at: started_at.clone(),
        trees: Mutex::new(HashMap::new()),
        started: Instant::now(),
        tls: std::sync::OnceLock::new(),
    });

    let mut reports: HashMap<StepId, StepReport> = HashMap::new();
    let mut running: JoinSet<StepReport> = JoinSet::new();
    let mut started: Vec<StepId> = Vec::new();
    let mut stopping = false;
    let mut failed_fast = false;
    // The instance pool holds MAX_INSTANCES; more concurrent steps could not be instantiated.
    let jobs = options
        .jobs
        .clamp(1, crate::runtime::MAX_INSTANCES as usize);

    loop {
        // Skip what can no longer run.
        for id in &plan.order {
            if reports.contains_key(id) || started.contains(id) {
                continue;
            }
            let planned = &plan.steps[id];
            let blocker = planned
                .deps
                .iter()
                .find(|d| reports.get(*d).is_some_and(|r| r.status != Status::Passed));
            let reason = match blocker {
                Some(dep) => Some(format!("`{dep}` did not pass")),
                None if stopping => Some(if failed_fast {
                    "the run stopped at the first failure (--fail-fast)".to_string()
                } else {
                    "the run was cancelled".to_string()
                }),
                None => None,
            };
            if let Some(reason) = reason {
                reports.insert(
                    id.clone(),
                    step::skipped(&manifest.pipeline, planned, reason),
                );
            }
        }
        // Start what is ready.
        if !stopping {
            for id in &plan.order {
                if running.len() >= jobs {
                    break;
                }
                if reports.contains_key(id) || started.contains(id) {
                    continue;
                }
                let planned = &plan.steps[id];
                if planned
                    .deps
                    .iter()
                    .all(|d| reports.get(d).is_some_and(|r| r.status == Status::Passed))
                {
                    started.push(id.clone());
                    if let Some(events) = &ctx.events {
                        let _ = events.send(StepEvent::Started {
                            step: id.to_string(),
                        });
                    }
                    running.spawn(step::execute(ctx.clone(), planned.clone()));
                }
            }
        }
        if running.is_empty() {
            break;
        }
        let finished = tokio::select! {
            joined = running.join_next() => joined,
            () = ctx.cancel.wait(), if !stopping => {
                stopping = true;
                continue;
            }
        };
        let report = match finished {
            Some(Ok(report)) => report,
            Some(Err(e)) => panic!("a step task panicked: {e}"),
            None => continue,
        };
        if let Some(events) = &ctx.events {
            let _ = events.send(StepEvent::Finished {
                step: report.id.clone(),
                status: report.status.name(),
                duration: report.duration.unwrap_or_default(),
                findings: report.active_findings(),
                cached_from: report.cache.as_ref().and_then(|c| c.from_run.clone()),
            });
        }
        if report.status != Status::Passed && options.fail_fast && !stopping {
            stopping = true;
            failed_fast = true;
            ctx.cancel.cancel();
        }
        if report.status == Status::Passed {
            let id = StepId::try_from(report.id.clone()).expect("valid id");
            ctx.outputs
                .lock()
                .expect("lock")
                .insert(id.clone(), report.outputs.clone());
            let mut kept = report.clone();
            kept.log = Vec::new();
            ctx.passed.lock().expect("lock").insert(id, kept);
        }
        reports.insert(
            StepId::try_from(report.id.clone()).expect("valid id"),
            report,
        );
        if ctx.cancel.is_cancelled() {
            stopping = true;
        }
    }

    if let Some(cache) = &ctx.cache {
        let blobs = reports
            .values()
            .flat_map(|r| crate::cache::output_blobs(&r.outputs));
        cache.finish_run(&ctx.run_id, blobs);
    }
    let _ = std::fs::remove_dir_all(ctx.state_dir.join("tmp").join(&ctx.run_id));
    let _ = std::fs::remove_file(
        ctx.state_dir
            .join("tmp")
            .join(format!("{}.lock", ctx.run_id)),
    );
    RunReport {
        masker: ctx.masker.clone(),
        run_id: options.run_id,
        pipeline: manifest.pipeline.name.clone(),
        manifest: manifest.path.clone(),
        started: started_at,
        duration: ctx.started.elapsed(),
        cancelled: options.cancel.is_cancelled() && !failed_fast,
        steps: plan
            .order
            .iter()
            .map(|id| reports.remove(id).expect("every step has a report"))
            .collect(),
    }
}
