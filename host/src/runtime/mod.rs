//! The wasmtime side: one [`Engine`] per process, components compiled once (and cached on
//! disk), a fresh store and WASI context per call, limits enforced.
//!
//! Timeouts: the engine's epoch ticks every [`TICK`]; at every tick a running store checks its
//! deadline and the cancellation flag and otherwise yields to the executor, so a busy loop is
//! stopped within a tick. A step blocked in a host call (sleeping, waiting on I/O) is stopped
//! by the executor's timer, and one blocked in a system call by the [`Watchdog`].

mod convert;
pub mod host;
pub mod process;

pub(crate) use host::shown_name;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wasmtime::component::{HasSelf, Linker};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, OptLevel, PoolingAllocationConfig, Store,
    UpdateDeadline,
};

pub use convert::{GuestValue, HOST_COUNT, HOST_SARIF, InputValue, host_outputs, is_host_output};
pub use host::{
    EventSink, LogLevel, LogLine, MAX_LINE_BYTES, MAX_LOG_BYTES, MAX_LOGGED_DENIALS, Progress,
    ProgressSlot, StepEvent, StepLog,
};

use self::bindings::{StepCore as Step, StepCorePre as StepPre};
use self::host::{LogPipe, StepState};
use crate::plugin::PluginSource;
use crate::plugin::cache::{CacheOutcome, CompileCache};
use crate::sandbox::StepSandbox;
use crate::sandbox::limits::{Deadline, Interrupt, Limits, Watchdog};
use crate::sandbox::secrets::Masker;
use crate::types::{Finding, PluginInfo};

mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "step-core",
        imports: { default: trappable },
        exports: { default: async },
        with: { "sluice:step/process.child": super::process::ChildHandle },
    });
}

/// How often the epoch advances.
pub const TICK: Duration = Duration::from_millis(10);

/// The most steps (and `describe` calls) that can be instantiated at once.
pub const MAX_INSTANCES: u32 = 64;

/// The limits `describe()` runs under.
const DESCRIBE_LIMITS: Limits = Limits {
    timeout: Duration::from_secs(10),
    memory: 256 << 20,
};

/// Why a component cannot be used as a step.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LoadError {
    /// Not a valid component.
    #[error("not a valid WebAssembly component: {0}")]
    Invalid(String),
    /// It imports something the host does not provide.
    #[error("cannot be linked: {0}")]
    Link(String),
    /// It imports interfaces the host does not provide (named).
    #[error("imports {0}, which sluice does not provide to steps")]
    Unprovided(String),
    /// It does not export the `step` world.
    #[error("is not a sluice step: it does not export the `step` world of sluice:step@0.1.0 ({0})")]
    WrongWorld(String),
    /// `describe()` failed.
    #[error("describe() failed: {0}")]
    Describe(String),
    /// The engine could not be created.
    #[error("cannot be loaded: {0}")]
    Engine(String),
}

impl LoadError {
    /// How to fix it.
    pub fn help(&self) -> &'static str {
        match self {
            LoadError::Invalid(_) => {
                "build the plugin with `cargo build --release --target wasm32-wasip2` (a core module or a corrupt file will not load)"
            }
            LoadError::Link(_) => {
                "a step may import only `sluice:step/host` and the WASI 0.2 interfaces (files, clocks, random, stdio, environment)"
            }
            LoadError::Unprovided(_) => {
                "a step may import only `sluice:step` and the WASI 0.2 interfaces sluice provides (cli, filesystem, io, clocks, random, http; sockets are linked but every address is denied)"
            }
            LoadError::WrongWorld(_) => {
                "implement the `step` world from wit/step.wit, e.g. with `sluice_sdk::export_plugin!`"
            }
            LoadError::Describe(_) => {
                "describe() must return without reading inputs, files or secrets"
            }
            LoadError::Engine(_) => {
                "sluice could not start its WebAssembly engine: check the memory limits of this process (`ulimit -v`)"
            }
        }
    }
}

