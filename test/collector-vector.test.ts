// "Formats are forever": fixtures/vectors/collector.json pins a collector key's id and the bytes a collector signs
// (docs/protocol.md §12). Recomputed here from src/protocol and, independently, with node:crypto straight from the
// spec; the server's signature check (node:crypto), the verifier's (src/verify/collector.ts) and the policy's pin
// parser are run on it.
import { createHash, createPrivateKey, createPublicKey, sign as nodeSign, verify as nodeVerify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildCollectorVector, renderCollectorVector } from '../scripts/gen-collector-vector.js';
import { COLLECTOR_EVENT_TYPE, COLLECTOR_ITEM_FORMAT, collectorKeyId, collectorSignedBytes } from '../src/protocol/collector.js';
import { canonicalize } from '../src/protocol/jcs.js';
import { parsePolicy } from '../src/protocol/policy.js';
import { CollectorChecker, COLLECTOR_CHECKS } from '../src/verify/collector.js';
import { ReportBuilder } from '../src/verify/report.js';
import { parseCollectorPublicKey } from '../src/cicd/collectors.js';

const FILE = join(import.meta.dirname, '..', 'fixtures', 'vectors', 'collector.json');
const text = readFileSync(FILE, 'utf8');
const V = JSON.parse(text);

const tag = (purpose: string) => Buffer.concat([Buffer.from(`proofstream/v1 ${purpose}`, 'utf8'), Buffer.from([0])]);
/** RFC 8410 PKCS#8 wrapping of a 32-byte Ed25519 seed. */
const privateFromSeed = (seedHex: string) =>
  createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.from(seedHex, 'hex')]), format: 'der', type: 'pkcs8' });
const LOG_LINE = 'log proofstream.localhost/* proofstream.localhost/*+b04a0a39+AYG4PxfDiLpq+Z5OFDY7CJ86H1Xkz2Z+ouVKCCDB7gEW';

async function checkPayload(payload: unknown, policy: string | null) {
  const r = new ReportBuilder('bundle');
  const c = new CollectorChecker(policy === null ? null : parsePolicy(policy));
  c.add({ event_type: COLLECTOR_EVENT_TYPE, payload }, '/events/0');
  await c.finish(r);
  return r.build();
}

