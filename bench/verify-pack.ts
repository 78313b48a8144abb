// `node bin/run-ts.mjs bench/verify-pack.ts [--sizes 100000,1000000] [--runs-100k 3] [--runs-1m 1] [--rebuild]`:
// offline verification of big audit packs (issue #4).
//
// 1. Builds each pack from a REAL server (bin/proofstream.mjs serve on a temporary data directory): one stream,
//    events appended through POST /v2/streams/{id}/events/batch, 1,000 small events per request, then waits
//    until the stream is sealed through its head and builds the pack with POST /v2/audit/packs. Records the
//    append and pack-build times and the server's peak RSS (VmHWM of its process). Packs, keys and the trust
//    policy are cached under .bench-tmp/verify-pack/ and reused (`--rebuild` to rebuild).
// 2. Runs `bin/proofstream.mjs verify <pack> --trust keys.json --json` as a child process with
//    PROOFSTREAM_VERIFY_TIMING=1, measuring wall time and peak RSS (VmHWM of the verifier process, polled from
//    /proc; the worker threads share it), and reads the CLI's own structure/signature split from stderr.
//
// Writes bench/results/verify-pack.{json,md}. Nothing here is a test.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { client, startServer, tempDir } from '../test/helpers/server.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(ROOT, 'bin/proofstream.mjs');
const CACHE = path.join(ROOT, '.bench-tmp/verify-pack');

const argv = process.argv.slice(2);
const arg = (name: string, dflt: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : dflt;
};
const SIZES = arg('sizes', '100000,1000000')
  .split(',')
  .map((s) => Number(s.replace(/_/g, '')))
  .filter((n) => Number.isSafeInteger(n) && n > 0);
const RUNS_SMALL = Number(arg('runs-100k', '3'));
const RUNS_LARGE = Number(arg('runs-1m', '1'));
const REBUILD = argv.includes('--rebuild');
const BATCH = 1000;
const IN_FLIGHT = 4;

