// `npm run bench [-- --quick]`: starts real servers on temporary databases, drives them from a second process on
// 127.0.0.1 (server pinned to core 0, load to core 1 when taskset exists), prints one table and writes
// bench/results/latest.{json,md}. Every figure is the median of 3 runs. Nothing here is a test.
import { EVENT as event, hasTaskset, load as loadRun, ROOT, runNode, startFloor, startLedgerPinned, type Load } from './lib.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { client, startServer, tempDir } from '../test/helpers/server.js';
import { benchPostgres, postgresRows, type PgBenchResults } from './postgres.js';
import { postgresAvailable } from '../test/helpers/postgres.js';

const quick = process.argv.includes('--quick');
const RUNS = 3;
const DURATION = quick ? 3 : 10;
const CONNECTIONS = 64;
const PROOF_LEAVES = quick ? 100_000 : 1_000_000;
const load = (spec: object): Promise<Load> => loadRun({ duration: DURATION, connections: CONNECTIONS, ...spec });

async function median(spec: () => object, runs = RUNS): Promise<Load & { runs: Load[] }> {
  const rs: Load[] = [];
  for (let i = 0; i < runs; i++) rs.push(await load(spec()));
  const m = [...rs].sort((a, b) => a.requests_per_s - b.requests_per_s)[Math.floor(rs.length / 2)]!;
  return { ...m, p99_ms: [...rs].map((r) => r.p99_ms).sort((a, b) => a - b)[Math.floor(rs.length / 2)]!, runs: rs };
}

