// Signed collector batches (issue #15, POST /api/v1/collector/attestations) against a real server child process and
// its SQLite file, with collector keys registered by the real CLI on that database: a good batch and the events it
// appends, refusals that name the item and store nothing (bad signature among five, unknown and revoked collector,
// 101 items, a malformed item), replays, the same id with other bytes, Idempotency-Key, the admin routes, and an audit
// pack holding collector events that `proofstream verify` and POST /v2/verify accept, and refuse once a collector
// signature is altered (also one a ledger committed to itself).
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign as nodeSign, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { canonicalize } from '../src/protocol/jcs.js';
import { client, idemKey, runCli, startServer, tempDir, type RunningServer } from './helpers/server.js';
import { waitFor } from './helpers/wait.js';

type Call = ReturnType<typeof client>;

const ROUTE = '/api/v1/collector/attestations';
const FORMAT = 'proofstream.collector-attestation/v1';
const SHA = (c: string) => c.repeat(64);
/** tag("collector-attestation") written out from the spec (docs/protocol.md §12), not taken from src/protocol. */
const TAG = Buffer.concat([Buffer.from('proofstream/v1 collector-attestation', 'utf8'), Buffer.from([0])]);

let srv: RunningServer;
let call: Call;
let dir: string;
const env = () => ({ PROOFSTREAM_DATA_DIR: srv.dataDir });

interface Collector {
  keyId: string;
  priv: KeyObject;
  pubHex: string;
}
let c1: Collector; // --generate
let c2: Collector; // --public-key <PEM file>
let revoked: Collector; // --public-key <hex>, then revoked
let stranger: Collector; // never registered

const pubHexOf = (priv: KeyObject) => Buffer.from(createPublicKey(priv).export({ format: 'jwk' }).x!, 'base64url').toString('hex');

