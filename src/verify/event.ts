// One event or receipt: reading it, recomputing its payload commitment and event hash (docs/protocol.md §3),
// and checking receipt signatures (§4) in parallel batches.
import { bytesToHex, hexToBytes } from '../protocol/bytes.js';
import { verifyEd25519 } from '../protocol/ed25519.js';
import { eventHash, payloadCommitment } from '../protocol/event.js';
import { CanonicalizationError } from '../protocol/jcs.js';
import { RECEIPT_ALG, RECEIPT_PROTOCOL, receiptMessage } from '../protocol/receipt.js';
import { ptr, type CheckScope } from './report.js';
import { asObj, Fields, isSigHex, show } from './shape.js';
import { windowProblem, type TrustSet } from './trust.js';

const HEX_VALUES: Int8Array = (() => {
  const t = new Int8Array(128).fill(-1);
  for (let i = 0; i < 16; i++) t['0123456789abcdef'.charCodeAt(i)] = i;
  return t;
})();

/**
 * hexToBytes for strings the shape checks already accepted as lowercase hex (hex32, isSigHex): the same bytes,
 * without re-validating and slicing (a million-event pack decodes four of these per event). Anything else goes
 * through the strict decoder.
 */
export function hexOf(hex: string): Uint8Array {
  if (typeof hex !== 'string' || hex.length % 2 !== 0) return hexToBytes(hex);
  const n = hex.length >>> 1;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const hi = HEX_VALUES[hex.charCodeAt(2 * i)] ?? -1;
    const lo = HEX_VALUES[hex.charCodeAt(2 * i + 1)] ?? -1;
    if (hi < 0 || lo < 0) return hexToBytes(hex);
    out[i] = (hi << 4) | lo;
  }
  return out;
}

/**
 * Decodes lowercase hex into `out` at `offset` (hex.length / 2 bytes) and returns that view: hexOf without a
 * fresh array, for hashes decoded once per event. Throws, as hexToBytes does, on anything but lowercase hex.
 */
export function hexInto(hex: string, out: Uint8Array, offset: number): Uint8Array {
  const n = hex.length >>> 1;
  if (hex.length !== 2 * n || offset + n > out.length) throw new TypeError('not lowercase hex');
  for (let i = 0; i < n; i++) {
    const hi = HEX_VALUES[hex.charCodeAt(2 * i)] ?? -1;
    const lo = HEX_VALUES[hex.charCodeAt(2 * i + 1)] ?? -1;
    if (hi < 0 || lo < 0) throw new TypeError('not lowercase hex');
    out[offset + i] = (hi << 4) | lo;
  }
  return out.subarray(offset, offset + n);
}

/** The event fields that go into the entry (and so into event_hash). */
export interface EntryPart {
  source_ref: string;
  event_type: string;
  occurred_at: string | null;
  payload_commitment: string;
}

/** A well-formed receipt, with its event fields when they were given. */
export interface EventRecord {
  path: string;
  stream_id: string;
  seq_no: number;
  event_hash: string;
  previous_event_hash: string;
  stream_head_hash: string;
  received_at: string;
  kid: string;
  signature: string;
  /** null when only the receipt was given (no source_ref/event_type/…). */
  entry: EntryPart | null;
  /** The payload with its salt, when the salt is not null. */
  payload: { value: unknown; salt: string } | null;
  /** payload and salt both null: erased (the commitment still binds the event). */
  erased: boolean;
}

/**
 * How much of an event must be present. `receipt`: the receipt members, event fields optional (all or
 * none). `event`: everything GET /v2/streams/{id}/events returns. `bundle`: the same, stream_event_id too.
 */
export type EventMode = 'receipt' | 'event' | 'bundle';

const EVENT_FIELD_NAMES = ['source_ref', 'event_type', 'occurred_at', 'payload_commitment', 'payload', 'salt'] as const;

