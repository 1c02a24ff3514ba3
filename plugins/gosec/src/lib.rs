//! Built-in step `gosec`: gosec's security rules for Go (ids, severities, confidences and CWE
//! mappings as gosec reports them), with `#nosec` suppressions.
//!
//! Options (`with`): `dir`, `packages`, `include-tests`, `goos`, `goarch`, `build-tags` (see
//! `go-check`), `include`/`exclude` (rule ids), `min-severity`, `min-confidence`
//! (`low`, `medium`, `high`), `fail-on` (a severity, or `none`), `ignore-suppressions`,
//! `audit` (gosec's audit mode), `g104-allow` (G104's allow-list), and `g301-mode`,
//! `g302-mode`, `g306-mode`, `g307-mode` (largest accepted modes).

pub mod check;
pub mod nosec;
pub mod rules;
pub mod scope;

use go_check::{Common, Module};
use serde::Deserialize;
use sluice_sdk::{Failure, Finding, Invocation, Kind, Opt, Outcome, Plugin, PluginInfo};

use crate::rules::Level;

/// The step's options.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub struct Config {
    /// What to analyse.
    #[serde(flatten)]
    pub common: Common,
    /// Only these rules (all when empty).
    #[serde(default)]
    pub include: Vec<String>,
    /// Not these rules.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Drop findings below this severity (`low`).
    #[serde(default)]
    pub min_severity: Option<String>,
    /// Drop findings below this confidence (`low`).
    #[serde(default)]
    pub min_confidence: Option<String>,
    /// Fail the step when a finding at or above this severity remains (`low`: any, as gosec
    /// exits non-zero on any issue; `none`: never).
    #[serde(default)]
    pub fail_on: Option<String>,
    /// Report findings in spite of `#nosec` (gosec's `-nosec`).
    #[serde(default)]
    pub ignore_suppressions: bool,
    /// Largest mode for G301 (octal string, e.g. "0750").
    #[serde(default)]
    pub g301_mode: Option<String>,
    /// Largest mode for G302.
    #[serde(default)]
    pub g302_mode: Option<String>,
    /// Largest mode for G306.
    #[serde(default)]
    pub g306_mode: Option<String>,
    /// Largest mode for G307.
    #[serde(default)]
    pub g307_mode: Option<String>,
    /// gosec's audit mode (`-audit`): G104 also reports errors assigned to `_`.
    #[serde(default)]
    pub audit: bool,
    /// More functions whose errors G104 lets go: package name to function names, as gosec's
    /// `{"G104": {"ioutil": ["WriteFile"]}}`.
    #[serde(default)]
    pub g104_allow: std::collections::BTreeMap<String, Vec<String>>,
}

const LEVELS: &[&str] = &["low", "medium", "high"];

const OWN_OPTIONS: &[Opt] = &[
    Opt::new(
        "include",
        Kind::TextList,
        "only these rule ids (default: all)",
    ),
    Opt::new("exclude", Kind::TextList, "not these rule ids").with_default("[]"),
    Opt::new(
        "min-severity",
        Kind::Choice(LEVELS),
        "drop findings below this severity",
    )
    .with_default("\"low\""),
    Opt::new(
        "min-confidence",
        Kind::Choice(LEVELS),
        "drop findings below this confidence",
    )
    .with_default("\"low\""),
    Opt::new(
        "fail-on",
        Kind::Choice(&["low", "medium", "high", "none"]),
        "fail the step at this severity or above (`low`: any), or never (`none`)",
    )
    .with_default("\"low\""),
    Opt::new(
        "ignore-suppressions",
        Kind::Boolean,
        "report findings in spite of #nosec, for audits",
    )
    .with_default("false"),
    Opt::new(
        "audit",
        Kind::Boolean,
        "gosec's audit mode: G104 also reports errors assigned to `_`",
    )
    .with_default("false"),
    Opt::new(
        "g104-allow",
        Kind::Table,
        "more functions whose errors G104 lets go, by package name: { ioutil = [\"WriteFile\"] }",
    ),
    Opt::new(
        "g301-mode",
        Kind::Text,
        "largest mode G301 accepts for new directories",
    )
    .with_default("\"0750\""),
    Opt::new(
        "g302-mode",
        Kind::Text,
        "largest mode G302 accepts for opened files",
    )
    .with_default("\"0600\""),
    Opt::new(
        "g306-mode",
        Kind::Text,
        "largest mode G306 accepts for written files",
    )
    .with_default("\"0600\""),
    Opt::new(
        "g307-mode",
        Kind::Text,
        "largest mode G307 accepts for created files",
    )
    .with_default("\"0666\""),
];

/// The configuration, checked.
pub struct Settings {
    config: Config,
    min_severity: Level,
    min_confidence: Level,
    fail_on: Option<Level>,
    options: check::Options,
}

fn level(key: &str, value: &Option<String>, default: Level) -> Result<Level, Failure> {
    match value {
        None => Ok(default),
        Some(v) => Level::parse(v).ok_or_else(|| {
            Failure::invalid(format!(
                "`{key} = {v:?}` must be \"low\", \"medium\" or \"high\""
            ))
        }),
    }
}

fn mode(key: &str, value: &Option<String>, default: u32) -> Result<u32, Failure> {
    match value {
        None => Ok(default),
        Some(v) => u32::from_str_radix(v.trim_start_matches("0o"), 8).map_err(|_| {
            Failure::invalid(format!(
                "`{key} = {v:?}` must be an octal file mode such as \"0600\""
            ))
        }),
    }
}

