//! The per-step store data and the `sluice:step/host` interface.
//!
//! Everything a step can make the host keep or forward is bounded here, per step:
//! log bytes ([`MAX_LOG_BYTES`], lines cut at [`MAX_LINE_BYTES`]), progress (coalesced:
//! the console sees the latest value), logged denials ([`MAX_LOGGED_DENIALS`], then a count),
//! and time (every host call checks the step's deadline; `digest` checks it between chunks).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use sha2::{Digest, Sha256};
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::sluice::step::host::{self, Level};
use super::bindings::sluice::step::types;
use crate::sandbox::fs::{CopyError, copy_bounded};
use crate::sandbox::limits::{Deadline, Interrupt, MemoryLimiter};
use crate::sandbox::net::{EgressLog, NetHooks};
use crate::sandbox::secrets::{MaskStream, Masker};
use crate::sandbox::{Mount, StepSandbox};

/// The most log bytes one step may leave (host `log` calls, stdout and stderr together).
/// Past it, lines are dropped and counted, and the log says so.
pub const MAX_LOG_BYTES: usize = 8 << 20;
/// The longest log line kept; a longer one is cut, saying how much was cut.
pub const MAX_LINE_BYTES: usize = 16 << 10;
/// How many denied host calls a step's log records in full; the rest are counted.
pub const MAX_LOGGED_DENIALS: u64 = 5;
/// The longest progress message kept.
pub const MAX_PROGRESS_MESSAGE: usize = 200;

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
        /// The run its result was replayed from, if it was.
        cached_from: Option<String>,
    },
    /// A log line (already masked and bounded).
    Log {
        /// The step id.
        step: String,
        /// The level.
        level: LogLevel,
        /// The message.
        message: String,
    },
    /// Progress changed: the slot holds the latest value. At most one such event per step
    /// is waiting at any time, however often the step reports.
    Progress {
        /// The step id.
        step: String,
        /// The latest progress.
        slot: Arc<ProgressSlot>,
    },
}

/// A step's latest progress, coalesced: a step reporting a million times costs the console
/// one event at a time.
#[derive(Debug, Default)]
pub struct ProgressSlot {
    latest: Mutex<Option<Progress>>,
    pending: AtomicBool,
}

/// One progress report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// Units done.
    pub done: u64,
    /// Units in all.
    pub total: u64,
    /// What is being done (masked, at most [`MAX_PROGRESS_MESSAGE`] bytes).
    pub message: String,
}

impl ProgressSlot {
    /// Takes the latest value and lets the next report send a new event.
    pub fn take(&self) -> Option<Progress> {
        self.pending.store(false, Ordering::SeqCst);
        self.latest.lock().expect("progress lock").clone()
    }

    /// Stores a value; true when the caller must send an event.
    fn set(&self, p: Progress) -> bool {
        *self.latest.lock().expect("progress lock") = Some(p);
        !self.pending.swap(true, Ordering::SeqCst)
    }
}

/// Log levels, as in WIT.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
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
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
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

/// The text of `s` cut to at most `max` bytes (at a character boundary).
pub(crate) fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// A stream of the guest's (stdout or stderr): masked across writes, then split into lines.
#[derive(Debug)]
struct Stream {
    level: LogLevel,
    mask: MaskStream,
    line: Vec<u8>,
}

/// A step's log: masked, bounded, forwarded to the console as it grows.
#[derive(Debug)]
pub struct StepLog {
    step: String,
    masker: Arc<Masker>,
    started: Instant,
    events: EventSink,
    lines: Vec<LogLine>,
    bytes: usize,
    dropped_lines: u64,
    dropped_bytes: u64,
    denials: u64,
    streams: [Stream; 2],
}

impl StepLog {
    /// An empty log for `step`.
    pub fn new(step: &str, masker: Arc<Masker>, events: EventSink) -> Self {
        let stream = |level| Stream {
            level,
            mask: masker.stream(),
            line: Vec::new(),
        };
        StepLog {
            step: step.to_string(),
            streams: [stream(LogLevel::Stdout), stream(LogLevel::Stderr)],
            masker,
            started: Instant::now(),
            events,
            lines: Vec::new(),
            bytes: 0,
            dropped_lines: 0,
            dropped_bytes: 0,
            denials: 0,
        }
    }

