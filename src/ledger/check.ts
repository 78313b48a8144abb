// `proofstream check`: reads what the database holds and recomputes it from the events up, so a row changed behind
// the ledger's back (an edited payload, Merkle node, tile, checkpoint, a broken chain link) is named before anyone is
// served it or an audit pack is built on it. Two forms:
//  - deep: every stream, every event (hashes via src/ledger/integrity.ts, links, head hashes), every Merkle node and
//    stored tile recomputed from the leaves, every checkpoint's root at its size and its signature, the windows, the
//    stream row's head and frontier, the idempotency records' events, and every payload erasure against its erasure event. Stream by stream, page by page: memory is
//    one page of events plus one window's leaf hashes, whatever the size of the database;
//  - light (also run at server start): per stream the head and frontier against the stored events and nodes, the
//    latest N events, and the latest checkpoint (root recomputed from stored nodes, signature).
// Synchronous (better-sqlite3 is): a check sees one state of a database nobody else writes to, or, online, runs
// between the server's transactions on its own connection.
import { parseCheckpoint } from '../protocol/checkpoint.js';
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { ERASURE_EVENT_TYPE, ERASURE_FORMAT, type ErasureRecord } from '../protocol/erasure.js';
import { genesisHead, nextHead } from '../protocol/event.js';
import { frontierAppend, frontierFromSource, rootAt, rootFromFrontier, rootFromLeaves, type NodeSource } from '../protocol/merkle.js';
import { parseNote, parseVerifierKey } from '../protocol/note.js';
import { TILE_BYTES, TileBuilder } from '../protocol/tiles.js';
import { nodeHash } from '../protocol/merkle.js';
import type { Store } from '../store/index.js';
import { parseReceiptsRef } from './replay.js';
import type { CheckStreamRow } from '../store/check.js';
import type { CheckpointRow } from '../store/checkpoints.js';
import type { EventRow } from '../store/events.js';
import { eventRowProblem, linkProblem } from './integrity.js';


/** One thing wrong, named by its table and row (and stream/seq_no where it has one). */
export interface CheckProblem {
  table: string;
  /** the row's key: an id, or `<stream>/<level>/<idx>` for merkle_nodes and merkle_tiles */
  row: string;
  stream_id?: string;
  seq_no?: number;
  problem: string;
}

export interface CheckReport {
  ok: boolean;
  deep: boolean;
  streams: number;
  events: number;
  checkpoints: number;
  /** problems found (at most MAX_PROBLEMS are kept; `problems_total` counts them all) */
  problems: CheckProblem[];
  problems_total: number;
  ms: number;
}

export interface CheckOptions {
  deep: boolean;
  /** light form: how many of each stream's latest events are checked (default 64) */
  latestEvents?: number;
}

/** Events read per page by the deep check. */
const PAGE = 1000;
/** Problems kept in a report: a badly damaged database must not make the report itself unbounded. */
export const MAX_PROBLEMS = 1000;
export const DEFAULT_START_CHECK_EVENTS = 64;

const ZERO64 = '0'.repeat(64);
const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
const bytes = (h: string) => new Uint8Array(Buffer.from(h, 'hex'));

/**
 * Ed25519 verification with node:crypto, synchronously (the check runs inside Ledger.open, which is synchronous), on
 * key objects made once per ledger key (a start check verifies one checkpoint per stream).
 */
const keyObjects = new Map<string, KeyObject>();
function ed25519Verify(publicKey: Uint8Array, signature: Uint8Array, message: Uint8Array): boolean {
  const x = Buffer.from(publicKey).toString('base64url');
  let k = keyObjects.get(x);
  if (!k) keyObjects.set(x, (k = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x }, format: 'jwk' })));
  return signature.length === 64 && verify(null, message, k, signature);
}

class Problems {
  readonly list: CheckProblem[] = [];
  total = 0;
  add(p: CheckProblem): void {
    this.total++;
    if (this.list.length < MAX_PROBLEMS) this.list.push(p);
  }
}

