// Pipelines and executions (docs/pipelines.md) against a real server child process with PROOFSTREAM_RUNNER=process:
// steps are real `sh -c` child processes in a fresh workspace; receipts land on the pipeline's ledger stream.
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync, sign as edSign } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalize } from '../src/protocol/jcs.js';
import { pipelineReceiptSignedBytes } from '../src/pipelines/engine-api.js';
import { client, idemKey, runCli, startServer, tempDir, type RunningServer } from './helpers/server.js';
import { openSse } from './helpers/sse.js';
import { waitFor } from './helpers/wait.js';
import { databaseContains } from './helpers/pg-mode.js';

const FAST = {
  PROOFSTREAM_RUNNER: 'process',
  PROOFSTREAM_WINDOW_MAX_AGE_MS: '100',
  PROOFSTREAM_WEBHOOK_ALLOW_PRIVATE: '1',
  PROOFSTREAM_WEBHOOK_RETRY_BASE_MS: '50',
  PROOFSTREAM_WEBHOOK_RETRY_MAX_MS: '200',
  PROOFSTREAM_WEBHOOK_POLL_MS: '100',
  LOG_LEVEL: 'warn',
};

let srv: RunningServer;
let call: ReturnType<typeof client>;

beforeAll(async () => {
  srv = await startServer({ env: FAST });
  call = client(srv.url, srv.key);
});
afterAll(async () => srv?.stop());

const step = (name: string, run: string, extra: Record<string, unknown> = {}) => ({ name, run, inputs: [], outputs: [], needs: [], ...extra });

async function createPipeline(name: string, steps: unknown[], c = call) {
  const r = await c('POST', '/v1/pipelines', { name, description: `${name} pipeline`, config: { version: '0.1', steps } });
  expect(r.status, r.text).toBe(201);
  return r.body;
}

async function execute(pipelineId: string, body: unknown = {}, c = call) {
  const r = await c('POST', `/v1/pipelines/${pipelineId}/executions`, body);
  expect(r.status, r.text).toBe(202);
  return r.body;
}

/** Polls GET /v1/executions/{id} until it is no longer running. */
async function ended(id: string, c = call, ms = 30_000) {
  return waitFor(async () => {
    const r = await c('GET', `/v1/executions/${id}`);
    return r.body?.status !== 'running' ? r.body : undefined;
  }, ms);
}

describe('pipelines: create, list, get', () => {
  it('creates a pipeline with its own stream whose first event is pipeline.created, committing to the config hash', async () => {
    const p = await createPipeline('web-app-build', [step('install', 'echo install'), step('build', 'echo build', { needs: ['install'] })]);
    expect(p.id).toMatch(/^pip_/);
    expect(p.pipeline_hash).toMatch(/^blake3:[0-9a-f]{64}$/);
    expect(p).toMatchObject({ name: 'web-app-build', status: 'active', executions: 0, success_rate: null });
    expect(p.ledger).toMatchObject({ stream_id: p.stream_id, seq_no: 1 });
    const evs = (await call('GET', `/v2/streams/${p.stream_id}/events`)).body.events;
    expect(evs).toHaveLength(1);
    expect(evs[0]).toMatchObject({ event_type: 'pipeline.created', source_ref: p.id, payload: { pipeline_id: p.id, pipeline_hash: p.pipeline_hash, name: 'web-app-build' } });
    expect(evs[0].payload.config.steps.map((s: any) => s.name)).toEqual(['install', 'build']);
    const got = await call('GET', `/v1/pipelines/${p.id}`);
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ id: p.id, pipeline_hash: p.pipeline_hash, stream_id: p.stream_id });
    expect((await call('GET', '/v1/pipelines/pip_nope')).status).toBe(404);
  });

  it('each invalid config answers 400 VALIDATION_ERROR naming the field, and creates nothing', async () => {
    const before = (await call('GET', '/v1/pipelines?limit=1')).body.total;
    const cases: [unknown, string][] = [
      [{ name: 'x', config: { version: '0.1', steps: [step('a', '')] } }, 'steps[0].run'],
      [{ name: 'x', config: { version: '0.1', steps: [step('a', 'true'), step('b', '   ')] } }, 'steps[1].run'],
      [{ name: 'x', config: { version: '0.1', steps: [step('a', 'true'), step('a', 'true')] } }, 'steps[1].name'],
      [{ name: 'x', config: { version: '0.1', steps: [step('a', 'true', { needs: ['ghost'] })] } }, 'steps[0].needs[0]'],
      [{ name: 'x', config: { version: '0.1', steps: [step('a', 'true', { needs: ['b'] }), step('b', 'true', { needs: ['a'] })] } }, 'steps[0].needs'],
      [{ name: 'x', config: { version: '0.1', steps: [{ ...step('a', 'true'), need: [] }] } }, 'steps[0].need'],
      [{ name: 'x', config: { version: '0.2', steps: [step('a', 'true')] } }, 'version'],
      [{ name: 'x', config: { version: '0.1', steps: [] } }, 'steps'],
      [{ name: 'x', config: 'steps: []' }, 'config'],
      [{ name: 'x' }, 'config'],
      [{ name: '', config: { version: '0.1', steps: [step('a', 'true')] } }, 'name'],
      [{ config: { version: '0.1', steps: [step('a', 'true')] } }, 'name'],
      [{ name: 'x', config: { version: '0.1', steps: [step('a', 'true')] }, extra: 1 }, 'extra'],
    ];
    for (const [body, field] of cases) {
      const r = await call('POST', '/v1/pipelines', body);
      expect(r.status, r.text).toBe(400);
      expect(r.body.error.code).toBe('VALIDATION_ERROR');
      expect(r.body.error.details.field, r.text).toBe(field);
      expect(r.body.error.request_id).toMatch(/^req_/);
    }
    // The seed's own example: an empty command.
    const seed = await call('POST', '/v1/pipelines', { name: 'x', config: { version: '0.1', steps: [step('a', '')] } });
    expect(seed.body.error.message).toMatch(/^Invalid pipeline configuration/);
    expect((await call('GET', '/v1/pipelines?limit=1')).body.total).toBe(before);
  });

  it('lists newest first by default, oldest first with sort=created_at:asc, offset-paged with total and has_more', async () => {
    const own = client(srv.url, await tenantKey('lister', 'pipelines:read,pipelines:write'));
    const made = [];
    for (const n of ['one', 'two', 'three']) made.push((await createPipeline(n, [step('a', 'true')], own)).id);
    const p1 = await own('GET', '/v1/pipelines?limit=2&offset=0&sort=created_at:desc');
    expect(p1.status).toBe(200);
    expect(p1.body).toMatchObject({ total: 3, has_more: true, limit: 2, offset: 0 });
    expect(p1.body.pipelines.map((p: any) => p.id)).toEqual([made[2], made[1]]);
    const p2 = await own('GET', '/v1/pipelines?limit=2&offset=2');
    expect(p2.body).toMatchObject({ total: 3, has_more: false });
    expect(p2.body.pipelines.map((p: any) => p.id)).toEqual([made[0]]);
    const asc = await own('GET', '/v1/pipelines?sort=created_at:asc');
    expect(asc.body.pipelines.map((p: any) => p.id)).toEqual(made);
    for (const [q, field] of [
      ['sort=name:desc', 'sort'],
      ['limit=0', 'limit'],
      ['limit=101', 'limit'],
      ['offset=-1', 'offset'],
    ]) {
      const r = await own('GET', `/v1/pipelines?${q}`);
      expect(r.status, q).toBe(400);
      expect(r.body.error.details.field, q).toBe(field);
    }
    // Another tenant sees none of them.
    expect((await call('GET', '/v1/pipelines?limit=100')).body.pipelines.map((p: any) => p.id)).not.toContain(made[0]);
    expect((await call('GET', `/v1/pipelines/${made[0]}`)).status).toBe(404);
  });
});

