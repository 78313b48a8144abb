// Build jobs (docs/builds.md) against a real server running real child processes: the event sequence, the result
// archive against its DSSE-signed provenance, failures, reconnecting with `from`, 404/409, unsafe and oversize
// archives refused before anything runs, and a job interrupted by a restart.
import { createHash, createPublicKey, verify as edVerify } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { create as tarCreate, extract as tarExtract } from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sandboxAvailable } from '../src/pipelines/engine.js';
import { verifyPipelineReceipt } from '../src/verify/pipeline-receipt.js';
import { client, runCli, startServer, tempDir, type RunningServer } from './helpers/server.js';
import { openSse, type SseEvent } from './helpers/sse.js';

let srv: RunningServer;

beforeAll(async () => {
  srv = await startServer({ env: { PROOFSTREAM_RUNNER: 'process' } });
}, 60_000);

afterAll(async () => {
  await srv?.stop();
});

/** A .tar.gz of the files given (path → content), made with node-tar from a temp directory. */
async function archiveOf(files: Record<string, string>): Promise<Buffer> {
  const dir = tempDir('ps-src-');
  for (const [p, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, p)), { recursive: true });
    fs.writeFileSync(path.join(dir, p), content);
  }
  const out = path.join(tempDir('ps-tgz-'), 'src.tar.gz');
  await tarCreate({ gzip: true, file: out, cwd: dir, portable: true }, Object.keys(files));
  return fs.readFileSync(out);
}

const configOf = (steps: Array<{ name: string; run: string; outputs?: string[] }>) =>
  JSON.stringify({ version: '0.1', steps: steps.map((s) => ({ inputs: [], needs: [], outputs: [], ...s })) });

async function postBuild(s: RunningServer, config: string, archive: Buffer): Promise<{ status: number; body: any; headers: Headers }> {
  const form = new FormData();
  form.set('config', config);
  form.set('source', new Blob([new Uint8Array(archive)], { type: 'application/gzip' }), 'src.tar.gz');
  const res = await fetch(`${s.url}/build`, { method: 'POST', headers: { authorization: `Bearer ${s.key}` }, body: form });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* keep text */
  }
  return { status: res.status, body, headers: res.headers };
}

const dataOf = (ms: SseEvent[]) => ms.filter((m) => m.data !== '').map((m) => JSON.parse(m.data));

/** Every event of a job, read until the server closes the stream after `complete`. */
async function allEvents(s: RunningServer, jobId: string, from?: number): Promise<any[]> {
  const sse = await openSse(`${s.url}/build/${jobId}/events${from === undefined ? '' : `?from=${from}`}`, s.key);
  expect(sse.status).toBe(200);
  await Promise.race([sse.ended, new Promise((_, rej) => setTimeout(() => rej(new Error('the stream did not end')), 60_000).unref())]);
  return dataOf(sse.messages);
}

/** DSSE v1 pre-authentication encoding, written here from the spec so the test does not share the server's code. */
const pae = (type: string, body: Buffer) =>
  Buffer.concat([Buffer.from(`DSSEv1 ${Buffer.byteLength(type)} ${type} ${body.length} `), body]);

