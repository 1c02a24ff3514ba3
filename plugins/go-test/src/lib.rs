//! Built-in step `go-test`: `go test -json` through the `exec` capability, with the race
//! detector, a coverage gate, live progress (packages done of total), findings at the
//! positions of failed tests, build errors and data races, and JUnit, Cobertura and Go cover
//! profile artifacts.

pub mod cover;
pub mod events;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use go_tool::List;
use serde::Deserialize;
use sluice_sdk::process::{PipeName, Stdio};
use sluice_sdk::{
    Failure, Finding, Invocation, Kind, Opt, Outcome, Plugin, PluginInfo, Port, Rule, Severity,
    Span, Value, ValueKind,
};

use events::{Run, Status};

/// `shuffle = "on"`, `"off"` or a seed.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Shuffle {
    /// `on` / `off`
    Word(String),
    /// A seed.
    Seed(i64),
}

/// The step's options.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Config {
    /// The module's directory, relative to the workspace.
    #[serde(default = "dot")]
    pub dir: String,
    /// Package patterns.
    pub packages: Option<List>,
    /// `-race`.
    #[serde(default)]
    pub race: bool,
    /// Coverage on or off.
    #[serde(default = "yes")]
    pub cover: bool,
    /// `-covermode`.
    pub covermode: Option<String>,
    /// `-coverpkg`.
    pub coverpkg: Option<List>,
    /// The gate, in percent.
    pub min_coverage: Option<f64>,
    /// `-run`.
    pub run: Option<String>,
    /// `-short`.
    #[serde(default)]
    pub short: bool,
    /// `-tags`.
    pub tags: Option<List>,
    /// `-timeout`.
    pub timeout: Option<String>,
    /// `-count`.
    pub count: Option<u32>,
    /// `-shuffle`.
    pub shuffle: Option<Shuffle>,
}

fn dot() -> String {
    ".".into()
}

fn yes() -> bool {
    true
}

const OPTIONS: &[Opt] = &[
    Opt::new("dir", Kind::Text, "the module's directory in the workspace").with_default("\".\""),
    Opt::new("packages", Kind::Any, "package patterns, as text or a list")
        .with_default("[\"./...\"]"),
    Opt::new(
        "race",
        Kind::Boolean,
        "run with the race detector, which needs cgo and gcc",
    )
    .with_default("false"),
    Opt::new("cover", Kind::Boolean, "measure statement coverage").with_default("true"),
    Opt::new(
        "covermode",
        Kind::Choice(&["set", "count", "atomic"]),
        "how coverage counts (default set; atomic with race)",
    ),
    Opt::new(
        "coverpkg",
        Kind::Any,
        "packages to measure coverage of, as text or a list (default: each tested package)",
    ),
    Opt::new(
        "min-coverage",
        Kind::Number,
        "fail the step below this total coverage, in percent (default none)",
    ),
    Opt::new(
        "run",
        Kind::Text,
        "only tests matching this regular expression (go test -run)",
    ),
    Opt::new("short", Kind::Boolean, "go test -short").with_default("false"),
    Opt::new(
        "tags",
        Kind::Any,
        "build tags, as text or a list (default none)",
    ),
    Opt::new(
        "timeout",
        Kind::Text,
        "go test -timeout, e.g. \"5m\" (default go's 10m; the step's timeout still applies)",
    ),
    Opt::new(
        "count",
        Kind::Integer,
        "go test -count; 1 disables the test cache (default: cached results are used)",
    ),
    Opt::new(
        "shuffle",
        Kind::Any,
        "\"on\", \"off\" or a seed (go test -shuffle)",
    ),
];

fn rules() -> Vec<Rule> {
    vec![
        Rule::new("go-test/failed", "test-failed", "A test failed", Severity::Error)
            .help("The test reported a failure at this line (`t.Error`, `t.Fatal`, ...). Its whole output is in the JUnit report and the step's log."),
        Rule::new("go-test/build-error", "build-error", "A package or its tests did not compile", Severity::Error)
            .help("The compiler's message is at its position. No test of the package ran."),
        Rule::new("go-test/data-race", "data-race", "The race detector found a data race", Severity::Error)
            .help("Two goroutines accessed the same memory without synchronisation, one of them writing. The finding is at the first frame in this module; the full report is in the test's output.")
            .tag("concurrency"),
        Rule::new("go-test/package-failed", "package-failed", "A package failed outside of any test", Severity::Error)
            .help("The test binary failed without a failing test: a panic in `init` or `TestMain`, a timeout, or `os.Exit`. See the package output in the JUnit report."),
    ]
}

