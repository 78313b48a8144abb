// An artifact's provenance (issue #15, docs/cicd.md "Provenance") against real child processes: the ledger, a witness
// and the test TSA. The bundle holds the run that built the artifact, the attestations on it, its PR and commit, and
// its deployments, each event proved against one checkpoint with its cosignature and anchor; it verifies offline with
// `proofstream verify` (a child process) and POST /v2/verify, and fails with the right code under each tampering.
// The in-toto/DSSE form is checked by code that rebuilds PAE itself and verifies with node:crypto.
import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CICD_EVENT_TYPES } from '../src/cicd/records.js';
import { encodeVerifierKey } from '../src/protocol/note.js';
import { loadOrCreateSigner } from '../src/ledger/signer.js';
import { verifyDsseEnvelope } from '../src/protocol/dsse.js';
import { detectKind, verify, type Report, type TrustedKey } from '../src/verify/index.js';
import { PROVENANCE_EVENT_TYPES } from '../src/verify/provenance.js';
import { client, idemKey, runCli, startServer, tempDir, type RunningServer } from './helpers/server.js';
import { startTsa, type RunningTsa } from './helpers/tsa.js';
import { waitFor } from './helpers/wait.js';
import { startWitness, type RunningWitnessProcess } from './helpers/witness.js';

type Call = ReturnType<typeof client>;

const dir = tempDir('ps-provenance-');
const REPO = 'acme/shop';
const COMMIT = 'c0ffee'.padEnd(40, '1');
const OTHER_COMMIT = 'bead'.padEnd(40, '2');
const SHA = 'ab'.repeat(32);
const SHA_NO_RUN = 'cd'.repeat(32);

let srv: RunningServer;
let tsa: RunningTsa;
let wit: RunningWitnessProcess;
let call: Call;
let keys: TrustedKey[];
let policy: string;
const ids: Record<string, string> = {};
let bundle: any;

async function post(p: string, body: unknown): Promise<any> {
  const r = await call('POST', p, body, { 'idempotency-key': idemKey() });
  expect(r.status, r.text).toBe(201);
  return r.body;
}

