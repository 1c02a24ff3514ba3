//! A hostile test plugin: it does what its `with.actions` list says, from inside the
//! sandbox, and reports what happened. The integration tests use it to try to break every
//! sandbox rule and to exercise output/input wiring.
//!
//! Every action yields one entry `{ "op": ..., "ok": bool, "detail": ... }` in the `report`
//! output (JSON). Actions that cannot report (an infinite loop, a panic) end the step.

use serde::Deserialize;
use sluice_sdk::{
    Failure, Finding, Invocation, Outcome, Plugin, PluginInfo, Port, Severity, Span, Value,
    ValueKind,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default)]
    actions: Vec<Action>,
}

#[derive(Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case", deny_unknown_fields)]
enum Action {
    Read {
        path: String,
    },
    Write {
        path: String,
        contents: String,
    },
    List {
        path: String,
    },
    Env {
        name: String,
    },
    EnvAll,
    Secret {
        name: String,
    },
    Print {
        text: String,
    },
    Log {
        text: String,
    },
    Loop,
    Alloc {
        mib: u64,
    },
    Recurse {
        depth: u64,
    },
    Panic {
        message: String,
    },
    UndeclaredOutput,
    WrongKindOutput,
    Artifact {
        name: String,
        contents: String,
    },
    ReadInput,
    /// Asks the host for the provenance of `path` (`in-artifact`'s guest path when none).
    Provenance {
        path: Option<String>,
    },
    Digest {
        path: String,
    },
    Text {
        value: String,
    },
    Gate {
        message: String,
    },
    Error {
        message: String,
    },
    Sleep {
        ms: u64,
    },
    /// Opens `path` relative to the preopen `preopen` with raw WASI calls (not through
    /// wasi-libc's choice of preopen), for reading or writing.
    RawOpen {
        preopen: String,
        path: String,
        write: bool,
    },
    /// Creates a symlink `link` (a guest path) holding `target`.
    Symlink {
        target: String,
        link: String,
    },
    Rename {
        from: String,
        to: String,
    },
    Mkdir {
        path: String,
    },
    RemoveAll {
        path: String,
    },
    /// `times` times: moves the directory `dir` aside, puts a symlink to `target` in its
    /// place, then moves it back.
    Flip {
        dir: String,
        target: String,
        times: u64,
        /// How long each state (directory, symlink) is kept, in microseconds.
        #[serde(default)]
        hold_us: u64,
    },
    /// A sparse file of `bytes` bytes.
    Sparse {
        path: String,
        bytes: u64,
    },
    /// Writes `bytes` pseudo-random (incompressible) bytes to `path`, 1 MiB at a time.
    Fill {
        path: String,
        bytes: u64,
    },
    /// Returns the file at `path` as the `artifact` output.
    ArtifactAt {
        path: String,
        media_type: Option<String>,
    },
    /// Reports a finding.
    Finding {
        rule: String,
        message: String,
        path: Option<String>,
        #[serde(default)]
        line: u32,
        #[serde(default)]
        column: u32,
        #[serde(default)]
        end_line: u32,
        #[serde(default)]
        end_column: u32,
        annotation: Option<String>,
        #[serde(default)]
        justification: String,
        #[serde(default)]
        tags: Vec<String>,
    },
    JsonOutput {
        json: String,
    },
    IntegerOutput {
        value: i64,
    },
    Summary {
        text: String,
    },
    /// Asks the host for the run's identity (which makes the step's result unreplayable).
    RunInfo,
    /// Tells the host the step's result must not be replayed, and why.
    Uncacheable {
        reason: String,
    },
    FloodLog {
        count: u64,
        bytes: usize,
    },
    FloodProgress {
        count: u64,
    },
    FloodSecret {
        count: u64,
    },
    FloodPrint {
        bytes: usize,
    },
    /// Starts a granted program and reports how it ended and what it printed (`output`:
    /// `pipe` collects both streams, `log`, `discard`, or a guest file path). With `detach`,
    /// the child handle is kept alive (leaked) and the action returns at once.
    Exec {
        program: String,
        #[serde(default)]
        args: Vec<String>,
        cwd: Option<String>,
        #[serde(default)]
        env: Vec<(String, String)>,
        stdin: Option<String>,
        #[serde(default = "pipe")]
        output: String,
        #[serde(default)]
        detach: bool,
    },
}

