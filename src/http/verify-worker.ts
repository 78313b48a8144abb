// A verify worker (src/http/verify-pool.ts): one request at a time, from raw body bytes to the report's JSON.
// Order matters, cheapest refusal first: fatal UTF-8 decode (400), nesting depth before JSON.parse builds anything
// (400 JSON_TOO_DEEP), JSON.parse (400), the route's own validation and trust (422), then verify(). Errors go back
// as {code, message, details, status}, which the main thread turns into the usual envelope.
import { parentPort, workerData } from 'node:worker_threads';
import { installNativeSha256 } from '../ledger/native-sha256.js';
import { ApiError, type ErrorCode } from '../ledger/errors.js';
import { depthExceededAt } from '../protocol/json-depth.js';
import { verify } from '../verify/index.js';
import { v1VerifyInput } from './v1/public-verify.js';
import { v2VerifyInput } from './v2/verify.js';

export interface VerifyWorkerData {
  serverPolicy: string;
  maxDepth: number;
}

export interface VerifyJob {
  id: number;
  route: 'v2' | 'v1';
  /** the raw body, transferred; its first `length` bytes are the body */
  body: ArrayBuffer;
  length: number;
}

export type VerifyOutcome =
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
  const at = depthExceededAt(text, data.maxDepth);
  if (at >= 0) {
    throw new ApiError('JSON_TOO_DEEP', `request body nests deeper than ${data.maxDepth} levels`, { max_depth: data.maxDepth, offset: at });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new ApiError('MALFORMED_JSON', `request body is not valid JSON: ${(e as Error).message}`);
  }
  const input = job.route === 'v1' ? v1VerifyInput(parsed, data.serverPolicy) : v2VerifyInput(parsed, data.serverPolicy);
  // plainJson: the object came from JSON.parse just above (and through zod, which passes `object` untouched).
  return JSON.stringify(await verify(input, { plainJson: true }));
}

if (parentPort) {
  installNativeSha256();
  const data = workerData as VerifyWorkerData;
  const port = parentPort;
  port.on('message', (m: VerifyJob) => {
    const { id } = m;
    void verifyBody(m, data).then(
      (report) => port.postMessage({ id, ok: true, report } satisfies VerifyOutcome),
      (e: unknown) => {
        const err =
          e instanceof ApiError
            ? { code: e.code, message: e.message, details: e.details ?? null, status: e.status }
            : (console.error('verify worker:', e), { code: 'INTERNAL_ERROR' as const, message: 'internal error while verifying', details: null, status: 500 });
        port.postMessage({ id, ok: false, error: err } satisfies VerifyOutcome);
      },
    );
  });
}
