// Shared by `host/build.rs` and `tests/support/build.rs` (through `include!`): builds crates of
// this workspace as `wasm32-wasip2` components, from source, on every build that needs them.
//
// The nested cargo uses its own target directory (`<target>/wasm-components`), so it never waits
// on the lock of the build that runs this script, and its dependencies are compiled once for both
// callers. The toolchain's `rust-toolchain.toml` makes rustup install the target on a fresh machine.

use std::path::{Path, PathBuf};
use std::process::Command;

/// One component to build: the package, and the name of the `.wasm` file cargo writes.
pub struct ComponentCrate {
    pub package: &'static str,
    pub artifact: &'static str,
}

/// The workspace's target directory (honouring `CARGO_TARGET_DIR`).
pub fn target_dir(workspace: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|p| if p.is_absolute() { p } else { workspace.join(p) })
        .unwrap_or_else(|| workspace.join("target"))
}

/// Installs the `wasm32-wasip2` target with rustup when the toolchain lacks it. rustup adds
/// the targets of `rust-toolchain.toml` only when it installs the toolchain itself; a machine
/// whose stable toolchain was already there has none.
fn ensure_wasm_target(workspace: &Path) {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .current_dir(workspace)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    let installed = sysroot.is_some_and(|s| s.join("lib/rustlib/wasm32-wasip2").is_dir());
    if !installed {
        let _ = Command::new("rustup")
            .args(["target", "add", "wasm32-wasip2"])
            .current_dir(workspace)
            .status();
    }
}

/// Builds the components named in `crates` (`(name, crate)` pairs) in release mode for
/// `wasm32-wasip2` and returns each `.wasm` path, in order.
pub fn build_components(workspace: &Path, crates: &[(&str, ComponentCrate)]) -> Vec<PathBuf> {
    for dir in ["wit", "sdk", "plugins", "tests/plugins", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", workspace.join(dir).display());
    }
    let target_dir = target_dir(workspace).join("wasm-components");
    ensure_wasm_target(workspace);
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace)
        .args(["build", "--release", "--target", "wasm32-wasip2", "--target-dir"])
        .arg(&target_dir);
    for (_, c) in crates {
        cmd.args(["-p", c.package]);
    }
    // What the outer build sets for itself must not leak into the guest build.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_BUILD_TARGET",
        "CARGO_TARGET_DIR",
        "CARGO_PRIMARY_PACKAGE",
        "CLIPPY_ARGS",
        "CARGO_MAKEFLAGS",
        "MAKEFLAGS",
        "MFLAGS",
    ] {
        cmd.env_remove(var);
    }
    let output = cmd.output().expect("failed to run cargo to build the wasm components");
    if !output.status.success() {
        panic!(
            "building the wasm components failed:\n{}\n(is the `wasm32-wasip2` target installed? `rustup target add wasm32-wasip2`)",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    crates
        .iter()
        .map(|(_, c)| {
            let path = target_dir.join("wasm32-wasip2/release").join(c.artifact);
            assert!(path.exists(), "cargo did not produce {}", path.display());
            path
        })
        .collect()
}
