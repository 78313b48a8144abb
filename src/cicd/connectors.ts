// CI/CD connectors (docs/cicd.md "Connectors"): GitHub and GitLab webhooks turned into CI/CD records through the
// Cicd methods, so a hook's evidence is the same event a pipeline would have posted. The connector id is in the hook's
// path, so its secret is known before anything of the body is parsed; nothing is parsed until the signature checks.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { AppendResult, IdempotencyWrite } from '../ledger/appender.js';
import { ApiError, notFound } from '../ledger/errors.js';
import { newId } from '../ledger/ids.js';
import type { Ledger } from '../ledger/ledger.js';
import type { Principal } from '../ledger/tenancy.js';
import type { ConnectorRow } from '../store/connectors.js';
import { Cicd } from './cicd.js';
import type { Artifact, DeploymentStatus, RunStatus } from './records.js';

export const CONNECTOR_PROVIDERS = ['github', 'gitlab'] as const;
export type ConnectorProvider = (typeof CONNECTOR_PROVIDERS)[number];

export interface ConnectorView {
  id: string;
  provider: ConnectorProvider;
  name: string;
  system_id: string;
  webhook_path: string;
  created_at: string;
  revoked_at: string | null;
}

/** What a hook answers: the record's answer when one was written (or replayed), else why nothing was. */
export interface HookAnswer {
  status: number;
  bodyText: string;
  replayed: boolean;
}

/** The request as the route hands it over: lower-case header names, the raw body bytes (≤ the cap). */
export interface HookRequest {
  header: (name: string) => string | undefined;
  body: Uint8Array;
}

const badSignature = (message: string) => new ApiError('CONNECTOR_SIGNATURE_INVALID', message);
const nothing = (status: number, event: string, reason: string): HookAnswer => ({
  status,
  bodyText: JSON.stringify({ recorded: false, event, reason }),
  replayed: false,
});

/** Equal-length buffers compared in constant time; a length difference is a mismatch without a compare. */
/** Thrown inside a run's creating transaction when a concurrent hook mapped the same provider run first. */
class RunMappedMeanwhile extends Error {}

const sameBytes = (a: Buffer, b: Buffer) => a.length === b.length && timingSafeEqual(a, b);

export function githubSignatureOk(secret: string, body: Uint8Array, header: string | undefined): boolean {
  if (!header || !/^sha256=[0-9a-f]{64}$/i.test(header)) return false;
  const want = createHmac('sha256', secret).update(body).digest();
  return sameBytes(want, Buffer.from(header.slice(7), 'hex'));
}

export function gitlabTokenOk(secret: string, header: string | undefined): boolean {
  if (header === undefined) return false;
  // Hash both sides: equal lengths for timingSafeEqual, and no early exit that leaks the secret's length.
  const h = (s: string) => createHash('sha256').update(s, 'utf8').digest();
  return timingSafeEqual(h(secret), h(header));
}

const GH_RUN_FINAL: Record<string, RunStatus> = {
  success: 'SUCCEEDED',
  failure: 'FAILED',
  timed_out: 'FAILED',
  startup_failure: 'FAILED',
  action_required: 'FAILED',
  stale: 'CANCELLED',
  cancelled: 'CANCELLED',
  skipped: 'CANCELLED',
  neutral: 'SUCCEEDED',
};
/** workflow_run.status before it completes (octokit/webhooks common/workflow-run.schema.json). */
const GH_RUN_OPEN: Record<string, RunStatus> = {
  requested: 'QUEUED',
  queued: 'QUEUED',
  waiting: 'QUEUED',
  pending: 'QUEUED',
  in_progress: 'RUNNING',
};
const GH_DEPLOY: Record<string, DeploymentStatus> = {
  pending: 'PENDING',
  queued: 'PENDING',
  waiting: 'PENDING',
  in_progress: 'IN_PROGRESS',
  success: 'SUCCEEDED',
  failure: 'FAILED',
  error: 'FAILED',
  inactive: 'ROLLED_BACK',
};
const GL_RUN: Record<string, RunStatus> = {
  created: 'QUEUED',
  waiting_for_resource: 'QUEUED',
  preparing: 'QUEUED',
  pending: 'QUEUED',
  scheduled: 'QUEUED',
  manual: 'QUEUED',
  waiting_for_callback: 'QUEUED',
  running: 'RUNNING',
  // Being canceled: jobs' after_script still runs; `canceled` follows.
  canceling: 'RUNNING',
  success: 'SUCCEEDED',
  failed: 'FAILED',
  canceled: 'CANCELLED',
  skipped: 'CANCELLED',
};
const GL_DEPLOY: Record<string, DeploymentStatus> = {
  created: 'PENDING',
  running: 'IN_PROGRESS',
  success: 'SUCCEEDED',
  failed: 'FAILED',
  canceled: 'FAILED',
};

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});
const str = (v: unknown): string | null => (typeof v === 'string' && v.length > 0 ? v : null);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isSafeInteger(v) ? v : null);
/**
 * RFC 3339 from GitHub's ISO times and GitLab's "2016-08-12 15:23:28 UTC" (pipelines) and "2021-04-28 21:50:00 +0200"
 * (deployments' status_changed_at), rewritten to ISO first: Date.parse of anything else is implementation-defined.
 * null when absent or unreadable.
 */