describe('executions', () => {
  let pipe: any;
  let done: any;

  it('runs the steps as child processes in a fresh workspace: 202, then completed with steps, exit codes and durations', async () => {
    pipe = await createPipeline('greet', [
      step('hello', 'echo "hello $WHO"; echo line2; echo err >&2; pwd > where.txt; cat where.txt'),
      step('count', 'for i in 1 2 3 4 5; do echo "n=$i"; done; test -f where.txt', { needs: ['hello'] }),
    ]);
    const started = await execute(pipe.id, { environment: 'staging', variables: { WHO: 'world', API_TOKEN: 'sekret-value-1234' }, options: { sign: true, verify: true, cache: false } });
    expect(started.execution_id).toMatch(/^exec_/);
    expect(started).toMatchObject({
      status: 'running',
      pipeline_url: `/v1/pipelines/${pipe.id}`,
      logs_url: `/v1/executions/${started.execution_id}/logs`,
      receipt_url: `/v1/executions/${started.execution_id}/receipt`,
    });
    done = await ended(started.execution_id);
    expect(done).toMatchObject({ id: started.execution_id, pipeline_id: pipe.id, status: 'completed', exit_code: 0, environment: 'staging', runner: 'process' });
    expect(done.variables).toEqual(['API_TOKEN', 'WHO']);
    expect(done.steps.map((s: any) => [s.name, s.status, s.exit_code, s.cache_hit])).toEqual([
      ['hello', 'completed', 0, false],
      ['count', 'completed', 0, false],
    ]);
    for (const s of done.steps) expect(typeof s.duration_seconds).toBe('number');
    expect(done.completed_at >= done.started_at).toBe(true);
    // The variable's value is never stored nor answered.
    expect(JSON.stringify(done)).not.toContain('sekret-value-1234');
    expect(databaseContains(srv.dataDir, 'sekret-value-1234')).toBe(false);
    // The workspace was a directory of its own under the data dir, and is gone.
    const logs = (await call('GET', `/v1/executions/${done.id}/logs?step=hello&tail=100`)).body;
    const where = logs.logs.find((l: any) => l.message.startsWith('/'))!.message;
    expect(where).toBe(path.join(srv.dataDir, 'workspaces', done.id));
    await waitFor(async () => (fs.existsSync(where) ? undefined : true));
    const p = (await call('GET', `/v1/pipelines/${pipe.id}`)).body;
    expect(p).toMatchObject({ executions: 1, success_rate: 1 });
  });

  it('logs: all lines, one step, the last N (tail) with total_lines and has_more; stderr is warn', async () => {
    const all = await call('GET', `/v1/executions/${done.id}/logs?tail=10000`);
    expect(all.status).toBe(200);
    const msgs = all.body.logs.map((l: any) => l.message);
    expect(msgs).toContain('hello world');
    expect(msgs).toContain('n=5');
    expect(all.body.logs.find((l: any) => l.message === 'err')).toMatchObject({ step: 'hello', level: 'warn' });
    expect(all.body.has_more).toBe(false);
    expect(all.body.total_lines).toBe(all.body.logs.length);
    const count = await call('GET', `/v1/executions/${done.id}/logs?step=count&tail=2`);
    expect(count.body.logs.map((l: any) => l.message)).toEqual([expect.stringMatching(/n=5/), expect.stringMatching(/^step count completed/)]);
    expect(count.body.has_more).toBe(true);
    expect(count.body.logs.every((l: any) => l.step === 'count')).toBe(true);
    const countAll = await call('GET', `/v1/executions/${done.id}/logs?step=count&tail=1000`);
    expect(count.body.total_lines).toBe(countAll.body.logs.length);
    expect(countAll.body.logs.map((l: any) => l.message).filter((m: string) => /^n=/.test(m))).toEqual(['n=1', 'n=2', 'n=3', 'n=4', 'n=5']);
    expect(all.body.logs[0]).toMatchObject({ timestamp: expect.any(String), level: 'info', kind: 'execution.started' });
    const bad = await call('GET', `/v1/executions/${done.id}/logs?step=nope`);
    expect(bad.status).toBe(400);
    expect(bad.body.error.details.field).toBe('step');
    expect((await call('GET', `/v1/executions/${done.id}/logs?tail=0`)).body.error.details.field).toBe('tail');
    expect((await call('GET', '/v1/executions/exec_nope/logs')).status).toBe(404);
  });

  it('the receipt: signed by the ledger key, verified, appended as attest.receipt to the pipeline stream, and in a pack that verifies', async () => {
    const r = await call('GET', `/v1/executions/${done.id}/receipt`);
    expect(r.status, r.text).toBe(200);
    const keys = (await call('GET', '/v2/keys')).body.keys;
    const current = keys.find((k: any) => k.current);
    expect(r.body.receipt.signer_public_key).toBe(`ed25519:${current.public_key}`);
    expect(r.body.receipt.pipeline_hash).toBe(pipe.pipeline_hash);
    expect(r.body.receipt.status).toBe('completed');
    expect(r.body.receipt.signature).toMatch(/^ed25519:[0-9a-f]{128}$/);
    expect(r.body.verification).toMatchObject({ signature_valid: true, timestamp_valid: true, chain_of_trust: 'verified' });
    expect(r.body.ledger).toMatchObject({ stream_id: pipe.stream_id, seq_no: 2 });
    expect(r.body.ledger.event).toMatchObject({ event_type: 'attest.receipt', source_ref: done.id, payload: { receipt_hash: r.body.receipt_hash, pipeline_hash: pipe.pipeline_hash, status: 'completed' } });
    expect(r.body.ledger.event.payload.receipt).toEqual(r.body.receipt);
    expect(r.body.ledger.receipt.stream_event_id).toBe(r.body.ledger.event.stream_event_id);
    // Once sealed, the inclusion proof comes with it.
    const sealed = await waitFor(async () => {
      const x = await call('GET', `/v1/executions/${done.id}/receipt`);
      return x.body.ledger.inclusion ? x.body : undefined;
    });
    expect(sealed.ledger.inclusion.leaf_index).toBe(1);
    // The bundle verifies offline with `proofstream verify`, against the ledger's keys and the receipt's signer.
    expect(sealed.bundle.ledger).toMatchObject({ event_type: 'attest.receipt', seq_no: 2, inclusion: sealed.ledger.inclusion });
    expect(sealed.bundle.ledger.checkpoint.checkpoint_id).toBe(sealed.ledger.inclusion.checkpoint_id);
    const dir = tempDir('ps-bundle-');
    const keysFile = path.join(dir, 'keys.json');
    fs.writeFileSync(keysFile, JSON.stringify((await call('GET', '/v2/keys')).body));
    const bundleFile = path.join(dir, 'receipt.json');
    fs.writeFileSync(bundleFile, JSON.stringify(sealed.bundle));
    const cli = await runCli(['verify', bundleFile, '--trust', keysFile, '--signer', sealed.receipt.signer_public_key, '--json']);
    expect(cli.code, cli.stdout + cli.stderr).toBe(0);
    expect(JSON.parse(cli.stdout).ok).toBe(true);
    // POST /v1/receipts/verify checks the same bundle, its placement included (against this ledger's keys).
    const viaApi = await call('POST', '/v1/receipts/verify', { receipt: sealed.bundle, policies: ['require-signature'] });
    expect(viaApi.body.valid, viaApi.text).toBe(true);
    expect(viaApi.body.inclusion).toMatchObject({ event_commits: true, proof_valid: true, checkpoint_valid: true, stream_id: pipe.stream_id, seq_no: 2 });
    const moved = structuredClone(sealed.bundle);
    moved.ledger.inclusion.leaf_index = 0;
    const movedApi = await call('POST', '/v1/receipts/verify', { receipt: moved });
    expect(movedApi.body.valid).toBe(false);
    expect(movedApi.body.inclusion.proof_valid).toBe(false);
    // One altered output hash and it fails.
    const altered = structuredClone(sealed.bundle);
    altered.receipt.steps[0].status = 'failed';
    fs.writeFileSync(bundleFile, JSON.stringify(altered));
    const bad = await runCli(['verify', bundleFile, '--trust', keysFile, '--json']);
    expect(bad.code).not.toBe(0);
    const pack = await call('POST', '/v2/audit/packs', { stream_id: pipe.stream_id, from_seq_no: 1, to_seq_no: 2 }, { 'idempotency-key': idemKey() });
    expect(pack.status, pack.text).toBe(201);
    expect(pack.body.events.map((e: any) => e.event_type)).toEqual(['pipeline.created', 'attest.receipt']);
    const v = await call('POST', '/v2/verify', { object: pack.body });
    expect(v.body.problems, v.text).toEqual([]);
    expect(v.body.ok).toBe(true);
    expect(done.ledger).toMatchObject({ stream_id: pipe.stream_id, seq_no: 2 });
  });

  it('a failing step fails the execution with its exit code; its dependants are skipped; the receipt is still signed', async () => {
    const p = await createPipeline('breaks', [step('ok', 'echo fine'), step('bad', 'echo oops >&2; exit 7', { needs: ['ok'] }), step('after', 'echo never', { needs: ['bad'] })]);
    const ex = await execute(p.id);
    const e = await ended(ex.execution_id);
    expect(e.status).toBe('failed');
    expect(e.exit_code).toBe(7);
    expect(e.steps.map((s: any) => [s.name, s.status])).toEqual([
      ['ok', 'completed'],
      ['bad', 'failed'],
      ['after', 'skipped'],
    ]);
    expect(e.steps[1].exit_code).toBe(7);
    const r = await call('GET', `/v1/executions/${ex.execution_id}/receipt`);
    expect(r.status).toBe(200);
    expect(r.body.receipt.status).toBe('failed');
    expect(r.body.verification.signature_valid).toBe(true);
    const logs = (await call('GET', `/v1/executions/${ex.execution_id}/logs?step=after`)).body.logs;
    expect(logs.map((l: any) => l.message)).not.toContain('never');
    expect((await call('GET', `/v1/pipelines/${p.id}`)).body).toMatchObject({ executions: 1, success_rate: 0 });
  });

  it('cancel kills the running process group: the execution ends cancelled, no process is left, the receipt is signed', async () => {
    const dir = tempDir('ps-cancel-');
    const pidFile = path.join(dir, 'pids');
    // A shell that starts a grandchild in the background: both are in the step's process group.
    const p = await createPipeline('sleeper', [step('wait', `sleep 60 & echo $! >> ${pidFile}; echo $$ >> ${pidFile}; echo started; wait`)]);
    const ex = await execute(p.id);
    await waitFor(async () => (fs.existsSync(pidFile) && fs.readFileSync(pidFile, 'utf8').trim().split('\n').length === 2 ? true : undefined));
    const pids = fs.readFileSync(pidFile, 'utf8').trim().split('\n').map(Number);
    for (const pid of pids) expect(alive(pid)).toBe(true);
    const c = await call('POST', `/v1/executions/${ex.execution_id}/cancel`);
    expect(c.status, c.text).toBe(202);
    const e = await ended(ex.execution_id);
    expect(e.status).toBe('cancelled');
    await waitFor(async () => (pids.every((pid) => !alive(pid)) ? true : undefined), 10_000);
    const r = await call('GET', `/v1/executions/${ex.execution_id}/receipt`);
    expect(r.body.receipt.status).toBe('cancelled');
    const again = await call('POST', `/v1/executions/${ex.execution_id}/cancel`);
    expect(again.status).toBe(409);
    expect(again.body.error).toMatchObject({ code: 'EXECUTION_FINISHED', details: { status: 'cancelled' } });
  });

  it('the receipt of a running execution is 409 RECEIPT_PENDING', async () => {
    const p = await createPipeline('slow', [step('wait', 'sleep 30')]);
    const ex = await execute(p.id);
    const r = await call('GET', `/v1/executions/${ex.execution_id}/receipt`);
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe('RECEIPT_PENDING');
    const running = (await call('GET', `/v1/executions/${ex.execution_id}`)).body;
    expect(running.steps[0].status).toBe('running');
    await call('POST', `/v1/executions/${ex.execution_id}/cancel`);
    await ended(ex.execution_id);
  });

  it('execute validates its body: variable names, sign:false, unknown options', async () => {
    const p = await createPipeline('v', [step('a', 'true')]);
    for (const [body, field] of [
      [{ variables: { 'BAD-NAME': 'x' } }, 'variables.BAD-NAME'],
      [{ options: { sign: false } }, 'options.sign'],
      [{ options: { turbo: true } }, 'options.turbo'],
      [{ variables: { A: 1 } }, 'variables.A'],
    ] as const) {
      const r = await call('POST', `/v1/pipelines/${p.id}/executions`, body);
      expect(r.status, r.text).toBe(400);
      expect(r.body.error.details.field, r.text).toBe(field);
    }
    expect((await call('GET', `/v1/pipelines/${p.id}`)).body.executions).toBe(0);
    expect((await call('POST', '/v1/pipelines/pip_nope/executions', {})).status).toBe(404);
    const text = await call('POST', `/v1/pipelines/${p.id}/executions`, 'x=1', { 'content-type': 'text/plain' });
    expect(text.status).toBe(415);
    // No body at all: the defaults.
    const key = idemKey();
    const bare = await call('POST', `/v1/pipelines/${p.id}/executions`, undefined, { 'idempotency-key': key });
    expect(bare.status, bare.text).toBe(202);
    // A retry with the same Idempotency-Key replays the answer and starts nothing; `{}` is the same request.
    const again = await call('POST', `/v1/pipelines/${p.id}/executions`, {}, { 'idempotency-key': key });
    expect(again.status).toBe(202);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.text).toBe(bare.text);
    const changed = await call('POST', `/v1/pipelines/${p.id}/executions`, { environment: 'x' }, { 'idempotency-key': key });
    expect(changed.status).toBe(409);
    expect((await call('GET', `/v1/pipelines/${p.id}`)).body.executions).toBe(1);
    const e = await ended(bare.body.execution_id);
    expect(e).toMatchObject({ status: 'completed', options: { sign: true, verify: true, cache: true }, variables: [], environment: null });
  });

  it("lists a pipeline's executions newest first (sort=started_at:asc oldest first), offset-paged; another tenant's is 404", async () => {
    const p = await createPipeline('listed', [step('a', 'true')]);
    const ids: string[] = [];
    for (const env of ['one', 'two', 'three']) {
      const ex = await execute(p.id, { environment: env });
      await ended(ex.execution_id);
      ids.push(ex.execution_id);
    }
    const page = async (q: string) => {
      const r = await call('GET', `/v1/pipelines/${p.id}/executions${q}`);
      expect(r.status, r.text).toBe(200);
      return r.body;
    };
    const all = await page('');
    expect(all.executions.map((e: any) => e.id)).toEqual([...ids].reverse());
    expect(all).toMatchObject({ total: 3, has_more: false, offset: 0 });
    // Each item is what GET /v1/executions/{id} answers.
    expect(all.executions[0]).toEqual((await call('GET', `/v1/executions/${ids[2]}`)).body);
    const first = await page('?limit=2');
    expect([first.executions.map((e: any) => e.environment), first.has_more]).toEqual([['three', 'two'], true]);
    const rest = await page('?limit=2&offset=2');
    expect([rest.executions.map((e: any) => e.environment), rest.has_more]).toEqual([['one'], false]);
    expect((await page('?sort=started_at:asc')).executions.map((e: any) => e.id)).toEqual(ids);
    const bad = await call('GET', `/v1/pipelines/${p.id}/executions?sort=name`);
    expect([bad.status, bad.body.error.code]).toEqual([400, 'VALIDATION_ERROR']);
    expect((await call('GET', '/v1/pipelines/pip_nope/executions')).status).toBe(404);
    const other = client(srv.url, await tenantKey('someone-else', 'pipelines:read'));
    expect((await other('GET', `/v1/pipelines/${p.id}/executions`)).status).toBe(404);
  });
});

