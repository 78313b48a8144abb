// The live feed over SSE (issue #14), against real servers on 127.0.0.1: replay then live with verifiable receipts,
// resume by Last-Event-ID, across a restart, checkpoint messages, heartbeats, overflow of a consumer that stops
// reading, the connection limits, and a graceful shutdown that does not wait for open feeds.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { loadOrCreateSigner } from '../src/ledger/signer.js';
import { encodeVerifierKey } from '../src/protocol/note.js';
import { verify, type TrustedKey } from '../src/verify/index.js';
import { client, idemKey, runCli, startServer, tempDir, type RunningServer } from './helpers/server.js';
import { eventData, openSse, type SseClient } from './helpers/sse.js';
import { startTsa, type RunningTsa } from './helpers/tsa.js';
import { waitFor } from './helpers/wait.js';
import { startWitness, type RunningWitnessProcess } from './helpers/witness.js';

type Call = ReturnType<typeof client>;

async function newStream(call: Call): Promise<string> {
  const r = await call('POST', '/v2/streams', { use_case: 'live-feed' });
  expect(r.status).toBe(201);
  return r.body.stream_id;
}

/** Appends `n` events in one batch; returns the receipts. */
async function append(call: Call, streamId: string, n: number, payload: (i: number) => unknown = (i) => ({ i })): Promise<any[]> {
  const events = Array.from({ length: n }, (_, i) => ({ source_ref: `ref-${i}`, event_type: 'test.live', payload: payload(i) }));
  const r = await call('POST', `/v2/streams/${streamId}/events/batch`, { events }, { 'idempotency-key': idemKey() });
  expect(r.status, r.text).toBe(201);
  return r.body.receipts;
}

const live = (srv: RunningServer, streamId: string, query = '', headers: Record<string, string> = {}, key = srv.key) =>
  openSse(`${srv.url}/v2/streams/${streamId}/events/live${query}`, key, headers);

/** Exactly 1..n (or from..to), in order: no gap, no duplicate. */
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

async function trustedKeys(call: Call): Promise<TrustedKey[]> {
  const r = await call('GET', '/v2/keys');
  return r.body.keys.map((k: any) => ({ kid: k.kid, alg: 'Ed25519', public_key: k.public_key }));
}

