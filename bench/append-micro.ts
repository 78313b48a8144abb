// `node bin/run-ts.mjs bench/append-micro.ts [events] [perFlush] [batch]`: the append pipeline in-process, no HTTP.
// Queues `perFlush` appends per event-loop turn (like 64 connections do) and reports µs per event, so changes to
// the appender, store and protocol code can be judged without the noise of the HTTP load test.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Appender, initialHead } from '../src/ledger/appender.js';
import { loadOrCreateSigner } from '../src/ledger/signer.js';
import { Store } from '../src/store/index.js';

const total = Number(process.argv[2] ?? 20000);
const perFlush = Number(process.argv[3] ?? 32);
const batch = Number(process.argv[4] ?? 1);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ps-micro-'));
// Store + Appender only (not Ledger.open), so the figure is the commit pipeline and nothing else.
const store = Store.open(path.join(dir, 'l.db'));
// PS_PRAGMAS="cache_size=-65536;wal_autocheckpoint=10000": try connection settings without touching src/
for (const p of (process.env.PS_PRAGMAS ?? '').split(';').filter(Boolean)) (store as unknown as { h: { sqlite: { pragma(s: string): unknown } } }).h.sqlite.pragma(p);
const appender = new Appender(store, loadOrCreateSigner(path.join(dir, 'k.pem')));
const at = new Date().toISOString();
const tenantId = 'ten_micro';
const streamId = 'str_micro';
store.tenancy.insertTenant({ id: tenantId, name: 't', createdAt: at });
store.tenancy.insertSystem({ id: 'sys_micro', tenantId, name: 's', createdAt: at });
const h = initialHead(streamId);
store.streams.insert({
  ...(store.streams.get('none') ?? {}),
  id: streamId, tenantId, systemId: 'sys_micro', useCase: 'micro', policyId: null, metadata: null, windowPolicy: null, kind: 'v2', createdAt: at,
  headSeqNo: 0, headHash: h.headHash, lastEventHash: h.lastEventHash, frontier: h.frontier, sealedSeqNo: 0, lastCheckpointId: null,
} as Parameters<typeof store.streams.insert>[0]);
const ev = (i: number) => ({ source_ref: `r${i}`, event_type: 'bench.event', payload: { decision: 'approve', score: 0.91, model: 'm-1' } });
let n = 0;
const c0 = process.cpuUsage();
const t0 = process.hrtime.bigint();
while (n < total) {
  const ps: Promise<unknown>[] = [];
  for (let j = 0; j < perFlush && n < total; j++, n += batch) {
    ps.push(
      appender.append(streamId, Array.from({ length: batch }, (_, k) => ev(n + k)), { tenantId, key: `k${n}`, fingerprint: 'f'.repeat(64), ttlMs: 60_000 }, (r) => (batch === 1 ? r[0] : { receipts: r })),
    );
  }
  await Promise.all(ps);
}
const us = Number(process.hrtime.bigint() - t0) / 1000;
const cpu = process.cpuUsage(c0);
// cpu µs/event (user+system) is the figure to compare on a shared machine; wall time includes waiting for the core.
console.log(JSON.stringify({ events: n, perFlush, batch, cpu_us_per_event: +((cpu.user + cpu.system) / n).toFixed(1), us_per_event: +(us / n).toFixed(1), events_per_s: Math.round((n / us) * 1e6), commits: appender.stats.commits }));
store.close();
fs.rmSync(dir, { recursive: true, force: true });
