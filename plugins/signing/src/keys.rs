//! cosign's key formats.
//!
//! - the encrypted private key cosign writes (`ENCRYPTED SIGSTORE PRIVATE KEY`, or the older
//!   `ENCRYPTED COSIGN PRIVATE KEY` label): a PEM around JSON holding scrypt parameters, a
//!   salt, a nacl/secretbox nonce and the sealed PKCS#8 DER of an ECDSA P-256 key;
//! - a plain PKCS#8 `PRIVATE KEY` or SEC1 `EC PRIVATE KEY` PEM;
//! - public keys as SPKI `PUBLIC KEY` PEM.
//!
//! Only P-256 keys are taken: they are what cosign makes and what the signatures here are.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use crypto_secretbox::aead::Aead;
use crypto_secretbox::{KeyInit, XSalsa20Poly1305};
use p256::ecdsa::{SigningKey, VerifyingKey};
use p256::pkcs8::der::pem::{self, LineEnding};
use p256::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// The label cosign writes on encrypted private keys.
pub const ENCRYPTED_LABEL: &str = "ENCRYPTED SIGSTORE PRIVATE KEY";
/// The label older cosign releases wrote; still read.
pub const ENCRYPTED_LABEL_COSIGN: &str = "ENCRYPTED COSIGN PRIVATE KEY";

/// scrypt's cost for new keys: N = 2^16, r = 8, p = 1 (cosign's current parameters).
pub const SCRYPT_LOG_N: u8 = 16;
/// The largest scrypt N taken from a key file (2^20, 1 GiB of memory at r = 8): a key file
/// must not make a step allocate without bound.
pub const MAX_SCRYPT_LOG_N: u8 = 20;

/// Why a key could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    /// The key is encrypted and no password was given.
    NeedsPassword,
    /// The password does not open the key.
    WrongPassword,
    /// Not a key this crate reads.
    Unsupported(String),
    /// Malformed.
    Malformed(String),
}

impl std::fmt::Display for KeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyError::NeedsPassword => f.write_str("the private key is encrypted and no password was given"),
            KeyError::WrongPassword => f.write_str(
                "the password does not decrypt the private key (wrong password, or a damaged key file)",
            ),
            KeyError::Unsupported(what) => write!(f, "unsupported key: {what}"),
            KeyError::Malformed(what) => write!(f, "malformed key: {what}"),
        }
    }
}

impl std::error::Error for KeyError {}

#[derive(Serialize, Deserialize)]
struct Sealed {
    kdf: Kdf,
    cipher: Cipher,
    ciphertext: String,
}

#[derive(Serialize, Deserialize)]
struct Kdf {
    name: String,
    params: ScryptParams,
    salt: String,
}

#[derive(Serialize, Deserialize)]
struct ScryptParams {
    #[serde(rename = "N")]
    n: u64,
    r: u32,
    p: u32,
}

#[derive(Serialize, Deserialize)]
struct Cipher {
    name: String,
    nonce: String,
}

/// Whether a PEM text holds an encrypted private key (a password is needed).
pub fn is_encrypted(pem_text: &str) -> bool {
    pem_text.contains(ENCRYPTED_LABEL) || pem_text.contains(ENCRYPTED_LABEL_COSIGN)
}

fn decode_pem(text: &str) -> Result<(String, Zeroizing<Vec<u8>>), KeyError> {
    let start = text
        .find("-----BEGIN ")
        .ok_or_else(|| KeyError::Malformed("no PEM block (`-----BEGIN …-----`) found".into()))?;
    let (label, der) = pem::decode_vec(text[start..].trim_end().as_bytes())
        .map_err(|e| KeyError::Malformed(format!("bad PEM: {e}")))?;
    Ok((label.to_string(), Zeroizing::new(der)))
}

