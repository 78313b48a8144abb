// The rollback guard (src/ledger/rollback-guard.ts) against real server processes and real files: a database put
// back behind what the ledger already published (lost -wal, old backup, both that and a lost high-water file) must
// not start; the operator override must; ordinary restarts (clean, after SIGKILL) must be unaffected.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { Ledger } from '../src/ledger/ledger.js';
import { RollbackError } from '../src/ledger/rollback-guard.js';
import { loadOrCreateSigner } from '../src/ledger/signer.js';
import { encodeVerifierKey } from '../src/protocol/note.js';
import { openTestLedger } from './helpers/ledger.js';
import { BIN, client, idemKey, newKey, spawnListening, startServer, tempDir, type RunningServer } from './helpers/server.js';
import { waitFor } from './helpers/wait.js';
import { startWitness, type RunningWitnessProcess } from './helpers/witness.js';
import { copyLedger, databaseFor, knownDatabaseFor, openLedgerDb, pgMode } from './helpers/pg-mode.js';

const dirs: string[] = [];
const running: Array<{ stop(): Promise<void> }> = [];
afterAll(async () => {
  await Promise.all(running.map((p) => p.stop()));
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function newDataDir(): string {
  const d = tempDir('ps-rollback-');
  dirs.push(d);
  return d;
}

// Windows of 50 events: 150 appended events make three checkpoints quickly.
const WINDOW_ENV = { PROOFSTREAM_WINDOW_MAX_EVENTS: '50', PROOFSTREAM_WINDOW_MAX_AGE_MS: '100' };

async function start(dataDir: string, key: string, env: Record<string, string> = {}): Promise<RunningServer> {
  const s = await startServer({ dataDir, key, env: { ...WINDOW_ENV, ...env } });
  running.push(s);
  return s;
}

/** On PostgreSQL the data directory's database (startServer sets it; the raw spawns here need it too). */
const dbEnv = (dataDir: string): Record<string, string> => (knownDatabaseFor(dataDir) ? { DATABASE_URL: knownDatabaseFor(dataDir)! } : {});

/**
 * A backup of a stopped ledger's database, to be restored later in its place: the .db file on SQLite; on PostgreSQL
 * a copy of the database (CREATE DATABASE … TEMPLATE), "restored" by pointing DATABASE_URL at it.
 */
function takeBackup(dataDir: string, dir: string): { restore(): Record<string, string> } {
  if (pgMode) {
    const url = knownDatabaseFor(copyLedger(dataDir, path.join(dir, 'backup')))!;
    return { restore: () => ({ DATABASE_URL: url }) };
  }
  const backup = path.join(dir, 'backup.db');
  fs.copyFileSync(dbFile(dataDir), backup);
  return {
    restore() {
      for (const f of ['', '-wal', '-shm']) fs.rmSync(`${dbFile(dataDir)}${f}`, { force: true });
      fs.copyFileSync(backup, dbFile(dataDir));
      return {};
    },
  };
}

/** `proofstream serve` expected to refuse: its exit code and output (fails the test if it starts listening). */
function serveExpectingExit(dataDir: string, env: Record<string, string> = {}, args: string[] = []): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [BIN, 'serve', ...args], {
      env: { ...process.env, HOST: '127.0.0.1', PORT: '0', PROOFSTREAM_DATA_DIR: dataDir, ...dbEnv(dataDir), ...WINDOW_ENV, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const t = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`serve did not exit:\n${out}`));
    }, 30_000);
    const onData = (d: Buffer) => {
      out += d;
      if (/listening on http/.test(out)) {
        clearTimeout(t);
        proc.kill('SIGKILL');
        reject(new Error(`serve started on a rolled-back database:\n${out}`));
      }
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    proc.once('exit', (code) => {
      clearTimeout(t);
      resolve({ code, out });
    });
  });
}

/** `proofstream serve <args>` listening (with the bootstrap key), e.g. with --allow-rollback. */
async function startWith(dataDir: string, key: string, env: Record<string, string>, args: string[]): Promise<RunningServer> {
  const p = await spawnListening('server', [BIN, 'serve', ...args], {
    ...process.env,
    HOST: '127.0.0.1',
    PORT: '0',
    PROOFSTREAM_DATA_DIR: dataDir,
    PROOFSTREAM_BOOTSTRAP_KEY: key,
    ...dbEnv(dataDir),
    ...WINDOW_ENV,
    ...env,
  });
  running.push(p);
  return { ...p, url: `http://127.0.0.1:${p.port}`, dataDir, key };
}

