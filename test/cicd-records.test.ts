// CI/CD evidence record routes (issue #15, /api/v1) against a real server child process and its SQLite file: each
// route's answer and the event it appended (whose receipt the project's verifier accepts), validation failures that
// name their field and store nothing, final pipeline runs, sha256 rules, concurrent first use of a repository, the
// Idempotency-Key, and the route group's rate limit.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verify, type TrustedKey } from '../src/verify/index.js';
import { client, idemKey, runCli, startServer, type RunningServer } from './helpers/server.js';

type Call = ReturnType<typeof client>;

const SHA = (c: string) => c.repeat(64);
const HEX64 = /^[0-9a-f]{64}$/;

let srv: RunningServer;
let call: Call;
let keys: TrustedKey[];

beforeAll(async () => {
  // This file sends well over 100 requests a minute with one key: the cicd group's default (100/min, tested below on a
  // server of its own) would refuse some of them, more often the faster the machine.
  srv = await startServer({ env: { PROOFSTREAM_CICD_RATE_LIMIT: '100000/min,burst=100000' } });
  call = client(srv.url, srv.key);
  keys = (await call('GET', '/v2/keys')).body.keys.map((k: any) => ({ kid: k.kid, alg: 'Ed25519', public_key: k.public_key }));
}, 60_000);
afterAll(async () => {
  await srv?.stop();
});

/** A new API key made with the CLI against the server's database. */
async function createKey(tenant: string, system: string, scopes: string): Promise<string> {
  const r = await runCli(['keys', 'create', '--tenant', tenant, '--system', system, '--scopes', scopes, '--json'], { PROOFSTREAM_DATA_DIR: srv.dataDir });
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout).key as string;
}

async function headOf(streamId: string): Promise<number> {
  const r = await call('GET', `/v2/streams/${streamId}`);
  expect(r.status, r.text).toBe(200);
  return r.body.head_seq_no;
}

async function streamCount(): Promise<number> {
  const r = await call('GET', '/v2/streams?limit=200');
  expect(r.status, r.text).toBe(200);
  return r.body.streams.length;
}

/** The event the answer names, as the events route serves it. */
async function eventOf(answer: any): Promise<any> {
  const r = await call('GET', `/v2/streams/${answer.stream_id}/events?from_seq_no=${answer.seq_no}&limit=1`);
  expect(r.status, r.text).toBe(200);
  const ev = r.body.events[0];
  expect(ev.stream_event_id).toBe(answer.receipt.stream_event_id);
  return ev;
}

/** The answer's receipt is the event's, and both verify with the ledger's keys. */
async function expectVerified(answer: any, ev: any): Promise<void> {
  expect(answer.receipt).toEqual({
    stream_event_id: ev.stream_event_id,
    stream_id: ev.stream_id,
    seq_no: ev.seq_no,
    event_hash: ev.event_hash,
    previous_event_hash: ev.previous_event_hash,
    stream_head_hash: ev.stream_head_hash,
    received_at: ev.received_at,
    receipt: ev.receipt,
  });
  const withEvent = await verify({ kind: 'receipt', object: ev, trusted_keys: keys });
  expect(withEvent.ok, JSON.stringify(withEvent.problems ?? withEvent)).toBe(true);
  const bare = await verify({ kind: 'receipt', object: answer.receipt, trusted_keys: keys });
  expect(bare.ok, JSON.stringify(bare)).toBe(true);
}

/** The record fields of an answer (what the event's payload commits to). */
function recordOf(answer: any): any {
  const { createdAt, updatedAt, stream_id, seq_no, receipt, ...rec } = answer;
  return rec;
}

const attestation = (over: Record<string, unknown> = {}) => ({
  repositoryFullName: 'acme/payments-api',
  prNumber: 42,
  type: 'TEST_RESULTS',
  name: 'Unit Tests',
  passed: true,
  evidence: { totalTests: 1234, passed: 1230, failed: 4, coverage: 87.5 },
  ...over,
});

