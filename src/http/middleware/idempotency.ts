// Idempotency-Key on write routes: replay the original answer, refuse a changed body (409), and wait for an
// in-flight original rather than run twice. The record itself is written by the route's own transaction.
import type { Context } from 'hono';
import { createMiddleware } from 'hono/factory';
import { ApiError } from '../../ledger/errors.js';
import { MAX_IDEMPOTENCY_KEY_LENGTH, requestFingerprint, type IdempotencyGate } from '../../ledger/idempotency.js';
import type { AppEnv } from '../env.js';

/** The request's Idempotency-Key: undefined when absent and not required; 400 when required and absent, or invalid. */
export function idempotencyKeyOf(c: Context<AppEnv>, required: boolean): string | undefined {
  const key = c.req.header('idempotency-key');
  if (key === undefined) {
    if (required) throw new ApiError('IDEMPOTENCY_KEY_REQUIRED', 'this route requires an Idempotency-Key header');
    return undefined;
  }
  if (key.length === 0 || key.length > MAX_IDEMPOTENCY_KEY_LENGTH) {
    throw new ApiError('IDEMPOTENCY_KEY_INVALID', `Idempotency-Key must be 1–${MAX_IDEMPOTENCY_KEY_LENGTH} characters`, {
      length: key.length,
    });
  }
  return key;
}

/** The request's fingerprint; a body JCS cannot represent is 422 NOT_CANONICALIZABLE naming where. */
export function fingerprintOf(c: Context<AppEnv>, body: unknown): string {
  try {
    return requestFingerprint(c.req.method, c.req.path, body);
  } catch (e) {
    const at = (e as { path?: string }).path;
    throw new ApiError('NOT_CANONICALIZABLE', `request body cannot be canonicalized (RFC 8785): ${(e as Error).message}`, {
      path: at ?? null,
    });
  }
}

export const idempotencyMiddleware = (gate: IdempotencyGate, ttlMs: number) => (required: boolean) =>
  createMiddleware<AppEnv>(async (c, next) => {
    const key = idempotencyKeyOf(c, required);
    if (key === undefined) {
      c.set('idempotency', undefined);
      return next();
    }
    const { tenantId } = c.get('principal');
    const fingerprint = fingerprintOf(c, await c.req.json());
    const decision = await gate.enter(tenantId, key, fingerprint);
    if (decision.kind === 'replay') {
      return c.body(decision.bodyText, decision.status as 201, {
        'Content-Type': 'application/json',
        'Idempotent-Replayed': 'true',
      });
    }
    c.set('idempotency', { tenantId, key, fingerprint, ttlMs });
    try {
      await next();
    } finally {
      decision.release();
    }
  });
