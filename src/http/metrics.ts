// What an operator watches: the access line per request (pino), Prometheus metrics (prom-client) and the readiness
// checks behind GET /ready. Request counters are the only work on the request path; everything else (queue depth,
// lag, pool state, file sizes) is read when /metrics is scraped.
import fs from 'node:fs';
import type { MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Ledger } from '../ledger/ledger.js';
import { errField, log } from '../log.js';
import type { AppEnv } from './env.js';
import type { StorageHealth } from './storage-health.js';
import { existingVerifyPool } from './verify-pool.js';
import { liveFeedsFor } from './v2/live.js';

/** Seconds since an ISO time, 0 for none. */
const ageS = (iso: string | null, now: number) => (iso ? Math.max(0, (now - Date.parse(iso)) / 1000) : 0);

function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0; // no WAL file between checkpoints, or not there yet
  }
}

export class Observability {
  readonly registry = new Registry();
  private readonly requests: Counter<'method' | 'route' | 'status'>;
  private readonly latency: Histogram<'method' | 'route' | 'status'>;
  private readonly rateLimited: Counter<'route'>;
  /** The label children per method/route/status: resolved once, not hashed on every request. */
  private readonly series = new Map<string, { count: Counter.Internal; time: Histogram.Internal<'method' | 'route' | 'status'> }>();

  constructor(private readonly ledger: Ledger) {
    const r = this.registry;
    const gauge = (name: string, help: string, collect: (g: Gauge) => void, labelNames: string[] = []) =>
      new Gauge({ name, help, labelNames, registers: [r], collect() { collect(this); } });
    this.requests = new Counter({ name: 'proofstream_http_requests_total', help: 'HTTP requests answered, by route pattern and status', labelNames: ['method', 'route', 'status'], registers: [r] });
    this.latency = new Histogram({
      name: 'proofstream_http_request_duration_seconds',
      help: 'Time from request to response, by route pattern and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60],
      registers: [r],
    });
    this.rateLimited = new Counter({ name: 'proofstream_rate_limited_total', help: 'Requests refused with 429 RATE_LIMIT_EXCEEDED', labelNames: ['route'], registers: [r] });

    const { appender, sealer, store, config } = ledger;
    const commitSize = new Histogram({ name: 'proofstream_group_commit_events', help: 'Events per group commit', buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 5000], registers: [r] });
    const commitTime = new Histogram({ name: 'proofstream_group_commit_duration_seconds', help: 'Time of one group commit transaction', buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1], registers: [r] });
    appender.commitObserver = (events, seconds) => {
      commitSize.observe(events);
      commitTime.observe(seconds);
    };
    // Counters kept by the engine anyway, read at scrape time (a Gauge, set to the running total, would lose the
    // counter type; prom-client counters only add, so the difference is added).
    const total = (name: string, help: string, read: () => number) => {
      let seen = 0;
      new Counter({ name, help, registers: [r], collect() { const v = read(); if (v > seen) this.inc(v - seen); seen = v; } });
    };
    total('proofstream_group_commits_total', 'Group commits (append transactions) committed', () => appender.stats.commits);
    total('proofstream_events_committed_total', 'Events committed', () => appender.stats.events);
    total('proofstream_pooled_signatures_total', 'Receipt signatures shared out over signing threads (PROOFSTREAM_SIGN_THREADS)', () => appender.signPool?.stats.pooledSignatures ?? 0);
    total('proofstream_checkpoints_signed_total', 'Checkpoints signed (one per sealed window)', () => sealer.stats.windows);
    gauge('proofstream_append_queue_depth', 'Append requests waiting for the next group commit', (g) => g.set(appender.queued));

    const w = ledger.witnessing;
    if (w) {
      gauge('proofstream_witness_lag_checkpoints', 'Checkpoints a witness has not cosigned yet', (g) => {
        for (const cfg of w.configured) g.set({ witness: cfg.name }, store.evidence.witnessLag(cfg.name).checkpoints);
      }, ['witness']);
      gauge('proofstream_witness_lag_seconds', 'Age of the oldest checkpoint a witness has not cosigned', (g) => {
        const now = Date.now();
        for (const cfg of w.configured) g.set({ witness: cfg.name }, ageS(store.evidence.witnessLag(cfg.name).oldestAt, now));
      }, ['witness']);
      gauge('proofstream_witness_failures', 'Consecutive failed passes of a witness (0 = healthy)', (g) => {
        for (const s of w.status()) g.set({ witness: s.name }, s.failures);
      }, ['witness']);
    }
    if (ledger.anchoring) {
      gauge('proofstream_anchor_lag_epochs', 'Closed anchor epochs without a time-stamp token', (g) => g.set(store.evidence.anchorBacklog().epochs));
      gauge('proofstream_anchor_lag_checkpoints', 'Checkpoints in closed epochs without a time-stamp token', (g) => g.set(store.evidence.anchorBacklog().checkpoints));
      gauge('proofstream_anchor_lag_seconds', 'Age of the oldest closed epoch without a time-stamp token', (g) => g.set(ageS(store.evidence.anchorBacklog().oldestAt, Date.now())));
    }
    // Live feeds (SSE): read from the feeds' registry at scrape time.
    const sse = () => liveFeedsFor(ledger).registry;
    gauge('proofstream_sse_connections', 'Live feeds (SSE) open now', (g) => g.set(sse().size));
    gauge('proofstream_sse_queued_bytes', 'Bytes queued for live-feed consumers now, all feeds', (g) => g.set(sse().queuedBytes()));
    gauge('proofstream_sse_peak_queued_bytes', 'Most bytes ever queued for one live-feed consumer (bounded by PROOFSTREAM_SSE_MAX_BUFFER_BYTES)', (g) => g.set(sse().peakQueued()));
    total('proofstream_sse_overflows_total', 'Live-feed consumers closed with event: overflow (fell behind by more than the buffer)', () => sse().stats.overflows);
    total('proofstream_sse_opened_total', 'Live feeds opened', () => sse().stats.opened);
    gauge('proofstream_verify_workers', 'Verify worker threads configured', (g) => g.set(config.verifyWorkers));
    gauge('proofstream_verify_busy', 'Verify workers verifying now', (g) => g.set(existingVerifyPool(ledger)?.state.busy ?? 0));
    gauge('proofstream_verify_queued', 'Verify requests waiting for a worker', (g) => g.set(existingVerifyPool(ledger)?.state.waiting ?? 0));
    // On PostgreSQL: the database's size as the server reports it; its WAL is the server's (0 here).
    gauge('proofstream_db_bytes', 'Size of the database file (PostgreSQL: pg_database_size)', (g) => g.set(store.kind === 'postgres' ? store.databaseBytes() : fileSize(config.dbPath)));
    gauge('proofstream_db_wal_bytes', 'Size of the database WAL file (PostgreSQL: 0, the server keeps its WAL)', (g) => g.set(store.kind === 'postgres' ? 0 : fileSize(config.dbPath + '-wal')));
  }

  /** The access line and request metrics, for every route (registered first: the fused append routes too). */
  accessLog(): MiddlewareHandler<AppEnv> {
    return async (c, next) => {
      const started = performance.now();
      await next();
      const ms = performance.now() - started;
      const status = c.res.status;
      // The registered pattern (/v2/streams/:id/events), never the raw path: bounded label values, no ids in logs.
      // After next(), routeIndex is the handler that answered (or threw); '/*' when no route matched.
      const route = routePath(c);
      const method = c.req.method;
      const k = method + ' ' + route + ' ' + status;
      let s = this.series.get(k);
      if (!s) {
        const labels = { method, route, status: String(status) };
        s = { count: this.requests.labels(labels), time: this.latency.labels(labels) };
        this.series.set(k, s);
      }
      s.count.inc();
      s.time.observe(ms / 1000);
      if (status === 429) this.rateLimited.inc({ route });
      const p = c.get('principal');
      log.info({
        event: 'request',
        request_id: c.res.headers.get('x-request-id'),
        method,
        route,
        status,
        latency_ms: Math.round(ms * 1000) / 1000,
        tenant_id: p?.tenantId,
        key_id: p?.keyId,
      });
    };
  }
}