fn pipe() -> String {
    "pipe".into()
}

fn exec(
    program: String,
    args: Vec<String>,
    cwd: Option<String>,
    env: Vec<(String, String)>,
    stdin: Option<String>,
    output: String,
    detach: bool,
) -> Result<String, String> {
    use sluice_sdk::process::{Command, Stdio};
    let to = match output.as_str() {
        "pipe" => Stdio::Pipe,
        "log" => Stdio::Log,
        "discard" => Stdio::Discard,
        path => Stdio::File(path.to_string()),
    };
    let mut cmd = Command::new(program)
        .args(args)
        .stdout(to.clone())
        .stderr(to);
    if let Some(cwd) = cwd {
        cmd = cmd.cwd(cwd);
    }
    for (k, v) in env {
        cmd = cmd.env(k, v);
    }
    if let Some(input) = stdin {
        cmd = cmd.stdin(input.into_bytes());
    }
    let child = cmd.spawn()?;
    if detach {
        std::mem::forget(child);
        return Ok("detached".into());
    }
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    while let Some(chunk) = child.read()? {
        match chunk.source {
            sluice_sdk::process::PipeName::Stdout => stdout.extend_from_slice(&chunk.data),
            sluice_sdk::process::PipeName::Stderr => stderr.extend_from_slice(&chunk.data),
        }
    }
    let status = child.wait()?;
    Ok(serde_json::json!({
        "code": status.code,
        "signal": status.signal,
        "stdout": String::from_utf8_lossy(&stdout),
        "stderr": String::from_utf8_lossy(&stderr),
        "limit": status.limit,
        "wall_ms": status.wall_ms,
        "cpu_ms": status.cpu_ms,
        "peak_rss": status.peak_rss,
    })
    .to_string())
}

struct Probe;

impl Plugin for Probe {
    fn describe() -> PluginInfo {
        PluginInfo::new(
            "probe",
            "0.0.0",
            "Tries things from inside the sandbox and reports them",
        )
        .input(Port::new(
            "in-artifact",
            ValueKind::Artifact,
            "An artifact to read",
        ))
        .input(Port::new("in-text", ValueKind::Text, "A text to echo"))
        .output(Port::new("report", ValueKind::Json, "What each action did"))
        .output(Port::new("text", ValueKind::Text, "A text value"))
        .output(Port::new("artifact", ValueKind::Artifact, "An artifact"))
        .output(Port::new("json", ValueKind::Json, "A JSON value"))
        .output(Port::new("number", ValueKind::Integer, "An integer"))
    }

