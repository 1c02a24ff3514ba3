//! The on-disk cache of compiled components.
//!
//! An entry is `<cache>/components/<key>.cwasm`, where the key hashes the component digest,
//! the engine's compatibility hash (its configuration and target) and the wasmtime version,
//! and beside it `<key>.cwasm.crc`, the entry's length and CRC-32. The entry is mapped, not
//! read, and checked before wasmtime loads it (`Component::deserialize_file` trusts its input)
//! from that very open file, so a truncated, torn or corrupted entry, or one swapped in
//! between the check and the load, is recompiled and replaced, never loaded; the compiled
//! code is then used in place, not copied (a Python or JavaScript plugin compiles to some
//! 37 MB). A checksum, not a digest: the cache is the user's, and whoever can rewrite an entry
//! can rewrite its digest beside it, so a cryptographic hash would protect nothing more and
//! cost a fresh `sluice run` some 20 ms per large plugin. Both files are written to a
//! temporary file and renamed, so a crash never leaves a half-written one.
//!
//! Beside them, `<digest>.info.json` keeps what the component's `describe()` returned (for
//! this version of Sluice): a pipeline is planned from it without compiling anything, and a
//! step whose result is replayed from the step cache never loads its component at all.
//!
//! By default the cache is per user (`$XDG_CACHE_HOME/sluice`, else `~/.cache/sluice`), so
//! every workspace on a machine shares the compiled built-ins.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

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

fn check_path(entry: &Path) -> PathBuf {
    let mut name = entry.as_os_str().to_owned();
    name.push(".crc");
    PathBuf::from(name)
}

/// What `<entry>.crc` holds: the length (8 bytes) and CRC-32 (4 bytes), little-endian.
fn check_of(body: &[u8]) -> [u8; 12] {
    let mut out = [0; 12];
    out[..8].copy_from_slice(&(body.len() as u64).to_le_bytes());
    out[8..].copy_from_slice(&crc32fast::hash(body).to_le_bytes());
    out
}

fn read_entry(engine: &Engine, path: &Path) -> Option<Component> {
    use std::os::fd::AsRawFd;
    let want = std::fs::read(check_path(path)).ok()?;
    let file = std::fs::File::open(path).ok()?;
    let len = usize::try_from(file.metadata().ok()?.len()).ok()?;
    let map = Mapped::new(&file, len).ok()?;
    if check_of(map.bytes()).as_slice() != want {
        tracing::warn!(path = %path.display(), "compile cache entry is corrupt; recompiling");
        return None;
    }
    // The open file, by its descriptor: what wasmtime maps is the file just hashed, whatever
    // the name points at by now. Without /proc, the checked bytes are copied in.
    let fd_path = PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()));
    // SAFETY: the entry was produced by `Component::serialize` of this wasmtime version (the
    // key names it) and is what we wrote: its length and checksum were checked above, on this
    // open file. An engine whose configuration differs is rejected by deserialization itself.
    // Like any mapped file, it must not be truncated while in use: the cache is the user's,
    // and entries are only ever replaced by rename, never rewritten in place.
    let loaded = if fd_path.exists() {
        unsafe { Component::deserialize_file(engine, &fd_path) }
    } else {
        unsafe { Component::deserialize(engine, map.bytes()) }
    };
    match loaded {
        Ok(component) => Some(component),
        Err(e) => {
            tracing::warn!(path = %path.display(), "compile cache entry rejected ({e:#}); recompiling");
            None
        }
    }
}

/// A file mapped read-only, unmapped on drop.
struct Mapped {
    ptr: *mut libc::c_void,
    len: usize,
}

impl Mapped {
    fn new(file: &std::fs::File, len: usize) -> std::io::Result<Self> {
        use std::os::fd::AsRawFd;
        if len == 0 {
            return Err(std::io::Error::other("empty"));
        }
        // SAFETY: a fresh private read-only mapping of an open file; nothing else aliases it.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                file.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Mapped { ptr, len })
    }

    fn bytes(&self) -> &[u8] {
        // SAFETY: `ptr` maps `len` readable bytes until `drop`.
        unsafe { std::slice::from_raw_parts(self.ptr.cast::<u8>(), self.len) }
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly what `new` mapped, once.
        unsafe { libc::munmap(self.ptr, self.len) };
    }
}

/// The entry, then its checksum, each through a temporary file and a rename (not flushed to
/// disk: the checksum catches what a power loss could tear).
fn write_entry(path: &Path, body: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().expect("cache entries live in a directory");
    std::fs::create_dir_all(dir)?;
    crate::cache::write_atomic(path, body)?;
    crate::cache::write_atomic(&check_path(path), &check_of(body))
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