describe('POST /v1/receipts/verify', () => {
  let receipt: any;
  let ledgerKey: string;
  beforeAll(async () => {
    const p = await createPipeline('to-verify', [step('a', 'echo a')]);
    const ex = await execute(p.id);
    await ended(ex.execution_id);
    receipt = (await call('GET', `/v1/executions/${ex.execution_id}/receipt`)).body.receipt;
    ledgerKey = receipt.signer_public_key;
  });

  it('a good receipt with its signer trusted and the policies met is valid', async () => {
    const r = await call('POST', '/v1/receipts/verify', { receipt, trusted_keys: [ledgerKey], policies: ['require-signature', 'max-age-24h'] });
    expect(r.status, r.text).toBe(200);
    expect(r.body).toMatchObject({
      valid: true,
      signature_verification: { valid: true, signer: ledgerKey, algorithm: 'ed25519', trusted: true },
      policy_compliance: { passed: true, violations: [] },
      timestamp_check: { valid: true },
    });
    expect(r.body.timestamp_check.age_hours).toBeGreaterThanOrEqual(0);
    expect(r.body.timestamp_check.age_hours).toBeLessThan(1);
  });

  it('a tampered receipt (a step altered) fails the signature and require-signature', async () => {
    const tampered = structuredClone(receipt);
    tampered.steps[0].exit_code = 1;
    const r = await call('POST', '/v1/receipts/verify', { receipt: tampered, trusted_keys: [ledgerKey], policies: ['require-signature'] });
    expect(r.status).toBe(200);
    expect(r.body.valid).toBe(false);
    expect(r.body.signature_verification.valid).toBe(false);
    expect(r.body.policy_compliance.violations.map((v: any) => v.policy)).toEqual(['require-signature']);
  });

  it('a receipt by a key not in trusted_keys is not valid', async () => {
    const other = `ed25519:${'ab'.repeat(32)}`;
    const r = await call('POST', '/v1/receipts/verify', { receipt, trusted_keys: [other] });
    expect(r.body.valid).toBe(false);
    expect(r.body.signature_verification).toMatchObject({ valid: true, trusted: false });
  });

  it('max-age-<N>h: an old receipt (signed 48 hours ago by a key of our own) violates max-age-24h, meets max-age-72h', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const pub = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url').toString('hex');
    const { signature: _s, ...unsigned } = { ...receipt, timestamp: new Date(Date.now() - 48 * 3600_000).toISOString(), signer_public_key: `ed25519:${pub}` };
    const sig = edSign(null, pipelineReceiptSignedBytes(unsigned), privateKey).toString('hex');
    const old = { ...unsigned, signature: `ed25519:${sig}` };
    const keys = [`ed25519:${pub}`];
    const r24 = await call('POST', '/v1/receipts/verify', { receipt: old, trusted_keys: keys, policies: ['require-signature', 'max-age-24h'] });
    expect(r24.body.valid).toBe(false);
    expect(r24.body.signature_verification.valid).toBe(true);
    expect(r24.body.policy_compliance.violations.map((v: any) => v.policy)).toEqual(['max-age-24h']);
    expect(r24.body.timestamp_check.valid).toBe(false);
    expect(r24.body.timestamp_check.age_hours).toBeGreaterThan(47.9);
    const r72 = await call('POST', '/v1/receipts/verify', { receipt: old, trusted_keys: keys, policies: ['max-age-72h'] });
    expect(r72.body.valid, r72.text).toBe(true);
    expect(canonicalize(old)).not.toBe(canonicalize(receipt));
  });

  it('an unknown policy or a malformed trusted key is 400 naming it', async () => {
    const r = await call('POST', '/v1/receipts/verify', { receipt, policies: ['require-signature', 'require-tests'] });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ code: 'VALIDATION_ERROR', details: { field: 'policies[1]', policy: 'require-tests' } });
    expect(r.body.error.message).toContain('require-tests');
    for (const bad of ['max-age-0h', 'max-age-h', 'max-age-24']) {
      const x = await call('POST', '/v1/receipts/verify', { receipt, policies: [bad] });
      expect(x.status, bad).toBe(400);
    }
    const k = await call('POST', '/v1/receipts/verify', { receipt, trusted_keys: ['ed25519:XYZ'] });
    expect(k.status).toBe(400);
    expect(k.body.error.details.field).toBe('trusted_keys[0]');
  });
});

