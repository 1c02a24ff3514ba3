//! Digests of workspace trees, and the stat index that spares re-hashing unchanged files.
//!
//! A tree's digest is SHA-256 over one line per entry, sorted by path: `<sha256 hex>  <path>`
//! for a regular file, `symlink <target>  <path>` for a symbolic link (never followed);
//! `.sluice/` is left out at the top of the workspace, as steps never see it. Provenance
//! documents carry the same digests (`docs/provenance.md`).
//!
//! The [`StatIndex`] remembers, per file (by its path beneath the workspace), the `stat` it
//! had when it was hashed — device, inode, size, mtime, ctime — and the digest. A file whose
//! `stat` is unchanged is not read again, unless it changed less than [`RACY`] before it was
//! hashed: a write in the same timestamp tick as the hash would leave the `stat` as it was
//! (git's "racily clean" entries), so such a file is hashed again until its hash is older.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use cap_std::fs::Dir;
use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::sandbox::limits::Deadline;

/// The most entries a tree digest walks; a larger tree is reported as too large.
const MAX_TREE_ENTRIES: usize = 200_000;
/// The deepest directory a tree digest descends into: a step with a write grant can nest
/// directories without end, and each level holds a descriptor and a stack frame of the host.
const MAX_TREE_DEPTH: usize = 128;
/// A file changed less than this before it was hashed is hashed again next time.
pub const RACY: i128 = 2_000_000_000;

/// The digest of a granted workspace path.
#[derive(Debug, Clone, Serialize)]
pub struct Tree {
    /// `sha256:<hex>` over the listing.
    pub digest: String,
    /// Regular files in it.
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Files read and hashed this time (the others came from the stat index), by path
    /// beneath the workspace.
    #[serde(skip)]
    pub rehashed: Vec<String>,
    /// Of those, the ones whose content differs from what the index remembered.
    #[serde(skip)]
    pub changed: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
struct Stat {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: i128,
    ctime: i128,
}

impl Stat {
    fn of(st: &rustix::fs::Stat) -> Stat {
        Stat {
            dev: st.st_dev,
            ino: st.st_ino,
            size: st.st_size as u64,
            mtime: st.st_mtime as i128 * 1_000_000_000 + st.st_mtime_nsec as i128,
            ctime: st.st_ctime as i128 * 1_000_000_000 + st.st_ctime_nsec as i128,
        }
    }
}

#[derive(Debug, Clone)]
struct Indexed {
    stat: Stat,
    hashed_at: i128,
    hex: String,
}

/// Path beneath the workspace → the `stat` a file had when it was hashed, and its digest.
#[derive(Debug, Default)]
pub struct StatIndex {
    path: Option<PathBuf>,
    map: Mutex<HashMap<String, Indexed>>,
    dirty: AtomicBool,
}

const HEADER: &str = "sluice-stat-index 1";

impl StatIndex {
    /// An index that remembers nothing and is never saved.
    pub fn none() -> Self {
        StatIndex::default()
    }

    /// The index kept at `path` (empty when it is missing or unreadable).
    pub fn load(path: PathBuf) -> Self {
        let mut map = HashMap::new();
        if let Ok(text) = std::fs::read_to_string(&path)
            && let Some(body) = text.strip_prefix(HEADER).and_then(|t| t.strip_prefix('\n'))
        {
            for line in body.lines() {
                let mut it = line.splitn(8, ' ');
                let mut next = || it.next();
                let parsed = (|| {
                    let hex = next()?.to_string();
                    let dev = next()?.parse().ok()?;
                    let ino = next()?.parse().ok()?;
                    let size = next()?.parse().ok()?;
                    let mtime = next()?.parse().ok()?;
                    let ctime = next()?.parse().ok()?;
                    let hashed_at = next()?.parse().ok()?;
                    let path = next()?.to_string();
                    (hex.len() == 64).then_some(())?;
                    Some((
                        path,
                        Indexed {
                            stat: Stat {
                                dev,
                                ino,
                                size,
                                mtime,
                                ctime,
                            },
                            hashed_at,
                            hex,
                        },
                    ))
                })();
                if let Some((path, entry)) = parsed {
                    map.insert(path, entry);
                }
            }
        }
        StatIndex {
            path: Some(path),
            map: Mutex::new(map),
            dirty: AtomicBool::new(false),
        }
    }

