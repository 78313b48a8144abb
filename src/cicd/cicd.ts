// The CI/CD evidence system (docs/cicd.md) on the ledger: every record is an event on its repository's stream,
// appended through Ledger.append (so it is chained, signed, sealed, witnessed and anchored like any other), and the
// record's current state is written in that event's own transaction (AppendOptions.inTransaction), so state and
// evidence never disagree. Connectors, collectors and provenance build on the methods here.
import type { AppendResult, EventInput, IdempotencyWrite, ReceiptView } from '../ledger/appender.js';
import { ApiError, notFound } from '../ledger/errors.js';
import { newId } from '../ledger/ids.js';
import type { Ledger } from '../ledger/ledger.js';
import { actsOn, type Principal } from '../ledger/tenancy.js';
import type { CicdKind, CicdRecordFilter, CicdRecordRow } from '../store/cicd.js';
import type { StreamRow } from '../store/streams.js';
import {
  applyRunUpdate,
  checkStepNames,
  CICD_EVENT_TYPES,
  type Artifact,
  type Attestation,
  type Deployment,
  type PipelineRun,
  type PipelineRunUpdate,
} from './records.js';

/** What every CI/CD answer carries besides the record: where its (latest) event is and that event's receipt. */
export interface Placement {
  stream_id: string;
  seq_no: number;
  receipt: ReceiptView;
}

/** A record as the routes answer it: its fields, its times (received_at of its first and latest event), its placement. */
export type RecordView<T> = T & { createdAt: string; updatedAt: string } & Placement;

export type AttestationInput = Omit<Attestation, 'id'>;
export type PipelineRunInput = Omit<PipelineRun, 'id'>;
export type PipelineRunChange = Omit<PipelineRunUpdate, 'runId'>;
export type ArtifactInput = Omit<Artifact, 'id'>;
export type DeploymentInput = Omit<Deployment, 'id' | 'artifactId' | 'repositoryFullName'> & { repositoryFullName: string | null };

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

const ID_PREFIX: Record<CicdKind, string> = { attestation: 'att', pipeline_run: 'run', artifact: 'art', deployment: 'dep' };

/** The key a repository is found by: GitHub and GitLab names are case-insensitive. */
export const repositoryKeyOf = (fullName: string): string => fullName.toLowerCase();

const isUniqueViolation = (e: unknown): boolean => (e as { code?: string } | null)?.code === 'SQLITE_CONSTRAINT_UNIQUE';

export class Cicd {
  constructor(private readonly ledger: Ledger) {}

  // ---- repositories ----

  /**
   * The repository's stream, created on first use. The re-check and both inserts run in one BEGIN IMMEDIATE
   * transaction, so concurrent first uses (even from two processes) end up on one stream. A repository first written by
   * another system's key is "not found" to a key that is not tenant-wide (docs/cicd.md "Keys and scopes").
   */
  streamOf(p: Principal, repositoryFullName: string): StreamRow {
    const { store } = this.ledger;
    const key = repositoryKeyOf(repositoryFullName);
    let repo = store.cicd.repository(p.tenantId, key);
    if (!repo) {
      repo = store.write(() => {
        const again = store.cicd.repository(p.tenantId, key);
        if (again) return again;
        // Ledger.createStream's own transaction nests here as a savepoint: stream and row commit together.
        const { view } = this.ledger.createStream(p, { use_case: `cicd:${key}`, metadata: { repository_full_name: repositoryFullName } }, undefined);
        const row = { tenantId: p.tenantId, repositoryKey: key, repositoryFullName, streamId: view.stream_id, createdAt: view.created_at };
        store.cicd.insertRepository(row);
        return row;
      });
    }
    return this.ledger.streamFor(p, repo.streamId, 'repository');
  }

  // ---- attestations ----

  async createAttestation(p: Principal, input: AttestationInput, idem: IdempotencyWrite | undefined): Promise<AppendResult> {
    if (input.pipelineRunId !== null) this.referencedRun(p, input.pipelineRunId, input.repositoryFullName, 'pipelineRunId');
    const record: Attestation = { id: newId(ID_PREFIX.attestation), ...input };
    return this.create(p, 'attestation', record, CICD_EVENT_TYPES.attestation, null, idem, {
      attestationType: record.type,
      passed: record.passed ? 1 : 0,
      prNumber: record.prNumber,
      artifactSha256: record.artifactSha256,
      pipelineRunId: record.pipelineRunId,
    });
  }

  // ---- pipeline runs ----

  /**
   * `alsoInTransaction` runs in the event's transaction after the run's row is written (connectors map the provider's
   * run id there): if it throws, the event and the row roll back with it and the error is what this rejects with.
   */
  async createPipelineRun(
    p: Principal,
    input: PipelineRunInput,
    idem: IdempotencyWrite | undefined,
    alsoInTransaction?: (run: PipelineRun) => void,
  ): Promise<AppendResult> {
    checkStepNames(input.steps);
    const record: PipelineRun = { id: newId(ID_PREFIX.pipeline_run), ...input };
    return this.create(
      p,
      'pipeline_run',
      record,
      CICD_EVENT_TYPES.pipelineRunCreated,
      record.startedAt,
      idem,
      { status: record.status, prNumber: record.prNumber },
      alsoInTransaction && (() => alsoInTransaction(record)),
    );
  }

