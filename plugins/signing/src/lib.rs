//! Signatures the way cosign makes them, for the `sign` and `verify` steps and
//! `sluice keys generate`:
//!
//! - [`keys`]: cosign's encrypted private keys, PKCS#8, SPKI public keys;
//! - blob signatures: ECDSA P-256 over SHA-256 of the blob, ASN.1 DER, written base64
//!   (`cosign sign-blob --output-signature`), made from the digest so that a large blob is
//!   hashed once, natively, by whoever can read it;
//! - [`bundle`]: sigstore bundles v0.3 for a key (`cosign sign-blob --new-bundle-format`);
//! - [`dsse`]: DSSE envelopes around in-toto Statements v1 with SLSA Provenance v1.
//!
//! No cryptography is written here: ECDSA, SHA-256, scrypt and secretbox are RustCrypto's.

pub mod bundle;
pub mod dsse;
pub mod image;
pub mod keys;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use p256::ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};

pub use p256::ecdsa::{SigningKey as PrivateKey, VerifyingKey as PublicKey};

/// Why a signature does not verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyError {
    /// The signature is not base64 or not an ASN.1 DER ECDSA signature.
    Malformed(String),
    /// A well-formed signature that the key did not make over this content.
    Mismatch,
}

impl std::fmt::Display for VerifyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VerifyError::Malformed(what) => write!(f, "malformed signature: {what}"),
            VerifyError::Mismatch => f.write_str(
                "the signature does not match: the content changed, or another key signed it",
            ),
        }
    }
}

impl std::error::Error for VerifyError {}

/// Parses `sha256:<hex>` (or bare hex) into 32 bytes.
pub fn parse_sha256(digest: &str) -> Option<[u8; 32]> {
    let hex_part = digest.strip_prefix("sha256:").unwrap_or(digest);
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex_part, &mut out).ok()?;
    Some(out)
}

/// Signs a SHA-256 digest: the ASN.1 DER ECDSA signature (deterministic, RFC 6979).
pub fn sign_digest(key: &SigningKey, sha256: &[u8; 32]) -> Vec<u8> {
    let sig: Signature = key
        .sign_prehash(sha256)
        .expect("a 32-byte digest is a valid prehash");
    sig.to_der().as_bytes().to_vec()
}

/// Signs a message (hashed here with SHA-256): the DER signature.
pub fn sign_message(key: &SigningKey, message: &[u8]) -> Vec<u8> {
    use sha2::Digest as _;
    sign_digest(key, &sha2::Sha256::digest(message).into())
}

/// Base64 as cosign writes signatures.
pub fn base64(bytes: &[u8]) -> String {
    B64.encode(bytes)
}

/// Decodes base64 (surrounding whitespace ignored, as a `.sig` file may end with a newline).
pub fn unbase64(text: &str) -> Result<Vec<u8>, VerifyError> {
    B64.decode(text.trim())
        .map_err(|e| VerifyError::Malformed(format!("not base64: {e}")))
}

/// Verifies a DER signature over a SHA-256 digest. High-S signatures (as OpenSSL and Go
/// make them) are accepted, as cosign accepts them.
pub fn verify_digest(key: &VerifyingKey, sha256: &[u8; 32], der: &[u8]) -> Result<(), VerifyError> {
    let sig = Signature::from_der(der)
        .map_err(|_| VerifyError::Malformed("not an ASN.1 DER ECDSA P-256 signature".into()))?;
    let sig = sig.normalize_s().unwrap_or(sig);
    key.verify_prehash(sha256, &sig)
        .map_err(|_| VerifyError::Mismatch)
}

/// Verifies a DER signature over a message (hashed here with SHA-256).
pub fn verify_message(key: &VerifyingKey, message: &[u8], der: &[u8]) -> Result<(), VerifyError> {
    use sha2::Digest as _;
    verify_digest(key, &sha2::Sha256::digest(message).into(), der)
}

/// The SHA-256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes).into()
}