/** Reads one receipt/event; reports MALFORMED to `c` and returns null when it cannot be used. */
export function readEvent(v: unknown, path: string, c: CheckScope, mode: EventMode): EventRecord | null {
  const o = asObj(v, path, c, mode === 'receipt' ? 'a receipt object' : 'an event object');
  if (!o) return null;
  const f = new Fields(o, path, c);
  const before = c.failures;
  f.str('stream_event_id', { optional: mode !== 'bundle' });
  const stream_id = f.str('stream_id', { nonEmpty: true });
  const seq_no = f.int('seq_no', 1);
  const event_hash = f.hex32('event_hash');
  const previous_event_hash = f.hex32('previous_event_hash');
  const stream_head_hash = f.hex32('stream_head_hash');
  const received_at = f.str('received_at');

  let kid: string | undefined;
  let signature: string | undefined;
  const r = f.obj('receipt');
  if (r) {
    const rf = new Fields(r, ptr(path, 'receipt'), c);
    rf.literal('protocol', RECEIPT_PROTOCOL);
    rf.literal('alg', RECEIPT_ALG);
    kid = rf.str('kid', { nonEmpty: true });
    if (!rf.has('signature')) c.fail('MALFORMED', rf.at('signature'), 'missing member "signature" (128 lowercase hex digits)');
    else if (!isSigHex(r.signature)) c.fail('MALFORMED', rf.at('signature'), `"signature" must be 128 lowercase hex digits (64 bytes), got ${show(r.signature)}`);
    else signature = r.signature;
  }

  let entry: EntryPart | null = null;
  let payload: EventRecord['payload'] = null;
  let erased = false;
  const wantEvent = mode !== 'receipt' || EVENT_FIELD_NAMES.some((k) => f.has(k));
  if (wantEvent) {
    const source_ref = f.str('source_ref');
    const event_type = f.str('event_type');
    const occ = f.strOrNull('occurred_at');
    const payload_commitment = f.hex32('payload_commitment');
    if (source_ref !== undefined && event_type !== undefined && occ.ok && payload_commitment !== undefined) {
      entry = { source_ref, event_type, occurred_at: occ.value, payload_commitment };
    }
    // payload and salt: both members must be there for events; a receipt may omit both.
    const hasPayload = f.has('payload');
    const hasSalt = f.has('salt');
    if (mode !== 'receipt' || hasPayload || hasSalt) {
      if (!hasPayload) c.fail('MALFORMED', f.at('payload'), 'missing member "payload" (null when erased)');
      const salt = f.hex32OrNull('salt');
      if (hasPayload && salt.ok) {
        if (salt.value !== null) payload = { value: o.payload, salt: salt.value };
        else if (o.payload === null) erased = true;
        else c.fail('MALFORMED', f.at('salt'), 'salt is null but payload is not: the payload cannot be checked against its commitment');
      }
    }
  }
  if (c.failures !== before) return null;
  return {
    path,
    stream_id: stream_id!,
    seq_no: seq_no!,
    event_hash: event_hash!,
    previous_event_hash: previous_event_hash!,
    stream_head_hash: stream_head_hash!,
    received_at: received_at!,
    kid: kid!,
    signature: signature!,
    entry,
    payload,
    erased,
  };
}

/** Recomputes payload_commitment (when payload and salt are present) and event_hash (when the entry is). */
export function checkEventContent(rec: EventRecord, checks: { commitment: CheckScope; eventHash: CheckScope }): void {
  const e = rec.entry;
  if (!e) return;
  if (rec.payload) {
    try {
      const c = bytesToHex(payloadCommitment(hexOf(rec.payload.salt), rec.payload.value));
      if (c !== e.payload_commitment) commitmentMismatch(rec, c, checks.commitment);
    } catch (err) {
      const where = err instanceof CanonicalizationError ? ptr(rec.path, 'payload') + err.path : ptr(rec.path, 'payload');
      checks.commitment.fail('PAYLOAD_MISMATCH', where, `payload cannot be canonicalized (${(err as Error).message}), so it cannot reproduce the commitment`);
    }
  }
  try {
    const h = bytesToHex(
      eventHash({
        stream_id: rec.stream_id,
        seq_no: rec.seq_no,
        source_ref: e.source_ref,
        event_type: e.event_type,
        occurred_at: e.occurred_at,
        received_at: rec.received_at,
        payload_commitment: e.payload_commitment,
      }),
    );
    if (h !== rec.event_hash) eventHashMismatch(rec, h, checks.eventHash);
  } catch (err) {
    checks.eventHash.fail('EVENT_HASH_MISMATCH', rec.path, `the entry cannot be canonicalized (${(err as Error).message})`);
  }
}

