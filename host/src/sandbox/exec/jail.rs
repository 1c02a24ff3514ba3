//! The confined child, built from the kernel's own mechanisms.
//!
//! `spawn` forks (through `std::process::Command`, whose `pre_exec` hook runs in the child)
//! into three processes:
//!
//! 1. the **keeper**, in the host's PID namespace: joins the step's cgroup, dies with the
//!    host thread that started it (`PR_SET_PDEATHSIG`), unshares user, mount, PID, network,
//!    IPC and UTS namespaces, maps its own uid and gid to root inside, forks, then waits and
//!    exits as the program did (the host waits for it: `wait4` gives time and peak memory of
//!    the whole tree);
//! 2. **init** (PID 1 of the new PID namespace): builds the filesystem the program sees — a
//!    tmpfs root holding `/usr` read-only, a generated `/etc`, a few `/dev` nodes, a private
//!    `/tmp`, the step's cache at `/cache`, and each of the step's mounts bound from the handle
//!    the host holds (`/proc/self/fd/N`, never a path resolved again) at the guest path the step
//!    uses, read-only unless granted writable — brings up loopback, pivots into it, forks the
//!    program and reaps every orphan; when the program exits, init exits and the kernel kills
//!    whatever the program left behind;
//! 3. the **program**: a new session, every capability dropped (bounding set too),
//!    `no_new_privs`, a Landlock domain that allows writes only beneath the writable mounts,
//!    then `execve` with the environment the host built.
//!
//! Between `fork` and `execve` the code below only makes system calls on data prepared
//! before the fork (plus the `landlock` crate's ruleset, built after the pivot).

use std::ffi::{CString, OsStr};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// One directory or file the program sees.
#[derive(Debug, Clone)]
pub struct Bind {
    /// Where the program sees it: an absolute guest path.
    pub guest: String,
    /// What is bound there.
    pub source: Source,
    /// Whether the program may write into it.
    pub writable: bool,
}

/// Where a bind comes from.
#[derive(Debug, Clone)]
pub enum Source {
    /// A directory the host holds open (grants, inputs, outputs, tmp, cache).
    Handle(std::sync::Arc<cap_std::fs::Dir>),
    /// A system path the host trusts (`/usr`, `/etc/ssl`, a program's directory).
    System(PathBuf),
}

/// Everything about the filesystem and process tree of a step's children.
#[derive(Debug)]
pub struct Layout {
    /// A host-owned, empty directory the root tmpfs is mounted on (inside the child's own
    /// mount namespace only).
    pub root: PathBuf,
    /// Binds, in order: a bind's mount point is created inside earlier ones.
    pub binds: Vec<Bind>,
    /// Files written into the child's `/etc`.
    pub etc: Vec<(&'static str, String)>,
    /// `cgroup.procs` files the keeper joins.
    pub cgroup_procs: Vec<std::sync::Arc<OwnedFd>>,
}

/// What to start.
#[derive(Debug)]
pub struct Launch {
    /// The host path of the program (as resolved at planning; visible at the same path).
    pub program: PathBuf,
    /// `argv[0]`.
    pub argv0: String,
    /// The rest of `argv`.
    pub args: Vec<String>,
    /// The whole environment.
    pub env: Vec<(String, String)>,
    /// The working directory, a guest path.
    pub cwd: String,
    /// Standard streams.
    pub stdin: Stdio,
    /// Standard streams.
    pub stdout: Stdio,
    /// Standard streams.
    pub stderr: Stdio,
}

/// A started keeper.
#[derive(Debug)]
pub struct Started {
    /// The keeper process (its pipes are the program's).
    pub child: Child,
    /// Where init reports how the program ended when a signal killed it.
    pub report: OwnedFd,
}

/// What the kernel offers for confinement on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Support {
    /// The Landlock ABI version.
    pub landlock_abi: i32,
}

/// Probes, once per process, whether user, mount, PID and network namespaces can be made and
/// which Landlock ABI the kernel has. `Err` names what is missing.
pub fn support() -> Result<Support, String> {
    static SUPPORT: std::sync::OnceLock<Result<Support, String>> = std::sync::OnceLock::new();
    SUPPORT.get_or_init(probe).clone()
}

