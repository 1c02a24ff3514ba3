//! The step-result cache: a step whose key (see [`key`]) has a recorded result is not run
//! again; its result is replayed.
//!
//! Layout, under the workspace's `.sluice/cache/`:
//!
//! - `results/<key>.json`: one entry per key — the result as the run record showed it (masked),
//!   the run that made it, its timings, and the key's parts. The file starts with the
//!   SHA-256 of the rest: a torn or corrupted entry is a miss, never a broken replay.
//! - `last/<id>`: the key each step of each pipeline had last, so that a miss can say which
//!   part of the key changed.
//! - `runs/<run-id>`: the keys and store blobs each run used, for `sluice cache gc`.
//! - `stat-index`: [`tree::StatIndex`]; `secret-key`: the random key of the secrets' hashes.
//! - `steps/<step-id>/` (not this module's): each step's own persistent cache, e.g. Go's
//!   build cache for `go-test` and `go-build`.
//! - `lock`: runs hold it shared, `sluice cache gc` exclusively, so that gc never removes
//!   what a running run is about to use.
//!
//! Every file is written to a temporary name and renamed: a crash leaves the old file or the
//! new one, and concurrent runs in one workspace at worst both write the same entry.

pub mod key;
pub mod tree;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::exec::Status;
use crate::runtime::LogLine;
use crate::sandbox::exec::ProgramRun;
use crate::sandbox::secrets::{Masked, Masker};
use crate::store::ArtifactStore;
use crate::types::{Finding, Value};

pub use key::KeyParts;

/// A recorded step result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    /// [`key::FORMAT`] when it was written.
    pub format: u32,
    /// Its key.
    pub key: String,
    /// The key's parts.
    pub parts: KeyParts,
    /// The run that ran the step.
    pub run: String,
    /// The step's id in that run.
    pub step: String,
    /// `passed` or `failed` (errored, timed-out and cancelled steps are never recorded).
    pub status: Status,
    /// When it started, RFC 3339.
    pub started_at: Option<String>,
    /// When it ended, RFC 3339.
    pub finished_at: Option<String>,
    /// How long it ran, in microseconds.
    pub duration_us: u64,
    /// Its outputs, artifacts by digest.
    pub outputs: IndexMap<String, Value>,
    /// Its findings.
    pub findings: Vec<Finding>,
    /// Its summary line.
    pub summary: String,
    /// Why its gate failed.
    pub error: Option<String>,
    /// The programs it started.
    pub programs: Vec<ProgramRun>,
    /// Its log.
    pub log: Vec<LogLine>,
}

impl Entry {
    /// The store blobs it needs.
    pub fn blobs(&self) -> impl Iterator<Item = &str> {
        self.outputs.values().filter_map(|v| match v {
            Value::Artifact(a) => Some(a.digest.as_str()),
            _ => None,
        })
    }
}

/// What a lookup found.
#[derive(Debug)]
pub enum Lookup {
    /// A result to replay.
    Hit(Box<Entry>),
    /// Nothing usable, and why (`None`: no entry with that key).
    Miss(Option<String>),
}

/// The step-result cache of one workspace, open for one run.
#[derive(Debug)]
pub struct StepCache {
    dir: PathBuf,
    _lock: std::fs::File,
    secret_key: OnceLock<Result<[u8; 32], String>>,
    index: OnceLock<tree::StatIndex>,
    used: Mutex<BTreeSet<String>>,
}

fn read_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .map(|t| t.lines().map(str::to_string).collect())
        .unwrap_or_default()
}

