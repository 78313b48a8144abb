// "Formats are forever": fixtures/vectors/events.json pins every byte the protocol derives from fixed inputs
// (payload JCS, commitment, entry, event hash, genesis and head chain, receipt message, kid, signature).
// Everything is recomputed here with src/protocol and compared, so a silent format change fails this file;
// the hash constructions are also re-derived with node:crypto straight from the spec, and the signature is
// checked by three independent Ed25519 implementations (WebCrypto, @noble/ed25519, OpenSSL via node:crypto).
import { createHash, createPrivateKey, createPublicKey, sign as nodeSign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bytesToHex, concatBytes, hexToBytes, utf8ToBytes } from '../src/protocol/bytes.js';
import { verifyEd25519, verifyEd25519Noble } from '../src/protocol/ed25519.js';
import { ENTRY_FORMAT, entryBytes, eventHash, genesisHead, nextHead, payloadCommitment, type EntryFields } from '../src/protocol/event.js';
import { DOMAIN, domainTag, sha256 } from '../src/protocol/hash.js';
import { canonicalize } from '../src/protocol/jcs.js';
import { RECEIPT_ALG, RECEIPT_PROTOCOL, receiptMessage } from '../src/protocol/receipt.js';
import { kidFor, signerFromKeyObject } from '../src/ledger/signer.js';
import { buildVectors, render } from '../scripts/gen-vectors.js';

const FILE = join(import.meta.dirname, '..', 'fixtures', 'vectors', 'events.json');
const fileText = readFileSync(FILE, 'utf8');

interface VectorEvent {
  inputs: {
    seq_no: number;
    source_ref: string;
    event_type: string;
    occurred_at: string | null;
    received_at: string;
    salt: string;
    payload: unknown;
  };
  payload_jcs: string;
  payload_jcs_hex: string;
  payload_commitment: string;
  entry_text: string;
  entry_hex: string;
  event_hash: string;
  previous_event_hash: string;
  stream_head_hash: string;
  receipt_message_hex: string;
  signature: string;
}
interface Vectors {
  entry_format: string;
  receipt_protocol: string;
  alg: string;
  domain_tags_hex: Record<'payload' | 'head' | 'genesis' | 'receipt', string>;
  signing_key: { seed_hex: string; public_key_hex: string; kid: string };
  stream_id: string;
  genesis_head: string;
  events: VectorEvent[];
}
const V = JSON.parse(fileText) as Vectors;

/** SHA-256 by OpenSSL, independent of @noble/hashes and of src/protocol/hash.ts. */
const osha = (...parts: Uint8Array[]) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};
const tagBytes = (purpose: string) => Buffer.concat([Buffer.from(`proofstream/v1 ${purpose}`, 'utf8'), Buffer.from([0])]);

const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const nodePrivateKey = (seed: Uint8Array) =>
  createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' });

const fieldsOf = (e: VectorEvent): EntryFields => ({
  stream_id: V.stream_id,
  seq_no: e.inputs.seq_no,
  source_ref: e.inputs.source_ref,
  event_type: e.inputs.event_type,
  occurred_at: e.inputs.occurred_at,
  received_at: e.inputs.received_at,
  payload_commitment: e.payload_commitment,
});

describe('vector file', () => {
  it('holds three consecutive events of one stream, with the occurred_at variants covered', () => {
    expect(V.events.map((e) => e.inputs.seq_no)).toEqual([1, 2, 3]);
    expect(V.events.some((e) => e.inputs.occurred_at === null)).toBe(true);
    expect(V.events.some((e) => typeof e.inputs.occurred_at === 'string')).toBe(true);
    // A change in formats or tags must show up as a change in the file, not be absorbed by it.
    expect(V.entry_format).toBe(ENTRY_FORMAT);
    expect(V.entry_format).toBe('proofstream.entry/v1');
    expect(V.receipt_protocol).toBe(RECEIPT_PROTOCOL);
    expect(V.receipt_protocol).toBe('PROOFSTREAM-RECEIPT-001');
    expect(V.alg).toBe(RECEIPT_ALG);
  });

  it('is reproduced byte for byte by scripts/gen-vectors.ts', () => {
    expect(render(buildVectors())).toBe(fileText);
  });
});

