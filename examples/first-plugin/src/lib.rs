//! A Sluice step that counts the words of the files it is given, and fails when a file has
//! more than `max-words`.

use serde::Deserialize;
use sluice_sdk::{Failure, Finding, Invocation, Kind, Opt, Outcome, Plugin, PluginInfo, Port, Severity, Span, Value, ValueKind};

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Config {
    files: Vec<String>,
    #[serde(default = "default_max")]
    max_words: usize,
}

fn default_max() -> usize {
    1000
}

struct WordCount;

impl Plugin for WordCount {
    fn describe() -> PluginInfo {
        PluginInfo::new("word-count", env!("CARGO_PKG_VERSION"), "Counts words and flags long files")
            .output(Port::new("total", ValueKind::Integer, "Words in all files").required())
            .options(&[
                Opt::new("files", Kind::TextList, "the workspace files to count"),
                Opt::new("max-words", Kind::Integer, "a file with more words is a finding").with_default("1000"),
            ])
            .wants("fs:read")
    }

    fn run(invocation: Invocation) -> Result<Outcome, Failure> {
        let config: Config = invocation.config()?;
        let mut outcome = Outcome::new();
        let mut total = 0;
        for file in &config.files {
            let text = std::fs::read_to_string(sluice_sdk::workspace_path(file))
                .map_err(|e| Failure::error(format!("cannot read {file}: {e}")))?;
            let words = text.split_whitespace().count();
            sluice_sdk::info!("{file}: {words} words");
            total += words;
            if words > config.max_words {
                outcome = outcome.finding(
                    Finding::new("word-count/too-long", Severity::Error, format!("{words} words, more than {}", config.max_words))
                        .at(Span::new(file.as_str(), 1, 1)),
                );
            }
        }
        outcome = outcome.summary(format!("{total} words")).output("total", Value::Integer(total as i64));
        if outcome.findings.is_empty() { Ok(outcome) } else { Err(Failure::gate(outcome)) }
    }
}

sluice_sdk::export_plugin!(WordCount);
