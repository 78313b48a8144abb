// The test files the PostgreSQL project runs (vitest.config.ts): every file whose ledgers come from the helpers
// (openTestLedger, startServer), minus those about SQLite itself. Each exclusion says why.
export const PG_TEST_FILES = [
  'append-route-parity', 'anchoring-epochs', 'api-errors', 'builds', 'checkpoints', 'cicd-collectors', 'cicd-connector-race', 'cicd-connectors',
  'cicd-provenance', 'cicd-records', 'cicd-streams', 'cli-lifecycle', 'concurrency', 'crash', 'erasure-packs', 'erasure', 'evidence-e2e',
  'idempotent-replay', 'ingest-fuzz', 'ingest-property', 'ingest-rule', 'integrity', 'key-lifecycle', 'keys', 'ledger-key-rotation', 'live-feed',
  'observe', 'pack-retention', 'packs', 'pipelines-run-cli', 'pipelines-server', 'rate-limit', 'rollback-guard', 'sdk-follow', 'sdk-webhooks', 'sdk',
  'seal-ride', 'server-hardening', 'system-scope', 'tiles', 'v1-api', 'verify-http', 'verify-limits', 'verify-stream', 'verify-truth',
  'webhooks-evidence', 'webhooks',
  // in-process ledgers and stores (Ledger.open / Store.open given databaseFor(dataDir))
  'append-fastpath', 'ledger', 'pack-memory', 'read-snapshot', 'seal-storage-full', 'verify-fuzz', 'verify-unit', 'window-roots',
  // Not here: check-backup and storage-upgrade (SQLite's own check/backup CLI and migration history); pg-database,
  // pg-multinode (PostgreSQL-only, they start their own); the browser-* UI tests and verify-load.alone (the store is
  // incidental to what they measure).
].map((f) => `test/${f}.test.ts`);
