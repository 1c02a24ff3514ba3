//! Crash safety: `kill -9` of `sluice run` at pseudo-random points never leaves a partial
//! artifact, store entry, compiled component or run record that a later run trusts, and a
//! later run works (and clears what the killed runs left in `.sluice/tmp`).

use std::time::Duration;

use sha2::Digest;
use sluice_test_support::{Workspace, kill_9_after};

const SLUICE: &str = env!("CARGO_BIN_EXE_sluice");

/// Every `sha256/<hex>` entry of the store holds exactly the bytes its name says.
fn check_store(ws: &Workspace, round: usize) {
    let Ok(entries) = std::fs::read_dir(ws.dir().join(".sluice/store/sha256")) else {
        return;
    };
    for e in entries {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with(".incoming-") {
            continue; // never trusted: not under a digest name
        }
        let bytes = std::fs::read(e.path()).unwrap();
        assert_eq!(
            hex::encode(sha2::Sha256::digest(&bytes)),
            name,
            "round {round}: store entry {name} does not hold what its name says"
        );
    }
}

/// Every `run.json` that exists is a whole JSON document.
fn check_records(ws: &Workspace, round: usize) {
    let Ok(runs) = std::fs::read_dir(ws.dir().join(".sluice/runs")) else {
        return;
    };
    for run in runs {
        let path = run.unwrap().path().join("run.json");
        if let Ok(text) = std::fs::read_to_string(&path) {
            assert!(
                serde_json::from_str::<serde_json::Value>(&text).is_ok(),
                "round {round}: {} is not a whole record",
                path.display()
            );
        }
    }
}

#[test]
fn kill_9_at_random_points_never_leaves_anything_a_later_run_trusts() {
    let ws = Workspace::new();
    ws.with_probe();
    let cache = ws.dir().join(".sluice/private-cache");
    // Sizes such that a run (storing 520 MB of artifacts) lasts past the latest kill at
    // 950 ms, even with SHA-256 optimized in debug builds.
    ws.manifest(
        r#"[steps.big]
uses = "./probe.wasm"
with = { actions = [
  { op = "sparse", path = "/outputs/big", bytes = 400000000 },
  { op = "artifact-at", path = "/outputs/big" },
] }

[steps.medium]
uses = "./probe.wasm"
with = { actions = [
  { op = "sparse", path = "/outputs/medium", bytes = 120000000 },
  { op = "artifact-at", path = "/outputs/medium" },
] }

[steps.small]
uses = "./probe.wasm"
needs = ["medium"]
with = { actions = [{ op = "artifact", name = "small.txt", contents = "small" }, { op = "log", text = "done" }] }
"#,
    );
    let mut seed: u64 = 0x5eed_1234_abcd_0042;
    let mut killed_mid_run = 0;
    for round in 0..20 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let delay = Duration::from_millis(50 + (seed >> 33) % 900);
        let mut run = ws.command(SLUICE, &["run", "--no-step-cache"]);
        if kill_9_after(run.env("SLUICE_CACHE_DIR", &cache), delay) {
            killed_mid_run += 1;
        }
        check_store(&ws, round);
        check_records(&ws, round);
    }
    assert!(
        killed_mid_run >= 15,
        "only {killed_mid_run} of 20 kills hit a running sluice"
    );

    // A later run trusts the cache and the store, and works.
    let out = ws
        .command(SLUICE, &["run"])
        .env("SLUICE_CACHE_DIR", &cache)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    check_store(&ws, 20);
    check_records(&ws, 20);
    let run = ws.last_run();
    for id in ["big", "medium", "small"] {
        assert_eq!(sluice_test_support::step(&run, id)["status"], "passed");
    }
    // The killed runs' scratch directories and half-written store files are gone.
    let tmp: Vec<String> = std::fs::read_dir(ws.dir().join(".sluice/tmp"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(tmp.is_empty(), "left in .sluice/tmp: {tmp:?}");
    let incoming: Vec<String> = std::fs::read_dir(ws.dir().join(".sluice/store/sha256"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".incoming-"))
        .collect();
    assert!(incoming.is_empty(), "left in the store: {incoming:?}");
}
