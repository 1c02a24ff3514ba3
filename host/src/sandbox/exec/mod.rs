//! `allow.exec`: the programs a step may start, and the confinement every one of them runs
//! under (see [`jail`] for how it is built and [`cgroup`] for the limits).
//!
//! A step's children see what the step sees and no more: its mounts at the same guest paths
//! (`/workspace/...`, `/inputs/`, `/outputs/`), read-only unless granted writable; `/usr`
//! read-only; a generated `/etc`; a private `/tmp`; and `/cache`, which persists between runs
//! of this step only (`.sluice/cache/steps/<id>/`). No network (an own network namespace with
//! only loopback), an own PID namespace (every descendant dies with the step), no
//! capabilities and `no_new_privs`, Landlock allowing writes only beneath writable mounts, an
//! environment made of a minimal `PATH`, `HOME`/`TMPDIR`, the step's `env` and what the plugin
//! passes, and the step's memory limit (with [`cgroup::MAX_PIDS`] processes) in a cgroup.
//! Where the kernel lacks a mechanism, starting a program fails and says which: there is no
//! unconfined fallback.

pub mod cgroup;
pub mod jail;
pub mod program;

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cap_std::fs::Dir;

pub use program::{Program, ProgramError, remember_digests_in, resolve, search_path};

use crate::sandbox::Mount;
use crate::sandbox::limits::Deadline;

/// Where a step's children see the step's persistent cache.
pub const CACHE: &str = "/cache";
/// The `PATH` children get.
pub const CHILD_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// One line saying what confinement programs run under on this machine, or why they cannot
/// run, for `sluice audit` and errors.
pub fn confinement() -> Result<String, String> {
    let support = jail::support()?;
    let cgroups = cgroup::hierarchy()?;
    Ok(format!(
        "user, mount, PID, network, IPC and UTS namespaces; Landlock ABI {}; {cgroups} holding the step's memory limit and {} processes; no capabilities, no_new_privs; cleared environment",
        support.landlock_abi,
        cgroup::MAX_PIDS
    ))
}

/// What a step's programs run under; built when the step starts, shared by its children.
#[derive(Debug)]
pub struct StepExec {
    step: String,
    programs: Vec<Program>,
    binds: Vec<jail::Bind>,
    scratch: Arc<Dir>,
    scratch_path: PathBuf,
    env: Vec<(String, String)>,
    memory: u64,
    cgroup: Mutex<Option<Arc<cgroup::StepCgroup>>>,
    spawner: Mutex<Option<Spawner>>,
    seq: AtomicU32,
    runs: Mutex<Vec<ProgramRun>>,
}

/// A program a step started, for the run record and provenance.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProgramRun {
    /// The name as granted.
    pub name: String,
    /// The file it resolved to.
    pub path: PathBuf,
    /// `sha256:<hex>` of that file (checked unchanged at every start).
    pub digest: String,
    /// How many times the step started it.
    pub starts: u32,
}

type Job = Box<dyn FnOnce() + Send>;

/// The step's spawning thread: it lives as long as the step, sits in the step's cgroup (v1),
/// and forks every program of the step, so that programs start inside the cgroup and die with
/// the step (`PR_SET_PDEATHSIG` fires when the thread that forked a process exits).
#[derive(Debug)]
struct Spawner {
    jobs: Option<std::sync::mpsc::Sender<Job>>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// Whether the thread is in the step's cgroup (else each program joins it).
    in_cgroup: bool,
}

impl Spawner {
    fn start(cgroup: Arc<cgroup::StepCgroup>) -> Result<Spawner, String> {
        let (jobs, rx) = std::sync::mpsc::channel::<Job>();
        let (ready_tx, ready) = std::sync::mpsc::channel::<bool>();
        let thread = std::thread::Builder::new()
            .name("sluice-spawner".into())
            .spawn(move || {
                let joined = cgroup.join_thread().is_ok();
                drop(cgroup);
                let _ = ready_tx.send(joined);
                for job in rx {
                    job();
                }
            })
            .map_err(|e| format!("cannot start the spawning thread: {e}"))?;
        let in_cgroup = ready
            .recv()
            .map_err(|_| "the spawning thread died".to_string())?;
        Ok(Spawner {
            jobs: Some(jobs),
            thread: Some(thread),
            in_cgroup,
        })
    }