async function metric(srv: RunningServer, name: string): Promise<number> {
  const m = /metrics served at (http:\/\/[^\s"]+)/.exec(srv.output());
  if (!m) throw new Error('no metrics listener in the output');
  const text = await (await fetch(m[1]!)).text();
  const line = text.split('\n').find((l) => l.startsWith(name + ' '));
  return line ? Number(line.split(' ')[1]) : NaN;
}

describe('live feed: replay, live, receipts, checkpoints, heartbeats', () => {
  let srv: RunningServer;
  let call: Call;
  beforeAll(async () => {
    srv = await startServer({ env: { PROOFSTREAM_SSE_HEARTBEAT_MS: '200', PROOFSTREAM_WINDOW_MAX_AGE_MS: '150' } });
    call = client(srv.url, srv.key);
  });
  afterAll(() => srv?.stop());

  it('replays from from_seq_no, then delivers new events as they commit, each with a receipt that verifies', async () => {
    const sid = await newStream(call);
    const first = await append(call, sid, 5);
    const feed = await live(srv, sid, '?from_seq_no=2');
    try {
      expect(feed.status).toBe(200);
      expect(feed.headers['content-type']).toMatch(/^text\/event-stream/);
      await feed.waitFor(() => feed.ids().length >= 4, 30_000, 'the replay of 2..5');
      // The retry hint comes first, before any event.
      expect(feed.messages[0]!.retry).toBeGreaterThan(0);
      const later = await append(call, sid, 3);
      await feed.waitFor(() => feed.ids().length >= 7, 30_000, 'the live events 6..8');
      expect(feed.ids()).toEqual(range(2, 8));

      const got = eventData(feed);
      const listed = (await call('GET', `/v2/streams/${sid}/events?from_seq_no=2&limit=100`)).body.events;
      const receipts = [...first, ...later].slice(1);
      const keys = await trustedKeys(call);
      for (let i = 0; i < got.length; i++) {
        // The event is the object the events route serves; the receipt is what the append answered.
        expect(got[i].event).toEqual(listed[i]);
        expect(got[i].receipt).toEqual(receipts[i]);
        const report = await verify({ kind: 'receipt', object: got[i].event, trusted_keys: keys });
        expect(report.problems).toEqual([]);
        expect(report.ok).toBe(true);
        const bare = await verify({ kind: 'receipt', object: got[i].receipt, trusted_keys: keys });
        expect(bare.ok).toBe(true);
      }
      // Read from 1, the events chain as one stream for the verifier.
      const all = await live(srv, sid, '?from_seq_no=1');
      await all.waitFor(() => all.ids().length >= 8);
      all.close();
      const stream = await verify({ kind: 'stream', object: { stream_id: sid, events: eventData(all).map((d) => d.event) }, trusted_keys: keys });
      expect(stream.problems).toEqual([]);
    } finally {
      feed.close();
    }
  });

  it('without from_seq_no or Last-Event-ID it starts after the head: only new events', async () => {
    const sid = await newStream(call);
    await append(call, sid, 3);
    const feed = await live(srv, sid);
    try {
      await feed.waitFor((m) => m.length >= 1); // the retry line: the feed is subscribed
      await append(call, sid, 2);
      await feed.waitFor(() => feed.ids().length >= 2);
      expect(feed.ids()).toEqual([4, 5]);
    } finally {
      feed.close();
    }
  });

  it('a checkpoint message (no id) follows the events it covers once the window is sealed; heartbeats are comments', async () => {
    const sid = await newStream(call);
    const feed = await live(srv, sid, '?from_seq_no=1');
    try {
      await append(call, sid, 4);
      await feed.waitFor((m) => m.some((x) => x.event === 'checkpoint'), 30_000, 'a checkpoint message');
      const i = feed.messages.findIndex((x) => x.event === 'checkpoint');
      const msg = feed.messages[i]!;
      expect(msg.id).toBeUndefined();
      const data = JSON.parse(msg.data);
      expect(data.status).toBe('signed');
      expect(data.stream_id).toBe(sid);
      expect(data.tree_size).toBe(4);
      expect(data.checkpoint.tree_size).toBe(4);
      // The same object the checkpoint routes serve (no witnesses or TSA here, so it does not change later).
      const latest = await call('GET', `/v2/streams/${sid}/checkpoints/latest`);
      expect(data.checkpoint).toEqual(latest.body);
      // It comes after every event it covers.
      const before = feed.messages.slice(0, i).filter((x) => x.event === 'event').map((x) => Number(x.id));
      expect(before).toEqual(range(1, 4));
      const ck = await verify({ kind: 'checkpoint', object: data.checkpoint, trusted_keys: await trustedKeys(call) });
      expect(ck.problems).toEqual([]);
      await feed.waitFor((m) => m.some((x) => x.comments.includes('ping')), 30_000, 'a heartbeat');
    } finally {
      feed.close();
    }
  });

  it('a revoked key loses its open feed within a heartbeat: event: error AUTHENTICATION_FAILED, then the end', async () => {
    const made = await runCli(['keys', 'create', '--tenant', 'default', '--system', 'default', '--json'], { PROOFSTREAM_DATA_DIR: srv.dataDir });
    expect(made.code, made.stderr).toBe(0);
    const { key, key_id } = JSON.parse(made.stdout);
    const sid = await newStream(call);
    const feed = await live(srv, sid, '', {}, key);
    try {
      expect(feed.status).toBe(200);
      await append(call, sid, 2);
      await feed.waitFor(() => feed.ids().length === 2, 30_000, 'two live events');
      // Revoked by another process (the CLI), as an operator would.
      expect((await runCli(['keys', 'revoke', key_id], { PROOFSTREAM_DATA_DIR: srv.dataDir })).code).toBe(0);
      await feed.ended;
      const last = feed.messages.filter((m) => m.event !== 'message').at(-1)!;
      expect(last.event).toBe('error');
      expect(JSON.parse(last.data)).toMatchObject({ error: { code: 'AUTHENTICATION_FAILED' }, resume_from_seq_no: 3 });
    } finally {
      feed.close();
    }
  });

  it('bad input is refused with the envelope before any stream starts', async () => {
    const sid = await newStream(call);
    const badId = await live(srv, sid, '', { 'last-event-id': 'abc' });
    expect(badId.status).toBe(400);
    expect(badId.error.error.code).toBe('VALIDATION_ERROR');
    const badFrom = await live(srv, sid, '?from_seq_no=0');
    expect(badFrom.status).toBe(400);
    const missing = await live(srv, 'str_doesnotexist');
    expect(missing.status).toBe(404);
    expect(missing.error.error.code).toBe('RESOURCE_NOT_FOUND');
    const noAuth = await live(srv, sid, '', {}, 'ps_live_wrong');
    expect(noAuth.status).toBe(401);
    expect(noAuth.error.error.request_id).toMatch(/^req_/);
  });

  it('is in /openapi.json as a text/event-stream route with its query and header', async () => {
    const doc = (await call('GET', '/openapi.json')).body;
    const op = doc.paths['/v2/streams/{streamId}/events/live'].get;
    expect(Object.keys(op.responses['200'].content)).toEqual(['text/event-stream']);
    expect(op.parameters.map((p: any) => `${p.in}:${p.name}`).sort()).toEqual(['header:last-event-id', 'path:streamId', 'query:from_seq_no']);
    expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['429', '503']));
  });

  it('reconnecting with Last-Event-ID resumes with no gap and no duplicate, even while events keep committing', async () => {
    const sid = await newStream(call);
    await append(call, sid, 50);
    const a = await live(srv, sid, '?from_seq_no=1');
    await a.waitFor(() => a.ids().length >= 50);
    a.close();
    await a.ended;
    const seen = a.ids();
    // Appends go on in the background while the follower reconnects and replays.
    let stop = false;
    const writer = (async () => {
      let n = 0;
      while (!stop && n < 60) {
        await append(call, sid, 10);
        n++;
      }
    })();
    await append(call, sid, 200); // a backlog to replay
    const b = await live(srv, sid, '', { 'last-event-id': String(seen[seen.length - 1]) });
    try {
      await waitFor(async () => (b.ids().length >= 200 ? true : undefined), 30_000);
      stop = true;
      await writer;
      const head = (await call('GET', `/v2/streams/${sid}`)).body.head_seq_no;
      await b.waitFor(() => b.ids().length >= head - 50, 30_000, `every event up to ${head}`);
      expect([...seen, ...b.ids()]).toEqual(range(1, head));
    } finally {
      b.close();
    }
  });
});

