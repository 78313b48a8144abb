// One error model: every failure leaves as {"error":{code,message,details,request_id}}, never a stack trace.
import type { IncomingMessage } from 'node:http';
import type { Context, ErrorHandler, NotFoundHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { ZodError } from 'zod';
import { ApiError, type ErrorCode } from '../ledger/errors.js';
import type { AppEnv } from './env.js';
import { isStorageFull } from './storage-health.js';
import { errField, log } from '../log.js';

export function envelope(c: Context<AppEnv>, code: ErrorCode | string, status: number, message: string, details: unknown) {
  return c.json(
    { error: { code, message, details: details ?? null, request_id: c.get('requestId') ?? null } },
    status as ContentfulStatusCode,
  );
}

const HTTP_CODES: Record<number, ErrorCode> = {
  400: 'MALFORMED_JSON',
  401: 'AUTHENTICATION_FAILED',
  403: 'AUTHORIZATION_FAILED',
  404: 'RESOURCE_NOT_FOUND',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
};

/**
 * The client went away before its request was read (node's "aborted", ECONNRESET). Not our failure: nobody reads
 * the answer, and logging each one as a 500 with a stack would let any client flood the log.
 */
function clientAborted(err: Error, c: Context<AppEnv>): boolean {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  if (incoming?.aborted || (incoming?.destroyed && !incoming.complete)) return true;
  // node's own error for a request body cut short (abortIncoming), when the bindings are not at hand
  return (err as NodeJS.ErrnoException).code === 'ECONNRESET' && err.message === 'aborted';
}

export interface ErrorHooks {
  /** told when a write failed because the database or the disk is full */
  storageFull?: () => void;
}

export function errorHandler(hooks: ErrorHooks = {}): ErrorHandler<AppEnv> {
  return (err, c) => {
    if (err instanceof ApiError) {
      // RFC 6750 §3: tell the client which scheme to use.
      if (err.status === 401) c.header('WWW-Authenticate', 'Bearer realm="proofstream"');
      return envelope(c, err.code, err.status, err.message, err.details);
    }
    if (err instanceof HTTPException && err.status < 500) {
      const code = HTTP_CODES[err.status] ?? 'VALIDATION_ERROR';
      return envelope(c, code, err.status, err.message || code, null);
    }
    if (clientAborted(err, c)) {
      log.warn({ event: 'request_aborted', request_id: c.get('requestId'), method: c.req.method }, 'client aborted the request');
      return envelope(c, 'REQUEST_ABORTED', 400, 'the request was aborted by the client', null);
    }
    if (isStorageFull(err)) {
      // The transaction rolled back: nothing was written and nothing acknowledged. One line, no stack: it repeats.
      hooks.storageFull?.();
      log.error({ event: 'storage_full', request_id: c.get('requestId'), method: c.req.method, err: errField(err) }, 'storage full');
      return envelope(c, 'INSUFFICIENT_STORAGE', 507, 'the ledger is out of storage; nothing was written. Retry once an operator has made room', null);
    }
    const dbCode = (err as { code?: unknown }).code;
    if (dbCode === 'SQLITE_BUSY' || dbCode === 'PG_CONNECTION') {
      // Another writer held the database past the lock timeout (another PostgreSQL node, or a process beside SQLite),
      // or the connection to PostgreSQL broke: this request's transaction did not commit. A retry under the same
      // Idempotency-Key either replays a commit that did happen or writes it now.
      log.warn({ event: 'storage_busy', request_id: c.get('requestId'), method: c.req.method, err: errField(err) }, 'database busy or unreachable');
      c.header('Retry-After', '1');
      return envelope(c, 'STORAGE_BUSY', 503, 'the database is busy or unreachable; this request did not complete. Retry with the same Idempotency-Key (a commit that did happen is then replayed)', { retry_after_s: 1 });
    }
    // Log for the operator with the request id; the client gets the id and nothing internal.
    log.error({ event: 'internal_error', request_id: c.get('requestId'), method: c.req.method, path: c.req.path, err }, 'internal error');
    return envelope(c, 'INTERNAL_ERROR', 500, 'internal error; retry with the same Idempotency-Key', null);
  };
}

export const onError: ErrorHandler<AppEnv> = errorHandler();

export const onNotFound: NotFoundHandler<AppEnv> = (c) =>
  envelope(c, 'RESOURCE_NOT_FOUND', 404, `no route for ${c.req.method} ${c.req.path}`, null);

/** zod issues → JSON-pointer paths; for batches the first bad item's index is named. */
export function zodDetails(error: ZodError, target: string) {
  const issues = error.issues.map((i) => ({
    path: '/' + i.path.map((p) => String(p).replace(/~/g, '~0').replace(/\//g, '~1')).join('/'),
    code: i.code,
    message: i.message,
  }));
  const first = error.issues[0]?.path;
  const index = target === 'json' && first?.[0] === 'events' && typeof first[1] === 'number' ? first[1] : undefined;
  return { target, issues, ...(index !== undefined ? { index } : {}) };
}

export function validationHook(result: { success: boolean; error?: ZodError; target: string }) {
  if (result.success) return;
  const details = zodDetails(result.error!, result.target);
  const where = details.index !== undefined ? ` (events[${details.index}])` : '';
  // A body that parses but breaks the contract is 422; a bad query or path parameter is a malformed request.
  const status = result.target === 'json' ? 422 : 400;
  throw new ApiError('VALIDATION_ERROR', `request ${result.target} is invalid${where}: ${details.issues[0]?.path} ${details.issues[0]?.message}`, details, status);
}
