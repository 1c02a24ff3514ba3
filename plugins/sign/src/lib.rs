//! Built-in `sign` step: cosign-compatible signatures over the artifacts wired into it, and
//! SLSA provenance the host vouches for.
//!
//! For each artifact (`artifact`, `artifact-2` … `artifact-4`):
//!
//! - `signature`: base64 of the ASN.1 DER ECDSA P-256 signature over SHA-256 of the blob,
//!   as `cosign sign-blob --output-signature` writes it;
//! - `bundle`: a sigstore bundle v0.3 naming the key by its hint, as
//!   `cosign sign-blob --new-bundle-format --key …` writes it (no transparency log);
//! - with `attest = true`, `attestation`: a DSSE envelope around an in-toto Statement v1
//!   whose subject is the artifact and whose predicate is SLSA Provenance v1, made from the
//!   provenance the host recorded for it (`provenance.artifact`), not from anything a build
//!   step said.
//!
//! The blob is hashed by the host (`digest`), natively; only the 32-byte digest enters the
//! step. The key comes from a read grant (`key = "cosign.key"`) or a secret
//! (`key-secret = "COSIGN_KEY"`, the PEM text); an encrypted cosign key is opened with the
//! password in `password-secret` (default `COSIGN_PASSWORD`).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value as Json, json};
use signing::PrivateKey;
use signing::bundle::Bundle;
use signing::dsse::{Envelope, IN_TOTO_PAYLOAD_TYPE, SLSA_PROVENANCE_V1, STATEMENT_V1};
use signing::keys;
use sluice_sdk::{
    Artifact, Failure, Invocation, Outcome, Plugin, PluginInfo, Port, Value, ValueKind,
};

/// The `buildType` of Sluice's SLSA provenance: where it is documented.
pub const BUILD_TYPE: &str =
    "https://github.com/sluice-ci/sluice/blob/main/docs/provenance.md#build-type-v1";

/// The default `builder.id`: a Sluice host running a pipeline on the machine it runs on.
pub const DEFAULT_BUILDER_ID: &str = "https://github.com/sluice-ci/sluice/builder/local@v1";

/// Inputs the step signs, and the suffix of their outputs.
const SLOTS: &[(&str, &str)] = &[
    ("artifact", ""),
    ("artifact-2", "-2"),
    ("artifact-3", "-3"),
    ("artifact-4", "-4"),
];

