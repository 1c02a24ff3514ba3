//! Built-in step `go-mod`: reads a Go module's `go.mod` and `go.sum`.
//!
//! Outputs the module path (`module`) and the `go` directive (`go-version`), and reports:
//!
//! - `go-mod/missing-sum` (warning): a `require`d module with no line in `go.sum`;
//! - `go-mod/local-replace` (warning): a `replace` directive pointing at a local path, which
//!   builds outside the module cannot resolve;
//! - `go-mod/malformed` (error): a line of `go.mod` or `go.sum` that Go would reject.
//!   Any such finding fails the step.

use serde::Deserialize;
use sluice_sdk::{
    Failure, Finding, Invocation, Outcome, Plugin, PluginInfo, Port, Severity, Span, Value,
    ValueKind,
};

pub use go_check::gomod::{GoMod, GoSum, Problem, Replace, Require, parse_go_mod, parse_go_sum};
use go_check::normalize_dir;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Config {
    /// The module directory, relative to the workspace.
    #[serde(default = "default_dir")]
    dir: String,
}

fn default_dir() -> String {
    ".".into()
}

/// The plugin.
pub struct GoModPlugin;

impl Plugin for GoModPlugin {
    fn describe() -> PluginInfo {
        PluginInfo::new(
            "go-mod",
            env!("CARGO_PKG_VERSION"),
            "Checks a Go module's go.mod and go.sum and outputs its path and Go version",
        )
        .output(Port::new("module", ValueKind::Text, "The module path").required())
        .output(Port::new(
            "go-version",
            ValueKind::Text,
            "The `go` directive, if any",
        ))
        .wants("fs:read")
    }

    fn run(invocation: Invocation) -> Result<Outcome, Failure> {
        let config: Config = invocation.config()?;
        let dir = normalize_dir(&config.dir)?;
        let display = |file: &str| {
            if dir.is_empty() {
                file.to_string()
            } else {
                format!("{dir}/{file}")
            }
        };
        let mod_path = sluice_sdk::workspace_path(display("go.mod"));
        let mod_src = std::fs::read_to_string(&mod_path).map_err(|e| {
            Failure::error(format!(
                "cannot read {}: {e} (is `{}` granted in `allow.read`?)",
                display("go.mod"),
                if dir.is_empty() { "." } else { &dir }
            ))
        })?;
        let sum_src = match std::fs::read_to_string(sluice_sdk::workspace_path(display("go.sum"))) {
            Ok(s) => Some(s),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                return Err(Failure::error(format!(
                    "cannot read {}: {e}",
                    display("go.sum")
                )));
            }
        };
        check(
            &display("go.mod"),
            &mod_src,
            &display("go.sum"),
            sum_src.as_deref(),
        )
    }
}

/// Checks the two files and builds the outcome; a malformed line fails the step.
pub fn check(
    mod_name: &str,
    mod_src: &str,
    sum_name: &str,
    sum_src: Option<&str>,
) -> Result<Outcome, Failure> {
    let go_mod = parse_go_mod(mod_src);
    let mut findings = Vec::new();
    let malformed = |file: &str, p: &Problem| {
        Finding::new("go-mod/malformed", Severity::Error, p.message.clone())
            .at(Span::new(file, p.line, p.column))
    };
    findings.extend(go_mod.problems.iter().map(|p| malformed(mod_name, p)));

    let sum = sum_src.map(parse_go_sum).unwrap_or_default();
    findings.extend(sum.problems.iter().map(|p| malformed(sum_name, p)));

    for replace in &go_mod.replaces {
        if replace.is_local() {
            findings.push(
                Finding::new(
                    "go-mod/local-replace",
                    Severity::Warning,
                    format!(
                        "replace directive points {} at local path {:?}; builds outside this checkout cannot resolve it",
                        replace.old_path, replace.new_path
                    ),
                )
                .at(Span::new(mod_name, replace.line, replace.column)),
            );
        }
    }

    for require in &go_mod.requires {
        let replaced_locally = go_mod.replaces.iter().any(|r| {
            r.is_local()
                && r.old_path == require.path
                && r.old_version
                    .as_deref()
                    .is_none_or(|v| v == require.version)
        });
        if replaced_locally || sum.has(&require.path, &require.version) {
            continue;
        }
        findings.push(
            Finding::new(
                "go-mod/missing-sum",
                Severity::Warning,
                format!(
                    "missing go.sum entry for {}@{}; run `go mod tidy`",
                    require.path, require.version
                ),
            )
            .at(Span::new(mod_name, require.line, require.column)
                .to(require.line, require.end_column)),
        );
    }

    let failed = findings.iter().any(|f| f.severity == Severity::Error);
    let module = go_mod.module.clone().unwrap_or_default();
    let summary = if failed {
        format!(
            "{} malformed line(s)",
            findings
                .iter()
                .filter(|f| f.severity == Severity::Error)
                .count()
        )
    } else {
        format!(
            "module {module}, go {}, {} requirement(s)",
            go_mod.go.as_deref().unwrap_or("(unset)"),
            go_mod.requires.len()
        )
    };
    let mut outcome = Outcome::new()
        .summary(summary)
        .output("module", Value::Text(module));
    if let Some(go) = go_mod.go {
        outcome = outcome.output("go-version", Value::Text(go));
    }
    outcome.findings = findings;
    if failed {
        Err(Failure::gate(outcome))
    } else {
        Ok(outcome)
    }
}

