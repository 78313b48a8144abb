// Typed errors of the SDK. Every failure a caller can see is a ProofstreamError: HTTP errors carry the server's
// envelope ({error: {code, message, details, request_id}}), client-side failures carry a code of their own.

/** Codes the SDK itself raises (the server's codes are in src/ledger/errors.ts and docs/api.md). */
export type ClientErrorCode =
  /** the connection failed or broke before a complete answer arrived */
  | 'NETWORK_ERROR'
  /** no complete answer within the per-request timeout */
  | 'TIMEOUT'
  /** the answer was not the JSON the route documents */
  | 'BAD_RESPONSE'
  /** a receipt, checkpoint, pack or proof failed local verification against the pinned trust */
  | 'VERIFICATION_FAILED'
  /** waiting for evidence (packs.buildWhenReady) ran past its deadline */
  | 'EVIDENCE_TIMEOUT'
  /** a monitor could not relate a new checkpoint to the last verified one (the server gave no usable proof) */
  | 'CONSISTENCY_UNAVAILABLE'
  /** no trusted keys or policy were given where local verification needs them */
  | 'NO_TRUST'
  /** the live feed broke its contract (a malformed message) */
  | 'FEED_PROTOCOL';

export interface ErrorInit {
  status: number;
  code: string;
  message: string;
  details?: unknown;
  request_id?: string | null;
  /** the server's Retry-After, in milliseconds, when it sent one */
  retryAfterMs?: number | null;
  cause?: unknown;
}

export class ProofstreamError extends Error {
  /** HTTP status; 0 when no HTTP answer was involved (network, timeout, local verification). */
  readonly status: number;
  /** The envelope's code (VALIDATION_ERROR, RATE_LIMIT_EXCEEDED, …) or a ClientErrorCode. */
  readonly code: string;
  readonly details: unknown;
  /** The envelope's request_id (also the X-Request-Id header): quote it to the operator. */
  readonly request_id: string | null;
  readonly retryAfterMs: number | null;

  constructor(init: ErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'ProofstreamError';
    this.status = init.status;
    this.code = init.code;
    this.details = init.details ?? null;
    this.request_id = init.request_id ?? null;
    this.retryAfterMs = init.retryAfterMs ?? null;
  }

  get requestId(): string | null {
    return this.request_id;
  }
}

/** Local verification refused an object: `report` is the verifier's report (problems with codes and paths). */
export class ProofstreamVerificationError extends ProofstreamError {
  readonly report: unknown;
  constructor(message: string, report: unknown) {
    super({ status: 0, code: 'VERIFICATION_FAILED', message, details: report });
    this.name = 'ProofstreamVerificationError';
    this.report = report;
  }
}

/** Builds the error for a non-2xx answer from its body text (the envelope when there is one). */
export function errorFromResponse(status: number, text: string, headers: Headers): ProofstreamError {
  let code = `HTTP_${status}`;
  let message = `HTTP ${status}`;
  let details: unknown = null;
  let requestId: string | null = headers.get('x-request-id');
  try {
    const env = JSON.parse(text) as { error?: { code?: unknown; message?: unknown; details?: unknown; request_id?: unknown } };
    const e = env?.error;
    if (e && typeof e === 'object') {
      if (typeof e.code === 'string') code = e.code;
      if (typeof e.message === 'string') message = e.message;
      details = e.details ?? null;
      if (typeof e.request_id === 'string') requestId = e.request_id;
    }
  } catch {
    // Not the envelope (a proxy's HTML page, say): keep the status-derived code, and a bounded excerpt.
    if (text) message = `HTTP ${status}: ${text.slice(0, 200)}`;
  }
  return new ProofstreamError({ status, code, message, details, request_id: requestId, retryAfterMs: parseRetryAfter(headers.get('retry-after')) });
}

/** Retry-After as delay-seconds or an HTTP date (RFC 9110 §10.2.3), in ms; null when absent or unreadable. */
export function parseRetryAfter(v: string | null, now = Date.now()): number | null {
  if (v === null) return null;
  const t = v.trim();
  if (/^\d+$/.test(t)) return Number(t) * 1000;
  const at = Date.parse(t);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}
