//! Filesystem grants: the one capability layer through which the host touches files on a
//! step's behalf.
//!
//! Every grant is resolved **once**, into a handle, beneath the workspace handle, and never
//! again by path:
//!
//! - A grant is walked from the workspace directory one component at a time with
//!   `O_NOFOLLOW`: a grant whose path runs through a symlink is refused (at validation and
//!   at run time), whatever the link points at. Missing write grants are created with
//!   `mkdirat` on the handle of their parent, so no directory is ever created through a
//!   symlink.
//! - WASI preopens are built from those handles (`/proc/self/fd/N` names exactly the open
//!   directory: wasmtime-wasi 48 takes preopens only as paths).
//! - `/workspace` is a skeleton the host builds in the step's scratch space: one directory
//!   per guest directory, each its own preopen, holding empty placeholders for the granted
//!   directories below it (each a preopen of the real directory) and hard links of the
//!   granted single files. So every granted entry is listed, nothing else is, and each
//!   entry has exactly its grant's mode.
//! - `read = ["."]` shows every top-level entry of the workspace but `.sluice/`: sluice's
//!   own state is never visible to a step (a step may be granted its own `.sluice/<name>`).
//! - Host reads of step-reachable files ([`open_read`], [`copy_bounded`]) open through a
//!   mount's handle (confined as WASI is), take regular files only (opened non-blocking, so
//!   a FIFO cannot hang the host), and read in chunks under a size cap and a stop check.
//!
//! Modes are exact. Combinations a directory-based sandbox cannot honour are refused with
//! the grant named: a read grant inside a write grant (the step could write it through the
//! outer grant), a single writable file inside a read-only directory grant, and single files
//! of both modes in one directory.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cap_std::fs::Dir;
use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;

use crate::manifest::{Allow, WorkspacePath};

/// The guest directory under which workspace grants appear.
pub const WORKSPACE: &str = "/workspace";
/// The guest directory holding a step's input artifacts.
pub const INPUTS: &str = "/inputs";
/// The guest directory a step writes its artifacts to.
pub const OUTPUTS: &str = "/outputs";

/// The name of sluice's state directory at the top of the workspace.
pub const STATE_DIR: &str = ".sluice";

/// The directories under the workspace's `.sluice/` that no step may see: compiled code the
/// host loads (`cache`), artifacts other steps consume (`store`), run records (`runs`) and
/// other steps' scratch space (`tmp`). Other `.sluice/<name>` directories may be granted,
/// e.g. for a step's own build cache.
pub const PROTECTED: [&str; 4] = [
    ".sluice/cache",
    ".sluice/store",
    ".sluice/runs",
    ".sluice/tmp",
];

/// One directory visible to a step, held open.
#[derive(Debug, Clone)]
pub struct Mount {
    /// Where the step sees it.
    pub guest: String,
    /// Whether the step may write into it.
    pub writable: bool,
    /// The directory, opened once.
    pub dir: Arc<Dir>,
}

impl Mount {
    /// A mount of an already opened directory.
    pub fn new(guest: impl Into<String>, writable: bool, dir: Dir) -> Self {
        Mount {
            guest: guest.into(),
            writable,
            dir: Arc::new(dir),
        }
    }

    /// Opens a host directory by path, for directories the host itself owns or trusts (the
    /// workspace root, benches). Grants never go through here.
    pub fn open_host(
        host: &Path,
        guest: impl Into<String>,
        writable: bool,
    ) -> std::io::Result<Self> {
        Ok(Mount::new(guest, writable, open_host_dir(host)?))
    }

    /// A path that names exactly this open directory, for APIs that take paths.
    pub fn proc_path(&self) -> PathBuf {
        proc_path(&*self.dir)
    }
}

/// `/proc/self/fd/N` for an open descriptor.
pub fn proc_path(fd: &impl AsRawFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// Opens a directory the host trusts by path (the workspace root).
pub fn open_host_dir(path: &Path) -> std::io::Result<Dir> {
    Dir::open_ambient_dir(path, cap_std::ambient_authority())
}

/// Why a grant cannot be given.
#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    /// A read grant names something that does not exist.
    #[error("`{path}` does not exist in the workspace")]
    Missing {
        /// The grant as written.
        path: String,
    },
    /// The grant's path runs through a symlink.
    #[error("{}; grants never follow symlinks", symlink_message(path, link))]
    Symlink {
        /// The grant as written.
        path: String,
        /// The component that is a symlink.
        link: String,
    },
    /// A component of the grant's path is a file, not a directory.
    #[error("`{path}` cannot be reached: `{file}` is not a directory")]
    NotDir {
        /// The grant as written.
        path: String,
        /// The component that is not a directory.
        file: String,
    },
    /// The grant names something that is neither a regular file nor a directory.
    #[error("`{path}` is a {kind}; only regular files and directories can be granted")]
    Special {
        /// The grant as written.
        path: String,
        /// What it is.
        kind: &'static str,
    },
    /// A grant would reach sluice's own state (compiled code, artifacts, records).
    #[error("`{path}` would let the step {verb} sluice's own state ({protected})")]
    Protected {
        /// The grant as written.
        path: String,
        /// "read" or "write into".
        verb: &'static str,
        /// The protected directory it reaches.
        protected: String,
    },
    /// Two grants whose modes cannot both be honoured.
    #[error("{message}")]
    Conflict {
        /// What is wrong.
        message: String,
        /// How to fix it.
        help: String,
    },
    /// An I/O error while preparing the grant.
    #[error("cannot prepare `{path}`: {source}")]
    Io {
        /// The grant as written.
        path: String,
        /// The error.
        source: std::io::Error,
    },
}