/** Checks the database behind `store`; never throws for what it finds (only for an unreadable database). */
export function checkLedger(store: Store, opts: CheckOptions): CheckReport {
  // One snapshot for the whole check: it compares tables (a stream's row with its checkpoints, records with events),
  // and a server sealing meanwhile would otherwise show as a mismatch. Writers are not blocked (on SQLite the WAL
  // only grows until the check ends).
  return store.readSnapshot(() => checkIn(store, opts));
}

function checkIn(store: Store, opts: CheckOptions): CheckReport {
  const t0 = performance.now();
  const problems = new Problems();
  const ledgerKeys = new Set(store.check.ledgerKeys().map((k) => k.publicKey));
  let streams = 0;
  let events = 0;
  let checkpoints = 0;
  for (let after = ''; ; ) {
    const page = store.check.streams(after, 100);
    if (page.length === 0) break;
    for (const s of page) {
      streams++;
      const r = opts.deep ? deepStream(store, s, ledgerKeys, problems) : lightStream(store, s, ledgerKeys, problems, opts.latestEvents ?? DEFAULT_START_CHECK_EVENTS);
      events += r.events;
      checkpoints += r.checkpoints;
    }
    after = page[page.length - 1]!.id;
  }
  if (opts.deep) {
    checkIdempotency(store, problems);
    checkErasures(store, problems);
  }
  return { ok: problems.total === 0, deep: opts.deep, streams, events, checkpoints, problems: problems.list, problems_total: problems.total, ms: Math.round(performance.now() - t0) };
}

const eventProblem = (row: EventRow, problem: string): CheckProblem => ({ table: 'events', row: row.id, stream_id: row.streamId, seq_no: row.seqNo, problem });

/** A checkpoint's note against its row: the signed body says this size and root, signed by a key of this ledger. */
function checkpointSignatureProblem(cp: CheckpointRow, ledgerKeys: Set<string>): string | undefined {
  try {
    const key = parseVerifierKey(cp.signerVkey);
    if (!ledgerKeys.has(hex(key.publicKey))) return 'its signer_vkey is not one of the ledger keys in ledger_keys';
    const note = parseNote(cp.note);
    const body = parseCheckpoint(note.text);
    if (body.size !== cp.treeSize) return `its note says size ${body.size}, not its tree_size`;
    if (hex(body.rootHash) !== cp.rootHash) return 'its note says another root than its root_hash';
    const sig = note.signatures.find((x) => x.name === key.name && Buffer.compare(Buffer.from(x.keyId), Buffer.from(key.keyId)) === 0);
    if (!sig) return 'its note has no signature by its signer_vkey';
    if (!ed25519Verify(key.publicKey, sig.signature, Buffer.from(note.text, 'utf8'))) return 'its note signature does not verify';
    return undefined;
  } catch (e) {
    return `its note or signer_vkey is malformed (${(e as Error).message})`;
  }
}

/** The stored tree of one stream as a NodeSource: level 0 from events.event_hash, above from merkle_nodes. */
function storedNodes(store: Store, streamId: string): NodeSource {
  return {
    get(level, index) {
      if (level === 0) {
        const h = store.check.eventHashAt(streamId, index + 1);
        if (h === undefined) throw new Error(`event seq_no ${index + 1} is missing`);
        return bytes(h);
      }
      const b = store.check.node(streamId, level, index);
      if (!b) throw new Error(`merkle node ${level}/${index} is missing`);
      return new Uint8Array(b);
    },
  };
}

