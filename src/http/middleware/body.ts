// Read a JSON body once, within a size limit, with precise errors: 413 too large, 415 not JSON, 400 not parseable,
// then the ingestion rule (docs/api.md, "Ingestion rule"): only what RFC 8785 JCS represents exactly is accepted,
// so nothing is stored that a read path, an audit pack or the verifier cannot serve as it was sent.
// The body is read as bytes, decoded as strict UTF-8 and parsed exactly once; every later c.req.json() (the
// idempotency fingerprint, the route's zod validator, the batch size check) gets that same parsed value instead of
// parsing the text again.
//
// Why not hono/body-limit: it touches c.req.raw.body, which makes @hono/node-server materialize a full WHATWG
// Request (undici Request, ReadableStream, AbortSignal) for every request, about a tenth of the server's CPU under
// append load. With a Content-Length (what every ordinary client sends) the limit is decided from the header and
// the body read through node-server's direct path; only chunked bodies are streamed and counted.
import type { Context } from 'hono';
import { createMiddleware } from 'hono/factory';
import { ApiError } from '../../ledger/errors.js';
import {
  decodeUtf8Strict,
  jsonDepth,
  MAX_JSON_DEPTH_DEFAULT,
  parseStrictJson,
  StrictJsonError,
  tooDeepPointer,
} from '../../protocol/strict-json.js';
import type { AppEnv } from '../env.js';

const JSON_TYPE = /^application\/(?:[a-z0-9.+-]+\+)?json\s*(?:;.*)?$/i;

/**
 * How many levels the whole body may nest beyond the payload and metadata limit: room for the envelopes around them
 * (a batch item's payload opens level 4; in a bundle sent to POST /v2/verify a v1 payload, one level inside its v1
 * wrapper, opens level 6).
 */
export const BODY_ENVELOPE_DEPTH = 8;

const tooLarge = (maxBytes: number) =>
  new ApiError('PAYLOAD_TOO_LARGE', `request body exceeds ${maxBytes} bytes`, { limit_bytes: maxBytes });

/**
 * The body's bytes, refusing more than maxBytes. Not async on the common path: one promise less per request.
 * Bytes, not c.req.text(): that decodes invalid UTF-8 to U+FFFD, and the replaced text would be committed.
 */
export function readBytes(c: Context<AppEnv>, maxBytes: number): Promise<ArrayBuffer | Uint8Array> {
  const length = c.req.header('content-length');
  if (length !== undefined && c.req.header('transfer-encoding') === undefined) {
    // The HTTP parser delivers exactly Content-Length bytes, so the header decides the limit.
    if (parseInt(length, 10) > maxBytes) throw tooLarge(maxBytes);
    return c.req.arrayBuffer();
  }
  return readStreamed(c, maxBytes);
}

/** A body without Content-Length (chunked): streamed and counted. */
async function readStreamed(c: Context<AppEnv>, maxBytes: number): Promise<Uint8Array> {
  const body = c.req.raw.body;
  if (!body) return new Uint8Array(0);
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > maxBytes) {
      void reader.cancel().catch(() => {});
      throw tooLarge(maxBytes);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

/**
 * The body parsed as JSON under the ingestion rule, with the errors in their order: 413 too large, 415 not JSON,
 * 400 MALFORMED_JSON (not UTF-8, not JSON) or JSON_TOO_DEEP, then 422 NOT_CANONICALIZABLE (lone surrogate, a
 * number that would change), DUPLICATE_KEY or FORBIDDEN_KEY (`__proto__`); each names `details.path`.
 * maxDepth bounds payloads and metadata; the whole body may nest BODY_ENVELOPE_DEPTH levels more.
 */
export async function readJson(c: Context<AppEnv>, maxBytes: number, maxDepth = MAX_JSON_DEPTH_DEFAULT): Promise<unknown> {
  const bytes = await readBytes(c, maxBytes);
  const ct = c.req.header('content-type');
  if (!ct || !JSON_TYPE.test(ct)) {
    throw new ApiError('UNSUPPORTED_MEDIA_TYPE', 'send Content-Type: application/json', { content_type: ct ?? null });
  }
  let value: unknown;
  const info = { depth: 0 };
  try {
    const text = decodeUtf8Strict(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes));
    value = parseStrictJson(text, { maxDepth: maxDepth + BODY_ENVELOPE_DEPTH, wellFormed: true }, info);
  } catch (e) {
    if (e instanceof StrictJsonError) throw ingestError(e, maxDepth + BODY_ENVELOPE_DEPTH);
    throw e;
  }
  // A body no deeper than maxDepth + 1 cannot hold a member value deeper than maxDepth: the usual case, no walk.
  if (info.depth > maxDepth + 1) checkValueDepths(value, maxDepth);
  return value;
}

