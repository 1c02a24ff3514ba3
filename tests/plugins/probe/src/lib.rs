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
    Read { path: String },
    Write { path: String, contents: String },
    List { path: String },
    Env { name: String },
    EnvAll,
    Secret { name: String },
    Print { text: String },
    Log { text: String },
    Loop,
    Alloc { mib: u64 },
    Recurse { depth: u64 },
    Panic { message: String },
    UndeclaredOutput,
    WrongKindOutput,
    Artifact { name: String, contents: String },
    ReadInput,
    Digest { path: String },
    Text { value: String },
    Gate { message: String },
    Error { message: String },
    Sleep { ms: u64 },
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
    }

    fn run(invocation: Invocation) -> Result<Outcome, Failure> {
        let config: Config = invocation.config()?;
        let mut report = Vec::new();
        let mut outcome = Outcome::new();
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
            }
        }
        let report = serde_json::Value::Array(report).to_string();
        Ok(outcome
            .summary("probe done")
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

sluice_sdk::export_plugin!(Probe);