function time(v: unknown): string | null {
  const s = str(v);
  if (!s) return null;
  const iso = s
    .replace(/^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d) UTC$/, '$1T$2Z')
    .replace(/^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d) ([+-]\d\d)(\d\d)$/, '$1T$2$3:$4');
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? new Date(ms).toISOString() : null;
}
/** A deployment payload: an object, or (the REST API takes either) a string holding a JSON object. */
function jsonObject(v: unknown): unknown {
  if (typeof v !== 'string') return v;
  try {
    return JSON.parse(v);
  } catch {
    return null;
  }
}
const commit = (v: unknown): string | null => {
  const s = str(v)?.toLowerCase() ?? null;
  return s && /^[0-9a-f]{4,64}$/.test(s) ? s : null;
};
const bad = (field: string, message: string) => new ApiError('VALIDATION_ERROR', `${field}: ${message}`, { field }, 400);
const need = <T>(v: T | null, field: string): T => {
  if (v === null) throw bad(field, 'missing or not of the documented type');
  return v;
};

export class Connectors {
  readonly cicd: Cicd;
  constructor(
    private readonly ledger: Ledger,
    private readonly dedupeTtlMs: number,
  ) {
    this.cicd = new Cicd(ledger);
  }

  create(p: Principal, provider: ConnectorProvider, name: string): ConnectorView & { secret: string } {
    const row: ConnectorRow = {
      id: newId('con'),
      tenantId: p.tenantId,
      systemId: p.systemId,
      provider,
      name,
      // 32 random bytes as hex: GitHub's secret field and GitLab's token field take it as typed.
      secret: randomBytes(32).toString('hex'),
      createdAt: new Date().toISOString(),
      revokedAt: null,
    };
    this.ledger.store.connectors.insert(row);
    return { ...viewOf(row), secret: row.secret };
  }

  list(p: Principal, limit: number): ConnectorView[] {
    return this.ledger.store.connectors.list(p.tenantId, limit).filter((r) => p.tenantWide || r.systemId === p.systemId).map(viewOf);
  }

  revoke(p: Principal, id: string): ConnectorView {
    const row = this.ledger.store.connectors.byId(id);
    if (!row || row.tenantId !== p.tenantId || (!p.tenantWide && row.systemId !== p.systemId)) throw notFound('connector');
    if (row.revokedAt === null) this.ledger.store.connectors.revoke(id, new Date().toISOString());
    return viewOf(this.ledger.store.connectors.byId(id)!);
  }