fn probe() -> Result<Support, String> {
    // SAFETY: landlock_create_ruleset with LANDLOCK_CREATE_RULESET_VERSION only returns the ABI.
    let abi = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<u8>(),
            0usize,
            1u32, /* LANDLOCK_CREATE_RULESET_VERSION */
        )
    } as i32;
    if abi < 1 {
        return Err(format!(
            "the kernel has no Landlock (landlock_create_ruleset: {}); it is needed to confine programs",
            io::Error::last_os_error()
        ));
    }
    // Namespaces: a throwaway child unshares them all.
    let mut cmd = Command::new("/proc/self/exe");
    cmd.arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: only async-signal-safe system calls run in the child.
    unsafe {
        cmd.pre_exec(|| {
            if libc::unshare(NAMESPACES) != 0 {
                return Err(io::Error::last_os_error());
            }
            libc::_exit(0)
        });
    }
    match cmd.status() {
        Ok(s) if s.success() => Ok(Support { landlock_abi: abi }),
        Ok(s) => Err(format!("the namespace probe failed ({s})")),
        Err(e) => Err(format!(
            "unprivileged user, mount, PID and network namespaces are not available ({e}); they are needed to confine programs"
        )),
    }
}

const NAMESPACES: libc::c_int = libc::CLONE_NEWUSER
    | libc::CLONE_NEWNS
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUTS;

/// One step of building the child's filesystem, run in order relative to the new root.
#[derive(Debug)]
enum Op {
    Mkdir(CString),
    Touch(CString),
    Symlink {
        target: CString,
        link: CString,
    },
    Write {
        path: CString,
        data: Vec<u8>,
    },
    Bind {
        source: CString,
        target: CString,
        remount: libc::c_ulong,
        /// The (device, inode) the target must show once bound: a handle's directory is bound
        /// by its path (a descriptor opened before `unshare` names a mount of the host's
        /// namespace, which cannot be bound), then checked to be that very directory.
        expect: Option<(u64, u64)>,
    },
    Tmpfs {
        target: CString,
    },
    Proc {
        target: CString,
    },
}

impl Op {
    fn describe(&self) -> String {
        let s = |c: &CString| c.to_string_lossy().into_owned();
        match self {
            Op::Mkdir(p) => format!("create directory /{}", s(p)),
            Op::Touch(p) => format!("create /{}", s(p)),
            Op::Symlink { link, .. } => format!("create link /{}", s(link)),
            Op::Write { path, .. } => format!("write /{}", s(path)),
            Op::Bind { source, target, .. } => format!("bind {} on /{}", s(source), s(target)),
            Op::Tmpfs { target } => format!("mount a tmpfs on /{}", s(target)),
            Op::Proc { target } => format!("mount /proc on /{}", s(target)),
        }
    }
}

/// Stages reported through the report pipe, besides the ops (which are numbered from 0).
const STAGE_CGROUP: u32 = 1 << 16;
const STAGE_UNSHARE: u32 = STAGE_CGROUP + 1;
const STAGE_MAPS: u32 = STAGE_CGROUP + 2;
const STAGE_FORK: u32 = STAGE_CGROUP + 3;
const STAGE_ROOT: u32 = STAGE_CGROUP + 4;
const STAGE_PIVOT: u32 = STAGE_CGROUP + 5;
const STAGE_LOOPBACK: u32 = STAGE_CGROUP + 6;
const STAGE_CWD: u32 = STAGE_CGROUP + 7;
const STAGE_CAPS: u32 = STAGE_CGROUP + 8;
const STAGE_LANDLOCK: u32 = STAGE_CGROUP + 9;
const STAGE_PDEATHSIG: u32 = STAGE_CGROUP + 10;

/// Report tags.
const TAG_FAILED: u8 = b'E';
const TAG_SIGNALED: u8 = b'S';

/// Everything the forked processes need, prepared before the fork.
struct Prepared {
    uid_map: Vec<u8>,
    gid_map: Vec<u8>,
    cgroup_procs: Vec<RawFd>,
    report: RawFd,
    root: CString,
    ops: Vec<Op>,
    cwd: CString,
    writable: Vec<CString>,
    devices: Vec<CString>,
    landlock_abi: i32,
}