beforeAll(async () => {
  const dataDir = path.join(dir, 'ledger');
  const signer = loadOrCreateSigner(path.join(dataDir, 'signing-key.pem'));
  const logs = [{ origin: 'proofstream.localhost/*', vkeys: [encodeVerifierKey('proofstream.localhost/*', signer.publicKey)] }];
  [tsa, wit] = await Promise.all([startTsa(path.join(dir, 'tsa')), startWitness({ logs, dir: path.join(dir, 'w1'), name: 'witness.test/one' })]);
  srv = await startServer({
    dataDir,
    env: {
      PROOFSTREAM_WINDOW_MAX_AGE_MS: '100',
      PROOFSTREAM_WITNESSES: JSON.stringify([{ name: wit.name, url: wit.url, vkey: wit.vkey }]),
      PROOFSTREAM_WITNESS_QUORUM: '1',
      PROOFSTREAM_TSA_URL: tsa.url,
      PROOFSTREAM_TSA_ROOT: path.join(tsa.dir, 'root.pem'),
      PROOFSTREAM_ANCHOR_EPOCH_MS: '300',
      PROOFSTREAM_RETRY_MAX_MS: '500',
    },
  });
  call = client(srv.url, srv.key);
  keys = (await call('GET', '/v2/keys')).body.keys.map((k: any) => ({ kid: k.kid, alg: 'Ed25519', public_key: k.public_key }));
  policy = (await call('GET', '/v2/trust-policy')).text;

  const run = await post('/api/v1/pipeline-runs', {
    repositoryFullName: REPO,
    name: 'build',
    provider: 'github-actions',
    externalId: '987654',
    commitSha: COMMIT,
    branch: 'main',
    prNumber: 7,
    status: 'RUNNING',
    startedAt: '2026-12-03T10:00:00+01:00',
    steps: [{ name: 'compile', status: 'RUNNING', startedAt: '2026-12-03T09:00:01Z' }],
  });
  ids.run = run.id;
  const upd = await call('PUT', `/api/v1/pipeline-runs/${run.id}`, { status: 'SUCCEEDED', finishedAt: '2026-12-03T09:05:00Z', steps: [{ name: 'compile', status: 'SUCCEEDED' }, { name: 'test', status: 'SUCCEEDED' }] }, { 'idempotency-key': idemKey() });
  expect(upd.status, upd.text).toBe(200);
  // A second run on the same commit: not the one the artifact names, so not in its provenance.
  ids.rerun = (await post('/api/v1/pipeline-runs', { repositoryFullName: REPO, name: 'rerun', commitSha: COMMIT, prNumber: 8 })).id;
  ids.artifact = (await post('/api/v1/artifacts', { repositoryFullName: REPO, name: 'shop-api', version: '1.2.3', sha256: SHA, artifactType: 'docker-image', commitSha: COMMIT, branch: 'main', pipelineRunId: run.id })).id;
  ids.attSha = (await post('/api/v1/attestations', { repositoryFullName: REPO, artifactSha256: SHA, type: 'SECURITY_SCAN', name: 'trivy', passed: true, evidence: { critical: 0 } })).id;
  ids.attPr = (await post('/api/v1/attestations', { repositoryFullName: REPO, prNumber: 7, type: 'CODE_REVIEW', name: 'review', passed: true })).id;
  ids.attCommit = (await post('/api/v1/attestations', { repositoryFullName: REPO, prNumber: 99, commitSha: COMMIT, type: 'TEST_RESULTS', name: 'unit', passed: true, evidence: { total: 10 } })).id;
  ids.attRun = (await post('/api/v1/attestations', { repositoryFullName: REPO, prNumber: 98, pipelineRunId: run.id, type: 'SBOM', name: 'sbom', passed: true })).id;
  ids.attOther = (await post('/api/v1/attestations', { repositoryFullName: REPO, prNumber: 50, commitSha: OTHER_COMMIT, type: 'CUSTOM', name: 'unrelated', passed: false })).id;
  ids.dep = (await post('/api/v1/deployments', { environment: 'production', artifactSha256: SHA, status: 'SUCCEEDED', deployedAt: '2026-12-03T11:00:00Z' })).id;
  // An artifact with no run named and none on its commit.
  ids.noRun = (await post('/api/v1/artifacts', { repositoryFullName: REPO, name: 'orphan', version: '0.0.1', sha256: SHA_NO_RUN, artifactType: 'tarball', commitSha: 'dead0001', branch: 'main' })).id;

  // Every event sealed, the checkpoint cosigned and anchored.
  bundle = await waitFor(async () => {
    const r = await call('GET', `/api/v1/artifacts/${SHA}/provenance`);
    expect(r.status, r.text).toBe(200);
    const b = r.body;
    return b.status === 'complete' && b.checkpoint?.witness_quorum?.met && b.checkpoint?.anchor ? b : undefined;
  }, 30_000);
}, 90_000);

afterAll(async () => {
  await Promise.all([srv?.stop(), tsa?.stop(), wit?.stop()]);
  fs.rmSync(dir, { recursive: true, force: true });
});

const clone = <T>(v: T): T => structuredClone(v);
const codes = (r: Report) => [...new Set(r.problems.map((p) => p.code))];
const check = (o: unknown) => verify({ object: o, trusted_keys: keys, policy });

