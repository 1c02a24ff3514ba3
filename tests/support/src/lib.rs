//! Test support: the hostile test plugins (built from `tests/plugins/` for wasm32-wasip2 by
//! this crate's build script), temporary workspaces, and running the real `sluice` binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

include!(concat!(env!("OUT_DIR"), "/plugins.rs"));

/// A temporary directory holding a workspace at `<tmp>/ws` (so that `<tmp>` is "outside").
pub struct Workspace {
    tmp: tempfile::TempDir,
}

/// What a `sluice` invocation did.
#[derive(Debug)]
pub struct Output {
    /// Exit code (-1 if killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// Starts `cmd` (output discarded), sends it SIGKILL after `delay` and reaps it; says whether
/// it was still running when killed.
pub fn kill_9_after(cmd: &mut Command, delay: std::time::Duration) -> bool {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    std::thread::sleep(delay);
    let running = child.try_wait().expect("try_wait").is_none();
    let _ = child.kill(); // SIGKILL
    child.wait().expect("wait");
    running
}

/// Copies the tree `from` to `to` (created), leaving out sluice's `.sluice` state.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == ".sluice" {
            continue;
        }
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &to.join(&name));
        } else {
            std::fs::copy(entry.path(), to.join(&name)).unwrap();
        }
    }
}

impl Default for Workspace {
    fn default() -> Self {
        Self::new()
    }
}

impl Workspace {
    /// An empty workspace.
    pub fn new() -> Self {
        let tmp = tempfile::Builder::new()
            .prefix("sluice-test-")
            .tempdir()
            .expect("tempdir");
        std::fs::create_dir(tmp.path().join("ws")).expect("mkdir ws");
        Workspace { tmp }
    }

    /// The workspace directory (where `sluice.toml` goes).
    pub fn dir(&self) -> PathBuf {
        self.tmp.path().join("ws")
    }

    /// The directory holding the workspace: outside of it.
    pub fn outside(&self) -> PathBuf {
        self.tmp.path().to_path_buf()
    }

    /// Writes a file, relative to the workspace, creating directories.
    pub fn file(&self, rel: &str, contents: impl AsRef<[u8]>) -> &Self {
        let path = self.dir().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
        self
    }

    /// Writes `sluice.toml`.
    pub fn manifest(&self, toml: &str) -> &Self {
        self.file("sluice.toml", toml)
    }

    /// Copies the probe plugin to `probe.wasm`.
    /// Files to attack: `granted/inside.txt` ("inside"), `granted/abs-link` and
    /// `granted/rel-link` (symlinks to `outside.txt`, "outside secret", beside the workspace)
    /// and `not-granted.txt` ("workspace secret").
    pub fn hostile_files(&self) -> &Self {
        self.file("granted/inside.txt", "inside");
        self.file("not-granted.txt", "workspace secret");
        std::fs::write(self.outside().join("outside.txt"), "outside secret").unwrap();
        std::os::unix::fs::symlink(
            self.outside().join("outside.txt"),
            self.dir().join("granted/abs-link"),
        )
        .unwrap();
        std::os::unix::fs::symlink("../../outside.txt", self.dir().join("granted/rel-link"))
            .unwrap();
        self
    }

    pub fn with_probe(&self) -> &Self {
        std::fs::copy(PROBE, self.dir().join("probe.wasm")).unwrap();
        self
    }

    /// A `sluice` command (binary at `bin`) run in the workspace with the shared cache.
    pub fn command(&self, bin: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(bin);
        cmd.args(args)
            .current_dir(self.dir())
            .env("SLUICE_CACHE_DIR", CACHE_DIR)
            .env_remove("SLUICE_LOG")
            .stdin(Stdio::null());
        cmd
    }