  /**
   * One update event. Checked before anything is queued (a final run answers 409 at once) and again inside the
   * event's transaction against the row as committed, so of two concurrent updates racing a run to a final state
   * only the first is appended.
   */
  async updatePipelineRun(p: Principal, id: string, change: PipelineRunChange, idem: IdempotencyWrite | undefined): Promise<AppendResult> {
    if (change.steps) checkStepNames(change.steps);
    const row = this.visible(p, id, 'pipeline_run', 'pipeline run');
    const update: PipelineRunUpdate = { runId: id, ...change };
    applyRunUpdate(JSON.parse(row.record) as PipelineRun, update); // the early answer; the transaction decides
    const { store } = this.ledger;
    let state: { run: PipelineRun; createdAt: string } | undefined;
    const input: EventInput = { source_ref: id, event_type: CICD_EVENT_TYPES.pipelineRunUpdated, occurred_at: null, payload: update };
    return this.ledger.append(p, row.streamId, [input], idem, (r) => this.view(state!.run, state!.createdAt, r[0]!.received_at, r[0]!), {
      // An update changes a resource that exists: 200, also in the Idempotency-Key record its replays answer from.
      status: 200,
      inTransaction: (r) => {
        const rec = r[0]!;
        const now = store.cicd.record(id)!;
        const run = applyRunUpdate(JSON.parse(now.record) as PipelineRun, update);
        store.cicd.updateRecord(id, {
          record: JSON.stringify(run),
          status: run.status,
          updatedAt: rec.received_at,
          eventId: rec.stream_event_id,
          seqNo: rec.seq_no,
          eventCount: now.eventCount + 1,
        });
        state = { run, createdAt: now.createdAt };
      },
    });
  }

  // ---- artifacts ----

  async registerArtifact(p: Principal, input: ArtifactInput, idem: IdempotencyWrite | undefined): Promise<AppendResult> {
    const { store } = this.ledger;
    const exists = () => {
      const prior = store.cicd.artifactBySha256(p.tenantId, input.sha256);
      const visible = prior && actsOn(p, prior);
      return new ApiError('ARTIFACT_EXISTS', `an artifact with this sha256 is registered already`, { field: 'sha256', id: visible ? prior.id : null });
    };
    if (store.cicd.artifactBySha256(p.tenantId, input.sha256)) throw exists();
    if (input.pipelineRunId !== null) this.referencedRun(p, input.pipelineRunId, input.repositoryFullName, 'pipelineRunId');
    const record: Artifact = { id: newId(ID_PREFIX.artifact), ...input };
    try {
      return await this.create(p, 'artifact', record, CICD_EVENT_TYPES.artifact, null, idem, {
        artifactSha256: record.sha256,
        pipelineRunId: record.pipelineRunId,
      });
    } catch (e) {
      // A concurrent registration of the same sha256 committed first: the unique index refused this one, whose event
      // rolled back with it.
      if (isUniqueViolation(e)) throw exists();
      throw e;
    }
  }

  getArtifact(p: Principal, sha256: string): RecordView<Artifact> {
    const row = this.ledger.store.cicd.artifactBySha256(p.tenantId, sha256);
    if (!row || !actsOn(p, row)) throw notFound('artifact');
    return this.rowView<Artifact>(p, row);
  }

  // ---- deployments ----

  async recordDeployment(p: Principal, input: DeploymentInput, idem: IdempotencyWrite | undefined): Promise<AppendResult> {
    const art = this.ledger.store.cicd.artifactBySha256(p.tenantId, input.artifactSha256);
    if (!art || !actsOn(p, art)) {
      throw new ApiError('REFERENCE_UNKNOWN', 'no artifact with this sha256 is registered (POST /api/v1/artifacts first)', { field: 'artifactSha256' });
    }
    const artifact = JSON.parse(art.record) as Artifact;
    if (input.repositoryFullName !== null && repositoryKeyOf(input.repositoryFullName) !== art.repositoryKey) {
      throw new ApiError('REFERENCE_UNKNOWN', `the artifact belongs to ${artifact.repositoryFullName}, not to this repository`, { field: 'repositoryFullName' });
    }
    if (input.pipelineRunId !== null) this.referencedRun(p, input.pipelineRunId, artifact.repositoryFullName, 'pipelineRunId');
    const record: Deployment = {
      id: newId(ID_PREFIX.deployment),
      repositoryFullName: artifact.repositoryFullName,
      environment: input.environment,
      artifactSha256: input.artifactSha256,
      artifactId: art.id,
      status: input.status,
      deployedAt: input.deployedAt,
      pipelineRunId: input.pipelineRunId,
    };
    return this.create(p, 'deployment', record, CICD_EVENT_TYPES.deployment, record.deployedAt, idem, {
      status: record.status,
      artifactSha256: record.artifactSha256,
      environment: record.environment,
      pipelineRunId: record.pipelineRunId,
    });
  }