    /// Runs `f` on the spawning thread and returns its result.
    fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Result<T, String> {
        let (tx, rx) = std::sync::mpsc::channel();
        self.jobs
            .as_ref()
            .expect("running")
            .send(Box::new(move || {
                let _ = tx.send(f());
            }))
            .map_err(|_| "the spawning thread is gone".to_string())?;
        rx.recv()
            .map_err(|_| "the spawning thread is gone".to_string())
    }
}

impl Drop for Spawner {
    fn drop(&mut self) {
        self.jobs.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for StepExec {
    fn drop(&mut self) {
        // The thread leaves the cgroup (exits) before the cgroup is removed.
        self.spawner.lock().expect("spawner lock").take();
    }
}

/// Where one of a child's output streams goes.
#[derive(Debug)]
pub enum Output {
    /// Read by the step.
    Pipe,
    /// Into a file.
    File(std::fs::File),
    /// Into the step's log: a pipe the caller drains.
    Log,
    /// Nowhere.
    Discard,
}

/// A request to start a program.
#[derive(Debug)]
pub struct Start {
    /// A granted name or resolved path.
    pub program: String,
    /// Arguments.
    pub args: Vec<String>,
    /// Guest working directory.
    pub cwd: String,
    /// Extra environment (wins over the step's).
    pub env: Vec<(String, String)>,
    /// Bytes for stdin.
    pub stdin: Option<Vec<u8>>,
    /// Standard output.
    pub stdout: Output,
    /// Standard error.
    pub stderr: Output,
}

/// How a program ended.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Exit {
    /// Exit code.
    pub code: Option<i32>,
    /// Killing signal.
    pub signal: Option<i32>,
    /// Wall time.
    pub wall: Duration,
    /// User + system CPU time of the tree.
    pub cpu: Duration,
    /// Peak RSS of any process of the tree, bytes.
    pub peak_rss: u64,
    /// A limit that stopped or held it back.
    pub limit: Option<String>,
}

impl StepExec {
    /// The exec context of a step: `mounts` are the step's own (workspace, inputs, outputs),
    /// `scratch` its scratch directory (held, and its host path, which only sluice writes),
    /// `cache` its persistent cache directory.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        step: &str,
        programs: Vec<Program>,
        mounts: &[Mount],
        scratch: Arc<Dir>,
        scratch_path: PathBuf,
        cache: Dir,
        step_env: &[(String, String)],
        memory: u64,
    ) -> std::io::Result<Self> {
        scratch.create_dir("exec-tmp")?;
        let tmp = scratch.open_dir("exec-tmp")?;
        let mut binds: Vec<jail::Bind> = mounts
            .iter()
            .map(|m| jail::Bind {
                guest: m.guest.clone(),
                source: jail::Source::Handle(m.dir.clone()),
                writable: m.writable,
            })
            .collect();
        binds.push(jail::Bind {
            guest: "/tmp".into(),
            source: jail::Source::Handle(Arc::new(tmp)),
            writable: true,
        });
        binds.push(jail::Bind {
            guest: CACHE.into(),
            source: jail::Source::Handle(Arc::new(cache)),
            writable: true,
        });
        // A program outside /usr is shown read-only at its own path, with its directory.
        let mut extra: Vec<PathBuf> = Vec::new();
        for p in &programs {
            if let Some(dir) = p.path.parent()
                && !dir.starts_with("/usr")
                && !extra.iter().any(|d| dir.starts_with(d))
            {
                extra.push(dir.to_path_buf());
            }
        }
        for dir in extra {
            binds.push(jail::Bind {
                guest: dir.display().to_string(),
                source: jail::Source::System(dir),
                writable: false,
            });
        }
        let mut env: Vec<(String, String)> = [
            ("PATH", CHILD_PATH),
            ("HOME", "/tmp"),
            ("TMPDIR", "/tmp"),
            ("XDG_CACHE_HOME", CACHE),
            ("SLUICE_CACHE", CACHE),
            ("LANG", "C.UTF-8"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        set_env(&mut env, step_env);
        Ok(StepExec {
            step: step.to_string(),
            programs,
            binds,
            scratch,
            scratch_path,
            env,
            memory,
            cgroup: Mutex::new(None),
            spawner: Mutex::new(None),
            seq: AtomicU32::new(0),
            runs: Mutex::new(Vec::new()),
        })
    }

    /// The granted programs.
    pub fn programs(&self) -> &[Program] {
        &self.programs
    }

    fn cgroup(&self) -> Result<Arc<cgroup::StepCgroup>, String> {
        let mut slot = self.cgroup.lock().expect("cgroup lock");
        if let Some(c) = &*slot {
            return Ok(c.clone());
        }
        let hierarchy = cgroup::hierarchy()?;
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "sluice-{}-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed),
            self.step
        );
        let c = Arc::new(cgroup::StepCgroup::create(&hierarchy, &name, self.memory)?);
        *slot = Some(c.clone());
        Ok(c)
    }

    /// The programs the step started so far, in the order of their first start.
    pub fn runs(&self) -> Vec<ProgramRun> {
        self.runs.lock().expect("runs lock").clone()
    }

    fn record_run(&self, program: &Program) {
        let mut runs = self.runs.lock().expect("runs lock");
        match runs.iter_mut().find(|r| r.name == program.name) {
            Some(run) => run.starts += 1,
            None => runs.push(ProgramRun {
                name: program.name.clone(),
                path: program.path.clone(),
                digest: program.digest.clone(),
                starts: 1,
            }),
        }
    }

    /// Starts a granted program, confined. `Err` is a message for the step.
    pub fn start(&self, req: Start) -> Result<Running, String> {
        let Some(program) = self
            .programs
            .iter()
            .find(|p| p.name == req.program || p.path.as_os_str() == req.program.as_str())
        else {
            let shown = crate::runtime::shown_name(&req.program);
            return Err(format!(
                "denied: program `{shown}` is not granted to this step; to allow it add `exec = [\"{shown}\"]` to the step's `allow` table{}",
                if self.programs.is_empty() {
                    String::new()
                } else {
                    format!(
                        " (granted: {})",
                        self.programs
                            .iter()
                            .map(|p| format!("`{}`", p.name))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
            ));
        };
        program.check_unchanged()?;
        let support = jail::support().map_err(|e| format!("cannot confine programs: {e}"))?;
        let cgroup = self
            .cgroup()
            .map_err(|e| format!("cannot confine programs: {e}"))?;
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        let root_name = format!("jail-{n}");
        self.scratch
            .create_dir(&root_name)
            .map_err(|e| format!("cannot create the program's root: {e}"))?;
        let spawner = self.spawner.lock().expect("spawner lock");
        let spawner = match &*spawner {
            Some(_) => spawner,
            None => {
                let started = Spawner::start(cgroup.clone())?;
                let mut slot = spawner;
                *slot = Some(started);
                slot
            }
        };
        let spawner = spawner.as_ref().expect("started");
        let layout = jail::Layout {
            root: self.scratch_path.join(&root_name),
            binds: self.binds.clone(),
            etc: etc_files(),
            cgroup_procs: if spawner.in_cgroup {
                Vec::new()
            } else {
                cgroup.procs()
            },
        };
        let mut env = self.env.clone();
        set_env(&mut env, &req.env);
        let (stdin, stdin_bytes) = match req.stdin {
            Some(bytes) if !bytes.is_empty() => (Stdio::piped(), Some(bytes)),
            _ => (Stdio::null(), None),
        };
        let stdio = |o: &Output| -> Result<Stdio, String> {
            Ok(match o {
                Output::Pipe | Output::Log => Stdio::piped(),
                Output::File(f) => Stdio::from(
                    f.try_clone()
                        .map_err(|e| format!("cannot pass the output file: {e}"))?,
                ),
                Output::Discard => Stdio::null(),
            })
        };
        let launch = jail::Launch {
            program: program.path.clone(),
            argv0: program.name.clone(),
            args: req.args,
            env,
            cwd: req.cwd,
            stdin,
            stdout: stdio(&req.stdout)?,
            stderr: stdio(&req.stderr)?,
        };
        let oom_before = cgroup.oom_kills();
        let forks_before = cgroup.forks_refused();
        let started = Instant::now();
        let mut spawned = spawner.run(move || jail::spawn(&layout, launch, &support))??;
        self.record_run(program);
        let pidfd = rustix::process::pidfd_open(
            rustix::process::Pid::from_raw(spawned.child.id() as i32).expect("a child pid"),
            rustix::process::PidfdFlags::empty(),
        )
        .map_err(|e| format!("cannot watch the program: {e}"))?;
        if let (Some(bytes), Some(mut pipe)) = (stdin_bytes, spawned.child.stdin.take()) {
            // Written from a thread: a program that does not read its input must not block
            // the step. The thread ends when the program exits (EPIPE).
            std::thread::Builder::new()
                .name("sluice-stdin".into())
                .spawn(move || {
                    let _ = std::io::Write::write_all(&mut pipe, &bytes);
                })
                .map_err(|e| format!("cannot start a thread: {e}"))?;
        }
        let stdout = spawned.child.stdout.take().map(OwnedFd::from);
        let stderr = spawned.child.stderr.take().map(OwnedFd::from);
        Ok(Running {
            keeper: spawned.child.id() as i32,
            pidfd,
            report: spawned.report,
            started,
            cgroup,
            oom_before,
            forks_before,
            stdout,
            stderr,
            exit: None,
        })
    }
}

/// `env` with `extra` set (replacing earlier values of the same name).
fn set_env(env: &mut Vec<(String, String)>, extra: &[(String, String)]) {
    for (k, v) in extra {
        env.retain(|(old, _)| old != k);
        env.push((k.clone(), v.clone()));
    }
}

/// The child's `/etc`: its own users and hosts, nothing of the host's.
fn etc_files() -> Vec<(&'static str, String)> {
    vec![
        (
            "passwd",
            "root:x:0:0:root:/tmp:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n".into(),
        ),
        ("group", "root:x:0:\nnogroup:x:65534:\n".into()),
        ("hosts", "127.0.0.1 localhost\n::1 localhost ip6-localhost\n".into()),
        ("nsswitch.conf", "passwd: files\ngroup: files\nhosts: files\n".into()),
        ("hostname", "sluice\n".into()),
    ]
}

/// A started program (its keeper process).
#[derive(Debug)]
pub struct Running {
    keeper: i32,
    pidfd: OwnedFd,
    report: OwnedFd,
    started: Instant,
    cgroup: Arc<cgroup::StepCgroup>,
    oom_before: u64,
    forks_before: u64,
    /// Its stdout, when piped.
    pub stdout: Option<OwnedFd>,
    /// Its stderr, when piped.
    pub stderr: Option<OwnedFd>,
    exit: Option<Exit>,
}

/// Which stream a chunk came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// The most bytes one `read` returns.
pub const CHUNK: usize = 64 << 10;

impl Running {
    /// The next chunk from whichever piped stream has one; `None` when all are closed.
    /// Waits until `deadline` at most (`Err` then).
    pub fn read(&mut self, deadline: &Deadline) -> Result<Option<(Which, Vec<u8>)>, String> {
        loop {
            if self.stdout.is_none() && self.stderr.is_none() {
                return Ok(None);
            }
            let mut fds = Vec::new();
            if let Some(fd) = &self.stdout {
                fds.push(rustix::event::PollFd::new(fd, rustix::event::PollFlags::IN));
            }
            if let Some(fd) = &self.stderr {
                fds.push(rustix::event::PollFd::new(fd, rustix::event::PollFlags::IN));
            }
            let wait = poll_slice(deadline)?;
            let ready = rustix::event::poll(&mut fds, Some(&wait)).unwrap_or(0);
            if ready == 0 {
                continue;
            }
            let flags: Vec<bool> = fds.iter().map(|f| !f.revents().is_empty()).collect();
            drop(fds);
            let mut slots: Vec<(Which, &mut Option<OwnedFd>)> = Vec::new();
            if self.stdout.is_some() {
                slots.push((Which::Stdout, &mut self.stdout));
            }
            if self.stderr.is_some() {
                slots.push((Which::Stderr, &mut self.stderr));
            }
            for ((which, slot), ready) in slots.into_iter().zip(flags) {
                if !ready {
                    continue;
                }
                let fd = slot.as_ref().expect("open");
                let mut buf = vec![0u8; CHUNK];
                match rustix::io::read(fd, &mut buf) {
                    Ok(0) | Err(_) => *slot = None,
                    Ok(n) => {
                        buf.truncate(n);
                        return Ok(Some((which, buf)));
                    }
                }
            }
        }
    }

    /// Waits for the program to end (discarding piped output nobody read), at most until
    /// `deadline`, then kills whatever it left behind.
    pub fn wait(&mut self, deadline: &Deadline) -> Result<Exit, String> {
        if let Some(exit) = &self.exit {
            return Ok(exit.clone());
        }
        loop {
            if let Some(exit) = self.try_reap() {
                return Ok(exit);
            }
            let wait = poll_slice(deadline)?;
            let mut fds = vec![rustix::event::PollFd::new(
                &self.pidfd,
                rustix::event::PollFlags::IN,
            )];
            for fd in [&self.stdout, &self.stderr].into_iter().flatten() {
                fds.push(rustix::event::PollFd::new(fd, rustix::event::PollFlags::IN));
            }
            let _ = rustix::event::poll(&mut fds, Some(&wait));
            drop(fds);
            for slot in [&mut self.stdout, &mut self.stderr] {
                if let Some(fd) = slot {
                    let mut buf = [0u8; 8192];
                    let _ = rustix::fs::fcntl_setfl(fd.as_fd(), rustix::fs::OFlags::NONBLOCK);
                    match rustix::io::read(&*fd, &mut buf) {
                        Ok(0) => *slot = None,
                        Err(rustix::io::Errno::AGAIN) | Ok(_) => {}
                        Err(_) => *slot = None,
                    }
                }
            }
        }
    }

    fn try_reap(&mut self) -> Option<Exit> {
        let mut status = 0;
        // SAFETY: a zeroed rusage is a valid out-parameter.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: wait4 on our own child.
        let w = unsafe { libc::wait4(self.keeper, &mut status, libc::WNOHANG, &mut usage) };
        if w != self.keeper {
            return None;
        }
        let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, (t.tv_usec as u32) * 1000);
        let reported = jail::signal_reported(&self.report);
        let (code, signal) = if let Some(sig) = reported {
            (None, Some(sig))
        } else if libc::WIFSIGNALED(status) {
            (None, Some(libc::WTERMSIG(status)))
        } else {
            (Some(libc::WEXITSTATUS(status)), None)
        };
        let mut limit = None;
        let forks = self
            .cgroup
            .forks_refused()
            .saturating_sub(self.forks_before);
        let oom = self.cgroup.oom_kills().saturating_sub(self.oom_before);
        if oom > 0 {
            limit = Some(format!(
                "memory limit ({}) reached: the kernel killed {oom} process{}{}",
                crate::manifest::ByteSize(self.cgroup.memory),
                if oom == 1 { "" } else { "es" },
                if signal == Some(libc::SIGKILL) {
                    ", the program among them"
                } else {
                    ""
                }
            ));
        } else if forks > 0 {
            limit = Some(format!(
                "process limit ({}) reached: {forks} forks refused",
                cgroup::MAX_PIDS
            ));
        }
        let exit = Exit {
            code,
            signal,
            wall: self.started.elapsed(),
            cpu: tv(usage.ru_utime) + tv(usage.ru_stime),
            peak_rss: (usage.ru_maxrss as u64) * 1024,
            limit,
        };
        self.exit = Some(exit.clone());
        Some(exit)
    }

    /// Kills the program and its whole tree (init dies with the keeper, and every process of
    /// the PID namespace with init).
    pub fn kill(&mut self) {
        if self.exit.is_none() {
            let _ = rustix::process::pidfd_send_signal(&self.pidfd, rustix::process::Signal::KILL);
        }
    }

    /// The keeper's process id (host namespace).
    pub fn id(&self) -> i32 {
        self.keeper
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.exit.is_none() {
            self.kill();
            let mut status = 0;
            // SAFETY: reaping our own killed child (blocking: it dies at once).
            unsafe { libc::waitpid(self.keeper, &mut status, 0) };
        }
    }
}

/// How long one poll may block: until the deadline, in slices short enough to notice a
/// cancelled run. `Err` once the deadline has passed.
fn poll_slice(deadline: &Deadline) -> Result<rustix::event::Timespec, String> {
    if let Some(why) = deadline.check() {
        return Err(format!("stopped: {why:?}"));
    }
    let left = deadline.at.saturating_duration_since(Instant::now());
    let slice = left
        .min(Duration::from_millis(100))
        .max(Duration::from_millis(1));
    Ok(rustix::event::Timespec {
        tv_sec: slice.as_secs() as i64,
        tv_nsec: slice.subsec_nanos() as i64,
    })
}

/// The persistent cache directory of a step, `.sluice/cache/steps/<id>`, created beneath the
/// workspace handle.
pub fn step_cache(root: &Dir, step: &str) -> std::io::Result<Dir> {
    crate::sandbox::fs::create_dir_beneath(
        root,
        &Path::new(crate::sandbox::fs::STATE_DIR)
            .join("cache")
            .join("steps")
            .join(step),
    )
}

impl AsRawFd for Running {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.pidfd.as_raw_fd()
    }
}