    /// Runs `sluice` to completion.
    pub fn sluice(&self, bin: &str, args: &[&str]) -> Output {
        let out = self.command(bin, args).output().expect("run sluice");
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Where the artifact output `output` of step `id` is in the workspace's store.
    pub fn stored(&self, run: &serde_json::Value, id: &str, output: &str) -> PathBuf {
        let digest = step(run, id)["outputs"][output]["value"]["digest"]
            .as_str()
            .unwrap_or_else(|| panic!("{id} has no artifact output {output}: {}", step(run, id)))
            .trim_start_matches("sha256:")
            .to_string();
        self.dir().join(".sluice/store/sha256").join(digest)
    }

    /// The newest run record's `run.json`.
    pub fn last_run(&self) -> serde_json::Value {
        let runs = self.dir().join(".sluice/runs");
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(&runs)
            .expect("a run record")
            .map(|e| e.unwrap().path())
            .collect();
        dirs.sort();
        let text = std::fs::read_to_string(dirs.last().expect("a run").join("run.json")).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    /// Every file under the workspace's `.sluice/runs`, concatenated: the whole run record
    /// (`run.json`, the logs and `report.html`).
    pub fn all_records(&self) -> String {
        let mut out = String::new();
        collect(&self.dir().join(".sluice/runs"), &mut out, true);
        out
    }

    /// `run.json` and the logs of every run, without `report.html` (which shows the same
    /// lines again, as HTML).
    pub fn records_without_report(&self) -> String {
        let mut out = String::new();
        collect(&self.dir().join(".sluice/runs"), &mut out, false);
        out
    }
}

fn collect(dir: &Path, out: &mut String, report: bool) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries {
        let path = e.unwrap().path();
        if path.is_dir() {
            collect(&path, out, report);
        } else if report || path.file_name().is_none_or(|n| n != "report.html") {
            out.push_str(&std::fs::read_to_string(&path).unwrap_or_default());
        }
    }
}

impl Workspace {
    /// Runs `sluice` to completion and returns its exit code (-1 when killed by a signal),
    /// its peak RSS in KiB (from `wait4`) and how long it took; output is discarded.
    pub fn run_measuring(&self, bin: &str, args: &[&str]) -> (i32, i64, std::time::Duration) {
        let started = std::time::Instant::now();
        let child = self
            .command(bin, args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let pid = child.id() as libc::pid_t;
        let mut status = 0;
        // SAFETY: an all-zero rusage is valid, and `pid` is our own child, waited for once.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        assert_eq!(waited, pid);
        std::mem::forget(child);
        let code = if libc::WIFEXITED(status) {
            libc::WEXITSTATUS(status)
        } else {
            -1
        };
        (code, usage.ru_maxrss, started.elapsed())
    }

    /// Makes a FIFO at `rel` in the workspace.
    pub fn fifo(&self, rel: &str) -> &Self {
        let path = self.dir().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(
            unsafe { libc::mkfifo(c.as_ptr(), 0o644) },
            0,
            "mkfifo {rel}"
        );
        self
    }

    /// Makes a symlink at `rel` in the workspace holding `target`.
    pub fn symlink(&self, target: impl AsRef<Path>, rel: &str) -> &Self {
        let path = self.dir().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(target, path).unwrap();
        self
    }

    /// Every file the run left under `.sluice/store` (artifacts, SARIF logs), concatenated
    /// as text.
    pub fn all_stored(&self) -> String {
        let mut out = String::new();
        collect(&self.dir().join(".sluice/store"), &mut out, true);
        out
    }
}

/// The step `id` of a run record.
pub fn step<'a>(run: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    run["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("no step {id} in {run:#}"))
}

/// The probe's `report` output of step `id`: one `(op, ok, detail)` per action.
pub fn probe_report(run: &serde_json::Value, id: &str) -> Vec<(String, bool, String)> {
    let step = step(run, id);
    let text = step["outputs"]["report"]["value"]
        .as_str()
        .unwrap_or_else(|| panic!("no report output in {step:#}"));
    let report: serde_json::Value = serde_json::from_str(text).unwrap();
    report
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["op"].as_str().unwrap().to_string(),
                r["ok"].as_bool().unwrap(),
                r["detail"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The workspace's target directory (honouring `CARGO_TARGET_DIR`).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|p| {
            if p.is_absolute() {
                p
            } else {
                Path::new(REPO).join(p)
            }
        })
        .unwrap_or_else(|| Path::new(REPO).join("target"))
}

