// CI/CD evidence records (docs/cicd.md): their shapes, the event types they are written as, and the rules that
// derive a pipeline run's current state from its events. No I/O here.
import { ApiError } from '../ledger/errors.js';

/** The event_type of each record kind's events: the version names the payload format, which never changes. */
export const CICD_EVENT_TYPES = {
  attestation: 'cicd.attestation/v1',
  pipelineRunCreated: 'cicd.pipeline_run.created/v1',
  pipelineRunUpdated: 'cicd.pipeline_run.updated/v1',
  artifact: 'cicd.artifact/v1',
  deployment: 'cicd.deployment/v1',
} as const;

export const ATTESTATION_TYPES = ['TEST_RESULTS', 'SECURITY_SCAN', 'SBOM', 'CODE_REVIEW', 'COMPLIANCE', 'CUSTOM'] as const;
export type AttestationType = (typeof ATTESTATION_TYPES)[number];

export const RUN_STATUSES = ['QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
/** A run in one of these states is final: no event may change it again. */
export const TERMINAL_RUN_STATUSES: readonly RunStatus[] = ['SUCCEEDED', 'FAILED', 'CANCELLED'];

export const STEP_STATUSES = ['PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED', 'SKIPPED'] as const;
export type StepStatus = (typeof STEP_STATUSES)[number];

export const DEPLOYMENT_STATUSES = ['PENDING', 'IN_PROGRESS', 'SUCCEEDED', 'FAILED', 'ROLLED_BACK'] as const;
export type DeploymentStatus = (typeof DEPLOYMENT_STATUSES)[number];

/** Bounds of one record (docs/cicd.md "Limits"); the body limit (PROOFSTREAM_MAX_EVENT_BYTES) bounds the rest. */
export const CICD_LIMITS = {
  /** steps of one pipeline run, after every update */
  maxSteps: 200,
  /** records per page of a list */
  pageMax: 200,
  pageDefault: 50,
} as const;

export interface Attestation {
  id: string;
  repositoryFullName: string;
  prNumber: number | null;
  artifactSha256: string | null;
  commitSha: string | null;
  pipelineRunId: string | null;
  type: AttestationType;
  name: string;
  passed: boolean;
  evidence: Record<string, unknown>;
}

export interface PipelineStep {
  name: string;
  status: StepStatus;
  startedAt: string | null;
  finishedAt: string | null;
}

export interface PipelineRun {
  id: string;
  repositoryFullName: string;
  name: string;
  provider: string | null;
  externalId: string | null;
  commitSha: string | null;
  branch: string | null;
  prNumber: number | null;
  status: RunStatus;
  startedAt: string | null;
  finishedAt: string | null;
  steps: PipelineStep[];
}

/** The payload of a `cicd.pipeline_run.updated/v1` event: the run's id and only the fields the update gives. */
export interface PipelineRunUpdate {
  runId: string;
  status?: RunStatus;
  finishedAt?: string | null;
  steps?: PipelineStep[];
}

export interface Artifact {
  id: string;
  repositoryFullName: string;
  name: string;
  version: string;
  sha256: string;
  artifactType: string;
  commitSha: string;
  branch: string;
  pipelineRunId: string | null;
}

export interface Deployment {
  id: string;
  repositoryFullName: string;
  environment: string;
  artifactSha256: string;
  /** the registered artifact deployed (POST /api/v1/artifacts) */
  artifactId: string;
  status: DeploymentStatus;
  deployedAt: string | null;
  pipelineRunId: string | null;
}

export const isTerminal = (s: RunStatus): boolean => TERMINAL_RUN_STATUSES.includes(s);

/** Steps with unique names: the first repeated name is a 400 naming it. */
export function checkStepNames(steps: readonly PipelineStep[], field = 'steps'): void {
  const seen = new Set<string>();
  steps.forEach((s, i) => {
    if (seen.has(s.name)) {
      throw new ApiError('VALIDATION_ERROR', `${field}[${i}].name repeats the step name ${JSON.stringify(s.name)}`, { field: `${field}[${i}].name` }, 400);
    }
    seen.add(s.name);
  });
}

/**
 * The run after one update event (the fold that derives the current state): a final run refuses it (409
 * PIPELINE_RUN_FINAL); steps are merged by name (a named step is replaced, a new one appended in order).
 */
export function applyRunUpdate(run: PipelineRun, u: PipelineRunUpdate): PipelineRun {
  if (isTerminal(run.status)) {
    throw new ApiError('PIPELINE_RUN_FINAL', `pipeline run ${run.id} is ${run.status}, a final state; it cannot change`, { id: run.id, status: run.status });
  }
  const steps = run.steps.slice();
  for (const s of u.steps ?? []) {
    const at = steps.findIndex((x) => x.name === s.name);
    if (at >= 0) steps[at] = s;
    else steps.push(s);
  }
  if (steps.length > CICD_LIMITS.maxSteps) {
    throw new ApiError('VALIDATION_ERROR', `a pipeline run holds at most ${CICD_LIMITS.maxSteps} steps; this update would make ${steps.length}`, { field: 'steps', limit: CICD_LIMITS.maxSteps }, 400);
  }
  return {
    ...run,
    status: u.status ?? run.status,
    finishedAt: u.finishedAt !== undefined ? u.finishedAt : run.finishedAt,
    steps,
  };
}