function lightStream(store: Store, s: CheckStreamRow, ledgerKeys: Set<string>, problems: Problems, n: number): { events: number; checkpoints: number } {
  const streamProblem = (problem: string) => problems.add({ table: 'streams', row: s.id, stream_id: s.id, problem });
  const rows = store.check.latestEvents(s.id, Math.max(1, n));
  let prev: EventRow | undefined;
  for (const row of rows) {
    const p = eventRowProblem(row) ?? linkProblem(row, prev);
    if (p) problems.add(eventProblem(row, p));
    if (prev && hex(nextHead(bytes(prev.streamHeadHash), bytes(row.eventHash))) !== row.streamHeadHash) {
      problems.add(eventProblem(row, 'its stream_head_hash is not the head after its predecessor and its event_hash'));
    }
    prev = row;
  }
  const last = rows[rows.length - 1];
  if ((last?.seqNo ?? 0) !== s.headSeqNo) streamProblem(`its head_seq_no is ${s.headSeqNo} but the last stored event is seq_no ${last?.seqNo ?? 0}`);
  else if (last) {
    if (last.streamHeadHash !== s.headHash) streamProblem(`its head_hash is not the stream_head_hash of seq_no ${last.seqNo}`);
    if (last.eventHash !== s.lastEventHash) streamProblem(`its last_event_hash is not the event_hash of seq_no ${last.seqNo}`);
  } else if (s.headHash !== hex(genesisHead(s.id)) || s.lastEventHash !== ZERO64) streamProblem('it has no events but its head is not the genesis head');
  const src = storedNodes(store, s.id);
  try {
    const frontier = Buffer.concat(frontierFromSource(src, s.headSeqNo));
    if (!frontier.equals(s.frontier)) streamProblem(`its frontier is not the stored tree's frontier at size ${s.headSeqNo}`);
  } catch (e) {
    streamProblem(`its frontier cannot be read from the stored tree: ${(e as Error).message}`);
  }
  const cp = store.check.latestCheckpoint(s.id);
  if ((cp?.id ?? null) !== s.lastCheckpointId) streamProblem('its last_checkpoint_id is not its latest checkpoint');
  if (cp) {
    try {
      if (hex(rootAt(src, cp.treeSize)) !== cp.rootHash) problems.add(cpProblem(cp, `its root_hash is not the stored tree's root at size ${cp.treeSize}`));
    } catch (e) {
      problems.add(cpProblem(cp, `its root cannot be recomputed: ${(e as Error).message}`));
    }
    const sp = checkpointSignatureProblem(cp, ledgerKeys);
    if (sp) problems.add(cpProblem(cp, sp));
  }
  return { events: rows.length, checkpoints: cp ? 1 : 0 };
}

const cpProblem = (cp: CheckpointRow, problem: string): CheckProblem => ({ table: 'checkpoints', row: cp.id, stream_id: cp.streamId, seq_no: cp.treeSize, problem });

/** Builds a stream's tiles from its leaves, as the sealer did, and compares each finished one with the stored one. */
class TileChecker {
  private readonly levels: { builder: TileBuilder; index: number }[] = [];
  complete = 0;
  constructor(
    private readonly store: Store,
    private readonly streamId: string,
    private readonly problems: Problems,
  ) {}

  push(leaf: Uint8Array): void {
    let h: Uint8Array | null = leaf;
    for (let t = 0; h; t++) {
      const lvl = (this.levels[t] ??= { builder: new TileBuilder(nodeHash), index: 0 });
      const done = lvl.builder.push(h);
      h = null;
      if (!done) break;
      this.complete++;
      const stored = this.store.check.tile(this.streamId, t, lvl.index);
      if (stored && (stored.length !== TILE_BYTES || !stored.equals(done.tile))) {
        this.problems.add({
          table: 'merkle_tiles',
          row: `${this.streamId}/${t}/${lvl.index}`,
          stream_id: this.streamId,
          problem: stored.length !== TILE_BYTES ? `it is ${stored.length} bytes, not ${TILE_BYTES}` : 'its hashes are not the tree recomputed from the events',
        });
      }
      lvl.index++;
      h = done.root;
    }
  }
}

