// The SDK (proofstream/client) against real servers in child processes on 127.0.0.1, through a counting,
// fault-injecting proxy (test/helpers/proxy.ts) where a test needs to see or break the traffic.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Monitor, Proofstream, ProofstreamError, ProofstreamVerificationError, type ForkAlarm, type RetryInfo, type TrustedKey } from 'proofstream/client';
import { FileCheckpointStore } from 'proofstream/client/node';
import { verify } from '../src/verify/index.js';
import { startProxy, type Proxy } from './helpers/proxy.js';
import { startServer, tempDir, type RunningServer } from './helpers/server.js';
import { waitFor } from './helpers/wait.js';
import { copyLedger } from './helpers/pg-mode.js';

const appendsTo = (streamId: string) => (s: { method: string; path: string }) => s.method === 'POST' && s.path === `/v2/streams/${streamId}/events`;

describe('SDK against a real server', () => {
  let srv: RunningServer;
  let proxy: Proxy;
  let keys: TrustedKey[];
  const retries: RetryInfo[] = [];
  let ps: Proofstream;

  beforeAll(async () => {
    srv = await startServer();
    proxy = await startProxy(srv.port);
    keys = Proofstream.trustedKeysFrom(await new Proofstream({ baseUrl: srv.url }).keys());
    ps = new Proofstream({
      baseUrl: proxy.url,
      apiKey: srv.key,
      trustedKeys: keys,
      retry: { baseDelayMs: 50, maxDelayMs: 500, maxRetries: 40 },
      onRetry: (i) => retries.push(i),
    });
  });
  afterAll(async () => {
    await proxy?.close();
    await srv?.stop();
  });

  it('an append whose answer is lost when the server is killed (-9) after commit is retried with the same Idempotency-Key: exactly one event', async () => {
    const stream = await ps.streams.create({ use_case: 'sdk-kill' });
    let committed!: () => void;
    const answered = new Promise<void>((r) => (committed = r));
    let held = false;
    let cut!: () => void;
    const dropped = new Promise<'drop'>((r) => (cut = () => r('drop')));
    proxy.onAnswer = async (req, status) => {
      if (!held && appendsTo(stream.stream_id)(req) && status === 201) {
        held = true;
        committed(); // the server committed and answered; the client never hears it
        return dropped; // the client waits until its connection is cut below
      }
      return 'pass';
    };
    retries.length = 0;
    const appending = ps.events.append(stream.stream_id, { source_ref: 'kill-9', event_type: 'sdk.test', payload: { once: true } });
    await answered;
    await srv.kill();
    // Cut the held connection: the SDK sees a network error, retries, and finds the server down for a while.
    cut();
    srv = await startServer({ dataDir: srv.dataDir, key: srv.key });
    proxy.target.port = srv.port;
    const receipt = await appending;
    proxy.onAnswer = null;

    const page = await ps.events.list(stream.stream_id);
    expect(page.events.map((e) => [e.seq_no, e.source_ref, e.payload])).toEqual([[1, 'kill-9', { once: true }]]);
    expect(receipt.seq_no).toBe(1);
    expect(page.events[0]!.event_hash).toBe(receipt.event_hash);
    const attempts = proxy.seen.filter(appendsTo(stream.stream_id));
    expect(attempts.length).toBeGreaterThanOrEqual(2);
    expect(new Set(attempts.map((a) => a.headers['idempotency-key'])).size).toBe(1);
    expect(retries.some((r) => r.error.code === 'NETWORK_ERROR')).toBe(true);
  });

  it('never retries a 400 or a 422, and the error carries the envelope (code, details, request_id)', async () => {
    const stream = await ps.streams.create({ use_case: 'sdk-4xx' });
    proxy.seen.length = 0;
    retries.length = 0;
    const e422 = await ps.events.append(stream.stream_id, { source_ref: 'x', event_type: '', payload: 1 }).catch((e) => e);
    expect(e422).toBeInstanceOf(ProofstreamError);
    expect(e422).toMatchObject({ status: 422, code: 'VALIDATION_ERROR' });
    expect(e422.request_id).toMatch(/^req_/);
    expect(e422.details).toMatchObject({ issues: expect.any(Array) });
    const e400 = await ps.events.list(stream.stream_id, { limit: 5000 }).catch((e) => e);
    expect(e400).toMatchObject({ status: 400, code: 'VALIDATION_ERROR' });
    const e404 = await ps.streams.get('str_doesnotexist').catch((e) => e);
    expect(e404).toMatchObject({ status: 404, code: 'RESOURCE_NOT_FOUND' });
    expect(e404.request_id).toMatch(/^req_/);
    expect(e404.requestId).toBe(e404.request_id);
    // One request each: nothing was retried.
    expect(proxy.seen.map((s) => [s.method, s.status])).toEqual([
      ['POST', 422],
      ['GET', 400],
      ['GET', 404],
    ]);
    expect(retries).toEqual([]);
    expect((await ps.events.list(stream.stream_id)).events).toEqual([]);
  });

  it('receipts verify locally against the pinned keys; a tampered receipt is refused, also straight off the wire', async () => {
    const stream = await ps.streams.create({ use_case: 'sdk-receipts' });
    const r = await ps.events.append(stream.stream_id, { source_ref: 'r1', event_type: 'sdk.test', payload: { a: 1 } });
    expect((await ps.receipts.verify(r)).ok).toBe(true);
    const stored = await ps.receipts.get(r.stream_event_id);
    expect((await ps.receipts.verify(stored)).ok).toBe(true);
    const [event] = (await ps.events.list(stream.stream_id)).events;
    expect((await ps.receipts.verify(event)).ok).toBe(true);

    const flip = (h: string) => (h[0] === '0' ? '1' : '0') + h.slice(1);
    const badHash = await ps.receipts.verify({ ...r, event_hash: flip(r.event_hash) });
    expect(badHash.ok).toBe(false);
    expect(badHash.problems.map((p) => p.code)).toContain('SIGNATURE_INVALID');
    const badPayload = await ps.receipts.verify({ ...event, payload: { a: 2 } });
    expect(badPayload.problems.map((p) => p.code)).toContain('PAYLOAD_MISMATCH');
    // Another ledger's key is not pinned: nothing it signs is accepted.
    const foreign = await ps.receipts.verify(r, { trustedKeys: [{ kid: keys[0]!.kid, alg: 'Ed25519', public_key: 'ab'.repeat(32) }] });
    expect(foreign.ok).toBe(false);
    await expect(ps.receipts.assertValid({ ...r, seq_no: r.seq_no + 1 })).rejects.toBeInstanceOf(ProofstreamVerificationError);

    // A receipt altered in transit: the append itself throws (the client verifies what it is given).
    proxy.onAnswer = (req, status, body) => {
      if (!appendsTo(stream.stream_id)(req) || status !== 201) return 'pass';
      const j = JSON.parse(body.toString());
      j.stream_head_hash = flip(j.stream_head_hash);
      return { body: JSON.stringify(j) };
    };
    try {
      const err = await ps.events.append(stream.stream_id, { source_ref: 'r2', event_type: 'sdk.test', payload: { a: 2 } }).catch((e) => e);
      expect(err).toBeInstanceOf(ProofstreamVerificationError);
      expect(err.code).toBe('VERIFICATION_FAILED');
      expect(err.report.problems.map((p: { code: string }) => p.code)).toContain('SIGNATURE_INVALID');
    } finally {
      proxy.onAnswer = null;
    }
  });

  it('packs: built once the evidence is there (409 EVIDENCE_PENDING waited out), downloaded byte for byte, verified locally', async () => {
    const stream = await ps.streams.create({ use_case: 'sdk-packs', window_policy: { max_age_ms: 1500 } });
    await ps.events.appendBatch(stream.stream_id, [1, 2, 3].map((i) => ({ source_ref: `p${i}`, event_type: 'sdk.test', payload: { i } })));
    proxy.seen.length = 0;
    const pack = await ps.packs.buildWhenReady({ stream_id: stream.stream_id, from_seq_no: 1, to_seq_no: 3 }, { deadlineMs: 30_000 });
    const builds = proxy.seen.filter((s) => s.path === '/v2/audit/packs');
    expect(builds.map((s) => s.status)).toContain(409);
    expect(builds.at(-1)!.status).toBe(201);
    expect(new Set(builds.map((s) => s.headers['idempotency-key'])).size).toBe(1);
    expect((await ps.packs.verify(pack)).ok).toBe(true);
    const text = await ps.packs.download(pack.manifest.pack_id);
    expect(JSON.parse(text)).toEqual(pack);
    expect((await ps.packs.verify(text)).ok).toBe(true);
    const remote = await ps.verifyRemote({ object: pack, trusted_keys: keys });
    expect(remote.ok).toBe(true);

    const cp = (await ps.checkpoints.latest(stream.stream_id))!;
    expect(await ps.checkpoints.bySize(stream.stream_id, cp.tree_size)).toMatchObject({ checkpoint_id: cp.checkpoint_id });
    expect((await ps.verifyLocal(cp, { kind: 'checkpoint' })).ok).toBe(true);
  });

  it('events by id and by seq_no; erasing a payload answers a verified erasure receipt, and the event reads as erased', async () => {
    const stream = await ps.streams.create({ use_case: 'sdk-erase' });
    const r = await ps.events.append(stream.stream_id, { source_ref: 'pii', event_type: 'sdk.test', payload: { name: 'Ada' } });
    const byId = await ps.events.get(r.stream_event_id);
    expect(byId).toEqual(await ps.events.atSeqNo(stream.stream_id, 1));
    expect(byId.payload).toEqual({ name: 'Ada' });
    expect(await ps.events.atSeqNo(stream.stream_id, 2)).toBeNull();
    const erased = await ps.events.erase(r.stream_event_id, 'data subject request #1');
    expect(erased.erased_event_id).toBe(r.stream_event_id);
    expect(erased.erasure.seq_no).toBe(2);
    expect((await ps.receipts.verify(erased.erasure)).ok).toBe(true);
    const after = await ps.events.get(r.stream_event_id);
    expect(after.payload).toBeNull();
    // The original receipt still verifies: the erased payload stays bound by its commitment.
    expect((await ps.receipts.verify(r)).ok).toBe(true);
  });

  it('v1: log an event, fetch its proof, verify it locally and on the server', async () => {
    const v1r = await ps.v1.events.log({ source_ref: 'case-1', type: 'ai.decision', payload: { decision: 'ok' } });
    expect(v1r.id).toMatch(/^evt_/);
    const proof = await waitFor(async () => {
      const p = await ps.v1.proofs.get(v1r.id);
      return p.status === 'pending' ? undefined : p;
    });
    expect((await ps.v1.proofs.verify(proof)).ok).toBe(true);
    expect((await ps.v1.verifyRemote(proof)).ok).toBe(true);
  });
});