    /// Writes the index back if it changed (to a temporary file, then renamed: a crash
    /// leaves the old index or the new one).
    pub fn save(&self) -> std::io::Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        if !self.dirty.swap(false, Ordering::SeqCst) {
            return Ok(());
        }
        let mut text = String::from(HEADER);
        text.push('\n');
        {
            use std::fmt::Write as _;
            let map = self.map.lock().expect("lock");
            for (p, e) in map.iter() {
                let _ = writeln!(
                    text,
                    "{} {} {} {} {} {} {} {p}",
                    e.hex,
                    e.stat.dev,
                    e.stat.ino,
                    e.stat.size,
                    e.stat.mtime,
                    e.stat.ctime,
                    e.hashed_at
                );
            }
        }
        super::write_atomic(path, text.as_bytes())
    }

    fn lookup(&self, path: &str, stat: &Stat) -> Option<String> {
        let map = self.map.lock().expect("lock");
        let e = map.get(path)?;
        (e.stat == *stat && e.stat.ctime.max(e.stat.mtime) + RACY < e.hashed_at)
            .then(|| e.hex.clone())
    }

    /// Remembers a hash; returns whether the index knew the file with another digest.
    fn remember(&self, path: &str, stat: Stat, hex: &str) -> bool {
        if self.path.is_none() || path.contains('\n') {
            return false;
        }
        let hashed_at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i128);
        self.dirty.store(true, Ordering::SeqCst);
        let old = self.map.lock().expect("lock").insert(
            path.to_string(),
            Indexed {
                stat,
                hashed_at,
                hex: hex.to_string(),
            },
        );
        old.is_some_and(|o| o.hex != hex)
    }
}

/// Digests the workspace path `rel` beneath `root`, reading only the files the index cannot
/// vouch for.
pub fn digest_tree(
    root: &Dir,
    rel: &Path,
    deadline: &Deadline,
    index: &StatIndex,
) -> Result<Tree, String> {
    let mut walker = Walker {
        deadline,
        index,
        lines: Vec::new(),
        tree: Tree {
            digest: String::new(),
            files: 0,
            bytes: 0,
            rehashed: Vec::new(),
            changed: Vec::new(),
        },
    };
    let rel = normal(rel)?;
    match open_beneath(root, &rel)? {
        Opened::File(dir, name) => {
            let shown = rel.display().to_string();
            walker.file(&dir, Path::new(&name), &shown, &shown)?;
        }
        Opened::Dir(dir) => {
            let at_root = rel.as_os_str().is_empty();
            walker.walk(&dir, &rel, PathBuf::new(), 0, at_root)?;
        }
    }
    let Walker {
        mut lines,
        mut tree,
        ..
    } = walker;
    lines.sort();
    let mut h = Sha256::new();
    for (path, what) in &lines {
        h.update(format!("{what}  {path}\n").as_bytes());
    }
    tree.digest = format!("sha256:{}", hex::encode(h.finalize()));
    Ok(tree)
}

fn normal(rel: &Path) -> Result<PathBuf, String> {
    let mut out = PathBuf::new();
    for c in rel.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::Normal(n) => out.push(n),
            _ => return Err(format!("{}: not a plain relative path", rel.display())),
        }
    }
    Ok(out)
}

enum Opened {
    Dir(Dir),
    /// A regular file: the directory holding it and its name.
    File(Dir, std::ffi::OsString),
}