function deepStream(store: Store, s: CheckStreamRow, ledgerKeys: Set<string>, problems: Problems): { events: number; checkpoints: number } {
  const id = s.id;
  const streamProblem = (problem: string) => problems.add({ table: 'streams', row: id, stream_id: id, problem });
  let frontier: Uint8Array[] = [];
  let size = 0;
  let head = genesisHead(id);
  let prev: EventRow | undefined;
  let nodes = 0;
  const tiles = new TileChecker(store, id, problems);

  // Checkpoints and windows are walked alongside the events, a page at a time.
  let cps: CheckpointRow[] = store.check.checkpoints(id, 0, PAGE);
  let cpAt = 0;
  let cpCount = 0;
  let lastCp: CheckpointRow | undefined;
  const nextCp = (): CheckpointRow | undefined => {
    if (cpAt >= cps.length && cps.length === PAGE) {
      cps = store.check.checkpoints(id, cps[cps.length - 1]!.treeSize, PAGE);
      cpAt = 0;
    }
    return cps[cpAt];
  };
  let wins = store.check.windows(id, 0, PAGE);
  let winAt = 0;
  let windowLeaves: Uint8Array[] = [];
  let sealedTo = 0;
  const nextWin = () => {
    if (winAt >= wins.length && wins.length === PAGE) {
      wins = store.check.windows(id, wins[wins.length - 1]!.fromSeqNo, PAGE);
      winAt = 0;
    }
    return wins[winAt];
  };
  const checkWindowStart = () => {
    const w = nextWin();
    if (w && w.fromSeqNo !== sealedTo + 1) {
      problems.add({ table: 'windows', row: w.id, stream_id: id, seq_no: w.fromSeqNo, problem: `it starts at seq_no ${w.fromSeqNo}, not ${sealedTo + 1} (windows must be contiguous)` });
      sealedTo = w.fromSeqNo - 1; // report the gap once, then go on from this window
    }
  };
  checkWindowStart();

  for (let afterSeq = 0; ; ) {
    const page = store.check.events(id, afterSeq, PAGE);
    if (page.length === 0) break;
    for (const row of page) {
      const p = eventRowProblem(row) ?? (row.seqNo !== size + 1 ? `it is seq_no ${row.seqNo} where seq_no ${size + 1} was due (a gap)` : linkProblem(row, prev));
      if (p) problems.add(eventProblem(row, p));
      const leaf = /^[0-9a-f]{64}$/.test(row.eventHash) ? bytes(row.eventHash) : new Uint8Array(32);
      head = nextHead(head, leaf);
      if (hex(head) !== row.streamHeadHash) {
        problems.add(eventProblem(row, 'its stream_head_hash is not the chain of heads recomputed from the events'));
        if (/^[0-9a-f]{64}$/.test(row.streamHeadHash)) head = bytes(row.streamHeadHash); // one report per bad row, not one per row after it
      }
      const fa = frontierAppend(frontier, size, leaf);
      for (const n of fa.completed) {
        nodes++;
        const stored = store.check.node(id, n.level, n.index);
        if (!stored || !stored.equals(n.hash)) {
          problems.add({ table: 'merkle_nodes', row: `${id}/${n.level}/${n.index}`, stream_id: id, problem: stored ? 'its hash is not the tree recomputed from the events' : 'it is missing' });
        }
      }
      frontier = fa.frontier;
      size = fa.size;
      tiles.push(leaf);
      windowLeaves.push(leaf);
      const w = nextWin();
      if (w && w.toSeqNo === size) {
        if (hex(rootFromLeaves(windowLeaves.slice(Math.max(0, windowLeaves.length - (w.toSeqNo - w.fromSeqNo + 1))))) !== w.windowRoot) {
          problems.add({ table: 'windows', row: w.id, stream_id: id, seq_no: w.toSeqNo, problem: 'its window_root is not the root of its events' });
        }
        const wcp = store.check.checkpointById(w.checkpointId);
        if (!wcp || wcp.treeSize !== w.toSeqNo) problems.add({ table: 'windows', row: w.id, stream_id: id, problem: `its checkpoint ${w.checkpointId} is ${wcp ? `of size ${wcp.treeSize}` : 'missing'}` });
        windowLeaves = [];
        sealedTo = w.toSeqNo;
        winAt++;
        checkWindowStart();
      } else if (!w) windowLeaves = []; // past the last window: nothing to hold
      for (let cp = nextCp(); cp && cp.treeSize <= size; cp = nextCp()) {
        cpAt++;
        cpCount++;
        lastCp = cp;
        if (cp.treeSize !== size) problems.add(cpProblem(cp, `its tree_size ${cp.treeSize} was passed over`));
        else if (hex(rootFromFrontier(frontier)) !== cp.rootHash) problems.add(cpProblem(cp, `its root_hash is not the root of the events at size ${cp.treeSize}`));
        const sp = checkpointSignatureProblem(cp, ledgerKeys);
        if (sp) problems.add(cpProblem(cp, sp));
      }
      prev = row;
    }
    afterSeq = page[page.length - 1]!.seqNo;
  }

  for (let cp = nextCp(); cp; cp = nextCp()) {
    cpAt++;
    cpCount++;
    lastCp = cp;
    problems.add(cpProblem(cp, `its tree_size ${cp.treeSize} is beyond the stream's ${size} events`));
  }
  for (let w = nextWin(); w; w = nextWin()) {
    winAt++;
    problems.add({ table: 'windows', row: w.id, stream_id: id, seq_no: w.fromSeqNo, problem: `it ends at seq_no ${w.toSeqNo}, beyond the stream's ${size} events` });
  }
  if (s.headSeqNo !== size) streamProblem(`its head_seq_no is ${s.headSeqNo} but it has ${size} events`);
  if (s.headHash !== hex(head)) streamProblem('its head_hash is not the head recomputed from the events');
  if (s.lastEventHash !== (prev?.eventHash ?? ZERO64)) streamProblem('its last_event_hash is not the event_hash of its last event');
  if (!Buffer.concat(frontier).equals(s.frontier)) streamProblem('its frontier is not the frontier recomputed from the events');
  if (s.sealedSeqNo !== sealedTo) streamProblem(`its sealed_seq_no is ${s.sealedSeqNo} but its windows end at ${sealedTo}`);
  if ((lastCp?.id ?? null) !== s.lastCheckpointId) streamProblem('its last_checkpoint_id is not its latest checkpoint');
  const storedNodeCount = store.check.nodeCount(id);
  if (storedNodeCount > nodes) streamProblem(`merkle_nodes holds ${storedNodeCount} nodes for it where its events make ${nodes}`);
  const storedTiles = store.check.tileCount(id);
  if (storedTiles > tiles.complete) streamProblem(`merkle_tiles holds ${storedTiles} tiles for it where its events complete ${tiles.complete}`);
  return { events: size, checkpoints: cpCount };
}

