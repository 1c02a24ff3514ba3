//! Built-in step `golint`: golint's style checks for Go, with its messages and confidences,
//! over the packages of a module the step may read.
//!
//! Options (`with`): `dir`, `packages`, `include-tests`, `goos`, `goarch`, `build-tags` (see
//! `go-check`), `min-confidence` (0.8, as golint), `disable = [rule, ...]`.

pub mod lint;
pub mod rules;

use go_check::{Common, Module};
use serde::Deserialize;
use sluice_sdk::{Failure, Finding, Invocation, Kind, Opt, Outcome, Plugin, PluginInfo};

/// The step's options.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Config {
    /// What to analyse.
    #[serde(flatten)]
    pub common: Common,
    /// Findings below this confidence are dropped.
    #[serde(default = "default_min_confidence")]
    pub min_confidence: f32,
    /// Rules not to run.
    #[serde(default)]
    pub disable: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            common: Common::default(),
            min_confidence: default_min_confidence(),
            disable: Vec::new(),
        }
    }
}

fn default_min_confidence() -> f32 {
    0.8
}

const OWN_OPTIONS: &[Opt] = &[
    Opt::new(
        "min-confidence",
        Kind::Number,
        "drop findings below this confidence, from 0 to 1 (as golint)",
    )
    .with_default("0.8"),
    Opt::new("disable", Kind::TextList, "rules not to run").with_default("[]"),
];

/// The result of analysing a module.
pub struct Report {
    /// Findings, in package then file order.
    pub findings: Vec<Finding>,
    /// What was read.
    pub stats: go_check::Stats,
}

/// Checks the configuration against the rule table.
pub fn validate(config: &Config) -> Result<(), Failure> {
    if !(0.0..=1.0).contains(&config.min_confidence) {
        return Err(Failure::invalid(format!(
            "`min-confidence = {}` must be between 0.0 and 1.0 (golint's default is 0.8)",
            config.min_confidence
        )));
    }
    for d in &config.disable {
        if !rules::RULES.iter().any(|(id, ..)| id == d) {
            let names: Vec<&str> = rules::RULES.iter().map(|(id, ..)| *id).collect();
            return Err(Failure::invalid(format!(
                "`disable` names unknown rule `{d}` (rules: {})",
                names.join(", ")
            )));
        }
    }
    Ok(())
}

/// Analyses the module `config` selects under `workspace`.
pub fn analyse(workspace: &std::path::Path, config: &Config) -> Result<Report, Failure> {
    validate(config)?;
    let module = Module::open_at(workspace, &config.common)?;
    let mut findings = Vec::new();
    let stats = module.for_each_package(&config.common, &mut findings, |pkg, out| {
        let facts = lint::PackageFacts {
            package_name: pkg.name.clone(),
        };
        out.extend(lint::lint_package(pkg, &facts).into_iter().filter(|f| {
            f.confidence.unwrap_or(1.0) >= config.min_confidence
                && !config.disable.contains(&f.rule)
        }));
    })?;
    Ok(Report { findings, stats })
}

/// The plugin.
pub struct Golint;

impl Plugin for Golint {
    fn describe() -> PluginInfo {
        let info = PluginInfo::new(
            "golint",
            env!("CARGO_PKG_VERSION"),
            "golint's style checks for Go (doc comments, naming, error strings, receivers, ...)",
        )
        .wants("fs:read")
        .rules(rules::rules());
        go_check::declare_options(info, OWN_OPTIONS)
    }

    fn run(invocation: Invocation) -> Result<Outcome, Failure> {
        let config: Config = go_check::config(&invocation, OWN_OPTIONS)?;
        let report = analyse(std::path::Path::new(sluice_sdk::WORKSPACE), &config)?;
        let n = report.findings.len();
        let mut outcome = Outcome::new().summary(format!(
            "{n} finding{} in {}",
            if n == 1 { "" } else { "s" },
            report.stats
        ));
        for f in report.findings {
            outcome = outcome.finding(f);
        }
        Ok(outcome)
    }
}

#[cfg(target_arch = "wasm32")]
sluice_sdk::export_plugin!(Golint);
