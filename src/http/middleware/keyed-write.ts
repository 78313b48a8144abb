// The append routes' whole middleware chain as one handler: request id → auth → rate limit → body → idempotency →
// the route (param and body validation, the append). Same checks, same order, same errors and the same response
// bytes as the chain of separate middlewares (requestId, authMiddleware, rateLimit, jsonBody, idempotencyMiddleware,
// the zod-openapi validators) that every other write route uses; what it saves is per request: six compose steps
// and their promises, the validators' async zod parse, the `c.set` map, and the WHATWG Headers object the request-id
// header otherwise lives in until it is copied out again for node's writeHead.
//
// It must be registered before the global request-id middleware (see app.ts): it answers without calling next(),
// so that middleware never runs on these routes, and it does the request id's work itself.
import type { Context, Handler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { z } from '@hono/zod-openapi';
import type { IdempotencyWrite } from '../../ledger/appender.js';
import type { GateDecision, IdempotencyGate } from '../../ledger/idempotency.js';
import { newId } from '../../ledger/ids.js';
import type { Principal, Scope, Tenancy } from '../../ledger/tenancy.js';
import type { AppEnv } from '../env.js';
import { validationHook } from '../errors.js';
import { authenticateRequest } from './auth.js';
import { readJson } from './body.js';
import { fingerprintOf, idempotencyKeyOf } from './idempotency.js';
import { addRateHeaders, setRateHeaders, type KeyRateLimiter, type RateState } from './rate-limit.js';

export interface KeyedWriteDeps {
  tenancy: Tenancy;
  limiter: KeyRateLimiter;
  gate: IdempotencyGate;
  idempotencyTtlMs: number;
  /** the ingestion rule's nesting limit for payloads (body.ts readJson) */
  maxJsonDepth?: number;
}

/** What the chain hands the route: what the separate middlewares would have left on the context. */
export interface KeyedWrite {
  principal: Principal;
  /** the parsed body (what c.req.json() returns after jsonBody) */
  body: unknown;
  idem: IdempotencyWrite;
}

export type KeyedWriteRoute = (
  c: Context<AppEnv>,
  w: KeyedWrite,
) => Promise<{ status: number; bodyText: string }> | { status: number; bodyText: string };

// hono/request-id with the options app.ts gives it (header X-Request-Id, at most 255 characters, newId('req')).
const REQUEST_ID_LIMIT = 255;
const REQUEST_ID_INVALID = /[^\w\-=]/;

/** One handler doing the whole chain for a route whose body is JSON and whose Idempotency-Key is required. */
export function keyedWrite(d: KeyedWriteDeps, scope: Scope, maxBytes: number, route: KeyedWriteRoute): Handler<AppEnv> {
  const { tenancy, limiter, gate, idempotencyTtlMs: ttlMs, maxJsonDepth } = d;
  return async (c) => {
    let reqId = c.req.header('X-Request-Id');
    if (!reqId || reqId.length > REQUEST_ID_LIMIT || REQUEST_ID_INVALID.test(reqId)) reqId = newId('req');
    let release: (() => void) | undefined;
    let rate: RateState | undefined;
    try {
      const principal = authenticateRequest(c, tenancy, limiter, scope);
      c.set('principal', principal); // for the access line (tenant and key id)
      rate = limiter.take(c, principal);
      const body = await readJson(c, maxBytes, maxJsonDepth);
      const key = idempotencyKeyOf(c, true)!;
      const fingerprint = fingerprintOf(c, body);
      const entered = gate.enter(principal.tenantId, key, fingerprint);
      const decision: GateDecision = entered instanceof Promise ? await entered : entered;
      if (decision.kind === 'replay') return respond(decision.status, decision.bodyText, reqId, true, rate);
      release = decision.release;
      const r = await route(c, { principal, body, idem: { tenantId: principal.tenantId, key, fingerprint, ttlMs } });
      return respond(r.status, r.bodyText, reqId, false, rate);
    } catch (e) {
      // onError renders the envelope from here, as it would after the request-id middleware had run.
      c.set('requestId', reqId);
      c.header('X-Request-Id', reqId);
      if (rate) setRateHeaders(c, rate);
      throw e;
    } finally {
      release?.();
    }
  };
}

/**
 * The response exactly as c.body(text, status, {Content-Type, [Idempotent-Replayed]}) after the request-id
 * middleware's c.header('X-Request-Id') puts it on the wire: header names lowercased and sorted (the order a WHATWG
 * Headers object iterates in, which @hono/node-server copies into writeHead), then the Content-Length it adds. Given
 * as a plain record, node-server hands it to writeHead as is.
 */
function respond(status: number, text: string, reqId: string, replayed: boolean, rate: RateState | undefined): Response {
  const length = String(Buffer.byteLength(text));
  const headers: Record<string, string> = replayed
    ? { 'content-type': 'application/json', 'idempotent-replayed': 'true' }
    : { 'content-type': 'application/json' };
  if (rate) addRateHeaders(headers, rate); // ratelimit…, x-ratelimit-…: between those and x-request-id in sorted order
  headers['x-request-id'] = reqId;
  headers['Content-Length'] = length;
  return new Response(text, { status, headers });
}

// ---- the route validators, as @hono/zod-openapi runs them for a required application/json body -----------------

/** A param/json value through its schema; failures go through the app's validation hook (it throws). */
export function validated<T extends z.ZodType>(schema: T, value: unknown, target: 'param' | 'json'): z.output<T> {
  const r = schema.safeParse(value);
  if (!r.success) validationHook({ success: false, error: r.error, target });
  return r.data as z.output<T>;
}

// @hono/zod-openapi's media-type gate for a route declaring application/json.
const GATE_JSON = /^application\/([a-z-\.]+\+)?json(;\s*[a-zA-Z0-9\-]+\=([^;]+))*$/i; // verbatim
// hono/validator's check before it reads a json body (on the media type: the part before ';', trimmed, lowercased).
const VALIDATOR_JSON = /^application\/([\w.-]+\+)?json$/i;

/**
 * The body the json validator would validate: the media-type gate's 415 first, then the parsed body, or `{}` when
 * hono's validator does not take the media type for JSON. The body was read already, so Content-Type is present.
 */
export function jsonForValidation(c: Context<AppEnv>, body: unknown): unknown {
  const ct = c.req.header('content-type') ?? '';
  if (ct === 'application/json') return body; // what nearly every client sends: both checks pass
  if (!GATE_JSON.test(ct)) throw new HTTPException(415, { message: 'Unsupported Media Type' });
  return VALIDATOR_JSON.test(ct.split(';')[0]!.trim().toLowerCase()) ? body : {};
}
