// Kind `provenance`: the provenance bundle of one artifact, as GET /api/v1/artifacts/{sha256}/provenance returns it
// (docs/protocol.md §13.3, docs/cicd.md "Provenance"):
//
//   {format: "proofstream-provenance/v1", status, artifact_sha256, repository_full_name, stream_id, commit,
//    records: [{kind, id, record, created_at, updated_at, seq_nos}], events: [{event, inclusion | null}],
//    pending: [{kind, id, seq_no}], checkpoint | null, keys, generated_at}
//
// Every event carries its payload and an RFC 9162 inclusion proof against ONE checkpoint of the repository's
// stream; every record must be what its events' payloads say; every record must be linked to the artifact.
// Pure: imports only src/protocol and src/verify.
import { hexToBytes } from '../protocol/bytes.js';
import { canonicalize } from '../protocol/jcs.js';
import { verifyInclusion } from '../protocol/merkle.js';
import { quorumMet, type TrustPolicy } from '../protocol/policy.js';
import { hintsFor, type CallerHints } from './caller.js';
import { checkCheckpoint, type CheckpointInfo } from './checkpoint.js';
import { checkEventContent, readEvent, SignatureBatch, type EventRecord, type SignatureVerifier } from './event.js';
import { checkAnchors, checkWitnesses } from './evidence.js';
import { ptr, type CheckScope, type ReportBuilder } from './report.js';
import { asObj, Fields, isObj, own, show, type Obj } from './shape.js';
import { addKeys, BUNDLE_KEYS_TRUST_CHECK, emptyTrust, type TrustSet } from './trust.js';
import { V1_CHECKPOINT_MEMBERS } from './v1-proof.js';

export const PROVENANCE_KIND = 'provenance';
export const PROVENANCE_FORMAT = 'proofstream-provenance/v1';
/** detectKind recognizes any version of the format by this prefix. */
export const PROVENANCE_FORMAT_PREFIX = 'proofstream-provenance/';

export const PROVENANCE_RECORD_KINDS = ['artifact', 'pipeline_run', 'attestation', 'deployment'] as const;
export type ProvenanceRecordKind = (typeof PROVENANCE_RECORD_KINDS)[number];

/** The event types of CI/CD records (the same table as src/cicd/records.ts CICD_EVENT_TYPES; a test keeps them equal). */
export const PROVENANCE_EVENT_TYPES = {
  attestation: 'cicd.attestation/v1',
  pipelineRunCreated: 'cicd.pipeline_run.created/v1',
  pipelineRunUpdated: 'cicd.pipeline_run.updated/v1',
  artifact: 'cicd.artifact/v1',
  deployment: 'cicd.deployment/v1',
} as const;

const TERMINAL_RUN = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED']);

const TOP_MEMBERS = [
  'format',
  'status',
  'artifact_sha256',
  'repository_full_name',
  'stream_id',
  'commit',
  'records',
  'events',
  'pending',
  'checkpoint',
  'keys',
  'generated_at',
] as const;
const RECORD_MEMBERS = ['kind', 'id', 'record', 'created_at', 'updated_at', 'seq_nos'] as const;

/** Bounds that keep a hostile bundle from costing more than a large honest one. */
export const PROVENANCE_VERIFY_LIMITS = { maxEvents: 100_000, maxRecords: 100_000, maxProof: 64 } as const;

/** Seconds after which an unsealed event is worth fetching again (a window seals within max_age_ms, 1 s by default). */
export const SEAL_RETRY_AFTER_S = 2;

export interface ProvenanceVerifyOptions {
  trust: TrustSet;
  /** Trust the bundle's own `keys` (the CLI without --trust); the report says so. */
  useBundleKeys: boolean;
  policy: TrustPolicy | null;
  signatureVerifier?: SignatureVerifier | undefined;
  hints?: CallerHints | undefined;
}

interface Item {
  index: number;
  ev: EventRecord;
  payload: unknown;
  included: boolean;
  pending: boolean;
}

const jcs = (v: unknown): string | null => {
  try {
    return canonicalize(v);
  } catch {
    return null;
  }
};

const lower = (s: unknown): string | null => (typeof s === 'string' ? s.toLowerCase() : null);