impl StepCache {
    /// Opens (creating) the cache under `dir` (`.sluice/cache`) for a run.
    pub fn open(dir: &Path) -> std::io::Result<StepCache> {
        std::fs::create_dir_all(dir.join("results"))?;
        let lock = lock_file(dir)?;
        rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockShared)?;
        Ok(StepCache {
            dir: dir.to_path_buf(),
            _lock: lock,
            secret_key: OnceLock::new(),
            index: OnceLock::new(),
            used: Mutex::new(BTreeSet::new()),
        })
    }

    /// The stat index of the workspace's files (loaded on first use).
    pub fn index(&self) -> &tree::StatIndex {
        self.index
            .get_or_init(|| tree::StatIndex::load(self.dir.join("stat-index")))
    }

    /// The keyed hash of a secret's value: HMAC-SHA256 under this workspace's random key.
    pub fn secret_hash(&self, name: &str, value: &str) -> Result<String, String> {
        use hmac::{Hmac, Mac};
        let key = self
            .secret_key
            .get_or_init(|| secret_key(&self.dir.join("secret-key")).map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|e| format!("cannot read the cache's secret key: {e}"))?;
        let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
        mac.update(name.as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        Ok(hex::encode(mac.finalize().into_bytes()))
    }

    fn entry_path(&self, key: &str) -> PathBuf {
        self.dir.join("results").join(format!("{key}.json"))
    }

    /// The entry for `key`, if there is one whose artifacts are all in `store`.
    pub fn lookup(&self, key: &str, store: &ArtifactStore) -> Lookup {
        let path = self.entry_path(key);
        let entry = match read_entry(&path) {
            Ok(Some(e)) if e.key == key && e.format == key::FORMAT => e,
            Ok(Some(_)) => return Lookup::Miss(Some("its entry is for another key".into())),
            Ok(None) => return Lookup::Miss(None),
            Err(why) => return Lookup::Miss(Some(why)),
        };
        for (name, value) in &entry.outputs {
            if let Value::Artifact(a) = value {
                let present = std::fs::metadata(store.path(&a.digest))
                    .is_ok_and(|m| m.is_file() && m.len() == a.size);
                if !present {
                    return Lookup::Miss(Some(format!(
                        "the artifact of output `{name}` ({}) is no longer in the store",
                        a.digest
                    )));
                }
            }
        }
        // Recently used: `gc --max-size` keeps the most recently used entries.
        if let Ok(f) = std::fs::File::options().write(true).open(&path) {
            let _ = f.set_modified(std::time::SystemTime::now());
        }
        self.used.lock().expect("lock").insert(key.to_string());
        Lookup::Hit(Box::new(entry))
    }

    /// Records a result (masked with `masker`: no secret value is ever stored).
    pub fn put(&self, entry: &Entry, masker: &Masker) -> std::io::Result<()> {
        let json = serde_json::to_vec(&Masked(entry, masker)).map_err(std::io::Error::other)?;
        let mut bytes = Vec::with_capacity(json.len() + 65);
        bytes.extend_from_slice(hex::encode(Sha256::digest(&json)).as_bytes());
        bytes.push(b'\n');
        bytes.extend_from_slice(&json);
        write_atomic(&self.entry_path(&entry.key), &bytes)?;
        self.used.lock().expect("lock").insert(entry.key.clone());
        Ok(())
    }

    fn last_path(&self, pipeline: &str, step: &str) -> PathBuf {
        let id = hex::encode(Sha256::digest(format!("{pipeline}\0{step}")));
        self.dir.join("last").join(&id[..32])
    }

    /// The entry `step` of `pipeline` (a manifest's canonical path) had last.
    pub fn last(&self, pipeline: &str, step: &str) -> Option<Entry> {
        let key = std::fs::read_to_string(self.last_path(pipeline, step)).ok()?;
        read_entry(&self.entry_path(key.trim())).ok().flatten()
    }

    /// Remembers that `step` of `pipeline` had `key` (for explaining the next miss).
    pub fn remember(&self, pipeline: &str, step: &str, key: &str) {
        let path = self.last_path(pipeline, step);
        if std::fs::read_to_string(&path).is_ok_and(|k| k == key) {
            return;
        }
        let _ = std::fs::create_dir_all(path.parent().expect("has a parent"));
        if let Err(e) = write_atomic(&path, key.as_bytes()) {
            tracing::warn!("cannot write {}: {e}", path.display());
        }
    }

    /// Notes what the run used (entries and the store blobs of its outputs), for gc; saves
    /// the stat index.
    pub fn finish_run(&self, run_id: &str, blobs: impl IntoIterator<Item = String>) {
        let mut text = String::new();
        for key in self.used.lock().expect("lock").iter() {
            text.push_str(&format!("key {key}\n"));
        }
        for blob in blobs.into_iter().collect::<BTreeSet<_>>() {
            text.push_str(&format!("blob {blob}\n"));
        }
        let runs = self.dir.join("runs");
        let written = std::fs::create_dir_all(&runs)
            .and_then(|()| write_atomic(&runs.join(run_id), text.as_bytes()));
        if let Err(e) = written {
            tracing::warn!("cannot note the run's cache use: {e}");
        }
        if let Some(index) = self.index.get()
            && let Err(e) = index.save()
        {
            tracing::warn!("cannot save the stat index: {e}");
        }
    }
}

