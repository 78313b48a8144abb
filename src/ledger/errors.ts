// Typed errors with stable codes. The HTTP layer turns them into the error envelope; nothing else does.
export type ErrorCode =
  | 'VALIDATION_ERROR'
  | 'MALFORMED_JSON'
  | 'AUTHENTICATION_FAILED'
  | 'AUTHORIZATION_FAILED'
  | 'RESOURCE_NOT_FOUND'
  | 'IDEMPOTENCY_KEY_REQUIRED'
  | 'IDEMPOTENCY_KEY_INVALID'
  | 'IDEMPOTENCY_CONFLICT'
  | 'IDEMPOTENCY_IN_PROGRESS'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'NOT_CANONICALIZABLE'
  | 'RATE_LIMITED'
  | 'UNSUPPORTED_OBJECT_KIND'
  | 'EVIDENCE_PENDING'
  | 'JSON_TOO_DEEP'
  | 'VERIFY_BUSY'
  | 'VERIFY_TOO_COMPLEX'
  | 'INTERNAL_ERROR';

export const STATUS_OF: Record<ErrorCode, number> = {
  VALIDATION_ERROR: 422,
  MALFORMED_JSON: 400,
  AUTHENTICATION_FAILED: 401,
  AUTHORIZATION_FAILED: 403,
  RESOURCE_NOT_FOUND: 404,
  IDEMPOTENCY_KEY_REQUIRED: 400,
  IDEMPOTENCY_KEY_INVALID: 400,
  IDEMPOTENCY_CONFLICT: 409,
  IDEMPOTENCY_IN_PROGRESS: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  NOT_CANONICALIZABLE: 422,
  RATE_LIMITED: 429,
  UNSUPPORTED_OBJECT_KIND: 422,
  /** the requested range is not sealed into a checkpoint yet: retry later */
  EVIDENCE_PENDING: 409,
  /** a JSON body nests deeper than its route allows (refused before parsing) */
  JSON_TOO_DEEP: 400,
  /** every verify worker and queue place (or the in-flight body budget) is taken: retry after Retry-After */
  VERIFY_BUSY: 503,
  /** the object needs more memory or time than one verify may use (docs/api.md "Verify limits") */
  VERIFY_TOO_COMPLEX: 413,
  INTERNAL_ERROR: 500,
};

export class ApiError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: unknown = null,
    status?: number,
  ) {
    super(message);
    this.status = status ?? STATUS_OF[code];
  }
}

export const notFound = (what: string) => new ApiError('RESOURCE_NOT_FOUND', `${what} not found`);
