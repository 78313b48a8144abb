// One request with the SDK's retry rules. Browser-safe: fetch, AbortController, setTimeout, globalThis.crypto.
//
// Retried (exponential backoff with full jitter, never sooner than a Retry-After): network errors and timeouts,
// 429, 502, 503, 504, and 409 IDEMPOTENCY_IN_PROGRESS. Never: any other 4xx, 500 (INTEGRITY_ERROR and friends do
// not heal by asking again), 507. A write is retried only when it carries an Idempotency-Key, which stays the same
// across its attempts, so a retry after a lost answer replays the original instead of writing twice.
import { errorFromResponse, ProofstreamError } from './errors.js';

export interface RetryOptions {
  /** retries after the first attempt (default 5) */
  maxRetries?: number;
  /** first backoff ceiling in ms (default 200); attempt n waits a uniformly random 0..min(max, base·2^n) */
  baseDelayMs?: number;
  /** backoff ceiling in ms (default 10,000) */
  maxDelayMs?: number;
  /** a Retry-After longer than this (ms, default 60,000) is not waited for: the error is thrown instead */
  maxRetryAfterMs?: number;
}

export interface RetryInfo {
  method: string;
  path: string;
  /** 1 for the first retry */
  attempt: number;
  /** what will be waited before the retry, ms */
  delayMs: number;
  /** the error that caused it (status 0 for network errors and timeouts) */
  error: ProofstreamError;
  idempotencyKey: string | null;
}

export interface TransportOptions {
  baseUrl: string;
  apiKey?: string | undefined;
  fetch?: typeof fetch | undefined;
  /** per attempt, headers and body included (default 30,000 ms; 0 = none) */
  timeoutMs?: number | undefined;
  retry?: RetryOptions | undefined;
  headers?: Record<string, string> | undefined;
  /** called before every retry (logging, metrics, tests) */
  onRetry?: ((info: RetryInfo) => void) | undefined;
}

export interface RequestOptions {
  /** abort this call (all attempts and waits); the promise rejects with the signal's reason */
  signal?: AbortSignal | undefined;
  /** overrides the client's per-attempt timeout */
  timeoutMs?: number | undefined;
}

export interface Call extends RequestOptions {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE' | 'HEAD';
  path: string;
  query?: Record<string, string | number | undefined | null> | undefined;
  body?: unknown;
  /** sent as Idempotency-Key on every attempt; writes without one are not retried */
  idempotencyKey?: string | undefined;
  headers?: Record<string, string> | undefined;
  /** 'json' (default), 'text' (the body as sent, e.g. a pack byte for byte) or 'none' */
  responseType?: 'json' | 'text' | 'none';
  /** a POST that may be sent twice without harm (POST /v2/verify changes nothing; a redelivery is deduplicated by
   * its receiver): retried like a read, without an Idempotency-Key */
  repeatable?: boolean;
  /** statuses that are answers rather than errors for this call (e.g. 404 for "none yet") */
  okStatuses?: readonly number[];
}

export interface Answer<T> {
  status: number;
  headers: Headers;
  body: T;
}

const DEFAULTS = { maxRetries: 5, baseDelayMs: 200, maxDelayMs: 10_000, maxRetryAfterMs: 60_000 };

/** A fresh Idempotency-Key for one logical write (WebCrypto: present in browsers and Node ≥ 19). */
export function newIdempotencyKey(): string {
  return globalThis.crypto.randomUUID();
}

/** Whether an error is worth another attempt (see the header comment). */
export function isRetryable(e: ProofstreamError): boolean {
  if (e.status === 0) return e.code === 'NETWORK_ERROR' || e.code === 'TIMEOUT';
  if (e.status === 429 || e.status === 502 || e.status === 503 || e.status === 504) return true;
  return e.status === 409 && e.code === 'IDEMPOTENCY_IN_PROGRESS';
}