const dbFile = (dataDir: string) => path.join(dataDir, 'proofstream.db');
const highwaterFile = (dataDir: string) => `${dbFile(dataDir)}.highwater`;

function readHighwater(dataDir: string): any {
  try {
    return JSON.parse(fs.readFileSync(highwaterFile(dataDir), 'utf8'));
  } catch {
    return undefined;
  }
}

/** Appends n events in batches of 50 (one commit each); returns the receipts. */
async function append(srv: RunningServer, streamId: string, n: number, tag: string): Promise<any[]> {
  const call = client(srv.url, srv.key);
  const receipts: any[] = [];
  for (let i = 0; i < n; i += 50) {
    const events = Array.from({ length: Math.min(50, n - i) }, (_, k) => ({ source_ref: `${tag}-${i + k}`, event_type: 'rollback', payload: { i: i + k } }));
    const r = await call('POST', `/v2/streams/${streamId}/events/batch`, { events }, { 'idempotency-key': idemKey() });
    expect(r.status).toBe(201);
    receipts.push(...r.body.receipts);
  }
  return receipts;
}

async function newStream(srv: RunningServer): Promise<string> {
  const r = await client(srv.url, srv.key)('POST', '/v2/streams', { use_case: 'rollback guard' }, { 'idempotency-key': idemKey() });
  expect(r.status).toBe(201);
  return r.body.stream_id;
}

/** Waits until the high-water record holds a checkpoint of `size` for the stream (it is written after the seal commits). */
function waitForRecordedCheckpoint(dataDir: string, streamId: string, size: number): Promise<any> {
  return waitFor(async () => {
    const s = readHighwater(dataDir)?.streams?.[streamId];
    return s && s.checkpoint_size >= size ? s : undefined;
  });
}

function expectRefusal(r: { code: number | null; out: string }, ...mentions: string[]) {
  expect(r.code, r.out).toBe(3);
  expect(r.out).toContain('refusing to start');
  expect(r.out).toContain('--allow-rollback');
  expect(r.out).toContain('PROOFSTREAM_ALLOW_ROLLBACK=1');
  for (const m of mentions) expect(r.out).toContain(m);
  expect(r.out).not.toMatch(/^\s+at /m); // no stack trace
}