describe('SDK retries on 429 honour Retry-After', () => {
  let srv: RunningServer;
  afterAll(() => srv?.stop());

  it('a key over its rate limit is retried after Retry-After and succeeds; the append happens once', async () => {
    srv = await startServer({ env: { PROOFSTREAM_RATE_LIMIT_RPS: '1', PROOFSTREAM_RATE_LIMIT_BURST: '1' } });
    const proxy = await startProxy(srv.port);
    const retries: RetryInfo[] = [];
    const ps = new Proofstream({ baseUrl: proxy.url, apiKey: srv.key, retry: { baseDelayMs: 10, maxDelayMs: 20 }, onRetry: (i) => retries.push(i) });
    try {
      const stream = await ps.streams.create({ use_case: 'sdk-429' });
      const r = await ps.events.append(stream.stream_id, { source_ref: 'rl', event_type: 'sdk.test', payload: 1 });
      expect(r.seq_no).toBe(1);
      const limited = retries.filter((x) => x.error.status === 429);
      expect(limited.length).toBeGreaterThanOrEqual(1);
      for (const x of limited) {
        expect(x.error.retryAfterMs).toBeGreaterThanOrEqual(1000);
        // The backoff alone would be ≤ 20 ms here: the wait chosen is the server's Retry-After.
        expect(x.delayMs).toBeGreaterThanOrEqual(x.error.retryAfterMs!);
      }
      const appends = proxy.seen.filter(appendsTo(stream.stream_id));
      expect(appends.map((s) => s.status)).toContain(429);
      expect(appends.at(-1)!.status).toBe(201);
      expect(new Set(appends.map((s) => s.headers['idempotency-key'])).size).toBe(1);
      await waitFor(async () => ((await ps.streams.get(stream.stream_id)).head_seq_no === 1 ? true : undefined));
    } finally {
      await proxy.close();
    }
  });
});

