// A database written by the layout before migration 0017 (fixtures/upgrade/0013: Merkle nodes keyed by level and
// index, idempotency records holding whole answers; made by the code of that time, see fixtures/upgrade/make.ts)
// opened by this code: it migrates, then answers every read, proof and replay it answered then, byte for byte, packs
// the same range into the same sections, checks clean, and keeps doing so after appends in the new layout and a restart.
// And a database written by this code, rewound to before 0017 (test/helpers/migrations.ts), migrates back to the
// same proofs and replays.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { rewindBefore } from './helpers/migrations.js';
import { client, ROOT, runCli, startServer, tempDir, type RunningServer } from './helpers/server.js';

interface Recorded {
  method: string;
  path: string;
  body?: unknown;
  key?: string;
  status: number;
  text: string;
}
const fixture = path.join(ROOT, 'fixtures/upgrade/0013');
const answers = JSON.parse(fs.readFileSync(path.join(fixture, 'answers.json'), 'utf8')) as { key: string; env: Record<string, string>; requests: Recorded[] };
// The fixture's last window (events 601..660) was left open and must stay open during the test (the age timer
// starts with the server; above 2^31 − 1 ms Node would fire it at once).
const env = { ...answers.env, PROOFSTREAM_WINDOW_MAX_AGE_MS: String(2_000_000_000) };

let srv: RunningServer | undefined;
afterAll(async () => srv?.stop());

/**
 * Every recorded request again: the same status and the same bytes. `grownTo`: events were appended since (and
 * sealed at the restart), so the checkpoint list has newer entries in front of the recorded ones.
 */
async function askAll(s: RunningServer, grownTo?: number): Promise<void> {
  const call = client(s.url, answers.key);
  for (const r of answers.requests) {
    const got = await call(r.method, r.path, r.body, r.key ? { 'idempotency-key': r.key } : {});
    const what = `${r.method} ${r.path} ${r.key ?? ''}`;
    expect(got.status, what).toBe(r.status);
    if (grownTo !== undefined && r.path.endsWith('/checkpoints')) {
      const list = JSON.parse(got.text).checkpoints as Array<{ tree_size: number }>;
      expect(list[0]!.tree_size, what).toBe(grownTo);
      expect(JSON.stringify(list.slice(1)), what).toBe(JSON.stringify(JSON.parse(r.text).checkpoints));
      continue;
    }
    expect(got.text, what).toBe(r.text);
    if (r.key) expect(got.headers.get('idempotent-replayed'), what).toBe('true');
  }
}

function sqlite(dataDir: string): Database.Database {
  return new Database(path.join(dataDir, 'proofstream.db'), { readonly: true });
}

describe('a database written before migration 0017', () => {
  it('reads, proves, replays and packs the same after the upgrade, and after new appends and a restart', async () => {
    const dataDir = tempDir('ps-upgrade-');
    fs.cpSync(path.join(fixture, 'ledger'), dataDir, { recursive: true });
    const before = sqlite(dataDir);
    const oldNodes = before.prepare('SELECT stream_id, level, idx, hash FROM merkle_nodes ORDER BY stream_id, level, idx').all();
    expect(before.prepare("SELECT count(*) FROM idempotency_records WHERE response_body LIKE '{\"receipts_ref\":%'").pluck().get()).toBe(0);
    before.close();
    expect(oldNodes.length).toBeGreaterThan(600);

    srv = await startServer({ dataDir, key: answers.key, env });
    await askAll(srv);

    // The nodes moved to their creation-order key with nothing lost or changed.
    const after = sqlite(dataDir);
    expect(after.prepare('SELECT stream_id, level, idx, hash FROM merkle_nodes ORDER BY stream_id, level, idx').all()).toEqual(oldNodes);
    const badPos = after.prepare('SELECT count(*) FROM merkle_nodes WHERE pos <> (((idx + 1) << level) - 1) * 64 + level').pluck().get();
    expect(badPos).toBe(0);
    after.close();

    const call = client(srv.url, answers.key);
    const pack = answers.requests.find((r) => r.path === '/v2/audit/packs')!;
    const rebuilt = await call('POST', '/v2/audit/packs', pack.body, { 'idempotency-key': 'k-pack-after-upgrade' });
    expect(rebuilt.status).toBe(201);
    const a = JSON.parse(pack.text);
    const b = JSON.parse(rebuilt.text);
    for (const section of Object.keys(a)) if (section !== 'manifest') expect(b[section], section).toEqual(a[section]);
    expect(b.manifest.sections).toEqual(a.manifest.sections);

    // New appends (new layout: receipts references) next to the old records, then a restart.
    const streamId = JSON.parse(answers.requests[0]!.text).stream_id as string;
    const fresh: Recorded[] = [];
    for (let i = 0; i < 3; i++) {
      const body = { source_ref: `after-${i}`, event_type: 'upgrade.after', payload: { i } };
      const r = await call('POST', `/v2/streams/${streamId}/events`, body, { 'idempotency-key': `after-${i}` });
      expect(r.status).toBe(201);
      fresh.push({ method: 'POST', path: `/v2/streams/${streamId}/events`, body, key: `after-${i}`, status: 201, text: r.text });
    }
    const batchBody = { events: [1, 2].map((j) => ({ source_ref: `after-b${j}`, event_type: 'upgrade.after', payload: { j } })) };
    const batch = await call('POST', `/v2/streams/${streamId}/events/batch`, batchBody, { 'idempotency-key': 'after-batch' });
    expect(batch.status).toBe(201);
    fresh.push({ method: 'POST', path: `/v2/streams/${streamId}/events/batch`, body: batchBody, key: 'after-batch', status: 201, text: batch.text });
    expect(JSON.parse(fresh[0]!.text).seq_no).toBe(661);

    await srv.stop();
    srv = await startServer({ dataDir, key: answers.key, env });
    await askAll(srv, 665);
    const call2 = client(srv.url, answers.key);
    for (const r of fresh) {
      const got = await call2(r.method, r.path, r.body, { 'idempotency-key': r.key! });
      expect([got.status, got.text, got.headers.get('idempotent-replayed')]).toEqual([r.status, r.text, 'true']);
    }
    const db = sqlite(dataDir);
    const refs = db.prepare("SELECT key, response_body FROM idempotency_records WHERE key LIKE 'after-%' ORDER BY key").all() as Array<{ key: string; response_body: string }>;
    db.close();
    expect(refs.map((r) => r.response_body)).toEqual([
      `{"receipts_ref":["${streamId}",661,661,"receipt"]}`,
      `{"receipts_ref":["${streamId}",662,662,"receipt"]}`,
      `{"receipts_ref":["${streamId}",663,663,"receipt"]}`,
      `{"receipts_ref":["${streamId}",664,665,"batch"]}`,
    ]);
    await srv.stop();
    srv = undefined;

    const check = await runCli(['check', '--deep', '--json', '--db', path.join(dataDir, 'proofstream.db')], { PROOFSTREAM_DATA_DIR: dataDir });
    expect(check.code, check.stdout + check.stderr).toBe(0);
  }, 240_000);
});