    fn run(invocation: Invocation) -> Result<Outcome, Failure> {
        let config: Config = invocation.config()?;
        let mut report = Vec::new();
        let mut outcome = Outcome::new();
        let mut summary = "probe done".to_string();
        let mut record = |op: &str, result: Result<String, String>| {
            let (ok, detail) = match result {
                Ok(d) => (true, d),
                Err(e) => (false, e),
            };
            report.push(serde_json::json!({ "op": op, "ok": ok, "detail": detail }));
        };
        for action in config.actions {
            match action {
                Action::Read { path } => record(
                    "read",
                    std::fs::read_to_string(&path).map_err(|e| e.to_string()),
                ),
                Action::Write { path, contents } => record(
                    "write",
                    std::fs::write(&path, contents)
                        .map(|()| "written".into())
                        .map_err(|e| e.to_string()),
                ),
                Action::List { path } => record(
                    "list",
                    std::fs::read_dir(&path)
                        .and_then(|entries| {
                            let mut names = entries
                                .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
                                .collect::<Result<Vec<_>, _>>()?;
                            names.sort();
                            Ok(names.join(","))
                        })
                        .map_err(|e| e.to_string()),
                ),
                Action::Env { name } => {
                    record("env", std::env::var(&name).map_err(|e| e.to_string()))
                }
                Action::EnvAll => {
                    let mut vars: Vec<String> =
                        std::env::vars().map(|(k, v)| format!("{k}={v}")).collect();
                    vars.sort();
                    record("env-all", Ok(vars.join("\n")))
                }
                Action::Secret { name } => match sluice_sdk::secret(&name) {
                    Some(value) => {
                        // Deliberately leak it everywhere a step can write to.
                        println!("stdout: {name}={value}");
                        eprintln!("stderr: {name}={value}");
                        sluice_sdk::warn!("log: {name}={value}");
                        outcome = std::mem::take(&mut outcome).finding(Finding::new(
                            "probe/leak",
                            Severity::Warning,
                            format!("leaked {value}"),
                        ));
                        outcome =
                            set_output(outcome, "text", Value::Text(format!("secret is {value}")));
                        record("secret", Ok(value))
                    }
                    None => record("secret", Err(format!("secret {name} not available"))),
                },
                Action::Print { text } => {
                    println!("{text}");
                    record("print", Ok(text))
                }
                Action::Log { text } => {
                    sluice_sdk::info!("{text}");
                    record("log", Ok(text))
                }
                Action::Loop => {
                    let mut n: u64 = 0;
                    loop {
                        n = std::hint::black_box(n.wrapping_add(1));
                    }
                }
                Action::Alloc { mib } => {
                    let mut chunks: Vec<Vec<u8>> = Vec::new();
                    for _ in 0..mib {
                        let mut chunk = vec![0u8; 1 << 20];
                        chunk[0] = 1;
                        chunks.push(std::hint::black_box(chunk));
                    }
                    record("alloc", Ok(format!("allocated {} MiB", chunks.len())))
                }
                Action::Recurse { depth } => record("recurse", Ok(recurse(depth).to_string())),
                Action::Panic { message } => panic!("{message}"),
                Action::UndeclaredOutput => {
                    outcome = std::mem::take(&mut outcome).output("bogus", Value::Text("x".into()));
                    record("undeclared-output", Ok(String::new()))
                }
                Action::WrongKindOutput => {
                    outcome = std::mem::take(&mut outcome).output("text", Value::Integer(7));
                    record("wrong-kind-output", Ok(String::new()))
                }
                Action::Artifact { name, contents } => {
                    let value = sluice_sdk::write_artifact(&name, contents.as_bytes(), None)?;
                    outcome = set_output(std::mem::take(&mut outcome), "artifact", value);
                    record("artifact", Ok(name))
                }
                Action::Provenance { path } => {
                    let path =
                        path.or_else(|| invocation.artifact("in-artifact").map(|a| a.path.clone()));
                    record(
                        "provenance",
                        match path {
                            Some(p) => sluice_sdk::provenance(&p),
                            None => Err("no path and no in-artifact input".into()),
                        },
                    )
                }
                Action::ReadInput => match invocation.artifact("in-artifact") {
                    Some(artifact) => {
                        let contents =
                            std::fs::read_to_string(&artifact.path).map_err(|e| e.to_string());
                        record(
                            "read-input",
                            contents.map(|c| format!("{} {} {c}", artifact.path, artifact.digest)),
                        )
                    }
                    None => record("read-input", Err("no in-artifact input".into())),
                },
                Action::Digest { path } => record("digest", sluice_sdk::digest(&path)),
                Action::Exec {
                    program,
                    args,
                    cwd,
                    env,
                    stdin,
                    output,
                    detach,
                } => record("exec", exec(program, args, cwd, env, stdin, output, detach)),
                Action::Text { value } => {
                    let text = match invocation.text("in-text") {
                        Some(input) => format!("{value}{input}"),
                        None => value,
                    };
                    outcome = set_output(
                        std::mem::take(&mut outcome),
                        "text",
                        Value::Text(text.clone()),
                    );
                    record("text", Ok(text))
                }
                Action::Gate { message } => {
                    let outcome = std::mem::take(&mut outcome)
                        .finding(
                            Finding::new("probe/gate", Severity::Error, message).at(Span::new(
                                "probe.txt",
                                1,
                                1,
                            )),
                        )
                        .summary("gate failed");
                    return Err(Failure::gate(outcome));
                }
                Action::Error { message } => return Err(Failure::error(message)),
                Action::Sleep { ms } => {
                    std::thread::sleep(std::time::Duration::from_millis(ms));
                    record("sleep", Ok(ms.to_string()))
                }
                Action::RawOpen {
                    preopen,
                    path,
                    write,
                } => record("raw-open", raw::open(&preopen, &path, write)),
                Action::Symlink { target, link } => record("symlink", raw::symlink(&target, &link)),
                Action::Rename { from, to } => record(
                    "rename",
                    std::fs::rename(&from, &to)
                        .map(|()| "renamed".into())
                        .map_err(|e| e.to_string()),
                ),
                Action::Mkdir { path } => record(
                    "mkdir",
                    std::fs::create_dir_all(&path)
                        .map(|()| "made".into())
                        .map_err(|e| e.to_string()),
                ),
                Action::RemoveAll { path } => record(
                    "remove-all",
                    std::fs::remove_dir_all(&path)
                        .or_else(|_| std::fs::remove_file(&path))
                        .map(|()| "removed".into())
                        .map_err(|e| e.to_string()),
                ),
                Action::Flip {
                    dir,
                    target,
                    times,
                    hold_us,
                } => {
                    let aside = format!("{dir}.real");
                    let hold = std::time::Duration::from_micros(hold_us);
                    let mut flips = 0;
                    for _ in 0..times {
                        if std::fs::rename(&dir, &aside).is_ok()
                            && raw::symlink(&target, &dir).is_ok()
                        {
                            flips += 1;
                            std::thread::sleep(hold);
                            let _ = std::fs::remove_file(&dir);
                        }
                        let _ = std::fs::rename(&aside, &dir);
                        std::thread::sleep(hold);
                    }
                    record("flip", Ok(flips.to_string()))
                }
                Action::Sparse { path, bytes } => record(
                    "sparse",
                    std::fs::File::create(&path)
                        .and_then(|f| f.set_len(bytes))
                        .map(|()| bytes.to_string())
                        .map_err(|e| e.to_string()),
                ),
                Action::Fill { path, bytes } => record("fill", fill(&path, bytes)),
                Action::ArtifactAt { path, media_type } => {
                    outcome = set_output(
                        std::mem::take(&mut outcome),
                        "artifact",
                        Value::Artifact(sluice_sdk::Artifact {
                            path: path.clone(),
                            digest: String::new(),
                            media_type,
                        }),
                    );
                    record("artifact-at", Ok(path))
                }
                Action::Finding {
                    rule,
                    message,
                    path,
                    line,
                    column,
                    end_line,
                    end_column,
                    annotation,
                    justification,
                    tags,
                } => {
                    let mut f = Finding::new(rule, Severity::Warning, message);
                    if let Some(path) = path {
                        let mut span = Span::new(path, line, column);
                        span.end_line = end_line;
                        span.end_column = end_column;
                        f = f.at(span);
                    }
                    if let Some(annotation) = annotation {
                        f.suppression = Some(sluice_sdk::Suppression {
                            annotation,
                            justification,
                        });
                    }
                    f.tags = tags;
                    outcome = std::mem::take(&mut outcome).finding(f);
                    record("finding", Ok(String::new()))
                }
                Action::JsonOutput { json } => {
                    outcome = set_output(std::mem::take(&mut outcome), "json", Value::Json(json));
                    record("json-output", Ok(String::new()))
                }
                Action::IntegerOutput { value } => {
                    outcome = set_output(
                        std::mem::take(&mut outcome),
                        "number",
                        Value::Integer(value),
                    );
                    record("integer-output", Ok(String::new()))
                }
                Action::Summary { text } => {
                    summary = text;
                    record("summary", Ok(String::new()))
                }
                Action::RunInfo => {
                    let run = sluice_sdk::run_info();
                    record("run-info", Ok(run.run))
                }
                Action::Uncacheable { reason } => {
                    sluice_sdk::uncacheable(&reason);
                    record("uncacheable", Ok(String::new()))
                }
                Action::FloodLog { count, bytes } => {
                    let line = "x".repeat(bytes);
                    for _ in 0..count {
                        sluice_sdk::info!("{line}");
                    }
                    record("flood-log", Ok(count.to_string()))
                }
                Action::FloodProgress { count } => {
                    for i in 0..count {
                        sluice_sdk::progress(i, count, "flooding");
                    }
                    record("flood-progress", Ok(count.to_string()))
                }
                Action::FloodSecret { count } => {
                    for i in 0..count {
                        let _ = sluice_sdk::secret(&format!("NOT_GRANTED_{i}"));
                    }
                    record("flood-secret", Ok(count.to_string()))
                }
                Action::FloodPrint { bytes } => {
                    use std::io::Write as _;
                    let chunk = vec![b'y'; 1 << 16];
                    let mut out = std::io::stdout().lock();
                    let mut written = 0;
                    let mut result = Ok(());
                    while written < bytes {
                        let n = chunk.len().min(bytes - written);
                        if let Err(e) = out.write_all(&chunk[..n]) {
                            result = Err(e.to_string());
                            break;
                        }
                        written += n;
                    }
                    let _ = out.flush();
                    record("flood-print", result.map(|()| written.to_string()))
                }
            }
        }
        let report = serde_json::Value::Array(report).to_string();
        Ok(outcome
            .summary(summary)
            .output("report", Value::Json(report)))
    }
}