const rows: Array<{ name: string; value: string; unit: string; note: string }> = [];
const rows6: Array<{ name: string; value: string; unit: string; note: string }> = [];
const results: Record<string, unknown> = { quick, runs: RUNS, duration_s: DURATION, connections: CONNECTIONS, pinned: hasTaskset };
const fmt = (n: number, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

console.error(`bench: ${quick ? 'quick' : 'full'}, ${RUNS} runs × ${DURATION}s, ${CONNECTIONS} connections, pinned=${hasTaskset}`);

// 7 first: the raw floor, measured in the same run as everything it is compared with.
{
  const f = await startFloor();
  const r = await median(() => ({ url: f.url, key: 'none', method: 'POST', path: '/floor', body: event }));
  await f.stop();
  results.floor = r;
}
const floor = results.floor as Load;
// …and the native Ed25519 signing rate on the server's core (issue #19 measures the batch route against it).
results.sign_rate = JSON.parse(await runNode(0, ['bin/run-ts.mjs', 'bench/sign-rate.ts', String(Math.min(DURATION, 5))]));

// 1. single appends (durable, distinct keys), sealing on (defaults) and off, to isolate what sealing adds.
{
  const s = await startLedgerPinned();
  const call = client(s.url, s.key);
  const sid = (await call('POST', '/v2/streams', { use_case: 'bench' })).body.stream_id;
  results.append = await median(() => ({ url: s.url, key: s.key, method: 'POST', path: `/v2/streams/${sid}/events`, body: event, idempotency: 'unique' }));
  // 4. reads: receipts (sealed, so each carries an inclusion proof) over the ids just appended
  const evs = (await call('GET', `/v2/streams/${sid}/events?limit=1000`)).body.events.map((e: { stream_event_id: string }) => `/v2/receipts/${e.stream_event_id}`);
  results.receipt_reads = await median(() => ({ url: s.url, key: s.key, method: 'GET', path: evs[0], paths: evs }));
  // 3. idempotent replays: one key, same body, over and over
  await call('POST', `/v2/streams/${sid}/events`, event, { 'idempotency-key': 'replay-me' });
  results.replays = await median(() => ({ url: s.url, key: s.key, method: 'POST', path: `/v2/streams/${sid}/events`, body: event, headers: { 'idempotency-key': 'replay-me' } }));
  await s.stop();
}
{
  const s = await startLedgerPinned({ PROOFSTREAM_WINDOW_MAX_EVENTS: '100000', PROOFSTREAM_WINDOW_MAX_AGE_MS: '86400000' });
  const call = client(s.url, s.key);
  const sid = (await call('POST', '/v2/streams', { use_case: 'bench-nosealing' })).body.stream_id;
  results.append_no_sealing = await median(() => ({ url: s.url, key: s.key, method: 'POST', path: `/v2/streams/${sid}/events`, body: event, idempotency: 'unique' }));
  await s.stop();
}
// 2. batch route, 100 events per request
{
  const s = await startLedgerPinned();
  const call = client(s.url, s.key);
  const sid = (await call('POST', '/v2/streams', { use_case: 'bench-batch' })).body.stream_id;
  const batch = { events: Array.from({ length: 100 }, (_, i) => ({ ...event, source_ref: `b${i}` })) };
  results.batch = await median(() => ({ url: s.url, key: s.key, method: 'POST', path: `/v2/streams/${sid}/events/batch`, body: batch, idempotency: 'unique', connections: 16 }));
  await s.stop();
  // The same with the server given both cores (not pinned; the load generator shares core 1): without and with a
  // signing thread sharing each batch's signatures (src/ledger/sign-pool.ts).
  for (const threads of ['0', '1']) {
    const s2 = await startServer({ env: { PROOFSTREAM_SIGN_THREADS: threads } });
    const sid2 = (await client(s2.url, s2.key)('POST', '/v2/streams', { use_case: 'bench-batch-2' })).body.stream_id;
    results[`batch_2cores_threads${threads}`] = await median(() => ({ url: s2.url, key: s2.key, method: 'POST', path: `/v2/streams/${sid2}/events/batch`, body: batch, idempotency: 'unique', connections: 16 }));
    await s2.stop();
  }
}
// WAL pages per group commit of 35 single appends (in-process; deterministic for a workload, so one run).
results.wal_pages = JSON.parse(await runNode(0, ['bin/run-ts.mjs', 'bench/wal-pages.ts', '20000', '35', 'bench']));
// 7. PostgreSQL (bench/postgres.ts): the same loads on a durable cluster, one node then three; rows beside 1 and 2.
if (postgresAvailable()) results.postgres = await benchPostgres({ runs: RUNS, duration: DURATION });
else console.error('bench: no PostgreSQL (initdb) here: group 7 skipped');
// 5. proofs at N leaves
{
  const dir = tempDir('ps-proofs-');
  results.proofs = JSON.parse(await runNode(0, ['bin/run-ts.mjs', 'bench/proofs.ts', String(PROOF_LEAVES), dir]));
  fs.rmSync(dir, { recursive: true, force: true });
}

// what sealing adds: a 1,000-event window sealed inside the group commit it rides, and in a turn of its own
results.seal_turn = JSON.parse(await runNode(0, ['bin/run-ts.mjs', 'bench/seal-turn.ts']));

// 6. audit-pack build and offline verification at 100k and 1M events (bench/verify-pack.ts, minutes long): full
// runs only; --quick shows the last recorded figures from bench/results/verify-pack.json.
// Unpinned: verification is meant to use both cores (worker threads for the receipt signatures).
if (!quick) await runNode(null, ['bin/run-ts.mjs', 'bench/verify-pack.ts', '--sizes', '100000,1000000']);
{
  const f = path.join(ROOT, 'bench/results/verify-pack.json');
  type VerifyRun = { wall_s: number; peak_rss_mb: number; ok: boolean; timing?: { structure_s: number; signatures_s: number; workers: number } };
  type VerifySize = { build: { pack_build_s: number; server_peak_rss_mb: number; pack_bytes: number }; verify_runs: VerifyRun[] };
  const vp = fs.existsSync(f) ? (JSON.parse(fs.readFileSync(f, 'utf8')) as Record<string, VerifySize | string>) : {};
  for (const size of ['100000', '1000000']) {
    const v = vp[size];
    if (!v || typeof v === 'string' || !v.verify_runs?.length) continue;
    const runs = [...v.verify_runs].sort((x, y) => x.wall_s - y.wall_s);
    const m = runs[Math.floor(runs.length / 2)]!;
    const t = m.timing;
    const when = quick ? ' (recorded earlier, not re-run by --quick)' : '';
    rows6.push(
      { name: `6. audit pack build, ${fmt(Number(size))} events`, value: fmt(v.build.pack_build_s, 1), unit: 's', note: `server peak RSS ${fmt(v.build.server_peak_rss_mb)} MB, ${fmt(v.build.pack_bytes / 2 ** 20)} MiB${when}` },
      {
        name: `   offline verify, ${fmt(Number(size))} events`,
        value: fmt(m.wall_s, 1),
        unit: 's',
        note: `peak RSS ${fmt(Math.max(...runs.map((r) => r.peak_rss_mb)))} MB; structure ${t ? fmt(t.structure_s, 1) : '?'} s (main thread), receipt signatures ${t ? fmt(t.signatures_s, 1) : '?'} s CPU over ${t?.workers ?? '?'} workers; median of ${runs.length}${when}`,
      },
    );
  }
}

const a = results.append as Load;
const an = results.append_no_sealing as Load;
const b = results.batch as Load;
const b20 = results.batch_2cores_threads0 as Load;
const b21 = results.batch_2cores_threads1 as Load;
const sr = results.sign_rate as { signs_per_s: number; us_per_sign: number };
const wp = results.wal_pages as { pages_per_commit: number; commits: number; by_tree: Record<string, number> };
type Timing = { median_ms: number; p99_ms: number };
type ProofTimes = { root: Timing; inclusion: Timing; consistency: Timing };
const pr = results.proofs as ProofTimes & { leaves: number; build_s: number; after_build: ProofTimes };
const ab = pr.after_build;
const st = results.seal_turn as {
  windows: number;
  seal_in_commit_ms_median: number;
  seal_in_commit_ms_p95: number;
  seal_in_commit_ms_max: number;
  flush_with_seal_ms_median: number;
  flush_without_seal_ms_median: number;
  seal_adds_to_flush_ms_median: number;
  seal_adds_to_flush_ms_max: number;
  seal_own_turn_ms_median: number;
  seal_own_turn_ms_max: number;
};
const bad = (l: Load) => (l.non2xx || l.errors ? ` — ${l.non2xx} non-2xx, ${l.errors} errors!` : '');
rows.push(
  { name: 'raw floor (Hono POST + 1 insert + 1 sign, durable)', value: fmt(floor.requests_per_s), unit: 'req/s', note: `p50 ${floor.p50_ms} ms, p99 ${floor.p99_ms} ms${bad(floor)}` },
  { name: '1. single appends, 64 conns, durable, distinct keys', value: fmt(a.requests_per_s), unit: 'events/s', note: `p50 ${a.p50_ms} ms, p99 ${a.p99_ms} ms; ${fmt(a.requests_per_s / floor.requests_per_s, 2)}× floor${bad(a)}` },
  { name: '   same, sealing off (windows never close)', value: fmt(an.requests_per_s), unit: 'events/s', note: `p99 ${an.p99_ms} ms → sealing adds ${fmt(a.p99_ms - an.p99_ms, 1)} ms to p99 (run-to-run noise is larger; see the next row)${bad(an)}` },
  {
    name: '   sealing a 1,000-event window, inside the group commit it rides',
    value: fmt(st.seal_in_commit_ms_median, 2),
    unit: 'ms',
    note: `the sealer's work in that commit, what its appends wait for: p95 ${fmt(st.seal_in_commit_ms_p95, 2)} ms, max ${fmt(st.seal_in_commit_ms_max, 2)} ms over ${st.windows} windows (cross-check, that flush minus the same flush with nothing to seal: median ${fmt(st.seal_adds_to_flush_ms_median, 2)} ms, fsync jitter included). With no appends queued it runs its own transaction: ${fmt(st.seal_own_turn_ms_median, 2)} ms (max ${fmt(st.seal_own_turn_ms_max, 2)} ms), fsync included (bench/seal-turn.ts, in-process, core 0)`,
  },
  { name: '2. batch route, 100 events/request, 16 conns', value: fmt(b.requests_per_s * 100), unit: 'events/s', note: `${fmt(b.requests_per_s)} req/s, p99 ${b.p99_ms} ms${bad(b)}` },
  {
    name: '   native Ed25519 signing on the server\'s core (node:crypto)',
    value: fmt(sr.signs_per_s),
    unit: 'signs/s',
    note: `${fmt(sr.us_per_sign, 1)} µs each; the batch route above is ${fmt((b.requests_per_s * 100) / sr.signs_per_s, 2)}× this (target ≥ 0.8×)`,
  },
  {
    name: '   batch route, server given both cores, no signing thread',
    value: fmt(b20.requests_per_s * 100),
    unit: 'events/s',
    note: `p99 ${b20.p99_ms} ms; ${fmt((b20.requests_per_s * 100) / sr.signs_per_s, 2)}× one core's signing rate (the load generator shares core 1)${bad(b20)}`,
  },
  {
    name: '   batch route, server given both cores, 1 signing thread',
    value: fmt(b21.requests_per_s * 100),
    unit: 'events/s',
    note: `p99 ${b21.p99_ms} ms; ${fmt((b21.requests_per_s * 100) / sr.signs_per_s, 2)}× one core's signing rate; ${fmt(b21.requests_per_s / b20.requests_per_s, 2)}× without the thread${bad(b21)}`,
  },
  { name: '3. idempotent replays (same key)', value: fmt((results.replays as Load).requests_per_s), unit: 'req/s', note: `p99 ${(results.replays as Load).p99_ms} ms${bad(results.replays as Load)}` },
  { name: '4. receipt reads (with inclusion proof)', value: fmt((results.receipt_reads as Load).requests_per_s), unit: 'req/s', note: `p99 ${(results.receipt_reads as Load).p99_ms} ms${bad(results.receipt_reads as Load)}` },
  {
    name: 'WAL pages per group commit of 35 single appends',
    value: fmt(wp.pages_per_commit, 1),
    unit: 'pages',
    note: `target ≤ 15; ${Object.entries(wp.by_tree).sort((x, y) => y[1] - x[1]).map(([t, k]) => `${t} ${fmt(k, 1)}`).join(', ')} (bench/wal-pages.ts, ${wp.commits} commits)`,
  },
  { name: `5. root at ${fmt(pr.leaves)} leaves`, value: fmt(pr.root.median_ms, 3), unit: 'ms', note: `p99 ${fmt(pr.root.p99_ms, 3)} ms (right after the build, same process: p99 ${fmt(ab.root.p99_ms, 3)} ms)` },
  { name: `   inclusion proof at ${fmt(pr.leaves)} leaves`, value: fmt(pr.inclusion.median_ms, 3), unit: 'ms', note: `p99 ${fmt(pr.inclusion.p99_ms, 3)} ms (right after the build: p99 ${fmt(ab.inclusion.p99_ms, 3)} ms)` },
  { name: `   consistency proof at ${fmt(pr.leaves)} leaves`, value: fmt(pr.consistency.median_ms, 3), unit: 'ms', note: `p99 ${fmt(pr.consistency.p99_ms, 3)} ms (right after the build: p99 ${fmt(ab.consistency.p99_ms, 3)} ms; tree built in ${fmt(pr.build_s, 1)} s in-process; timed on the reopened database after 200 warm-up proofs)` },
);
rows.push(...rows6);
if (results.postgres) rows.push(...postgresRows(results.postgres as PgBenchResults, { floor, append: a, batch: b }));
const table = ['| figure | value | unit | notes |', '|---|---:|---|---|', ...rows.map((r) => `| ${r.name} | ${r.value} | ${r.unit} | ${r.note} |`)].join('\n');
const machine = `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${fmt(os.totalmem() / 2 ** 30, 0)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}`;
const md = `Run ${new Date().toISOString()} (${quick ? 'quick' : 'full'}: median of ${RUNS} runs × ${DURATION} s; server pinned to core 0 and load to core 1: ${hasTaskset})\n\nMachine: ${machine}\n\n${table}\n`;
fs.mkdirSync(path.join(ROOT, 'bench/results'), { recursive: true });
fs.writeFileSync(path.join(ROOT, 'bench/results/latest.json'), JSON.stringify({ ...results, machine }, null, 2));
fs.writeFileSync(path.join(ROOT, 'bench/results/latest.md'), md);
console.log(md);
