// Work that must run on one node at a time when several API nodes share one PostgreSQL database: witness submission,
// anchoring epochs, purging, webhook delivery, the stall watch (and, on PostgreSQL, sealing what other nodes left
// unsealed). It runs on the holder of one lease, a session advisory lock (Store.tryLease) that PostgreSQL releases
// when the holder's connection closes: a node that dies hands the work over to the next node that asks. On SQLite
// there is one process per database: the lease is taken at once and nothing here runs again (no timer).
import type { Store } from '../store/index.js';
import { errField, log } from '../log.js';

/** The one lease all of that work runs under (see docs/architecture.md, "Work that must run once"). */
export const HOUSEKEEPING_LEASE = 'housekeeping';

/**
 * How often a node without the lease asks for it (another node takes over a dead holder's work within this), and how
 * often the holder checks it still has it.
 */
export const LEASE_RETRY_MS = 2_000;

/** The work run under a lease: started when this process takes it, stopped if it loses it. */
export interface LeasedWork {
  start(): void;
  stop(): void;
}

export class Lease {
  private timer: NodeJS.Timeout | undefined;
  private taken = false;
  private stopped = false;

  constructor(
    private readonly store: Pick<Store, 'tryLease' | 'kind'>,
    readonly name: string,
    private readonly work: LeasedWork,
    private readonly retryMs = LEASE_RETRY_MS,
  ) {}

  /** Whether this process holds the lease (and so runs the work under it). */
  get held(): boolean {
    return this.taken;
  }

  /**
   * Asks now (the work starts inside this call when the lease is free: always on SQLite). On PostgreSQL a node then
   * asks again every retryMs while it does not hold the lease, and checks every retryMs that it still does.
   */
  start(): void {
    const took = this.ask();
    if (this.store.kind !== 'postgres') return;
    if (!took) log.info({ event: 'lease_waiting', lease: this.name, retry_ms: this.retryMs }, `another node holds the ${this.name} lease; asking again every ${this.retryMs} ms`);
    this.timer = setInterval(() => (this.taken ? this.check() : this.ask()), this.retryMs);
    this.timer.unref();
  }

  /** Stops asking and checking (the work itself is the owner's to stop: it closes the store, which frees the lease). */
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
    this.work.start();
    return true;
  }

  /**
   * The holder asks again on its lease connection (a session advisory lock is re-entrant, so that answers true while
   * the session holds it). False means the connection broke, PostgreSQL freed the lock and another node took it: the
   * work stops here, and this node waits for the lease like any other.
   */
  private check(): void {
    if (this.stopped) return;
    let still: boolean;
    try {
      still = this.store.tryLease(this.name);
    } catch (e) {
      // Cannot tell now (a broken connection is re-established on the next ask): check again at the next tick.
      log.warn({ event: 'lease_check_failed', lease: this.name, err: errField(e) }, `checking the ${this.name} lease failed; will retry`);
      return;
    }
    if (still) return;
    this.taken = false;
    log.error({ event: 'lease_lost', lease: this.name }, `this node lost the ${this.name} lease (its session ended and another node took it); stopping the work under it`);
    this.work.stop();
  }
}