describe('scopes', () => {
  it('a key without pipelines:execute cannot execute nor cancel (the default scopes do not include it); a read key cannot create', async () => {
    const p = await createPipeline('scoped', [step('a', 'true')]);
    const readOnly = client(srv.url, await tenantKey('default', 'pipelines:read', 'default'));
    const ex = await readOnly('POST', `/v1/pipelines/${p.id}/executions`, {});
    expect(ex.status).toBe(403);
    expect(ex.body.error).toMatchObject({ code: 'AUTHORIZATION_FAILED', details: { required_scope: 'pipelines:execute' } });
    expect((await readOnly('GET', `/v1/pipelines/${p.id}`)).status).toBe(200);
    const cr = await readOnly('POST', '/v1/pipelines', { name: 'n', config: { version: '0.1', steps: [step('a', 'true')] } });
    expect(cr.status).toBe(403);
    const defaults = client(srv.url, await tenantKey('default', undefined, 'default'));
    expect((await defaults('POST', `/v1/pipelines/${p.id}/executions`, {})).status).toBe(403);
    expect((await defaults('POST', '/v1/executions/exec_x/cancel')).status).toBe(403);
    expect((await defaults('GET', '/v1/pipelines')).status).toBe(200);
  });
});

describe('live progress feed (SSE)', () => {
  it('follows a running execution live until it ends, then replays it whole and from a position', async () => {
    const p = await createPipeline('feed', [step('tick', 'for i in 1 2 3; do echo "tick $i"; sleep 0.2; done')]);
    const ex = await execute(p.id);
    const live = await openSse(`${srv.url}/v1/executions/${ex.execution_id}/events`, srv.key);
    expect(live.status).toBe(200);
    await live.ended;
    const kinds = live.messages.filter((m) => m.id !== undefined).map((m) => m.event);
    expect(kinds[0]).toBe('execution.started');
    expect(kinds.at(-1)).toBe('execution.finished');
    expect(kinds).toContain('step.started');
    expect(kinds).toContain('step.finished');
    const lines = live.messages.filter((m) => m.event === 'log').map((m) => JSON.parse(m.data).message);
    expect(lines).toEqual(['tick 1', 'tick 2', 'tick 3']);
    const ids = live.messages.filter((m) => m.id !== undefined).map((m) => Number(m.id));
    expect(ids).toEqual(ids.map((_, i) => i + 1));
    const last = JSON.parse(live.messages.filter((m) => m.event === 'execution.finished')[0]!.data);
    expect(last.data).toMatchObject({ status: 'completed', seq_no: 2 });

    const replay = await openSse(`${srv.url}/v1/executions/${ex.execution_id}/events`, srv.key);
    await replay.ended;
    expect(replay.messages.filter((m) => m.id !== undefined).map((m) => Number(m.id))).toEqual(ids);
    const from = await openSse(`${srv.url}/v1/executions/${ex.execution_id}/events`, srv.key, { 'last-event-id': String(ids.length - 2) });
    await from.ended;
    expect(from.messages.filter((m) => m.id !== undefined).map((m) => Number(m.id))).toEqual(ids.slice(-2));
    const past = await openSse(`${srv.url}/v1/executions/${ex.execution_id}/events?from=${ids.length + 5}`, srv.key);
    await past.ended;
    expect(past.messages.filter((m) => m.id !== undefined)).toEqual([]);
    const none = await openSse(`${srv.url}/v1/executions/exec_nope/events`, srv.key);
    expect(none.status).toBe(404);
  });
});

