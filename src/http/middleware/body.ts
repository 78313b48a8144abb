// Read a JSON body once, within a size limit, with precise errors: 413 too large, 415 not JSON, 400 not parseable.
// The parsed body is cached by Hono, so the route's zod validator reuses it.
import { bodyLimit } from 'hono/body-limit';
import { createMiddleware } from 'hono/factory';
import { every } from 'hono/combine';
import { ApiError } from '../../ledger/errors.js';
import type { AppEnv } from '../env.js';

const JSON_TYPE = /^application\/(?:[a-z0-9.+-]+\+)?json\s*(?:;.*)?$/i;

const parseJson = createMiddleware<AppEnv>(async (c, next) => {
  const ct = c.req.header('content-type');
  if (!ct || !JSON_TYPE.test(ct)) {
    throw new ApiError('UNSUPPORTED_MEDIA_TYPE', 'send Content-Type: application/json', { content_type: ct ?? null });
  }
  try {
    await c.req.json();
  } catch (e) {
    if (e instanceof SyntaxError) throw new ApiError('MALFORMED_JSON', `request body is not valid JSON: ${e.message}`);
    throw e; // the size limit's own error, handled by bodyLimit
  }
  await next();
});

export const jsonBody = (maxBytes: number) =>
  every(
    bodyLimit({
      maxSize: maxBytes,
      onError: () => {
        throw new ApiError('PAYLOAD_TOO_LARGE', `request body exceeds ${maxBytes} bytes`, { limit_bytes: maxBytes });
      },
    }),
    parseJson,
  );