describe('GET /api/v1/artifacts/{sha256}/provenance', () => {
  it('holds the artifact, the run that built it, the attestations on it, its PR and commit, its deployments — nothing else', () => {
    expect(bundle.format).toBe('proofstream-provenance/v1');
    const byKind = (k: string) => bundle.records.filter((r: any) => r.kind === k).map((r: any) => r.id).sort();
    expect(byKind('artifact')).toEqual([ids.artifact]);
    expect(byKind('pipeline_run')).toEqual([ids.run]);
    expect(byKind('attestation')).toEqual([ids.attSha, ids.attPr, ids.attCommit, ids.attRun].sort());
    expect(byKind('deployment')).toEqual([ids.dep]);
    expect(bundle.commit).toEqual({ sha: COMMIT, branch: 'main', pr_numbers: [7] });
    const run = bundle.records.find((r: any) => r.kind === 'pipeline_run');
    expect(run.seq_nos).toHaveLength(2); // created + one update
    expect(run.record.status).toBe('SUCCEEDED');
    // One checkpoint for all, with cosignature and anchor; every event proved against it.
    expect(bundle.pending).toEqual([]);
    expect(bundle.checkpoint.cosignatures.length).toBeGreaterThanOrEqual(1);
    for (const e of bundle.events) expect(e.inclusion.checkpoint_id).toBe(bundle.checkpoint.checkpoint_id);
    expect(bundle.events.length).toBe(bundle.records.reduce((n: number, r: any) => n + r.seq_nos.length, 0));
  });

  it('verifies offline with proofstream verify (child process) under the trust policy, and with POST /v2/verify', async () => {
    const file = path.join(dir, 'provenance.json');
    const policyFile = path.join(dir, 'policy.txt');
    fs.writeFileSync(file, JSON.stringify(bundle));
    fs.writeFileSync(policyFile, policy);
    const cli = await runCli(['verify', file, '--policy', policyFile, '--json'], { PROOFSTREAM_DATA_DIR: path.join(dir, 'no-data') });
    const report = JSON.parse(cli.stdout);
    expect(cli.code, cli.stdout + cli.stderr).toBe(0);
    expect(report).toMatchObject({ ok: true, status: 'valid', kind: 'provenance' });
    // The checks that matter actually ran (not skipped).
    const passed = (name: string) => report.checks.find((c: any) => c.name === name)?.status;
    expect(passed('inclusion: each event_hash leads to the checkpoint root')).toBe('passed');
    expect(passed('records: every field matches its event payloads')).toBe('passed');
    expect(passed('events: receipts signed by a trusted key')).toBe('passed');
    expect(passed('anchors: time-stamp token over the epoch root, from a trusted TSA')).toBe('passed');

    const http = await client(srv.url)('POST', '/v2/verify', { object: bundle });
    expect(http.status, http.text).toBe(200);
    expect(http.body).toMatchObject({ ok: true, status: 'valid', kind: 'provenance' });
    // Tampered, the same route says so.
    const bad = clone(bundle);
    bad.records.find((r: any) => r.kind === 'artifact').record.version = '9.9.9';
    const r2 = await client(srv.url)('POST', '/v2/verify', { object: bad });
    expect(r2.body.ok).toBe(false);
    expect(r2.body.problems.map((p: any) => p.code)).toContain('RECORD_MISMATCH');
    // And the CLI exits 1.
    fs.writeFileSync(file, JSON.stringify(bad));
    const cli2 = await runCli(['verify', file, '--policy', policyFile, '--json'], { PROOFSTREAM_DATA_DIR: path.join(dir, 'no-data') });
    expect(cli2.code).toBe(1);
  });

  it('is recognized by shape, as the browser auditor page detects kinds (detectKind)', () => {
    expect(detectKind({ object: bundle })).toBe('provenance');
    expect(detectKind({ object: { ...bundle, format: 'proofstream-provenance/v2' } })).toBe('provenance');
  });

  const tampers: Array<[string, (b: any) => void, string]> = [
    ['an event payload', (b) => (b.events.find((e: any) => e.event.event_type === 'cicd.attestation/v1').event.payload.passed = false), 'PAYLOAD_MISMATCH'],
    ['a record field', (b) => (b.records.find((r: any) => r.kind === 'attestation').record.passed = false), 'RECORD_MISMATCH'],
    ['a run step (the derived state)', (b) => (b.records.find((r: any) => r.kind === 'pipeline_run').record.steps[1].status = 'FAILED'), 'RECORD_MISMATCH'],
    ['a deployment environment', (b) => (b.records.find((r: any) => r.kind === 'deployment').record.environment = 'staging'), 'RECORD_MISMATCH'],
    ["the commit's PR numbers", (b) => (b.commit.pr_numbers = [7, 8]), 'RECORD_MISMATCH'],
    ['a record created_at', (b) => (b.records[0].created_at = '2020-01-01T00:00:00.000Z'), 'RECORD_MISMATCH'],
    [
      'a proof node',
      (b) => {
        const e = b.events.find((x: any) => x.inclusion.proof.length > 0);
        const h = e.inclusion.proof[0];
        e.inclusion.proof[0] = (h[0] === '0' ? '1' : '0') + h.slice(1);
      },
      'RANGE_PROOF_INVALID',
    ],
    [
      'the checkpoint signature',
      (b) => {
        // The note's last line is "— <name> base64(keyID ‖ sig)": change one signature byte.
        const lines = b.checkpoint.note.split('\n');
        const i = lines.length - 2;
        const [dash, name, sig] = lines[i].split(' ');
        const raw = Buffer.from(sig, 'base64');
        raw[raw.length - 1] = raw[raw.length - 1]! ^ 1;
        lines[i] = [dash, name, raw.toString('base64')].join(' ');
        b.checkpoint.note = lines.join('\n');
      },
      'CHECKPOINT_SIGNATURE_INVALID',
    ],
    [
      'a receipt signature',
      (b) => {
        const s = b.events[0].event.receipt.signature;
        b.events[0].event.receipt.signature = (s[0] === 'a' ? 'b' : 'a') + s.slice(1);
      },
      'SIGNATURE_INVALID',
    ],
    ['an event dropped (its record names it)', (b) => b.events.splice(1, 1), 'MALFORMED'],
    ['a record added that is not on the artifact', (b) => (b.records.find((r: any) => r.kind === 'attestation').record.artifactSha256 = null), 'RECORD_MISMATCH'],
  ];

  it('the untouched bundle is valid with the ledger keys and policy', async () => {
    const r = await check(bundle);
    expect(r.status, JSON.stringify(r.problems)).toBe('valid');
  });

  it.each(tampers)('fails when %s is altered', async (_what, alter, code) => {
    const b = clone(bundle);
    alter(b);
    const r = await check(b);
    expect(r.ok).toBe(false);
    expect(codes(r), JSON.stringify(r.problems)).toContain(code);
  });

  it('fails when a genuine, sealed record that is not on the artifact is added (its event and proof are valid)', async () => {
    const other = (await call('GET', `/api/v1/attestations/${ids.attOther}`)).body;
    const ev = (await call('GET', `/v2/streams/${bundle.stream_id}/events?from_seq_no=${other.seq_no}&limit=1`)).body.events[0];
    const inc = (await call('GET', `/v2/streams/${bundle.stream_id}/inclusion?seq_no=${other.seq_no}&tree_size=${bundle.checkpoint.tree_size}`)).body;
    expect(inc.checkpoint_id).toBe(bundle.checkpoint.checkpoint_id);
    const b = clone(bundle);
    const { createdAt, updatedAt, stream_id, seq_no, receipt, ...record } = other;
    b.records.push({ kind: 'attestation', id: other.id, record, created_at: createdAt, updated_at: updatedAt, seq_nos: [seq_no] });
    b.events.push({ event: ev, inclusion: { leaf_index: inc.leaf_index, tree_size: inc.tree_size, checkpoint_id: inc.checkpoint_id, proof: inc.proof } });
    b.events.sort((x: any, y: any) => x.event.seq_no - y.event.seq_no);
    const r = await check(b);
    // Only the link is wrong: the record matches its event, which is signed and included.
    expect(r.problems.map((p) => [p.code, p.path]), JSON.stringify(r.problems)).toEqual([['RECORD_MISMATCH', `/records/${b.records.length - 1}`]]);
  });

  it('unknown sha256: 404; malformed sha256 or format: 400 naming the field; nothing else answered', async () => {
    const none = await call('GET', `/api/v1/artifacts/${'ef'.repeat(32)}/provenance`);
    expect(none.status).toBe(404);
    expect(none.body.error.code).toBe('RESOURCE_NOT_FOUND');
    for (const bad of ['AB'.repeat(32), 'ab'.repeat(31), 'zz'.repeat(32)]) {
      const r = await call('GET', `/api/v1/artifacts/${bad}/provenance`);
      expect(r.status, r.text).toBe(400);
      expect(r.body.error).toMatchObject({ code: 'VALIDATION_ERROR', details: { field: 'sha256' } });
      expect(r.text).not.toMatch(/at .*\.ts/);
    }
    const f = await call('GET', `/api/v1/artifacts/${SHA}/provenance?format=spdx`);
    expect(f.status).toBe(400);
    expect(f.body.error.details.field).toBe('format');
    expect((await client(srv.url)('GET', `/api/v1/artifacts/${SHA}/provenance`)).status).toBe(401);
  });

  it('is in /openapi.json', async () => {
    const spec = (await call('GET', '/openapi.json')).body;
    expect(spec.paths['/api/v1/artifacts/{sha256}/provenance'].get).toBeTruthy();
  });

  it('event types the verifier knows are those the CI/CD system writes', () => {
    expect(PROVENANCE_EVENT_TYPES).toEqual(CICD_EVENT_TYPES);
  });
});

