"""Checks Sluice's signing formats with tools nobody here wrote.

    check.py dsse ENVELOPE PUBLIC_KEY_PEM
        securesystemslib verifies the DSSE envelope; in-toto-attestation validates the
        Statement v1; the SLSA Provenance v1 predicate is parsed with the in-toto
        protobuf bindings (unknown or mistyped fields fail) and its required fields
        checked. Prints the subject and builder as JSON.
    check.py decrypt-key ENCRYPTED_KEY PASSWORD OUT_PEM
        opens a cosign encrypted key with hashlib's scrypt and PyNaCl's secretbox, signs
        and verifies with it through securesystemslib's CryptoSigner, and writes its PKCS#8
        PEM with `cryptography`.
    check.py sign-blob PRIVATE_KEY_PEM BLOB OUT_SIG
        signs a blob the way cosign sign-blob does (ECDSA P-256, SHA-256, DER, base64),
        with `cryptography`.
"""

import base64
import hashlib
import json
import sys


def dsse(envelope_path, key_path):
    from google.protobuf import json_format
    from in_toto_attestation.predicates.provenance.v1 import provenance_pb2
    from in_toto_attestation.v1 import statement_pb2
    from in_toto_attestation.v1.resource_descriptor import ResourceDescriptor
    from in_toto_attestation.v1.statement import Statement
    from securesystemslib.dsse import Envelope
    from securesystemslib.signer import SSlibKey

    with open(envelope_path, "rb") as f:
        envelope = Envelope.from_dict(json.load(f))
    with open(key_path, "rb") as f:
        pem = f.read().decode()
    keyid = envelope.signatures and next(iter(envelope.signatures))
    key = SSlibKey(keyid or "", "ecdsa", "ecdsa-sha2-nistp256", {"public": pem})
    envelope.verify([key], 1)  # raises VerificationError

    assert envelope.payload_type == "application/vnd.in-toto+json", envelope.payload_type
    statement = json.loads(envelope.payload)
    pb = json_format.ParseDict(statement, statement_pb2.Statement())
    Statement.copy_from_pb(pb).validate()
    assert statement["predicateType"] == "https://slsa.dev/provenance/v1"
    prov = json_format.ParseDict(statement["predicate"], provenance_pb2.Provenance())
    bd, rd = prov.build_definition, prov.run_details
    assert bd.build_type, "buildDefinition.buildType is required"
    assert len(bd.external_parameters) > 0, "buildDefinition.externalParameters is required"
    assert rd.builder.id, "runDetails.builder.id is required"
    for dep in list(bd.resolved_dependencies) + list(rd.byproducts):
        ResourceDescriptor.copy_from_pb(dep).validate()
    print(json.dumps({
        "subject": [{"name": s.name, "digest": dict(s.digest)} for s in pb.subject],
        "builder": rd.builder.id,
        "buildType": bd.build_type,
        "invocationId": rd.metadata.invocation_id,
        "dependencies": [{"name": d.name, "digest": dict(d.digest)} for d in bd.resolved_dependencies],
    }))


def decrypt_key(key_path, password, out_path):
    import nacl.secret
    from cryptography.hazmat.primitives import serialization

    with open(key_path) as f:
        lines = [l.strip() for l in f if l.strip() and not l.startswith("-----")]
    body = json.loads(base64.b64decode("".join(lines)))
    params = body["kdf"]["params"]
    assert body["kdf"]["name"] == "scrypt" and body["cipher"]["name"] == "nacl/secretbox"
    derived = hashlib.scrypt(
        password.encode(),
        salt=base64.b64decode(body["kdf"]["salt"]),
        n=params["N"], r=params["r"], p=params["p"], dklen=32,
        maxmem=256 * 1024 * 1024,
    )
    der = nacl.secret.SecretBox(derived).decrypt(
        base64.b64decode(body["ciphertext"]), base64.b64decode(body["cipher"]["nonce"])
    )
    key = serialization.load_der_private_key(der, password=None)
    # securesystemslib takes it as a signer, and its signature verifies with its public key.
    from securesystemslib.signer import CryptoSigner
    signer = CryptoSigner(key)
    signature = signer.sign(b"loaded by securesystemslib")
    signer.public_key.verify_signature(signature, b"loaded by securesystemslib")
    with open(out_path, "wb") as f:
        f.write(key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ))
    print(key.curve.name)


def sign_blob(key_path, blob_path, out_path):
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    with open(key_path, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    with open(blob_path, "rb") as f:
        sig = key.sign(f.read(), ec.ECDSA(hashes.SHA256()))
    with open(out_path, "w") as f:
        f.write(base64.b64encode(sig).decode())


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    {"dsse": dsse, "decrypt-key": decrypt_key, "sign-blob": sign_blob}[command](*args)