fn open_beneath(root: &Dir, rel: &Path) -> Result<Opened, String> {
    let mut dir = root.try_clone().map_err(|e| e.to_string())?;
    let parts: Vec<_> = rel.components().collect();
    for (i, c) in parts.iter().enumerate() {
        let name = c.as_os_str();
        let st = rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| format!("{}: {}", rel.display(), std::io::Error::from(e)))?;
        match FileType::from_raw_mode(st.st_mode) {
            FileType::Directory => {
                dir = open_dir_nofollow(&dir, Path::new(name))
                    .map_err(|e| format!("{}: {e}", rel.display()))?;
            }
            FileType::RegularFile if i + 1 == parts.len() => {
                return Ok(Opened::File(dir, name.to_os_string()));
            }
            _ => {
                return Err(format!(
                    "{}: not a directory or regular file (symlinks are not followed)",
                    rel.display()
                ));
            }
        }
    }
    Ok(Opened::Dir(dir))
}

/// Opens a directory beneath `dir`, never through a symlink (one swapped in after the
/// `lstat` is refused by the kernel).
fn open_dir_nofollow(dir: &Dir, name: &Path) -> std::io::Result<Dir> {
    let fd = rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    Ok(Dir::from_std_file(std::fs::File::from(fd)))
}

struct Walker<'a> {
    deadline: &'a Deadline,
    index: &'a StatIndex,
    lines: Vec<(String, String)>,
    tree: Tree,
}

