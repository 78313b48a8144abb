// Request and response schemas of the pipeline routes (/v1/pipelines, /v1/executions, /v1/receipts, /v1/cache;
// docs/pipelines.md), in the seed API's shapes. They validate traffic and generate /openapi.json.
import { z } from '@hono/zod-openapi';
import type { ZodError } from 'zod';
import { ApiError } from '../../ledger/errors.js';
import { PipelineConfigSchema, validatePipelineConfig, type PipelineConfig } from '../../pipelines/engine-api.js';
import { zodDetails } from '../errors.js';
import { ErrorEnvelope, Inclusion, Receipt, StoredEvent } from '../schemas.js';

export const PIPELINE_LIMITS = {
  nameChars: 256,
  descriptionChars: 4096,
  environmentChars: 128,
  variables: 100,
  variableValueChars: 4096,
  pageMax: 100,
  tailMax: 10_000,
  trustedKeys: 64,
  policies: 16,
} as const;

/** 'steps[0].run' → ['steps', 0, 'run'] (the engine names fields this way; zod issues want a path). */
function pathOf(field: string): (string | number)[] {
  const out: (string | number)[] = [];
  for (const m of field.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) out.push(m[2] !== undefined ? Number(m[2]) : m[1]!);
  return out;
}

/**
 * The config, checked by the engine's validatePipelineConfig (structure, empty `run`, duplicate names, unknown needs,
 * cycles); the issue carries the engine's field name (`steps[0].run`) for the hook below.
 */
const CheckedConfig = z
  .unknown()
  .transform((v, ctx): PipelineConfig => {
    const r = validatePipelineConfig(v);
    if (r.ok) return r.config;
    // The config itself (not an array or object): named `config`.
    const whole = r.field === '(root)';
    ctx.addIssue({ code: 'custom', message: r.message, path: whole ? [] : pathOf(r.field), params: { field: whole ? 'config' : r.field } });
    return z.NEVER;
  })
  .openapi({ type: 'object', description: 'the pipeline config (schema PipelineConfig): version "0.1" and steps [{name, run, inputs, outputs, needs}]' });

export { PipelineConfigSchema };

export const PipelineInput = z
  .object({
    name: z.string().min(1).max(PIPELINE_LIMITS.nameChars).openapi({ example: 'web-app-build' }),
    description: z.string().max(PIPELINE_LIMITS.descriptionChars).nullable().optional(),
    config: CheckedConfig,
  })
  .strict()
  .openapi('PipelineInput');

const Placement = z.object({ stream_id: z.string(), seq_no: z.number().int(), receipt: Receipt.optional(), stream_event_id: z.string().optional() });

export const Pipeline = z
  .object({
    id: z.string().openapi({ example: 'pip_…' }),
    name: z.string(),
    description: z.string().nullable(),
    status: z.string().openapi({ example: 'active' }),
    config: z.record(z.string(), z.unknown()),
    pipeline_hash: z.string().openapi({ example: 'blake3:…' }),
    stream_id: z.string(),
    created_at: z.string(),
    updated_at: z.string(),
    executions: z.number().int(),
    success_rate: z.number().nullable().openapi({ description: 'completed / ended executions; null before any ended' }),
    ledger: Placement.optional().openapi({ description: "the pipeline.created event (the stream's first)" }),
  })
  .openapi('Pipeline');

export const PipelineList = z
  .object({ pipelines: z.array(Pipeline), total: z.number().int(), has_more: z.boolean(), limit: z.number().int(), offset: z.number().int() })
  .openapi('PipelineList');

export const PipelineListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(PIPELINE_LIMITS.pageMax).default(20),
  offset: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(0),
  sort: z.enum(['created_at:desc', 'created_at:asc']).default('created_at:desc'),
});

export const ExecutionListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(PIPELINE_LIMITS.pageMax).default(20),
  offset: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(0),
  sort: z.enum(['started_at:desc', 'started_at:asc']).default('started_at:desc'),
});

export const IdParam = z.object({ id: z.string().min(1).max(64) });

/** POSIX-shell-safe names: what a step's environment can carry. */
const VariableName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'must be a shell variable name (letters, digits, _; not starting with a digit)');

