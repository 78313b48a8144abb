// A run of consecutive events of one stream: seq_no gap-free, previous_event_hash and the head chain continuous
// (docs/protocol.md §3.3), every commitment, event hash and receipt valid. One pass, O(1) work per event.
import { bytesToHex, hexToBytes } from '../protocol/bytes.js';
import { genesisHead, nextHead } from '../protocol/event.js';
import {
  checkEventContent,
  commitmentMismatch,
  eventHashMismatch,
  hexInto,
  readEvent,
  SIGNATURE_BATCH,
  SignatureBatch,
  type EventMode,
  type SignatureVerifier,
} from './event.js';
import { commitmentHex, entryHashHex, eventTexts, FUSED_OK, nextHeadHex, receiptMessageOf } from './fused.js';
import { ptr, type CheckScope, type ReportBuilder } from './report.js';
import { Fields, isObj, own, show, type Obj } from './shape.js';
import type { TrustSet } from './trust.js';

export const ZERO_HASH_HEX = '0'.repeat(64);

export interface RunChecks {
  shape: CheckScope;
  sequence: CheckScope;
  stream: CheckScope;
  commitment: CheckScope;
  eventHash: CheckScope;
  chain: CheckScope;
  signatures: CheckScope;
}

/** Opens the per-event checks under `prefix` (e.g. "events"), in report order. */
export function runChecks(r: ReportBuilder, prefix: string): RunChecks {
  return {
    shape: r.check(`${prefix}: well-formed`),
    sequence: r.check(`${prefix}: seq_no consecutive`),
    stream: r.check(`${prefix}: all of one stream`),
    commitment: r.check(`${prefix}: payload commitments`),
    eventHash: r.check(`${prefix}: event hashes`),
    chain: r.check(`${prefix}: hash chain`),
    signatures: r.check(`${prefix}: receipts signed by trusted keys`),
  };
}

export interface RunOptions {
  /** Pointer of the events array. */
  path: string;
  mode: EventMode;
  /** Every event must carry this stream_id. */
  streamId: string;
  /** Expected seq_no of the first event; undefined = whatever the first event says. */
  from: number | undefined;
  /** Expected seq_no of the last event (bundles). */
  to?: number | undefined;
  /** Where the chain starts; null = not anchored (the first event's links are taken as signed). */
  anchor: { headBefore: Uint8Array; eventHashBefore: string } | null;
  /**
   * Called with every raw element, in order (bundles feed the events digest from here). `canonical`, when given,
   * is the element's JCS text (the fast path built it: canonicalize(raw) would give the same string).
   */
  onEach?: (raw: unknown, i: number, canonical?: string) => void;
  /**
   * The events are plain JSON data (as JSON.parse builds them: data properties only, no getters or proxies):
   * events of the usual shape may then take the fast path (src/verify/fused.ts). Same report either way.
   */
  plainJson?: boolean | undefined;
  /** Collect the events' hashes, in order, for a range proof. */
  collectLeaves?: boolean;
  /** Receipt signature verification (default: in process, verifySignaturesInProcess). */
  signatureVerifier?: SignatureVerifier | undefined;
}

export interface RunResult {
  /** Event hashes in array order; null when not collected or some event was unusable. */
  leaves: Uint8Array[] | null;
  erased: number;
  withoutPayload: number;
}

/** Checks a run of events (never throws on their content). */
export async function checkEventRun(events: readonly unknown[], trust: TrustSet, c: RunChecks, o: RunOptions): Promise<RunResult> {
  const run = new EventRunChecker(trust, c, o, events.length);
  for (const raw of events) {
    const wait = run.add(raw);
    if (wait) await wait;
  }
  return run.finish();
}

/**
 * The same checks fed one event at a time, for runs that never exist as one array (a million-event audit pack
 * read line by line: src/cli/verify-stream.ts). `add` every raw event in order — awaiting the promise it
 * returns, when it returns one (signature back-pressure) — then `finish` once. checkEventRun is this class
 * over an array, so both give the same report.
 */
export class EventRunChecker {
  private n = 0;
  private leafBuf: Uint8Array | null;
  private leavesOk: boolean;
  private readonly sigs: SignatureBatch;
  private expected: number | undefined;
  private prevHash: string | null;
  private prevHead: Uint8Array | null;
  private erased = 0;
  private withoutPayload = 0;
  /** Events may take the fast path (plain JSON, and the fast path passed its self-test). */
  private readonly fused: boolean;
  /** Scratch for decoded hex: a salt, an event hash (when leaves are not kept), the heads of two events. */
  private readonly salt = new Uint8Array(32);
  private readonly eh = new Uint8Array(32);
  private readonly heads = [new Uint8Array(32), new Uint8Array(32)];

