// The ledger as a tlog-witness client: every checkpoint goes to every configured witness, in order of tree
// size, with a consistency proof from the size that witness last cosigned. Runs beside the engine, never in
// front of it: appends and sealing never wait for a witness; a failing witness is retried with backoff.
import { bytesToBase64, concatBytes } from '../protocol/bytes.js';
import { decodeCosignature } from '../protocol/checkpoint.js';
import { consistencyProof } from '../protocol/merkle.js';
import { formatNote, parseNote, parseVerifierKey, verifyNote, type NoteSignature, type VerifierKey } from '../protocol/note.js';
import type { WitnessConfig } from '../config.js';
import type { Store } from '../store/index.js';
import type { CheckpointRow } from '../store/checkpoints.js';
import { submitCheckpoint } from '../witness/client.js';
import { log } from '../log.js';

const FIRST_RETRY_MS = 250;
/** Streams looked at per pass; a pass repeats while work remains. */
const STREAMS_PER_PASS = 64;
/** Streams submitted to one witness concurrently. */
const STREAMS_IN_FLIGHT = 8;

interface WitnessRuntime {
  cfg: WitnessConfig;
  key: VerifierKey;
  running: boolean;
  again: boolean;
  failures: number;
  timer: NodeJS.Timeout | undefined;
  lastError: { message: string; at: string } | null;
  lastSuccessAt: string | null;
}

export class Witnessing {
  private readonly ws: WitnessRuntime[];
  /** until start(): on PostgreSQL only the housekeeping lease's holder starts it (lease.ts), so kicks elsewhere do nothing */
  private stopped = true;
  readonly stats = { submitted: 0, cosigned: 0, conflicts: 0, failures: 0 };
  /** Told after a cosignature is committed (notify.ts decides whether it completed the quorum). */
  onCosigned: ((streamId: string, checkpointId: string) => void) | null = null;
  /** Told inside the transaction that stores a cosignature (the webhook outbox: checkpoint.witnessed). */
  announceCosigned: ((cp: CheckpointRow) => void) | null = null;
  /** Told when a witness finds a checkpoint inconsistent with one it cosigned (422): the webhook outbox, fork.suspected. */
  announceForkSuspected: ((cp: CheckpointRow, witness: string, detail: string) => void) | null = null;

  constructor(
    private readonly store: Store,
    witnesses: readonly WitnessConfig[],
    private readonly retryMaxMs: number,
    private readonly timeoutMs = 10_000,
  ) {
    this.ws = witnesses.map((cfg) => ({
      cfg,
      key: parseVerifierKey(cfg.vkey),
      running: false,
      again: false,
      failures: 0,
      timer: undefined,
      lastError: null,
      lastSuccessAt: null,
    }));
  }

  get configured(): readonly WitnessConfig[] {
    return this.ws.map((w) => w.cfg);
  }

  /** Runtime status of each witness (process-wide, not per stream). */
  status(): { name: string; failures: number; lastError: { message: string; at: string } | null; lastSuccessAt: string | null }[] {
    return this.ws.map((w) => ({ name: w.cfg.name, failures: w.failures, lastError: w.lastError, lastSuccessAt: w.lastSuccessAt }));
  }

  /** Also after stop(): a node that lost the housekeeping lease and takes it again (lease.ts) starts afresh. */
  start(): void {
    this.stopped = false;
    this.kick();
  }

  stop(): void {
    this.stopped = true;
    for (const w of this.ws) clearTimeout(w.timer);
  }

  /** New checkpoints exist: every witness not backing off gets a pass soon. */
  kick(): void {
    for (const w of this.ws) if (w.failures === 0) this.schedule(w, 0);
  }

  private schedule(w: WitnessRuntime, delayMs: number): void {
    if (this.stopped) return;
    if (w.running) {
      w.again = true;
      return;
    }
    if (w.timer) {
      if (delayMs > 0) return; // a retry is already pending
      clearTimeout(w.timer);
    }
    w.timer = setTimeout(() => {
      w.timer = undefined;
      void this.pass(w);
    }, delayMs);
    w.timer.unref();
  }

  /** Submits pending checkpoints to one witness until it is caught up or fails. */
  private async pass(w: WitnessRuntime): Promise<void> {
    if (this.stopped) return;
    w.running = true;
    w.again = false;
    let failed = false;
    try {
      for (;;) {
        const behind = this.store.evidence.streamsBehind(w.cfg.name, STREAMS_PER_PASS);
        if (behind.length === 0 || this.stopped) break;
        // Streams are separate origins to a witness, so several can be in flight at once; one stream's
        // checkpoints always go in order.
        for (let i = 0; i < behind.length && !failed; i += STREAMS_IN_FLIGHT) {
          const results = await Promise.all(behind.slice(i, i + STREAMS_IN_FLIGHT).map((s) => this.catchUp(w, s.streamId, s.cosignedSize)));
          if (results.includes(false)) failed = true;
        }
        if (failed) break;
      }
    } catch (e) {
      failed = true;
      this.recordError(w, undefined, `internal: ${(e as Error).message}`);
    } finally {
      w.running = false;
    }
    if (failed) {
      w.failures++;
      this.stats.failures++;
      const retryMs = Math.min(this.retryMaxMs, FIRST_RETRY_MS * 2 ** Math.min(w.failures - 1, 16));
      // One line per failed pass (not per stream), with the backoff it starts.
      log.warn(
        { event: 'witness_failed', witness: w.cfg.name, url: w.cfg.url, failures: w.failures, retry_in_ms: retryMs, error: w.lastError?.message ?? null },
        `witness ${w.cfg.name} failed; retrying in ${retryMs} ms`,
      );
      this.schedule(w, retryMs);
    } else {
      if (w.failures > 0) log.info({ event: 'witness_recovered', witness: w.cfg.name, after_failures: w.failures }, `witness ${w.cfg.name} recovered`);
      w.failures = 0;
      if (w.again) this.schedule(w, 0);
    }
  }