/// Sets an output, replacing an earlier value of the same name.
fn set_output(mut outcome: Outcome, name: &str, value: Value) -> Outcome {
    outcome.outputs.retain(|(n, _)| n != name);
    outcome.output(name, value)
}

#[inline(never)]
fn recurse(depth: u64) -> u64 {
    let pad = std::hint::black_box([depth; 16]);
    if depth == 0 {
        pad[3]
    } else {
        recurse(depth - 1).wrapping_add(pad[7])
    }
}

/// Raw WASI calls, as a hostile plugin would make them: through preopened descriptors
/// directly, not through wasi-libc's path handling.
mod raw {
    use wasip2::filesystem::preopens::get_directories;
    use wasip2::filesystem::types::{DescriptorFlags, OpenFlags, PathFlags};

    pub fn open(preopen: &str, path: &str, write: bool) -> Result<String, String> {
        let dirs = get_directories();
        let (dir, _) = dirs
            .iter()
            .find(|(_, guest)| guest == preopen)
            .ok_or_else(|| format!("no preopen {preopen}"))?;
        let flags = if write {
            DescriptorFlags::WRITE
        } else {
            DescriptorFlags::READ
        };
        let file = dir
            .open_at(PathFlags::empty(), path, OpenFlags::empty(), flags)
            .map_err(|e| format!("{e:?}"))?;
        if write {
            file.write(b"raw write", 0).map_err(|e| format!("{e:?}"))?;
            Ok("written".into())
        } else {
            let (bytes, _) = file.read(1 << 20, 0).map_err(|e| format!("{e:?}"))?;
            Ok(String::from_utf8_lossy(&bytes).into_owned())
        }
    }

