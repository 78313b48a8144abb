// First hooks of one never-seen provider run racing each other (docs/cicd.md "Connectors → Mapping", one ledger run
// per provider run): concurrent real requests to one server, and to two server processes on one database, make one
// pipeline run with one `created` event; the losers become an update or a no-op of that run, never a second run.
import { createHmac, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawRequest } from './helpers/raw-http.js';
import { client, ROOT, startServer, type RunningServer } from './helpers/server.js';

const FIX = path.join(ROOT, 'fixtures/connectors');
/** GitHub's documented workflow_run example with this run id, so every case starts from a run never seen. */
const workflowRun = (name: string, runId: number): Buffer => {
  const body = JSON.parse(fs.readFileSync(path.join(FIX, name), 'utf8'));
  body.workflow_run.id = runId;
  return Buffer.from(JSON.stringify(body));
};
const REPO = 'octo-org/octo-repo';

let a: RunningServer;
let b: RunningServer;
let nextRunId = 700_000_000;

beforeAll(async () => {
  // The hooks of a burst all come from 127.0.0.1: lift the per-address limit, it is not what is tested here.
  const env = { PROOFSTREAM_CONNECTOR_RATE_LIMIT_RPS: '0' };
  a = await startServer({ env });
  // A second process on the same database file, as two replicas behind one load balancer would be.
  b = await startServer({ dataDir: a.dataDir, key: a.key, env });
}, 60_000);
afterAll(async () => {
  await b?.stop();
  await a?.stop();
});

async function connector(): Promise<{ id: string; secret: string; webhook_path: string }> {
  const r = await client(a.url, a.key)('POST', '/api/v1/connectors', { provider: 'github', name: 'race' });
  expect(r.status, r.text).toBe(201);
  return r.body;
}

/**
 * Deliveries whose bodies arrive together: each request's headers and all but the last body byte are sent first, then
 * every last byte in one loop, so the server reads the complete hooks in the same turn rather than one by one.
 */
async function deliverTogether(c: { secret: string; webhook_path: string }, hooks: Array<{ base: string; body: Buffer }>) {
  const reqs = hooks.map(({ base, body }) => ({
    body,
    req: rawRequest(base, 'POST', c.webhook_path, {
      contentLength: body.length,
      headers: {
        'x-github-event': 'workflow_run',
        'x-github-delivery': randomUUID(),
        'x-hub-signature-256': 'sha256=' + createHmac('sha256', c.secret).update(body).digest('hex'),
      },
    }),
  }));
  await Promise.all(reqs.map(({ req, body }) => req.write(body.subarray(0, body.length - 1))));
  for (const { req, body } of reqs) req.end(body.subarray(body.length - 1));
  return Promise.all(reqs.map(({ req }) => req.response));
}

/** The ledger runs of this provider run, and the events on the repository stream that name one of them. */
async function ledgerRunsOf(runId: number): Promise<{ runs: any[]; events: any[] }> {
  const call = client(a.url, a.key);
  const runs: any[] = [];
  let cursor: string | null = null;
  do {
    const r = await call('GET', `/api/v1/pipeline-runs?repositoryFullName=${REPO}&limit=200${cursor ? `&cursor=${cursor}` : ''}`);
    expect(r.status, r.text).toBe(200);
    runs.push(...r.body.items.filter((x: any) => x.externalId === String(runId)));
    cursor = r.body.next_cursor;
  } while (cursor);
  const events: any[] = [];
  if (runs.length > 0) {
    const ids = new Set(runs.map((r) => r.id));
    const page = await call('GET', `/v2/streams/${runs[0].stream_id}/events?from_seq_no=1&limit=1000`);
    expect(page.status, page.text).toBe(200);
    events.push(...page.body.events.filter((e: any) => ids.has(e.source_ref)));
  }
  return { runs, events };
}

describe('racing first hooks of one provider run', () => {
  it('eight identical first hooks at once (different deliveries) to one server, several rounds: one run, one created event, the rest no-ops', async () => {
    const c = await connector();
    for (let round = 0; round < 5; round++) {
      const runId = nextRunId++;
      const body = workflowRun('github-workflow_run-requested.json', runId);
      const answers = await deliverTogether(c, Array.from({ length: 8 }, () => ({ base: a.url, body })));
      for (const r of answers) expect([200, 201], r.text).toContain(r.status);
      const created = answers.filter((r) => r.status === 201);
      expect(created, answers.map((r) => r.text).join('\n')).toHaveLength(1);
      for (const r of answers.filter((x) => x.status === 200)) expect(r.body).toMatchObject({ recorded: false });
      const { runs, events } = await ledgerRunsOf(runId);
      expect(runs.map((r) => r.id)).toEqual([created[0]!.body.id]);
      expect(runs[0].status).toBe('QUEUED');
      expect(events.map((e) => e.event_type)).toEqual(['cicd.pipeline_run.created/v1']);
    }
  });

  it('`requested` and `completed` of one new run at once, several rounds: always one run, ending SUCCEEDED', async () => {
    const c = await connector();
    for (let round = 0; round < 5; round++) {
      const runId = nextRunId++;
      const answers = await deliverTogether(c, [
        { base: a.url, body: workflowRun('github-workflow_run-requested.json', runId) },
        { base: a.url, body: workflowRun('github-workflow_run-completed.json', runId) },
      ]);
      // Either order is a valid history: QUEUED then SUCCEEDED (201, 200), or SUCCEEDED first and the late
      // `requested` a no-op on a final run (200 recorded:false, 201).
      expect(answers.map((r) => r.status).sort(), answers.map((r) => r.text).join('\n')).toEqual([200, 201]);
      const { runs, events } = await ledgerRunsOf(runId);
      expect(runs).toHaveLength(1);
      expect(runs[0].status).toBe('SUCCEEDED');
      expect(events[0].event_type).toBe('cicd.pipeline_run.created/v1');
      expect(events.filter((e) => e.event_type === 'cicd.pipeline_run.created/v1')).toHaveLength(1);
    }
  });

  it('first hooks of one run sent to two server processes on one database at once: one run', async () => {
    const c = await connector();
    for (let round = 0; round < 5; round++) {
      const runId = nextRunId++;
      const body = workflowRun('github-workflow_run-requested.json', runId);
      const answers = await deliverTogether(c, [a.url, b.url, a.url, b.url].map((base) => ({ base, body })));
      expect(answers.filter((r) => r.status === 201), answers.map((r) => r.text).join('\n')).toHaveLength(1);
      expect(answers.filter((r) => r.status === 200)).toHaveLength(3);
      const { runs, events } = await ledgerRunsOf(runId);
      expect(runs).toHaveLength(1);
      expect(events).toHaveLength(1);
    }
  });
});