describe('?format=in-toto', () => {
  let env: any;
  beforeAll(async () => {
    const r = await call('GET', `/api/v1/artifacts/${SHA}/provenance?format=in-toto`);
    expect(r.status, r.text).toBe(200);
    env = r.body;
  });

  /** PAE rebuilt from the DSSE spec's words, with nothing from src/protocol. */
  const pae = (type: string, body: Buffer) => {
    const t = Buffer.from(type, 'utf8');
    return Buffer.concat([Buffer.from('DSSEv1 '), Buffer.from(String(t.length)), Buffer.from(' '), t, Buffer.from(' '), Buffer.from(String(body.length)), Buffer.from(' '), body]);
  };
  const ledgerKey = async (kid: string) => {
    const k = (await call('GET', '/v2/keys')).body.keys.find((x: any) => x.kid === kid);
    expect(k, `kid ${kid} in /v2/keys`).toBeTruthy();
    return createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(k.public_key, 'hex')]), format: 'der', type: 'spki' });
  };

  it('is a DSSE envelope that node:crypto verifies over an independently built PAE with the key from /v2/keys', async () => {
    expect(env.payloadType).toBe('application/vnd.in-toto+json');
    expect(env.signatures).toHaveLength(1);
    const body = Buffer.from(env.payload, 'base64');
    const key = await ledgerKey(env.signatures[0].keyid);
    expect(nodeVerify(null, pae(env.payloadType, body), key, Buffer.from(env.signatures[0].sig, 'base64'))).toBe(true);
    // The project's own verifier agrees.
    const pub = keys.map((k) => ({ keyid: k.kid, publicKey: Buffer.from(k.public_key, 'hex') }));
    expect((await verifyDsseEnvelope(env, pub, { payloadType: 'application/vnd.in-toto+json' })).ok).toBe(true);
  });

  it('fails when one payload byte is altered', async () => {
    const body = Buffer.from(env.payload, 'base64');
    const altered = Buffer.from(body.toString('utf8').replace('"SUCCEEDED"', '"FAILED"'));
    expect(altered.equals(body)).toBe(false);
    const key = await ledgerKey(env.signatures[0].keyid);
    expect(nodeVerify(null, pae(env.payloadType, altered), key, Buffer.from(env.signatures[0].sig, 'base64'))).toBe(false);
    const pub = keys.map((k) => ({ keyid: k.kid, publicKey: Buffer.from(k.public_key, 'hex') }));
    expect(await verifyDsseEnvelope({ ...env, payload: altered.toString('base64') }, pub)).toMatchObject({ ok: false, code: 'DSSE_SIGNATURE_INVALID' });
  });

  it('states the artifact as subject and SLSA Provenance v1 built from its run', () => {
    const st = JSON.parse(Buffer.from(env.payload, 'base64').toString('utf8'));
    expect(st._type).toBe('https://in-toto.io/Statement/v1');
    expect(st.subject).toEqual([{ name: 'shop-api', digest: { sha256: SHA } }]);
    expect(st.predicateType).toBe('https://slsa.dev/provenance/v1');
    const { buildDefinition: bd, runDetails: rd } = st.predicate;
    expect(bd.buildType).toBe('https://proofstream.dev/cicd/pipeline-run/v1');
    expect(bd.externalParameters).toEqual({ repository: REPO, pipeline: 'build', commitSha: COMMIT, branch: 'main', prNumber: 7 });
    expect(bd.internalParameters).toMatchObject({ pipelineRunId: ids.run, provider: 'github-actions', externalId: '987654', status: 'SUCCEEDED' });
    expect(bd.resolvedDependencies).toEqual([{ uri: `git+https://github.com/${REPO}@refs/heads/main`, name: REPO, digest: { gitCommit: COMMIT } }]);
    expect(rd.builder).toEqual({ id: 'https://proofstream.dev/cicd/builder/github-actions' });
    // startedAt was given with +01:00: SLSA timestamps are UTC.
    expect(rd.metadata).toEqual({ invocationId: '987654', startedOn: '2026-12-03T09:00:00.000Z', finishedOn: '2026-12-03T09:05:00.000Z' });
    const runEvents = bundle.events.filter((e: any) => e.event.source_ref === ids.run).map((e: any) => e.event);
    expect(rd.byproducts.filter((b: any) => b.uri?.startsWith('urn:proofstream:event:')).map((b: any) => b.digest.sha256)).toEqual(runEvents.map((e: any) => e.event_hash));
    expect(rd.byproducts.filter((b: any) => b.name.startsWith('step/')).map((b: any) => [b.name, b.annotations.status])).toEqual([
      ['step/compile', 'SUCCEEDED'],
      ['step/test', 'SUCCEEDED'],
    ]);
  });

  it('409 PROVENANCE_NO_RUN for an artifact no run is known to have built (its bundle still answers)', async () => {
    const r = await call('GET', `/api/v1/artifacts/${SHA_NO_RUN}/provenance?format=in-toto`);
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe('PROVENANCE_NO_RUN');
    const b = await call('GET', `/api/v1/artifacts/${SHA_NO_RUN}/provenance`);
    expect(b.status).toBe(200);
    expect(b.body.records.map((x: any) => x.kind)).toEqual(['artifact']);
  });
});