  /**
   * One hook: the connector must exist, be active and of this provider (else 404), the signature must check (else 401
   * CONNECTOR_SIGNATURE_INVALID); only then is the body parsed. The delivery id is the idempotency key.
   */
  async receive(provider: ConnectorProvider, connectorId: string, req: HookRequest): Promise<HookAnswer> {
    const row = this.ledger.store.connectors.byId(connectorId);
    if (!row || row.provider !== provider || row.revokedAt !== null) throw notFound('connector');
    const ok = provider === 'github' ? githubSignatureOk(row.secret, req.body, req.header('x-hub-signature-256')) : gitlabTokenOk(row.secret, req.header('x-gitlab-token'));
    if (!ok) throw badSignature(provider === 'github' ? 'X-Hub-Signature-256 does not match the connector secret' : 'X-Gitlab-Token does not match the connector secret');
    let body: Obj;
    try {
      body = obj(JSON.parse(Buffer.from(req.body).toString('utf8')));
    } catch {
      throw new ApiError('MALFORMED_JSON', 'the hook body is not JSON');
    }
    const p: Principal = { keyId: `connector:${row.id}`, tenantId: row.tenantId, systemId: row.systemId, scopes: new Set(['events:write']) };
    const event = provider === 'github' ? req.header('x-github-event') ?? '' : req.header('x-gitlab-event') ?? '';
    const delivery = provider === 'github' ? req.header('x-github-delivery') : gitlabDeliveryOf(req, body);
    const fingerprint = createHash('sha256').update(req.body).digest('hex');
    const key = delivery ? `connector:${row.id}:${delivery}`.slice(0, 255) : undefined;
    const decision = key === undefined ? undefined : await this.ledger.idempotency.enter(row.tenantId, key, fingerprint);
    if (decision?.kind === 'replay') return { status: decision.status, bodyText: decision.bodyText, replayed: true };
    const idem: IdempotencyWrite | undefined = key === undefined ? undefined : { tenantId: row.tenantId, key, fingerprint, ttlMs: this.dedupeTtlMs };
    try {
      const r = provider === 'github' ? await this.github(p, row, event, body, idem) : await this.gitlab(p, row, event, body, idem);
      return 'bodyText' in r && 'receipts' in r ? { status: r.status, bodyText: r.bodyText, replayed: false } : r;
    } finally {
      if (decision?.kind === 'proceed') decision.release();
    }
  }

