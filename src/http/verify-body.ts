// The main-thread half of a verify request: admission, then the raw body bytes, then the worker's answer. The body
// is never decoded or parsed here (a 60 MiB JSON.parse blocks this thread for seconds; 30 million `[` for ~20 s):
// it is read into one ArrayBuffer of exactly its size and transferred to a worker (src/http/verify-pool.ts).
import type { IncomingMessage } from 'node:http';
import type { Context } from 'hono';
import { ApiError } from '../ledger/errors.js';
import type { AppEnv } from './env.js';
import { jsonText } from './reply.js';
import { VERIFY_RETRY_AFTER_S, type Admission, type VerifyPool } from './verify-pool.js';
import type { VerifyJob } from './verify-worker.js';

const JSON_TYPE = /^application\/(?:[a-z0-9.+-]+\+)?json\s*(?:;.*)?$/i;

const tooLarge = (maxBytes: number) => new ApiError('PAYLOAD_TOO_LARGE', `request body exceeds ${maxBytes} bytes`, { limit_bytes: maxBytes });

/**
 * The body into one exactly-sized ArrayBuffer, refusing more than maxBytes. With a Content-Length the buffer is
 * allocated once; a chunked body grows by doubling and reserves its bytes in the pool's budget as they arrive.
 */
function readRaw(c: Context<AppEnv>, admission: Admission, declared: number | undefined, maxBytes: number): Promise<{ body: ArrayBuffer; length: number }> {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  if (!incoming) return readViaFetchBody(c, admission, maxBytes);
  return new Promise((resolve, reject) => {
    let buf = new Uint8Array(new ArrayBuffer(declared ?? Math.min(maxBytes, 64 * 1024)));
    let length = 0;
    const done = (e?: unknown) => {
      incoming.off('data', onData);
      incoming.off('end', onEnd);
      incoming.off('error', onError);
      incoming.off('close', onClose);
      // Whatever is left of a refused body is node-server's to drain (bounded) or to close.
      if (e) {
        incoming.pause();
        reject(e);
      }
    };
    const onData = (chunk: Buffer) => {
      try {
        const need = length + chunk.length;
        if (need > maxBytes) throw tooLarge(maxBytes);
        if (declared === undefined) admission.grow(chunk.length);
        else if (need > declared) throw new ApiError('MALFORMED_JSON', 'request body is longer than its Content-Length');
        if (need > buf.length) {
          const bigger = new Uint8Array(new ArrayBuffer(Math.min(maxBytes, Math.max(need, buf.length * 2))));
          bigger.set(buf.subarray(0, length));
          buf = bigger;
        }
        buf.set(chunk, length);
        length = need;
      } catch (e) {
        done(e);
      }
    };
    const onEnd = () => {
      done();
      resolve({ body: buf.buffer as ArrayBuffer, length });
    };
    const onError = (e: Error) => done(new ApiError('MALFORMED_JSON', `request body could not be read: ${e.message}`));
    const onClose = () => {
      if (!incoming.readableEnded) done(new ApiError('MALFORMED_JSON', 'the client closed the connection before the body ended'));
    };
    incoming.on('data', onData);
    incoming.on('end', onEnd);
    incoming.on('error', onError);
    incoming.on('close', onClose);
  });
}

/** Outside the Node server (no IncomingMessage): the WHATWG body stream, counted the same way. */
async function readViaFetchBody(c: Context<AppEnv>, admission: Admission, maxBytes: number): Promise<{ body: ArrayBuffer; length: number }> {
  const stream = c.req.raw.body;
  const chunks: Uint8Array[] = [];
  let length = 0;
  if (stream) {
    const reader = stream.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      length += value.length;
      if (length > maxBytes) {
        void reader.cancel().catch(() => {});
        throw tooLarge(maxBytes);
      }
      if (admission.reserved < length) admission.grow(length - admission.reserved);
      chunks.push(value);
    }
  }
  const out = new Uint8Array(new ArrayBuffer(length));
  let at = 0;
  for (const ch of chunks) {
    out.set(ch, at);
    at += ch.length;
  }
  return { body: out.buffer as ArrayBuffer, length };
}

/**
 * A whole verify request off the main thread, errors in their order: 413 declared too large, 415 not JSON, 503
 * VERIFY_BUSY (before reading), 413 streamed too large, then whatever the worker answers (400/413/422, or the report).
 */
export async function verifyInPool(c: Context<AppEnv>, pool: VerifyPool, route: VerifyJob['route'], maxBytes: number): Promise<Response> {
  const cl = c.req.header('content-length');
  const chunked = c.req.header('transfer-encoding') !== undefined;
  let declared: number | undefined;
  if (cl !== undefined && !chunked) {
    declared = Number(cl);
    if (!Number.isSafeInteger(declared) || declared < 0) throw new ApiError('MALFORMED_JSON', 'bad Content-Length');
    if (declared > maxBytes) throw refusedUnread(c, tooLarge(maxBytes));
  }
  const ct = c.req.header('content-type');
  if (!ct || !JSON_TYPE.test(ct)) throw refusedUnread(c, new ApiError('UNSUPPORTED_MEDIA_TYPE', 'send Content-Type: application/json', { content_type: ct ?? null }));
  let admission: Admission;
  try {
    admission = pool.admit(declared ?? 0);
  } catch (e) {
    throw refusedUnread(c, e);
  }
  let read = false;
  try {
    const { body, length } = await readRaw(c, admission, declared, maxBytes);
    read = true;
    return jsonText(c, 200, await admission.verify(route, body, length));
  } catch (e) {
    if (read && e instanceof ApiError && e.code === 'VERIFY_BUSY') c.header('Retry-After', String(VERIFY_RETRY_AFTER_S));
    throw read ? e : refusedUnread(c, e);
  } finally {
    admission.release();
  }
}

/**
 * A refusal before the body was read, with Retry-After for VERIFY_BUSY. The unread body is drained by node-server
 * (at most 64 MiB, then the connection is closed): closing at once would reset the connection under a client still
 * sending, and many clients then lose the answer.
 */
function refusedUnread(c: Context<AppEnv>, e: unknown): unknown {
  if (e instanceof ApiError && e.code === 'VERIFY_BUSY') c.header('Retry-After', String(VERIFY_RETRY_AFTER_S));
  return e;
}
