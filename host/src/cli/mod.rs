//! The `sluice` command.

pub mod exit_codes;
mod init;
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
use crate::plugin::loader::Loader;
use crate::plugin::{self, PluginSource, cache::CompileCache};
use crate::runtime::Cancel;
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
                  Environment: SLUICE_CACHE_DIR (where compiled components are cached; default \
                  $XDG_CACHE_HOME/sluice or ~/.cache/sluice), \
                  SLUICE_LOG (sluice's own tracing, e.g. `debug`), SLUICE_PROGRESS_INTERVAL (how \
                  often a step's progress is printed when stderr is not a terminal; default 5s); \
                  secrets come from the environment and `--secrets-file`."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Writes a first sluice.toml for the Go module in a directory: the built-in steps that
    /// fit, each granted the least it needs. Never overwrites.
    Init(InitArgs),
    /// Runs a pipeline.
    Run(RunArgs),
    /// Checks a pipeline without running it: the manifest, its plugins, the wiring and the grants.
    Validate(ManifestArgs),
    /// Shows exactly what each step may touch: plugin digest, every grant, wanted vs granted.
    Audit(ManifestArgs),
    /// Lists the built-in plugins with what they take, return and need; `--describe FILE`
    /// shows and checks a plugin you built.
    Plugins(PluginsArgs),
    /// The step-result cache of a workspace: its size, and `gc` to trim it.
    Cache(CacheArgs),
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
    /// Do not read or write the compiled-component cache (see SLUICE_CACHE_DIR).
    #[arg(long)]
    no_cache: bool,
}

#[derive(Debug, Args)]
struct InitArgs {
    /// The Go module's directory (where go.mod is).
    #[arg(default_value = ".")]
    dir: PathBuf,
}

#[derive(Debug, Args)]
struct PluginsArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Compile every built-in plugin into the compile cache now (in parallel), e.g. when
    /// building a CI image, so that no run pays for it.
    #[arg(long, conflicts_with = "describe")]
    precompile: bool,
    /// Show what a built component's `describe()` returns (name, ports, wants, options,
    /// rules) and check it the way a pipeline would, before any manifest uses it.
    #[arg(long, value_name = "FILE.wasm")]
    describe: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct CacheArgs {
    /// The pipeline manifest whose workspace's cache to show.
    #[arg(long, short = 'f', default_value = "sluice.toml", global = true)]
    manifest: PathBuf,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Option<CacheCommand>,
}

#[derive(Debug, Subcommand)]
enum CacheCommand {
    /// Removes step results and stored artifacts that recent runs did not use.
    Gc(GcArgs),
}

#[derive(Debug, Args)]
struct GcArgs {
    /// Keep what the last N runs used; forget older runs.
    #[arg(long, value_name = "N")]
    keep_runs: Option<usize>,
    /// Then keep the most recently used results (with their artifacts) within this size,
    /// e.g. `500MiB`.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    max_size: Option<u64>,
}

fn parse_size(s: &str) -> Result<u64, String> {
    crate::manifest::ByteSize::try_from(s.to_string()).map(|b| b.0)
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
    /// Run every step, replaying nothing from the step-result cache (and recording nothing).
    #[arg(long)]
    no_step_cache: bool,
    /// Say for each step why the step cache replayed it or ran it (which part of its key
    /// changed).
    #[arg(long)]
    explain_cache: bool,
    /// How many findings of each step the summary lists, the most severe first (0: all).
    /// `--json`, the run record and the `sarif` outputs always hold every one.
    #[arg(long, value_name = "N", default_value_t = crate::report::DEFAULT_MAX_FINDINGS)]
    max_findings: usize,
    /// Also report for a CI platform: `github` prints workflow commands (an annotation per
    /// finding, at most --max-findings of each step; each step's log in a group) and appends a
    /// job summary to $GITHUB_STEP_SUMMARY when set; `gitlab` writes a Code Quality report,
    /// gl-code-quality-report.json, in the current directory.
    #[arg(long, value_name = "PLATFORM")]
    annotations: Option<crate::report::annotations::Platform>,
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
        Command::Init(args) => init_command(args),
        Command::Run(args) => run(args, jobs).await,
        Command::Validate(args) => validate(args).await,
        Command::Audit(args) => audit(args).await,
        Command::Plugins(args) => plugins(args).await,
        Command::Cache(args) => cache(args),
        Command::Keys(command) => keys::run(command),
    }
}