    /// The preopen a guest path falls under (the longest prefix) and the rest of the path.
    fn under(path: &str) -> Option<(wasip2::filesystem::types::Descriptor, String)> {
        get_directories()
            .into_iter()
            .filter(|(_, g)| path == g || path.starts_with(&format!("{g}/")))
            .max_by_key(|(_, g)| g.len())
            .map(|(d, g)| (d, path[g.len()..].trim_start_matches('/').to_string()))
    }

    pub fn symlink(target: &str, link: &str) -> Result<String, String> {
        let (dir, rel) = under(link).ok_or_else(|| format!("{link}: no preopen"))?;
        dir.symlink_at(target, &rel)
            .map(|()| "linked".into())
            .map_err(|e| format!("{e:?}"))
    }
}

/// `bytes` of xorshift64 output written to `path`.
fn fill(path: &str, bytes: u64) -> Result<String, String> {
    use std::io::Write;
    let mut file = std::fs::File::create(path).map_err(|e| e.to_string())?;
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut chunk = vec![0u8; 1 << 20];
    let mut left = bytes;
    while left > 0 {
        for word in chunk.chunks_exact_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            word.copy_from_slice(&state.to_le_bytes());
        }
        let n = left.min(chunk.len() as u64) as usize;
        file.write_all(&chunk[..n]).map_err(|e| e.to_string())?;
        left -= n as u64;
    }
    Ok(bytes.to_string())
}

sluice_sdk::export_plugin!(Probe);