describe('Monitor', () => {
  const servers: RunningServer[] = [];
  afterAll(async () => {
    for (const s of servers) await s.stop();
  });

  it('keeps the last verified checkpoint, accepts consistent growth, and raises a fork alarm with re-verifiable evidence', async () => {
    // Ledger A, then a copy of its data directory (same signing key, same origin, same stream) as ledger B: after
    // both append different events they are two histories under one key — a forking log.
    const a0 = await startServer();
    servers.push(a0);
    const keys = Proofstream.trustedKeysFrom(await new Proofstream({ baseUrl: a0.url }).keys());
    const psA0 = new Proofstream({ baseUrl: a0.url, apiKey: a0.key, trustedKeys: keys });
    const stream = await psA0.streams.create({ use_case: 'sdk-fork' });
    const sid = stream.stream_id;
    await psA0.events.appendBatch(sid, [1, 2].map((i) => ({ source_ref: `e${i}`, event_type: 't', payload: { i } })));
    const sealedAt = (ps: Proofstream, size: number) =>
      waitFor(async () => {
        const cp = await ps.checkpoints.latest(sid);
        return cp && cp.tree_size === size ? cp : undefined;
      });
    await sealedAt(psA0, 2);
    await a0.stop();
    // the data directory and, on PostgreSQL, its database (a0 is stopped, as copying a database needs)
    const bDir = copyLedger(a0.dataDir, path.join(tempDir(), 'b'));
    const a = await startServer({ dataDir: a0.dataDir, key: a0.key });
    const b = await startServer({ dataDir: bDir, key: a0.key });
    servers.push(a, b);
    const psA = new Proofstream({ baseUrl: a.url, apiKey: a.key, trustedKeys: keys });
    const psB = new Proofstream({ baseUrl: b.url, apiKey: b.key, trustedKeys: keys });

    const stateFile = path.join(tempDir(), 'monitor.json');
    const monA = new Monitor(psA, { store: new FileCheckpointStore(stateFile) });
    expect(await monA.check(sid)).toMatchObject({ status: 'first', checkpoint: { tree_size: 2 } });
    await psA.events.append(sid, { source_ref: 'a3', event_type: 't', payload: 'A' });
    await psB.events.append(sid, { source_ref: 'b3', event_type: 't', payload: 'B' });
    const cpA3 = await sealedAt(psA, 3);
    const cpB3 = await sealedAt(psB, 3);
    expect(cpA3.root_hash).not.toBe(cpB3.root_hash);
    expect(await monA.check(sid)).toMatchObject({ status: 'advanced', from_tree_size: 2, checkpoint: { tree_size: 3, root_hash: cpA3.root_hash } });
    expect(await monA.check(sid)).toMatchObject({ status: 'unchanged' });

    // A new monitor process: it reads A's size-3 checkpoint from the file, then is shown B's.
    const monB = new Monitor(psB, { store: new FileCheckpointStore(stateFile) });
    const alarms: ForkAlarm[] = [];
    monB.on('fork', (x) => alarms.push(x));
    const same = await monB.check(sid);
    expect(same.status).toBe('fork');
    expect(alarms).toHaveLength(1);
    const ev = alarms[0]!.evidence;
    expect(ev).toMatchObject({ kind: 'fork_evidence', stream_id: sid, result: 'fork' });
    expect((ev.conflicting_checkpoints as Array<{ root_hash: string }>).map((c) => c.root_hash).sort()).toEqual([cpA3.root_hash, cpB3.root_hash].sort());
    const again = await verify({ object: ev, trusted_keys: keys });
    expect(again.problems.map((p) => p.code)).toContain('FORK_DETECTED');
    // The kept checkpoint is still A's: a fork is never accepted into the store.
    expect(JSON.parse(fs.readFileSync(stateFile, 'utf8')).streams[sid].root_hash).toBe(cpA3.root_hash);

    // B grows: its consistency proof from its own size 3 cannot lead from A's root — a fork across sizes.
    await psB.events.append(sid, { source_ref: 'b4', event_type: 't', payload: 'B4' });
    await sealedAt(psB, 4);
    const grown = await monB.check(sid);
    expect(grown.status).toBe('fork');
    expect(alarms).toHaveLength(2);
    expect(alarms[1]!.evidence.consistency_proof).toEqual(expect.any(Array));
    expect((await verify({ object: alarms[1]!.evidence, trusted_keys: keys })).problems.map((p) => p.code)).toContain('FORK_DETECTED');

    // A checkpoint signed by a key that is not pinned is refused, not kept.
    const stranger = new Monitor(psA, { trust: { trustedKeys: [{ kid: keys[0]!.kid, alg: 'Ed25519', public_key: 'cd'.repeat(32) }] } });
    await expect(stranger.check(sid)).rejects.toBeInstanceOf(ProofstreamVerificationError);
    expect(await stranger.store.get(sid)).toBeNull();
  });
});