let n = 0;
/** A signed batch entry: the item as sent and the collector's signature over tag ‖ JCS(item). */
function entry(c: Collector, fields: Record<string, unknown> = {}, signWith: KeyObject = c.priv) {
  const attestation = {
    format: FORMAT,
    id: `item-${process.pid}-${n++}`,
    time: '2026-06-07T12:00:00Z',
    collectorKeyId: c.keyId,
    repositoryFullName: 'acme/collected',
    prNumber: 7,
    type: 'TEST_RESULTS',
    name: 'unit tests',
    passed: true,
    evidence: { total: 10, failed: 0 },
    ...fields,
  };
  const signature = nodeSign(null, Buffer.concat([TAG, Buffer.from(canonicalize(attestation), 'utf8')]), signWith).toString('base64');
  return { attestation, signature };
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

async function attestationCount(repo: string): Promise<number> {
  const r = await call('GET', `/api/v1/attestations?repositoryFullName=${encodeURIComponent(repo)}&limit=200`);
  expect(r.status, r.text).toBe(200);
  return r.body.items.length;
}

/** Everything a refused batch could have left behind: streams, the repository's events, its attestations. */
async function snapshot(streamId: string, repo: string) {
  return { streams: await streamCount(), head: await headOf(streamId), attestations: await attestationCount(repo) };
}

let streamId: string;
let first: any; // the answer to the first good batch
let firstBatch: ReturnType<typeof entry>[];

beforeAll(async () => {
  srv = await startServer({
    env: { PROOFSTREAM_CICD_RATE_LIMIT: '100000/min,burst=100000', PROOFSTREAM_WINDOW_MAX_EVENTS: '4', PROOFSTREAM_WINDOW_MAX_AGE_MS: '300' },
  });
  call = client(srv.url, srv.key);
  dir = tempDir('ps-collectors-');

  // Three ways to register a key with the CLI: --generate, a PEM file, hex.
  const gen = path.join(dir, 'c1.pem');
  const a = await runCli(['collectors', 'add', '--tenant', 'default', '--generate', gen, '--name', 'scanner', '--json'], env());
  expect(a.code, a.stderr).toBe(0);
  const added = JSON.parse(a.stdout);
  const c1priv = createPrivateKey(fs.readFileSync(gen, 'utf8'));
  c1 = { keyId: added.key_id, priv: c1priv, pubHex: pubHexOf(c1priv) };
  expect(added).toMatchObject({ key_id: c1.keyId, public_key: c1.pubHex, name: 'scanner', revoked_at: null, created: true });

  const k2 = generateKeyPairSync('ed25519');
  const pem = path.join(dir, 'c2.pub.pem');
  fs.writeFileSync(pem, k2.publicKey.export({ format: 'pem', type: 'spki' }));
  const b = await runCli(['collectors', 'add', '--tenant', 'default', '--public-key', pem], env());
  expect(b.code, b.stderr).toBe(0);
  c2 = { keyId: b.stdout.trim(), priv: k2.privateKey, pubHex: pubHexOf(k2.privateKey) };

  const k3 = generateKeyPairSync('ed25519');
  const r3 = await runCli(['collectors', 'add', '--tenant', 'default', '--public-key', pubHexOf(k3.privateKey)], env());
  expect(r3.code, r3.stderr).toBe(0);
  revoked = { keyId: r3.stdout.trim(), priv: k3.privateKey, pubHex: pubHexOf(k3.privateKey) };

  const k4 = generateKeyPairSync('ed25519');
  stranger = { keyId: 'col_' + 'ab'.repeat(16), priv: k4.privateKey, pubHex: pubHexOf(k4.privateKey) };

  firstBatch = [entry(c1), entry(c2, { prNumber: null, artifactSha256: SHA('a'), type: 'SECURITY_SCAN', name: 'scan' }), entry(c1, { passed: false })];
  first = await call('POST', ROUTE, { items: firstBatch });
  expect(first.status, first.text).toBe(201);
  streamId = first.body.items[0].attestation.stream_id;
}, 90_000);
afterAll(async () => {
  await srv?.stop();
});

describe('proofstream collectors (CLI on the database)', () => {
  it('add prints the key id derived from the key, writes a generated private key 0600, list and revoke', async () => {
    expect(c1.keyId).toMatch(/^col_[0-9a-f]{32}$/);
    expect(fs.statSync(path.join(dir, 'c1.pem')).mode & 0o777).toBe(0o600);
    // The same public key (here as base64 of the raw bytes) is the same key id; registering it again changes nothing.
    const again = await runCli(['collectors', 'add', '--tenant', 'default', '--public-key', Buffer.from(c2.pubHex, 'hex').toString('base64'), '--json'], env());
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ key_id: c2.keyId, created: false });

    const l = await runCli(['collectors', 'list', '--tenant', 'default', '--json'], env());
    expect(l.code, l.stderr).toBe(0);
    const keys = JSON.parse(l.stdout).collector_keys;
    expect(keys.map((k: any) => k.key_id).sort()).toEqual([c1.keyId, c2.keyId, revoked.keyId].sort());
    expect(keys.find((k: any) => k.key_id === c2.keyId).public_key).toBe(c2.pubHex);

    const r = await runCli(['collectors', 'revoke', revoked.keyId], env());
    expect(r.code, r.stderr).toBe(0);
    const after = JSON.parse((await runCli(['collectors', 'list', '--json'], env())).stdout).collector_keys;
    expect(after.find((k: any) => k.key_id === revoked.keyId).revoked_at).toMatch(/^\d{4}-/);
    expect(after.find((k: any) => k.key_id === c1.keyId).revoked_at).toBeNull();
  });

  it('refuses an unknown tenant, a private key, both or neither key option, an existing --generate file, an unknown key id', async () => {
    const pub = Buffer.from(c1.pubHex, 'hex').toString('base64');
    const noTenant = await runCli(['collectors', 'add', '--tenant', 'nope', '--public-key', pub], env());
    expect([noTenant.code, noTenant.stderr]).toEqual([2, expect.stringContaining('no tenant named "nope"')]);
    const privFile = path.join(dir, 'c1.pem');
    const priv = await runCli(['collectors', 'add', '--tenant', 'default', '--public-key', privFile], env());
    expect([priv.code, priv.stderr]).toEqual([2, expect.stringContaining('private key')]);
    expect((await runCli(['collectors', 'add', '--tenant', 'default'], env())).code).toBe(2);
    const exists = await runCli(['collectors', 'add', '--tenant', 'default', '--generate', privFile], env());
    expect([exists.code, exists.stderr]).toEqual([2, expect.stringContaining('exists already')]);
    const unknown = await runCli(['collectors', 'revoke', 'col_' + '0'.repeat(32)], env());
    expect(unknown.code).toBe(2);
    const listed = JSON.parse((await runCli(['collectors', 'list', '--json'], env())).stdout).collector_keys;
    expect(listed).toHaveLength(3);
  });
});