fn symlink_message(path: &str, link: &str) -> String {
    if path == link {
        format!("`{path}` is a symlink")
    } else {
        format!("`{path}` runs through a symlink (`{link}`)")
    }
}

impl GrantError {
    /// A short label for the manifest snippet.
    pub fn label(&self) -> &'static str {
        match self {
            GrantError::Missing { .. } => "not found",
            GrantError::Symlink { .. } => "through a symlink",
            GrantError::NotDir { .. } => "not a directory",
            GrantError::Special { .. } => "not a file or directory",
            GrantError::Protected { .. } => "reaches .sluice/",
            GrantError::Conflict { .. } => "mode cannot be honoured",
            GrantError::Io { .. } => "here",
        }
    }

    /// How to fix it.
    pub fn help(&self) -> String {
        match self {
            GrantError::Missing { .. } => {
                "paths in `allow` are relative to the directory of the manifest".into()
            }
            GrantError::Symlink { .. } => {
                "grant the directory or file the link points to (inside the workspace) instead; a symlink planted by an earlier step never redirects a grant".into()
            }
            GrantError::NotDir { .. } | GrantError::Special { .. } | GrantError::Io { .. } => {
                "grant regular files and directories inside the workspace".into()
            }
            GrantError::Protected { .. } => {
                "grant only what the step needs, e.g. `read = [\"src\"]` or `write = [\"dist\"]`; a step's own cache may live in `.sluice/<name>`".into()
            }
            GrantError::Conflict { help, .. } => help.clone(),
        }
    }
}

/// A grant problem, with the index of the grant it belongs to (read grants first, then
/// write grants, as in [`grant_list`]).
#[derive(Debug)]
pub struct GrantProblem {
    /// Index into [`grant_list`].
    pub index: usize,
    /// What is wrong.
    pub error: GrantError,
}

/// A step's grants in one list: `(path, writable)`, read grants first.
pub fn grant_list(allow: &Allow) -> Vec<(WorkspacePath, bool)> {
    allow
        .read
        .iter()
        .map(|g| (g.get_ref().clone(), false))
        .chain(allow.write.iter().map(|g| (g.get_ref().clone(), true)))
        .collect()
}

/// The guest path for a workspace-relative path.
pub fn guest_path(path: &Path) -> String {
    if path == Path::new(".") || path.as_os_str().is_empty() {
        WORKSPACE.to_string()
    } else {
        format!("{WORKSPACE}/{}", path.display())
    }
}

/// The protected directory a grant would reach, if any: the grant is one of them, lies
/// inside one, or contains one (`.sluice` itself). `.` is not refused here: reading it
/// shows everything but `.sluice/`, and writing it is refused by the caller.
fn protected_by(path: &Path) -> Option<&'static str> {
    if path == Path::new(STATE_DIR) {
        return Some(STATE_DIR);
    }
    PROTECTED
        .into_iter()
        .find(|p| path.starts_with(p) || Path::new(p).starts_with(path) && path != Path::new("."))
}

/// What a grant resolved to.
#[derive(Debug)]
enum Node {
    /// A directory (`None`: a write grant that does not exist yet, at validation).
    Dir(Option<Dir>),
    /// A regular file, held by an `O_PATH` descriptor (opening it never blocks).
    File(OwnedFd),
}

impl Node {
    fn is_dir(&self) -> bool {
        matches!(self, Node::Dir(_))
    }
}

#[derive(Debug)]
struct Resolved {
    /// Which grant of [`grant_list`] it comes from (`.`'s expansion keeps the index of `.`).
    index: usize,
    path: PathBuf,
    writable: bool,
    node: Node,
}

/// What went wrong walking a path beneath a directory.
#[derive(Debug)]
enum Walk {
    Missing,
    Symlink(PathBuf),
    NotDir(PathBuf),
    Special(&'static str),
    /// It kept changing while it was being opened (another step replacing it).
    Changing(PathBuf),
    Io(std::io::Error),
}

fn io(e: Errno) -> std::io::Error {
    std::io::Error::from_raw_os_error(e.raw_os_error())
}

fn kind_name(t: FileType) -> &'static str {
    match t {
        FileType::Fifo => "FIFO",
        FileType::Socket => "socket",
        FileType::CharacterDevice => "character device",
        FileType::BlockDevice => "block device",
        FileType::Symlink => "symlink",
        _ => "special file",
    }
}

