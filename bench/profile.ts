// `node bin/run-ts.mjs bench/profile.ts [append|batch|replay|floor] [seconds]`: one load run against a server
// started under `node --cpu-prof` (pinned like bench/run.ts), then a self-time summary of the profile: shares by
// package/area and the top functions. Prints the throughput too, but the profile is the point: on a shared
// machine the shares are stable where absolute req/s are not.
import { EVENT, load as loadRun, ROOT, startFloor, startPinned, type Load, type PinnedServer } from './lib.js';
import fs from 'node:fs';
import path from 'node:path';
import { client, newKey, tempDir } from '../test/helpers/server.js';

const scenario = process.argv[2] ?? 'append';
const seconds = Number(process.argv[3] ?? 5);
const profDir = tempDir('ps-prof-');
const event = EVENT;
const load = (spec: object): Promise<Load> => loadRun({ duration: seconds, ...spec });

const PROF_ARGS = ['--cpu-prof', `--cpu-prof-dir=${profDir}`]; // not allowed in NODE_OPTIONS on Node 20

/** Like test/helpers/server.ts startServer, but under --cpu-prof and pinned to core 0 from the start. */
async function startProfiledServer(): Promise<PinnedServer & { key: string }> {
  const key = newKey();
  const env = { HOST: '127.0.0.1', PORT: '0', PROOFSTREAM_DATA_DIR: tempDir(), PROOFSTREAM_BOOTSTRAP_KEY: key };
  return { ...(await startPinned(ROOT, ['bin/proofstream.mjs', 'serve'], env, PROF_ARGS)), key };
}
let result;
const t0 = Date.now();
let loadStart = 0; // ms after t0 when the measured load began: earlier samples (module loading, setup) are skipped
if (scenario === 'floor') {
  const f = await startFloor(PROF_ARGS);
  loadStart = Date.now() - t0;
  result = await load({ url: f.url, key: 'none', method: 'POST', path: '/floor', body: event });
  await f.stop(); // the floor server exits through process.exit on SIGTERM, which writes the profile
} else {
  const s = await startProfiledServer();
  const call = client(s.url, s.key);
  const sid = (await call('POST', '/v2/streams', { use_case: 'prof' })).body.stream_id;
  loadStart = Date.now() - t0;
  const base = { url: s.url, key: s.key, method: 'POST', path: `/v2/streams/${sid}/events` };
  if (scenario === 'append') result = await load({ ...base, body: event, idempotency: 'unique' });
  else if (scenario === 'batch') {
    const batch = { events: Array.from({ length: 100 }, (_, i) => ({ ...event, source_ref: `b${i}` })) };
    result = await load({ ...base, path: `${base.path}/batch`, body: batch, idempotency: 'unique', connections: 16 });
  } else if (scenario === 'replay') {
    await call('POST', base.path, event, { 'idempotency-key': 'replay-me' });
    result = await load({ ...base, body: event, headers: { 'idempotency-key': 'replay-me' } });
  } else throw new Error(`unknown scenario ${scenario}`);
  await s.stop();
}
console.log(JSON.stringify(result));