/** PAYLOAD_MISMATCH: the commitment `actual` recomputed from payload and salt is not the event's. */
export function commitmentMismatch(rec: EventRecord, actual: string, c: CheckScope): void {
  c.fail('PAYLOAD_MISMATCH', ptr(rec.path, 'payload_commitment'), `payload and salt give commitment ${actual}, the event says ${rec.entry!.payload_commitment}`);
}

/** EVENT_HASH_MISMATCH: the entry hashes to `actual`, not to the event's event_hash. */
export function eventHashMismatch(rec: EventRecord, actual: string, c: CheckScope): void {
  c.fail('EVENT_HASH_MISMATCH', ptr(rec.path, 'event_hash'), `the entry hashes to ${actual}, the event says ${rec.event_hash}`);
}

/** Events verified concurrently per flush (Ed25519 via WebCrypto runs off the main thread in Node). */
export const SIGNATURE_BATCH = 256;

/** One Ed25519 verification: a 32-byte public key, a 64-byte signature and the signed message. */
export interface SignatureJob {
  publicKey: Uint8Array;
  signature: Uint8Array;
  message: Uint8Array;
}

/**
 * Verifies a batch of Ed25519 signatures: one boolean per job, in order, true only when the signature verifies
 * (never throws for a bad key or signature). Injected through VerifyOptions.signatureVerifier; the default,
 * `verifySignaturesInProcess`, is pure (WebCrypto, else @noble/ed25519). `src/cli/verify-workers.ts` has a
 * worker-thread pool for the CLI; any verifier must give the same booleans.
 */
export interface SignatureVerifier {
  verify(jobs: readonly SignatureJob[]): Promise<boolean[]>;
  /**
   * How many batches (of SIGNATURE_BATCH signatures: the batch size is fixed, as it decides where problems of
   * other kinds fall between SIGNATURE_INVALIDs in the report) may be in flight while the caller keeps
   * checking events. Default 1: each batch is awaited before the next event is read.
   */
  readonly concurrency?: number;
}

/** The default verifier: every signature of the batch through verifyEd25519, concurrently. */
export const verifySignaturesInProcess: SignatureVerifier = {
  verify: (jobs) => Promise.all(jobs.map((j) => verifyEd25519(j.publicKey, j.signature, j.message).catch(() => false))),
};

interface QueuedSignature {
  /** What a SIGNATURE_INVALID names (only these: the event itself is not kept while its batch is in flight). */
  rec: Pick<EventRecord, 'path' | 'kid'>;
  pub: Uint8Array;
  msg: Uint8Array;
  sig: Uint8Array;
}

type Failure = [code: 'UNKNOWN_KEY' | 'KEY_OUTSIDE_WINDOW' | 'SIGNATURE_INVALID', path: string, message: string];

/** A batch handed to the verifier; its problems are reported when it settles, strictly in order. */
interface InFlight {
  /** Problems found while the batch was being filled (reported before the batch's own). */
  before: Failure[];
  queue: QueuedSignature[];
  results: Promise<boolean[]>;
}

/**
 * Receipt signature checks. `add` looks the kid up at once (UNKNOWN_KEY) and queues the signature;
 * `flush` verifies the queue and reports failures in the order they were added.
 *
 * With a verifier allowing concurrency > 1, `dispatch` hands a full batch over without waiting for it, so the
 * caller keeps checking events while signatures are verified elsewhere (worker threads); problems are still
 * reported to the check in exactly the order a sequential add/flush would report them.
 */
export class SignatureBatch {
  private queue: QueuedSignature[] = [];
  /** Problems raised by `add` since the last dispatch, held back while earlier batches are in flight. */
  private held: Failure[] = [];
  private inFlight: InFlight[] = [];
  verified = 0;

  constructor(
    private readonly trust: TrustSet,
    private readonly c: CheckScope,
    private readonly verifier: SignatureVerifier = verifySignaturesInProcess,
  ) {}

  get pending(): number {
    return this.queue.length;
  }

