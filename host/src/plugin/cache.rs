//! The on-disk cache of compiled components.
//!
//! An entry is `<cache>/components/<key>.cwasm`, where the key hashes the component digest,
//! the engine's compatibility hash (its configuration and target) and the wasmtime version.
//! Each entry starts with the sha256 of the rest, checked before the bytes are handed to
//! `Component::deserialize` (which trusts its input): a truncated, corrupted or tampered
//! entry is recompiled and replaced, never loaded. Entries are written to a temporary file
//! and renamed, so a crash never leaves a half-written one.
//!
//! Beside them, `<digest>.info.json` keeps what the component's `describe()` returned (for
//! this version of Sluice): a pipeline is planned from it without compiling anything, and a
//! step whose result is replayed from the step cache never loads its component at all.
//!
//! By default the cache is per user (`$XDG_CACHE_HOME/sluice`, else `~/.cache/sluice`), so
//! every workspace on a machine shares the compiled built-ins.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use crate::types::PluginInfo;

/// Where compiled components are kept, or nowhere.
#[derive(Debug, Clone)]
pub struct CompileCache {
    dir: Option<PathBuf>,
}

/// How a component was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    /// Loaded from the cache.
    Hit,
    /// Compiled and stored.
    Miss,
    /// Compiled, the cache being disabled.
    Disabled,
}

impl CompileCache {
    /// A cache under `dir` (`.sluice/cache` of the workspace, usually).
    pub fn at(dir: impl Into<PathBuf>) -> Self {
        CompileCache {
            dir: Some(dir.into()),
        }
    }

    /// No cache: every component is compiled.
    pub fn disabled() -> Self {
        CompileCache { dir: None }
    }

    /// The directory, unless disabled.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    fn info_path(&self, digest: &str) -> Option<PathBuf> {
        let dir = self.dir.as_ref()?;
        Some(dir.join("components").join(format!(
            "{}.info.json",
            digest.trim_start_matches("sha256:")
        )))
    }

    /// What `describe()` of the component `digest` returned, if this version of Sluice
    /// recorded it.
    pub fn info(&self, digest: &str) -> Option<PluginInfo> {
        let bytes = std::fs::read(self.info_path(digest)?).ok()?;
        let saved: SavedInfo = serde_json::from_slice(&bytes).ok()?;
        (saved.sluice == crate::cache::key::sluice_version() && saved.digest == digest)
            .then_some(saved.info)
    }

    /// Records what `describe()` returned.
    pub fn save_info(&self, digest: &str, info: &PluginInfo) {
        let Some(path) = self.info_path(digest) else {
            return;
        };
        let saved = SavedInfo {
            sluice: crate::cache::key::sluice_version(),
            digest: digest.to_string(),
            info: info.clone(),
        };
        let bytes = serde_json::to_vec(&saved).expect("serializes");
        let written = std::fs::create_dir_all(path.parent().expect("in a directory"))
            .and_then(|()| crate::cache::write_atomic(&path, &bytes));
        if let Err(e) = written {
            tracing::warn!(path = %path.display(), "cannot write the compile cache: {e}");
        }
    }

    fn entry(&self, engine: &Engine, digest: &str) -> Option<PathBuf> {
        let dir = self.dir.as_ref()?;
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let engine_hash = hasher.finish();
        let key = format!(
            "{}-{engine_hash:016x}-wasmtime{}",
            digest.trim_start_matches("sha256:"),
            wasmtime_version()
        );
        Some(dir.join("components").join(format!("{key}.cwasm")))
    }

    /// Returns the compiled component for `bytes` (whose digest is `digest`).
    pub fn load(
        &self,
        engine: &Engine,
        digest: &str,
        bytes: &[u8],
    ) -> wasmtime::Result<(Component, CacheOutcome)> {
        let Some(path) = self.entry(engine, digest) else {
            return Ok((Component::new(engine, bytes)?, CacheOutcome::Disabled));
        };
        if let Some(component) = read_entry(engine, &path) {
            return Ok((component, CacheOutcome::Hit));
        }
        let component = Component::new(engine, bytes)?;
        if let Err(e) = write_entry(&path, &component.serialize()?) {
            tracing::warn!(path = %path.display(), "cannot write the compile cache: {e}");
        }
        Ok((component, CacheOutcome::Miss))
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct SavedInfo {
    sluice: String,
    digest: String,
    info: PluginInfo,
}

fn wasmtime_version() -> &'static str {
    // The exact pin in host/Cargo.toml; the compatibility hash covers the rest.
    "48.0.8"
}

fn read_entry(engine: &Engine, path: &Path) -> Option<Component> {
    let data = std::fs::read(path).ok()?;
    if data.len() < 32 {
        return None;
    }
    let (sum, body) = data.split_at(32);
    if Sha256::digest(body).as_slice() != sum {
        tracing::warn!(path = %path.display(), "compile cache entry is corrupt; recompiling");
        return None;
    }
    // SAFETY: `body` was produced by `Component::serialize` of this wasmtime version (the key
    // names it) and is byte-for-byte what we wrote: its sha256 was checked above. An engine
    // whose configuration differs is rejected by `deserialize` itself.
    match unsafe { Component::deserialize(engine, body) } {
        Ok(component) => Some(component),
        Err(e) => {
            tracing::warn!(path = %path.display(), "compile cache entry rejected ({e}); recompiling");
            None
        }
    }
}

/// Written through a temporary file and a rename (not flushed to disk: the digest at the
/// front catches what a power loss could tear).
fn write_entry(path: &Path, body: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().expect("cache entries live in a directory");
    std::fs::create_dir_all(dir)?;
    let mut bytes = Vec::with_capacity(body.len() + 32);
    bytes.extend_from_slice(&Sha256::digest(body));
    bytes.extend_from_slice(body);
    crate::cache::write_atomic(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine() -> Engine {
        Engine::new(&crate::runtime::engine_config()).unwrap()
    }

    #[test]
    fn hits_after_a_miss_and_recompiles_a_corrupt_entry() {
        let dir = tempfile::tempdir().unwrap();
        let cache = CompileCache::at(dir.path());
        let engine = engine();
        let go_mod = crate::plugin::builtin("go-mod").unwrap();
        let (_, first) = cache.load(&engine, go_mod.digest, go_mod.bytes).unwrap();
        let (_, second) = cache.load(&engine, go_mod.digest, go_mod.bytes).unwrap();
        assert_eq!((first, second), (CacheOutcome::Miss, CacheOutcome::Hit));

        let entry = cache.entry(&engine, go_mod.digest).unwrap();
        let mut bytes = std::fs::read(&entry).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0xff;
        std::fs::write(&entry, &bytes).unwrap();
        let (_, third) = cache.load(&engine, go_mod.digest, go_mod.bytes).unwrap();
        assert_eq!(
            third,
            CacheOutcome::Miss,
            "a corrupt entry is never deserialized"
        );
        let (_, fourth) = cache.load(&engine, go_mod.digest, go_mod.bytes).unwrap();
        assert_eq!(fourth, CacheOutcome::Hit, "and it was replaced");

        std::fs::write(&entry, b"short").unwrap();
        assert_eq!(
            cache.load(&engine, go_mod.digest, go_mod.bytes).unwrap().1,
            CacheOutcome::Miss
        );
    }

    #[test]
    fn keys_differ_by_component() {
        let cache = CompileCache::at("/cache");
        let engine = engine();
        assert_ne!(
            cache.entry(&engine, "sha256:aa"),
            cache.entry(&engine, "sha256:bb")
        );
        assert_eq!(CompileCache::disabled().entry(&engine, "sha256:aa"), None);
    }
}
