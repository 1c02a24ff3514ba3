//! The content-addressed artifact store: `.sluice/store/sha256/<hex>`.
//!
//! Files are copied in while hashed, under a temporary name, then renamed to their digest:
//! a crash never leaves a half-written artifact under a digest name, and a digest name always
//! holds exactly the bytes it names.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// The store.
#[derive(Debug, Clone)]
pub struct ArtifactStore {
    root: PathBuf,
}

impl ArtifactStore {
    /// A store rooted at `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        ArtifactStore { root: root.into() }
    }

    /// Where the artifact with `digest` (`sha256:<hex>`) lives.
    pub fn path(&self, digest: &str) -> PathBuf {
        self.root
            .join("sha256")
            .join(digest.trim_start_matches("sha256:"))
    }

    /// Copies the file `from` into the store and returns its digest and size.
    pub fn put(&self, from: &mut impl Read) -> std::io::Result<(String, u64)> {
        self.put_with(|out| std::io::copy(from, out))
    }

    /// Stores what `fill` writes (hashed as it is written) and returns its digest and size.
    /// Nothing is left behind under a digest name unless `fill` succeeded: the bytes go to a
    /// temporary file first, then renamed. A new blob is flushed to disk before its rename (a
    /// digest name must never point at torn bytes, even after a power cut); bytes the store
    /// already holds are dropped without a flush.
    pub fn put_with<E: From<std::io::Error>>(
        &self,
        fill: impl FnOnce(&mut HashingWriter) -> Result<u64, E>,
    ) -> Result<(String, u64), E> {
        let dir = self.root.join("sha256");
        std::fs::create_dir_all(&dir)?;
        let tmp = dir.join(format!(".incoming-{}-{}", std::process::id(), unique()));
        let result = (|| {
            let mut out = HashingWriter {
                file: std::fs::File::create(&tmp)?,
                hasher: Sha256::new(),
                size: 0,
            };
            fill(&mut out)?;
            let digest = format!("sha256:{}", hex::encode(out.hasher.finalize()));
            Ok::<_, E>((digest, out.size, out.file))
        })();
        match result {
            Ok((digest, size, file)) => {
                let dest = self.path(&digest);
                if dest.exists() {
                    std::fs::remove_file(&tmp)?;
                } else {
                    file.sync_all()?;
                    drop(file);
                    let mut perms = std::fs::metadata(&tmp)?.permissions();
                    perms.set_readonly(true);
                    std::fs::set_permissions(&tmp, perms)?;
                    std::fs::rename(&tmp, &dest)?;
                }
                Ok((digest, size))
            }
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                Err(e)
            }
        }
    }

    /// Makes the artifact visible as `name` in `dir` (a hard link, or a copy across file
    /// systems).
    pub fn materialize(
        &self,
        digest: &str,
        dir: &cap_std::fs::Dir,
        name: &str,
    ) -> std::io::Result<()> {
        let from = self.path(digest);
        let linked = rustix::fs::linkat(
            rustix::fs::CWD,
            &from,
            dir,
            name,
            rustix::fs::AtFlags::empty(),
        );
        if linked.is_err() {
            let mut src = std::fs::File::open(&from)?;
            let mut dst = dir.create(name)?;
            std::io::copy(&mut src, &mut dst)?;
        }
        Ok(())
    }

    /// Removes temporary files that runs killed mid-write left behind (their process is
    /// gone). They were never under a digest name, so no run ever trusted them.
    pub fn sweep(&self) {
        let Ok(entries) = std::fs::read_dir(self.root.join("sha256")) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(".incoming-")) else {
                continue;
            };
            let pid = rest.split('-').next().unwrap_or("");
            if !pid.is_empty() && !Path::new("/proc").join(pid).exists() {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

/// Writes into a store entry, hashing what it writes.
pub struct HashingWriter {
    file: std::fs::File,
    hasher: Sha256,
    size: u64,
}

impl Write for HashingWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_by_digest_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = ArtifactStore::new(dir.path());
        let (d1, size) = store.put(&mut &b"hello"[..]).unwrap();
        let (d2, _) = store.put(&mut &b"hello"[..]).unwrap();
        assert_eq!(
            d1,
            "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        assert_eq!((d1.clone(), size), (d2, 5));
        assert_eq!(std::fs::read(store.path(&d1)).unwrap(), b"hello");
        let names: Vec<_> = std::fs::read_dir(dir.path().join("sha256"))
            .unwrap()
            .collect();
        assert_eq!(names.len(), 1, "no temporary files are left behind");
    }
}
