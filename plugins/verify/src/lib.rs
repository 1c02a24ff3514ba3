//! Built-in `verify` step: checks cosign-style signatures, sigstore bundles and DSSE
//! attestations against a public key, and the attested provenance against a policy. Every
//! mismatch is a finding saying exactly what did not match; any finding fails the gate.
//!
//! Inputs (each optional, at least one of `signature`, `bundle`, `attestation`):
//! `artifact` (the blob), `signature` (base64 DER, `cosign sign-blob --output-signature`),
//! `bundle` (sigstore bundle v0.3 for a key), `attestation` (DSSE envelope with an in-toto
//! Statement v1). The key is a workspace file (`key = "cosign.pub"`) or PEM text
//! (`public-key`). Policy: `digest` (the subject's expected `sha256:…`), `builder-id`,
//! `pipeline`, `max-age` (e.g. `"24h"`: how old the attested build may be).

use serde::Deserialize;
use serde_json::Value as Json;
use signing::bundle::{self, Bundle};
use signing::dsse::{Envelope, IN_TOTO_PAYLOAD_TYPE, SLSA_PROVENANCE_V1, STATEMENT_V1};
use signing::{PublicKey, VerifyError, keys};
use sluice_sdk::{
    Failure, Finding, Invocation, Outcome, Plugin, PluginInfo, Port, Rule, Severity, Value,
    ValueKind,
};

const OPTIONS: &[(&str, &str)] = &[
    (
        "key",
        "The public key file (SPKI PEM, e.g. cosign.pub), a workspace path the step may read",
    ),
    ("public-key", "Or: the public key's PEM text"),
    (
        "digest",
        "Policy: the subject's expected digest, sha256:<hex> (default: the artifact's, when wired)",
    ),
    (
        "builder-id",
        "Policy: the attestation's required SLSA builder.id",
    ),
    ("pipeline", "Policy: the pipeline the attestation must name"),
    (
        "max-age",
        "Policy: how long ago the attested build may have finished, e.g. \"24h\" or \"7days\"",
    ),
];

/// The largest signature, bundle or attestation read (they are small documents).
const MAX_DOCUMENT: u64 = 16 << 20;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Config {
    key: Option<String>,
    public_key: Option<String>,
    digest: Option<String>,
    builder_id: Option<String>,
    pipeline: Option<String>,
    max_age: Option<String>,
}

const RULES: &[(&str, &str, &str)] = &[
    (
        "verify/signature",
        "signature-mismatch",
        "A signature does not verify with the key over the content it covers",
    ),
    (
        "verify/digest",
        "digest-mismatch",
        "The signed or attested digest is not the artifact's (or the policy's)",
    ),
    (
        "verify/key",
        "key-mismatch",
        "The bundle names another key than the one given",
    ),
    (
        "verify/malformed",
        "malformed",
        "A signature, bundle or attestation cannot be read",
    ),
    (
        "verify/policy",
        "policy-mismatch",
        "The attested provenance does not meet the policy (builder, pipeline, age, type)",
    ),
];

struct Verify;

/// What the checks found.
struct Checks {
    findings: Vec<Finding>,
    passed: Vec<&'static str>,
}

impl Checks {
    fn fail(&mut self, rule: &str, message: String) {
        sluice_sdk::error!("{message}");
        self.findings
            .push(Finding::new(rule, Severity::Error, message));
    }
}

impl Plugin for Verify {
    fn describe() -> PluginInfo {
        let mut info = PluginInfo::new(
            "verify",
            env!("CARGO_PKG_VERSION"),
            "Verifies cosign signatures, sigstore bundles and SLSA attestations against a public key and a policy",
        )
        .wants("fs:read?")
        .input(Port::new("artifact", ValueKind::Artifact, "The signed blob"))
        .input(Port::new(
            "signature",
            ValueKind::Artifact,
            "Its base64 DER signature (cosign sign-blob --output-signature)",
        ))
        .input(Port::new(
            "bundle",
            ValueKind::Artifact,
            "Its sigstore bundle v0.3 (key-based)",
        ))
        .input(Port::new(
            "attestation",
            ValueKind::Artifact,
            "A DSSE envelope with an in-toto Statement v1 about it",
        ))
        .output(
            Port::new("digest", ValueKind::Text, "The verified subject's sha256:<hex>")
                .required(),
        )
        .rules(RULES.iter().map(|(id, name, summary)| {
            Rule::new(*id, *name, *summary, Severity::Error)
        }));
        for (n, s) in OPTIONS {
            info = info.option(*n, *s);
        }
        info
    }

