// The raw floor: bare Hono POST + one SQLite insert + one native Ed25519 sign, nothing else (no validation, chain,
// idempotency, Merkle). Same durability as the ledger (WAL, synchronous=FULL, commits grouped per event-loop
// turn), so the ratio of our figures to this one is the cost of what the ledger adds on top.
import { generateKeyPairSync, sign } from 'node:crypto';
import { serve } from '@hono/node-server';
import Database from 'better-sqlite3';
import { Hono } from 'hono';

const file = process.argv[2]!;
const db = new Database(file);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
db.exec('CREATE TABLE IF NOT EXISTS floor (id INTEGER PRIMARY KEY, body TEXT NOT NULL, sig BLOB NOT NULL)');
const insert = db.prepare('INSERT INTO floor (body, sig) VALUES (?, ?)');
const { privateKey } = generateKeyPairSync('ed25519');

let queue: Array<{ body: string; done: (id: number, sig: string) => void }> = [];
const commit = db.transaction((jobs: typeof queue) =>
  jobs.map((j) => {
    const s = sign(null, Buffer.from(j.body), privateKey);
    return { id: Number(insert.run(j.body, s).lastInsertRowid), sig: s.toString('hex') };
  }),
);
function flush() {
  const jobs = queue;
  queue = [];
  const out = commit(jobs);
  jobs.forEach((j, i) => j.done(out[i]!.id, out[i]!.sig));
}

const app = new Hono();
app.post('/floor', async (c) => {
  const body = JSON.stringify(await c.req.json());
  const { id, sig } = await new Promise<{ id: number; sig: string }>((resolve) => {
    if (queue.length === 0) setImmediate(flush);
    queue.push({ body, done: (id, sig) => resolve({ id, sig }) });
  });
  return c.json({ id, signature: sig }, 201);
});
serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, (info) => console.log(`floor listening on http://127.0.0.1:${info.port}`));
// Exit through process.exit so `node --cpu-prof` (bench/profile.ts floor) writes its profile.
process.once('SIGTERM', () => process.exit(0));
