import type { MiddlewareHandler } from 'hono';
import type { Ledger } from '../ledger/ledger.js';
import type { Scope } from '../ledger/tenancy.js';
import type { AppEnv } from './env.js';

/** What route modules get: the engine and the middleware factories bound to it. */
export interface Deps {
  ledger: Ledger;
  auth: (scope: Scope) => MiddlewareHandler<AppEnv>;
  idempotency: (required: boolean) => MiddlewareHandler<AppEnv>;
  body: (maxBytes: number) => MiddlewareHandler<AppEnv>;
  rateLimit: MiddlewareHandler<AppEnv>;
  /** per client address, for the routes without authentication */
  rateLimitByAddress: MiddlewareHandler<AppEnv>;
}