impl Walker<'_> {
    fn walk(
        &mut self,
        dir: &Dir,
        base: &Path,
        prefix: PathBuf,
        depth: usize,
        at_root: bool,
    ) -> Result<(), String> {
        let mut names: Vec<std::ffi::OsString> = dir
            .entries()
            .map_err(|e| e.to_string())?
            .filter_map(|e| e.ok().map(|e| e.file_name()))
            .collect();
        names.sort();
        for name in names {
            if self.lines.len() >= MAX_TREE_ENTRIES {
                return Err(format!("more than {MAX_TREE_ENTRIES} entries"));
            }
            if at_root && name == crate::sandbox::fs::STATE_DIR {
                continue;
            }
            let path = prefix.join(&name);
            let Ok(st) = rustix::fs::statat(dir, &name, AtFlags::SYMLINK_NOFOLLOW) else {
                continue;
            };
            match FileType::from_raw_mode(st.st_mode) {
                FileType::Directory => {
                    if depth >= MAX_TREE_DEPTH {
                        return Err(format!(
                            "{}: directories nested deeper than {MAX_TREE_DEPTH} levels",
                            path.display()
                        ));
                    }
                    let sub = open_dir_nofollow(dir, Path::new(&name))
                        .map_err(|e| format!("{}: {e}", path.display()))?;
                    self.walk(&sub, base, path, depth + 1, false)?;
                }
                FileType::RegularFile => {
                    let shown = path.display().to_string();
                    let key = base.join(&path).display().to_string();
                    let stat = Stat::of(&st);
                    match self.index.lookup(&key, &stat) {
                        Some(hex) => {
                            self.tree.files += 1;
                            self.tree.bytes += stat.size;
                            self.lines.push((shown, hex));
                        }
                        None => self.file(dir, Path::new(&name), &shown, &key)?,
                    }
                }
                FileType::Symlink => {
                    let target = dir
                        .read_link_contents(&name)
                        .map_err(|e| format!("{}: {e}", path.display()))?;
                    self.lines.push((
                        path.display().to_string(),
                        format!("symlink {}", target.display()),
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Reads and hashes one regular file, and remembers the `stat` of what was read.
    fn file(&mut self, dir: &Dir, name: &Path, shown: &str, key: &str) -> Result<(), String> {
        let fd = rustix::fs::openat(
            dir,
            name,
            OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOFOLLOW | OFlags::NOCTTY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| format!("{shown}: {}", std::io::Error::from(e)))?;
        let st =
            rustix::fs::fstat(&fd).map_err(|e| format!("{shown}: {}", std::io::Error::from(e)))?;
        if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
            return Err(format!("{shown}: not a regular file"));
        }
        let mut file = std::fs::File::from(fd);
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 1 << 16];
        let mut n = 0u64;
        loop {
            if self.deadline.check().is_some() {
                return Err("stopped at the step's deadline".into());
            }
            let read = file.read(&mut buf).map_err(|e| e.to_string())?;
            if read == 0 {
                break;
            }
            h.update(&buf[..read]);
            n += read as u64;
        }
        let hex = hex::encode(h.finalize());
        // The stat after reading: a write during the read changes it, so the entry will not
        // vouch for the file next time.
        let after = rustix::fs::fstat(&file).map(|s| Stat::of(&s));
        if let Ok(after) = after
            && after == Stat::of(&st)
            && self.index.remember(key, after, &hex)
        {
            self.tree.changed.push(key.to_string());
        }
        self.tree.rehashed.push(key.to_string());
        self.tree.files += 1;
        self.tree.bytes += n;
        self.lines.push((shown.to_string(), hex));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deadline() -> Deadline {
        Deadline {
            at: std::time::Instant::now() + std::time::Duration::from_secs(60),
            cancel: Default::default(),
        }
    }

    #[test]
    fn the_index_spares_unchanged_files_and_catches_changed_ones() {
        let ws = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(ws.path().join("src/sub")).unwrap();
        std::fs::write(ws.path().join("src/a.go"), "package a\n").unwrap();
        std::fs::write(ws.path().join("src/sub/b.go"), "package b\n").unwrap();
        std::os::unix::fs::symlink("a.go", ws.path().join("src/link")).unwrap();
        let root = crate::sandbox::fs::open_host_dir(ws.path()).unwrap();
        let index_path = ws.path().join("index");

        let plain = digest_tree(&root, Path::new("src"), &deadline(), &StatIndex::none()).unwrap();
        let index = StatIndex::load(index_path.clone());
        let first = digest_tree(&root, Path::new("src"), &deadline(), &index).unwrap();
        assert_eq!(
            first.digest, plain.digest,
            "the index never changes a digest"
        );
        assert_eq!(first.rehashed, ["src/a.go", "src/sub/b.go"]);
        index.save().unwrap();

        // Hashed just now: too recent to vouch for (racily clean), so hashed again.
        let index = StatIndex::load(index_path.clone());
        let again = digest_tree(&root, Path::new("src"), &deadline(), &index).unwrap();
        assert_eq!(again.rehashed.len(), 2);

        // Pretend the hashes were made long after the files changed.
        {
            let mut map = index.map.lock().unwrap();
            for e in map.values_mut() {
                e.hashed_at += 10 * RACY;
            }
        }
        let spared = digest_tree(&root, Path::new("src"), &deadline(), &index).unwrap();
        assert!(spared.rehashed.is_empty(), "{:?}", spared.rehashed);
        assert_eq!(spared.digest, plain.digest);

        std::fs::write(ws.path().join("src/sub/b.go"), "package c\n").unwrap();
        let changed = digest_tree(&root, Path::new("src"), &deadline(), &index).unwrap();
        assert_eq!(changed.rehashed, ["src/sub/b.go"]);
        assert_eq!(changed.changed, ["src/sub/b.go"]);
        assert_ne!(changed.digest, plain.digest);
    }

    #[test]
    fn single_files_and_the_workspace_root() {
        let ws = tempfile::tempdir().unwrap();
        std::fs::write(ws.path().join("go.mod"), "module x\n").unwrap();
        std::fs::create_dir_all(ws.path().join(".sluice/cache")).unwrap();
        std::fs::write(ws.path().join(".sluice/cache/x"), "state").unwrap();
        let root = crate::sandbox::fs::open_host_dir(ws.path()).unwrap();
        let file =
            digest_tree(&root, Path::new("go.mod"), &deadline(), &StatIndex::none()).unwrap();
        let all = digest_tree(&root, Path::new("."), &deadline(), &StatIndex::none()).unwrap();
        assert_eq!((file.files, all.files), (1, 1), ".sluice is never digested");
        assert_eq!(file.digest, all.digest);
    }
}
