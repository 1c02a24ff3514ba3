//! A cgroup per step for the programs it starts: its memory limit and a process limit apply
//! to all of them together, and every process in it is killed when the step ends.
//!
//! cgroup v2 is used when the unified hierarchy delegates `memory` and `pids` to us; otherwise
//! the v1 `memory` and `pids` hierarchies (these machines run a hybrid layout).

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The most processes (threads count) a step's programs may have at once.
pub const MAX_PIDS: u64 = 1024;

/// Which hierarchy holds a step's cgroup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// The unified hierarchy.
    V2,
    /// The `memory` and `pids` v1 hierarchies.
    V1,
}

/// Where this process's cgroups are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    /// v1 or v2.
    pub version: Version,
    /// v2: our cgroup; v1: our `memory` cgroup.
    memory: PathBuf,
    /// v2: our cgroup; v1: our `pids` cgroup.
    pids: PathBuf,
}

impl std::fmt::Display for Hierarchy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.version {
            Version::V2 => write!(f, "cgroup v2 (memory, pids)"),
            Version::V1 => write!(f, "cgroup v1 (memory, pids)"),
        }
    }
}

/// Finds a hierarchy where we may create child cgroups with memory and pids limits, once per
/// process. `Err` says why none can be used.
pub fn hierarchy() -> Result<Hierarchy, String> {
    static FOUND: std::sync::OnceLock<Result<Hierarchy, String>> = std::sync::OnceLock::new();
    FOUND.get_or_init(find).clone()
}

fn find() -> Result<Hierarchy, String> {
    let own = std::fs::read_to_string("/proc/self/cgroup")
        .map_err(|e| format!("cannot read /proc/self/cgroup: {e}"))?;
    let mounts = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| format!("cannot read /proc/self/mountinfo: {e}"))?;
    let mut problems = Vec::new();
    // v2: a `0::/path` line and a cgroup2 mount delegating memory and pids.
    if let Some(path) = own.lines().find_map(|l| l.strip_prefix("0::"))
        && let Some(mount) = mount_of(&mounts, "cgroup2", None)
    {
        let dir = join(&mount, path);
        match usable_v2(&dir) {
            Ok(()) => {
                return Ok(Hierarchy {
                    version: Version::V2,
                    memory: dir.clone(),
                    pids: dir,
                });
            }
            Err(e) => problems.push(e),
        }
    }
    // v1: `N:memory:/path` and `N:pids:/path`, each with its cgroup mount.
    let v1 = |controller: &str| -> Result<PathBuf, String> {
        let path = own
            .lines()
            .find_map(|l| {
                let mut parts = l.splitn(3, ':');
                let (_, ctrls, path) = (parts.next()?, parts.next()?, parts.next()?);
                ctrls.split(',').any(|c| c == controller).then_some(path)
            })
            .ok_or_else(|| format!("no cgroup v1 `{controller}` controller"))?;
        let mount = mount_of(&mounts, "cgroup", Some(controller))
            .ok_or_else(|| format!("the cgroup v1 `{controller}` hierarchy is not mounted"))?;
        let dir = join(&mount, path);
        let probe = dir.join(format!("sluice-probe-{}", std::process::id()));
        std::fs::create_dir(&probe)
            .map_err(|e| format!("cannot create a cgroup in {}: {e}", dir.display()))?;
        let _ = std::fs::remove_dir(&probe);
        Ok(dir)
    };
    match (v1("memory"), v1("pids")) {
        (Ok(memory), Ok(pids)) => Ok(Hierarchy {
            version: Version::V1,
            memory,
            pids,
        }),
        (m, p) => {
            problems.extend(m.err());
            problems.extend(p.err());
            Err(format!(
                "no cgroup with memory and pids controllers can be created ({}); it is needed to hold programs to the step's memory and process limits",
                problems.join("; ")
            ))
        }
    }
}

/// The mount point of a cgroup filesystem, from mountinfo (v1: the one with `controller` in
/// its super options). Mounts whose root is not `/` (a cgroup namespace's view) are joined
/// as they are: the path in /proc/self/cgroup is relative to the namespace root then.
fn mount_of(mountinfo: &str, fstype: &str, controller: Option<&str>) -> Option<PathBuf> {
    mountinfo.lines().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        let mut right = right.split(' ');
        if right.next()? != fstype {
            return None;
        }
        let options = right.nth(1).unwrap_or("");
        if let Some(c) = controller
            && !options.split(',').any(|o| o == c)
        {
            return None;
        }
        Some(PathBuf::from(left.split(' ').nth(4)?))
    })
}

fn join(mount: &Path, path: &str) -> PathBuf {
    mount.join(path.trim_start_matches('/'))
}

fn usable_v2(dir: &Path) -> Result<(), String> {
    let controllers =
        std::fs::read_to_string(dir.join("cgroup.subtree_control")).unwrap_or_default();
    let has = |c: &str| controllers.split_whitespace().any(|x| x == c);
    if !(has("memory") && has("pids")) {
        return Err(format!(
            "cgroup v2 at {} does not delegate memory and pids to its children",
            dir.display()
        ));
    }
    let probe = dir.join(format!("sluice-probe-{}", std::process::id()));
    std::fs::create_dir(&probe)
        .map_err(|e| format!("cannot create a cgroup in {}: {e}", dir.display()))?;
    let _ = std::fs::remove_dir(&probe);
    Ok(())
}

/// One step's cgroup (in v1, one in each of the two hierarchies).
#[derive(Debug)]
pub struct StepCgroup {
    version: Version,
    dirs: Vec<PathBuf>,
    memory_dir: PathBuf,
    pids_dir: PathBuf,
    procs: Vec<Arc<OwnedFd>>,
    /// The memory limit, in bytes.
    pub memory: u64,
}