/** Verifies a provenance bundle. Never throws (verify() also guards). */
export async function verifyProvenanceKind(object: unknown, o: ProvenanceVerifyOptions, r: ReportBuilder): Promise<void> {
  const hints = o.hints ?? hintsFor(undefined);
  const top = r.check('provenance: well-formed');
  const b = asObj(object, '', top, `a provenance bundle {format: "${PROVENANCE_FORMAT}", …}`);
  if (!b) return;
  const f = new Fields(b, '', top);
  f.literal('format', PROVENANCE_FORMAT);
  f.onlyKeys(TOP_MEMBERS);
  const sha = f.hex32('artifact_sha256');
  const repo = f.str('repository_full_name', { nonEmpty: true });
  const streamId = f.str('stream_id', { nonEmpty: true });
  const status = f.str('status');
  const commit = f.obj('commit');
  const records = f.arr('records');
  const events = f.arr('events');
  const pending = f.arr('pending');
  f.str('generated_at', { optional: true });
  // generated_at says when the server answered; nothing signs it.
  if (f.has('generated_at')) r.unauthenticated('/generated_at');
  for (const [name, list, max] of [
    ['records', records, PROVENANCE_VERIFY_LIMITS.maxRecords],
    ['events', events, PROVENANCE_VERIFY_LIMITS.maxEvents],
  ] as const) {
    if (list && list.length > max) {
      top.fail('MALFORMED', `/${name}`, `${name} has ${list.length} elements; this verifier reads at most ${max}`);
      return;
    }
  }

  // ---- keys ----
  const kc = r.check('keys: well-formed, kid derived from each key');
  const own_ = emptyTrust();
  addKeys(own_, own(b, 'keys'), kc, (i, m) => (i < 0 ? '/keys' : ptr('/keys', i, ...(m ? [m] : []))), { checkKid: true, what: 'keys' });
  let trust = o.trust;
  if (o.useBundleKeys) {
    r.note(BUNDLE_KEYS_TRUST_CHECK, `no trusted keys were given (${hints.trust} or ${hints.policy}): the bundle is shown consistent and signed by the keys it names, not issued by a ledger you know`);
    trust = own_;
  } else if (Array.isArray(own(b, 'keys'))) {
    r.unauthenticated('/keys');
  }

  // ---- checkpoint ----
  const checkpoint = own(b, 'checkpoint');
  let cp: CheckpointInfo | null = null;
  if (checkpoint !== null && checkpoint !== undefined) {
    const body = r.check('checkpoint: note parses and agrees with tree_size, root_hash and the stream');
    const sig = r.check('checkpoint: note signed by a trusted log key');
    if (isObj(checkpoint)) new Fields(checkpoint, '/checkpoint', body).onlyKeys(V1_CHECKPOINT_MEMBERS);
    cp = await checkCheckpoint(checkpoint, '/checkpoint', trust, { sig, body, streamId, requireId: true });
  } else if (checkpoint === undefined) {
    top.fail('MALFORMED', '/checkpoint', 'missing member "checkpoint" (null while nothing is sealed)');
  }

  // ---- events: content, receipts, inclusion ----
  const evShape = r.check('events: well-formed, one stream, ascending seq_no');
  const commitment = r.check('events: payload commitments');
  const eventHash = r.check('events: event hashes recomputed from the event fields');
  const sigCheck = r.check('events: receipts signed by a trusted key');
  const incShape = r.check('inclusion: well-formed, against the bundle checkpoint');
  const incCheck = r.check('inclusion: each event_hash leads to the checkpoint root');
  const incPending = r.check('inclusion: every event sealed into the checkpoint');
  const sigs = new SignatureBatch(trust, sigCheck, o.signatureVerifier);
  const bySeq = new Map<number, Item>();
  let lastSeq = 0;
  (events ?? []).forEach((e, i) => {
    const at = ptr('/events', i);
    const eo = asObj(e, at, evShape, 'an element {event, inclusion}');
    if (!eo) return;
    new Fields(eo, at, evShape).onlyKeys(['event', 'inclusion']);
    const ev = readEvent(own(eo, 'event'), ptr(at, 'event'), evShape, 'bundle');
    if (!ev) return;
    if (streamId !== undefined && ev.stream_id !== streamId) {
      evShape.fail('STREAM_MISMATCH', ptr(at, 'event', 'stream_id'), `the event is of stream ${show(ev.stream_id)}, the bundle of ${show(streamId)}`);
    }
    if (ev.seq_no <= lastSeq) evShape.fail('SEQUENCE_BROKEN', ptr(at, 'event', 'seq_no'), `seq_no ${ev.seq_no} does not follow ${lastSeq}: events are listed once each, ascending`);
    lastSeq = Math.max(lastSeq, ev.seq_no);
    checkEventContent(ev, { commitment, eventHash });
    sigs.add(ev);
    const item: Item = { index: i, ev, payload: ev.payload ? ev.payload.value : null, included: false, pending: false };
    const inc = own(eo, 'inclusion');
    if (inc === null || inc === undefined) {
      if (inc === undefined) incShape.fail('MALFORMED', ptr(at, 'inclusion'), 'missing member "inclusion" (null while the event is not sealed)');
      if (cp && ev.seq_no <= cp.size) {
        incShape.fail('STATUS_MISMATCH', ptr(at, 'inclusion'), `the checkpoint's tree (${cp.size}) contains seq_no ${ev.seq_no}, but no inclusion proof is given`);
      } else {
        item.pending = true;
        incPending.waitFor('INCLUSION_PENDING', ptr(at, 'inclusion'), `seq_no ${ev.seq_no} is not sealed into a checkpoint yet`, {
          evidence: 'inclusion',
          missing: `a checkpoint of stream ${ev.stream_id} covering seq_no ${ev.seq_no}`,
          retry: 'fetch the provenance again once the stream window is sealed (within the stream\'s max_age_ms, about a second by default)',
          retry_after_s: SEAL_RETRY_AFTER_S,
        });
      }
    } else {
      item.included = checkInclusion(inc, ptr(at, 'inclusion'), ev, cp, incShape, incCheck);
    }
    if (!bySeq.has(ev.seq_no)) bySeq.set(ev.seq_no, item);
  });
  await sigs.flush();
  if (!events || events.length === 0) evShape.fail('MALFORMED', '/events', 'a provenance bundle has at least the artifact\'s event');

  // ---- checkpoint evidence: cosignatures and anchor per policy (missing ones are pending: the bundle can be fetched again) ----
  if (cp && cp.consistent && isObj(checkpoint) && typeof own(checkpoint, 'note') === 'string') {
    const target = { note: own(checkpoint, 'note') as string, checkpointId: cp.checkpointId };
    const cos = own(checkpoint, 'cosignatures');
    const entries = Array.isArray(cos)
      ? cos.map((c) => (isObj(c) ? { checkpoint_id: cp!.checkpointId, name: own(c, 'witness'), vkey: own(c, 'vkey'), timestamp: own(c, 'timestamp'), signature_line: own(c, 'signature_line') } : c))
      : cos === undefined
        ? []
        : undefined;
    const ctx = { hints, live: true };
    await checkWitnesses(entries, target, o.policy, r, '/checkpoint/cosignatures', ctx);
    const anchor = own(checkpoint, 'anchor');
    const anchors = anchor === undefined || anchor === null ? [] : [isObj(anchor) ? { checkpoint_id: cp.checkpointId, ...anchor } : anchor];
    await checkAnchors(anchors, target, o.policy, r, () => '/checkpoint/anchor', undefined, ctx);
    checkCosignedNote(checkpoint, r.check('checkpoint: cosigned_note is the note with its cosignature lines'));
  } else if ((checkpoint === null || checkpoint === undefined) && o.policy) {
    const c = r.check('checkpoint: present, for the cosignatures and anchor the trust policy requires');
    const retry = 'fetch the provenance again once its events are sealed and the checkpoint\'s evidence has arrived';
    if (!quorumMet(o.policy, new Set())) {
      c.waitFor('WITNESS_QUORUM_NOT_MET', '/checkpoint', `no checkpoint yet, so no cosignatures: the policy's quorum "${o.policy.quorum}" is not met`, {
        evidence: 'witness_cosignatures',
        missing: `a checkpoint, then cosignatures meeting the policy's quorum "${o.policy.quorum}"`,
        retry,
        retry_after_s: 30,
      });
    }
    if (o.policy.tsaRoots.length > 0) {
      c.waitFor('ANCHOR_MISSING', '/checkpoint', 'no checkpoint yet, so no anchor: the trust policy names TSA roots', {
        evidence: 'anchor',
        missing: 'a checkpoint, then its RFC 3161 anchor',
        retry,
        retry_after_s: 60,
      });
    }
    if (c.failures === 0) c.skipped('the trust policy requires neither cosignatures nor an anchor');
  }

  // ---- records: each is what its events say, and each is linked to the artifact ----
  const recShape = r.check('records: well-formed, each naming its events');
  const recMatch = r.check('records: every field matches its event payloads');
  const linked = r.check('records: each linked to the artifact (run, attestation, deployment, commit, PR)');
  const used = new Set<number>();
  const parsed: Array<{ kind: ProvenanceRecordKind; id: string; rec: Obj; path: string; items: Item[] }> = [];
  (records ?? []).forEach((x, i) => {
    const at = ptr('/records', i);
    const ro = asObj(x, at, recShape, 'a record {kind, id, record, created_at, updated_at, seq_nos}');
    if (!ro) return;
    const rf = new Fields(ro, at, recShape);
    rf.onlyKeys(RECORD_MEMBERS);
    const before = recShape.failures;
    const kind = rf.str('kind');
    const id = rf.str('id', { nonEmpty: true });
    const rec = rf.obj('record');
    const createdAt = rf.str('created_at');
    const updatedAt = rf.str('updated_at');
    const seqNos = rf.arr('seq_nos');
    if (kind !== undefined && !(PROVENANCE_RECORD_KINDS as readonly string[]).includes(kind)) {
      recShape.fail('MALFORMED', rf.at('kind'), `kind must be one of ${PROVENANCE_RECORD_KINDS.join(', ')}, got ${show(kind)}`);
    }
    const items: Item[] = [];
    seqNos?.forEach((s, j) => {
      const item = typeof s === 'number' ? bySeq.get(s) : undefined;
      if (!item) {
        recShape.fail('MALFORMED', ptr(at, 'seq_nos', j), `seq_no ${show(s)} names no event of the bundle`);
        return;
      }
      if (used.has(item.ev.seq_no)) recShape.fail('MALFORMED', ptr(at, 'seq_nos', j), `the event at seq_no ${item.ev.seq_no} belongs to another record already`);
      used.add(item.ev.seq_no);
      items.push(item);
    });
    if (seqNos && seqNos.length === 0) recShape.fail('MALFORMED', rf.at('seq_nos'), 'a record has at least one event');
    if (recShape.failures !== before || !rec || !id || !kind) return;
    if (items.some((it, j) => j > 0 && it.ev.seq_no <= items[j - 1]!.ev.seq_no)) {
      recShape.fail('MALFORMED', rf.at('seq_nos'), 'seq_nos must ascend');
      return;
    }
    const k = kind as ProvenanceRecordKind;
    checkRecordAgainstEvents(k, id, rec, at, items, recMatch);
    // created_at / updated_at are the received_at of the record's first and latest event (signed in their receipts).
    if (createdAt !== items[0]!.ev.received_at) recMatch.fail('RECORD_MISMATCH', rf.at('created_at'), `created_at is ${show(createdAt)}, its first event was received at ${items[0]!.ev.received_at}`);
    const last = items[items.length - 1]!.ev.received_at;
    if (updatedAt !== last) recMatch.fail('RECORD_MISMATCH', rf.at('updated_at'), `updated_at is ${show(updatedAt)}, its latest event was received at ${last}`);
    parsed.push({ kind: k, id, rec, path: at, items });
  });
  for (const item of bySeq.values()) {
    if (!used.has(item.ev.seq_no)) recShape.fail('MALFORMED', ptr('/events', item.index), `the event at seq_no ${item.ev.seq_no} belongs to no record`);
  }

  // Links: the artifact is the one named; runs built it; attestations and deployments are on it, its run, commit or PR.
  const artifacts = parsed.filter((p) => p.kind === 'artifact');
  if (artifacts.length !== 1) {
    linked.fail('RECORD_MISMATCH', '/records', `a provenance bundle has exactly one artifact record, this one has ${artifacts.length}`);
  }
  const art = artifacts[0];
  const prNumbers = new Set<number>();
  if (art && sha !== undefined) {
    const a = art.rec;
    if (own(a, 'sha256') !== sha) linked.fail('RECORD_MISMATCH', ptr(art.path, 'record', 'sha256'), `the artifact record's sha256 is ${show(own(a, 'sha256'))}, the bundle is for ${sha}`);
    if (repo !== undefined && lower(own(a, 'repositoryFullName')) !== repo.toLowerCase()) {
      linked.fail('RECORD_MISMATCH', ptr(art.path, 'record', 'repositoryFullName'), `the artifact is of ${show(own(a, 'repositoryFullName'))}, the bundle of ${show(repo)}`);
    }
    const runIds = new Set<string>();
    for (const p of parsed) {
      const rec = p.rec;
      if (repo !== undefined && lower(own(rec, 'repositoryFullName')) !== repo.toLowerCase()) {
        linked.fail('RECORD_MISMATCH', ptr(p.path, 'record', 'repositoryFullName'), `the record is of ${show(own(rec, 'repositoryFullName'))}, the bundle of ${show(repo)}`);
      }
      if (p.kind !== 'pipeline_run') continue;
      const ok = own(a, 'pipelineRunId') !== null ? own(a, 'pipelineRunId') === p.id : own(rec, 'commitSha') === own(a, 'commitSha');
      if (!ok) linked.fail('RECORD_MISMATCH', p.path, `pipeline run ${show(p.id)} did not build the artifact (not its pipelineRunId${own(a, 'pipelineRunId') === null ? ', not its commit' : ''})`);
      runIds.add(p.id);
      const pr = own(rec, 'prNumber');
      if (typeof pr === 'number') prNumbers.add(pr);
    }
    for (const p of parsed) {
      const rec = p.rec;
      if (p.kind === 'attestation') {
        const pr = own(rec, 'prNumber');
        const on =
          own(rec, 'artifactSha256') === sha ||
          (typeof own(rec, 'pipelineRunId') === 'string' && runIds.has(own(rec, 'pipelineRunId') as string)) ||
          (own(rec, 'commitSha') !== null && own(rec, 'commitSha') === own(a, 'commitSha')) ||
          (typeof pr === 'number' && prNumbers.has(pr));
        if (!on) linked.fail('RECORD_MISMATCH', p.path, `attestation ${show(p.id)} is not on the artifact, its run, its commit or its PR`);
      } else if (p.kind === 'deployment') {
        if (own(rec, 'artifactSha256') !== sha || own(rec, 'artifactId') !== art.id) {
          linked.fail('RECORD_MISMATCH', p.path, `deployment ${show(p.id)} is not of this artifact`);
        }
      }
    }
    if (commit) {
      const cf = new Fields(commit, '/commit', recShape);
      cf.onlyKeys(['sha', 'branch', 'pr_numbers']);
      if (own(commit, 'sha') !== own(a, 'commitSha')) linked.fail('RECORD_MISMATCH', '/commit/sha', `commit.sha is ${show(own(commit, 'sha'))}, the artifact's commitSha ${show(own(a, 'commitSha'))}`);
      if (own(commit, 'branch') !== own(a, 'branch')) linked.fail('RECORD_MISMATCH', '/commit/branch', `commit.branch is ${show(own(commit, 'branch'))}, the artifact's branch ${show(own(a, 'branch'))}`);
      const want = [...prNumbers].sort((x, y) => x - y);
      if (jcs(own(commit, 'pr_numbers')) !== jcs(want)) {
        linked.fail('RECORD_MISMATCH', '/commit/pr_numbers', `commit.pr_numbers must be the PR numbers of the runs that built it, ${JSON.stringify(want)}`);
      }
    }
  } else if (records) {
    linked.cannotRun();
  }

  // ---- status and pending list ----
  const st = r.check('status: complete exactly when every event is sealed; pending lists the unsealed records');
  const pendingRecords = parsed.filter((p) => p.items.some((it) => it.pending));
  const wantPending = pendingRecords.map((p) => ({ kind: p.kind, id: p.id, seq_no: p.items.find((it) => it.pending)!.ev.seq_no }));
  if (pending && jcs(pending) !== jcs(wantPending)) {
    st.fail('STATUS_MISMATCH', '/pending', `pending must list each record with an unsealed event (kind, id, first unsealed seq_no): ${JSON.stringify(wantPending)}`);
  }
  const wantStatus = [...bySeq.values()].some((it) => it.pending) ? 'pending' : 'complete';
  if (status !== undefined && status !== wantStatus) st.fail('STATUS_MISMATCH', '/status', `status is ${show(status)} but the evidence shows ${wantStatus}`);

  r.note(
    'records: completeness',
    'the bundle proves each record it lists is in the ledger and unaltered; it cannot prove that no other record on the artifact exists',
  );
}