export const ExecuteInput = z
  .object({
    environment: z.string().min(1).max(PIPELINE_LIMITS.environmentChars).nullable().optional().openapi({ example: 'production' }),
    variables: z
      .record(VariableName, z.string().max(PIPELINE_LIMITS.variableValueChars))
      .refine((v) => Object.keys(v).length <= PIPELINE_LIMITS.variables, `at most ${PIPELINE_LIMITS.variables} variables`)
      .optional()
      .openapi({ description: "the steps' environment (plus a minimal PATH and HOME); values are never stored or answered", example: { NODE_ENV: 'production' } }),
    options: z
      .object({
        sign: z.literal(true, { message: 'receipts are always signed: sign may only be true' }).optional(),
        verify: z.boolean().optional(),
        cache: z.boolean().optional(),
      })
      .strict()
      .optional(),
  })
  .strict()
  .openapi('ExecuteInput');

const Urls = {
  pipeline_url: z.string(),
  logs_url: z.string(),
  receipt_url: z.string(),
  events_url: z.string(),
};

export const ExecutionStarted = z
  .object({ execution_id: z.string(), status: z.literal('running'), started_at: z.string(), ...Urls })
  .openapi('ExecutionStarted');

export const Step = z
  .object({
    name: z.string(),
    status: z.string(),
    exit_code: z.number().int().nullable(),
    duration_seconds: z.number().nullable(),
    cache_hit: z.boolean(),
    inputs: z.record(z.string(), z.string()).optional(),
    outputs: z.record(z.string(), z.string()).optional(),
  })
  .openapi('ExecutionStep');

export const Execution = z
  .object({
    id: z.string(),
    pipeline_id: z.string(),
    status: z.enum(['running', 'completed', 'failed', 'cancelled']),
    exit_code: z.number().int().nullable(),
    environment: z.string().nullable(),
    variables: z.array(z.string()).openapi({ description: 'the names of the variables given (values are never answered)' }),
    options: z.object({ sign: z.boolean(), verify: z.boolean(), cache: z.boolean() }),
    runner: z.string(),
    started_at: z.string(),
    completed_at: z.string().nullable(),
    duration_seconds: z.number().nullable(),
    steps: z.array(Step),
    error: z.string().nullable(),
    receipt_hash: z.string().nullable(),
    ledger: z.object({ stream_id: z.string(), seq_no: z.number().int(), stream_event_id: z.string() }).nullable(),
    ...Urls,
  })
  .openapi('Execution');

export const ExecutionList = z
  .object({ executions: z.array(Execution), total: z.number().int(), has_more: z.boolean(), limit: z.number().int(), offset: z.number().int() })
  .openapi('ExecutionList');

export const LogsQuery = z.object({
  step: z.string().min(1).max(256).optional(),
  tail: z.coerce.number().int().min(1).max(PIPELINE_LIMITS.tailMax).default(100),
});

export const Logs = z
  .object({
    execution_id: z.string(),
    status: z.string(),
    logs: z.array(
      z.object({ position: z.number().int(), timestamp: z.string(), step: z.string().nullable(), level: z.enum(['info', 'warn', 'error']), kind: z.string(), message: z.string() }),
    ),
    total_lines: z.number().int(),
    has_more: z.boolean(),
  })
  .openapi('ExecutionLogs');

const PipelineReceipt = z.record(z.string(), z.unknown()).openapi('PipelineReceipt', { description: 'the signed pipeline receipt (docs/protocol.md §14)' });

export const ExecutionReceipt = z
  .object({
    execution_id: z.string(),
    receipt: PipelineReceipt,
    receipt_hash: z.string().nullable(),
    verification: z.object({
      signature_valid: z.boolean(),
      timestamp_valid: z.boolean(),
      chain_of_trust: z.enum(['verified', 'untrusted', 'invalid']),
      signer: z.string().nullable(),
      problems: z.array(z.object({ code: z.string(), path: z.string(), message: z.string() })),
    }),
    ledger: z.object({ stream_id: z.string(), seq_no: z.number().int(), event: StoredEvent, receipt: Receipt, inclusion: Inclusion.nullable() }),
    bundle: z
      .object({ receipt: PipelineReceipt, ledger: z.record(z.string(), z.unknown()) })
      .openapi({ description: 'the receipt bundle of docs/protocol.md §14.4 (the event, and once sealed its inclusion and checkpoint): save it and run `proofstream verify`' }),
  })
  .openapi('ExecutionReceipt');

const Ed25519Key = z.string().regex(/^ed25519:[0-9a-f]{64}$/, "must be 'ed25519:' and 64 lowercase hex digits");