/// A compiled, linked and described plugin.
pub struct LoadedPlugin {
    /// `sha256:<hex>` of the component.
    pub digest: String,
    /// What `describe()` returned.
    pub info: PluginInfo,
    /// Whether the compiled code came from the cache.
    pub cache: CacheOutcome,
    /// Whether it imports `wasi:http` (then it runs only with an `allow.net` grant).
    pub imports_http: bool,
    pre: StepPre<StepState>,
}

impl std::fmt::Debug for LoadedPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedPlugin")
            .field("digest", &self.digest)
            .field("info", &self.info)
            .finish()
    }
}

/// A cancellation signal shared by the steps of one run.
#[derive(Debug, Clone)]
pub struct Cancel {
    flag: Arc<AtomicBool>,
    tx: Arc<tokio::sync::watch::Sender<bool>>,
}

impl Default for Cancel {
    fn default() -> Self {
        Cancel {
            flag: Arc::new(AtomicBool::new(false)),
            tx: Arc::new(tokio::sync::watch::channel(false).0),
        }
    }
}

impl Cancel {
    /// Stops every step of the run.
    pub fn cancel(&self) {
        self.flag.store(true, Ordering::SeqCst);
        self.tx.send_replace(true);
    }

    /// The flag a [`Deadline`] checks.
    pub fn flag(&self) -> Arc<AtomicBool> {
        self.flag.clone()
    }

    /// Whether the run was cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// Resolves once the run is cancelled.
    pub async fn wait(&self) {
        let mut rx = self.tx.subscribe();
        let _ = rx.wait_for(|c| *c).await;
    }
}

/// One call of `run`.
pub struct Call<'a> {
    /// The step id.
    pub step: &'a str,
    /// What it may touch.
    pub sandbox: &'a StepSandbox,
    /// Time and memory.
    pub limits: Limits,
    /// The `with` table less inputs, as JSON.
    pub config: String,
    /// Inputs.
    pub inputs: Vec<(String, InputValue)>,
    /// Secret values to mask.
    pub masker: Arc<Masker>,
    /// Where live events go.
    pub events: EventSink,
    /// The run's cancellation.
    pub cancel: Cancel,
}

/// What the guest returned from `run`.
#[derive(Debug, Clone, PartialEq)]
pub struct GuestOutcome {
    /// Outputs, as returned.
    pub outputs: Vec<(String, GuestValue)>,
    /// Findings.
    pub findings: Vec<Finding>,
    /// Summary line.
    pub summary: String,
}

/// How a call ended.
#[derive(Debug, Clone, PartialEq)]
pub enum CallEnd {
    /// `run` returned `ok`.
    Passed(GuestOutcome),
    /// `run` returned a failed gate.
    Gate(GuestOutcome),
    /// `run` said its configuration is invalid.
    Invalid(String),
    /// `run` said it could not do its work.
    Error(String),
    /// The step ran past its timeout.
    Timeout(Duration),
    /// The run was cancelled.
    Cancelled,
    /// The step tried to use more memory than its limit.
    OutOfMemory {
        /// The limit in bytes.
        limit: u64,
        /// What it asked for.
        asked: u64,
    },
    /// The plugin panicked.
    Panic(String),
    /// The plugin trapped.
    Trap(String),
    /// The host could not build the step's sandbox.
    Setup(String),
}

/// A finished call: how it ended, its log, how long it took.
#[derive(Debug)]
pub struct CallResult {
    /// How it ended.
    pub end: CallEnd,
    /// Log lines (host log calls, stdout, stderr), masked.
    pub log: Vec<LogLine>,
    /// Wall-clock time of the call.
    pub duration: Duration,
    /// The HTTP requests it made.
    pub egress: crate::sandbox::net::egress::Egress,
    /// Why its result must not be replayed by a later run, if it must not.
    pub volatile: Option<String>,
}

/// The engine, the linker and the loaded plugins.
pub struct Runtime {
    engine: Engine,
    linker: Linker<StepState>,
    /// `linker` plus `wasi:http`, for plugins that import it.
    http_linker: Linker<StepState>,
    cache: CompileCache,
    interruptible: bool,
    loaded: Mutex<HashMap<String, Arc<LoadedPlugin>>>,
    ticker_stop: Arc<AtomicBool>,
    watchdog: Arc<Watchdog>,
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}

