// Request and response schemas of the CI/CD routes (/api/v1, docs/cicd.md): camelCase bodies as the seed API takes
// them. They validate traffic and generate /openapi.json.
import { z } from '@hono/zod-openapi';
import type { ZodError } from 'zod';
import { ATTESTATION_TYPES, CICD_LIMITS, DEPLOYMENT_STATUSES, RUN_STATUSES, STEP_STATUSES } from '../../cicd/records.js';
import { ApiError } from '../../ledger/errors.js';
import { zodDetails } from '../errors.js';
import { Receipt, StoredReceipt } from '../schemas.js';

/** `owner/name`, or GitLab's `group/subgroup/name`: path segments of letters, digits, `.`, `_`, `-`. */
export const RepositoryFullName = z
  .string()
  .max(256)
  .regex(/^[A-Za-z0-9_.-]+(?:\/[A-Za-z0-9_.-]+)+$/, 'must be owner/name')
  .openapi({ example: 'acme/payments-api', description: 'owner/name (GitLab: group/…/name); case-insensitive' });

export const Sha256 = z
  .string()
  .regex(/^[0-9a-f]{64}$/, 'must be exactly 64 lowercase hex digits')
  .openapi({ example: 'a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90', description: 'SHA-256 of the artifact, 64 lowercase hex digits' });

const CommitSha = z
  .string()
  .regex(/^[0-9a-f]{4,64}$/, 'must be 4–64 lowercase hex digits')
  .openapi({ example: 'abc123', description: 'a git commit id, full or abbreviated (4–64 lowercase hex digits)' });
const Time = z.iso.datetime({ offset: true }).openapi({ example: '2026-06-07T12:00:00Z', description: 'RFC 3339' });
const Name = z.string().min(1).max(256);
const PrNumber = z.number().int().min(1).max(2 ** 31 - 1);
const RecordId = (prefix: string) => z.string().min(1).max(64).openapi({ example: `${prefix}_…` });

export const AttestationInput = z
  .object({
    repositoryFullName: RepositoryFullName,
    prNumber: PrNumber.nullable().default(null),
    artifactSha256: Sha256.nullable().default(null),
    commitSha: CommitSha.nullable().default(null),
    pipelineRunId: RecordId('run').nullable().default(null).openapi({ description: 'a pipeline run of the same repository' }),
    type: z.enum(ATTESTATION_TYPES),
    name: Name.openapi({ example: 'Unit Tests' }),
    passed: z.boolean(),
    evidence: z.record(z.string(), z.unknown()).default({}).openapi({ example: { totalTests: 1234, passed: 1230, failed: 4, coverage: 87.5 } }),
  })
  .strict()
  .refine((a) => a.prNumber !== null || a.artifactSha256 !== null, {
    message: 'an attestation is linked to a pull request (prNumber) or an artifact (artifactSha256): give at least one',
    path: ['prNumber'],
  })
  .openapi('CicdAttestationInput');

export const PipelineStep = z
  .object({
    name: Name,
    status: z.enum(STEP_STATUSES).default('PENDING'),
    startedAt: Time.nullable().default(null),
    finishedAt: Time.nullable().default(null),
  })
  .strict()
  .openapi('CicdPipelineStep');

export const PipelineRunInput = z
  .object({
    repositoryFullName: RepositoryFullName,
    name: Name.openapi({ example: 'build-and-test' }),
    provider: z.string().min(1).max(64).nullable().default(null).openapi({ example: 'github-actions' }),
    externalId: z.string().min(1).max(256).nullable().default(null).openapi({ description: "the CI system's own id of the run" }),
    commitSha: CommitSha.nullable().default(null),
    branch: Name.nullable().default(null),
    prNumber: PrNumber.nullable().default(null),
    status: z.enum(RUN_STATUSES).default('QUEUED'),
    startedAt: Time.nullable().default(null),
    finishedAt: Time.nullable().default(null),
    steps: z.array(PipelineStep).max(CICD_LIMITS.maxSteps).default([]),
  })
  .strict()
  .openapi('CicdPipelineRunInput');

