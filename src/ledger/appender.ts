// Group commit. Appends arriving together wait for one transaction (one fsync under synchronous=FULL) and
// are answered only after it commits, so a receipt never names an event that a crash could lose.
import { createHash, hash } from 'node:crypto';
import { bytesToHex } from '../protocol/bytes.js';
import { ENTRY_FORMAT, genesisHead } from '../protocol/event.js';
import { DOMAIN } from '../protocol/hash.js';
import { canonicalize, findUnsafeNumber } from '../protocol/jcs.js';
import { RECEIPT_ALG, RECEIPT_PROTOCOL, type ReceiptView } from '../protocol/receipt.js';
import type { Store } from '../store/index.js';
import type { StreamHead } from '../store/streams.js';
import { ApiError } from './errors.js';
import { newTimeOrderedId, randomBytesPooled } from './ids.js';
import { receiptsRef, renderReceipts, type ReceiptsShape } from './replay.js';
import type { Signer } from './signer.js';
import type { SignPool } from './sign-pool.js';

export interface EventInput {
  source_ref: string;
  event_type: string;
  payload: unknown;
  occurred_at?: string | null;
}

export type { ReceiptView };

/** The idempotency record to write in the same transaction as the events. */
export interface IdempotencyWrite {
  tenantId: string;
  key: string;
  fingerprint: string;
  ttlMs: number;
}

/** What a caller other than the append routes may add to its job (payload erasure, src/ledger/erasure.ts). */
export interface AppendOptions {
  /** the answer's status, also kept in the Idempotency-Key record (default 201) */
  status?: number;
  /**
   * More writes in the job's own transaction (its savepoint when isolated), after its events are inserted and before
   * its Idempotency-Key record: a throw fails this job alone and rolls its events back. May run twice (once more
   * when the flush is retried job by job), so it must only write to the database.
   */
  inTransaction?: (receipts: readonly ReceiptView[]) => void;
}

export interface AppendResult {
  status: number;
  /** the JSON response text, byte-identical for the original answer and every replay */
  bodyText: string;
  receipts: ReceiptView[];
}

interface PreparedEvent {
  sourceRef: string;
  eventType: string;
  occurredAt: string | null;
  payloadJcs: string;
  salt: string;
  commitment: string;
  /** JSON.stringify of the client's strings, computed once (they appear in the entry text) */
  sourceRefJson: string;
  eventTypeJson: string;
  occurredAtJson: string;
}

interface Job {
  streamId: string;
  items: PreparedEvent[];
  idem: IdempotencyWrite | undefined;
  /** a function, or one of the append routes' shapes: then the Idempotency-Key record keeps a reference (replay.ts) */
  render: ((receipts: ReceiptView[]) => unknown) | ReceiptsShape;
  opts: AppendOptions | undefined;
  resolve: (r: AppendResult) => void;
  reject: (e: unknown) => void;
}

/** Told, after each commit, the new head of every stream it touched. */
/**
 * Told after each commit: the stream's new head and the event hashes (leaves) committed for it in that flush, in
 * seq order (they end at headSeqNo).
 */
export type CommitListener = (streamId: string, headSeqNo: number, leaves: readonly Buffer[]) => void;

/**
 * Work that shares a flush's transaction, and so its one fsync (the sealer: a separate sealing transaction would
 * block the event loop on a second fsync). `inTransaction` runs after the flush's jobs, must not throw (it keeps
 * its own failures in savepoints), and returns what to do once COMMIT returned; `rolledBack` is told instead when
 * the transaction it ran in did not commit.
 */
export interface CommitRider {
  inTransaction(): (() => void) | undefined;
  rolledBack(): void;
}

/** The leaves a flush added to one stream, one node per successful job, newest first (O(1) per job). */
interface AddedLeaves {
  hashes: Buffer[];
  prev: AddedLeaves | null;
}

function flattenAdded(a: AddedLeaves | null): Buffer[] {
  const parts: Buffer[][] = [];
  for (let n = a; n; n = n.prev) parts.push(n.hashes);
  return parts.reverse().flat();
}

const ZERO_HEX = '0'.repeat(64);
/** Bounds one transaction so a burst cannot hold the event loop for long. */
const MAX_EVENTS_PER_COMMIT = 4096;

export function frontierFromBuffer(b: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < b.length; i += 32) out.push(new Uint8Array(b.subarray(i, i + 32)));
  return out;
}

export function initialHead(streamId: string): StreamHead {
  return { seqNo: 0, headHash: bytesToHex(genesisHead(streamId)), lastEventHash: ZERO_HEX, frontier: Buffer.alloc(0) };
}

