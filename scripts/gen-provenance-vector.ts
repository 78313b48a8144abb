// Generates fixtures/vectors/provenance.json (docs/protocol.md §13.3): a complete provenance bundle built from FIXED
// inputs — a repository stream of six events (a pipeline run created and finished, the artifact it built, an
// attestation on it, a deployment of it, and an unrelated attestation the bundle leaves out), its RFC 9162 tree and
// C2SP checkpoint, all signed with the vector key (seed 0x42 × 32) — and tampered copies with the problem code each
// must raise. Ed25519 is deterministic, so re-running reproduces the file byte for byte.
//
//   node bin/run-ts.mjs scripts/gen-provenance-vector.ts [--check]
import * as ed from '@noble/ed25519';
import { sha512 } from '@noble/hashes/sha2.js';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bytesToHex } from '../src/protocol/bytes.js';
import { formatCheckpoint } from '../src/protocol/checkpoint.js';
import { eventHash, genesisHead, nextHead, payloadCommitment, type EntryFields } from '../src/protocol/event.js';
import { frontierAppend, inclusionProof, MemoryNodeSource, rootAt } from '../src/protocol/merkle.js';
import { encodeVerifierKey, formatNote, signNoteEd25519 } from '../src/protocol/note.js';
import { RECEIPT_ALG, RECEIPT_PROTOCOL, receiptMessage } from '../src/protocol/receipt.js';
import { kidFor } from '../src/ledger/signer.js';

ed.hashes.sha512 = sha512;

const OUT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/vectors/provenance.json');
const SEED = new Uint8Array(32).fill(0x42);
const STREAM_ID = 'str_AAECAwQFBgcICQoLDA0ODw';
const ORIGIN = `proofstream.localhost/${STREAM_ID}`;
const REPO = 'acme/shop';
const COMMIT = 'c0ffee0000000000000000000000000000000001';
const SHA = 'aa'.repeat(32);
const ramp = (start: number) => Uint8Array.from({ length: 32 }, (_, i) => (start + i) & 0xff);

const run = {
  id: 'run_vector0001',
  repositoryFullName: REPO,
  name: 'build',
  provider: 'github',
  externalId: '123456',
  commitSha: COMMIT,
  branch: 'main',
  prNumber: 7,
  status: 'RUNNING',
  startedAt: '2026-12-03T10:00:00.000Z',
  finishedAt: null,
  steps: [{ name: 'compile', status: 'RUNNING', startedAt: '2026-12-03T10:00:01.000Z', finishedAt: null }],
};
const runUpdate = {
  runId: run.id,
  status: 'SUCCEEDED',
  finishedAt: '2026-12-03T10:05:00.000Z',
  steps: [
    { name: 'compile', status: 'SUCCEEDED', startedAt: '2026-12-03T10:00:01.000Z', finishedAt: '2026-12-03T10:03:00.000Z' },
    { name: 'test', status: 'SUCCEEDED', startedAt: '2026-12-03T10:03:00.000Z', finishedAt: '2026-12-03T10:05:00.000Z' },
  ],
};
const artifact = { id: 'art_vector0001', repositoryFullName: REPO, name: 'shop-api', version: '1.2.3', sha256: SHA, artifactType: 'docker-image', commitSha: COMMIT, branch: 'main', pipelineRunId: run.id };
const attestation = { id: 'att_vector0001', repositoryFullName: REPO, prNumber: null, artifactSha256: SHA, commitSha: null, pipelineRunId: null, type: 'SECURITY_SCAN', name: 'trivy', passed: true, evidence: { critical: 0 } };
const unrelated = { id: 'att_vector0002', repositoryFullName: REPO, prNumber: 50, artifactSha256: null, commitSha: 'bead', pipelineRunId: null, type: 'CUSTOM', name: 'unrelated', passed: false, evidence: {} };
const deployment = { id: 'dep_vector0001', repositoryFullName: REPO, environment: 'production', artifactSha256: SHA, artifactId: artifact.id, status: 'SUCCEEDED', deployedAt: '2026-12-03T11:00:00.000Z', pipelineRunId: null };

