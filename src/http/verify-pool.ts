// The verify routes' worker pool (POST /v2/verify, POST /v1/public/verify): verifying an audit bundle is seconds of
// CPU and hundreds of MB of objects, so it never runs on the main thread, which keeps answering appends and reads.
//
//   admission  a request takes a place (verifying + waiting ≤ workers + queue) and reserves its body bytes (all
//              admitted bodies ≤ maxInflightBytes) before its body is read; with neither → 503 VERIFY_BUSY, and
//              the unread body costs nothing (node-server drains it).
//   reading    the raw bytes, counted as they stream (src/http/verify-body.ts), never decoded here.
//   verifying  the bytes are transferred to an idle worker (src/http/verify-worker.ts): UTF-8, depth bound,
//              JSON.parse, the route's validation, verify(). A worker has its own heap limit (resourceLimits) and a
//              time limit; over either it is terminated and replaced, and its request answers 413 VERIFY_TOO_COMPLEX.
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Config } from '../config.js';
import { ApiError } from '../ledger/errors.js';
import type { Ledger } from '../ledger/ledger.js';
import type { VerifyJob, VerifyOutcome, VerifyWorkerData } from './verify-worker.js';
import { errField, log } from '../log.js';

/** Seconds a refused client is told to wait: about one ordinary verify. */
export const VERIFY_RETRY_AFTER_S = 2;

