//! Builds the built-in plugins (`plugins/*`) as components and embeds them in the binary.

use std::fmt::Write as _;

use sha2::{Digest, Sha256};

include!("build/components.rs");

/// Built-in plugins: (name used in `uses = "..."`, package, file cargo writes).
const BUILTINS: &[(&str, ComponentCrate)] = &[
    (
        "go-mod",
        ComponentCrate {
            package: "sluice-plugin-go-mod",
            artifact: "sluice_plugin_go_mod.wasm",
        },
    ),
    (
        "golint",
        ComponentCrate {
            package: "sluice-plugin-golint",
            artifact: "sluice_plugin_golint.wasm",
        },
    ),
    (
        "gosec",
        ComponentCrate {
            package: "sluice-plugin-gosec",
            artifact: "sluice_plugin_gosec.wasm",
        },
    ),
    (
        "go-test",
        ComponentCrate {
            package: "sluice-plugin-go-test",
            artifact: "sluice_plugin_go_test.wasm",
        },
    ),
    (
        "go-build",
        ComponentCrate {
            package: "sluice-plugin-go-build",
            artifact: "sluice_plugin_go_build.wasm",
        },
    ),
    (
        "oci-image",
        ComponentCrate {
            package: "sluice-plugin-oci-image",
            artifact: "sluice_plugin_oci_image.wasm",
        },
    ),
    (
        "oci-push",
        ComponentCrate {
            package: "sluice-plugin-oci-push",
            artifact: "sluice_plugin_oci_push.wasm",
        },
    ),
    (
        "sign",
        ComponentCrate {
            package: "sluice-plugin-sign",
            artifact: "sluice_plugin_sign.wasm",
        },
    ),
    (
        "verify",
        ComponentCrate {
            package: "sluice-plugin-verify",
            artifact: "sluice_plugin_verify.wasm",
        },
    ),
    (
        "deploy",
        ComponentCrate {
            package: "sluice-plugin-deploy",
            artifact: "sluice_plugin_deploy.wasm",
        },
    ),
];

fn main() {
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").unwrap();
    let workspace = Path::new(&manifest_dir).parent().unwrap();
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    println!("cargo:rerun-if-changed=build/components.rs");
    // cargo-fuzz builds with `--cfg fuzzing` on nightly, which has no wasm32-wasip2 here; the
    // fuzz targets (parsers) need no plugins.
    if std::env::var_os("CARGO_CFG_FUZZING").is_some() {
        std::fs::write(
            out_dir.join("builtins.rs"),
            "/// Plugins embedded in this binary: none in fuzzing builds.\npub static BUILTINS: &[Builtin] = &[];\n",
        )
        .unwrap();
        return;
    }

    let paths = build_components(workspace, BUILTINS);

    let mut code = String::from(
        "/// Plugins embedded in this binary, built from `plugins/` at build time.\npub static BUILTINS: &[Builtin] = &[\n",
    );
    for ((name, _), path) in BUILTINS.iter().zip(paths) {
        let bytes = std::fs::read(&path).unwrap();
        let digest = hex::encode(Sha256::digest(&bytes));
        let embedded = out_dir.join(format!("{name}.wasm"));
        std::fs::write(&embedded, &bytes).unwrap();
        writeln!(
            code,
            "    Builtin {{ name: {name:?}, bytes: include_bytes!({:?}), digest: \"sha256:{digest}\" }},",
            embedded.display().to_string()
        )
        .unwrap();
    }
    code.push_str("];\n");
    std::fs::write(out_dir.join("builtins.rs"), code).unwrap();
}