/// The plugin.
pub struct GoTest;

impl Plugin for GoTest {
    fn describe() -> PluginInfo {
        let info = PluginInfo::new(
            "go-test",
            env!("CARGO_PKG_VERSION"),
            "go test with the race detector and a coverage gate; JUnit, Cobertura and cover profile reports",
        )
        .wants("fs:read")
        .wants(format!("exec:{}", go_tool::GO))
        .rules(rules())
        .output(Port::new("coverage", ValueKind::Number, "Total statement coverage, in percent (as go tool cover -func)"))
        .output(Port::new("passed", ValueKind::Integer, "Tests that passed (subtests included)").required())
        .output(Port::new("failed", ValueKind::Integer, "Tests that failed").required())
        .output(Port::new("skipped", ValueKind::Integer, "Tests that were skipped").required())
        .output(Port::new("junit", ValueKind::Artifact, "JUnit XML: a testsuite per package, a testcase per test").required())
        .output(Port::new("profile", ValueKind::Artifact, "The Go cover profile"))
        .output(Port::new("cobertura", ValueKind::Artifact, "Cobertura XML, for coverage views in GitLab and Jenkins"));
        info.options(OPTIONS)
    }

    fn run(invocation: Invocation) -> Result<Outcome, Failure> {
        let config: Config = invocation.config()?;
        run(&config)
    }
}

fn validate(config: &Config) -> Result<(), Failure> {
    if let Some(mode) = &config.covermode
        && !matches!(mode.as_str(), "set" | "count" | "atomic")
    {
        return Err(Failure::invalid(format!(
            "`covermode = \"{mode}\"`: use \"set\", \"count\" or \"atomic\""
        )));
    }
    if config.race && config.covermode.as_deref().is_some_and(|m| m != "atomic") {
        return Err(Failure::invalid(
            "`race = true` needs `covermode = \"atomic\"` (go test refuses other modes with -race)",
        ));
    }
    if let Some(min) = config.min_coverage
        && !(0.0..=100.0).contains(&min)
    {
        return Err(Failure::invalid(format!(
            "`min-coverage = {min}` must be a percentage between 0 and 100"
        )));
    }
    if config.min_coverage.is_some() && !config.cover {
        return Err(Failure::invalid("`min-coverage` needs `cover = true`"));
    }
    if let Some(Shuffle::Word(w)) = &config.shuffle
        && !matches!(w.as_str(), "on" | "off")
    {
        return Err(Failure::invalid(format!(
            "`shuffle = \"{w}\"`: use \"on\", \"off\" or a seed (an integer)"
        )));
    }
    for arg in [&config.run, &config.timeout].into_iter().flatten() {
        if arg.starts_with('-') {
            return Err(Failure::invalid(format!("`{arg}` cannot start with `-`")));
        }
    }
    Ok(())
}

/// Where the profile is written (inside the step's outputs, which the program may write).
const PROFILE: &str = "/outputs/cover.out";