/** The worker's code. From TypeScript sources (tsx, vitest) the thread registers tsx itself, as src/cli/verify-workers.ts does. */
function workerSpec(): { code: string } | { url: URL } {
  const self = import.meta.url;
  if (!/\.ts$/.test(new URL(self).pathname)) return { url: new URL('./verify-worker.js', self) };
  const entry = new URL('./verify-worker.ts', self).href;
  const tsxApi = pathToFileURL(createRequire(self).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href;
  return {
    code: `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); }).catch((e) => { throw e; });`,
  };
}

export type VerifyPoolOptions = Pick<Config, 'verifyWorkers' | 'verifyQueue' | 'verifyMaxInflightBytes' | 'verifyHeapMb' | 'verifyTimeoutMs' | 'verifyMaxDepth' | 'verifyMaxItems' | 'verifyMaxValues'> & {
  /** the server's trust policy, for requests that bring none; a function is asked at each dispatch (it changes on a ledger-key rotation) */
  serverPolicy: string | (() => string);
  /** the worker's code (eval'd); tests give one that fails. Default: src/http/verify-worker. */
  workerCode?: string;
};

const busy = (why: string, details: Record<string, unknown>) =>
  new ApiError('VERIFY_BUSY', `the verifier is busy (${why}); retry after ${VERIFY_RETRY_AFTER_S} s`, { retry_after_s: VERIFY_RETRY_AFTER_S, ...details });

/**
 * A worker that failed for a reason other than its memory limit (seen once, under a load of ~14 on two cores). The
 * request was not verified and says nothing about the object, so it is a transient refusal to retry (503 with
 * Retry-After, like a full pool), never a 500: the verifier must not answer "internal error" about an input. The
 * failure itself is logged (`verify_worker_failed`) for the operator.
 */
const workerLost = (how: 'failed' | 'stopped') =>
  new ApiError('VERIFY_BUSY', `the verify worker ${how} while verifying this request; nothing was verified; retry after ${VERIFY_RETRY_AFTER_S} s`, {
    retry_after_s: VERIFY_RETRY_AFTER_S,
    reason: `worker_${how}`,
  });

interface Waiting {
  job: Omit<VerifyJob, 'id'>;
  resolve: (reportJson: string) => void;
  reject: (e: ApiError) => void;
}

interface Slot {
  worker: Worker;
  /** the request it is verifying */
  current: (Waiting & { id: number; timer: NodeJS.Timeout | undefined }) | undefined;
  /** set once the worker is being replaced: it takes no more work */
  dead: boolean;
}

/** One admitted request: its place in the pool and the body bytes it holds, until release(). */
export class Admission {
  private released = false;
  constructor(
    private readonly pool: VerifyPool,
    /** bytes reserved for this request's body */
    public reserved: number,
  ) {}

  /** Reserve `n` more body bytes (a chunked body, as it streams): 503 VERIFY_BUSY when the budget is spent. */
  grow(n: number): void {
    this.pool.reserve(n);
    this.reserved += n;
  }

  /** Verify the body in a worker; the bytes are transferred (unusable here afterwards). Resolves to the report's JSON. */
  verify(route: VerifyJob['route'], body: ArrayBuffer, length: number): Promise<string> {
    return this.pool.enqueue({ route, body, length });
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.pool.unreserve(this.reserved);
    this.pool.leave();
  }
}

export class VerifyPool {
  private readonly slots: Slot[] = [];
  private readonly waiting: Waiting[] = [];
  private admitted = 0;
  private inflightBytes = 0;
  private nextId = 0;
  private closed = false;
  private readonly spec: { code: string } | { url: URL };

  constructor(private readonly opts: VerifyPoolOptions) {
    this.spec = opts.workerCode !== undefined ? { code: opts.workerCode } : workerSpec();
  }

  /** Places: verifying + waiting. */
  get capacity(): number {
    return this.opts.verifyWorkers + this.opts.verifyQueue;
  }

  /**
   * Admit a request before reading its body: `declaredBytes` is its Content-Length (0 for a chunked body, which
   * reserves as it streams). Throws 503 VERIFY_BUSY when every place or the byte budget is taken.
   */
  admit(declaredBytes: number): Admission {
    if (this.admitted >= this.capacity) throw busy('every worker and queue place is taken', { capacity: this.capacity });
    this.reserve(declaredBytes);
    this.admitted++;
    return new Admission(this, declaredBytes);
  }

  /** @internal */
  reserve(n: number): void {
    if (this.inflightBytes + n > this.opts.verifyMaxInflightBytes) {
      throw busy('too many request bytes in flight', { inflight_limit_bytes: this.opts.verifyMaxInflightBytes });
    }
    this.inflightBytes += n;
  }

  /** @internal */
  unreserve(n: number): void {
    this.inflightBytes -= n;
  }

  /** @internal */
  leave(): void {
    this.admitted--;
  }

  /** @internal */
  enqueue(job: Waiting['job']): Promise<string> {
    if (this.closed) return Promise.reject(busy('the server is shutting down', {}));
    return new Promise<string>((resolve, reject) => {
      this.waiting.push({ job, resolve, reject });
      this.dispatch();
    });
  }

  /** Stats for tests and operators. */
  get state() {
    return { workers: this.slots.length, busy: this.slots.filter((s) => s.current).length, waiting: this.waiting.length, admitted: this.admitted, inflightBytes: this.inflightBytes };
  }

  private dispatch(): void {
    while (this.waiting.length > 0) {
      let slot = this.slots.find((s) => !s.current && !s.dead);
      if (!slot) {
        if (this.slots.length >= this.opts.verifyWorkers) return;
        slot = this.spawn();
      }
      const w = this.waiting.shift()!;
      const id = this.nextId++;
      slot.current = { ...w, id, timer: undefined };
      const sp = this.opts.serverPolicy;
      const msg: VerifyJob = typeof sp === 'function' ? { id, ...w.job, serverPolicy: sp() } : { id, ...w.job };
      slot.worker.postMessage(msg, [w.job.body]);
    }
  }

  /** The worker started on the request: from now on it has verifyTimeoutMs. */
  private started(slot: Slot): void {
    const cur = slot.current!;
    const ms = this.opts.verifyTimeoutMs;
    if (ms <= 0) return;
    cur.timer = setTimeout(() => this.kill(slot, new ApiError('VERIFY_TOO_COMPLEX', `verifying this object takes longer than ${ms} ms`, { limit: 'time', limit_ms: ms })), ms);
  }

  private spawn(): Slot {
    const workerData: VerifyWorkerData = { serverPolicy: typeof this.opts.serverPolicy === 'function' ? this.opts.serverPolicy() : this.opts.serverPolicy, maxDepth: this.opts.verifyMaxDepth, maxItems: this.opts.verifyMaxItems, maxValues: this.opts.verifyMaxValues };
    const resourceLimits = { maxOldGenerationSizeMb: this.opts.verifyHeapMb };
    const worker = 'code' in this.spec ? new Worker(this.spec.code, { eval: true, workerData, resourceLimits }) : new Worker(this.spec.url, { workerData, resourceLimits });
    // Idle workers must not keep a process alive that is otherwise done; a request in flight keeps it alive anyway.
    worker.unref();
    const slot: Slot = { worker, current: undefined, dead: false };
    worker.on('message', (m: VerifyOutcome) => {
      const cur = slot.current;
      if (!cur || cur.id !== m.id) return;
      if ('started' in m) return this.started(slot);
      this.finish(slot);
      if (m.ok) cur.resolve(m.report);
      else cur.reject(new ApiError(m.error.code, m.error.message, m.error.details, m.error.status));
      this.dispatch();
    });
    worker.on('error', (e: Error & { code?: string }) => {
      const oom = e.code === 'ERR_WORKER_OUT_OF_MEMORY';
      if (!oom) log.error({ event: 'verify_worker_failed', err: errField(e) }, 'verify worker failed');
      this.kill(
        slot,
        oom
          ? new ApiError('VERIFY_TOO_COMPLEX', `verifying this object needs more than the ${this.opts.verifyHeapMb} MB one verify may use`, { limit: 'memory', limit_mb: this.opts.verifyHeapMb })
          : workerLost('failed'),
      );
    });
    worker.on('exit', () => this.kill(slot, workerLost('stopped')));
    this.slots.push(slot);
    return slot;
  }

  private finish(slot: Slot): void {
    if (slot.current?.timer) clearTimeout(slot.current.timer);
    slot.current = undefined;
  }

  /** The worker is done for (out of memory, out of time, crashed, exited): its request fails with `e`, a new worker takes its place on demand. */
  private kill(slot: Slot, e: ApiError): void {
    const cur = slot.current;
    this.finish(slot);
    if (!slot.dead) {
      slot.dead = true;
      void slot.worker.terminate().catch(() => {});
      const i = this.slots.indexOf(slot);
      if (i >= 0) this.slots.splice(i, 1);
    }
    cur?.reject(e);
    if (!this.closed) this.dispatch();
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.waiting.splice(0)) w.reject(busy('the server is shutting down', {}));
    await Promise.all(this.slots.map((s) => ((s.dead = true), s.worker.terminate())));
  }
}

const pools = new WeakMap<Ledger, VerifyPool>();

/** The one pool of a ledger's HTTP app, shared by both verify routes. */
export function verifyPoolFor(ledger: Ledger, serverPolicy: VerifyPoolOptions['serverPolicy']): VerifyPool {
  let p = pools.get(ledger);
  if (!p) {
    p = new VerifyPool({ ...ledger.config, serverPolicy });
    pools.set(ledger, p);
  }
  return p;
}

/** The ledger's pool if a verify route has made it (metrics read it without starting workers). */
export function existingVerifyPool(ledger: Ledger): VerifyPool | undefined {
  return pools.get(ledger);
}