fn lock_file(dir: &Path) -> std::io::Result<std::fs::File> {
    std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join("lock"))
}

fn read_entry(path: &Path) -> Result<Option<Entry>, String> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("its entry cannot be read ({e})")),
    };
    let corrupt = || "its entry is damaged (it is replaced)".to_string();
    if bytes.len() < 65 || bytes[64] != b'\n' {
        return Err(corrupt());
    }
    let (sum, json) = (&bytes[..64], &bytes[65..]);
    if hex::encode(Sha256::digest(json)).as_bytes() != sum {
        return Err(corrupt());
    }
    serde_json::from_slice(json)
        .map(Some)
        .map_err(|_| corrupt())
}

fn secret_key(path: &Path) -> std::io::Result<[u8; 32]> {
    use std::os::unix::fs::OpenOptionsExt;
    let read = |path: &Path| -> std::io::Result<Option<[u8; 32]>> {
        match std::fs::read(path) {
            Ok(b) if b.len() == 32 => Ok(Some(b.try_into().expect("32 bytes"))),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    };
    if let Some(key) = read(path)? {
        return Ok(key);
    }
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(|e| std::io::Error::other(e.to_string()))?;
    // Written whole under a temporary name, then linked in without replacing: two runs
    // making one at once agree on whichever landed first.
    let tmp = tmp_name(path);
    {
        let mut f = std::fs::File::options()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(&key)?;
    }
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(key),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            read(path)?.ok_or_else(|| std::io::Error::other("the secret key is damaged"))
        }
        Err(e) => Err(e),
    }
}

/// A temporary name beside `path`, unique to this process and call, for an atomic write.
pub(crate) fn tmp_name(path: &Path) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    path.with_file_name(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ))
}

/// Writes `bytes` to `path` through a temporary file in the same directory, renamed over
/// it. Not flushed to disk: a crash of the process leaves the old file or the new one; what
/// a power loss could tear is checked when read (entries carry their digest).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = tmp_name(path);
    let written = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// What a workspace's caches hold.
#[derive(Debug, Default, Serialize)]
pub struct Usage {
    /// Step results.
    pub entries: u64,
    /// Their bytes.
    pub entry_bytes: u64,
    /// Artifacts in the store.
    pub blobs: u64,
    /// Their bytes.
    pub blob_bytes: u64,
    /// Runs whose use of the cache is remembered.
    pub runs: u64,
}

fn files(dir: &Path) -> Vec<(String, std::fs::Metadata)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let meta = e.metadata().ok()?;
            (meta.is_file() && !name.starts_with('.')).then_some((name, meta))
        })
        .collect()
}

/// Sizes and counts of the step cache under `cache` and the store under `store`.
pub fn usage(cache: &Path, store: &Path) -> Usage {
    let entries = files(&cache.join("results"));
    let blobs = files(&store.join("sha256"));
    Usage {
        entries: entries.len() as u64,
        entry_bytes: entries.iter().map(|(_, m)| m.len()).sum(),
        blobs: blobs.len() as u64,
        blob_bytes: blobs.iter().map(|(_, m)| m.len()).sum(),
        runs: files(&cache.join("runs")).len() as u64,
    }
}

/// What `gc` keeps.
#[derive(Debug, Clone, Copy)]
pub struct GcPolicy {
    /// Keep what the last N runs used (entries and store blobs); forget older runs.
    pub keep_runs: Option<usize>,
    /// Then drop the least recently used entries until entries and the blobs only they need
    /// fit in this many bytes.
    pub max_bytes: Option<u64>,
}

