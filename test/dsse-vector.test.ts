// DSSE and in-toto vectors (fixtures/vectors/dsse.json, docs/protocol.md §13): the protocol code must reproduce them,
// and independent code (Buffer concatenation for PAE, node:crypto for Ed25519) must agree with them.
import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { hexToBytes } from '../src/protocol/bytes.js';
import { dsseBase64Decode, dsseEnvelope, dssePae, verifyDsseEnvelope, type DsseEnvelope } from '../src/protocol/dsse.js';
import { InTotoError, inTotoStatement, parseInTotoStatement, SLSA_PROVENANCE_V1, slsaProvenanceV1 } from '../src/protocol/in-toto.js';
import { buildVectors, render } from '../scripts/gen-dsse-vector.js';
import { ROOT } from './helpers/server.js';

const FILE = path.join(ROOT, 'fixtures/vectors/dsse.json');
const vectors = JSON.parse(fs.readFileSync(FILE, 'utf8')) as ReturnType<typeof buildVectors>;

/** PAE as the DSSE spec words it, built without src/protocol. */
const independentPae = (type: string, body: Buffer): Buffer => {
  const t = Buffer.from(type, 'utf8');
  return Buffer.concat([Buffer.from(`DSSEv1 ${t.length} `), t, Buffer.from(` ${body.length} `), body]);
};

/** A raw 32-byte Ed25519 public key as a node:crypto KeyObject (SPKI prefix of RFC 8410). */
const nodeKey = (raw: Uint8Array) =>
  createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(raw)]), format: 'der', type: 'spki' });

const pub = hexToBytes(vectors.signing_key.public_key_hex);
const keys = [{ keyid: vectors.signing_key.keyid, publicKey: pub }];

describe('DSSE vectors', () => {
  it('the committed file is what the protocol code produces', () => {
    expect(fs.readFileSync(FILE, 'utf8')).toBe(render(buildVectors()));
  });

  it.each(vectors.pae.map((c) => [c.name, c] as const))('PAE: %s', (_n, c) => {
    const pae = dssePae(c.payloadType, new TextEncoder().encode(c.payload_utf8));
    expect(Buffer.from(pae).toString('hex')).toBe(c.pae_hex);
    expect(independentPae(c.payloadType, Buffer.from(c.payload_utf8, 'utf8')).toString('hex')).toBe(c.pae_hex);
    expect(Buffer.from(pae).toString('utf8')).toBe(c.pae_utf8);
  });

  it('the in-toto envelope verifies independently (Buffer PAE, node:crypto) and with verifyDsseEnvelope', async () => {
    const env = vectors.in_toto.envelope;
    const body = Buffer.from(env.payload, 'base64');
    expect(body.toString('utf8')).toBe(vectors.in_toto.payload_jcs_utf8);
    expect(JSON.parse(body.toString('utf8'))).toEqual(vectors.in_toto.statement);
    const pae = independentPae(env.payloadType, body);
    expect(pae.toString('hex')).toBe(vectors.in_toto.pae_hex);
    expect(nodeVerify(null, pae, nodeKey(pub), Buffer.from(env.signatures[0]!.sig, 'base64'))).toBe(true);
    const r = await verifyDsseEnvelope(env, keys, { payloadType: 'application/vnd.in-toto+json' });
    expect(r.ok).toBe(true);
    if (r.ok) expect(parseInTotoStatement(r.payload)).toEqual(vectors.in_toto.statement);
  });
});