impl Settings {
    /// Checks a configuration.
    pub fn new(config: Config) -> Result<Settings, Failure> {
        for id in config.include.iter().chain(&config.exclude) {
            if rules::rule(id).is_none() {
                return Err(Failure::invalid(format!(
                    "unknown rule `{id}` in `include`/`exclude` (gosec rules: {})",
                    rules::RULES
                        .iter()
                        .map(|r| r.id)
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
        let fail_on = match config.fail_on.as_deref() {
            Some("none") => None,
            other => Some(level("fail-on", &other.map(str::to_string), Level::Low)?),
        };
        let options = check::Options {
            range_aliasing: true,
            g301_mode: mode("g301-mode", &config.g301_mode, 0o750)?,
            g302_mode: mode("g302-mode", &config.g302_mode, 0o600)?,
            g306_mode: mode("g306-mode", &config.g306_mode, 0o600)?,
            g307_mode: mode("g307-mode", &config.g307_mode, 0o666)?,
            audit: config.audit,
            g104_allow: config
                .g104_allow
                .iter()
                .flat_map(|(p, names)| names.iter().map(move |n| (p.clone(), n.clone())))
                .collect(),
        };
        Ok(Settings {
            min_severity: level("min-severity", &config.min_severity, Level::Low)?,
            min_confidence: level("min-confidence", &config.min_confidence, Level::Low)?,
            fail_on,
            options,
            config,
        })
    }

    fn wanted(&self, rule: &str) -> bool {
        (self.config.include.is_empty() || self.config.include.iter().any(|r| r == rule))
            && !self.config.exclude.iter().any(|r| r == rule)
    }
}

/// The result of analysing a module.
pub struct Report {
    /// Findings, suppressed ones included.
    pub findings: Vec<Finding>,
    /// Whether an active finding reaches `fail-on`.
    pub failed: bool,
    /// What was read.
    pub stats: go_check::Stats,
}

/// Analyses the module the settings select under `workspace`.
pub fn analyse(workspace: &std::path::Path, settings: &Settings) -> Result<Report, Failure> {
    let module = Module::open_at(workspace, &settings.config.common)?;
    let mut options = settings.options.clone();
    options.range_aliasing = module.go_version.is_none_or(|v| v < (1, 22));
    let mut failed = false;
    let mut findings = Vec::new();
    let stats = module.for_each_package(&settings.config.common, &mut findings, |pkg, out| {
        let issues = check::check_package(pkg, &options);
        let mut suppressions: Vec<Option<nosec::Suppressions>> =
            (0..pkg.files.len()).map(|_| None).collect();
        for issue in issues {
            if !settings.wanted(issue.rule)
                || issue.severity < settings.min_severity
                || issue.confidence < settings.min_confidence
            {
                continue;
            }
            let def = rules::rule(issue.rule).expect("known rule");
            let mut finding = Finding::new(issue.rule, issue.severity.severity(), issue.message)
                .at(issue.span.clone())
                .confidence(issue.confidence.confidence())
                .tag(format!("CWE-{}", def.cwe));
            if !settings.config.ignore_suppressions {
                let file = &pkg.files[issue.file];
                let s =
                    suppressions[issue.file].get_or_insert_with(|| nosec::Suppressions::of(file));
                if let Some(a) = s.find(issue.rule, issue.pos, issue.span.line) {
                    finding = finding.suppressed(a.text.clone(), a.justification.clone());
                }
            }
            if finding.suppression.is_none()
                && settings.fail_on.is_some_and(|f| issue.severity >= f)
            {
                failed = true;
            }
            out.push(finding);
        }
    })?;
    Ok(Report {
        findings,
        failed,
        stats,
    })
}

/// The plugin.
pub struct Gosec;

impl Plugin for Gosec {
    fn describe() -> PluginInfo {
        let info = PluginInfo::new(
            "gosec",
            env!("CARGO_PKG_VERSION"),
            "gosec's security rules for Go (credentials, injection, crypto, TLS, file permissions, ...)",
        )
        .wants("fs:read")
        .rules(rules::rules());
        go_check::declare_options(info, OWN_OPTIONS)
    }

    fn run(invocation: Invocation) -> Result<Outcome, Failure> {
        let config: Config = go_check::config(&invocation, OWN_OPTIONS)?;
        let settings = Settings::new(config)?;
        let report = analyse(std::path::Path::new(sluice_sdk::WORKSPACE), &settings)?;
        let active = report
            .findings
            .iter()
            .filter(|f| f.suppression.is_none())
            .count();
        let suppressed = report.findings.len() - active;
        let mut summary = format!(
            "{active} issue{} in {}",
            if active == 1 { "" } else { "s" },
            report.stats
        );
        if suppressed > 0 {
            summary.push_str(&format!(", {suppressed} suppressed"));
        }
        if report.failed {
            let threshold = settings.config.fail_on.as_deref().unwrap_or("low");
            summary.push_str(&format!(
                "; failing: issues at or above severity {threshold}"
            ));
        }
        let mut outcome = Outcome::new().summary(summary);
        for f in report.findings {
            outcome = outcome.finding(f);
        }
        if report.failed {
            Err(Failure::gate(outcome))
        } else {
            Ok(outcome)
        }
    }
}

#[cfg(target_arch = "wasm32")]
sluice_sdk::export_plugin!(Gosec);