impl StepCgroup {
    /// Creates `name` under our cgroup with the step's memory limit and [`MAX_PIDS`].
    pub fn create(hierarchy: &Hierarchy, name: &str, memory: u64) -> Result<Self, String> {
        let memory_dir = hierarchy.memory.join(name);
        let pids_dir = hierarchy.pids.join(name);
        let mut dirs = vec![memory_dir.clone()];
        if pids_dir != memory_dir {
            dirs.push(pids_dir.clone());
        }
        for dir in &dirs {
            std::fs::create_dir(dir)
                .map_err(|e| format!("cannot create cgroup {}: {e}", dir.display()))?;
        }
        let cgroup = StepCgroup {
            version: hierarchy.version,
            dirs: dirs.clone(),
            memory_dir: memory_dir.clone(),
            pids_dir: pids_dir.clone(),
            procs: Vec::new(),
            memory,
        };
        let set = |dir: &Path, file: &str, value: String| {
            std::fs::write(dir.join(file), &value)
                .map_err(|e| format!("cannot set {} to {value}: {e}", dir.join(file).display()))
        };
        match hierarchy.version {
            Version::V2 => {
                set(&memory_dir, "memory.max", memory.to_string())?;
                let _ = set(&memory_dir, "memory.swap.max", "0".into());
            }
            Version::V1 => {
                set(&memory_dir, "memory.limit_in_bytes", memory.to_string())?;
                // Without swap accounting this file is absent: the limit above still holds
                // the resident memory.
                let _ = set(
                    &memory_dir,
                    "memory.memsw.limit_in_bytes",
                    memory.to_string(),
                );
            }
        }
        set(&pids_dir, "pids.max", MAX_PIDS.to_string())?;
        let mut cgroup = cgroup;
        for dir in &dirs {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(dir.join("cgroup.procs"))
                .map_err(|e| format!("cannot open {}/cgroup.procs: {e}", dir.display()))?;
            cgroup.procs.push(Arc::new(OwnedFd::from(file)));
        }
        Ok(cgroup)
    }

    /// Moves the calling thread (only it) into this cgroup, so that every process it forks
    /// starts inside: one migration per step instead of one per program (a migration waits
    /// for an RCU grace period, several milliseconds here). cgroup v1 only: v2 moves whole
    /// processes, and `Err` says the caller must have each process join instead.
    pub fn join_thread(&self) -> Result<(), String> {
        if self.version != Version::V1 {
            return Err("cgroup v2 moves processes, not threads".into());
        }
        let tid = rustix::thread::gettid().as_raw_nonzero().get();
        for dir in &self.dirs {
            std::fs::write(dir.join("tasks"), tid.to_string())
                .map_err(|e| format!("cannot move a thread into {}: {e}", dir.display()))?;
        }
        Ok(())
    }

    /// The `cgroup.procs` files a new process writes `0` into to join.
    pub fn procs(&self) -> Vec<Arc<OwnedFd>> {
        self.procs.clone()
    }

    /// How many times the kernel killed a process here for the memory limit.
    pub fn oom_kills(&self) -> u64 {
        let file = match self.version {
            Version::V2 => "memory.events",
            Version::V1 => "memory.oom_control",
        };
        counter(&self.memory_dir.join(file), "oom_kill")
    }

    /// How many forks the process limit refused.
    pub fn forks_refused(&self) -> u64 {
        counter(&self.pids_dir.join("pids.events"), "max")
    }

    /// Kills every process in the cgroup, until none is left (bounded).
    pub fn kill_all(&self) {
        for _ in 0..100 {
            let mut any = false;
            for dir in &self.dirs {
                let Ok(pids) = std::fs::read_to_string(dir.join("cgroup.procs")) else {
                    continue;
                };
                for pid in pids.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                    any = true;
                    // SAFETY: plain kill of a process in our own cgroup.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            }
            if !any {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    }
}

fn counter(path: &Path, key: &str) -> u64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|text| {
            text.lines().find_map(|l| {
                let (k, v) = l.split_once(' ')?;
                (k == key).then(|| v.trim().parse().ok()).flatten()
            })
        })
        .unwrap_or(0)
}

impl Drop for StepCgroup {
    fn drop(&mut self) {
        self.kill_all();
        self.procs.clear();
        for dir in &self.dirs {
            // A cgroup can be removed once its last process is reaped: retry briefly.
            for _ in 0..50 {
                if std::fs::remove_dir(dir).is_ok() || !dir.exists() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_cgroup_mounts_in_mountinfo() {
        let info = "30 23 0:26 / /sys/fs/cgroup/memory rw,nosuid shared:10 - cgroup cgroup rw,memory\n\
                    31 23 0:27 / /sys/fs/cgroup/pids rw,nosuid shared:11 - cgroup cgroup rw,pids\n\
                    29 23 0:25 / /sys/fs/cgroup/unified rw shared:9 - cgroup2 cgroup2 rw,nsdelegate\n";
        assert_eq!(
            mount_of(info, "cgroup", Some("pids")),
            Some(PathBuf::from("/sys/fs/cgroup/pids"))
        );
        assert_eq!(
            mount_of(info, "cgroup", Some("memory")),
            Some(PathBuf::from("/sys/fs/cgroup/memory"))
        );
        assert_eq!(
            mount_of(info, "cgroup2", None),
            Some(PathBuf::from("/sys/fs/cgroup/unified"))
        );
        assert_eq!(mount_of(info, "cgroup", Some("cpu")), None);
    }
}
