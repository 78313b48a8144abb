// Fine-grained interleaved A/B for a shared, noisy machine: `taskset -c 1 node bin/run-ts.mjs bench/slice-ab.ts
// <tree A> <tree B> [slices=60] [sliceMs=300] [append|batch|replay]`. Three servers (the floor, tree A, tree B) run at
// once, pinned to core 0; this process drives 64 keep-alive connections at one of them for a short slice, then the
// next, rotating, so a burst of outside load hits all three alike. Per server: responses, server CPU time
// (/proc utime+stime) per response, and throughput while it was the target. autocannon cannot switch its target
// every 300 ms or sample the server's CPU per slice, hence the small client here; it only writes fixed requests and
// counts responses by Content-Length. Nothing here is a test. (It measured the fused append route: docs/performance.md.)
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { EVENT, startFloor, startPinned } from './lib.js';
import { client, newKey, tempDir } from '../test/helpers/server.js';

const [treeA, treeB] = [path.resolve(process.argv[2]!), path.resolve(process.argv[3]!)];
const slices = Number(process.argv[4] ?? 60);
const sliceMs = Number(process.argv[5] ?? 300);
const scenario = process.argv[6] ?? 'append';
const CONNS = 64;

const ticks = (pid: number) => {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(f[11]) + Number(f[12]);
};
interface Target { name: string; port: number; pid: number; make: (n: number) => string; done: number; nonOk: number; cpu: number; activeMs: number; stop: () => Promise<void> }
const body = JSON.stringify(EVENT);
const prefix = `s-${process.pid}-${Date.now()}`;
async function ledger(name: string, tree: string): Promise<Target> {
  const key = newKey();
  const s = await startPinned(tree, ['bin/proofstream.mjs', 'serve'], { HOST: '127.0.0.1', PORT: '0', PROOFSTREAM_DATA_DIR: tempDir(), PROOFSTREAM_BOOTSTRAP_KEY: key });
  const sid = (await client(s.url, key)('POST', '/v2/streams', { use_case: 'slice' })).body.stream_id as string;
  const port = Number(new URL(s.url).port);
  const batch = JSON.stringify({ events: Array.from({ length: 100 }, (_, i) => ({ ...EVENT, source_ref: `b${i}` })) });
  const [p, b] = scenario === 'batch' ? [`/v2/streams/${sid}/events/batch`, batch] : [`/v2/streams/${sid}/events`, body];
  const head = `POST ${p} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nAuthorization: Bearer ${key}\r\nContent-Length: ${Buffer.byteLength(b)}\r\n`;
  const make = scenario === 'replay' ? () => `${head}Idempotency-Key: replay-me\r\n\r\n${b}` : (n: number) => `${head}Idempotency-Key: ${prefix}-${name}-${n}\r\n\r\n${b}`;
  return { name, port, pid: s.pid, make, done: 0, nonOk: 0, cpu: 0, activeMs: 0, stop: s.stop };
}
async function floor(): Promise<Target> {
  const s = await startFloor();
  const port = Number(new URL(s.url).port);
  const req = `POST /floor HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  return { name: 'floor', port, pid: s.pid, make: () => req, done: 0, nonOk: 0, cpu: 0, activeMs: 0, stop: s.stop };
}

/** One keep-alive connection: sends while `active()`, one request at a time, counts complete responses. */
function connection(t: Target, active: () => boolean, counter: { n: number }) {
  const s = net.connect(t.port, '127.0.0.1');
  s.setNoDelay(true);
  let buf = '';
  let busy = false;
  const send = () => {
    if (busy || !active()) return;
    busy = true;
    s.write(t.make(counter.n++));
  };
  s.on('data', (d) => {
    buf += d.toString('latin1');
    for (;;) {
      const he = buf.indexOf('\r\n\r\n');
      if (he < 0) return;
      const m = /\r\ncontent-length: (\d+)/i.exec(buf.slice(0, he));
      const len = m ? Number(m[1]) : 0;
      if (buf.length < he + 4 + len) return;
      if (!/^HTTP\/1\.1 20[01]/.test(buf)) t.nonOk++;
      buf = buf.slice(he + 4 + len);
      t.done++;
      busy = false;
      send();
    }
  });
  s.on('error', (e) => console.error(t.name, e.message));
  return { kick: send, end: () => s.end() };
}

const targets = [await floor(), await ledger('A', treeA), await ledger('B', treeB)];
let current = -1;
const counter = { n: 0 };
const conns = targets.map((t, i) => Array.from({ length: CONNS }, () => connection(t, () => current === i, counter)));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
await sleep(500);
// warm-up: one slice each, not counted
for (let i = 0; i < targets.length; i++) {
  current = i;
  conns[i]!.forEach((c) => c.kick());
  await sleep(1000);
}
current = -1;
await sleep(300);
for (const t of targets) (t.done = 0), (t.nonOk = 0);
const perSlice: Array<Array<{ done: number; cpu: number }>> = targets.map(() => []);
for (let s = 0; s < slices; s++) {
  for (let j = 0; j < targets.length; j++) {
    const i = (s + j) % targets.length; // rotate who goes first
    const t = targets[i]!;
    const c0 = ticks(t.pid);
    const d0 = t.done;
    const t0 = Date.now();
    current = i;
    conns[i]!.forEach((c) => c.kick());
    await sleep(sliceMs);
    current = -1;
    await sleep(60); // drain in-flight (≤ 64 requests) before the next target
    t.activeMs += Date.now() - t0;
    const dc = ticks(t.pid) - c0;
    t.cpu += dc;
    perSlice[i]!.push({ done: t.done - d0, cpu: dc });
  }
}
await Promise.all(targets.map((t) => t.stop()));
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const row = (t: Target, i: number) => {
  const rps = (t.done / t.activeMs) * 1000;
  const cpuUs = (t.cpu * 10_000) / t.done;
  return { rps, cpuUs, medRps: med(perSlice[i]!.map((x) => x.done)) / ((sliceMs + 60) / 1000) };
};
const [F, A, B] = targets.map(row) as [ReturnType<typeof row>, ReturnType<typeof row>, ReturnType<typeof row>];
console.log(`${scenario}: ${slices} rounds × ${sliceMs} ms slices (floor, A, B rotating), ${CONNS} conns; non-2xx A ${targets[1]!.nonOk} B ${targets[2]!.nonOk}`);
for (const [n, r] of [['floor', F], ['A', A], ['B', B]] as const) console.log(`${n.padEnd(5)} ${Math.round(r.rps).toString().padStart(6)} req/s (median slice ${Math.round(r.medRps)}), server CPU ${r.cpuUs.toFixed(0)} µs/req`);
const pairs = perSlice[2]!.map((b, k) => b.done / Math.max(1, perSlice[1]![k]!.done));
console.log(`A/floor ${(A.rps / F.rps).toFixed(2)}×  B/floor ${(B.rps / F.rps).toFixed(2)}×  B/A ${(B.rps / A.rps).toFixed(3)}× (median of per-round ratios ${med(pairs).toFixed(3)})`);
console.log(`CPU per request: B/A ${(B.cpuUs / A.cpuUs).toFixed(3)}  floor/A ${(F.cpuUs / A.cpuUs).toFixed(2)}  floor/B ${(F.cpuUs / B.cpuUs).toFixed(2)}`);
process.exit(0);