describe('unsealed events and limits (a ledger that seals once an hour)', () => {
  let slow: RunningServer;
  let sc: Call;
  beforeAll(async () => {
    slow = await startServer({ env: { PROOFSTREAM_WINDOW_MAX_AGE_MS: '3600000', PROOFSTREAM_WINDOW_MAX_EVENTS: '100000', PROOFSTREAM_PROVENANCE_MAX_RECORDS: '3', PROOFSTREAM_PROVENANCE_MAX_EVENTS: '5' } });
    sc = client(slow.url, slow.key);
  }, 60_000);
  afterAll(async () => {
    await slow?.stop();
  });

  it('answers at once with what it has: status pending, Retry-After, every record listed as pending; verify says pending', async () => {
    const p = async (route: string, body: unknown) => {
      const r = await sc('POST', route, body, { 'idempotency-key': idemKey() });
      expect(r.status, r.text).toBe(201);
      return r.body;
    };
    const art = await p('/api/v1/artifacts', { repositoryFullName: REPO, name: 'a', version: '1', sha256: SHA, artifactType: 'tarball', commitSha: COMMIT, branch: 'main' });
    const att = await p('/api/v1/attestations', { repositoryFullName: REPO, artifactSha256: SHA, type: 'SBOM', name: 'sbom', passed: true });
    const r = await sc('GET', `/api/v1/artifacts/${SHA}/provenance`);
    expect(r.status, r.text).toBe(200);
    expect(r.headers.get('retry-after')).toBe('2');
    expect(r.body).toMatchObject({ status: 'pending', checkpoint: null });
    expect(r.body.pending).toEqual([
      { kind: 'artifact', id: art.id, seq_no: art.seq_no },
      { kind: 'attestation', id: att.id, seq_no: att.seq_no },
    ]);
    const skeys = (await sc('GET', '/v2/keys')).body.keys.map((k: any) => ({ kid: k.kid, alg: 'Ed25519', public_key: k.public_key }));
    const rep = await verify({ object: r.body, trusted_keys: skeys });
    expect(rep.status, JSON.stringify(rep.problems)).toBe('pending');
    expect(rep.pending?.every((x) => x.evidence === 'inclusion')).toBe(true);
    // Claiming it complete is caught.
    const lie = await verify({ object: { ...r.body, status: 'complete', pending: [] }, trusted_keys: skeys });
    expect(lie.status).toBe('invalid');
    expect(codes(lie)).toContain('STATUS_MISMATCH');
  });

  it('more records than PROOFSTREAM_PROVENANCE_MAX_RECORDS: 422 PROVENANCE_TOO_LARGE', async () => {
    for (let i = 0; i < 3; i++) {
      const r = await sc('POST', '/api/v1/attestations', { repositoryFullName: REPO, artifactSha256: SHA, type: 'CUSTOM', name: `n${i}`, passed: true }, { 'idempotency-key': idemKey() });
      expect(r.status).toBe(201);
    }
    const r = await sc('GET', `/api/v1/artifacts/${SHA}/provenance`);
    expect(r.status).toBe(422);
    expect(r.body.error).toMatchObject({ code: 'PROVENANCE_TOO_LARGE', details: { limit: 3, what: 'records' } });
  });

  it('more events than PROOFSTREAM_PROVENANCE_MAX_EVENTS (a run with many updates): 422 PROVENANCE_TOO_LARGE', async () => {
    const w = async (method: string, route: string, body: unknown, status = 201) => {
      const r = await sc(method, route, body, { 'idempotency-key': idemKey() });
      expect(r.status, r.text).toBe(status);
      return r.body;
    };
    const run = await w('POST', '/api/v1/pipeline-runs', { repositoryFullName: REPO, name: 'long', commitSha: OTHER_COMMIT, status: 'RUNNING' });
    for (let i = 0; i < 4; i++) await w('PUT', `/api/v1/pipeline-runs/${run.id}`, { steps: [{ name: `s${i}`, status: 'SUCCEEDED' }] }, 200);
    await w('POST', '/api/v1/artifacts', { repositoryFullName: REPO, name: 'b', version: '1', sha256: SHA_NO_RUN, artifactType: 'tarball', commitSha: OTHER_COMMIT, branch: 'main', pipelineRunId: run.id });
    // 2 records, 6 events (run created + 4 updates, artifact): over the limit of 5.
    const r = await sc('GET', `/api/v1/artifacts/${SHA_NO_RUN}/provenance`);
    expect(r.status, r.text).toBe(422);
    expect(r.body.error).toMatchObject({ code: 'PROVENANCE_TOO_LARGE', details: { limit: 5, what: 'events' } });
    // The in-toto form reads only the run (5 events): within the limit, it answers.
    const it = await sc('GET', `/api/v1/artifacts/${SHA_NO_RUN}/provenance?format=in-toto`);
    expect(it.status, it.text).toBe(200);
    // One more update and the run alone is over it.
    await w('PUT', `/api/v1/pipeline-runs/${run.id}`, { status: 'SUCCEEDED' }, 200);
    const over = await sc('GET', `/api/v1/artifacts/${SHA_NO_RUN}/provenance?format=in-toto`);
    expect(over.status).toBe(422);
    expect(over.body.error).toMatchObject({ code: 'PROVENANCE_TOO_LARGE', details: { what: 'events' } });
  });
});

