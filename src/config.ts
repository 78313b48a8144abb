// Configuration from the environment, with the embedded defaults that make `npm start` work on a fresh clone.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { COSIGNATURE_TYPE, parseVerifierKey } from './protocol/note.js';
import { MAX_JSON_DEPTH_CEILING, MAX_JSON_DEPTH_DEFAULT } from './protocol/strict-json.js';
import { derToPem, pemBlocksToDer } from './verify/pem.js';

/** A witness the ledger submits checkpoints to (c2sp.org/tlog-witness). */
export interface WitnessConfig {
  /** its key name; must equal the vkey's name */
  name: string;
  /** base URL; the ledger posts to `<url>/add-checkpoint` */
  url: string;
  /** its cosignature/v1 verifier key (type 0x04) */
  vkey: string;
}

/** Build jobs (src/builds/, docs/builds.md "Limits"). */
export interface BuildsConfig {
  /** PROOFSTREAM_RUNNER: sandbox (bubblewrap) | process (plain child processes) | null (unset: POST /build answers 503) */
  runner: 'sandbox' | 'process' | null;
  /** jobs running at once (PROOFSTREAM_BUILD_CONCURRENCY) */
  concurrency: number;
  /** jobs waiting to run, server-wide (PROOFSTREAM_BUILD_MAX_QUEUED; more → 503 BUILD_QUEUE_FULL) */
  maxQueued: number;
  /** jobs queued or running per API key (PROOFSTREAM_BUILD_MAX_PER_KEY; more → 429 BUILD_LIMIT) */
  maxPerKey: number;
  /** the multipart body of POST /build (PROOFSTREAM_BUILD_MAX_UPLOAD_BYTES; more → 413 PAYLOAD_TOO_LARGE) */
  maxUploadBytes: number;
  /** entries of a source archive (PROOFSTREAM_BUILD_MAX_FILES; more → 413 ARCHIVE_TOO_LARGE) */
  maxFiles: number;
  /** unpacked bytes of a source archive (PROOFSTREAM_BUILD_MAX_UNPACKED_BYTES; more → 413 ARCHIVE_TOO_LARGE) */
  maxUnpackedBytes: number;
  /** stored SSE events per job (PROOFSTREAM_BUILD_MAX_EVENTS); log lines beyond are dropped with one notice */
  maxEvents: number;
  /** bytes of one `build` log line kept (longer lines are cut) */
  maxLineBytes: number;
  /** bytes of a job's outputs (PROOFSTREAM_BUILD_MAX_RESULT_BYTES; more → the job fails, error_type OutputTooLarge) */
  maxResultBytes: number;
  /** one step's wall time (PROOFSTREAM_BUILD_STEP_TIMEOUT_MS) and log bytes (PROOFSTREAM_BUILD_LOG_LIMIT_BYTES) */
  stepTimeoutMs: number;
  logLimitBytes: number;
  /** finished jobs (events and result) are deleted this long after completion (PROOFSTREAM_BUILD_RETENTION_MS) */
  retentionMs: number;
  /** result archives kept at most; older ones are removed first (PROOFSTREAM_BUILD_MAX_RESULTS) */
  maxResults: number;
}

