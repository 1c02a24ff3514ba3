//! The per-step store data and the `sluice:step/host` interface.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use sha2::{Digest, Sha256};
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::sluice::step::host::{self, Level};
use super::bindings::sluice::step::types;
use crate::sandbox::limits::{Deadline, Interrupt, MemoryLimiter};
use crate::sandbox::secrets::Masker;
use crate::sandbox::{Mount, StepSandbox};

/// Something that happened during a run, for the console.
#[derive(Debug, Clone)]
pub enum StepEvent {
    /// The executor started a step.
    Started {
        /// The step id.
        step: String,
    },
    /// A step ended.
    Finished {
        /// The step id.
        step: String,
        /// `passed`, `failed`, `errored`, `skipped` or `cancelled`.
        status: &'static str,
        /// How long it ran.
        duration: std::time::Duration,
        /// How many findings it reported.
        findings: usize,
    },
    /// A log line (already masked).
    Log {
        /// The step id.
        step: String,
        /// The level.
        level: LogLevel,
        /// The message.
        message: String,
    },
    /// Progress.
    Progress {
        /// The step id.
        step: String,
        /// Units done.
        done: u64,
        /// Units in all.
        total: u64,
        /// What is being done (already masked).
        message: String,
    },
}

/// Log levels, as in WIT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Trace.
    Trace,
    /// Debug.
    Debug,
    /// Info.
    Info,
    /// Warn.
    Warn,
    /// Error.
    Error,
    /// A line the guest printed to stdout.
    Stdout,
    /// A line the guest printed to stderr.
    Stderr,
}

impl LogLevel {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            LogLevel::Trace => "trace",
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
            LogLevel::Stdout => "stdout",
            LogLevel::Stderr => "stderr",
        }
    }
}

/// One line of a step's log.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LogLine {
    /// Milliseconds since the step started.
    pub at_ms: u64,
    /// Level or stream.
    pub level: LogLevel,
    /// The text, masked.
    pub message: String,
}

/// Receives step events (the console); may be absent.
pub type EventSink = Option<tokio::sync::mpsc::UnboundedSender<StepEvent>>;

/// Everything a step's store holds.
pub struct StepState {
    pub(crate) wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) limiter: MemoryLimiter,
    pub(crate) deadline: Deadline,
    pub(crate) interrupted: Option<Interrupt>,
    step: String,
    plugin: String,
    mounts: Vec<Mount>,
    secrets: std::collections::BTreeMap<String, String>,
    masker: Arc<Masker>,
    started: Instant,
    pub(crate) log: Arc<Mutex<Vec<LogLine>>>,
    events: EventSink,
}

impl StepState {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        step: &str,
        plugin: &str,
        sandbox: &StepSandbox,
        wasi: WasiCtx,
        memory: u64,
        deadline: Deadline,
        masker: Arc<Masker>,
        log: Arc<Mutex<Vec<LogLine>>>,
        events: EventSink,
    ) -> Self {
        StepState {
            wasi,
            table: ResourceTable::new(),
            limiter: MemoryLimiter::new(memory),
            deadline,
            interrupted: None,
            step: step.to_string(),
            plugin: plugin.to_string(),
            mounts: sandbox.mounts().to_vec(),
            secrets: sandbox.secrets().clone(),
            masker,
            started: Instant::now(),
            log,
            events,
        }
    }

    /// Appends a masked line to the step's log and forwards it to the console.
    pub(crate) fn push_log(&self, level: LogLevel, message: &str) {
        let message = self.masker.mask(message);
        tracing::debug!(step = %self.step, plugin = %self.plugin, level = level.name(), "{message}");
        if let Some(events) = &self.events {
            let _ = events.send(StepEvent::Log {
                step: self.step.clone(),
                level,
                message: message.clone(),
            });
        }
        let at_ms = self.started.elapsed().as_millis() as u64;
        self.log.lock().expect("log lock").push(LogLine {
            at_ms,
            level,
            message,
        });
    }
}

impl WasiView for StepState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl types::Host for StepState {}

impl host::Host for StepState {
    fn log(&mut self, level: Level, message: String) {
        let level = match level {
            Level::Trace => LogLevel::Trace,
            Level::Debug => LogLevel::Debug,
            Level::Info => LogLevel::Info,
            Level::Warn => LogLevel::Warn,
            Level::Error => LogLevel::Error,
        };
        self.push_log(level, &message);
    }

    fn progress(&mut self, done: u64, total: u64, message: String) {
        if let Some(events) = &self.events {
            let message = self.masker.mask(&message);
            let _ = events.send(StepEvent::Progress {
                step: self.step.clone(),
                done,
                total,
                message,
            });
        }
    }

    fn secret(&mut self, name: String) -> Option<String> {
        let value = self.secrets.get(&name).cloned();
        if value.is_none() {
            self.push_log(
                LogLevel::Warn,
                &format!("denied: the step asked for secret `{name}`, which is not granted; to allow it add `secrets = [\"{name}\"]` to the step's `allow` table"),
            );
        }
        value
    }

    fn digest(&mut self, path: String) -> Result<String, String> {
        let mut file = crate::sandbox::fs::open_read(&self.mounts, &path)?;
        let mut hasher = Sha256::new();
        std::io::copy(&mut file, &mut hasher).map_err(|e| format!("{path}: {e}"))?;
        Ok(format!("sha256:{}", hex::encode(hasher.finalize())))
    }
}
