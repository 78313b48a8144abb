// The canonical texts of one event, built once from its members: the fast path of EventRunChecker for events
// that are plain JSON data (a pack file read by the CLI, JSON text given to verifyJson).
//
// For every event the verifier needs four RFC 8785 (JCS) texts: the payload's (payload commitment), the entry's
// (event hash, src/protocol/event.ts entryBytes), the receipt claims' (signed message, src/protocol/receipt.ts
// receiptMessage) and, in a bundle, the whole event's (the events section digest). They share most of their
// members, so each member is quoted once and the texts are assembled from the pieces — the payload's JCS inside
// the event's too — instead of four generic canonicalizations that each sort keys, quote and encode anew.
//
// The texts are the exact strings canonicalize() gives for the same values (tested on random events in
// test/verify-native-fused.test.ts, and checked at load: FUSED_OK). Whenever an event is anything but the
// expected shape — a string JCS refuses, an uncanonicalizable payload, an extra or missing member, an object
// that is not plain — eventTexts returns null and the event takes the generic path, which reports exactly as it
// always did. Values must be plain data (data properties only, as JSON.parse builds them): the members are read
// once, from the EventRecord, not again through canonicalize() as the generic path does.
import { bytesToHex } from '../protocol/bytes.js';
import { entryBytes, ENTRY_FORMAT, eventHash, nextHead, payloadCommitment } from '../protocol/event.js';
import { DOMAIN, sha256Hex } from '../protocol/hash.js';
import { canonicalize } from '../protocol/jcs.js';
import { RECEIPT_ALG, RECEIPT_PROTOCOL, receiptMessage } from '../protocol/receipt.js';
import type { EventRecord } from './event.js';
import type { Obj } from './shape.js';

export interface EventTexts {
  /** JCS(payload) when payload and salt are given (rec.payload), else null. */
  payload: string | null;
  /** JCS of the entry: event_hash = SHA-256(0x00 ‖ utf8(entry)). */
  entry: string;
  /** JCS of the receipt claims: the signed message is tag("receipt") ‖ utf8(receipt). */
  receipt: string;
  /** JCS of the whole event object (when asked for and the object is exactly the pack's event shape), else null. */
  event: string | null;
}

/** JCS of a string: JSON.stringify's escaping, which is RFC 8785's; null when JCS refuses it (lone surrogate). */
const jcsString = (s: string): string | null => (s.isWellFormed() ? JSON.stringify(s) : null);

const Q_ENTRY_FORMAT = JSON.stringify(ENTRY_FORMAT);
const Q_PROTOCOL = JSON.stringify(RECEIPT_PROTOCOL);
const Q_ALG = JSON.stringify(RECEIPT_ALG);

/** The members of an event in a pack (docs/bundle.md), and of its receipt. */
const EVENT_KEYS = new Set([
  'event_hash',
  'event_type',
  'occurred_at',
  'payload',
  'payload_commitment',
  'previous_event_hash',
  'receipt',
  'received_at',
  'salt',
  'seq_no',
  'source_ref',
  'stream_event_id',
  'stream_head_hash',
  'stream_id',
]);
const RECEIPT_KEYS = new Set(['alg', 'kid', 'protocol', 'signature']);

const isPlain = (o: object): boolean => {
  const p = Object.getPrototypeOf(o);
  return p === Object.prototype || p === null;
};

/** Exactly the members of `allowed`, all enumerable own string keys, of a plain object. */
function hasExactly(o: Obj, allowed: ReadonlySet<string>): boolean {
  if (!isPlain(o)) return false;
  const keys = Object.keys(o);
  if (keys.length !== allowed.size) return false;
  for (let i = 0; i < keys.length; i++) if (!allowed.has(keys[i]!)) return false;
  return true;
}

/**
 * The texts of an event readEvent accepted (`rec`, read from `raw`), or null when it must take the generic path.
 * `withEvent`: also the whole event's JCS (null in the result when the object is not exactly the pack's shape).
 */