describe('collector vector', () => {
  it('is what the protocol code produces now, byte for byte', () => {
    expect(renderCollectorVector(buildCollectorVector())).toBe(text);
  });

  it('the key pair, key id, signed bytes and signature re-derive with node:crypto from the spec', () => {
    const priv = privateFromSeed(V.seed_hex);
    const pubRaw = Buffer.from(createPublicKey(priv).export({ format: 'jwk' }).x!, 'base64url');
    expect(pubRaw.toString('hex')).toBe(V.public_key_hex);
    // key id: "col_" ‖ hex(SHA-256(tag("collector-key") ‖ public key)[0:16])
    expect(tag('collector-key').toString('hex')).toBe(V.key_id_tag_hex);
    const id = 'col_' + createHash('sha256').update(tag('collector-key')).update(pubRaw).digest().subarray(0, 16).toString('hex');
    expect(id).toBe(V.key_id);
    expect(collectorKeyId(pubRaw)).toBe(V.key_id);
    // signed bytes: tag("collector-attestation") ‖ JCS(item)
    expect(V.item.format).toBe(COLLECTOR_ITEM_FORMAT);
    expect(canonicalize(V.item)).toBe(V.item_jcs);
    const signed = Buffer.concat([tag('collector-attestation'), Buffer.from(V.item_jcs, 'utf8')]);
    expect(signed.toString('hex')).toBe(V.signed_bytes_hex);
    expect(Buffer.from(collectorSignedBytes(V.item)).toString('hex')).toBe(V.signed_bytes_hex);
    // Ed25519 is deterministic: node:crypto signs the same bytes to the same signature, and verifies it.
    expect(nodeSign(null, signed, priv).toString('base64')).toBe(V.signature_base64);
    expect(nodeVerify(null, signed, createPublicKey(priv), Buffer.from(V.signature_base64, 'base64'))).toBe(true);
    // The same item with one member changed is other bytes: the signature no longer verifies.
    const changed = Buffer.concat([tag('collector-attestation'), Buffer.from(canonicalize({ ...V.item, passed: false }), 'utf8')]);
    expect(nodeVerify(null, changed, createPublicKey(priv), Buffer.from(V.signature_base64, 'base64'))).toBe(false);
  });

  it('the registration formats of the public key all read as the vector key', () => {
    const pub = createPublicKey(privateFromSeed(V.seed_hex));
    const spkiDer = pub.export({ format: 'der', type: 'spki' });
    for (const form of [pub.export({ format: 'pem', type: 'spki' }) as string, V.public_key_hex, Buffer.from(V.public_key_hex, 'hex').toString('base64'), spkiDer.toString('base64')]) {
      expect(Buffer.from(parseCollectorPublicKey(form)).toString('hex')).toBe(V.public_key_hex);
    }
    expect(() => parseCollectorPublicKey(privateFromSeed(V.seed_hex).export({ format: 'pem', type: 'pkcs8' }) as string)).toThrow(/private key/);
    expect(() => parseCollectorPublicKey('abc')).toThrow(/not an Ed25519 public key/);
  });

  it('the verifier accepts the event payload, reports the key as unpinned without a pin, and refuses a flipped byte', async () => {
    const unpinned = await checkPayload(V.event_payload, null);
    expect(unpinned.ok, JSON.stringify(unpinned)).toBe(true);
    expect(unpinned.checks.find((c) => c.name === COLLECTOR_CHECKS.signatures)?.status).toBe('passed');
    const pin = unpinned.checks.find((c) => c.name === COLLECTOR_CHECKS.pinned)!;
    expect(pin.status).toBe('skipped');
    expect(pin.reason).toContain(`unpinned: ${V.key_id}`);

    const pinned = await checkPayload(V.event_payload, `${LOG_LINE}\n${V.policy_line}\n`);
    expect(pinned.ok, JSON.stringify(pinned)).toBe(true);
    expect(pinned.checks.find((c) => c.name === COLLECTOR_CHECKS.pinned)?.status).toBe('passed');

    const sig = Buffer.from(V.signature_base64, 'base64');
    sig[10]! ^= 0x01;
    const flipped = await checkPayload({ ...V.event_payload, collector: { ...V.event_payload.collector, signature: sig.toString('base64') } }, null);
    expect(flipped.problems.map((p) => [p.code, p.path])).toEqual([['COLLECTOR_SIGNATURE_INVALID', '/events/0/payload/collector/signature']]);

    const altered = await checkPayload({ ...V.event_payload, item: { ...V.item, passed: false } }, null);
    expect(altered.problems.map((p) => p.code)).toEqual(['COLLECTOR_SIGNATURE_INVALID']);

    const otherKey = await checkPayload({ ...V.event_payload, collector: { ...V.event_payload.collector, keyId: 'col_' + '0'.repeat(32) } }, null);
    expect(otherKey.problems.map((p) => p.code)).toEqual(['COLLECTOR_KEY_MISMATCH']);
  });

  it('a policy pins a collector key only under its derived id; a pinning policy refuses other keys', async () => {
    const p = parsePolicy(`${LOG_LINE}\n${V.policy_line}\n`);
    expect(p.collectors).toEqual([{ keyId: V.key_id, publicKeyHex: V.public_key_hex }]);
    expect(() => parsePolicy(`${LOG_LINE}\ncollector col_${'0'.repeat(32)} ${V.public_key_hex}\n`)).toThrow(/not the key id of that public key/);
    expect(() => parsePolicy(`${LOG_LINE}\n${V.policy_line}\n${V.policy_line}\n`)).toThrow(/pinned twice/);
    const otherPub = createPublicKey(privateFromSeed('44'.repeat(32)));
    const otherHex = Buffer.from(otherPub.export({ format: 'jwk' }).x!, 'base64url').toString('hex');
    const other = await checkPayload(V.event_payload, `${LOG_LINE}\ncollector ${collectorKeyId(Buffer.from(otherHex, 'hex'))} ${otherHex}\n`);
    expect(other.problems.map((p) => p.code)).toEqual(['COLLECTOR_KEY_UNPINNED']);
  });
});