describe('webhooks', () => {
  it('delivers execution.completed, receipt.signed and execution.failed with the seed payloads', async () => {
    const got: any[] = [];
    const rx = http.createServer((req, res) => {
      let b = '';
      req.on('data', (c) => (b += c));
      req.on('end', () => {
        got.push({ headers: req.headers, body: JSON.parse(b) });
        res.end('ok');
      });
    });
    await new Promise<void>((r) => rx.listen(0, '127.0.0.1', () => r()));
    try {
      const url = `http://127.0.0.1:${(rx.address() as AddressInfo).port}/hook`;
      const w = await call('POST', '/v1/webhooks', { url, events: ['execution.completed', 'execution.failed', 'receipt.signed'], secret: 'webhook_secret_key_123' });
      expect(w.status, w.text).toBe(201);
      const ok = await createPipeline('hooked', [step('a', 'echo ok')]);
      const exOk = await execute(ok.id);
      const bad = await createPipeline('hooked-bad', [step('a', 'exit 3')]);
      const exBad = await execute(bad.id);
      await ended(exOk.execution_id);
      await ended(exBad.execution_id);
      await waitFor(async () => (got.length >= 4 ? true : undefined));
      const byEvent = (e: string, id: string) => got.filter((g) => g.body.event === e && g.body.data.execution_id === id);
      // One of each: receipt.signed for both, execution.completed for one, execution.failed for the other.
      expect(got.map((g) => `${g.body.event} ${g.body.data.execution_id}`).sort()).toEqual(
        [`execution.completed ${exOk.execution_id}`, `receipt.signed ${exOk.execution_id}`, `execution.failed ${exBad.execution_id}`, `receipt.signed ${exBad.execution_id}`].sort(),
      );
      const completed = byEvent('execution.completed', exOk.execution_id);
      expect(completed).toHaveLength(1);
      expect(completed[0].body.data).toMatchObject({
        execution_id: exOk.execution_id,
        pipeline_id: ok.id,
        status: 'completed',
        exit_code: 0,
        receipt_url: `/v1/executions/${exOk.execution_id}/receipt`,
      });
      expect(typeof completed[0].body.data.duration_seconds).toBe('number');
      expect(completed[0].body.timestamp).toEqual(expect.any(String));
      expect(completed[0].headers['x-attest-signature']).toMatch(/^sha256=[0-9a-f]{64}$/);
      const rcpt = (await call('GET', `/v1/executions/${exOk.execution_id}/receipt`)).body;
      const signed = byEvent('receipt.signed', exOk.execution_id);
      expect(signed[0].body.data).toMatchObject({ execution_id: exOk.execution_id, receipt_hash: rcpt.receipt_hash, signature: rcpt.receipt.signature, signer_public_key: rcpt.receipt.signer_public_key });
      expect(signed[0].body.data.signer).toMatch(/^ps-ed25519-/);
      const failed = byEvent('execution.failed', exBad.execution_id);
      expect(failed[0].body.data).toMatchObject({ status: 'failed', exit_code: 3 });
      expect(byEvent('receipt.signed', exBad.execution_id)).toHaveLength(1);
    } finally {
      rx.closeAllConnections();
      await new Promise<void>((r) => rx.close(() => r()));
    }
  });
});