/// Opens one component `name` of `dir` as a directory, never following a symlink; creates
/// it first when `create` and it is missing.
fn open_component(
    dir: &impl AsFd,
    name: &Path,
    create: bool,
    so_far: &Path,
) -> Result<OwnedFd, Walk> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    // A step writing the parent may remove what was just made; a few tries, then give up
    // (never spin on a step's behalf).
    let mut tries = 0;
    loop {
        match rfs::openat(dir, name, flags, Mode::empty()) {
            Ok(fd) => return Ok(fd),
            Err(Errno::NOENT) if create && tries < 4 => {
                tries += 1;
                match rfs::mkdirat(dir, name, Mode::from_raw_mode(0o755)) {
                    Ok(()) | Err(Errno::EXIST) => continue,
                    Err(e) => return Err(Walk::Io(io(e))),
                }
            }
            Err(Errno::NOENT) => return Err(Walk::Missing),
            Err(Errno::LOOP | Errno::NOTDIR) => {
                match rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
                    Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Symlink => {
                        return Err(Walk::Symlink(so_far.to_path_buf()));
                    }
                    Ok(st) if FileType::from_raw_mode(st.st_mode) != FileType::Directory => {
                        return Err(Walk::NotDir(so_far.to_path_buf()));
                    }
                    // Gone, or a directory again: it changed under us; look again.
                    _ if tries < 4 => tries += 1,
                    _ => return Err(Walk::Changing(so_far.to_path_buf())),
                }
            }
            Err(e) => return Err(Walk::Io(io(e))),
        }
    }
}

/// Walks `rel` (normalized, relative) beneath `root` without following any symlink and
/// returns what is there. With `create`, missing directories are made (a missing last
/// component becomes a directory).
fn walk(root: &Dir, rel: &Path, create: bool) -> Result<Node, Walk> {
    let components: Vec<&std::ffi::OsStr> = rel
        .components()
        .filter_map(|c| match c {
            std::path::Component::Normal(c) => Some(c),
            _ => None,
        })
        .collect();
    let Some((last, parents)) = components.split_last() else {
        return root
            .try_clone()
            .map(|d| Node::Dir(Some(d)))
            .map_err(Walk::Io);
    };
    let mut so_far = PathBuf::new();
    let mut cur: Option<OwnedFd> = None;
    for c in parents {
        so_far.push(c);
        let next = match &cur {
            None => open_component(root, Path::new(c), create, &so_far)?,
            Some(fd) => open_component(fd, Path::new(c), create, &so_far)?,
        };
        cur = Some(next);
    }
    so_far.push(last);
    let parent: &dyn AsFd = match &cur {
        Some(fd) => fd,
        None => root,
    };
    let opened = rfs::openat(
        parent.as_fd(),
        Path::new(last),
        OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    );
    let fd = match opened {
        Ok(fd) => fd,
        Err(Errno::NOENT) if create => {
            let dir = open_component(&parent.as_fd(), Path::new(last), true, &so_far)?;
            return Ok(Node::Dir(Some(Dir::from_std_file(dir.into()))));
        }
        Err(Errno::NOENT) => return Err(Walk::Missing),
        Err(Errno::NOTDIR) => return Err(Walk::NotDir(so_far)),
        Err(e) => return Err(Walk::Io(io(e))),
    };
    let st = rfs::fstat(&fd).map_err(|e| Walk::Io(io(e)))?;
    match FileType::from_raw_mode(st.st_mode) {
        FileType::Directory => {
            // Reopen the very same directory for reading (the O_PATH handle cannot list).
            let dir = rfs::openat(
                rfs::CWD,
                proc_path(&fd),
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| Walk::Io(io(e)))?;
            Ok(Node::Dir(Some(Dir::from_std_file(dir.into()))))
        }
        FileType::RegularFile => Ok(Node::File(fd)),
        FileType::Symlink => Err(Walk::Symlink(so_far)),
        other => Err(Walk::Special(kind_name(other))),
    }
}

fn walk_error(path: &Path, w: Walk) -> GrantError {
    let path_s = path.display().to_string();
    match w {
        Walk::Missing => GrantError::Missing { path: path_s },
        Walk::Symlink(link) => GrantError::Symlink {
            path: path_s,
            link: link.display().to_string(),
        },
        Walk::NotDir(file) => GrantError::NotDir {
            path: path_s,
            file: file.display().to_string(),
        },
        Walk::Special(kind) => GrantError::Special { path: path_s, kind },
        Walk::Changing(at) => GrantError::Io {
            path: path_s,
            source: std::io::Error::other(format!(
                "`{}` kept changing while it was being opened (is a step replacing it?)",
                at.display()
            )),
        },
        Walk::Io(source) => GrantError::Io {
            path: path_s,
            source,
        },
    }
}

