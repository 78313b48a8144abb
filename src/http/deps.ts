import type { MiddlewareHandler } from 'hono';
import type { RateSpec } from '../config.js';
import type { Ledger } from '../ledger/ledger.js';
import type { Scope } from '../ledger/tenancy.js';
import type { AppEnv } from './env.js';

/** What route modules get: the engine and the middleware factories bound to it. */
export interface Deps {
  ledger: Ledger;
  /** a valid key with `scope` (null: any valid key) */
  auth: (scope: Scope | null) => MiddlewareHandler<AppEnv>;
  idempotency: (required: boolean) => MiddlewareHandler<AppEnv>;
  body: (maxBytes: number) => MiddlewareHandler<AppEnv>;
  /** per key, by its tier (after auth) */
  rateLimit: MiddlewareHandler<AppEnv>;
  /**
   * per key for a route group with its own default for keys whose tier has no limit (`unlimited`), e.g. the CI/CD
   * routes' `rateLimitGroup('cicd', { requests: 100, windowS: 60, burst: 100 })`; keys with a tier keep their tier's
   * buckets. The same name shares the buckets across routes; call it once per name and reuse the middleware.
   */
  rateLimitGroup: (name: string, spec: RateSpec) => MiddlewareHandler<AppEnv>;
  /** per client address, for the routes without authentication */
  rateLimitByAddress: MiddlewareHandler<AppEnv>;
}
