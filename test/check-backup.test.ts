// `proofstream check`, `backup` and `restore` against real server processes and real SQLite files: a backup taken
// while another client appends restores to a ledger whose deep check is clean and that starts; the deep check names
// each kind of damage edited into the file with SQLite directly; restore refuses a database in use and a backup
// behind what was published (unless --force); the light check runs at start (warns, or refuses when strict).
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, client, idemKey, newKey, startServer, tempDir, type RunningServer } from './helpers/server.js';
import { waitFor } from './helpers/wait.js';

const dirs: string[] = [];
const running: RunningServer[] = [];
afterAll(async () => {
  await Promise.all(running.map((p) => p.stop()));
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});
const newDir = () => {
  const d = tempDir('ps-check-');
  dirs.push(d);
  return d;
};

// Windows of 50 events: checkpoints come quickly, and 300 events complete a level-0 tile.
const WINDOW_ENV = { PROOFSTREAM_WINDOW_MAX_EVENTS: '50', PROOFSTREAM_WINDOW_MAX_AGE_MS: '100' };
const dbFile = (dataDir: string) => path.join(dataDir, 'proofstream.db');

function cli(args: string[], dataDir: string, env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...process.env, PROOFSTREAM_DATA_DIR: dataDir, ...WINDOW_ENV, ...env }, maxBuffer: 64 << 20 }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code) : 0, stdout, stderr }),
    );
  });
}

async function start(dataDir: string, key: string, env: Record<string, string> = {}): Promise<RunningServer> {
  const s = await startServer({ dataDir, key, env: { ...WINDOW_ENV, ...env } });
  running.push(s);
  return s;
}

async function append(srv: RunningServer, streamId: string, n: number, tag: string): Promise<any[]> {
  const call = client(srv.url, srv.key);
  const receipts: any[] = [];
  for (let i = 0; i < n; i += 50) {
    const events = Array.from({ length: Math.min(50, n - i) }, (_, k) => ({ source_ref: `${tag}-${i + k}`, event_type: 'check', payload: { i: i + k } }));
    const r = await call('POST', `/v2/streams/${streamId}/events/batch`, { events }, { 'idempotency-key': idemKey() });
    expect(r.status, r.text).toBe(201);
    receipts.push(...r.body.receipts);
  }
  return receipts;
}

const recordOf = (dataDir: string, streamId: string): any => {
  try {
    return JSON.parse(fs.readFileSync(`${dbFile(dataDir)}.highwater`, 'utf8')).streams[streamId];
  } catch {
    return undefined;
  }
};

