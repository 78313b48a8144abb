// evidence.stalled (docs/webhooks.md): a checkpoint whose evidence is overdue — a witness has not cosigned it for
// longer than PROOFSTREAM_READY_MAX_WITNESS_LAG_S, or its anchor epoch has had no time-stamp for longer than
// PROOFSTREAM_READY_MAX_ANCHOR_LAG_S (the thresholds /ready uses). Announced once per checkpoint and reason, for the
// oldest checkpoint of each stream that a witness is behind on, or that waits for a time-stamp: one outage is one
// announcement per stream (and witness), and a stall after a recovery is a new one.
import type { Config } from '../config.js';
import { errField, log } from '../log.js';
import type { Store } from '../store/index.js';
import type { Webhooks } from './webhooks.js';

/** Streams looked at per witness (or for anchors) per pass; the rest are found by the next passes. */
const PER_PASS = 500;

export class StallWatch {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: Store,
    private readonly webhooks: Webhooks,
    private readonly config: Pick<Config, 'readyMaxWitnessLagS' | 'readyMaxAnchorLagS' | 'tsaUrl'>,
    private readonly witnesses: readonly string[],
  ) {}

  /** A pass every quarter of the smaller threshold (1 s to 60 s); none when neither threshold applies. */
  get intervalMs(): number {
    const lags = [this.witnesses.length ? this.config.readyMaxWitnessLagS : 0, this.config.tsaUrl ? this.config.readyMaxAnchorLagS : 0].filter((s) => s > 0);
    return lags.length ? Math.min(60_000, Math.max(1_000, (Math.min(...lags) * 1000) / 4)) : 0;
  }

  start(): void {
    const every = this.intervalMs;
    if (!every) return;
    clearInterval(this.timer); // (started again when this node takes the housekeeping lease back: lease.ts)
    this.timer = setInterval(() => {
      try {
        this.pass(Date.now());
      } catch (e) {
        log.error({ event: 'stall_watch_failed', err: errField(e) }, 'looking for stalled evidence failed; will retry');
      }
    }, every);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** One look (nothing at all unless a webhook wants evidence.stalled); returns how many stalls it announced. */
  pass(now: number): number {
    if (!this.webhooks.anyWants('evidence.stalled')) return 0;
    const at = new Date(now).toISOString();
    return this.store.write(() => {
      let n = 0;
      const announce = (streamId: string, checkpointId: string, reason: string) => {
        // The record and the outbox rows commit together: announced once, and never recorded without being announced.
        if (!this.store.evidence.recordStall(checkpointId, reason, streamId, at)) return;
        this.webhooks.streamCondition(streamId, 'evidence.stalled', checkpointId);
        n++;
      };
      if (this.config.readyMaxWitnessLagS > 0) {
        const before = new Date(now - this.config.readyMaxWitnessLagS * 1000).toISOString();
        for (const w of this.witnesses) for (const s of this.store.evidence.witnessStalls(w, before, PER_PASS)) announce(s.streamId, s.checkpointId, `witness:${w}`);
      }
      if (this.config.tsaUrl && this.config.readyMaxAnchorLagS > 0) {
        const before = new Date(now - this.config.readyMaxAnchorLagS * 1000).toISOString();
        for (const s of this.store.evidence.anchorStalls(before, PER_PASS)) announce(s.streamId, s.checkpointId, 'anchor');
      }
      if (n) log.warn({ event: 'evidence_stalled', announced: n }, `announced ${n} stalled evidence condition(s) to webhooks`);
      return n;
    });
  }
}