fn run(config: &Config) -> Result<Outcome, Failure> {
    validate(config)?;
    let module = go_tool::module_dir(&config.dir)?;
    let packages = config
        .packages
        .as_ref()
        .map(List::items)
        .unwrap_or_else(|| vec!["./...".into()]);
    if let Some(p) = packages.iter().find(|p| p.starts_with('-')) {
        return Err(Failure::invalid(format!(
            "package pattern `{p}` cannot start with `-`"
        )));
    }
    let mut args: Vec<String> = vec!["test".into(), "-json".into()];
    if config.race {
        args.push("-race".into());
    }
    if config.cover {
        let mode = config
            .covermode
            .clone()
            .unwrap_or_else(|| if config.race { "atomic" } else { "set" }.into());
        args.push(format!("-covermode={mode}"));
        args.push(format!("-coverprofile={PROFILE}"));
        if let Some(pkgs) = &config.coverpkg {
            args.push(format!("-coverpkg={}", pkgs.items().join(",")));
        }
    }
    if let Some(run) = &config.run {
        args.push(format!("-run={run}"));
    }
    if config.short {
        args.push("-short".into());
    }
    if let Some(tags) = &config.tags {
        args.push(format!("-tags={}", tags.items().join(",")));
    }
    if let Some(t) = &config.timeout {
        args.push(format!("-timeout={t}"));
    }
    if let Some(n) = config.count {
        args.push(format!("-count={n}"));
    }
    match &config.shuffle {
        Some(Shuffle::Word(w)) => args.push(format!("-shuffle={w}")),
        Some(Shuffle::Seed(s)) => args.push(format!("-shuffle={s}")),
        None => {}
    }
    args.extend(packages.iter().cloned());

    let mut cmd = go_tool::go(&module)
        .args(args)
        .stdout(Stdio::Pipe)
        .stderr(Stdio::Pipe);
    if config.race {
        cmd = cmd.env("CGO_ENABLED", "1");
    }
    let child = cmd.spawn().map_err(Failure::error)?;
    // Which packages, and where they are (for progress, and to place findings), listed while
    // the tests build.
    let listed = go_tool::output(
        go_tool::go(&module)
            .args(["list", "-e", "-f", "{{.ImportPath}}\t{{.Dir}}"])
            .args(packages.iter().cloned()),
    )?;
    let dirs: HashMap<String, PathBuf> = listed
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(p, d)| (p.to_string(), PathBuf::from(d)))
        .collect();
    let total = dirs.len() as u64;
    sluice_sdk::progress(0, total, "go test");
    let mut run = Run::default();
    let mut stderr = events::Output::default();
    let mut done = 0u64;
    for line in child.lines() {
        let (stream, line) = line.map_err(Failure::error)?;
        match stream {
            PipeName::Stdout => {
                if let Some(pkg) = run.push(&line) {
                    done += 1;
                    let status = match run
                        .packages
                        .iter()
                        .find(|p| p.name == pkg)
                        .map(|p| p.status)
                    {
                        Some(Status::Fail) => "FAIL",
                        Some(Status::Skip) => "no tests",
                        _ => "ok",
                    };
                    sluice_sdk::progress(done, total.max(done), &format!("{status} {pkg}"));
                }
            }
            PipeName::Stderr => {
                let mut l = line;
                l.push('\n');
                stderr_push(&mut stderr, &l);
            }
        }
    }
    let status = child.wait().map_err(Failure::error)?;
    if let Some(limit) = &status.limit {
        sluice_sdk::warn!("go test hit a limit of the step: {limit}");
    }
    if run.packages.is_empty() && status.code != Some(0) {
        return Err(Failure::error(go_tool::explain(
            "`go test` failed before running any package",
            &stderr.text,
        )));
    }
    if !stderr.text.trim().is_empty() {
        for l in stderr.text.lines() {
            sluice_sdk::info!("{l}");
        }
    }

    let mut findings = findings(&run, &stderr.text, &module, &dirs);
    let (passed, failed, skipped) = run.counts();
    let build_failed = run.packages.iter().filter(|p| p.build_failed()).count();
    let now = timestamp();
    let mut outcome = Outcome::new()
        .output("passed", Value::Integer(passed as i64))
        .output("failed", Value::Integer(failed as i64))
        .output("skipped", Value::Integer(skipped as i64))
        .output(
            "junit",
            sluice_sdk::write_artifact(
                "junit.xml",
                run.junit(&now.1).as_bytes(),
                Some("application/xml"),
            )?,
        );
    let mut coverage = None;
    if config.cover && Path::new(PROFILE).exists() {
        let text = std::fs::read_to_string(PROFILE)
            .map_err(|e| Failure::error(format!("cannot read the cover profile: {e}")))?;
        let profile = cover::Profile::parse(&text).map_err(Failure::error)?;
        let percent = profile.percent();
        coverage = Some(percent);
        let module_path = module_path(&module);
        let source = module.display().to_string();
        let files = |f: &str| -> String {
            match &module_path {
                Some(m) => f
                    .strip_prefix(m.as_str())
                    .map(|r| r.trim_start_matches('/').to_string())
                    .unwrap_or_else(|| f.to_string()),
                None => f.to_string(),
            }
        };
        outcome = outcome
            .output("coverage", Value::Number(percent))
            .output(
                "profile",
                sluice_sdk::Value::Artifact(sluice_sdk::Artifact {
                    path: PROFILE.into(),
                    digest: String::new(),
                    media_type: Some("text/plain".into()),
                }),
            )
            .output(
                "cobertura",
                sluice_sdk::write_artifact(
                    "cobertura.xml",
                    profile.cobertura(&source, &files, now.0).as_bytes(),
                    Some("application/xml"),
                )?,
            );
    }
    let tests_line = format!(
        "{passed} passed, {failed} failed, {skipped} skipped in {} package{}",
        run.packages.len(),
        if run.packages.len() == 1 { "" } else { "s" }
    );
    let mut summary = tests_line;
    if build_failed > 0 {
        summary.push_str(&format!(
            ", {build_failed} package{} did not build",
            if build_failed == 1 { "" } else { "s" }
        ));
    }
    if let Some(c) = coverage {
        summary.push_str(&format!("; coverage {c:.1}%"));
    }
    let mut gates = Vec::new();
    if failed > 0 {
        gates.push(format!(
            "{failed} test{} failed",
            if failed == 1 { "" } else { "s" }
        ));
    }
    if build_failed > 0 {
        gates.push(format!(
            "{build_failed} package{} did not build",
            if build_failed == 1 { "" } else { "s" }
        ));
    }
    let other_failures = run.packages.iter().any(|p| {
        p.status == Status::Fail
            && !p.build_failed()
            && !p.tests.iter().any(|t| t.status == Status::Fail)
    });
    if other_failures {
        gates.push("a package failed outside of its tests".into());
    }
    if gates.is_empty() && status.code != Some(0) {
        gates.push(format!(
            "go test exited with {}",
            status
                .code
                .map(|c| format!("code {c}"))
                .unwrap_or_else(|| format!("signal {}", status.signal.unwrap_or(0)))
        ));
    }
    if let (Some(min), Some(c)) = (config.min_coverage, coverage)
        && c < min
    {
        gates.push(format!("coverage {c:.1}% < {min}%"));
    }
    if !findings.is_empty() {
        findings.sort_by(|a, b| {
            let key = |f: &Finding| f.span.as_ref().map(|s| (s.path.clone(), s.line, s.column));
            key(a).cmp(&key(b))
        });
    }
    for f in findings {
        outcome = outcome.finding(f);
    }
    if gates.is_empty() {
        Ok(outcome.summary(summary))
    } else {
        Err(Failure::gate(
            outcome.summary(format!("{}: {summary}", gates.join(", "))),
        ))
    }
}

