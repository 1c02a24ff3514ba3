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
//! An OCI image (`image`, an oci-archive such as `oci-image`'s) is signed the way
//! `cosign sign --key` does it, by the digest of its manifest: `image-signature` is a layout
//! holding cosign's signature manifest (a simple-signing payload naming
//! `image-repository@digest`, the signature in its layer annotation), tagged
//! `sha256-<hex>.sig`; with `attest = true`, `image-attestation` holds the DSSE envelope,
//! tagged `sha256-<hex>.att`. `oci-push` pushes them beside the image (its default tag is the
//! layout's), so the step itself needs no network.
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
    Artifact, Failure, Invocation, Kind, Opt, Outcome, Plugin, PluginInfo, Port, Value, ValueKind,
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

const OPTIONS: &[Opt] = &[
    Opt::new(
        "key",
        Kind::Text,
        "The private key file, a workspace path the step may read (cosign's encrypted key or a PKCS#8 PEM)",
    ),
    Opt::new(
        "key-secret",
        Kind::Text,
        "Or: the secret holding the private key's PEM text (allow.secrets)",
    ),
    Opt::new(
        "password-secret",
        Kind::Text,
        "The secret holding the key's password, for an encrypted key",
    )
    .with_default("\"COSIGN_PASSWORD\""),
    Opt::new(
        "attest",
        Kind::Boolean,
        "Also write an in-toto/SLSA provenance attestation per artifact",
    )
    .with_default("false"),
    Opt::new(
        "image-repository",
        Kind::Text,
        "The repository `image` is pushed to, e.g. \"registry.example.com/team/service\" (the signature names it)",
    ),
    Opt::new("builder-id", Kind::Text, "The SLSA builder.id")
        .with_default("\"https://github.com/sluice-ci/sluice/builder/local@v1\""),
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
    image_repository: Option<String>,
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
        for (input, suffix) in SLOTS {
            let out = |name: &str, what: String| {
                Port::new(format!("{name}{suffix}"), ValueKind::Artifact, what)
            };
            info = info
                .input(Port::new(*input, ValueKind::Artifact, "An artifact to sign"))
                .output(out(
                    "signature",
                    format!("Base64 DER ECDSA signature of `{input}` (cosign sign-blob)"),
                ))
                .output(out("bundle", format!("Sigstore bundle v0.3 for `{input}`")))
                .output(out(
                    "attestation",
                    format!(
                        "DSSE envelope: in-toto Statement v1 with SLSA Provenance v1 for `{input}` (attest = true)"
                    ),
                ));
        }
        info = info
            .input(Port::new(
                "image",
                ValueKind::Artifact,
                "An OCI image layout (oci-archive) to sign by its manifest digest, as cosign sign does",
            ))
            .output(Port::new(
                "image-signature",
                ValueKind::Artifact,
                "cosign's signature of `image`: a layout tagged sha256-<hex>.sig, for oci-push",
            ))
            .output(Port::new(
                "image-attestation",
                ValueKind::Artifact,
                "cosign's attestation of `image` (attest = true): a layout tagged sha256-<hex>.att",
            ))
            .output(Port::new(
                "image-digest",
                ValueKind::Text,
                "The signed image's manifest digest",
            ));
        info = info.output(
            Port::new(
                "key-hint",
                ValueKind::Text,
                "Base64 SHA-256 of the public key's SPKI DER (the bundles' hint)",
            )
            .required(),
        );
        info.options(OPTIONS)
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
                    None,
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
        if let Some(image) = invocation.artifact("image") {
            let repository = config.image_repository.as_deref().ok_or_else(|| {
                Failure::invalid(
                    "signing an image needs `image-repository`: the repository it is pushed to, e.g. \"registry.example.com/team/service\" (cosign's docker-reference)",
                )
            })?;
            let (digest, signed) = sign_image(&key, image, repository, &config)?;
            for (name, value) in signed {
                outcome = outcome.output(name, value);
            }
            outcome = outcome.output("image-digest", Value::Text(digest.clone()));
            names.push(format!("{repository}@{digest}"));
        } else if config.image_repository.is_some() {
            return Err(Failure::invalid(
                "`image-repository` is set but no `image` is wired: wire `image = \"${{ steps.<id>.outputs.image }}\"`",
            ));
        }
        if names.is_empty() {
            return Err(Failure::invalid(
                "nothing to sign: wire `artifact` (and `artifact-2` …) or `image`",
            ));
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
            let text = sluice_sdk::read_workspace_text(path, "the key")?;
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

/// The in-toto Statement v1 with SLSA Provenance v1 for the artifact whose file has SHA-256
/// `sha256`, from the host's provenance document. The subject is the artifact itself, or
/// `subject` (name, sha256 hex) when given (an image, named by its manifest digest).
fn statement(
    provenance: &Json,
    sha256: &[u8; 32],
    subject: Option<(&str, &str)>,
    builder_id: &str,
) -> Result<Json, Failure> {
    let artifact = &provenance["artifact"];
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
    let (name, subject_hex) = match subject {
        Some((name, hex)) => (name.to_string(), hex.to_string()),
        None => (
            artifact["name"].as_str().unwrap_or("artifact").to_string(),
            hex(sha256),
        ),
    };
    let mut digest_set = BTreeMap::new();
    digest_set.insert("sha256".to_string(), subject_hex);
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

/// Signs an image layout the cosign way; returns its digest and the outputs.
fn sign_image(
    key: &PrivateKey,
    image: &Artifact,
    repository: &str,
    config: &Config,
) -> Result<(String, Vec<(String, Value)>), Failure> {
    use oci_layout::{Archive, CONFIG, Index, LayoutWriter, MANIFEST, Manifest, REF_NAME};
    use signing::image as cosign;
    let last = repository.rsplit('/').next().unwrap_or_default();
    if !repository.contains('/') || repository.contains('@') || last.contains(':') {
        return Err(Failure::invalid(format!(
            "`image-repository` {repository:?} is not `registry/repository` without tag or digest, e.g. \"127.0.0.1:5000/team/service\""
        )));
    }
    let file_sha256 = hashed(image)?;
    let not_layout = |e: String| {
        Failure::invalid(format!(
            "`image` is not an OCI image layout (oci-archive): {e}; wire it to an `oci-image` step's `image` output"
        ))
    };
    let archive = Archive::open(std::path::Path::new(&image.path)).map_err(not_layout)?;
    let index = archive.index().map_err(not_layout)?;
    let [top] = index.manifests.as_slice() else {
        return Err(Failure::invalid(
            "`image` must hold exactly one image (or one multi-platform index)",
        ));
    };
    let digest = top.digest.clone();
    let layout = |tag: &str,
                  layer_type: &str,
                  layer: Vec<u8>,
                  annotations: BTreeMap<String, String>|
     -> Result<Vec<u8>, Failure> {
        let mut w = LayoutWriter::default();
        let mut layer = w.blob(layer_type, layer);
        layer.annotations = Some(annotations);
        let config_blob = w.json(CONFIG, &cosign::config(std::slice::from_ref(&layer.digest)));
        let mut manifest = w.json(
            MANIFEST,
            &Manifest {
                schema_version: 2,
                media_type: Some(MANIFEST.into()),
                config: config_blob,
                layers: vec![layer],
                annotations: None,
            },
        );
        manifest.annotations = Some(BTreeMap::from([(REF_NAME.to_string(), tag.to_string())]));
        let mut out = Vec::new();
        w.write(
            &Index {
                schema_version: 2,
                media_type: Some(oci_layout::INDEX.into()),
                manifests: vec![manifest],
            },
            &mut out,
        )
        .map_err(|e| Failure::error(format!("cannot write the signature layout: {e}")))?;
        Ok(out)
    };
    let payload = cosign::payload(repository, &digest);
    let sig = signing::sign_message(key, &payload);
    let tag = cosign::signature_tag(&digest);
    let tar = layout(
        &tag,
        cosign::SIMPLE_SIGNING,
        payload,
        BTreeMap::from([(
            cosign::SIGNATURE_ANNOTATION.to_string(),
            signing::base64(&sig),
        )]),
    )?;
    let mut outputs = vec![(
        "image-signature".to_string(),
        sluice_sdk::write_artifact(&format!("{tag}.tar"), &tar, Some(LAYOUT_TAR))?,
    )];
    if config.attest {
        let provenance = sluice_sdk::provenance(&image.path)
            .map_err(|e| Failure::invalid(format!("cannot attest `image`: {e}")))?;
        let provenance: Json = serde_json::from_str(&provenance)
            .map_err(|e| Failure::error(format!("the host's provenance: {e}")))?;
        let statement = statement(
            &provenance,
            &file_sha256,
            Some((repository, digest.trim_start_matches("sha256:"))),
            config.builder_id.as_deref().unwrap_or(DEFAULT_BUILDER_ID),
        )?;
        let payload = serde_json::to_vec(&statement).expect("serializes");
        let envelope = Envelope::sign(key, "", IN_TOTO_PAYLOAD_TYPE, &payload);
        let att_tag = cosign::attestation_tag(&digest);
        let tar = layout(
            &att_tag,
            cosign::DSSE_ENVELOPE,
            serde_json::to_vec(&envelope).expect("serializes"),
            BTreeMap::from([
                ("predicateType".to_string(), SLSA_PROVENANCE_V1.to_string()),
                (cosign::SIGNATURE_ANNOTATION.to_string(), String::new()),
            ]),
        )?;
        outputs.push((
            "image-attestation".to_string(),
            sluice_sdk::write_artifact(&format!("{att_tag}.tar"), &tar, Some(LAYOUT_TAR))?,
        ));
    }
    sluice_sdk::info!("signed image {repository}@{digest} (tag {tag})");
    Ok((digest, outputs))
}

/// The media type of an OCI layout in a tar.
const LAYOUT_TAR: &str = "application/vnd.oci.image.layout.v1+tar";

sluice_sdk::export_plugin!(Sign);
