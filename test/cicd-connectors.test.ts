// CI/CD connectors (issue #15 "Connectors", docs/cicd.md) against a real server child process: each fixture in
// fixtures/connectors/, correctly signed, becomes its mapped record and that record's event on the repository stream;
// a wrong HMAC or token is 401 and stores nothing; a redelivery answers the same and appends once; a body over the
// cap is 413; unknown events are 202 with nothing stored; a revoked connector's hooks are 404.
import { createHmac, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, ROOT, startServer, type RunningServer } from './helpers/server.js';

const FIX = path.join(ROOT, 'fixtures/connectors');
const fixture = (name: string) => fs.readFileSync(path.join(FIX, name));

let srv: RunningServer;
let call: ReturnType<typeof client>;

beforeAll(async () => {
  // A small cap, so the 413 test needs no megabyte body; the fixtures (GitHub's examples are up to 22 KB) are below it.
  srv = await startServer({ env: { PROOFSTREAM_CONNECTOR_MAX_BODY_BYTES: String(64 * 1024) } });
  call = client(srv.url, srv.key);
}, 60_000);
afterAll(async () => {
  await srv?.stop();
});

async function connector(provider: 'github' | 'gitlab'): Promise<{ id: string; secret: string; webhook_path: string }> {
  const r = await call('POST', '/api/v1/connectors', { provider, name: `${provider} test` });
  expect(r.status, r.text).toBe(201);
  expect(r.body.secret).toMatch(/^[0-9a-f]{64}$/);
  expect(r.body.webhook_path).toBe(`/api/v1/connectors/${provider}/${r.body.id}`);
  return r.body;
}

/**
 * POSTs raw bytes as GitHub does, with the headers of GitHub's documented delivery example ("Webhook events and
 * payloads", delivery headers): its event, a GUID delivery id, both signatures (SHA-1 legacy, SHA-256) over exactly
 * these bytes, the hook's ids and Hookshot's user agent.
 */
async function github(c: { secret: string; webhook_path: string }, event: string, body: Buffer, opts: { delivery?: string; signature?: string } = {}) {
  const sig = opts.signature ?? 'sha256=' + createHmac('sha256', c.secret).update(body).digest('hex');
  const res = await fetch(srv.url + c.webhook_path, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'user-agent': 'GitHub-Hookshot/044aadd',
      'x-github-event': event,
      'x-github-delivery': opts.delivery ?? randomUUID(),
      'x-github-hook-id': '292430182',
      'x-github-hook-installation-target-id': '79929171',
      'x-github-hook-installation-target-type': 'repository',
      'x-hub-signature': 'sha1=' + createHmac('sha1', c.secret).update(body).digest('hex'),
      'x-hub-signature-256': sig,
    },
    body: new Uint8Array(body),
  });
  const text = await res.text();
  return { status: res.status, text, body: JSON.parse(text), headers: res.headers };
}

async function gitlab(c: { secret: string; webhook_path: string }, event: string, body: Buffer, opts: { uuid?: string | null; token?: string } = {}) {
  // GitLab's documented delivery headers ("Webhooks": delivery headers): event, token, instance, webhook and event UUIDs.
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': 'GitLab/17.6.0',
    'x-gitlab-event': event,
    'x-gitlab-token': opts.token ?? c.secret,
    'x-gitlab-instance': 'https://gitlab.example.com',
    'x-gitlab-webhook-uuid': '8d1e5d3b-7a66-4d76-9d10-29a3a1a3a111',
  };
  // null: no delivery header at all (older GitLab), so the body's object id and status are the dedupe key
  if (opts.uuid !== null) headers['x-gitlab-event-uuid'] = opts.uuid ?? randomUUID();
  const res = await fetch(srv.url + c.webhook_path, { method: 'POST', headers, body: new Uint8Array(body) });
  const text = await res.text();
  return { status: res.status, text, body: JSON.parse(text) };
}