/// Starts `launch` confined by `layout`. The keeper is the returned child.
pub fn spawn(layout: &Layout, launch: Launch, support: &Support) -> Result<Started, String> {
    let prepared = prepare(layout, &launch, support)?;
    let (report_read, report_write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(|e| format!("cannot create a pipe: {e}"))?;
    let prepared = Prepared {
        report: report_write.as_raw_fd(),
        ..prepared
    };
    let ops_described: Vec<String> = prepared.ops.iter().map(Op::describe).collect();
    let mut cmd = Command::new(&launch.program);
    cmd.arg0(&launch.argv0)
        .args(&launch.args)
        .env_clear()
        .envs(launch.env.iter().map(|(k, v)| (k, v)))
        .stdin(launch.stdin)
        .stdout(launch.stdout)
        .stderr(launch.stderr);
    // SAFETY: `keeper` runs in the forked child and only makes system calls on `prepared`
    // (plus the Landlock ruleset built in the program process, see `confine_program`).
    unsafe {
        cmd.pre_exec(move || keeper(&prepared));
    }
    let spawned = cmd.spawn();
    drop(report_write);
    let mut report = std::fs::File::from(report_read);
    match spawned {
        Ok(child) => Ok(Started {
            child,
            report: report.into(),
        }),
        Err(e) => {
            let mut buf = [0u8; 9];
            let stage = match std::io::Read::read(&mut report, &mut buf) {
                Ok(9) if buf[0] == TAG_FAILED => {
                    let stage = u32::from_ne_bytes(buf[1..5].try_into().expect("4 bytes"));
                    let errno = i32::from_ne_bytes(buf[5..9].try_into().expect("4 bytes"));
                    let what = match stage {
                        STAGE_CGROUP => "join the step's cgroup".to_string(),
                        STAGE_UNSHARE => "create namespaces".to_string(),
                        STAGE_MAPS => "map the user and group ids".to_string(),
                        STAGE_FORK => "fork".to_string(),
                        STAGE_ROOT => "mount the root tmpfs".to_string(),
                        STAGE_PIVOT => "pivot into the new root".to_string(),
                        STAGE_LOOPBACK => "bring up loopback".to_string(),
                        STAGE_CWD => format!("enter the working directory {}", launch.cwd),
                        STAGE_CAPS => "drop capabilities".to_string(),
                        STAGE_LANDLOCK => "enforce Landlock".to_string(),
                        STAGE_PDEATHSIG => "tie the child's life to the step".to_string(),
                        n => ops_described
                            .get(n as usize)
                            .cloned()
                            .unwrap_or_else(|| format!("stage {n}")),
                    };
                    Some(format!(
                        "cannot {what}: {}",
                        io::Error::from_raw_os_error(errno)
                    ))
                }
                _ => None,
            };
            Err(match stage {
                Some(stage) => format!("confinement failed: {stage}"),
                None if e.kind() == io::ErrorKind::NotFound => format!(
                    "{} is not visible inside the confinement ({e})",
                    launch.program.display()
                ),
                None => format!("cannot start {}: {e}", launch.program.display()),
            })
        }
    }
}

fn cstr(s: impl AsRef<OsStr>) -> Result<CString, String> {
    CString::new(s.as_ref().as_bytes()).map_err(|_| "a path holds a NUL byte".to_string())
}

/// `/a/b` → `a/b` (relative to the new root).
fn rel(guest: &str) -> Result<CString, String> {
    cstr(guest.trim_start_matches('/'))
}

/// The mount flags a bind must keep: flags the kernel locks on mounts made in a less
/// privileged namespace (dropping one makes the remount fail with EPERM).
fn locked_flags(fd: RawFd) -> libc::c_ulong {
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: fd is open; st is a valid out-pointer.
    if unsafe { libc::fstatvfs(fd, &mut st) } != 0 {
        return libc::MS_NOSUID | libc::MS_NODEV;
    }
    let mut flags = libc::MS_NOSUID | libc::MS_NODEV;
    for (st_flag, ms_flag) in [
        (libc::ST_NOEXEC, libc::MS_NOEXEC),
        (libc::ST_NOATIME, libc::MS_NOATIME),
        (libc::ST_NODIRATIME, libc::MS_NODIRATIME),
        (libc::ST_RELATIME, libc::MS_RELATIME),
    ] {
        if st.f_flag & st_flag != 0 {
            flags |= ms_flag;
        }
    }
    flags
}

fn prepare(layout: &Layout, launch: &Launch, support: &Support) -> Result<Prepared, String> {
    let uid = rustix::process::geteuid().as_raw();
    let gid = rustix::process::getegid().as_raw();
    let mut ops = Vec::new();
    // The system: /usr read-only, the top-level links (or directories) into it.
    let usr = std::fs::File::open("/usr").map_err(|e| format!("cannot open /usr: {e}"))?;
    ops.push(Op::Mkdir(cstr("usr")?));
    ops.push(Op::Bind {
        source: cstr("/usr")?,
        target: cstr("usr")?,
        remount: libc::MS_RDONLY | locked_flags(usr.as_raw_fd()),
        expect: None,
    });
    for top in ["bin", "sbin", "lib", "lib32", "lib64", "libx32"] {
        let host = Path::new("/").join(top);
        match std::fs::symlink_metadata(&host) {
            Ok(m) if m.file_type().is_symlink() => {
                let target = std::fs::read_link(&host).map_err(|e| e.to_string())?;
                ops.push(Op::Symlink {
                    target: cstr(target)?,
                    link: cstr(top)?,
                });
            }
            Ok(m) if m.is_dir() => {
                let f = std::fs::File::open(&host).map_err(|e| e.to_string())?;
                ops.push(Op::Mkdir(cstr(top)?));
                ops.push(Op::Bind {
                    source: cstr(&host)?,
                    target: cstr(top)?,
                    remount: libc::MS_RDONLY | locked_flags(f.as_raw_fd()),
                    expect: None,
                });
            }
            _ => {}
        }
    }
    // /etc: generated files, and a few read-only system entries tools need.
    ops.push(Op::Mkdir(cstr("etc")?));
    for (name, content) in &layout.etc {
        ops.push(Op::Write {
            path: cstr(format!("etc/{name}"))?,
            data: content.as_bytes().to_vec(),
        });
    }
    // Certificates (Go's SystemCertPool) and the alternatives links some /usr/bin entries go
    // through. No localtime: programs see UTC, as reproducible builds want.
    for shared in ["ssl", "alternatives"] {
        let host = Path::new("/etc").join(shared);
        if let Ok(f) = std::fs::File::open(&host)
            && f.metadata().is_ok_and(|m| m.is_dir())
        {
            ops.push(Op::Mkdir(cstr(format!("etc/{shared}"))?));
            ops.push(Op::Bind {
                source: cstr(&host)?,
                target: cstr(format!("etc/{shared}"))?,
                remount: libc::MS_RDONLY | locked_flags(f.as_raw_fd()),
                expect: None,
            });
        }
    }
    // The dynamic loader's cache, a single file.
    {
        let host = Path::new("/etc/ld.so.cache");
        if let Ok(f) = std::fs::File::open(host)
            && f.metadata().is_ok_and(|m| m.is_file())
        {
            ops.push(Op::Touch(cstr("etc/ld.so.cache")?));
            ops.push(Op::Bind {
                source: cstr(host)?,
                target: cstr("etc/ld.so.cache")?,
                remount: libc::MS_RDONLY | locked_flags(f.as_raw_fd()),
                expect: None,
            });
        }
    }
    // /dev: the harmless character devices, bound from the host's.
    ops.push(Op::Mkdir(cstr("dev")?));
    let mut devices = Vec::new();
    for dev in ["null", "zero", "random", "urandom"] {
        let host = Path::new("/dev").join(dev);
        if host.exists() {
            ops.push(Op::Touch(cstr(format!("dev/{dev}"))?));
            ops.push(Op::Bind {
                source: cstr(&host)?,
                target: cstr(format!("dev/{dev}"))?,
                remount: 0,
                expect: None,
            });
            devices.push(cstr(format!("/dev/{dev}"))?);
        }
    }
    for (link, target) in [
        ("dev/fd", "/proc/self/fd"),
        ("dev/stdin", "/proc/self/fd/0"),
        ("dev/stdout", "/proc/self/fd/1"),
        ("dev/stderr", "/proc/self/fd/2"),
    ] {
        ops.push(Op::Symlink {
            target: cstr(target)?,
            link: cstr(link)?,
        });
    }
    ops.push(Op::Mkdir(cstr("dev/shm")?));
    ops.push(Op::Tmpfs {
        target: cstr("dev/shm")?,
    });
    // `/workspace` exists even when nothing of it is granted (the default working directory).
    ops.push(Op::Mkdir(cstr("workspace")?));
    // The step's binds, parents first.
    let mut writable = vec![cstr("/dev/shm")?];
    let mut binds: Vec<&Bind> = layout.binds.iter().collect();
    binds.sort_by_key(|b| b.guest.matches('/').count());
    for bind in binds {
        let target = rel(&bind.guest)?;
        let (source, flags, expect) = match &bind.source {
            Source::Handle(dir) => {
                let proc = crate::sandbox::fs::proc_path(&**dir);
                let path = std::fs::read_link(&proc)
                    .map_err(|e| format!("cannot name {}: {e}", bind.guest))?;
                let meta = rustix::fs::fstat(&**dir).map_err(|e| e.to_string())?;
                (
                    cstr(path)?,
                    locked_flags(dir.as_raw_fd()),
                    Some((meta.st_dev, meta.st_ino)),
                )
            }
            Source::System(path) => {
                let f = std::fs::File::open(path)
                    .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
                (cstr(path)?, locked_flags(f.as_raw_fd()), None)
            }
        };
        // Top-level and system mount points are made in the tmpfs; deeper ones exist in the
        // skeleton the parent bind shows (placeholders). Making a missing one is harmless.
        ops.push(Op::Mkdir(target.clone()));
        ops.push(Op::Bind {
            source,
            target,
            remount: if bind.writable {
                flags
            } else {
                flags | libc::MS_RDONLY
            },
            expect,
        });
        if bind.writable {
            writable.push(cstr(&bind.guest)?);
        }
    }
    ops.push(Op::Mkdir(cstr("proc")?));
    ops.push(Op::Proc {
        target: cstr("proc")?,
    });
    Ok(Prepared {
        uid_map: format!("0 {uid} 1").into_bytes(),
        gid_map: format!("0 {gid} 1").into_bytes(),
        cgroup_procs: layout.cgroup_procs.iter().map(|f| f.as_raw_fd()).collect(),
        report: -1,
        root: cstr(&layout.root)?,
        ops,
        cwd: cstr(&launch.cwd)?,
        writable,
        devices,
        landlock_abi: support.landlock_abi,
    })
}

/// Reports a failed stage to the host through the report pipe, and returns the error.
fn fail(p: &Prepared, stage: u32) -> io::Error {
    let err = io::Error::last_os_error();
    let errno = err.raw_os_error().unwrap_or(libc::EIO);
    let mut buf = [0u8; 9];
    buf[0] = TAG_FAILED;
    buf[1..5].copy_from_slice(&stage.to_ne_bytes());
    buf[5..9].copy_from_slice(&errno.to_ne_bytes());
    // SAFETY: writing a stack buffer to an open pipe.
    unsafe { libc::write(p.report, buf.as_ptr().cast(), buf.len()) };
    io::Error::from_raw_os_error(errno)
}

fn check(p: &Prepared, stage: u32, rc: libc::c_int) -> io::Result<()> {
    if rc < 0 { Err(fail(p, stage)) } else { Ok(()) }
}

fn write_file(path: &[u8], data: &[u8]) -> libc::c_int {
    // SAFETY: NUL-terminated path; plain open/write/close.
    unsafe {
        let fd = libc::open(path.as_ptr().cast(), libc::O_WRONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return -1;
        }
        let n = libc::write(fd, data.as_ptr().cast(), data.len());
        libc::close(fd);
        if n < 0 { -1 } else { 0 }
    }
}

/// Waits for `pid` and returns its raw wait status, reaping every other child on the way.
fn reap_until(pid: libc::pid_t) -> libc::c_int {
    loop {
        let mut status = 0;
        // SAFETY: plain waitpid.
        let w = unsafe { libc::waitpid(-1, &mut status, 0) };
        if w == pid {
            return status;
        }
        if w < 0 && io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return 1 << 8;
        }
    }
}