describe('live feed: settings', () => {
  it('defaults, environment variables, and refusals of values that are not non-negative integers', () => {
    const d = loadConfig({});
    expect([d.sseHeartbeatMs, d.sseMaxBufferBytes, d.sseMaxConnections, d.sseMaxConnectionsPerKey, d.sseRetryMs]).toEqual([15_000, 1024 * 1024, 1000, 20, 3000]);
    const c = loadConfig({
      PROOFSTREAM_SSE_HEARTBEAT_MS: '500',
      PROOFSTREAM_SSE_MAX_BUFFER_BYTES: '65536',
      PROOFSTREAM_SSE_MAX_CONNECTIONS: '0',
      PROOFSTREAM_SSE_MAX_CONNECTIONS_PER_KEY: '3',
      PROOFSTREAM_SSE_RETRY_MS: '100',
    });
    expect([c.sseHeartbeatMs, c.sseMaxBufferBytes, c.sseMaxConnections, c.sseMaxConnectionsPerKey, c.sseRetryMs]).toEqual([500, 65536, 0, 3, 100]);
    // A buffer too small for a message or a heartbeat of 0 would make every consumer "behind": both are floored.
    expect(loadConfig({ PROOFSTREAM_SSE_MAX_BUFFER_BYTES: '1', PROOFSTREAM_SSE_HEARTBEAT_MS: '0' })).toMatchObject({ sseMaxBufferBytes: 4096, sseHeartbeatMs: 10 });
    expect(() => loadConfig({ PROOFSTREAM_SSE_MAX_CONNECTIONS: '-1' })).toThrow(/PROOFSTREAM_SSE_MAX_CONNECTIONS/);
    expect(() => loadConfig({ PROOFSTREAM_SSE_HEARTBEAT_MS: '1s' })).toThrow(/PROOFSTREAM_SSE_HEARTBEAT_MS/);
  });
});

