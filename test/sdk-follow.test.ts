// follow() against the real live feed (GET /v2/streams/{id}/events/live) of a server child process: replay, then
// live, across a kill -9 and restart of the server, with receipts verified and checkpoint messages fed to a Monitor.
// Checkpoint messages are not replayed on resume (the contract): the test only waits for one sent while connected.
import { afterAll, describe, expect, it } from 'vitest';
import { Monitor, Proofstream, type FeedItem, type MonitorResult } from 'proofstream/client';
import { startServer, type RunningServer } from './helpers/server.js';
import { waitFor } from './helpers/wait.js';

const FEED_ENV = { PROOFSTREAM_SSE_HEARTBEAT_MS: '200', PROOFSTREAM_SSE_RETRY_MS: '100', PROOFSTREAM_WINDOW_MAX_AGE_MS: '200' };
const seqs = (items: FeedItem[]) => items.flatMap((i) => (i.type === 'event' ? [i.seq_no] : []));
const ev = (n: number) => ({ source_ref: `f${n}`, event_type: 'sdk.follow', payload: { n } });

describe('follow() against a real server', () => {
  let srv: RunningServer;
  afterAll(() => srv?.stop());

  it('delivers every event exactly once, in order, across a kill -9 and restart, resuming with Last-Event-ID', async () => {
    srv = await startServer({ env: FEED_ENV });
    const keys = Proofstream.trustedKeysFrom(await new Proofstream({ baseUrl: srv.url }).keys());
    const ps = new Proofstream({ baseUrl: srv.url, apiKey: srv.key, trustedKeys: keys, retry: { baseDelayMs: 50, maxDelayMs: 500, maxRetries: 40 } });
    const sid = (await ps.streams.create({ use_case: 'sdk-follow' })).stream_id;
    await ps.events.appendBatch(sid, [1, 2, 3].map(ev));

    const got: FeedItem[] = [];
    const monitored: MonitorResult[] = [];
    const reasons: string[] = [];
    const monitor = new Monitor(ps);
    const ac = new AbortController();
    const following = (async () => {
      for await (const item of ps.follow(sid, { from: 1, signal: ac.signal, reconnectBaseMs: 50, reconnectMaxMs: 500, onReconnect: (i) => reasons.push(i.reason) })) {
        got.push(item);
        if (item.type === 'checkpoint') monitored.push(await monitor.observe(item.checkpoint));
        // Checkpoint messages are live only (never replayed): the one for seq_no 7, appended while we are connected, ends it.
        if (item.type === 'checkpoint' && item.tree_size === 7) return;
      }
    })();
    following.catch(() => {});
    await waitFor(async () => (seqs(got).length === 3 ? true : undefined));

    await srv.kill();
    srv = await startServer({ dataDir: srv.dataDir, key: srv.key, port: srv.port, env: FEED_ENV });
    await ps.events.append(sid, ev(4));
    await ps.events.appendBatch(sid, [5, 6].map(ev));
    await waitFor(async () => (seqs(got).length === 6 ? true : undefined), 30_000);
    await ps.events.append(sid, ev(7));
    await Promise.race([following, waitFor(async () => undefined, 30_000)]);

    expect(seqs(got)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(reasons.length).toBeGreaterThanOrEqual(1);
    const events = got.filter((i) => i.type === 'event');
    for (const e of events) {
      expect(e.event.payload).toEqual({ n: e.seq_no });
      expect(e.receipt.event_hash).toBe(e.event.event_hash);
    }
    // Checkpoint messages carry the checkpoint the route serves, and the monitor accepted each as consistent growth.
    const cps = got.filter((i) => i.type === 'checkpoint');
    expect(cps.length).toBeGreaterThanOrEqual(1);
    for (const c of cps) expect(c).toMatchObject({ stream_id: sid, status: 'signed', checkpoint: { stream_id: sid, tree_size: c.tree_size } });
    expect(cps.at(-1)).toMatchObject({ tree_size: 7 });
    expect(monitored.map((m) => m.status).every((s) => ['first', 'advanced', 'unchanged', 'older'].includes(s))).toBe(true);
    ac.abort();
  });

  it('without from, starts after the head at the time of the call; leaving the loop closes the feed', async () => {
    const ps = new Proofstream({ baseUrl: srv.url, apiKey: srv.key });
    const sid = (await ps.streams.create({ use_case: 'sdk-follow-head' })).stream_id;
    await ps.events.appendBatch(sid, [1, 2].map(ev));
    const it = ps.follow(sid);
    const first = it.next();
    await ps.events.append(sid, ev(3));
    const r = await first;
    expect(r.value).toMatchObject({ type: 'event', seq_no: 3 });
    await it.return(undefined);
  });
});
