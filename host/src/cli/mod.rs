//! The `sluice` command.

pub mod exit_codes;
mod keys;
mod views;

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};

use crate::exec::{self, RunOptions};
use crate::manifest::{self, Diagnostic, LoadError, Manifest, StepId};
use crate::plan::{self, Plan, PluginMeta};
use crate::plugin::{self, cache::CompileCache};
use crate::runtime::{Cancel, LoadedPlugin, Runtime};
use crate::sandbox::secrets::{Masked, MaskingWriter, SecretSource};

/// Sluice runs CI/CD pipelines in which every step is a sandboxed WebAssembly component.
///
/// Exit codes: 0 passed, 1 a step failed, 2 the pipeline or the invocation is invalid,
/// 3 sluice itself failed, 130 interrupted.
#[derive(Debug, Parser)]
#[command(
    name = "sluice",
    version,
    about,
    long_about = None,
    max_term_width = 100,
    after_help = "Exit codes: 0 passed, 1 a step failed, 2 the pipeline or the invocation is invalid, \
                  3 sluice itself failed, 130 interrupted.\n\
                  Environment: SLUICE_CACHE_DIR (where compiled components are cached), \
                  SLUICE_LOG (sluice's own tracing, e.g. `debug`); secrets come from the environment \
                  and `--secrets-file`."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs a pipeline.
    Run(RunArgs),
    /// Checks a pipeline without running it: the manifest, its plugins, the wiring and the grants.
    Validate(ManifestArgs),
    /// Shows exactly what each step may touch: plugin digest, every grant, wanted vs granted.
    Audit(ManifestArgs),
    /// Lists the built-in plugins with what they take, return and need.
    Plugins(JsonArg),
    /// Signing keys for the `sign` and `verify` steps (cosign's formats).
    #[command(subcommand)]
    Keys(keys::KeysCommand),
}

#[derive(Debug, Args)]
struct ManifestArgs {
    /// The pipeline manifest.
    #[arg(default_value = "sluice.toml")]
    manifest: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Do not read or write the compiled-component cache (`.sluice/cache`).
    #[arg(long)]
    no_cache: bool,
}

#[derive(Debug, Args)]
struct JsonArg {
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct RunArgs {
    #[command(flatten)]
    manifest: ManifestArgs,
    /// How many steps may run at once [default: the number of CPUs].
    #[arg(long, short = 'j', value_parser = clap::value_parser!(u16).range(1..))]
    jobs: Option<u16>,
    /// Stop every step at the first one that does not pass.
    #[arg(long)]
    fail_fast: bool,
    /// A file of `NAME=value` lines to read secrets from (before the environment).
    #[arg(long, value_name = "FILE")]
    secrets_file: Option<PathBuf>,
    /// How many findings of each step the summary lists, the most severe first (0: all).
    /// `--json`, the run record and the `sarif` outputs always hold every one.
    #[arg(long, value_name = "N", default_value_t = crate::report::DEFAULT_MAX_FINDINGS)]
    max_findings: usize,
}

/// Parses the arguments, runs the command and returns the process exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SLUICE_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let jobs = match &cli.command {
        Command::Run(args) => args.jobs.map_or_else(default_jobs, usize::from),
        _ => 1,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(jobs + 1)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fatal(format!("cannot start the async runtime: {e}")),
    };
    let code = runtime.block_on(dispatch(cli, jobs));
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    code
}

fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

fn fatal(message: String) -> i32 {
    eprintln!("error: {message}");
    exit_codes::HOST_ERROR
}

async fn dispatch(cli: Cli, jobs: usize) -> i32 {
    match cli.command {
        Command::Run(args) => run(args, jobs).await,
        Command::Validate(args) => validate(args).await,
        Command::Audit(args) => audit(args).await,
        Command::Plugins(args) => plugins(args).await,
        Command::Keys(command) => keys::run(command),
    }
}