/** Refusal details; in a batch (`/events/i/…`) also `index`, naming the item as every batch refusal does. */
function refusalDetails(reason: string, path: string | null, offset: number | null, extra: object = {}) {
  const item = path === null ? null : /^\/events\/(\d+)(?:\/|$)/.exec(path);
  return { reason, path, offset, ...extra, ...(item ? { index: Number(item[1]) } : {}) };
}

function ingestError(e: StrictJsonError, limit: number): ApiError {
  const details = refusalDetails(e.reason, e.path, e.offset);
  switch (e.reason) {
    case 'invalid_utf8':
    case 'syntax':
      return new ApiError('MALFORMED_JSON', `request body is ${e.message}`, details);
    case 'too_deep':
      return new ApiError('JSON_TOO_DEEP', `request body ${e.message.replace(/^JSON /, '')}`, refusalDetails(e.reason, e.path, e.offset, { limit }));
    case 'lone_surrogate':
    case 'inexact_number':
    case 'unsafe_integer':
      return new ApiError('NOT_CANONICALIZABLE', `request body cannot be stored exactly: ${e.message}`, details);
    case 'duplicate_key':
      return new ApiError('DUPLICATE_KEY', `request body has a ${e.message}`, details);
    case 'proto_key':
      return new ApiError('FORBIDDEN_KEY', `request body: ${e.message}`, details);
  }
}

/**
 * The values the ledger commits to and serves back (payloads, stream metadata) nest at most maxDepth levels, wherever
 * they sit in the body: `/payload` (single appends, v1 too), `/metadata` (streams), `/events/i/payload` (batches).
 */
function checkValueDepths(body: unknown, maxDepth: number): void {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return;
  const b = body as Record<string, unknown>;
  checkDepth(b.payload, '/payload', maxDepth);
  checkDepth(b.metadata, '/metadata', maxDepth);
  const events = b.events;
  if (Array.isArray(events)) {
    for (let i = 0; i < events.length; i++) {
      const e = events[i];
      if (typeof e === 'object' && e !== null) checkDepth((e as Record<string, unknown>).payload, `/events/${i}/payload`, maxDepth);
    }
  }
}

function checkDepth(v: unknown, at: string, maxDepth: number): void {
  // Measured without paths (no allocation per value); the pointer only when refusing.
  if (typeof v !== 'object' || v === null || jsonDepth(v) <= maxDepth) return;
  const p = tooDeepPointer(v, maxDepth);
  if (p !== null) {
    throw new ApiError('JSON_TOO_DEEP', `${at} nests deeper than ${maxDepth} levels`, refusalDetails('too_deep', at + p, null, { limit: maxDepth }));
  }
}

export const jsonBody = (maxBytes: number, maxDepth = MAX_JSON_DEPTH_DEFAULT) =>
  createMiddleware<AppEnv>(async (c, next) => {
    const parsed = await readJson(c, maxBytes, maxDepth);
    // Hono's own json() re-parses the cached text on every call; hand out the one parse instead. Nothing mutates
    // it: the validator builds new objects, the fingerprint and size checks only read.
    const json = Promise.resolve(parsed);
    c.req.json = (() => json) as typeof c.req.json;
    await next();
  });