const fmt = (n: number, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Peak resident set size (VmHWM) of a live process, in bytes; 0 when /proc is not there. */
function vmHwm(pid: number): number {
  try {
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

interface BuildInfo {
  events: number;
  append_s: number;
  events_per_s: number;
  seal_wait_s: number;
  pack_build_s: number;
  pack_bytes: number;
  server_peak_rss_mb: number;
  built_at: string;
}

interface PackFiles {
  pack: string;
  keys: string;
  policy: string;
  info: BuildInfo;
}

async function buildPack(n: number): Promise<PackFiles> {
  fs.mkdirSync(CACHE, { recursive: true });
  const files = {
    pack: path.join(CACHE, `pack-${n}.json`),
    keys: path.join(CACHE, `keys-${n}.json`),
    policy: path.join(CACHE, `policy-${n}.txt`),
    info: path.join(CACHE, `build-${n}.json`),
  };
  if (!REBUILD && Object.values(files).every((f) => fs.existsSync(f))) {
    console.error(`verify-pack: reusing ${path.relative(ROOT, files.pack)}`);
    return { ...files, info: JSON.parse(fs.readFileSync(files.info, 'utf8')) as BuildInfo };
  }
  const dataDir = tempDir('ps-verify-pack-');
  const srv = await startServer({ dataDir });
  const pid = srv.proc.pid!;
  let peak = 0;
  const poll = setInterval(() => (peak = Math.max(peak, vmHwm(pid))), 250);
  try {
    const call = client(srv.url, srv.key);
    const sid = (await call('POST', '/v2/streams', { use_case: 'bench-verify-pack' })).body.stream_id as string;
    console.error(`verify-pack: building a ${fmt(n)}-event pack (stream ${sid}, server pid ${pid})`);
    const t0 = performance.now();
    let next = 0;
    const worker = async () => {
      for (;;) {
        const start = next;
        if (start >= n) return;
        const count = Math.min(BATCH, n - start);
        next += count;
        const events = Array.from({ length: count }, (_, i) => ({
          source_ref: `r${start + i}`,
          event_type: 'bench.decision',
          payload: { i: start + i, decision: (start + i) % 3 === 0 ? 'deny' : 'approve', score: 0.5 },
        }));
        const r = await call('POST', `/v2/streams/${sid}/events/batch`, { events }, { 'idempotency-key': `bench-${sid}-${start}` });
        if (r.status !== 201) throw new Error(`batch at ${start}: ${r.status} ${r.text.slice(0, 300)}`);
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
    const appendS = (performance.now() - t0) / 1000;
    console.error(`verify-pack: appended ${fmt(n)} events in ${fmt(appendS, 1)} s`);

    const t1 = performance.now();
    for (;;) {
      const r = await call('GET', `/v2/streams/${sid}/checkpoints/latest`);
      if (r.status === 200 && r.body.tree_size >= n) break;
      if (performance.now() - t1 > 600_000) throw new Error(`not sealed after 10 min: ${r.status} ${r.text.slice(0, 200)}`);
      await sleep(200);
    }
    const sealS = (performance.now() - t1) / 1000;

    const t2 = performance.now();
    let res: Response;
    for (;;) {
      res = await fetch(`${srv.url}/v2/audit/packs`, {
        method: 'POST',
        headers: { authorization: `Bearer ${srv.key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ stream_id: sid, from_seq_no: 1, to_seq_no: n }),
      });
      if (res.status !== 409) break;
      await res.arrayBuffer();
      await sleep(500);
    }
    if (res.status !== 201) throw new Error(`POST /v2/audit/packs: ${res.status} ${(await res.text()).slice(0, 300)}`);
    const tmp = `${files.pack}.tmp`;
    await pipeline(Readable.fromWeb(res.body as never), fs.createWriteStream(tmp));
    const packS = (performance.now() - t2) / 1000;
    fs.renameSync(tmp, files.pack);
    peak = Math.max(peak, vmHwm(pid));

    const anon = client(srv.url);
    fs.writeFileSync(files.keys, JSON.stringify((await anon('GET', '/v2/keys')).body));
    fs.writeFileSync(files.policy, (await anon('GET', '/v2/trust-policy')).text);
    const info: BuildInfo = {
      events: n,
      append_s: round(appendS),
      events_per_s: Math.round(n / appendS),
      seal_wait_s: round(sealS),
      pack_build_s: round(packS),
      pack_bytes: fs.statSync(files.pack).size,
      server_peak_rss_mb: round(peak / 2 ** 20, 1),
      built_at: new Date().toISOString(),
    };
    fs.writeFileSync(files.info, JSON.stringify(info, null, 2));
    console.error(`verify-pack: pack of ${fmt(n)} events built in ${fmt(packS, 1)} s (${fmt(info.pack_bytes / 2 ** 20)} MiB), server peak RSS ${info.server_peak_rss_mb} MiB`);
    return { ...files, info };
  } finally {
    clearInterval(poll);
    await srv.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

interface VerifyRun {
  /** 1-minute load average just before the run: other work on the machine competes for the same two cores. */
  loadavg_before: number;
  wall_s: number;
  peak_rss_mb: number;
  exit: number;
  ok: boolean;
  problems: number;
  timing: Record<string, unknown> | null;
}

/** One `proofstream verify` child process: wall time, peak RSS, the report's verdict and the CLI's timing line. */
function verifyOnce(p: PackFiles, mode: 'trust' | 'policy'): Promise<VerifyRun> {
  return new Promise((resolve, reject) => {
    const args = [BIN, 'verify', p.pack, ...(mode === 'trust' ? ['--trust', p.keys] : ['--policy', p.policy]), '--json'];
    const loadavg = round(os.loadavg()[0]!);
    const t0 = performance.now();
    const child = spawn(process.execPath, args, {
      cwd: ROOT,
      env: { ...process.env, PROOFSTREAM_VERIFY_TIMING: '1', PROOFSTREAM_DATA_DIR: path.join(CACHE, 'no-data') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    let peak = 0;
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const poll = setInterval(() => (peak = Math.max(peak, vmHwm(child.pid!))), 20);
    child.on('error', reject);
    child.on('exit', (code) => {
      const wall = (performance.now() - t0) / 1000;
      clearInterval(poll);
      let report: { ok: boolean; problems: unknown[] } | null = null;
      try {
        report = JSON.parse(out);
      } catch {
        /* reported below */
      }
      const line = err.split('\n').find((l) => l.startsWith('proofstream verify: timing '));
      const timing = line ? (JSON.parse(line.slice('proofstream verify: timing '.length)) as Record<string, unknown>) : null;
      if (!report) return reject(new Error(`verify printed no report (exit ${code}):\n${err.slice(0, 2000)}`));
      resolve({ loadavg_before: loadavg, wall_s: round(wall), peak_rss_mb: round(peak / 2 ** 20, 1), exit: code ?? -1, ok: report.ok, problems: report.problems.length, timing });
    });
  });
}

const results: Record<string, unknown> = {};
const rows: string[] = [];
const machine = `${os.availableParallelism()} × ${os.cpus()[0]?.model ?? 'cpu'}, ${fmt(os.totalmem() / 2 ** 30, 0)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}`;

for (const n of SIZES) {
  const p = await buildPack(n);
  if (argv.includes('--build-only')) continue;
  const runs: VerifyRun[] = [];
  const count = n >= 1_000_000 ? RUNS_LARGE : RUNS_SMALL;
  for (let i = 0; i < count; i++) {
    const r = await verifyOnce(p, 'trust');
    console.error(`verify-pack: ${fmt(n)} events, run ${i + 1}/${count}: ${fmt(r.wall_s, 2)} s, peak RSS ${fmt(r.peak_rss_mb, 0)} MiB, ok=${r.ok} ${JSON.stringify(r.timing)}`);
    runs.push(r);
  }
  const byWall = [...runs].sort((a, b) => a.wall_s - b.wall_s);
  const med = byWall[Math.floor(byWall.length / 2)]!;
  // One more run with --policy instead of --trust (skipped for 1M events unless --policy-1m: it takes minutes).
  const policyRun = n < 1_000_000 || argv.includes('--policy-1m') ? await verifyOnce(p, 'policy') : null;
  if (policyRun) console.error(`verify-pack: ${fmt(n)} events with --policy: ${fmt(policyRun.wall_s, 2)} s, ok=${policyRun.ok}`);
  results[String(n)] = { build: p.info, verify_runs: runs, median: med, policy_run: policyRun };
  const t = (med.timing ?? {}) as { path?: string; structure_s?: number; signatures_s?: number; signature_wait_s?: number; workers?: number; total_s?: number };
  rows.push(
    `| ${fmt(n)} | ${fmt(p.info.pack_bytes / 2 ** 20)} MiB | ${runs.length} | ${fmt(med.wall_s, 2)} s (${runs.map((r) => fmt(r.wall_s, 2)).join(', ')}) | ${fmt(Math.max(...runs.map((r) => r.peak_rss_mb)))} MiB | ` +
      `${t.structure_s !== undefined ? fmt(t.structure_s, 2) + ' s' : '—'} | ${t.signatures_s !== undefined ? fmt(t.signatures_s, 2) + ' s' : '—'} (${t.workers ?? '?'} workers; main thread waited ${t.signature_wait_s !== undefined ? fmt(t.signature_wait_s, 2) : '?'} s) | ` +
      `${med.ok && (policyRun?.ok ?? true) ? 'yes' : 'NO'} | ${fmt(p.info.append_s, 1)} s (${fmt(p.info.events_per_s)} ev/s) | ${fmt(p.info.pack_build_s, 1)} s | ${fmt(p.info.server_peak_rss_mb)} MiB |`,
  );
}

if (argv.includes('--build-only')) process.exit(0);
const table = [
  '| events | pack size | runs | verify wall (median; all runs) | verify peak RSS (max) | structure (main thread busy) | signatures (worker busy, summed) | valid | append | pack build | server peak RSS |',
  '|---:|---:|---:|---|---:|---:|---|---|---:|---:|---:|',
  ...rows,
].join('\n');
const md =
  `Run ${new Date().toISOString()}: \`proofstream verify <pack> --trust keys.json --json\` as a child process ` +
  `(PROOFSTREAM_VERIFY_TIMING=1); ${RUNS_SMALL} run(s) for packs below 1M events, ${RUNS_LARGE} for 1M; one more run with --policy checks the verdict (below 1M events).\n\n` +
  `Machine: ${machine}\n\n${table}\n\n` +
  'Peak RSS is VmHWM of the verifier process (worker threads included), polled from /proc. "structure" is the main ' +
  "thread's time reading, parsing and checking everything but receipt signatures (JSON, shapes, commitments, event " +
  'hashes, chain, digests, range proof); "signatures" is the time the worker threads spent in Ed25519 verification, ' +
  'summed over workers. Both are busy (wall) times: with the main thread and two workers on two cores, each is inflated by waiting for a core, so they add up to more than 2 × wall. Uncontended, one Ed25519 verification costs ~120 µs of OpenSSL time here (openssl speed ed25519: ~8,500 verify/s per core), so the signatures of a million-event pack alone need ~60 s of both cores.\n';
fs.mkdirSync(path.join(ROOT, 'bench/results'), { recursive: true });
fs.writeFileSync(path.join(ROOT, 'bench/results/verify-pack.json'), JSON.stringify({ machine, ...results }, null, 2));
fs.writeFileSync(path.join(ROOT, 'bench/results/verify-pack.md'), md);
console.log(md);
