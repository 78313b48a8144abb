// The delivery worker: claims due outbox rows (leased, so a crash mid-attempt only delays them), POSTs each signed
// body with a pinned, checked address, a deadline and a response cap, and records the outcome. Retries back off
// exponentially with full jitter; an endpoint failing for the whole retry period is disabled. At-least-once: the
// `webhook-id` (the row's id) is what receivers deduplicate on.
import http from 'node:http';
import https from 'node:https';
import type { Config } from '../config.js';
import type { Store } from '../store/index.js';
import type { DeliveryRow, WebhookRow } from '../store/webhooks.js';
import { errField, log } from '../log.js';
import { checkLiteralAtDelivery, guardedLookup, parseWebhookUrl } from './webhook-url.js';
import { signatureHeaders, type WebhookRenderers, type Webhooks } from './webhooks.js';

export interface AttemptOutcome {
  ok: boolean;
  statusCode: number | null;
  error: string | null;
}

/** A claimed row stays leased this much beyond the attempt's own deadline. */
const LEASE_MARGIN_MS = 5_000;
/** Finished deliveries are purged at most this often. */
const PURGE_EVERY_MS = 3_600_000;
const PURGE_BATCH = 10_000;

export class WebhookDelivery {
  private readonly inflight = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  /** until start(): on PostgreSQL only the housekeeping lease's holder starts it (lease.ts), so wakes elsewhere do nothing */
  private stopped = true;
  private lastPurge = 0;
  readonly stats = { attempts: 0, delivered: 0, failedAttempts: 0, disabled: 0 };

  constructor(
    private readonly store: Store,
    private readonly hooks: Webhooks,
    private readonly config: Config,
    private readonly views: WebhookRenderers,
  ) {}

  /** Also after stop(): a node that lost the housekeeping lease and takes it again (lease.ts) starts afresh. */
  start(): void {
    this.stopped = false;
    this.wake(0);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** Run a pass within `ms` (an earlier pending pass is kept). */
  wake(ms = 0): void {
    if (this.stopped) return;
    const at = Date.now() + ms;
    if (this.timer && this.timerAt <= at) return;
    clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      this.pass();
    }, ms);
    this.timer.unref();
  }

  /** Claims what is due, up to the concurrency bound, and starts those attempts; then sleeps until the next due row. */
  private pass(): void {
    if (this.stopped) return;
    const free = this.config.webhookConcurrency - this.inflight.size;
    let claimed: Array<{ delivery: DeliveryRow; webhook: WebhookRow }> = [];
    try {
      if (free > 0) {
        const now = Date.now();
        const lease = new Date(now + this.config.webhookTimeoutMs + LEASE_MARGIN_MS).toISOString();
        claimed = this.store.write(() => this.store.webhooks.claimDue(new Date(now).toISOString(), free, lease, this.inflight));
      }
      this.purge();
    } catch (e) {
      log.error({ event: 'webhook_claim_failed', err: errField(e) }, 'claiming webhook deliveries failed; will retry');
    }
    for (const c of claimed) {
      this.inflight.add(c.delivery.id);
      void this.attempt(c.delivery, c.webhook).finally(() => {
        this.inflight.delete(c.delivery.id);
        this.wake(0);
      });
    }
    // Next pass: when the next row comes due, at the latest after the poll interval (rows other processes wrote,
    // leases that ran out).
    let nextMs = this.config.webhookPollMs;
    try {
      const due = this.store.webhooks.nextDueAt();
      if (due !== undefined) nextMs = Math.min(nextMs, Math.max(0, Date.parse(due) - Date.now()));
    } catch {
      /* the poll interval then */
    }
    // With every slot taken, finishing attempts wake the worker; otherwise sleep until the next row is due.
    this.wake(this.inflight.size >= this.config.webhookConcurrency ? this.config.webhookPollMs : Math.max(nextMs, 10));
  }

  private purge(): void {
    const now = Date.now();
    if (now - this.lastPurge < PURGE_EVERY_MS || this.config.webhookRetentionMs === 0) return;
    this.lastPurge = now;
    const before = new Date(now - this.config.webhookRetentionMs).toISOString();
    this.store.write(() => this.store.webhooks.purgeFinished(before, PURGE_BATCH));
  }

  private async attempt(d: DeliveryRow, w: WebhookRow): Promise<void> {
    let outcome: AttemptOutcome;
    try {
      const body = JSON.stringify({ event: d.eventType, timestamp: d.createdAt, data: this.hooks.renderData(d, this.views) });
      const headers = signatureHeaders(w.secret, d.id, Math.floor(Date.now() / 1000), body);
      outcome = await postOnce(w.url, body, headers, {
        timeoutMs: this.config.webhookTimeoutMs,
        maxResponseBytes: this.config.webhookMaxResponseBytes,
        allowPrivate: this.config.webhookAllowPrivate,
      });
    } catch (e) {
      outcome = { ok: false, statusCode: null, error: (e as Error).message };
    }
    this.stats.attempts++;
    // Stopped meanwhile (shutdown): the database may be closed; the lease runs out and the next start tries again.
    if (this.stopped) return;
    try {
      this.record(d, w, outcome);
    } catch (e) {
      // The lease runs out and the row is tried again: at-least-once holds.
      log.error({ event: 'webhook_record_failed', delivery_id: d.id, err: errField(e) }, 'recording a webhook attempt failed');
    }
  }

  private record(d: DeliveryRow, w: WebhookRow, o: AttemptOutcome): void {
    const now = Date.now();
    const nowIso = new Date(now).toISOString();
    const lastError = o.error === null ? null : o.error.slice(0, 500);
    let disabled = null as string | null;
    this.store.write(() => {
      const repo = this.store.webhooks;
      const cur = repo.get(w.id);
      if (o.ok) {
        repo.recordAttempt(d.id, { status: 'delivered', lastStatusCode: o.statusCode, lastError: null, nextAttemptAt: nowIso, deliveredAt: nowIso });
        if (cur?.failingSince) repo.update(w.id, { failingSince: null });
        return;
      }
      const fresh = repo.delivery(d.id);
      const attempt = (fresh?.attempts ?? d.attempts) + 1;
      const giveUp = now >= Date.parse(d.giveUpAt);
      const delay = backoffMs(attempt, this.config.webhookRetryBaseMs, this.config.webhookRetryMaxMs);
      repo.recordAttempt(d.id, {
        status: giveUp ? 'failed' : 'pending',
        lastStatusCode: o.statusCode,
        lastError,
        nextAttemptAt: new Date(now + delay).toISOString(),
        deliveredAt: null,
      });
      if (!cur || !cur.active) return;
      // A streak starts where the failing delivery's retry window started (its creation, or its redelivery), so the
      // delivery giving up and its endpoint being disabled coincide.
      const since = cur.failingSince ?? new Date(Math.min(now, Date.parse(d.giveUpAt) - this.config.webhookRetryPeriodMs)).toISOString();
      if (!cur.failingSince) repo.update(w.id, { failingSince: since });
      if (now - Date.parse(since) >= this.config.webhookRetryPeriodMs) {
        disabled = `every delivery attempt since ${since} failed (the retry period is ${this.config.webhookRetryPeriodMs} ms); last: ${lastError ?? `HTTP ${o.statusCode}`}`;
        repo.disable(w.id, nowIso, disabled);
      }
    });
    if (o.ok) this.stats.delivered++;
    else this.stats.failedAttempts++;
    if (disabled !== null) {
      this.stats.disabled++;
      this.hooks.invalidate();
      log.warn({ event: 'webhook_disabled', webhook_id: w.id, tenant_id: w.tenantId, url: w.url, reason: disabled }, `webhook ${w.id} disabled: ${disabled}`);
    }
  }
}