export const PipelineRunUpdateInput = z
  .object({
    status: z.enum(RUN_STATUSES).optional(),
    finishedAt: Time.nullable().optional(),
    steps: z.array(PipelineStep).min(1).max(CICD_LIMITS.maxSteps).optional(),
  })
  .strict()
  .refine((u) => u.status !== undefined || u.finishedAt !== undefined || u.steps !== undefined, {
    message: 'an update changes status, finishedAt or steps: give at least one',
    path: ['status'],
  })
  .openapi('CicdPipelineRunUpdate');

export const ArtifactInput = z
  .object({
    repositoryFullName: RepositoryFullName,
    name: Name.openapi({ example: 'payments-api' }),
    version: z.string().min(1).max(128).openapi({ example: '2.1.0' }),
    sha256: Sha256,
    artifactType: z
      .string()
      .regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'must be 1–64 lowercase letters, digits, ".", "_" or "-"')
      .openapi({ example: 'docker-image' }),
    commitSha: CommitSha,
    branch: Name.openapi({ example: 'main' }),
    pipelineRunId: RecordId('run').nullable().default(null).openapi({ description: 'the run that built it (same repository)' }),
  })
  .strict()
  .openapi('CicdArtifactInput');

export const Environment = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._\/-]{0,127}$/, 'must be 1–128 letters, digits, ".", "_", "/" or "-"')
  .openapi({ example: 'production' });

export const DeploymentInput = z
  .object({
    repositoryFullName: RepositoryFullName.nullable().default(null).openapi({ description: "optional; must be the artifact's repository" }),
    environment: Environment,
    artifactSha256: Sha256.openapi({ description: 'a registered artifact (POST /api/v1/artifacts)' }),
    status: z.enum(DEPLOYMENT_STATUSES),
    deployedAt: Time.nullable().default(null),
    pipelineRunId: RecordId('run').nullable().default(null),
  })
  .strict()
  .openapi('CicdDeploymentInput');

const Placement = {
  createdAt: z.string().openapi({ description: "received_at of the record's first event" }),
  updatedAt: z.string().openapi({ description: "received_at of the record's latest event" }),
  stream_id: z.string().openapi({ description: "the repository's stream" }),
  seq_no: z.number().int().openapi({ description: "the record's latest event" }),
};
/** On writes: the new event's receipt. On reads: the latest event's, with its inclusion proof once sealed. */
const WithReceipt = <T extends z.ZodRawShape>(shape: T, name: string) =>
  z.object({ ...shape, ...Placement, receipt: z.union([StoredReceipt, Receipt]) }).openapi(name);

const Nullable = <T extends z.ZodTypeAny>(t: T) => t.nullable();

export const Attestation = WithReceipt(
  {
    id: z.string(),
    repositoryFullName: z.string(),
    prNumber: Nullable(z.number().int()),
    artifactSha256: Nullable(z.string()),
    commitSha: Nullable(z.string()),
    pipelineRunId: Nullable(z.string()),
    type: z.enum(ATTESTATION_TYPES),
    name: z.string(),
    passed: z.boolean(),
    evidence: z.record(z.string(), z.unknown()),
  },
  'CicdAttestation',
);

const StepOut = z.object({ name: z.string(), status: z.enum(STEP_STATUSES), startedAt: Nullable(z.string()), finishedAt: Nullable(z.string()) });

export const PipelineRun = WithReceipt(
  {
    id: z.string(),
    repositoryFullName: z.string(),
    name: z.string(),
    provider: Nullable(z.string()),
    externalId: Nullable(z.string()),
    commitSha: Nullable(z.string()),
    branch: Nullable(z.string()),
    prNumber: Nullable(z.number().int()),
    status: z.enum(RUN_STATUSES),
    startedAt: Nullable(z.string()),
    finishedAt: Nullable(z.string()),
    steps: z.array(StepOut),
  },
  'CicdPipelineRun',
);

