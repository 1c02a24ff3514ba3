//! Every golint rule against the fixtures in `tests/fixtures/golint`: each `want` is a
//! finding with exactly that message, each `ok` a line without one, nothing else is found,
//! and every rule has at least one of each.

use std::path::Path;

use go_check::expect;

#[test]
fn every_rule_matches_its_fixtures() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/golint");
    let report = sluice_plugin_golint::analyse(&root, &sluice_plugin_golint::Config::default())
        .unwrap_or_else(|e| panic!("{e:?}"));
    let findings: Vec<_> = report
        .findings
        .iter()
        .map(|f| {
            let s = f.span.as_ref().expect("located");
            (
                s.path.clone(),
                s.line,
                s.column,
                f.rule.clone(),
                f.message.clone(),
                f.suppression.is_some(),
            )
        })
        .collect();
    let expects = expect::read(&root);
    let problems = expect::compare(&expects, &findings);
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
    for (id, ..) in sluice_plugin_golint::rules::RULES {
        let has = |want: bool| {
            expects
                .iter()
                .any(|e| e.rule == *id && e.message.is_some() == want)
        };
        assert!(
            has(true),
            "rule {id} has no positive case (`// want {id} ...`)"
        );
        assert!(has(false), "rule {id} has no negative case (`// ok {id}`)");
    }
}

#[test]
fn min_confidence_and_disable_filter() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/golint");
    let all = sluice_plugin_golint::analyse(
        &root,
        &sluice_plugin_golint::Config {
            min_confidence: 0.0,
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e:?}"));
    // Capitalized error strings are reported at 0.6, below golint's default threshold.
    assert!(all.findings.iter().any(|f| f.confidence == Some(0.6)));
    let some = sluice_plugin_golint::analyse(
        &root,
        &sluice_plugin_golint::Config {
            disable: vec!["var-naming".into(), "exported".into()],
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e:?}"));
    assert!(
        some.findings
            .iter()
            .all(|f| f.rule != "var-naming" && f.rule != "exported")
    );
    assert!(!some.findings.is_empty());
}
