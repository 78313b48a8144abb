// `node bin/run-ts.mjs bench/compare.ts <treeA> <treeB> [rounds] [seconds]`: A/B throughput of two source trees
// (e.g. a copy of the code before a change, and this one) on a shared machine. Servers and the raw floor are started
// fresh and measured in alternation (floor, A, B, floor, A, B, …) under the same pinning as bench/run.ts, so slow
// phases of a busy machine hit all of them alike; it prints medians and the ratios B/A and each/floor.
import { EVENT, load as loadRun, startFloor, startPinned, type Load } from './lib.js';
import path from 'node:path';
import { client, newKey, tempDir } from '../test/helpers/server.js';

const [treeA, treeB] = [path.resolve(process.argv[2]!), path.resolve(process.argv[3]!)];
const rounds = Number(process.argv[4] ?? 3);
const seconds = Number(process.argv[5] ?? 3);
const event = EVENT;
const load = (spec: object): Promise<Load> => loadRun({ duration: seconds, ...spec });


async function ledgerRun(tree: string, scenario: string): Promise<Load> {
  const key = newKey();
  const s = await startPinned(tree, ['bin/proofstream.mjs', 'serve'], { HOST: '127.0.0.1', PORT: '0', PROOFSTREAM_DATA_DIR: tempDir(), PROOFSTREAM_BOOTSTRAP_KEY: key });
  try {
    const call = client(s.url, key);
    const sid = (await call('POST', '/v2/streams', { use_case: 'cmp' })).body.stream_id;
    const base = { url: s.url, key, method: 'POST', path: `/v2/streams/${sid}/events` };
    if (scenario === 'append') return await load({ ...base, body: event, idempotency: 'unique' });
    if (scenario === 'batch') {
      const batch = { events: Array.from({ length: 100 }, (_, i) => ({ ...event, source_ref: `b${i}` })) };
      const r = await load({ ...base, path: `${base.path}/batch`, body: batch, idempotency: 'unique', connections: 16 });
      return { ...r, requests_per_s: r.requests_per_s * 100 };
    }
    await call('POST', base.path, event, { 'idempotency-key': 'replay-me' });
    return await load({ ...base, body: event, headers: { 'idempotency-key': 'replay-me' } });
  } finally {
    await s.stop();
  }
}

async function floorRun(): Promise<Load> {
  const f = await startFloor();
  try {
    return await load({ url: f.url, key: 'none', method: 'POST', path: '/floor', body: event });
  } finally {
    await f.stop();
  }
}

const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const scenarios = (process.env.SCENARIOS ?? 'append,batch,replay').split(',');
const res: Record<string, { floor: number[]; a: number[]; b: number[]; ap99: number[]; bp99: number[] }> = {};
for (const sc of scenarios) res[sc] = { floor: [], a: [], b: [], ap99: [], bp99: [] };
for (let r = 0; r < rounds; r++) {
  for (const sc of scenarios) {
    const x = res[sc]!;
    x.floor.push((await floorRun()).requests_per_s);
    const a = await ledgerRun(treeA, sc);
    const b = await ledgerRun(treeB, sc);
    if (a.non2xx || b.non2xx) console.error(`${sc}: non-2xx answers A ${a.non2xx} B ${b.non2xx}`);
    x.a.push(a.requests_per_s);
    x.b.push(b.requests_per_s);
    x.ap99.push(a.p99_ms);
    x.bp99.push(b.p99_ms);
    console.error(`round ${r + 1} ${sc}: floor ${fmt(x.floor.at(-1)!)} A ${fmt(a.requests_per_s)} B ${fmt(b.requests_per_s)}`);
  }
}
console.log(`A = ${treeA}\nB = ${treeB}\n${rounds} rounds × ${seconds} s, medians (batch in events/s)\n`);
console.log('| scenario | floor req/s | A | A/floor | B | B/floor | B/A | p99 A → B |');
console.log('|---|---:|---:|---:|---:|---:|---:|---|');
for (const sc of scenarios) {
  const x = res[sc]!;
  const [f, a, b] = [med(x.floor), med(x.a), med(x.b)];
  // ratios per round (same conditions), then the median of those
  const ra = med(x.a.map((v, i) => v / x.floor[i]!));
  const rb = med(x.b.map((v, i) => v / x.floor[i]!));
  const rba = med(x.b.map((v, i) => v / x.a[i]!));
  console.log(`| ${sc} | ${fmt(f)} | ${fmt(a)} | ${ra.toFixed(2)}× | ${fmt(b)} | ${rb.toFixed(2)}× | ${rba.toFixed(2)}× | ${med(x.ap99)} ms → ${med(x.bp99)} ms |`);
}