/// The keeper: runs in the first forked child. Returns only in the program process.
fn keeper(p: &Prepared) -> io::Result<()> {
    // SAFETY (whole function): system calls on data prepared before the fork.
    unsafe {
        for &fd in &p.cgroup_procs {
            check(
                p,
                STAGE_CGROUP,
                libc::write(fd, b"0".as_ptr().cast(), 1) as libc::c_int,
            )?;
        }
        // Die with the host thread that started us; if the host is already gone, stop.
        let host = libc::getppid();
        check(
            p,
            STAGE_PDEATHSIG,
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL),
        )?;
        if libc::getppid() != host {
            libc::_exit(137);
        }
        check(p, STAGE_UNSHARE, libc::unshare(NAMESPACES))?;
        check(
            p,
            STAGE_MAPS,
            write_file(b"/proc/self/setgroups\0", b"deny"),
        )?;
        check(
            p,
            STAGE_MAPS,
            write_file(b"/proc/self/uid_map\0", &p.uid_map),
        )?;
        check(
            p,
            STAGE_MAPS,
            write_file(b"/proc/self/gid_map\0", &p.gid_map),
        )?;
        let init = libc::fork();
        check(p, STAGE_FORK, init)?;
        if init > 0 {
            // The keeper: nothing of the step's is kept open here.
            libc::syscall(libc::SYS_close_range, 0u32, u32::MAX, 0u32);
            let status = reap_until(init);
            exit_like(status);
        }
        init_process(p)
    }
}

