// src/ledger/sign-pool.ts: a large job's receipt signatures shared over threads must be the bytes the main thread
// would have made (Ed25519 is deterministic), for every key, and a thread that dies must cost nothing but speed.
import { generateKeyPairSync, sign } from 'node:crypto';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { MIN_POOLED, SignPool } from '../src/ledger/sign-pool.js';
import { client, idemKey, logLines, startServer, type RunningServer } from './helpers/server.js';
import { waitFor } from './helpers/wait.js';
import { warmUp } from './helpers/sign-pool.js';

const pools: SignPool[] = [];
afterEach(() => {
  for (const p of pools.splice(0)) p.close();
});

const keyPair = () => generateKeyPairSync('ed25519').privateKey;
const messages = (n: number, salt: string) => Array.from({ length: n }, (_, i) => new TextEncoder().encode(`${salt}/${i}/${'x'.repeat(i % 300)}`));
const direct = (key: ReturnType<typeof keyPair>, ms: Uint8Array[]) => ms.map((m) => Buffer.from(sign(null, m, key)).toString('hex'));
const hex = (sigs: Uint8Array[]) => sigs.map((s) => Buffer.from(s).toString('hex'));

describe('SignPool', () => {
  it('returns exactly the signatures the main thread makes, in order, across sizes and keys', async () => {
    const pool = new SignPool(2);
    pools.push(pool);
    const [k1, k2] = [keyPair(), keyPair()];
    await warmUp(pool, k1, 'k1');
    const before = pool.stats.pooledSignatures;
    for (const n of [MIN_POOLED - 1, MIN_POOLED, MIN_POOLED + 1, 100, 257]) {
      for (const [key, kid] of [[k1, 'k1'], [k2, 'k2'], [k1, 'k1']] as const) {
        const ms = messages(n, `${kid}-${n}`);
        expect(hex(pool.signAll(key, kid, ms)), `${kid} × ${n}`).toEqual(direct(key, ms));
      }
    }
    // Everything from MIN_POOLED up went through the threads; below it, nothing did.
    expect(pool.stats.pooledSignatures - before).toBe(3 * (MIN_POOLED + MIN_POOLED + 1 + 100 + 257));
    expect(pool.stats.fallbacks).toBe(0);
  });

  it('a new key object under a kid already sent is sent again (the thread signs with the new one)', async () => {
    const pool = new SignPool(1);
    pools.push(pool);
    const [a, b] = [keyPair(), keyPair()];
    await warmUp(pool, a, 'same');
    const ms = messages(20, 'rekeyed');
    expect(hex(pool.signAll(b, 'same', ms))).toEqual(direct(b, ms));
  });

  it('signs on the main thread until its threads have started, and with none configured', () => {
    const key = keyPair();
    const ms = messages(50, 'cold');
    const cold = new SignPool(1);
    pools.push(cold);
    expect(hex(cold.signAll(key, 'k', ms))).toEqual(direct(key, ms));
    expect(cold.stats.pooledJobs).toBe(0); // the thread was only just asked to start
    const none = new SignPool(0);
    expect(hex(none.signAll(key, 'k', ms))).toEqual(direct(key, ms));
    expect(none.stats.pooledJobs).toBe(0);
  });

  it('when a thread dies, its share is signed on the main thread and it is not used again', async () => {
    const pool = new SignPool(1);
    pools.push(pool);
    const key = keyPair();
    await warmUp(pool, key, 'k');
    const thread = (pool as unknown as { threads: Array<{ worker: { terminate(): Promise<number> }; dead: boolean }> }).threads[0]!;
    await thread.worker.terminate();
    const ms = messages(40, 'after-death');
    expect(hex(pool.signAll(key, 'k', ms))).toEqual(direct(key, ms));
    // Either the exit event marked it dead before the call, or the call timed out waiting and fell back.
    expect(thread.dead).toBe(true);
    const jobs = pool.stats.pooledJobs;
    expect(hex(pool.signAll(key, 'k', ms))).toEqual(direct(key, ms));
    expect(pool.stats.pooledJobs).toBe(jobs); // no live thread left: signed here
  }, 20_000);
});

describe('a server with PROOFSTREAM_SIGN_THREADS=1', () => {
  let srv: RunningServer | undefined;
  afterAll(async () => {
    await srv?.stop();
  });

  it('shares batch signatures with its thread, and every receipt of the stream verifies', async () => {
    srv = await startServer({ env: { PROOFSTREAM_SIGN_THREADS: '1', PROOFSTREAM_METRICS_PORT: '0', LOG_LEVEL: 'info' } });
    const call = client(srv.url, srv.key);
    const metricsUrl = (await waitFor(async () => logLines(srv!).find((l) => l.event === 'metrics_started'))).url as string;
    const pooled = async () => Number(/^proofstream_pooled_signatures_total (\d+)$/m.exec(await (await fetch(metricsUrl)).text())?.[1] ?? NaN);
    const stream = (await call('POST', '/v2/streams', { use_case: 'pool' })).body.stream_id as string;
    expect(await pooled()).toBe(0);
    // The thread starts with the first large job and takes work once it is up: send batches until it has.
    let seq = 0;
    for (let i = 0; i < 100 && (await pooled()) === 0; i++) {
      const r = await call('POST', `/v2/streams/${stream}/events/batch`, { events: Array.from({ length: 30 }, (_, j) => ({ source_ref: `p${i}-${j}`, event_type: 't', payload: { i, j } })) }, { 'idempotency-key': idemKey() });
      expect(r.status, r.text).toBe(201);
      seq += 30;
      await new Promise((res) => setTimeout(res, 20));
    }
    expect(await pooled()).toBeGreaterThanOrEqual(30);
    const events: unknown[] = [];
    for (let from = 1; from <= seq; ) {
      const page = (await call('GET', `/v2/streams/${stream}/events?from_seq_no=${from}&limit=1000`)).body;
      events.push(...page.events);
      if (page.next_from_seq_no === null) break;
      from = page.next_from_seq_no;
    }
    expect(events.length).toBe(seq);
    const v = await fetch(`${srv.url}/v2/verify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ kind: 'stream', object: { stream_id: stream, events } }) });
    const rep = (await v.json()) as { ok: boolean; problems: unknown[] };
    expect(rep.problems).toEqual([]);
    expect(rep.ok).toBe(true);
  }, 60_000);
});