/** Full jitter: uniform in [0, min(max, base · 2^(attempt−1))). */
export function backoffMs(attempt: number, baseMs: number, maxMs: number): number {
  const cap = Math.min(maxMs, baseMs * 2 ** Math.min(attempt - 1, 30));
  return Math.floor(Math.random() * cap);
}

/**
 * One POST. 2xx is success; anything else (a redirect included: never followed), a refused address, a timeout or a
 * network error is a failed attempt. At most `maxResponseBytes` of the answer are read; the rest is dropped.
 */
export function postOnce(
  url: string,
  body: string,
  signed: Record<string, string>,
  o: { timeoutMs: number; maxResponseBytes: number; allowPrivate: boolean },
): Promise<AttemptOutcome> {
  return new Promise((resolve) => {
    let u: URL;
    try {
      u = parseWebhookUrl(url);
      checkLiteralAtDelivery(u, o.allowPrivate);
    } catch (e) {
      resolve({ ok: false, statusCode: null, error: (e as Error).message });
      return;
    }
    let settled = false;
    const done = (r: AttemptOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      req.destroy();
      resolve(r);
    };
    const mod = u.protocol === 'https:' ? https : http;
    const req = mod.request(u, {
      method: 'POST',
      agent: false,
      lookup: guardedLookup(o.allowPrivate) as never,
      headers: {
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(body)),
        'user-agent': 'proofstream-webhooks',
        ...signed,
      },
    });
    const deadline = setTimeout(() => done({ ok: false, statusCode: null, error: `timeout after ${o.timeoutMs} ms` }), o.timeoutMs);
    req.on('error', (e) => done({ ok: false, statusCode: null, error: `${(e as NodeJS.ErrnoException).code ?? 'error'}: ${e.message}` }));
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      const ok = status >= 200 && status < 300;
      let read = 0;
      const head: Buffer[] = [];
      const finish = () => {
        const snippet = Buffer.concat(head).toString('utf8').slice(0, 200).trim();
        const error = ok
          ? null
          : status >= 300 && status < 400
            ? `HTTP ${status}: redirect to ${String(res.headers.location ?? '?').slice(0, 200)} not followed`
            : `HTTP ${status}${snippet ? `: ${snippet}` : ''}`;
        done({ ok, statusCode: status, error });
      };
      res.on('data', (chunk: Buffer) => {
        read += chunk.length;
        if (head.length < 4) head.push(chunk.subarray(0, 256));
        if (read >= o.maxResponseBytes) finish(); // enough: the status decides, the rest is dropped
      });
      res.on('end', finish);
      res.on('error', finish);
      res.on('aborted', finish);
    });
    req.end(body);
  });
}