const files = fs.readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile'));
if (!files.length) {
  console.log(`no profile written in ${profDir}`);
  process.exit(0);
}
// The server's profile is the largest one (tsx may leave a tiny one for a helper process).
const file = files.map((f) => path.join(profDir, f)).sort((a, b) => fs.statSync(b).size - fs.statSync(a).size)[0]!;
interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount: number;
  children?: number[];
}
const prof = JSON.parse(fs.readFileSync(file, 'utf8')) as { nodes: Node[]; samples: number[]; timeDeltas: number[] };
const byIdEarly = new Map(prof.nodes.map((n) => [n.id, n]));
const INCLUSIVE_ALSO = new Set(['parserOnIncoming', 'processImmediate', 'processTicksAndRejections', 'runMicrotasks', 'dispatch']);
const self = new Map<number, number>();
const parent = new Map<number, number>();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const inclusive = new Map<string, number>();
const phases = new Map<string, number>();
const requestSelf = new Map<string, number>();
const commitSelf = new Map<string, number>();
let clock = 0;
prof.samples.forEach((id, i) => {
  clock += prof.timeDeltas[i] ?? 0;
  // +500 ms: the load process itself takes a moment to start sending
  if (clock / 1000 < loadStart + 500) return;
  self.set(id, (self.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0));
  // which phase the sample belongs to: the group commit, sealing, or request handling (everything else)
  let phase = 'request';
  for (let n: number | undefined = id; n !== undefined; n = parent.get(n)) {
    const f = byIdEarly.get(n)!.callFrame;
    if (f.functionName === 'flush' && f.url.endsWith('appender.ts')) phase = 'commit';
    else if (f.functionName === 'runDue' && f.url.endsWith('sealer.ts')) phase = 'sealing';
    else continue;
    break;
  }
  const fr = byIdEarly.get(id)!.callFrame;
  if (fr.functionName !== '(idle)') {
    phases.set(phase, (phases.get(phase) ?? 0) + (prof.timeDeltas[i] ?? 0));
    {
      const k = `${fr.functionName || '(anon)'} ${fr.url.replace(/^.*\/(node_modules|src)\//, '$1/')}:${fr.lineNumber + 1}`;
      const m = phase === 'request' ? requestSelf : commitSelf;
      if (phase !== 'sealing') m.set(k, (m.get(k) ?? 0) + (prof.timeDeltas[i] ?? 0));
    }
  }
  // inclusive time of our own functions and a few entry points: each counted once per sample
  const seen = new Set<string>();
  for (let n: number | undefined = id; n !== undefined; n = parent.get(n)) {
    const f = byIdEarly.get(n)!.callFrame;
    if (!f.url.includes('/src/') && !INCLUSIVE_ALSO.has(f.functionName)) continue;
    const key = `${f.functionName || '(anon)'} ${f.url.replace(/^.*\/src\//, 'src/')}:${f.lineNumber + 1}`;
    if (seen.has(key)) continue;
    seen.add(key);
    inclusive.set(key, (inclusive.get(key) ?? 0) + (prof.timeDeltas[i] ?? 0));
  }
});
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const total = [...self.values()].reduce((a, b) => a + b, 0);
const area = (url: string, fn: string): string => {
  if (fn === '(idle)') return '(idle)';
  if (fn === '(garbage collector)') return '(gc)';
  if (fn === '(program)') return '(program)';
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1]!;
  if (url.includes('/src/')) return 'src/' + url.split('/src/')[1]!.split('/')[0];
  if (url.startsWith('node:')) return url;
  if (url === '') return `(native) ${fn}`;
  return url.replace(/^file:\/\/.*\//, '');
};
const areas = new Map<string, number>();
const fns = new Map<string, number>();
for (const [id, t] of self) {
  const n = byId.get(id)!;
  const a = area(n.callFrame.url, n.callFrame.functionName);
  areas.set(a, (areas.get(a) ?? 0) + t);
  const f = `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.replace(/^.*\/(node_modules|src)\//, '$1/')}:${n.callFrame.lineNumber + 1}`;
  fns.set(f, (fns.get(f) ?? 0) + t);
}
const idle = areas.get('(idle)') ?? 0;
const busy = total - idle;
const pct = (t: number) => ((100 * t) / busy).toFixed(1).padStart(5) + '%';
console.log(`profile ${file}: ${(total / 1e6).toFixed(1)} s sampled, idle ${((100 * idle) / total).toFixed(1)}% (shares below are of busy time)`);
console.log('\nself time by area');
for (const [a, t] of [...areas].filter(([a]) => a !== '(idle)').sort((x, y) => y[1] - x[1]).slice(0, 25)) console.log(`${pct(t)}  ${a}`);
console.log('\ntop functions (self)');
for (const [f, t] of [...fns].filter(([f]) => !f.startsWith('(idle)')).sort((x, y) => y[1] - x[1]).slice(0, 40)) console.log(`${pct(t)}  ${f}`);
console.log('\ninclusive (our code and entry points)');
for (const [f, t] of [...inclusive].sort((x, y) => y[1] - x[1]).slice(0, 40)) console.log(`${pct(t)}  ${f}`);
console.log('\nphases (share of busy time)');
for (const [p, t] of [...phases].sort((x, y) => y[1] - x[1])) console.log(`${pct(t)}  ${p}`);
console.log('\nrequest handling: top functions (self, share of busy time)');
for (const [f, t] of [...requestSelf].sort((x, y) => y[1] - x[1]).slice(0, 30)) console.log(`${pct(t)}  ${f}`);
console.log('\ngroup commit: top functions (self, share of busy time)');
for (const [f, t] of [...commitSelf].sort((x, y) => y[1] - x[1]).slice(0, 20)) console.log(`${pct(t)}  ${f}`);