/// Exits the way `status` says a child ended: the same code, or the same signal.
unsafe fn exit_like(status: libc::c_int) -> ! {
    // SAFETY: plain process control.
    unsafe {
        if libc::WIFSIGNALED(status) {
            let sig = libc::WTERMSIG(status);
            libc::signal(sig, libc::SIG_DFL);
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, sig);
            libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
            libc::kill(libc::getpid(), sig);
            libc::_exit(128 + sig);
        }
        libc::_exit(libc::WEXITSTATUS(status))
    }
}

/// PID 1 of the new namespace: builds the filesystem, forks the program, reaps.
fn init_process(p: &Prepared) -> io::Result<()> {
    // SAFETY (whole function): system calls on data prepared before the fork.
    unsafe {
        check(
            p,
            STAGE_PDEATHSIG,
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL),
        )?;
        check(
            p,
            STAGE_ROOT,
            libc::mount(
                std::ptr::null(),
                c"/".as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            ),
        )?;
        check(
            p,
            STAGE_ROOT,
            libc::mount(
                c"sluice".as_ptr(),
                p.root.as_ptr(),
                c"tmpfs".as_ptr(),
                libc::MS_NOSUID | libc::MS_NODEV,
                c"mode=0755,size=16m".as_ptr().cast(),
            ),
        )?;
        check(p, STAGE_ROOT, libc::chdir(p.root.as_ptr()))?;
        let mut fs: libc::statfs = std::mem::zeroed();
        if libc::statfs(c".".as_ptr(), &mut fs) != 0 || fs.f_type != libc::TMPFS_MAGIC {
            *libc::__errno_location() = libc::EXDEV;
            return Err(fail(p, STAGE_ROOT));
        }
        for (i, op) in p.ops.iter().enumerate() {
            run_op(p, i as u32, op)?;
        }
        loopback(p)?;
        libc::sethostname(c"sluice".as_ptr(), 6);
        check(p, STAGE_PIVOT, libc::mkdir(c"old".as_ptr(), 0o700))?;
        check(
            p,
            STAGE_PIVOT,
            libc::syscall(libc::SYS_pivot_root, c".".as_ptr(), c"old".as_ptr()) as libc::c_int,
        )?;
        check(p, STAGE_PIVOT, libc::chdir(c"/".as_ptr()))?;
        check(
            p,
            STAGE_PIVOT,
            libc::umount2(c"/old".as_ptr(), libc::MNT_DETACH),
        )?;
        check(p, STAGE_PIVOT, libc::rmdir(c"/old".as_ptr()))?;
        check(
            p,
            STAGE_PIVOT,
            libc::mount(
                std::ptr::null(),
                c"/".as_ptr(),
                std::ptr::null(),
                libc::MS_REMOUNT
                    | libc::MS_BIND
                    | libc::MS_RDONLY
                    | libc::MS_NOSUID
                    | libc::MS_NODEV,
                std::ptr::null(),
            ),
        )?;
        let program = libc::fork();
        check(p, STAGE_FORK, program)?;
        if program > 0 {
            // Init keeps only the report pipe, to say which signal killed the program (a
            // PID 1 cannot kill itself with it to tell the keeper).
            let report = 3;
            if p.report != report {
                libc::dup2(p.report, report);
            }
            libc::syscall(libc::SYS_close_range, 0u32, 2u32, 0u32);
            libc::syscall(libc::SYS_close_range, 4u32, u32::MAX, 0u32);
            let status = reap_until(program);
            if libc::WIFSIGNALED(status) {
                let mut buf = [0u8; 9];
                buf[0] = TAG_SIGNALED;
                buf[1..5].copy_from_slice(&libc::WTERMSIG(status).to_ne_bytes());
                libc::write(report, buf.as_ptr().cast(), buf.len());
                libc::_exit(128 + libc::WTERMSIG(status));
            }
            libc::_exit(libc::WEXITSTATUS(status));
        }
        confine_program(p)
    }
}