const INPUTS = [
  { source_ref: run.id, event_type: 'cicd.pipeline_run.created/v1', occurred_at: run.startedAt, received_at: '2026-12-03T10:00:00.100Z', payload: run },
  { source_ref: run.id, event_type: 'cicd.pipeline_run.updated/v1', occurred_at: null, received_at: '2026-12-03T10:05:00.100Z', payload: runUpdate },
  { source_ref: artifact.id, event_type: 'cicd.artifact/v1', occurred_at: null, received_at: '2026-12-03T10:05:01.000Z', payload: artifact },
  { source_ref: attestation.id, event_type: 'cicd.attestation/v1', occurred_at: null, received_at: '2026-12-03T10:06:00.000Z', payload: attestation },
  { source_ref: unrelated.id, event_type: 'cicd.attestation/v1', occurred_at: null, received_at: '2026-12-03T10:07:00.000Z', payload: unrelated },
  { source_ref: deployment.id, event_type: 'cicd.deployment/v1', occurred_at: deployment.deployedAt, received_at: '2026-12-03T11:00:00.500Z', payload: deployment },
];

export async function buildVectors() {
  const pub = ed.getPublicKey(SEED);
  const kid = kidFor(pub);
  let head = genesisHead(STREAM_ID);
  let prev = '0'.repeat(64);
  const src = new MemoryNodeSource();
  let frontier: Uint8Array[] = [];
  const events = INPUTS.map((input, i) => {
    const seq_no = i + 1;
    const salt = ramp(0x10 * i);
    const commitment = bytesToHex(payloadCommitment(salt, input.payload));
    const fields: EntryFields = {
      stream_id: STREAM_ID,
      seq_no,
      source_ref: input.source_ref,
      event_type: input.event_type,
      occurred_at: input.occurred_at,
      received_at: input.received_at,
      payload_commitment: commitment,
    };
    const h = eventHash(fields);
    head = nextHead(head, h);
    src.put(0, i, h);
    const step = frontierAppend(frontier, i, h);
    frontier = step.frontier;
    for (const n of step.completed) src.put(n.level, n.index, n.hash);
    const signature = bytesToHex(ed.sign(receiptMessage({ kid, stream_id: STREAM_ID, seq_no, event_hash: bytesToHex(h), stream_head_hash: bytesToHex(head), received_at: input.received_at }), SEED));
    const previous = prev;
    prev = bytesToHex(h);
    return {
      stream_event_id: `sev_vector${String(seq_no).padStart(4, '0')}`,
      stream_id: STREAM_ID,
      seq_no,
      event_hash: bytesToHex(h),
      previous_event_hash: previous,
      stream_head_hash: bytesToHex(head),
      received_at: input.received_at,
      receipt: { protocol: RECEIPT_PROTOCOL, alg: RECEIPT_ALG, kid, signature },
      source_ref: input.source_ref,
      event_type: input.event_type,
      occurred_at: input.occurred_at,
      payload: input.payload,
      salt: bytesToHex(salt),
      payload_commitment: commitment,
    };
  });
  const size = events.length;
  const root = rootAt(src, size);
  const text = formatCheckpoint({ origin: ORIGIN, size, rootHash: root });
  const note = formatNote(text, [await signNoteEd25519(text, ORIGIN, pub, (m) => ed.sign(m, SEED))]);
  const checkpoint = {
    checkpoint_id: 'chk_vector0001',
    stream_id: STREAM_ID,
    tree_size: size,
    root_hash: bytesToHex(root),
    note,
    signer_vkey: encodeVerifierKey(ORIGIN, pub),
    cosignatures: [],
    witness_quorum: { required: 0, count: 0, met: true },
    anchor: null,
    cosigned_note: note,
  };
  const inBundle = [1, 2, 3, 4, 6];
  const finishedRun = { ...run, status: 'SUCCEEDED', finishedAt: runUpdate.finishedAt, steps: runUpdate.steps };
  const rec = (kind: string, record: { id: string }, seqs: number[]) => ({
    kind,
    id: record.id,
    record,
    created_at: events[seqs[0]! - 1]!.received_at,
    updated_at: events[seqs[seqs.length - 1]! - 1]!.received_at,
    seq_nos: seqs,
  });
  const bundle = {
    format: 'proofstream-provenance/v1',
    status: 'complete',
    artifact_sha256: SHA,
    repository_full_name: REPO,
    stream_id: STREAM_ID,
    commit: { sha: COMMIT, branch: 'main', pr_numbers: [7] },
    records: [rec('artifact', artifact, [3]), rec('pipeline_run', finishedRun, [1, 2]), rec('attestation', attestation, [4]), rec('deployment', deployment, [6])],
    events: inBundle.map((s) => ({
      event: events[s - 1]!,
      inclusion: { leaf_index: s - 1, tree_size: size, checkpoint_id: checkpoint.checkpoint_id, proof: inclusionProof(src, s - 1, size).map(bytesToHex) },
    })),
    pending: [],
    checkpoint,
    keys: [{ kid, alg: 'Ed25519', public_key: bytesToHex(pub), public_key_format: 'raw-hex' }],
    generated_at: '2026-12-03T12:00:00.000Z',
  };
  // Each tamper: a JSON pointer, the value written there, and the code the verifier must report.
  const tampers = [
    { name: 'event payload', pointer: '/events/2/event/payload/version', value: '9.9.9', code: 'PAYLOAD_MISMATCH' },
    { name: 'record field', pointer: '/records/0/record/version', value: '9.9.9', code: 'RECORD_MISMATCH' },
    { name: 'derived run state', pointer: '/records/1/record/status', value: 'FAILED', code: 'RECORD_MISMATCH' },
    { name: 'inclusion proof node', pointer: '/events/0/inclusion/proof/0', value: '00'.repeat(32), code: 'RANGE_PROOF_INVALID' },
    { name: 'checkpoint root', pointer: '/checkpoint/root_hash', value: '11'.repeat(32), code: 'CHECKPOINT_MALFORMED' },
    { name: 'receipt signature', pointer: '/events/0/event/receipt/signature', value: '00'.repeat(64), code: 'SIGNATURE_INVALID' },
    { name: 'commit PR numbers', pointer: '/commit/pr_numbers', value: [7, 8], code: 'RECORD_MISMATCH' },
    { name: 'status claims complete with a dropped proof', pointer: '/events/4/inclusion', value: null, code: 'STATUS_MISMATCH' },
  ];
  return {
    description:
      'A provenance bundle (docs/protocol.md §13.3) from fixed inputs: six events of one repository stream, five of them on the ' +
      'artifact (run created + updated, artifact, attestation, deployment), proved against one checkpoint of size 6, all signed ' +
      'with the vector key (seed 0x42 x 32). `tampers` are JSON-pointer edits of the bundle and the code each must raise. ' +
      'Generated by scripts/gen-provenance-vector.ts.',
    signing_key: { seed_hex: bytesToHex(SEED), public_key_hex: bytesToHex(pub), kid },
    bundle,
    tampers,
  };
}

export const render = (v: Awaited<ReturnType<typeof buildVectors>>) => JSON.stringify(v, null, 2) + '\n';

const isMain = process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const text = render(await buildVectors());
  if (process.argv.includes('--check')) {
    const current = fs.existsSync(OUT) ? fs.readFileSync(OUT, 'utf8') : '';
    if (current !== text) {
      console.error(`${path.relative(process.cwd(), OUT)} differs from what the protocol code produces now`);
      process.exitCode = 1;
    } else console.log(`${path.relative(process.cwd(), OUT)} is up to date`);
  } else {
    fs.writeFileSync(OUT, text);
    console.log(`wrote ${path.relative(process.cwd(), OUT)}`);
  }
}