describe('SLSA predicate from a run (no server)', () => {
  it('an abbreviated commit and an unknown provider still give a valid predicate (commit in annotations, a urn as uri)', async () => {
    const { predicateInput } = await import('../src/cicd/provenance.js');
    const { slsaProvenanceV1 } = await import('../src/protocol/in-toto.js');
    const art = { id: 'art_1', repositoryFullName: 'acme/x', name: 'x', version: '1', sha256: SHA, artifactType: 'tarball', commitSha: 'abc12', branch: 'dev', pipelineRunId: 'run_1' };
    const run = { id: 'run_1', repositoryFullName: 'acme/x', name: 'ci', provider: 'jenkins', externalId: null, commitSha: 'abc12', branch: null, prNumber: null, status: 'RUNNING' as const, startedAt: null, finishedAt: null, steps: [] };
    const p = slsaProvenanceV1(predicateInput(art, run, 'str_x', []));
    expect(p.buildDefinition.resolvedDependencies).toEqual([{ uri: 'urn:proofstream:repository:acme/x', name: 'acme/x', annotations: { commitSha: 'abc12' } }]);
    expect(p.runDetails).toEqual({ builder: { id: 'https://proofstream.dev/cicd/builder/jenkins' }, metadata: { invocationId: 'run_1' }, byproducts: [] });
  });
});