const OPTIONS: &[(&str, &str)] = &[
    (
        "key",
        "The private key file, a workspace path the step may read (cosign's encrypted key or a PKCS#8 PEM)",
    ),
    (
        "key-secret",
        "Or: the secret holding the private key's PEM text (allow.secrets)",
    ),
    (
        "password-secret",
        "The secret holding the key's password, for an encrypted key (default COSIGN_PASSWORD)",
    ),
    (
        "attest",
        "Also write an in-toto/SLSA provenance attestation per artifact (default false)",
    ),
    (
        "builder-id",
        "The SLSA builder.id (default https://github.com/sluice-ci/sluice/builder/local@v1)",
    ),
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Config {
    key: Option<String>,
    key_secret: Option<String>,
    password_secret: Option<String>,
    #[serde(default)]
    attest: bool,
    builder_id: Option<String>,
}

struct Sign;

impl Plugin for Sign {
    fn describe() -> PluginInfo {
        let mut info = PluginInfo::new(
            "sign",
            env!("CARGO_PKG_VERSION"),
            "Signs artifacts the cosign way (signature, sigstore bundle) and attests their SLSA provenance as the host recorded it",
        )
        .wants("fs:read?")
        .wants("secret:*");
        for (i, (input, suffix)) in SLOTS.iter().enumerate() {
            let port = Port::new(*input, ValueKind::Artifact, "An artifact to sign");
            info = info.input(if i == 0 { port.required() } else { port });
            let out = |name: &str, what: &str, required: bool| {
                let p = Port::new(format!("{name}{suffix}"), ValueKind::Artifact, what);
                if required { p.required() } else { p }
            };
            info = info
                .output(out(
                    "signature",
                    &format!("Base64 DER ECDSA signature of `{input}` (cosign sign-blob)"),
                    i == 0,
                ))
                .output(out(
                    "bundle",
                    &format!("Sigstore bundle v0.3 for `{input}`"),
                    i == 0,
                ))
                .output(out(
                    "attestation",
                    &format!(
                        "DSSE envelope: in-toto Statement v1 with SLSA Provenance v1 for `{input}` (attest = true)"
                    ),
                    false,
                ));
        }
        info = info.output(
            Port::new(
                "key-hint",
                ValueKind::Text,
                "Base64 SHA-256 of the public key's SPKI DER (the bundles' hint)",
            )
            .required(),
        );
        for (n, s) in OPTIONS {
            info = info.option(*n, *s);
        }
        info
    }

    fn run(invocation: Invocation) -> Result<Outcome, Failure> {
        let config: Config = invocation.config()?;
        let key = load_key(&config)?;
        let hint = keys::key_hint(key.verifying_key());
        let mut outcome = Outcome::new();
        let mut names: Vec<String> = Vec::new();
        for (input, suffix) in SLOTS {
            let Some(artifact) = invocation.artifact(input) else {
                continue;
            };
            let name = unique_name(&mut names, artifact);
            let sha256 = hashed(artifact)?;
            let sig = signing::sign_digest(&key, &sha256);
            let sig_b64 = signing::base64(&sig);
            outcome = outcome.output(
                format!("signature{suffix}"),
                sluice_sdk::write_artifact(&format!("{name}.sig"), sig_b64.as_bytes(), None)?,
            );
            let bundle = Bundle::new(hint.clone(), &sha256, &sig);
            outcome = outcome.output(
                format!("bundle{suffix}"),
                sluice_sdk::write_artifact(
                    &format!("{name}.sigstore.json"),
                    &serde_json::to_vec(&bundle).expect("serializes"),
                    Some(signing::bundle::MEDIA_TYPE),
                )?,
            );
            if config.attest {
                let provenance = sluice_sdk::provenance(&artifact.path)
                    .map_err(|e| Failure::invalid(format!("cannot attest `{input}`: {e}")))?;
                let provenance: Json = serde_json::from_str(&provenance)
                    .map_err(|e| Failure::error(format!("the host's provenance: {e}")))?;
                let statement = statement(
                    &provenance,
                    &sha256,
                    config.builder_id.as_deref().unwrap_or(DEFAULT_BUILDER_ID),
                )?;
                let payload = serde_json::to_vec(&statement).expect("serializes");
                let envelope = Envelope::sign(&key, "", IN_TOTO_PAYLOAD_TYPE, &payload);
                outcome = outcome.output(
                    format!("attestation{suffix}"),
                    sluice_sdk::write_artifact(
                        &format!("{name}.intoto.jsonl"),
                        &serde_json::to_vec(&envelope).expect("serializes"),
                        Some("application/vnd.dsse.envelope.v1+json"),
                    )?,
                );
            }
            sluice_sdk::info!(
                "signed {} (sha256:{}){}",
                artifact.path,
                hex(&sha256),
                if config.attest {
                    " and attested its provenance"
                } else {
                    ""
                }
            );
        }
        let summary = format!(
            "signed {} artifact{}{} with key {hint}",
            names.len(),
            if names.len() == 1 { "" } else { "s" },
            if config.attest {
                " (with provenance)"
            } else {
                ""
            },
        );
        Ok(outcome
            .output("key-hint", Value::Text(hint))
            .summary(summary))
    }
}

/// A file name for an artifact's outputs, distinct from those already used.
fn unique_name(used: &mut Vec<String>, artifact: &Artifact) -> String {
    let base = artifact
        .path
        .rsplit('/')
        .next()
        .filter(|n| !n.is_empty())
        .unwrap_or("artifact")
        .to_string();
    let mut name = base.clone();
    let mut n = 2;
    while used.contains(&name) {
        name = format!("{base}-{n}");
        n += 1;
    }
    used.push(name.clone());
    name
}

/// SHA-256 of the artifact, computed by the host over the file the step sees, checked
/// against the digest the host moved it by.
fn hashed(artifact: &Artifact) -> Result<[u8; 32], Failure> {
    let digest = sluice_sdk::digest(&artifact.path)
        .map_err(|e| Failure::error(format!("cannot hash {}: {e}", artifact.path)))?;
    if !artifact.digest.is_empty() && digest != artifact.digest {
        return Err(Failure::error(format!(
            "{} is {digest}, not {} as the host moved it: refusing to sign a changed file",
            artifact.path, artifact.digest
        )));
    }
    signing::parse_sha256(&digest)
        .ok_or_else(|| Failure::error(format!("the host returned an odd digest: {digest}")))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The private key: from a file the step may read or from a secret, opened with the
/// password secret when it is encrypted.
fn load_key(config: &Config) -> Result<PrivateKey, Failure> {
    let (pem, from) = match (&config.key, &config.key_secret) {
        (Some(_), Some(_)) => {
            return Err(Failure::invalid(
                "set either `key` (a file) or `key-secret` (a secret), not both",
            ));
        }
        (None, None) => {
            return Err(Failure::invalid(
                "no key: set `key = \"cosign.key\"` (and grant `read = [\"cosign.key\"]`) or `key-secret = \"COSIGN_KEY\"` (and grant `secrets = [\"COSIGN_KEY\"]`); make a key pair with `sluice keys generate`",
            ));
        }
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
                    "cannot read the key `{path}` ({why}): grant it with `read = [\"{path}\"]` in the step's `allow` table"
                ))
            })?;
            (text, format!("`{path}`"))
        }
        (None, Some(name)) => {
            let text = sluice_sdk::secret(name).ok_or_else(|| {
                Failure::invalid(format!(
                    "secret `{name}` (`key-secret`) has no value here: grant it with `secrets = [\"{name}\"]` in the step's `allow` table and set it in the environment"
                ))
            })?;
            (text, format!("secret `{name}`"))
        }
    };
    let password = if keys::is_encrypted(&pem) {
        let name = config
            .password_secret
            .as_deref()
            .unwrap_or("COSIGN_PASSWORD");
        Some(sluice_sdk::secret(name).ok_or_else(|| {
            Failure::invalid(format!(
                "the key {from} is encrypted and secret `{name}` has no value here: grant it with `secrets = [\"{name}\"]` (or name another with `password-secret`)"
            ))
        })?)
    } else {
        None
    };
    keys::private_key_from_pem(&pem, password.as_deref().map(str::as_bytes))
        .map_err(|e| Failure::invalid(format!("the key {from}: {e}")))
}

