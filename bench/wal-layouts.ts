// What other table layouts would write per group commit (docs/performance.md, session 6): a synthetic append workload
// with the real row shapes (sizes of ids, hex hashes, payload, idempotency reference), 35 single appends per commit,
// WAL frames of each commit mapped to tables and indexes through dbstat, as bench/wal-pages.ts does for the real code.
// Layouts compared: `now` (this tree), `events-wr` (events WITHOUT ROWID keyed (stream_id, seq_no), unique index on id),
// `nodes-in-event` (each event row carries the Merkle nodes its leaf completes; no merkle_nodes table), both, and
// `idem-wr` (idempotency_records WITHOUT ROWID: one B-tree, but no insertion order left to purge by).
// `node bin/run-ts.mjs bench/wal-layouts.ts [events] [perFlush] [keys: bench|uuid]`
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { framesByTree, walFramePages } from './wal-frames.js';

const total = Number(process.argv[2] ?? 20000);
const perFlush = Number(process.argv[3] ?? 35);
const keys = process.argv[4] ?? 'bench';
const hex = (n: number) => randomBytes(n).toString('hex');

const EVENTS_COLS =
  'id text NOT NULL, stream_id text NOT NULL, seq_no integer NOT NULL, source_ref text NOT NULL, event_type text NOT NULL, occurred_at text, ' +
  'received_at text NOT NULL, payload text, salt text, payload_commitment text NOT NULL, event_hash text NOT NULL, previous_event_hash text NOT NULL, ' +
  'stream_head_hash text NOT NULL, protocol text NOT NULL, kid text NOT NULL, signature text NOT NULL';
const layouts: Record<string, { eventsWr: boolean; nodesInEvent: boolean; idemWr?: boolean }> = {
  now: { eventsWr: false, nodesInEvent: false },
  'events-wr': { eventsWr: true, nodesInEvent: false },
  'nodes-in-event': { eventsWr: false, nodesInEvent: true },
  both: { eventsWr: true, nodesInEvent: true },
  'idem-wr': { eventsWr: false, nodesInEvent: false, idemWr: true },
  'nodes-in-event+idem-wr': { eventsWr: false, nodesInEvent: true, idemWr: true },
};

for (const [name, l] of Object.entries(layouts)) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ps-walx-'));
  const file = path.join(dir, 'x.db');
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('wal_autocheckpoint = 0');
  const nodesCol = l.nodesInEvent ? ', nodes blob' : '';
  if (l.eventsWr) {
    db.exec(`CREATE TABLE events (${EVENTS_COLS}${nodesCol}, PRIMARY KEY (stream_id, seq_no)) WITHOUT ROWID`);
    db.exec('CREATE UNIQUE INDEX events_id ON events (id)');
  } else {
    db.exec(`CREATE TABLE events (${EVENTS_COLS}${nodesCol}, PRIMARY KEY (id))`);
    db.exec('CREATE UNIQUE INDEX events_stream_seq ON events (stream_id, seq_no)');
  }
  if (!l.nodesInEvent) db.exec('CREATE TABLE merkle_nodes (stream_id text NOT NULL, pos integer NOT NULL, level integer NOT NULL, idx integer NOT NULL, hash blob NOT NULL, PRIMARY KEY (stream_id, pos)) WITHOUT ROWID');
  db.exec('CREATE TABLE idempotency_records (tenant_id text NOT NULL, key text NOT NULL, fingerprint text NOT NULL, status integer NOT NULL, response_body text NOT NULL, created_at integer NOT NULL, expires_at integer NOT NULL, PRIMARY KEY (tenant_id, key))' + (l.idemWr ? ' WITHOUT ROWID' : ''));
  db.exec('CREATE TABLE streams (id text PRIMARY KEY, head_seq_no integer, head_hash text, frontier blob)');
  const sid = 'str_' + 'y'.repeat(22);
  const tid = 'ten_' + 'x'.repeat(22);
  db.prepare('INSERT INTO streams VALUES (?, 0, ?, ?)').run(sid, hex(32), Buffer.alloc(0));
  const insEv = db.prepare(`INSERT INTO events VALUES (${Array(16 + (l.nodesInEvent ? 1 : 0)).fill('?').join(', ')})`);
  const insNode = l.nodesInEvent ? null : db.prepare('INSERT INTO merkle_nodes VALUES (?, ?, ?, ?, ?)');
  const insIdem = db.prepare('INSERT INTO idempotency_records VALUES (?, ?, ?, ?, ?, ?, ?)');
  const head = db.prepare('UPDATE streams SET head_seq_no = ?, head_hash = ?, frontier = ? WHERE id = ?');
  const wal = file + '-wal';
  const frame = 4096 + 24;
  const perCommit: number[][] = [];
  let seq = 0;
  const t0 = Date.now();
  while (seq < total) {
    const before = fs.existsSync(wal) ? fs.statSync(wal).size : 0;
    db.transaction(() => {
      for (let j = 0; j < perFlush; j++) {
        seq++;
        const now = Date.now();
        const id = 'sev_' + now.toString(36).padStart(8, '0') + randomBytes(11).toString('base64url').slice(0, 14);
        // The nodes leaf seq − 1 completes: one per trailing 1-bit of its index.
        const nodes: Buffer[] = [];
        for (let i = seq - 1, level = 0; i % 2 === 1; i = (i - 1) / 2) nodes.push(randomBytes(32)), level++;
        const evArgs: Array<string | number | null | Buffer> = [id, sid, seq, 'bench', 'bench.event', null, new Date(now).toISOString(), '{"decision":"approve","model":"m-1","score":0.91}', hex(32), hex(32), hex(32), hex(32), hex(32), 'proofstream.receipt/v1', 'k-0123456789abcdef', hex(64)];
        if (l.nodesInEvent) evArgs.push(nodes.length ? Buffer.concat(nodes) : null);
        insEv.run(...evArgs);
        if (insNode) {
          let idx = seq - 1;
          nodes.forEach((h, k) => {
            idx = (idx - 1) / 2;
            const level = k + 1;
            insNode.run(sid, ((idx + 1) * 2 ** level - 1) * 64 + level, level, idx, h);
          });
        }
        const key = keys === 'uuid' ? randomUUID() : `b-${t0}-${seq}`;
        insIdem.run(tid, key, hex(32), 201, `{"receipts_ref":["${sid}",${seq},${seq},"receipt"]}`, now, now + 86_400_000);
      }
      head.run(seq, hex(32), randomBytes(32 * 8), sid);
    })();
    if (seq <= total / 2) continue;
    perCommit.push(walFramePages(wal, before, frame));
  }
  const { frames, byTree } = framesByTree(db, perCommit);
  const c = perCommit.length;
  console.log(`${name}: ${(frames / c).toFixed(1)} WAL frames per commit (${keys} keys, ${perFlush} per commit, ${c} commits) — ` +
    [...byTree].sort((a, b) => b[1] - a[1]).map(([t, k]) => `${t} ${(k / c).toFixed(1)}`).join(', '));
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
}
