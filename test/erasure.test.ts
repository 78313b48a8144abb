// Payload erasure against a real server and its real SQLite file: DELETE /v2/events/{id}/payload removes payload and
// salt (their bytes leave the database file), appends the erasure event through the normal append path, keeps every
// receipt, checkpoint and pack verifying (server and offline), and leaves `check --deep` clean.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, client, idemKey, newKey, startServer, tempDir, type RunningServer } from './helpers/server.js';
import { waitFor } from './helpers/wait.js';
import { checkLedger } from '../src/ledger/check.js';
import { Store } from '../src/store/index.js';
import { knownDatabaseFor, openLedgerDb, pgMode } from './helpers/pg-mode.js';

const WINDOW_ENV = { PROOFSTREAM_WINDOW_MAX_EVENTS: '50', PROOFSTREAM_WINDOW_MAX_AGE_MS: '100' };
// Unique to this run, so finding it in the file can only mean the payload is still there.
const MARKER = `ERASE-ME-${process.pid}-${Date.now()}-ZQXJ`;
const V1_MARKER = `V1-ERASE-ME-${process.pid}-${Date.now()}-WVKP`;
const REASON = 'GDPR art. 17 request #4711';

function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const e: NodeJS.ProcessEnv = { ...process.env, PROOFSTREAM_DATA_DIR: tempDir('ps-erasure-cli-'), ...env };
    delete e.PROOFSTREAM_DB;
    // on PostgreSQL the data directory's database (test/helpers/pg-mode.ts)
    const db = knownDatabaseFor(e.PROOFSTREAM_DATA_DIR);
    if (db) e.DATABASE_URL = db;
    execFile(process.execPath, [BIN, ...args], { env: e, maxBuffer: 64 << 20 }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code) : 0, stdout, stderr }),
    );
  });
}

/**
 * How many times `needle` occurs in the database file and its -wal (as they are on disk now). On PostgreSQL: in how
 * many live rows of any table (the row versions an UPDATE left behind are VACUUM's to reclaim, and PostgreSQL has no
 * secure_delete: docs/operations.md "PostgreSQL"), so what is checked there is that no row still serves the payload.
 */
function occurrences(dataDir: string, needle: string): number {
  if (pgMode) {
    const db = openLedgerDb(dataDir);
    try {
      const tables = db.prepare("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'").pluck().all() as string[];
      expect(tables).toContain('events');
      // strpos on a row's text form: every column of every live row, without LIKE's wildcards
      return tables.reduce((n, t) => n + (db.prepare(`SELECT count(*) FROM "${t}" AS r WHERE strpos(r::text, ?) > 0`).pluck().get(needle) as number), 0);
    } finally {
      db.close();
    }
  }
  let n = 0;
  for (const f of ['proofstream.db', 'proofstream.db-wal']) {
    let buf: Buffer;
    try {
      buf = fs.readFileSync(path.join(dataDir, f));
    } catch {
      continue;
    }
    for (let i = buf.indexOf(needle); i >= 0; i = buf.indexOf(needle, i + 1)) n++;
  }
  return n;
}

/** `check --deep` of a ledger on PostgreSQL, in-process on a Store of its own (the CLI reads SQLite files only). */
function deepCheck(dataDir: string) {
  const store = Store.open(knownDatabaseFor(dataDir)!);
  try {
    return checkLedger(store, { deep: true });
  } finally {
    store.close();
  }
}