/** Every stream_event_id a stored idempotent answer names must be an event that exists. */
function checkIdempotency(store: Store, problems: Problems): void {
  const ids: string[] = [];
  const collect = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(collect);
    else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (k === 'stream_event_id' && typeof x === 'string') ids.push(x);
        else collect(x);
      }
    }
  };
  for (let after = { tenantId: '', key: '' }; ; ) {
    const page = store.check.idempotency(after, PAGE);
    if (page.length === 0) break;
    for (const r of page) {
      const row = `${r.tenantId}/${r.key}`;
      ids.length = 0;
      try {
        const ref = parseReceiptsRef(r.responseBody);
        if (ref) {
          // A reference (src/ledger/replay.ts): the replay is rebuilt from exactly these events.
          const n = store.events.entries(ref.streamId, ref.fromSeqNo, ref.toSeqNo).length;
          if (n !== ref.toSeqNo - ref.fromSeqNo + 1) {
            problems.add({ table: 'idempotency_records', row, problem: `it answers with events ${ref.fromSeqNo}..${ref.toSeqNo} of ${ref.streamId}, which are not all stored` });
          }
          continue;
        }
        collect(JSON.parse(r.responseBody));
      } catch (e) {
        problems.add({ table: 'idempotency_records', row, problem: e instanceof SyntaxError ? 'its response_body is not JSON' : 'its response_body holds a malformed receipts_ref' });
        continue;
      }
      for (const e of ids) if (!store.check.eventExists(e)) problems.add({ table: 'idempotency_records', row, problem: `it answers with event ${e}, which does not exist` });
    }
    const last = page[page.length - 1]!;
    after = { tenantId: last.tenantId, key: last.key };
  }
}

