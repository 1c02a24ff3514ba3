//! DSSE envelopes (Dead Simple Signing Envelope, v1) and the in-toto Statement v1 they
//! carry. The signature covers the pre-authentication encoding (PAE) of the payload type
//! and the payload, never the JSON around them.

use serde::{Deserialize, Serialize};

/// The payload type of an in-toto statement.
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// `_type` of an in-toto Statement v1.
pub const STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";
/// `predicateType` of SLSA Provenance v1.
pub const SLSA_PROVENANCE_V1: &str = "https://slsa.dev/provenance/v1";

/// A DSSE envelope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope {
    /// Base64 of the payload.
    pub payload: String,
    /// What the payload is.
    pub payload_type: String,
    /// One signature or more.
    pub signatures: Vec<EnvelopeSignature>,
}

/// One signature of an envelope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvelopeSignature {
    /// Which key made it (may be empty).
    #[serde(default)]
    pub keyid: String,
    /// Base64 of the DER signature over the PAE.
    pub sig: String,
}

/// `PAE(type, body) = "DSSEv1" SP len(type) SP type SP len(body) SP body`.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + payload_type.len() + 32);
    out.extend_from_slice(
        format!(
            "DSSEv1 {} {} {} ",
            payload_type.len(),
            payload_type,
            payload.len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(payload);
    out
}

impl Envelope {
    /// Signs `payload` of `payload_type` with `key`; `keyid` names the key for verifiers.
    pub fn sign(
        key: &crate::PrivateKey,
        keyid: &str,
        payload_type: &str,
        payload: &[u8],
    ) -> Envelope {
        let sig = crate::sign_message(key, &pae(payload_type, payload));
        Envelope {
            payload: crate::base64(payload),
            payload_type: payload_type.into(),
            signatures: vec![EnvelopeSignature {
                keyid: keyid.into(),
                sig: crate::base64(&sig),
            }],
        }
    }

    /// The payload, when one of the signatures is `key`'s over it.
    pub fn verify(&self, key: &crate::PublicKey) -> Result<Vec<u8>, crate::VerifyError> {
        let payload = crate::unbase64(&self.payload)
            .map_err(|_| crate::VerifyError::Malformed("the payload is not base64".into()))?;
        if self.signatures.is_empty() {
            return Err(crate::VerifyError::Malformed(
                "the envelope has no signatures".into(),
            ));
        }
        let message = pae(&self.payload_type, &payload);
        let mut last = crate::VerifyError::Mismatch;
        for s in &self.signatures {
            match crate::unbase64(&s.sig).and_then(|der| crate::verify_message(key, &message, &der))
            {
                Ok(()) => return Ok(payload),
                Err(e) => last = e,
            }
        }
        Err(last)
    }
}

/// An in-toto Statement v1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Statement {
    /// [`STATEMENT_V1`].
    #[serde(rename = "_type")]
    pub type_: String,
    /// What the statement is about.
    pub subject: Vec<Subject>,
    /// What kind of predicate follows.
    pub predicate_type: String,
    /// The predicate.
    pub predicate: serde_json::Value,
}

/// A subject: a name and its digests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subject {
    /// The artifact's name.
    pub name: String,
    /// Algorithm → lower-case hex.
    pub digest: std::collections::BTreeMap<String, String>,
}
