// What keeping `<db>.highwater` current costs (src/ledger/rollback-guard.ts; docs/architecture.md, "The rollback
// guard"): per record size, the part a flush runs on the event loop (re-read the dirty streams' rows, serialize) and
// the whole atomic write (temp file, fsync, rename, fsync of the directory) that runs on libuv's pool.
// `node bin/run-ts.mjs bench/highwater.ts [streams…]`
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initialHead } from '../src/ledger/appender.js';
import { HighwaterWriter, highwaterPath } from '../src/ledger/rollback-guard.js';
import { Store } from '../src/store/index.js';

const sizes = process.argv.slice(2).map(Number);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ps-hw-'));
const file = path.join(dir, 'l.db');
const store = Store.open(file);
const at = new Date().toISOString();
const tenantId = 'ten_' + 'x'.repeat(22);
store.tenancy.insertTenant({ id: tenantId, name: 't', createdAt: at });
store.tenancy.insertSystem({ id: 'sys_hw', tenantId, name: 's', createdAt: at });
let made = 0;
const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

for (const n of sizes.length ? sizes : [1, 100, 1000, 10_000]) {
  store.write(() => {
    for (; made < n; made++) {
      const id = `str_${String(made).padStart(22, '0')}`;
      const h = initialHead(id);
      store.streams.insert({
        id, tenantId, systemId: 'sys_hw', useCase: 'hw', policyId: null, metadata: null, windowPolicy: null, kind: 'v2', createdAt: at,
        headSeqNo: 7, headHash: h.headHash, lastEventHash: h.lastEventHash, frontier: h.frontier, sealedSeqNo: 0, lastCheckpointId: null,
      } as Parameters<typeof store.streams.insert>[0]);
    }
  });
  const w = new HighwaterWriter(store, highwaterPath(file), 0);
  const ids = store.checkpoints.published().map((s) => s.streamId);
  const loop: number[] = [];
  const whole: number[] = [];
  for (let r = 0; r < 20; r++) {
    // Every stream dirty (the worst case: each committed since the last write; a flush re-reads at most 512).
    for (const id of ids) w.touch(id);
    const before = w.stats.writes;
    while (w.stats.writes === before) await new Promise((res) => setTimeout(res, 1));
    loop.push(w.stats.lastLoopMs);
    whole.push(w.stats.lastWriteMs);
  }
  w.close();
  const bytes = fs.statSync(highwaterPath(file)).size;
  console.log(`${n} streams: record ${bytes} B; on the event loop ${median(loop).toFixed(2)} ms; whole write ${median(whole).toFixed(2)} ms (median of 20)`);
}
store.close();
fs.rmSync(dir, { recursive: true, force: true });