describe('cache', () => {
  it('a second run restores the cached step (cache_hit, identical hashes); stats count it; objects can be deleted; gc empties it', async () => {
    const p = await createPipeline('cached', [
      step('gen', 'printf "data\\n" > in.txt', { outputs: ['in.txt'] }),
      step('build', 'cat in.txt in.txt > out.txt; echo built', { inputs: ['in.txt'], outputs: ['out.txt'], needs: ['gen'] }),
    ]);
    const before = (await call('GET', '/v1/cache/stats')).body;
    const first = await ended((await execute(p.id)).execution_id);
    const second = await ended((await execute(p.id)).execution_id);
    expect(first.steps[1]).toMatchObject({ name: 'build', status: 'completed', cache_hit: false });
    expect(second.steps[1]).toMatchObject({ name: 'build', status: 'completed', cache_hit: true });
    expect(second.steps[1].outputs).toEqual(first.steps[1].outputs);
    expect(second.steps[1].inputs).toEqual(first.steps[1].inputs);
    expect(second.steps[1].outputs['out.txt']).toMatch(/^blake3:[0-9a-f]{64}$/);
    const r2 = (await call('GET', `/v1/executions/${second.id}/receipt`)).body;
    expect(r2.receipt.steps[1]).toMatchObject({ cache_hit: true, outputs: first.steps[1].outputs });
    // The restored step did not run its command.
    const logs = (await call('GET', `/v1/executions/${second.id}/logs?step=build&tail=100`)).body.logs.map((l: any) => l.message);
    expect(logs).not.toContain('built');
    // options.cache false: runs again.
    const third = await ended((await execute(p.id, { options: { cache: false } })).execution_id);
    expect(third.steps[1].cache_hit).toBe(false);

    const stats = (await call('GET', '/v1/cache/stats')).body;
    expect(stats.hits - before.hits).toBe(1);
    expect(stats.misses - before.misses).toBe(1);
    expect(stats.total_entries).toBeGreaterThanOrEqual(1);
    expect(stats.total_size_bytes).toBeGreaterThanOrEqual(10);
    expect(stats.hit_rate).toBeCloseTo(stats.hits / (stats.hits + stats.misses), 5);
    expect(stats.backends.local).toEqual({ size_bytes: stats.total_size_bytes, entries: stats.total_entries, hit_rate: stats.hit_rate });
    // Another tenant's cache is its own.
    const other = client(srv.url, await tenantKey('cache-other', 'pipelines:read'));
    expect((await other('GET', '/v1/cache/stats')).body).toMatchObject({ total_entries: 0, total_size_bytes: 0 });

    const obj = first.steps[1].outputs['out.txt'];
    const del = await call('DELETE', `/v1/cache/objects/${obj}`);
    expect(del.status, del.text).toBe(200);
    expect(del.body).toEqual({ deleted: true, blake3: obj });
    expect((await call('DELETE', `/v1/cache/objects/${obj}`)).status).toBe(404);
    const bad = await call('DELETE', '/v1/cache/objects/sha256:abc');
    expect(bad.status).toBe(400);
    expect(bad.body.error.details.field).toBe('blake3');
    // With its object gone, the entry is gone: the next run misses.
    const fourth = await ended((await execute(p.id)).execution_id);
    expect(fourth.steps[1].cache_hit).toBe(false);
    const gc = await call('POST', '/v1/cache/gc', { max_age_days: 0, aggressive: true });
    expect(gc.status, gc.text).toBe(200);
    expect(gc.body.removed_entries).toBeGreaterThanOrEqual(1);
    expect(gc.body.stats).toMatchObject({ total_entries: 0 });
    const badGc = await call('POST', '/v1/cache/gc', { target_size_percent: 150 });
    expect(badGc.status).toBe(400);
    expect(badGc.body.error.details.field).toBe('target_size_percent');
  });
});

