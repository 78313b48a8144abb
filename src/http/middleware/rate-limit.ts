// Token bucket per API key (per client address before auth). Off unless PROOFSTREAM_RATE_LIMIT_RPS is set.
import { createMiddleware } from 'hono/factory';
import { ApiError } from '../../ledger/errors.js';
import type { AppEnv } from '../env.js';

export function rateLimit(rps: number, burst: number) {
  const capacity = Math.max(burst, rps);
  const buckets = new Map<string, { tokens: number; at: number }>();
  return createMiddleware<AppEnv>(async (c, next) => {
    if (rps <= 0) return next();
    const who = c.get('principal')?.keyId ?? 'anonymous';
    const now = Date.now();
    const b = buckets.get(who) ?? { tokens: capacity, at: now };
    b.tokens = Math.min(capacity, b.tokens + ((now - b.at) / 1000) * rps);
    b.at = now;
    buckets.set(who, b);
    if (b.tokens < 1) {
      const retryAfter = Math.ceil((1 - b.tokens) / rps);
      c.header('Retry-After', String(retryAfter));
      throw new ApiError('RATE_LIMITED', 'rate limit exceeded; back off and retry with the same Idempotency-Key', {
        retry_after_s: retryAfter,
      });
    }
    b.tokens -= 1;
    await next();
  });
}