describe('rollback guard', () => {
  // SQLite's -wal file: PostgreSQL's own WAL is the server's, out of a node's reach (its equivalent, a database behind
  // the record, is the PostgreSQL test below).
  it.skipIf(pgMode)('a lost -wal after SIGKILL: start is refused (exit 3, naming the stream); --allow-rollback starts and rewrites the record', async () => {
    const dataDir = newDataDir();
    const key = newKey();
    let srv = await start(dataDir, key);
    const streamId = await newStream(srv);
    const receipts = await append(srv, streamId, 100, 'wal');
    await waitForRecordedCheckpoint(dataDir, streamId, 100);
    // A clean stop checkpoints the WAL into the main file: the database file alone now holds 100 events.
    await srv.stop();
    srv = await start(dataDir, key);
    receipts.push(...(await append(srv, streamId, 50, 'wal2')));
    const rec = await waitForRecordedCheckpoint(dataDir, streamId, 150);
    expect(rec.head_seq_no).toBe(150);
    expect(rec.head_hash).toBe(receipts[149].stream_head_hash);
    expect((await client(srv.url, srv.key)('GET', `/v2/receipts/${receipts[149].stream_event_id}`)).status).toBe(200);
    // SIGKILL: a clean stop would checkpoint the WAL into the main file and the -wal would hold nothing.
    await srv.kill();
    expect(fs.statSync(`${dbFile(dataDir)}-wal`).size).toBeGreaterThan(0);
    fs.rmSync(`${dbFile(dataDir)}-wal`);

    const refused = await serveExpectingExit(dataDir, { PROOFSTREAM_BOOTSTRAP_KEY: key });
    if (process.env.SHOW_REFUSAL) console.log(refused.out);
    expectRefusal(refused, streamId, 'a checkpoint of size 150', 'its latest checkpoint at size 100', 'receipts up to seq_no 150', 'head seq_no 100', '-wal');
    // Refusing changed nothing: the record still says what was published.
    expect(readHighwater(dataDir).streams[streamId].checkpoint_size).toBe(150);

    // The override: starts, says loudly what it accepted, and the record now describes the database as it is.
    srv = await startWith(dataDir, key, {}, ['--allow-rollback']);
    expect(srv.output()).toContain('ROLLBACK ACCEPTED');
    expect(srv.output()).toContain(streamId);
    const call = client(srv.url, srv.key);
    expect((await call('GET', `/v2/receipts/${receipts[99].stream_event_id}`)).status).toBe(200);
    expect((await call('GET', `/v2/receipts/${receipts[100].stream_event_id}`)).status).toBe(404);
    expect(readHighwater(dataDir).streams[streamId]).toMatchObject({ head_seq_no: 100, checkpoint_size: 100 });
    // What the guard exists to prevent, now accepted by the operator: seq_no 101 again, with another hash.
    const again = await append(srv, streamId, 1, 'after');
    expect(again[0].seq_no).toBe(101);
    expect(again[0].event_hash).not.toBe(receipts[100].event_hash);
    await srv.stop();
    // Accepted once: the next plain start goes through.
    srv = await start(dataDir, key);
    expect(srv.output()).not.toContain('ROLLBACK');
    await srv.stop();
  }, 120_000);

  it.skipIf(pgMode)('an old backup restored (and a missing database): refused; PROOFSTREAM_ALLOW_ROLLBACK=1 starts', async () => {
    const dataDir = newDataDir();
    const key = newKey();
    let srv = await start(dataDir, key);
    const streamId = await newStream(srv);
    await append(srv, streamId, 50, 'old');
    await waitForRecordedCheckpoint(dataDir, streamId, 50);
    await srv.stop(); // clean: the backup is the .db file alone
    const backup = path.join(dataDir, 'backup.db');
    fs.copyFileSync(dbFile(dataDir), backup);
    srv = await start(dataDir, key);
    await append(srv, streamId, 100, 'new');
    await waitForRecordedCheckpoint(dataDir, streamId, 150);
    await srv.stop();

    // The database file gone altogether (the record stays): refused, and nothing was created in its place.
    const moved = path.join(dataDir, 'current.db');
    fs.renameSync(dbFile(dataDir), moved);
    expectRefusal(await serveExpectingExit(dataDir, { PROOFSTREAM_BOOTSTRAP_KEY: key }), streamId, 'the database file does not exist');
    expect(fs.existsSync(dbFile(dataDir))).toBe(false);

    // The old backup restored in its place.
    fs.rmSync(`${dbFile(dataDir)}-wal`, { force: true });
    fs.rmSync(`${dbFile(dataDir)}-shm`, { force: true });
    fs.copyFileSync(backup, dbFile(dataDir));
    expectRefusal(await serveExpectingExit(dataDir, { PROOFSTREAM_BOOTSTRAP_KEY: key }), streamId, 'a checkpoint of size 150', 'its latest checkpoint at size 50');

    srv = await start(dataDir, key, { PROOFSTREAM_ALLOW_ROLLBACK: '1' });
    expect(srv.output()).toContain('ROLLBACK ACCEPTED');
    await srv.stop();
    expect(readHighwater(dataDir).streams[streamId]).toMatchObject({ head_seq_no: 50, checkpoint_size: 50 });
  }, 120_000);

  it.runIf(pgMode)('PostgreSQL: an old copy of the database, or an empty one, behind the record: refused; PROOFSTREAM_ALLOW_ROLLBACK=1 starts', async () => {
    const dir = newDataDir();
    const dataDir = path.join(dir, 'ledger');
    const key = newKey();
    let srv = await start(dataDir, key);
    const streamId = await newStream(srv);
    await append(srv, streamId, 50, 'old');
    await waitForRecordedCheckpoint(dataDir, streamId, 50);
    await srv.stop();
    const backup = takeBackup(dataDir, dir);
    srv = await start(dataDir, key);
    await append(srv, streamId, 100, 'new');
    await waitForRecordedCheckpoint(dataDir, streamId, 150);
    await srv.stop();

    // An empty database (migrated, no streams) named by DATABASE_URL instead: refused, and nothing written to it.
    const emptyDir = newDataDir();
    const empty = { DATABASE_URL: databaseFor(emptyDir)! };
    expectRefusal(await serveExpectingExit(dataDir, { PROOFSTREAM_BOOTSTRAP_KEY: key, ...empty }), streamId, 'no streams at all');
    const db = openLedgerDb(emptyDir);
    try {
      expect(db.prepare('SELECT count(*) FROM streams').pluck().get()).toBe(0);
      expect(db.prepare('SELECT count(*) FROM api_keys').pluck().get()).toBe(0);
    } finally {
      db.close();
    }

    // The old copy in its place.
    const restored = backup.restore();
    expectRefusal(await serveExpectingExit(dataDir, { PROOFSTREAM_BOOTSTRAP_KEY: key, ...restored }), streamId, 'a checkpoint of size 150', 'its latest checkpoint at size 50');
    expect(readHighwater(dataDir).streams[streamId].checkpoint_size).toBe(150);

    srv = await start(dataDir, key, { PROOFSTREAM_ALLOW_ROLLBACK: '1', ...restored });
    expect(srv.output()).toContain('ROLLBACK ACCEPTED');
    await srv.stop();
    expect(readHighwater(dataDir).streams[streamId]).toMatchObject({ head_seq_no: 50, checkpoint_size: 50 });
    // Accepted once: the next plain start on that database goes through.
    srv = await start(dataDir, key, restored);
    expect(srv.output()).not.toContain('ROLLBACK');
    await srv.stop();
  }, 120_000);

  it('with the high-water record lost too, a witness that cosigned more refuses the start; an unreachable one only warns', async () => {
    const dir = newDataDir();
    const dataDir = path.join(dir, 'ledger');
    const key = newKey();
    const signer = loadOrCreateSigner(path.join(dataDir, 'signing-key.pem'));
    const logs = [{ origin: 'proofstream.localhost/*', vkeys: [encodeVerifierKey('proofstream.localhost/*', signer.publicKey)] }];
    const w = await startWitness({ logs, dir: path.join(dir, 'w') });
    running.push(w);
    const env: Record<string, string> = {
      PROOFSTREAM_WITNESSES: JSON.stringify([{ name: w.name, url: w.url, vkey: w.vkey }]),
      PROOFSTREAM_RETRY_MAX_MS: '200',
      PROOFSTREAM_START_WITNESS_TIMEOUT_MS: '3000',
    };
    const cosigned = (srv: RunningServer, streamId: string, size: number) =>
      waitFor(async () => {
        const r = await client(srv.url, srv.key)('GET', '/v2/witnesses');
        const s = r.body.witnesses[0].streams.find((x: any) => x.stream_id === streamId);
        return s && s.last_cosigned_size >= size ? true : undefined;
      });

    let srv = await start(dataDir, key, env);
    const streamId = await newStream(srv);
    await append(srv, streamId, 50, 'a');
    await cosigned(srv, streamId, 50);
    await srv.stop();
    const backup = takeBackup(dataDir, dir);
    // A restart with the witness up and nothing tampered with: its check passes.
    srv = await start(dataDir, key, env);
    await append(srv, streamId, 100, 'b');
    await cosigned(srv, streamId, 150);
    await srv.kill();

    Object.assign(env, backup.restore()); // every later start runs on the restored database
    fs.rmSync(highwaterFile(dataDir));
    const refused = await serveExpectingExit(dataDir, { PROOFSTREAM_BOOTSTRAP_KEY: key, ...env });
    expectRefusal(refused, streamId, `witness ${w.name}`, 'a checkpoint of size 150, which the witness cosigned', 'its latest checkpoint at size 50');
    // The witness's refusal happens before the database is opened for work: no record was created from it.
    expect(fs.existsSync(highwaterFile(dataDir))).toBe(false);

    // Accepted once (the witness cannot forget its size, so the record remembers the acceptance): later starts go on.
    srv = await startWith(dataDir, key, env, ['--allow-rollback']);
    expect(srv.output()).toContain('ROLLBACK ACCEPTED');
    await srv.stop();
    expect(readHighwater(dataDir).witness_accepted).toEqual({ [streamId]: { [w.name]: 150 } });
    srv = await start(dataDir, key, env);
    expect(srv.output()).not.toContain('ROLLBACK');
    await srv.stop();

    // Decision: a witness that cannot be asked delays nothing beyond its timeout; start goes on with a warning.
    fs.rmSync(highwaterFile(dataDir));
    await w.stop();
    srv = await start(dataDir, key, env);
    expect(srv.output()).toMatch(/warning: witness .* could not be asked at start/);
    await srv.stop();
  }, 150_000);

  it('ordinary restarts still start: clean stop, SIGKILL without tampering, and a first start without a record', async () => {
    const dataDir = newDataDir();
    const key = newKey();
    let srv = await start(dataDir, key);
    const streamId = await newStream(srv);
    await append(srv, streamId, 150, 'x');
    await waitForRecordedCheckpoint(dataDir, streamId, 150);
    await srv.stop();
    srv = await start(dataDir, key);
    // Appends that may still be unsealed (and the record behind them) when the process dies.
    const tail = await append(srv, streamId, 60, 'y');
    await srv.kill();
    srv = await start(dataDir, key);
    expect(srv.output()).not.toContain('ROLLBACK');
    expect((await client(srv.url, srv.key)('GET', `/v2/receipts/${tail[59].stream_event_id}`)).status).toBe(200);
    await waitForRecordedCheckpoint(dataDir, streamId, 210);
    await srv.stop();
    // An existing database without a record (the first start after an upgrade): created, and said so.
    fs.rmSync(highwaterFile(dataDir));
    srv = await start(dataDir, key);
    expect(srv.output()).toContain('first start after an upgrade');
    expect(readHighwater(dataDir).streams[streamId]).toMatchObject({ head_seq_no: 210, checkpoint_size: 210 });
    await srv.stop();
  }, 120_000);
});

