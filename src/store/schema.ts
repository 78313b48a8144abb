// The relational layout. Hashes are lowercase hex text (what the API speaks); Merkle nodes are raw blobs
// because only the prover reads them. See docs/architecture.md for why each table exists.

import { sql } from 'drizzle-orm';
import { blob, index, integer, primaryKey, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';

export const tenants = sqliteTable('tenants', {
  id: text('id').primaryKey(),
  name: text('name').notNull().unique(),
  createdAt: text('created_at').notNull(),
});

export const systems = sqliteTable(
  'systems',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id').notNull().references(() => tenants.id),
    name: text('name').notNull(),
    createdAt: text('created_at').notNull(),
  },
  (t) => [uniqueIndex('systems_tenant_name').on(t.tenantId, t.name)],
);

export const apiKeys = sqliteTable('api_keys', {
  id: text('id').primaryKey(),
  tenantId: text('tenant_id').notNull().references(() => tenants.id),
  systemId: text('system_id').notNull().references(() => systems.id),
  /** SHA-256 hex of the whole key: the key itself is never stored. */
  keyHash: text('key_hash').notNull().unique(),
  /** first characters, so an operator can tell keys apart in listings */
  prefix: text('prefix').notNull(),
  scopes: text('scopes', { mode: 'json' }).$type<string[]>().notNull(),
  createdAt: text('created_at').notNull(),
  revokedAt: text('revoked_at'),
  /**
   * 1 for the key PROOFSTREAM_BOOTSTRAP_KEY installed: at every start the bootstrap keys the variable no longer names
   * are revoked, so changing or unsetting it retires the old one.
   */
  bootstrap: integer('bootstrap', { mode: 'boolean' }).notNull().default(false),
  /** ISO time after which the key no longer authenticates (401 "expired"); null = never */
  expiresAt: text('expires_at'),
  /** 1: acts on every stream of its tenant; 0: only on streams of its own system (docs/api.md "API keys") */
  tenantWide: integer('tenant_wide', { mode: 'boolean' }).notNull().default(false),
  /**
   * Rate-limit tier (src/ledger/tenancy.ts TIERS: free, professional, enterprise, unlimited; docs/api.md "Rate
   * limits"). Keys made before tiers existed were unlimited per key, and stay so.
   */
  tier: text('tier').notNull().default('unlimited'),
});

export const streams = sqliteTable(
  'streams',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id').notNull().references(() => tenants.id),
    systemId: text('system_id').notNull().references(() => systems.id),
    useCase: text('use_case').notNull(),
    policyId: text('policy_id'),
    metadata: text('metadata', { mode: 'json' }).$type<Record<string, unknown>>(),
    windowPolicy: text('window_policy', { mode: 'json' }).$type<{ max_events?: number; max_age_ms?: number }>(),
    /** 'v2' for streams made through /v2/streams, 'v1' for the per-system stream behind /v1/sdk/events */
    kind: text('kind').notNull().default('v2'),
    createdAt: text('created_at').notNull(),
    // The head, kept on the row so an append reads one row instead of scanning events.
    headSeqNo: integer('head_seq_no').notNull().default(0),
    headHash: text('head_hash').notNull(),
    lastEventHash: text('last_event_hash').notNull(),
    /** perfect-subtree roots covering [0, head_seq_no): the Merkle frontier, 32-byte hashes concatenated */
    frontier: blob('frontier', { mode: 'buffer' }).notNull(),
    /** events 1..sealed_seq_no are in sealed windows */
    sealedSeqNo: integer('sealed_seq_no').notNull().default(0),
    lastCheckpointId: text('last_checkpoint_id'),
    /** witnesses that must cosign this stream's checkpoints; null = the ledger's global quorum */
    witnessQuorum: integer('witness_quorum'),
  },
  (t) => [index('streams_tenant_created').on(t.tenantId, t.createdAt, t.id)],
);