export function eventTexts(raw: Obj, rec: EventRecord, withEvent: boolean): EventTexts | null {
  const e = rec.entry;
  if (!e) return null;
  const stream = jcsString(rec.stream_id);
  const received = jcsString(rec.received_at);
  const source = jcsString(e.source_ref);
  const type = jcsString(e.event_type);
  const occurred = e.occurred_at === null ? 'null' : jcsString(e.occurred_at);
  const kid = jcsString(rec.kid);
  if (stream === null || received === null || source === null || type === null || occurred === null || kid === null) return null;
  // readEvent accepted seq_no as a safe integer ≥ 1, so String() is its JCS (no -0, no exponent).
  const seq = String(rec.seq_no);
  let payload: string | null = null;
  if (rec.payload) {
    try {
      payload = canonicalize(rec.payload.value);
    } catch {
      return null; // the generic path reports it (PAYLOAD_MISMATCH, and MALFORMED for the digest)
    }
  }
  // event_hash, payload_commitment, stream_head_hash, previous_event_hash, salt and signature passed readEvent's
  // lowercase-hex checks: their JCS is the digits in quotes.
  const entry =
    `{"event_type":${type},"format":${Q_ENTRY_FORMAT},"occurred_at":${occurred},"payload_commitment":"${e.payload_commitment}",` +
    `"received_at":${received},"seq_no":${seq},"source_ref":${source},"stream_id":${stream}}`;
  const receipt =
    `{"event_hash":"${rec.event_hash}","kid":${kid},"protocol":${Q_PROTOCOL},"received_at":${received},"seq_no":${seq},` +
    `"stream_head_hash":"${rec.stream_head_hash}","stream_id":${stream}}`;
  let event: string | null = null;
  if (withEvent) event = eventText(raw, rec, { stream, received, source, type, occurred, kid, seq, payload });
  return { payload, entry, receipt, event };
}

interface Pieces {
  stream: string;
  received: string;
  source: string;
  type: string;
  occurred: string;
  kid: string;
  seq: string;
  payload: string | null;
}

/** JCS of the whole event when it has exactly the pack's members (readEvent checked their values), else null. */
function eventText(raw: Obj, rec: EventRecord, p: Pieces): string | null {
  if (!hasExactly(raw, EVENT_KEYS)) return null;
  const r = raw.receipt as Obj;
  if (!hasExactly(r, RECEIPT_KEYS)) return null;
  const sev = raw.stream_event_id;
  if (typeof sev !== 'string') return null;
  const qSev = jcsString(sev);
  if (qSev === null) return null;
  // payload/salt: readEvent made rec.payload {value, salt} when salt is hex, rec.erased when both are null.
  let payload: string;
  let salt: string;
  if (rec.payload) {
    payload = p.payload!;
    salt = `"${rec.payload.salt}"`;
  } else if (rec.erased) {
    payload = 'null';
    salt = 'null';
  } else {
    return null;
  }
  return (
    `{"event_hash":"${rec.event_hash}","event_type":${p.type},"occurred_at":${p.occurred},"payload":${payload},` +
    `"payload_commitment":"${rec.entry!.payload_commitment}","previous_event_hash":"${rec.previous_event_hash}",` +
    `"receipt":{"alg":${Q_ALG},"kid":${p.kid},"protocol":${Q_PROTOCOL},"signature":"${rec.signature}"},` +
    `"received_at":${p.received},"salt":${salt},"seq_no":${p.seq},"source_ref":${p.source},"stream_event_id":${qSev},` +
    `"stream_head_hash":"${rec.stream_head_hash}","stream_id":${p.stream}}`
  );
}

/** Lowercase hex event hash of an entry text: SHA-256(0x00 ‖ utf8(entry)), as eventHash() computes it. */
export const entryHashHex = (entry: string): string => sha256Hex(LEAF_PREFIX, entry);
const LEAF_PREFIX = new Uint8Array([0]);

/** Lowercase hex payload commitment: SHA-256(tag("payload") ‖ salt ‖ utf8(JCS(payload))), as payloadCommitment(). */
export const commitmentHex = (salt: Uint8Array, payloadJcs: string): string => sha256Hex(DOMAIN.payload, salt, payloadJcs);

/** Lowercase hex of nextHead(prev, eventHash): SHA-256(tag("head") ‖ prev ‖ eventHash). */
export const nextHeadHex = (prev: Uint8Array, eventHash: Uint8Array): string => sha256Hex(DOMAIN.head, prev, eventHash);

const encoder = new TextEncoder();

/**
 * Signed messages are cut from 64 KiB blocks instead of one allocation each (a few hundred bytes apiece, kept
 * until their batch is verified; a block is freed with the last message in it). Never written after cutting.
 */
const BLOCK = 1 << 16;
let block = new Uint8Array(BLOCK);
let blockAt = 0;