/// Runs a command that must succeed, showing its output when it does not; returns the output.
pub fn run_ok(cmd: &mut Command) -> std::process::Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A Python venv under `<target>/test-tools/<name>` with the pinned `packages` from PyPI,
/// made once (a marker names what is installed); returns its `python`. Tests that check
/// sluice's reports with independent readers set them up through this.
pub fn python_venv(name: &str, packages: &[&str]) -> PathBuf {
    let dir = target_dir().join("test-tools").join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let venv = dir.join("venv");
    let python = venv.join("bin/python");
    let marker = venv.join(format!("installed-{}", packages.join("-")));
    if !marker.exists() {
        if !python.exists() {
            run_ok(Command::new("python3").args(["-m", "venv"]).arg(&venv));
        }
        run_ok(
            Command::new(&python)
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                ])
                .args(packages),
        );
        std::fs::write(&marker, "").unwrap();
    }
    python
}

/// A Debian `docker-registry` (distribution 2.8) on a free port of 127.0.0.1, with
/// filesystem storage in a temporary directory and optionally htpasswd auth; killed on drop.
pub struct Registry {
    /// Its port.
    pub port: u16,
    child: std::process::Child,
    _dir: tempfile::TempDir,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Registry {
    /// Starts one and waits until it accepts connections.
    pub fn start(htpasswd: Option<(&str, &str)>) -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut config = format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.path().join("data").display()
        );
        if let Some((user, pw)) = htpasswd {
            let out = run_ok(Command::new("htpasswd").args(["-Bbn", user, pw]));
            std::fs::write(dir.path().join("htpasswd"), out.stdout).unwrap();
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: sluice-test\n    path: {}\n",
                dir.path().join("htpasswd").display()
            ));
        }
        std::fs::write(dir.path().join("config.yml"), config).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(dir.path().join("config.yml"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start docker-registry");
        let started = std::time::Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(10),
                "docker-registry did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        Registry {
            port,
            child,
            _dir: dir,
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// A container engine serving the Docker Engine API on a unix socket of its own, with its
/// storage in a temporary directory: podman's service (runc, the ulimits these kernels
/// allow, through a `containers.conf` of its own) or dockerd. Its containers are removed and
/// the service stopped on drop.
pub struct ContainerEngine {
    /// `podman` or `dockerd`.
    pub kind: &'static str,
    /// The API socket.
    pub socket: PathBuf,
    child: std::process::Child,
    dir: tempfile::TempDir,
}

impl ContainerEngine {
    /// Starts `kind` (`podman` or `dockerd`) and waits until its API answers.
    pub fn start(kind: &'static str) -> ContainerEngine {
        let dir = tempfile::Builder::new()
            .prefix("sluice-engine-")
            .tempdir()
            .unwrap();
        let socket = dir.path().join("api.sock");
        let mut cmd = match kind {
            "podman" => {
                std::fs::write(
                    dir.path().join("containers.conf"),
                    "[containers]\ndefault_ulimits = [\"nofile=1024:1024\", \"nproc=1024:1024\"]\n[engine]\nruntime = \"runc\"\n",
                )
                .unwrap();
                let mut c = Command::new("podman");
                c.env("CONTAINERS_CONF", dir.path().join("containers.conf"))
                    .args(Self::podman_roots(dir.path()))
                    .args(["system", "service", "--time=0"])
                    .arg(format!("unix://{}", socket.display()));
                c
            }
            "dockerd" => {
                let mut c = Command::new("dockerd");
                c.arg(format!("--host=unix://{}", socket.display()))
                    .arg(format!("--data-root={}", dir.path().join("data").display()))
                    .arg(format!("--exec-root={}", dir.path().join("exec").display()))
                    .arg(format!(
                        "--pidfile={}",
                        dir.path().join("dockerd.pid").display()
                    ));
                c
            }
            other => panic!("unknown engine {other}"),
        };
        let log = std::fs::File::create(dir.path().join("engine.log")).unwrap();
        let child = cmd
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("start {kind}: {e}"));
        let engine = ContainerEngine {
            kind,
            socket,
            child,
            dir,
        };
        let started = std::time::Instant::now();
        while engine.api("GET", "/_ping").0 != 200 {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(30),
                "{kind} did not start: {}",
                std::fs::read_to_string(engine.dir.path().join("engine.log")).unwrap_or_default()
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        engine
    }

    fn podman_roots(dir: &Path) -> Vec<String> {
        vec![
            format!("--root={}", dir.join("root").display()),
            format!("--runroot={}", dir.join("run").display()),
        ]
    }

    /// `unix:<socket>`, as `engine` and `allow.net` name it.
    pub fn endpoint(&self) -> String {
        format!("unix:{}", self.socket.display())
    }

    /// One API call with a raw HTTP/1.0 exchange over the socket: status and body.
    pub fn api(&self, method: &str, path: &str) -> (u16, String) {
        use std::io::{Read as _, Write as _};
        let Ok(mut s) = std::os::unix::net::UnixStream::connect(&self.socket) else {
            return (0, String::new());
        };
        let _ = write!(
            s,
            "{method} /v1.41{path} HTTP/1.0\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n"
        );
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        let text = String::from_utf8_lossy(&out).into_owned();
        let status = text
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        (status, body)
    }

    /// The containers labelled `sluice.service=<service>`: (name, state, image label).
    pub fn containers(&self, service: &str) -> Vec<(String, String, String)> {
        let filters = format!("{{\"label\":[\"sluice.service={service}\"]}}");
        let q: String = filters
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect();
        let (status, body) = self.api("GET", &format!("/containers/json?all=1&filters={q}"));
        assert_eq!(status, 200, "{body}");
        let list: serde_json::Value = serde_json::from_str(&body).unwrap();
        let mut out: Vec<(String, String, String)> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["Names"][0]
                        .as_str()
                        .unwrap_or("")
                        .trim_start_matches('/')
                        .to_string(),
                    c["State"].as_str().unwrap_or("").to_string(),
                    c["Labels"]["sluice.image"]
                        .as_str()
                        .unwrap_or("")
                        .to_string(),
                )
            })
            .collect();
        out.sort();
        out
    }
}

