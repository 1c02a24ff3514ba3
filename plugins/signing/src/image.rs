//! Cosign's signatures of container images, as `cosign sign --key` stores them in a registry:
//! an OCI image manifest, tagged `sha256-<hex of the image digest>.sig` in the image's
//! repository, whose one layer is a "simple signing" payload naming the image by digest, with
//! the base64 signature of that payload in the layer's `dev.cosignproject.cosign/signature`
//! annotation. Attestations are tagged `….att`; their layer is a DSSE envelope.

use serde::{Deserialize, Serialize};

/// The media type of the simple-signing payload layer.
pub const SIMPLE_SIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The media type of an attestation layer.
pub const DSSE_ENVELOPE: &str = "application/vnd.dsse.envelope.v1+json";
/// The layer annotation holding the signature.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// The `critical.type` of a cosign image signature.
pub const SIGNATURE_TYPE: &str = "cosign container image signature";

/// The tag cosign stores an image's signatures under: `sha256-<hex>.sig`.
pub fn signature_tag(image_digest: &str) -> String {
    format!("{}.sig", image_digest.replacen(':', "-", 1))
}

/// The tag cosign stores an image's attestations under: `sha256-<hex>.att`.
pub fn attestation_tag(image_digest: &str) -> String {
    format!("{}.att", image_digest.replacen(':', "-", 1))
}

/// The simple-signing payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Payload {
    /// What is signed.
    pub critical: Critical,
    /// Free annotations (`null` when none, as cosign writes).
    pub optional: Option<serde_json::Value>,
}

/// `critical`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Critical {
    /// The repository the image is signed for.
    pub identity: Identity,
    /// The image, by manifest digest.
    pub image: Image,
    /// [`SIGNATURE_TYPE`].
    #[serde(rename = "type")]
    pub type_: String,
}

/// `critical.identity`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Identity {
    /// `registry/repository`, without tag or digest.
    #[serde(rename = "docker-reference")]
    pub docker_reference: String,
}

/// `critical.image`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Image {
    /// `sha256:<hex>` of the image's manifest (or index).
    #[serde(rename = "docker-manifest-digest")]
    pub docker_manifest_digest: String,
}

/// The payload bytes cosign signs for `repository` (`registry/name`) at `digest`.
pub fn payload(repository: &str, digest: &str) -> Vec<u8> {
    serde_json::to_vec(&Payload {
        critical: Critical {
            identity: Identity {
                docker_reference: repository.to_string(),
            },
            image: Image {
                docker_manifest_digest: digest.to_string(),
            },
            type_: SIGNATURE_TYPE.to_string(),
        },
        optional: None,
    })
    .expect("serializes")
}

/// The image config cosign writes for its signature and attestation manifests: empty, with
/// the layers' digests as diff ids.
pub fn config(layer_digests: &[String]) -> serde_json::Value {
    serde_json::json!({
        "architecture": "",
        "created": "0001-01-01T00:00:00Z",
        "history": [{ "created": "0001-01-01T00:00:00Z" }],
        "os": "",
        "rootfs": { "type": "layers", "diff_ids": layer_digests },
        "config": {},
    })
}
