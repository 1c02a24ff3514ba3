//! The formats against known data: cosign's own test key, round trips, tampering.

use signing::bundle::Bundle;
use signing::dsse::{Envelope, IN_TOTO_PAYLOAD_TYPE, pae};
use signing::keys::{self, KeyError};

const COSIGN_KEY: &str = include_str!("data/cosign-test-sigstore.key");

#[test]
fn cosign_test_key_opens_with_its_password_and_signs() {
    let key = keys::private_key_from_pem(COSIGN_KEY, Some(b"hello")).expect("cosign's key opens");
    let public = *key.verifying_key();
    let sig = signing::sign_message(&key, b"hello, world\n");
    signing::verify_message(&public, b"hello, world\n", &sig).unwrap();
    assert_eq!(
        signing::verify_message(&public, b"hello, world!\n", &sig),
        Err(signing::VerifyError::Mismatch)
    );
}

#[test]
fn a_wrong_or_missing_password_is_an_error_not_a_crash() {
    assert_eq!(
        keys::private_key_from_pem(COSIGN_KEY, Some(b"wrong")).unwrap_err(),
        KeyError::WrongPassword
    );
    assert_eq!(
        keys::private_key_from_pem(COSIGN_KEY, None).unwrap_err(),
        KeyError::NeedsPassword
    );
    assert!(matches!(
        keys::private_key_from_pem("not a key", None).unwrap_err(),
        KeyError::Malformed(_)
    ));
}

#[test]
fn an_encrypted_key_round_trips_and_its_public_half_parses() {
    let key = keys::signing_key_from_random(&[7u8; 32]).unwrap();
    let pem = keys::encrypt_private_key(&key, b"pw", [1; 32], [2; 24]).unwrap();
    assert!(pem.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"));
    let back = keys::private_key_from_pem(&pem, Some(b"pw")).unwrap();
    assert_eq!(back.to_bytes(), key.to_bytes());
    let public = keys::public_key_pem(key.verifying_key());
    assert_eq!(
        keys::public_key_from_pem(&public).unwrap(),
        *key.verifying_key()
    );
    let plain = keys::private_key_pem(&key).unwrap();
    assert_eq!(
        keys::private_key_from_pem(&plain, None).unwrap().to_bytes(),
        key.to_bytes()
    );
}

#[test]
fn a_changed_ciphertext_byte_is_refused() {
    let key = keys::signing_key_from_random(&[9u8; 32]).unwrap();
    let pem = keys::encrypt_private_key(&key, b"pw", [1; 32], [2; 24]).unwrap();
    // Flip one character of the base64 body (inside the JSON's ciphertext).
    let mut lines: Vec<String> = pem.lines().map(String::from).collect();
    let line = &mut lines[3];
    let c = if line.as_bytes()[10] == b'A' {
        "B"
    } else {
        "A"
    };
    line.replace_range(10..11, c);
    let damaged = lines.join("\n");
    assert!(keys::private_key_from_pem(&damaged, Some(b"pw")).is_err());
}

#[test]
fn pae_is_the_dsse_v1_encoding() {
    assert_eq!(
        pae("http://example.com/HelloWorld", b"hello world"),
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
    );
}

#[test]
fn envelopes_verify_and_reject_a_changed_payload() {
    let key = keys::signing_key_from_random(&[3u8; 32]).unwrap();
    let mut env = Envelope::sign(&key, "", IN_TOTO_PAYLOAD_TYPE, b"{\"a\":1}");
    assert_eq!(env.verify(key.verifying_key()).unwrap(), b"{\"a\":1}");
    env.payload = signing::base64(b"{\"a\":2}");
    assert_eq!(
        env.verify(key.verifying_key()),
        Err(signing::VerifyError::Mismatch)
    );
}

#[test]
fn bundles_carry_the_key_hint_digest_and_signature() {
    let key = keys::signing_key_from_random(&[5u8; 32]).unwrap();
    let digest = [0xab; 32];
    let sig = signing::sign_digest(&key, &digest);
    let bundle = Bundle::new(keys::key_hint(key.verifying_key()), &digest, &sig);
    let json = serde_json::to_value(&bundle).unwrap();
    assert_eq!(
        json["mediaType"],
        "application/vnd.dev.sigstore.bundle.v0.3+json"
    );
    assert_eq!(
        json["messageSignature"]["messageDigest"]["algorithm"],
        "SHA2_256"
    );
    assert_eq!(
        json["verificationMaterial"]["publicKey"]["hint"],
        keys::key_hint(key.verifying_key())
    );
}