describe('the high-water check (in-process, real SQLite files)', () => {
  it('refuses a different root or head hash at the recorded position and an unreadable record; the override rewrites it', async () => {
    const t = openTestLedger(10, 86_400_000, 'ps-highwater-');
    dirs.push(t.dataDir);
    const sid = t.stream();
    await t.ledger.append(t.principal, sid, Array.from({ length: 10 }, (_, i) => ({ source_ref: `r${i}`, event_type: 't', payload: { i } })), undefined, (r) => r);
    await waitFor(async () => (t.ledger.store.streams.get(sid)!.sealedSeqNo === 10 ? true : undefined));
    const config = t.ledger.config;
    t.ledger.close();
    const file = `${t.dbPath}.highwater`;
    const rec = JSON.parse(fs.readFileSync(file, 'utf8'));
    expect(rec.streams[sid]).toMatchObject({ head_seq_no: 10, checkpoint_size: 10 });
    const refusal = (text: string): string => {
      fs.writeFileSync(file, text);
      try {
        Ledger.open(config).close();
      } catch (e) {
        expect(e).toBeInstanceOf(RollbackError);
        return (e as Error).message;
      }
      throw new Error('opened');
    };
    const withEntry = (patch: object) => JSON.stringify({ ...rec, streams: { [sid]: { ...rec.streams[sid], ...patch } } });

    // Another tree (a fork, or another database under this one's name) at the published size.
    expect(refusal(withEntry({ checkpoint_root: 'ab'.repeat(32) }))).toContain(`stream ${sid} (high-water): published a checkpoint of size 10 with root abababab`);
    expect(refusal(withEntry({ head_hash: 'cd'.repeat(32) }))).toContain('published seq_no 10 with head hash cdcdcdcd');
    expect(refusal('{"format":"proofstream-highwater/1","streams":')).toContain('unreadable');

    const accepted = Ledger.open({ ...config, allowRollback: true });
    accepted.close();
    expect(JSON.parse(fs.readFileSync(file, 'utf8')).streams).toEqual(rec.streams);
    Ledger.open(config).close();
  });

  it('PROOFSTREAM_ALLOW_ROLLBACK takes 1/true or 0/false and refuses anything else', () => {
    expect(loadConfig({ PROOFSTREAM_ALLOW_ROLLBACK: '1' }).allowRollback).toBe(true);
    expect(loadConfig({ PROOFSTREAM_ALLOW_ROLLBACK: 'true' }).allowRollback).toBe(true);
    expect(loadConfig({ PROOFSTREAM_ALLOW_ROLLBACK: '0' }).allowRollback).toBe(false);
    expect(loadConfig({}).allowRollback).toBe(false);
    expect(() => loadConfig({ PROOFSTREAM_ALLOW_ROLLBACK: 'yes' })).toThrow(/PROOFSTREAM_ALLOW_ROLLBACK must be 1\/true or 0\/false/);
  });
});