    fn run(invocation: Invocation) -> Result<Outcome, Failure> {
        let config: Config = invocation.config()?;
        let key = load_key(&config)?;
        let signature = invocation.artifact("signature");
        let bundle = invocation.artifact("bundle");
        let attestation = invocation.artifact("attestation");
        if signature.is_none() && bundle.is_none() && attestation.is_none() {
            return Err(Failure::invalid(
                "nothing to verify: wire `signature`, `bundle` or `attestation` (e.g. `${{ steps.sign.outputs.bundle }}`)",
            ));
        }
        let policy_digest = match &config.digest {
            Some(d) => Some(signing::parse_sha256(d).ok_or_else(|| {
                Failure::invalid(format!("`digest` {d:?} is not sha256:<64 hex digits>"))
            })?),
            None => None,
        };
        let max_age = match &config.max_age {
            Some(a) => Some(humantime::parse_duration(a).map_err(|e| {
                Failure::invalid(format!("`max-age` {a:?}: {e} (e.g. \"24h\", \"7days\")"))
            })?),
            None => None,
        };
        let artifact_digest = match invocation.artifact("artifact") {
            Some(a) => {
                let d = sluice_sdk::digest(&a.path)
                    .map_err(|e| Failure::error(format!("cannot hash {}: {e}", a.path)))?;
                Some(signing::parse_sha256(&d).ok_or_else(|| {
                    Failure::error(format!("the host returned an odd digest: {d}"))
                })?)
            }
            None => None,
        };
        let mut checks = Checks {
            findings: Vec::new(),
            passed: Vec::new(),
        };
        if let (Some(a), Some(p)) = (artifact_digest, policy_digest)
            && a != p
        {
            checks.fail(
                "verify/digest",
                format!(
                    "the artifact is sha256:{}, but the policy requires sha256:{}",
                    hex(&a),
                    hex(&p)
                ),
            );
        }
        // What signatures must cover: the artifact when wired, else the policy's digest.
        let expected = artifact_digest.or(policy_digest);

        if let Some(sig) = signature {
            match expected {
                None => checks.fail(
                    "verify/digest",
                    "a blob signature can only be checked against its blob: wire `artifact` (or set `digest`)".into(),
                ),
                Some(digest) => {
                    let text = read(&sig.path)?;
                    match signing::unbase64(&String::from_utf8_lossy(&text))
                        .and_then(|der| signing::verify_digest(&key, &digest, &der))
                    {
                        Ok(()) => checks.passed.push("signature"),
                        Err(e) => checks.fail(rule_of(&e), format!("signature: {e}")),
                    }
                }
            }
        }
        if let Some(b) = bundle {
            check_bundle(&mut checks, &key, &read(&b.path)?, expected);
        }
        let mut subject = None;
        if let Some(a) = attestation {
            subject = check_attestation(
                &mut checks,
                &key,
                &read(&a.path)?,
                expected,
                &config,
                max_age,
            );
        }

        let digest = expected.or(subject).map(|d| format!("sha256:{}", hex(&d)));
        let mut outcome =
            Outcome::new().output("digest", Value::Text(digest.clone().unwrap_or_default()));
        let failed = checks.findings.len();
        for f in checks.findings {
            outcome = outcome.finding(f);
        }
        if failed > 0 {
            return Err(Failure::gate(outcome.summary(format!(
                "verification failed: {failed} problem{}",
                if failed == 1 { "" } else { "s" }
            ))));
        }
        Ok(outcome.summary(format!(
            "verified {} of {}",
            checks.passed.join(", "),
            digest.unwrap_or_else(|| "the subject".into())
        )))
    }
}