describe('a build from config + archive', () => {
  let jobId: string;
  let events: any[];

  beforeAll(async () => {
    const archive = await archiveOf({ 'package.json': '{"name":"x"}', Makefile: 'all:\n\ttrue\n', 'src/in.txt': 'input' });
    const config = configOf([
      { name: 'compile', run: 'mkdir -p dist/sub && cat src/in.txt > dist/a.txt && printf "bin" > dist/sub/b.bin && echo "   Compiling x v1.0.0" && echo "    Finished"', outputs: ['dist'] },
    ]);
    const r = await postBuild(srv, config, archive);
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    expect(r.body.job_id).toMatch(/^bld_/);
    jobId = r.body.job_id;
    events = await allEvents(srv, jobId);
  }, 90_000);

  it('streams queued, vm, init, detect, build lines, provenance, attest and complete ok, in that order', () => {
    const types = events.map((e) => e.type);
    expect(types[0]).toBe('queued');
    expect(events[0].position).toBe(0);
    const order = ['queued', 'vm', 'init', 'detect', 'build', 'provenance', 'attest', 'complete'];
    // Collapsing runs of the same type gives exactly the phase order.
    expect(types.filter((t, i) => t !== types[i - 1])).toEqual(order);
    expect(events.find((e) => e.type === 'vm').msg).toMatch(/plain child process/);
    expect(events.find((e) => e.type === 'detect').msg).toBe('node, make');
    const lines = events.filter((e) => e.type === 'build').map((e) => e.msg);
    expect(lines).toContain('[compile]    Compiling x v1.0.0');
    expect(lines).toContain('[compile]     Finished');
    expect(events.at(-1)).toEqual({ type: 'complete', result: { status: 'ok' } });
    for (const e of events.slice(1, -1)) expect(typeof e.msg).toBe('string');
  });

  it('serves a result whose outputs match the provenance subjects, with a DSSE envelope the ledger key verifies', async () => {
    const res = await fetch(`${srv.url}/build/${jobId}/result`, { headers: { authorization: `Bearer ${srv.key}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/gzip');
    const dir = tempDir('ps-result-');
    const file = path.join(dir, 'r.tar.gz');
    fs.writeFileSync(file, Buffer.from(await res.arrayBuffer()));
    const out = path.join(dir, 'x');
    fs.mkdirSync(out);
    await tarExtract({ file, cwd: out });
    expect(fs.readdirSync(out).sort()).toEqual(['outputs', 'provenance.json', 'receipt.json']);

    const env = JSON.parse(fs.readFileSync(path.join(out, 'provenance.json'), 'utf8'));
    expect(env.payloadType).toBe('application/vnd.in-toto+json');
    const payload = Buffer.from(env.payload, 'base64');
    const statement = JSON.parse(payload.toString('utf8'));
    expect(statement._type).toBe('https://in-toto.io/Statement/v1');
    expect(statement.predicateType).toBe('https://slsa.dev/provenance/v1');
    expect(statement.predicate.runDetails.metadata.invocationId).toBe(jobId);

    // Subjects: exactly the output files, each with the sha256 of the file in the archive.
    const subjects = statement.subject as Array<{ name: string; digest: { sha256: string } }>;
    expect(subjects.map((s) => s.name)).toEqual(['dist/a.txt', 'dist/sub/b.bin']);
    for (const s of subjects) {
      const bytes = fs.readFileSync(path.join(out, 'outputs', s.name));
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(s.digest.sha256);
    }
    expect(fs.readFileSync(path.join(out, 'outputs/dist/a.txt'), 'utf8')).toBe('input');

    // The envelope's signature, with the ledger's public key as GET /v2/keys publishes it.
    const keys = await client(srv.url, srv.key)('GET', '/v2/keys');
    expect(keys.status).toBe(200);
    const [sig] = env.signatures;
    const pub = (keys.body.keys as Array<{ kid: string; public_key: string }>).find((k) => k.kid === sig.keyid);
    expect(pub, 'the envelope names a published ledger key').toBeDefined();
    const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(pub!.public_key, 'hex')]);
    const key = createPublicKey({ key: spki, format: 'der', type: 'spki' });
    expect(edVerify(null, pae(env.payloadType, payload), key, Buffer.from(sig.sig, 'base64'))).toBe(true);
    // Any change to the statement breaks it.
    const altered = Buffer.from(payload.toString('utf8').replace(subjects[0]!.digest.sha256, '0'.repeat(64)));
    expect(edVerify(null, pae(env.payloadType, altered), key, Buffer.from(sig.sig, 'base64'))).toBe(false);

    // receipt.json: the receipt bundle (docs/protocol.md §14.4): the signed pipeline receipt and its stored event,
    // whose payload is exactly the pipelines' one; the next event commits to provenance.json's bytes and subjects.
    const bundle = JSON.parse(fs.readFileSync(path.join(out, 'receipt.json'), 'utf8'));
    expect(bundle.receipt.status).toBe('completed');
    expect(bundle.receipt.signature).toMatch(/^ed25519:[0-9a-f]{128}$/);
    expect(bundle.ledger.event_type).toBe('attest.receipt');
    expect(bundle.ledger.source_ref).toBe(`build:${jobId}`);
    expect(Object.keys(bundle.ledger.payload).sort()).toEqual(['pipeline_hash', 'receipt', 'receipt_hash', 'status']);
    expect(bundle.ledger.payload.receipt).toEqual(bundle.receipt);
    const call = client(srv.url, srv.key);
    const stored = await call('GET', `/v2/events/${bundle.ledger.stream_event_id}`);
    expect(stored.status).toBe(200);
    expect(stored.body).toEqual(bundle.ledger);
    // Both halves verify offline: the pipeline receipt's own signature (§14), and the event as a ledger receipt (§4).
    const rv = verifyPipelineReceipt(bundle.receipt);
    expect(rv.problems).toEqual([]);
    expect(rv.signature_valid).toBe(true);
    const ledgerCheck = await call('POST', '/v2/verify', { kind: 'receipt', object: bundle.ledger });
    expect(ledgerCheck.status).toBe(200);
    expect(ledgerCheck.body.problems).toEqual([]);
    expect(ledgerCheck.body.ok).toBe(true);
    // And the file as it is, offline: `proofstream verify receipt.json` (a child process) with the ledger's keys.
    const keysFile = path.join(out, '..', 'ledger-keys.json');
    fs.writeFileSync(keysFile, (await call('GET', '/v2/keys')).text);
    const cli = await runCli(['verify', path.join(out, 'receipt.json'), '--trust', keysFile, '--json']);
    expect(cli.code, cli.stdout + cli.stderr).toBe(0);
    expect(JSON.parse(cli.stdout)).toMatchObject({ ok: true, kind: 'pipeline_receipt' });
    const next = await call('GET', `/v2/streams/${bundle.ledger.stream_id}/events?from_seq_no=${bundle.ledger.seq_no + 1}&limit=1`);
    const prov = next.body.events[0];
    expect(prov.event_type).toBe('build.provenance/v1');
    expect(prov.payload.job_id).toBe(jobId);
    expect(prov.payload.receipt_hash).toBe(bundle.ledger.payload.receipt_hash);
    expect(prov.payload.subjects).toEqual(subjects);
    const provenanceSha = createHash('sha256').update(fs.readFileSync(path.join(out, 'provenance.json'))).digest('hex');
    expect(prov.payload.provenance_sha256).toBe(provenanceSha);
  });

  it('replays the same events after completion, and `from` skips exactly the first N', async () => {
    expect(await allEvents(srv, jobId)).toEqual(events);
    expect(await allEvents(srv, jobId, 3)).toEqual(events.slice(3));
    expect(await allEvents(srv, jobId, events.length)).toEqual([]);
  });
});

describe('a build of a stored pipeline', () => {
  it('runs {pipeline_id} in an empty workspace and appends the receipt to the pipeline\'s stream', async () => {
    const call = client(srv.url, srv.key);
    const created = await call('POST', '/v1/pipelines', {
      name: 'stored',
      config: { version: '0.1', steps: [{ name: 'make', run: 'echo stored > out.txt', inputs: [], outputs: ['out.txt'], needs: [] }] },
    });
    expect(created.status, created.text).toBe(201);
    const r = await call('POST', '/build', { pipeline_id: created.body.id });
    expect(r.status, r.text).toBe(202);
    const events = await allEvents(srv, r.body.job_id);
    expect(events.at(-1)).toEqual({ type: 'complete', result: { status: 'ok' } });
    expect(events.find((e) => e.type === 'detect').msg).toBe('none');
    const attest = events.filter((e) => e.type === 'attest').at(-1).msg as string;
    expect(attest).toContain(`stream ${created.body.stream_id}`);
    const unknown = await call('POST', '/build', { pipeline_id: 'pip_nope' });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.details.field).toBe('pipeline_id');
  }, 60_000);
});

describe('failures and refusals', () => {
  it('a failing step ends with complete{status:"failed"} and no result (409)', async () => {
    const r = await postBuild(srv, configOf([{ name: 'broken', run: 'echo about to fail; exit 3' }]), await archiveOf({ 'go.mod': 'module x\n' }));
    expect(r.status).toBe(202);
    const events = await allEvents(srv, r.body.job_id);
    expect(events.find((e) => e.type === 'detect').msg).toBe('go');
    expect(events.filter((e) => e.type === 'build').map((e) => e.msg)).toContain('[broken] about to fail');
    expect(events.some((e) => e.type === 'provenance')).toBe(false);
    // The failed receipt is still signed and appended: the ledger records failures too.
    expect(events.filter((e) => e.type === 'attest')).toHaveLength(2);
    expect(events.at(-1)).toEqual({ type: 'complete', result: { status: 'failed', error: 'step "broken" failed with exit code 3', error_type: 'BuildError' } });
    const res = await client(srv.url, srv.key)('GET', `/build/${r.body.job_id}/result`);
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('BUILD_NOT_READY');
    expect(res.body.error.details.status).toBe('failed');
  }, 60_000);

  it('answers 404 for an unknown job, on events and result', async () => {
    const call = client(srv.url, srv.key);
    for (const p of ['/build/bld_nope/events', '/build/bld_nope/result']) {
      const r = await call('GET', p);
      expect(r.status, p).toBe(404);
      expect(r.body.error.code).toBe('RESOURCE_NOT_FOUND');
    }
  });

  it('answers 409 for the result while the job runs, 200 once it completed', async () => {
    const gate = tempDir('ps-gate-');
    const r = await postBuild(
      srv,
      configOf([{ name: 'wait', run: `while [ ! -f '${gate}/go' ]; do sleep 0.05; done; echo done > out.txt`, outputs: ['out.txt'] }]),
      await archiveOf({ 'README': 'x' }),
    );
    expect(r.status).toBe(202);
    const sse = await openSse(`${srv.url}/build/${r.body.job_id}/events`, srv.key);
    await sse.waitFor((m) => dataOf(m).some((e) => e.type === 'build'), 30_000, 'the step to start');
    const early = await client(srv.url, srv.key)('GET', `/build/${r.body.job_id}/result`);
    expect(early.status).toBe(409);
    expect(early.body.error.code).toBe('BUILD_NOT_READY');
    expect(early.body.error.details.status).toBe('running');
    fs.writeFileSync(path.join(gate, 'go'), '');
    await sse.ended;
    expect(dataOf(sse.messages).at(-1)).toEqual({ type: 'complete', result: { status: 'ok' } });
    const later = await fetch(`${srv.url}/build/${r.body.job_id}/result`, { headers: { authorization: `Bearer ${srv.key}` } });
    expect(later.status).toBe(200);
    await later.arrayBuffer();
  }, 60_000);

  it('reconnecting with `from` after dropping the connection mid-stream replays exactly the rest', async () => {
    const gate = tempDir('ps-gate-');
    const r = await postBuild(
      srv,
      configOf([{ name: 'talk', run: `for i in 1 2 3 4 5; do echo early$i; done; while [ ! -f '${gate}/go' ]; do sleep 0.05; done; for i in 1 2 3 4 5; do echo late$i; done` }]),
      await archiveOf({ 'README': 'x' }),
    );
    expect(r.status).toBe(202);
    const first = await openSse(`${srv.url}/build/${r.body.job_id}/events`, srv.key);
    await first.waitFor((m) => dataOf(m).some((e) => e.msg === '[talk] early5'), 30_000, 'the early lines');
    first.close(); // dropped mid-stream, before the rest exists
    await first.ended;
    const seen = dataOf(first.messages);
    fs.writeFileSync(path.join(gate, 'go'), '');
    const rest = await allEvents(srv, r.body.job_id, seen.length);
    const whole = await allEvents(srv, r.body.job_id);
    expect([...seen, ...rest]).toEqual(whole);
    expect(rest.map((e) => e.msg)).toContain('[talk] late1');
    expect(whole.at(-1).type).toBe('complete');
  }, 60_000);

  it('a revoked key loses its open build stream within a heartbeat (event: error AUTHENTICATION_FAILED), as the live feed does', async () => {
    const s = await startServer({ env: { PROOFSTREAM_RUNNER: 'process', PROOFSTREAM_SSE_HEARTBEAT_MS: '200' } });
    const gate = tempDir('ps-gate-');
    try {
      const made = await runCli(['keys', 'create', '--tenant', 'default', '--system', 'default', '--scopes', 'pipelines:read', '--json'], { PROOFSTREAM_DATA_DIR: s.dataDir });
      expect(made.code, made.stderr).toBe(0);
      const { key, key_id } = JSON.parse(made.stdout);
      const r = await postBuild(s, configOf([{ name: 'wait', run: `echo waiting; while [ ! -f '${gate}/go' ]; do sleep 0.05; done` }]), await archiveOf({ README: 'x' }));
      expect(r.status, JSON.stringify(r.body)).toBe(202);
      const sse = await openSse(`${s.url}/build/${r.body.job_id}/events`, key);
      expect(sse.status).toBe(200);
      await sse.waitFor((m) => dataOf(m).some((e) => e.msg === '[wait] waiting'), 30_000, 'the first log line');
      expect((await runCli(['keys', 'revoke', key_id], { PROOFSTREAM_DATA_DIR: s.dataDir })).code).toBe(0);
      await Promise.race([sse.ended, new Promise((_, rej) => setTimeout(() => rej(new Error('the stream did not end')), 30_000).unref())]);
      const last = sse.messages.filter((m) => m.event !== 'message' && m.event !== undefined).at(-1);
      expect(last?.event).toBe('error');
      expect(JSON.parse(last!.data)).toMatchObject({ error: { code: 'AUTHENTICATION_FAILED' } });
    } finally {
      fs.writeFileSync(path.join(gate, 'go'), '');
      await s.stop();
    }
  }, 60_000);

  it('refuses archives with `..` or an absolute path (422 ARCHIVE_UNSAFE) and runs nothing', async () => {
    const dir = tempDir('ps-evil-');
    const marker = path.join(dir, 'ran');
    fs.mkdirSync(path.join(dir, 'a'));
    fs.writeFileSync(path.join(dir, 'evil.txt'), 'x');
    const dotdot = path.join(dir, 'dotdot.tar.gz');
    // preservePaths keeps `..` and absolute names in the archive, as a hostile client would send them.
    await tarCreate({ gzip: true, file: dotdot, cwd: path.join(dir, 'a'), preservePaths: true }, ['../evil.txt']);
    const absolute = path.join(dir, 'absolute.tar.gz');
    await tarCreate({ gzip: true, file: absolute, cwd: dir, preservePaths: true }, [path.join(dir, 'evil.txt')]);
    const config = configOf([{ name: 'x', run: `touch '${marker}'` }]);
    for (const [name, file] of [['..', dotdot], ['absolute', absolute]] as const) {
      const r = await postBuild(srv, config, fs.readFileSync(file));
      expect(r.status, `${name}: ${JSON.stringify(r.body)}`).toBe(422);
      expect(r.body.error.code).toBe('ARCHIVE_UNSAFE');
      expect(r.body.error.details.field).toBe('source');
      expect(r.body.error.details.entry).toContain('evil.txt');
    }
    // Nothing was queued: a build that would have run has had every chance to by the time a new one completes.
    const probe = await postBuild(srv, configOf([{ name: 'probe', run: 'true' }]), await archiveOf({ README: 'x' }));
    await allEvents(srv, probe.body.job_id);
    expect(fs.existsSync(marker)).toBe(false);
  }, 60_000);

  it('names the field of an invalid config (400) and of a missing source', async () => {
    const r = await postBuild(srv, configOf([{ name: 'x', run: '' }]), await archiveOf({ README: 'x' }));
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('VALIDATION_ERROR');
    expect(r.body.error.details.field).toBe('steps[0].run');
    const form = new FormData();
    form.set('config', configOf([{ name: 'x', run: 'true' }]));
    const res = await fetch(`${srv.url}/build`, { method: 'POST', headers: { authorization: `Bearer ${srv.key}` }, body: form });
    const body = await res.json();
    expect(res.status).toBe(400);
    expect(body.error.details.field).toBe('source');
  });
});

describe('limits and the runner switch', () => {
  it('refuses an upload over PROOFSTREAM_BUILD_MAX_UPLOAD_BYTES (413) and an archive unpacking beyond its limits (413)', async () => {
    const small = await startServer({ env: { PROOFSTREAM_RUNNER: 'process', PROOFSTREAM_BUILD_MAX_UPLOAD_BYTES: '4096', PROOFSTREAM_BUILD_MAX_UNPACKED_BYTES: '100000', PROOFSTREAM_BUILD_MAX_FILES: '5' } });
    try {
      const random = Buffer.from(Array.from({ length: 20_000 }, (_, i) => (i * 7919) % 251));
      const big = await postBuild(small, configOf([{ name: 'x', run: 'true' }]), random);
      expect(big.status).toBe(413);
      expect(big.body.error.code).toBe('PAYLOAD_TOO_LARGE');
      // 200 kB of zeros compress to well under the upload limit but unpack beyond 100 kB.
      const bomb = await postBuild(small, configOf([{ name: 'x', run: 'true' }]), await archiveOf({ 'zeros.bin': '\0'.repeat(200_000) }));
      expect(bomb.status, JSON.stringify(bomb.body)).toBe(413);
      expect(bomb.body.error.code).toBe('ARCHIVE_TOO_LARGE');
      const many = await postBuild(small, configOf([{ name: 'x', run: 'true' }]), await archiveOf(Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`f${i}`, 'x']))));
      expect(many.status).toBe(413);
      expect(many.body.error.code).toBe('ARCHIVE_TOO_LARGE');
    } finally {
      await small.stop();
    }
  }, 60_000);

  it('answers 503 RUNNER_DISABLED when PROOFSTREAM_RUNNER is unset', async () => {
    const off = await startServer({ env: { PROOFSTREAM_RUNNER: '' } });
    try {
      const r = await postBuild(off, configOf([{ name: 'x', run: 'true' }]), await archiveOf({ README: 'x' }));
      expect(r.status).toBe(503);
      expect(r.body.error.code).toBe('RUNNER_DISABLED');
    } finally {
      await off.stop();
    }
  }, 60_000);

  // Visible in the output when skipped: .ci/run installs bubblewrap, so CI runs it.
  it.skipIf(!sandboxAvailable())('with PROOFSTREAM_RUNNER=sandbox the job runs under bubblewrap and says so (needs bwrap)', async () => {
    const sb = await startServer({ env: { PROOFSTREAM_RUNNER: 'sandbox' } });
    try {
      const r = await postBuild(sb, configOf([{ name: 'b', run: 'echo sandboxed > out.txt', outputs: ['out.txt'] }]), await archiveOf({ README: 'x' }));
      expect(r.status, JSON.stringify(r.body)).toBe(202);
      const events = await allEvents(sb, r.body.job_id);
      expect(events.find((e) => e.type === 'vm').msg).toMatch(/^bubblewrap sandbox: no network/);
      expect(events.at(-1)).toEqual({ type: 'complete', result: { status: 'ok' } });
    } finally {
      await sb.stop();
    }
  }, 60_000);

  it('a job interrupted by a restart ends failed/Interrupted, and its events replay after the restart', async () => {
    const dataDir = tempDir('ps-restart-');
    const gate = tempDir('ps-gate-');
    let s = await startServer({ dataDir, env: { PROOFSTREAM_RUNNER: 'process' } });
    const r = await postBuild(s, configOf([{ name: 'wait', run: `echo waiting; while [ ! -f '${gate}/go' ]; do sleep 0.05; done` }]), await archiveOf({ README: 'x' }));
    expect(r.status).toBe(202);
    const sse = await openSse(`${s.url}/build/${r.body.job_id}/events`, s.key);
    await sse.waitFor((m) => dataOf(m).some((e) => e.msg === '[wait] waiting'), 30_000, 'the step to run');
    const before = dataOf(sse.messages);
    await s.kill(); // no shutdown: the row stays `running`
    fs.writeFileSync(path.join(gate, 'go'), ''); // lets the orphaned step exit: no process left behind
    s = await startServer({ dataDir, key: s.key, env: { PROOFSTREAM_RUNNER: 'process' } });
    try {
      const after = await allEvents(s, r.body.job_id);
      expect(after.slice(0, before.length)).toEqual(before);
      expect(after.at(-1)).toEqual({ type: 'complete', result: { status: 'failed', error: 'the server restarted while the job ran', error_type: 'Interrupted' } });
      const res = await client(s.url, s.key)('GET', `/build/${r.body.job_id}/result`);
      expect(res.status).toBe(409);
    } finally {
      await s.stop();
    }
  }, 90_000);

  it('documents the routes in /openapi.json', async () => {
    const doc = await client(srv.url)('GET', '/openapi.json');
    for (const p of ['/build', '/build/{id}/events', '/build/{id}/result']) expect(Object.keys(doc.body.paths)).toContain(p);
  });
});

