// Proof and root timings over a real ledger database with N leaves (in-process: this measures the prover
// and the store, not HTTP). Run by bench/run.ts; prints one JSON line.
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadConfig } from '../src/config.js';
import { Ledger } from '../src/ledger/ledger.js';
import { SCOPES } from '../src/ledger/tenancy.js';
import { consistencyProof, inclusionProof, rootAt } from '../src/protocol/merkle.js';

const leaves = Number(process.argv[2] ?? 1_000_000);
const dataDir = process.argv[3]!;
const config = loadConfig({}, { dataDir, dbPath: path.join(dataDir, 'proofs.db'), signingKeyPath: path.join(dataDir, 'k.pem'), windowMaxEvents: 100_000, windowMaxAgeMs: 86_400_000 });
let ledger = Ledger.open(config);
const { row } = ledger.tenancy.createKey('bench', 'bench', SCOPES);
const p = { keyId: row.id, tenantId: row.tenantId, systemId: row.systemId, scopes: new Set<string>(SCOPES) };
const sid = ledger.createStream(p, { use_case: 'bench-proofs' }, undefined).view.stream_id;

const t0 = performance.now();
const BATCH = 1000;
for (let i = 0; i < leaves; i += BATCH) {
  const n = Math.min(BATCH, leaves - i);
  const items = Array.from({ length: n }, (_, k) => ({ source_ref: `r${i + k}`, event_type: 'bench', payload: { i: i + k } }));
  await ledger.append(p, sid, items, undefined, () => null);
}
const buildS = (performance.now() - t0) / 1000;

function timeIt(samples: number, fn: (i: number) => unknown) {
  const ts: number[] = [];
  for (let i = 0; i < samples; i++) {
    const s = performance.now();
    fn(i);
    ts.push(performance.now() - s);
  }
  ts.sort((a, b) => a - b);
  return { median_ms: ts[Math.floor(ts.length / 2)]!, p99_ms: ts[Math.floor(ts.length * 0.99)]!, samples };
}
// A node source per proof, as a request gets one; the store's node cache is shared between them, as in the server.
let src = () => ledger.store.checkpoints.nodeSource(sid);
let seed = 12345;
const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
// Steady state, as a running server sees it: untimed proofs first bring the upper tree levels into the cache and
// the database pages they sit on into memory (without them the first few proofs read cold pages and dominate the
// p99 of a short run). "after_build" is timed this way right after the build; the main figures after a reopen.

const measure = () => ({
  root: timeIt(1000, () => rootAt(src(), leaves - rnd(1000))),
  inclusion: timeIt(1000, () => inclusionProof(src(), rnd(leaves), leaves)),
  consistency: timeIt(1000, () => {
    const a = 1 + rnd(leaves - 1);
    return consistencyProof(src(), a, leaves);
  }),
});
const warm = () => {
  for (let i = 0; i < 200; i++) inclusionProof(src(), rnd(leaves), leaves);
  for (let i = 0; i < 50; i++) rootAt(src(), leaves - rnd(1000));
  for (let i = 0; i < 50; i++) consistencyProof(src(), 1 + rnd(leaves - 1), leaves);
};
warm();
const afterBuild = measure();
// A server restarted on this database: the WAL checkpointed, the build's garbage gone, caches warmed as above.
ledger.close();
ledger = Ledger.open(config);
src = () => ledger.store.checkpoints.nodeSource(sid);
(globalThis as { gc?: () => void }).gc?.();
warm();
const result = { leaves, build_s: buildS, ...measure(), after_build: afterBuild };
ledger.close();
console.log(JSON.stringify(result));
