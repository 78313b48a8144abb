// Reads never serve altered data: event rows changed with sqlite directly, under a real server, make every route that
// would serve them answer 500 INTEGRITY_ERROR naming the row (and a pack build over them fail with that code), while
// untouched rows and streams still read fine.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, idemKey, startServer, type RunningServer } from './helpers/server.js';
import { waitFor } from './helpers/wait.js';
import { openLedgerDb } from './helpers/pg-mode.js';

let srv: RunningServer;
let call: ReturnType<typeof client>;

interface Stream {
  id: string;
  /** stream_event_id by seq_no (index 0 = seq 1) */
  events: string[];
}
const streams: Record<'payload' | 'eventType' | 'eventHash' | 'clean', Stream> = {} as never;
/** v1 ids (evt_…) of two v1 events: [altered, untouched] */
let v1Ids: string[] = [];

const N = 5;

async function newStream(tag: string): Promise<Stream> {
  const id = (await call('POST', '/v2/streams', { use_case: `integrity-${tag}` })).body.stream_id as string;
  const events = Array.from({ length: N }, (_, k) => ({ source_ref: `${tag}-${k + 1}`, event_type: 'integrity.test', payload: { k: k + 1, tag } }));
  const r = await call('POST', `/v2/streams/${id}/events/batch`, { events }, { 'idempotency-key': idemKey() });
  expect(r.status).toBe(201);
  return { id, events: r.body.receipts.map((x: { stream_event_id: string }) => x.stream_event_id) };
}

async function sealed(streamId: string) {
  await waitFor(async () => {
    const r = await call('GET', `/v2/streams/${streamId}/checkpoints/latest`);
    return r.status === 200 && r.body.tree_size >= N ? true : undefined;
  });
}

/** Changes one stored event row behind the server's back, as anyone with the database file could. */
function alter(sql: string, ...params: unknown[]) {
  const db = openLedgerDb(srv.dataDir, 'proofstream.db');
  try {
    db.pragma('busy_timeout = 5000');
    expect(db.prepare(sql).run(...params).changes).toBe(1);
  } finally {
    db.close();
  }
}

function expectIntegrityError(r: { status: number; body: any; text: string }, s: Stream | { id: string }, seqNo: number, eventId: string) {
  expect(r.status).toBe(500);
  expect(r.body.error.code).toBe('INTEGRITY_ERROR');
  expect(r.body.error.details).toMatchObject({ stream_id: s.id, seq_no: seqNo, stream_event_id: eventId });
  expect(r.body.error.message).toMatch(/does not match its hash/);
  expect(r.body.error.request_id).toEqual(expect.any(String));
  expect(r.text).not.toMatch(/\n\s+at /); // no stack trace
}

beforeAll(async () => {
  srv = await startServer({ env: { PROOFSTREAM_WINDOW_MAX_EVENTS: '50', PROOFSTREAM_WINDOW_MAX_AGE_MS: '150' } });
  call = client(srv.url, srv.key);
  streams.payload = await newStream('payload');
  streams.eventType = await newStream('event-type');
  streams.eventHash = await newStream('event-hash');
  streams.clean = await newStream('clean');
  const v1 = await call('POST', '/v1/sdk/events/batch', { events: [{ source_ref: 'v1-a', payload: { a: 1 } }, { source_ref: 'v1-b', payload: { b: 2 } }] }, { 'idempotency-key': idemKey() });
  expect(v1.status).toBe(201);
  v1Ids = v1.body.events.map((e: { id: string }) => e.id);
  for (const s of Object.values(streams)) await sealed(s.id);
  await waitFor(async () => ((await call('GET', `/v1/events/${v1Ids[1]}/proof`)).body?.inclusion ? true : undefined));

  // The alterations: a payload (under the commitment), a field under the event hash, and a hash itself.
  alter(`UPDATE events SET payload = '{"k":2,"tag":"forged"}' WHERE id = ?`, streams.payload.events[1]);
  alter(`UPDATE events SET event_type = 'integrity.forged' WHERE id = ?`, streams.eventType.events[3]);
  alter(`UPDATE events SET event_hash = ? WHERE id = ?`, 'ab'.repeat(32), streams.eventHash.events[0]);
  alter(`UPDATE events SET payload = replace(payload, '"a":1', '"a":7') WHERE id = ?`, 'sev_' + v1Ids[0]!.slice('evt_'.length));
});

afterAll(async () => {
  await srv?.stop();
  if (srv) fs.rmSync(srv.dataDir, { recursive: true, force: true });
});

