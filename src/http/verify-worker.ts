// A verify worker (src/http/verify-pool.ts): one request at a time, from raw body bytes to the report's JSON.
// Order matters, cheapest refusal first: fatal UTF-8 decode (400), nesting depth before JSON.parse builds anything
// (400 JSON_TOO_DEEP), items per array/object and values in all (413 VERIFY_TOO_COMPLEX), JSON.parse (400), the
// route's own validation and trust (422), then verify(). Errors go back as {code, message, details, status}, which
// the main thread turns into the usual envelope.
import fs from 'node:fs';
import os from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { installNativeSha256 } from '../ledger/native-sha256.js';
import { ApiError, type ErrorCode } from '../ledger/errors.js';
import { shapeExceededAt } from '../protocol/json-shape.js';
import { verify } from '../verify/index.js';
import { v1VerifyInput } from './v1/public-verify.js';
import { v2VerifyInput } from './v2/verify.js';
import { errField, log } from '../log.js';

export interface VerifyWorkerData {
  serverPolicy: string;
  maxDepth: number;
  maxItems: number;
  maxValues: number;
}

export interface VerifyJob {
  id: number;
  route: 'v2' | 'v1';
  /** the raw body, transferred; its first `length` bytes are the body */
  body: ArrayBuffer;
  length: number;
  /** the server's trust policy as of this request (every ledger key with its window); else workerData's */
  serverPolicy?: string;
}

export type VerifyOutcome =
  /** the worker took the job: its time limit runs from here, so a worker's start-up is not charged to it */
  | { id: number; started: true }
  | { id: number; ok: true; report: string }
  | { id: number; ok: false; error: { code: ErrorCode; message: string; details: unknown; status: number } };

/** Body bytes → the report's JSON, or an ApiError. */
export async function verifyBody(job: Omit<VerifyJob, 'id'>, data: VerifyWorkerData): Promise<string> {
  let text: string;
  try {
    // Fatal: JSON text is UTF-8 (RFC 8259 §8.1), and replacing bad bytes would verify something nobody sent.
    text = new TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array(job.body, 0, job.length));
  } catch {
    throw new ApiError('MALFORMED_JSON', 'request body is not valid UTF-8', { reason: 'invalid_utf8' });
  }
  // One pass before JSON.parse: depth, items per container, values in all (src/protocol/json-shape.ts).
  const over = shapeExceededAt(text, { maxDepth: data.maxDepth, maxItems: data.maxItems, maxValues: data.maxValues });
  if (over?.limit === 'depth') {
    throw new ApiError('JSON_TOO_DEEP', `request body nests deeper than ${data.maxDepth} levels`, { max_depth: data.maxDepth, offset: over.offset });
  }
  if (over?.limit === 'items') {
    throw new ApiError('VERIFY_TOO_COMPLEX', `an array or object in the request body has more than ${data.maxItems} items`, { limit: 'items', max_items: data.maxItems, offset: over.offset });
  }
  if (over) {
    throw new ApiError('VERIFY_TOO_COMPLEX', `the request body holds more than ${data.maxValues} JSON values`, { limit: 'values', max_values: data.maxValues, offset: over.offset });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new ApiError('MALFORMED_JSON', `request body is not valid JSON: ${(e as Error).message}`);
  }
  const serverPolicy = job.serverPolicy ?? data.serverPolicy;
  const input = job.route === 'v1' ? v1VerifyInput(parsed, serverPolicy) : v2VerifyInput(parsed, serverPolicy);
  // plainJson: the object came from JSON.parse just above (and through zod, which passes `object` untouched).
  return JSON.stringify(await verify(input, { plainJson: true, caller: 'http' }));
}

/**
 * Lowers this thread's CPU priority (Linux: a thread id is a valid PRIO_PROCESS target, and /proc/thread-self names
 * it), so that on a small machine the main thread's appends and reads win the core over a long verify. Elsewhere, or
 * when refused, the thread keeps the process's priority.
 */
function lowerThreadPriority(): void {
  try {
    const tid = Number(/task\/(\d+)$/.exec(fs.readlinkSync('/proc/thread-self'))?.[1]);
    if (Number.isInteger(tid) && tid > 0) os.setPriority(tid, Math.min(19, os.getPriority(tid) + 10));
  } catch {
    /* not Linux, or not allowed */
  }
}

if (parentPort) {
  lowerThreadPriority();
  installNativeSha256();
  const data = workerData as VerifyWorkerData;
  const port = parentPort;
  port.on('message', (m: VerifyJob) => {
    const { id } = m;
    port.postMessage({ id, started: true } satisfies VerifyOutcome);
    void verifyBody(m, data).then(
      (report) => port.postMessage({ id, ok: true, report } satisfies VerifyOutcome),
      (e: unknown) => {
        const err =
          e instanceof ApiError
            ? { code: e.code, message: e.message, details: e.details ?? null, status: e.status }
            : (log.error({ event: 'verify_worker_error', err: errField(e) }, 'verify worker: unexpected error'), { code: 'INTERNAL_ERROR' as const, message: 'internal error while verifying', details: null, status: 500 });
        port.postMessage({ id, ok: false, error: err } satisfies VerifyOutcome);
      },
    );
  });
}
