// The append routes' Idempotency-Key records keep where the receipts are, not the answer's bytes (src/ledger/replay.ts):
// a replay rebuilt from the events must be the first answer byte for byte, on the running server, after a restart and
// after a payload erasure; expired records are purged oldest first and a reused key starts afresh.
import path from 'node:path';
import type Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { checkLedger } from '../src/ledger/check.js';
import { RebuiltAnswers, receiptsRef, replayBodyText } from '../src/ledger/replay.js';
import { Store } from '../src/store/index.js';
import { client, runCli, startServer, tempDir, type RunningServer } from './helpers/server.js';
import { databaseFor, knownDatabaseFor, openLedgerDb, pgMode } from './helpers/pg-mode.js';

const servers: RunningServer[] = [];
afterAll(async () => {
  for (const s of servers) await s.stop();
});

describe('replays rebuilt from the events', () => {
  it('are byte-identical to the first answer, before and after a restart and an erasure', async () => {
    const dataDir = tempDir('ps-replay-');
    let srv = await startServer({ dataDir });
    servers.push(srv);
    let call = client(srv.url, srv.key);
    const stream = (await call('POST', '/v2/streams', { use_case: 'replay' }, { 'idempotency-key': 's' })).body.stream_id as string;
    // Strings JSON escapes differently from how they are stored (quotes, controls, U+2028, astral) and numbers JCS
    // rewrites: the answer shows none of the payload, but must come back exactly as sent the first time.
    const odd = 'q"\\\u0001\u2028\u{1F600}é';
    const first: Array<{ path: string; body: unknown; key: string; text: string; status: number }> = [];
    const send = async (p: string, body: unknown, key: string) => {
      const r = await call('POST', p, body, { 'idempotency-key': key });
      expect(r.status, r.text).toBe(201);
      first.push({ path: p, body, key, text: r.text, status: r.status });
      return r;
    };
    await send(`/v2/streams/${stream}/events`, { source_ref: odd, event_type: `t.${odd}`, payload: { n: 1.5e-7, s: odd }, occurred_at: '2026-01-02T03:04:05.678Z' }, 'one');
    await send(`/v2/streams/${stream}/events`, { source_ref: 'plain', event_type: 't', payload: null }, 'two');
    const batch = await send(
      `/v2/streams/${stream}/events/batch`,
      { events: Array.from({ length: 5 }, (_, i) => ({ source_ref: `b${i}${odd}`, event_type: 't', payload: [i, odd] })) },
      'batch',
    );
    expect(JSON.parse(batch.text).receipts.map((r: { seq_no: number }) => r.seq_no)).toEqual([3, 4, 5, 6, 7]);
    await send(`/v2/streams/${stream}/events`, { source_ref: 'last', event_type: 't', payload: 1 }, 'three');

    const replayAll = async () => {
      for (const f of first) {
        const r = await call('POST', f.path, f.body, { 'idempotency-key': f.key });
        expect([r.status, r.headers.get('idempotent-replayed'), r.text], f.key).toEqual([f.status, 'true', f.text]);
      }
    };
    await replayAll();

    // What is stored is the reference, a tenth of the answer or less.
    const db = openLedgerDb(srv.dataDir, 'proofstream.db', { readonly: true });
    const stored = new Map(db.prepare('SELECT key, response_body FROM idempotency_records').all().map((r: any) => [r.key, r.response_body as string]));
    db.close();
    expect(stored.get('one')).toBe(`{"receipts_ref":["${stream}",1,1,"receipt"]}`);
    expect(stored.get('batch')).toBe(`{"receipts_ref":["${stream}",3,7,"batch"]}`);
    expect(JSON.parse(stored.get('s')!).stream_id).toBe(stream); // not an append: the stream's answer is stored whole

    // Erasing a payload changes no receipt field: the replay stays the same.
    const erase = await call('DELETE', `/v2/events/${JSON.parse(first[0]!.text).stream_event_id}/payload`, { reason: 'test' }, { 'idempotency-key': 'erase' });
    expect(erase.status, erase.text).toBe(200);
    await replayAll();

    await srv.stop();
    srv = await startServer({ dataDir, key: srv.key });
    servers.push(srv);
    call = client(srv.url, srv.key);
    await replayAll();
    // A different body under a used key is still a conflict: the reference keeps the fingerprint beside it.
    const clash = await call('POST', first[0]!.path, { source_ref: 'other', event_type: 't', payload: 2 }, { 'idempotency-key': 'one' });
    expect([clash.status, clash.body.error.code]).toEqual([409, 'IDEMPOTENCY_CONFLICT']);
    await srv.stop();

    if (pgMode) {
      // `proofstream check` reads SQLite files only; on PostgreSQL the same deep check runs in-process on its Store.
      const store = Store.open(knownDatabaseFor(dataDir)!);
      try {
        const report = checkLedger(store, { deep: true });
        expect(report.problems, JSON.stringify(report)).toEqual([]);
        expect(report.ok).toBe(true);
      } finally {
        store.close();
      }
    } else {
      const check = await runCli(['check', '--deep', '--db', path.join(dataDir, 'proofstream.db')], { PROOFSTREAM_DATA_DIR: dataDir });
      expect(check.code, check.stdout + check.stderr).toBe(0);
    }
  }, 120_000);
});