/// Reads a private key: encrypted (cosign), PKCS#8 or SEC1, P-256 only.
pub fn private_key_from_pem(text: &str, password: Option<&[u8]>) -> Result<SigningKey, KeyError> {
    let (label, body) = decode_pem(text)?;
    let der = match label.as_str() {
        ENCRYPTED_LABEL | ENCRYPTED_LABEL_COSIGN => {
            let password = password.ok_or(KeyError::NeedsPassword)?;
            open(&body, password)?
        }
        "PRIVATE KEY" => body,
        "EC PRIVATE KEY" => {
            return p256::SecretKey::from_sec1_der(&body)
                .map(SigningKey::from)
                .map_err(|_| {
                    KeyError::Unsupported("an EC key that is not on P-256 (cosign keys are)".into())
                });
        }
        "ENCRYPTED PRIVATE KEY" => {
            return Err(KeyError::Unsupported(
                "a PKCS#8 key encrypted with a PBES2 password: use a cosign key, or decrypt it with `openssl pkcs8`".into(),
            ));
        }
        other => {
            return Err(KeyError::Unsupported(format!(
                "a PEM block `{other}` (expected `{ENCRYPTED_LABEL}` or `PRIVATE KEY`)"
            )));
        }
    };
    p256::SecretKey::from_pkcs8_der(&der)
        .map(SigningKey::from)
        .map_err(|_| KeyError::Unsupported("a PKCS#8 key that is not ECDSA P-256".into()))
}

fn b64(field: &str, s: &str) -> Result<Vec<u8>, KeyError> {
    B64.decode(s)
        .map_err(|e| KeyError::Malformed(format!("`{field}` is not base64: {e}")))
}

/// Opens the JSON body of an encrypted cosign key: scrypt, then nacl/secretbox.
fn open(body: &[u8], password: &[u8]) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let sealed: Sealed = serde_json::from_slice(body)
        .map_err(|e| KeyError::Malformed(format!("the encrypted key's JSON: {e}")))?;
    if sealed.kdf.name != "scrypt" {
        return Err(KeyError::Unsupported(format!(
            "key derivation `{}`",
            sealed.kdf.name
        )));
    }
    if sealed.cipher.name != "nacl/secretbox" {
        return Err(KeyError::Unsupported(format!(
            "cipher `{}`",
            sealed.cipher.name
        )));
    }
    let n = sealed.kdf.params.n;
    if !n.is_power_of_two() || n < 2 {
        return Err(KeyError::Malformed(format!(
            "scrypt N = {n} is not a power of two"
        )));
    }
    let log_n = n.trailing_zeros() as u8;
    if log_n > MAX_SCRYPT_LOG_N || sealed.kdf.params.r > 32 || sealed.kdf.params.p > 16 {
        return Err(KeyError::Unsupported(format!(
            "scrypt parameters N = {n}, r = {}, p = {} (at most N = 2^{MAX_SCRYPT_LOG_N}, r = 32, p = 16)",
            sealed.kdf.params.r, sealed.kdf.params.p
        )));
    }
    let salt = b64("salt", &sealed.kdf.salt)?;
    let nonce = b64("nonce", &sealed.cipher.nonce)?;
    if nonce.len() != 24 {
        return Err(KeyError::Malformed(format!(
            "the nonce has {} bytes, not 24",
            nonce.len()
        )));
    }
    let ciphertext = b64("ciphertext", &sealed.ciphertext)?;
    let key = derive(
        password,
        &salt,
        log_n,
        sealed.kdf.params.r,
        sealed.kdf.params.p,
    )?;
    let cipher = XSalsa20Poly1305::new((&*key).into());
    cipher
        .decrypt(nonce.as_slice().into(), ciphertext.as_slice())
        .map(Zeroizing::new)
        .map_err(|_| KeyError::WrongPassword)
}

