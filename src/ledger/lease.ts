// Work that must run on one node at a time when several API nodes share one PostgreSQL database: witness submission,
// anchoring epochs, purging, webhook delivery, the stall watch (and, on PostgreSQL, sealing what other nodes left
// unsealed). It runs on the holder of one lease, a session advisory lock (Store.tryLease) that PostgreSQL releases
// when the holder's connection closes: a node that dies hands the work over to the next node that asks. On SQLite
// there is one process per database: the lease is taken at once and nothing here runs again (no timer).
import type { Store } from '../store/index.js';
import { errField, log } from '../log.js';

/** The one lease all of that work runs under (see docs/architecture.md, "Work that must run once"). */
export const HOUSEKEEPING_LEASE = 'housekeeping';

/** How often a node without the lease asks for it: another node takes over a dead holder's work within this. */
export const LEASE_RETRY_MS = 2_000;

export class Lease {
  private timer: NodeJS.Timeout | undefined;
  private taken = false;
  private stopped = false;

  constructor(
    private readonly store: Pick<Store, 'tryLease' | 'kind'>,
    readonly name: string,
    /** runs once, when this process takes the lease (synchronously inside start() on SQLite) */
    private readonly onTaken: () => void,
    private readonly retryMs = LEASE_RETRY_MS,
  ) {}

  /** Whether this process holds the lease (and so runs the work under it). */
  get held(): boolean {
    return this.taken;
  }

  /** Asks now; a node that did not get the lease asks again every retryMs until it does or is stopped. */
  start(): void {
    if (this.ask()) return;
    log.info({ event: 'lease_waiting', lease: this.name, retry_ms: this.retryMs }, `another node holds the ${this.name} lease; asking again every ${this.retryMs} ms`);
    this.timer = setInterval(() => {
      if (this.ask()) clearInterval(this.timer);
    }, this.retryMs);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }

  private ask(): boolean {
    if (this.stopped || this.taken) return this.taken;
    let won: boolean;
    try {
      won = this.store.tryLease(this.name);
    } catch (e) {
      // The database is unreachable right now: this node does not run the work; it asks again at the next retry.
      log.error({ event: 'lease_failed', lease: this.name, err: errField(e) }, `asking for the ${this.name} lease failed; will retry`);
      return false;
    }
    if (!won) return false;
    this.taken = true;
    if (this.store.kind === 'postgres') log.info({ event: 'lease_taken', lease: this.name }, `this node took the ${this.name} lease`);
    this.onTaken();
    return true;
  }
}