unsafe fn run_op(p: &Prepared, stage: u32, op: &Op) -> io::Result<()> {
    // SAFETY (whole function): system calls on prepared, NUL-terminated paths.
    unsafe {
        match op {
            Op::Mkdir(path) => {
                // Like `mkdir -p`: each component, existing ones are fine.
                let bytes = path.as_bytes_with_nul();
                let mut buf = [0u8; 4096];
                if bytes.len() > buf.len() {
                    *libc::__errno_location() = libc::ENAMETOOLONG;
                    return Err(fail(p, stage));
                }
                for (i, &b) in bytes.iter().enumerate() {
                    if b == b'/' || b == 0 {
                        buf[i] = 0;
                        if i > 0
                            && libc::mkdir(buf.as_ptr().cast(), 0o755) != 0
                            && *libc::__errno_location() != libc::EEXIST
                        {
                            return Err(fail(p, stage));
                        }
                    }
                    buf[i] = b;
                }
                Ok(())
            }
            Op::Touch(path) => {
                let fd = libc::open(
                    path.as_ptr(),
                    libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC,
                    0o644,
                );
                check(p, stage, fd)?;
                libc::close(fd);
                Ok(())
            }
            Op::Symlink { target, link } => {
                check(p, stage, libc::symlink(target.as_ptr(), link.as_ptr()))
            }
            Op::Write { path, data } => {
                let fd = libc::open(
                    path.as_ptr(),
                    libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC | libc::O_CLOEXEC,
                    0o644,
                );
                check(p, stage, fd)?;
                let n = libc::write(fd, data.as_ptr().cast(), data.len());
                libc::close(fd);
                check(p, stage, n as libc::c_int)
            }
            Op::Bind {
                source,
                target,
                remount,
                expect,
            } => {
                check(
                    p,
                    stage,
                    libc::mount(
                        source.as_ptr(),
                        target.as_ptr(),
                        std::ptr::null(),
                        libc::MS_BIND,
                        std::ptr::null(),
                    ),
                )?;
                if let Some((dev, ino)) = expect {
                    let mut st: libc::stat = std::mem::zeroed();
                    if libc::stat(target.as_ptr(), &mut st) != 0
                        || st.st_dev != *dev
                        || st.st_ino != *ino
                    {
                        *libc::__errno_location() = libc::ESTALE;
                        return Err(fail(p, stage));
                    }
                }
                if *remount != 0 {
                    check(
                        p,
                        stage,
                        libc::mount(
                            std::ptr::null(),
                            target.as_ptr(),
                            std::ptr::null(),
                            libc::MS_REMOUNT | libc::MS_BIND | remount,
                            std::ptr::null(),
                        ),
                    )?;
                }
                Ok(())
            }
            Op::Tmpfs { target } => check(
                p,
                stage,
                libc::mount(
                    c"tmpfs".as_ptr(),
                    target.as_ptr(),
                    c"tmpfs".as_ptr(),
                    libc::MS_NOSUID | libc::MS_NODEV,
                    c"mode=1777,size=64m".as_ptr().cast(),
                ),
            ),
            Op::Proc { target } => check(
                p,
                stage,
                libc::mount(
                    c"proc".as_ptr(),
                    target.as_ptr(),
                    c"proc".as_ptr(),
                    libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                    std::ptr::null(),
                ),
            ),
        }
    }
}