fn digest_map(digest: &str) -> Json {
    match digest.split_once(':') {
        Some((alg, hex)) => json!({ alg: hex }),
        None => json!({ "sha256": digest }),
    }
}

/// The in-toto Statement v1 with SLSA Provenance v1 for the artifact, from the host's
/// provenance document.
fn statement(provenance: &Json, sha256: &[u8; 32], builder_id: &str) -> Result<Json, Failure> {
    let artifact = &provenance["artifact"];
    let name = artifact["name"].as_str().unwrap_or("artifact");
    let host_digest = artifact["digest"].as_str().unwrap_or_default();
    let digest = format!("sha256:{}", hex(sha256));
    if host_digest != digest {
        return Err(Failure::error(format!(
            "the host's provenance is for {host_digest}, but the artifact is {digest}"
        )));
    }
    let steps = provenance["steps"].as_array().cloned().unwrap_or_default();
    let run = &provenance["run"];
    let mut dependencies: Vec<Json> = Vec::new();
    let mut byproducts: Vec<Json> = Vec::new();
    for step in &steps {
        let plugin = &step["plugin"];
        dependencies.push(json!({
            "name": format!("plugin:{}", plugin["name"].as_str().unwrap_or_default()),
            "uri": format!("sluice-plugin:{}@{}", step["uses"].as_str().unwrap_or_default(), plugin["version"].as_str().unwrap_or_default()),
            "digest": digest_map(plugin["digest"].as_str().unwrap_or_default()),
            "annotations": { "step": step["id"] },
        }));
        for program in step["programs"].as_array().into_iter().flatten() {
            dependencies.push(json!({
                "name": format!("program:{}", program["name"].as_str().unwrap_or_default()),
                "uri": format!("file://{}", program["path"].as_str().unwrap_or_default()),
                "digest": digest_map(program["digest"].as_str().unwrap_or_default()),
                "annotations": { "step": step["id"], "starts": program["starts"] },
            }));
        }
        if step["id"] != artifact["step"] {
            for (output, value) in step["outputs"].as_object().into_iter().flatten() {
                if value["kind"] == "artifact" {
                    byproducts.push(json!({
                        "name": value["value"]["name"],
                        "digest": digest_map(value["value"]["digest"].as_str().unwrap_or_default()),
                        "annotations": { "step": step["id"], "output": output },
                    }));
                }
            }
        }
    }
    for source in provenance["sources"].as_array().into_iter().flatten() {
        dependencies.push(json!({
            "name": format!("workspace:{}", source["path"].as_str().unwrap_or_default()),
            "uri": format!("workspace:{}", source["path"].as_str().unwrap_or_default()),
            "digest": digest_map(source["digest"].as_str().unwrap_or_default()),
            "annotations": { "files": source["files"], "bytes": source["bytes"], "steps": source["steps"] },
        }));
    }
    let external_steps: Vec<Json> = steps
        .iter()
        .map(|s| {
            json!({
                "id": s["id"],
                "uses": s["uses"],
                "with": s["with"],
                "inputs": s["inputs"],
                "grants": s["grants"],
            })
        })
        .collect();
    let internal_steps: Vec<Json> = steps
        .iter()
        .map(|s| {
            json!({
                "id": s["id"],
                "plugin": s["plugin"],
                "outputs": s["outputs"],
                "programs": s["programs"],
                "started": s["started"],
                "finished": s["finished"],
            })
        })
        .collect();
    let started_on = steps
        .iter()
        .filter_map(|s| s["started"].as_str())
        .filter(|s| !s.is_empty())
        .min()
        .unwrap_or_default()
        .to_string();
    let finished_on = steps
        .first()
        .and_then(|s| s["finished"].as_str())
        .unwrap_or_default()
        .to_string();
    let mut digest_set = BTreeMap::new();
    digest_set.insert("sha256".to_string(), hex(sha256));
    let mut metadata = json!({ "invocationId": run["id"] });
    if !started_on.is_empty() {
        metadata["startedOn"] = json!(started_on);
    }
    if !finished_on.is_empty() {
        metadata["finishedOn"] = json!(finished_on);
    }
    Ok(json!({
        "_type": STATEMENT_V1,
        "subject": [{ "name": name, "digest": digest_set }],
        "predicateType": SLSA_PROVENANCE_V1,
        "predicate": {
            "buildDefinition": {
                "buildType": BUILD_TYPE,
                "externalParameters": {
                    "pipeline": run["pipeline"],
                    "manifest": run["manifest"],
                    "artifact": { "step": artifact["step"], "output": artifact["output"] },
                    "steps": external_steps,
                },
                "internalParameters": {
                    "sluice": provenance["sluice"],
                    "provenanceType": provenance["type"],
                    "steps": internal_steps,
                },
                "resolvedDependencies": dependencies,
            },
            "runDetails": {
                "builder": {
                    "id": builder_id,
                    "version": { "sluice": provenance["sluice"]["version"] },
                },
                "metadata": metadata,
                "byproducts": byproducts,
            },
        },
    }))
}

sluice_sdk::export_plugin!(Sign);
