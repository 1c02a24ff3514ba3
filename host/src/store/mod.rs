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
        let dir = self.root.join("sha256");
        std::fs::create_dir_all(&dir)?;
        let tmp = dir.join(format!(".incoming-{}-{}", std::process::id(), unique()));
        let result = (|| {
            let mut out = std::fs::File::create(&tmp)?;
            let mut hasher = Sha256::new();
            let mut buf = vec![0u8; 1 << 16];
            let mut size = 0u64;
            loop {
                let n = from.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
                out.write_all(&buf[..n])?;
                size += n as u64;
            }
            out.sync_all()?;
            Ok::<_, std::io::Error>((format!("sha256:{}", hex::encode(hasher.finalize())), size))
        })();
        match result {
            Ok((digest, size)) => {
                let dest = self.path(&digest);
                if dest.exists() {
                    std::fs::remove_file(&tmp)?;
                } else {
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

    /// Makes the artifact visible at `to` (a hard link, or a copy across file systems).
    pub fn materialize(&self, digest: &str, to: &Path) -> std::io::Result<()> {
        let from = self.path(digest);
        if std::fs::hard_link(&from, to).is_err() {
            std::fs::copy(&from, to)?;
        }
        Ok(())
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
