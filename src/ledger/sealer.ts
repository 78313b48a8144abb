// Sealing: closes windows of a stream (by size or age) and signs a C2SP checkpoint for each. Runs off the
// append path: appends only tell it what committed; it seals on its own event-loop turns, in bounded slices.
import { bytesToHex, hexToBytes, utf8ToBytes } from '../protocol/bytes.js';
import { formatCheckpoint } from '../protocol/checkpoint.js';
import { consistencyProof, nodeHash, rootAt, rootFromFrontier, rootFromLeaves, verifyConsistency } from '../protocol/merkle.js';
import { ED25519_TYPE, encodeVerifierKey, formatNote, keyId } from '../protocol/note.js';
import type { Store } from '../store/index.js';
import type { CheckpointRow } from '../store/checkpoints.js';
import { newId } from './ids.js';
import type { Signer } from './signer.js';
import type { CommitRider } from './appender.js';
import { isStorageFull } from './storage-full.js';
import { LedgerKeyError } from './keyring.js';
import { TileFolder } from './tiles.js';
import { errField, log } from '../log.js';

export interface WindowPolicy {
  maxEvents: number;
  maxAgeMs: number;
}

interface StreamState {
  policy: WindowPolicy;
  sealed: number;
  head: number;
  timer: NodeJS.Timeout | undefined;
  /** window roots folded from the leaves as they commit; null until it can start at a window boundary */
  roots: WindowRoots | null;
}

/**
 * Window roots built incrementally from the leaves each commit hands over, so sealing a window does not re-read
 * and re-hash its 1,000 leaves in one turn (that burst is what would show in append latency). Only a cache:
 * whenever it does not line up exactly with a window being sealed, sealing reads the leaves from the store.
 */
interface WindowRoots {
  /** seq_no the next leaf must carry */
  next: number;
  /** full windows (by size) not yet sealed: from → {to, root} */
  done: Map<number, { to: number; root: Uint8Array }>;
  /** the window being filled: first seq_no, leaves so far, RFC 9162 frontier of them */
  cur: { from: number; size: number; frontier: Uint8Array[] } | null;
}

/** At most this many windows are sealed per turn, so a large backlog never holds the event loop for long. */
const MAX_WINDOWS_PER_TURN = 32;
/** how long a seal that met a full disk waits before trying again */
const STORAGE_RETRY_MS = 1000;
/** At most this many windows ride one group commit: the appends in it wait for them before COMMIT. */
const MAX_WINDOWS_PER_RIDE = 4;

type Due = Array<[string, 'size' | 'age']>;
interface Sealed {
  streamId: string;
  trigger: 'size' | 'age';
  sealed: number;
  head: number;
}

export class SealError extends Error {
  readonly code = 'INCONSISTENT_CHECKPOINT';
}

export class Sealer implements CommitRider {
  private readonly state = new Map<string, StreamState>();
  private readonly due = new Map<string, 'size' | 'age'>();
  private scheduled = false;
  private stopped = false;
  /** Whether the next group commit is to seal what is due (see ride()). */
  private riding = false;
  /** What the group commit in progress took from `due`, until it commits or rolls back. */
  private inRide: Due | null = null;
  private appendsQueued: (() => boolean) | null = null;
  /** Streams whose sealing failed a safety check: they stop getting checkpoints until an operator looks. */
  readonly halted = new Map<string, string>();
  private readonly retryTimers = new Map<string, NodeJS.Timeout>();
  /** the scan of streams other nodes left unsealed (see watchUnsealed), on PostgreSQL's lease holder only */
  private scanTimer: NodeJS.Timeout | undefined;
  readonly stats = { windows: 0, turns: 0, rides: 0 };
  /** Stored tiles built from the committed leaves, written in the sealing transactions (see tiles.ts). */
  readonly tiles = new TileFolder();
  private readonly sealedListeners: Array<() => void> = [];
  /** Told per stream after a committed sealing turn signed checkpoints: the newest one's tree size (notify.ts). */
  private readonly checkpointListeners: Array<(streamId: string, treeSize: number) => void> = [];
  /** Told inside the sealing transaction (the stream's savepoint) of each checkpoint signed: the webhook outbox. */
  announce: ((cp: CheckpointRow) => void) | null = null;