/// Resolves every grant beneath `root`. At validation (`create == false`) a missing write
/// grant is accepted as a directory to be made; at run time it is made.
fn resolve_all(
    root: &Dir,
    grants: &[(WorkspacePath, bool)],
    create: bool,
) -> (Vec<Resolved>, Vec<GrantProblem>) {
    let mut resolved = Vec::new();
    let mut problems = Vec::new();
    for (index, (grant, writable)) in grants.iter().enumerate() {
        let path = grant.as_path();
        if *writable && grant.is_root() {
            problems.push(GrantProblem {
                index,
                error: GrantError::Protected {
                    path: grant.to_string(),
                    verb: "write into",
                    protected: STATE_DIR.into(),
                },
            });
            continue;
        }
        if let Some(p) = protected_by(path) {
            problems.push(GrantProblem {
                index,
                error: GrantError::Protected {
                    path: grant.to_string(),
                    verb: if *writable { "write into" } else { "read" },
                    protected: p.into(),
                },
            });
            continue;
        }
        let node = match walk(root, path, create && *writable) {
            Ok(node) => node,
            Err(Walk::Missing) if *writable && !create => Node::Dir(None),
            Err(w) => {
                problems.push(GrantProblem {
                    index,
                    error: walk_error(path, w),
                });
                continue;
            }
        };
        resolved.push(Resolved {
            index,
            path: path.to_path_buf(),
            writable: *writable,
            node,
        });
    }
    (resolved, problems)
}

/// Replaces a read grant of `.` with one read grant per top-level entry but `.sluice`
/// (directories and regular files; symlinks and special files at the top are not shown).
/// Entries granted explicitly keep their own grant.
fn expand_root(root: &Dir, resolved: &mut Vec<Resolved>) -> Result<(), GrantProblem> {
    let Some(at) = resolved
        .iter()
        .position(|r| r.path == Path::new(".") && !r.writable)
    else {
        return Ok(());
    };
    let dot = resolved.remove(at);
    let explicit: BTreeSet<PathBuf> = resolved.iter().map(|r| r.path.clone()).collect();
    let entries = root.entries().map_err(|source| GrantProblem {
        index: dot.index,
        error: GrantError::Io {
            path: ".".into(),
            source,
        },
    })?;
    let mut names: Vec<std::ffi::OsString> = entries
        .filter_map(|e| e.ok().map(|e| e.file_name()))
        .filter(|n| n != STATE_DIR)
        .collect();
    names.sort();
    for name in names {
        let path = PathBuf::from(&name);
        if explicit.contains(&path) {
            continue;
        }
        match walk(root, &path, false) {
            Ok(node) => resolved.push(Resolved {
                index: dot.index,
                path,
                writable: false,
                node,
            }),
            // Symlinks, special files, and entries gone since the listing: not shown.
            Err(_) => continue,
        }
    }
    Ok(())
}

/// How the resolved grants are shown to the step.
#[derive(Debug, Default)]
struct Layout {
    /// Directory grants that become preopens of the real directory (indices into resolved).
    dirs: Vec<usize>,
    /// Skeleton directories (guest-relative path, `.` first): their child names and the
    /// single files they hold (indices into resolved).
    skeleton: BTreeMap<PathBuf, SkeletonDir>,
}

#[derive(Debug, Default)]
struct SkeletonDir {
    children: BTreeSet<std::ffi::OsString>,
    files: Vec<usize>,
}

impl SkeletonDir {
    fn writable(&self, resolved: &[Resolved]) -> bool {
        self.files.iter().any(|&i| resolved[i].writable)
    }
}

fn conflict(index: usize, message: String, help: String) -> GrantProblem {
    GrantProblem {
        index,
        error: GrantError::Conflict { message, help },
    }
}

fn show(p: &Path) -> String {
    p.display().to_string()
}