/// The engine configuration every component is compiled for.
pub fn engine_config() -> Config {
    engine_config_with(true)
}

fn engine_config_with(interruptible: bool) -> Config {
    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .epoch_interruption(interruptible)
        // Deep ASTs (a 7,000-term string concatenation in the Go stdlib) need more than the
        // default 512 KiB.
        .max_wasm_stack(2 << 20)
        .async_stack_size(4 << 20)
        .cranelift_opt_level(OptLevel::Speed);
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(MAX_INSTANCES)
        .total_core_instances(MAX_INSTANCES * 8)
        .max_core_instances_per_component(32)
        .total_memories(MAX_INSTANCES * 2)
        .total_tables(MAX_INSTANCES * 8)
        .total_stacks(MAX_INSTANCES)
        .max_memory_size(crate::manifest::MAX_MEMORY as usize);
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    config
}

impl Runtime {
    /// Creates the engine and starts its epoch ticker.
    pub fn new(cache: CompileCache) -> anyhow::Result<Self> {
        Self::create(cache, true)
    }

    /// A runtime whose guests are compiled without epoch checks: a busy step can then only
    /// be stopped by dropping it, so its timeout holds only while it waits in a host call.
    /// For measuring what interruption costs (`just bench-parse`); sluice never runs steps
    /// this way.
    pub fn uninterruptible(cache: CompileCache) -> anyhow::Result<Self> {
        Self::create(cache, false)
    }