/// Overrides where compiled components are cached (default: `$XDG_CACHE_HOME/sluice`, else
/// `~/.cache/sluice`, shared by every workspace of the user), e.g. to keep it in a CI cache.
pub const CACHE_DIR_VAR: &str = "SLUICE_CACHE_DIR";

/// Where compiled components are cached: `SLUICE_CACHE_DIR`, else the user's cache
/// directory, else (no home) `fallback`.
pub fn compile_cache_dir(fallback: &std::path::Path) -> PathBuf {
    let var = |name: &str| {
        std::env::var_os(name)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    if let Some(dir) = std::env::var_os(CACHE_DIR_VAR).filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Some(xdg) = var("XDG_CACHE_HOME") {
        return xdg.join("sluice");
    }
    if let Some(home) = var("HOME") {
        return home.join(".cache").join("sluice");
    }
    fallback.to_path_buf()
}

/// A pipeline ready to run: its manifest, plan and plugins (loaded when a step needs them).
struct Prepared {
    manifest: Manifest,
    plan: Plan,
    loader: Arc<Loader>,
    sources: HashMap<String, PluginSource>,
}

/// What `describe()` returns for each source, from the compile cache or by compiling —
/// the ones not cached at once, in parallel.
async fn describe_all(
    loader: &Arc<Loader>,
    sources: impl IntoIterator<Item = PluginSource>,
) -> HashMap<String, Result<crate::types::PluginInfo, crate::runtime::LoadError>> {
    let mut tasks = tokio::task::JoinSet::new();
    let mut out = HashMap::new();
    for source in sources {
        if out.contains_key(&source.digest) {
            continue;
        }
        match loader.cache().info(&source.digest) {
            Some(info) => {
                out.insert(source.digest.clone(), Ok(info));
            }
            None => {
                out.insert(
                    source.digest.clone(),
                    Err(crate::runtime::LoadError::Engine("not loaded".into())),
                );
                let loader = loader.clone();
                tasks.spawn(async move {
                    let info = loader.info(&source).await;
                    (source.digest, info)
                });
            }
        }
    }
    while let Some(joined) = tasks.join_next().await {
        let (digest, info) = joined.expect("a describe task does not panic");
        out.insert(digest, info);
    }
    out
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
    let cache = if args.no_cache {
        CompileCache::disabled()
    } else {
        let dir = compile_cache_dir(&exec::state_dir(&manifest).join("cache"));
        crate::sandbox::exec::remember_digests_in(dir.join("programs"));
        CompileCache::at(dir)
    };
    let loader = Arc::new(Loader::new(cache));
    let mut resolved: Vec<(StepId, PluginSource)> = Vec::new();
    for (id, step) in &manifest.steps {
        match plugin::resolve(&manifest.dir, step.uses.get_ref()) {
            Ok(s) => resolved.push((id.clone(), s)),
            Err(e) => {
                diags.push(
                    Diagnostic::error(e.to_string(), Some(step.uses.span()))
                        .step(id.as_str())
                        .label("cannot resolve")
                        .help(e.help()),
                );
            }
        }
    }
    let infos = describe_all(&loader, resolved.iter().map(|(_, s)| s.clone())).await;
    let mut metas: HashMap<StepId, PluginMeta> = HashMap::new();
    let mut sources: HashMap<String, PluginSource> = HashMap::new();
    for (id, source) in resolved {
        let step = &manifest.steps[&id];
        let uses = step.uses.get_ref();
        match &infos[&source.digest] {
            Ok(info) => {
                metas.insert(
                    id.clone(),
                    PluginMeta {
                        digest: source.digest.clone(),
                        info: info.clone(),
                    },
                );
                sources.insert(source.digest.clone(), source);
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
        loader,
        sources,
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
    let progress_every = match std::env::var(crate::report::PROGRESS_INTERVAL_VAR) {
        Ok(text) => match humantime::parse_duration(&text) {
            Ok(d) => d,
            Err(e) => {
                eprintln!(
                    "error: {}={text:?} is not a duration ({e}): write e.g. `10s`",
                    crate::report::PROGRESS_INTERVAL_VAR
                );
                return exit_codes::INVALID;
            }
        },
        Err(_) => crate::report::PROGRESS_INTERVAL,
    };
    let console = tokio::spawn(crate::report::live(
        rx,
        std::io::stderr().is_terminal(),
        progress_every,
    ));
    let run_id = exec::new_run_id();
    let report = exec::run(
        &prepared.manifest,
        &prepared.plan,
        prepared.loader.clone(),
        prepared.sources.clone(),
        RunOptions {
            jobs,
            fail_fast: args.fail_fast,
            secrets,
            events: Some(tx),
            cancel,
            run_id,
            step_cache: !args.no_step_cache,
        },
    )
    .await;
    let _ = console.await;
    // The record (tens of megabytes for a big run) is written while the summary is printed.
    let state_dir = exec::state_dir(&prepared.manifest);
    let context = crate::report::html::Context {
        deps: prepared
            .plan
            .steps
            .iter()
            .map(|(id, p)| {
                (
                    id.to_string(),
                    p.deps.iter().map(|d| d.to_string()).collect(),
                )
            })
            .collect(),
        grants: views::audit(&prepared.manifest, &prepared.plan)
            .step_texts()
            .into_iter()
            .collect(),
    };
    let record = std::thread::scope(|scope| {
        let record = scope.spawn(|| {
            let started = std::time::Instant::now();
            let json = crate::report::record::write(&state_dir, &report)?;
            let ms = |since: std::time::Instant| since.elapsed().as_secs_f64() * 1000.0;
            tracing::debug!("run record written in {:.1} ms", ms(started));
            let started = std::time::Instant::now();
            let html = crate::report::html::write(
                json.parent().expect("run.json is in the run's directory"),
                &report,
                &context,
            )?;
            tracing::debug!("HTML report written in {:.1} ms", ms(started));
            std::io::Result::Ok((json, html))
        });
        let mut out = MaskingWriter::new(&report.masker, std::io::stdout().lock());
        if args.manifest.json {
            let _ = serde_json::to_writer_pretty(&mut out, &Masked(&report, &report.masker));
            let _ = writeln!(out);
        } else {
            if args.explain_cache {
                let _ = write!(out, "{}", crate::report::explain_cache(&report));
            }
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
    let html_path = record.as_ref().ok().map(|(_, html)| views::relative(html));
    if let Some(platform) = args.annotations {
        annotate(
            platform,
            &report,
            &prepared.manifest.dir,
            (args.max_findings > 0).then_some(args.max_findings),
            html_path.as_deref(),
        );
    }
    match &record {
        Ok((json, html)) => {
            eprintln!("run record: {}", views::relative(json));
            eprintln!("report: {}", report_link(html));
        }
        Err(e) => eprintln!("warning: cannot write the run record: {e}"),
    }
    // The process exits next: tearing down the engine (its instance pools, compiled code and
    // linker) would only unmap what the kernel unmaps at exit anyway.
    std::mem::forget(prepared);
    if report.cancelled {
        exit_codes::INTERRUPTED
    } else if report.passed() {
        exit_codes::PASSED
    } else {
        exit_codes::STEP_FAILED
    }
}

fn init_command(args: InitArgs) -> i32 {
    let go = init::on_path("go");
    match init::write(&args.dir, std::path::Path::new("sluice.toml"), go) {
        Ok((path, module)) => {
            let mut steps = vec!["module", "lint", "sec"];
            if go {
                steps.push("test");
            }
            let builds = if !go || module.mains.is_empty() {
                String::new()
            } else {
                format!(", and a build of {}", module.mains.join(", "))
            };
            println!(
                "wrote {}: steps {}{builds}",
                views::relative(&path),
                steps.join(", ")
            );
            if !go {
                println!(
                    "go is not on PATH: the test and build steps are written commented out (install Go, then uncomment them)"
                );
            }
            let manifest_arg = if args.dir == std::path::Path::new(".") {
                String::new()
            } else {
                format!(" {}", views::relative(&path))
            };
            println!(
                "next: `sluice validate{manifest_arg}` checks it, `sluice audit{manifest_arg}` shows each step's grants, `sluice run{manifest_arg}` runs it"
            );
            exit_codes::PASSED
        }
        Err(e @ init::InitError::Io(_)) => {
            eprintln!("error: {e}");
            exit_codes::HOST_ERROR
        }
        Err(e) => {
            eprintln!("error: {e}");
            exit_codes::INVALID
        }
    }
}

/// Reports the run for a CI platform (`--annotations`).
fn annotate(
    platform: crate::report::annotations::Platform,
    report: &exec::RunReport,
    workspace: &std::path::Path,
    max_findings: Option<usize>,
    html: Option<&str>,
) {
    use crate::report::annotations::{self as a, Platform};
    let prefix = a::workspace_prefix(workspace);
    match platform {
        Platform::Github => {
            let mut out = MaskingWriter::new(&report.masker, std::io::stdout().lock());
            let _ = write!(out, "{}", a::github(report, &prefix, max_findings));
            let _ = out.finish();
            if let Some(file) = std::env::var_os(a::GITHUB_STEP_SUMMARY).filter(|f| !f.is_empty()) {
                let summary = a::github_summary(report, &prefix, max_findings, html);
                let written = std::fs::OpenOptions::new()
                    .append(true)
                    .create(true)
                    .open(&file)
                    .and_then(|mut f| {
                        let mut out = MaskingWriter::new(&report.masker, &mut f);
                        write!(out, "{summary}")?;
                        out.finish().map(|_| ())
                    });
                if let Err(e) = written {
                    eprintln!(
                        "warning: cannot append the job summary to {} (${}): {e}",
                        std::path::Path::new(&file).display(),
                        a::GITHUB_STEP_SUMMARY
                    );
                }
            }
        }
        Platform::Gitlab => {
            let path = std::path::Path::new(a::CODE_QUALITY_FILE);
            let mut count = 0;
            let written = crate::report::record::write_atomic_with(path, |out| {
                let mut out = MaskingWriter::new(&report.masker, out);
                count = a::gitlab(report, &prefix, &mut out)?;
                out.finish().map(|_| ())
            });
            match written {
                Ok(()) => eprintln!(
                    "code quality report: {} ({count} finding{})",
                    a::CODE_QUALITY_FILE,
                    if count == 1 { "" } else { "s" }
                ),
                Err(e) => eprintln!(
                    "warning: cannot write the code quality report {}: {e}",
                    a::CODE_QUALITY_FILE
                ),
            }
        }
    }
}

/// The report's path, on a terminal also a link (OSC 8) to open it with.
fn report_link(path: &std::path::Path) -> String {
    let shown = views::relative(path);
    if !std::io::stderr().is_terminal() {
        return shown;
    }
    match std::path::absolute(path) {
        Ok(abs) => {
            // Percent-encode what a URL cannot hold as is (the path is the user's, not a step's).
            let mut url = String::from("file://");
            for b in abs.as_os_str().as_encoded_bytes() {
                match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' | b'~' => {
                        url.push(char::from(*b))
                    }
                    b => url.push_str(&format!("%{b:02X}")),
                }
            }
            format!("\x1b]8;;{url}\x1b\\{shown}\x1b]8;;\x1b\\")
        }
        Err(_) => shown,
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

async fn plugins(args: PluginsArgs) -> i32 {
    let cache = CompileCache::at(compile_cache_dir(std::path::Path::new(".sluice/cache")));
    let loader = Arc::new(Loader::new(cache.clone()));
    if let Some(file) = &args.describe {
        return describe_file(&loader, file, args.json).await;
    }
    let sources: Vec<PluginSource> = plugin::BUILTINS
        .iter()
        .map(|b| {
            plugin::resolve(
                std::path::Path::new("."),
                &manifest::PluginRef::Builtin(b.name.into()),
            )
            .expect("built-ins resolve")
        })
        .collect();
    if args.precompile {
        return precompile(&loader, sources).await;
    }
    let mut described = describe_all(&loader, sources.iter().cloned()).await;
    let mut infos = Vec::new();
    for (builtin, source) in plugin::BUILTINS.iter().zip(&sources) {
        match described.remove(&source.digest).expect("described") {
            Ok(info) => infos.push((builtin.name, source.digest.clone(), info)),
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

/// `sluice plugins --describe FILE`: a built component, compiled (or from the compile cache),
/// described and checked.
async fn describe_file(loader: &Arc<Loader>, file: &std::path::Path, json: bool) -> i32 {
    let shown = file.display().to_string();
    let source = match plugin::resolve(
        std::path::Path::new("."),
        &manifest::PluginRef::File(file.to_path_buf()),
    ) {
        Ok(source) => source,
        Err(e) => {
            eprintln!("error: {e}");
            return exit_codes::INVALID;
        }
    };
    let info = match describe_all(loader, [source.clone()])
        .await
        .remove(&source.digest)
        .expect("described")
    {
        Ok(info) => info,
        Err(e) => {
            eprintln!("error: plugin `{shown}` {e}");
            return exit_codes::INVALID;
        }
    };
    let problems = crate::plan::check_info(&info);
    let mut out = std::io::stdout().lock();
    if json {
        let doc = serde_json::json!({ "file": shown, "digest": source.digest, "info": info, "problems": problems });
        let _ = writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&doc).expect("serializes")
        );
    } else {
        let _ = write!(
            out,
            "{}",
            views::plugins_text(&[(shown.as_str(), source.digest.clone(), info.clone())])
        );
        for (i, r) in info.rules.iter().enumerate() {
            let label = if i == 0 { "rules" } else { "" };
            let _ = writeln!(
                out,
                "  {label:<8} {} ({}): {}",
                crate::report::terminal::clean(&r.id),
                r.severity.name(),
                crate::report::terminal::clean(&r.summary)
            );
        }
        if problems.is_empty() {
            let _ = writeln!(
                out,
                "  checks   ok: nothing in it that a pipeline would reject"
            );
        } else {
            for (i, p) in problems.iter().enumerate() {
                let label = if i == 0 { "problems" } else { "" };
                let _ = writeln!(out, "  {label:<8} {}", crate::report::terminal::clean(p));
            }
        }
    }
    if problems.is_empty() {
        exit_codes::PASSED
    } else {
        exit_codes::INVALID
    }
}

/// `sluice plugins --precompile`: every built-in compiled (in parallel) and described into
/// the compile cache.
async fn precompile(loader: &Arc<Loader>, sources: Vec<PluginSource>) -> i32 {
    let started = std::time::Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (builtin, source) in plugin::BUILTINS.iter().zip(sources) {
        let loader = loader.clone();
        tasks.spawn(async move {
            let loaded = loader.load(&source).await;
            if let Ok(p) = &loaded {
                loader.cache().save_info(&source.digest, &p.info);
            }
            (builtin.name, loaded)
        });
    }
    let (mut compiled, mut present) = (0, 0);
    while let Some(joined) = tasks.join_next().await {
        match joined.expect("a compile task does not panic") {
            (_, Ok(p)) if p.cache == crate::plugin::cache::CacheOutcome::Hit => present += 1,
            (_, Ok(_)) => compiled += 1,
            (name, Err(e)) => return fatal(format!("built-in plugin `{name}` {e}")),
        }
    }
    let dir = loader
        .cache()
        .dir()
        .map_or_else(|| "(no cache)".to_string(), views::relative);
    println!(
        "{} built-in plugins ready in {dir}: {compiled} compiled, {present} already compiled ({:.2}s)",
        compiled + present,
        started.elapsed().as_secs_f64()
    );
    exit_codes::PASSED
}

/// `sluice cache` and `sluice cache gc`.
fn cache(args: CacheArgs) -> i32 {
    let dir = args
        .manifest
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let state = dir.join(crate::sandbox::fs::STATE_DIR);
    let (cache_dir, store_dir) = (state.join("cache"), state.join("store"));
    let show = |u: &crate::cache::Usage| {
        format!(
            "{} step results ({}), {} stored artifacts ({}), {} runs remembered",
            u.entries,
            crate::report::human_size(u.entry_bytes),
            u.blobs,
            crate::report::human_size(u.blob_bytes),
            u.runs
        )
    };
    match args.command {
        None => {
            let usage = crate::cache::usage(&cache_dir, &store_dir);
            if args.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&usage).expect("serializes")
                );
            } else {
                println!("{}: {}", views::relative(&state), show(&usage));
                let components = compile_cache_dir(&cache_dir);
                println!(
                    "compiled components: {}",
                    views::relative(&components.join("components"))
                );
            }
            exit_codes::PASSED
        }
        Some(CacheCommand::Gc(gc)) => {
            if gc.keep_runs.is_none() && gc.max_size.is_none() {
                eprintln!("error: `sluice cache gc` needs --keep-runs N, --max-size SIZE, or both");
                eprintln!(
                    "help: e.g. `sluice cache gc --keep-runs 10` keeps what the last 10 runs used"
                );
                return exit_codes::INVALID;
            }
            let policy = crate::cache::GcPolicy {
                keep_runs: gc.keep_runs,
                max_bytes: gc.max_size,
            };
            match crate::cache::gc(&cache_dir, &store_dir, policy) {
                Ok((before, after)) => {
                    if args.json {
                        println!(
                            "{}",
                            serde_json::json!({ "before": before, "after": after })
                        );
                    } else {
                        println!("before: {}", show(&before));
                        println!("after:  {}", show(&after));
                    }
                    exit_codes::PASSED
                }
                Err(crate::cache::GcError::Busy) => {
                    eprintln!("error: {}", crate::cache::GcError::Busy);
                    exit_codes::INVALID
                }
                Err(e) => fatal(format!("cannot collect the cache: {e}")),
            }
        }
    }
}