/// Decides how each grant appears, refusing combinations whose modes cannot be honoured.
fn layout(resolved: &mut Vec<Resolved>) -> Result<Layout, Vec<GrantProblem>> {
    // The same path granted twice: one entry, with the stronger mode.
    resolved.sort_by(|a, b| a.path.cmp(&b.path).then(b.writable.cmp(&a.writable)));
    resolved.dedup_by(|later, kept| later.path == kept.path);

    let mut problems = Vec::new();
    let mut layout = Layout::default();
    let mut loose: Vec<usize> = Vec::new();
    let dir_grants: std::collections::HashMap<&Path, usize> = resolved
        .iter()
        .enumerate()
        .filter(|(_, r)| r.node.is_dir())
        .map(|(i, r)| (r.path.as_path(), i))
        .collect();
    for i in 0..resolved.len() {
        let r = &resolved[i];
        // The nearest directory grant above this one: its ancestors, looked up.
        let enclosing = r
            .path
            .ancestors()
            .skip(1)
            .find_map(|a| dir_grants.get(a).map(|&j| (j, &resolved[j])));
        match enclosing {
            None if r.node.is_dir() => layout.dirs.push(i),
            None => loose.push(i),
            Some((_, d)) if d.writable == r.writable => {} // covered by the outer grant
            Some((_, d)) if d.writable => problems.push(conflict(
                r.index,
                format!(
                    "`{}` is granted read-only, but it lies inside write grant `{}`, through which the step could write it",
                    show(&r.path),
                    show(&d.path)
                ),
                format!(
                    "narrow the write grant so that it does not contain `{}`, or drop the read grant",
                    show(&r.path)
                ),
            )),
            Some(_) if r.node.is_dir() => layout.dirs.push(i),
            Some((_, d)) => problems.push(conflict(
                r.index,
                format!(
                    "`{}` is a single file granted for writing inside read-only grant `{}`; a file inside a granted directory has that directory's mode",
                    show(&r.path),
                    show(&d.path)
                ),
                format!(
                    "narrow the read grant so that it does not contain `{}` (grant what the step reads one by one), or give the step a directory for writing that holds only what it may change",
                    show(&r.path)
                ),
            )),
        }
    }

    // The skeleton: every directory above a top-level item (a directory grant not inside
    // another one, or a loose file).
    let top_dirs: Vec<usize> = layout
        .dirs
        .iter()
        .copied()
        .filter(|&i| {
            !resolved[i]
                .path
                .ancestors()
                .skip(1)
                .any(|a| dir_grants.contains_key(a))
        })
        .collect();
    layout
        .skeleton
        .insert(PathBuf::from("."), SkeletonDir::default());
    for &i in top_dirs.iter().chain(&loose) {
        let path = resolved[i].path.clone();
        let mut parent = PathBuf::from(".");
        let components: Vec<_> = path.iter().collect();
        for (k, c) in components.iter().enumerate() {
            layout
                .skeleton
                .entry(parent.clone())
                .or_default()
                .children
                .insert(c.to_os_string());
            if k + 1 == components.len() {
                if !resolved[i].node.is_dir() {
                    layout
                        .skeleton
                        .get_mut(&parent)
                        .expect("just inserted")
                        .files
                        .push(i);
                }
            } else {
                parent = if parent == Path::new(".") {
                    PathBuf::from(c)
                } else {
                    parent.join(c)
                };
                layout.skeleton.entry(parent.clone()).or_default();
            }
        }
    }
    // One mode per skeleton directory.
    for (dir, skel) in &layout.skeleton {
        let modes: BTreeSet<bool> = skel.files.iter().map(|&i| resolved[i].writable).collect();
        if modes.len() > 1 {
            let ro = skel
                .files
                .iter()
                .find(|&&i| !resolved[i].writable)
                .copied()
                .unwrap_or(0);
            let rw = skel
                .files
                .iter()
                .find(|&&i| resolved[i].writable)
                .copied()
                .unwrap_or(0);
            problems.push(conflict(
                resolved[rw].index,
                format!(
                    "`{}` (write) and `{}` (read) are single files in the same directory `{}`; a step sees the single files of one directory with one mode",
                    show(&resolved[rw].path),
                    show(&resolved[ro].path),
                    show(dir)
                ),
                format!(
                    "grant both the same way, or grant a directory for writing (e.g. `write = [\"{}\"]`) that holds only what the step may change",
                    show(&if dir == Path::new(".") {
                        PathBuf::from("out")
                    } else {
                        dir.join("out")
                    })
                ),
            ));
        }
    }
    if problems.is_empty() {
        Ok(layout)
    } else {
        Err(problems)
    }
}

/// Checks a step's grants against the workspace without changing anything: what validation
/// reports. Uses the same resolution and layout rules as [`workspace_mounts`].
pub fn check_grants(workspace: &Path, allow: &Allow) -> Vec<GrantProblem> {
    let grants = grant_list(allow);
    if grants.is_empty() {
        return Vec::new();
    }
    let root = match open_host_dir(workspace) {
        Ok(root) => root,
        Err(source) => {
            return vec![GrantProblem {
                index: 0,
                error: GrantError::Io {
                    path: ".".into(),
                    source,
                },
            }];
        }
    };
    let (mut resolved, mut problems) = resolve_all(&root, &grants, false);
    if let Err(p) = expand_root(&root, &mut resolved) {
        problems.push(p);
    }
    if let Err(more) = layout(&mut resolved) {
        problems.extend(more);
    }
    problems
}

/// A single writable file shown through a hard link: checked after the step, since a step
/// that replaces the link (write a new file, rename it over) changes nothing in the
/// workspace.
#[derive(Debug)]
struct LinkedFile {
    path: PathBuf,
    dir: Arc<Dir>,
    name: std::ffi::OsString,
    ino: (u64, u64),
}

/// A step's view of the workspace: the mounts, held open for the life of the step.
#[derive(Debug, Default)]
pub struct GrantedFs {
    /// The mounts, `/workspace` and below.
    pub mounts: Vec<Mount>,
    linked: Vec<LinkedFile>,
}