    fn create(cache: CompileCache, interruptible: bool) -> anyhow::Result<Self> {
        let engine = Engine::new(&engine_config_with(interruptible))
            .map_err(|e| anyhow::anyhow!("cannot create the wasm engine: {e:#}"))?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(|e| anyhow::anyhow!("{e:#}"))?;
        Step::add_to_linker::<StepState, HasSelf<StepState>>(&mut linker, |s| s)
            .map_err(|e| anyhow::anyhow!("{e:#}"))?;
        let mut http_linker = linker.clone();
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut http_linker)
            .map_err(|e| anyhow::anyhow!("{e:#}"))?;
        let ticker_stop = Arc::new(AtomicBool::new(false));
        let watchdog = Arc::new(Watchdog::default());
        {
            let engine = engine.weak();
            let stop = ticker_stop.clone();
            let watchdog = watchdog.clone();
            std::thread::Builder::new()
                .name("sluice-epoch".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(TICK);
                        match engine.upgrade() {
                            Some(engine) => engine.increment_epoch(),
                            None => break,
                        }
                        watchdog.tick();
                    }
                })?;
        }
        Ok(Runtime {
            engine,
            linker,
            http_linker,
            cache,
            interruptible,
            loaded: Mutex::new(HashMap::new()),
            ticker_stop,
            watchdog,
        })
    }

    /// Compiles (or loads from the cache), links and describes a plugin. Loaded plugins are
    /// kept by digest for the life of the runtime.
    pub async fn load(&self, source: &PluginSource) -> Result<Arc<LoadedPlugin>, LoadError> {
        self.load_described(source, None).await
    }

    /// Like [`Runtime::load`], but with what `describe()` returns already known (recorded by
    /// the compile cache), so it is not called again. Compiling runs on a blocking thread:
    /// several plugins compile at once.
    pub async fn load_described(
        &self,
        source: &PluginSource,
        info: Option<PluginInfo>,
    ) -> Result<Arc<LoadedPlugin>, LoadError> {
        if let Some(p) = self.loaded.lock().expect("lock").get(&source.digest) {
            return Ok(p.clone());
        }
        let (engine, cache) = (self.engine.clone(), self.cache.clone());
        let (digest, bytes) = (source.digest.clone(), source.bytes.clone());
        let compiled = tokio::task::spawn_blocking(move || cache.load(&engine, &digest, &bytes))
            .await
            .map_err(|e| LoadError::Invalid(format!("the compiler thread failed: {e}")))?;
        let (component, cache) = compiled.map_err(|e| LoadError::Invalid(root_cause(&e)))?;
        let imports_http = component
            .component_type()
            .imports(&self.engine)
            .any(|(name, _)| name.starts_with("wasi:http/"));
        let linker = if imports_http {
            &self.http_linker
        } else {
            &self.linker
        };
        let pre = linker.instantiate_pre(&component).map_err(|e| {
            let unprovided = unprovided_imports(&self.engine, &component);
            if unprovided.is_empty() {
                LoadError::Link(root_cause(&e))
            } else {
                LoadError::Unprovided(unprovided.join(", "))
            }
        })?;
        let pre = StepPre::new(pre).map_err(|e| LoadError::WrongWorld(root_cause(&e)))?;
        let info = match info {
            Some(info) => info,
            None => self.describe(&pre).await?,
        };
        let plugin = Arc::new(LoadedPlugin {
            digest: source.digest.clone(),
            info,
            cache,
            imports_http,
            pre,
        });
        self.loaded
            .lock()
            .expect("lock")
            .insert(source.digest.clone(), plugin.clone());
        Ok(plugin)
    }

    async fn describe(&self, pre: &StepPre<StepState>) -> Result<PluginInfo, LoadError> {
        let sandbox = StepSandbox::new("describe");
        let log = Arc::new(Mutex::new(StepLog::new("describe", Arc::default(), None)));
        let mut store = self
            .store(
                "describe",
                &sandbox,
                DESCRIBE_LIMITS,
                Cancel::default(),
                Arc::default(),
                log.clone(),
                None,
            )
            .map_err(|e| LoadError::Describe(root_cause(&e)))?;
        let result = async {
            let instance = pre.instance_pre().instantiate_async(&mut store).await?;
            let step = Step::new(&mut store, &instance)?;
            let info = step.call_describe(&mut store).await?;
            // Optional: components built before `describe-options` do not export it.
            let specs = match instance.get_export_index(&mut store, None, "describe-options") {
                None => None,
                Some(index) => {
                    let describe_options = instance
                        .get_typed_func::<(), (Vec<convert::OptionSpec>,)>(&mut store, &index)?;
                    Some(describe_options.call_async(&mut store, ()).await?.0)
                }
            };
            wasmtime::Result::Ok((info, specs))
        };
        match tokio::time::timeout(DESCRIBE_LIMITS.timeout, result).await {
            Ok(Ok((info, specs))) => convert::info(info, specs).map_err(LoadError::Describe),
            Ok(Err(e)) => {
                let lines = log.lock().expect("log lock").finish();
                let stderr = stderr_text(&lines);
                Err(LoadError::Describe(
                    classify_trap(&e, store.data(), &stderr, DESCRIBE_LIMITS).message(),
                ))
            }
            Err(_) => Err(LoadError::Describe(format!(
                "did not return within {}s",
                DESCRIBE_LIMITS.timeout.as_secs()
            ))),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn store(
        &self,
        step: &str,
        sandbox: &StepSandbox,
        limits: Limits,
        cancel: Cancel,
        masker: Arc<Masker>,
        log: Arc<Mutex<StepLog>>,
        events: EventSink,
    ) -> wasmtime::Result<Store<StepState>> {
        let wasi = sandbox.wasi(LogPipe::new(log.clone(), 0), LogPipe::new(log.clone(), 1))?;
        let deadline = Deadline {
            at: Instant::now() + limits.timeout,
            cancel: cancel.flag.clone(),
        };
        let state = StepState::new(
            step,
            sandbox,
            wasi,
            limits.memory,
            deadline,
            masker,
            log,
            events,
        );
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limiter);
        if !self.interruptible {
            return Ok(store);
        }
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|mut ctx| {
            let state = ctx.data_mut();
            match state.deadline.check() {
                Some(why) => {
                    state.interrupted = Some(why);
                    Ok(UpdateDeadline::Interrupt)
                }
                None => Ok(UpdateDeadline::Yield(1)),
            }
        });
        Ok(store)
    }

    /// Runs a step once in a fresh store.
    pub async fn call(&self, plugin: &LoadedPlugin, call: Call<'_>) -> CallResult {
        let started = Instant::now();
        let log = Arc::new(Mutex::new(StepLog::new(
            call.step,
            call.masker.clone(),
            call.events.clone(),
        )));
        let store = self.store(
            call.step,
            call.sandbox,
            call.limits,
            call.cancel.clone(),
            call.masker.clone(),
            log.clone(),
            call.events.clone(),
        );
        if plugin.imports_http && call.sandbox.net().is_none() {
            return CallResult {
                end: CallEnd::Setup(format!(
                    "plugin `{}` imports wasi:http, but the step has no `allow.net` grant: add `net = [\"<origin>\"]` to its `allow` table with each origin it must reach, or build the plugin without wasi:http",
                    plugin.info.name
                )),
                log: Vec::new(),
                duration: started.elapsed(),
                egress: Default::default(),
                volatile: None,
            };
        }
        let mut store = match store {
            Ok(s) => s,
            Err(e) => {
                return CallResult {
                    end: CallEnd::Setup(root_cause(&e)),
                    log: Vec::new(),
                    duration: started.elapsed(),
                    egress: Default::default(),
                    volatile: None,
                };
            }
        };
        let invocation = bindings::sluice::step::types::Invocation {
            step: call.step.to_string(),
            config: call.config,
            inputs: call
                .inputs
                .iter()
                .map(|(n, v)| (n.clone(), convert::input_value(v)))
                .collect(),
        };
        let limits = call.limits;
        let watched = self.watchdog.watch(store.data().deadline.clone());
        let end = {
            let run = watched.track(async {
                let step = plugin.pre.instantiate_async(&mut store).await?;
                step.call_run(&mut store, &invocation).await
            });
            // The epoch stops busy guests; this timer stops guests blocked in host calls.
            let grace = limits.timeout + 4 * TICK;
            tokio::select! {
                r = tokio::time::timeout(grace, run) => r.ok(),
                () = call.cancel.wait() => {
                    // Give the epoch a chance to stop a busy guest cleanly; a blocked one is dropped.
                    None
                }
            }
        };
        let lines = log.lock().expect("log lock").finish();
        let egress = store.data().egress.lock().expect("egress lock").finish();
        let volatile = store.data().volatile.clone();
        let stderr_text = stderr_text(&lines);
        let end = match end {
            Some(Ok(Ok(outcome))) => CallEnd::Passed(guest_outcome(outcome, &call.masker)),
            Some(Ok(Err(failure))) => {
                use bindings::sluice::step::types::Failure;
                match failure {
                    Failure::Gate(outcome) => CallEnd::Gate(guest_outcome(outcome, &call.masker)),
                    Failure::Invalid(m) => {
                        CallEnd::Invalid(convert::bounded(m, convert::MAX_SUMMARY, &call.masker))
                    }
                    Failure::Error(m) => {
                        CallEnd::Error(convert::bounded(m, convert::MAX_SUMMARY, &call.masker))
                    }
                }
            }
            Some(Err(e)) => classify_trap(&e, store.data(), &stderr_text, limits),
            None if call.cancel.is_cancelled() => CallEnd::Cancelled,
            None => CallEnd::Timeout(limits.timeout),
        };
        drop(store);
        CallResult {
            end,
            log: lines,
            duration: started.elapsed(),
            egress,
            volatile,
        }
    }
}