/// Overrides where compiled components are cached (default: `.sluice/cache` beside the
/// manifest), e.g. to share one cache between workspaces or keep it in a CI cache.
pub const CACHE_DIR_VAR: &str = "SLUICE_CACHE_DIR";

/// A pipeline ready to run: its manifest, plan and loaded plugins.
struct Prepared {
    manifest: Manifest,
    plan: Plan,
    plugins: HashMap<String, Arc<LoadedPlugin>>,
    runtime: Arc<Runtime>,
}

/// Loads, resolves, compiles, describes and plans. Prints warnings; on failure prints every
/// problem and returns the exit code.
async fn prepare(args: &ManifestArgs) -> Result<Prepared, i32> {
    let (manifest, mut diags) = match manifest::load(&args.manifest) {
        Ok(m) => m,
        Err(LoadError::Read { path, source }) => {
            eprintln!("error: cannot read {}: {source}", path.display());
            if source.kind() == std::io::ErrorKind::NotFound {
                eprintln!(
                    "help: pass the manifest's path, e.g. `sluice run examples/go-service/sluice.toml`"
                );
            }
            return Err(exit_codes::INVALID);
        }
        Err(LoadError::Invalid {
            path,
            text,
            diagnostics,
        }) => {
            eprint!("{}", diagnostics.render(&path, &text));
            return Err(exit_codes::INVALID);
        }
    };
    let cache = match std::env::var_os(CACHE_DIR_VAR) {
        _ if args.no_cache => CompileCache::disabled(),
        Some(dir) if !dir.is_empty() => CompileCache::at(dir),
        _ => CompileCache::at(exec::state_dir(&manifest).join("cache")),
    };
    let runtime = match Runtime::new(cache) {
        Ok(r) => Arc::new(r),
        Err(e) => return Err(fatal(format!("{e:#}"))),
    };
    let mut metas: HashMap<StepId, PluginMeta> = HashMap::new();
    let mut plugins: HashMap<String, Arc<LoadedPlugin>> = HashMap::new();
    for (id, step) in &manifest.steps {
        let uses = step.uses.get_ref();
        let source = match plugin::resolve(&manifest.dir, uses) {
            Ok(s) => s,
            Err(e) => {
                diags.push(
                    Diagnostic::error(e.to_string(), Some(step.uses.span()))
                        .step(id.as_str())
                        .label("cannot resolve")
                        .help(e.help()),
                );
                continue;
            }
        };
        match runtime.load(&source).await {
            Ok(loaded) => {
                metas.insert(
                    id.clone(),
                    PluginMeta {
                        digest: loaded.digest.clone(),
                        info: loaded.info.clone(),
                    },
                );
                plugins.insert(loaded.digest.clone(), loaded);
            }
            Err(e) => diags.push(
                Diagnostic::error(format!("plugin `{uses}` {e}"), Some(step.uses.span()))
                    .step(id.as_str())
                    .label("this plugin")
                    .help(e.help()),
            ),
        }
    }
    let plan = plan::build(&manifest, &metas, &mut diags);
    diags.sort();
    if diags.has_errors() || plan.is_none() {
        eprint!("{}", diags.render(&manifest.path, &manifest.source));
        return Err(exit_codes::INVALID);
    }
    if !diags.0.is_empty() {
        eprint!("{}", diags.render(&manifest.path, &manifest.source));
    }
    Ok(Prepared {
        manifest,
        plan: plan.expect("checked above"),
        plugins,
        runtime,
    })
}

