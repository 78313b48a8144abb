// Concurrency against a real listening server: group commit must never duplicate, skip or reorder seq_no,
// and one Idempotency-Key must create exactly one event however many requests race with it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkChain, readAll } from './helpers/chain.js';
import { client, idemKey, startServer, type RunningServer } from './helpers/server.js';

let srv: RunningServer;
let call: ReturnType<typeof client>;
let publicKey: string;

beforeAll(async () => {
  srv = await startServer();
  call = client(srv.url, srv.key);
  publicKey = (await call('GET', '/v2/keys')).body.keys[0].public_key;
});
afterAll(async () => srv?.stop());

async function newStream() {
  const r = await call('POST', '/v2/streams', { use_case: 'concurrency' });
  expect(r.status).toBe(201);
  return r.body.stream_id as string;
}

describe('concurrent appends', () => {
  it('200 concurrent appends to one stream yield seq 1..200 with a valid chain', async () => {
    const sid = await newStream();
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        call('POST', `/v2/streams/${sid}/events`, { source_ref: `c-${i}`, event_type: 'test', payload: { i } }, { 'idempotency-key': idemKey() }),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(Array(200).fill(201));
    const seqs = results.map((r) => r.body.seq_no).sort((a, b) => a - b);
    expect(seqs).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));

    const events = await readAll(call, sid);
    expect(events).toHaveLength(200);
    await checkChain(sid, events, publicKey);
    // Every receipt a client got is exactly what the ledger stored.
    const bySeq = new Map(events.map((e) => [e.seq_no, e]));
    for (const r of results) {
      const e = bySeq.get(r.body.seq_no)!;
      expect(e.stream_event_id).toBe(r.body.stream_event_id);
      expect(e.event_hash).toBe(r.body.event_hash);
      expect(e.receipt.signature).toBe(r.body.receipt.signature);
      expect(e.source_ref).toBe(`c-${(e.payload as { i: number }).i}`);
    }
    expect((await call('GET', `/v2/streams/${sid}`)).body.head_seq_no).toBe(200);
  });

  it('interleaved singles and batches on three streams stay gap-free per stream', async () => {
    const sids = [await newStream(), await newStream(), await newStream()];
    const reqs = [];
    for (let i = 0; i < 60; i++) {
      const sid = sids[i % 3]!;
      reqs.push(
        i % 4 === 0
          ? call('POST', `/v2/streams/${sid}/events/batch`, { events: [0, 1, 2].map((k) => ({ source_ref: `b${i}-${k}`, event_type: 't', payload: k })) }, { 'idempotency-key': idemKey() })
          : call('POST', `/v2/streams/${sid}/events`, { source_ref: `s${i}`, event_type: 't', payload: i }, { 'idempotency-key': idemKey() }),
      );
    }
    const results = await Promise.all(reqs);
    expect(results.every((r) => r.status === 201)).toBe(true);
    for (const sid of sids) {
      const events = await readAll(call, sid);
      await checkChain(sid, events, publicKey);
      // batch items are consecutive and in request order
      for (const r of results) {
        if (r.body.receipts && r.body.stream_id === sid) {
          const seqs = r.body.receipts.map((x: { seq_no: number }) => x.seq_no);
          expect(seqs).toEqual([seqs[0], seqs[0] + 1, seqs[0] + 2]);
        }
      }
    }
    const total = results.reduce((n, r) => n + (r.body.receipts ? 3 : 1), 0);
    const stored = (await Promise.all(sids.map((s) => readAll(call, s)))).reduce((n, e) => n + e.length, 0);
    expect(stored).toBe(total);
  });

  it('100 concurrent requests with one Idempotency-Key create exactly one event and all get the same receipt', async () => {
    const sid = await newStream();
    const key = idemKey();
    const body = { source_ref: 'once', event_type: 'test', payload: { n: 1 } };
    const results = await Promise.all(
      Array.from({ length: 100 }, () => call('POST', `/v2/streams/${sid}/events`, body, { 'idempotency-key': key })),
    );
    expect(results.map((r) => r.status)).toEqual(Array(100).fill(201));
    const texts = new Set(results.map((r) => r.text));
    expect(texts.size).toBe(1);
    expect(results.filter((r) => r.headers.get('idempotent-replayed') === 'true')).toHaveLength(99);
    const events = await readAll(call, sid);
    expect(events).toHaveLength(1);
    expect(events[0]!.stream_event_id).toBe(results[0]!.body.stream_event_id);

    // A changed body under the same key is refused and changes nothing.
    const changed = await call('POST', `/v2/streams/${sid}/events`, { ...body, payload: { n: 2 } }, { 'idempotency-key': key });
    expect(changed.status).toBe(409);
    expect(changed.body.error.code).toBe('IDEMPOTENCY_CONFLICT');
    expect(await readAll(call, sid)).toHaveLength(1);
  });
});
