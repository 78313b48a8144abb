// fixtures/vectors/build-provenance.json: the build provenance's bytes (docs/builds.md "Provenance") must not change —
// the statement's JCS, the DSSE envelope, and the Ed25519 signature over DSSE's PAE, checked with a PAE written here.
import { createPrivateKey, createPublicKey, verify } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { signedProvenance, statementOf, type ProvenanceInput } from '../src/builds/provenance.js';
import { signerFromKeyObject } from '../src/ledger/signer.js';
import { canonicalize } from '../src/protocol/jcs.js';
import { ROOT } from './helpers/server.js';

const v = JSON.parse(fs.readFileSync(path.join(ROOT, 'fixtures/vectors/build-provenance.json'), 'utf8'));
const pae = (type: string, body: Buffer) => Buffer.concat([Buffer.from(`DSSEv1 ${Buffer.byteLength(type)} ${type} ${body.length} `), body]);

describe('build provenance vector', () => {
  const key = createPrivateKey({ key: Buffer.from('302e020100300506032b657004220420' + v.ed25519_seed_hex, 'hex'), format: 'der', type: 'pkcs8' });
  const signer = signerFromKeyObject(key);

  it('the statement serializes to the vector JCS', () => {
    expect(canonicalize(statementOf(v.input as ProvenanceInput))).toBe(v.statement_jcs);
    const st = JSON.parse(v.statement_jcs);
    expect(st._type).toBe('https://in-toto.io/Statement/v1');
    expect(st.predicateType).toBe('https://slsa.dev/provenance/v1');
    expect(st.subject).toEqual(v.input.subjects);
  });

  it('the envelope is the vector, byte for byte, and its signature verifies over PAE', () => {
    expect(Buffer.from(signer.publicKey).toString('hex')).toBe(v.public_key_hex);
    const env = signedProvenance(v.input as ProvenanceInput, signer.kid, (m) => signer.sign(m));
    expect(env).toEqual(v.envelope);
    const payload = Buffer.from(v.envelope.payload, 'base64');
    expect(payload.toString('utf8')).toBe(v.statement_jcs);
    const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(v.public_key_hex, 'hex')]);
    const pub = createPublicKey({ key: spki, format: 'der', type: 'spki' });
    const sig = Buffer.from(v.envelope.signatures[0].sig, 'base64');
    expect(verify(null, pae(v.envelope.payloadType, payload), pub, sig)).toBe(true);
    expect(verify(null, payload, pub, sig)).toBe(false); // signed over PAE, not the bare payload
  });
});