export interface Config {
  /** build jobs (POST /build, docs/builds.md "Limits"); `runner` is PROOFSTREAM_RUNNER (null: building is off) */
  builds: BuildsConfig;
  /** The built auditor page served at /app/ (PROOFSTREAM_WEB_DIR; default <repository>/dist/web, src/http/web-app.ts). */
  webDir?: string;
  host: string;
  port: number;
  dataDir: string;
  /** the SQLite file (also, on PostgreSQL, where this node keeps its rollback high-water record beside) */
  dbPath: string;
  /** DATABASE_URL: a postgres:// URL selects PostgreSQL instead of the SQLite file (docs/operations.md "PostgreSQL") */
  databaseUrl?: string;
  signingKeyPath: string;
  /** ledger signing keys made by `proofstream ledger-key rotate`, one `<kid>.pem` each (docs/trust.md) */
  ledgerKeysDir: string;
  /** how long a rotated-out ledger key keeps co-signing checkpoints, ms (`ledger-key rotate --overlap`) */
  ledgerKeyOverlapMs: number;
  bootstrapKey: string | undefined;
  origin: string;
  maxEventBytes: number;
  maxBatchBytes: number;
  maxBatchEvents: number;
  /** deepest nesting of a payload or metadata value (the whole body may nest 8 levels more) */
  maxJsonDepth: number;
  /** max body of POST /v2/verify (a whole audit bundle) */
  maxVerifyBytes: number;
  /** verify routes (docs/api.md "Verify limits"): worker threads verifying at once */
  verifyWorkers: number;
  /** threads beside the main one that share a large append job's receipt signatures (0: none) */
  signThreads: number;
  /** …verifies admitted beyond those, waiting for a worker (more → 503 VERIFY_BUSY) */
  verifyQueue: number;
  /** …body bytes held by admitted verifies at once, read, queued or verifying (more → 503 VERIFY_BUSY) */
  verifyMaxInflightBytes: number;
  /** …old-generation heap of one verify worker, MB (exceeded → 413 VERIFY_TOO_COMPLEX, the worker is replaced) */
  verifyHeapMb: number;
  /** …wall time one verify may take in its worker (exceeded → 413 VERIFY_TOO_COMPLEX) */
  verifyTimeoutMs: number;
  /** …deepest JSON nesting of a verify body (deeper → 400 JSON_TOO_DEEP, before parsing) */
  verifyMaxDepth: number;
  /** …most items (elements or members) in any one array or object of a verify body (more → 413 VERIFY_TOO_COMPLEX) */
  verifyMaxItems: number;
  /** …most JSON values in a verify body (more → 413 VERIFY_TOO_COMPLEX); what parsing it costs in memory grows with them */
  verifyMaxValues: number;
  /** requests per second per client address on the unauthenticated verify routes; 0 disables that limiter */
  verifyRateLimitRps: number;
  verifyRateLimitBurst: number;
  idempotencyTtlMs: number;
  /** audit packs older than this are deleted (row and file); 0 keeps them forever */
  packTtlMs: number;
  idempotencyWaitMs: number;
  /** extra time a group commit waits to gather appends (0 = commit on the next event-loop turn) */
  commitDelayMs: number;
  /**
   * The operator's per-key ceiling, over every tier (unlimited included): requests per second and burst; 0 = none.
   * Also the failed-authentication limit per client address when set (docs/api.md "Rate limits").
   */
  rateLimitRps: number;
  rateLimitBurst: number;
  /** per-key limits of the tiers that have one (PROOFSTREAM_RATE_LIMIT_TIER_FREE / _PROFESSIONAL / _ENTERPRISE) */
  rateLimitTiers: { free: RateSpec; professional: RateSpec; enterprise: RateSpec };
  /** at most this many per-client-address buckets per limiter (failed auth, verify routes) */
  rateLimitMaxAddresses: number;
  /** the CI/CD routes' (/api/v1) limit for keys whose tier has none (PROOFSTREAM_CICD_RATE_LIMIT, docs/cicd.md) */
  cicdRateLimit: RateSpec;
  /** CI/CD connector hooks (docs/cicd.md "Connectors"): body cap (PROOFSTREAM_CONNECTOR_MAX_BODY_BYTES) and per-address rate (…_RATE_LIMIT_RPS / _BURST) */
  connectorMaxBodyBytes: number;
  /** POST /api/v1/collector/attestations (docs/cicd.md "Collector batches"): body cap (PROOFSTREAM_COLLECTOR_MAX_BATCH_BYTES) */
  collectorMaxBatchBytes: number;
  connectorRateLimitRps: number;
  connectorRateLimitBurst: number;
  /** an artifact's provenance (docs/cicd.md "Provenance"): most records and most events one bundle may hold (PROOFSTREAM_PROVENANCE_MAX_RECORDS / _MAX_EVENTS) */
  provenanceMaxRecords: number;
  provenanceMaxEvents: number;
  /** a window is sealed when it holds this many events… */
  windowMaxEvents: number;
  /** …or when its oldest event is this old, whichever comes first */
  windowMaxAgeMs: number;
  /** witnesses to submit every checkpoint to (PROOFSTREAM_WITNESSES) */
  witnesses: WitnessConfig[];
  /** how many of them must cosign a checkpoint before it counts as witnessed (default: all of them) */
  witnessQuorum: number;
  /** longest wait between retries to a failing witness or TSA */
  retryMaxMs: number;
  /** RFC 3161 time-stamp authority URL; unset = no anchoring */
  tsaUrl: string | undefined;
  /** PEM of the TSA's trusted root certificate(s) (PROOFSTREAM_TSA_ROOT names the file) */
  tsaRootsPem: string[];
  /** checkpoints signed within one epoch share one time-stamp */
  anchorEpochMs: number;
  /** most simultaneous TCP connections; more are closed on accept (each holds a file descriptor) */
  maxConnections: number;
  /** an idle keep-alive connection is closed after this long */
  keepAliveTimeoutMs: number;
  /** a request's headers must arrive within this long of its connection opening (or of its first byte) */
  headersTimeoutMs: number;
  /** a whole request, body included, must arrive within this long */
  requestTimeoutMs: number;
  /** cap on the database file (SQLite max_page_count); 0 = only the disk limits it */
  maxDbBytes: number;
  /** start even when the database is behind what was published (PROOFSTREAM_ALLOW_ROLLBACK=1, `serve --allow-rollback`) */
  allowRollback: boolean;
  /** the high-water record (`<db>.highwater`) is rewritten at most this often (PROOFSTREAM_HIGHWATER_INTERVAL_MS) */
  highwaterIntervalMs: number;
  /** how long start waits for the witnesses' sizes before warning and going on (PROOFSTREAM_START_WITNESS_TIMEOUT_MS) */
  startWitnessTimeoutMs: number;
  /**
   * the light integrity check at start (src/ledger/check.ts; PROOFSTREAM_START_CHECK): 'warn' (default) logs what it
   * finds and starts, 'strict' refuses to start, 'off' skips it
   */
  startCheck: 'off' | 'warn' | 'strict';
  /** latest events per stream the start check reads (PROOFSTREAM_START_CHECK_EVENTS) */
  startCheckEvents: number;
  /** on SIGTERM/SIGINT, how long `serve` waits for in-flight requests before forcing exit 1 (PROOFSTREAM_SHUTDOWN_GRACE_MS) */
  shutdownGraceMs: number;
  /** port of the separate Prometheus /metrics listener, on HOST (PROOFSTREAM_METRICS_PORT; unset = none, 0 = any free port) */
  metricsPort: number | undefined;
  /** GET /ready fails below this much room for the database to grow (PROOFSTREAM_READY_MIN_FREE_BYTES) */
  readyMinFreeBytes: number;
  /** GET /ready fails when a witness's oldest uncosigned checkpoint is older than this, s; 0 = not checked (PROOFSTREAM_READY_MAX_WITNESS_LAG_S) */
  readyMaxWitnessLagS: number;
  /** GET /ready fails when the oldest closed epoch without a time-stamp is older than this, s; 0 = not checked (PROOFSTREAM_READY_MAX_ANCHOR_LAG_S) */
  readyMaxAnchorLagS: number;
  // ---- live feed (SSE, docs/api.md "Live feed") ----
  /** a `: ping` comment on every live feed this often (PROOFSTREAM_SSE_HEARTBEAT_MS) */
  sseHeartbeatMs: number;
  /** bytes queued for one live-feed consumer before it is closed with `event: overflow` (PROOFSTREAM_SSE_MAX_BUFFER_BYTES) */
  sseMaxBufferBytes: number;
  /** live feeds open at once on this server; more → 503 LIVE_FEED_BUSY (PROOFSTREAM_SSE_MAX_CONNECTIONS; 0 = no cap) */
  sseMaxConnections: number;
  /** live feeds open at once per API key; more → 429 LIVE_FEED_LIMIT (PROOFSTREAM_SSE_MAX_CONNECTIONS_PER_KEY; 0 = no cap) */
  sseMaxConnectionsPerKey: number;
  /** the `retry:` reconnection hint sent first and at shutdown, ms (PROOFSTREAM_SSE_RETRY_MS) */
  sseRetryMs: number;
  // ---- webhooks (docs/webhooks.md) ----
  /** deliver to loopback, private, link-local… addresses too (PROOFSTREAM_WEBHOOK_ALLOW_PRIVATE; tests, internal setups) */
  webhookAllowPrivate: boolean;
  /** how long a delivery is retried, and how long an endpoint may fail before it is disabled (PROOFSTREAM_WEBHOOK_RETRY_PERIOD) */
  webhookRetryPeriodMs: number;
  /** first retry cap; doubles per attempt up to webhookRetryMaxMs, full jitter (PROOFSTREAM_WEBHOOK_RETRY_BASE_MS) */
  webhookRetryBaseMs: number;
  /** longest wait between two attempts (PROOFSTREAM_WEBHOOK_RETRY_MAX_MS) */
  webhookRetryMaxMs: number;
  /** deliveries in flight at once (PROOFSTREAM_WEBHOOK_CONCURRENCY) */
  webhookConcurrency: number;
  /** one attempt's whole time: connect, send, answer (PROOFSTREAM_WEBHOOK_TIMEOUT_MS) */
  webhookTimeoutMs: number;
  /** bytes of an answer read at most; the rest is dropped (PROOFSTREAM_WEBHOOK_MAX_RESPONSE_BYTES) */
  webhookMaxResponseBytes: number;
  /** webhooks per tenant (PROOFSTREAM_WEBHOOK_MAX_PER_TENANT) */
  webhookMaxPerTenant: number;
  /** the worker looks for due deliveries at least this often (PROOFSTREAM_WEBHOOK_POLL_MS) */
  webhookPollMs: number;
  /** finished deliveries (delivered, failed, dead) are kept this long; 0 keeps them (PROOFSTREAM_WEBHOOK_RETENTION_MS) */
  webhookRetentionMs: number;
  // ---- pipelines (docs/pipelines.md) ----
  /** how steps run on this server: unset = executions refused (503 RUNNER_DISABLED) (PROOFSTREAM_RUNNER=process|sandbox) */
  pipelineRunner: 'process' | 'sandbox' | undefined;
  /** executions running at once on this server; more → 503 RUNNER_BUSY (PROOFSTREAM_PIPELINE_MAX_CONCURRENT) */
  pipelineMaxConcurrent: number;
  /** steps of one execution running at once (PROOFSTREAM_PIPELINE_MAX_PARALLEL) */
  pipelineMaxParallel: number;
  /** a step running longer is killed (timed_out) (PROOFSTREAM_PIPELINE_STEP_TIMEOUT_MS) */
  pipelineStepTimeoutMs: number;
  /** output bytes kept per step by the engine (PROOFSTREAM_PIPELINE_LOG_LIMIT_BYTES) */
  pipelineLogLimitBytes: number;
  /** files / content bytes hashed under one declared input or output (PROOFSTREAM_PIPELINE_HASH_MAX_FILES / _BYTES) */
  pipelineHashLimits: { maxFiles: number; maxBytes: number };
  /** output lines stored per execution; later lines are counted, not stored (PROOFSTREAM_PIPELINE_LOG_MAX_LINES) */
  pipelineLogMaxLines: number;
  /** the content-addressed step cache, one directory per tenant below it (PROOFSTREAM_CACHE_DIR) */
  cacheDir: string;
  /** most bytes one tenant's cache holds (PROOFSTREAM_CACHE_MAX_BYTES) */
  cacheMaxBytes: number;
  /** executions' workspaces, one fresh directory each, removed when it ends (PROOFSTREAM_WORKSPACE_DIR) */
  workspaceDir: string;
}

