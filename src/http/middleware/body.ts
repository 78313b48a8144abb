// Read a JSON body once, within a size limit, with precise errors: 413 too large, 415 not JSON, 400 not parseable.
// The body is read as text and parsed exactly once; every later c.req.json() (the idempotency fingerprint, the
// route's zod validator, the batch size check) gets that same parsed value instead of parsing the text again.
//
// Why not hono/body-limit: it touches c.req.raw.body, which makes @hono/node-server materialize a full WHATWG
// Request (undici Request, ReadableStream, AbortSignal) for every request, about a tenth of the server's CPU under
// append load. With a Content-Length (what every ordinary client sends) the limit is decided from the header and
// the body read through node-server's direct path; only chunked bodies are streamed and counted.
import type { Context } from 'hono';
import { createMiddleware } from 'hono/factory';
import { ApiError } from '../../ledger/errors.js';
import type { AppEnv } from '../env.js';

const JSON_TYPE = /^application\/(?:[a-z0-9.+-]+\+)?json\s*(?:;.*)?$/i;
const decoder = new TextDecoder();

const tooLarge = (maxBytes: number) =>
  new ApiError('PAYLOAD_TOO_LARGE', `request body exceeds ${maxBytes} bytes`, { limit_bytes: maxBytes });

/** The body as text, refusing more than maxBytes. Not async on the common path: one promise less per request. */
function readText(c: Context<AppEnv>, maxBytes: number): Promise<string> {
  const length = c.req.header('content-length');
  if (length !== undefined && c.req.header('transfer-encoding') === undefined) {
    // The HTTP parser delivers exactly Content-Length bytes, so the header decides the limit.
    if (parseInt(length, 10) > maxBytes) throw tooLarge(maxBytes);
    return c.req.text();
  }
  return readStreamed(c, maxBytes);
}

/** A body without Content-Length (chunked): streamed and counted. */
async function readStreamed(c: Context<AppEnv>, maxBytes: number): Promise<string> {
  const body = c.req.raw.body;
  if (!body) return '';
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
  const text = decoder.decode(Buffer.concat(chunks));
  // what hono keeps there at run time is the promise (its type says string)
  (c.req.bodyCache as Record<string, unknown>).text = Promise.resolve(text);
  return text;
}

/** The body parsed as JSON, with the errors in their order: 413 too large, 415 not JSON, 400 not parseable. */
export async function readJson(c: Context<AppEnv>, maxBytes: number): Promise<unknown> {
  const text = await readText(c, maxBytes);
  const ct = c.req.header('content-type');
  if (!ct || !JSON_TYPE.test(ct)) {
    throw new ApiError('UNSUPPORTED_MEDIA_TYPE', 'send Content-Type: application/json', { content_type: ct ?? null });
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ApiError('MALFORMED_JSON', `request body is not valid JSON: ${(e as Error).message}`);
  }
}

export const jsonBody = (maxBytes: number) =>
  createMiddleware<AppEnv>(async (c, next) => {
    const parsed = await readJson(c, maxBytes);
    // Hono's own json() re-parses the cached text on every call; hand out the one parse instead. Nothing mutates
    // it: the validator builds new objects, the fingerprint and size checks only read.
    const json = Promise.resolve(parsed);
    c.req.json = (() => json) as typeof c.req.json;
    await next();
  });
