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
//!
//! Images, the cosign way: `image-signature` and `image-attestation` are the layouts `sign`
//! writes (or any copy of cosign's `sha256-<hex>.sig` / `.att` manifests as a layout), checked
//! against the image's manifest digest (from `image`, a layout, or `digest`) and
//! `image-repository`.

use serde::Deserialize;
use serde_json::Value as Json;
use signing::bundle::{self, Bundle};
use signing::dsse::{Envelope, IN_TOTO_PAYLOAD_TYPE, SLSA_PROVENANCE_V1, STATEMENT_V1};
use signing::{PublicKey, VerifyError, keys};
use sluice_sdk::{
    Failure, Finding, Invocation, Kind, Opt, Outcome, Plugin, PluginInfo, Port, Rule, Severity,
    Value, ValueKind,
};

const OPTIONS: &[Opt] = &[
    Opt::new(
        "key",
        Kind::Text,
        "The public key file (SPKI PEM, e.g. cosign.pub), a workspace path the step may read",
    ),
    Opt::new("public-key", Kind::Text, "Or: the public key's PEM text"),
    Opt::new(
        "image-repository",
        Kind::Text,
        "Policy: the repository an image signature must name (cosign's docker-reference)",
    ),
    Opt::new(
        "digest",
        Kind::Text,
        "Policy: the subject's expected digest, sha256:<hex> (default: the artifact's, when wired)",
    ),
    Opt::new(
        "builder-id",
        Kind::Text,
        "Policy: the attestation's required SLSA builder.id",
    ),
    Opt::new(
        "pipeline",
        Kind::Text,
        "Policy: the pipeline the attestation must name",
    ),
    Opt::new(
        "max-age",
        Kind::Text,
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
    image_repository: Option<String>,
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
        let info = PluginInfo::new(
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
        .input(Port::new(
            "image",
            ValueKind::Artifact,
            "The signed image as an OCI layout (oci-archive): its manifest digest is expected",
        ))
        .input(Port::new(
            "image-signature",
            ValueKind::Artifact,
            "cosign's signature of the image (sign's image-signature layout)",
        ))
        .input(Port::new(
            "image-attestation",
            ValueKind::Artifact,
            "cosign's attestation of the image (sign's image-attestation layout)",
        ))
        .output(
            Port::new("digest", ValueKind::Text, "The verified subject's sha256:<hex>")
                .required(),
        )
        .rules(RULES.iter().map(|(id, name, summary)| {
            Rule::new(*id, *name, *summary, Severity::Error)
        }));
        info.options(OPTIONS)
    }

    fn run(invocation: Invocation) -> Result<Outcome, Failure> {
        let config: Config = invocation.config()?;
        let key = load_key(&config)?;
        let signature = invocation.artifact("signature");
        let bundle = invocation.artifact("bundle");
        let attestation = invocation.artifact("attestation");
        let image_signature = invocation.artifact("image-signature");
        let image_attestation = invocation.artifact("image-attestation");
        if signature.is_none()
            && bundle.is_none()
            && attestation.is_none()
            && image_signature.is_none()
            && image_attestation.is_none()
        {
            return Err(Failure::invalid(
                "nothing to verify: wire `signature`, `bundle`, `attestation`, `image-signature` or `image-attestation` (e.g. `${{ steps.sign.outputs.bundle }}`)",
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
                "attestation",
                &key,
                &read(&a.path)?,
                expected,
                &config,
                max_age,
            );
        }

        if image_signature.is_some() || image_attestation.is_some() {
            let image = match invocation.artifact("image") {
                Some(i) => Some(image_digest(&i.path)?),
                None => None,
            };
            let Some(want) = image.or(policy_digest) else {
                return Err(Failure::invalid(
                    "an image signature is checked against the image: wire `image` (its layout) or set `digest` to its manifest digest",
                ));
            };
            if let (Some(i), Some(p)) = (image, policy_digest)
                && i != p
            {
                checks.fail(
                    "verify/digest",
                    format!(
                        "the image is sha256:{}, but the policy requires sha256:{}",
                        hex(&i),
                        hex(&p)
                    ),
                );
            }
            if let Some(layout) = image_signature {
                check_image_signature(&mut checks, &key, &layout.path, &want, &config);
            }
            if let Some(layout) = image_attestation {
                match layer_of(&layout.path, signing::image::DSSE_ENVELOPE) {
                    Ok((bytes, _)) => {
                        check_attestation(
                            &mut checks,
                            "image attestation",
                            &key,
                            &bytes,
                            Some(want),
                            &config,
                            max_age,
                        );
                    }
                    Err(e) => checks.fail("verify/malformed", format!("image attestation: {e}")),
                }
            }
            subject = subject.or(Some(want));
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

/// The manifest digest of the one image in a layout.
fn image_digest(path: &str) -> Result<[u8; 32], Failure> {
    let not_layout = |e: String| {
        Failure::invalid(format!(
            "`image` is not an OCI image layout (oci-archive): {e}; wire it to an `oci-image` step's `image` output"
        ))
    };
    let archive = oci_layout::Archive::open(std::path::Path::new(path)).map_err(not_layout)?;
    let index = archive.index().map_err(not_layout)?;
    match index.manifests.as_slice() {
        [one] => signing::parse_sha256(&one.digest)
            .ok_or_else(|| Failure::invalid(format!("{path}: odd digest {}", one.digest))),
        _ => Err(Failure::invalid(format!(
            "{path}: `image` must hold exactly one image"
        ))),
    }
}

/// The one layer of `media_type` in the one manifest of a layout: its bytes (checked
/// against its digest) and annotations.
fn layer_of(
    path: &str,
    media_type: &str,
) -> Result<(Vec<u8>, std::collections::BTreeMap<String, String>), String> {
    let archive = oci_layout::Archive::open(std::path::Path::new(path))?;
    let index = archive.index()?;
    let [top] = index.manifests.as_slice() else {
        return Err("the layout must hold exactly one manifest".into());
    };
    let manifest: oci_layout::Manifest = serde_json::from_slice(&archive.read_blob(&top.digest)?)
        .map_err(|e| format!("not an image manifest: {e}"))?;
    let layer = manifest
        .layers
        .iter()
        .find(|l| l.media_type == media_type)
        .ok_or_else(|| format!("no {media_type} layer"))?;
    Ok((
        archive.read_blob(&layer.digest)?,
        layer.annotations.clone().unwrap_or_default(),
    ))
}

/// cosign's image signature: the payload's signature (layer annotation), then what the
/// payload names against the image digest and repository expected.
fn check_image_signature(
    checks: &mut Checks,
    key: &PublicKey,
    path: &str,
    want: &[u8; 32],
    config: &Config,
) {
    use signing::image as cosign;
    let (payload, annotations) = match layer_of(path, cosign::SIMPLE_SIGNING) {
        Ok(found) => found,
        Err(e) => return checks.fail("verify/malformed", format!("image signature: {e}")),
    };
    let Some(sig) = annotations.get(cosign::SIGNATURE_ANNOTATION) else {
        return checks.fail(
            "verify/malformed",
            format!(
                "image signature: the layer has no {} annotation",
                cosign::SIGNATURE_ANNOTATION
            ),
        );
    };
    if let Err(e) =
        signing::unbase64(sig).and_then(|der| signing::verify_message(key, &payload, &der))
    {
        return checks.fail(rule_of(&e), format!("image signature: {e}"));
    }
    let payload: cosign::Payload = match serde_json::from_slice(&payload) {
        Ok(p) => p,
        Err(e) => {
            return checks.fail(
                "verify/malformed",
                format!("image signature: not a simple-signing payload: {e}"),
            );
        }
    };
    let mut ok = true;
    if payload.critical.type_ != cosign::SIGNATURE_TYPE {
        ok = false;
        checks.fail(
            "verify/malformed",
            format!(
                "image signature: type {:?}, expected {:?}",
                payload.critical.type_,
                cosign::SIGNATURE_TYPE
            ),
        );
    }
    let signed = &payload.critical.image.docker_manifest_digest;
    if signing::parse_sha256(signed) != Some(*want) {
        ok = false;
        checks.fail(
            "verify/digest",
            format!(
                "image signature: it signs {signed}, but the image is sha256:{}",
                hex(want)
            ),
        );
    }
    if let Some(repo) = &config.image_repository
        && &payload.critical.identity.docker_reference != repo
    {
        ok = false;
        checks.fail(
            "verify/policy",
            format!(
                "image signature: it names {:?}, but the policy requires {repo:?}",
                payload.critical.identity.docker_reference
            ),
        );
    }
    if ok {
        checks.passed.push("image signature");
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
            let text = sluice_sdk::read_workspace_text(path, "the public key")?;
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
    label: &str,
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
                format!("{label}: not a DSSE envelope: {e}"),
            );
            return None;
        }
    };
    let payload = match envelope.verify(key) {
        Ok(p) => p,
        Err(e) => {
            checks.fail(rule_of(&e), format!("{label}: {e}"));
            return None;
        }
    };
    if envelope.payload_type != IN_TOTO_PAYLOAD_TYPE {
        checks.fail(
            "verify/malformed",
            format!(
                "{label}: payload type {:?}, expected {IN_TOTO_PAYLOAD_TYPE:?}",
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
                format!("{label}: the statement is not JSON: {e}"),
            );
            return None;
        }
    };
    if statement["_type"] != STATEMENT_V1 {
        checks.fail(
            "verify/malformed",
            format!(
                "{label}: `_type` is {}, expected {STATEMENT_V1:?}",
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
            format!("{label}: the statement has no sha256 subject"),
        );
        return None;
    };
    let what = if label == "attestation" {
        "the artifact"
    } else {
        "the image"
    };
    let subject = match expected {
        Some(want) if subjects.contains(&want) => want,
        Some(want) => {
            checks.fail(
                "verify/digest",
                format!(
                    "{label}: its subject is sha256:{}, but {what} is sha256:{}",
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
                    "{label}: predicate type {}, but the policy needs SLSA provenance ({SLSA_PROVENANCE_V1})",
                    statement["predicateType"]
                ),
            );
            return None;
        }
        checks.passed.push(passed_name(label));
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
                format!("{label}: built by {got:?}, but the policy requires builder {want:?}"),
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
                format!("{label}: made by pipeline {got:?}, but the policy requires {want:?}"),
            );
        }
    }
    if let Some(max) = max_age {
        sluice_sdk::uncacheable("its `max-age` policy compares the build's time with the clock");
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
                            "{label}: the build finished {} ago ({}), more than the policy's max-age of {}",
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
                        "{label}: no readable runDetails.metadata.finishedOn ({finished:?}) to check max-age against"
                    ),
                );
            }
        }
    }
    if ok {
        checks.passed.push(passed_name(label));
    }
    Some(subject)
}

fn passed_name(label: &str) -> &'static str {
    if label == "attestation" {
        "attestation"
    } else {
        "image attestation"
    }
}

sluice_sdk::export_plugin!(Verify);