impl GrantedFs {
    /// Warnings about single writable files the step replaced instead of writing in place.
    pub fn replaced_files(&self) -> Vec<String> {
        self.linked
            .iter()
            .filter(|l| {
                rfs::statat(&*l.dir, Path::new(&l.name), AtFlags::SYMLINK_NOFOLLOW)
                    .map(|st| (st.st_dev, st.st_ino) != l.ino)
                    .unwrap_or(true)
            })
            .map(|l| {
                format!(
                    "`{}` was removed or replaced instead of written in place, so the workspace file is unchanged; grant its directory for writing to let the step replace it",
                    l.path.display()
                )
            })
            .collect()
    }
}

/// Turns a step's `allow.read` / `allow.write` into mounts under `/workspace`, resolving
/// every grant beneath `root` once. The skeleton is built in `scratch` (the step's own
/// scratch directory, which no step can reach). Missing write grants are created.
pub fn workspace_mounts(
    root: &Dir,
    allow: &Allow,
    scratch: &Dir,
) -> Result<GrantedFs, Vec<GrantProblem>> {
    let grants = grant_list(allow);
    if grants.is_empty() {
        return Ok(GrantedFs::default());
    }
    let (mut resolved, problems) = resolve_all(root, &grants, true);
    if !problems.is_empty() {
        return Err(problems);
    }
    expand_root(root, &mut resolved).map_err(|p| vec![p])?;
    let layout = layout(&mut resolved)?;
    build(&resolved, &layout, scratch).map_err(|(index, error)| vec![GrantProblem { index, error }])
}

fn build(
    resolved: &[Resolved],
    layout: &Layout,
    scratch: &Dir,
) -> Result<GrantedFs, (usize, GrantError)> {
    let scratch_err = |source: std::io::Error| {
        (
            0,
            GrantError::Io {
                path: "(the step's scratch directory)".into(),
                source,
            },
        )
    };
    let mut fs = GrantedFs::default();
    scratch.create_dir("skeleton").map_err(scratch_err)?;
    let skeleton_root = scratch.open_dir("skeleton").map_err(scratch_err)?;
    for (n, (path, skel)) in layout.skeleton.iter().enumerate() {
        let name = n.to_string();
        skeleton_root.create_dir(&name).map_err(scratch_err)?;
        let dir = Arc::new(skeleton_root.open_dir(&name).map_err(scratch_err)?);
        let files: BTreeSet<&std::ffi::OsStr> = skel
            .files
            .iter()
            .filter_map(|&i| resolved[i].path.file_name())
            .collect();
        for child in &skel.children {
            if files.contains(child.as_os_str()) {
                continue;
            }
            dir.create_dir(child).map_err(scratch_err)?;
        }
        for &i in &skel.files {
            let r = &resolved[i];
            let Node::File(fd) = &r.node else { continue };
            let name = r.path.file_name().expect("a file grant has a name");
            // Links the very file that was opened (not whatever the path names now).
            rfs::linkat(
                rfs::CWD,
                proc_path(fd),
                &*dir,
                Path::new(name),
                AtFlags::SYMLINK_FOLLOW,
            )
            .map_err(|e| {
                (
                    r.index,
                    GrantError::Io {
                        path: show(&r.path),
                        source: std::io::Error::other(format!(
                            "cannot show it to the step ({}); grant its directory instead",
                            io(e)
                        )),
                    },
                )
            })?;
            if r.writable {
                let st = rfs::fstat(fd).map_err(|e| scratch_err(io(e)))?;
                fs.linked.push(LinkedFile {
                    path: r.path.clone(),
                    dir: dir.clone(),
                    name: name.to_os_string(),
                    ino: (st.st_dev, st.st_ino),
                });
            }
        }
        fs.mounts.push(Mount {
            guest: guest_path(path),
            writable: skel.writable(resolved),
            dir,
        });
    }
    for &i in &layout.dirs {
        let r = &resolved[i];
        let Node::Dir(Some(dir)) = &r.node else {
            continue;
        };
        let dir = dir.try_clone().map_err(|source| {
            (
                r.index,
                GrantError::Io {
                    path: show(&r.path),
                    source,
                },
            )
        })?;
        fs.mounts
            .push(Mount::new(guest_path(&r.path), r.writable, dir));
    }
    Ok(fs)
}

/// Creates (without following symlinks) and opens `rel` beneath `root`: sluice's own
/// directories under `.sluice/`.
pub fn create_dir_beneath(root: &Dir, rel: &Path) -> std::io::Result<Dir> {
    match walk(root, rel, true) {
        Ok(Node::Dir(Some(dir))) => Ok(dir),
        Ok(_) => Err(std::io::Error::other(format!(
            "{} is not a directory",
            rel.display()
        ))),
        Err(Walk::Io(e)) => Err(e),
        Err(w) => Err(std::io::Error::other(walk_error(rel, w).to_string())),
    }
}