/** tag("receipt") ‖ utf8(receipt text): the signed message, as receiptMessage() builds it. */
export function receiptMessageOf(receiptText: string): Uint8Array {
  const tag = DOMAIN.receipt;
  const max = tag.length + 3 * receiptText.length; // UTF-8: at most 3 bytes per UTF-16 code unit
  if (max > BLOCK / 8) {
    const body = encoder.encode(receiptText);
    const out = new Uint8Array(tag.length + body.length);
    out.set(tag, 0);
    out.set(body, tag.length);
    return out;
  }
  if (blockAt + max > BLOCK) {
    block = new Uint8Array(BLOCK);
    blockAt = 0;
  }
  const start = blockAt;
  block.set(tag, start);
  const { written } = encoder.encodeInto(receiptText, block.subarray(start + tag.length, start + max));
  blockAt = start + tag.length + written;
  return block.subarray(start, blockAt);
}

/**
 * Whether this fast path gives the bytes of src/protocol for a sample event (non-ASCII strings, null and
 * stated occurred_at, erased and present payloads). Checked once at load: were the entry or receipt format
 * ever changed in src/protocol without this file, the fast path switches itself off instead of diverging.
 */
function selfTest(): boolean {
  try {
    const hex = (c: string) => c.repeat(64);
    const base = {
      stream_event_id: 'sev_é"\\\u2028',
      stream_id: 'str_\u00e9/𝄞',
      seq_no: 9007199254740991,
      source_ref: 'r\n\u0001"',
      event_type: 'ai.décision',
      received_at: '2026-01-01T00:00:00.000Z',
      payload_commitment: hex('a'),
      event_hash: hex('b'),
      previous_event_hash: hex('c'),
      stream_head_hash: hex('d'),
      receipt: { protocol: RECEIPT_PROTOCOL, alg: RECEIPT_ALG, kid: 'ps-ed25519-ü', signature: 'e'.repeat(128) },
    };
    const variants: Obj[] = [
      { ...base, occurred_at: null, payload: { z: [1, -0, 1.5e-7, 'x'], a: { '\u00e9': null, b: true } }, salt: hex('f') },
      { ...base, occurred_at: '2026-01-01T00:00:00Z', payload: null, salt: null },
    ];
    for (const raw of variants) {
      const receipt = raw.receipt as Obj;
      const salt = raw.salt as string | null;
      const rec: EventRecord = {
        path: '',
        stream_id: raw.stream_id as string,
        seq_no: raw.seq_no as number,
        event_hash: raw.event_hash as string,
        previous_event_hash: raw.previous_event_hash as string,
        stream_head_hash: raw.stream_head_hash as string,
        received_at: raw.received_at as string,
        kid: receipt.kid as string,
        signature: receipt.signature as string,
        entry: {
          source_ref: raw.source_ref as string,
          event_type: raw.event_type as string,
          occurred_at: raw.occurred_at as string | null,
          payload_commitment: raw.payload_commitment as string,
        },
        payload: salt === null ? null : { value: raw.payload, salt },
        erased: salt === null,
      };
      const t = eventTexts(raw, rec, true);
      if (!t || t.event !== canonicalize(raw)) return false;
      if (t.payload !== (rec.payload ? canonicalize(rec.payload.value) : null)) return false;
      const claims = { ...rec, kid: rec.kid };
      const entry = { ...rec.entry!, stream_id: rec.stream_id, seq_no: rec.seq_no, received_at: rec.received_at };
      if (bytesToHex(receiptMessageOf(t.receipt)) !== bytesToHex(receiptMessage(claims))) return false;
      if (bytesToHex(encoder.encode(t.entry)) !== bytesToHex(entryBytes(entry))) return false;
      if (entryHashHex(t.entry) !== bytesToHex(eventHash(entry))) return false;
      if (rec.payload) {
        const s = new Uint8Array(32).fill(0xf5);
        if (commitmentHex(s, t.payload!) !== bytesToHex(payloadCommitment(s, rec.payload.value))) return false;
      }
    }
    const a = new Uint8Array(32).fill(7);
    const b = new Uint8Array(32).fill(9);
    return nextHeadHex(a, b) === bytesToHex(nextHead(a, b));
  } catch {
    return false;
  }
}

/** False when the self-test failed: every event then takes the generic path. */
export const FUSED_OK: boolean = selfTest();