/** PROOFSTREAM_WITNESSES: a JSON array of {name, url, vkey}, or the path of a file holding one. */
export function parseWitnesses(raw: string | undefined): WitnessConfig[] {
  if (raw === undefined || raw.trim() === '') return [];
  const text = raw.trim().startsWith('[') ? raw : fs.readFileSync(raw, 'utf8');
  let list: unknown;
  try {
    list = JSON.parse(text);
  } catch {
    throw new Error('PROOFSTREAM_WITNESSES is not a JSON array (or a file holding one)');
  }
  if (!Array.isArray(list)) throw new Error('PROOFSTREAM_WITNESSES must be a JSON array of {name, url, vkey}');
  const seen = new Set<string>();
  return list.map((w, i) => {
    const e = (m: string) => new Error(`PROOFSTREAM_WITNESSES[${i}]: ${m}`);
    if (typeof w !== 'object' || w === null) throw e('must be an object {name, url, vkey}');
    const { name, url, vkey } = w as Record<string, unknown>;
    if (typeof vkey !== 'string') throw e('vkey must be a string');
    let key;
    try {
      key = parseVerifierKey(vkey);
    } catch (err) {
      throw e(`bad vkey: ${(err as Error).message}`);
    }
    if (key.type !== COSIGNATURE_TYPE) throw e('vkey must be a cosignature/v1 key (type 0x04)');
    const n = name === undefined ? key.name : name;
    if (n !== key.name) throw e(`name ${JSON.stringify(n)} differs from the vkey's name ${JSON.stringify(key.name)}`);
    if (typeof url !== 'string' || !/^https?:\/\//.test(url)) throw e('url must be an http(s) URL');
    if (seen.has(key.name)) throw e(`witness ${key.name} is listed twice`);
    seen.add(key.name);
    return { name: key.name, url: url.replace(/\/+$/, ''), vkey };
  });
}

// ---- rate-limit tiers (docs/api.md "Rate limits") ------------------------------------------------------------------

/** A limit: `requests` per `windowS` seconds sustained, at most `burst` at once. */
export interface RateSpec {
  requests: number;
  windowS: number;
  burst: number;
}

/** `<n>/<s|min|h>[,burst=<m>]`, e.g. `100/min,burst=200`: a RateSpec (burst defaults to n), or an Error naming the variable. */
export function parseRateSpec(name: string, raw: string): RateSpec {
  const m = /^\s*([0-9]{1,9})\s*\/\s*(s|min|h)\s*(?:,\s*burst\s*=\s*([0-9]{1,9})\s*)?$/.exec(raw);
  const requests = m ? Number(m[1]) : 0;
  const burst = m?.[3] !== undefined ? Number(m[3]) : requests;
  if (!m || requests < 1 || burst < 1) {
    throw new Error(`${name} must look like 100/min,burst=200 (requests per s, min or h; burst optional, default the requests), got ${JSON.stringify(raw)}`);
  }
  return { requests, windowS: m[2] === 'h' ? 3600 : m[2] === 'min' ? 60 : 1, burst };
}

/** PROOFSTREAM_RUNNER and the build-job limits (docs/builds.md "Limits"). */
export function buildsConfig(env: NodeJS.ProcessEnv): BuildsConfig {
  return {
    // The same setting as pipeline executions (pipelineRunner): one switch for running commands on this server.
    runner: runnerMode(env.PROOFSTREAM_RUNNER) ?? null,
    concurrency: intAtLeast(env, 'PROOFSTREAM_BUILD_CONCURRENCY', 1, 1),
    maxQueued: int(env, 'PROOFSTREAM_BUILD_MAX_QUEUED', 16),
    maxPerKey: intAtLeast(env, 'PROOFSTREAM_BUILD_MAX_PER_KEY', 4, 1),
    maxUploadBytes: intAtLeast(env, 'PROOFSTREAM_BUILD_MAX_UPLOAD_BYTES', 50 * 1024 * 1024, 1024),
    maxFiles: intAtLeast(env, 'PROOFSTREAM_BUILD_MAX_FILES', 10_000, 1),
    maxUnpackedBytes: intAtLeast(env, 'PROOFSTREAM_BUILD_MAX_UNPACKED_BYTES', 256 * 1024 * 1024, 1),
    maxEvents: intAtLeast(env, 'PROOFSTREAM_BUILD_MAX_EVENTS', 10_000, 64),
    maxLineBytes: 8 * 1024,
    maxResultBytes: intAtLeast(env, 'PROOFSTREAM_BUILD_MAX_RESULT_BYTES', 512 * 1024 * 1024, 1),
    stepTimeoutMs: intAtLeast(env, 'PROOFSTREAM_BUILD_STEP_TIMEOUT_MS', 30 * 60_000, 100),
    logLimitBytes: intAtLeast(env, 'PROOFSTREAM_BUILD_LOG_LIMIT_BYTES', 4 * 1024 * 1024, 1024),
    retentionMs: intAtLeast(env, 'PROOFSTREAM_BUILD_RETENTION_MS', 7 * 86_400_000, 1000),
    maxResults: intAtLeast(env, 'PROOFSTREAM_BUILD_MAX_RESULTS', 100, 1),
  };
}

function rateSpec(env: NodeJS.ProcessEnv, name: string, dflt: RateSpec): RateSpec {
  const raw = env[name];
  return raw === undefined || raw === '' ? dflt : parseRateSpec(name, raw);
}

function int(env: NodeJS.ProcessEnv, name: string, dflt: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got ${JSON.stringify(raw)}`);
  return n;
}

/** An integer setting with a floor: a period of 0 would make its timer a busy loop. */
function intAtLeast(env: NodeJS.ProcessEnv, name: string, dflt: number, min: number): number {
  const n = int(env, name, dflt);
  if (n < min) throw new Error(`${name} must be at least ${min}, got ${n}`);
  return n;
}

/** Signing threads: by default one per CPU this process may use beyond the first, at most 3; at most 8 if set. */
function signThreads(env: NodeJS.ProcessEnv): number {
  const n = int(env, 'PROOFSTREAM_SIGN_THREADS', Math.max(0, Math.min(3, os.availableParallelism() - 1)));
  if (n > 8) throw new Error(`PROOFSTREAM_SIGN_THREADS must be at most 8 (each thread shares a job's signatures; more only add round trips), got ${n}`);
  return n;
}

/** Node's timers take at most 2^31−1 ms (~24.8 days); a longer delay fires at once, turning a period into a busy loop. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A period a timer waits for: at least `min`, at most MAX_TIMER_MS. */
function periodMs(env: NodeJS.ProcessEnv, name: string, dflt: number, min: number): number {
  const n = intAtLeast(env, name, dflt, min);
  if (n > MAX_TIMER_MS) throw new Error(`${name} must be at most ${MAX_TIMER_MS} (about 24.8 days; longer timer delays fire at once), got ${n}`);
  return n;
}

/** A duration: whole milliseconds, or a whole number with ms, s, m, h or d (PROOFSTREAM_WEBHOOK_RETRY_PERIOD=3d). */
function durationMs(env: NodeJS.ProcessEnv, name: string, dflt: number): number {
  const raw = (env[name] ?? '').trim();
  if (raw === '') return dflt;
  const m = /^([0-9]{1,12})(ms|s|m|h|d)?$/.exec(raw);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(m?.[2] ?? 'ms') as 'ms'];
  const n = m ? Number(m[1]) * unit : NaN;
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${name} must be a positive duration (like 3d, 12h, 90s or 500ms), got ${JSON.stringify(raw)}`);
  return n;
}

/** PROOFSTREAM_START_CHECK: what a failed light check at start does (see Config.startCheck). */
function startCheckMode(raw: string | undefined): Config['startCheck'] {
  const v = (raw ?? 'warn').trim().toLowerCase() || 'warn';
  if (v !== 'off' && v !== 'warn' && v !== 'strict') throw new Error(`PROOFSTREAM_START_CHECK must be off, warn or strict, not ${JSON.stringify(raw)}`);
  return v;
}

/** An on/off setting: unset, '', '0' or 'false' is off; '1' or 'true' is on; anything else is a mistake worth stopping for. */
function flag(env: NodeJS.ProcessEnv, name: string): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '' || raw === '0' || raw === 'false') return false;
  if (raw === '1' || raw === 'true') return true;
  throw new Error(`${name} must be 1/true or 0/false, got ${JSON.stringify(raw)}`);
}

/** PROOFSTREAM_MAX_JSON_DEPTH: 1..MAX_JSON_DEPTH_CEILING, so that every stored value stays readable by every path. */
function jsonDepthLimit(env: NodeJS.ProcessEnv): number {
  const n = int(env, 'PROOFSTREAM_MAX_JSON_DEPTH', MAX_JSON_DEPTH_DEFAULT);
  if (n < 1 || n > MAX_JSON_DEPTH_CEILING) {
    throw new Error(`PROOFSTREAM_MAX_JSON_DEPTH must be between 1 and ${MAX_JSON_DEPTH_CEILING}, got ${n}`);
  }
  return n;
}

// ---- ledger-key rotation (docs/trust.md, "Rotating the ledger key") ----

/** Long enough for witnesses and auditors pinned to the old key to re-pin without a day of failures. */
export const DEFAULT_LEDGER_KEY_OVERLAP = '7d';
/** A year: beyond it the "transition" is a second permanent key, which a rotation is not. */
export const MAX_LEDGER_KEY_OVERLAP_MS = 365 * 24 * 3600 * 1000;

/** An overlap: 0 (none) or a whole number of s, m, h or d, at most 365d. Throws a one-line Error naming `what`. */
export function parseOverlap(text: string, what = '--overlap'): number {
  const units = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
  const m = /^(0|[1-9][0-9]{0,6})([smhd])?$/.exec(text);
  const ms = m && (m[2] !== undefined || m[1] === '0') ? Number(m[1]) * (m[2] ? units[m[2] as keyof typeof units] : 0) : NaN;
  if (!(ms >= 0 && ms <= MAX_LEDGER_KEY_OVERLAP_MS)) {
    throw new Error(`${what} ${JSON.stringify(text.slice(0, 40))} is not a duration between 0 and 365d (0, or a whole number followed by s, m, h or d: 90s, 12h, 7d)`);
  }
  return ms;
}

/** DATABASE_URL, when set: only PostgreSQL URLs (SQLite is chosen by PROOFSTREAM_DB / PROOFSTREAM_DATA_DIR). */
function databaseUrlOf(env: NodeJS.ProcessEnv): string | undefined {
  const v = env.DATABASE_URL;
  if (!v) return undefined;
  if (!/^postgres(ql)?:\/\/./i.test(v)) throw new Error('DATABASE_URL must be a postgres:// (or postgresql://) URL; leave it unset for the embedded SQLite file');
  return v;
}

/** What Store.open is given: the PostgreSQL URL when one is configured, else the SQLite file. */
export const storeTarget = (c: Pick<Config, 'dbPath' | 'databaseUrl'>): string => c.databaseUrl ?? c.dbPath;

/** The database as messages name it: the SQLite file, or the PostgreSQL URL without its password. */
export function storeName(c: Pick<Config, 'dbPath' | 'databaseUrl'>): string {
  if (!c.databaseUrl) return c.dbPath;
  const u = new URL(c.databaseUrl);
  if (u.password) u.password = '***';
  return u.toString();
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Config {
  const dataDir = path.resolve(overrides.dataDir ?? env.PROOFSTREAM_DATA_DIR ?? './data');
  const cfg: Config = {
    host: env.HOST ?? '127.0.0.1',
    port: int(env, 'PORT', 8080),
    dataDir,
    dbPath: path.resolve(env.PROOFSTREAM_DB ?? path.join(dataDir, 'proofstream.db')),
    databaseUrl: databaseUrlOf(env),
    signingKeyPath: path.resolve(env.PROOFSTREAM_SIGNING_KEY ?? path.join(dataDir, 'signing-key.pem')),
    ledgerKeysDir: '',
    ledgerKeyOverlapMs: parseOverlap(env.PROOFSTREAM_LEDGER_KEY_OVERLAP ?? DEFAULT_LEDGER_KEY_OVERLAP, 'PROOFSTREAM_LEDGER_KEY_OVERLAP'),
    bootstrapKey: env.PROOFSTREAM_BOOTSTRAP_KEY || undefined,
    origin: env.PROOFSTREAM_ORIGIN ?? 'proofstream.localhost',
    maxEventBytes: int(env, 'PROOFSTREAM_MAX_EVENT_BYTES', 64 * 1024),
    maxBatchBytes: int(env, 'PROOFSTREAM_MAX_BATCH_BYTES', 8 * 1024 * 1024),
    maxBatchEvents: 1000,
    maxJsonDepth: jsonDepthLimit(env),
    maxVerifyBytes: int(env, 'PROOFSTREAM_MAX_VERIFY_BYTES', 64 * 1024 * 1024),
    // One verify thread per two cores: the main thread (appends, reads) keeps a core to itself on a small box.
    verifyWorkers: Math.max(1, int(env, 'PROOFSTREAM_VERIFY_WORKERS', Math.floor(os.availableParallelism() / 2))),
    // Only where the process may use more than one CPU (taskset, cgroup cpusets count): on one core a thread would
    // only add message round trips to each batch.
    signThreads: signThreads(env),
    // Queued requests hold their bodies inside the in-flight byte budget, so a long queue costs no more memory.
    verifyQueue: int(env, 'PROOFSTREAM_VERIFY_QUEUE', 32),
    verifyMaxInflightBytes: int(env, 'PROOFSTREAM_VERIFY_MAX_INFLIGHT_BYTES', 160 * 1024 * 1024),
    verifyHeapMb: Math.max(16, int(env, 'PROOFSTREAM_VERIFY_HEAP_MB', 768)),
    verifyTimeoutMs: int(env, 'PROOFSTREAM_VERIFY_TIMEOUT_MS', 120_000),
    verifyMaxDepth: int(env, 'PROOFSTREAM_VERIFY_MAX_DEPTH', 256),
    verifyMaxItems: Math.max(1, int(env, 'PROOFSTREAM_VERIFY_MAX_ITEMS', 1_000_000)),
    // A 64 MiB bundle of the smallest events (~800 bytes, ~20 values each) holds ~1.7 million.
    verifyMaxValues: Math.max(1, int(env, 'PROOFSTREAM_VERIFY_MAX_VALUES', 4_000_000)),
    verifyRateLimitRps: int(env, 'PROOFSTREAM_VERIFY_RATE_LIMIT_RPS', 2),
    verifyRateLimitBurst: int(env, 'PROOFSTREAM_VERIFY_RATE_LIMIT_BURST', 20),
    idempotencyTtlMs: int(env, 'PROOFSTREAM_IDEMPOTENCY_TTL_MS', 24 * 3600 * 1000),
    idempotencyWaitMs: int(env, 'PROOFSTREAM_IDEMPOTENCY_WAIT_MS', 10_000),
    packTtlMs: int(env, 'PROOFSTREAM_PACK_TTL_MS', 7 * 24 * 3600 * 1000),
    commitDelayMs: int(env, 'PROOFSTREAM_COMMIT_DELAY_MS', 0),
    rateLimitRps: int(env, 'PROOFSTREAM_RATE_LIMIT_RPS', 0),
    rateLimitBurst: int(env, 'PROOFSTREAM_RATE_LIMIT_BURST', 0),
    rateLimitTiers: {
      free: rateSpec(env, 'PROOFSTREAM_RATE_LIMIT_TIER_FREE', { requests: 100, windowS: 60, burst: 200 }),
      professional: rateSpec(env, 'PROOFSTREAM_RATE_LIMIT_TIER_PROFESSIONAL', { requests: 1000, windowS: 60, burst: 2000 }),
      enterprise: rateSpec(env, 'PROOFSTREAM_RATE_LIMIT_TIER_ENTERPRISE', { requests: 10_000, windowS: 60, burst: 20_000 }),
    },
    rateLimitMaxAddresses: Math.max(1, int(env, 'PROOFSTREAM_RATE_LIMIT_MAX_ADDRESSES', 100_000)),
    // The seed API's documented limit: 100 requests per minute per key.
    cicdRateLimit: rateSpec(env, 'PROOFSTREAM_CICD_RATE_LIMIT', { requests: 100, windowS: 60, burst: 100 }),
    // Connector hooks are unauthenticated until their HMAC/token checks: 1 MiB is far above any workflow_run or
    // pipeline hook we map (GitHub allows 25 MB, mostly for push events we ignore).
    connectorMaxBodyBytes: int(env, 'PROOFSTREAM_CONNECTOR_MAX_BODY_BYTES', 1024 * 1024),
    collectorMaxBatchBytes: intAtLeast(env, 'PROOFSTREAM_COLLECTOR_MAX_BATCH_BYTES', 1024 * 1024, 1024),
    connectorRateLimitRps: int(env, 'PROOFSTREAM_CONNECTOR_RATE_LIMIT_RPS', 10),
    connectorRateLimitBurst: int(env, 'PROOFSTREAM_CONNECTOR_RATE_LIMIT_BURST', 100),
    provenanceMaxRecords: intAtLeast(env, 'PROOFSTREAM_PROVENANCE_MAX_RECORDS', 1000, 1),
    provenanceMaxEvents: intAtLeast(env, 'PROOFSTREAM_PROVENANCE_MAX_EVENTS', 5000, 1),
    windowMaxEvents: int(env, 'PROOFSTREAM_WINDOW_MAX_EVENTS', 1000),
    windowMaxAgeMs: periodMs(env, 'PROOFSTREAM_WINDOW_MAX_AGE_MS', 1000, 10),
    webDir: env.PROOFSTREAM_WEB_DIR ? path.resolve(env.PROOFSTREAM_WEB_DIR) : undefined,
    witnesses: [],
    witnessQuorum: 0,
    retryMaxMs: int(env, 'PROOFSTREAM_RETRY_MAX_MS', 30_000),
    tsaUrl: env.PROOFSTREAM_TSA_URL || undefined,
    tsaRootsPem: [],
    anchorEpochMs: periodMs(env, 'PROOFSTREAM_ANCHOR_EPOCH_MS', 60_000, 100),
    maxConnections: int(env, 'PROOFSTREAM_MAX_CONNECTIONS', 1000),
    keepAliveTimeoutMs: int(env, 'PROOFSTREAM_KEEP_ALIVE_TIMEOUT_MS', 5_000),
    headersTimeoutMs: int(env, 'PROOFSTREAM_HEADERS_TIMEOUT_MS', 10_000),
    requestTimeoutMs: int(env, 'PROOFSTREAM_REQUEST_TIMEOUT_MS', 120_000),
    maxDbBytes: int(env, 'PROOFSTREAM_MAX_DB_BYTES', 0),
    allowRollback: flag(env, 'PROOFSTREAM_ALLOW_ROLLBACK'),
    highwaterIntervalMs: int(env, 'PROOFSTREAM_HIGHWATER_INTERVAL_MS', 100),
    startWitnessTimeoutMs: int(env, 'PROOFSTREAM_START_WITNESS_TIMEOUT_MS', 5_000),
    startCheck: startCheckMode(env.PROOFSTREAM_START_CHECK),
    startCheckEvents: int(env, 'PROOFSTREAM_START_CHECK_EVENTS', 64),
    shutdownGraceMs: int(env, 'PROOFSTREAM_SHUTDOWN_GRACE_MS', 10_000),
    metricsPort: env.PROOFSTREAM_METRICS_PORT === undefined || env.PROOFSTREAM_METRICS_PORT === '' ? undefined : int(env, 'PROOFSTREAM_METRICS_PORT', 0),
    readyMinFreeBytes: int(env, 'PROOFSTREAM_READY_MIN_FREE_BYTES', 100 * 1024 * 1024),
    readyMaxWitnessLagS: int(env, 'PROOFSTREAM_READY_MAX_WITNESS_LAG_S', 300),
    readyMaxAnchorLagS: int(env, 'PROOFSTREAM_READY_MAX_ANCHOR_LAG_S', 900),
    sseHeartbeatMs: Math.max(10, int(env, 'PROOFSTREAM_SSE_HEARTBEAT_MS', 15_000)),
    sseMaxBufferBytes: Math.max(4096, int(env, 'PROOFSTREAM_SSE_MAX_BUFFER_BYTES', 1024 * 1024)),
    sseMaxConnections: int(env, 'PROOFSTREAM_SSE_MAX_CONNECTIONS', 1000),
    sseMaxConnectionsPerKey: int(env, 'PROOFSTREAM_SSE_MAX_CONNECTIONS_PER_KEY', 20),
    sseRetryMs: int(env, 'PROOFSTREAM_SSE_RETRY_MS', 3000),
    webhookAllowPrivate: flag(env, 'PROOFSTREAM_WEBHOOK_ALLOW_PRIVATE'),
    webhookRetryPeriodMs: durationMs(env, 'PROOFSTREAM_WEBHOOK_RETRY_PERIOD', 3 * 86_400_000),
    webhookRetryBaseMs: Math.max(1, int(env, 'PROOFSTREAM_WEBHOOK_RETRY_BASE_MS', 5_000)),
    webhookRetryMaxMs: Math.max(1, int(env, 'PROOFSTREAM_WEBHOOK_RETRY_MAX_MS', 3_600_000)),
    webhookConcurrency: Math.max(1, int(env, 'PROOFSTREAM_WEBHOOK_CONCURRENCY', 8)),
    webhookTimeoutMs: Math.max(1, int(env, 'PROOFSTREAM_WEBHOOK_TIMEOUT_MS', 10_000)),
    webhookMaxResponseBytes: Math.max(1, int(env, 'PROOFSTREAM_WEBHOOK_MAX_RESPONSE_BYTES', 64 * 1024)),
    webhookMaxPerTenant: int(env, 'PROOFSTREAM_WEBHOOK_MAX_PER_TENANT', 50),
    webhookPollMs: Math.max(10, int(env, 'PROOFSTREAM_WEBHOOK_POLL_MS', 1_000)),
    webhookRetentionMs: int(env, 'PROOFSTREAM_WEBHOOK_RETENTION_MS', 7 * 86_400_000),
    builds: buildsConfig(env),
    pipelineRunner: runnerMode(env.PROOFSTREAM_RUNNER),
    pipelineMaxConcurrent: Math.max(1, int(env, 'PROOFSTREAM_PIPELINE_MAX_CONCURRENT', 2)),
    // The engine's own limits, read as `proofstream run` reads them (one default each, docs/runner.md "Limits").
    pipelineMaxParallel: loadPipelineEngineLimits(env).maxParallel,
    pipelineStepTimeoutMs: loadPipelineEngineLimits(env).stepTimeoutMs,
    pipelineLogLimitBytes: loadPipelineEngineLimits(env).logLimitBytes,
    pipelineHashLimits: { maxFiles: loadPipelineEngineLimits(env).hashMaxFiles, maxBytes: loadPipelineEngineLimits(env).hashMaxBytes },
    pipelineLogMaxLines: Math.max(1, int(env, 'PROOFSTREAM_PIPELINE_LOG_MAX_LINES', 10_000)),
    cacheDir: path.resolve(env.PROOFSTREAM_CACHE_DIR || path.join(dataDir, 'cache')),
    cacheMaxBytes: loadPipelineEngineLimits(env).cacheMaxBytes,
    workspaceDir: path.resolve(env.PROOFSTREAM_WORKSPACE_DIR || path.join(dataDir, 'workspaces')),
  };
  // Beside the first key by default, so one directory (or one PROOFSTREAM_SIGNING_KEY) locates them all.
  cfg.ledgerKeysDir = path.resolve(env.PROOFSTREAM_LEDGER_KEYS_DIR || path.join(path.dirname(overrides.signingKeyPath ?? cfg.signingKeyPath), 'ledger-keys'));
  cfg.witnesses = overrides.witnesses ?? parseWitnesses(env.PROOFSTREAM_WITNESSES);
  cfg.witnessQuorum = int(env, 'PROOFSTREAM_WITNESS_QUORUM', cfg.witnesses.length);
  if (cfg.witnessQuorum > cfg.witnesses.length) {
    throw new Error(`PROOFSTREAM_WITNESS_QUORUM (${cfg.witnessQuorum}) exceeds the ${cfg.witnesses.length} configured witnesses`);
  }
  if (env.PROOFSTREAM_TSA_ROOT) {
    cfg.tsaRootsPem = pemBlocksToDer(fs.readFileSync(env.PROOFSTREAM_TSA_ROOT, 'utf8')).map((der) => derToPem(der));
    if (cfg.tsaRootsPem.length === 0) throw new Error('PROOFSTREAM_TSA_ROOT holds no PEM certificate');
  }
  if (cfg.tsaUrl && cfg.tsaRootsPem.length === 0) throw new Error('PROOFSTREAM_TSA_URL needs PROOFSTREAM_TSA_ROOT (the TSA root certificate, PEM)');
  return { ...cfg, ...overrides };
}

/** PROOFSTREAM_RUNNER: unset or empty = no server-side execution; anything but process|sandbox refuses the start. */
function runnerMode(raw: string | undefined): 'process' | 'sandbox' | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (raw === 'process' || raw === 'sandbox') return raw;
  throw new Error(`PROOFSTREAM_RUNNER must be process or sandbox (or unset to refuse executions), not ${JSON.stringify(raw)}`);
}

// ---- Pipeline engine limits (issue #16, docs/runner.md "Limits"): read by the server's executions and by
// `proofstream run` alike, apart from loadConfig so neither needs the other's settings.
export interface PipelineEngineLimits {
  /** PROOFSTREAM_PIPELINE_STEP_TIMEOUT_MS: wall time of one step; then its process group is killed (timed_out) */
  stepTimeoutMs: number;
  /** PROOFSTREAM_PIPELINE_LOG_LIMIT_BYTES: log bytes kept per step (stdout+stderr); the rest is dropped after a marker */
  logLimitBytes: number;
  /** PROOFSTREAM_PIPELINE_MAX_PARALLEL: steps of one execution running at once */
  maxParallel: number;
  /** PROOFSTREAM_CACHE_MAX_BYTES: content-addressed cache size; least recently used entries go beyond it */
  cacheMaxBytes: number;
  /** PROOFSTREAM_PIPELINE_HASH_MAX_FILES: entries (files, links, directories) under one declared input or output */
  hashMaxFiles: number;
  /** PROOFSTREAM_PIPELINE_HASH_MAX_BYTES: content bytes under one declared input or output */
  hashMaxBytes: number;
}

export function loadPipelineEngineLimits(env: NodeJS.ProcessEnv = process.env): PipelineEngineLimits {
  return {
    stepTimeoutMs: intAtLeast(env, 'PROOFSTREAM_PIPELINE_STEP_TIMEOUT_MS', 30 * 60_000, 100),
    logLimitBytes: intAtLeast(env, 'PROOFSTREAM_PIPELINE_LOG_LIMIT_BYTES', 10 * 1024 * 1024, 1024),
    maxParallel: intAtLeast(env, 'PROOFSTREAM_PIPELINE_MAX_PARALLEL', 4, 1),
    cacheMaxBytes: intAtLeast(env, 'PROOFSTREAM_CACHE_MAX_BYTES', 5 * 1024 ** 3, 1),
    hashMaxFiles: intAtLeast(env, 'PROOFSTREAM_PIPELINE_HASH_MAX_FILES', 100_000, 1),
    hashMaxBytes: intAtLeast(env, 'PROOFSTREAM_PIPELINE_HASH_MAX_BYTES', 4 * 1024 ** 3, 1),
  };
}