describe('live feed: limits', () => {
  let srv: RunningServer;
  let call: Call;
  beforeAll(async () => {
    srv = await startServer({ env: { PROOFSTREAM_SSE_MAX_CONNECTIONS: '3', PROOFSTREAM_SSE_MAX_CONNECTIONS_PER_KEY: '2' } });
    call = client(srv.url, srv.key);
  });
  afterAll(() => srv?.stop());

  it('per key → 429 LIVE_FEED_LIMIT, per server → 503 LIVE_FEED_BUSY, with Retry-After; a closed feed frees its place', async () => {
    const sid = await newStream(call);
    const other = await call('POST', '/v2/admin/keys', { system: 'default', tenant_wide: true });
    expect(other.status, other.text).toBe(201);
    const key2: string = other.body.key;
    const open: SseClient[] = [];
    try {
      open.push(await live(srv, sid), await live(srv, sid));
      expect(open.map((f) => f.status)).toEqual([200, 200]);
      const third = await live(srv, sid);
      expect(third.status).toBe(429);
      expect(third.error.error.code).toBe('LIVE_FEED_LIMIT');
      expect(third.headers['retry-after']).toBeDefined();
      open.push(await live(srv, sid, '', {}, key2));
      expect(open[2]!.status).toBe(200);
      const fourth = await live(srv, sid, '', {}, key2);
      expect(fourth.status).toBe(503);
      expect(fourth.error.error.code).toBe('LIVE_FEED_BUSY');
      expect(fourth.error.error.details.limit).toBe(3);
      expect(fourth.headers['retry-after']).toBeDefined();
      // The client leaves: its place is released (poll: the server sees the close asynchronously).
      open.shift()!.close();
      const again = await waitFor(async () => {
        const f = await live(srv, sid);
        return f.status === 200 ? f : (f.close(), undefined);
      });
      open.push(again);
    } finally {
      for (const f of open) f.close();
    }
  });
});

describe('live feed: a consumer that stops reading', () => {
  let srv: RunningServer;
  let call: Call;
  const LIMIT = 64 * 1024;
  beforeAll(async () => {
    srv = await startServer({
      env: { PROOFSTREAM_SSE_MAX_BUFFER_BYTES: String(LIMIT), PROOFSTREAM_METRICS_PORT: '0', LOG_LEVEL: 'info', PROOFSTREAM_SSE_HEARTBEAT_MS: '60000' },
    });
    call = client(srv.url, srv.key);
    await waitFor(async () => (/metrics served at/.test(srv.output()) ? true : undefined));
  });
  afterAll(() => srv?.stop());

  it('is closed with event: overflow {resume_from_seq_no}; the server never queued more than the buffer; it resumes from there', async () => {
    const sid = await newStream(call);
    const feed = await live(srv, sid, '?from_seq_no=1');
    await feed.waitFor((m) => m.length >= 1); // subscribed (the retry line arrived)
    feed.pause();
    const blob = 'x'.repeat(8 * 1024);
    // Append until the server reports the overflow (the kernel's socket buffers take a few MB first).
    await waitFor(async () => {
      await append(call, sid, 200, (i) => ({ i, blob }));
      return (await metric(srv, 'proofstream_sse_overflows_total')) >= 1 ? true : undefined;
    }, 120_000);
    expect(await metric(srv, 'proofstream_sse_peak_queued_bytes')).toBeLessThanOrEqual(LIMIT);
    feed.resume();
    await feed.ended;
    const last = feed.messages[feed.messages.length - 1]!;
    expect(last.event).toBe('overflow');
    const ids = feed.ids();
    expect(ids).toEqual(range(1, ids.length));
    const { resume_from_seq_no } = JSON.parse(last.data);
    expect(resume_from_seq_no).toBe(ids.length + 1);
    const head = (await call('GET', `/v2/streams/${sid}`)).body.head_seq_no;
    expect(resume_from_seq_no).toBeLessThan(head);
    // Reconnect where it said: the rest, no gap, no duplicate.
    const again = await live(srv, sid, '', { 'last-event-id': String(resume_from_seq_no - 1) });
    try {
      await again.waitFor(() => again.ids().length >= head - ids.length, 60_000, `events up to ${head}`);
      expect([...ids, ...again.ids()]).toEqual(range(1, head));
    } finally {
      again.close();
    }
    expect(await metric(srv, 'proofstream_sse_connections')).toBeLessThanOrEqual(1);
  });
});