export const events = sqliteTable(
  'events',
  {
    id: text('id').primaryKey(),
    streamId: text('stream_id').notNull().references(() => streams.id),
    seqNo: integer('seq_no').notNull(),
    sourceRef: text('source_ref').notNull(),
    eventType: text('event_type').notNull(),
    occurredAt: text('occurred_at'),
    receivedAt: text('received_at').notNull(),
    /** JCS text of the payload; null once erased */
    payload: text('payload'),
    /** hex salt; null once erased */
    salt: text('salt'),
    payloadCommitment: text('payload_commitment').notNull(),
    eventHash: text('event_hash').notNull(),
    previousEventHash: text('previous_event_hash').notNull(),
    streamHeadHash: text('stream_head_hash').notNull(),
    protocol: text('protocol').notNull(),
    kid: text('kid').notNull(),
    signature: text('signature').notNull(),
  },
  (t) => [uniqueIndex('events_stream_seq').on(t.streamId, t.seqNo)],
);

/** Hashes of perfect Merkle subtrees at level ≥ 1 (level 0 is events.event_hash). */
export const merkleNodes = sqliteTable(
  'merkle_nodes',
  {
    streamId: text('stream_id').notNull(),
    level: integer('level').notNull(),
    idx: integer('idx').notNull(),
    hash: blob('hash', { mode: 'buffer' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.streamId, t.level, t.idx] })],
);

/**
 * Complete tiles of a stream's tree (layout in src/protocol/tiles.ts): levels 8T..8T+7 of the 256-wide subtree
 * (tile_level T, tile_idx k), 510 hashes. Derived from merkle_nodes/events so a proof reads one row per 8 levels.
 */
export const merkleTiles = sqliteTable(
  'merkle_tiles',
  {
    streamId: text('stream_id').notNull(),
    tileLevel: integer('tile_level').notNull(),
    tileIdx: integer('tile_idx').notNull(),
    hashes: blob('hashes', { mode: 'buffer' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.streamId, t.tileLevel, t.tileIdx] })],
);

