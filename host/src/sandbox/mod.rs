//! Turning a step's grants into enforcement. Deny by default, grant by line, explain every
//! denial. One file per capability:
//!
//! - [`fs`]: `allow.read` / `allow.write`, `/inputs/`, `/outputs/`: the one capability
//!   layer for every host-side file access on a step's behalf;
//! - [`secrets`]: `allow.secrets`, and the masker in front of every sink;
//! - [`limits`]: `timeout` and `memory`, and the watchdog for steps blocked in the kernel;
//! - [`exec`]: `allow.exec`, programs started confined;
//! - [`net`]: `allow.net` and `allow.send`, HTTP to granted origins, checked and logged.
//!
//! Environment variables are only the step's `env` entries; sockets are always denied.

pub mod exec;
pub mod fs;
pub mod limits;
pub mod net;
pub mod secrets;

use std::collections::BTreeMap;

/// Answers a step's `provenance.artifact` calls: given the guest path of one of its artifact
/// inputs and its deadline, the provenance document (JSON) the host builds from the run.
#[derive(Clone)]
pub struct ProvenanceSource(pub std::sync::Arc<ProvenanceFn>);

/// The function behind a [`ProvenanceSource`]: guest path and deadline to document.
pub type ProvenanceFn = dyn Fn(&str, &limits::Deadline) -> Result<String, String> + Send + Sync;

impl std::fmt::Debug for ProvenanceSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProvenanceSource")
    }
}

use wasmtime_wasi::cli::StdoutStream;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder};

pub use fs::Mount;
pub use limits::Limits;

/// What one step may touch.
///
/// [`StepSandbox::new`] grants nothing:
///
/// - no files (no preopens);
/// - no environment variables and no arguments but the plugin's name;
/// - no secrets;
/// - no sockets of any kind and no name lookup; no HTTP (see [`StepSandbox::network`]);
/// - stdin closed; stdout and stderr captured into the step's log (masked and bounded);
/// - clocks and random numbers as WASI provides them (needed by every runtime).
///
/// Each grant is one method.
#[derive(Debug, Clone)]
pub struct StepSandbox {
    program: String,
    mounts: Vec<Mount>,
    env: Vec<(String, String)>,
    secrets: BTreeMap<String, String>,
    exec: Option<std::sync::Arc<exec::StepExec>>,
    net: Option<std::sync::Arc<net::StepNet>>,
    provenance: Option<ProvenanceSource>,
    run: RunIdentity,
}

/// Which run a step belongs to, as the `run-info` host call tells it.
#[derive(Debug, Clone, Default)]
pub struct RunIdentity {
    /// The run's id.
    pub run: String,
    /// The pipeline's name.
    pub pipeline: String,
}

impl StepSandbox {
    /// A sandbox that grants nothing; `program` is `argv[0]` inside the step.
    pub fn new(program: impl Into<String>) -> Self {
        StepSandbox {
            program: program.into(),
            mounts: Vec::new(),
            env: Vec::new(),
            secrets: BTreeMap::new(),
            exec: None,
            net: None,
            provenance: None,
            run: RunIdentity::default(),
        }
    }

    /// Tells the step which run and pipeline it is part of.
    pub fn run_identity(mut self, run: RunIdentity) -> Self {
        self.run = run;
        self
    }

    /// The run and pipeline the step is part of.
    pub fn identity(&self) -> &RunIdentity {
        &self.run
    }

    /// Makes a directory, already open, visible.
    pub fn mount(mut self, mount: Mount) -> Self {
        self.mounts.push(mount);
        self
    }

    /// Sets an environment variable inside the step.
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((name.into(), value.into()));
        self
    }

    /// Lets the step read a secret through the `secret` host call.
    pub fn secret(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.secrets.insert(name.into(), value.into());
        self
    }

    /// Lets the step start the programs `exec` grants, confined.
    pub fn programs(mut self, exec: std::sync::Arc<exec::StepExec>) -> Self {
        self.exec = Some(exec);
        self
    }

    /// Lets the step send HTTP requests to the origins `net` grants.
    pub fn network(mut self, net: std::sync::Arc<net::StepNet>) -> Self {
        self.net = Some(net);
        self
    }

    /// Lets the step ask how its artifact inputs were made in this run.
    pub fn provenance(mut self, source: ProvenanceSource) -> Self {
        self.provenance = Some(source);
        self
    }

    /// Where the step's provenance questions go, when it may ask them.
    pub fn provenance_source(&self) -> Option<&ProvenanceSource> {
        self.provenance.as_ref()
    }

    /// What the step may reach over HTTP, when it has a grant.
    pub fn net(&self) -> Option<&std::sync::Arc<net::StepNet>> {
        self.net.as_ref()
    }

    /// What the step's programs run under, when it may start any.
    pub fn exec(&self) -> Option<&std::sync::Arc<exec::StepExec>> {
        self.exec.as_ref()
    }

    /// The mounts, for host calls that resolve guest paths.
    pub fn mounts(&self) -> &[Mount] {
        &self.mounts
    }

    /// The granted secrets.
    pub fn secrets(&self) -> &BTreeMap<String, String> {
        &self.secrets
    }

    /// Builds the WASI context, writing the guest's stdout and stderr into the given streams.
    /// Each preopen is the mount's open directory, named by `/proc/self/fd/N`: nothing is
    /// resolved again by path.
    pub fn wasi(
        &self,
        stdout: impl StdoutStream + 'static,
        stderr: impl StdoutStream + 'static,
    ) -> wasmtime::Result<WasiCtx> {
        let mut b = WasiCtxBuilder::new();
        b.args(&[&self.program])
            .stdout(stdout)
            .stderr(stderr)
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            // File operations run on the step's own thread instead of a round trip through
            // tokio's blocking pool for every read: a step is CPU-bound guest code on that
            // thread anyway, and analysers that read thousands of files ran 3x slower.
            .allow_blocking_current_thread(true);
        for (k, v) in &self.env {
            b.env(k, v);
        }
        for m in &self.mounts {
            let perms = if m.writable {
                FsPerms::ReadWrite
            } else {
                FsPerms::ReadOnly
            };
            b.preopened_dir(m.proc_path(), &m.guest, perms)?;
        }
        Ok(b.build())
    }
}