async fn run(args: RunArgs, jobs: usize) -> i32 {
    let mut secrets = SecretSource::from_env();
    if let Some(file) = &args.secrets_file {
        secrets = match secrets.with_file(file) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {e}");
                return exit_codes::INVALID;
            }
        };
    }
    let prepared = match prepare(&args.manifest).await {
        Ok(p) => p,
        Err(code) => return code,
    };
    let cancel = Cancel::default();
    {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!(
                    "\ninterrupted: stopping the running steps (press Ctrl-C again to quit at once)"
                );
                cancel.cancel();
                if tokio::signal::ctrl_c().await.is_ok() {
                    std::process::exit(exit_codes::INTERRUPTED);
                }
            }
        });
    }
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let console = tokio::spawn(crate::report::live(rx, std::io::stderr().is_terminal()));
    let run_id = exec::new_run_id();
    let report = exec::run(
        &prepared.manifest,
        &prepared.plan,
        &prepared.plugins,
        prepared.runtime.clone(),
        RunOptions {
            jobs,
            fail_fast: args.fail_fast,
            secrets,
            events: Some(tx),
            cancel,
            run_id,
        },
    )
    .await;
    let _ = console.await;
    // The record (tens of megabytes for a big run) is written while the summary is printed.
    let state_dir = exec::state_dir(&prepared.manifest);
    let record = std::thread::scope(|scope| {
        let record = scope.spawn(|| crate::report::record::write(&state_dir, &report));
        let mut out = MaskingWriter::new(&report.masker, std::io::stdout().lock());
        if args.manifest.json {
            let _ = serde_json::to_writer_pretty(&mut out, &Masked(&report, &report.masker));
            let _ = writeln!(out);
        } else {
            let _ = write!(
                out,
                "{}",
                crate::report::summary(
                    &report,
                    (args.max_findings > 0).then_some(args.max_findings),
                )
            );
        }
        let _ = out.finish();
        record.join().expect("the record writer does not panic")
    });
    match &record {
        Ok(path) => eprintln!("run record: {}", views::relative(path)),
        Err(e) => eprintln!("warning: cannot write the run record: {e}"),
    }
    if report.cancelled {
        exit_codes::INTERRUPTED
    } else if report.passed() {
        exit_codes::PASSED
    } else {
        exit_codes::STEP_FAILED
    }
}

async fn validate(args: ManifestArgs) -> i32 {
    let prepared = match prepare(&args).await {
        Ok(p) => p,
        Err(code) => return code,
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        let _ = writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&views::plan_json(&prepared.manifest, &prepared.plan))
                .expect("serializes")
        );
    } else {
        let _ = write!(
            out,
            "{}",
            views::plan_text(&prepared.manifest, &prepared.plan)
        );
    }
    exit_codes::PASSED
}

async fn audit(args: ManifestArgs) -> i32 {
    let prepared = match prepare(&args).await {
        Ok(p) => p,
        Err(code) => return code,
    };
    let audit = views::audit(&prepared.manifest, &prepared.plan);
    let mut out = std::io::stdout().lock();
    if args.json {
        let _ = writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&audit).expect("serializes")
        );
    } else {
        let _ = write!(out, "{}", views::audit_text(&audit));
    }
    exit_codes::PASSED
}

async fn plugins(args: JsonArg) -> i32 {
    let runtime = match Runtime::new(CompileCache::disabled()) {
        Ok(r) => r,
        Err(e) => return fatal(format!("{e:#}")),
    };
    let mut infos = Vec::new();
    for builtin in plugin::BUILTINS {
        let source = plugin::resolve(
            std::path::Path::new("."),
            &manifest::PluginRef::Builtin(builtin.name.into()),
        )
        .expect("built-ins resolve");
        match runtime.load(&source).await {
            Ok(p) => infos.push((builtin.name, p.digest.clone(), p.info.clone())),
            Err(e) => return fatal(format!("built-in plugin `{}` {e}", builtin.name)),
        }
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        let list: Vec<_> = infos.iter().map(|(uses, digest, info)| serde_json::json!({ "uses": uses, "digest": digest, "info": info })).collect();
        let _ = writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&list).expect("serializes")
        );
    } else {
        let _ = write!(out, "{}", views::plugins_text(&infos));
    }
    exit_codes::PASSED
}