  /** `sizeHint`: how many events to expect (only sizes the leaf buffer; any count works). */
  constructor(
    trust: TrustSet,
    private readonly c: RunChecks,
    private readonly o: RunOptions,
    sizeHint = 1024,
  ) {
    this.leafBuf = o.collectLeaves ? new Uint8Array(32 * Math.max(1, Math.min(sizeHint, 1 << 20))) : null;
    this.leavesOk = !!this.leafBuf;
    this.sigs = new SignatureBatch(trust, c.signatures, o.signatureVerifier);
    this.expected = o.from;
    this.prevHash = o.anchor ? o.anchor.eventHashBefore : null;
    this.prevHead = o.anchor ? o.anchor.headBefore : null;
    this.fused = o.plainJson === true && FUSED_OK;
  }

  /** Events added so far. */
  get count(): number {
    return this.n;
  }

  /** Checks the next event; returns a promise to await before the next `add` when signatures are backing up. */
  add(raw: unknown): Promise<void> | undefined {
    const { c, o } = this;
    const i = this.n++;
    const path = ptr(o.path, i);
    const rec = readEvent(raw, path, c.shape, o.mode);
    // The fast path (one set of canonical texts per event) or, for anything unusual, the generic one.
    const texts = rec && this.fused ? eventTexts(raw as Obj, rec, o.onEach !== undefined) : null;
    if (o.onEach) {
      if (texts?.event != null) o.onEach(raw, i, texts.event);
      else o.onEach(raw, i);
    }
    if (!rec) {
      // Assume it held its slot, so one bad event does not cascade into sequence problems.
      if (this.expected !== undefined) this.expected++;
      this.prevHash = null;
      this.prevHead = null;
      this.leavesOk = false;
      return undefined;
    }
    if (this.expected !== undefined && rec.seq_no !== this.expected) {
      c.sequence.fail('SEQUENCE_BROKEN', ptr(path, 'seq_no'), `expected seq_no ${this.expected}, found ${rec.seq_no}`);
    }
    this.expected = rec.seq_no + 1;
    if (rec.stream_id !== o.streamId) {
      c.stream.fail('STREAM_MISMATCH', ptr(path, 'stream_id'), `event of stream ${show(rec.stream_id)} in a run of ${show(o.streamId)}`);
    }
    if (texts) {
      if (rec.payload) {
        const cm = commitmentHex(hexInto(rec.payload.salt, this.salt, 0), texts.payload!);
        if (cm !== rec.entry!.payload_commitment) commitmentMismatch(rec, cm, c.commitment);
      }
      const h = entryHashHex(texts.entry);
      if (h !== rec.event_hash) eventHashMismatch(rec, h, c.eventHash);
    } else {
      checkEventContent(rec, c);
    }
    if (rec.erased) this.erased++;
    else if (!rec.payload) this.withoutPayload++;

    // The event hash's bytes: straight into the leaf buffer when leaves are collected.
    let eh: Uint8Array;
    if (this.leafBuf && this.leavesOk) {
      if ((i + 1) * 32 > this.leafBuf.length) {
        const grown = new Uint8Array(this.leafBuf.length * 2);
        grown.set(this.leafBuf);
        this.leafBuf = grown;
      }
      eh = hexInto(rec.event_hash, this.leafBuf, i * 32);
    } else {
      eh = hexInto(rec.event_hash, this.eh, 0);
    }
    if (this.prevHash !== null && rec.previous_event_hash !== this.prevHash) {
      c.chain.fail(
        'CHAIN_BROKEN',
        ptr(path, 'previous_event_hash'),
        `previous_event_hash is ${rec.previous_event_hash}, but the event before has event_hash ${this.prevHash}`,
      );
    }
    if (this.prevHead !== null) {
      const h = texts ? nextHeadHex(this.prevHead, eh) : bytesToHex(nextHead(this.prevHead, eh));
      if (h !== rec.stream_head_hash) {
        c.chain.fail('CHAIN_BROKEN', ptr(path, 'stream_head_hash'), `stream_head_hash should be ${h} (head before ‖ event_hash), found ${rec.stream_head_hash}`);
      }
    }
    this.prevHash = rec.event_hash;
    // Two head buffers in turn: the one just read from is the next event's "head before".
    const head = this.heads[i & 1]!;
    this.prevHead = hexInto(rec.stream_head_hash, head, 0);

    if (texts) this.sigs.addMessage(rec, receiptMessageOf(texts.receipt));
    else this.sigs.add(rec);
    return this.sigs.pending >= SIGNATURE_BATCH ? this.sigs.dispatch() : undefined;
  }