export const Artifact = WithReceipt(
  {
    id: z.string(),
    repositoryFullName: z.string(),
    name: z.string(),
    version: z.string(),
    sha256: z.string(),
    artifactType: z.string(),
    commitSha: z.string(),
    branch: z.string(),
    pipelineRunId: Nullable(z.string()),
  },
  'CicdArtifact',
);

export const Deployment = WithReceipt(
  {
    id: z.string(),
    repositoryFullName: z.string(),
    environment: z.string(),
    artifactSha256: z.string(),
    artifactId: z.string(),
    status: z.enum(DEPLOYMENT_STATUSES),
    deployedAt: Nullable(z.string()),
    pipelineRunId: Nullable(z.string()),
  },
  'CicdDeployment',
);

export const PageQuery = {
  limit: z.coerce.number().int().min(1).max(CICD_LIMITS.pageMax).default(CICD_LIMITS.pageDefault),
  cursor: z.string().min(1).max(512).optional(),
};
const QueryBool = z.enum(['true', 'false']).transform((v) => v === 'true');

export const AttestationQuery = z
  .object({
    ...PageQuery,
    repositoryFullName: RepositoryFullName.optional(),
    prNumber: z.coerce.number().int().min(1).max(2 ** 31 - 1).optional(),
    artifactSha256: Sha256.optional(),
    pipelineRunId: z.string().min(1).max(64).optional(),
    type: z.enum(ATTESTATION_TYPES).optional(),
    passed: QueryBool.optional(),
  })
  .strict();

export const PipelineRunQuery = z
  .object({ ...PageQuery, repositoryFullName: RepositoryFullName.optional(), status: z.enum(RUN_STATUSES).optional() })
  .strict();

// GET /api/v1/artifacts (not in the seed API; the console lists a repository's artifacts with it): newest first.
export const ArtifactQuery = z
  .object({ ...PageQuery, repositoryFullName: RepositoryFullName.optional(), pipelineRunId: z.string().min(1).max(64).optional() })
  .strict();

export const DeploymentQuery = z
  .object({
    ...PageQuery,
    repositoryFullName: RepositoryFullName.optional(),
    environment: Environment.optional(),
    artifactSha256: Sha256.optional(),
    status: z.enum(DEPLOYMENT_STATUSES).optional(),
  })
  .strict();

export const IdParam = z.object({ id: z.string().min(1).max(64) });
export const Sha256Param = z.object({ sha256: Sha256 });

export const pageOf = <T extends z.ZodTypeAny>(item: T, name: string) =>
  z.object({ items: z.array(item), next_cursor: z.string().nullable().openapi({ description: 'null on the last page' }) }).openapi(name);

/** `steps[0].name` from a zod path; an unknown key is named by itself. */
function fieldOf(issue: ZodError['issues'][number]): string {
  const keys = issue.code === 'unrecognized_keys' ? [...issue.path, (issue as { keys: string[] }).keys[0] ?? ''] : issue.path;
  return keys.map((k, i) => (typeof k === 'number' ? `[${k}]` : i === 0 ? String(k) : `.${String(k)}`)).join('');
}

/**
 * Validation failures on /api/v1 are 400 VALIDATION_ERROR (as the seed API answers a bad sha256), for bodies too, with
 * `details.field` naming the first bad field and `details.issues` every one (docs/cicd.md "Errors").
 */
export function cicdValidationHook(result: { success: boolean; error?: ZodError; target: string }): undefined {
  if (result.success) return undefined;
  const details = zodDetails(result.error!, result.target);
  const first = result.error!.issues[0]!;
  const field = fieldOf(first);
  const issues = details.issues.map((d, i) => ({ ...d, field: fieldOf(result.error!.issues[i]!) }));
  throw new ApiError('VALIDATION_ERROR', `${field || result.target}: ${first.message}`, { target: result.target, field, issues }, 400);
}