describe('migration 0017 on a database rewound to before it', () => {
  it('re-keys the nodes so every proof and replay answers the same', async () => {
    const dataDir = tempDir('ps-upgrade-rewind-');
    const env = { PROOFSTREAM_WINDOW_MAX_EVENTS: '100', PROOFSTREAM_WINDOW_MAX_AGE_MS: String(2_000_000_000) };
    srv = await startServer({ dataDir, env });
    const key = srv.key;
    let call = client(srv.url, key);
    const sid = (await call('POST', '/v2/streams', { use_case: 'rewind' }, { 'idempotency-key': 's' })).body.stream_id as string;
    const asked: Recorded[] = [];
    const ask = async (method: string, p: string, body?: unknown, k?: string) => {
      const r = await call(method, p, body, k ? { 'idempotency-key': k } : {});
      expect(r.status, r.text).toBeLessThan(300);
      asked.push({ method, path: p, body, key: k, status: r.status, text: r.text });
    };
    for (let b = 0; b < 3; b++) {
      await ask('POST', `/v2/streams/${sid}/events/batch`, { events: Array.from({ length: 100 }, (_, i) => ({ source_ref: `r${b}-${i}`, event_type: 't', payload: { b, i } })) }, `b${b}`);
    }
    await ask('POST', `/v2/streams/${sid}/events`, { source_ref: 'one', event_type: 't', payload: 1 }, 'one');
    for (const deadline = Date.now() + 30_000; (await call('GET', `/v2/streams/${sid}/checkpoints/latest`)).body.tree_size !== 300; ) {
      if (Date.now() > deadline) throw new Error('not sealed');
      await new Promise((r) => setTimeout(r, 50));
    }
    const cps = (await call('GET', `/v2/streams/${sid}/checkpoints`)).body.checkpoints as Array<{ checkpoint_id: string }>;
    await ask('GET', `/v2/checkpoints/${cps[0]!.checkpoint_id}/consistency?from=${cps[2]!.checkpoint_id}`);
    // (Not at 301: the restart seals it, so its answer gains a checkpoint_id.)
    for (const [seq, size] of [[1, 300], [77, 200], [255, 300], [300, 300], [129, 257]]) await ask('GET', `/v2/streams/${sid}/inclusion?seq_no=${seq}&tree_size=${size}`);
    await srv.stop();

    const db = new Database(path.join(dataDir, 'proofstream.db'));
    rewindBefore(db, '0017_');
    expect(db.prepare("SELECT count(*) FROM pragma_table_info('merkle_nodes') WHERE name = 'pos'").pluck().get()).toBe(0);
    db.close();

    srv = await startServer({ dataDir, key, env });
    call = client(srv.url, key);
    for (const r of asked) {
      const got = await call(r.method, r.path, r.body, r.key ? { 'idempotency-key': r.key } : {});
      expect([got.status, got.text], `${r.method} ${r.path}`).toEqual([r.status, r.text]);
    }
    const after = sqlite(dataDir);
    expect(after.prepare("SELECT sql FROM sqlite_master WHERE name = 'merkle_nodes'").pluck().get()).toMatch(/WITHOUT ROWID/);
    expect(after.prepare('SELECT count(*) FROM merkle_nodes WHERE pos <> (((idx + 1) << level) - 1) * 64 + level').pluck().get()).toBe(0);
    after.close();
    await srv.stop();
    srv = undefined;
  }, 240_000);
});
