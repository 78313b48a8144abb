// Token buckets: per API key for authenticated traffic and per client address for failed authentication (so key
// guessing is throttled too), off unless PROOFSTREAM_RATE_LIMIT_RPS is set; and, in their own buckets, per client
// address for the unauthenticated verify routes (so nobody can keep the verifier busy at line speed), on by default
// (PROOFSTREAM_VERIFY_RATE_LIMIT_RPS / _BURST; 0 turns it off).
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context } from 'hono';
import { createMiddleware } from 'hono/factory';
import { ApiError } from '../../ledger/errors.js';
import type { AppEnv } from '../env.js';

export class TokenBuckets {
  private readonly capacity: number;
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  constructor(
    readonly rps: number,
    burst: number,
  ) {
    this.capacity = Math.max(burst, rps);
  }

  get enabled(): boolean {
    return this.rps > 0;
  }

  /** Takes one token for `who`; throws 429 RATE_LIMITED (with Retry-After) when there is none. */
  take(c: Context, who: string): void {
    if (!this.enabled) return;
    const now = Date.now();
    const b = this.buckets.get(who) ?? { tokens: this.capacity, at: now };
    b.tokens = Math.min(this.capacity, b.tokens + ((now - b.at) / 1000) * this.rps);
    b.at = now;
    this.buckets.set(who, b);
    if (this.buckets.size > 100_000) this.sweep(now);
    if (b.tokens < 1) {
      const retryAfter = Math.ceil((1 - b.tokens) / this.rps);
      c.header('Retry-After', String(retryAfter));
      throw new ApiError('RATE_LIMITED', 'rate limit exceeded; back off and retry with the same Idempotency-Key', {
        retry_after_s: retryAfter,
      });
    }
    b.tokens -= 1;
  }

  /** Forget full buckets so a flood of distinct clients cannot grow the map without bound. */
  private sweep(now: number): void {
    for (const [k, b] of this.buckets) if (b.tokens + ((now - b.at) / 1000) * this.rps >= this.capacity) this.buckets.delete(k);
  }
}

/** The peer's address, for limits on unauthenticated traffic. */
export function clientAddress(c: Context): string {
  try {
    return getConnInfo(c).remote.address ?? 'unknown';
  } catch {
    return 'unknown'; // not running under the Node server (in-process tests)
  }
}

/** For routes without authentication: one bucket per client address, in the buckets given (app.ts: the verify routes' own). */
export const rateLimitByAddress = (buckets: TokenBuckets) =>
  createMiddleware<AppEnv>(async (c, next) => {
    buckets.take(c, `addr:${clientAddress(c)}`);
    await next();
  });

export const rateLimit = (buckets: TokenBuckets) =>
  createMiddleware<AppEnv>(async (c, next) => {
    buckets.take(c, `key:${c.get('principal').keyId}`);
    await next();
  });