impl Drop for ContainerEngine {
    fn drop(&mut self) {
        if self.kind == "podman" {
            let _ = Command::new("podman")
                .env("CONTAINERS_CONF", self.dir.path().join("containers.conf"))
                .args(Self::podman_roots(self.dir.path()))
                .args(["rm", "--all", "--force", "--time=0"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        } else {
            let (_, body) = self.api("GET", "/containers/json?all=1");
            if let Ok(serde_json::Value::Array(list)) = serde_json::from_str(&body) {
                for c in list {
                    if let Some(id) = c["Id"].as_str() {
                        self.api("DELETE", &format!("/containers/{id}?force=1"));
                    }
                }
            }
        }
        // SIGTERM: dockerd stops the containerd it started.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
        if self.kind == "podman" {
            // Storage of a rootful podman holds overlay mounts: unmounted before the
            // directory goes.
            let _ = Command::new("podman")
                .env("CONTAINERS_CONF", self.dir.path().join("containers.conf"))
                .args(Self::podman_roots(self.dir.path()))
                .args(["system", "reset", "--force"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// `GET /` on 127.0.0.1:`port` with a 2 s timeout: the body, trimmed, when the answer is 200.
pub fn http_get_root(port: u16) -> Option<String> {
    use std::io::{Read as _, Write as _};
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut s =
        std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(2)))
        .ok()?;
    s.write_all(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    if !out.starts_with("HTTP/1.0 200") && !out.starts_with("HTTP/1.1 200") {
        return None;
    }
    Some(out.split_once("\r\n\r\n")?.1.trim().to_string())
}

/// Asks `GET /` of a port every 2 ms from a thread, recording every good answer's time and
/// body, until [`Prober::finish`].
pub struct Prober {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    handle: std::thread::JoinHandle<Vec<(std::time::Instant, String)>>,
    started: std::time::Instant,
}

/// What a [`Prober`] saw.
pub struct Probed {
    /// When it started.
    pub started: std::time::Instant,
    /// When it stopped.
    pub stopped: std::time::Instant,
    /// Every good answer: when, and its body.
    pub answers: Vec<(std::time::Instant, String)>,
}

impl Prober {
    /// Starts probing.
    pub fn start(port: u16) -> Prober {
        use std::sync::atomic::Ordering;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            let mut answers = Vec::new();
            while !flag.load(Ordering::Relaxed) {
                if let Some(v) = http_get_root(port) {
                    answers.push((std::time::Instant::now(), v));
                }
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            answers
        });
        Prober {
            stop,
            handle,
            started: std::time::Instant::now(),
        }
    }

    /// Stops probing.
    pub fn finish(self) -> Probed {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let answers = self.handle.join().unwrap();
        Probed {
            started: self.started,
            stopped: std::time::Instant::now(),
            answers,
        }
    }
}

impl Probed {
    /// The longest time without a good answer.
    pub fn worst_gap(&self) -> std::time::Duration {
        let mut last = self.started;
        let mut worst = std::time::Duration::ZERO;
        for (t, _) in &self.answers {
            worst = worst.max(t.duration_since(last));
            last = *t;
        }
        worst.max(self.stopped.duration_since(last))
    }

    /// The bodies seen, each run of equal ones once.
    pub fn versions(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (_, v) in &self.answers {
            if out.last() != Some(v) {
                out.push(v.clone());
            }
        }
        out
    }

    /// From the last answer `from` gave to the first answer `to` gave after it.
    pub fn switch_gap(&self, from: &str, to: &str) -> Option<std::time::Duration> {
        let first_to = self.answers.iter().position(|(_, v)| v == to)?;
        let last_from = self.answers[..first_to]
            .iter()
            .rev()
            .find(|(_, v)| v == from)?;
        Some(self.answers[first_to].0.duration_since(last_from.0))
    }
}

/// Builds the deploy fixture (`tests/fixtures/deploy-service`) once per `(id, version,
/// healthy, signed)` with `sluice` (go-build, oci-image, oci-push to `registry` as
/// `test/service:<version>`; `sign` and the signature pushed when `signed`, with a key pair
/// made in the workspace as `cosign.key`/`cosign.pub`, password `password`). The workspace
/// and the references by digest, in order.
pub fn deploy_images(
    sluice: &str,
    registry: &Registry,
    images: &[(&str, &str, bool, bool)],
    password: &str,
) -> (Workspace, Vec<String>) {
    let ws = Workspace::new();
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/deploy-service"),
        &ws.dir(),
    );
    let keys = ws
        .command(
            sluice,
            &["keys", "generate", "--output-key-prefix", "cosign"],
        )
        .env("COSIGN_PASSWORD", password)
        .output()
        .unwrap();
    assert!(keys.status.success(), "{keys:?}");
    let origin = registry.origin();
    let host = origin.trim_start_matches("http://");
    let mut toml = String::from("[pipeline]\nname = \"deploy-images\"\ntimeout = \"5m\"\n");
    for (id, version, healthy, signed) in images {
        toml.push_str(&format!(
            r#"
[steps.build-{id}]
uses = "go-build"
allow = {{ read = ["."], exec = ["go"] }}
with = {{ package = ".", output = "server", x = {{ "main.version" = "{version}", "main.healthy" = "{healthy}" }} }}

[steps.image-{id}]
uses = "oci-image"
with = {{ binary = "${{{{ steps.build-{id}.outputs.binary }}}}", version = "{version}", ports = [8080] }}

[steps.push-{id}]
uses = "oci-push"
allow = {{ net = ["{origin}"] }}
with = {{ image = "${{{{ steps.image-{id}.outputs.image }}}}", registry = "{origin}", repository = "test/service", tag = "{version}" }}
"#
        ));
        if *signed {
            toml.push_str(&format!(
                r#"
[steps.sign-{id}]
uses = "sign"
allow = {{ read = ["cosign.key"], secrets = ["COSIGN_PASSWORD"] }}
with = {{ image = "${{{{ steps.image-{id}.outputs.image }}}}", image-repository = "{host}/test/service", key = "cosign.key" }}

[steps.push-sig-{id}]
uses = "oci-push"
allow = {{ net = ["{origin}"] }}
with = {{ image = "${{{{ steps.sign-{id}.outputs.image-signature }}}}", registry = "{origin}", repository = "test/service" }}
"#
            ));
        }
    }
    ws.file("images.toml", toml);
    let out = ws
        .command(sluice, &["run", "images.toml"])
        .env("COSIGN_PASSWORD", password)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let run = ws.last_run();
    let refs = images
        .iter()
        .map(|(id, ..)| {
            step(&run, &format!("push-{id}"))["outputs"]["reference"]["value"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    (ws, refs)
}

/// Whether every tool is on `PATH`; when one is missing, says the test is skipped and how to
/// install them, or fails under `CI` (which must install everything).
pub fn tools_present(tools: &[&str], install: &str) -> bool {
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|t| {
            !std::env::var_os("PATH")
                .map(|p| std::env::split_paths(&p).any(|d| d.join(t).is_file()))
                .unwrap_or(false)
        })
        .collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must install {missing:?} (see .ci/run)"
    );
    eprintln!("skipped: needs {missing:?} ({install})");
    false
}

/// A language a plugin of `tests/` or `examples/` is written in, built with the SDK's own
/// build command (`sdk/python/build-plugin`, `sdk/js/build-plugin`) and its pinned tools.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    /// componentize-py.
    Python,
    /// componentize-js (here without wasi:http).
    Js,
    /// componentize-js with `--http` (fetch through wasi:http).
    JsHttp,
}

/// Whether the tools the Python and JavaScript plugins build with are here (`python3` with
/// venv, `node` and `npm`); when not, says the test is skipped (fails under `CI`).
pub fn polyglot_tools_present() -> bool {
    let venv = Command::new("python3")
        .args(["-c", "import venv, ensurepip"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !venv {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must install python3-venv (see .ci/run)"
        );
        eprintln!("skipped: needs python3 with venv (apt-get install python3-venv)");
        return false;
    }
    tools_present(&["node", "npm"], "apt-get install nodejs npm")
}

static POLYGLOT_BUILD: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Builds the plugin directory `dir` (relative to the repository) in `lang` into a component
/// and returns its path. Built once per content: the key hashes the plugin's sources, the
/// SDK, its build command and pinned tools, and the WIT contract.
pub fn polyglot_plugin(lang: Lang, dir: &str) -> PathBuf {
    let repo = Path::new(REPO);
    let sdk = match lang {
        Lang::Python => "sdk/python",
        Lang::Js | Lang::JsHttp => "sdk/js",
    };
    let mut hasher = Fnv(0xcbf29ce484222325);
    hasher.write(format!("{lang:?}").as_bytes());
    for root in [dir, sdk, "wit"] {
        hash_tree(&repo.join(root), &mut hasher);
    }
    let name = dir.rsplit('/').next().unwrap();
    let out_dir = target_dir().join("polyglot-plugins");
    let out = out_dir.join(format!("{name}-{lang:?}-{:016x}.wasm", hasher.0));
    let _guard = POLYGLOT_BUILD.lock().unwrap_or_else(|e| e.into_inner());
    if out.exists() {
        return out;
    }
    std::fs::create_dir_all(&out_dir).unwrap();
    let partial = out.with_extension("partial");
    let mut cmd = Command::new(repo.join(sdk).join("build-plugin"));
    cmd.arg(repo.join(dir)).arg("-o").arg(&partial);
    if lang == Lang::JsHttp {
        cmd.arg("--http");
    }
    run_ok(&mut cmd);
    std::fs::rename(&partial, &out).unwrap();
    out
}

/// The tools directory the SDK's build command made for `lang` (a venv for Python, an npm
/// prefix for JavaScript), with its linters and test runner.
pub fn polyglot_tools(lang: Lang) -> PathBuf {
    let sdk = match lang {
        Lang::Python => "sdk/python",
        Lang::Js | Lang::JsHttp => "sdk/js",
    };
    let _guard = POLYGLOT_BUILD.lock().unwrap_or_else(|e| e.into_inner());
    let out =
        run_ok(Command::new(Path::new(REPO).join(sdk).join("build-plugin")).arg("--tools-only"));
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

struct Fnv(u64);

impl Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x100000001b3);
        }
    }
}

/// Hashes the names and contents of the files under `path`, skipping built components,
/// run state and dependency directories.
fn hash_tree(path: &Path, h: &mut Fnv) {
    let mut entries: Vec<_> = std::fs::read_dir(path)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        let name = p.file_name().unwrap().to_string_lossy();
        if name.ends_with(".wasm")
            || name.starts_with('.')
            || name == "node_modules"
            || name == "__pycache__"
        {
            continue;
        }
        h.write(name.as_bytes());
        if p.is_dir() {
            hash_tree(&p, h);
        } else {
            h.write(&std::fs::read(&p).unwrap());
        }
    }
}
