// Which B-tree pages one group commit writes to the WAL (docs/performance.md, "WAL bytes per flush"). Store + Appender in-process (like
// bench/append-micro.ts), single-event jobs, `perFlush` per commit; WAL frames of each commit mapped to their tables
// and indexes through dbstat. `node bin/run-ts.mjs bench/wal-pages.ts [events] [perFlush] [keys: bench|uuid|uuid7]`
// (uuid7: time-ordered like RFC 9562 UUIDv7, what docs/api.md recommends to clients)
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Appender, initialHead } from '../src/ledger/appender.js';
import { loadOrCreateSigner } from '../src/ledger/signer.js';
import { Store } from '../src/store/index.js';
import { framesByTree, walFramePages } from './wal-frames.js';

const total = Number(process.argv[2] ?? 20000);
const perFlush = Number(process.argv[3] ?? 35);
const keys = process.argv[4] ?? 'bench';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ps-wal-'));
const file = path.join(dir, 'l.db');
const store = Store.open(file);
const sqlite = (store as unknown as { h: { sqlite: import('better-sqlite3').Database } }).h.sqlite;
sqlite.pragma('wal_autocheckpoint = 0');
const appender = new Appender(store, loadOrCreateSigner(path.join(dir, 'k.pem')));
const at = new Date().toISOString();
const tenantId = 'ten_' + 'x'.repeat(22);
const streamId = 'str_' + 'y'.repeat(22);
store.tenancy.insertTenant({ id: tenantId, name: 't', createdAt: at });
store.tenancy.insertSystem({ id: 'sys_micro', tenantId, name: 's', createdAt: at });
const h = initialHead(streamId);
store.streams.insert({
  id: streamId, tenantId, systemId: 'sys_micro', useCase: 'micro', policyId: null, metadata: null, windowPolicy: null, kind: 'v2', createdAt: at,
  headSeqNo: 0, headHash: h.headHash, lastEventHash: h.lastEventHash, frontier: h.frontier, sealedSeqNo: 0, lastCheckpointId: null,
} as Parameters<typeof store.streams.insert>[0]);
const EVENT = { source_ref: 'bench', event_type: 'bench.event', payload: { decision: 'approve', score: 0.91, model: 'm-1' } };
const prefix = `b-${process.pid}-${Date.now()}`;
/** RFC 9562 UUIDv7 layout: 48-bit Unix ms, then version and random bits. */
const uuid7 = () => {
  const r = randomUUID().replaceAll('-', '');
  const h = Date.now().toString(16).padStart(12, '0') + '7' + r.slice(13);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
};
const keyOf = (n: number) => (keys === 'uuid' ? randomUUID() : keys === 'uuid7' ? uuid7() : `${prefix}-${n}`);
const wal = file + '-wal';
const pageSize = sqlite.pragma('page_size', { simple: true }) as number;
const frame = pageSize + 24;
let n = 0;
const perCommit: number[][] = [];
const measureFrom = total / 2; // steady state: the second half
while (n < total) {
  const before = fs.statSync(wal).size;
  const ps: Promise<unknown>[] = [];
  for (let j = 0; j < perFlush && n < total; j++, n++) {
    ps.push(appender.append(streamId, [EVENT], { tenantId, key: keyOf(n), fingerprint: 'f'.repeat(64), ttlMs: 86_400_000 }, 'receipt'));
  }
  await Promise.all(ps);
  if (n < measureFrom) continue;
  perCommit.push(walFramePages(wal, before, frame));
}
const { frames, byTree } = framesByTree(sqlite, perCommit);
const c = perCommit.length;
console.log(`${keys} keys, ${perFlush} single appends per commit, ${c} commits measured (events ${measureFrom}..${total}), page ${pageSize} B`);
console.log(`WAL frames per commit: ${(frames / c).toFixed(1)} (${((frames / c) * frame / 1024).toFixed(0)} KiB), per event ${(frames / c / perFlush).toFixed(2)}`);
for (const [t, k] of [...byTree].sort((a, b) => b[1] - a[1])) console.log(`  ${(k / c).toFixed(1).padStart(5)}  ${t}`);
const sizes = sqlite.prepare("SELECT name, count(*) AS pages FROM dbstat GROUP BY name ORDER BY pages DESC LIMIT 8").all();
console.log('tree sizes (pages):', JSON.stringify(sizes));
// last line, for bench/run.ts
console.log(JSON.stringify({ keys, per_flush: perFlush, commits: c, pages_per_commit: frames / c, by_tree: Object.fromEntries([...byTree].map(([t, k]) => [t, k / c])) }));
store.close();
fs.rmSync(dir, { recursive: true, force: true });