  // ---- reads ----

  get<T>(p: Principal, kind: CicdKind, id: string, what: string): RecordView<T> {
    return this.rowView<T>(p, this.visible(p, id, kind, what));
  }

  list<T>(p: Principal, kind: CicdKind, filter: CicdRecordFilter & { repositoryFullName?: string | undefined }, cursor: string | undefined, limit: number): Page<RecordView<T>> {
    const before = cursor === undefined ? undefined : decodeCursor(cursor);
    const { repositoryFullName, ...f } = filter;
    const rows = this.ledger.store.cicd.list(
      p.tenantId,
      kind,
      { ...f, repositoryKey: repositoryFullName === undefined ? undefined : repositoryKeyOf(repositoryFullName) },
      before,
      limit + 1,
      p.tenantWide ? undefined : p.systemId,
    );
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      items: page.map((r) => this.rowView<T>(p, r)),
      next_cursor: rows.length > limit && last ? Buffer.from(JSON.stringify([last.createdAt, last.id])).toString('base64url') : null,
    };
  }

  // ---- internals ----

  /** A record of `kind` the key may see, or 404 naming `what`. */
  private visible(p: Principal, id: string, kind: CicdKind, what: string): CicdRecordRow {
    const row = this.ledger.store.cicd.record(id);
    if (!row || row.kind !== kind || !actsOn(p, row)) throw notFound(what);
    return row;
  }

  /** A pipeline run named by `field`, of the same repository: else 422 REFERENCE_UNKNOWN naming the field. */
  private referencedRun(p: Principal, id: string, repositoryFullName: string, field: string): void {
    const row = this.ledger.store.cicd.record(id);
    if (!row || row.kind !== 'pipeline_run' || !actsOn(p, row) || row.repositoryKey !== repositoryKeyOf(repositoryFullName)) {
      throw new ApiError('REFERENCE_UNKNOWN', `${field} names no pipeline run of ${repositoryFullName}`, { field });
    }
  }

  /** Appends the record's first event and writes its state in the same transaction. */
  private create<T extends { id: string; repositoryFullName: string }>(
    p: Principal,
    kind: CicdKind,
    record: T,
    eventType: string,
    occurredAt: string | null,
    idem: IdempotencyWrite | undefined,
    columns: Partial<Pick<CicdRecordRow, 'status' | 'attestationType' | 'passed' | 'prNumber' | 'artifactSha256' | 'environment' | 'pipelineRunId'>>,
    alsoInTransaction?: () => void,
  ): Promise<AppendResult> {
    const stream = this.streamOf(p, record.repositoryFullName);
    const streamId = stream.id;
    const owner = { tenantId: stream.tenantId, systemId: stream.systemId };
    const { store } = this.ledger;
    const input: EventInput = { source_ref: record.id, event_type: eventType, occurred_at: occurredAt, payload: record };
    return this.ledger.append(p, streamId, [input], idem, (r) => this.view(record, r[0]!.received_at, r[0]!.received_at, r[0]!), {
      inTransaction: (r) => {
        const rec = r[0]!;
        store.cicd.insertRecord({
          id: record.id,
          kind,
          tenantId: owner.tenantId,
          systemId: owner.systemId,
          streamId,
          repositoryKey: repositoryKeyOf(record.repositoryFullName),
          record: JSON.stringify(record),
          status: null,
          attestationType: null,
          passed: null,
          prNumber: null,
          artifactSha256: null,
          environment: null,
          pipelineRunId: null,
          ...columns,
          createdAt: rec.received_at,
          updatedAt: rec.received_at,
          eventId: rec.stream_event_id,
          seqNo: rec.seq_no,
          eventCount: 1,
        });
        alsoInTransaction?.();
      },
    });
  }

  private view<T>(record: T, createdAt: string, updatedAt: string, r: ReceiptView): RecordView<T> {
    return { ...record, createdAt, updatedAt, stream_id: r.stream_id, seq_no: r.seq_no, receipt: r };
  }

  /** A stored record with its latest event's receipt (and that event's inclusion proof once sealed). */
  private rowView<T>(p: Principal, row: CicdRecordRow): RecordView<T> {
    const receipt = this.ledger.getReceipt(p, row.eventId);
    return this.view(JSON.parse(row.record) as T, row.createdAt, row.updatedAt, receipt);
  }
}

function decodeCursor(cursor: string): { createdAt: string; id: string } {
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [unknown, unknown];
    if (typeof createdAt !== 'string' || typeof id !== 'string') throw new Error('not a cursor');
    return { createdAt, id };
  } catch {
    throw new ApiError('VALIDATION_ERROR', 'cursor is not one this server issued', { field: 'cursor' }, 400);
  }
}