describe('verifyDsseEnvelope', () => {
  const env = vectors.in_toto.envelope as DsseEnvelope;
  const alter = (e: DsseEnvelope, f: (c: DsseEnvelope) => void): DsseEnvelope => {
    const c = structuredClone(e);
    f(c);
    return c;
  };

  it('fails when one payload byte changes', async () => {
    const body = Buffer.from(env.payload, 'base64');
    body[body.length - 3] = body[body.length - 3]! ^ 1;
    const r = await verifyDsseEnvelope(alter(env, (c) => (c.payload = body.toString('base64'))), keys);
    expect(r).toMatchObject({ ok: false, code: 'DSSE_SIGNATURE_INVALID' });
  });

  it('fails when the payloadType changes (it is signed), and when it is not the one asked for', async () => {
    expect(await verifyDsseEnvelope(alter(env, (c) => (c.payloadType = 'application/json')), keys)).toMatchObject({ ok: false, code: 'DSSE_SIGNATURE_INVALID' });
    expect(await verifyDsseEnvelope(env, keys, { payloadType: 'application/json' })).toMatchObject({ ok: false, code: 'DSSE_PAYLOAD_TYPE' });
  });

  it('fails with another key, whatever keyid claims; passes with keyid blank or unknown', async () => {
    const other = [{ keyid: vectors.signing_key.keyid, publicKey: new Uint8Array(32).fill(7) }];
    expect(await verifyDsseEnvelope(env, other)).toMatchObject({ ok: false, code: 'DSSE_SIGNATURE_INVALID' });
    expect((await verifyDsseEnvelope(alter(env, (c) => (c.signatures[0]!.keyid = '')), keys)).ok).toBe(true);
    expect((await verifyDsseEnvelope(alter(env, (c) => (c.signatures[0]!.keyid = 'nope')), keys)).ok).toBe(true);
  });

  it('accepts URL-safe unpadded base64 (DSSE: verifiers must accept either) and refuses garbage', async () => {
    const url = (s: string) => s.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    const e2 = alter(env, (c) => {
      c.payload = url(c.payload);
      c.signatures[0]!.sig = url(c.signatures[0]!.sig);
    });
    expect((await verifyDsseEnvelope(e2, keys)).ok).toBe(true);
    expect(await verifyDsseEnvelope(alter(env, (c) => (c.payload = 'a+b_')), keys)).toMatchObject({ ok: false, code: 'DSSE_MALFORMED' });
    expect(await verifyDsseEnvelope({ payloadType: 'x', payload: '', signatures: [] }, keys)).toMatchObject({ ok: false, code: 'DSSE_MALFORMED' });
    expect(() => dsseBase64Decode('QQ=')).toThrow();
    expect(() => dsseBase64Decode('QR==')).toThrow(); // non-zero trailing bits: a second spelling of "A"
  });

  it('a (2, n) threshold needs two distinct keys', async () => {
    const ed = await import('@noble/ed25519');
    const seed2 = new Uint8Array(32).fill(9);
    const k2 = { keyid: 'k2', publicKey: await ed.getPublicKeyAsync(seed2) };
    const seed1 = hexToBytes(vectors.signing_key.seed_hex);
    const body = new TextEncoder().encode('{}');
    const signers = [
      { keyid: keys[0]!.keyid, sign: (m: Uint8Array) => ed.sign(m, seed1) },
      { keyid: 'k2', sign: (m: Uint8Array) => ed.sign(m, seed2) },
    ];
    const two = dsseEnvelope('application/vnd.example+json', body, signers);
    expect((await verifyDsseEnvelope(two, [...keys, k2], { threshold: 2 })).ok).toBe(true);
    const dup = dsseEnvelope('application/vnd.example+json', body, [signers[0]!, signers[0]!]);
    expect(await verifyDsseEnvelope(dup, [...keys, k2], { threshold: 2 })).toMatchObject({ ok: false, code: 'DSSE_SIGNATURE_INVALID' });
  });
});

describe('in-toto statement and SLSA provenance builders', () => {
  const base = { buildType: 'https://example.com/bt/v1', externalParameters: {}, builder: { id: 'https://example.com/builder' } };
  const fieldOf = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      if (e instanceof InTotoError) return e.field;
      throw e;
    }
    return undefined;
  };

  it('names the member that breaks the spec', () => {
    expect(fieldOf(() => inTotoStatement([], SLSA_PROVENANCE_V1, {}))).toBe('subject');
    expect(fieldOf(() => inTotoStatement([{ name: 'a', digest: { sha256: 'AB' } }], SLSA_PROVENANCE_V1, {}))).toBe('subject[0].digest.sha256');
    expect(fieldOf(() => inTotoStatement([{ name: 'a', digest: { sha256: 'ab' } }], SLSA_PROVENANCE_V1, {}))).toBe('subject[0].digest.sha256');
    expect(fieldOf(() => slsaProvenanceV1({ ...base, buildType: 'no uri' }))).toBe('buildDefinition.buildType');
    expect(fieldOf(() => slsaProvenanceV1({ ...base, metadata: { startedOn: '2026-12-03 10:00' } }))).toBe('runDetails.metadata.startedOn');
    expect(fieldOf(() => slsaProvenanceV1({ ...base, byproducts: [{ name: 'x' }] }))).toBe('runDetails.byproducts[0]');
  });

  it('omits absent optional members instead of writing null', () => {
    const p = slsaProvenanceV1({ ...base, metadata: {} });
    expect(p).toEqual({ buildDefinition: { buildType: base.buildType, externalParameters: {} }, runDetails: { builder: { id: base.builder.id } } });
  });
});
