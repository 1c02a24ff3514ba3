//! Parses every `.go` file under `/workspace` with go-syntax, inside the sandbox: the
//! in-wasm half of `just bench-parse`. Files are read first; only parsing is timed.

use serde::Deserialize;
use sluice_sdk::{Failure, Invocation, Outcome, Plugin, PluginInfo, Port, Value, ValueKind};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default = "one")]
    passes: usize,
}

fn one() -> usize {
    1
}

struct GoParse;

impl Plugin for GoParse {
    fn describe() -> PluginInfo {
        PluginInfo::new(
            "go-parse",
            "0.0.0",
            "Parses every Go file of the workspace and times it",
        )
        .output(Port::new("files", ValueKind::Integer, "Files parsed"))
        .output(Port::new(
            "accepted",
            ValueKind::Integer,
            "Files without errors",
        ))
        .output(Port::new(
            "bytes",
            ValueKind::Integer,
            "Bytes parsed per pass",
        ))
        .output(Port::new(
            "seconds",
            ValueKind::Number,
            "Median time of a pass",
        ))
        .wants("fs:read")
    }

    fn run(invocation: Invocation) -> Result<Outcome, Failure> {
        let config: Config = invocation.config()?;
        let paths = go_syntax::package::go_files(std::path::Path::new(sluice_sdk::WORKSPACE))
            .map_err(|e| Failure::error(e.to_string()))?;
        let files: Vec<(String, Vec<u8>)> = paths
            .iter()
            .map(|p| Ok((p.display().to_string(), std::fs::read(p)?)))
            .collect::<std::io::Result<_>>()
            .map_err(|e: std::io::Error| Failure::error(e.to_string()))?;
        let bytes: usize = files.iter().map(|(_, b)| b.len()).sum();
        let mut times = Vec::new();
        let mut accepted = 0;
        for _ in 0..config.passes.max(1) {
            accepted = 0;
            let start = std::time::Instant::now();
            for (name, src) in &files {
                accepted += i64::from(go_syntax::parse_file(name, src).is_ok());
            }
            times.push(start.elapsed().as_secs_f64());
        }
        times.sort_by(f64::total_cmp);
        let median = times[times.len() / 2];
        Ok(Outcome::new()
            .summary(format!(
                "{} files, {:.1} MB/s",
                files.len(),
                bytes as f64 / 1e6 / median
            ))
            .output("files", Value::Integer(files.len() as i64))
            .output("accepted", Value::Integer(accepted))
            .output("bytes", Value::Integer(bytes as i64))
            .output("seconds", Value::Number(median)))
    }
}

sluice_sdk::export_plugin!(GoParse);