describe('runner settings', () => {
  it('PROOFSTREAM_RUNNER unset: executing answers 503 RUNNER_DISABLED and starts nothing; everything else works', async () => {
    const off = await startServer({ env: { LOG_LEVEL: 'warn' } });
    try {
      const c = client(off.url, off.key);
      const p = await createPipeline('off', [step('a', 'true')], c);
      const r = await c('POST', `/v1/pipelines/${p.id}/executions`, {});
      expect(r.status).toBe(503);
      expect(r.body.error.code).toBe('RUNNER_DISABLED');
      expect(r.body.error.message).toMatch(/PROOFSTREAM_RUNNER/);
      expect((await c('GET', `/v1/pipelines/${p.id}`)).body.executions).toBe(0);
    } finally {
      await off.stop();
    }
  });

  it('PROOFSTREAM_PIPELINE_MAX_CONCURRENT: one more answers 503 RUNNER_BUSY with Retry-After; PROOFSTREAM_PIPELINE_LOG_MAX_LINES caps stored lines', async () => {
    const one = await startServer({ env: { ...FAST, PROOFSTREAM_PIPELINE_MAX_CONCURRENT: '1', PROOFSTREAM_PIPELINE_LOG_MAX_LINES: '5' } });
    try {
      const c = client(one.url, one.key);
      const p = await createPipeline('busy', [step('a', 'sleep 30')], c);
      const first = await execute(p.id, {}, c);
      const r = await c('POST', `/v1/pipelines/${p.id}/executions`, {});
      expect(r.status).toBe(503);
      expect(r.body.error.code).toBe('RUNNER_BUSY');
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
      await c('POST', `/v1/executions/${first.execution_id}/cancel`);
      await ended(first.execution_id, c);
      // PROOFSTREAM_PIPELINE_LOG_MAX_LINES=5 on this server: 20 lines printed, 5 stored, one warn row says so.
      const chatty = await createPipeline('chatty', [step('talk', 'for i in $(seq 1 20); do echo "line $i"; done')], c);
      const e = await ended((await execute(chatty.id, {}, c)).execution_id, c);
      expect(e.status).toBe('completed');
      const logs = (await c('GET', `/v1/executions/${e.id}/logs?step=talk&tail=1000`)).body.logs;
      expect(logs.filter((l: any) => l.kind === 'log' && /^line /.test(l.message)).map((l: any) => l.message)).toEqual(['line 1', 'line 2', 'line 3', 'line 4', 'line 5']);
      expect(logs.filter((l: any) => /log truncated/.test(l.message))).toHaveLength(1);
      const all = (await c('GET', `/v1/executions/${e.id}/logs?tail=1000`)).body;
      expect(all.logs.at(-1)).toMatchObject({ kind: 'execution.finished' });
    } finally {
      await one.stop();
    }
  });

  it('PROOFSTREAM_RUNNER with another value refuses the start', async () => {
    const r = await runCli(['serve'], { PROOFSTREAM_RUNNER: 'docker', PORT: '0' });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/PROOFSTREAM_RUNNER must be process or sandbox/);
  });
});

