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
  | 'JSON_TOO_DEEP'
  | 'DUPLICATE_KEY'
  | 'FORBIDDEN_KEY'
  | 'RATE_LIMIT_EXCEEDED'
  | 'UNSUPPORTED_OBJECT_KIND'
  | 'EVIDENCE_PENDING'
  | 'MALFORMED_REQUEST'
  | 'REQUEST_TIMEOUT'
  | 'HEADERS_TOO_LARGE'
  | 'REQUEST_ABORTED'
  | 'INSUFFICIENT_STORAGE'
  | 'STORAGE_BUSY'
  | 'INTEGRITY_ERROR'
  | 'VERIFY_BUSY'
  | 'VERIFY_TOO_COMPLEX'
  | 'INTERNAL_ERROR'
  // the browser app (src/http/web-app.ts)
  | 'WEB_APP_NOT_BUILT'
  // live feed (SSE)
  | 'LIVE_FEED_LIMIT'
  | 'LIVE_FEED_BUSY'
  // webhooks (docs/webhooks.md)
  | 'WEBHOOK_URL_REFUSED'
  | 'WEBHOOK_LIMIT_REACHED'
  | 'WEBHOOK_INACTIVE'
  // payload erasure (docs/api.md "Payload erasure")
  | 'ALREADY_ERASED'
  | 'NOT_ERASABLE'
  // ledger-key rotation (src/ledger/keyring.ts)
  | 'LEDGER_KEY_UNAVAILABLE'
  // CI/CD evidence (docs/cicd.md)
  | 'PIPELINE_RUN_FINAL'
  | 'ARTIFACT_EXISTS'
  | 'REFERENCE_UNKNOWN'
  // CI/CD connectors (docs/cicd.md "Connectors")
  | 'CONNECTOR_SIGNATURE_INVALID'
  // CI/CD collector batches (docs/cicd.md "Collector batches")
  | 'COLLECTOR_BATCH_INVALID'
  | 'COLLECTOR_ITEM_INVALID'
  | 'COLLECTOR_UNKNOWN'
  | 'COLLECTOR_REVOKED'
  | 'COLLECTOR_SIGNATURE_INVALID'
  | 'COLLECTOR_ITEM_CONFLICT'
  // build jobs (docs/builds.md)
  | 'BUILD_QUEUE_FULL'
  | 'BUILD_LIMIT'
  | 'BUILD_NOT_READY'
  | 'ARCHIVE_UNSAFE'
  | 'ARCHIVE_INVALID'
  | 'ARCHIVE_TOO_LARGE'
  // an artifact's provenance (docs/cicd.md "Provenance")
  | 'PROVENANCE_TOO_LARGE'
  | 'PROVENANCE_NO_RUN'
  // pipelines (docs/pipelines.md)
  | 'RUNNER_DISABLED'
  | 'RUNNER_UNAVAILABLE'
  | 'RUNNER_BUSY'
  | 'EXECUTION_FINISHED'
  | 'RECEIPT_PENDING';

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
  /** the body, a payload or metadata nests deeper than the ingestion rule allows (docs/api.md, "Ingestion rule") */
  JSON_TOO_DEEP: 400,
  /** an object repeats a key: JSON.parse would keep only the last, and the ledger would sign something else */
  DUPLICATE_KEY: 422,
  /** a `__proto__` key: prototype-polluting, and dropped by object spreads */
  FORBIDDEN_KEY: 422,
  /** over the key's tier (or the route group's, the operator's cap, a per-address limit); Retry-After says when */
  RATE_LIMIT_EXCEEDED: 429,
  UNSUPPORTED_OBJECT_KIND: 422,
  /** the requested range is not sealed into a checkpoint yet: retry later */
  EVIDENCE_PENDING: 409,
  /** node's HTTP parser refused the bytes (not HTTP/1.1, bad header syntax…) */
  MALFORMED_REQUEST: 400,
  /** headers or the whole request did not arrive in time (PROOFSTREAM_HEADERS_TIMEOUT_MS / _REQUEST_TIMEOUT_MS) */
  REQUEST_TIMEOUT: 408,
  /** request headers beyond node's limit (16 KiB) */
  HEADERS_TOO_LARGE: 431,
  /** the client went away mid-request; nobody reads this answer, it only keeps it out of the 500s */
  REQUEST_ABORTED: 400,
  /** the database (or the disk) is full: nothing was written, retry once an operator made room */
  INSUFFICIENT_STORAGE: 507,
  /** the database's writer lock was not granted in time (another node's transaction), or its connection was lost: nothing written, retry */
  STORAGE_BUSY: 503,
  /** a stored event does not match its hash (the database was altered); details name the row; nothing is served */
  INTEGRITY_ERROR: 500,
  /** every verify worker and queue place (or the in-flight body budget) is taken: retry after Retry-After */
  VERIFY_BUSY: 503,
  /** the object needs more memory or time than one verify may use (docs/api.md "Verify limits") */
  VERIFY_TOO_COMPLEX: 413,
  /** GET /app/: dist/web/ is missing (run `npm run build:web`; npm install and npm ci run it) */
  WEB_APP_NOT_BUILT: 503,
  INTERNAL_ERROR: 500,
  /** this API key already has PROOFSTREAM_SSE_MAX_CONNECTIONS_PER_KEY live feeds open: close one or retry later */
  LIVE_FEED_LIMIT: 429,
  /** the server has PROOFSTREAM_SSE_MAX_CONNECTIONS live feeds open: retry after Retry-After (or on another node) */
  LIVE_FEED_BUSY: 503,
  /** a webhook url that is not http(s), carries credentials, does not resolve, or points inside the network */
  WEBHOOK_URL_REFUSED: 422,
  /** the tenant has PROOFSTREAM_WEBHOOK_MAX_PER_TENANT webhooks already */
  WEBHOOK_LIMIT_REACHED: 409,
  /** redeliver on a webhook that is not active (re-activate it first) */
  WEBHOOK_INACTIVE: 409,
  /** DELETE /v2/events/{id}/payload on an event whose payload is gone already; details.erased says when and why */
  ALREADY_ERASED: 409,
  /** DELETE /v2/events/{id}/payload on an erasure event: it is the record of an erasure and stays */
  NOT_ERASABLE: 409,
  /** the active ledger key's private key file cannot be read: nothing is signed with another key instead */
  LEDGER_KEY_UNAVAILABLE: 503,
  /** PUT /api/v1/pipeline-runs/{id} on a run in a terminal state (SUCCEEDED, FAILED, CANCELLED): it is final */
  /** a connector hook whose X-Hub-Signature-256 / X-Gitlab-Token does not match the connector's secret (or is absent) */
  CONNECTOR_SIGNATURE_INVALID: 401,
  PIPELINE_RUN_FINAL: 409,
  /** POST /api/v1/artifacts with a sha256 the tenant registered already; details.id names it when the key may see it */
  ARTIFACT_EXISTS: 409,
  /** a CI/CD record names a pipeline run or artifact that does not exist (for this key); details.field names the field */
  REFERENCE_UNKNOWN: 422,
  // Collector batches: every refusal names the item (details.index, details.field) and stores nothing of the batch.
  /** the batch itself: not 1–100 items, or its new items name more than one repository */
  COLLECTOR_BATCH_INVALID: 422,
  /** an item is malformed (a member missing or of the wrong form, too large, its id repeated in the batch) */
  COLLECTOR_ITEM_INVALID: 422,
  /** an item's collectorKeyId is not a collector key registered in the tenant */
  COLLECTOR_UNKNOWN: 422,
  /** an item's collector key is revoked */
  COLLECTOR_REVOKED: 422,
  /** an item's signature does not verify with its collector key */
  COLLECTOR_SIGNATURE_INVALID: 422,
  /** an item id this collector used before for other bytes; details.attestationId names the record it made */
  COLLECTOR_ITEM_CONFLICT: 409,
  // build jobs (docs/builds.md)
  /** PROOFSTREAM_BUILD_MAX_QUEUED jobs are waiting already: retry after Retry-After */
  BUILD_QUEUE_FULL: 503,
  /** this API key has PROOFSTREAM_BUILD_MAX_PER_KEY jobs queued or running: retry after Retry-After */
  BUILD_LIMIT: 429,
  /** GET /build/{id}/result before the job completed ok (details.status says where it is) */
  BUILD_NOT_READY: 409,
  /** a source archive entry with an absolute path, `..`, a link leaving the tree, a device…; details.entry names it; nothing ran */
  ARCHIVE_UNSAFE: 422,
  /** `source` is not a readable (gzipped) tar archive */
  ARCHIVE_INVALID: 422,
  /** a source archive beyond PROOFSTREAM_BUILD_MAX_FILES entries or PROOFSTREAM_BUILD_MAX_UNPACKED_BYTES unpacked */
  ARCHIVE_TOO_LARGE: 413,
  /** GET /api/v1/artifacts/{sha256}/provenance: more records or events than PROOFSTREAM_PROVENANCE_MAX_RECORDS / _MAX_EVENTS */
  PROVENANCE_TOO_LARGE: 422,
  /** ?format=in-toto for an artifact no pipeline run is known to have built (SLSA provenance is built from the run) */
  PROVENANCE_NO_RUN: 409,
  /** POST /v1/pipelines/{id}/executions while PROOFSTREAM_RUNNER is unset: this server does not run pipelines */
  RUNNER_DISABLED: 503,
  /** PROOFSTREAM_RUNNER=sandbox but bubblewrap (bwrap) is missing or unusable here: nothing runs unsandboxed instead */
  RUNNER_UNAVAILABLE: 503,
  /** PROOFSTREAM_PIPELINE_MAX_CONCURRENT executions are running already: retry after Retry-After */
  RUNNER_BUSY: 503,
  /** POST /v1/executions/{id}/cancel on an execution that has ended; details.status says how */
  EXECUTION_FINISHED: 409,
  /** GET /v1/executions/{id}/receipt before the execution has ended (or while its receipt is being appended) */
  RECEIPT_PENDING: 409,
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