  constructor(
    private readonly store: Store,
    private readonly keys: { checkpointSigners(): Signer[] },
    private readonly origin: string,
    private readonly defaults: WindowPolicy,
  ) {}

  /** The checkpoint origin (and note key name) of a stream. */
  originOf(streamId: string): string {
    return `${this.origin}/${streamId}`;
  }

  /**
   * Seal inside the appender's group commits while appends are queued: the checkpoint rows then share the appends'
   * fsync instead of blocking the event loop on one of their own (most of a sealing turn's time). With nothing
   * queued, sealing runs its own transaction as before.
   */
  rideWith(appendsQueued: () => boolean): void {
    this.appendsQueued = appendsQueued;
  }

  /** CommitRider: runs inside a flush's transaction, after its appends. */
  inTransaction(): (() => void) | undefined {
    if (!this.riding || this.stopped) return undefined;
    this.riding = false;
    this.scheduled = false;
    const batch: Due = [...this.due];
    this.due.clear();
    this.inRide = batch;
    this.stats.rides++;
    const r = this.sealDue(batch, MAX_WINDOWS_PER_RIDE, true);
    return () => {
      this.inRide = null;
      this.finish(r.results, r.budget);
    };
  }

  /** CommitRider: the flush rolled back, so did whatever this sealed in it; it is due again. */
  rolledBack(): void {
    const batch = this.inRide;
    this.inRide = null;
    if (batch) for (const [id, t] of batch) if (!this.due.has(id)) this.due.set(id, t);
    if (this.riding) {
      // It never got to run (a failing job ended the transaction first): schedule afresh.
      this.riding = false;
      this.scheduled = false;
    }
    if (this.due.size) this.markDue(this.due.keys().next().value!, this.due.values().next().value!);
  }

  /** Resume after a restart: whatever was appended but not sealed is sealed now. */
  start(): void {
    for (const s of this.store.checkpoints.unsealedStreams()) {
      const st = this.stateOf(s.id);
      st.head = s.headSeqNo;
      this.markDue(s.id, 'age');
    }
  }

  /**
   * Several nodes on one PostgreSQL database: each sealer hears only of its own node's commits, so a stream whose
   * appending node died (or that another node appended to last) could wait for ever. The lease holder looks at every
   * unsealed stream now and every `everyMs`: full windows are sealed at once, a partial one by age, counted from when
   * this node first saw it (at most max_age_ms + everyMs late). What is sealed is always read from the stream row
   * inside the sealing transaction, so a window another node seals meanwhile is never sealed twice.
   */
  watchUnsealed(everyMs: number): void {
    if (this.stopped || this.scanTimer) return;
    const scan = () => {
      try {
        this.adoptUnsealed();
      } catch (e) {
        log.error({ event: 'seal_scan_failed', err: errField(e) }, 'looking for unsealed streams failed; will retry');
      }
    };
    scan();
    this.scanTimer = setInterval(scan, everyMs);
    this.scanTimer.unref();
  }

  /** The lease went to another node, which watches from now on. */
  stopWatchingUnsealed(): void {
    clearInterval(this.scanTimer);
    this.scanTimer = undefined;
  }

