//! `sign`, `verify`, `sluice keys generate` and the host's provenance, checked with tools
//! nobody here wrote: `openssl dgst -verify` for blob signatures, npm's `@sigstore/verify`
//! (offline, key-based) for bundles, PyPI's `securesystemslib` and `in-toto-attestation` for
//! DSSE envelopes and the in-toto/SLSA statements, and cosign's own published test key.
//! Python's `hashlib.scrypt` with PyNaCl opens Sluice's keys independently.

use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::Digest as _;
use sluice_test_support::{REPO, Workspace, probe_report, python_venv, run_ok, step, target_dir};

const SLUICE: &str = env!("CARGO_BIN_EXE_sluice");

const PIP_PACKAGES: &[&str] = &[
    "securesystemslib[crypto]==1.6.0",
    "in-toto-attestation==0.9.3",
    "pynacl==1.6.2",
];
const NPM_PACKAGES: &[&str] = &["@sigstore/verify@4.1.3", "@sigstore/bundle@5.0.1"];

/// cosign's own test key (`pkg/cosign/keys_test.go`, `pemsigstorekey`) and its password.
const COSIGN_KEY: &str = include_str!("../plugins/signing/tests/data/cosign-test-sigstore.key");
const COSIGN_KEY_PASSWORD: &str = "hello";

const PASSWORD: &str = "correct horse battery staple 42";

fn have(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
        .unwrap_or(false)
}

/// The checking tools, installed once under `target/test-tools/signing`; `None` (the test
/// says it is skipped) when `openssl`, `python3` or `npm` is missing outside CI.
struct Tools {
    python: PathBuf,
    node_modules: PathBuf,
}

/// The tools, set up once per test binary: tests run in parallel threads, and two of them
/// making the same venv at once would break it.
fn tools() -> Option<&'static Tools> {
    static TOOLS: std::sync::OnceLock<Option<Tools>> = std::sync::OnceLock::new();
    TOOLS.get_or_init(install_tools).as_ref()
}

fn install_tools() -> Option<Tools> {
    let missing: Vec<&str> = ["openssl", "python3", "npm", "node"]
        .into_iter()
        .filter(|t| !have(t))
        .collect();
    if !missing.is_empty() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must install {missing:?} (see .ci/run)"
        );
        eprintln!("skipped: needs {missing:?} (apt-get install openssl python3-venv npm)");
        return None;
    }
    let python = python_venv("signing", PIP_PACKAGES);
    let dir = target_dir().join("test-tools/signing-node");
    let node_modules = dir.join("node_modules");
    let marker = dir.join(format!(
        "installed-{}",
        NPM_PACKAGES.join("-").replace('/', "_")
    ));
    if !marker.exists() {
        std::fs::create_dir_all(&dir).unwrap();
        run_ok(
            Command::new("npm")
                .args([
                    "install",
                    "--silent",
                    "--no-audit",
                    "--no-fund",
                    "--no-save",
                    "--prefix",
                ])
                .arg(&dir)
                .args(NPM_PACKAGES),
        );
        std::fs::write(&marker, "").unwrap();
    }
    Some(Tools {
        python,
        node_modules,
    })
}

impl Tools {
    fn check_py(&self, args: &[&dyn AsRef<std::ffi::OsStr>]) -> std::process::Output {
        let mut cmd = Command::new(&self.python);
        cmd.arg(Path::new(REPO).join("tests/interop/check.py"));
        for a in args {
            cmd.arg(a);
        }
        run_ok(&mut cmd)
    }

    /// `@sigstore/verify` on a bundle: `Ok` or the verifier's message.
    fn verify_bundle(&self, bundle: &Path, blob: &Path, key: &Path) -> Result<(), String> {
        let out = Command::new("node")
            .arg(Path::new(REPO).join("tests/interop/verify-bundle.mjs"))
            .args([bundle, blob, key])
            .env("SIGSTORE_NODE_MODULES", &self.node_modules)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if out.status.success() && text == "verified" {
            Ok(())
        } else {
            Err(format!("{text}{}", String::from_utf8_lossy(&out.stderr)))
        }
    }
}