/// Why gc did not run.
#[derive(Debug, thiserror::Error)]
pub enum GcError {
    /// A run holds the cache.
    #[error("a run is in progress in this workspace; run `sluice cache gc` when it has ended")]
    Busy,
    /// I/O.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Removes what the policy does not keep: entries, then store blobs no kept entry or run
/// needs, then temporary files crashed writers left behind. Returns the usage before and
/// after.
pub fn gc(cache: &Path, store: &Path, policy: GcPolicy) -> Result<(Usage, Usage), GcError> {
    let before = usage(cache, store);
    std::fs::create_dir_all(cache)?;
    let lock = lock_file(cache)?;
    if rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_err() {
        return Err(GcError::Busy);
    }
    let runs_dir = cache.join("runs");
    let mut runs = files(&runs_dir);
    runs.sort_by(|a, b| a.0.cmp(&b.0));
    if let Some(n) = policy.keep_runs {
        let old = runs.len().saturating_sub(n);
        for (name, _) in runs.drain(..old) {
            let _ = std::fs::remove_file(runs_dir.join(name));
        }
    }
    let mut kept_keys = BTreeSet::new();
    let mut kept_blobs = BTreeSet::new();
    for (name, _) in &runs {
        for line in read_lines(&runs_dir.join(name)) {
            match line.split_once(' ') {
                Some(("key", k)) => kept_keys.insert(k.to_string()),
                Some(("blob", b)) => kept_blobs.insert(b.to_string()),
                _ => false,
            };
        }
    }
    let steps_dir = cache.join("results");
    let blob_size = |digest: &str| {
        std::fs::metadata(
            store
                .join("sha256")
                .join(digest.trim_start_matches("sha256:")),
        )
        .map_or(0, |m| m.len())
    };
    // Entries, the most recently used first.
    let mut entries = files(&steps_dir);
    entries.sort_by_key(|(_, m)| std::cmp::Reverse(m.modified().ok()));
    let mut used = 0u64;
    let mut counted: BTreeSet<String> = kept_blobs.clone();
    let mut entry_blobs: BTreeSet<String> = BTreeSet::new();
    for (name, meta) in entries {
        let key = name.trim_end_matches(".json");
        let path = steps_dir.join(&name);
        let keep_by_runs = policy.keep_runs.is_none() || kept_keys.contains(key);
        let entry = read_entry(&path).ok().flatten();
        let mut cost = meta.len();
        let blobs: Vec<String> = entry
            .iter()
            .flat_map(|e| e.blobs().map(str::to_string).collect::<Vec<_>>())
            .collect();
        for b in &blobs {
            if !counted.contains(b) {
                cost += blob_size(b);
            }
        }
        let fits = policy.max_bytes.is_none_or(|max| used + cost <= max);
        if entry.is_some() && keep_by_runs && fits {
            used += cost;
            counted.extend(blobs.iter().cloned());
            entry_blobs.extend(blobs);
        } else {
            let _ = std::fs::remove_file(&path);
        }
    }
    // Store blobs nothing kept needs.
    let blob_dir = store.join("sha256");
    for (name, _) in files(&blob_dir) {
        let digest = format!("sha256:{name}");
        if !kept_blobs.contains(&digest) && !entry_blobs.contains(&digest) {
            let _ = std::fs::remove_file(blob_dir.join(name));
        }
    }
    // Pointers to entries that are gone, and temporary files of writers that died.
    for (name, _) in files(&cache.join("last")) {
        let path = cache.join("last").join(&name);
        let key = std::fs::read_to_string(&path).unwrap_or_default();
        if !steps_dir.join(format!("{}.json", key.trim())).exists() {
            let _ = std::fs::remove_file(path);
        }
    }
    for dir in [cache.to_path_buf(), steps_dir, runs_dir, cache.join("last")] {
        sweep_tmp(&dir);
    }
    Ok((before, usage(cache, store)))
}

/// Removes `.<name>.<pid>.<n>.tmp` files whose writer is gone.
fn sweep_tmp(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_suffix(".tmp") else {
            continue;
        };
        let mut parts = rest.rsplitn(3, '.');
        let (_n, pid) = (parts.next(), parts.next());
        if let Some(pid) = pid
            && pid.parse::<u32>().is_ok()
            && !Path::new("/proc").join(pid).exists()
        {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Per-step decisions of one run, for the record and `--explain-cache`.
#[derive(Debug, Clone, Serialize)]
pub struct CacheNote {
    /// `hit` (replayed), `miss` (ran; recorded if it passed or failed its gate), `off`
    /// (never looked up).
    pub outcome: &'static str,
    /// The key, when one was computed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The run a replayed result came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_run: Option<String>,
    /// Why: what changed since the step's last entry, or why it is not cached.
    pub why: String,
    /// Whether its result was recorded (for a miss).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub recorded: bool,
}

/// Maps an output-name map to the blob digests it holds.
pub fn output_blobs(outputs: &IndexMap<String, Value>) -> Vec<String> {
    outputs
        .values()
        .filter_map(|v| match v {
            Value::Artifact(a) => Some(a.digest.clone()),
            _ => None,
        })
        .collect()
}

/// Sorted map helper.
pub(crate) fn btree<K: Ord, V>(it: impl IntoIterator<Item = (K, V)>) -> BTreeMap<K, V> {
    it.into_iter().collect()
}