    /// Appends a line: masked, cut to [`MAX_LINE_BYTES`], dropped past [`MAX_LOG_BYTES`].
    pub fn push(&mut self, level: LogLevel, message: &str) {
        let masked = self.masker.mask(message);
        let kept = cut(&masked, MAX_LINE_BYTES);
        if self.bytes + kept.len() > MAX_LOG_BYTES {
            self.dropped_lines += 1;
            self.dropped_bytes += masked.len() as u64;
            return;
        }
        let message = if kept.len() < masked.len() {
            format!(
                "{kept}… ({} more bytes cut from this line)",
                masked.len() - kept.len()
            )
        } else {
            kept.to_string()
        };
        self.bytes += message.len();
        self.append(level, message);
    }

    fn append(&mut self, level: LogLevel, message: String) {
        tracing::debug!(step = %self.step, level = level.name(), "{message}");
        if let Some(events) = &self.events
            && (LogLevel::Info..=LogLevel::Error).contains(&level)
        {
            let _ = events.send(StepEvent::Log {
                step: self.step.clone(),
                level,
                message: message.clone(),
            });
        }
        let at_ms = self.started.elapsed().as_millis() as u64;
        self.lines.push(LogLine {
            at_ms,
            level,
            message,
        });
    }

    /// Bytes the guest wrote to stdout (`0`) or stderr (`1`).
    fn write_stream(&mut self, which: usize, bytes: &[u8]) {
        let mut masked = Vec::new();
        self.streams[which].mask.push(bytes, &mut masked);
        self.split(which, &masked);
    }

    fn split(&mut self, which: usize, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let room = MAX_LINE_BYTES - self.streams[which].line.len();
            let (take, complete) = match bytes.iter().position(|&b| b == b'\n') {
                Some(i) if i <= room => (i + 1, true),
                _ if bytes.len() >= room => (room, true),
                _ => (bytes.len(), false),
            };
            self.streams[which].line.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if complete {
                self.flush_line(which);
            }
        }
    }

    fn flush_line(&mut self, which: usize) {
        let line = std::mem::take(&mut self.streams[which].line);
        let text = String::from_utf8_lossy(&line);
        let text = text.strip_suffix('\n').unwrap_or(&text);
        let level = self.streams[which].level;
        self.push(level, text);
    }

    /// Records a denied host call: in full for the first [`MAX_LOGGED_DENIALS`], counted
    /// after that.
    pub(crate) fn denied(&mut self, message: &str) {
        self.denials += 1;
        if self.denials <= MAX_LOGGED_DENIALS {
            self.push(LogLevel::Warn, message);
        }
    }

    /// Flushes the streams and adds what was cut; returns the lines.
    pub fn finish(&mut self) -> Vec<LogLine> {
        for which in 0..2 {
            let mut rest = Vec::new();
            self.streams[which].mask.finish(&mut rest);
            self.split(which, &rest);
            if !self.streams[which].line.is_empty() {
                self.flush_line(which);
            }
        }
        if self.denials > MAX_LOGGED_DENIALS {
            let n = self.denials - MAX_LOGGED_DENIALS;
            self.append(
                LogLevel::Warn,
                format!("{n} more denied host calls were not logged (at most {MAX_LOGGED_DENIALS} are, per step)"),
            );
        }
        if self.dropped_lines > 0 {
            self.append(
                LogLevel::Warn,
                format!(
                    "log cut: the step's log reached the limit of {} MiB per step; {} more lines ({} bytes) were dropped",
                    MAX_LOG_BYTES >> 20,
                    self.dropped_lines,
                    self.dropped_bytes
                ),
            );
        }
        std::mem::take(&mut self.lines)
    }
}

/// The guest's stdout or stderr: every byte goes to the step's log, masked and bounded.
/// Writes never fail: past the log limit the bytes are counted and dropped.
#[derive(Clone)]
pub(crate) struct LogPipe {
    log: Arc<Mutex<StepLog>>,
    which: usize,
}

impl LogPipe {
    pub(crate) fn new(log: Arc<Mutex<StepLog>>, which: usize) -> Self {
        LogPipe { log, which }
    }

    fn write_bytes(&self, bytes: &[u8]) {
        self.log
            .lock()
            .expect("log lock")
            .write_stream(self.which, bytes);
    }
}

/// How much the guest may write per call (it is always ready for more).
const PIPE_PERMIT: usize = 64 << 10;

