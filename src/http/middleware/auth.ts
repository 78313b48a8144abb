// Bearer system keys: missing/unknown/revoked/expired → 401 (an expired key is told so), known but lacking the scope → 403. Failed attempts are
// rate-limited per client address, so keys cannot be guessed at line speed; a 403 is charged to the key like any of
// its requests. Both answers carry the rate-limit fields of the bucket they were charged to.
import type { Context } from 'hono';
import { createMiddleware } from 'hono/factory';
import { ApiError } from '../../ledger/errors.js';
import type { Principal, Scope, Tenancy } from '../../ledger/tenancy.js';
import type { AppEnv } from '../env.js';
import { clientAddress, setRateHeaders, type KeyRateLimiter } from './rate-limit.js';

const BEARER = /^Bearer\s+(\S+)\s*$/i;

/**
 * The caller's principal, or a thrown 401/403 (the same checks as authMiddleware, for the fused append routes). A null
 * scope asks only for a valid key (GET /v2/me: any key may see itself).
 */
export function authenticateRequest(c: Context<AppEnv>, tenancy: Tenancy, limiter: KeyRateLimiter, scope: Scope | null): Principal {
  const h = c.req.header('authorization');
  const m = h ? BEARER.exec(h) : null;
  const principal = m ? tenancy.authenticate(m[1]!) : undefined;
  if (!principal) {
    setRateHeaders(c, limiter.failedAuth.take(c, `addr:${clientAddress(c)}`, null));
    if (!m) throw new ApiError('AUTHENTICATION_FAILED', 'missing Authorization: Bearer <system key>');
    const why = tenancy.refusal(m[1]!);
    throw new ApiError(
      'AUTHENTICATION_FAILED',
      why.reason === 'expired' ? `this system key expired at ${why.expiresAt}` : 'invalid or revoked system key',
    );
  }
  if (scope !== null && !principal.scopes.has(scope)) {
    const charged = limiter.take(c, principal);
    if (charged) setRateHeaders(c, charged);
    throw new ApiError('AUTHORIZATION_FAILED', `this key lacks the scope "${scope}"`, { required_scope: scope });
  }
  return principal;
}

export const authMiddleware = (tenancy: Tenancy, limiter: KeyRateLimiter) => (scope: Scope | null) =>
  createMiddleware<AppEnv>(async (c, next) => {
    c.set('principal', authenticateRequest(c, tenancy, limiter, scope));
    await next();
  });