export const idempotencyRecords = sqliteTable(
  'idempotency_records',
  {
    tenantId: text('tenant_id').notNull(),
    key: text('key').notNull(),
    /** SHA-256 hex of method, path and JCS body */
    fingerprint: text('fingerprint').notNull(),
    status: integer('status').notNull(),
    responseBody: text('response_body').notNull(),
    createdAt: integer('created_at').notNull(),
    expiresAt: integer('expires_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.key] }), index('idempotency_expires').on(t.expiresAt)],
);

/**
 * Every signing key the ledger has used, so receipts signed before a rotation stay verifiable (docs/trust.md,
 * "Rotating the ledger key"). The key that signs receipts is the one with valid_until null; status is derived
 * from the times (src/ledger/keyring.ts), so nothing has to run when an overlap ends.
 */
export const ledgerKeys = sqliteTable('ledger_keys', {
  kid: text('kid').primaryKey(),
  alg: text('alg').notNull(),
  publicKey: text('public_key').notNull(),
  createdAt: text('created_at').notNull(),
  /** when it stops (or stopped) co-signing checkpoints: set at rotation to the end of the overlap; null while active */
  retiredAt: text('retired_at'),
  /** first received_at its receipts may carry; null = since the ledger began (the first key) */
  validFrom: text('valid_from'),
  /** last received_at its receipts may carry (the rotation time); null while it is the active key */
  validUntil: text('valid_until'),
});


/** A sealed, closed range of one stream, and the checkpoint signed when it was sealed. */
export const windows = sqliteTable(
  'windows',
  {
    id: text('id').primaryKey(),
    streamId: text('stream_id').notNull().references(() => streams.id),
    fromSeqNo: integer('from_seq_no').notNull(),
    toSeqNo: integer('to_seq_no').notNull(),
    /** RFC 9162 root of the window's own event hashes, hex */
    windowRoot: text('window_root').notNull(),
    checkpointId: text('checkpoint_id').notNull(),
    /** 'size' or 'age': what sealed it */
    trigger: text('trigger').notNull(),
    sealedAt: text('sealed_at').notNull(),
  },
  (t) => [uniqueIndex('windows_stream_from').on(t.streamId, t.fromSeqNo)],
);

/** Signed C2SP checkpoints (tlog-checkpoint notes); at most one per (stream, tree size). */
export const checkpoints = sqliteTable(
  'checkpoints',
  {
    id: text('id').primaryKey(),
    streamId: text('stream_id').notNull().references(() => streams.id),
    treeSize: integer('tree_size').notNull(),
    rootHash: text('root_hash').notNull(),
    note: text('note').notNull(),
    signerVkey: text('signer_vkey').notNull(),
    windowId: text('window_id').notNull(),
    previousCheckpointId: text('previous_checkpoint_id'),
    createdAt: text('created_at').notNull(),
  },
  (t) => [uniqueIndex('checkpoints_stream_size').on(t.streamId, t.treeSize)],
);

/**
 * Audit packs (docs/bundle.md): the document itself is a file under `<dataDir>/packs/` (it can be far larger than a
 * row should be); the row says whose it is, what it covers, where it lives and the SHA-256 of its bytes.
 */
export const packs = sqliteTable(
  'packs',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id').notNull().references(() => tenants.id),
    streamId: text('stream_id').notNull().references(() => streams.id),
    fromSeqNo: integer('from_seq_no').notNull(),
    toSeqNo: integer('to_seq_no').notNull(),
    /** the checkpoint the pack's range proof leads to */
    checkpointId: text('checkpoint_id').notNull(),
    /** path of the JSON document, relative to the data directory (`packs/<id>.json`) */
    filePath: text('file_path').notNull(),
    /** lowercase hex SHA-256 of the file's bytes */
    sha256: text('sha256').notNull(),
    byteSize: integer('byte_size').notNull(),
    createdAt: text('created_at').notNull(),
  },
  (t) => [index('packs_stream').on(t.streamId, t.fromSeqNo), index('packs_tenant_created').on(t.tenantId, t.createdAt)],
);

/** Witness cosignatures (c2sp.org/tlog-cosignature) collected for a checkpoint, one per witness. */
export const cosignatures = sqliteTable(
  'cosignatures',
  {
    checkpointId: text('checkpoint_id').notNull().references(() => checkpoints.id),
    /** the witness's key name (= its name in the trust policy) */
    witness: text('witness').notNull(),
    /** the witness vkey the signature was checked against when it was stored */
    vkey: text('vkey').notNull(),
    /** the signed POSIX time (seconds) */
    timestamp: integer('timestamp').notNull(),
    /** the whole signature line, `— <name> base64(keyID ‖ time ‖ signature)` without its newline */
    line: text('line').notNull(),
    createdAt: text('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.checkpointId, t.witness] })],
);

/** What each witness has cosigned of each stream, and how the last attempt went. */
export const witnessState = sqliteTable(
  'witness_state',
  {
    witness: text('witness').notNull(),
    streamId: text('stream_id').notNull().references(() => streams.id),
    /** the tree size the witness last cosigned for this stream's origin (its `old` for the next submission) */
    cosignedSize: integer('cosigned_size').notNull().default(0),
    lastSuccessAt: text('last_success_at'),
    lastError: text('last_error'),
    lastErrorAt: text('last_error_at'),
  },
  (t) => [primaryKey({ columns: [t.witness, t.streamId] })],
);

/** One RFC 3161 epoch: a Merkle tree over the hashes of the checkpoints signed in it, and its time-stamp token. */
export const anchorEpochs = sqliteTable('anchor_epochs', {
  id: text('id').primaryKey(),
  /** RFC 9162 root over the epoch's checkpoint hashes, hex */
  epochRoot: text('epoch_root').notNull(),
  leafCount: integer('leaf_count').notNull(),
  /** base64 DER TimeStampToken; null until the TSA answered */
  token: text('token'),
  /** PEM certificates the token carried, leaf first */
  tsaChain: text('tsa_chain', { mode: 'json' }).$type<string[]>(),
  genTime: text('gen_time'),
  createdAt: text('created_at').notNull(),
  stampedAt: text('stamped_at'),
  attempts: integer('attempts').notNull().default(0),
  lastError: text('last_error'),
});

/** Which epoch (and leaf) anchors each checkpoint. */
export const anchorLeaves = sqliteTable(
  'anchor_leaves',
  {
    checkpointId: text('checkpoint_id').primaryKey().references(() => checkpoints.id),
    epochId: text('epoch_id').notNull().references(() => anchorEpochs.id),
    leafIndex: integer('leaf_index').notNull(),
    /** hex checkpoint_hash (docs/protocol.md §8) */
    checkpointHash: text('checkpoint_hash').notNull(),
  },
  (t) => [uniqueIndex('anchor_leaves_epoch').on(t.epochId, t.leafIndex)],
);

/**
 * Evidence found overdue and announced (webhook `evidence.stalled`), once per checkpoint and reason: `witness:<name>`
 * (that witness has not cosigned it for longer than PROOFSTREAM_READY_MAX_WITNESS_LAG_S) or `anchor` (its epoch has
 * no time-stamp for longer than PROOFSTREAM_READY_MAX_ANCHOR_LAG_S).
 */
export const evidenceStalls = sqliteTable(
  'evidence_stalls',
  {
    checkpointId: text('checkpoint_id').notNull(),
    reason: text('reason').notNull(),
    streamId: text('stream_id').notNull(),
    announcedAt: text('announced_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.checkpointId, t.reason] })],
);

// ---- webhooks (docs/webhooks.md) ----------------------------------------------------------------------------------

/** An endpoint that gets the ledger's announcements (event types in `events`), signed with `secret`. */
export const webhooks = sqliteTable(
  'webhooks',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id').notNull().references(() => tenants.id),
    /** the creating key's system when that key was not tenant-wide: only that system's streams are announced; null = the whole tenant */
    systemId: text('system_id'),
    /** only this stream's announcements; null = every stream the webhook may see */
    streamId: text('stream_id'),
    url: text('url').notNull(),
    /** JSON array of event types */
    events: text('events', { mode: 'json' }).$type<string[]>().notNull(),
    /** the signing secret as given (or generated `whsec_…`); shown only in the create answer */
    secret: text('secret').notNull(),
    active: integer('active', { mode: 'boolean' }).notNull(),
    description: text('description'),
    createdAt: text('created_at').notNull(),
    updatedAt: text('updated_at').notNull(),
    disabledAt: text('disabled_at'),
    disabledReason: text('disabled_reason'),
    /** ISO time of the first failed attempt since the last success; null while the endpoint answers 2xx */
    failingSince: text('failing_since'),
  },
  (t) => [index('webhooks_tenant_created').on(t.tenantId, t.createdAt, t.id)],
);

/**
 * The outbox: one row per (webhook, announcement), written in the transaction that commits what it announces. The
 * body is rendered from `subject_id` at delivery, so the row stays small on the append path.
 */
export const webhookDeliveries = sqliteTable(
  'webhook_deliveries',
  {
    /** `msg_…`: the `webhook-id` header, the same for every attempt and redelivery */
    id: text('id').primaryKey(),
    webhookId: text('webhook_id').notNull(),
    tenantId: text('tenant_id').notNull(),
    eventType: text('event_type').notNull(),
    /** what it announces: an event id (`sev_…`) or a checkpoint id (`chk_…`) */
    subjectId: text('subject_id').notNull(),
    /** 'pending' | 'delivered' | 'failed' | 'dead' */
    status: text('status').notNull(),
    attempts: integer('attempts').notNull().default(0),
    lastStatusCode: integer('last_status_code'),
    lastError: text('last_error'),
    /** ISO; a claimed row's lease end while an attempt is in flight */
    nextAttemptAt: text('next_attempt_at').notNull(),
    /** ISO; retries stop (status failed) after this */
    giveUpAt: text('give_up_at').notNull(),
    createdAt: text('created_at').notNull(),
    deliveredAt: text('delivered_at'),
  },
  (t) => [
    index('webhook_deliveries_due').on(t.status, t.nextAttemptAt),
    index('webhook_deliveries_webhook').on(t.webhookId, t.createdAt, t.id),
  ],
);

/**
 * Payload erasures (docs/operations.md "Erasing a payload"): one row per erased event, written in the transaction that
 * nulls the event's payload and salt and appends the erasure event (whose payload is the erasure record). What the
 * read routes show as `erased`; the erasure event is the signed, chained copy of the same facts.
 */
export const eventErasures = sqliteTable(
  'event_erasures',
  {
    eventId: text('event_id').primaryKey().references(() => events.id),
    streamId: text('stream_id').notNull(),
    seqNo: integer('seq_no').notNull(),
    /** the erasure event's received_at */
    erasedAt: text('erased_at').notNull(),
    reason: text('reason').notNull(),
    erasureEventId: text('erasure_event_id').notNull().references(() => events.id),
    erasedByKey: text('erased_by_key').notNull(),
  },
  (t) => [uniqueIndex('event_erasures_erasure_event').on(t.erasureEventId), index('event_erasures_stream').on(t.streamId, t.seqNo)],
);

/**
 * CI/CD evidence (src/cicd/, docs/cicd.md): a repository's stream, one per tenant and repository, made on first use.
 * `repository_key` is the lowercased `owner/name` (GitHub and GitLab names are case-insensitive).
 */
export const cicdRepositories = sqliteTable(
  'cicd_repositories',
  {
    tenantId: text('tenant_id').notNull().references(() => tenants.id),
    repositoryKey: text('repository_key').notNull(),
    /** the spelling of the first record that named it */
    repositoryFullName: text('repository_full_name').notNull(),
    streamId: text('stream_id').notNull().references(() => streams.id),
    createdAt: text('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.repositoryKey] }), uniqueIndex('cicd_repositories_stream').on(t.streamId)],
);

/**
 * The current state of each CI/CD record (attestation, pipeline run, artifact, deployment), derived from its events
 * and written in the same transaction as the event that changes it, so state and evidence never disagree. `record`
 * is the record as JSON text; the other columns are copies of its fields the list filters use.
 */
export const cicdRecords = sqliteTable(
  'cicd_records',
  {
    id: text('id').primaryKey(),
    /** attestation | pipeline_run | artifact | deployment */
    kind: text('kind').notNull(),
    tenantId: text('tenant_id').notNull().references(() => tenants.id),
    systemId: text('system_id').notNull(),
    streamId: text('stream_id').notNull().references(() => streams.id),
    repositoryKey: text('repository_key').notNull(),
    record: text('record').notNull(),
    status: text('status'),
    attestationType: text('attestation_type'),
    /** 1 / 0 for attestations, null otherwise */
    passed: integer('passed'),
    prNumber: integer('pr_number'),
    artifactSha256: text('artifact_sha256'),
    environment: text('environment'),
    pipelineRunId: text('pipeline_run_id'),
    /** received_at of the record's first and latest event */
    createdAt: text('created_at').notNull(),
    updatedAt: text('updated_at').notNull(),
    /** the latest event (stream_event_id, seq_no) and how many events the record has */
    eventId: text('event_id').notNull().references(() => events.id),
    seqNo: integer('seq_no').notNull(),
    eventCount: integer('event_count').notNull(),
  },
  (t) => [
    index('cicd_records_list').on(t.tenantId, t.kind, t.createdAt, t.id),
    index('cicd_records_sha256').on(t.tenantId, t.kind, t.artifactSha256),
    index('cicd_records_environment').on(t.tenantId, t.kind, t.environment, t.createdAt),
    // An artifact is its content: one registration per sha256 per tenant.
    uniqueIndex('cicd_records_artifact').on(t.tenantId, t.artifactSha256).where(sql`"kind" = 'artifact'`),
  ],
);

/**
 * CI/CD connectors (docs/cicd.md "Connectors"): a GitHub or GitLab webhook endpoint of one tenant's system. `secret`
 * is kept as is because checking a GitHub HMAC needs the key itself (a hash of it could not verify one); it is shown
 * once, at creation, and never answered again. A revoked connector keeps its row (revoked_at set) and refuses hooks.
 */
export const connectors = sqliteTable(
  'connectors',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id').notNull().references(() => tenants.id),
    systemId: text('system_id').notNull(),
    /** github | gitlab */
    provider: text('provider').notNull(),
    name: text('name').notNull(),
    secret: text('secret').notNull(),
    createdAt: text('created_at').notNull(),
    revokedAt: text('revoked_at'),
  },
  (t) => [index('connectors_tenant').on(t.tenantId, t.createdAt)],
);

/** Which ledger pipeline run a connector's provider run (GitHub workflow run id, GitLab pipeline id) became. */
export const connectorRuns = sqliteTable(
  'connector_runs',
  {
    connectorId: text('connector_id').notNull().references(() => connectors.id),
    externalId: text('external_id').notNull(),
    runId: text('run_id').notNull(),
    createdAt: text('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.connectorId, t.externalId] })],
);

/**
 * Pipelines (src/pipelines/, docs/pipelines.md): a tenant's pipeline config (its JCS text, as hashed into
 * `pipeline_hash`) and the ledger stream its events go to. The execution counters are kept in the transaction that
 * ends each execution, so the list answers `executions` and `success_rate` without scanning executions.
 */
export const pipelines = sqliteTable(
  'pipelines',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id').notNull().references(() => tenants.id),
    systemId: text('system_id').notNull(),
    name: text('name').notNull(),
    description: text('description'),
    /** JCS of the validated config */
    config: text('config').notNull(),
    /** 'blake3:<hex>' of the config's JCS (docs/protocol.md §14) */
    pipelineHash: text('pipeline_hash').notNull(),
    streamId: text('stream_id').notNull().references(() => streams.id),
    /** active */
    status: text('status').notNull(),
    createdAt: text('created_at').notNull(),
    updatedAt: text('updated_at').notNull(),
    /** the pipeline.created event */
    eventId: text('event_id').notNull().references(() => events.id),
    executionCount: integer('execution_count').notNull(),
    completedCount: integer('completed_count').notNull(),
    /** executions that ended (completed, failed, cancelled): success_rate = completed / finished */
    finishedCount: integer('finished_count').notNull(),
  },
  (t) => [index('pipelines_list').on(t.tenantId, t.createdAt, t.id), uniqueIndex('pipelines_stream').on(t.streamId)],
);

/**
 * One run of a pipeline. Variable values are never stored (only their names): they may be secrets, and an
 * execution that outlives its process cannot be resumed anyway. `steps` is JSON text of the step states; `receipt`
 * the signed pipeline receipt (JCS), `event_id`/`seq_no` its attest.receipt event once appended.
 */
export const pipelineExecutions = sqliteTable(
  'pipeline_executions',
  {
    id: text('id').primaryKey(),
    pipelineId: text('pipeline_id').notNull().references(() => pipelines.id),
    tenantId: text('tenant_id').notNull().references(() => tenants.id),
    systemId: text('system_id').notNull(),
    /** running | completed | failed | cancelled */
    status: text('status').notNull(),
    environment: text('environment'),
    /** JSON array of the variable names given (values are never stored) */
    variableNames: text('variable_names').notNull(),
    /** JSON {sign, verify, cache} */
    options: text('options').notNull(),
    /** process | sandbox */
    runner: text('runner').notNull(),
    /** JSON array of step states */
    steps: text('steps').notNull(),
    exitCode: integer('exit_code'),
    startedAt: text('started_at').notNull(),
    completedAt: text('completed_at'),
    durationMs: integer('duration_ms'),
    /** why an execution ended without a receipt (the server restarted mid-run, the engine threw) */
    error: text('error'),
    receipt: text('receipt'),
    receiptHash: text('receipt_hash'),
    eventId: text('event_id').references(() => events.id),
    seqNo: integer('seq_no'),
    /** the API key that started it */
    keyId: text('key_id').notNull(),
  },
  (t) => [index('pipeline_executions_pipeline').on(t.pipelineId, t.startedAt), index('pipeline_executions_status').on(t.status)],
);

/**
 * An execution's progress, in order: lifecycle rows (kind execution.started, step.started, step.finished,
 * execution.finished) and output lines (kind log), at most PROOFSTREAM_PIPELINE_LOG_MAX_LINES output lines per
 * execution. `position` is the SSE id of GET /v1/executions/{id}/events; `data` is JSON text of the lifecycle row.
 */
export const pipelineExecutionLogs = sqliteTable(
  'pipeline_execution_logs',
  {
    executionId: text('execution_id').notNull().references(() => pipelineExecutions.id),
    position: integer('position').notNull(),
    kind: text('kind').notNull(),
    step: text('step'),
    at: text('at').notNull(),
    /** info | warn | error */
    level: text('level').notNull(),
    message: text('message').notNull(),
    data: text('data'),
  },
  (t) => [primaryKey({ columns: [t.executionId, t.position] }), index('pipeline_execution_logs_step').on(t.executionId, t.step, t.position)],
);

/**
 * Build jobs (src/builds/, docs/builds.md): one row per POST /build. `status` is queued | running | ok | failed;
 * `config` is the pipeline config as JCS text. `event_count` is how many rows build_events holds for the job (its
 * SSE positions are 1…event_count). The receipt's placement (stream, seq_no, event) is set once it is appended.
 */
export const buildJobs = sqliteTable(
  'build_jobs',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id').notNull().references(() => tenants.id),
    systemId: text('system_id').notNull(),
    keyId: text('key_id').notNull(),
    status: text('status').notNull(),
    /** the pipeline it was started from (POST /build {pipeline_id}), null for config + archive */
    pipelineId: text('pipeline_id'),
    config: text('config').notNull(),
    createdAt: text('created_at').notNull(),
    startedAt: text('started_at'),
    completedAt: text('completed_at'),
    error: text('error'),
    errorType: text('error_type'),
    eventCount: integer('event_count').notNull(),
    streamId: text('stream_id'),
    seqNo: integer('seq_no'),
    eventId: text('event_id'),
    /** bytes of the result archive while it is kept; null before, or once retention removed it */
    resultBytes: integer('result_bytes'),
    resultRemovedAt: text('result_removed_at'),
  },
  (t) => [index('build_jobs_status').on(t.status, t.createdAt), index('build_jobs_tenant').on(t.tenantId, t.createdAt)],
);

/** A build job's SSE events in order (position 1…), kept so a replay survives a restart; `data` is the JSON line. */
export const buildEvents = sqliteTable(
  'build_events',
  {
    jobId: text('job_id').notNull().references(() => buildJobs.id),
    position: integer('position').notNull(),
    data: text('data').notNull(),
  },
  (t) => [primaryKey({ columns: [t.jobId, t.position] })],
);

/** The stream build receipts are appended to: one per tenant and system, made on first use. */
export const buildStreams = sqliteTable(
  'build_streams',
  {
    tenantId: text('tenant_id').notNull().references(() => tenants.id),
    systemId: text('system_id').notNull(),
    streamId: text('stream_id').notNull().references(() => streams.id),
    createdAt: text('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.systemId] })],
);