describe('POST /api/v1/collector/attestations', () => {
  it('a good batch: 201, one attestation per item on the repository stream, the events keep item, signature, key id and key', async () => {
    expect(first.body).toMatchObject({ accepted: 3, replayed: 0 });
    expect(first.body.items.map((i: any) => [i.index, i.id, i.collectorKeyId, i.replayed])).toEqual(
      firstBatch.map((e, i) => [i, e.attestation.id, e.attestation.collectorKeyId, false]),
    );
    const seqs = first.body.items.map((i: any) => i.attestation.seq_no);
    expect(seqs).toEqual([seqs[0], seqs[0] + 1, seqs[0] + 2]);
    const a1 = first.body.items[1].attestation;
    expect(a1).toMatchObject({ repositoryFullName: 'acme/collected', prNumber: null, artifactSha256: SHA('a'), type: 'SECURITY_SCAN', name: 'scan', passed: true, pipelineRunId: null });
    const got = await call('GET', `/api/v1/attestations/${a1.id}`);
    expect(got.status, got.text).toBe(200);
    expect(got.body).toMatchObject({ id: a1.id, type: 'SECURITY_SCAN', stream_id: streamId, seq_no: a1.seq_no });

    const evs = await call('GET', `/v2/streams/${streamId}/events?from_seq_no=${seqs[0]}&limit=3`);
    expect(evs.status, evs.text).toBe(200);
    evs.body.events.forEach((ev: any, i: number) => {
      const sent = firstBatch[i]!;
      const key = [c1, c2, c1][i]!;
      expect(ev.event_type).toBe('cicd.collector_attestation/v1');
      expect(ev.source_ref).toBe(first.body.items[i].attestation.id);
      expect(ev.occurred_at).toBe(sent.attestation.time);
      expect(ev.payload).toEqual({
        attestationId: first.body.items[i].attestation.id,
        collector: { keyId: key.keyId, publicKey: key.pubHex, signature: sent.signature },
        item: sent.attestation,
      });
    });
  });

  it('one bad signature among five: 422 naming its index, nothing stored', async () => {
    const before = await snapshot(streamId, 'acme/collected');
    const items = [entry(c1), entry(c2), entry(c1), entry(c1, {}, c2.priv), entry(c2)];
    const r = await call('POST', ROUTE, { items });
    expect(r.status, r.text).toBe(422);
    expect(r.body.error).toMatchObject({ code: 'COLLECTOR_SIGNATURE_INVALID', details: { index: 3, field: 'items[3].signature' } });
    expect(await snapshot(streamId, 'acme/collected')).toEqual(before);
    // The same five with the fourth signed right: all five go in.
    items[3] = entry(c1);
    const ok = await call('POST', ROUTE, { items });
    expect(ok.status, ok.text).toBe(201);
    expect(await headOf(streamId)).toBe(before.head + 5);
  });

  it('an unknown or a revoked collector: 422 naming the index, nothing stored (no stream for a new repository either)', async () => {
    const before = await snapshot(streamId, 'acme/collected');
    const unknown = await call('POST', ROUTE, { items: [entry(c1, { repositoryFullName: 'acme/never' }), entry(c2, { repositoryFullName: 'acme/never' }), entry(stranger, { repositoryFullName: 'acme/never' })] });
    expect(unknown.status, unknown.text).toBe(422);
    expect(unknown.body.error).toMatchObject({ code: 'COLLECTOR_UNKNOWN', details: { index: 2, field: 'items[2].attestation.collectorKeyId' } });
    const rev = await call('POST', ROUTE, { items: [entry(c1), entry(revoked)] });
    expect(rev.status, rev.text).toBe(422);
    expect(rev.body.error).toMatchObject({ code: 'COLLECTOR_REVOKED', details: { index: 1, field: 'items[1].attestation.collectorKeyId' } });
    expect(await snapshot(streamId, 'acme/collected')).toEqual(before);
    expect(await attestationCount('acme/never')).toBe(0);
  });

  it('101 items, no items, a malformed item, an item of another repository: 422 naming the index, nothing stored', async () => {
    const before = await snapshot(streamId, 'acme/collected');
    const many = Array.from({ length: 101 }, () => entry(c1));
    const big = await call('POST', ROUTE, { items: many });
    expect(big.status, big.text).toBe(422);
    expect(big.body.error).toMatchObject({ code: 'COLLECTOR_BATCH_INVALID', details: { index: 100, field: 'items' } });
    const hundred = many.slice(0, 100);

    const none = await call('POST', ROUTE, { items: [] });
    expect(none.status).toBe(422);
    expect(none.body.error).toMatchObject({ code: 'COLLECTOR_BATCH_INVALID', details: { field: 'items' } });

    const { name: _n, ...noName } = entry(c1).attestation;
    const malformed = [entry(c1), entry(c2), { attestation: noName, signature: entry(c1).signature }];
    const m = await call('POST', ROUTE, { items: malformed });
    expect(m.status, m.text).toBe(422);
    expect(m.body.error).toMatchObject({ code: 'COLLECTOR_ITEM_INVALID', details: { index: 2, field: 'items[2].attestation.name' } });

    const dup = entry(c1);
    const twice = await call('POST', ROUTE, { items: [dup, entry(c2), dup] });
    expect(twice.status, twice.text).toBe(422);
    expect(twice.body.error).toMatchObject({ code: 'COLLECTOR_ITEM_INVALID', details: { index: 2, field: 'items[2].attestation.id' } });

    const mixed = await call('POST', ROUTE, { items: [entry(c1), entry(c1, { repositoryFullName: 'acme/other' })] });
    expect(mixed.status, mixed.text).toBe(422);
    expect(mixed.body.error).toMatchObject({ code: 'COLLECTOR_BATCH_INVALID', details: { index: 1, field: 'items[1].attestation.repositoryFullName' } });
    expect(await snapshot(streamId, 'acme/collected')).toEqual(before);

    // The limit is 100, not less: a batch of exactly 100 goes in whole.
    const ok = await call('POST', ROUTE, { items: hundred });
    expect(ok.status, ok.text).toBe(201);
    expect(ok.body.accepted).toBe(100);
    expect(await headOf(streamId)).toBe(before.head + 100);
  });

  it('a replayed batch answers the original records and appends nothing; a batch mixing old and new appends the new', async () => {
    const head = await headOf(streamId);
    const again = await call('POST', ROUTE, { items: firstBatch });
    expect(again.status, again.text).toBe(200);
    expect(again.body).toMatchObject({ accepted: 0, replayed: 3 });
    again.body.items.forEach((it: any, i: number) => {
      expect(it.replayed).toBe(true);
      const orig = first.body.items[i].attestation;
      expect(it.attestation).toMatchObject({ id: orig.id, seq_no: orig.seq_no, stream_id: orig.stream_id });
      expect(it.attestation.receipt.signature ?? it.attestation.receipt.receipt.signature).toBe(orig.receipt.receipt.signature);
    });
    expect(await headOf(streamId)).toBe(head);

    const fresh = entry(c2);
    const mixed = await call('POST', ROUTE, { items: [firstBatch[0], fresh] });
    expect(mixed.status, mixed.text).toBe(201);
    expect(mixed.body).toMatchObject({ accepted: 1, replayed: 1 });
    expect(mixed.body.items.map((i: any) => i.replayed)).toEqual([true, false]);
    expect(mixed.body.items[0].attestation.id).toBe(first.body.items[0].attestation.id);
    expect(await headOf(streamId)).toBe(head + 1);
  });

  it('two identical batches at once: one appends, the other answers as a replay of it (the primary key is the backstop)', async () => {
    const head = await headOf(streamId);
    const body = { items: [entry(c1), entry(c2), entry(c1)] };
    const [a, b] = await Promise.all([call('POST', ROUTE, body), call('POST', ROUTE, body)]);
    expect([a.status, b.status].sort(), a.text + b.text).toEqual([200, 201]);
    const ids = (r: any) => r.body.items.map((i: any) => i.attestation.id);
    expect(ids(a)).toEqual(ids(b));
    expect(await headOf(streamId)).toBe(head + 3);
  });

  it('the same item id with other bytes is 409 naming the index and the original record; nothing stored', async () => {
    const before = await snapshot(streamId, 'acme/collected');
    const orig = firstBatch[0]!.attestation;
    const changed = entry(c1, { id: orig.id, passed: false });
    const r = await call('POST', ROUTE, { items: [entry(c2), changed] });
    expect(r.status, r.text).toBe(409);
    expect(r.body.error).toMatchObject({
      code: 'COLLECTOR_ITEM_CONFLICT',
      details: { index: 1, field: 'items[1].attestation.id', attestationId: first.body.items[0].attestation.id },
    });
    expect(await snapshot(streamId, 'acme/collected')).toEqual(before);
  });

  it('honours Idempotency-Key: the same body replays byte for byte, another body is 409', async () => {
    const key = idemKey();
    const body = { items: [entry(c1), entry(c2)] };
    const a = await call('POST', ROUTE, body, { 'idempotency-key': key });
    expect(a.status, a.text).toBe(201);
    const head = await headOf(streamId);
    const b = await call('POST', ROUTE, body, { 'idempotency-key': key });
    expect(b.status).toBe(201);
    expect(b.headers.get('idempotent-replayed')).toBe('true');
    expect(b.text).toBe(a.text);
    const c = await call('POST', ROUTE, { items: [entry(c1)] }, { 'idempotency-key': key });
    expect(c.status).toBe(409);
    expect(c.body.error.code).toBe('IDEMPOTENCY_CONFLICT');
    expect(await headOf(streamId)).toBe(head);
  });

  it('limits: a body over PROOFSTREAM_COLLECTOR_MAX_BATCH_BYTES (1 MiB) is 413, an item over the event limit (64 KiB) 422 naming it', async () => {
    const before = await snapshot(streamId, 'acme/collected');
    // Each item under the event limit, together over the batch body limit.
    const bulky = Array.from({ length: 20 }, () => entry(c1, { evidence: { log: 'x'.repeat(60_000) } }));
    const big = await call('POST', ROUTE, { items: bulky });
    expect(big.status, big.text.slice(0, 300)).toBe(413);
    expect(big.body.error).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', details: { limit_bytes: 1024 * 1024 } });
    const one = await call('POST', ROUTE, { items: [entry(c2), entry(c1, { evidence: { log: 'x'.repeat(70_000) } })] });
    expect(one.status, one.text.slice(0, 300)).toBe(422);
    expect(one.body.error).toMatchObject({ code: 'COLLECTOR_ITEM_INVALID', details: { index: 1, field: 'items[1].attestation', limit: 64 * 1024 } });
    expect(await snapshot(streamId, 'acme/collected')).toEqual(before);
    // The operator's setting (read in src/config.ts), with a floor so a typo cannot refuse every batch.
    expect(loadConfig({ PROOFSTREAM_COLLECTOR_MAX_BATCH_BYTES: '2097152' }).collectorMaxBatchBytes).toBe(2 * 1024 * 1024);
    expect(loadConfig({}).collectorMaxBatchBytes).toBe(1024 * 1024);
    expect(() => loadConfig({ PROOFSTREAM_COLLECTOR_MAX_BATCH_BYTES: '10' })).toThrow(/at least 1024/);
    // Under both limits, the same kind of batch goes in.
    const ok = await call('POST', ROUTE, { items: bulky.slice(0, 3) });
    expect(ok.status, ok.text.slice(0, 300)).toBe(201);
  });

  it('needs events:write, and is in /openapi.json', async () => {
    const readOnly = await runCli(['keys', 'create', '--tenant', 'default', '--system', 'ro', '--scopes', 'read', '--json'], env());
    const ro = client(srv.url, JSON.parse(readOnly.stdout).key);
    expect((await ro('POST', ROUTE, { items: [entry(c1)] })).status).toBe(403);
    expect((await client(srv.url)('POST', ROUTE, { items: [entry(c1)] })).status).toBe(401);
    const spec = (await call('GET', '/openapi.json')).body;
    expect(Object.keys(spec.paths[ROUTE])).toEqual(['post']);
    expect(spec.paths['/v2/admin/collector-keys']).toBeDefined();
  });
});