/// Finds the mount a guest path falls under (the longest matching prefix, as wasi-libc
/// does) and the path relative to it. `None` if the path is not absolute, leaves its
/// mount through `..`, or matches no mount.
pub fn resolve<'a>(mounts: &'a [Mount], guest: &str) -> Option<(&'a Mount, PathBuf)> {
    let path = Path::new(guest);
    if !path.has_root() {
        return None;
    }
    let best = mounts
        .iter()
        .filter(|m| path.starts_with(&m.guest))
        .max_by_key(|m| m.guest.len())?;
    let rel = path.strip_prefix(&best.guest).ok()?;
    let mut clean = PathBuf::new();
    for c in rel.components() {
        match c {
            std::path::Component::Normal(c) => clean.push(c),
            std::path::Component::CurDir => {}
            _ => return None,
        }
    }
    Some((best, clean))
}

/// Opens a file the step can see, for the host to read, with the same confinement as WASI
/// (no `..` out of the mount, no absolute symlinks, no symlinks leading out), non-blocking,
/// and only if it is a regular file: a FIFO or a device never reaches a read.
pub fn open_read(mounts: &[Mount], guest: &str) -> Result<(std::fs::File, u64), String> {
    use cap_std::fs::OpenOptionsExt;
    let (mount, rel) =
        resolve(mounts, guest).ok_or_else(|| format!("{guest}: not visible to this step"))?;
    if rel.as_os_str().is_empty() {
        return Err(format!("{guest}: is a directory"));
    }
    let mut options = cap_std::fs::OpenOptions::new();
    options
        .read(true)
        .custom_flags((OFlags::NONBLOCK | OFlags::NOCTTY).bits() as i32);
    let file = mount
        .dir
        .open_with(&rel, &options)
        .map_err(|e| format!("{guest}: {e}"))?
        .into_std();
    let meta = file.metadata().map_err(|e| format!("{guest}: {e}"))?;
    if !meta.is_file() {
        return Err(format!("{guest}: not a regular file"));
    }
    Ok((file, meta.size()))
}

/// Creates (or truncates) a file the step may write, for a program's output: beneath a
/// writable mount, with the same confinement as WASI, never a FIFO or device (opened
/// non-blocking and checked), never through a symlink at the last component.
pub fn open_write(mounts: &[Mount], guest: &str) -> Result<std::fs::File, String> {
    use cap_std::fs::OpenOptionsExt;
    let (mount, rel) =
        resolve(mounts, guest).ok_or_else(|| format!("{guest}: not visible to this step"))?;
    if !mount.writable {
        return Err(format!("{guest}: not writable by this step"));
    }
    if rel.as_os_str().is_empty() {
        return Err(format!("{guest}: is a directory"));
    }
    let mut options = cap_std::fs::OpenOptions::new();
    options
        .write(true)
        .create(true)
        .custom_flags((OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::NOFOLLOW).bits() as i32);
    let file = mount
        .dir
        .open_with(&rel, &options)
        .map_err(|e| format!("{guest}: {e}"))?
        .into_std();
    let meta = file.metadata().map_err(|e| format!("{guest}: {e}"))?;
    if !meta.is_file() {
        return Err(format!("{guest}: not a regular file"));
    }
    file.set_len(0).map_err(|e| format!("{guest}: {e}"))?;
    rustix::fs::fcntl_setfl(&file, OFlags::empty()).map_err(|e| format!("{guest}: {e}"))?;
    Ok(file)
}

/// Why a bounded copy stopped.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// The file holds more than the cap.
    #[error("larger than the limit of {limit} bytes")]
    TooLarge {
        /// The cap.
        limit: u64,
    },
    /// The stop check said so (the step's deadline passed, or the run was cancelled).
    #[error("stopped")]
    Stopped,
    /// Reading or writing failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// The chunk bounded copies read at a time (the stop check runs between chunks).
pub const CHUNK: usize = 1 << 20;