  private async github(p: Principal, row: ConnectorRow, event: string, b: Obj, idem: IdempotencyWrite | undefined): Promise<AppendResult | HookAnswer> {
    if (event === 'ping') return { status: 200, bodyText: JSON.stringify({ recorded: false, event, reason: 'ping: the connector is reachable', zen: str(b.zen) }), replayed: false };
    const repo = () => need(str(obj(b.repository).full_name), 'repository.full_name');
    if (event === 'workflow_run') {
      const wr = obj(b.workflow_run);
      const action = str(b.action);
      const runId = need(num(wr.id), 'workflow_run.id');
      // A re-run keeps the run's id with run_attempt 2, 3, …: each attempt is a run of its own (it may build other
      // bytes), named as GitHub's API names it (/actions/runs/{id}/attempts/{n}); the first attempt is the bare id.
      const attempt = num(wr.run_attempt) ?? 1;
      const externalId = attempt > 1 ? `${runId}/attempts/${attempt}` : String(runId);
      const prs = Array.isArray(wr.pull_requests) ? wr.pull_requests : [];
      const base = {
        repositoryFullName: repo(),
        name: str(wr.name) ?? str(obj(b.workflow).name) ?? 'workflow',
        provider: 'github-actions',
        externalId,
        commitSha: commit(wr.head_sha),
        branch: str(wr.head_branch),
        prNumber: num(obj(prs[0]).number),
        startedAt: time(wr.run_started_at) ?? time(wr.created_at),
        steps: [],
      };
      // The run's own status decides, the action only when it is absent: GitHub documents a `requested` delivery whose
      // run is already `completed` (conclusion action_required), which is a final run, not a queued one.
      const phase = str(wr.status) ?? action;
      if (phase === 'completed') {
        const status = GH_RUN_FINAL[str(wr.conclusion) ?? ''] ?? 'FAILED';
        return this.run(p, row, externalId, { ...base, status, finishedAt: time(wr.updated_at) }, idem, event);
      }
      const open = phase === null ? undefined : GH_RUN_OPEN[phase];
      if (open) return this.run(p, row, externalId, { ...base, status: open, finishedAt: null }, idem, event);
      return nothing(202, event, `workflow_run action ${JSON.stringify(action)} with status ${JSON.stringify(wr.status)} is not mapped`);
    }
    if (event === 'check_run' || event === 'check_suite') {
      const c = obj(event === 'check_run' ? b.check_run : b.check_suite);
      if (str(b.action) !== 'completed' || str(c.status) !== 'completed') return nothing(202, event, 'only completed checks are recorded');
      const conclusion = str(c.conclusion);
      const prs = Array.isArray(c.pull_requests) ? c.pull_requests : [];
      const prNumber = num(obj(prs[0]).number);
      const artifactSha256 = this.artifactOfCommit(p, repo(), commit(c.head_sha));
      if (prNumber === null && artifactSha256 === null) return nothing(202, event, 'the check names no pull request and its commit no registered artifact');
      const name = event === 'check_run' ? str(c.name) ?? 'check run' : str(obj(c.app).name) ?? 'check suite';
      return this.cicd.createAttestation(
        p,
        {
          repositoryFullName: repo(),
          prNumber,
          artifactSha256,
          commitSha: commit(c.head_sha),
          pipelineRunId: null,
          // A check run is a test result as GitHub reports one; a suite is the app's whole verdict.
          type: event === 'check_run' ? 'TEST_RESULTS' : 'CUSTOM',
          name: name.slice(0, 256),
          passed: conclusion === 'success',
          // A check suite has neither html_url nor completed_at; a completed suite's updated_at is when it completed.
          evidence: { source: `github.${event}`, id: num(c.id), conclusion, html_url: str(c.html_url), completed_at: str(c.completed_at) ?? str(c.updated_at) },
        },
        idem,
      );
    }
    if (event === 'deployment_status') {
      const d = obj(b.deployment);
      const ds = obj(b.deployment_status);
      const status = GH_DEPLOY[str(ds.state) ?? ''];
      if (!status) return nothing(202, event, `deployment state ${JSON.stringify(ds.state)} is not mapped`);
      const fromPayload = str(obj(jsonObject(d.payload)).artifactSha256);
      const sha256 = fromPayload && /^[0-9a-f]{64}$/.test(fromPayload) ? fromPayload : this.artifactOfCommit(p, repo(), commit(d.sha));
      if (!sha256) return nothing(202, event, 'no registered artifact: set deployment payload.artifactSha256 or register the commit\'s artifact');
      return this.cicd.recordDeployment(
        p,
        { repositoryFullName: repo(), environment: need(str(ds.environment) ?? str(d.environment), 'deployment.environment'), artifactSha256: sha256, status, deployedAt: time(ds.created_at), pipelineRunId: null },
        idem,
      );
    }
    return nothing(202, event, `GitHub event ${JSON.stringify(event)} is not mapped; nothing recorded`);
  }

  private async gitlab(p: Principal, row: ConnectorRow, event: string, b: Obj, idem: IdempotencyWrite | undefined): Promise<AppendResult | HookAnswer> {
    const repo = () => need(str(obj(b.project).path_with_namespace), 'project.path_with_namespace');
    if (event === 'Pipeline Hook') {
      const a = obj(b.object_attributes);
      const id = need(num(a.id), 'object_attributes.id');
      const status = GL_RUN[str(a.status) ?? ''];
      if (!status) return nothing(202, event, `pipeline status ${JSON.stringify(a.status)} is not mapped`);
      const final = status === 'SUCCEEDED' || status === 'FAILED' || status === 'CANCELLED';
      return this.run(
        p,
        row,
        String(id),
        {
          repositoryFullName: repo(),
          name: str(a.name) ?? `pipeline ${id}`,
          provider: 'gitlab-ci',
          externalId: String(id),
          commitSha: commit(a.sha),
          branch: a.tag === true ? null : str(a.ref),
          prNumber: num(obj(b.merge_request).iid),
          status,
          startedAt: time(a.created_at),
          finishedAt: final ? time(a.finished_at) : null,
          steps: [],
        },
        idem,
        event,
      );
    }
    if (event === 'Deployment Hook') {
      const status = GL_DEPLOY[str(b.status) ?? ''];
      if (!status) return nothing(202, event, `deployment status ${JSON.stringify(b.status)} is not mapped`);
      // commit_url ends in the full commit id; short_sha (8 hex) is the fallback, matched by prefix.
      const sha256 = this.artifactOfCommit(p, repo(), commit(str(b.commit_url)?.split('/').pop()) ?? commit(b.short_sha));
      if (!sha256) return nothing(202, event, "no artifact registered for the deployment's commit");
      return this.cicd.recordDeployment(
        p,
        { repositoryFullName: repo(), environment: need(str(b.environment), 'environment'), artifactSha256: sha256, status, deployedAt: time(b.status_changed_at), pipelineRunId: null },
        idem,
      );
    }
    return nothing(202, event, `GitLab event ${JSON.stringify(event)} is not mapped; nothing recorded`);
  }

