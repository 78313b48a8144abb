// The PostgreSQL mirror of src/store/schema.ts (issue #17; docs/architecture.md "Storage"): the same tables, column
// names and order, keys, indexes and foreign keys, so the store's SQL, written for SQLite and translated in
// src/store/pg/, runs on both. What each table and column means is documented in schema.ts, not repeated here.
// test/pg-schema.test.ts fails on any drift between the two; migrations: `npm run db:generate:pg` into drizzle-pg/.
//
// Types: SQLite integer (boolean mode too, stored 0/1 as on SQLite) → bigint read as a JS number, as better-sqlite3
// reads it; text (JSON mode too) → text, never jsonb, which reorders keys and rewrites numbers while these bytes are
// committed to; blob → bytea. Text compares byte-wise only if the database's collation is "C" (SQLite's BINARY),
// which the paging cursors (ORDER BY created_at, id; WHERE id > ?) depend on: create the database with it.
//
// What the SQLite migrations hand-edited, and why PostgreSQL needs none of it here:
// - 0005, 0006: UPDATEs marking keys of databases older than a column; a PostgreSQL database starts at this schema.
// - 0012: the partial unique index cicd_records_artifact is drizzle's own `.where()`, mirrored below.
// - 0017: merkle_nodes WITHOUT ROWID (a heap with the same primary key here: its right-most leaf takes a flush's
//   inserts the same way) and the copy computing `pos` for old rows (nothing to copy).

import { sql } from 'drizzle-orm';
import { bigint, customType, index, pgTable, primaryKey, text, uniqueIndex } from 'drizzle-orm/pg-core';

/** bytea read and written as a Buffer, as better-sqlite3 hands blobs (node-postgres parses bytea to Buffer itself). */
const bytea = customType<{ data: Buffer; driverData: Buffer }>({
  dataType() {
    return 'bytea';
  },
});

export const tenants = pgTable('tenants', {
  id: text('id').primaryKey(),
  name: text('name').notNull().unique(),
  createdAt: text('created_at').notNull(),
});

export const systems = pgTable(
  'systems',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id').notNull().references(() => tenants.id),
    name: text('name').notNull(),
    createdAt: text('created_at').notNull(),
  },
  (t) => [uniqueIndex('systems_tenant_name').on(t.tenantId, t.name)],
);

export const apiKeys = pgTable('api_keys', {
  id: text('id').primaryKey(),
  tenantId: text('tenant_id').notNull().references(() => tenants.id),
  systemId: text('system_id').notNull().references(() => systems.id),
  keyHash: text('key_hash').notNull().unique(),
  prefix: text('prefix').notNull(),
  scopes: text('scopes').$type<string[]>().notNull(),
  createdAt: text('created_at').notNull(),
  revokedAt: text('revoked_at'),
  bootstrap: bigint('bootstrap', { mode: 'number' }).notNull().default(0),
  expiresAt: text('expires_at'),
  tenantWide: bigint('tenant_wide', { mode: 'number' }).notNull().default(0),
  tier: text('tier').notNull().default('unlimited'),
});

export const streams = pgTable(
  'streams',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id').notNull().references(() => tenants.id),
    systemId: text('system_id').notNull().references(() => systems.id),
    useCase: text('use_case').notNull(),
    policyId: text('policy_id'),
    metadata: text('metadata').$type<Record<string, unknown>>(),
    windowPolicy: text('window_policy').$type<{ max_events?: number; max_age_ms?: number }>(),
    kind: text('kind').notNull().default('v2'),
    createdAt: text('created_at').notNull(),
    headSeqNo: bigint('head_seq_no', { mode: 'number' }).notNull().default(0),
    headHash: text('head_hash').notNull(),
    lastEventHash: text('last_event_hash').notNull(),
    frontier: bytea('frontier').notNull(),
    sealedSeqNo: bigint('sealed_seq_no', { mode: 'number' }).notNull().default(0),
    lastCheckpointId: text('last_checkpoint_id'),
    witnessQuorum: bigint('witness_quorum', { mode: 'number' }),
  },
  (t) => [index('streams_tenant_created').on(t.tenantId, t.createdAt, t.id)],
);