/** A stream's head while a flush works on it: bytes where the next step hashes them, hex where they are stored. */
interface Working {
  seqNo: number;
  head: Buffer;
  headHex: string;
  lastEventHash: string;
  frontier: Buffer[];
  /** leaves added to this stream by the jobs of this flush so far */
  added: AddedLeaves | null;
}

/** Which key signs receipts, asked inside each flush's transaction (src/ledger/keyring.ts). */
export interface ReceiptKeys {
  receiptSigner(): Signer;
  readonly activeValidFrom: string | null;
}

/** Thrown inside the unisolated transaction when a job fails, so the flush re-runs with one savepoint per job. */
const ISOLATE = Symbol('isolate');

export class Appender {
  private queue: Job[] = [];
  private scheduled = false;
  private listeners: CommitListener[] = [];
  private riders: CommitRider[] = [];
  readonly stats = { commits: 0, events: 0, isolatedRetries: 0 };
  /** Told after each group commit: its events and how long it took (metrics); null costs nothing. */
  commitObserver: ((events: number, seconds: number) => void) | null = null;
  /**
   * Told inside the flush's transaction (in the job's savepoint, when there is one) of the events each job inserted,
   * so what it writes (the webhook outbox) commits or rolls back with them; null costs nothing.
   */
  announce: ((streamId: string, eventIds: readonly string[]) => void) | null = null;
  private readonly protocolJson: string;
  /** The key this flush signs with, taken inside its transaction (a rotation by another process shows there). */
  private signing: { signer: Signer; kidJson: string; validFrom: string | null } | null = null;

  private readonly keys: ReceiptKeys;
  /** Spreads a large job's receipt signatures over threads (src/ledger/sign-pool.ts); null: all on this thread. */
  signPool: SignPool | null = null;

  /** `keys`: the ledger's Keyring; a bare Signer (tests, benches) signs every receipt with no window. */
  constructor(
    private readonly store: Store,
    keys: ReceiptKeys | Signer,
    private readonly commitDelayMs = 0,
  ) {
    this.keys = 'sign' in keys ? { receiptSigner: () => keys, activeValidFrom: null } : keys;
    this.protocolJson = JSON.stringify(RECEIPT_PROTOCOL);
  }

  onCommit(l: CommitListener): void {
    this.listeners.push(l);
  }

  ride(r: CommitRider): void {
    this.riders.push(r);
  }

  /** Jobs queued for the next flush (a rider asked now will run in it). */
  get queued(): number {
    return this.queue.length;
  }