  /** Verifies what is still queued and closes the run. */
  async finish(): Promise<RunResult> {
    const { c, o, n } = this;
    await this.sigs.flush();
    if (o.to !== undefined && o.from !== undefined) {
      const want = o.to - o.from + 1;
      if (n !== want) {
        c.sequence.fail('SEQUENCE_BROKEN', o.path, `${n} events for the range ${o.from}..${o.to}, which has ${want}`);
      }
    }
    let leaves: Uint8Array[] | null = null;
    const buf = this.leafBuf;
    if (buf && this.leavesOk) {
      leaves = new Array<Uint8Array>(n);
      for (let i = 0; i < n; i++) leaves[i] = buf.subarray(i * 32, i * 32 + 32);
    }
    this.leafBuf = null;
    return { leaves, erased: this.erased, withoutPayload: this.withoutPayload };
  }
}

/** Reads a `chain` object {head_before, event_hash_before}; reports MALFORMED to `c`. */
export function readChain(v: unknown, path: string, c: CheckScope): { headBefore: Uint8Array; eventHashBefore: string } | null {
  if (!isObj(v)) {
    c.fail('MALFORMED', path, 'chain must be an object {head_before, event_hash_before}');
    return null;
  }
  const f = new Fields(v, path, c);
  const head = f.hex32('head_before');
  const prev = f.hex32('event_hash_before');
  if (head === undefined || prev === undefined) return null;
  return { headBefore: hexToBytes(head), eventHashBefore: prev };
}

/** At seq_no 1 the chain starts at the genesis head and 64 zeros; anything else is a broken chain. */
export function checkGenesisAnchor(
  anchor: { headBefore: Uint8Array; eventHashBefore: string },
  streamId: string,
  path: string,
  c: CheckScope,
): void {
  const g = bytesToHex(genesisHead(streamId));
  if (bytesToHex(anchor.headBefore) !== g) {
    c.fail('CHAIN_BROKEN', ptr(path, 'head_before'), `the range starts at seq_no 1, so head_before must be the genesis head ${g}`);
  }
  if (anchor.eventHashBefore !== ZERO_HASH_HEX) {
    c.fail('CHAIN_BROKEN', ptr(path, 'event_hash_before'), 'the range starts at seq_no 1, so event_hash_before must be 64 zeros');
  }
}

/** Adds the informational checks about what could not be checked against content. */
export function noteUnchecked(r: ReportBuilder, prefix: string, res: RunResult): void {
  if (res.erased > 0) r.note(`${prefix}: ${res.erased} erased payload(s): bound by their commitments, content not checked`, 'the payloads were erased');
  if (res.withoutPayload > 0) r.note(`${prefix}: ${res.withoutPayload} event(s) without payload: content not checked`, 'no payload was given');
}

/**
 * Kind `stream`: `{stream_id, events:[…], chain?:{head_before, event_hash_before}, from_seq_no?}` with events
 * as GET /v2/streams/{id}/events returns them.
 */
export async function verifyStreamKind(
  object: unknown,
  trust: TrustSet,
  r: ReportBuilder,
  signatureVerifier?: SignatureVerifier,
  plainJson = false,
): Promise<void> {
  const top = r.check('stream: well-formed');
  if (!isObj(object)) {
    top.fail('MALFORMED', '', 'a stream object must be {stream_id, events, chain?, from_seq_no?}');
    return;
  }
  const f = new Fields(object, '', top);
  const streamId = f.str('stream_id', { nonEmpty: true });
  const events = f.arr('events');
  const from = f.int('from_seq_no', 1, { optional: true });
  const chainRaw = own(object, 'chain');
  const chainCheck = r.check('chain: start of the range');
  let anchor: { headBefore: Uint8Array; eventHashBefore: string } | null = null;
  if (chainRaw !== undefined && chainRaw !== null) anchor = readChain(chainRaw, '/chain', top);
  if (streamId === undefined || events === undefined || top.failures > 0) {
    chainCheck.cannotRun();
    return;
  }
  if (events.length === 0) {
    top.fail('MALFORMED', '/events', 'no events to verify');
    chainCheck.cannotRun();
    return;
  }
  // Where the run starts: from_seq_no, else the first event's seq_no when a chain is given, else 1.
  let start = from;
  if (start === undefined) {
    const first = events[0];
    const s = isObj(first) ? own(first, 'seq_no') : undefined;
    start = anchor && typeof s === 'number' && Number.isSafeInteger(s) && s >= 1 ? s : 1;
  }
  if (anchor) {
    if (start === 1) checkGenesisAnchor(anchor, streamId, '/chain', chainCheck);
  } else if (start === 1) {
    anchor = { headBefore: genesisHead(streamId), eventHashBefore: ZERO_HASH_HEX };
  } else {
    r.note('chain: start not anchored (from_seq_no > 1 and no chain given): the first event is taken as signed', 'nothing links the first event to the ones before it');
  }
  const checks = runChecks(r, 'events');
  const res = await checkEventRun(events, trust, checks, {
    path: '/events',
    mode: 'event',
    streamId,
    from: start,
    anchor,
    signatureVerifier,
    plainJson,
  });
  noteUnchecked(r, 'events', res);
}
