// Verifies a key-based sigstore bundle with npm's @sigstore/verify, offline:
//   node verify-bundle.mjs BUNDLE BLOB PUBLIC_KEY_PEM
// Prints "verified" and exits 0, or prints the verifier's error and exits 1.
// Nobody here wrote the verifier: it is the one sigstore-js and npm provenance use.
import { readFileSync } from 'node:fs';
import { createHash, createPublicKey } from 'node:crypto';
import { createRequire } from 'node:module';

const require = createRequire(process.env.SIGSTORE_NODE_MODULES + '/');
const { Verifier, toSignedEntity, toTrustMaterial } = require('@sigstore/verify');
const { bundleFromJSON } = require('@sigstore/bundle');

const [bundlePath, blobPath, keyPath] = process.argv.slice(2);
try {
  const bundle = bundleFromJSON(JSON.parse(readFileSync(bundlePath, 'utf8')));
  const key = createPublicKey(readFileSync(keyPath, 'utf8'));
  const trust = toTrustMaterial(
    { certificateAuthorities: [], timestampAuthorities: [], tlogs: [], ctlogs: [] },
    (hint) => {
      // The key is found by its hint, as a verifier with several keys would: base64 of
      // SHA-256 over the SPKI DER, computed here with Node's own crypto.
      const own = createHash('sha256').update(key.export({ type: 'spki', format: 'der' })).digest('base64');
      if (hint !== own) throw Object.assign(new Error(`key not found: ${hint}`), { code: 'PUBLIC_KEY_ERROR' });
      return { publicKey: key, validFor: () => true };
    },
  );
  const verifier = new Verifier(trust, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 });
  verifier.verify(toSignedEntity(bundle, readFileSync(blobPath)));
  console.log('verified');
} catch (e) {
  console.log(`${e.code || e.name}: ${e.message}`);
  process.exit(1);
}