  /**
   * Validates and prepares outside the transaction (JCS, salt, commitment do not depend on the position),
   * then queues. Throws ApiError synchronously for input that can never be appended.
   */
  append(
    streamId: string,
    inputs: readonly EventInput[],
    idem: IdempotencyWrite | undefined,
    render: ((receipts: ReceiptView[]) => unknown) | ReceiptsShape,
    opts?: AppendOptions,
  ): Promise<AppendResult> {
    const items = inputs.map((e, i) => prepare(e, inputs.length > 1 ? i : undefined));
    return new Promise((resolve, reject) => {
      this.queue.push({ streamId, items, idem, render, opts, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    const run = () => {
      this.scheduled = false;
      this.flush();
    };
    if (this.commitDelayMs > 0) setTimeout(run, this.commitDelayMs);
    else setImmediate(run);
  }

  /**
   * One transaction for everything queued (up to the bound). Jobs run without savepoints first; if any job fails,
   * that transaction is rolled back whole and the flush runs again with each job in its own savepoint, so one bad
   * job still fails alone. Receipts are handed out only after COMMIT returned.
   */
  flush(): void {
    let n = 0;
    let take = 0;
    while (take < this.queue.length && (take === 0 || n + this.queue[take]!.items.length <= MAX_EVENTS_PER_COMMIT)) {
      n += this.queue[take]!.items.length;
      take++;
    }
    const jobs = this.queue.splice(0, take);
    if (this.queue.length) this.schedule();
    if (!jobs.length) return;

    const started = this.commitObserver ? performance.now() : 0;
    let outcomes: Array<{ ok: true; r: AppendResult } | { ok: false; e: unknown }>;
    let heads: Map<string, Working>;
    let after: Array<(() => void) | undefined>;
    try {
      try {
        ({ outcomes, heads, after } = this.commit(jobs, false));
      } catch (e) {
        if (e !== ISOLATE) throw e;
        this.stats.isolatedRetries++;
        for (const r of this.riders) r.rolledBack();
        ({ outcomes, heads, after } = this.commit(jobs, true));
      }
    } catch (e) {
      // The commit itself failed: nothing is durable, so nobody gets a receipt.
      for (const r of this.riders) r.rolledBack();
      for (const j of jobs) j.reject(e);
      return;
    }
    this.stats.commits++;
    if (this.commitObserver) this.commitObserver(n, (performance.now() - started) / 1000);
    for (const a of after) a?.();
    jobs.forEach((job, i) => {
      const o = outcomes[i]!;
      if (o.ok) {
        this.stats.events += job.items.length;
        job.resolve(o.r);
      } else job.reject(o.e);
    });
    for (const [id, h] of heads) {
      const leaves = flattenAdded(h.added);
      for (const l of this.listeners) l(id, h.seqNo, leaves);
    }
  }

  private commit(jobs: Job[], isolate: boolean) {
    const outcomes: Array<{ ok: true; r: AppendResult } | { ok: false; e: unknown }> = [];
    const heads = new Map<string, Working>();
    let after: Array<(() => void) | undefined> = [];
    this.store.write(() => {
      const signer = this.keys.receiptSigner();
      if (this.signing?.signer !== signer) this.signing = { signer, kidJson: jcsString(signer.kid, '/kid'), validFrom: this.keys.activeValidFrom };
      for (const job of jobs) {
        if (!isolate) {
          try {
            outcomes.push({ ok: true, r: this.applyJob(job, heads) });
          } catch (e) {
            // Alone in its transaction, a failing job needs no savepoint: the rollback is its own.
            if (jobs.length > 1) throw ISOLATE;
            outcomes.push({ ok: false, e });
            throw e;
          }
          continue;
        }
        try {
          outcomes.push({ ok: true, r: this.store.savepoint(() => this.applyJob(job, heads)) });
        } catch (e) {
          outcomes.push({ ok: false, e });
        }
      }
      for (const [id, w] of heads) {
        this.store.streams.saveHead(id, { seqNo: w.seqNo, headHash: w.headHex, lastEventHash: w.lastEventHash, frontier: Buffer.concat(w.frontier) });
      }
      // A single failing job rethrows above, so riders only ever run in a transaction that goes on to COMMIT.
      after = this.riders.map((r) => r.inTransaction());
    });
    return { outcomes, heads, after };
  }

  /** Appends one job's events after the stream's working head; updates `heads` only when the whole job succeeded. */
  private applyJob(job: Job, heads: Map<string, Working>): AppendResult {
    const streamId = job.streamId;
    const start = heads.get(streamId) ?? this.loadHead(streamId);
    let seqNo = start.seqNo;
    let head = start.head;
    let headHex = start.headHex;
    let prevEventHash = start.lastEventHash;
    const frontier = start.frontier.slice();
    const { signer, kidJson, validFrom } = this.signing!;
    let receivedAt = new Date().toISOString();
    // Never before the key's window (a wall clock stepped back across a rotation): the receipt would not verify.
    if (validFrom !== null && receivedAt < validFrom) receivedAt = validFrom;
    const now = Date.now();
    const streamIdJson = jcsString(streamId, '/stream_id');
    const receivedAtJson = JSON.stringify(receivedAt);
    const receipts: ReceiptView[] = [];
    const kid = signer.kid;
    const jobLeaves: Buffer[] = [];
    const announced: string[] | null = this.announce ? [] : null;
    const items = job.items;

    // The hash chain first (sequential and cheap), then the signatures over it (independent: a pool may share them
    // out), then the rows.
    const evHashes = new Array<Buffer>(items.length);
    const evHexes = new Array<string>(items.length);
    const headHexes = new Array<string>(items.length);
    const messages = new Array<Uint8Array>(items.length);
    for (let i = 0; i < items.length; i++) {
      // event_hash = SHA-256(0x00 ‖ JCS(entry)); the entry text is written in JCS key order (see entryText).
      const evHash = leafHashOf(entryText(items[i]!, streamIdJson, seqNo + 1 + i, receivedAtJson));
      head = sha256Parts(DOMAIN.head, head, evHash);
      evHashes[i] = evHash;
      evHexes[i] = evHash.toString('hex');
      headHexes[i] = head.toString('hex');
      messages[i] = receiptMessageBytes(this.protocolJson, kidJson, streamIdJson, seqNo + 1 + i, evHexes[i]!, headHexes[i]!, receivedAtJson);
    }
    const signatures =
      this.signPool && signer.keyObject ? this.signPool.signAll(signer.keyObject, signer.kid, messages) : messages.map((m) => signer.sign(m));

    for (let i = 0; i < items.length; i++) {
      const it = items[i]!;
      seqNo++;
      const evHash = evHashes[i]!;
      const evHex = evHexes[i]!;
      headHex = headHexes[i]!;
      const signature = hexOf(signatures[i]!);
      const id = newTimeOrderedId('sev', now);
      this.store.events.insert({
        id,
        streamId,
        seqNo,
        sourceRef: it.sourceRef,
        eventType: it.eventType,
        occurredAt: it.occurredAt,
        receivedAt,
        payload: it.payloadJcs,
        salt: it.salt,
        payloadCommitment: it.commitment,
        eventHash: evHex,
        previousEventHash: prevEventHash,
        streamHeadHash: headHex,
        protocol: RECEIPT_PROTOCOL,
        kid,
        signature,
      });
      jobLeaves.push(evHash);
      announced?.push(id);
      // RFC 9162 frontier step: each trailing 1-bit of the old size is a perfect subtree that now gets its sibling.
      let node = evHash;
      let level = 0;
      let index = seqNo - 1;
      while (index % 2 === 1) {
        node = sha256Parts(NODE_PREFIX, frontier.pop()!, node);
        level++;
        index = (index - 1) / 2;
        this.store.events.insertNode(streamId, level, index, node);
      }
      frontier.push(node);
      receipts.push({
        stream_event_id: id,
        stream_id: streamId,
        seq_no: seqNo,
        event_hash: evHex,
        previous_event_hash: prevEventHash,
        stream_head_hash: headHex,
        received_at: receivedAt,
        receipt: { protocol: RECEIPT_PROTOCOL, alg: RECEIPT_ALG, kid, signature },
      });
      prevEventHash = evHex;
    }

    job.opts?.inTransaction?.(receipts);
    const status = job.opts?.status ?? 201;
    const shape = typeof job.render === 'string' && receipts.length > 0 ? job.render : null;
    const bodyText = JSON.stringify(typeof job.render === 'string' ? renderReceipts(job.render, streamId, receipts) : job.render(receipts));
    if (job.idem) {
      const fresh = this.store.idempotency.insert({
        tenantId: job.idem.tenantId,
        key: job.idem.key,
        fingerprint: job.idem.fingerprint,
        status,
        responseBody: shape ? receiptsRef(shape, streamId, start.seqNo + 1, seqNo) : bodyText,
        createdAt: now,
        expiresAt: now + job.idem.ttlMs,
      });
      // Only reachable when another process holds the key: roll this job back rather than answer twice.
      if (!fresh) throw new ApiError('IDEMPOTENCY_IN_PROGRESS', 'this Idempotency-Key was used concurrently; retry');
    }
    if (announced) this.announce!(streamId, announced);
    heads.set(streamId, { seqNo, head, headHex, lastEventHash: prevEventHash, frontier, added: { hashes: jobLeaves, prev: start.added } });
    return { status, bodyText, receipts };
  }

  private loadHead(streamId: string): Working {
    const h = this.store.streams.head(streamId);
    if (!h) throw new ApiError('RESOURCE_NOT_FOUND', 'stream not found');
    const frontier: Buffer[] = [];
    for (let i = 0; i < h.frontier.length; i += 32) frontier.push(Buffer.from(h.frontier.subarray(i, i + 32)));
    // The frontier holds one 32-byte root per 1-bit of the size: anything else is a corrupted row, never extended.
    let bits = 0;
    for (let n = h.seqNo; n > 0; n = Math.floor(n / 2)) bits += n % 2;
    if (h.frontier.length !== 32 * bits) throw new Error(`stored Merkle frontier of ${streamId} does not match size ${h.seqNo}`);
    return { seqNo: h.seqNo, head: Buffer.from(h.headHash, 'hex'), headHex: h.headHash, lastEventHash: h.lastEventHash, frontier, added: null };
  }
}

// ---- the hot path's byte formats ------------------------------------------------------------------------------
// The texts below are RFC 8785 JCS of fixed-shape objects written directly (keys already in UTF-16 order, strings
// through JSON.stringify exactly as canonicalize() does), and the hashes use node:crypto's native SHA-256. They
// must stay byte-identical to protocol/event.ts entryBytes/eventHash/nextHead, protocol/receipt.ts receiptMessage
// and protocol/merkle.ts nodeHash: test/append-fastpath.test.ts checks them against those definitions.

const LEAF_PREFIX = new Uint8Array([0x00]);
const NODE_PREFIX = new Uint8Array([0x01]);
const ENTRY_FORMAT_JSON = JSON.stringify(ENTRY_FORMAT);
const encoder = new TextEncoder();
const SCRATCH = Buffer.allocUnsafe(16 * 1024);

/** JSON text of a string as JCS writes it; refuses lone surrogates as canonicalize() does. */
function jcsString(s: string, path: string, index?: number): string {
  if (!s.isWellFormed()) throw new ApiError('NOT_CANONICALIZABLE', 'string contains a lone surrogate', { path, index });
  return JSON.stringify(s);
}

const hexOf = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

/** SHA-256 of the parts as a Buffer (hex and row values come straight from it), through a scratch buffer. */
function sha256Parts(...parts: Uint8Array[]): Buffer {
  let n = 0;
  for (const p of parts) n += p.length;
  if (n > SCRATCH.length) {
    const h = createHash('sha256');
    for (const p of parts) h.update(p);
    return h.digest();
  }
  let o = 0;
  for (const p of parts) {
    SCRATCH.set(p, o);
    o += p.length;
  }
  return hash('sha256', SCRATCH.subarray(0, o), 'buffer');
}

/** SHA-256(prefix ‖ UTF-8(text)) without materializing the concatenation when it fits the scratch buffer. */
function sha256PrefixText(prefix: Uint8Array, text: string): Buffer {
  if (prefix.length + text.length * 3 <= SCRATCH.length) {
    SCRATCH.set(prefix, 0);
    const n = prefix.length + SCRATCH.write(text, prefix.length, 'utf8');
    return hash('sha256', SCRATCH.subarray(0, n), 'buffer');
  }
  return createHash('sha256').update(prefix).update(text, 'utf8').digest();
}

const leafHashOf = (entry: string): Buffer => sha256PrefixText(LEAF_PREFIX, entry);

/** JCS({format, stream_id, seq_no, source_ref, event_type, occurred_at, received_at, payload_commitment}). */
function entryText(it: PreparedEvent, streamIdJson: string, seqNo: number, receivedAtJson: string): string {
  return (
    `{"event_type":${it.eventTypeJson},"format":${ENTRY_FORMAT_JSON},"occurred_at":${it.occurredAtJson},` +
    `"payload_commitment":"${it.commitment}","received_at":${receivedAtJson},"seq_no":${seqNo},` +
    `"source_ref":${it.sourceRefJson},"stream_id":${streamIdJson}}`
  );
}

/** tag("receipt") ‖ JCS({protocol, kid, stream_id, seq_no, event_hash, stream_head_hash, received_at}). */
function receiptMessageBytes(
  protocolJson: string,
  kidJson: string,
  streamIdJson: string,
  seqNo: number,
  evHex: string,
  headHex: string,
  receivedAtJson: string,
): Uint8Array {
  const text =
    `{"event_hash":"${evHex}","kid":${kidJson},"protocol":${protocolJson},"received_at":${receivedAtJson},` +
    `"seq_no":${seqNo},"stream_head_hash":"${headHex}","stream_id":${streamIdJson}}`;
  const tag = DOMAIN.receipt;
  const out = new Uint8Array(tag.length + text.length * 3);
  out.set(tag, 0);
  const { written } = encoder.encodeInto(text, out.subarray(tag.length));
  return out.subarray(0, tag.length + written);
}

function prepare(e: EventInput, index: number | undefined): PreparedEvent {
  const at = index === undefined ? '' : `/events/${index}`;
  const unsafe = findUnsafeNumber(e.payload);
  if (unsafe !== null) {
    throw new ApiError('NOT_CANONICALIZABLE', 'payload has an integer beyond ±(2^53−1), which I-JSON readers cannot reproduce', {
      path: `${at}/payload${unsafe}`,
      index,
    });
  }
  let payloadJcs: string;
  try {
    payloadJcs = canonicalize(e.payload);
  } catch (err) {
    throw new ApiError('NOT_CANONICALIZABLE', `payload cannot be canonicalized (RFC 8785): ${(err as Error).message}`, {
      path: `${at}/payload${(err as { path?: string }).path ?? ''}`,
      index,
    });
  }
  const occurredAt = e.occurred_at ?? null;
  const salt = randomBytesPooled(32);
  return {
    sourceRef: e.source_ref,
    eventType: e.event_type,
    occurredAt,
    payloadJcs,
    salt: salt.toString('hex'),
    // SHA-256(tag("payload") ‖ salt ‖ JCS(payload)), as protocol/event.ts commitCanonicalPayload
    commitment: sha256PrefixText(Buffer.concat([DOMAIN.payload, salt]), payloadJcs).toString('hex'),
    sourceRefJson: jcsString(e.source_ref, `${at}/source_ref`, index),
    eventTypeJson: jcsString(e.event_type, `${at}/event_type`, index),
    occurredAtJson: occurredAt === null ? 'null' : jcsString(occurredAt, `${at}/occurred_at`, index),
  };
}