/// Copies at most `limit` bytes from `from` into `to`, one chunk at a time, calling `stop`
/// between chunks. Fails (without copying the rest) past `limit` bytes.
pub fn copy_bounded(
    from: &mut impl Read,
    to: &mut impl Write,
    limit: u64,
    stop: &dyn Fn() -> bool,
) -> Result<u64, CopyError> {
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0u64;
    loop {
        if stop() {
            return Err(CopyError::Stopped);
        }
        let n = match from.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        total += n as u64;
        if total > limit {
            return Err(CopyError::TooLarge { limit });
        }
        to.write_all(&buf[..n])?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allow(read: &[&str], write: &[&str]) -> Allow {
        let mut a = Allow::default();
        let p =
            |s: &&str| toml::Spanned::new(0..1, WorkspacePath::try_from(s.to_string()).unwrap());
        a.read = read.iter().map(p).collect();
        a.write = write.iter().map(p).collect();
        a
    }

    fn messages(ws: &Path, read: &[&str], write: &[&str]) -> Vec<String> {
        check_grants(ws, &allow(read, write))
            .into_iter()
            .map(|p| p.error.to_string())
            .collect()
    }

    #[test]
    fn resolve_takes_the_longest_prefix_and_refuses_dotdot() {
        let tmp = tempfile::tempdir().unwrap();
        let m = |g: &str| Mount::open_host(tmp.path(), g, false).unwrap();
        let mounts = vec![m("/workspace"), m("/workspace/dist"), m("/outputs")];
        let (m, rel) = resolve(&mounts, "/workspace/dist/app").unwrap();
        assert_eq!(
            (m.guest.as_str(), rel),
            ("/workspace/dist", PathBuf::from("app"))
        );
        let (m, _) = resolve(&mounts, "/workspace/distx").unwrap();
        assert_eq!(m.guest, "/workspace");
        assert!(resolve(&mounts, "/workspace/../etc/passwd").is_none());
        assert!(resolve(&mounts, "relative").is_none());
        assert!(resolve(&mounts, "/etc/passwd").is_none());
    }

    #[test]
    fn grants_never_reach_sluice_state_and_never_run_through_symlinks() {
        let ws = tempfile::tempdir().unwrap();
        let ws = ws.path();
        std::fs::create_dir_all(ws.join(".sluice/cache")).unwrap();
        std::fs::create_dir_all(ws.join(".sluice/go-cache")).unwrap();
        std::fs::create_dir_all(ws.join("dist")).unwrap();
        std::os::unix::fs::symlink("../.sluice/cache", ws.join("dist/planted")).unwrap();
        std::os::unix::fs::symlink("dist", ws.join("out")).unwrap();
        for bad in [".", ".sluice", ".sluice/cache", ".sluice/store/x"] {
            let m = messages(ws, &[], &[bad]);
            assert!(m[0].contains("sluice's own state"), "{bad}: {m:?}");
        }
        for bad in [".sluice", ".sluice/runs", ".sluice/tmp/x"] {
            let m = messages(ws, &[bad], &[]);
            assert!(
                m[0].contains("would let the step read sluice's own state"),
                "{bad}: {m:?}"
            );
        }
        assert_eq!(
            messages(ws, &[], &["dist/planted"]),
            ["`dist/planted` is a symlink; grants never follow symlinks"]
        );
        assert_eq!(
            messages(ws, &["out/x"], &[]),
            ["`out/x` runs through a symlink (`out`); grants never follow symlinks"]
        );
        assert!(messages(ws, &["."], &[".sluice/go-cache", "dist", "new/dir"]).is_empty());
    }

    #[test]
    fn modes_that_cannot_be_honoured_are_refused() {
        let ws = tempfile::tempdir().unwrap();
        let ws = ws.path();
        for f in ["ro.txt", "rw.txt", "src/a.go", "src/gen.go", "w/sub/x"] {
            std::fs::create_dir_all(ws.join(f).parent().unwrap()).unwrap();
            std::fs::write(ws.join(f), "x").unwrap();
        }
        let m = messages(ws, &["ro.txt"], &["rw.txt"]);
        assert!(
            m[0].starts_with(
                "`rw.txt` (write) and `ro.txt` (read) are single files in the same directory `.`"
            ),
            "{m:?}"
        );
        let m = messages(ws, &["src"], &["src/gen.go"]);
        assert!(
            m[0].starts_with(
                "`src/gen.go` is a single file granted for writing inside read-only grant `src`"
            ),
            "{m:?}"
        );
        let m = messages(ws, &["w/sub"], &["w"]);
        assert!(
            m[0].starts_with("`w/sub` is granted read-only, but it lies inside write grant `w`"),
            "{m:?}"
        );
        let m = messages(ws, &["."], &["ro.txt"]);
        assert_eq!(m.len(), 1, "{m:?}");
        // Honourable: a write directory inside a read directory, files of one mode together.
        assert!(messages(ws, &["."], &["w"]).is_empty());
        assert!(messages(ws, &["ro.txt", "rw.txt", "src"], &["w"]).is_empty());
        assert!(messages(ws, &["src"], &["w/sub/x"]).is_empty());
    }

    #[test]
    fn copies_are_bounded_and_stoppable() {
        let data = vec![7u8; 3 * CHUNK + 5];
        let mut out = Vec::new();
        let n = copy_bounded(&mut data.as_slice(), &mut out, u64::MAX, &|| false).unwrap();
        assert_eq!((n, out.len()), (data.len() as u64, data.len()));
        let err = copy_bounded(&mut data.as_slice(), &mut Vec::new(), CHUNK as u64, &|| {
            false
        });
        assert!(matches!(err, Err(CopyError::TooLarge { .. })));
        let err = copy_bounded(&mut data.as_slice(), &mut Vec::new(), u64::MAX, &|| true);
        assert!(matches!(err, Err(CopyError::Stopped)));
    }

    #[test]
    fn guest_paths() {
        assert_eq!(guest_path(Path::new(".")), "/workspace");
        assert_eq!(guest_path(Path::new("src/app")), "/workspace/src/app");
    }
}