/** Inclusion {leaf_index, tree_size, checkpoint_id, proof} of the event against the bundle checkpoint. True when it verifies. */
function checkInclusion(v: unknown, at: string, ev: EventRecord, cp: CheckpointInfo | null, shape: CheckScope, proofCheck: CheckScope): boolean {
  const o = asObj(v, at, shape, 'an inclusion proof {leaf_index, tree_size, checkpoint_id, proof}');
  if (!o) return false;
  const f = new Fields(o, at, shape);
  f.onlyKeys(['leaf_index', 'tree_size', 'checkpoint_id', 'proof']);
  const leafIndex = f.int('leaf_index', 0);
  const treeSize = f.int('tree_size', 1);
  const cpId = f.str('checkpoint_id', { nonEmpty: true });
  const proof = f.hexList('proof', { max: PROVENANCE_VERIFY_LIMITS.maxProof });
  if (leafIndex === undefined || treeSize === undefined || cpId === undefined || proof === undefined) return false;
  if (!cp) {
    shape.fail('MALFORMED', at, 'an inclusion proof is given but the bundle has no checkpoint');
    return false;
  }
  if (cp.checkpointId !== null && cpId !== cp.checkpointId) shape.fail('RANGE_PROOF_INVALID', ptr(at, 'checkpoint_id'), `inclusion names checkpoint ${show(cpId)}, the bundle's is ${show(cp.checkpointId)}`);
  if (treeSize !== cp.size) shape.fail('RANGE_PROOF_INVALID', ptr(at, 'tree_size'), `inclusion is in a tree of ${treeSize}, the checkpoint's has ${cp.size}`);
  if (leafIndex !== ev.seq_no - 1) {
    proofCheck.fail('RANGE_PROOF_INVALID', ptr(at, 'leaf_index'), `leaf_index must be seq_no − 1 = ${ev.seq_no - 1}, found ${leafIndex}`);
    return false;
  }
  if (ev.seq_no > cp.size) {
    proofCheck.fail('CHECKPOINT_STALE', ptr(at, 'leaf_index'), `the checkpoint's tree (${cp.size}) does not contain seq_no ${ev.seq_no}`);
    return false;
  }
  if (!verifyInclusion(hexToBytes(ev.event_hash), leafIndex, cp.size, proof.map(hexToBytes), cp.root)) {
    proofCheck.fail('RANGE_PROOF_INVALID', ptr(at, 'proof'), `the inclusion proof does not lead from event_hash to the checkpoint's root (tree of ${cp.size})`);
    return false;
  }
  return cp.trusted;
}