describe('shutdown and restart', () => {
  it('SIGTERM cancels running executions (no process left); SIGKILL leaves one running, which the next start marks failed', async () => {
    const dataDir = tempDir('ps-pipe-restart-');
    const pids = tempDir('ps-pipe-pids-');
    let s = await startServer({ dataDir, env: FAST });
    let c = client(s.url, s.key);
    const p = await createPipeline('restart', [step('wait', `echo $$ > ${pids}/$EXEC; exec sleep 60`)], c);
    const pidOf = async (name: string) =>
      waitFor(async () => {
        const f = path.join(pids, name);
        return fs.existsSync(f) && fs.readFileSync(f, 'utf8').trim() ? Number(fs.readFileSync(f, 'utf8').trim()) : undefined;
      });
    const graceful = await execute(p.id, { variables: { EXEC: 'graceful' } }, c);
    const pid1 = await pidOf('graceful');
    expect(alive(pid1)).toBe(true);
    await s.stop();
    await waitFor(async () => (alive(pid1) ? undefined : true), 10_000);

    s = await startServer({ dataDir, key: s.key, env: FAST });
    c = client(s.url, s.key);
    const g = (await c('GET', `/v1/executions/${graceful.execution_id}`)).body;
    expect(['cancelled', 'failed']).toContain(g.status);

    const killed = await execute(p.id, { variables: { EXEC: 'killed' } }, c);
    const pid2 = await pidOf('killed');
    await s.kill();
    // A SIGKILLed server cannot take its steps' process groups with it: this one is ours to clean up.
    if (alive(pid2)) process.kill(pid2, 'SIGKILL');
    s = await startServer({ dataDir, key: s.key, env: FAST });
    c = client(s.url, s.key);
    const k = (await c('GET', `/v1/executions/${killed.execution_id}`)).body;
    expect(k).toMatchObject({ status: 'failed', error: expect.stringMatching(/server stopped/) });
    expect((await c('GET', `/v1/executions/${killed.execution_id}/receipt`)).status).toBe(404);
    const feed = await openSse(`${s.url}/v1/executions/${killed.execution_id}/events`, s.key);
    await feed.ended;
    expect(feed.messages.filter((m) => m.id !== undefined).at(-1)!.event).toBe('execution.finished');
    expect(fs.existsSync(path.join(dataDir, 'workspaces', killed.execution_id))).toBe(false);
    expect((await c('GET', `/v1/pipelines/${p.id}`)).body.executions).toBe(2);
    await s.stop();
  });
});

describe('sandbox runner', () => {
  const hasBwrap = (() => {
    try {
      return spawnSync('bwrap', ['--version']).status === 0;
    } catch {
      return false;
    }
  })();
  if (!hasBwrap) console.warn('SKIPPED: the sandbox runner test needs bubblewrap (Debian: apt-get install bubblewrap)');
  it.skipIf(!hasBwrap)('PROOFSTREAM_RUNNER=sandbox: steps run under bubblewrap; only the workspace is writable', async () => {
    const s = await startServer({ env: { ...FAST, PROOFSTREAM_RUNNER: 'sandbox' } });
    try {
      const c = client(s.url, s.key);
      const escape = path.join(s.dataDir, 'escape.txt');
      const p = await createPipeline(
        'boxed',
        [
          step('inside', 'echo ok > out.txt; cat out.txt', { outputs: ['out.txt'] }),
          // The server's data directory (its database) is not even visible; what is written there lands in a throwaway tmpfs.
          step('hidden', `test ! -e ${path.join(s.dataDir, 'proofstream.db')} && mkdir -p ${s.dataDir} && echo x > ${escape}`, { needs: ['inside'] }),
          step('readonly', 'touch /usr/proofstream-escape', { needs: ['hidden'] }),
        ],
        c,
      );
      const e = await ended((await execute(p.id, {}, c)).execution_id, c);
      expect(e.runner).toBe('sandbox');
      expect(e.steps.map((x: any) => [x.name, x.status])).toEqual([
        ['inside', 'completed'],
        ['hidden', 'completed'],
        ['readonly', 'failed'],
      ]);
      expect(fs.existsSync(escape)).toBe(false);
      expect(fs.existsSync('/usr/proofstream-escape')).toBe(false);
      expect((await c('GET', `/v1/executions/${e.id}/receipt`)).body.verification.signature_valid).toBe(true);
    } finally {
      await s.stop();
    }
  });
});

describe('openapi', () => {
  it('every pipeline route is in /openapi.json', async () => {
    const doc = (await call('GET', '/openapi.json')).body;
    for (const p of ['/v1/pipelines', '/v1/pipelines/{id}', '/v1/pipelines/{id}/executions', '/v1/executions/{id}', '/v1/executions/{id}/logs', '/v1/executions/{id}/cancel', '/v1/executions/{id}/receipt', '/v1/executions/{id}/events', '/v1/receipts/verify', '/v1/cache/stats', '/v1/cache/objects/{blake3}', '/v1/cache/gc']) {
      expect(doc.paths[p], p).toBeDefined();
    }
  });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A key of tenant `tenant` (system `system`, default: a fresh one) with `scopes` (default: the default scopes). */
async function tenantKey(tenant: string, scopes?: string, system = `sys-${Math.random().toString(36).slice(2, 8)}`): Promise<string> {
  const args = ['keys', 'create', '--tenant', tenant, '--system', system, '--json'];
  if (scopes) args.push('--scopes', scopes);
  const r = await runCli(args, { PROOFSTREAM_DATA_DIR: srv.dataDir });
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout).api_key?.key ?? JSON.parse(r.stdout).key;
}