describe('live feed: a consumer that stops reading during its replay', () => {
  let srv: RunningServer;
  let call: Call;
  beforeAll(async () => {
    srv = await startServer({
      env: { PROOFSTREAM_SSE_MAX_BUFFER_BYTES: String(64 * 1024), PROOFSTREAM_SSE_HEARTBEAT_MS: '250', PROOFSTREAM_METRICS_PORT: '0', LOG_LEVEL: 'info' },
    });
    call = client(srv.url, srv.key);
    await waitFor(async () => (/metrics served at/.test(srv.output()) ? true : undefined));
  });
  afterAll(() => srv?.stop());

  it('is paced while it reads, and closed with overflow once its full buffer has not moved for a heartbeat interval', async () => {
    const sid = await newStream(call);
    const blob = 'y'.repeat(8 * 1024);
    // A backlog larger than the kernel's socket buffers, replayed to a consumer that never reads.
    for (let i = 0; i < 12; i++) await append(call, sid, 200, (k) => ({ k, blob }));
    const feed = await live(srv, sid, '?from_seq_no=1');
    feed.pause();
    await waitFor(async () => ((await metric(srv, 'proofstream_sse_overflows_total')) >= 1 ? true : undefined), 60_000);
    expect(await metric(srv, 'proofstream_sse_peak_queued_bytes')).toBeLessThanOrEqual(64 * 1024);
    feed.resume();
    await feed.ended;
    const last = feed.messages[feed.messages.length - 1]!;
    expect(last.event).toBe('overflow');
    const ids = feed.ids();
    expect(ids.length).toBeGreaterThan(0);
    expect(ids).toEqual(range(1, ids.length));
    expect(JSON.parse(last.data)).toEqual({ resume_from_seq_no: ids.length + 1 });
    expect(ids.length).toBeLessThan(2400);
  });
});

describe('live feed: shutdown and restart', () => {
  it('SIGTERM with open feeds exits promptly (each gets a last retry:), and a follower resumes on the restarted server with no gap and no duplicate', async () => {
    const dataDir = tempDir('ps-live-restart-');
    // A long grace period: a shutdown that waited for the open feeds would hang far past the test's deadline.
    const env = { PROOFSTREAM_SHUTDOWN_GRACE_MS: '600000' };
    const a = await startServer({ dataDir, env });
    const key = a.key;
    const callA = client(a.url, key);
    const sid = await newStream(callA);
    await append(callA, sid, 20);
    const f1 = await live(a, sid, '?from_seq_no=1');
    const idle = await live(a, sid); // a second feed, caught up and waiting
    await f1.waitFor(() => f1.ids().length >= 20);
    await append(callA, sid, 5);
    await f1.waitFor(() => f1.ids().length >= 25);

    const exited = a.stop();
    await waitFor(async () => (a.proc.exitCode !== null ? true : undefined), 20_000);
    await exited;
    expect(a.proc.exitCode).toBe(0);
    expect(a.output()).toMatch(/proofstream stopped on SIGTERM/);
    await f1.ended;
    await idle.ended;
    // The last message each feed got was a retry hint: reconnect (to the next process).
    expect(f1.messages[f1.messages.length - 1]!.retry).toBeGreaterThan(0);
    expect(idle.messages[idle.messages.length - 1]!.retry).toBeGreaterThan(0);

    const b = await startServer({ dataDir, key, env });
    try {
      const callB = client(b.url, key);
      await append(callB, sid, 7);
      const seen = f1.ids();
      const f2 = await live(b, sid, '', { 'last-event-id': String(seen[seen.length - 1]) });
      await f2.waitFor(() => f2.ids().length >= 7);
      await append(callB, sid, 3);
      await f2.waitFor(() => f2.ids().length >= 10);
      f2.close();
      expect([...seen, ...f2.ids()]).toEqual(range(1, 35));
    } finally {
      await b.stop();
    }
  });
});