/** Waits ms, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export class Transport {
  readonly baseUrl: string;
  private readonly fetchFn: typeof fetch;
  private readonly retry: Required<RetryOptions>;

  constructor(readonly opts: TransportOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    // Bound to globalThis: browsers refuse a fetch called with another `this`.
    this.fetchFn = opts.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.retry = { ...DEFAULTS, ...stripUndefined(opts.retry ?? {}) };
  }

  url(path: string, query?: Call['query']): string {
    let u = this.baseUrl + path;
    if (query) {
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null) q.set(k, String(v));
      const s = q.toString();
      if (s) u += '?' + s;
    }
    return u;
  }

  headers(extra?: Record<string, string>): Record<string, string> {
    const h: Record<string, string> = { ...this.opts.headers, ...extra };
    if (this.opts.apiKey) h.authorization = `Bearer ${this.opts.apiKey}`;
    return h;
  }

  /** The delay before retry number `attempt` (1-based): full jitter, and never sooner than Retry-After. */
  delayFor(attempt: number, e: ProofstreamError): number {
    const ceiling = Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** (attempt - 1));
    const jitter = Math.random() * ceiling;
    return e.retryAfterMs !== null ? Math.max(e.retryAfterMs, jitter) : jitter;
  }

  async request<T>(call: Call): Promise<Answer<T>> {
    const { signal } = call;
    const writes = call.method === 'POST' || call.method === 'PATCH';
    // A write without an Idempotency-Key might be applied twice: only reads, DELETE and keyed writes are retried.
    const retryable = !writes || call.idempotencyKey !== undefined || call.repeatable === true;
    for (let attempt = 0; ; attempt++) {
      let err: ProofstreamError;
      try {
        return await this.once<T>(call);
      } catch (e) {
        if (!(e instanceof ProofstreamError)) throw e; // the caller's abort, or a bug
        err = e;
      }
      if (!retryable || !isRetryable(err) || attempt >= this.retry.maxRetries) throw err;
      if (err.retryAfterMs !== null && err.retryAfterMs > this.retry.maxRetryAfterMs) throw err;
      const delayMs = this.delayFor(attempt + 1, err);
      this.opts.onRetry?.({ method: call.method, path: call.path, attempt: attempt + 1, delayMs, error: err, idempotencyKey: call.idempotencyKey ?? null });
      await sleep(delayMs, signal);
    }
  }

  /** One attempt: resolves with a 2xx (or okStatuses) answer, rejects with a ProofstreamError or the caller's abort reason. */
  private async once<T>(call: Call): Promise<Answer<T>> {
    const { signal } = call;
    signal?.throwIfAborted();
    const timeoutMs = call.timeoutMs ?? this.opts.timeoutMs ?? 30_000;
    const ac = new AbortController();
    let timedOut = false;
    const timer = timeoutMs > 0 ? setTimeout(() => ((timedOut = true), ac.abort()), timeoutMs) : undefined;
    const onAbort = () => ac.abort(signal!.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const headers = this.headers(call.headers);
      headers.accept ??= 'application/json';
      let body: string | undefined;
      if (call.body !== undefined) {
        body = JSON.stringify(call.body);
        headers['content-type'] = 'application/json';
      }
      if (call.idempotencyKey !== undefined) headers['idempotency-key'] = call.idempotencyKey;
      let res: Response;
      let text: string;
      try {
        res = await this.fetchFn(this.url(call.path, call.query), { method: call.method, headers, body, signal: ac.signal });
        text = call.method === 'HEAD' ? '' : await res.text();
      } catch (e) {
        if (signal?.aborted) throw signal.reason;
        if (timedOut) {
          throw new ProofstreamError({ status: 0, code: 'TIMEOUT', message: `${call.method} ${call.path}: no complete answer within ${timeoutMs} ms`, cause: e });
        }
        throw new ProofstreamError({ status: 0, code: 'NETWORK_ERROR', message: `${call.method} ${call.path}: ${(e as Error)?.message ?? e}`, cause: e });
      }
      if (!res.ok && !call.okStatuses?.includes(res.status)) throw errorFromResponse(res.status, text, res.headers);
      const type = call.responseType ?? 'json';
      if (type === 'none' || res.status === 204) return { status: res.status, headers: res.headers, body: undefined as T };
      if (type === 'text') return { status: res.status, headers: res.headers, body: text as T };
      try {
        return { status: res.status, headers: res.headers, body: JSON.parse(text) as T };
      } catch (e) {
        throw new ProofstreamError({
          status: res.status,
          code: 'BAD_RESPONSE',
          message: `${call.method} ${call.path}: the answer is not JSON`,
          request_id: res.headers.get('x-request-id'),
          cause: e,
        });
      }
    } finally {
      if (timer !== undefined) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