describe('payload erasure', () => {
  let srv: RunningServer;
  let call: ReturnType<typeof client>;
  let anon: ReturnType<typeof client>;
  let streamId: string;
  let receipts: any[];
  let target: any; // the event whose payload is erased, as read before
  let erasureAnswer: any;
  let packBefore: any; // a pack built before the erasure, as downloaded
  let packBeforeId: string;
  let bootstrapKeyId: string;
  let keysFile: string;
  const dir = tempDir('ps-erasure-');

  beforeAll(async () => {
    srv = await startServer({ env: WINDOW_ENV });
    call = client(srv.url, srv.key);
    anon = client(srv.url);
    streamId = (await call('POST', '/v2/streams', { use_case: 'erasure' }, { 'idempotency-key': idemKey() })).body.stream_id;
    const events = [
      { source_ref: 'case-1:a', event_type: 'note', payload: { text: 'ordinary' } },
      { source_ref: 'case-1:b', event_type: 'note', payload: { subject: { name: MARKER, email: `${MARKER}@example.org` } } },
      { source_ref: 'case-1:c', event_type: 'note', payload: { text: 'after' } },
    ];
    const r = await call('POST', `/v2/streams/${streamId}/events/batch`, { events }, { 'idempotency-key': idemKey() });
    expect(r.status, r.text).toBe(201);
    receipts = r.body.receipts;
    await waitFor(async () => ((await call('GET', `/v2/streams/${streamId}/checkpoints/latest`)).body?.tree_size >= 3 ? true : undefined));
    const pack = await call('POST', '/v2/audit/packs', { stream_id: streamId, from_seq_no: 1, to_seq_no: 3 }, { 'idempotency-key': idemKey() });
    expect(pack.status, pack.text).toBe(201);
    packBefore = pack.body;
    packBeforeId = pack.body.manifest.pack_id;
    target = (await call('GET', `/v2/events/${receipts[1].stream_event_id}`)).body;
    bootstrapKeyId = (await call('GET', '/v2/admin/keys')).body.keys.find((k: any) => k.bootstrap).id;
    keysFile = path.join(dir, 'keys.json');
    fs.writeFileSync(keysFile, (await anon('GET', '/v2/keys')).text);
  }, 60_000);

  afterAll(async () => {
    await srv?.stop();
  });

  it('refuses without the scope, for another tenant, unknown events and bad bodies, and changes nothing', async () => {
    const id = receipts[1].stream_event_id;
    expect(target.payload).toEqual({ subject: { name: MARKER, email: `${MARKER}@example.org` } });
    expect(target.erased).toBeUndefined();
    expect(occurrences(srv.dataDir, MARKER)).toBeGreaterThan(0);

    // A key with the default scopes (events:erase is asked for by name) of the same tenant and system.
    const made = await call('POST', '/v2/admin/keys', { system: 'default' }, { 'idempotency-key': idemKey() });
    expect(made.status, made.text).toBe(201);
    expect(made.body.api_key.scopes).not.toContain('events:erase');
    const plain = client(srv.url, made.body.key);
    const noScope = await plain('DELETE', `/v2/events/${id}/payload`, { reason: REASON }, { 'idempotency-key': idemKey() });
    expect(noScope.status, noScope.text).toBe(403);
    expect(noScope.body.error.code).toBe('AUTHORIZATION_FAILED');

    // Another tenant's key with the scope: the event does not exist for it.
    const other = await cli(['keys', 'create', '--tenant', 'other', '--system', 'default', '--scopes', 'events:erase,read', '--json'], { PROOFSTREAM_DATA_DIR: srv.dataDir });
    expect(other.code, other.stderr).toBe(0);
    const stranger = client(srv.url, JSON.parse(other.stdout).key);
    const foreign = await stranger('DELETE', `/v2/events/${id}/payload`, { reason: REASON }, { 'idempotency-key': idemKey() });
    expect(foreign.status, foreign.text).toBe(404);
    expect(foreign.body.error.code).toBe('RESOURCE_NOT_FOUND');
    expect((await stranger('GET', `/v2/events/${id}`)).status).toBe(404);
    const unknown = await call('DELETE', `/v2/events/sev_doesnotexist/payload`, { reason: REASON }, { 'idempotency-key': idemKey() });
    expect(unknown.status, unknown.text).toBe(404);

    const bad: Array<[unknown, number, string]> = [
      [{}, 422, 'VALIDATION_ERROR'],
      [{ reason: '' }, 422, 'VALIDATION_ERROR'],
      [{ reason: 'x'.repeat(501) }, 422, 'VALIDATION_ERROR'],
      [{ reason: REASON, extra: 1 }, 422, 'VALIDATION_ERROR'],
      [{ reason: 7 }, 422, 'VALIDATION_ERROR'],
      ['{"reason":', 400, 'MALFORMED_JSON'],
      [JSON.stringify({ reason: 'x'.repeat(17 * 1024) }), 413, 'PAYLOAD_TOO_LARGE'],
    ];
    for (const [body, status, code] of bad) {
      const r = await call('DELETE', `/v2/events/${id}/payload`, body, { 'idempotency-key': idemKey() });
      expect(r.status, `${JSON.stringify(body).slice(0, 40)}: ${r.text}`).toBe(status);
      expect(r.body.error.code).toBe(code);
      expect(r.body.error.request_id).toBeTruthy();
    }
    const noKey = await call('DELETE', `/v2/events/${id}/payload`, { reason: REASON });
    expect(noKey.status).toBe(400);
    expect(noKey.body.error.code).toBe('IDEMPOTENCY_KEY_REQUIRED');

    // Nothing changed: same payload, same head.
    expect((await call('GET', `/v2/events/${id}`)).body).toEqual(target);
    expect((await call('GET', `/v2/streams/${streamId}`)).body.head_seq_no).toBe(3);
  });

  it('erases: 200 with the erasure receipt; the event reads back without payload and with `erased`; the stream gains the erasure event', async () => {
    const id = receipts[1].stream_event_id;
    const key = idemKey();
    const r = await call('DELETE', `/v2/events/${id}/payload`, { reason: REASON }, { 'idempotency-key': key });
    expect(r.status, r.text).toBe(200);
    erasureAnswer = r.body;
    expect(r.body.erased_event_id).toBe(id);
    expect(r.body.erasure).toMatchObject({ stream_id: streamId, seq_no: 4, previous_event_hash: receipts[2].event_hash });
    expect(r.body.erased).toEqual({ at: r.body.erasure.received_at, reason: REASON, erasure_event_id: r.body.erasure.stream_event_id });
    // One log line for the operator's trail, without the reason; the pack stored before went with the payload.
    const line = await waitFor(async () => srv.output().split('\n').find((l) => l.includes('"payload_erased"') && l.includes(id)));
    expect(JSON.parse(line)).toMatchObject({ event: 'payload_erased', event_id: id, stream_id: streamId, key_id: bootstrapKeyId, packs_removed: [packBeforeId] });
    expect(line).not.toContain(REASON);

    // The same Idempotency-Key replays the answer byte for byte; a new one is refused.
    const replay = await call('DELETE', `/v2/events/${id}/payload`, { reason: REASON }, { 'idempotency-key': key });
    expect(replay.status).toBe(200);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.text).toBe(r.text);
    const twice = await call('DELETE', `/v2/events/${id}/payload`, { reason: REASON }, { 'idempotency-key': idemKey() });
    expect(twice.status, twice.text).toBe(409);
    expect(twice.body.error.code).toBe('ALREADY_ERASED');
    expect(twice.body.error.details.erased).toEqual(r.body.erased);

    // The erased event: everything but payload and salt as before, plus the marker.
    const after = (await call('GET', `/v2/events/${id}`)).body;
    const { payload: _p, salt: _s, ...kept } = target;
    expect(after).toEqual({ ...kept, payload: null, salt: null, erased: r.body.erased });

    // The erasure event, appended through the append path, carries the documented record.
    const erasureEvent = (await call('GET', `/v2/events/${r.body.erasure.stream_event_id}`)).body;
    expect(erasureEvent).toMatchObject({ seq_no: 4, event_type: 'proofstream.erasure', source_ref: `erasure:${id}`, occurred_at: null });
    expect(erasureEvent.payload).toEqual({
      format: 'proofstream.erasure/v1',
      event_id: id,
      seq_no: 2,
      event_hash: target.event_hash,
      payload_commitment: target.payload_commitment,
      reason: REASON,
      erased_by_key: bootstrapKeyId,
    });
    expect(erasureEvent.erased).toBeUndefined();
    // An erasure event is the record of an erasure: it is not erased itself.
    const meta = await call('DELETE', `/v2/events/${erasureEvent.stream_event_id}/payload`, { reason: REASON }, { 'idempotency-key': idemKey() });
    expect(meta.status, meta.text).toBe(409);
    expect(meta.body.error.code).toBe('NOT_ERASABLE');

    // The list shows the same, only the erased event carries `erased`.
    const list = (await call('GET', `/v2/streams/${streamId}/events`)).body.events;
    expect(list.map((e: any) => e.seq_no)).toEqual([1, 2, 3, 4]);
    expect(list[1]).toEqual(after);
    expect(list.filter((e: any) => 'erased' in e).length).toBe(1);
    expect(list[3]).toEqual(erasureEvent);
  });

  it("the payload's bytes are gone from the database file and its WAL", () => {
    expect(occurrences(srv.dataDir, MARKER)).toBe(0);
  });

  it('receipts, the erased event and a pack built afterwards verify through POST /v2/verify and `proofstream verify`; the pack built before still verifies offline and is no longer stored', async () => {
    for (const id of [receipts[1].stream_event_id, erasureAnswer.erasure.stream_event_id]) {
      const ev = (await call('GET', `/v2/events/${id}`)).body;
      const rep = await anon('POST', '/v2/verify', { object: ev });
      expect(rep.status, rep.text).toBe(200);
      expect(rep.body.problems).toEqual([]);
      expect(rep.body.ok).toBe(true);
      const receipt = (await call('GET', `/v2/receipts/${id}`)).body;
      const rr = await anon('POST', '/v2/verify', { object: receipt });
      expect(rr.body.ok, rr.text).toBe(true);
    }

    // The page of events as the list returns it (the erased one with its `erased` member) verifies as a stream.
    const page = (await call('GET', `/v2/streams/${streamId}/events`)).body.events;
    const asStream = await anon('POST', '/v2/verify', { kind: 'stream', object: { stream_id: streamId, events: page } });
    expect(asStream.body.problems, asStream.text).toEqual([]);
    expect(asStream.body.ok).toBe(true);
    expect(asStream.body.checks.filter((c: any) => /erased payload/.test(c.name)).map((c: any) => c.status)).toEqual(['skipped']);

    await waitFor(async () => ((await call('GET', `/v2/streams/${streamId}/checkpoints/latest`)).body?.tree_size >= 4 ? true : undefined));
    const pack = await call('POST', '/v2/audit/packs', { stream_id: streamId, from_seq_no: 1, to_seq_no: 4 }, { 'idempotency-key': idemKey() });
    expect(pack.status, pack.text).toBe(201);
    expect(pack.text).not.toContain(MARKER);
    expect(pack.body.events[1]).toMatchObject({ seq_no: 2, payload: null, salt: null, payload_commitment: target.payload_commitment });
    expect(pack.body.events[3].payload.event_id).toBe(receipts[1].stream_event_id);

    const rep = await anon('POST', '/v2/verify', { object: pack.body });
    expect(rep.body.problems).toEqual([]);
    expect(rep.body.ok).toBe(true);
    const withheld = rep.body.checks.filter((c: any) => /erased payload/.test(c.name));
    expect(withheld.length).toBe(1);
    expect(withheld[0].status).toBe('skipped');

    const after = path.join(dir, 'after.json');
    const before = path.join(dir, 'before.json');
    fs.writeFileSync(after, pack.text);
    fs.writeFileSync(before, JSON.stringify(packBefore));
    for (const f of [after, before]) {
      const v = await cli(['verify', f, '--trust', keysFile, '--json']);
      expect(v.code, v.stdout + v.stderr).toBe(0);
      const report = JSON.parse(v.stdout);
      expect(report.ok).toBe(true);
      expect(report.problems).toEqual([]);
      // The pack built after the erasure reports the withheld payload as a skipped check; the one before has none.
      const notes = report.checks.filter((c: any) => /erased payload/.test(c.name));
      expect(notes.map((c: any) => c.status)).toEqual(f === after ? ['skipped'] : []);
    }
    // The pack stored before the erasure held the payload: it went with it.
    expect((await call('GET', `/v2/audit/packs/${packBeforeId}`)).status).toBe(404);
    expect(fs.existsSync(path.join(srv.dataDir, 'packs', `${packBeforeId}.json`))).toBe(false);
  });

  it('v1: an evt_ event erases the same way; its v1 proof and the erasure event’s v1 proof verify', async () => {
    const v1 = await call('POST', '/v1/sdk/events', { source_ref: 'v1-case', payload: { who: V1_MARKER } }, { 'idempotency-key': idemKey() });
    expect(v1.status, v1.text).toBe(201);
    const r = await call('DELETE', `/v2/events/${v1.body.id}/payload`, { reason: REASON }, { 'idempotency-key': idemKey() });
    expect(r.status, r.text).toBe(200);
    expect(r.body.erased_event_id).toBe(`sev_${v1.body.id.slice(4)}`);
    expect(occurrences(srv.dataDir, V1_MARKER)).toBe(0);
    const erasureV1Id = `evt_${r.body.erasure.stream_event_id.slice(4)}`;
    for (const id of [v1.body.id, erasureV1Id]) {
      const proof = await waitFor(async () => {
        const p = await call('GET', `/v1/events/${id}/proof`);
        return p.status === 200 && p.body.inclusion ? p.body : undefined;
      }, 30_000);
      if (id === v1.body.id) expect(proof.event).toMatchObject({ payload: null, salt: null, erased: r.body.erased });
      else expect(proof.event.payload.payload.event_id).toBe(r.body.erased_event_id);
      const rep = await anon('POST', '/v1/public/verify', proof);
      expect(rep.body.problems).toEqual([]);
      expect(rep.body.ok).toBe(true);
    }
  }, 60_000);

  it('two concurrent erasures of one event: one 200, one 409 ALREADY_ERASED, and only one erasure event in the stream', async () => {
    const s = (await call('POST', '/v2/streams', { use_case: 'erasure-race' }, { 'idempotency-key': idemKey() })).body.stream_id;
    const ev = await call('POST', `/v2/streams/${s}/events`, { source_ref: 'race', event_type: 'note', payload: { v: 1 } }, { 'idempotency-key': idemKey() });
    const id = ev.body.stream_event_id;
    const answers = await Promise.all(
      [1, 2, 3].map((i) => call('DELETE', `/v2/events/${id}/payload`, { reason: `race ${i}` }, { 'idempotency-key': idemKey() })),
    );
    expect(answers.map((a) => a.status).sort()).toEqual([200, 409, 409]);
    for (const a of answers.filter((x) => x.status === 409)) expect(a.body.error.code).toBe('ALREADY_ERASED');
    const list = (await call('GET', `/v2/streams/${s}/events`)).body.events;
    expect(list.map((e: any) => e.event_type)).toEqual(['note', 'proofstream.erasure']);
    expect(list[0].erased.erasure_event_id).toBe(list[1].stream_event_id);
  });

  // About SQLite's pages and WAL checkpoints; PostgreSQL's live rows are checked by the test above.
  it.skipIf(pgMode)('a payload written before a thousand later rows (many pages) leaves no copy behind either', async () => {
    const s = (await call('POST', '/v2/streams', { use_case: 'erasure-splits' }, { 'idempotency-key': idemKey() })).body.stream_id;
    const marker = `SPLIT-ERASE-ME-${process.pid}-${Date.now()}-QJXZ`;
    const first = await call('POST', `/v2/streams/${s}/events`, { source_ref: 'victim', event_type: 'note', payload: { who: marker } }, { 'idempotency-key': idemKey() });
    expect(first.status).toBe(201);
    // ~400 KB of later rows: the table grows over many pages (and the WAL over many checkpoints) after the victim.
    for (let b = 0; b < 4; b++) {
      const events = Array.from({ length: 250 }, (_, i) => ({ source_ref: `filler-${b}-${i}`, event_type: 'note', payload: { pad: 'p'.repeat(200 + ((i * 37) % 400)) } }));
      expect((await call('POST', `/v2/streams/${s}/events/batch`, { events }, { 'idempotency-key': idemKey() })).status).toBe(201);
    }
    expect(occurrences(srv.dataDir, marker)).toBeGreaterThan(0);
    const r = await call('DELETE', `/v2/events/${first.body.stream_event_id}/payload`, { reason: REASON }, { 'idempotency-key': idemKey() });
    expect(r.status, r.text).toBe(200);
    expect(occurrences(srv.dataDir, marker)).toBe(0);
  }, 60_000);

  // SQLite's WAL checkpoint held back by a reader: PostgreSQL has no such step (and no secure_delete to finish).
  it.skipIf(pgMode)('a reader of another connection holding the WAL: the erasure answers, says so in the log, and the next erasure finishes the job', async () => {
    const s = (await call('POST', '/v2/streams', { use_case: 'erasure-reader' }, { 'idempotency-key': idemKey() })).body.stream_id;
    const marker = `READER-ERASE-ME-${process.pid}-${Date.now()}-KQZJ`;
    const batch = [
      { source_ref: 'held', event_type: 'note', payload: { who: marker } },
      { source_ref: 'other', event_type: 'note', payload: { n: 1 } },
    ];
    const appended = (await call('POST', `/v2/streams/${s}/events/batch`, { events: batch }, { 'idempotency-key': idemKey() })).body.receipts;
    // A read transaction on its own connection (what `proofstream check` or a backup is), opened on the WAL as it is.
    const reader = openLedgerDb(srv.dataDir, 'proofstream.db', { readonly: true });
    try {
      reader.exec('BEGIN');
      reader.prepare('SELECT count(*) FROM events').pluck().get();
      const r = await call('DELETE', `/v2/events/${appended[0].stream_event_id}/payload`, { reason: REASON }, { 'idempotency-key': idemKey() });
      expect(r.status, r.text).toBe(200);
      await waitFor(async () => (srv.output().includes('erasure_wal_busy') ? true : undefined));
      reader.exec('COMMIT');
    } finally {
      reader.close();
    }
    const next = await call('DELETE', `/v2/events/${appended[1].stream_event_id}/payload`, { reason: REASON }, { 'idempotency-key': idemKey() });
    expect(next.status, next.text).toBe(200);
    expect(occurrences(srv.dataDir, marker)).toBe(0);
  });

  it('both routes are in /openapi.json with their schemas', async () => {
    const doc = (await anon('GET', '/openapi.json')).body;
    const del = doc.paths['/v2/events/{eventId}/payload'].delete;
    expect(Object.keys(del.responses)).toEqual(expect.arrayContaining(['200', '400', '403', '404', '409', '413', '422']));
    expect(del.requestBody.content['application/json'].schema.$ref).toBe('#/components/schemas/ErasureInput');
    expect(doc.components.schemas.ErasureInput.properties.reason).toMatchObject({ type: 'string', minLength: 1, maxLength: 500 });
    expect(doc.paths['/v2/events/{eventId}'].get).toBeDefined();
    // StoredEvent extends Receipt (an allOf): `erased` is among its own members, a reference to Erased.
    expect(JSON.stringify(doc.components.schemas.StoredEvent)).toMatch(/"erased":\{[^}]*"\$ref":"#\/components\/schemas\/Erased"/);
    expect(doc.components.schemas.Erased.required).toEqual(['at', 'reason', 'erasure_event_id']);
  });

  it('`proofstream check --deep` is clean after erasures', async () => {
    // The erasures of the tests above are in the file being checked (v2 and v1 streams, the race, the reader).
    const db = openLedgerDb(srv.dataDir, 'proofstream.db', { readonly: true });
    try {
      // three fewer on PostgreSQL: the SQLite-only tests above (many pages: one erasure; the WAL reader: two) do not run there
      expect(db.prepare('SELECT count(*) FROM event_erasures').pluck().get()).toBe(pgMode ? 3 : 6);
    } finally {
      db.close();
    }
    if (pgMode) {
      // `proofstream check` reads SQLite files only: the same deep check, in-process on the server's database.
      expect(deepCheck(srv.dataDir)).toMatchObject({ ok: true, deep: true, problems: [] });
      return;
    }
    const r = await cli(['check', '--deep', '--json'], { PROOFSTREAM_DATA_DIR: srv.dataDir });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, deep: true, problems: [] });
  });

  it('`check --deep` names an erasure row that no longer matches its erasure event', async () => {
    const problem = {
      table: 'event_erasures',
      row: receipts[1].stream_event_id,
      stream_id: streamId,
      seq_no: 2,
      problem: `the erasure record in its erasure event ${erasureAnswer.erasure.stream_event_id} does not match it and the erased event`,
    };
    if (pgMode) {
      // No `backup` or `check` CLI on PostgreSQL: alter the row in place (the last test of this server) and check in-process.
      const db = openLedgerDb(srv.dataDir);
      try {
        expect(db.prepare('UPDATE "event_erasures" SET "reason" = ? WHERE "event_id" = ?').run('something else', receipts[1].stream_event_id).changes).toBe(1);
      } finally {
        db.close();
      }
      const report = deepCheck(srv.dataDir);
      expect(report.ok).toBe(false);
      expect(report.problems).toEqual([problem]);
      return;
    }
    const copy = path.join(dir, 'copy.db');
    const b = await cli(['backup', copy], { PROOFSTREAM_DATA_DIR: srv.dataDir });
    expect(b.code, b.stderr).toBe(0);
    const db = new Database(copy);
    db.prepare('UPDATE "event_erasures" SET "reason" = ? WHERE "event_id" = ?').run('something else', receipts[1].stream_event_id);
    db.close();
    const r = await cli(['check', '--deep', '--json', '--db', copy]);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    const report = JSON.parse(r.stdout);
    expect(report.problems).toEqual([problem]);
  });
});