function checkCosignedNote(cpObj: Obj, c: CheckScope): void {
  const note = own(cpObj, 'note');
  const cn = own(cpObj, 'cosigned_note');
  if (typeof cn !== 'string' || typeof note !== 'string') return void c.skipped('no cosigned_note given');
  const cos = own(cpObj, 'cosignatures');
  const lines = Array.isArray(cos) ? cos.map((x) => (isObj(x) ? own(x, 'signature_line') : undefined)) : [];
  if (!lines.every((l) => typeof l === 'string')) return;
  if (cn !== note + lines.map((l) => `${l as string}\n`).join('')) {
    c.fail('STATUS_MISMATCH', '/checkpoint/cosigned_note', "cosigned_note must be the note followed by the cosignatures' signature lines");
  }
}

/**
 * The record against its events: one event of the kind's type whose payload is the record (artifact, attestation,
 * deployment); or, for a pipeline run, the created event's payload folded with each update's, as the ledger derives it.
 */
function checkRecordAgainstEvents(kind: ProvenanceRecordKind, id: string, rec: Obj, at: string, items: Item[], c: CheckScope): void {
  const T = PROVENANCE_EVENT_TYPES;
  const typeOf = (it: Item) => it.ev.entry?.event_type;
  const mismatch = (path: string, msg: string) => c.fail('RECORD_MISMATCH', path, msg);
  if (rec.id !== id) mismatch(ptr(at, 'record', 'id'), `record.id is ${show(rec.id)}, the record is ${show(id)}`);
  for (const it of items) {
    if (it.ev.entry && it.ev.entry.source_ref !== id) {
      mismatch(ptr(at, 'seq_nos'), `the event at seq_no ${it.ev.seq_no} is of ${show(it.ev.entry.source_ref)} (its source_ref), not of ${show(id)}`);
      return;
    }
    if (it.ev.erased) {
      mismatch(ptr('/events', it.index, 'event', 'payload'), `the payload of seq_no ${it.ev.seq_no} was erased: the record cannot be checked against it`);
      return;
    }
  }
  const first = items[0]!;
  if (kind !== 'pipeline_run') {
    const want = kind === 'artifact' ? T.artifact : kind === 'attestation' ? T.attestation : T.deployment;
    if (items.length !== 1) return mismatch(ptr(at, 'seq_nos'), `a ${kind} record is written by exactly one event, not ${items.length}`);
    if (typeOf(first) !== want) return mismatch(ptr(at, 'kind'), `a ${kind} record is written by a ${want} event, seq_no ${first.ev.seq_no} is ${show(typeOf(first))}`);
    diffFields(rec, first.payload, ptr(at, 'record'), c, `the payload of seq_no ${first.ev.seq_no}`);
    return;
  }
  if (typeOf(first) !== T.pipelineRunCreated) return mismatch(ptr(at, 'seq_nos'), `a pipeline run starts with a ${T.pipelineRunCreated} event, seq_no ${first.ev.seq_no} is ${show(typeOf(first))}`);
  if (!isObj(first.payload)) return mismatch(ptr('/events', first.index, 'event', 'payload'), 'the created event payload is not an object');
  let run: Obj = { ...first.payload };
  for (const it of items.slice(1)) {
    if (typeOf(it) !== T.pipelineRunUpdated) return mismatch(ptr(at, 'seq_nos'), `seq_no ${it.ev.seq_no} is ${show(typeOf(it))}, not a ${T.pipelineRunUpdated} event`);
    const u = it.payload;
    if (!isObj(u) || u.runId !== id) return mismatch(ptr('/events', it.index, 'event', 'payload', 'runId'), `the update at seq_no ${it.ev.seq_no} is not of run ${show(id)}`);
    if (typeof run.status === 'string' && TERMINAL_RUN.has(run.status)) {
      return mismatch(ptr(at, 'seq_nos'), `the run was ${run.status} (final) before the update at seq_no ${it.ev.seq_no}`);
    }
    const steps = Array.isArray(run.steps) ? [...(run.steps as unknown[])] : [];
    for (const s of Array.isArray(u.steps) ? u.steps : []) {
      const name = isObj(s) ? s.name : undefined;
      const idx = steps.findIndex((x) => isObj(x) && x.name === name);
      if (idx >= 0) steps[idx] = s;
      else steps.push(s);
    }
    run = { ...run, steps };
    if (Object.hasOwn(u, 'status')) run.status = u.status;
    if (Object.hasOwn(u, 'finishedAt')) run.finishedAt = u.finishedAt;
  }
  diffFields(rec, run, ptr(at, 'record'), c, 'the run its events derive');
}

/** RECORD_MISMATCH for every member that differs (JCS-compared) between the record and what the events say. */
function diffFields(rec: Obj, want: unknown, at: string, c: CheckScope, what: string): void {
  if (!isObj(want)) return void c.fail('RECORD_MISMATCH', at, `${what} is not an object`);
  const keys = new Set([...Object.keys(rec), ...Object.keys(want)]);
  for (const k of keys) {
    if (!Object.hasOwn(rec, k)) c.fail('RECORD_MISMATCH', ptr(at, k), `member ${show(k)} is missing from the record; ${what} has ${show(want[k])}`);
    else if (!Object.hasOwn(want, k)) c.fail('RECORD_MISMATCH', ptr(at, k), `member ${show(k)} is not in ${what}`);
    else if (jcs(rec[k]) !== jcs(want[k]) || jcs(rec[k]) === null) c.fail('RECORD_MISMATCH', ptr(at, k), `${k} is ${show(rec[k])}, ${what} says ${show(want[k])}`);
  }
}