describe('answers rebuilt lately (RebuiltAnswers)', () => {
  it('serve a repeated replay without reading the events again, with the same bytes', () => {
    let reads = 0;
    const row = { id: 'sev_1', streamId: 'st', seqNo: 1, eventHash: 'e'.repeat(64), previousEventHash: null, streamHeadHash: 'h'.repeat(64), receivedAt: '2026-01-01T00:00:00.000Z', protocol: 'p', kid: 'k', signature: 's'.repeat(128) };
    const store = { events: { entries: () => (reads++, [row]) } } as unknown as Store;
    const ref = receiptsRef('receipt', 'st', 1, 1);
    const cache = new RebuiltAnswers();
    const a = replayBodyText(store, ref, cache);
    const b = replayBodyText(store, ref, cache);
    expect(b).toBe(a);
    expect(JSON.parse(a).stream_event_id).toBe('sev_1');
    expect(reads).toBe(1);
    replayBodyText(store, ref); // no cache: read every time
    expect(reads).toBe(2);
  });

  it('stay within their entry and character bounds, dropping the least recently used first', () => {
    const c = new RebuiltAnswers(3, 100);
    c.remember('a', 'x'.repeat(10));
    c.remember('b', 'x'.repeat(10));
    c.remember('c', 'x'.repeat(10));
    expect(c.get('a')).toBeDefined(); // a is now the newest
    c.remember('d', 'x'.repeat(10));
    expect([c.size, c.get('b'), c.get('a'), c.get('c'), c.get('d')?.length]).toEqual([3, undefined, 'x'.repeat(10), 'x'.repeat(10), 10]);
    c.remember('e', 'y'.repeat(25)); // within a quarter of the bound: kept, and the oldest goes for the entry bound
    expect([c.size, c.get('a'), c.get('e')?.length]).toEqual([3, undefined, 25]);
    c.remember('big', 'z'.repeat(26)); // over a quarter of the bound: never kept
    expect(c.get('big')).toBeUndefined();
    const chars = new RebuiltAnswers(100, 50);
    for (const k of ['p', 'q', 'r', 's', 't']) chars.remember(k, 'x'.repeat(12));
    expect([chars.size, chars.get('p'), chars.get('t')?.length]).toEqual([4, undefined, 12]);
  });
});

describe('expired records', () => {
  it('are purged oldest first up to the first live one; a reused expired key is written afresh at the tail', () => {
    const dir = tempDir('ps-replay-purge-');
    const store = Store.open(databaseFor(dir) ?? path.join(dir, 'p.db'));
    try {
      store.tenancy.insertTenant({ id: 'ten_p', name: 'p', createdAt: new Date().toISOString() });
      const put = (key: string, createdAt: number, expiresAt: number) =>
        store.write(() => store.idempotency.insert({ tenantId: 'ten_p', key, fingerprint: `f-${key}`, status: 201, responseBody: `{"k":"${key}"}`, createdAt, expiresAt }));
      const keys = (sqlite: Database.Database) => sqlite.prepare('SELECT key FROM idempotency_records ORDER BY rowid').pluck().all();
      expect(put('a', 0, 100)).toBe(true);
      expect(put('b', 10, 110)).toBe(true);
      expect(put('long', 20, 10_000)).toBe(true); // written under a longer TTL
      expect(put('c', 30, 130)).toBe(true);
      expect(put('d', 40, 1_000)).toBe(true);
      // A live key is not taken over; an expired one is, and moves to the tail (it expires last now).
      expect(put('b', 120, 50_000)).toBe(true);
      expect(put('d', 120, 5_000)).toBe(false);
      const sqlite = openLedgerDb(dir, 'p.db', { readonly: true });
      try {
        expect(keys(sqlite)).toEqual(['a', 'long', 'c', 'd', 'b']);
        expect(store.idempotency.get('ten_p', 'b', 120)?.fingerprint).toBe('f-b');
        // At 200: a, c expired; `long` is live and holds back c (documented); nothing live is ever deleted.
        expect(store.idempotency.purgeExpired(200)).toBe(1);
        expect(keys(sqlite)).toEqual(['long', 'c', 'd', 'b']);
        expect(store.idempotency.get('ten_p', 'c', 200)).toBeUndefined(); // expired: never replayed, purged or not
        expect(store.idempotency.purgeExpired(10_000)).toBe(3); // long, c, d
        expect(keys(sqlite)).toEqual(['b']);
        expect(store.idempotency.purgeExpired(10_000)).toBe(0);
        expect(store.idempotency.purgeExpired(50_000)).toBe(1);
        expect(keys(sqlite)).toEqual([]);
      } finally {
        sqlite.close();
      }
    } finally {
      store.close();
    }
  });
});
