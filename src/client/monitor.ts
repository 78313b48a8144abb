// Monitor: keeps the last verified checkpoint of each stream and accepts a new one only when it is signed by the
// pinned ledger key and an RFC 9162 consistency proof shows it extends the last one. Two validly signed checkpoints
// that cannot both be true (same size, other root; or a larger one the ledger cannot prove consistent) raise a
// fork alarm carrying a `fork_evidence` object (docs/trust.md) that anyone can re-verify with `proofstream verify`.
import type { Report } from '../verify/index.js';
import type { ForkEvidence } from '../verify/report.js';
import type { Proofstream } from './client.js';
import { ProofstreamError, ProofstreamVerificationError } from './errors.js';
import { sleep } from './transport.js';
import { assertVerified, verifyWith, type Trust } from './trust.js';
import type { Checkpoint } from './types.js';

/** What a monitor keeps per stream: the members the verifier reads (the signed note and its claims). */
export interface VerifiedCheckpoint {
  checkpoint_id: string;
  stream_id: string;
  tree_size: number;
  root_hash: string;
  note: string;
  signer_vkey: string;
}

/** Where a monitor keeps its checkpoints: memory here; a file in 'proofstream/client/node'; anything async. */
export interface CheckpointStore {
  get(streamId: string): Promise<VerifiedCheckpoint | null> | VerifiedCheckpoint | null;
  set(streamId: string, cp: VerifiedCheckpoint): Promise<void> | void;
}

export class MemoryCheckpointStore implements CheckpointStore {
  private readonly m = new Map<string, VerifiedCheckpoint>();
  get(streamId: string): VerifiedCheckpoint | null {
    return this.m.get(streamId) ?? null;
  }
  set(streamId: string, cp: VerifiedCheckpoint): void {
    this.m.set(streamId, cp);
  }
}

export interface ForkAlarm {
  stream_id: string;
  /** the re-verifiable evidence: {kind: "fork_evidence", stream_id, conflicting_checkpoints, consistency_proof?, …} */
  evidence: ForkEvidence;
  /** the verifier's report on the evidence (FORK_DETECTED) */
  report: Report;
}

export type MonitorResult =
  | { status: 'first'; checkpoint: VerifiedCheckpoint }
  | { status: 'unchanged'; checkpoint: VerifiedCheckpoint }
  | { status: 'advanced'; checkpoint: VerifiedCheckpoint; from_tree_size: number }
  /** an older checkpoint, proven consistent with the kept one (the kept one stays) */
  | { status: 'older'; checkpoint: VerifiedCheckpoint }
  | { status: 'fork'; alarm: ForkAlarm }
  | { status: 'none' };

type Listeners = {
  fork: (a: ForkAlarm) => void;
  checkpoint: (cp: VerifiedCheckpoint, previous: VerifiedCheckpoint | null) => void;
  error: (e: unknown, streamId: string) => void;
};

export interface MonitorOptions {
  store?: CheckpointStore;
  /** default: the client's pinned trust */
  trust?: Trust;
}

export class Monitor {
  readonly store: CheckpointStore;
  private readonly trust: Trust;
  private readonly listeners: { [K in keyof Listeners]: Set<Listeners[K]> } = { fork: new Set(), checkpoint: new Set(), error: new Set() };
  /** One check at a time per stream, so two new checkpoints cannot race past each other into the store. */
  private readonly chains = new Map<string, Promise<unknown>>();

  constructor(
    private readonly client: Proofstream,
    opts: MonitorOptions = {},
  ) {
    this.store = opts.store ?? new MemoryCheckpointStore();
    this.trust = opts.trust ?? client.trust;
  }

  on<K extends keyof Listeners>(event: K, fn: Listeners[K]): () => void {
    this.listeners[event].add(fn);
    return () => this.listeners[event].delete(fn);
  }

  /** Fetches the stream's latest checkpoint and observes it. */
  check(streamId: string, o: { signal?: AbortSignal } = {}): Promise<MonitorResult> {
    return this.serial(streamId, async () => {
      const cp = await this.client.checkpoints.latest(streamId, o);
      return cp ? this.observeNow(streamId, cp, o) : { status: 'none' as const };
    });
  }

  /** Observes a checkpoint from anywhere (the live feed, a pack, a peer's gossip). */
  observe(cp: Checkpoint | VerifiedCheckpoint, o: { signal?: AbortSignal } = {}): Promise<MonitorResult> {
    return this.serial(cp.stream_id, () => this.observeNow(cp.stream_id, cp, o));
  }