impl wasmtime_wasi::cli::IsTerminal for LogPipe {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl wasmtime_wasi::cli::StdoutStream for LogPipe {
    fn p2_stream(&self) -> Box<dyn wasmtime_wasi::p2::OutputStream> {
        Box::new(self.clone())
    }
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl wasmtime_wasi::p2::OutputStream for LogPipe {
    fn write(&mut self, bytes: bytes::Bytes) -> Result<(), wasmtime_wasi::p2::StreamError> {
        self.write_bytes(&bytes);
        Ok(())
    }
    fn flush(&mut self) -> Result<(), wasmtime_wasi::p2::StreamError> {
        Ok(())
    }
    fn check_write(&mut self) -> Result<usize, wasmtime_wasi::p2::StreamError> {
        Ok(PIPE_PERMIT)
    }
}

#[wasmtime_wasi::async_trait]
impl wasmtime_wasi::p2::Pollable for LogPipe {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for LogPipe {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.write_bytes(buf);
        std::task::Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

/// Everything a step's store holds.
pub struct StepState {
    pub(crate) wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) limiter: MemoryLimiter,
    pub(crate) deadline: Deadline,
    pub(crate) interrupted: Option<Interrupt>,
    step: String,
    mounts: Vec<Mount>,
    secrets: std::collections::BTreeMap<String, String>,
    masker: Arc<Masker>,
    pub(crate) log: Arc<Mutex<StepLog>>,
    progress: Arc<ProgressSlot>,
    events: EventSink,
    pub(crate) exec: Option<Arc<crate::sandbox::exec::StepExec>>,
    http: wasmtime_wasi_http::WasiHttpCtx,
    pub(crate) net: NetHooks,
    pub(crate) egress: Arc<Mutex<EgressLog>>,
    provenance: Option<crate::sandbox::ProvenanceSource>,
    run: crate::sandbox::RunIdentity,
    /// Why this call's result must not be replayed (it asked for the run's identity, or
    /// said so), if it must not.
    pub(crate) volatile: Option<String>,
}

impl StepState {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        step: &str,
        sandbox: &StepSandbox,
        wasi: WasiCtx,
        memory: u64,
        deadline: Deadline,
        masker: Arc<Masker>,
        log: Arc<Mutex<StepLog>>,
        events: EventSink,
    ) -> Self {
        let egress = Arc::new(Mutex::new(EgressLog::default()));
        let denials = log.clone();
        let net = NetHooks::new(
            sandbox.net().cloned(),
            egress.clone(),
            Arc::new(move |m: &str| denials.lock().expect("log lock").denied(m)),
            deadline.at,
        );
        StepState {
            http: wasmtime_wasi_http::WasiHttpCtx::new(),
            net,
            egress,
            wasi,
            table: ResourceTable::new(),
            limiter: MemoryLimiter::new(memory),
            deadline,
            interrupted: None,
            step: step.to_string(),
            mounts: sandbox.mounts().to_vec(),
            secrets: sandbox.secrets().clone(),
            masker,
            log,
            progress: Arc::default(),
            events,
            exec: sandbox.exec().cloned(),
            provenance: sandbox.provenance_source().cloned(),
            run: sandbox.identity().clone(),
            volatile: None,
        }
    }

    /// The step's mounts.
    pub(crate) fn mounts(&self) -> &[Mount] {
        &self.mounts
    }

    /// Appends a line to the step's log.
    pub(crate) fn push_log(&self, level: LogLevel, message: &str) {
        self.log.lock().expect("log lock").push(level, message);
    }

    /// A host call's result, its error logged as a denial.
    fn logged_denial<T>(&self, r: Result<T, String>) -> Result<T, String> {
        if let Err(e) = &r {
            self.log
                .lock()
                .expect("log lock")
                .denied(&format!("denied: {e}"));
        }
        r
    }