  private report(f: Failure): void {
    if (this.inFlight.length > 0 || this.held.length > 0) this.held.push(f);
    else this.c.fail(f[0], f[1], f[2]);
  }

  /** The trusted key of the receipt's kid; reports UNKNOWN_KEY when there is none, KEY_OUTSIDE_WINDOW when received_at is outside its window. */
  private keyOf(rec: Pick<EventRecord, 'kid' | 'path' | 'received_at'>): Uint8Array | undefined {
    const pub = this.trust.byKid.get(rec.kid);
    if (!pub) {
      this.report(['UNKNOWN_KEY', ptr(rec.path, 'receipt', 'kid'), `kid ${show(rec.kid)} is not among the trusted keys`]);
      return undefined;
    }
    // Fail closed: a key's signature counts only inside its window (a retired key's holder could sign anything).
    const outside = this.trust.windows ? windowProblem(this.trust, rec.kid, rec.received_at) : null;
    if (outside) {
      this.report(['KEY_OUTSIDE_WINDOW', ptr(rec.path, 'received_at'), outside]);
      return undefined;
    }
    return pub;
  }

  /**
   * add() with the signed message already built, by a caller that has the receipt claims' JCS (src/verify/fused.ts):
   * `message` must be the bytes receiptMessage gives for `rec`.
   */
  addMessage(rec: EventRecord, message: Uint8Array): void {
    const pub = this.keyOf(rec);
    if (pub) this.queue.push({ rec: { path: rec.path, kid: rec.kid }, pub, msg: message, sig: hexOf(rec.signature) });
  }

  add(rec: EventRecord): void {
    const pub = this.keyOf(rec);
    if (!pub) return;
    let msg: Uint8Array;
    try {
      msg = receiptMessage(
        {
          kid: rec.kid,
          stream_id: rec.stream_id,
          seq_no: rec.seq_no,
          event_hash: rec.event_hash,
          stream_head_hash: rec.stream_head_hash,
          received_at: rec.received_at,
        },
        RECEIPT_PROTOCOL,
      );
    } catch (err) {
      this.report(['SIGNATURE_INVALID', ptr(rec.path, 'receipt', 'signature'), `the signed message cannot be built (${(err as Error).message})`]);
      return;
    }
    this.queue.push({ rec: { path: rec.path, kid: rec.kid }, pub, msg, sig: hexOf(rec.signature) });
  }

  /**
   * Hands the queued signatures to the verifier. Returns a promise only when the caller must wait (more
   * batches in flight than the verifier's concurrency); awaiting it settles the oldest batch.
   */
  dispatch(): Promise<void> | undefined {
    const q = this.queue;
    if (q.length === 0) return undefined;
    this.queue = [];
    let results: Promise<boolean[]>;
    try {
      results = this.verifier.verify(q.map((j) => ({ publicKey: j.pub, signature: j.sig, message: j.msg }))).catch(() => q.map(() => false));
    } catch {
      results = Promise.resolve(q.map(() => false));
    }
    this.inFlight.push({ before: this.held, queue: q, results });
    this.held = [];
    const limit = Math.max(1, this.verifier.concurrency ?? 1);
    return this.inFlight.length >= limit ? this.settleOldest() : undefined;
  }

  private async settleOldest(): Promise<void> {
    const b = this.inFlight[0]!;
    const results = await b.results;
    this.inFlight.shift();
    for (const f of b.before) this.c.fail(f[0], f[1], f[2]);
    for (let i = 0; i < b.queue.length; i++) {
      if (results[i] === true) {
        this.verified++;
      } else {
        const rec = b.queue[i]!.rec;
        this.c.fail('SIGNATURE_INVALID', ptr(rec.path, 'receipt', 'signature'), `receipt signature does not verify with trusted key ${rec.kid}`);
      }
    }
    if (this.inFlight.length === 0) this.releaseHeld();
  }

  private releaseHeld(): void {
    for (const f of this.held) this.c.fail(f[0], f[1], f[2]);
    this.held = [];
  }

  /** Verifies everything queued or in flight and reports, in order, every problem still held. */
  async flush(): Promise<void> {
    const wait = this.dispatch();
    if (wait) await wait;
    while (this.inFlight.length > 0) await this.settleOldest();
    this.releaseHeld();
  }
}
