//! Builds the test plugins (`tests/plugins/*`: hostile, minimal, benchmark) as components for
//! the integration tests and benches.

use std::fmt::Write as _;

include!("../../host/build/components.rs");

const PLUGINS: &[(&str, ComponentCrate)] = &[
    (
        "PROBE",
        ComponentCrate {
            package: "sluice-test-probe",
            artifact: "sluice_test_probe.wasm",
        },
    ),
    (
        "NOT_A_STEP",
        ComponentCrate {
            package: "sluice-test-not-a-step",
            artifact: "sluice-test-not-a-step.wasm",
        },
    ),
    (
        "NOOP",
        ComponentCrate {
            package: "sluice-test-noop",
            artifact: "sluice_test_noop.wasm",
        },
    ),
    (
        "HTTP_CLIENT",
        ComponentCrate {
            package: "sluice-test-http-client",
            artifact: "sluice_test_http_client.wasm",
        },
    ),
    (
        "CORE_ONLY",
        ComponentCrate {
            package: "sluice-test-core-only",
            artifact: "sluice_test_core_only.wasm",
        },
    ),
    (
        "GO_PARSE",
        ComponentCrate {
            package: "sluice-test-go-parse",
            artifact: "sluice_test_go_parse.wasm",
        },
    ),
];

fn main() {
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").unwrap();
    let workspace = Path::new(&manifest_dir).parent().unwrap().parent().unwrap();
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let paths = build_components(workspace, PLUGINS);
    let mut code = String::new();
    for ((name, c), path) in PLUGINS.iter().zip(paths) {
        let copy = out_dir.join(c.artifact);
        std::fs::copy(&path, &copy).unwrap();
        writeln!(
            code,
            "/// `{}` built for wasm32-wasip2.\npub const {name}: &str = {:?};",
            c.package,
            copy.display().to_string()
        )
        .unwrap();
    }
    let target = target_dir(workspace);
    writeln!(
        code,
        "/// A compile cache shared by all tests, so each component is compiled once.\npub const CACHE_DIR: &str = {:?};",
        target.join("sluice-test-cache").display().to_string()
    )
    .unwrap();
    writeln!(
        code,
        "/// The repository root.\npub const REPO: &str = {:?};",
        workspace.display().to_string()
    )
    .unwrap();
    std::fs::write(out_dir.join("plugins.rs"), code).unwrap();
}