describe('attestations', () => {
  it("records the seed's example as a signed, chained event on the repository's stream, and reads it back", async () => {
    const r = await call('POST', '/api/v1/attestations', attestation());
    expect(r.status, r.text).toBe(201);
    expect(r.body).toMatchObject({
      ...attestation(),
      artifactSha256: null,
      commitSha: null,
      pipelineRunId: null,
      seq_no: r.body.receipt.seq_no,
      stream_id: r.body.receipt.stream_id,
    });
    expect(r.body.id).toMatch(/^att_/);
    expect(r.body.createdAt).toBe(r.body.receipt.received_at);
    expect(r.body.receipt.event_hash).toMatch(HEX64);

    const ev = await eventOf(r.body);
    expect(ev.event_type).toBe('cicd.attestation/v1');
    expect(ev.source_ref).toBe(r.body.id);
    expect(ev.payload).toEqual(recordOf(r.body));
    await expectVerified(r.body, ev);

    const stream = await call('GET', `/v2/streams/${r.body.stream_id}`);
    expect(stream.body.use_case).toBe('cicd:acme/payments-api');

    const got = await call('GET', `/api/v1/attestations/${r.body.id}`);
    expect(got.status, got.text).toBe(200);
    expect(recordOf(got.body)).toEqual(recordOf(r.body));
    expect(got.body.receipt.stream_event_id).toBe(r.body.receipt.stream_event_id);

    // Same repository in another spelling: the same stream (names are case-insensitive).
    const other = await call('POST', '/api/v1/attestations', attestation({ repositoryFullName: 'Acme/Payments-API', type: 'SECURITY_SCAN', passed: false, prNumber: 43 }));
    expect(other.status, other.text).toBe(201);
    expect(other.body.stream_id).toBe(r.body.stream_id);
    expect(other.body.seq_no).toBe(r.body.seq_no + 1);

    const byPr = await call('GET', '/api/v1/attestations?repositoryFullName=acme/payments-api&prNumber=42');
    expect(byPr.status, byPr.text).toBe(200);
    expect(byPr.body.items.map((a: any) => a.id)).toEqual([r.body.id]);
    const failed = await call('GET', '/api/v1/attestations?passed=false&type=SECURITY_SCAN');
    expect(failed.body.items.map((a: any) => a.id)).toEqual([other.body.id]);
    const missing = await call('GET', '/api/v1/attestations/att_nope');
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('RESOURCE_NOT_FOUND');
  });

  it('pages newest first with a cursor that skips nothing', async () => {
    const repo = 'acme/paging';
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await call('POST', '/api/v1/attestations', attestation({ repositoryFullName: repo, prNumber: i + 1 }));
      expect(r.status, r.text).toBe(201);
      ids.push(r.body.id);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const q: string = `/api/v1/attestations?repositoryFullName=${repo}&limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const page = await call('GET', q);
      expect(page.status, page.text).toBe(200);
      expect(page.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.items.map((a: any) => a.id));
      cursor = page.body.next_cursor;
    } while (cursor);
    expect(seen).toEqual(ids.slice().reverse());
    const bad = await call('GET', '/api/v1/attestations?cursor=bm90LWEtY3Vyc29y');
    expect(bad.status).toBe(400);
    expect(bad.body.error.details.field).toBe('cursor');
  });

  it('refuses bad input with 400 naming the field, and stores nothing', async () => {
    const first = await call('POST', '/api/v1/attestations', attestation({ repositoryFullName: 'acme/validation' }));
    expect(first.status, first.text).toBe(201);
    const streamId = first.body.stream_id;
    const head = await headOf(streamId);
    const streams = await streamCount();
    const cases: Array<[Record<string, unknown>, string]> = [
      [attestation({ repositoryFullName: 'acme/validation', type: 'UNIT' }), 'type'],
      [attestation({ repositoryFullName: 'acme/validation', passed: 'yes' }), 'passed'],
      [attestation({ repositoryFullName: 'acme/validation', name: '' }), 'name'],
      [attestation({ repositoryFullName: 'acme/validation', prNumber: 0 }), 'prNumber'],
      [attestation({ repositoryFullName: 'acme/validation', prNumber: null }), 'prNumber'],
      [attestation({ repositoryFullName: 'acme/validation', prNumber: null, artifactSha256: SHA('A') }), 'artifactSha256'],
      [attestation({ repositoryFullName: 'acme/validation', evidence: [1, 2] }), 'evidence'],
      [attestation({ repositoryFullName: 'acme/validation', commitSha: 'xyz' }), 'commitSha'],
      [attestation({ repositoryFullName: 'acme/validation', colour: 'blue' }), 'colour'],
      [attestation({ repositoryFullName: 'no-slash' }), 'repositoryFullName'],
      // a new repository: refused before its stream would be made
      [attestation({ repositoryFullName: 'acme/never-made', type: 'NOPE' }), 'type'],
    ];
    for (const [body, field] of cases) {
      const r = await call('POST', '/api/v1/attestations', body, { 'idempotency-key': idemKey() });
      expect(r.status, `${field}: ${r.text}`).toBe(400);
      expect(r.body.error.code).toBe('VALIDATION_ERROR');
      expect(r.body.error.details.field, r.text).toBe(field);
      expect(r.body.error.message).toContain(field);
    }
    // A pipeline run that does not exist: 422 naming the field, nothing stored either.
    const ref = await call('POST', '/api/v1/attestations', attestation({ repositoryFullName: 'acme/validation', pipelineRunId: 'run_missing' }));
    expect(ref.status, ref.text).toBe(422);
    expect(ref.body.error).toMatchObject({ code: 'REFERENCE_UNKNOWN', details: { field: 'pipelineRunId' } });
    expect(await headOf(streamId)).toBe(head);
    expect(await streamCount()).toBe(streams);
  });
});

describe('pipeline runs', () => {
  it('derives the current state from one event per change; a final run answers 409 and stays as it was', async () => {
    const created = await call('POST', '/api/v1/pipeline-runs', {
      repositoryFullName: 'acme/builds',
      name: 'build-and-test',
      provider: 'github-actions',
      commitSha: 'abc123',
      branch: 'main',
      status: 'RUNNING',
      startedAt: '2026-06-07T12:00:00Z',
      steps: [{ name: 'checkout', status: 'SUCCEEDED' }, { name: 'test', status: 'RUNNING' }],
    });
    expect(created.status, created.text).toBe(201);
    const run = created.body;
    expect(run.id).toMatch(/^run_/);
    expect(run.steps).toEqual([
      { name: 'checkout', status: 'SUCCEEDED', startedAt: null, finishedAt: null },
      { name: 'test', status: 'RUNNING', startedAt: null, finishedAt: null },
    ]);
    const ev1 = await eventOf(run);
    expect(ev1.event_type).toBe('cicd.pipeline_run.created/v1');
    expect(ev1.occurred_at).toBe('2026-06-07T12:00:00Z');
    await expectVerified(run, ev1);

    const steps = await call('PUT', `/api/v1/pipeline-runs/${run.id}`, {
      steps: [{ name: 'test', status: 'SUCCEEDED', finishedAt: '2026-06-07T12:03:00Z' }, { name: 'package', status: 'RUNNING' }],
    });
    expect(steps.status, steps.text).toBe(200);
    expect(steps.body.status).toBe('RUNNING');
    expect(steps.body.steps.map((s: any) => [s.name, s.status])).toEqual([
      ['checkout', 'SUCCEEDED'],
      ['test', 'SUCCEEDED'],
      ['package', 'RUNNING'],
    ]);
    expect(steps.body.seq_no).toBe(run.seq_no + 1);
    expect(steps.body.createdAt).toBe(run.createdAt);
    const ev2 = await eventOf(steps.body);
    expect(ev2.event_type).toBe('cicd.pipeline_run.updated/v1');
    expect(ev2.payload).toEqual({ runId: run.id, steps: [
      { name: 'test', status: 'SUCCEEDED', startedAt: null, finishedAt: '2026-06-07T12:03:00Z' },
      { name: 'package', status: 'RUNNING', startedAt: null, finishedAt: null },
    ] });
    await expectVerified(steps.body, ev2);

    const done = await call('PUT', `/api/v1/pipeline-runs/${run.id}`, { status: 'SUCCEEDED', finishedAt: '2026-06-07T12:05:00Z' });
    expect(done.status, done.text).toBe(200);
    expect(done.body).toMatchObject({ status: 'SUCCEEDED', finishedAt: '2026-06-07T12:05:00Z', seq_no: run.seq_no + 2 });
    await expectVerified(done.body, await eventOf(done.body));

    const head = await headOf(run.stream_id);
    for (const change of [{ status: 'RUNNING' }, { steps: [{ name: 'late', status: 'FAILED' }] }, { finishedAt: null }]) {
      const r = await call('PUT', `/api/v1/pipeline-runs/${run.id}`, change, { 'idempotency-key': idemKey() });
      expect(r.status, r.text).toBe(409);
      expect(r.body.error).toMatchObject({ code: 'PIPELINE_RUN_FINAL', details: { id: run.id, status: 'SUCCEEDED' } });
    }
    expect(await headOf(run.stream_id)).toBe(head);

    const got = await call('GET', `/api/v1/pipeline-runs/${run.id}`);
    expect(got.status, got.text).toBe(200);
    expect(recordOf(got.body)).toEqual(recordOf(done.body));
    expect(got.body.seq_no).toBe(done.body.seq_no);
    const list = await call('GET', '/api/v1/pipeline-runs?repositoryFullName=acme/builds&status=SUCCEEDED');
    expect(list.body.items.map((x: any) => x.id)).toEqual([run.id]);
  });

  it('refuses bad updates with the field named, and unknown runs with 404, storing nothing', async () => {
    const created = await call('POST', '/api/v1/pipeline-runs', { repositoryFullName: 'acme/builds', name: 'nightly' });
    expect(created.status, created.text).toBe(201);
    expect(created.body).toMatchObject({ status: 'QUEUED', steps: [] });
    const id = created.body.id;
    const head = await headOf(created.body.stream_id);
    const cases: Array<[string, Record<string, unknown>, string]> = [
      ['PUT', { status: 'DONE' }, 'status'],
      ['PUT', {}, 'status'],
      ['PUT', { steps: [{ name: 'a', status: 'WAITING' }] }, 'steps[0].status'],
      ['PUT', { steps: [{ name: 'a' }, { name: 'a' }] }, 'steps[1].name'],
      ['PUT', { finishedAt: 'yesterday' }, 'finishedAt'],
      ['PUT', { status: 'RUNNING', id: 'run_other' }, 'id'],
      ['POST', { repositoryFullName: 'acme/builds', name: 'x', steps: [{ name: 's' }, { name: 's' }] }, 'steps[1].name'],
      ['POST', { repositoryFullName: 'acme/builds', name: 'x', status: 'WEIRD' }, 'status'],
      ['POST', { repositoryFullName: 'acme/builds' }, 'name'],
    ];
    for (const [method, body, field] of cases) {
      const r = await call(method, method === 'PUT' ? `/api/v1/pipeline-runs/${id}` : '/api/v1/pipeline-runs', body);
      expect(r.status, `${field}: ${r.text}`).toBe(400);
      expect(r.body.error.details.field, r.text).toBe(field);
    }
    const unknown = await call('PUT', '/api/v1/pipeline-runs/run_missing', { status: 'RUNNING' });
    expect(unknown.status).toBe(404);
    expect(await headOf(created.body.stream_id)).toBe(head);
  });
});

describe('races decided inside the transaction', () => {
  // A server that gathers appends for 300 ms per group commit: every request below passes the early check before any
  // of them commits, so only the check inside the transaction can tell them apart.
  let raceSrv: RunningServer;
  let call: Call;
  let headOf: (id: string) => Promise<number>;
  beforeAll(async () => {
    raceSrv = await startServer({ env: { PROOFSTREAM_COMMIT_DELAY_MS: '300' } });
    call = client(raceSrv.url, raceSrv.key);
    headOf = async (id) => (await call('GET', `/v2/streams/${id}`)).body.head_seq_no;
  }, 60_000);
  afterAll(async () => {
    await raceSrv?.stop();
  });

  it('of concurrent updates finishing one run, exactly one is appended; the rest answer 409', async () => {
    const run = await call('POST', '/api/v1/pipeline-runs', { repositoryFullName: 'acme/race-final', name: 'ci', status: 'RUNNING' });
    expect(run.status, run.text).toBe(201);
    const rs = await Promise.all(
      (['SUCCEEDED', 'FAILED', 'CANCELLED', 'SUCCEEDED', 'FAILED', 'CANCELLED'] as const).map((status) =>
        call('PUT', `/api/v1/pipeline-runs/${run.body.id}`, { status }),
      ),
    );
    const won = rs.filter((r) => r.status === 200);
    expect(won.length, rs.map((r) => r.text).join('\n')).toBe(1);
    for (const r of rs.filter((x) => x.status !== 200)) {
      expect(r.status, r.text).toBe(409);
      expect(r.body.error.code).toBe('PIPELINE_RUN_FINAL');
    }
    expect(await headOf(run.body.stream_id)).toBe(run.body.seq_no + 1);
    const got = await call('GET', `/api/v1/pipeline-runs/${run.body.id}`);
    expect(got.body.status).toBe(won[0]!.body.status);
  });

  it('of concurrent registrations of one sha256, exactly one is appended; the rest answer 409 ARTIFACT_EXISTS', async () => {
    const first = await call('POST', '/api/v1/attestations', attestation({ repositoryFullName: 'acme/race-artifact' }));
    const head = await headOf(first.body.stream_id);
    const rs = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        call('POST', '/api/v1/artifacts', {
          repositoryFullName: 'acme/race-artifact',
          name: 'app',
          version: `1.0.${i}`,
          sha256: SHA('7'),
          artifactType: 'tarball',
          commitSha: 'abcdef',
          branch: 'main',
        }),
      ),
    );
    expect(rs.filter((r) => r.status === 201).length, rs.map((r) => r.text).join('\n')).toBe(1);
    for (const r of rs.filter((x) => x.status !== 201)) {
      expect(r.status, r.text).toBe(409);
      expect(r.body.error.code).toBe('ARTIFACT_EXISTS');
    }
    expect(await headOf(first.body.stream_id)).toBe(head + 1);
  });
});

describe('artifacts', () => {
  const sha = SHA('a1');
  const artifact = (over: Record<string, unknown> = {}) => ({
    repositoryFullName: 'acme/payments-api',
    name: 'payments-api',
    version: '2.1.0',
    sha256: sha.slice(0, 64),
    artifactType: 'docker-image',
    commitSha: 'abc123',
    branch: 'main',
    ...over,
  });

  it('registers an artifact once per sha256, linked to the run that built it, and finds it by sha256', async () => {
    const run = await call('POST', '/api/v1/pipeline-runs', { repositoryFullName: 'acme/payments-api', name: 'release' });
    const r = await call('POST', '/api/v1/artifacts', artifact({ pipelineRunId: run.body.id }));
    expect(r.status, r.text).toBe(201);
    expect(r.body).toMatchObject({ ...artifact(), pipelineRunId: run.body.id });
    const ev = await eventOf(r.body);
    expect(ev.event_type).toBe('cicd.artifact/v1');
    expect(ev.payload).toEqual(recordOf(r.body));
    await expectVerified(r.body, ev);

    const got = await call('GET', `/api/v1/artifacts/${sha.slice(0, 64)}`);
    expect(got.status, got.text).toBe(200);
    expect(recordOf(got.body)).toEqual(recordOf(r.body));

    const head = await headOf(r.body.stream_id);
    const again = await call('POST', '/api/v1/artifacts', artifact({ version: '2.1.1' }));
    expect(again.status, again.text).toBe(409);
    expect(again.body.error).toMatchObject({ code: 'ARTIFACT_EXISTS', details: { field: 'sha256', id: r.body.id } });
    // A run of another repository cannot be the builder.
    const foreign = await call('POST', '/api/v1/artifacts', artifact({ sha256: SHA('c'), repositoryFullName: 'acme/other', pipelineRunId: run.body.id }));
    expect(foreign.status, foreign.text).toBe(422);
    expect(foreign.body.error.details.field).toBe('pipelineRunId');
    expect(await headOf(r.body.stream_id)).toBe(head);
    expect((await call('GET', `/api/v1/artifacts/${SHA('c')}`)).status).toBe(404);
  });

  it('takes exactly 64 lowercase hex digits as sha256, in the body and in the path', async () => {
    const before = await streamCount();
    for (const bad of [SHA('A'), SHA('a').slice(1), SHA('a') + 'a', 'g'.repeat(64), '', 'sha256:' + SHA('a')]) {
      const r = await call('POST', '/api/v1/artifacts', artifact({ sha256: bad, repositoryFullName: 'acme/sha-rules' }));
      expect(r.status, r.text).toBe(400);
      expect(r.body.error.details.field).toBe('sha256');
      expect(r.body.error.message).toContain('sha256');
      if (bad) {
        const g = await call('GET', `/api/v1/artifacts/${encodeURIComponent(bad)}`);
        expect(g.status, g.text).toBe(400);
        expect(g.body.error.details.field).toBe('sha256');
      }
    }
    for (const [field, over] of [['artifactType', { artifactType: 'Docker Image' }], ['version', { version: '' }], ['commitSha', { commitSha: 'ABC123' }], ['branch', { branch: undefined }]] as const) {
      const r = await call('POST', '/api/v1/artifacts', artifact({ sha256: SHA('d'), repositoryFullName: 'acme/sha-rules', ...over }));
      expect(r.status, r.text).toBe(400);
      expect(r.body.error.details.field).toBe(field);
    }
    expect(await streamCount()).toBe(before);
  });
});

describe('artifact list (GET /api/v1/artifacts)', () => {
  it('lists artifacts newest first, by repository and by the run that built them, page by page with the cursor', async () => {
    const run = await call('POST', '/api/v1/pipeline-runs', { repositoryFullName: 'acme/art-list', name: 'release' });
    const ids: string[] = [];
    for (const [i, c] of ['71', '72', '73'].entries()) {
      const r = await call('POST', '/api/v1/artifacts', {
        repositoryFullName: 'acme/art-list',
        name: 'art',
        version: `1.0.${i}`,
        sha256: SHA(c).slice(0, 64),
        artifactType: 'tarball',
        commitSha: 'abcd',
        branch: 'main',
        pipelineRunId: i === 1 ? run.body.id : null,
      });
      expect(r.status, r.text).toBe(201);
      ids.push(r.body.id);
    }
    await call('POST', '/api/v1/artifacts', { repositoryFullName: 'acme/art-list-other', name: 'x', version: '1', sha256: SHA('74').slice(0, 64), artifactType: 'tarball', commitSha: 'abcd', branch: 'main' });
    const p1 = await call('GET', '/api/v1/artifacts?repositoryFullName=acme/art-list&limit=2');
    expect(p1.status, p1.text).toBe(200);
    expect(p1.body.items.map((x: any) => x.id)).toEqual([ids[2], ids[1]]);
    expect(p1.body.items[0].receipt.stream_event_id).toMatch(/^sev_/);
    const p2 = await call('GET', `/api/v1/artifacts?repositoryFullName=acme/art-list&limit=2&cursor=${p1.body.next_cursor}`);
    expect(p2.body).toMatchObject({ items: [{ id: ids[0] }], next_cursor: null });
    const byRun = await call('GET', `/api/v1/artifacts?pipelineRunId=${run.body.id}`);
    expect(byRun.body.items.map((x: any) => x.id)).toEqual([ids[1]]);
    const bad = await call('GET', '/api/v1/artifacts?repositoryFullName=acme/art-list&kind=x');
    expect(bad.status, bad.text).toBe(400);
    expect(bad.body.error.details.field).toBe('kind');
    expect((await call('GET', '/openapi.json')).body.paths['/api/v1/artifacts'].get).toBeDefined();
  });
});

describe('deployments', () => {
  it('records deployments of registered artifacts and lists them by environment and by artifact', async () => {
    const sha = SHA('e');
    const art = await call('POST', '/api/v1/artifacts', {
      repositoryFullName: 'acme/shop',
      name: 'shop',
      version: '1.0.0',
      sha256: sha,
      artifactType: 'npm-package',
      commitSha: 'deadbeef',
      branch: 'main',
    });
    expect(art.status, art.text).toBe(201);
    const head = await headOf(art.body.stream_id);

    const unknown = await call('POST', '/api/v1/deployments', { environment: 'production', artifactSha256: SHA('f'), status: 'SUCCEEDED' });
    expect(unknown.status, unknown.text).toBe(422);
    expect(unknown.body.error).toMatchObject({ code: 'REFERENCE_UNKNOWN', details: { field: 'artifactSha256' } });
    const wrongRepo = await call('POST', '/api/v1/deployments', { repositoryFullName: 'acme/other', environment: 'production', artifactSha256: sha, status: 'SUCCEEDED' });
    expect(wrongRepo.status, wrongRepo.text).toBe(422);
    expect(wrongRepo.body.error.details.field).toBe('repositoryFullName');
    for (const [body, field] of [
      [{ environment: 'prod env', artifactSha256: sha, status: 'SUCCEEDED' }, 'environment'],
      [{ environment: 'production', artifactSha256: sha.toUpperCase(), status: 'SUCCEEDED' }, 'artifactSha256'],
      [{ environment: 'production', artifactSha256: sha, status: 'DONE' }, 'status'],
      [{ environment: 'production', artifactSha256: sha, status: 'SUCCEEDED', deployedAt: '12:00' }, 'deployedAt'],
    ] as const) {
      const r = await call('POST', '/api/v1/deployments', body);
      expect(r.status, r.text).toBe(400);
      expect(r.body.error.details.field).toBe(field);
    }
    expect(await headOf(art.body.stream_id)).toBe(head);

    const staging = await call('POST', '/api/v1/deployments', { environment: 'staging', artifactSha256: sha, status: 'SUCCEEDED', deployedAt: '2026-06-07T13:00:00Z' });
    expect(staging.status, staging.text).toBe(201);
    expect(staging.body).toMatchObject({ repositoryFullName: 'acme/shop', artifactId: art.body.id, stream_id: art.body.stream_id, seq_no: head + 1 });
    const ev = await eventOf(staging.body);
    expect(ev.event_type).toBe('cicd.deployment/v1');
    expect(ev.occurred_at).toBe('2026-06-07T13:00:00Z');
    await expectVerified(staging.body, ev);
    const prod = await call('POST', '/api/v1/deployments', { repositoryFullName: 'ACME/shop', environment: 'production', artifactSha256: sha, status: 'IN_PROGRESS' });
    expect(prod.status, prod.text).toBe(201);

    const byEnv = await call('GET', '/api/v1/deployments?environment=production');
    expect(byEnv.body.items.map((x: any) => x.id)).toEqual([prod.body.id]);
    const byArtifact = await call('GET', `/api/v1/deployments?artifactSha256=${sha}`);
    expect(byArtifact.body.items.map((x: any) => x.id)).toEqual([prod.body.id, staging.body.id]);
    const one = await call('GET', `/api/v1/deployments/${staging.body.id}`);
    expect(recordOf(one.body)).toEqual(recordOf(staging.body));
    // An id of another kind is not a deployment.
    expect((await call('GET', `/api/v1/deployments/${art.body.id}`)).status).toBe(404);
  });
});

describe('limits', () => {
  it('200 steps per run (at registration and after updates), 1–200 per page, 64 KiB per body; over them nothing is stored', async () => {
    const steps = (n: number, from = 0) => Array.from({ length: n }, (_, i) => ({ name: `step-${from + i}` }));
    const over = await call('POST', '/api/v1/pipeline-runs', { repositoryFullName: 'acme/limits', name: 'ci', steps: steps(201) });
    expect(over.status, over.text).toBe(400);
    expect(over.body.error.details.field).toBe('steps');
    const run = await call('POST', '/api/v1/pipeline-runs', { repositoryFullName: 'acme/limits', name: 'ci', steps: steps(150) });
    expect(run.status, run.text).toBe(201);
    const head = await headOf(run.body.stream_id);
    const grow = await call('PUT', `/api/v1/pipeline-runs/${run.body.id}`, { steps: steps(51, 150) });
    expect(grow.status, grow.text).toBe(400);
    expect(grow.body.error.details).toMatchObject({ field: 'steps', limit: 200 });
    const fill = await call('PUT', `/api/v1/pipeline-runs/${run.body.id}`, { steps: steps(50, 150) });
    expect(fill.status, fill.text).toBe(200);
    expect(fill.body.steps.length).toBe(200);
    expect(await headOf(run.body.stream_id)).toBe(head + 1);

    for (const q of ['limit=0', 'limit=201', 'limit=x']) {
      const r = await call('GET', `/api/v1/pipeline-runs?${q}`);
      expect(r.status, r.text).toBe(400);
      expect(r.body.error.details.field).toBe('limit');
    }
    const big = await call('POST', '/api/v1/attestations', attestation({ repositoryFullName: 'acme/limits', evidence: { log: 'x'.repeat(65 * 1024) } }));
    expect(big.status, big.text).toBe(413);
    expect(big.body.error.code).toBe('PAYLOAD_TOO_LARGE');
    expect(await headOf(run.body.stream_id)).toBe(head + 1);
  });
});

describe('streams, idempotency, rate limits', () => {
  it('concurrent first use of a repository makes one stream with one gap-free chain', async () => {
    const before = await streamCount();
    const rs = await Promise.all(
      Array.from({ length: 12 }, (_, i) => call('POST', '/api/v1/attestations', attestation({ repositoryFullName: 'acme/race', prNumber: i + 1 }))),
    );
    for (const r of rs) expect(r.status, r.text).toBe(201);
    expect(new Set(rs.map((r) => r.body.stream_id)).size).toBe(1);
    expect(rs.map((r) => r.body.seq_no).sort((a, b) => a - b)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    expect(await streamCount()).toBe(before + 1);
    const stream = await call('GET', `/v2/streams/${rs[0]!.body.stream_id}/events?limit=100`);
    const chain = await verify({ kind: 'stream', object: { stream_id: rs[0]!.body.stream_id, events: stream.body.events }, trusted_keys: keys });
    expect(chain.ok, JSON.stringify(chain)).toBe(true);
  });

  it('an Idempotency-Key replays the same answer and appends one event, on POST and PUT', async () => {
    const key = idemKey();
    const body = attestation({ repositoryFullName: 'acme/idem', prNumber: 7 });
    const a = await call('POST', '/api/v1/attestations', body, { 'idempotency-key': key });
    expect(a.status, a.text).toBe(201);
    const b = await call('POST', '/api/v1/attestations', body, { 'idempotency-key': key });
    expect(b.status).toBe(201);
    expect(b.text).toBe(a.text);
    expect(b.headers.get('idempotent-replayed')).toBe('true');
    expect(await headOf(a.body.stream_id)).toBe(a.body.seq_no);
    const changed = await call('POST', '/api/v1/attestations', { ...body, passed: false }, { 'idempotency-key': key });
    expect(changed.status).toBe(409);
    expect(changed.body.error.code).toBe('IDEMPOTENCY_CONFLICT');

    const run = await call('POST', '/api/v1/pipeline-runs', { repositoryFullName: 'acme/idem', name: 'ci' });
    const putKey = idemKey();
    const u1 = await call('PUT', `/api/v1/pipeline-runs/${run.body.id}`, { status: 'FAILED' }, { 'idempotency-key': putKey });
    expect(u1.status, u1.text).toBe(200);
    // The run is final now, yet the retry of the update that made it final replays its answer.
    const u2 = await call('PUT', `/api/v1/pipeline-runs/${run.body.id}`, { status: 'FAILED' }, { 'idempotency-key': putKey });
    expect(u2.status).toBe(200);
    expect(u2.text).toBe(u1.text);
    expect(await headOf(run.body.stream_id)).toBe(u1.body.seq_no);
  });

  it('writes need events:write, reads need read; another system\'s repository is not found', async () => {
    const anon = await client(srv.url)('POST', '/api/v1/attestations', attestation());
    expect(anon.status).toBe(401);
    expect(anon.body.error.code).toBe('AUTHENTICATION_FAILED');
    const reader = client(srv.url, await createKey('default', 'default', 'read'));
    const refused = await reader('POST', '/api/v1/attestations', attestation({ repositoryFullName: 'acme/scopes' }));
    expect(refused.status, refused.text).toBe(403);
    expect(refused.body.error.details).toEqual({ required_scope: 'events:write' });
    expect((await reader('GET', '/api/v1/attestations?limit=1')).status).toBe(200);
    const writer = client(srv.url, await createKey('default', 'default', 'events:write'));
    const noRead = await writer('GET', '/api/v1/attestations');
    expect(noRead.status).toBe(403);

    const mine = await call('POST', '/api/v1/attestations', attestation({ repositoryFullName: 'acme/system-a' }));
    expect(mine.status, mine.text).toBe(201);
    const head = await headOf(mine.body.stream_id);
    const otherSystem = client(srv.url, await createKey('default', 'other-system', 'events:write,read'));
    const w = await otherSystem('POST', '/api/v1/attestations', attestation({ repositoryFullName: 'acme/system-a' }));
    expect(w.status, w.text).toBe(404);
    expect((await otherSystem('GET', `/api/v1/attestations/${mine.body.id}`)).status).toBe(404);
    expect((await otherSystem('GET', '/api/v1/attestations?repositoryFullName=acme/system-a')).body.items).toEqual([]);
    expect(await headOf(mine.body.stream_id)).toBe(head);
  }, 60_000);

  it('answers carry the X-RateLimit headers of the cicd group (100 per minute by default), and /openapi.json lists the routes', async () => {
    const plain = await startServer();
    try {
      await defaultHeaders(client(plain.url, plain.key));
    } finally {
      await plain.stop();
    }
  });

  async function defaultHeaders(call: Call) {
    const r = await call('GET', '/api/v1/attestations?limit=1');
    expect(r.status).toBe(200);
    expect(r.headers.get('x-ratelimit-limit')).toBe('100');
    expect(Number(r.headers.get('x-ratelimit-remaining'))).toBeLessThan(100);
    expect(Number(r.headers.get('x-ratelimit-reset'))).toBeGreaterThan(Date.now() / 1000 - 1);
    const bad = await call('POST', '/api/v1/artifacts', { sha256: 'x' });
    expect(bad.headers.get('x-ratelimit-limit')).toBe('100');
    const doc = (await call('GET', '/openapi.json')).body;
    for (const p of ['/api/v1/attestations', '/api/v1/attestations/{id}', '/api/v1/pipeline-runs', '/api/v1/pipeline-runs/{id}', '/api/v1/artifacts', '/api/v1/artifacts/{sha256}', '/api/v1/deployments', '/api/v1/deployments/{id}']) {
      expect(doc.paths[p], p).toBeDefined();
    }
  }

  it('over PROOFSTREAM_CICD_RATE_LIMIT a key gets 429 with Retry-After, and nothing is stored', async () => {
    const small = await startServer({ env: { PROOFSTREAM_CICD_RATE_LIMIT: '3/h' } });
    const c = client(small.url, small.key);
    const ok = await c('POST', '/api/v1/attestations', attestation({ repositoryFullName: 'acme/limited' }));
    expect(ok.status, ok.text).toBe(201);
    expect(ok.headers.get('x-ratelimit-limit')).toBe('3');
    expect(ok.headers.get('x-ratelimit-remaining')).toBe('2');
    expect((await c('GET', '/api/v1/attestations')).status).toBe(200);
    expect((await c('GET', `/api/v1/attestations/${ok.body.id}`)).status).toBe(200);
    const refused = await c('POST', '/api/v1/attestations', attestation({ repositoryFullName: 'acme/limited', prNumber: 2 }));
    expect(refused.status, refused.text).toBe(429);
    expect(refused.body.error.code).toBe('RATE_LIMIT_EXCEEDED');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(refused.headers.get('x-ratelimit-remaining')).toBe('0');
    // The group's buckets are its own: the v2 routes still answer this unlimited key.
    const head = await c('GET', `/v2/streams/${ok.body.stream_id}`);
    expect(head.status).toBe(200);
    expect(head.body.head_seq_no).toBe(1);
    await small.stop();
  }, 60_000);
});
