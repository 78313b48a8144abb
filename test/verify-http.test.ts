// POST /v2/verify against a real server, the CLI against the same files, and statelessness: the route keeps
// answering after the server's database files are deleted under it.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, idemKey, runCli, startServer, tempDir, type RunningServer } from './helpers/server.js';
import { bundleFromServer, sealManifest, type Bundle } from './helpers/bundle.js';
import { sleep } from './helpers/wait.js';
import { asCaller } from './helpers/corpus.js';

let srv: RunningServer;
let call: ReturnType<typeof client>;
let anon: ReturnType<typeof client>;
let bundle: Bundle;
let keys: any;
const dir = tempDir('ps-verify-http-');

const codes = (r: any) => [...new Set<string>(r.problems.map((p: any) => p.code))].sort();

const cli = (args: string[]) => runCli(['verify', ...args], { PROOFSTREAM_DATA_DIR: path.join(dir, 'no-data') });

const write = (name: string, v: unknown) => {
  const f = path.join(dir, name);
  fs.writeFileSync(f, typeof v === 'string' ? v : JSON.stringify(v));
  return f;
};

beforeAll(async () => {
  srv = await startServer({ env: { PROOFSTREAM_WINDOW_MAX_EVENTS: '10', PROOFSTREAM_WINDOW_MAX_AGE_MS: '50' } });
  call = client(srv.url, srv.key);
  anon = client(srv.url);
  const sid = (await call('POST', '/v2/streams', { use_case: 'verify-http' })).body.stream_id;
  const events = Array.from({ length: 23 }, (_, i) => ({ source_ref: `r${i}`, event_type: 't', payload: { i, text: 'ünïcødé' } }));
  expect((await call('POST', `/v2/streams/${sid}/events/batch`, { events }, { 'idempotency-key': idemKey() })).status).toBe(201);
  for (let i = 0; ; i++) {
    const r = await call('GET', `/v2/streams/${sid}/checkpoints/latest`);
    if (r.status === 200 && r.body.tree_size === 23) break;
    if (i > 200) throw new Error('not sealed');
    await sleep(50);
  }
  bundle = await bundleFromServer(call, sid, 4, 15);
  keys = (await anon('GET', '/v2/keys')).body;
});
afterAll(async () => srv?.stop());

describe('POST /v2/verify', () => {
  it("verifies a bundle built from the server's data, trusting the server's own policy by default", async () => {
    const r = await anon('POST', '/v2/verify', { object: bundle });
    expect(r.status).toBe(200);
    expect(r.body.problems).toEqual([]);
    expect(r.body).toMatchObject({ ok: true, kind: 'bundle' });
    expect(r.body.checks).toContainEqual({ name: 'trust: policy parses', ok: true, status: 'passed' });
    // the default is exactly the published policy: passing it explicitly gives the same report
    const policy = (await anon('GET', '/v2/trust-policy')).text;
    expect(policy).toMatch(/^log proofstream\.localhost\/\* proofstream\.localhost\/\*\+[0-9a-f]{8}\+/m);
    expect((await anon('POST', '/v2/verify', { object: bundle, policy })).body).toEqual(r.body);
    // a policy that does not parse is refused with the envelope, not verified
    const bad = await anon('POST', '/v2/verify', { object: bundle, policy: 'log nonsense' });
    expect(bad.status).toBe(422);
    expect(bad.body.error.code).toBe('VALIDATION_ERROR');
  });

  it('answers 200 ok:false with problem codes for a tampered bundle', async () => {
    const t = structuredClone(bundle);
    t.events[3].payload = { i: 999 };
    const r = await anon('POST', '/v2/verify', { kind: 'bundle', object: t });
    expect(r.status).toBe(200);
    expect(r.body.ok).toBe(false);
    expect(codes(r.body)).toEqual(['MANIFEST_MISMATCH', 'PAYLOAD_MISMATCH']);
    expect(r.body.problems.find((p: any) => p.code === 'PAYLOAD_MISMATCH').path).toBe('/events/3/payload_commitment');
    // trusting someone else's key: nothing checks out
    const other = { kid: 'ps-ed25519-0011223344556677', alg: 'Ed25519', public_key: '1'.repeat(64) };
    const u = await anon('POST', '/v2/verify', { object: bundle, trusted_keys: [other] });
    expect(codes(u.body)).toEqual(['CHECKPOINT_UNTRUSTED', 'UNKNOWN_KEY']);
  });

  it('verifies an audit pack built by POST /v2/audit/packs', async () => {
    const p = await call('POST', '/v2/audit/packs', { stream_id: bundle.manifest.stream_id, from_seq_no: 2, to_seq_no: 21 });
    expect(p.status).toBe(201);
    const r = await anon('POST', '/v2/verify', { object: p.body });
    expect(r.body.problems).toEqual([]);
    expect(r.body.ok).toBe(true);
  });

  it('refuses IVC objects with 422 UNSUPPORTED_OBJECT_KIND, non-JSON with 400, bad requests with 422', async () => {
    const ivc = await anon('POST', '/v2/verify', { kind: 'ivc', object: { proof: 'x' } });
    expect(ivc.status).toBe(422);
    expect(ivc.body.error.code).toBe('UNSUPPORTED_OBJECT_KIND');
    expect(ivc.body.error.message).toMatch(/proof-of-evolution \(IVC\)/);
    const ivc2 = await anon('POST', '/v2/verify', { object: { kind: 'ivc' } });
    expect(ivc2.status).toBe(422);
    const bad = await anon('POST', '/v2/verify', '{"object": ', { 'content-type': 'application/json' });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'MALFORMED_JSON' });
    expect(typeof bad.body.error.request_id).toBe('string');
    expect((await anon('POST', '/v2/verify', { nothing: 1 })).status).toBe(422);
    expect((await anon('POST', '/v2/verify', { object: {}, trusted_keys: [{ kid: 'k', alg: 'Ed25519', public_key: 'XY' }] })).status).toBe(422);
    // unknown kinds and anchors are reports, not errors
    const anchor = await anon('POST', '/v2/verify', { kind: 'anchor', object: {} });
    expect(anchor.status).toBe(200);
    expect(codes(anchor.body)).toEqual(['UNSUPPORTED_KIND']);
  });
});