impl CallEnd {
    /// One line saying how the call ended, for errors.
    pub fn message(&self) -> String {
        match self {
            CallEnd::Passed(_) => "passed".into(),
            CallEnd::Gate(o) => {
                if o.summary.is_empty() {
                    "failed its gate".into()
                } else {
                    o.summary.clone()
                }
            }
            CallEnd::Invalid(m) => format!("invalid configuration: {m}"),
            CallEnd::Error(m) => m.clone(),
            CallEnd::Timeout(t) => format!(
                "timed out after {} (the step's timeout)",
                crate::manifest::types::format_duration(*t)
            ),
            CallEnd::Cancelled => "cancelled".into(),
            CallEnd::OutOfMemory { limit, asked } => format!(
                "exceeded its memory limit of {} (asked for {})",
                crate::manifest::ByteSize(*limit),
                human_bytes(*asked)
            ),
            CallEnd::Panic(m) => format!("plugin panicked: {m}"),
            CallEnd::Trap(m) => format!("plugin trapped: {m}"),
            CallEnd::Setup(m) => format!("could not set up the step's sandbox: {m}"),
        }
    }
}

fn human_bytes(b: u64) -> String {
    if b >= 1 << 30 {
        format!("{:.1}GiB", b as f64 / (1u64 << 30) as f64)
    } else {
        format!("{:.1}MiB", b as f64 / (1u64 << 20) as f64)
    }
}

