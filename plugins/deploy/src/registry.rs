//! `verify-key`: the image's cosign signature, read from its registry before anything is
//! pulled (`<repository>:sha256-<hex>.sig`, a manifest whose layers are simple-signing
//! payloads with the signature in an annotation).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use signing::PublicKey;
use signing::image as cosign;
use sluice_sdk::http::{Request, send};

use crate::config::ImageRef;

const TIMEOUT: Duration = Duration::from_secs(30);
/// The largest signature manifest or payload read.
const MAX_DOC: usize = 1 << 20;

#[derive(Deserialize)]
struct Manifest {
    #[serde(default)]
    layers: Vec<Layer>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Layer {
    media_type: String,
    digest: String,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

fn get(url: &str, accept: &str) -> Result<(u16, Vec<u8>), String> {
    let r = send(&Request::get(url).header("accept", accept).timeout(TIMEOUT))
        .map_err(|e| format!("GET {url}: {e}"))?;
    if r.body.len() > MAX_DOC {
        return Err(format!("GET {url}: more than 1 MiB"));
    }
    Ok((r.status, r.body))
}

/// Checks that `key` signed `image` (cosign's format, in the image's registry); `Ok` names
/// what was verified, `Err` why the image must not be started.
pub fn verify(image: &ImageRef, key: &PublicKey, tls_verify: bool) -> Result<String, String> {
    let (host, repo) = image.registry();
    let origin = format!("{}://{host}", if tls_verify { "https" } else { "http" });
    let tag = cosign::signature_tag(&image.digest);
    let url = format!("{origin}/v2/{repo}/manifests/{tag}");
    let (status, body) = get(
        &url,
        "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json",
    )?;
    match status {
        200 => {}
        404 => {
            return Err(format!(
                "{} is not signed: {repo} has no signature `{tag}` (sign it with the `sign` step, `image` set, and push the signature)",
                image.digest
            ));
        }
        401 | 403 => {
            return Err(format!(
                "the registry refused to show the signature `{tag}` ({status}): deploy reads signatures anonymously"
            ));
        }
        s => return Err(format!("GET {url}: the registry answered {s}")),
    }
    let manifest: Manifest = serde_json::from_slice(&body)
        .map_err(|e| format!("the signature manifest `{tag}` is not a manifest: {e}"))?;
    let mut why = Vec::new();
    for layer in manifest
        .layers
        .iter()
        .filter(|l| l.media_type == cosign::SIMPLE_SIGNING)
    {
        let Some(sig) = layer.annotations.get(cosign::SIGNATURE_ANNOTATION) else {
            why.push("a layer has no signature annotation".to_string());
            continue;
        };
        let blob_url = format!("{origin}/v2/{repo}/blobs/{}", layer.digest);
        let (status, payload) = get(&blob_url, "*/*")?;
        if status != 200 {
            why.push(format!("GET {blob_url}: the registry answered {status}"));
            continue;
        }
        if signing::parse_sha256(&layer.digest).is_none_or(|want| signing::sha256(&payload) != want)
        {
            why.push(format!(
                "the payload {} does not match its digest",
                layer.digest
            ));
            continue;
        }
        if let Err(e) =
            signing::unbase64(sig).and_then(|der| signing::verify_message(key, &payload, &der))
        {
            why.push(format!("a signature does not verify with the key: {e}"));
            continue;
        }
        let payload: cosign::Payload = match serde_json::from_slice(&payload) {
            Ok(p) => p,
            Err(e) => {
                why.push(format!("a signed payload is not simple-signing: {e}"));
                continue;
            }
        };
        if payload.critical.type_ != cosign::SIGNATURE_TYPE {
            why.push(format!(
                "a signed payload has type {:?}",
                payload.critical.type_
            ));
            continue;
        }
        if payload.critical.image.docker_manifest_digest != image.digest {
            why.push(format!(
                "a valid signature is for {}, not {}",
                payload.critical.image.docker_manifest_digest, image.digest
            ));
            continue;
        }
        if payload.critical.identity.docker_reference != image.repository {
            why.push(format!(
                "a valid signature names {:?}, not {:?}",
                payload.critical.identity.docker_reference, image.repository
            ));
            continue;
        }
        return Ok(format!("signature {tag} verified with the key"));
    }
    if why.is_empty() {
        why.push("it holds no simple-signing layer".into());
    }
    Err(format!(
        "{} is not signed by the key: {}",
        image.digest,
        why.join("; ")
    ))
}