describe('domain tags', () => {
  const tags = Object.entries(DOMAIN) as Array<[keyof typeof DOMAIN, Uint8Array]>;

  it('are exactly "proofstream/v1 <purpose>" + 0x00, as recorded in the vectors', () => {
    for (const [purpose, tag] of tags) {
      expect(Buffer.from(tag).equals(tagBytes(purpose))).toBe(true);
      expect(bytesToHex(tag)).toBe(V.domain_tags_hex[purpose]);
      expect(bytesToHex(domainTag(purpose))).toBe(bytesToHex(tag));
    }
    expect(Object.keys(V.domain_tags_hex).sort()).toEqual(tags.map(([p]) => p).sort());
  });

  it('are pairwise distinct and none is a prefix of another', () => {
    expect(tags.length).toBeGreaterThanOrEqual(4);
    for (const [pa, a] of tags) {
      for (const [pb, b] of tags) {
        if (pa === pb) continue;
        expect(bytesToHex(a)).not.toBe(bytesToHex(b));
        expect(bytesToHex(b).startsWith(bytesToHex(a))).toBe(false);
      }
    }
  });

  it('separate the head, genesis and commitment hashes from plain SHA-256 of the same bytes', () => {
    const a = V.events[0]!;
    const b = V.events[1]!;
    const prev = hexToBytes(a.stream_head_hash);
    const ev = hexToBytes(b.event_hash);
    const plain = bytesToHex(osha(prev, ev));
    expect(bytesToHex(nextHead(prev, ev))).not.toBe(plain);
    expect(b.stream_head_hash).not.toBe(plain);
    expect(bytesToHex(genesisHead(V.stream_id))).not.toBe(bytesToHex(osha(utf8ToBytes(V.stream_id))));
    const salt = hexToBytes(a.inputs.salt);
    expect(a.payload_commitment).not.toBe(bytesToHex(osha(salt, utf8ToBytes(a.payload_jcs))));
    // The same two inputs under two different tags never collide (head vs payload vs genesis vs receipt).
    const under = tags.map(([, t]) => bytesToHex(sha256(t, prev, ev)));
    expect(new Set(under).size).toBe(under.length);
  });
});

describe('signing key', () => {
  const seed = hexToBytes(V.signing_key.seed_hex);
  const pub = hexToBytes(V.signing_key.public_key_hex);

  it('public key and kid follow from the seed (node:crypto and the production kid rule)', () => {
    expect(seed.length).toBe(32);
    const jwk = createPublicKey(nodePrivateKey(seed)).export({ format: 'jwk' });
    expect(bytesToHex(new Uint8Array(Buffer.from(jwk.x!, 'base64url')))).toBe(V.signing_key.public_key_hex);
    expect(kidFor(pub)).toBe(V.signing_key.kid);
    // The rule spelled out: "ps-ed25519-" + hex of the first 8 bytes of SHA-256(raw public key).
    expect(V.signing_key.kid).toBe(`ps-ed25519-${bytesToHex(osha(pub).subarray(0, 8))}`);
  });

  it('the production signer (signerFromKeyObject) yields the same kid and public key', () => {
    const s = signerFromKeyObject(nodePrivateKey(seed));
    expect(s.kid).toBe(V.signing_key.kid);
    expect(bytesToHex(s.publicKey)).toBe(V.signing_key.public_key_hex);
  });
});