    /// Fails the host call (trapping the guest) once the step is past its deadline or the
    /// run is cancelled: time in host calls counts against the step's timeout.
    pub(crate) fn check_deadline(&mut self) -> wasmtime::Result<()> {
        match self.deadline.check() {
            Some(why) => {
                self.interrupted = Some(why);
                wasmtime::bail!("interrupted in a host call")
            }
            None => Ok(()),
        }
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

impl wasmtime_wasi_http::WasiHttpView for StepState {
    fn http(&mut self) -> wasmtime_wasi_http::WasiHttpCtxView<'_> {
        wasmtime_wasi_http::WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.net,
        }
    }
}

impl types::Host for StepState {}

impl super::bindings::sluice::step::provenance::Host for StepState {
    fn artifact(&mut self, path: String) -> wasmtime::Result<Result<String, String>> {
        self.check_deadline()?;
        let answer = match &self.provenance {
            Some(source) => (source.0)(&path, &self.deadline),
            None => Err("provenance is not available to this step".to_string()),
        };
        if answer.is_err() {
            self.check_deadline()?;
        }
        Ok(answer)
    }
}

/// A guest-provided name shown in a message: at most 64 characters.
pub(crate) fn shown_name(name: &str) -> String {
    let short = cut(name, 64);
    if short.len() < name.len() {
        format!("{short}…")
    } else {
        short.to_string()
    }
}

impl host::Host for StepState {
    fn run_info(&mut self) -> wasmtime::Result<host::RunDetails> {
        self.check_deadline()?;
        self.volatile
            .get_or_insert_with(|| "it asked for the run's identity (run-info)".into());
        Ok(host::RunDetails {
            run: self.run.run.clone(),
            pipeline: self.run.pipeline.clone(),
            step: self.step.clone(),
            remaining_ms: self
                .deadline
                .at
                .saturating_duration_since(std::time::Instant::now())
                .as_millis()
                .try_into()
                .unwrap_or(u64::MAX),
        })
    }

    fn uncacheable(&mut self, reason: String) -> wasmtime::Result<()> {
        self.check_deadline()?;
        if self.volatile.is_none() {
            let reason = super::convert::bounded(reason, 200, &self.masker);
            self.volatile = Some(format!("the plugin said: {}", reason.trim()));
        }
        Ok(())
    }

    fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        self.check_deadline()?;
        let level = match level {
            Level::Trace => LogLevel::Trace,
            Level::Debug => LogLevel::Debug,
            Level::Info => LogLevel::Info,
            Level::Warn => LogLevel::Warn,
            Level::Error => LogLevel::Error,
        };
        self.push_log(level, &message);
        Ok(())
    }

    fn progress(&mut self, done: u64, total: u64, message: String) -> wasmtime::Result<()> {
        self.check_deadline()?;
        if let Some(events) = &self.events {
            let message = self
                .masker
                .mask(cut(&message, MAX_PROGRESS_MESSAGE))
                .into_owned();
            if self.progress.set(Progress {
                done,
                total,
                message,
            }) {
                let _ = events.send(StepEvent::Progress {
                    step: self.step.clone(),
                    slot: self.progress.clone(),
                });
            }
        }
        Ok(())
    }

    fn secret(&mut self, name: String) -> wasmtime::Result<Option<String>> {
        self.check_deadline()?;
        let value = self.secrets.get(&name).cloned();
        if value.is_none() && self.net.is_send_only(&name) {
            let name = shown_name(&name);
            self.log.lock().expect("log lock").denied(&format!(
                "denied: the step asked to read secret `{name}`, which is send-only (`allow.send`): it can be placed in a request header by reference (`secret-ref`), never read"
            ));
        } else if value.is_none() {
            let name = shown_name(&name);
            self.log.lock().expect("log lock").denied(&format!(
                "denied: the step asked for secret `{name}`, which is not granted; to allow it add `secrets = [\"{name}\"]` to the step's `allow` table"
            ));
        }
        Ok(value)
    }

    fn secret_ref(&mut self, name: String) -> wasmtime::Result<Result<String, String>> {
        self.check_deadline()?;
        let r = self.net.secret_ref(&name);
        Ok(self.logged_denial(r))
    }

    fn basic_auth_ref(
        &mut self,
        user: String,
        password: String,
    ) -> wasmtime::Result<Result<String, String>> {
        self.check_deadline()?;
        let r = self.net.basic_auth_ref(&user, &password);
        Ok(self.logged_denial(r))
    }

    fn digest(&mut self, path: String) -> wasmtime::Result<Result<String, String>> {
        self.check_deadline()?;
        let (mut file, _) = match crate::sandbox::fs::open_read(&self.mounts, &path) {
            Ok(f) => f,
            Err(e) => return Ok(Err(e)),
        };
        let mut hasher = Sha256::new();
        let deadline = self.deadline.clone();
        match copy_bounded(&mut file, &mut hasher, u64::MAX, &|| {
            deadline.check().is_some()
        }) {
            Ok(_) => Ok(Ok(format!("sha256:{}", hex::encode(hasher.finalize())))),
            Err(CopyError::Stopped) => {
                self.check_deadline()?;
                Ok(Err(format!("{path}: stopped")))
            }
            Err(e) => Ok(Err(format!("{path}: {e}"))),
        }
    }
}