/// Brings up `lo` in the new network namespace (tests listen on loopback).
fn loopback(p: &Prepared) -> io::Result<()> {
    // SAFETY: an ioctl on a socket of our own with a zeroed ifreq naming "lo".
    unsafe {
        let sock = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        check(p, STAGE_LOOPBACK, sock)?;
        let mut req: libc::ifreq = std::mem::zeroed();
        req.ifr_name[0] = b'l' as libc::c_char;
        req.ifr_name[1] = b'o' as libc::c_char;
        let rc = libc::ioctl(sock, libc::SIOCGIFFLAGS, &mut req);
        if rc == 0 {
            req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
            let rc = libc::ioctl(sock, libc::SIOCSIFFLAGS, &req);
            libc::close(sock);
            return check(p, STAGE_LOOPBACK, rc);
        }
        libc::close(sock);
        check(p, STAGE_LOOPBACK, rc)
    }
}

/// The program process: last walls, then back to `Command`, which calls `execve`.
fn confine_program(p: &Prepared) -> io::Result<()> {
    // SAFETY (whole function): system calls on prepared data.
    unsafe {
        libc::setsid();
        let core = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        libc::setrlimit(libc::RLIMIT_CORE, &core);
        check(p, STAGE_CWD, libc::chdir(p.cwd.as_ptr()))?;
        // Every capability, the bounding set included, so that neither `execve` of a setuid
        // file nor a nested user namespace gives any back.
        for cap in 0..64 {
            if libc::prctl(libc::PR_CAPBSET_DROP, cap) != 0
                && *libc::__errno_location() == libc::EINVAL
            {
                break;
            }
        }
        check(
            p,
            STAGE_CAPS,
            libc::prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_CLEAR_ALL,
                0,
                0,
                0,
            ),
        )?;
        check(
            p,
            STAGE_CAPS,
            libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0),
        )?;
    }
    if let Err(errno) = landlock(p) {
        // SAFETY: setting errno for `fail`.
        unsafe { *libc::__errno_location() = errno };
        return Err(fail(p, STAGE_LANDLOCK));
    }
    // SAFETY: capset with a zeroed set drops what remains (permitted, effective, inheritable).
    unsafe {
        #[repr(C)]
        struct Header {
            version: u32,
            pid: i32,
        }
        #[repr(C)]
        #[derive(Clone, Copy)]
        struct Data {
            effective: u32,
            permitted: u32,
            inheritable: u32,
        }
        let header = Header {
            version: 0x2008_0522, /* _LINUX_CAPABILITY_VERSION_3 */
            pid: 0,
        };
        let data = [Data {
            effective: 0,
            permitted: 0,
            inheritable: 0,
        }; 2];
        check(
            p,
            STAGE_CAPS,
            libc::syscall(libc::SYS_capset, &header, data.as_ptr()) as libc::c_int,
        )?;
    }
    Ok(())
}