  /**
   * A provider run: created on first sight (with the status it has then), updated afterwards. A hook that would change
   * a final run (an event arriving out of order) records nothing and answers 200 saying so.
   */
  private async run(
    p: Principal,
    row: ConnectorRow,
    externalId: string,
    input: Parameters<Cicd['createPipelineRun']>[1],
    idem: IdempotencyWrite | undefined,
    event: string,
  ): Promise<AppendResult | HookAnswer> {
    const { store } = this.ledger;
    let known = store.connectors.runOf(row.id, externalId);
    if (known === undefined) {
      try {
        // The mapping is written in the run's own transaction (BEGIN IMMEDIATE, so also across processes): of two
        // first hooks of one provider run racing each other, the second finds the mapping taken, its event and run
        // roll back, and it goes on as an update of the winner's run below.
        return await this.cicd.createPipelineRun(p, input, idem, (run) => {
          if (!store.connectors.insertRun({ connectorId: row.id, externalId, runId: run.id, createdAt: new Date().toISOString() })) throw new RunMappedMeanwhile();
        });
      } catch (e) {
        if (!(e instanceof RunMappedMeanwhile)) throw e;
        known = store.connectors.runOf(row.id, externalId)!;
      }
    }
    const current = this.cicd.get<{ status: RunStatus }>(p, 'pipeline_run', known, 'pipeline run');
    if (current.status === input.status) return nothing(200, event, `pipeline run ${known} is ${input.status} already`);
    try {
      return await this.cicd.updatePipelineRun(p, known, { status: input.status, ...(input.finishedAt ? { finishedAt: input.finishedAt } : {}) }, idem);
    } catch (e) {
      if (e instanceof ApiError && e.code === 'PIPELINE_RUN_FINAL') return nothing(200, event, e.message);
      throw e;
    }
  }

  /** The artifact registered for this commit among the repository's 200 newest (abbreviated ids match by prefix). */
  private artifactOfCommit(p: Principal, repositoryFullName: string, sha: string | null): string | null {
    if (!sha) return null;
    const page = this.cicd.list<Artifact>(p, 'artifact', { repositoryFullName }, undefined, 200);
    const hit = page.items.find((a) => a.commitSha.startsWith(sha) || sha.startsWith(a.commitSha));
    return hit ? hit.sha256 : null;
  }
}

/**
 * GitLab's dedupe key: Idempotency-Key (GitLab 17.4+, the same on every retry of one event), else X-Gitlab-Event-UUID,
 * else the body's object id with its status: a pipeline keeps its id through pending → running → success, so the id
 * alone would fold distinct changes into one.
 */
function gitlabDeliveryOf(req: HookRequest, body: Obj): string | undefined {
  const h = req.header('idempotency-key') ?? req.header('x-gitlab-event-uuid');
  if (h) return h;
  const a = obj(body.object_attributes);
  const id = num(a.id) ?? num(body.deployment_id);
  if (id === null) return undefined;
  return `${str(body.object_kind) ?? 'object'}:${id}:${str(a.status) ?? str(body.status) ?? ''}`;
}

function viewOf(r: ConnectorRow): ConnectorView {
  return {
    id: r.id,
    provider: r.provider as ConnectorProvider,
    name: r.name,
    system_id: r.systemId,
    webhook_path: `/api/v1/connectors/${r.provider}/${r.id}`,
    created_at: r.createdAt,
    revoked_at: r.revokedAt,
  };
}