describe('a corrupted event row is never served', () => {
  it('GET /v2/streams/{id}/events: 500 INTEGRITY_ERROR naming the row, for a payload, a hashed field or a hash', async () => {
    const cases: [Stream, number][] = [
      [streams.payload, 2],
      [streams.eventType, 4],
      [streams.eventHash, 1],
    ];
    for (const [s, seq] of cases) {
      expectIntegrityError(await call('GET', `/v2/streams/${s.id}/events?from_seq_no=1&limit=100`), s, seq, s.events[seq - 1]!);
    }
    // A page that does not hold the altered row still reads.
    const after = await call('GET', `/v2/streams/${streams.payload.id}/events?from_seq_no=3&limit=100`);
    expect(after.status).toBe(200);
    expect(after.body.events.map((e: any) => e.seq_no)).toEqual([3, 4, 5]);
  });

  it('GET /v2/receipts/{id}: 500 for the altered row, 200 for its untouched neighbour', async () => {
    expectIntegrityError(await call('GET', `/v2/receipts/${streams.payload.events[1]}`), streams.payload, 2, streams.payload.events[1]!);
    expectIntegrityError(await call('GET', `/v2/receipts/${streams.eventType.events[3]}`), streams.eventType, 4, streams.eventType.events[3]!);
    expectIntegrityError(await call('GET', `/v2/receipts/${streams.eventHash.events[0]}`), streams.eventHash, 1, streams.eventHash.events[0]!);
    const ok = await call('GET', `/v2/receipts/${streams.payload.events[0]}`);
    expect(ok.status).toBe(200);
    expect(ok.body.seq_no).toBe(1);
  });

  it('GET /v2/windows/{id}: 500 when a served event hash no longer matches its row', async () => {
    for (const [s, seq] of [
      [streams.eventType, 4],
      [streams.eventHash, 1],
    ] as const) {
      const cp = await call('GET', `/v2/streams/${s.id}/checkpoints/latest`);
      expectIntegrityError(await call('GET', `/v2/windows/${cp.body.window_id}`), s, seq, s.events[seq - 1]!);
    }
    const clean = await call('GET', `/v2/streams/${streams.clean.id}/checkpoints/latest`);
    expect((await call('GET', `/v2/windows/${clean.body.window_id}`)).status).toBe(200);
  });

  it('GET /v1/events/{id}/proof: 500 for the altered v1 event, 200 for the other', async () => {
    const bad = await call('GET', `/v1/events/${v1Ids[0]}/proof`);
    expect(bad.status).toBe(500);
    expect(bad.body.error.code).toBe('INTEGRITY_ERROR');
    expect(bad.body.error.details).toMatchObject({ seq_no: 1, stream_event_id: 'sev_' + v1Ids[0]!.slice('evt_'.length) });
    const good = await call('GET', `/v1/events/${v1Ids[1]}/proof`);
    expect(good.status).toBe(200);
    expect(good.body.event.seq_no).toBe(2);
  });

  it('POST /v2/audit/packs over an altered row: 500 INTEGRITY_ERROR naming it, no pack file or row left', async () => {
    const packsDir = path.join(srv.dataDir, 'packs');
    const filesBefore = fs.existsSync(packsDir) ? fs.readdirSync(packsDir) : [];
    for (const [s, seq] of [
      [streams.payload, 2],
      [streams.eventType, 4],
      [streams.eventHash, 1],
    ] as const) {
      const r = await call('POST', '/v2/audit/packs', { stream_id: s.id, from_seq_no: 1, to_seq_no: N });
      expectIntegrityError(r, s, seq, s.events[seq - 1]!);
    }
    // from_seq_no just past the altered event_hash: that row opens the chain section, so it is checked too.
    expectIntegrityError(
      await call('POST', '/v2/audit/packs', { stream_id: streams.eventHash.id, from_seq_no: 2, to_seq_no: N }),
      streams.eventHash,
      1,
      streams.eventHash.events[0]!,
    );
    expect(fs.existsSync(packsDir) ? fs.readdirSync(packsDir) : []).toEqual(filesBefore);
    const db = openLedgerDb(srv.dataDir, 'proofstream.db', { readonly: true });
    try {
      expect(db.prepare('SELECT count(*) AS n FROM packs').get()).toEqual({ n: 0 });
    } finally {
      db.close();
    }
  });

  it('an untouched stream still reads, and packs, as before', async () => {
    const s = streams.clean;
    const list = await call('GET', `/v2/streams/${s.id}/events?from_seq_no=1&limit=100`);
    expect(list.status).toBe(200);
    expect(list.body.events.map((e: any) => e.stream_event_id)).toEqual(s.events);
    expect(list.body.events[4].payload).toEqual({ k: 5, tag: 'clean' });
    for (const id of s.events) expect((await call('GET', `/v2/receipts/${id}`)).status).toBe(200);
    const pack = await call('POST', '/v2/audit/packs', { stream_id: s.id, from_seq_no: 1, to_seq_no: N });
    expect(pack.status).toBe(201);
    expect(pack.body.events).toHaveLength(N);
  });
});
