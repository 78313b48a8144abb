// The PostgreSQL connection under the store (src/store/pg/): synchronous calls through the worker, values as
// better-sqlite3 gives them, errors with the codes the engine tells apart, and the writer lock that serializes
// write transactions across connections (nodes) as SQLite's single writer does.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgDatabase } from '../src/store/pg/database.js';
import { Store } from '../src/store/index.js';
import { postgresAvailable, startPostgres, type RunningPostgres } from './helpers/postgres.js';
import { BIN, client, idemKey, newKey, spawnListening, tempDir } from './helpers/server.js';

const available = postgresAvailable();
if (!available) console.warn('test/pg-database.test.ts: PostgreSQL half SKIPPED (no PostgreSQL server binaries)');

describe.skipIf(!available)('PgDatabase', () => {
  let pg: RunningPostgres;
  const dbUrl = (name: string) => {
    const u = new URL(pg.url);
    u.pathname = `/${name}`;
    return u.toString();
  };
  let url: string;
  beforeAll(async () => {
    pg = await startPostgres();
    const admin = new PgDatabase(pg.url);
    admin.exec(`CREATE DATABASE "t1" TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C'`);
    admin.exec(`CREATE DATABASE "en" TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LC_COLLATE 'C' LC_CTYPE 'C'`);
    admin.close();
    url = dbUrl('t1');
  });
  afterAll(async () => {
    await pg?.stop();
  });

  it('answers synchronously with numbers for bigint, Buffers for bytea, and better-sqlite3 result shapes', () => {
    const db = new PgDatabase(url);
    db.exec('CREATE TABLE "v" ("id" text PRIMARY KEY, "n" bigint, "b" bytea)');
    const ins = db.prepare('INSERT INTO "v" ("id", "n", "b") VALUES (?, ?, ?)');
    expect(ins.run('a', 2 ** 53 - 1, Buffer.from([0, 255]))).toEqual({ changes: 1, lastInsertRowid: 0 });
    const row = db.prepare('SELECT "n", "b" FROM "v" WHERE "id" = ?').get('a') as { n: number; b: Buffer };
    expect(row.n).toBe(2 ** 53 - 1);
    expect(Buffer.isBuffer(row.b) && row.b.equals(Buffer.from([0, 255]))).toBe(true);
    expect(db.prepare('SELECT "id", "n" FROM "v"').raw().all()).toEqual([['a', 2 ** 53 - 1]]);
    expect(db.prepare('SELECT count(*) FROM "v"').pluck().get()).toBe(1);
    expect(db.prepare('SELECT "id" FROM "v" WHERE "id" = ?').get('none')).toBeUndefined();
    // Beyond 2^53 a number would round: it must fail instead.
    db.prepare('INSERT INTO "v" ("id", "n") VALUES (?, ?)').run('big', '9007199254740993');
    expect(() => db.prepare('SELECT "n" FROM "v" WHERE "id" = ?').get('big')).toThrow(/beyond 2\^53/);
    db.close();
  });

  it('maps a unique violation to the code the engine recognises, and keeps the transaction usable after a savepoint rollback', () => {
    const db = new PgDatabase(url);
    db.exec('CREATE TABLE "u" ("id" text PRIMARY KEY)');
    db.exec('BEGIN IMMEDIATE');
    expect(db.inTransaction).toBe(true);
    db.prepare('INSERT INTO "u" ("id") VALUES (?)').run('x');
    db.prepare('SAVEPOINT "sp"').run();
    let err: unknown;
    try {
      db.prepare('INSERT INTO "u" ("id") VALUES (?)').run('x');
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'SQLITE_CONSTRAINT_UNIQUE', sqlState: '23505' });
    db.prepare('ROLLBACK TO "sp"').run();
    db.prepare('RELEASE "sp"').run();
    db.prepare('INSERT INTO "u" ("id") VALUES (?)').run('y');
    db.exec('COMMIT');
    expect(db.inTransaction).toBe(false);
    expect(db.prepare('SELECT "id" FROM "u" ORDER BY "id"').pluck().all()).toEqual(['x', 'y']);
    db.close();
  });

  it('serializes write transactions across connections: a second writer waits for the lock, then fails after lock_timeout', () => {
    const a = new PgDatabase(url);
    const b = new PgDatabase(url);
    a.exec('BEGIN IMMEDIATE');
    const started = Date.now();
    let err: unknown;
    try {
      b.exec('BEGIN IMMEDIATE');
    } catch (e) {
      err = e;
    }
    // b blocked (this thread too: the call is synchronous) until lock_timeout, then got SQLite's "busy".
    expect(Date.now() - started).toBeGreaterThanOrEqual(4000);
    expect(err).toMatchObject({ code: 'SQLITE_BUSY', sqlState: '55P03' });
    expect(b.inTransaction).toBe(false);
    a.exec('COMMIT');
    b.exec('BEGIN IMMEDIATE');
    b.exec('COMMIT');
    a.close();
    b.close();
  });

  it('deferred writes reach the database before the next read, fail inside their own savepoint, and vanish with a rollback', () => {
    const db = new PgDatabase(url);
    db.exec('CREATE TABLE "d" ("id" text PRIMARY KEY, "n" bigint)');
    const ins = db.prepare('INSERT INTO "d" ("id", "n") VALUES (?, ?)');
    const count = db.prepare('SELECT count(*) FROM "d"').pluck();
    db.exec('BEGIN IMMEDIATE');
    // 70,000 parameters' worth: more than one multi-row INSERT may hold (65,535).
    for (let i = 0; i < 35_000; i++) ins.runDeferred(`k${i}`, i);
    expect(count.get()).toBe(35_000);
    db.prepare('SAVEPOINT "sp"').run();
    ins.runDeferred('k1', 1); // taken: fails when sent, i.e. at the next statement
    expect(() => db.prepare('RELEASE "sp"').run()).toThrow(expect.objectContaining({ code: 'SQLITE_CONSTRAINT_UNIQUE' }));
    db.prepare('ROLLBACK TO "sp"').run();
    db.prepare('RELEASE "sp"').run();
    db.prepare('SAVEPOINT "sp"').run();
    ins.runDeferred('gone', 0);
    db.prepare('ROLLBACK TO "sp"').run(); // the queued insert is dropped, never sent
    db.prepare('RELEASE "sp"').run();
    ins.runDeferred('last', 0);
    db.exec('COMMIT');
    expect(count.get()).toBe(35_001);
    expect(db.prepare('SELECT "id" FROM "d" WHERE "id" IN (?, ?)').pluck().all('gone', 'last')).toEqual(['last']);
    // Outside a transaction a deferred write is an ordinary one.
    ins.runDeferred('auto', 0);
    expect(db.prepare('SELECT count(*) FROM "d" WHERE "id" = ?').pluck().get('auto')).toBe(1);
    db.close();
  });

  it('a session lease is held by one connection until it closes, then another takes it', () => {
    const a = new PgDatabase(url);
    const b = new PgDatabase(url);
    expect(a.tryLease('job')).toBe(true);
    expect(a.tryLease('job')).toBe(true); // re-entrant for its holder
    expect(b.tryLease('job')).toBe(false);
    expect(b.tryLease('other')).toBe(true);
    a.close();
    expect(b.tryLease('job')).toBe(true);
    b.close();
  });

  it('re-establishes a connection the server ended, with its session settings, after failing the statement that found it broken', () => {
    const db = new PgDatabase(url);
    const admin = new PgDatabase(url);
    const pid = db.prepare('SELECT pg_backend_pid()').pluck().get() as number;
    db.exec('BEGIN IMMEDIATE');
    admin.prepare('SELECT pg_terminate_backend(?::int, 5000)').get(pid);
    // The transaction died with its session: the next statement fails, and the rollback after it succeeds.
    // (The first may meet the dead socket itself, before the worker has seen it close; either way it must not run
    // on a fresh session outside the transaction.)
    expect(() => db.prepare('SELECT 1').get()).toThrow();
    expect(() => db.prepare('SELECT 1').get()).toThrow(/lost inside a transaction|not queryable|Connection terminated|terminating connection/);
    db.exec('ROLLBACK');
    expect(db.prepare('SELECT pg_backend_pid()').pluck().get()).not.toBe(pid);
    // A COMMIT of a transaction lost the same way fails too (its writes are gone), and the connection recovers.
    db.exec('BEGIN IMMEDIATE');
    db.prepare('CREATE TABLE "lost" ("id" text)').run();
    admin.prepare('SELECT pg_terminate_backend(?::int, 5000)').get(db.prepare('SELECT pg_backend_pid()').pluck().get());
    expect(() => db.exec('COMMIT')).toThrow(/lost inside a transaction|not queryable|Connection terminated|terminating connection/);
    expect(db.prepare("SELECT to_regclass('lost')").pluck().get()).toBeNull();
    expect(db.prepare('SHOW lock_timeout').pluck().get()).toBe('5s');
    // and the writer lock is free again (the dead session's transaction-level lock went with it)
    admin.exec('BEGIN IMMEDIATE');
    admin.exec('COMMIT');
    db.close();
    admin.close();
  });

  it('a server whose writer lock is held by another node past lock_timeout answers 503 STORAGE_BUSY, then the retry commits once', async () => {
    const admin = new PgDatabase(pg.url);
    admin.exec(`CREATE DATABASE "srv" TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C'`);
    admin.close();
    const key = newKey();
    const srv = await spawnListening('server', [BIN, 'serve'], {
      ...process.env,
      HOST: '127.0.0.1',
      PORT: '0',
      PROOFSTREAM_DATA_DIR: tempDir(),
      PROOFSTREAM_BOOTSTRAP_KEY: key,
      DATABASE_URL: dbUrl('srv'),
    });
    try {
      const call = client(`http://127.0.0.1:${srv.port}`, key);
      const sid = (await call('POST', '/v2/streams', { use_case: 'busy' })).body.stream_id as string;
      const other = new PgDatabase(dbUrl('srv'));
      other.exec('BEGIN IMMEDIATE'); // "another node" mid-flush, for longer than the server's lock_timeout (5 s)
      const k = idemKey();
      const busy = await call('POST', `/v2/streams/${sid}/events`, { source_ref: 'b1', event_type: 't', payload: 1 }, { 'idempotency-key': k });
      other.exec('COMMIT');
      other.close();
      expect(busy.status).toBe(503);
      expect(busy.body.error.code).toBe('STORAGE_BUSY');
      expect(busy.headers.get('retry-after')).toBe('1');
      const ok = await call('POST', `/v2/streams/${sid}/events`, { source_ref: 'b1', event_type: 't', payload: 1 }, { 'idempotency-key': k });
      expect(ok.status).toBe(201);
      expect(ok.body.seq_no).toBe(1);
      expect((await call('GET', `/v2/streams/${sid}`)).body.head_seq_no).toBe(1);
    } finally {
      await srv.stop();
    }
  });

  it('refuses a database whose collation is not byte order', () => {
    expect(() => new PgDatabase(dbUrl('en'))).toThrow(/collation is icu:en-US/);
  });

  it('opens a Store on a postgres:// URL, applying drizzle-pg/ once', () => {
    const s = Store.open(url);
    expect(s.kind).toBe('postgres');
    expect(s.ping()).toBe(true);
    s.close();
    const again = Store.open(url);
    expect(again.tenancy).toBeDefined();
    again.close();
    const db = new PgDatabase(url);
    expect(db.prepare('SELECT count(*) FROM "drizzle"."__drizzle_migrations"').pluck().get()).toBeGreaterThan(0);
    db.close();
  });
});
