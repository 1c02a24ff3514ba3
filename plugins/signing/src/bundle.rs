//! Sigstore bundles v0.3 for a key: what `cosign sign-blob --new-bundle-format --key …`
//! writes when nothing is uploaded to a transparency log. The verification material is a
//! hint naming the public key (base64 of SHA-256 over its SPKI DER); the verifier brings
//! the key.

use serde::{Deserialize, Serialize};

/// The media type of a v0.3 bundle.
pub const MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";

/// A bundle holding one message signature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Bundle {
    /// [`MEDIA_TYPE`].
    pub media_type: String,
    /// The key hint.
    pub verification_material: VerificationMaterial,
    /// The signature and the digest it covers.
    pub message_signature: MessageSignature,
}

/// How the verifier finds the key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerificationMaterial {
    /// The public key's hint.
    pub public_key: PublicKeyHint,
    /// Transparency log entries: none for a key-based bundle made offline.
    #[serde(default)]
    pub tlog_entries: Vec<serde_json::Value>,
}

/// `{"hint": …}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublicKeyHint {
    /// Base64 of SHA-256 over the SPKI DER.
    pub hint: String,
}

/// A signature over a message, and the message's digest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageSignature {
    /// The digest of the signed blob.
    pub message_digest: MessageDigest,
    /// Base64 of the DER signature.
    pub signature: String,
}

/// `{"algorithm": "SHA2_256", "digest": …}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageDigest {
    /// `SHA2_256`.
    pub algorithm: String,
    /// Base64 of the digest.
    pub digest: String,
}

impl Bundle {
    /// A bundle for a signature over a blob with this SHA-256.
    pub fn new(hint: String, sha256: &[u8; 32], signature_der: &[u8]) -> Bundle {
        Bundle {
            media_type: MEDIA_TYPE.into(),
            verification_material: VerificationMaterial {
                public_key: PublicKeyHint { hint },
                tlog_entries: Vec::new(),
            },
            message_signature: MessageSignature {
                message_digest: MessageDigest {
                    algorithm: "SHA2_256".into(),
                    digest: crate::base64(sha256),
                },
                signature: crate::base64(signature_der),
            },
        }
    }
}