fn derive(
    password: &[u8],
    salt: &[u8],
    log_n: u8,
    r: u32,
    p: u32,
) -> Result<Zeroizing<[u8; 32]>, KeyError> {
    let params = scrypt::Params::new(log_n, r, p, 32)
        .map_err(|e| KeyError::Unsupported(format!("scrypt parameters: {e}")))?;
    let mut key = Zeroizing::new([0u8; 32]);
    scrypt::scrypt(password, salt, &params, &mut *key)
        .map_err(|e| KeyError::Unsupported(format!("scrypt: {e}")))?;
    Ok(key)
}

/// Writes a private key as cosign does: PKCS#8 sealed with a key derived from `password`
/// (scrypt N = 2^16, r = 8, p = 1), under `ENCRYPTED SIGSTORE PRIVATE KEY`. `salt` and
/// `nonce` must be fresh random bytes.
pub fn encrypt_private_key(
    key: &SigningKey,
    password: &[u8],
    salt: [u8; 32],
    nonce: [u8; 24],
) -> Result<String, KeyError> {
    let der = p256::SecretKey::from(key)
        .to_pkcs8_der()
        .map_err(|e| KeyError::Malformed(format!("cannot encode the key: {e}")))?;
    let derived = derive(password, &salt, SCRYPT_LOG_N, 8, 1)?;
    let cipher = XSalsa20Poly1305::new((&*derived).into());
    let ciphertext = cipher
        .encrypt((&nonce).into(), der.as_bytes())
        .map_err(|_| KeyError::Malformed("cannot seal the key".into()))?;
    let sealed = Sealed {
        kdf: Kdf {
            name: "scrypt".into(),
            params: ScryptParams {
                n: 1 << SCRYPT_LOG_N,
                r: 8,
                p: 1,
            },
            salt: B64.encode(salt),
        },
        cipher: Cipher {
            name: "nacl/secretbox".into(),
            nonce: B64.encode(nonce),
        },
        ciphertext: B64.encode(ciphertext),
    };
    let json = serde_json::to_vec(&sealed).expect("serializes");
    pem::encode_string(ENCRYPTED_LABEL, LineEnding::LF, &json)
        .map_err(|e| KeyError::Malformed(format!("cannot encode PEM: {e}")))
}

/// A private key as an unencrypted PKCS#8 PEM (`PRIVATE KEY`).
pub fn private_key_pem(key: &SigningKey) -> Result<Zeroizing<String>, KeyError> {
    p256::SecretKey::from(key)
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| KeyError::Malformed(format!("cannot encode the key: {e}")))
}

/// Reads an SPKI `PUBLIC KEY` PEM (P-256).
pub fn public_key_from_pem(text: &str) -> Result<VerifyingKey, KeyError> {
    let (label, der) = decode_pem(text)?;
    if label != "PUBLIC KEY" {
        return Err(KeyError::Unsupported(format!(
            "a PEM block `{label}` where a `PUBLIC KEY` was expected"
        )));
    }
    p256::PublicKey::from_public_key_der(&der)
        .map(VerifyingKey::from)
        .map_err(|_| KeyError::Unsupported("a public key that is not ECDSA P-256".into()))
}

/// The SPKI DER of a public key.
pub fn public_key_der(key: &VerifyingKey) -> Vec<u8> {
    p256::PublicKey::from(key)
        .to_public_key_der()
        .expect("a P-256 key encodes")
        .into_vec()
}

/// The SPKI `PUBLIC KEY` PEM of a public key, as `cosign.pub` holds it.
pub fn public_key_pem(key: &VerifyingKey) -> String {
    p256::PublicKey::from(key)
        .to_public_key_pem(LineEnding::LF)
        .expect("a P-256 key encodes")
}

/// The key hint of sigstore bundles: base64 of SHA-256 over the SPKI DER.
pub fn key_hint(key: &VerifyingKey) -> String {
    B64.encode(Sha256::digest(public_key_der(key)))
}

/// A new signing key from 32 random bytes (`None` when they are not a valid scalar: draw
/// again).
pub fn signing_key_from_random(bytes: &[u8; 32]) -> Option<SigningKey> {
    SigningKey::from_bytes(bytes.into()).ok()
}