fn rule_of(e: &VerifyError) -> &'static str {
    match e {
        VerifyError::Malformed(_) => "verify/malformed",
        VerifyError::Mismatch => "verify/signature",
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn read(path: &str) -> Result<Vec<u8>, Failure> {
    use std::io::Read;
    let file = std::fs::File::open(path)
        .map_err(|e| Failure::error(format!("cannot read {path}: {e}")))?;
    let mut out = Vec::new();
    file.take(MAX_DOCUMENT + 1)
        .read_to_end(&mut out)
        .map_err(|e| Failure::error(format!("cannot read {path}: {e}")))?;
    if out.len() as u64 > MAX_DOCUMENT {
        return Err(Failure::invalid(format!(
            "{path} is larger than {} MiB: not a signature document",
            MAX_DOCUMENT >> 20
        )));
    }
    Ok(out)
}

fn load_key(config: &Config) -> Result<PublicKey, Failure> {
    let (pem, from) = match (&config.key, &config.public_key) {
        (Some(path), None) => {
            let guest = format!(
                "{}/{}",
                sluice_sdk::WORKSPACE,
                path.trim_start_matches("./")
            );
            let text = std::fs::read_to_string(&guest).map_err(|e| {
                let why = if e.kind() == std::io::ErrorKind::NotFound {
                    "this step cannot see it".to_string()
                } else {
                    e.to_string()
                };
                Failure::invalid(format!(
                    "cannot read the public key `{path}` ({why}): grant it with `read = [\"{path}\"]` in the step's `allow` table"
                ))
            })?;
            (text, format!("`{path}`"))
        }
        (None, Some(text)) => (text.clone(), "`public-key`".to_string()),
        (Some(_), Some(_)) => {
            return Err(Failure::invalid(
                "set either `key` (a file) or `public-key` (PEM text), not both",
            ));
        }
        (None, None) => {
            return Err(Failure::invalid(
                "no public key: set `key = \"cosign.pub\"` and grant `read = [\"cosign.pub\"]`",
            ));
        }
    };
    keys::public_key_from_pem(&pem).map_err(|e| Failure::invalid(format!("the key {from}: {e}")))
}

fn check_bundle(checks: &mut Checks, key: &PublicKey, bytes: &[u8], expected: Option<[u8; 32]>) {
    let bundle: Bundle = match serde_json::from_slice(bytes) {
        Ok(b) => b,
        Err(e) => {
            return checks.fail(
                "verify/malformed",
                format!("bundle: not a key-based sigstore bundle with a message signature: {e}"),
            );
        }
    };
    if bundle.media_type != bundle::MEDIA_TYPE {
        return checks.fail(
            "verify/malformed",
            format!(
                "bundle: media type {:?}, expected {:?}",
                bundle.media_type,
                bundle::MEDIA_TYPE
            ),
        );
    }
    let hint = keys::key_hint(key);
    if bundle.verification_material.public_key.hint != hint {
        checks.fail(
            "verify/key",
            format!(
                "bundle: signed by the key with hint {}, but the key given has hint {hint}",
                bundle.verification_material.public_key.hint
            ),
        );
    }
    let md = &bundle.message_signature.message_digest;
    let digest = match signing::unbase64(&md.digest) {
        Ok(d) if md.algorithm == "SHA2_256" && d.len() == 32 => {
            let mut out = [0u8; 32];
            out.copy_from_slice(&d);
            out
        }
        _ => {
            return checks.fail(
                "verify/malformed",
                format!(
                    "bundle: message digest {} {:?} is not a SHA-256",
                    md.algorithm, md.digest
                ),
            );
        }
    };
    let Some(expected) = expected else {
        return checks.fail(
            "verify/digest",
            "bundle: a bundle is checked against its blob: wire `artifact` (or set `digest`)"
                .into(),
        );
    };
    if digest != expected {
        checks.fail(
            "verify/digest",
            format!(
                "bundle: it covers sha256:{}, but the artifact is sha256:{}",
                hex(&digest),
                hex(&expected)
            ),
        );
    }
    match signing::unbase64(&bundle.message_signature.signature)
        .and_then(|der| signing::verify_digest(key, &expected, &der))
    {
        Ok(()) => checks.passed.push("bundle"),
        Err(e) => checks.fail(rule_of(&e), format!("bundle: {e}")),
    }
}

/// Checks an attestation; returns the subject's digest when the envelope verified.
fn check_attestation(
    checks: &mut Checks,
    key: &PublicKey,
    bytes: &[u8],
    expected: Option<[u8; 32]>,
    config: &Config,
    max_age: Option<std::time::Duration>,
) -> Option<[u8; 32]> {
    let envelope: Envelope = match serde_json::from_slice(bytes) {
        Ok(e) => e,
        Err(e) => {
            checks.fail(
                "verify/malformed",
                format!("attestation: not a DSSE envelope: {e}"),
            );
            return None;
        }
    };
    let payload = match envelope.verify(key) {
        Ok(p) => p,
        Err(e) => {
            checks.fail(rule_of(&e), format!("attestation: {e}"));
            return None;
        }
    };
    if envelope.payload_type != IN_TOTO_PAYLOAD_TYPE {
        checks.fail(
            "verify/malformed",
            format!(
                "attestation: payload type {:?}, expected {IN_TOTO_PAYLOAD_TYPE:?}",
                envelope.payload_type
            ),
        );
        return None;
    }
    let statement: Json = match serde_json::from_slice(&payload) {
        Ok(s) => s,
        Err(e) => {
            checks.fail(
                "verify/malformed",
                format!("attestation: the statement is not JSON: {e}"),
            );
            return None;
        }
    };
    if statement["_type"] != STATEMENT_V1 {
        checks.fail(
            "verify/malformed",
            format!(
                "attestation: `_type` is {}, expected {STATEMENT_V1:?}",
                statement["_type"]
            ),
        );
        return None;
    }
    let subjects: Vec<[u8; 32]> = statement["subject"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| {
            s["digest"]["sha256"]
                .as_str()
                .and_then(signing::parse_sha256)
        })
        .collect();
    let Some(first) = subjects.first().copied() else {
        checks.fail(
            "verify/malformed",
            "attestation: the statement has no sha256 subject".into(),
        );
        return None;
    };
    let subject = match expected {
        Some(want) if subjects.contains(&want) => want,
        Some(want) => {
            checks.fail(
                "verify/digest",
                format!(
                    "attestation: its subject is sha256:{}, but the artifact is sha256:{}",
                    subjects
                        .iter()
                        .map(|d| hex(d))
                        .collect::<Vec<_>>()
                        .join(", sha256:"),
                    hex(&want)
                ),
            );
            return None;
        }
        None => first,
    };
    let policy = config.builder_id.is_some() || config.pipeline.is_some() || max_age.is_some();
    if statement["predicateType"] != SLSA_PROVENANCE_V1 {
        if policy {
            checks.fail(
                "verify/policy",
                format!(
                    "attestation: predicate type {}, but the policy needs SLSA provenance ({SLSA_PROVENANCE_V1})",
                    statement["predicateType"]
                ),
            );
            return None;
        }
        checks.passed.push("attestation");
        return Some(subject);
    }
    let predicate = &statement["predicate"];
    let mut ok = true;
    if let Some(want) = &config.builder_id {
        let got = predicate["runDetails"]["builder"]["id"]
            .as_str()
            .unwrap_or("(none)");
        if got != want {
            ok = false;
            checks.fail(
                "verify/policy",
                format!("attestation: built by {got:?}, but the policy requires builder {want:?}"),
            );
        }
    }
    if let Some(want) = &config.pipeline {
        let got = predicate["buildDefinition"]["externalParameters"]["pipeline"]
            .as_str()
            .unwrap_or("(none)");
        if got != want {
            ok = false;
            checks.fail(
                "verify/policy",
                format!("attestation: made by pipeline {got:?}, but the policy requires {want:?}"),
            );
        }
    }
    if let Some(max) = max_age {
        let finished = predicate["runDetails"]["metadata"]["finishedOn"].as_str();
        match finished.map(humantime::parse_rfc3339_weak) {
            Some(Ok(at)) => {
                let age = std::time::SystemTime::now()
                    .duration_since(at)
                    .unwrap_or_default();
                if age > max {
                    ok = false;
                    checks.fail(
                        "verify/policy",
                        format!(
                            "attestation: the build finished {} ago ({}), more than the policy's max-age of {}",
                            humantime::format_duration(std::time::Duration::from_secs(age.as_secs())),
                            finished.unwrap_or_default(),
                            humantime::format_duration(max)
                        ),
                    );
                }
            }
            _ => {
                ok = false;
                checks.fail(
                    "verify/policy",
                    format!(
                        "attestation: no readable runDetails.metadata.finishedOn ({finished:?}) to check max-age against"
                    ),
                );
            }
        }
    }
    if ok {
        checks.passed.push("attestation");
    }
    Some(subject)
}

sluice_sdk::export_plugin!(Verify);
