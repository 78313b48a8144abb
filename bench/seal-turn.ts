// `node bin/run-ts.mjs bench/seal-turn.ts`: how long one sealing turn holds the event loop (in-process, real SQLite
// file): 20 streams × one 1,000-event window each, appended in batches of 100, then the turn that seals it timed
// (window root, checkpoint signature, inserts and the commit's fsync). What sealing can add to an append's latency.
import path from 'node:path';
import os from 'node:os';
import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { loadConfig } from '../src/config.js';
import { Ledger } from '../src/ledger/ledger.js';
import { SCOPES } from '../src/ledger/tenancy.js';
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'seal-'));
const ledger = Ledger.open(loadConfig({}, { dataDir, dbPath: path.join(dataDir, 'x.db'), signingKeyPath: path.join(dataDir, 'k.pem'), windowMaxEvents: 1000000, windowMaxAgeMs: 86_400_000 }));
const { row } = ledger.tenancy.createKey('b', 'b', SCOPES);
const p = { keyId: row.id, tenantId: row.tenantId, systemId: row.systemId, scopes: new Set<string>(SCOPES) };
const times: number[] = [];
for (let w = 0; w < 20; w++) {
  const sid = ledger.createStream(p, { use_case: 'x', window_policy: { max_events: 1000 } }, undefined).view.stream_id;
  for (let i = 0; i < 1000; i += 100) await ledger.append(p, sid, Array.from({ length: 100 }, (_, k) => ({ source_ref: `r${i + k}`, event_type: 'e', payload: { i: i + k } })), undefined, () => null);
  // the size trigger marked it due; time the sealing turn itself
  const t = performance.now();
  ledger.sealer.runDue();
  times.push(performance.now() - t);
}
times.sort((a, b) => a - b);
console.log(JSON.stringify({ windows: times.length, seal_turn_ms_median: times[10], seal_turn_ms_max: times[19] }));
fs.rmSync(dataDir, { recursive: true, force: true });
ledger.close();