sluice_sdk::export_plugin!(GoModPlugin);

#[cfg(test)]
mod tests {
    use super::*;

    const MOD: &str = "module example.com/svc\n\ngo 1.21\n\nrequire (\n\tgolang.org/x/text v0.14.0 // indirect\n\tgithub.com/pkg/errors v0.9.1\n)\n\nreplace example.com/lib => ../lib\n";

    #[test]
    fn reports_missing_sums_and_local_replaces() {
        let sum = "golang.org/x/text v0.14.0 h1:ScX5w1eTa3QqT8oi6+ziP7dTV1S2+ALU0bI+0zXKWiQ=\ngolang.org/x/text v0.14.0/go.mod h1:18ZOQIKpY8NJVqYksKHtTdi31H5itFRjB5/qKTNYzSU=\n";
        let outcome = check("go.mod", MOD, "go.sum", Some(sum)).unwrap();
        let found: Vec<_> = outcome
            .findings
            .iter()
            .map(|f| {
                (
                    f.rule.as_str(),
                    f.message.as_str(),
                    f.span.as_ref().map(|s| (s.line, s.column)),
                )
            })
            .collect();
        assert_eq!(
            found,
            vec![
                (
                    "go-mod/local-replace",
                    "replace directive points example.com/lib at local path \"../lib\"; builds outside this checkout cannot resolve it",
                    Some((10, 1))
                ),
                (
                    "go-mod/missing-sum",
                    "missing go.sum entry for github.com/pkg/errors@v0.9.1; run `go mod tidy`",
                    Some((7, 2))
                ),
            ]
        );
        assert_eq!(
            outcome.outputs[0],
            ("module".to_string(), Value::Text("example.com/svc".into()))
        );
        assert_eq!(
            outcome.outputs[1],
            ("go-version".to_string(), Value::Text("1.21".into()))
        );
    }

    #[test]
    fn malformed_lines_fail_the_step_with_positions() {
        let src = "module example.com/x\ngo 1.21\nrequire github.com/a/b\nfrobnicate x\n";
        let Err(Failure::Gate(outcome)) = check("go.mod", src, "go.sum", Some("bad line\n")) else {
            panic!("expected a failed gate");
        };
        let found: Vec<_> = outcome
            .findings
            .iter()
            .map(|f| {
                (
                    f.message.as_str(),
                    f.span.as_ref().map(|s| (s.path.as_str(), s.line, s.column)),
                )
            })
            .collect();
        assert_eq!(
            found,
            vec![
                ("usage: require module/path v1.2.3", Some(("go.mod", 3, 1))),
                ("unknown directive: frobnicate", Some(("go.mod", 4, 1))),
                (
                    "malformed go.sum line: want `<module> <version>[/go.mod] <hash>`",
                    Some(("go.sum", 1, 1))
                ),
            ]
        );
    }

    #[test]
    fn rejects_dirs_outside_the_workspace() {
        assert!(matches!(normalize_dir("../x"), Err(Failure::Invalid(_))));
        assert!(matches!(normalize_dir("/etc"), Err(Failure::Invalid(_))));
        assert_eq!(normalize_dir("./svc/").unwrap(), "svc");
        assert_eq!(normalize_dir(".").unwrap(), "");
    }
}