describe('proofstream verify (CLI)', () => {
  it('prints the very report the server returns for the same object and trust; exit 0 / 1', async () => {
    const bf = write('bundle.json', bundle);
    const kf = write('keys.json', keys);
    const cliOk = await cli([bf, '--trust', kf, '--json']);
    expect(cliOk.code).toBe(0);
    const http = await anon('POST', '/v2/verify', { object: bundle, trusted_keys: keys.keys.map((k: any) => ({ kid: k.kid, alg: k.alg, public_key: k.public_key })) });
    expect(asCaller(JSON.parse(cliOk.stdout), 'cli', 'http')).toEqual(http.body);
    // byte for byte, member order included, once the advice is the server's
    expect(JSON.stringify(asCaller(JSON.parse(cliOk.stdout), 'cli', 'http'))).toBe(JSON.stringify(http.body));
    // with the server's published policy, the CLI gives the server's default report
    const pf = write('policy.txt', (await anon('GET', '/v2/trust-policy')).text);
    const cliPolicy = await cli([bf, '--policy', pf, '--json']);
    expect(cliPolicy.code).toBe(0);
    expect(asCaller(JSON.parse(cliPolicy.stdout), 'cli', 'http')).toEqual((await anon('POST', '/v2/verify', { object: bundle })).body);

    const t = structuredClone(bundle);
    t.events[0].receipt.signature = '0'.repeat(128);
    sealManifest(t);
    const tf = write('tampered.json', t);
    const cliBad = await cli([tf, '--trust', kf, '--json']);
    expect(cliBad.code).toBe(1);
    const httpBad = await anon('POST', '/v2/verify', { object: t, trusted_keys: keys.keys.map((k: any) => ({ kid: k.kid, alg: k.alg, public_key: k.public_key })) });
    expect(asCaller(JSON.parse(cliBad.stdout), 'cli', 'http')).toEqual(httpBad.body);
    expect(codes(httpBad.body)).toEqual(['SIGNATURE_INVALID']);

    // a POST /v2/verify body as the file gives the same report too
    const req = write('request.json', { object: t, trusted_keys: keys.keys });
    expect(asCaller(JSON.parse((await cli([req, '--json'])).stdout), 'cli', 'http')).toEqual(httpBad.body);
  });

  it('without --trust uses the bundle keys and says so loudly; human output; exit 2 for unreadable input or bad usage', async () => {
    const bf = write('bundle2.json', bundle);
    const j = await cli([bf, '--json']);
    expect(j.code).toBe(0);
    expect(JSON.parse(j.stdout).checks).toContainEqual(expect.objectContaining({ name: 'trust: keys taken from the bundle itself', ok: true, status: 'skipped' }));
    expect(j.stderr).toMatch(/WARNING: no --trust given/);
    const human = await cli([bf]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/bundle — VALID/);
    expect(human.stdout).toMatch(/WARNING: no --trust given: the keys were taken from the bundle itself/);
    expect(human.stdout).toMatch(/– trust: keys taken from the bundle itself\n {6}skipped: no trusted keys were given \(--trust keys\.json or --policy policy\.txt\)/);

    expect((await cli([path.join(dir, 'missing.json')])).code).toBe(2);
    expect((await cli([write('garbage.json', '{"format":')])).code).toBe(2);
    expect((await cli([])).code).toBe(2);
    expect((await cli([bf, '--bogus'])).code).toBe(2);
    expect((await cli([bf, '--trust', write('badkeys.json', { nope: 1 })])).code).toBe(2);
    const ivc = await cli([write('ivc.json', { kind: 'ivc', object: {} }), '--json']);
    expect(ivc.code).toBe(2);
    expect(JSON.parse(ivc.stdout).error.code).toBe('UNSUPPORTED_OBJECT_KIND');
    const checkpoint = await cli([write('cp.json', { kind: 'checkpoint', object: { note: 'x' } })]);
    expect(checkpoint.code).toBe(1);
    expect(checkpoint.stdout).toMatch(/INVALID/);
    // offline: the CLI never opened (or created) a data directory
    expect(fs.existsSync(path.join(dir, 'no-data'))).toBe(false);
  });
});

describe('statelessness', () => {
  it('keeps verifying after the database files are deleted', async () => {
    for (const f of ['proofstream.db', 'proofstream.db-wal', 'proofstream.db-shm']) fs.rmSync(path.join(srv.dataDir, f), { force: true });
    expect(fs.existsSync(path.join(srv.dataDir, 'proofstream.db'))).toBe(false);
    const ok = await anon('POST', '/v2/verify', { object: bundle });
    expect(ok.status).toBe(200);
    expect(ok.body.ok).toBe(true);
    const t = structuredClone(bundle);
    t.chain.head_before = 'a'.repeat(64);
    sealManifest(t);
    const bad = await anon('POST', '/v2/verify', { object: t });
    expect(bad.status).toBe(200);
    expect(codes(bad.body)).toEqual(['CHAIN_BROKEN']);
  });
});
