//! `just bench-sign` (or `cargo bench -p sluice --bench sign`): signing a 200 MiB artifact
//! through the `sign` step against `openssl dgst -sha256 -sign` on the same file, in the
//! same rounds. Needs `openssl`.
//!
//! The step's time is the run record's (instantiation, the host's native SHA-256 over the
//! file, the signature, storing its outputs); openssl's is its whole process. Target: the
//! step's throughput at least 0.9x openssl's (medians). Both sign with the same unencrypted
//! P-256 key; for information, the same step with cosign's encrypted key (scrypt, N = 2^16,
//! in the step) and with `attest = true` (the host's provenance, a DSSE envelope).
//!
//! `--quick` runs fewer rounds.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sluice_test_support::{Workspace, step};

const SLUICE: &str = env!("CARGO_BIN_EXE_sluice");
const SIZE: u64 = 200 << 20;
const PASSWORD: &str = "bench password";

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn mib_s(d: Duration) -> String {
    format!("{:.0} MiB/s", (SIZE >> 20) as f64 / d.as_secs_f64())
}

fn step_ms(run: &serde_json::Value, id: &str) -> Duration {
    Duration::from_secs_f64(step(run, id)["duration_ms"].as_f64().unwrap() / 1e3)
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let rounds = if quick { 3 } else { 9 };
    if Command::new("openssl")
        .arg("version")
        .stdout(Stdio::null())
        .status()
        .is_err()
    {
        eprintln!("skipped: needs openssl (apt-get install openssl)");
        return;
    }
    let ws = Workspace::new();
    ws.with_probe();
    let key = signing::keys::signing_key_from_random(&[11; 32]).unwrap();
    let pem = signing::keys::private_key_pem(&key).unwrap();
    ws.file("plain.key", pem.as_bytes());
    let sealed =
        signing::keys::encrypt_private_key(&key, PASSWORD.as_bytes(), [1; 32], [2; 24]).unwrap();
    ws.file("cosign.key", sealed.as_bytes());
    let key_pem = ws.outside().join("key.pem");
    std::fs::write(&key_pem, pem.as_bytes()).unwrap();
    ws.manifest(&format!(
        r#"
[steps.make]
uses = "./probe.wasm"
artifact-limit = "1GiB"
with = {{ actions = [{{ op = "fill", path = "/outputs/big.bin", bytes = {SIZE} }}, {{ op = "artifact-at", path = "/outputs/big.bin" }}] }}

[steps.sign]
uses = "sign"
with = {{ artifact = "${{{{ steps.make.outputs.artifact }}}}", key = "plain.key" }}
allow = {{ read = ["plain.key"] }}

[steps.sign-encrypted-key]
uses = "sign"
with = {{ artifact = "${{{{ steps.make.outputs.artifact }}}}", key = "cosign.key" }}
allow = {{ read = ["cosign.key"], secrets = ["COSIGN_PASSWORD"] }}

[steps.sign-attest]
uses = "sign"
with = {{ artifact = "${{{{ steps.make.outputs.artifact }}}}", key = "plain.key", attest = true }}
allow = {{ read = ["plain.key"] }}
"#
    ));
    let (mut ours, mut encrypted, mut attest, mut theirs) = (vec![], vec![], vec![], vec![]);
    for round in 0..rounds {
        // One step at a time: the steps must not share the two cores with each other.
        let out = ws
            .command(SLUICE, &["run", "--json", "--jobs", "1", "--no-step-cache"])
            .env("COSIGN_PASSWORD", PASSWORD)
            .stderr(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        let run: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        ours.push(step_ms(&run, "sign"));
        encrypted.push(step_ms(&run, "sign-encrypted-key"));
        attest.push(step_ms(&run, "sign-attest"));
        let blob = ws.stored(&run, "make", "artifact");
        let sig = ws.outside().join("big.sig");
        let started = Instant::now();
        let status = Command::new("openssl")
            .args(["dgst", "-sha256", "-sign"])
            .arg(&key_pem)
            .arg("-out")
            .arg(&sig)
            .arg(&blob)
            .status()
            .unwrap();
        theirs.push(started.elapsed());
        assert!(status.success());
        if round == 0 {
            check_same_signature_scheme(&ws, &run, &blob);
        }
    }
    let (o, t) = (median(ours), median(theirs));
    println!("sign a 200 MiB artifact ({rounds} rounds, medians):");
    println!(
        "  sign step (plain PKCS#8 key)      {:>10}  {:>10}",
        ms(o),
        mib_s(o)
    );
    println!(
        "  openssl dgst -sha256 -sign        {:>10}  {:>10}",
        ms(t),
        mib_s(t)
    );
    println!(
        "  throughput ratio step/openssl     {:>10.2}x  (target >= 0.90x)",
        t.as_secs_f64() / o.as_secs_f64()
    );
    let (e, a) = (median(encrypted), median(attest));
    println!(
        "  sign step, cosign encrypted key   {:>10}  (scrypt N=2^16 in the step)",
        ms(e)
    );
    println!(
        "  sign step, attest = true          {:>10}  (provenance + DSSE)",
        ms(a)
    );
}

/// The step's signature and openssl's are both valid for the same key and file.
fn check_same_signature_scheme(ws: &Workspace, run: &serde_json::Value, blob: &Path) {
    let public = ws.outside().join("key.pub");
    let out = Command::new("openssl")
        .args(["pkey", "-pubout", "-in"])
        .arg(ws.outside().join("key.pem"))
        .output()
        .unwrap();
    std::fs::write(&public, out.stdout).unwrap();
    use base64::Engine as _;
    let der = base64::engine::general_purpose::STANDARD
        .decode(std::fs::read_to_string(ws.stored(run, "sign", "signature")).unwrap())
        .unwrap();
    let der_path = ws.outside().join("step.sig.der");
    std::fs::write(&der_path, der).unwrap();
    let ok = Command::new("openssl")
        .args(["dgst", "-sha256", "-verify"])
        .arg(&public)
        .arg("-signature")
        .arg(&der_path)
        .arg(blob)
        .stdout(Stdio::null())
        .status()
        .unwrap()
        .success();
    assert!(ok, "openssl does not accept the step's signature");
}