describe('check, backup, restore', () => {
  const key = newKey();
  let dataDir: string;
  let srv: RunningServer;
  let streamId: string;
  let backupDir: string;

  beforeAll(async () => {
    dataDir = newDir();
    backupDir = newDir();
    srv = await start(dataDir, key);
    const r = await client(srv.url, key)('POST', '/v2/streams', { use_case: 'check' }, { 'idempotency-key': idemKey() });
    streamId = r.body.stream_id;
    await append(srv, streamId, 300, 'base');
    await waitFor(async () => (recordOf(dataDir, streamId)?.checkpoint_size >= 300 ? true : undefined));
  }, 60_000);

  it('a backup taken while another client appends is 0600, carries a record not ahead of it, checks clean, restores and starts', async () => {
    let appending = true;
    let appended = 0;
    const appender = (async () => {
      while (appending) appended += (await append(srv, streamId, 50, `load-${appended}`)).length;
    })();
    await waitFor(async () => (appended >= 100 ? true : undefined));
    const file = path.join(backupDir, 'b1.db');
    const b = await cli(['backup', file], dataDir);
    const appendedAtBackupEnd = appended;
    appending = false;
    await appender;
    expect(b.code, b.stderr).toBe(0);
    expect(appended).toBeGreaterThan(100); // appends ran during the backup
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.statSync(`${file}.highwater`).mode & 0o777).toBe(0o600);
    const rec = JSON.parse(fs.readFileSync(`${file}.highwater`, 'utf8')).streams[streamId];
    const ro = new Database(file, { readonly: true });
    const backupHead = ro.prepare('SELECT head_seq_no FROM streams WHERE id = ?').pluck().get(streamId) as number;
    ro.close();
    expect(rec.head_seq_no).toBeLessThanOrEqual(backupHead);
    expect(backupHead).toBeGreaterThan(300);
    expect(backupHead).toBeLessThanOrEqual(300 + appendedAtBackupEnd + 50);

    const deep = await cli(['check', '--deep', '--json', '--db', file], dataDir);
    expect(deep.code, deep.stdout + deep.stderr).toBe(0);
    const report = JSON.parse(deep.stdout);
    expect(report).toMatchObject({ ok: true, deep: true, streams: 1, events: backupHead, problems: [] });
    expect(report.checkpoints).toBeGreaterThanOrEqual(6);

    // Restored into a fresh data directory: the backup's record comes with it and the server starts on it.
    const fresh = newDir();
    const r = await cli(['restore', file], fresh);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('deep check');
    expect(r.stdout).toContain('clean');
    expect(fs.statSync(dbFile(fresh)).mode & 0o777).toBe(0o600);
    expect(fs.existsSync(`${dbFile(fresh)}.highwater`)).toBe(true);
    const restored = await start(fresh, key);
    const ev = await client(restored.url, key)('GET', `/v2/streams/${streamId}/events?from_seq_no=${backupHead}`);
    expect(ev.status, ev.text).toBe(200);
    await restored.stop();
    expect((await cli(['check', '--deep'], fresh)).code).toBe(0);
  }, 120_000);

  it('restore is refused while the server holds the database, and changes nothing', async () => {
    const before = fs.statSync(dbFile(dataDir)).ino;
    const r = await cli(['restore', path.join(backupDir, 'b1.db'), '--force'], dataDir);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stderr).toContain('open in another process');
    expect(fs.statSync(dbFile(dataDir)).ino).toBe(before);
    expect((await client(srv.url, key)('GET', `/v2/streams/${streamId}`)).status).toBe(200);
  }, 60_000);

  it('an older backup is refused by the rollback guard (exit 3) and accepted with --force; the server then starts', async () => {
    await append(srv, streamId, 100, 'after');
    await waitFor(async () => (recordOf(dataDir, streamId)?.head_seq_no >= 400 ? true : undefined));
    await srv.stop();
    const headBefore = recordOf(dataDir, streamId).head_seq_no;
    const refused = await cli(['restore', path.join(backupDir, 'b1.db')], dataDir);
    expect(refused.code, refused.stdout + refused.stderr).toBe(3);
    expect(refused.stderr).toContain('refusing to restore');
    expect(refused.stderr).toContain(streamId);
    expect(refused.stderr).toContain('--force');
    expect(refused.stderr).not.toMatch(/^\s+at /m);
    expect(recordOf(dataDir, streamId).head_seq_no).toBe(headBefore);
    expect(fs.readdirSync(dataDir).filter((f) => f.includes('restoring'))).toEqual([]);

    const forced = await cli(['restore', path.join(backupDir, 'b1.db'), '--force'], dataDir);
    expect(forced.code, forced.stdout + forced.stderr).toBe(0);
    expect(forced.stderr).toContain('ROLLBACK ACCEPTED');
    expect(fs.readdirSync(dataDir).some((f) => f.startsWith('proofstream.db.replaced-'))).toBe(true);
    expect(recordOf(dataDir, streamId).head_seq_no).toBeLessThan(headBefore);
    srv = await start(dataDir, key);
    expect((await client(srv.url, key)('GET', `/v2/streams/${streamId}`)).status).toBe(200);
  }, 120_000);

  it('check --deep names each kind of damage edited into the file: payload, chain link, Merkle node, tile, checkpoint root and signature, idempotency record', async () => {
    const file = path.join(backupDir, 'damaged.db');
    const b = await cli(['backup', file], dataDir);
    expect(b.code, b.stderr).toBe(0);
    expect((await cli(['check', '--deep', '--db', file], dataDir)).code).toBe(0);

    const db = new Database(file);
    const ids = new Map([7, 20].map((seq) => [seq, db.prepare('SELECT id FROM events WHERE stream_id = ? AND seq_no = ?').pluck().get(streamId, seq) as string]));
    const ev = (seq: number) => ids.get(seq)!;
    db.prepare(`UPDATE events SET payload = '{"i":999}' WHERE stream_id = ? AND seq_no = 7`).run(streamId);
    db.prepare(`UPDATE events SET previous_event_hash = ? WHERE stream_id = ? AND seq_no = 20`).run('ab'.repeat(32), streamId);
    db.prepare('UPDATE merkle_nodes SET hash = ? WHERE stream_id = ? AND level = 3 AND idx = 2').run(Buffer.alloc(32, 7), streamId);
    const tile = db.prepare('SELECT hashes FROM merkle_tiles WHERE stream_id = ? AND tile_level = 0 AND tile_idx = 0').pluck().get(streamId) as Buffer;
    expect(tile).toBeDefined();
    tile[5000]! ^= 1;
    db.prepare('UPDATE merkle_tiles SET hashes = ? WHERE stream_id = ? AND tile_level = 0 AND tile_idx = 0').run(tile, streamId);
    const cps = db.prepare('SELECT id, root_hash, note FROM checkpoints WHERE stream_id = ? ORDER BY tree_size').all(streamId) as any[];
    db.prepare('UPDATE checkpoints SET root_hash = ? WHERE id = ?').run('cd'.repeat(32), cps[1].id);
    // The signature line's last base64 characters changed: same key, a signature that does not verify.
    // (One bit of the signature bytes flipped and re-encoded: editing a base64 character could make it non-canonical.)
    const sig = cps[2].note.replace(/ (\S+)\n$/, (_: string, b64: string) => {
      const bytes = Buffer.from(b64, 'base64');
      bytes[bytes.length - 10]! ^= 1;
      return ` ${bytes.toString('base64')}\n`;
    });
    expect(sig).not.toBe(cps[2].note);
    db.prepare('UPDATE checkpoints SET note = ? WHERE id = ?').run(sig, cps[2].id);
    // An append's record names its receipts by stream and seq_no range (src/ledger/replay.ts): point one past the head.
    const idem = db.prepare(`SELECT tenant_id, key, response_body FROM idempotency_records WHERE response_body LIKE '{"receipts_ref":%' LIMIT 1`).get() as any;
    const ref = JSON.parse(idem.response_body).receipts_ref;
    db.prepare('UPDATE idempotency_records SET response_body = ? WHERE tenant_id = ? AND key = ?').run(JSON.stringify({ receipts_ref: [ref[0], ref[1], 99_999, ref[3]] }), idem.tenant_id, idem.key);
    db.close();

    const r = await cli(['check', '--deep', '--json', '--db', file], dataDir);
    expect(r.code, r.stderr).toBe(1);
    const report = JSON.parse(r.stdout);
    expect(report.ok).toBe(false);
    const has = (table: string, row: string, text: RegExp) =>
      expect(report.problems.some((p: any) => p.table === table && p.row === row && text.test(p.problem)), `${table} ${row} ${text}: ${JSON.stringify(report.problems)}`).toBe(true);
    has('events', ev(7), /payload_commitment/);
    expect(report.problems.find((p: any) => p.row === ev(7))).toMatchObject({ stream_id: streamId, seq_no: 7 });
    has('events', ev(20), /previous_event_hash/);
    has('merkle_nodes', `${streamId}/3/2`, /not the tree recomputed/);
    has('merkle_tiles', `${streamId}/0/0`, /not the tree recomputed/);
    has('checkpoints', cps[1].id, /root_hash is not the root/);
    has('checkpoints', cps[2].id, /signature does not verify/);
    has('idempotency_records', `${idem.tenant_id}/${idem.key}`, new RegExp(`events ${ref[1]}\\.\\.99999 of ${ref[0]}, which are not all stored`));
    expect(report.problems_total).toBe(report.problems.length);

    const text = await cli(['check', '--deep', '--db', file], dataDir);
    expect(text.code).toBe(1);
    expect(text.stdout).toContain(`events ${ev(7)} (stream ${streamId}, seq_no 7)`);
    // The light form sees the latest events and checkpoint only: the old damage is not its to find.
    expect((await cli(['check', '--db', file], dataDir)).code).toBe(0);
    // Restoring a damaged backup is refused even with --force.
    const other = newDir();
    const restore = await cli(['restore', file, '--force'], other);
    expect(restore.code, restore.stdout + restore.stderr).toBe(1);
    expect(restore.stderr).toContain('damaged');
    expect(fs.existsSync(dbFile(other))).toBe(false);
  }, 120_000);

  it('the light check runs at start: damage in the latest events is logged with its row; PROOFSTREAM_START_CHECK=strict refuses to start', async () => {
    const file = path.join(backupDir, 'light.db');
    expect((await cli(['backup', file], dataDir)).code).toBe(0);
    const dir = newDir();
    fs.copyFileSync(file, dbFile(dir));
    const db = new Database(dbFile(dir));
    const head = db.prepare('SELECT head_seq_no FROM streams WHERE id = ?').pluck().get(streamId) as number;
    const id = db.prepare('SELECT id FROM events WHERE stream_id = ? AND seq_no = ?').pluck().get(streamId, head - 1) as string;
    db.prepare(`UPDATE events SET payload = '{"i":-1}' WHERE id = ?`).run(id);
    db.close();
    expect((await cli(['check', '--db', dbFile(dir)], dir)).code).toBe(1);
    expect((await cli(['check', '--db', dbFile(dir), '--bogus'], dir)).code).toBe(2);
    expect((await cli(['check', '--db', path.join(dir, 'nothing.db')], dir)).code).toBe(2);

    const warned = await start(dir, key);
    expect(warned.output()).toContain('INTEGRITY: the start check');
    expect(warned.output()).toContain(`events ${id} (stream ${streamId}, seq_no ${head - 1})`);
    await warned.stop();

    const strict = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const p = spawn(process.execPath, [BIN, 'serve'], {
        env: { ...process.env, HOST: '127.0.0.1', PORT: '0', PROOFSTREAM_DATA_DIR: dir, PROOFSTREAM_START_CHECK: 'strict', ...WINDOW_ENV },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      p.stdout.on('data', (d) => (out += d));
      p.stderr.on('data', (d) => (out += d));
      p.once('exit', (code) => resolve({ code, out }));
    });
    expect(strict.out).not.toContain('listening on');
    expect(strict.code).not.toBe(0);
    expect(strict.out).toContain('refusing to start (PROOFSTREAM_START_CHECK=strict)');
    expect(strict.out).toContain(id);
  }, 120_000);
});