describe('live feed: checkpoint evidence', () => {
  let srv: RunningServer;
  let tsa: RunningTsa;
  let w1: RunningWitnessProcess;
  let w2: RunningWitnessProcess;
  let call: Call;
  beforeAll(async () => {
    const dir = tempDir('ps-live-evidence-');
    const dataDir = path.join(dir, 'ledger');
    // The ledger key exists before the witnesses start, so they can be told to trust it.
    const signer = loadOrCreateSigner(path.join(dataDir, 'signing-key.pem'));
    const logs = [{ origin: 'proofstream.localhost/*', vkeys: [encodeVerifierKey('proofstream.localhost/*', signer.publicKey)] }];
    [tsa, w1, w2] = await Promise.all([
      startTsa(path.join(dir, 'tsa')),
      startWitness({ logs, dir: path.join(dir, 'w1'), name: 'witness.test/one' }),
      startWitness({ logs, dir: path.join(dir, 'w2'), name: 'witness.test/two' }),
    ]);
    srv = await startServer({
      dataDir,
      env: {
        PROOFSTREAM_WINDOW_MAX_AGE_MS: '100',
        PROOFSTREAM_WITNESSES: JSON.stringify([w1, w2].map((w) => ({ name: w.name, url: w.url, vkey: w.vkey }))),
        PROOFSTREAM_WITNESS_QUORUM: '2',
        PROOFSTREAM_TSA_URL: tsa.url,
        PROOFSTREAM_TSA_ROOT: path.join(tsa.dir, 'root.pem'),
        PROOFSTREAM_ANCHOR_EPOCH_MS: '300',
        PROOFSTREAM_RETRY_MAX_MS: '500',
      },
    });
    call = client(srv.url, srv.key);
  });
  afterAll(() => Promise.all([srv?.stop(), tsa?.stop(), w1?.stop(), w2?.stop()]));

  it('a checkpoint is announced when signed, when its witness quorum is met, and when it is anchored', async () => {
    const sid = await newStream(call);
    const feed = await live(srv, sid, '?from_seq_no=1');
    try {
      await feed.waitFor((m) => m.length >= 1);
      await append(call, sid, 3);
      const statuses = () => feed.messages.filter((m) => m.event === 'checkpoint').map((m) => JSON.parse(m.data));
      await feed.waitFor(() => ['signed', 'witnessed', 'anchored'].every((s) => statuses().some((d) => d.status === s)), 60_000, 'signed, witnessed and anchored');
      const byStatus = (s: string) => statuses().find((d) => d.status === s)!;
      const signed = byStatus('signed');
      const witnessed = byStatus('witnessed');
      const anchored = byStatus('anchored');
      // One checkpoint (size 3), announced at each moment; each carries the evidence it had then.
      for (const d of [signed, witnessed, anchored]) {
        expect(d.stream_id).toBe(sid);
        expect(d.tree_size).toBe(3);
        expect(d.checkpoint.checkpoint_id).toBe(signed.checkpoint.checkpoint_id);
      }
      expect(statuses().filter((d) => d.status === 'witnessed')).toHaveLength(1);
      expect(witnessed.checkpoint.witness_quorum).toEqual({ required: 2, count: 2, met: true });
      expect(anchored.checkpoint.anchor).not.toBeNull();
      expect(statuses().findIndex((d) => d.status === 'signed')).toBe(0);
      const now = await call('GET', `/v2/checkpoints/${signed.checkpoint.checkpoint_id}`);
      expect(now.body.anchor).toEqual(anchored.checkpoint.anchor);
    } finally {
      feed.close();
    }
  });
});
