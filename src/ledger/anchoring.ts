// RFC 3161 anchoring: every epoch, the checkpoints signed since the last one (all streams) become one Merkle
// tree whose root one time-stamp token covers (docs/protocol.md §8). Off the append path: a down TSA only
// delays anchors; the epoch stays pending and is retried with backoff.
import { bytesToBase64, bytesToHex, hexToBytes } from '../protocol/bytes.js';
import { buildEpochTree, checkpointHash, epochDigest } from '../protocol/anchor.js';
import type { Store } from '../store/index.js';
import { newId } from './ids.js';
import { log } from '../log.js';

/** At most this many checkpoints per epoch tree; a larger backlog makes several epochs. */
const MAX_EPOCH_LEAVES = 65_536;
const FIRST_RETRY_MS = 250;

export class Anchoring {
  private epochTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private stamping = false;
  private failures = 0;
  private stopped = false;
  /** Rowid of the last checkpoint put in an epoch; every checkpoint up to it is anchored (see closeEpoch). */
  private anchoredThrough = 0;
  lastError: { message: string; at: string } | null = null;
  readonly stats = { epochs: 0, stamped: 0, failures: 0 };
  /** Told after an epoch's token is committed: every checkpoint in it is now anchored (notify.ts). */
  onStamped: ((epochId: string) => void) | null = null;
  /** Told inside the transaction that stores an epoch's token, with the epoch id (the webhook outbox: checkpoint.anchored). */
  announceStamped: ((epochId: string) => void) | null = null;

  constructor(
    private readonly store: Store,
    private readonly tsaUrl: string,
    private readonly trustedRoots: readonly string[],
    private readonly epochMs: number,
    private readonly retryMaxMs: number,
  ) {}

  /** Also after stop(): a node that lost the housekeeping lease and takes it again (lease.ts) starts afresh. */
  start(): void {
    this.stopped = false;
    clearInterval(this.epochTimer);
    this.epochTimer = setInterval(() => this.tick(), this.epochMs);
    this.epochTimer.unref();
    // Epochs closed before a restart but never stamped are retried now.
    void this.stampPending();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.epochTimer);
    clearTimeout(this.retryTimer);
  }

  /** Closes the current epoch (if any checkpoint is waiting) and stamps what is pending. */
  tick(): void {
    if (this.stopped) return;
    try {
      while (this.closeEpoch()) {
        /* one epoch per MAX_EPOCH_LEAVES checkpoints */
      }
    } catch (e) {
      this.lastError = { message: `closing epoch: ${(e as Error).message}`, at: new Date().toISOString() };
      log.error({ event: 'anchor_epoch_failed', error: this.lastError.message }, 'closing an anchor epoch failed; will retry next epoch');
    }
    if (this.failures === 0) void this.stampPending();
  }

  /** Puts every not-yet-anchored checkpoint into a new epoch, in one transaction. True if one was made. */
  closeEpoch(): boolean {
    let through = this.anchoredThrough;
    const full = this.store.write(() => {
      const cps = this.store.evidence.unanchoredCheckpoints(MAX_EPOCH_LEAVES, this.anchoredThrough);
      if (cps.length === 0) return false;
      const hashes = cps.map((c) => checkpointHash(c.note));
      const { root } = buildEpochTree(hashes);
      const id = newId('epo');
      this.store.evidence.insertEpoch(
        { id, epochRoot: bytesToHex(root), leafCount: cps.length, token: null, tsaChain: null, genTime: null, createdAt: new Date().toISOString(), stampedAt: null, attempts: 0, lastError: null },
        cps.map((c, i) => ({ checkpointId: c.id, epochId: id, leafIndex: i, checkpointHash: bytesToHex(hashes[i]!) })),
      );
      this.stats.epochs++;
      through = cps[cps.length - 1]!.rowid;
      return cps.length === MAX_EPOCH_LEAVES;
    });
    // Committed: every checkpoint up to the last one taken is anchored (they come lowest rowid first, none
    // skipped), so the next epoch reads only rows after it.
    this.anchoredThrough = through;
    return full;
  }

  /** Requests a token for every pending epoch, oldest first; on failure, retries later with backoff. */
  async stampPending(): Promise<void> {
    if (this.stamping || this.stopped) return;
    this.stamping = true;
    let failed = false;
    try {
      // Loaded on first use: pkijs is only needed by a ledger that anchors.
      const { requestTimestamp } = await import('../anchor/tsa-client.js');
      const { verifyTimestampToken } = await import('../verify/rfc3161.js');
      for (const epoch of this.store.evidence.unstampedEpochs()) {
        if (this.stopped) return;
        const digest = epochDigest(hexToBytes(epoch.epochRoot));
        try {
          const r = await requestTimestamp(this.tsaUrl, digest, { timeoutMs: 10_000 });
          // Keep only what an auditor will accept: the token must verify against the configured roots.
          const check = await verifyTimestampToken(r.token, digest, { trustedRoots: [...this.trustedRoots], chain: r.chain });
          if (!check.ok) throw new Error(`TSA token does not verify: ${check.problems.map((p) => `${p.code} ${p.message}`).join('; ')}`);
          const genTime = (check.genTime ?? r.genTime).toISOString();
          this.store.write(() => {
            this.store.evidence.stampEpoch(epoch.id, bytesToBase64(r.token), r.chain, genTime, new Date().toISOString());
            this.announceStamped?.(epoch.id);
          });
          this.stats.stamped++;
          this.onStamped?.(epoch.id);
        } catch (e) {
          const message = (e as Error).message;
          this.lastError = { message, at: new Date().toISOString() };
          this.store.write(() => this.store.evidence.epochFailed(epoch.id, message));
          failed = true;
          break;
        }
      }
    } finally {
      this.stamping = false;
    }
    if (failed) {
      this.failures++;
      this.stats.failures++;
      const retryMs = Math.min(this.retryMaxMs, FIRST_RETRY_MS * 2 ** Math.min(this.failures - 1, 16));
      log.warn(
        { event: 'tsa_failed', tsa: this.tsaUrl, failures: this.failures, retry_in_ms: retryMs, error: this.lastError?.message ?? null },
        `time-stamp authority failed; retrying in ${retryMs} ms`,
      );
      clearTimeout(this.retryTimer);
      this.retryTimer = setTimeout(() => void this.stampPending(), retryMs);
      this.retryTimer.unref();
    } else {
      if (this.failures > 0) log.info({ event: 'tsa_recovered', tsa: this.tsaUrl, after_failures: this.failures }, 'time-stamp authority recovered');
      this.failures = 0;
      this.lastError = null;
    }
  }
}
