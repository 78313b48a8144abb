// An artifact's provenance (docs/cicd.md "Provenance", docs/protocol.md §13): everything the ledger knows about it —
// its artifact record, the run(s) that built it, the attestations on it (by sha256, run, commit or PR), its
// deployments — each with its events and an inclusion proof against ONE checkpoint of the repository's stream, as a
// bundle src/verify checks offline; or the same as an in-toto Statement (SLSA Provenance v1) in a DSSE envelope.
//
// Wait-free: the bundle is proved against the stream's latest checkpoint; events after it are listed as pending
// (inclusion null), and the bundle's status is "pending" until a later fetch finds them sealed.
import { bytesToBase64, bytesToHex } from '../protocol/bytes.js';
import { dsseEnvelope, type DsseEnvelope } from '../protocol/dsse.js';
import { IN_TOTO_PAYLOAD_TYPE, inTotoStatement, inTotoStatementBytes, SLSA_PROVENANCE_V1, slsaProvenanceV1, type ResourceDescriptor } from '../protocol/in-toto.js';
import { canonicalBytes } from '../protocol/jcs.js';
import { inclusionProof } from '../protocol/merkle.js';
import { ApiError, notFound } from '../ledger/errors.js';
import type { Ledger, StoredEventView } from '../ledger/ledger.js';
import { actsOn, type Principal } from '../ledger/tenancy.js';
import type { CicdKind, CicdRecordRow } from '../store/cicd.js';
import { V1_CHECKPOINT_MEMBERS } from '../verify/v1-proof.js';
import { PROVENANCE_FORMAT, type ProvenanceRecordKind } from '../verify/provenance.js';
import type { Artifact, Attestation, PipelineRun } from './records.js';

export interface ProvenanceLimits {
  /** records in one bundle (PROOFSTREAM_PROVENANCE_MAX_RECORDS) */
  maxRecords: number;
  /** events in one bundle (PROOFSTREAM_PROVENANCE_MAX_EVENTS) */
  maxEvents: number;
}

export interface ProvenanceRecord {
  kind: ProvenanceRecordKind;
  id: string;
  record: Record<string, unknown>;
  created_at: string;
  updated_at: string;
  seq_nos: number[];
}

export interface ProvenanceInclusion {
  leaf_index: number;
  tree_size: number;
  checkpoint_id: string;
  proof: string[];
}

export interface ProvenanceBundle {
  format: typeof PROVENANCE_FORMAT;
  status: 'complete' | 'pending';
  artifact_sha256: string;
  repository_full_name: string;
  stream_id: string;
  commit: { sha: string; branch: string; pr_numbers: number[] };
  records: ProvenanceRecord[];
  events: Array<{ event: StoredEventView; inclusion: ProvenanceInclusion | null }>;
  pending: Array<{ kind: ProvenanceRecordKind; id: string; seq_no: number }>;
  checkpoint: Record<string, unknown> | null;
  keys: Array<{ kid: string; alg: string; public_key: string; public_key_format: string }>;
  generated_at: string;
}

/** SLSA buildType of a Proofstream pipeline run (docs/cicd.md "Provenance": what each predicate member holds). */
export const PIPELINE_RUN_BUILD_TYPE = 'https://proofstream.dev/cicd/pipeline-run/v1';
/** builder.id is this prefix and the run's provider (github, gitlab, …; "unknown" when the run names none). */
export const BUILDER_ID_PREFIX = 'https://proofstream.dev/cicd/builder/';

const ORDER: Record<ProvenanceRecordKind, number> = { artifact: 0, pipeline_run: 1, attestation: 2, deployment: 3 };

export class Provenance {
  constructor(
    private readonly ledger: Ledger,
    private readonly limits: ProvenanceLimits,
  ) {}

