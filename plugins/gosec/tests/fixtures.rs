//! Every gosec rule against the fixtures in `tests/fixtures/gosec`: each `want` is a finding
//! with exactly that message (and `suppressed` when a `#nosec` covers it), each `ok` a line
//! without one, nothing else is found, and every rule has at least one of each. The nested
//! modules are analysed on their own: `modern` (Go 1.22, no G601), `strict`
//! (`g307-mode = "0600"`) and `audit` (gosec's audit mode, with a G104 allow-list).

use std::path::Path;

use go_check::expect;
use sluice_plugin_gosec::{Config, Settings, analyse};

type Row = (String, u32, u32, String, String, bool);

fn run(root: &Path, prefix: &str, config: Config) -> Vec<Row> {
    let settings = Settings::new(config).unwrap_or_else(|e| panic!("{e:?}"));
    let report = analyse(&root.join(prefix), &settings).unwrap_or_else(|e| panic!("{e:?}"));
    report
        .findings
        .iter()
        .map(|f| {
            let s = f.span.as_ref().expect("located");
            let path = if prefix.is_empty() {
                s.path.clone()
            } else {
                format!("{prefix}/{}", s.path)
            };
            (
                path,
                s.line,
                s.column,
                f.rule.clone(),
                f.message.clone(),
                f.suppression.is_some(),
            )
        })
        .collect()
}

fn root() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/gosec")
}

#[test]
fn every_rule_matches_its_fixtures() {
    let root = root();
    let mut findings = run(&root, "", Config::default());
    findings.extend(run(&root, "modern", Config::default()));
    findings.extend(run(
        &root,
        "strict",
        Config {
            g307_mode: Some("0600".into()),
            ..Default::default()
        },
    ));
    findings.extend(run(
        &root,
        "audit",
        Config {
            audit: true,
            g104_allow: [("os".to_string(), vec!["Chdir".to_string()])].into(),
            ..Default::default()
        },
    ));
    let expects = expect::read(&root);
    let problems = expect::compare(&expects, &findings);
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
    for rule in sluice_plugin_gosec::rules::RULES {
        let has = |want: bool| {
            expects
                .iter()
                .any(|e| e.rule == rule.id && e.message.is_some() == want)
        };
        assert!(has(true), "rule {} has no positive case", rule.id);
        assert!(has(false), "rule {} has no negative case", rule.id);
    }
    assert!(sluice_plugin_gosec::rules::RULES.len() >= 35);
}

#[test]
fn filters_suppressions_and_gate() {
    let root = root();
    let all = run(&root, "", Config::default());
    let only = run(
        &root,
        "",
        Config {
            include: vec!["G404".into()],
            ..Default::default()
        },
    );
    assert!(!only.is_empty());
    // Files that do not parse are reported whatever the rule selection.
    assert!(only.iter().all(|f| f.3 == "G404" || f.3 == "parse-error"));
    let without = run(
        &root,
        "",
        Config {
            exclude: vec!["G104".into()],
            ..Default::default()
        },
    );
    assert!(without.iter().all(|f| f.3 != "G104"));
    assert!(all.iter().any(|f| f.3 == "G104"));
    let high = run(
        &root,
        "",
        Config {
            min_severity: Some("high".into()),
            ..Default::default()
        },
    );
    assert!(
        high.iter().all(|f| [
            "G101",
            "G108",
            "G109",
            "G111",
            "G116",
            "G402",
            "G404",
            "parse-error"
        ]
        .contains(&f.3.as_str())),
        "{high:?}"
    );
    let sure = run(
        &root,
        "",
        Config {
            min_confidence: Some("high".into()),
            ..Default::default()
        },
    );
    assert!(sure.iter().all(|f| f.3 != "G101" && f.3 != "G404"));
    // Audits see through #nosec.
    let audit = run(
        &root,
        "",
        Config {
            ignore_suppressions: true,
            ..Default::default()
        },
    );
    assert_eq!(audit.len(), all.len());
    assert!(audit.iter().all(|f| !f.5));
    assert!(all.iter().any(|f| f.5));

    // fail-on: any active finding fails by default; `none` never; `high` only on HIGH.
    let gate = |fail_on: Option<&str>, include: &[&str]| {
        let settings = Settings::new(Config {
            fail_on: fail_on.map(str::to_string),
            include: include.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        })
        .unwrap_or_else(|e| panic!("{e:?}"));
        analyse(&root, &settings)
            .unwrap_or_else(|e| panic!("{e:?}"))
            .failed
    };
    assert!(gate(None, &[]));
    assert!(!gate(Some("none"), &[]));
    assert!(!gate(Some("high"), &["G104"]), "G104 is LOW");
    assert!(gate(Some("high"), &["G402"]));
    assert!(
        Settings::new(Config {
            fail_on: Some("severe".into()),
            ..Default::default()
        })
        .is_err()
    );
    assert!(
        Settings::new(Config {
            include: vec!["G999".into()],
            ..Default::default()
        })
        .is_err()
    );
}