fn stderr_push(out: &mut events::Output, s: &str) {
    if out.text.len() + s.len() <= events::MAX_OUTPUT * 4 {
        out.text.push_str(s);
    } else {
        out.cut += s.len();
    }
}

/// The module path in `go.mod`.
fn module_path(module: &Path) -> Option<String> {
    let text = std::fs::read_to_string(module.join("go.mod")).ok()?;
    text.lines().find_map(|l| {
        let rest = l.trim().strip_prefix("module")?;
        Some(rest.trim().trim_matches('"').to_string())
    })
}

/// Seconds since the epoch, and an ISO 8601 UTC timestamp, for the reports.
fn timestamp() -> (u64, String) {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Civil from days (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        secs,
        format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
            rem / 3600,
            rem % 3600 / 60,
            rem % 60
        ),
    )
}

/// Findings: failed tests at their `file_test.go:line`, build errors at their position, each
/// data race at its first frame in the module, packages that failed outside of tests.
fn findings(
    run: &Run,
    stderr: &str,
    module: &Path,
    dirs: &HashMap<String, PathBuf>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut seen_races = std::collections::HashSet::new();
    let in_pkg = |pkg: &str, file: &str| -> Option<String> {
        let dir = dirs.get(pkg)?;
        go_tool::workspace_relative(module, &dir.join(file).display().to_string())
    };
    for p in &run.packages {
        for t in p.tests.iter().filter(|t| t.status == Status::Fail) {
            // A parent test fails with its failing subtests: report only the innermost.
            if p.tests
                .iter()
                .any(|s| s.status == Status::Fail && s.name.starts_with(&format!("{}/", t.name)))
            {
                continue;
            }
            // The first `file.go:N:` the test printed that names a file of its package
            // (the testing package's own `testing.go:1319: race detected` is not).
            let at = t
                .output
                .text
                .lines()
                .filter_map(events::located)
                .find(|(file, _, _)| dirs.get(&p.name).is_some_and(|d| d.join(file).is_file()));
            let mut f = Finding::new(
                "go-test/failed",
                Severity::Error,
                match at {
                    Some((_, _, m)) if !m.is_empty() => format!("{} failed: {m}", t.name),
                    _ => format!("{} failed", t.name),
                },
            );
            if let Some((file, line, _)) = at
                && let Some(path) = in_pkg(&p.name, file)
            {
                f = f.at(Span::new(path, line, 1));
            }
            out.push(f.tag(p.name.clone()));
        }
        for race in events::races(&format!(
            "{}{}",
            p.output.text,
            p.tests
                .iter()
                .map(|t| t.output.text.as_str())
                .collect::<String>()
        )) {
            let frame = race.frames.iter().find_map(|(func, file, line)| {
                let rel = go_tool::workspace_relative(module, file)?;
                Some((func, rel, *line))
            });
            let Some((func, path, line)) = frame else {
                continue;
            };
            if !seen_races.insert((path.clone(), line)) {
                continue;
            }
            out.push(
                Finding::new(
                    "go-test/data-race",
                    Severity::Error,
                    format!("data race in {func}"),
                )
                .at(Span::new(path, line, 1))
                .tag(p.name.clone()),
            );
        }
        if p.status == Status::Fail
            && !p.build_failed()
            && !p.tests.iter().any(|t| t.status == Status::Fail)
        {
            let last: Vec<&str> = p
                .output
                .text
                .lines()
                .filter(|l| !l.trim().is_empty())
                .collect();
            let tail = last[last.len().saturating_sub(3)..].join(" | ");
            out.push(
                Finding::new(
                    "go-test/package-failed",
                    Severity::Error,
                    format!("package {} failed: {tail}", p.name),
                )
                .tag(p.name.clone()),
            );
        }
    }
    // Build errors: on stderr (Go < 1.24) or in the package output (Go 1.24+ `build-output`).
    let build_text = format!(
        "{stderr}{}",
        run.packages
            .iter()
            .filter(|p| p.build_failed())
            .map(|p| p.output.text.as_str())
            .collect::<String>()
    );
    out.extend(go_tool::build_errors(
        &build_text,
        module,
        "go-test/build-error",
    ));
    out
}

#[cfg(target_arch = "wasm32")]
sluice_sdk::export_plugin!(GoTest);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_iso_8601() {
        let (secs, text) = timestamp();
        assert!(secs > 1_700_000_000);
        assert_eq!(text.len(), 19);
        assert_eq!(&text[4..5], "-");
    }

    #[test]
    fn options_are_checked() {
        let c = |json: &str| {
            serde_json::from_str::<Config>(json)
                .map_err(|e| e.to_string())
                .and_then(|c| validate(&c).map(|_| c).map_err(|e| format!("{e:?}")))
        };
        assert!(c(r#"{"race": true, "covermode": "set"}"#).is_err());
        assert!(c(r#"{"min-coverage": 120}"#).is_err());
        assert!(c(r#"{"shuffle": "sometimes"}"#).is_err());
        assert!(c(r#"{"packages": "./a ./b", "shuffle": 42}"#).is_ok());
        assert!(c(r#"{"bogus": 1}"#).is_err());
    }
}