/** Every event of every stream the bootstrap key sees: what "nothing stored" is checked against. */
async function allEvents(): Promise<number> {
  const s = await call('GET', '/v2/streams?limit=200');
  let n = 0;
  for (const st of s.body.streams) n += (await call('GET', `/v2/streams/${st.stream_id}`)).body.head_seq_no ?? 0;
  return n;
}

/** The event the answer names, from the events route: it is on the repository's stream with the record as payload. */
async function eventOf(answer: any): Promise<any> {
  const r = await call('GET', `/v2/streams/${answer.stream_id}/events?from_seq_no=${answer.seq_no}&limit=1`);
  expect(r.status, r.text).toBe(200);
  const ev = r.body.events[0];
  expect(ev.stream_event_id).toBe(answer.receipt.stream_event_id);
  return ev;
}

async function registerArtifact(repositoryFullName: string, commitSha: string, sha256: string) {
  const r = await call('POST', '/api/v1/artifacts', { repositoryFullName, name: 'payments-api', version: '1.0.0', sha256, artifactType: 'docker-image', commitSha, branch: 'main' });
  expect(r.status, r.text).toBe(201);
}

describe('GitHub', () => {
  it('workflow_run requested creates a QUEUED run, completed finishes it as SUCCEEDED (one run, two events)', async () => {
    const c = await connector('github');
    const a = await github(c, 'workflow_run', fixture('github-workflow_run-requested.json'));
    expect(a.status, a.text).toBe(201);
    // workflow_run.name is "" in GitHub's example: the workflow's name stands in.
    expect(a.body).toMatchObject({
      repositoryFullName: 'octo-org/octo-repo', name: 'test', provider: 'github-actions', externalId: '289782451', status: 'QUEUED', branch: 'master',
      commitSha: '3484a3fb816e0859fd6e1cea078d76385ff50625', prNumber: null, startedAt: '2020-10-05T16:33:49.000Z', finishedAt: null,
    });
    expect((await eventOf(a.body)).event_type).toBe('cicd.pipeline_run.created/v1');

    const b = await github(c, 'workflow_run', fixture('github-workflow_run-completed.json'));
    expect(b.status, b.text).toBe(200);
    expect(b.body).toMatchObject({ id: a.body.id, status: 'SUCCEEDED', finishedAt: '2020-10-05T16:33:49.000Z' });
    const ev = await eventOf(b.body);
    expect(ev.event_type).toBe('cicd.pipeline_run.updated/v1');
    expect(ev.stream_id).toBe(a.body.stream_id);
    const run = await call('GET', `/api/v1/pipeline-runs/${a.body.id}`);
    expect(run.body.status).toBe('SUCCEEDED');
  });

  it("a workflow_run delivered as `requested` whose run is already completed (GitHub's example) is a final run, not a queued one", async () => {
    const c = await connector('github');
    const r = await github(c, 'workflow_run', fixture('github-workflow_run-requested-with-conclusion.json'));
    expect(r.status, r.text).toBe(201);
    // conclusion action_required: the run stopped waiting for someone; it never ran to success.
    expect(r.body).toMatchObject({ externalId: '289782451', status: 'FAILED', finishedAt: '2020-10-05T16:33:24.000Z' });
  });

  it('a re-run (run_attempt 2) of a finished workflow run is a run of its own, not a late change of the first', async () => {
    const c = await connector('github');
    const first = await github(c, 'workflow_run', fixture('github-workflow_run-completed.json'));
    expect(first.status, first.text).toBe(201);
    const rerun = JSON.parse(fixture('github-workflow_run-requested.json').toString('utf8'));
    rerun.workflow_run.run_attempt = 2;
    const second = await github(c, 'workflow_run', Buffer.from(JSON.stringify(rerun)));
    expect(second.status, second.text).toBe(201);
    expect(second.body).toMatchObject({ externalId: '289782451/attempts/2', status: 'QUEUED' });
    expect(second.body.id).not.toBe(first.body.id);
    expect((await call('GET', `/api/v1/pipeline-runs/${first.body.id}`)).body.status).toBe('SUCCEEDED');
  });

  it('check_run completed → a passed TEST_RESULTS attestation on the PR; check_suite completed → a CUSTOM one named by its app', async () => {
    const c = await connector('github');
    const r = await github(c, 'check_run', fixture('github-check_run-completed.json'));
    expect(r.status, r.text).toBe(201);
    expect(r.body).toMatchObject({ repositoryFullName: 'Codertocat/Hello-World', type: 'TEST_RESULTS', name: 'Octocoders-linter', passed: true, prNumber: 2, commitSha: 'ec26c3e57ca3a959ca5aad62de7213c562f8c821' });
    expect(r.body.evidence).toEqual({ source: 'github.check_run', id: 128620228, conclusion: 'success', html_url: 'https://github.com/Codertocat/Hello-World/runs/128620228', completed_at: '2019-05-15T15:21:12Z' });
    expect((await eventOf(r.body)).event_type).toBe('cicd.attestation/v1');
    const suite = fixture('github-check_suite-completed.json');
    const s = await github(c, 'check_suite', suite);
    expect(s.status, s.text).toBe(201);
    // A suite has no completed_at: its updated_at is when it completed.
    expect(s.body).toMatchObject({ type: 'CUSTOM', name: 'octocoders-linter', passed: true, prNumber: 2 });
    expect(s.body.evidence).toMatchObject({ source: 'github.check_suite', id: 118578147, completed_at: '2019-05-15T15:21:14Z' });
    expect((await eventOf(s.body)).payload).toMatchObject({ id: s.body.id, passed: true });
    const failed = Buffer.from(suite.toString('utf8').replace('"conclusion": "success"', '"conclusion": "failure"'));
    const f = await github(c, 'check_suite', failed);
    expect(f.status, f.text).toBe(201);
    expect(f.body.passed).toBe(false);
  });

  it("deployment_status → a deployment of the artifact registered for the deployment's commit", async () => {
    const c = await connector('github');
    const sha256 = 'd'.repeat(64);
    await registerArtifact('Codertocat/Hello-World', 'f95f852bd8fca8fcc58a9a2d6c842781e32a215e', sha256);
    const r = await github(c, 'deployment_status', fixture('github-deployment_status.json'));
    expect(r.status, r.text).toBe(201);
    expect(r.body).toMatchObject({ repositoryFullName: 'Codertocat/Hello-World', environment: 'production', artifactSha256: sha256, status: 'SUCCEEDED', deployedAt: '2019-05-15T15:20:55.000Z' });
    expect((await eventOf(r.body)).event_type).toBe('cicd.deployment/v1');
  });

  it('deployment_status names its artifact by deployment.payload.artifactSha256, as an object or as a JSON string', async () => {
    const c = await connector('github');
    // Another commit's artifact, so only the payload can name it.
    const sha256 = '7'.repeat(64);
    await registerArtifact('Codertocat/Hello-World', '1111111111111111111111111111111111111111', sha256);
    for (const payload of [{ artifactSha256: sha256 }, JSON.stringify({ artifactSha256: sha256 })]) {
      const body = JSON.parse(fixture('github-deployment_status.json').toString('utf8'));
      body.deployment.payload = payload;
      const r = await github(c, 'deployment_status', Buffer.from(JSON.stringify(body)));
      expect(r.status, r.text).toBe(201);
      expect(r.body.artifactSha256).toBe(sha256);
    }
  });

  it('ping answers 200 and records nothing; an unmapped event answers 202 and records nothing', async () => {
    const c = await connector('github');
    const before = await allEvents();
    const p = await github(c, 'ping', fixture('github-ping.json'));
    expect(p.status, p.text).toBe(200);
    expect(p.body).toMatchObject({ recorded: false, event: 'ping' });
    const u = await github(c, 'push', fixture('github-push.json'));
    expect(u.status, u.text).toBe(202);
    expect(u.body).toMatchObject({ recorded: false, event: 'push' });
    expect(u.body.reason).toMatch(/not mapped/);
    expect(await allEvents()).toBe(before);
  });

  it('a wrong, malformed or missing signature is 401 with the envelope and stores nothing', async () => {
    const c = await connector('github');
    const body = fixture('github-check_run-completed.json');
    const before = await allEvents();
    const wrongKey = 'sha256=' + createHmac('sha256', 'not-the-secret').update(body).digest('hex');
    for (const signature of [wrongKey, 'sha256=abc', 'sha1=' + 'a'.repeat(40), '']) {
      const r = await github(c, 'check_run', body, { signature });
      expect(r.status, r.text).toBe(401);
      expect(r.body.error).toMatchObject({ code: 'CONNECTOR_SIGNATURE_INVALID' });
      expect(r.body.error.request_id).toBeTruthy();
    }
    // The right signature over other bytes (one byte of the body changed) is refused too.
    const sig = 'sha256=' + createHmac('sha256', c.secret).update(body).digest('hex');
    const altered = Buffer.from(body.toString('utf8').replace('"success"', '"failure"'));
    expect((await github(c, 'check_run', altered, { signature: sig })).status).toBe(401);
    // Another connector's secret does not open this one.
    const other = await connector('github');
    expect((await github({ ...c, secret: other.secret }, 'check_run', body)).status).toBe(401);
    expect(await allEvents()).toBe(before);
  });

  it('a redelivery with the same X-GitHub-Delivery answers the same and appends one event', async () => {
    const c = await connector('github');
    const body = fixture('github-check_run-completed.json');
    const before = await allEvents();
    const a = await github(c, 'check_run', body, { delivery: 'redelivered-1' });
    expect(a.status, a.text).toBe(201);
    const b = await github(c, 'check_run', body, { delivery: 'redelivered-1' });
    expect(b.status).toBe(201);
    expect(b.text).toBe(a.text);
    expect(b.headers.get('idempotent-replayed')).toBe('true');
    expect(await allEvents()).toBe(before + 1);
  });

  it('a body over PROOFSTREAM_CONNECTOR_MAX_BODY_BYTES is 413 and stores nothing', async () => {
    const c = await connector('github');
    const before = await allEvents();
    const big = Buffer.from(JSON.stringify({ action: 'completed', padding: 'x'.repeat(64 * 1024) }));
    const r = await github(c, 'check_run', big);
    expect(r.status, r.text).toBe(413);
    expect(r.body.error.code).toBe('PAYLOAD_TOO_LARGE');
    expect(await allEvents()).toBe(before);
  });

  it('a revoked connector is 404, also with a correct signature; the bare provider path is 404 naming the per-connector path', async () => {
    const c = await connector('github');
    const body = fixture('github-check_run-completed.json');
    const del = await call('DELETE', `/api/v1/connectors/${c.id}`);
    expect(del.status, del.text).toBe(200);
    expect(del.body.revoked_at).toBeTruthy();
    const before = await allEvents();
    const r = await github(c, 'check_run', body);
    expect(r.status, r.text).toBe(404);
    expect(await allEvents()).toBe(before);
    const bare = await fetch(srv.url + '/api/v1/connectors/github', { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    expect(bare.status).toBe(404);
    expect((await bare.json()).error.message).toContain('/api/v1/connectors/github/{connectorId}');
  });

  it('the list never shows a secret', async () => {
    const c = await connector('github');
    const r = await call('GET', '/api/v1/connectors');
    expect(r.status).toBe(200);
    expect(r.body.items.some((x: any) => x.id === c.id)).toBe(true);
    expect(r.text).not.toContain(c.secret);
    expect(r.body.items.every((x: any) => !('secret' in x))).toBe(true);
  });
});

describe('GitLab', () => {
  it('Pipeline Hook → a pipeline run; Deployment Hook → a deployment of the commit\'s artifact', async () => {
    const c = await connector('gitlab');
    const p = await gitlab(c, 'Pipeline Hook', fixture('gitlab-pipeline-hook.json'));
    expect(p.status, p.text).toBe(201);
    expect(p.body).toMatchObject({
      repositoryFullName: 'acme/platform/payments-api', provider: 'gitlab-ci', externalId: '31', status: 'SUCCEEDED', branch: 'main', prNumber: 1,
      startedAt: '2026-06-07T12:00:00.000Z', finishedAt: '2026-06-07T12:06:40.000Z',
    });
    expect((await eventOf(p.body)).event_type).toBe('cicd.pipeline_run.created/v1');

    const sha256 = 'e'.repeat(64);
    await registerArtifact('acme/platform/payments-api', 'bcbb5ec396a2c0f828686f14fac9b80b780504f2', sha256);
    // A newer artifact whose commit shares the hook's short_sha: the full id in commit_url tells them apart.
    await registerArtifact('acme/platform/payments-api', 'bcbb5ec3' + '0'.repeat(32), 'f'.repeat(64));
    const d = await gitlab(c, 'Deployment Hook', fixture('gitlab-deployment-hook.json'));
    expect(d.status, d.text).toBe(201);
    // status_changed_at "2026-06-07 14:20:00 +0200", GitLab's format for it.
    expect(d.body).toMatchObject({ environment: 'staging', artifactSha256: sha256, status: 'SUCCEEDED', deployedAt: '2026-06-07T12:20:00.000Z' });
    expect((await eventOf(d.body)).event_type).toBe('cicd.deployment/v1');
  });

  it('a wrong or missing X-Gitlab-Token is 401 and stores nothing; a redelivery (same event UUID) appends once', async () => {
    const c = await connector('gitlab');
    const body = fixture('gitlab-pipeline-hook.json').toString('utf8').replace('"id": 31', '"id": 32');
    const before = await allEvents();
    for (const token of ['wrong', c.secret + 'x', '']) {
      const r = await gitlab(c, 'Pipeline Hook', Buffer.from(body), { token });
      expect(r.status, r.text).toBe(401);
      expect(r.body.error.code).toBe('CONNECTOR_SIGNATURE_INVALID');
    }
    expect(await allEvents()).toBe(before);
    const a = await gitlab(c, 'Pipeline Hook', Buffer.from(body), { uuid: 'same-uuid' });
    expect(a.status, a.text).toBe(201);
    const b = await gitlab(c, 'Pipeline Hook', Buffer.from(body), { uuid: 'same-uuid' });
    expect(b.text).toBe(a.text);
    expect(await allEvents()).toBe(before + 1);
  });

  it("without a delivery header, a pipeline's id and status dedupe: a repeat appends nothing, a new status is an update", async () => {
    const c = await connector('gitlab');
    const running = fixture('gitlab-pipeline-hook.json').toString('utf8').replace('"id": 31', '"id": 33').replace('"status": "success"', '"status": "running"');
    const before = await allEvents();
    const a = await gitlab(c, 'Pipeline Hook', Buffer.from(running), { uuid: null });
    expect(a.status, a.text).toBe(201);
    expect(a.body.status).toBe('RUNNING');
    const again = await gitlab(c, 'Pipeline Hook', Buffer.from(running), { uuid: null });
    expect(again.text).toBe(a.text);
    const done = await gitlab(c, 'Pipeline Hook', Buffer.from(running.replace('"status": "running"', '"status": "success"')), { uuid: null });
    expect(done.status, done.text).toBe(200);
    expect(done.body).toMatchObject({ id: a.body.id, status: 'SUCCEEDED' });
    expect(await allEvents()).toBe(before + 2);
  });

  it('the newer pipeline statuses GitLab documents are mapped: canceling is still running, canceled is final', async () => {
    const c = await connector('gitlab');
    const base = fixture('gitlab-pipeline-hook.json').toString('utf8').replace('"id": 31', '"id": 34');
    const canceling = await gitlab(c, 'Pipeline Hook', Buffer.from(base.replace('"status": "success"', '"status": "canceling"')));
    expect(canceling.status, canceling.text).toBe(201);
    expect(canceling.body).toMatchObject({ status: 'RUNNING', finishedAt: null });
    const canceled = await gitlab(c, 'Pipeline Hook', Buffer.from(base.replace('"status": "success"', '"status": "canceled"')));
    expect(canceled.status, canceled.text).toBe(200);
    expect(canceled.body).toMatchObject({ id: canceling.body.id, status: 'CANCELLED' });
    const waiting = await gitlab(c, 'Pipeline Hook', Buffer.from(base.replace('"id": 34', '"id": 35').replace('"status": "success"', '"status": "waiting_for_callback"')));
    expect(waiting.status, waiting.text).toBe(201);
    expect(waiting.body.status).toBe('QUEUED');
  });

  it('a GitLab connector does not take GitHub hooks (404), and an unknown GitLab event is 202', async () => {
    const c = await connector('gitlab');
    const asGithub = await fetch(srv.url + `/api/v1/connectors/github/${c.id}`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    expect(asGithub.status).toBe(404);
    const before = await allEvents();
    const u = await gitlab(c, 'Push Hook', Buffer.from('{"object_kind":"push"}'));
    expect(u.status, u.text).toBe(202);
    expect(await allEvents()).toBe(before);
  });
});

describe('limits and the API description', () => {
  it('hooks are rate-limited per address (PROOFSTREAM_CONNECTOR_RATE_LIMIT_RPS / _BURST): 429 with the envelope', async () => {
    const s = await startServer({ env: { PROOFSTREAM_CONNECTOR_RATE_LIMIT_RPS: '1', PROOFSTREAM_CONNECTOR_RATE_LIMIT_BURST: '2' } });
    try {
      const statuses: number[] = [];
      let refused: any;
      // Unknown connector ids: the limit is taken before any lookup, so forged floods cost nothing further.
      for (let i = 0; i < 10; i++) {
        const r = await fetch(s.url + '/api/v1/connectors/github/con_nope', { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
        statuses.push(r.status);
        if (r.status === 429) refused = { body: await r.json(), retryAfter: r.headers.get('retry-after') };
        else await r.arrayBuffer();
      }
      expect(statuses.slice(0, 2)).toEqual([404, 404]);
      expect(statuses).toContain(429);
      expect(refused.body.error.code).toBe('RATE_LIMIT_EXCEEDED');
      expect(Number(refused.retryAfter)).toBeGreaterThanOrEqual(1);
    } finally {
      await s.stop();
    }
  }, 60_000);

  it('/openapi.json describes the connector routes', async () => {
    const r = await call('GET', '/openapi.json');
    for (const p of ['/api/v1/connectors', '/api/v1/connectors/{id}', '/api/v1/connectors/github/{connectorId}', '/api/v1/connectors/gitlab/{connectorId}']) {
      expect(Object.keys(r.body.paths)).toContain(p);
    }
    expect(r.body.paths['/api/v1/connectors/github/{connectorId}'].post.responses).toHaveProperty('401');
  });

  it('creating a connector validates provider and name (400 naming the field) and needs a key', async () => {
    const bad = await call('POST', '/api/v1/connectors', { provider: 'bitbucket', name: 'x' });
    expect(bad.status, bad.text).toBe(400);
    expect(bad.body.error.details.field).toBe('provider');
    const anon = await fetch(srv.url + '/api/v1/connectors', { method: 'POST', body: JSON.stringify({ provider: 'github', name: 'x' }), headers: { 'content-type': 'application/json' } });
    expect(anon.status).toBe(401);
  });
});
