// Bearer system keys: missing/unknown → 401, known but lacking the scope → 403.
import { createMiddleware } from 'hono/factory';
import { ApiError } from '../../ledger/errors.js';
import type { Scope, Tenancy } from '../../ledger/tenancy.js';
import type { AppEnv } from '../env.js';

export const authMiddleware = (tenancy: Tenancy) => (scope: Scope) =>
  createMiddleware<AppEnv>(async (c, next) => {
    const h = c.req.header('authorization');
    const m = h ? /^Bearer\s+(\S+)\s*$/i.exec(h) : null;
    if (!m) throw new ApiError('AUTHENTICATION_FAILED', 'missing Authorization: Bearer <system key>');
    const principal = tenancy.authenticate(m[1]!);
    if (!principal) throw new ApiError('AUTHENTICATION_FAILED', 'invalid or revoked system key');
    if (!principal.scopes.has(scope)) {
      throw new ApiError('AUTHORIZATION_FAILED', `this key lacks the scope "${scope}"`, { required_scope: scope });
    }
    c.set('principal', principal);
    await next();
  });