  private adoptUnsealed(): void {
    if (this.stopped) return;
    for (const s of this.store.checkpoints.unsealedStreams()) {
      if (this.halted.has(s.id)) continue;
      const st = this.stateOf(s.id);
      if (s.headSeqNo > st.head) st.head = s.headSeqNo;
      if (s.headSeqNo - s.sealedSeqNo >= st.policy.maxEvents) this.markDue(s.id, 'size');
      else if (!st.timer) this.armAgeTimer(s.id, st);
    }
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.scanTimer);
    for (const st of this.state.values()) clearTimeout(st.timer);
    for (const t of this.retryTimers.values()) clearTimeout(t);
    // Finished tiles would be lost with the process; storing them is one short transaction.
    this.storeTiles((fn) => this.store.write(fn));
  }

  /** Writes the finished tiles (in `tx`: a transaction or a savepoint). Tiles only speed proofs up: a failure is logged. */
  private storeTiles(tx: (fn: () => void) => void): void {
    const tiles = this.tiles.take();
    if (!tiles.length) return;
    try {
      tx(() => this.store.checkpoints.insertTiles(tiles));
    } catch (e) {
      log.error({ event: 'tiles_store_failed', err: errField(e) }, 'storing tiles failed');
    }
  }

  /** `cb` runs after a sealing transaction that signed at least one checkpoint has committed. */
  onSealed(cb: () => void): void {
    this.sealedListeners.push(cb);
  }

  /** `cb` runs once per stream after a sealing transaction that signed checkpoints for it committed (newest size). */
  onCheckpoint(cb: (streamId: string, treeSize: number) => void): void {
    this.checkpointListeners.push(cb);
  }

  /** Called by the appender after each commit, with the leaves it committed for the stream (ending at headSeqNo). */
  onCommit(streamId: string, headSeqNo: number, leaves: readonly Uint8Array[] = []): void {
    if (this.stopped) return;
    const st = this.stateOf(streamId);
    this.feed(st, headSeqNo - leaves.length + 1, leaves);
    this.tiles.feed(streamId, headSeqNo - leaves.length + 1, leaves);
    st.head = headSeqNo;
    if (st.head - st.sealed >= st.policy.maxEvents) this.markDue(streamId, 'size');
    else if (!st.timer && st.head > st.sealed) this.armAgeTimer(streamId, st);
  }

  private feed(st: StreamState, first: number, leaves: readonly Uint8Array[]): void {
    if (leaves.length === 0) return;
    // Start only at the open window's first event; a stream joined mid-window waits for its next seal.
    if (!st.roots && first === st.sealed + 1) st.roots = { next: first, done: new Map(), cur: null };
    const w = st.roots;
    if (!w) return;
    if (first !== w.next) {
      st.roots = null;
      return;
    }
    for (const leaf of leaves) {
      const cur = (w.cur ??= { from: w.next, size: 0, frontier: [] });
      let node = leaf;
      for (let i = cur.size; i % 2 === 1; i = (i - 1) / 2) node = nodeHash(cur.frontier.pop()!, node);
      cur.frontier.push(node);
      cur.size++;
      w.next++;
      if (cur.size === st.policy.maxEvents) {
        w.done.set(cur.from, { to: w.next - 1, root: rootFromFrontier(cur.frontier) });
        w.cur = null;
      }
    }
  }

  /** The folded root of window from..to when the cache lines up with it exactly (and forgets it), else null. */
  private takeWindowRoot(st: StreamState, from: number, to: number): Uint8Array | null {
    const w = st.roots;
    if (!w) return null;
    const d = w.done.get(from);
    if (d) {
      w.done.delete(from);
      return d.to === to ? d.root : null;
    }
    if (w.cur && w.cur.from === from && w.cur.from + w.cur.size - 1 === to) {
      const root = rootFromFrontier(w.cur.frontier);
      w.cur = null;
      return root;
    }
    return null;
  }

  /** After sealing through `sealed`: drop what is behind it; restart the fold if it was lost and nothing is open. */
  private afterSeal(st: StreamState, sealed: number, head: number): void {
    const w = st.roots;
    if (w) {
      for (const from of w.done.keys()) if (from <= sealed) w.done.delete(from);
      if (w.cur && w.cur.from <= sealed) st.roots = null;
    }
    if (!st.roots && head === sealed) st.roots = { next: sealed + 1, done: new Map(), cur: null };
  }

  private stateOf(streamId: string): StreamState {
    let st = this.state.get(streamId);
    if (!st) {
      const row = this.store.streams.get(streamId)!;
      st = {
        policy: {
          maxEvents: row.windowPolicy?.max_events ?? this.defaults.maxEvents,
          maxAgeMs: row.windowPolicy?.max_age_ms ?? this.defaults.maxAgeMs,
        },
        sealed: row.sealedSeqNo,
        head: row.headSeqNo,
        timer: undefined,
        roots: null,
      };
      this.state.set(streamId, st);
    }
    return st;
  }

  private armAgeTimer(streamId: string, st: StreamState): void {
    st.timer = setTimeout(() => {
      st.timer = undefined;
      this.markDue(streamId, 'age');
    }, st.policy.maxAgeMs);
    st.timer.unref();
  }

  /** Marks the stream due again after a pause (used when storage is full), at most one timer per stream. */
  private retryLater(streamId: string, trigger: 'size' | 'age'): void {
    if (this.retryTimers.has(streamId) || this.stopped) return;
    const t = setTimeout(() => {
      this.retryTimers.delete(streamId);
      this.markDue(streamId, trigger);
    }, STORAGE_RETRY_MS);
    t.unref();
    this.retryTimers.set(streamId, t);
  }

  private markDue(streamId: string, trigger: 'size' | 'age'): void {
    if (this.halted.has(streamId)) return;
    if (this.due.get(streamId) !== 'age') this.due.set(streamId, trigger);
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    setImmediate(() => {
      if (this.appendsQueued?.()) {
        this.riding = true; // `scheduled` stays set: the flush about to run seals (inTransaction)
        return;
      }
      this.scheduled = false;
      this.runDue();
    });
  }

  /** Seals what is due, in one transaction per turn (one fsync however many streams). */
  runDue(): void {
    if (this.stopped || this.due.size === 0) return;
    const batch: Due = [...this.due];
    this.due.clear();
    let r: { results: Sealed[]; budget: number } = { results: [], budget: MAX_WINDOWS_PER_TURN };
    try {
      this.store.write(() => {
        r = this.sealDue(batch, MAX_WINDOWS_PER_TURN, false);
      });
    } catch (e) {
      // The commit failed: nothing was sealed; try again later.
      log.error({ event: 'seal_failed', err: errField(e) }, 'sealing transaction failed; will retry');
      r = { results: [], budget: MAX_WINDOWS_PER_TURN };
      for (const [id, t] of batch) this.due.set(id, t);
    }
    this.finish(r.results, r.budget);
  }

  /**
   * Inside an open transaction: stores the finished tiles and seals `batch` within `budget` windows. Never throws.
   * Riding a group commit, it seals only through the heads committed before it (`st.head`), not the appends of
   * the transaction it rides: windows come out as they would in a turn of their own, and their roots from the fold.
   */
  private sealDue(batch: Due, budget: number, riding: boolean): { results: Sealed[]; budget: number } {
    const results: Sealed[] = [];
    this.storeTiles((fn) => this.store.savepoint(fn));
    for (const [streamId, trigger] of batch) {
      if (budget <= 0) {
        this.due.set(streamId, trigger);
        continue;
      }
      try {
        const cap = riding ? this.stateOf(streamId).head : Number.POSITIVE_INFINITY;
        const r = this.store.savepoint(() => this.sealStream(streamId, trigger, budget, cap));
        budget -= r.windows;
        results.push({ streamId, trigger, sealed: r.sealed, head: r.head });
      } catch (e) {
        if (e instanceof LedgerKeyError) {
          // Nothing is signed with another key instead; once the key file is back this stream seals as usual.
          log.error({ event: 'seal_deferred', stream_id: streamId, err: errField(e) }, `sealing ${streamId} deferred: ${e.message}`);
          this.retryLater(streamId, trigger);
          continue;
        }
        if (isStorageFull(e)) {
          // Nothing of this stream was sealed (its savepoint rolled back); once space is freed it seals as usual.
          log.error({ event: 'seal_deferred', stream_id: streamId, retry_ms: STORAGE_RETRY_MS }, `sealing ${streamId} deferred: storage full; retrying in ${STORAGE_RETRY_MS} ms`);
          this.retryLater(streamId, trigger);
          continue;
        }
        this.halted.set(streamId, (e as Error).message);
        log.error({ event: 'seal_halted', stream_id: streamId, err: errField(e) }, `sealing halted for ${streamId}: ${(e as Error).message}`);
      }
    }
    return { results, budget };
  }

  /** After the transaction that sealed `results` committed: state, listeners, and what is due next. */
  private finish(results: Sealed[], budget: number): void {
    this.stats.turns++;
    const signed = results.filter((r) => r.sealed > (this.state.get(r.streamId)?.sealed ?? 0));
    if (signed.length) {
      for (const cb of this.sealedListeners) cb();
    }
    for (const r of signed) for (const cb of this.checkpointListeners) cb(r.streamId, r.sealed);
    for (const r of results) {
      const st = this.stateOf(r.streamId);
      st.sealed = r.sealed;
      this.afterSeal(st, r.sealed, Math.max(st.head, r.head));
      st.head = Math.max(st.head, r.head);
      const left = st.head - st.sealed;
      if (left >= st.policy.maxEvents || (r.trigger === 'age' && left > 0 && budget <= 0)) this.due.set(r.streamId, r.trigger);
      else if (left > 0 && !st.timer) this.armAgeTimer(r.streamId, st);
    }
    if (this.due.size) this.markDue(this.due.keys().next().value!, this.due.values().next().value!);
  }

  /** Seals full windows (and, when the age trigger fired, the partial remainder) of one stream. */
  private sealStream(streamId: string, trigger: 'size' | 'age', budget: number, headCap: number): { windows: number; sealed: number; head: number } {
    const row = this.store.streams.get(streamId)!;
    const head = Math.min(row.headSeqNo, headCap);
    const st = this.stateOf(streamId);
    const policy = st.policy;
    const src = this.store.checkpoints.nodeSource(streamId);
    let sealed = row.sealedSeqNo;
    let prev: CheckpointRow | undefined = row.lastCheckpointId ? this.store.checkpoints.checkpoint(row.lastCheckpointId) : undefined;
    let n = 0;
    const origin = this.originOf(streamId);
    // The active key first (signer_vkey names it), then every key still inside its rotation overlap: a witness or
    // auditor pinned to either finds its signature (docs/trust.md, "Rotating the ledger key").
    const signers = this.keys.checkpointSigners();
    const vkey = encodeVerifierKey(origin, signers[0]!.publicKey);
    const kids = signers.map((s) => keyId(origin, ED25519_TYPE, s.publicKey));
    while (n < budget && (head - sealed >= policy.maxEvents || (trigger === 'age' && head > sealed))) {
      const from = sealed + 1;
      const to = Math.min(sealed + policy.maxEvents, head);
      let windowRoot = this.takeWindowRoot(st, from, to);
      if (!windowRoot) {
        const leaves = this.store.checkpoints.leafHashes(streamId, from, to);
        if (leaves.length !== to - from + 1) throw new SealError(`events ${from}..${to} are not all stored`);
        windowRoot = rootFromLeaves(leaves);
      }
      const root = rootAt(src, to);
      // Never sign a checkpoint that contradicts one already signed for this origin.
      if (prev) {
        const proof = consistencyProof(src, prev.treeSize, to);
        if (!verifyConsistency(prev.treeSize, to, proof, hexToBytes(prev.rootHash), root)) {
          throw new SealError(`tree at size ${to} is not consistent with ${prev.id} (size ${prev.treeSize}); refusing to sign`);
        }
      }
      const text = formatCheckpoint({ origin, size: to, rootHash: root });
      const body = utf8ToBytes(text);
      const note = formatNote(text, signers.map((s, i) => ({ name: origin, keyId: kids[i]!, signature: s.sign(body) })));
      const now = new Date().toISOString();
      const windowId = newId('win');
      const cp: CheckpointRow = {
        id: newId('chk'),
        streamId,
        treeSize: to,
        rootHash: bytesToHex(root),
        note,
        signerVkey: vkey,
        windowId,
        previousCheckpointId: prev?.id ?? null,
        createdAt: now,
      };
      this.store.checkpoints.insertWindow({
        id: windowId,
        streamId,
        fromSeqNo: from,
        toSeqNo: to,
        windowRoot: bytesToHex(windowRoot),
        checkpointId: cp.id,
        trigger: head - sealed >= policy.maxEvents ? 'size' : 'age',
        sealedAt: now,
      });
      this.store.checkpoints.insertCheckpoint(cp);
      this.announce?.(cp);
      prev = cp;
      sealed = to;
      n++;
    }
    if (prev && sealed !== row.sealedSeqNo) this.store.checkpoints.markSealed(streamId, sealed, prev.id);
    this.stats.windows += n;
    return { windows: n, sealed, head };
  }
}