const all = new WeakMap<Ledger, Observability>();

/** The one Observability of a ledger (the app records into it; the metrics listener reads it). */
export function observabilityFor(ledger: Ledger): Observability {
  let o = all.get(ledger);
  if (!o) {
    o = new Observability(ledger);
    all.set(ledger, o);
  }
  return o;
}

export interface ReadyCheck {
  name: 'database' | 'disk' | 'witness_lag' | 'anchor_lag';
  ok: boolean;
  detail: string;
  witness?: string;
}

/** The readiness checks: database writable, room to grow, witness and anchor lag under their thresholds. */
export function readinessChecks(ledger: Ledger, storage: StorageHealth): ReadyCheck[] {
  const { store, config } = ledger;
  const checks: ReadyCheck[] = [];
  try {
    store.probeWrite();
    checks.push({ name: 'database', ok: storage.state() !== 'full', detail: storage.state() === 'full' ? 'storage full: appends answer 507' : 'writable' });
  } catch (e) {
    checks.push({ name: 'database', ok: false, detail: `not writable: ${errField(e).message}` });
  }
  try {
    const free = store.headroomBytes();
    const ok = free >= config.readyMinFreeBytes;
    checks.push({ name: 'disk', ok, detail: `${free} bytes free for the database (minimum ${config.readyMinFreeBytes})` });
  } catch (e) {
    checks.push({ name: 'disk', ok: false, detail: `free space unknown: ${errField(e).message}` });
  }
  const now = Date.now();
  if (ledger.witnessing && config.readyMaxWitnessLagS > 0) {
    for (const w of ledger.witnessing.configured) {
      const lag = store.evidence.witnessLag(w.name);
      const s = Math.floor(ageS(lag.oldestAt, now));
      checks.push({
        name: 'witness_lag',
        witness: w.name,
        ok: s <= config.readyMaxWitnessLagS,
        detail: `${lag.checkpoints} checkpoints not cosigned, oldest ${s} s (maximum ${config.readyMaxWitnessLagS} s)`,
      });
    }
  }
  if (ledger.anchoring && config.readyMaxAnchorLagS > 0) {
    const b = store.evidence.anchorBacklog();
    const s = Math.floor(ageS(b.oldestAt, now));
    checks.push({ name: 'anchor_lag', ok: s <= config.readyMaxAnchorLagS, detail: `${b.epochs} epochs not time-stamped, oldest ${s} s (maximum ${config.readyMaxAnchorLagS} s)` });
  }
  return checks;
}