  /** Checks every intervalMs (default 30 s) until the signal aborts; errors go to 'error' listeners, not out. */
  async watch(streamId: string, o: { intervalMs?: number; signal?: AbortSignal } = {}): Promise<void> {
    for (;;) {
      try {
        await this.check(streamId, o);
      } catch (e) {
        if (o.signal?.aborted) return;
        this.emit('error', e, streamId);
      }
      try {
        await sleep(o.intervalMs ?? 30_000, o.signal);
      } catch {
        return;
      }
    }
  }

  private serial<T>(streamId: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.chains.get(streamId) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.chains.set(streamId, tail);
    void tail.then(() => {
      if (this.chains.get(streamId) === tail) this.chains.delete(streamId);
    });
    return run;
  }

  private async observeNow(streamId: string, raw: Checkpoint | VerifiedCheckpoint, o: { signal?: AbortSignal }): Promise<MonitorResult> {
    const cp = slim(raw);
    // 1. Signed by the pinned key, and the note agrees with its claims. A checkpoint that fails is refused, not kept.
    await assertVerified(this.trust, 'checkpoint', cp, `checkpoint ${cp.checkpoint_id} (size ${cp.tree_size})`);
    const prev = await this.store.get(streamId);
    if (!prev) {
      await this.store.set(streamId, cp);
      this.emit('checkpoint', cp, null);
      return { status: 'first', checkpoint: cp };
    }
    if (prev.tree_size === cp.tree_size) {
      if (prev.root_hash === cp.root_hash) return { status: 'unchanged', checkpoint: prev };
      return this.fork(streamId, prev, cp, undefined);
    }
    // 2. The newer must extend the older; the ledger proves it (from a checkpointed size to a checkpoint id).
    const [older, newer] = prev.tree_size < cp.tree_size ? [prev, cp] : [cp, prev];
    let proof: string[];
    try {
      proof = (await this.client.checkpoints.consistency(newer.checkpoint_id, older.tree_size, o)).proof;
    } catch (e) {
      if (!(e instanceof ProofstreamError) || (e.status !== 404 && e.status !== 422)) throw e;
      // The ledger cannot relate the two (it does not know one of them): not proof of a fork, but nothing we may
      // accept either. The kept checkpoint stays.
      throw new ProofstreamError({
        status: e.status,
        code: 'CONSISTENCY_UNAVAILABLE',
        message: `stream ${streamId}: the ledger gives no consistency proof between sizes ${older.tree_size} and ${newer.tree_size} (${e.code}: ${e.message})`,
        details: { kept: prev, offered: cp },
        request_id: e.request_id,
        cause: e,
      });
    }
    const report = await verifyWith(this.trust, 'consistency', { from: older, to: newer, proof });
    if (!report.ok) return this.fork(streamId, older, newer, proof);
    if (newer === prev) return { status: 'older', checkpoint: cp };
    await this.store.set(streamId, cp);
    this.emit('checkpoint', cp, prev);
    return { status: 'advanced', checkpoint: cp, from_tree_size: prev.tree_size };
  }

  /** Lets the verifier judge the pair as fork evidence: a proven fork raises the alarm; anything else is an error. */
  private async fork(streamId: string, a: VerifiedCheckpoint, b: VerifiedCheckpoint, proof: string[] | undefined): Promise<MonitorResult> {
    const claim = { kind: 'fork_evidence', stream_id: streamId, conflicting_checkpoints: [a, b], ...(proof ? { consistency_proof: proof } : {}) };
    const report = await verifyWith(this.trust, 'fork_evidence', claim);
    if (!report.fork_evidence) {
      throw new ProofstreamVerificationError(`stream ${streamId}: checkpoints of sizes ${a.tree_size} and ${b.tree_size} could not be verified as consistent`, report);
    }
    const alarm: ForkAlarm = { stream_id: streamId, evidence: report.fork_evidence, report };
    this.emit('fork', alarm);
    return { status: 'fork', alarm };
  }

  private emit<K extends keyof Listeners>(event: K, ...args: Parameters<Listeners[K]>): void {
    for (const fn of this.listeners[event]) {
      try {
        (fn as (...a: unknown[]) => void)(...args);
      } catch {
        // A listener's bug must not stop the monitor or hide the alarm from the other listeners.
      }
    }
  }
}

function slim(c: Checkpoint | VerifiedCheckpoint): VerifiedCheckpoint {
  return { checkpoint_id: c.checkpoint_id, stream_id: c.stream_id, tree_size: c.tree_size, root_hash: c.root_hash, note: c.note, signer_vkey: c.signer_vkey };
}