/// `openssl dgst -sha256 -verify KEY -signature SIG.der BLOB` on a base64 signature file.
fn openssl_verifies(key: &Path, sig_b64: &Path, blob: &Path) -> bool {
    use base64::Engine as _;
    let der = base64::engine::general_purpose::STANDARD
        .decode(std::fs::read_to_string(sig_b64).unwrap().trim())
        .unwrap();
    let der_path = sig_b64.with_extension("der");
    std::fs::write(&der_path, der).unwrap();
    Command::new("openssl")
        .args(["dgst", "-sha256", "-verify"])
        .arg(key)
        .arg("-signature")
        .arg(&der_path)
        .arg(blob)
        .output()
        .unwrap()
        .status
        .success()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

fn toml_str(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

/// Copies an artifact output out of the store under its own name.
fn take(ws: &Workspace, run: &serde_json::Value, id: &str, output: &str) -> PathBuf {
    let name = step(run, id)["outputs"][output]["value"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let to = ws.outside().join(format!("{id}-{name}"));
    std::fs::copy(ws.stored(run, id, output), &to).unwrap();
    to
}

fn generate_keys(ws: &Workspace, prefix: &str, password: &str) -> String {
    let out = ws
        .command(SLUICE, &["keys", "generate", "--output-key-prefix", prefix])
        .env("COSIGN_PASSWORD", password)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

const PAYLOAD: &str = "the service binary, or any blob\n";
const PAYLOAD_2: &str = "a second artifact, signed by the same step\n";

/// A key pair from `sluice keys generate` signs two artifacts with provenance in a pipeline;
/// openssl, @sigstore/verify and securesystemslib/in-toto accept what `sign` wrote, `verify`
/// accepts it too, the provenance names the plugin digests and grants of the run record,
/// and Python opens the generated key without Sluice's code.
#[test]
fn signatures_bundles_and_attestations_interoperate() {
    let Some(tools) = tools() else { return };
    let ws = Workspace::new();
    ws.with_probe();
    let said = generate_keys(&ws, "cosign", PASSWORD);
    insta::assert_snapshot!("keys_generate", said);
    let mode = std::fs::metadata(ws.dir().join("cosign.key")).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
        0o600
    );
    // Refuses to overwrite.
    let again = ws
        .command(SLUICE, &["keys", "generate"])
        .env("COSIGN_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
    insta::assert_snapshot!(
        "keys_generate_exists",
        String::from_utf8_lossy(&again.stderr)
    );
    // No password in the environment and no terminal to ask on (a new session has none).
    let mut no_tty = ws.command(
        SLUICE,
        &["keys", "generate", "--output-key-prefix", "other"],
    );
    no_tty.env_remove("COSIGN_PASSWORD");
    // SAFETY: setsid is async-signal-safe; it only detaches the child from the terminal.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut no_tty, || {
            libc::setsid();
            Ok(())
        });
    }
    let no_tty = no_tty.output().unwrap();
    assert_eq!(no_tty.status.code(), Some(2));
    insta::assert_snapshot!(
        "keys_generate_no_password",
        String::from_utf8_lossy(&no_tty.stderr)
    );
    assert!(!ws.dir().join("other.key").exists());

    ws.file("src/main.go", "package main\n").manifest(&format!(
        r#"
[pipeline]
name = "signing-demo"

[steps.build]
uses = "./probe.wasm"
with = {{ actions = [{{ op = "artifact", name = "payload.bin", contents = {payload} }}] }}
allow = {{ read = ["src"] }}

[steps.build-2]
uses = "./probe.wasm"
with = {{ actions = [{{ op = "artifact", name = "notes.txt", contents = {payload2} }}] }}

[steps.sign]
uses = "sign"
with = {{ artifact = "${{{{ steps.build.outputs.artifact }}}}", artifact-2 = "${{{{ steps.build-2.outputs.artifact }}}}", key = "cosign.key", attest = true }}
allow = {{ read = ["cosign.key"], secrets = ["COSIGN_PASSWORD"] }}

[steps.verify]
uses = "verify"
with = {{ artifact = "${{{{ steps.build.outputs.artifact }}}}", signature = "${{{{ steps.sign.outputs.signature }}}}", bundle = "${{{{ steps.sign.outputs.bundle }}}}", attestation = "${{{{ steps.sign.outputs.attestation }}}}", key = "cosign.pub", pipeline = "signing-demo", builder-id = "https://github.com/sluice-ci/sluice/builder/local@v1", max-age = "1h" }}
allow = {{ read = ["cosign.pub"] }}
"#,
        payload = toml_str(PAYLOAD),
        payload2 = toml_str(PAYLOAD_2),
    ));
    let out = ws
        .command(SLUICE, &["run"])
        .env("COSIGN_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = ws.last_run();
    assert_eq!(step(&run, "verify")["status"], "passed", "{stdout}");
    let public = ws.dir().join("cosign.pub");

    for (input, suffix, blob_text) in [("build", "", PAYLOAD), ("build-2", "-2", PAYLOAD_2)] {
        let blob = take(&ws, &run, input, "artifact");
        assert_eq!(std::fs::read_to_string(&blob).unwrap(), blob_text);
        // openssl accepts the cosign-style blob signature.
        let sig = take(&ws, &run, "sign", &format!("signature{suffix}"));
        assert!(
            openssl_verifies(&public, &sig, &blob),
            "openssl rejects {input}'s signature"
        );
        // @sigstore/verify accepts the bundle, and refuses it for another blob.
        let bundle = take(&ws, &run, "sign", &format!("bundle{suffix}"));
        tools.verify_bundle(&bundle, &blob, &public).unwrap();
        let other = ws.outside().join("other.bin");
        std::fs::write(&other, "not what was signed\n").unwrap();
        assert!(tools.verify_bundle(&bundle, &other, &public).is_err());
        // securesystemslib verifies the envelope; the statement and SLSA predicate validate.
        let att = take(&ws, &run, "sign", &format!("attestation{suffix}"));
        let checked: serde_json::Value =
            serde_json::from_slice(&tools.check_py(&[&"dsse", &att, &public]).stdout).unwrap();
        assert_eq!(
            checked["subject"][0]["digest"]["sha256"],
            sha256_hex(blob_text.as_bytes())
        );
        assert_eq!(
            checked["buildType"],
            "https://github.com/sluice-ci/sluice/blob/main/docs/provenance.md#build-type-v1"
        );
        assert_eq!(checked["invocationId"], run["run_id"]);
    }

    // The provenance is the run record's: plugin digest, grants, manifest digest, times.
    let att: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ws.stored(&run, "sign", "attestation")).unwrap())
            .unwrap();
    use base64::Engine as _;
    let statement: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(att["payload"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    let predicate = &statement["predicate"];
    let build = step(&run, "build");
    let deps = predicate["buildDefinition"]["resolvedDependencies"]
        .as_array()
        .unwrap();
    let plugin_dep = deps.iter().find(|d| d["name"] == "plugin:probe").unwrap();
    assert_eq!(
        format!(
            "sha256:{}",
            plugin_dep["digest"]["sha256"].as_str().unwrap()
        ),
        build["digest"].as_str().unwrap()
    );
    let external = &predicate["buildDefinition"]["externalParameters"];
    assert_eq!(external["pipeline"], "signing-demo");
    assert_eq!(
        external["manifest"]["digest"],
        format!(
            "sha256:{}",
            sha256_hex(&std::fs::read(ws.dir().join("sluice.toml")).unwrap())
        )
    );
    assert_eq!(external["steps"][0]["id"], "build");
    assert_eq!(external["steps"][0]["grants"], build["grants"]);
    assert_eq!(
        external["steps"][0]["with"]["actions"][0]["contents"],
        PAYLOAD
    );
    let metadata = &predicate["runDetails"]["metadata"];
    assert_eq!(metadata["startedOn"], build["started_at"]);
    assert_eq!(metadata["finishedOn"], build["finished_at"]);
    // The granted source tree `src` by digest: one file, as listed in docs/provenance.md.
    let src = deps.iter().find(|d| d["name"] == "workspace:src").unwrap();
    let listing = format!("{}  main.go\n", sha256_hex(b"package main\n"));
    assert_eq!(src["digest"]["sha256"], sha256_hex(listing.as_bytes()));
    // Only the producing step and its upstream: not `build-2`, not `sign`.
    assert_eq!(external["steps"].as_array().unwrap().len(), 1);

    // The generated key: Python opens it with scrypt + secretbox, openssl reads the result,
    // and its public half is `cosign.pub`.
    let pem = ws.outside().join("opened.pem");
    tools.check_py(&[
        &"decrypt-key",
        &ws.dir().join("cosign.key"),
        &PASSWORD,
        &pem,
    ]);
    let pub_out = run_ok(
        Command::new("openssl")
            .args(["pkey", "-pubout", "-in"])
            .arg(&pem),
    );
    assert_eq!(
        String::from_utf8_lossy(&pub_out.stdout),
        std::fs::read_to_string(&public).unwrap()
    );
    // And Sluice's own reading of it gives the same key, which openssl loads.
    let ours = signing::keys::private_key_from_pem(
        &std::fs::read_to_string(ws.dir().join("cosign.key")).unwrap(),
        Some(PASSWORD.as_bytes()),
    )
    .unwrap();
    let ours_pem = ws.outside().join("ours.pem");
    std::fs::write(
        &ours_pem,
        signing::keys::private_key_pem(&ours).unwrap().as_bytes(),
    )
    .unwrap();
    let theirs = run_ok(Command::new("openssl").args(["pkey", "-in"]).arg(&pem));
    let mine = run_ok(Command::new("openssl").args(["pkey", "-in"]).arg(&ours_pem));
    assert_eq!(theirs.stdout, mine.stdout);

    // The password never reaches the console or the record.
    assert!(!stdout.contains(PASSWORD));
    assert!(!ws.all_records().contains(PASSWORD));
}

/// cosign's own test key, given as a secret (PEM text) with its password, signs in a
/// pipeline; openssl verifies with the public key Python derives from it; a signature made
/// with that key by another implementation verifies in `verify`. The key's lines never
/// appear in the console or the record.
#[test]
fn cosigns_key_signs_and_its_signatures_verify() {
    let Some(tools) = tools() else { return };
    let ws = Workspace::new();
    ws.with_probe();
    let key_file = ws.outside().join("cosign-test.key");
    std::fs::write(&key_file, COSIGN_KEY).unwrap();
    let pem = ws.outside().join("cosign-test.pem");
    tools.check_py(&[&"decrypt-key", &key_file, &COSIGN_KEY_PASSWORD, &pem]);
    let public = run_ok(
        Command::new("openssl")
            .args(["pkey", "-pubout", "-in"])
            .arg(&pem),
    );
    ws.file("cosign.pub", &public.stdout);
    // A signature over the blob by cosign's key, made by Python's `cryptography`.
    let blob = ws.outside().join("blob");
    std::fs::write(&blob, PAYLOAD).unwrap();
    let their_sig = ws.outside().join("blob.sig");
    tools.check_py(&[&"sign-blob", &pem, &blob, &their_sig]);
    ws.manifest(&format!(
        r#"
[steps.build]
uses = "./probe.wasm"
with = {{ actions = [{{ op = "artifact", name = "blob", contents = {payload} }}] }}

[steps.theirs]
uses = "./probe.wasm"
with = {{ actions = [{{ op = "artifact", name = "blob.sig", contents = {sig} }}] }}

[steps.sign]
uses = "sign"
with = {{ artifact = "${{{{ steps.build.outputs.artifact }}}}", key-secret = "COSIGN_KEY" }}
allow = {{ secrets = ["COSIGN_KEY", "COSIGN_PASSWORD"] }}

[steps.verify-theirs]
uses = "verify"
with = {{ artifact = "${{{{ steps.build.outputs.artifact }}}}", signature = "${{{{ steps.theirs.outputs.artifact }}}}", key = "cosign.pub" }}
allow = {{ read = ["cosign.pub"] }}

[steps.verify-ours]
uses = "verify"
with = {{ artifact = "${{{{ steps.build.outputs.artifact }}}}", signature = "${{{{ steps.sign.outputs.signature }}}}", bundle = "${{{{ steps.sign.outputs.bundle }}}}", key = "cosign.pub" }}
allow = {{ read = ["cosign.pub"] }}
"#,
        payload = toml_str(PAYLOAD),
        sig = toml_str(&std::fs::read_to_string(&their_sig).unwrap()),
    ));
    let out = ws
        .command(SLUICE, &["run"])
        .env("COSIGN_KEY", COSIGN_KEY)
        .env("COSIGN_PASSWORD", COSIGN_KEY_PASSWORD)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = ws.last_run();
    let sig = take(&ws, &run, "sign", "signature");
    assert!(openssl_verifies(&ws.dir().join("cosign.pub"), &sig, &blob));
    tools
        .verify_bundle(
            &take(&ws, &run, "sign", "bundle"),
            &blob,
            &ws.dir().join("cosign.pub"),
        )
        .unwrap();
    let records = ws.all_records();
    for line in COSIGN_KEY.lines().filter(|l| !l.starts_with("-----")) {
        assert!(
            !stdout.contains(line) && !records.contains(line),
            "key line leaked: {line}"
        );
    }
}

/// Flips one base64 character of `text` at `at` (to another valid one).
fn flip_b64(text: &str, at: usize) -> String {
    let mut bytes = text.as_bytes().to_vec();
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap()
}

/// Each kind of tampering fails `verify` with the finding that names it: a changed byte in
/// the blob, the signature, the attested payload or the expected subject digest, another
/// key, a policy the provenance does not meet.
#[test]
fn tampering_fails_verify_with_the_reason() {
    let ws = Workspace::new();
    ws.with_probe();
    generate_keys(&ws, "cosign", PASSWORD);
    generate_keys(&ws, "other", PASSWORD);
    ws.manifest(&format!(
        r#"
[steps.build]
uses = "./probe.wasm"
with = {{ actions = [{{ op = "artifact", name = "payload.bin", contents = {payload} }}] }}

[steps.sign]
uses = "sign"
with = {{ artifact = "${{{{ steps.build.outputs.artifact }}}}", key = "cosign.key", attest = true }}
allow = {{ read = ["cosign.key"], secrets = ["COSIGN_PASSWORD"] }}
"#,
        payload = toml_str(PAYLOAD)
    ));
    let out = ws
        .command(SLUICE, &["run"])
        .env("COSIGN_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let run = ws.last_run();
    let read = |output: &str| std::fs::read_to_string(ws.stored(&run, "sign", output)).unwrap();
    let signature = read("signature");
    let bundle = read("bundle");
    let attestation = read("attestation");

    // The payload with one field changed, the signature kept.
    let mut envelope: serde_json::Value = serde_json::from_str(&attestation).unwrap();
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let payload =
        String::from_utf8(b64.decode(envelope["payload"].as_str().unwrap()).unwrap()).unwrap();
    let forged = payload.replace("\"payload.bin\"", "\"payload.bim\"");
    assert_ne!(forged, payload);
    envelope["payload"] = b64.encode(forged).into();
    let payload_changed = envelope.to_string();
    // A byte of r in the DER signature (offset 4 is inside the first integer).
    let mut der = b64.decode(signature.trim()).unwrap();
    der[8] ^= 0x01;
    let signature_changed = b64.encode(&der);

    let artifact = |id: &str, name: &str, contents: &str| {
        format!(
            "[steps.{id}]\nuses = \"./probe.wasm\"\nwith = {{ actions = [{{ op = \"artifact\", name = \"{name}\", contents = {} }}] }}\n\n",
            toml_str(contents)
        )
    };
    let mut manifest = String::new();
    manifest += &artifact("blob", "payload.bin", PAYLOAD);
    manifest += &artifact(
        "blob-changed",
        "payload.bin",
        &flip_b64(PAYLOAD, 0).replacen('t', "T", 1),
    );
    manifest += &artifact("sig", "payload.bin.sig", &signature);
    manifest += &artifact("sig-changed", "payload.bin.sig", &signature_changed);
    manifest += &artifact("bundle", "payload.bin.sigstore.json", &bundle);
    manifest += &artifact("att", "payload.bin.intoto.jsonl", &attestation);
    manifest += &artifact("att-changed", "payload.bin.intoto.jsonl", &payload_changed);
    manifest += &artifact("junk", "junk.json", "{\"mediaType\": 3}");
    let verify = |id: &str, with: &str, key: &str| {
        format!(
            "[steps.{id}]\nuses = \"verify\"\nwith = {{ {with}, key = \"{key}\" }}\nallow = {{ read = [\"{key}\"] }}\n\n"
        )
    };
    let o = |step: &str| format!("\"${{{{ steps.{step}.outputs.artifact }}}}\"");
    let all = |blob: &str| {
        format!(
            "artifact = {}, signature = {}, bundle = {}, attestation = {}",
            o(blob),
            o("sig"),
            o("bundle"),
            o("att")
        )
    };
    manifest += &verify("intact", &all("blob"), "cosign.pub");
    manifest += &verify("blob-changed-check", &all("blob-changed"), "cosign.pub");
    manifest += &verify(
        "signature-changed",
        &format!("artifact = {}, signature = {}", o("blob"), o("sig-changed")),
        "cosign.pub",
    );
    manifest += &verify(
        "payload-changed",
        &format!(
            "artifact = {}, attestation = {}",
            o("blob"),
            o("att-changed")
        ),
        "cosign.pub",
    );
    manifest += &verify(
        "subject-digest",
        &format!(
            "attestation = {}, digest = \"sha256:{}\"",
            o("att"),
            sha256_hex(b"something else")
        ),
        "cosign.pub",
    );
    manifest += &verify("other-key", &all("blob"), "other.pub");
    manifest += &verify(
        "policy",
        &format!(
            "artifact = {}, attestation = {}, builder-id = \"https://ci.example/builder\", pipeline = \"release\", max-age = \"1ms\"",
            o("blob"),
            o("att")
        ),
        "cosign.pub",
    );
    manifest += &verify(
        "malformed",
        &format!("artifact = {}, bundle = {}", o("blob"), o("junk")),
        "cosign.pub",
    );
    ws.manifest(&manifest);
    let out = ws.sluice(SLUICE, &["run"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    let run = ws.last_run();
    let mut report = String::new();
    for id in [
        "intact",
        "blob-changed-check",
        "signature-changed",
        "payload-changed",
        "subject-digest",
        "other-key",
        "policy",
        "malformed",
    ] {
        let s = step(&run, id);
        report += &format!(
            "{id}: {} — {}\n",
            s["status"].as_str().unwrap(),
            s["summary"].as_str().unwrap()
        );
        for f in s["findings"].as_array().unwrap() {
            report += &format!(
                "  {}: {}\n",
                f["rule"].as_str().unwrap(),
                f["message"].as_str().unwrap()
            );
        }
    }
    insta::with_settings!({filters => vec![
        (r"[0-9a-f]{64}", "<sha256>"),
        (r"[A-Za-z0-9+/]{43}=", "<hint>"),
        (r"finished [0-9a-z ]+ ago \([0-9TZ:.-]+\)", "finished <age> ago (<time>)"),
    ]}, {
        insta::assert_snapshot!("tampering", report);
    });
}

/// A wrong password and a missing password grant are `invalid` errors that say what to do;
/// neither the password nor the key shows anywhere.
#[test]
fn a_wrong_or_missing_password_is_a_clear_error() {
    let ws = Workspace::new();
    ws.with_probe();
    generate_keys(&ws, "cosign", PASSWORD);
    ws.manifest(
        r#"
[steps.build]
uses = "./probe.wasm"
with = { actions = [{ op = "artifact", name = "payload.bin", contents = "x" }] }

[steps.wrong-password]
uses = "sign"
with = { artifact = "${{ steps.build.outputs.artifact }}", key = "cosign.key" }
allow = { read = ["cosign.key"], secrets = ["COSIGN_PASSWORD"] }

[steps.no-password-grant]
uses = "sign"
with = { artifact = "${{ steps.build.outputs.artifact }}", key = "cosign.key" }
allow = { read = ["cosign.key"] }

[steps.no-key-grant]
uses = "sign"
with = { artifact = "${{ steps.build.outputs.artifact }}", key = "cosign.key" }
"#,
    );
    let out = ws
        .command(SLUICE, &["run"])
        .env("COSIGN_PASSWORD", "not the password")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let run = ws.last_run();
    let mut report = String::new();
    for id in ["wrong-password", "no-password-grant", "no-key-grant"] {
        let s = step(&run, id);
        report += &format!("{id}: {} — {}\n", s["status"], s["error"].as_str().unwrap());
    }
    insta::assert_snapshot!("password_errors", report);
    assert!(!ws.all_records().contains("not the password"));
}

/// A step asks the host for provenance: only its own artifact inputs have any, named by
/// their exact guest path; the document names the producing step as the run recorded it.
#[test]
fn provenance_covers_only_the_steps_own_inputs() {
    let ws = Workspace::new();
    ws.with_probe();
    ws.manifest(
        r#"
[steps.build]
uses = "./probe.wasm"
with = { actions = [{ op = "artifact", name = "out.bin", contents = "bytes" }] }

[steps.ask]
uses = "./probe.wasm"
with = { in-artifact = "${{ steps.build.outputs.artifact }}", actions = [
  { op = "provenance" },
  { op = "provenance", path = "/inputs/in-artifact/../in-artifact/out.bin" },
  { op = "provenance", path = "/workspace/sluice.toml" },
  { op = "provenance", path = "/outputs/x" },
] }
"#,
    );
    let out = ws.sluice(SLUICE, &["run"]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    let run = ws.last_run();
    let report = probe_report(&run, "ask");
    assert!(report[0].1, "{report:?}");
    let doc: serde_json::Value = serde_json::from_str(&report[0].2).unwrap();
    assert_eq!(doc["artifact"]["step"], "build");
    assert_eq!(
        doc["artifact"]["digest"],
        step(&run, "build")["outputs"]["artifact"]["value"]["digest"]
    );
    assert_eq!(
        doc["steps"][0]["plugin"]["digest"],
        step(&run, "build")["digest"]
    );
    assert_eq!(doc["run"]["id"], run["run_id"]);
    let refused: Vec<String> = report[1..]
        .iter()
        .map(|(op, ok, detail)| {
            assert!(!ok, "{op}: {detail}");
            detail.clone()
        })
        .collect();
    insta::assert_snapshot!("provenance_refused", refused.join("\n"));
}

/// A granted tree nested deeper than the host walks (a step with a write grant can make one)
/// makes provenance fail with the reason, never the host.
#[test]
fn provenance_refuses_a_tree_nested_without_end() {
    let ws = Workspace::new();
    ws.with_probe();
    ws.file(&format!("deep/{}f", "d/".repeat(200)), "x");
    ws.manifest(
        r#"
[steps.build]
uses = "./probe.wasm"
allow = { read = ["deep"] }
with = { actions = [{ op = "artifact", name = "out.bin", contents = "bytes" }] }

[steps.ask]
uses = "./probe.wasm"
with = { in-artifact = "${{ steps.build.outputs.artifact }}", actions = [{ op = "provenance" }] }
"#,
    );
    let out = ws.sluice(SLUICE, &["run"]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    let report = probe_report(&ws.last_run(), "ask");
    assert!(!report[0].1, "{report:?}");
    assert!(
        report[0]
            .2
            .starts_with("cannot digest the granted tree `deep`: d/d/d/")
            && report[0]
                .2
                .ends_with(": directories nested deeper than 128 levels"),
        "{}",
        report[0].2
    );
}

/// An image is signed the cosign way and its signature and attestation are pushed beside it
/// by `oci-push` (tags `sha256-<hex>.sig` / `.att`) to a real registry (Debian's
/// `docker-registry`); read back with `skopeo`, the signature manifest is cosign's (a
/// simple-signing layer naming the pushed digest, the signature in its annotation) and
/// `openssl` verifies that signature; `verify` accepts the layouts and refuses another
/// image's digest and another repository.
#[test]
fn images_are_signed_the_cosign_way_and_pushed_beside_them() {
    let missing: Vec<&str> = ["docker-registry", "skopeo", "openssl"]
        .into_iter()
        .filter(|t| !have(t))
        .collect();
    if !missing.is_empty() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must install {missing:?} (see .ci/run)"
        );
        eprintln!("skipped: needs {missing:?} (apt-get install docker-registry skopeo openssl)");
        return;
    }
    let registry = sluice_test_support::Registry::start(None);
    let origin = registry.origin();
    let repository = format!("127.0.0.1:{}/demo/signed", registry.port);
    let ws = Workspace::new();
    ws.with_probe();
    generate_keys(&ws, "cosign", PASSWORD);
    let push = |id: &str, image: &str, tag: Option<&str>| {
        format!(
            "[steps.{id}]\nuses = \"oci-push\"\nallow = {{ net = [\"{origin}\"] }}\nwith = {{ image = \"${{{{ steps.{image} }}}}\", registry = \"{origin}\", repository = \"demo/signed\"{} }}\n\n",
            tag.map(|t| format!(", tag = \"{t}\"")).unwrap_or_default()
        )
    };
    let mut manifest = format!(
        r##"
[steps.build]
uses = "./probe.wasm"
with = {{ actions = [{{ op = "artifact", name = "server", contents = "#!/bin/true\n" }}] }}

[steps.image]
uses = "oci-image"
with = {{ binary = "${{{{ steps.build.outputs.artifact }}}}" }}

[steps.sign]
uses = "sign"
allow = {{ read = ["cosign.key"], secrets = ["COSIGN_PASSWORD"] }}
with = {{ image = "${{{{ steps.image.outputs.image }}}}", image-repository = "{repository}", key = "cosign.key", attest = true }}

[steps.verify]
uses = "verify"
allow = {{ read = ["cosign.pub"] }}
with = {{ image = "${{{{ steps.image.outputs.image }}}}", image-signature = "${{{{ steps.sign.outputs.image-signature }}}}", image-attestation = "${{{{ steps.sign.outputs.image-attestation }}}}", image-repository = "{repository}", key = "cosign.pub", max-age = "1h" }}

[steps.verify-other-repository]
uses = "verify"
allow = {{ read = ["cosign.pub"] }}
with = {{ image = "${{{{ steps.image.outputs.image }}}}", image-signature = "${{{{ steps.sign.outputs.image-signature }}}}", image-repository = "registry.example.com/demo/signed", key = "cosign.pub" }}

[steps.verify-other-image]
uses = "verify"
allow = {{ read = ["cosign.pub"] }}
with = {{ image-signature = "${{{{ steps.sign.outputs.image-signature }}}}", image-attestation = "${{{{ steps.sign.outputs.image-attestation }}}}", digest = "sha256:{other}", key = "cosign.pub" }}

"##,
        other = sha256_hex(b"another image")
    );
    manifest += &push("push", "image.outputs.image", Some("v1"));
    manifest += &push("push-signature", "sign.outputs.image-signature", None);
    manifest += &push("push-attestation", "sign.outputs.image-attestation", None);
    ws.manifest(&manifest);
    let out = ws
        .command(SLUICE, &["run"])
        .env("COSIGN_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let run = ws.last_run();
    for id in ["push", "push-signature", "push-attestation", "verify"] {
        assert_eq!(step(&run, id)["status"], "passed", "{id}: {stdout}");
    }
    assert!(
        step(&run, "verify")["summary"]
            .as_str()
            .unwrap()
            .starts_with("verified image signature, image attestation of sha256:"),
        "{}",
        step(&run, "verify")
    );
    let mut refused = String::new();
    for id in ["verify-other-repository", "verify-other-image"] {
        let s = step(&run, id);
        assert_eq!(s["status"], "failed");
        for f in s["findings"].as_array().unwrap() {
            refused += &format!(
                "{id}: {}: {}\n",
                f["rule"].as_str().unwrap(),
                f["message"].as_str().unwrap()
            );
        }
    }
    insta::with_settings!({filters => vec![(r"[0-9a-f]{64}", "<sha256>"), (r"127\.0\.0\.1:[0-9]+", "127.0.0.1:<port>")]}, {
        insta::assert_snapshot!("image_refused", refused);
    });

    // Read back with skopeo: the image by tag has the digest `sign` signed, and the
    // signature is found at cosign's tag for it.
    let digest = step(&run, "push")["outputs"]["digest"]["value"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        step(&run, "sign")["outputs"]["image-digest"]["value"],
        digest.as_str()
    );
    let skopeo = |args: &[&str]| {
        String::from_utf8(run_ok(Command::new("skopeo").args(args)).stdout).unwrap()
    };
    let inspected: serde_json::Value = serde_json::from_str(&skopeo(&[
        "inspect",
        "--tls-verify=false",
        &format!("docker://{repository}:v1"),
    ]))
    .unwrap();
    assert_eq!(inspected["Digest"], digest.as_str());
    let sig_tag = format!("{}.sig", digest.replace(':', "-"));
    let raw: serde_json::Value = serde_json::from_str(&skopeo(&[
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{repository}:{sig_tag}"),
    ]))
    .unwrap();
    let layer = &raw["layers"][0];
    assert_eq!(
        layer["mediaType"],
        "application/vnd.dev.cosign.simplesigning.v1+json"
    );
    let sig_b64 = layer["annotations"]["dev.cosignproject.cosign/signature"]
        .as_str()
        .unwrap();
    let dir = ws.outside().join("sig-dir");
    skopeo(&[
        "copy",
        "--src-tls-verify=false",
        &format!("docker://{repository}:{sig_tag}"),
        &format!("dir:{}", dir.display()),
    ]);
    let payload_path = dir.join(
        layer["digest"]
            .as_str()
            .unwrap()
            .trim_start_matches("sha256:"),
    );
    let payload: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&payload_path).unwrap()).unwrap();
    assert_eq!(
        payload["critical"]["image"]["docker-manifest-digest"],
        digest.as_str()
    );
    assert_eq!(
        payload["critical"]["identity"]["docker-reference"],
        repository.as_str()
    );
    assert_eq!(
        payload["critical"]["type"],
        "cosign container image signature"
    );
    let sig_file = ws.outside().join("image.sig");
    std::fs::write(&sig_file, sig_b64).unwrap();
    assert!(openssl_verifies(
        &ws.dir().join("cosign.pub"),
        &sig_file,
        &payload_path
    ));
    // The attestation is at cosign's `.att` tag, its subject the image by digest.
    let att: serde_json::Value = serde_json::from_str(&skopeo(&[
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{repository}:{}.att", digest.replace(':', "-")),
    ]))
    .unwrap();
    assert_eq!(
        att["layers"][0]["mediaType"],
        "application/vnd.dsse.envelope.v1+json"
    );
    assert_eq!(
        att["layers"][0]["annotations"]["predicateType"],
        "https://slsa.dev/provenance/v1"
    );
}

/// Configuration mistakes are `invalid` errors that say what to set or wire (before any key
/// is opened where the mistake is in the wiring).
#[test]
fn configuration_mistakes_say_what_to_do() {
    let ws = Workspace::new();
    ws.with_probe();
    let key = signing::keys::signing_key_from_random(&[9; 32]).unwrap();
    ws.file(
        "plain.key",
        signing::keys::private_key_pem(&key).unwrap().as_bytes(),
    );
    ws.file(
        "cosign.pub",
        signing::keys::public_key_pem(key.verifying_key()),
    );
    ws.manifest(
        r#"
[steps.build]
uses = "./probe.wasm"
with = { actions = [{ op = "artifact", name = "blob", contents = "x" }] }

[steps.nothing-to-sign]
uses = "sign"
allow = { read = ["plain.key"] }
with = { key = "plain.key" }

[steps.no-key]
uses = "sign"
with = { artifact = "${{ steps.build.outputs.artifact }}" }

[steps.two-keys]
uses = "sign"
allow = { read = ["plain.key"], secrets = ["COSIGN_KEY"] }
with = { artifact = "${{ steps.build.outputs.artifact }}", key = "plain.key", key-secret = "COSIGN_KEY" }

[steps.repository-without-image]
uses = "sign"
allow = { read = ["plain.key"] }
with = { artifact = "${{ steps.build.outputs.artifact }}", key = "plain.key", image-repository = "127.0.0.1:5000/x/y" }

[steps.not-an-image]
uses = "sign"
allow = { read = ["plain.key"] }
with = { image = "${{ steps.build.outputs.artifact }}", key = "plain.key", image-repository = "127.0.0.1:5000/x/y" }

[steps.image-without-repository]
uses = "sign"
allow = { read = ["plain.key"] }
with = { image = "${{ steps.build.outputs.artifact }}", key = "plain.key" }

[steps.nothing-to-verify]
uses = "verify"
allow = { read = ["cosign.pub"] }
with = { artifact = "${{ steps.build.outputs.artifact }}", key = "cosign.pub" }

[steps.no-public-key]
uses = "verify"
with = { signature = "${{ steps.build.outputs.artifact }}" }

[steps.bad-policy]
uses = "verify"
allow = { read = ["cosign.pub"] }
with = { signature = "${{ steps.build.outputs.artifact }}", key = "cosign.pub", digest = "md5:abc", max-age = "soon" }
"#,
    );
    let out = ws.sluice(SLUICE, &["run"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    let run = ws.last_run();
    let mut report = String::new();
    for s in run["steps"].as_array().unwrap().iter().skip(1) {
        report += &format!(
            "{}: {} — {}\n",
            s["id"].as_str().unwrap(),
            s["status"].as_str().unwrap(),
            s["error"].as_str().unwrap_or_default()
        );
    }
    insta::assert_snapshot!("configuration_mistakes", report);
}