export const events = pgTable(
  'events',
  {
    id: text('id').primaryKey(),
    streamId: text('stream_id').notNull().references(() => streams.id),
    seqNo: bigint('seq_no', { mode: 'number' }).notNull(),
    sourceRef: text('source_ref').notNull(),
    eventType: text('event_type').notNull(),
    occurredAt: text('occurred_at'),
    receivedAt: text('received_at').notNull(),
    payload: text('payload'),
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

export const merkleNodes = pgTable(
  'merkle_nodes',
  {
    streamId: text('stream_id').notNull(),
    pos: bigint('pos', { mode: 'number' }).notNull(),
    level: bigint('level', { mode: 'number' }).notNull(),
    idx: bigint('idx', { mode: 'number' }).notNull(),
    hash: bytea('hash').notNull(),
  },
  (t) => [primaryKey({ columns: [t.streamId, t.pos] })],
);

export const merkleTiles = pgTable(
  'merkle_tiles',
  {
    streamId: text('stream_id').notNull(),
    tileLevel: bigint('tile_level', { mode: 'number' }).notNull(),
    tileIdx: bigint('tile_idx', { mode: 'number' }).notNull(),
    hashes: bytea('hashes').notNull(),
  },
  (t) => [primaryKey({ columns: [t.streamId, t.tileLevel, t.tileIdx] })],
);

export const idempotencyRecords = pgTable(
  'idempotency_records',
  {
    tenantId: text('tenant_id').notNull(),
    key: text('key').notNull(),
    fingerprint: text('fingerprint').notNull(),
    status: bigint('status', { mode: 'number' }).notNull(),
    responseBody: text('response_body').notNull(),
    createdAt: bigint('created_at', { mode: 'number' }).notNull(),
    expiresAt: bigint('expires_at', { mode: 'number' }).notNull(),
    // SQLite's implicit rowid, which purgeExpired (src/store/idempotency.ts) deletes by: insertion order is expiry
    // order. Named rowid so the same SQL runs on both; identity values follow commit order because every writer
    // holds the store's write lock (an advisory lock on PostgreSQL) from its first insert to its commit.
    rowid: bigint('rowid', { mode: 'number' }).generatedAlwaysAsIdentity(),
  },
  // As on SQLite, no index on expires_at: the purge goes by rowid.
  (t) => [primaryKey({ columns: [t.tenantId, t.key] }), uniqueIndex('idempotency_records_rowid').on(t.rowid)],
);

export const ledgerKeys = pgTable('ledger_keys', {
  kid: text('kid').primaryKey(),
  alg: text('alg').notNull(),
  publicKey: text('public_key').notNull(),
  createdAt: text('created_at').notNull(),
  retiredAt: text('retired_at'),
  validFrom: text('valid_from'),
  validUntil: text('valid_until'),
});

export const windows = pgTable(
  'windows',
  {
    id: text('id').primaryKey(),
    streamId: text('stream_id').notNull().references(() => streams.id),
    fromSeqNo: bigint('from_seq_no', { mode: 'number' }).notNull(),
    toSeqNo: bigint('to_seq_no', { mode: 'number' }).notNull(),
    windowRoot: text('window_root').notNull(),
    checkpointId: text('checkpoint_id').notNull(),
    trigger: text('trigger').notNull(),
    sealedAt: text('sealed_at').notNull(),
  },
  (t) => [uniqueIndex('windows_stream_from').on(t.streamId, t.fromSeqNo)],
);

export const checkpoints = pgTable(
  'checkpoints',
  {
    id: text('id').primaryKey(),
    streamId: text('stream_id').notNull().references(() => streams.id),
    treeSize: bigint('tree_size', { mode: 'number' }).notNull(),
    rootHash: text('root_hash').notNull(),
    note: text('note').notNull(),
    signerVkey: text('signer_vkey').notNull(),
    windowId: text('window_id').notNull(),
    previousCheckpointId: text('previous_checkpoint_id'),
    createdAt: text('created_at').notNull(),
    // SQLite's implicit rowid, which unanchoredCheckpoints (src/store/evidence.ts) pages by: anchoring treats every
    // checkpoint up to the last rowid it took as anchored, so the order must be commit order, which the store's
    // write lock makes it (see idempotency_records.rowid).
    rowid: bigint('rowid', { mode: 'number' }).generatedAlwaysAsIdentity(),
  },
  (t) => [uniqueIndex('checkpoints_stream_size').on(t.streamId, t.treeSize), uniqueIndex('checkpoints_rowid').on(t.rowid)],
);

export const packs = pgTable(
  'packs',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id').notNull().references(() => tenants.id),
    streamId: text('stream_id').notNull().references(() => streams.id),
    fromSeqNo: bigint('from_seq_no', { mode: 'number' }).notNull(),
    toSeqNo: bigint('to_seq_no', { mode: 'number' }).notNull(),
    checkpointId: text('checkpoint_id').notNull(),
    filePath: text('file_path').notNull(),
    sha256: text('sha256').notNull(),
    byteSize: bigint('byte_size', { mode: 'number' }).notNull(),
    createdAt: text('created_at').notNull(),
  },
  (t) => [index('packs_stream').on(t.streamId, t.fromSeqNo), index('packs_tenant_created').on(t.tenantId, t.createdAt)],
);

export const cosignatures = pgTable(
  'cosignatures',
  {
    checkpointId: text('checkpoint_id').notNull().references(() => checkpoints.id),
    witness: text('witness').notNull(),
    vkey: text('vkey').notNull(),
    timestamp: bigint('timestamp', { mode: 'number' }).notNull(),
    line: text('line').notNull(),
    createdAt: text('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.checkpointId, t.witness] })],
);

export const witnessState = pgTable(
  'witness_state',
  {
    witness: text('witness').notNull(),
    streamId: text('stream_id').notNull().references(() => streams.id),
    cosignedSize: bigint('cosigned_size', { mode: 'number' }).notNull().default(0),
    lastSuccessAt: text('last_success_at'),
    lastError: text('last_error'),
    lastErrorAt: text('last_error_at'),
  },
  (t) => [primaryKey({ columns: [t.witness, t.streamId] })],
);

export const anchorEpochs = pgTable('anchor_epochs', {
  id: text('id').primaryKey(),
  epochRoot: text('epoch_root').notNull(),
  leafCount: bigint('leaf_count', { mode: 'number' }).notNull(),
  token: text('token'),
  tsaChain: text('tsa_chain').$type<string[]>(),
  genTime: text('gen_time'),
  createdAt: text('created_at').notNull(),
  stampedAt: text('stamped_at'),
  attempts: bigint('attempts', { mode: 'number' }).notNull().default(0),
  lastError: text('last_error'),
});

export const anchorLeaves = pgTable(
  'anchor_leaves',
  {
    checkpointId: text('checkpoint_id').primaryKey().references(() => checkpoints.id),
    epochId: text('epoch_id').notNull().references(() => anchorEpochs.id),
    leafIndex: bigint('leaf_index', { mode: 'number' }).notNull(),
    checkpointHash: text('checkpoint_hash').notNull(),
  },
  (t) => [uniqueIndex('anchor_leaves_epoch').on(t.epochId, t.leafIndex)],
);

export const evidenceStalls = pgTable(
  'evidence_stalls',
  {
    checkpointId: text('checkpoint_id').notNull(),
    reason: text('reason').notNull(),
    streamId: text('stream_id').notNull(),
    announcedAt: text('announced_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.checkpointId, t.reason] })],
);

export const webhooks = pgTable(
  'webhooks',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id').notNull().references(() => tenants.id),
    systemId: text('system_id'),
    streamId: text('stream_id'),
    url: text('url').notNull(),
    events: text('events').$type<string[]>().notNull(),
    secret: text('secret').notNull(),
    active: bigint('active', { mode: 'number' }).notNull(),
    description: text('description'),
    createdAt: text('created_at').notNull(),
    updatedAt: text('updated_at').notNull(),
    disabledAt: text('disabled_at'),
    disabledReason: text('disabled_reason'),
    failingSince: text('failing_since'),
  },
  (t) => [index('webhooks_tenant_created').on(t.tenantId, t.createdAt, t.id)],
);

export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    id: text('id').primaryKey(),
    webhookId: text('webhook_id').notNull(),
    tenantId: text('tenant_id').notNull(),
    eventType: text('event_type').notNull(),
    subjectId: text('subject_id').notNull(),
    status: text('status').notNull(),
    attempts: bigint('attempts', { mode: 'number' }).notNull().default(0),
    lastStatusCode: bigint('last_status_code', { mode: 'number' }),
    lastError: text('last_error'),
    nextAttemptAt: text('next_attempt_at').notNull(),
    giveUpAt: text('give_up_at').notNull(),
    createdAt: text('created_at').notNull(),
    deliveredAt: text('delivered_at'),
  },
  (t) => [
    index('webhook_deliveries_due').on(t.status, t.nextAttemptAt),
    index('webhook_deliveries_webhook').on(t.webhookId, t.createdAt, t.id),
  ],
);

export const eventErasures = pgTable(
  'event_erasures',
  {
    eventId: text('event_id').primaryKey().references(() => events.id),
    streamId: text('stream_id').notNull(),
    seqNo: bigint('seq_no', { mode: 'number' }).notNull(),
    erasedAt: text('erased_at').notNull(),
    reason: text('reason').notNull(),
    erasureEventId: text('erasure_event_id').notNull().references(() => events.id),
    erasedByKey: text('erased_by_key').notNull(),
  },
  (t) => [uniqueIndex('event_erasures_erasure_event').on(t.erasureEventId), index('event_erasures_stream').on(t.streamId, t.seqNo)],
);

export const cicdRepositories = pgTable(
  'cicd_repositories',
  {
    tenantId: text('tenant_id').notNull().references(() => tenants.id),
    repositoryKey: text('repository_key').notNull(),
    repositoryFullName: text('repository_full_name').notNull(),
    streamId: text('stream_id').notNull().references(() => streams.id),
    createdAt: text('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.repositoryKey] }), uniqueIndex('cicd_repositories_stream').on(t.streamId)],
);

export const cicdRecords = pgTable(
  'cicd_records',
  {
    id: text('id').primaryKey(),
    kind: text('kind').notNull(),
    tenantId: text('tenant_id').notNull().references(() => tenants.id),
    systemId: text('system_id').notNull(),
    streamId: text('stream_id').notNull().references(() => streams.id),
    repositoryKey: text('repository_key').notNull(),
    record: text('record').notNull(),
    status: text('status'),
    attestationType: text('attestation_type'),
    passed: bigint('passed', { mode: 'number' }),
    prNumber: bigint('pr_number', { mode: 'number' }),
    artifactSha256: text('artifact_sha256'),
    environment: text('environment'),
    pipelineRunId: text('pipeline_run_id'),
    createdAt: text('created_at').notNull(),
    updatedAt: text('updated_at').notNull(),
    eventId: text('event_id').notNull().references(() => events.id),
    seqNo: bigint('seq_no', { mode: 'number' }).notNull(),
    eventCount: bigint('event_count', { mode: 'number' }).notNull(),
  },
  (t) => [
    index('cicd_records_list').on(t.tenantId, t.kind, t.createdAt, t.id),
    index('cicd_records_sha256').on(t.tenantId, t.kind, t.artifactSha256),
    index('cicd_records_environment').on(t.tenantId, t.kind, t.environment, t.createdAt),
    uniqueIndex('cicd_records_artifact').on(t.tenantId, t.artifactSha256).where(sql`"kind" = 'artifact'`),
  ],
);

export const connectors = pgTable(
  'connectors',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id').notNull().references(() => tenants.id),
    systemId: text('system_id').notNull(),
    provider: text('provider').notNull(),
    name: text('name').notNull(),
    secret: text('secret').notNull(),
    createdAt: text('created_at').notNull(),
    revokedAt: text('revoked_at'),
  },
  (t) => [index('connectors_tenant').on(t.tenantId, t.createdAt)],
);

export const connectorRuns = pgTable(
  'connector_runs',
  {
    connectorId: text('connector_id').notNull().references(() => connectors.id),
    externalId: text('external_id').notNull(),
    runId: text('run_id').notNull(),
    createdAt: text('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.connectorId, t.externalId] })],
);

export const collectorKeys = pgTable(
  'collector_keys',
  {
    tenantId: text('tenant_id').notNull().references(() => tenants.id),
    keyId: text('key_id').notNull(),
    publicKey: text('public_key').notNull(),
    name: text('name'),
    createdAt: text('created_at').notNull(),
    revokedAt: text('revoked_at'),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.keyId] })],
);

export const collectorItems = pgTable(
  'collector_items',
  {
    tenantId: text('tenant_id').notNull(),
    keyId: text('key_id').notNull(),
    itemId: text('item_id').notNull(),
    digest: text('digest').notNull(),
    recordId: text('record_id').notNull(),
    createdAt: text('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.keyId, t.itemId] })],
);

export const pipelines = pgTable(
  'pipelines',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id').notNull().references(() => tenants.id),
    systemId: text('system_id').notNull(),
    name: text('name').notNull(),
    description: text('description'),
    config: text('config').notNull(),
    pipelineHash: text('pipeline_hash').notNull(),
    streamId: text('stream_id').notNull().references(() => streams.id),
    status: text('status').notNull(),
    createdAt: text('created_at').notNull(),
    updatedAt: text('updated_at').notNull(),
    eventId: text('event_id').notNull().references(() => events.id),
    executionCount: bigint('execution_count', { mode: 'number' }).notNull(),
    completedCount: bigint('completed_count', { mode: 'number' }).notNull(),
    finishedCount: bigint('finished_count', { mode: 'number' }).notNull(),
  },
  (t) => [index('pipelines_list').on(t.tenantId, t.createdAt, t.id), uniqueIndex('pipelines_stream').on(t.streamId)],
);

export const pipelineExecutions = pgTable(
  'pipeline_executions',
  {
    id: text('id').primaryKey(),
    pipelineId: text('pipeline_id').notNull().references(() => pipelines.id),
    tenantId: text('tenant_id').notNull().references(() => tenants.id),
    systemId: text('system_id').notNull(),
    status: text('status').notNull(),
    environment: text('environment'),
    variableNames: text('variable_names').notNull(),
    options: text('options').notNull(),
    runner: text('runner').notNull(),
    steps: text('steps').notNull(),
    exitCode: bigint('exit_code', { mode: 'number' }),
    startedAt: text('started_at').notNull(),
    completedAt: text('completed_at'),
    durationMs: bigint('duration_ms', { mode: 'number' }),
    error: text('error'),
    receipt: text('receipt'),
    receiptHash: text('receipt_hash'),
    eventId: text('event_id').references(() => events.id),
    seqNo: bigint('seq_no', { mode: 'number' }),
    keyId: text('key_id').notNull(),
  },
  (t) => [index('pipeline_executions_pipeline').on(t.pipelineId, t.startedAt), index('pipeline_executions_status').on(t.status)],
);

export const pipelineExecutionLogs = pgTable(
  'pipeline_execution_logs',
  {
    executionId: text('execution_id').notNull().references(() => pipelineExecutions.id),
    position: bigint('position', { mode: 'number' }).notNull(),
    kind: text('kind').notNull(),
    step: text('step'),
    at: text('at').notNull(),
    level: text('level').notNull(),
    message: text('message').notNull(),
    data: text('data'),
  },
  (t) => [primaryKey({ columns: [t.executionId, t.position] }), index('pipeline_execution_logs_step').on(t.executionId, t.step, t.position)],
);

export const buildJobs = pgTable(
  'build_jobs',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id').notNull().references(() => tenants.id),
    systemId: text('system_id').notNull(),
    keyId: text('key_id').notNull(),
    status: text('status').notNull(),
    pipelineId: text('pipeline_id'),
    config: text('config').notNull(),
    createdAt: text('created_at').notNull(),
    startedAt: text('started_at'),
    completedAt: text('completed_at'),
    error: text('error'),
    errorType: text('error_type'),
    eventCount: bigint('event_count', { mode: 'number' }).notNull(),
    streamId: text('stream_id'),
    seqNo: bigint('seq_no', { mode: 'number' }),
    eventId: text('event_id'),
    resultBytes: bigint('result_bytes', { mode: 'number' }),
    resultRemovedAt: text('result_removed_at'),
  },
  (t) => [index('build_jobs_status').on(t.status, t.createdAt), index('build_jobs_tenant').on(t.tenantId, t.createdAt)],
);

export const buildEvents = pgTable(
  'build_events',
  {
    jobId: text('job_id').notNull().references(() => buildJobs.id),
    position: bigint('position', { mode: 'number' }).notNull(),
    data: text('data').notNull(),
  },
  (t) => [primaryKey({ columns: [t.jobId, t.position] })],
);

export const buildStreams = pgTable(
  'build_streams',
  {
    tenantId: text('tenant_id').notNull().references(() => tenants.id),
    systemId: text('system_id').notNull(),
    streamId: text('stream_id').notNull().references(() => streams.id),
    createdAt: text('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.systemId] })],
);