  /**
   * The records linked to the artifact, each once: artifact, runs, and (unless `runsOnly`, which the in-toto form needs)
   * attestations and deployments. 404 when unknown or not visible.
   */
  private collect(p: Principal, sha256: string, runsOnly = false): { artifact: CicdRecordRow; rows: CicdRecordRow[] } {
    const { store } = this.ledger;
    const artRow = store.cicd.artifactBySha256(p.tenantId, sha256);
    if (!artRow || !actsOn(p, artRow)) throw notFound('artifact');
    const art = JSON.parse(artRow.record) as Artifact;
    const max = this.limits.maxRecords;
    const rows = new Map<string, CicdRecordRow>([[artRow.id, artRow]]);
    const systemId = p.tenantWide ? undefined : p.systemId;
    const add = (list: CicdRecordRow[]) => {
      for (const r of list) {
        if (!actsOn(p, r)) continue;
        rows.set(r.id, r);
        if (rows.size > max) {
          throw new ApiError('PROVENANCE_TOO_LARGE', `the artifact's provenance holds more than ${max} records (PROOFSTREAM_PROVENANCE_MAX_RECORDS)`, { limit: max, what: 'records' });
        }
      }
    };
    const list = (kind: CicdKind, f: Parameters<typeof store.cicd.list>[2]) => store.cicd.list(p.tenantId, kind, { ...f, repositoryKey: artRow.repositoryKey }, undefined, max + 1, systemId);
    const byMember = (kind: CicdKind, member: string, value: string) => store.cicd.recordsWithMember(p.tenantId, kind, artRow.repositoryKey, member, value, max + 1, systemId);

    // The run that built it: the one it names; else every run on its commit (re-runs included).
    const runs: CicdRecordRow[] = [];
    if (art.pipelineRunId !== null) {
      const r = store.cicd.record(art.pipelineRunId);
      if (r && r.kind === 'pipeline_run') runs.push(r);
    } else {
      runs.push(...byMember('pipeline_run', 'commitSha', art.commitSha).filter((r) => (JSON.parse(r.record) as PipelineRun).commitSha === art.commitSha));
    }
    add(runs);
    if (runsOnly) return { artifact: artRow, rows: [...rows.values()] };
    const runIds = runs.filter((r) => rows.has(r.id)).map((r) => r.id);
    const prs = [...new Set(runs.map((r) => (JSON.parse(r.record) as PipelineRun).prNumber).filter((n): n is number => n !== null))];

    // Attestations on the artifact, its run(s), its commit or its PR(s).
    add(list('attestation', { artifactSha256: sha256 }));
    for (const id of runIds) add(list('attestation', { pipelineRunId: id }));
    for (const pr of prs) add(list('attestation', { prNumber: pr }));
    add(byMember('attestation', 'commitSha', art.commitSha).filter((r) => (JSON.parse(r.record) as Attestation).commitSha === art.commitSha));
    // Deployments of it.
    add(list('deployment', { artifactSha256: sha256 }));
    return { artifact: artRow, rows: [...rows.values()] };
  }

