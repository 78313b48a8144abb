// Configuration from the environment, with the embedded defaults that make `npm start` work on a fresh clone.
import path from 'node:path';

export interface Config {
  host: string;
  port: number;
  dataDir: string;
  dbPath: string;
  signingKeyPath: string;
  bootstrapKey: string | undefined;
  origin: string;
  maxEventBytes: number;
  maxBatchBytes: number;
  maxBatchEvents: number;
  /** max body of POST /v2/verify (a whole audit bundle) */
  maxVerifyBytes: number;
  idempotencyTtlMs: number;
  idempotencyWaitMs: number;
  /** extra time a group commit waits to gather appends (0 = commit on the next event-loop turn) */
  commitDelayMs: number;
  /** requests per second per API key; 0 disables the limiter */
  rateLimitRps: number;
  rateLimitBurst: number;
  /** a window is sealed when it holds this many events… */
  windowMaxEvents: number;
  /** …or when its oldest event is this old, whichever comes first */
  windowMaxAgeMs: number;
}

function int(env: NodeJS.ProcessEnv, name: string, dflt: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got ${JSON.stringify(raw)}`);
  return n;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Config {
  const dataDir = path.resolve(overrides.dataDir ?? env.PROOFSTREAM_DATA_DIR ?? './data');
  const cfg: Config = {
    host: env.HOST ?? '127.0.0.1',
    port: int(env, 'PORT', 8080),
    dataDir,
    dbPath: path.resolve(env.PROOFSTREAM_DB ?? path.join(dataDir, 'proofstream.db')),
    signingKeyPath: path.resolve(env.PROOFSTREAM_SIGNING_KEY ?? path.join(dataDir, 'signing-key.pem')),
    bootstrapKey: env.PROOFSTREAM_BOOTSTRAP_KEY || undefined,
    origin: env.PROOFSTREAM_ORIGIN ?? 'proofstream.localhost',
    maxEventBytes: int(env, 'PROOFSTREAM_MAX_EVENT_BYTES', 64 * 1024),
    maxBatchBytes: int(env, 'PROOFSTREAM_MAX_BATCH_BYTES', 8 * 1024 * 1024),
    maxBatchEvents: 1000,
    maxVerifyBytes: int(env, 'PROOFSTREAM_MAX_VERIFY_BYTES', 64 * 1024 * 1024),
    idempotencyTtlMs: int(env, 'PROOFSTREAM_IDEMPOTENCY_TTL_MS', 24 * 3600 * 1000),
    idempotencyWaitMs: int(env, 'PROOFSTREAM_IDEMPOTENCY_WAIT_MS', 10_000),
    commitDelayMs: int(env, 'PROOFSTREAM_COMMIT_DELAY_MS', 0),
    rateLimitRps: int(env, 'PROOFSTREAM_RATE_LIMIT_RPS', 0),
    rateLimitBurst: int(env, 'PROOFSTREAM_RATE_LIMIT_BURST', 0),
    windowMaxEvents: int(env, 'PROOFSTREAM_WINDOW_MAX_EVENTS', 1000),
    windowMaxAgeMs: int(env, 'PROOFSTREAM_WINDOW_MAX_AGE_MS', 1000),
  };
  return { ...cfg, ...overrides };
}