describe('admin routes /v2/admin/collector-keys', () => {
  it('list, add (201, then 200 for the same key), revoke; a bad key is 422 naming public_key; needs admin', async () => {
    const k = generateKeyPairSync('ed25519');
    const pem = k.publicKey.export({ format: 'pem', type: 'spki' }) as string;
    const add = await call('POST', '/v2/admin/collector-keys', { public_key: pem, name: 'ci-runner' });
    expect(add.status, add.text).toBe(201);
    const id = add.body.collector_key.key_id;
    expect(add.body.collector_key).toMatchObject({ public_key: pubHexOf(k.privateKey), name: 'ci-runner', revoked_at: null });
    expect((await call('POST', '/v2/admin/collector-keys', { public_key: pubHexOf(k.privateKey) })).status).toBe(200);
    const list = await call('GET', '/v2/admin/collector-keys');
    expect(list.body.collector_keys.map((x: any) => x.key_id)).toContain(id);
    const signed = await call('POST', ROUTE, { items: [entry({ keyId: id, priv: k.privateKey, pubHex: pubHexOf(k.privateKey) })] });
    expect(signed.status, signed.text).toBe(201);
    const del = await call('DELETE', `/v2/admin/collector-keys/${id}`);
    expect(del.status, del.text).toBe(200);
    expect(del.body.collector_key.revoked_at).toMatch(/^\d{4}-/);
    const refused = await call('POST', ROUTE, { items: [entry({ keyId: id, priv: k.privateKey, pubHex: '' })] });
    expect(refused.body.error?.code).toBe('COLLECTOR_REVOKED');
    expect((await call('DELETE', `/v2/admin/collector-keys/col_${'0'.repeat(32)}`)).status).toBe(404);
    const bad = await call('POST', '/v2/admin/collector-keys', { public_key: 'not a key' });
    expect(bad.status).toBe(422);
    expect(bad.body.error.details.field).toBe('public_key');
    const w = await runCli(['keys', 'create', '--tenant', 'default', '--system', 'w', '--json'], env());
    expect((await client(srv.url, JSON.parse(w.stdout).key)('GET', '/v2/admin/collector-keys')).status).toBe(403);
  });
});