/// Landlock: read and execute anywhere the program can see (the mounts decide what that is),
/// write only beneath the writable mounts and into the harmless devices.
fn landlock(p: &Prepared) -> Result<(), i32> {
    use landlock::{
        ABI, Access, AccessFs, CompatLevel, Compatible, PathBeneath, PathFd, Ruleset, RulesetAttr,
        RulesetCreatedAttr, RulesetStatus, Scope,
    };
    let abi = match p.landlock_abi {
        ..=1 => ABI::V1,
        2 => ABI::V2,
        3 => ABI::V3,
        4 => ABI::V4,
        5 => ABI::V5,
        _ => ABI::V6,
    };
    let eperm = |_| libc::EPERM;
    let mut ruleset = Ruleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(AccessFs::from_all(abi))
        .map_err(eperm)?;
    if p.landlock_abi >= 6 {
        ruleset = ruleset.scope(Scope::from_all(abi)).map_err(eperm)?;
    }
    let os = |e: landlock::PathFdError| match e {
        landlock::PathFdError::OpenCall { source, .. } => {
            source.raw_os_error().unwrap_or(libc::EIO)
        }
        _ => libc::EIO,
    };
    let mut created = ruleset.create().map_err(eperm)?;
    created = created
        .add_rule(PathBeneath::new(
            PathFd::new("/").map_err(os)?,
            AccessFs::from_read(abi),
        ))
        .map_err(eperm)?;
    for dir in &p.writable {
        let path = Path::new(OsStr::from_bytes(dir.as_bytes()));
        created = created
            .add_rule(PathBeneath::new(
                PathFd::new(path).map_err(os)?,
                AccessFs::from_all(abi),
            ))
            .map_err(eperm)?;
    }
    for dev in &p.devices {
        let path = Path::new(OsStr::from_bytes(dev.as_bytes()));
        created = created
            .add_rule(PathBeneath::new(
                PathFd::new(path).map_err(os)?,
                AccessFs::from_file(abi),
            ))
            .map_err(eperm)?;
    }
    let status = created.restrict_self().map_err(eperm)?;
    if status.ruleset == RulesetStatus::NotEnforced {
        return Err(libc::ENOSYS);
    }
    Ok(())
}

/// Reads what init reported about the program's end: `Some(signal)` when a signal killed it.
pub fn signal_reported(report: &OwnedFd) -> Option<i32> {
    let mut buf = [0u8; 9];
    // SAFETY: the fd is the read end of our pipe, owned by the caller; dup so File can own it.
    let fd = unsafe { libc::dup(report.as_raw_fd()) };
    if fd < 0 {
        return None;
    }
    // SAFETY: fd was just duplicated and is owned by nobody else.
    let mut file = unsafe { std::fs::File::from_raw_fd(fd) };
    let _ = rustix::fs::fcntl_setfl(&file, rustix::fs::OFlags::NONBLOCK);
    match std::io::Read::read(&mut file, &mut buf) {
        Ok(9) if buf[0] == TAG_SIGNALED => {
            Some(i32::from_ne_bytes(buf[1..5].try_into().expect("4 bytes")))
        }
        _ => None,
    }
}
