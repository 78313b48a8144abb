// `node bin/run-ts.mjs bench/seal-turn.ts`: what sealing a 1,000-event window can add to an append's latency
// (in-process, real SQLite file, synchronous=FULL). Per stream, 1,000 events are appended in batches of 100, which
// makes a window due; then:
//   ride: one more single-event append is queued before the sealer's turn, so the window is sealed inside that
//         append's group commit (what happens under load); timed: the sealer's work in that commit (inside the
//         transaction, and its bookkeeping after COMMIT) — what the appends sharing the commit wait for. As a
//         cross-check, that flush against the same single-event flush with nothing to seal (both with their fsync,
//         whose jitter makes single differences noisy).
//   own:  with nothing queued, the sealer runs its own transaction: the whole turn, fsync included, is timed (what
//         an append arriving during it waits at most).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadConfig } from '../src/config.js';
import { Ledger } from '../src/ledger/ledger.js';
import { SCOPES } from '../src/ledger/tenancy.js';

const STREAMS = 20;
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'seal-'));
const ledger = Ledger.open(
  loadConfig({}, { dataDir, dbPath: path.join(dataDir, 'x.db'), signingKeyPath: path.join(dataDir, 'k.pem'), windowMaxEvents: 1_000_000, windowMaxAgeMs: 86_400_000 }),
);
const { row } = ledger.tenancy.createKey('b', 'b', SCOPES);
const p = { keyId: row.id, tenantId: row.tenantId, systemId: row.systemId, scopes: new Set<string>(SCOPES) };
const ev = (i: number) => ({ source_ref: `r${i}`, event_type: 'e', payload: { i } });

const appender = ledger.appender as unknown as { flush: () => void };
const flush = appender.flush.bind(appender);
let lastFlushMs = 0;
appender.flush = () => {
  const t = performance.now();
  flush();
  lastFlushMs = performance.now() - t;
};
const turn = () => new Promise((r) => setImmediate(r));
// The sealer's share of a ride: inTransaction, and the callback it returns (run after COMMIT).
let rideWorkMs = 0;
const sealer = ledger.sealer;
const inTx = sealer.inTransaction.bind(sealer);
sealer.inTransaction = () => {
  const t = performance.now();
  const after = inTx();
  rideWorkMs = performance.now() - t;
  if (!after) return after;
  return () => {
    const t2 = performance.now();
    after();
    rideWorkMs += performance.now() - t2;
  };
};

const ride: number[] = [];
const rideWork: number[] = [];
const plain: number[] = [];
const own: number[] = [];
// The first two streams (one of each kind) warm up (first use of statements and code paths) and are not counted.
for (let s = -2; s < 2 * STREAMS; s++) {
  const sid = ledger.createStream(p, { use_case: 'x', window_policy: { max_events: 1000 } }, undefined).view.stream_id;
  for (let i = 0; i < 1000; i += 100) await ledger.append(p, sid, Array.from({ length: 100 }, (_, k) => ev(i + k)), undefined, () => null);
  if (s % 2 === 0) {
    rideWorkMs = 0;
    // the size trigger just marked the window due; queue an append before the sealer's turn: it rides that flush
    const rides = ledger.sealer.stats.rides;
    await ledger.append(p, sid, [ev(1000)], undefined, () => null);
    if (ledger.sealer.stats.rides !== rides + 1 || ledger.store.streams.get(sid)!.sealedSeqNo !== 1000) throw new Error('the window did not ride');
    const flushWithSeal = lastFlushMs;
    const work = rideWorkMs;
    await turn();
    await ledger.append(p, sid, [ev(1001)], undefined, () => null); // nothing due: the same flush without sealing
    if (s < 0) continue;
    ride.push(flushWithSeal);
    rideWork.push(work);
    plain.push(lastFlushMs);
  } else {
    const t = performance.now();
    ledger.sealer.runDue();
    if (s >= 0) own.push(performance.now() - t);
    if (ledger.store.streams.get(sid)!.sealedSeqNo !== 1000) throw new Error('the window was not sealed');
  }
}
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const p95 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.ceil(xs.length * 0.95) - 1]!;
const r3 = (x: number) => Math.round(x * 1000) / 1000;
console.log(
  JSON.stringify({
    windows: STREAMS,
    seal_in_commit_ms_median: r3(med(rideWork)),
    seal_in_commit_ms_p95: r3(p95(rideWork)),
    seal_in_commit_ms_max: r3(Math.max(...rideWork)),
    flush_with_seal_ms_median: r3(med(ride)),
    flush_without_seal_ms_median: r3(med(plain)),
    seal_adds_to_flush_ms_median: r3(med(ride.map((x, i) => x - plain[i]!))),
    seal_adds_to_flush_ms_max: r3(Math.max(...ride.map((x, i) => x - plain[i]!))),
    seal_own_turn_ms_median: r3(med(own)),
    seal_own_turn_ms_max: r3(Math.max(...own)),
  }),
);
ledger.close();
fs.rmSync(dataDir, { recursive: true, force: true });