  /** The provenance bundle (kind `provenance`, docs/protocol.md §13.3). */
  bundle(p: Principal, sha256: string): ProvenanceBundle {
    const { store } = this.ledger;
    const { artifact, rows } = this.collect(p, sha256);
    const streamId = artifact.streamId;
    const stream = this.ledger.streamFor(p, streamId, 'artifact');
    const maxEvents = this.limits.maxEvents;

    // Which events belong to which record (a run has its created event and one per update).
    let total = 0;
    const records: ProvenanceRecord[] = rows.map((row) => {
      const seqNos =
        row.eventCount === 1 ? [row.seqNo] : store.cicd.recordEventSeqNos(streamId, row.id, row.seqNo, row.eventCount).reverse();
      total += seqNos.length;
      if (total > maxEvents) {
        throw new ApiError('PROVENANCE_TOO_LARGE', `the artifact's provenance holds more than ${maxEvents} events (PROOFSTREAM_PROVENANCE_MAX_EVENTS)`, { limit: maxEvents, what: 'events' });
      }
      return { kind: row.kind as ProvenanceRecordKind, id: row.id, record: JSON.parse(row.record) as Record<string, unknown>, created_at: row.createdAt, updated_at: row.updatedAt, seq_nos: seqNos };
    });
    records.sort((a, b) => ORDER[a.kind] - ORDER[b.kind] || a.seq_nos[0]! - b.seq_nos[0]!);

    // ONE checkpoint: the stream's latest; every event it covers gets a proof against it, the rest are pending.
    const cpRow = store.checkpoints.latest(streamId);
    const cpView = cpRow ? (this.ledger.proofs.view(cpRow) as unknown as Record<string, unknown>) : null;
    const checkpoint = cpView ? Object.fromEntries(V1_CHECKPOINT_MEMBERS.filter((k) => Object.hasOwn(cpView, k)).map((k) => [k, cpView[k]])) : null;
    const size = cpRow?.treeSize ?? 0;
    const src = store.checkpoints.nodeSource(streamId);
    const seqs = records.flatMap((r) => r.seq_nos).sort((a, b) => a - b);
    const events = seqs.map((seq) => {
      const ev = this.ledger.listEvents(p, stream.id, seq, 1).events[0];
      if (!ev || ev.seq_no !== seq) throw new ApiError('INTEGRITY_ERROR', `event ${seq} of stream ${streamId} is missing`);
      const inclusion =
        cpRow && seq <= size
          ? { leaf_index: seq - 1, tree_size: size, checkpoint_id: cpRow.id, proof: inclusionProof(src, seq - 1, size).map(bytesToHex) }
          : null;
      return { event: ev, inclusion };
    });
    const pending = records
      .filter((r) => r.seq_nos.some((s) => s > size))
      .map((r) => ({ kind: r.kind, id: r.id, seq_no: r.seq_nos.find((s) => s > size)! }));

    const art = JSON.parse(artifact.record) as Artifact;
    const prNumbers = [
      ...new Set(records.filter((r) => r.kind === 'pipeline_run').map((r) => (r.record as unknown as PipelineRun).prNumber).filter((n): n is number => n !== null)),
    ].sort((a, b) => a - b);
    return {
      format: PROVENANCE_FORMAT,
      status: pending.length === 0 ? 'complete' : 'pending',
      artifact_sha256: sha256,
      repository_full_name: art.repositoryFullName,
      stream_id: streamId,
      commit: { sha: art.commitSha, branch: art.branch, pr_numbers: prNumbers },
      records,
      events,
      pending,
      checkpoint,
      keys: this.ledger.publicKeys().map((k) => ({ kid: k.kid, alg: k.alg, public_key: k.public_key, public_key_format: k.public_key_format })),
      generated_at: new Date().toISOString(),
    };
  }

  /**
   * The in-toto Statement v1 (subject: the artifact; predicate: SLSA Provenance v1 from the run that built it) in a
   * DSSE envelope signed with the ledger's current key. 409 PROVENANCE_NO_RUN when no run is known to have built it.
   */
  inToto(p: Principal, sha256: string): DsseEnvelope {
    const { artifact, rows } = this.collect(p, sha256, true);
    const art = JSON.parse(artifact.record) as Artifact;
    const runs = rows.filter((r) => r.kind === 'pipeline_run');
    // The named run; else, of the runs on the commit, the newest that succeeded, else the newest.
    const pick =
      runs.find((r) => r.id === art.pipelineRunId) ??
      [...runs].sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1)).find((r) => r.status === 'SUCCEEDED') ??
      [...runs].sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1))[0];
    if (!pick) {
      throw new ApiError('PROVENANCE_NO_RUN', 'no pipeline run is known to have built this artifact (none is named by pipelineRunId or on its commit)', {
        sha256,
        commitSha: art.commitSha,
      });
    }
    const run = JSON.parse(pick.record) as PipelineRun;
    if (pick.eventCount > this.limits.maxEvents) {
      throw new ApiError('PROVENANCE_TOO_LARGE', `the run has more than ${this.limits.maxEvents} events (PROOFSTREAM_PROVENANCE_MAX_EVENTS)`, { limit: this.limits.maxEvents, what: 'events' });
    }
    const seqNos = pick.eventCount === 1 ? [pick.seqNo] : this.ledger.store.cicd.recordEventSeqNos(pick.streamId, pick.id, pick.seqNo, pick.eventCount).reverse();
    const runEvents = seqNos.map((s) => this.ledger.listEvents(p, pick.streamId, s, 1).events[0]!);
    const statement = inTotoStatement([{ name: art.name, digest: { sha256: art.sha256 } }], SLSA_PROVENANCE_V1, slsaProvenanceV1(predicateInput(art, run, pick.streamId, runEvents)));
    const signer = this.ledger.signer;
    return dsseEnvelope(IN_TOTO_PAYLOAD_TYPE, inTotoStatementBytes(statement), { keyid: signer.kid, sign: (m) => signer.sign(m) });
  }
}