/**
 * Every payload erasure (docs/operations.md "Erasing a payload"): the erased event has no payload and no salt, and the
 * erasure event it names is a later event of the same stream whose erasure record (docs/protocol.md §3.4) names that
 * event, its hashes and the same reason. (An erased event itself is sound: eventRowProblem accepts payload and salt
 * both null, its commitment standing for them.)
 */
function checkErasures(store: Store, problems: Problems): void {
  for (let after = ''; ; ) {
    const page = store.check.erasures(after, PAGE);
    if (page.length === 0) break;
    for (const e of page) {
      const add = (problem: string) => problems.add({ table: 'event_erasures', row: e.eventId, stream_id: e.streamId, seq_no: e.seqNo, problem });
      const erased = store.check.eventById(e.eventId);
      if (!erased) add('the event it erased does not exist');
      else {
        if (erased.streamId !== e.streamId || erased.seqNo !== e.seqNo) add(`it names stream ${e.streamId} seq_no ${e.seqNo}, but the event is seq_no ${erased.seqNo} of ${erased.streamId}`);
        if (erased.payload !== null || erased.salt !== null) add('the event it erased still holds a payload or salt');
      }
      const rec = store.check.eventById(e.erasureEventId);
      if (!rec) {
        add(`its erasure event ${e.erasureEventId} does not exist`);
        continue;
      }
      if (rec.streamId !== e.streamId || rec.seqNo <= e.seqNo || rec.eventType !== ERASURE_EVENT_TYPE) {
        add(`its erasure event ${rec.id} is not a later ${ERASURE_EVENT_TYPE} event of the same stream`);
        continue;
      }
      const record = erasureRecordIn(rec.payload);
      if (
        !record ||
        record.format !== ERASURE_FORMAT ||
        record.event_id !== e.eventId ||
        record.seq_no !== e.seqNo ||
        record.reason !== e.reason ||
        record.erased_by_key !== e.erasedByKey ||
        (erased && (record.event_hash !== erased.eventHash || record.payload_commitment !== erased.payloadCommitment))
      ) {
        add(`the erasure record in its erasure event ${rec.id} does not match it and the erased event`);
      }
      if (rec.receivedAt !== e.erasedAt) add(`its erased_at is not the received_at of its erasure event ${rec.id}`);
    }
    after = page[page.length - 1]!.eventId;
  }
}

/** The erasure record in a stored payload (JCS text): the payload itself, or the `payload` of a v1 envelope. */
function erasureRecordIn(payload: string | null): Partial<ErasureRecord> | null {
  if (payload === null) return null;
  try {
    const v = JSON.parse(payload) as Record<string, unknown>;
    const inner = v && v.format === ERASURE_FORMAT ? v : (v?.payload as Record<string, unknown> | undefined);
    return inner && typeof inner === 'object' ? (inner as Partial<ErasureRecord>) : null;
  } catch {
    return null;
  }
}

/** The report as lines for a terminal or a log. */
export function describeCheck(r: CheckReport): string {
  const head = `${r.deep ? 'deep' : 'light'} check: ${r.streams} streams, ${r.events} events, ${r.checkpoints} checkpoints in ${r.ms} ms: ${
    r.ok ? 'clean' : `${r.problems_total} problem(s)`
  }`;
  const lines = r.problems.map(
    (p) => `  - ${p.table} ${p.row}${p.stream_id && !p.row.startsWith(p.stream_id) ? ` (stream ${p.stream_id}${p.seq_no !== undefined ? `, seq_no ${p.seq_no}` : ''})` : p.seq_no !== undefined ? ` (seq_no ${p.seq_no})` : ''}: ${p.problem}`,
  );
  if (r.problems_total > r.problems.length) lines.push(`  … and ${r.problems_total - r.problems.length} more`);
  return [head, ...lines].join('\n');
}