fn guest_outcome(o: bindings::sluice::step::types::Outcome, masker: &Masker) -> GuestOutcome {
    GuestOutcome {
        outputs: o
            .outputs
            .into_iter()
            .map(|(n, v)| (n, convert::guest_value(v)))
            .collect(),
        findings: o
            .findings
            .into_iter()
            .map(|f| convert::finding(f, masker))
            .collect(),
        summary: convert::bounded(o.summary, convert::MAX_SUMMARY, masker),
    }
}

fn classify_trap(e: &wasmtime::Error, state: &StepState, stderr: &str, limits: Limits) -> CallEnd {
    match state.interrupted {
        Some(Interrupt::Timeout) => return CallEnd::Timeout(limits.timeout),
        Some(Interrupt::Cancelled) => return CallEnd::Cancelled,
        None => {}
    }
    if let Some(asked) = state.limiter.exceeded {
        return CallEnd::OutOfMemory {
            limit: limits.memory,
            asked,
        };
    }
    if let Some(panic) = panic_message(stderr) {
        return CallEnd::Panic(panic);
    }
    CallEnd::Trap(root_cause(e))
}

/// What the guest printed on stderr, from its log.
fn stderr_text(lines: &[LogLine]) -> String {
    let mut text = String::new();
    for l in lines.iter().filter(|l| l.level == LogLevel::Stderr) {
        text.push_str(&l.message);
        text.push('\n');
    }
    text
}

/// The interface packages sluice links for every step.
const PROVIDED: &[&str] = &[
    "wasi:cli/",
    "wasi:io/",
    "wasi:clocks/",
    "wasi:random/",
    "wasi:filesystem/",
    "wasi:sockets/",
    "wasi:http/",
    "sluice:step/",
];

/// The component's imports that no provided package covers, named as the component does.
fn unprovided_imports(engine: &Engine, component: &wasmtime::component::Component) -> Vec<String> {
    component
        .component_type()
        .imports(engine)
        .map(|(name, _)| name.to_string())
        .filter(|name| !PROVIDED.iter().any(|p| name.starts_with(p)))
        .map(|name| format!("`{name}`"))
        .collect()
}

/// The message of a Rust panic as printed by the guest's std.
fn panic_message(stderr: &str) -> Option<String> {
    let mut lines = stderr.lines().skip_while(|l| !l.contains("panicked at"));
    let at = lines.next()?;
    let location = at
        .split("panicked at ")
        .nth(1)
        .unwrap_or("")
        .trim_end_matches(':');
    let message: Vec<&str> = lines.take_while(|l| !l.starts_with("note:")).collect();
    Some(format!("{} (at {location})", message.join(" ").trim()))
}

/// The innermost cause of an error chain (a trap's top-level message says nothing).
fn root_cause(e: &wasmtime::Error) -> String {
    let chain: Vec<String> = e.chain().map(|c| c.to_string()).collect();
    let meaningful: Vec<&String> = chain
        .iter()
        .filter(|m| !m.starts_with("error while executing at wasm backtrace"))
        .collect();
    match meaningful.last() {
        Some(m) => m.lines().next().unwrap_or_default().to_string(),
        None => chain.first().cloned().unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extracts_panic_messages() {
        let stderr = "\nthread '<unnamed>' panicked at src/lib.rs:120:39:\nboom here\nnote: run with `RUST_BACKTRACE=1`\n";
        assert_eq!(
            panic_message(stderr).unwrap(),
            "boom here (at src/lib.rs:120:39)"
        );
        assert_eq!(panic_message("all fine"), None);
    }
}