describe('chain', () => {
  it('genesis head = SHA-256(tag("genesis") ‖ utf8(stream_id))', () => {
    expect(bytesToHex(genesisHead(V.stream_id))).toBe(V.genesis_head);
    expect(bytesToHex(osha(tagBytes('genesis'), utf8ToBytes(V.stream_id)))).toBe(V.genesis_head);
  });

  for (let i = 0; i < 3; i++) {
    describe(`event ${i + 1}`, () => {
      const e = () => V.events[i]!;
      const prevHead = () => (i === 0 ? V.genesis_head : V.events[i - 1]!.stream_head_hash);

      it('payload JCS and commitment', () => {
        const ev = e();
        const jcs = canonicalize(ev.inputs.payload);
        expect(jcs).toBe(ev.payload_jcs);
        expect(bytesToHex(utf8ToBytes(jcs))).toBe(ev.payload_jcs_hex);
        const salt = hexToBytes(ev.inputs.salt);
        expect(salt.length).toBe(32);
        expect(bytesToHex(payloadCommitment(salt, ev.inputs.payload))).toBe(ev.payload_commitment);
        expect(bytesToHex(osha(tagBytes('payload'), salt, utf8ToBytes(jcs)))).toBe(ev.payload_commitment);
      });

      it('entry bytes and event hash (RFC 9162 leaf hash of the entry)', () => {
        const ev = e();
        const entry = entryBytes(fieldsOf(ev));
        expect(bytesToHex(entry)).toBe(ev.entry_hex);
        expect(new TextDecoder().decode(entry)).toBe(ev.entry_text);
        // The entry is the JCS of the fields plus the format; the text in the file says so independently.
        expect(
          canonicalize({ ...fieldsOf(ev), format: ENTRY_FORMAT }),
        ).toBe(ev.entry_text);
        expect(bytesToHex(eventHash(fieldsOf(ev)))).toBe(ev.event_hash);
        expect(bytesToHex(osha(new Uint8Array([0]), hexToBytes(ev.entry_hex)))).toBe(ev.event_hash);
      });

      it('previous_event_hash and stream head hash', () => {
        const ev = e();
        expect(ev.previous_event_hash).toBe(i === 0 ? '0'.repeat(64) : V.events[i - 1]!.event_hash);
        const head = nextHead(hexToBytes(prevHead()), hexToBytes(ev.event_hash));
        expect(bytesToHex(head)).toBe(ev.stream_head_hash);
        expect(bytesToHex(osha(tagBytes('head'), hexToBytes(prevHead()), hexToBytes(ev.event_hash)))).toBe(ev.stream_head_hash);
      });

      it('receipt message', () => {
        const ev = e();
        const claims = {
          kid: V.signing_key.kid,
          stream_id: V.stream_id,
          seq_no: ev.inputs.seq_no,
          event_hash: ev.event_hash,
          stream_head_hash: ev.stream_head_hash,
          received_at: ev.inputs.received_at,
        };
        const msg = receiptMessage(claims);
        expect(bytesToHex(msg)).toBe(ev.receipt_message_hex);
        const spelled = concatBytes(tagBytes('receipt'), utf8ToBytes(canonicalize({ protocol: 'PROOFSTREAM-RECEIPT-001', ...claims })));
        expect(bytesToHex(spelled)).toBe(ev.receipt_message_hex);
      });

      it('signature verifies (WebCrypto/noble) and equals the native node:crypto signature', async () => {
        const ev = e();
        const pub = hexToBytes(V.signing_key.public_key_hex);
        const sig = hexToBytes(ev.signature);
        const msg = hexToBytes(ev.receipt_message_hex);
        expect(sig.length).toBe(64);
        expect(await verifyEd25519(pub, sig, msg)).toBe(true);
        expect(verifyEd25519Noble(pub, sig, msg)).toBe(true);

        // Ed25519 is deterministic: OpenSSL must produce the very same bytes, as must the production signer.
        const priv = nodePrivateKey(hexToBytes(V.signing_key.seed_hex));
        expect(bytesToHex(new Uint8Array(nodeSign(null, msg, priv)))).toBe(ev.signature);
        expect(bytesToHex(signerFromKeyObject(priv).sign(msg))).toBe(ev.signature);

        // And the check is not vacuous: one flipped bit in the message or the signature fails both verifiers.
        const badMsg = msg.slice();
        badMsg[badMsg.length - 2]! ^= 1;
        expect(await verifyEd25519(pub, sig, badMsg)).toBe(false);
        expect(verifyEd25519Noble(pub, sig, badMsg)).toBe(false);
        const badSig = sig.slice();
        badSig[0]! ^= 1;
        expect(await verifyEd25519(pub, badSig, msg)).toBe(false);
        expect(verifyEd25519Noble(pub, badSig, msg)).toBe(false);
      });
    });
  }

  it('a signature for one event does not verify for another (seq_no and hashes are bound)', async () => {
    const pub = hexToBytes(V.signing_key.public_key_hex);
    const [a, b] = [V.events[0]!, V.events[1]!];
    expect(await verifyEd25519(pub, hexToBytes(a.signature), hexToBytes(b.receipt_message_hex))).toBe(false);
    expect(verifyEd25519Noble(pub, hexToBytes(a.signature), hexToBytes(b.receipt_message_hex))).toBe(false);
  });
});