/** An RFC 3339 time as SLSA wants it (UTC, "Z"); the run's times may carry an offset. */
const utc = (t: string | null): string | undefined => (t === null ? undefined : new Date(t).toISOString());

const compact = (o: Record<string, unknown>): Record<string, unknown> => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null && v !== undefined));

/**
 * Where a provider's repositories live, for resolvedDependencies' uri, by the provider's prefix (the connectors write
 * github-actions and gitlab-ci). Unknown providers: no uri; the digest still names the commit.
 */
const FORGES: ReadonlyArray<[string, string]> = [
  ['github', 'https://github.com/'],
  ['gitlab', 'https://gitlab.com/'],
];

/** The SLSA predicate of a run (docs/cicd.md "Provenance" lists each member's source). */
export function predicateInput(art: Artifact, run: PipelineRun, streamId: string, runEvents: readonly StoredEventView[]) {
  const provider = run.provider?.toLowerCase() ?? null;
  const commit = run.commitSha ?? art.commitSha;
  const forge = provider ? FORGES.find(([prefix]) => provider.startsWith(prefix))?.[1] : undefined;
  // A digest names the whole commit: an abbreviated id (the API takes 4–64 hex digits) goes to annotations instead.
  const full = commit.length === 40 || commit.length === 64;
  const dep: ResourceDescriptor = compact({
    uri: forge ? `git+${forge}${art.repositoryFullName}@refs/heads/${run.branch ?? art.branch}` : `urn:proofstream:repository:${art.repositoryFullName}`,
    name: art.repositoryFullName,
    digest: full ? { gitCommit: commit } : undefined,
    annotations: full ? undefined : { commitSha: commit },
  }) as ResourceDescriptor;
  const byproducts: ResourceDescriptor[] = [
    // The run's own ledger events: anyone can fetch and verify them (GET /v2/events/{id}).
    ...runEvents.map((e) => ({
      name: `proofstream-event/${e.seq_no}`,
      uri: `urn:proofstream:event:${e.stream_event_id}`,
      digest: { sha256: e.event_hash },
      annotations: { streamId: e.stream_id, seqNo: e.seq_no, eventType: e.event_type },
    })),
    // Each step's result as it stands (the JCS of the step, base64).
    ...run.steps.map((s) => ({ name: `step/${s.name}`, mediaType: 'application/json', content: bytesToBase64(canonicalBytes(s)), annotations: { status: s.status } })),
  ];
  return {
    buildType: PIPELINE_RUN_BUILD_TYPE,
    externalParameters: compact({ repository: art.repositoryFullName, pipeline: run.name, commitSha: commit, branch: run.branch ?? art.branch, prNumber: run.prNumber }),
    internalParameters: compact({ pipelineRunId: run.id, provider: run.provider, externalId: run.externalId, status: run.status, streamId }),
    resolvedDependencies: [dep],
    builder: { id: `${BUILDER_ID_PREFIX}${encodeURIComponent(provider ?? 'unknown')}` },
    metadata: compact({ invocationId: run.externalId ?? run.id, startedOn: utc(run.startedAt), finishedOn: utc(run.finishedAt) }),
    byproducts,
  };
}