  /** Brings one witness up to the stream's latest checkpoint. False when the witness failed. */
  private async catchUp(w: WitnessRuntime, streamId: string, cosignedSize: number): Promise<boolean> {
    let old = cosignedSize;
    for (let guard = 0; guard < 10_000 && !this.stopped; guard++) {
      const cp = this.store.evidence.nextCheckpoint(streamId, old);
      if (!cp) return true;
      const proof = old > 0 ? consistencyProof(this.store.checkpoints.nodeSource(streamId), old, cp.treeSize) : [];
      this.stats.submitted++;
      const res = await submitCheckpoint(w.cfg.url, { old, proof, note: cp.note }, { timeoutMs: this.timeoutMs });
      const now = new Date().toISOString();
      switch (res.kind) {
        case 'cosigned': {
          const sig = await this.checkCosignature(w, cp, res.signatures);
          if (!sig) {
            this.recordError(w, streamId, 'the witness answered 200 without a valid cosignature from its key');
            return false;
          }
          const { timestamp } = decodeCosignature(sig.signature);
          const line = `— ${sig.name} ${bytesToBase64(concatBytes(sig.keyId, sig.signature))}`;
          this.store.write(() => {
            this.store.evidence.insertCosignature({
              checkpointId: cp.id,
              witness: w.cfg.name,
              vkey: w.cfg.vkey,
              timestamp: Number(timestamp),
              line,
              createdAt: now,
            });
            this.store.evidence.setCosignedSize(w.cfg.name, streamId, cp.treeSize, now, true);
            this.announceCosigned?.(cp);
          });
          this.stats.cosigned++;
          this.onCosigned?.(streamId, cp.id);
          w.lastSuccessAt = now;
          old = cp.treeSize;
          break;
        }
        case 'conflict': {
          // 409: the witness is at another size (we lost track, or it saw a checkpoint we did not record).
          this.stats.conflicts++;
          if (res.size === old) {
            this.recordError(w, streamId, `witness answered 409 with our own size ${old}`);
            return false;
          }
          const latest = this.store.checkpoints.latest(streamId);
          if (latest && res.size > latest.treeSize) {
            this.recordError(w, streamId, `witness claims size ${res.size}, beyond our latest checkpoint ${latest.treeSize}`);
          }
          this.store.write(() => this.store.evidence.setCosignedSize(w.cfg.name, streamId, res.size, now, false));
          old = res.size;
          break;
        }
        case 'rejected':
          if (res.status === 422 && this.announceForkSuspected) {
            const announce = this.announceForkSuspected;
            try {
              this.store.write(() => announce(cp, w.cfg.name, res.body.slice(0, 200).trim()));
            } catch {
              /* the error below is still recorded and logged */
            }
          }
          this.recordError(
            w,
            streamId,
            // 422: the witness holds a cosigned checkpoint of this origin that ours does not extend: a possible fork.
            `${res.status === 422 ? 'POSSIBLE FORK: the witness finds this checkpoint inconsistent with one it cosigned; ' : ''}HTTP ${res.status}: ${res.body.slice(0, 200).trim()}`,
          );
          return false;
        case 'unreachable':
          this.recordError(w, streamId, `unreachable: ${res.error}`);
          return false;
      }
    }
    return true;
  }

  /** The witness's own cosignature among the returned lines, checked against its configured vkey. */
  private async checkCosignature(w: WitnessRuntime, cp: CheckpointRow, sigs: NoteSignature[]): Promise<NoteSignature | null> {
    const body = parseNote(cp.note).text;
    for (const s of sigs) {
      if (s.name !== w.key.name) continue;
      const v = await verifyNote(formatNote(body, [s]), [w.key]);
      if (v.ok && v.verified.length === 1) return s;
    }
    return null;
  }

  private recordError(w: WitnessRuntime, streamId: string | undefined, message: string): void {
    const at = new Date().toISOString();
    w.lastError = { message, at };
    if (streamId) {
      try {
        this.store.write(() => this.store.evidence.setWitnessError(w.cfg.name, streamId, message, at));
      } catch {
        /* the in-memory status still says it */
      }
    }
  }
}