describe('audit packs with collector events', () => {
  let packFile: string;
  let pack: any;
  let collectorIndex: number;
  let policy: string;

  beforeAll(async () => {
    const head = await headOf(streamId);
    await waitFor(async () => {
      const r = await call('GET', `/v2/streams/${streamId}/checkpoints/latest`);
      return r.status === 200 && r.body.tree_size >= head ? true : undefined;
    });
    const r = await call('POST', '/v2/audit/packs', { stream_id: streamId, from_seq_no: 1, to_seq_no: head });
    expect(r.status, r.text).toBe(201);
    pack = r.body;
    collectorIndex = pack.events.findIndex((e: any) => e.event_type === 'cicd.collector_attestation/v1');
    expect(collectorIndex).toBeGreaterThanOrEqual(0);
    packFile = path.join(dir, 'pack.json');
    fs.writeFileSync(packFile, JSON.stringify(pack));
    policy = (await call('GET', '/v2/trust-policy')).text;
  }, 60_000);

  const verifyCli = async (file: string, policyText?: string) => {
    const args = ['verify', file, '--json'];
    if (policyText !== undefined) {
      const pf = path.join(dir, `policy-${n++}.txt`);
      fs.writeFileSync(pf, policyText);
      args.push('--policy', pf);
    }
    const v = await runCli(args);
    return { code: v.code, report: JSON.parse(v.stdout), stderr: v.stderr };
  };
  const checkNamed = (report: any, prefix: string) => report.checks.find((c: any) => c.name.startsWith(prefix));

  it('verifies offline; without pins the collector keys are reported unpinned, not trusted; pinned by the policy they pass', async () => {
    const plain = await verifyCli(packFile, policy);
    expect(plain.code, JSON.stringify(plain.report.problems)).toBe(0);
    expect(checkNamed(plain.report, 'collectors: item signatures')).toMatchObject({ status: 'passed' });
    const pin = checkNamed(plain.report, 'collectors: signing keys pinned');
    expect(pin.status).toBe('skipped');
    expect(pin.reason).toContain(c1.keyId);
    expect(pin.reason).toContain('unpinned');

    const pins = [c1, c2].map((c) => `collector ${c.keyId} ${c.pubHex}`).join('\n');
    // The admin test's key signed one event of this pack too.
    const extra = pack.events
      .filter((e: any) => e.event_type === 'cicd.collector_attestation/v1')
      .map((e: any) => e.payload.collector)
      .filter((c: any) => c.keyId !== c1.keyId && c.keyId !== c2.keyId)
      .map((c: any) => `collector ${c.keyId} ${c.publicKey}`);
    const pinned = await verifyCli(packFile, `${policy}${pins}\n${[...new Set(extra)].join('\n')}\n`);
    expect(pinned.code, JSON.stringify(pinned.report.problems)).toBe(0);
    expect(checkNamed(pinned.report, 'collectors: signing keys pinned')).toMatchObject({ status: 'passed' });

    const onlyC2 = await verifyCli(packFile, `${policy}collector ${c2.keyId} ${c2.pubHex}\n`);
    expect(onlyC2.code).toBe(1);
    expect(onlyC2.report.problems.some((p: any) => p.code === 'COLLECTOR_KEY_UNPINNED' && p.message.includes(c1.keyId))).toBe(true);
  });

  it('fails once a byte of a collector signature is flipped (CLI and POST /v2/verify)', async () => {
    const t = structuredClone(pack);
    const sig = Buffer.from(t.events[collectorIndex].payload.collector.signature, 'base64');
    sig[0]! ^= 0x01;
    t.events[collectorIndex].payload.collector.signature = sig.toString('base64');
    const f = path.join(dir, 'pack-flipped.json');
    fs.writeFileSync(f, JSON.stringify(t));
    const v = await verifyCli(f, policy);
    expect(v.code).toBe(1);
    const at = `/events/${collectorIndex}/payload/collector/signature`;
    expect(v.report.problems).toContainEqual(expect.objectContaining({ code: 'COLLECTOR_SIGNATURE_INVALID', path: at }));
    const http = await client(srv.url)('POST', '/v2/verify', { object: t, policy });
    expect(http.status, http.text).toBe(200);
    expect(http.body.problems).toContainEqual(expect.objectContaining({ code: 'COLLECTOR_SIGNATURE_INVALID', path: at }));
  });

  it('a collector event the ledger itself committed with a forged signature fails on that check alone', async () => {
    // Appended through /v2 with a payload whose signature is another key's: every hash, chain and receipt is right.
    const sid = (await call('POST', '/v2/streams', { use_case: 'forged-collector' })).body.stream_id;
    const e = entry(c1, {}, c2.priv);
    const payload = { attestationId: 'att_forged', collector: { keyId: c1.keyId, publicKey: c1.pubHex, signature: e.signature }, item: e.attestation };
    const w = await call('POST', `/v2/streams/${sid}/events`, { source_ref: 'forged', event_type: 'cicd.collector_attestation/v1', payload }, { 'idempotency-key': idemKey() });
    expect(w.status, w.text).toBe(201);
    await waitFor(async () => {
      const r = await call('GET', `/v2/streams/${sid}/checkpoints/latest`);
      return r.status === 200 && r.body.tree_size >= 1 ? true : undefined;
    });
    const p = await call('POST', '/v2/audit/packs', { stream_id: sid, from_seq_no: 1, to_seq_no: 1 });
    expect(p.status, p.text).toBe(201);
    const f = path.join(dir, 'pack-forged.json');
    fs.writeFileSync(f, p.text);
    const v = await verifyCli(f, policy);
    expect(v.code).toBe(1);
    expect(v.report.problems.map((x: any) => [x.code, x.path])).toEqual([['COLLECTOR_SIGNATURE_INVALID', '/events/0/payload/collector/signature']]);
  });
});