export const VerifyReceiptInput = z
  .object({
    receipt: z.record(z.string(), z.unknown()).openapi({ description: 'a pipeline receipt, or a receipt bundle {receipt, ledger}' }),
    trusted_keys: z.array(Ed25519Key).max(PIPELINE_LIMITS.trustedKeys).optional(),
    policies: z
      .array(z.string().max(64))
      .max(PIPELINE_LIMITS.policies)
      .optional()
      .openapi({ description: 'require-signature, max-age-24h, max-age-<N>h (N: 1–87600 hours)', example: ['require-signature', 'max-age-24h'] }),
  })
  .strict()
  .openapi('VerifyReceiptInput');

export const VerifyReceiptResult = z
  .object({
    valid: z.boolean(),
    signature_verification: z.object({ valid: z.boolean(), signer: z.string().nullable(), algorithm: z.literal('ed25519'), trusted: z.boolean().nullable() }),
    policy_compliance: z.object({ passed: z.boolean(), violations: z.array(z.object({ policy: z.string(), message: z.string() })) }),
    timestamp_check: z.object({ valid: z.boolean(), age_hours: z.number().nullable() }),
    problems: z.array(z.object({ code: z.string(), path: z.string(), message: z.string() })),
    inclusion: z
      .record(z.string(), z.unknown())
      .optional()
      .openapi({ description: "a receipt bundle's placement: event_commits, proof_valid, checkpoint_valid, stream_id, seq_no, tree_size" }),
  })
  .openapi('VerifyReceiptResult');

export const CacheStats = z
  .object({
    total_size_bytes: z.number().int(),
    total_entries: z.number().int(),
    hits: z.number().int(),
    misses: z.number().int(),
    hit_rate: z.number(),
    miss_rate: z.number(),
    max_size_bytes: z.number().int(),
    backends: z.object({ local: z.object({ size_bytes: z.number().int(), entries: z.number().int(), hit_rate: z.number() }) }),
  })
  .openapi('CacheStats');

export const Blake3Param = z.object({ blake3: z.string().regex(/^blake3:[0-9a-f]{64}$/, "must be 'blake3:' and 64 lowercase hex digits") });

export const CacheGcInput = z
  .object({
    max_age_days: z.number().min(0).max(36_500).optional(),
    target_size_percent: z.number().min(0).max(100).optional(),
    aggressive: z.boolean().optional(),
  })
  .strict()
  .openapi('CacheGcInput');

export const CacheGcResult = z.object({ removed_entries: z.number().int(), freed_bytes: z.number().int(), stats: CacheStats }).openapi('CacheGcResult');

export const errorOf = (description: string) => ({ description, content: { 'application/json': { schema: ErrorEnvelope } } });

function fieldOf(issue: ZodError['issues'][number]): string {
  const given = (issue as { params?: { field?: unknown } }).params?.field;
  if (typeof given === 'string') return given;
  const keys = issue.code === 'unrecognized_keys' ? [...issue.path, (issue as { keys: string[] }).keys[0] ?? ''] : issue.path;
  return keys.map((k, i) => (typeof k === 'number' ? `[${k}]` : i === 0 ? String(k) : `.${String(k)}`)).join('');
}

/**
 * Validation failures are 400 VALIDATION_ERROR with `details.field` naming the first bad field and `details.issue`
 * what is wrong (the seed's error example); a config field is named as in the config (`steps[0].run`).
 */
export function pipelinesValidationHook(result: { success: boolean; error?: ZodError; target: string }): undefined {
  if (result.success) return undefined;
  const details = zodDetails(result.error!, result.target);
  const first = result.error!.issues[0]!;
  const field = fieldOf(first);
  const fromConfig = typeof (first as { params?: { field?: unknown } }).params?.field === 'string';
  const message = fromConfig ? `Invalid pipeline configuration: ${field}: ${first.message}` : `${field || result.target}: ${first.message}`;
  const issues = details.issues.map((d, i) => ({ ...d, field: fieldOf(result.error!.issues[i]!) }));
  throw new ApiError('VALIDATION_ERROR', message, { field, issue: first.message, target: result.target, issues }, 400);
}

/** A policy name of POST /v1/receipts/verify, parsed; undefined when unknown. */
export function parsePolicy(p: string): { kind: 'require-signature' } | { kind: 'max-age'; hours: number } | undefined {
  if (p === 'require-signature') return { kind: 'require-signature' };
  const m = /^max-age-([1-9][0-9]{0,4})h$/.exec(p);
  if (m && Number(m[1]) <= 87_600) return { kind: 'max-age', hours: Number(m[1]) };
  return undefined;
}
