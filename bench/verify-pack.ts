// `node bin/run-ts.mjs bench/verify-pack.ts [--sizes 100000,1000000] [--runs-100k 3] [--runs-1m 1] [--rebuild]
//  [--cache <dir>] [--build-only]`: audit-pack build memory (issue #7) and offline verification of big packs (#4).
//
// 1. Builds each pack from a REAL server (bin/proofstream.mjs serve on a temporary data directory): one stream,
//    events appended through POST /v2/streams/{id}/events/batch, 1,000 small events per request, then waits
//    until the stream is sealed through its head and builds the pack with POST /v2/audit/packs (the response is
//    streamed to a file). The server's memory is measured per phase, from /proc/<pid>/status:
//    - "whole life": the peak over ingest (all the batch appends) and the build: VmHWM just before the build,
//      or the build's peak when that is higher;
//    - "build, after ingest": VmRSS just before the POST, then the peak during the build alone, in two parts:
//      until the response headers (the server writes, hashes and records the pack file) and from there to the
//      last byte (it sends the stored file). VmHWM is reset by writing "5" to /proc/<pid>/clear_refs right before
//      the POST and again at the headers, and read at the headers and at the end (when a reset is refused, the max
//      of VmRSS polled every 50 ms instead, and the output says "polled");
//    - "build, fresh server": the server is then stopped and started again on the same data directory — what an
//      auditor-facing deployment sees — and the same range is built once more, measured the same way.
//    Packs, keys and the trust policy are cached under .bench-tmp/verify-pack/ (or `--cache <dir>`, or
//    $PROOFSTREAM_BENCH_CACHE) and reused (`--rebuild` to rebuild). The cached pack is the first build's.
// 2. Runs `bin/proofstream.mjs verify <pack> --trust keys.json --json` as a child process with
//    PROOFSTREAM_VERIFY_TIMING=1, measuring wall time and peak RSS (VmHWM of the verifier process, polled from
//    /proc; the worker threads share it), and reads the CLI's own structure/signature split from stderr.
//
// Writes bench/results/verify-pack.{json,md} (not with --build-only). Nothing here is a test.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { client, startServer, tempDir, type RunningServer } from '../test/helpers/server.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(ROOT, 'bin/proofstream.mjs');

const argv = process.argv.slice(2);
const arg = (name: string, dflt: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : dflt;
};
const CACHE = path.resolve(ROOT, arg('cache', process.env.PROOFSTREAM_BENCH_CACHE || '.bench-tmp/verify-pack'));
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

/** A field of /proc/<pid>/status in bytes (VmHWM: peak resident set; VmRSS: current); 0 when /proc is not there. */
function procStatus(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}
/** Peak resident set size (VmHWM) of a live process, in bytes; 0 when /proc is not there. */
const vmHwm = (pid: number) => procStatus(pid, 'VmHWM');
const vmRss = (pid: number) => procStatus(pid, 'VmRSS');

/** Resets a process's VmHWM to its current RSS (Linux: "5" to /proc/<pid>/clear_refs). True when it took effect. */
function resetPeak(pid: number): boolean {
  try {
    fs.writeFileSync(`/proc/${pid}/clear_refs`, '5');
  } catch {
    return false;
  }
  // VmHWM is now VmRSS at the time of the write; allow for RSS moving between the two reads.
  return vmHwm(pid) <= vmRss(pid) + 4 * 2 ** 20;
}

const MiB = (b: number) => round(b / 2 ** 20, 1);

/** Server memory around one pack build. */
interface BuildMemory {
  /** VmRSS right before the POST. */
  rss_before_mb: number;
  /** Peak RSS from the POST until the last byte of the response: max of the two below. */
  peak_mb: number;
  /** Peak RSS from the POST until the response headers: the server writing, hashing and recording the pack file. */
  peak_write_mb: number;
  /** Peak RSS from the response headers until its last byte: the server sending the stored file. */
  peak_send_mb: number;
  /** How the peaks were measured: 'clear_refs' (VmHWM reset before the POST and at the headers) or 'polled' (max VmRSS every 50 ms). */
  peak_method: 'clear_refs' | 'polled';
  /** Wall time of the build, POST until the last byte of the response. */
  build_s: number;
  /** POST until the response headers (the file is complete then). */
  write_s: number;
}

interface BuildInfo {
  events: number;
  append_s: number;
  events_per_s: number;
  seal_wait_s: number;
  /** Build on the server that ingested the events (= build_after_ingest.build_s). */
  pack_build_s: number;
  pack_bytes: number;
  /** Peak RSS of the ingesting server over its whole life, ingest and build (kept under this name for bench/run.ts). */
  server_peak_rss_mb: number;
  /** Peak RSS of that server before the build, i.e. during the ingest. */
  ingest_peak_rss_mb?: number;
  build_after_ingest?: BuildMemory;
  /** The same range built again by a server restarted on the same data directory. */
  build_fresh_server?: BuildMemory;
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
  let srv = await startServer({ dataDir });
  try {
    const call = client(srv.url, srv.key);
    const sid = (await call('POST', '/v2/streams', { use_case: 'bench-verify-pack' })).body.stream_id as string;
    console.error(`verify-pack: building a ${fmt(n)}-event pack (stream ${sid}, server pid ${srv.proc.pid}, cache ${path.relative(ROOT, CACHE) || '.'})`);
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

    // Build 1: on the server that ingested everything.
    const ingestPeak = vmHwm(srv.proc.pid!);
    const tmp = `${files.pack}.tmp`;
    const first = await measuredBuild(srv, sid, n, tmp);
    // The peak over the server's whole life: VmHWM was reset for the build, so take the larger of the two phases.
    const wholeLife = Math.max(ingestPeak, first.peak_mb * 2 ** 20);
    fs.renameSync(tmp, files.pack);
    console.error(
      `verify-pack: pack of ${fmt(n)} events built in ${fmt(first.build_s, 1)} s on the ingesting server: RSS before ${first.rss_before_mb} MiB, ` +
        `build peak ${first.peak_mb} MiB (writing the file ${first.peak_write_mb}, sending it ${first.peak_send_mb}; ${first.peak_method}); whole-life peak ${MiB(wholeLife)} MiB (ingest peak ${MiB(ingestPeak)} MiB)`,
    );

    const anon = client(srv.url);
    fs.writeFileSync(files.keys, JSON.stringify((await anon('GET', '/v2/keys')).body));
    fs.writeFileSync(files.policy, (await anon('GET', '/v2/trust-policy')).text);

    // Build 2: the same range, by a server restarted on the same data directory (what an auditor's request meets).
    await srv.stop();
    srv = await startServer({ dataDir, key: srv.key });
    await sleep(1000); // let start-up work (sealer, witnesses) settle before reading the baseline
    const again = `${files.pack}.fresh.tmp`;
    const fresh = await measuredBuild(srv, sid, n, again);
    const freshBytes = fs.statSync(again).size;
    fs.rmSync(again, { force: true });
    console.error(
      `verify-pack: same range on a fresh server: ${fmt(fresh.build_s, 1)} s, RSS before ${fresh.rss_before_mb} MiB, build peak ${fresh.peak_mb} MiB (writing the file ${fresh.peak_write_mb}, sending it ${fresh.peak_send_mb}; ${fresh.peak_method})` +
        (freshBytes === fs.statSync(files.pack).size ? '' : ` — size differs: ${freshBytes} vs ${fs.statSync(files.pack).size} bytes`),
    );

    const info: BuildInfo = {
      events: n,
      append_s: round(appendS),
      events_per_s: Math.round(n / appendS),
      seal_wait_s: round(sealS),
      pack_build_s: first.build_s,
      pack_bytes: fs.statSync(files.pack).size,
      server_peak_rss_mb: MiB(wholeLife),
      ingest_peak_rss_mb: MiB(ingestPeak),
      build_after_ingest: first,
      build_fresh_server: fresh,
      built_at: new Date().toISOString(),
    };
    fs.writeFileSync(files.info, JSON.stringify(info, null, 2));
    return { ...files, info };
  } finally {
    await srv.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

/**
 * POST /v2/audit/packs for 1..n, the response streamed to `out`: the server's RSS before, and its peak while it
 * writes the pack file (until the response headers) and while it sends it (until the last byte).
 */
async function measuredBuild(srv: RunningServer, sid: string, n: number, out: string): Promise<BuildMemory> {
  const pid = srv.proc.pid!;
  await sleep(500);
  const before = vmRss(pid);
  let reset = resetPeak(pid);
  let polled = before;
  const poll = setInterval(() => (polled = Math.max(polled, vmRss(pid))), 50);
  const t0 = performance.now();
  try {
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
    const writeS = (performance.now() - t0) / 1000;
    // The pack file is complete and recorded once the headers are out: the peak so far is the build's; reset for the send.
    const peakWrite = reset ? vmHwm(pid) : Math.max(polled, vmRss(pid));
    reset = reset && resetPeak(pid);
    polled = vmRss(pid);
    await pipeline(Readable.fromWeb(res.body as never), fs.createWriteStream(out));
    const buildS = (performance.now() - t0) / 1000;
    const peakSend = reset ? vmHwm(pid) : Math.max(polled, vmRss(pid));
    return {
      rss_before_mb: MiB(before),
      peak_mb: MiB(Math.max(peakWrite, peakSend)),
      peak_write_mb: MiB(peakWrite),
      peak_send_mb: MiB(peakSend),
      peak_method: reset ? 'clear_refs' : 'polled',
      build_s: round(buildS),
      write_s: round(writeS),
    };
  } finally {
    clearInterval(poll);
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
const buildRows: string[] = [];
const rows: string[] = [];
const machine = `${os.availableParallelism()} × ${os.cpus()[0]?.model ?? 'cpu'}, ${fmt(os.totalmem() / 2 ** 30, 0)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}`;

const buildCells = (m: BuildMemory | undefined) =>
  m
    ? `${fmt(m.build_s, 1)} s | ${fmt(m.rss_before_mb)} MiB | **${fmt(m.peak_mb)} MiB**${m.peak_method === 'polled' ? ' (polled)' : ''}` +
      (m.peak_write_mb !== undefined ? ` (${fmt(m.peak_write_mb)} / ${fmt(m.peak_send_mb)})` : '')
    : '— | — | —';

for (const n of SIZES) {
  const p = await buildPack(n);
  buildRows.push(
    `| ${fmt(n)} | ${fmt(p.info.pack_bytes / 2 ** 20)} MiB | ${fmt(p.info.append_s, 1)} s (${fmt(p.info.events_per_s)} ev/s) | ` +
      `${p.info.ingest_peak_rss_mb !== undefined ? fmt(p.info.ingest_peak_rss_mb) + ' MiB' : '—'} | ${fmt(p.info.server_peak_rss_mb)} MiB | ` +
      `${buildCells(p.info.build_after_ingest)} | ${buildCells(p.info.build_fresh_server)} |`,
  );
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
      `${med.ok && (policyRun?.ok ?? true) ? 'yes' : 'NO'} |`,
  );
}

const buildTable = [
  '| events | pack size | append (ingest) | server peak RSS during ingest | server peak RSS, whole life (ingest + build) | build after ingest: time | RSS before build | peak RSS during build (writing the file / sending it) | build on a restarted server: time | RSS before build | peak RSS during build (writing the file / sending it) |',
  '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ...buildRows,
].join('\n');
const buildNotes =
  'Server memory, from /proc/<pid>/status of the server process. "Whole life" is the peak of the ingesting server over its ' +
  'life: ingest (all the batch appends) and the build (the larger of VmHWM before the build and the build\'s peak). "Peak RSS during build" is the peak from the POST until the last byte of ' +
  'the response, and in brackets its two parts: until the response headers (the server writes the pack file, hashes and ' +
  'records it) and from there to the last byte (the server sends the stored file). Each is VmHWM reset right before it ' +
  '(writing "5" to /proc/<pid>/clear_refs) and read right after it ("(polled)": the reset was refused and it is the max of ' +
  'VmRSS sampled every 50 ms). It includes the RSS the process already had ("RSS before build"). "After ingest" builds on the server that just appended every event; "restarted server" stops ' +
  'it and starts a new server on the same data directory, which then builds the same range — what an auditor\'s request ' +
  'meets on a deployment that was not just bulk-loaded. The issue #7 target (≤ 256 MiB) is about the build.\n';
console.log(`\nMachine: ${machine}\n\n${buildTable}\n`);
if (argv.includes('--build-only')) process.exit(0);
const table = [
  '| events | pack size | runs | verify wall (median; all runs) | verify peak RSS (max) | structure (main thread busy) | signatures (worker busy, summed) | valid |',
  '|---:|---:|---:|---|---:|---:|---|---|',
  ...rows,
].join('\n');
const md =
  `Run ${new Date().toISOString()}. Machine: ${machine}\n\n` +
  `## Building the packs (server)\n\n${buildTable}\n\n${buildNotes}\n` +
  `## Verifying them offline\n\n` +
  `\`proofstream verify <pack> --trust keys.json --json\` as a child process ` +
  `(PROOFSTREAM_VERIFY_TIMING=1); ${RUNS_SMALL} run(s) for packs below 1M events, ${RUNS_LARGE} for 1M; one more run with --policy checks the verdict (below 1M events).\n\n` +
  `${table}\n\n` +
  'Peak RSS is VmHWM of the verifier process (worker threads included), polled from /proc. "structure" is the main ' +
  "thread's time reading, parsing and checking everything but receipt signatures (JSON, shapes, commitments, event " +
  'hashes, chain, digests, range proof); "signatures" is the time the worker threads spent in Ed25519 verification, ' +
  'summed over workers. Both are busy (wall) times: with the main thread and two workers on two cores, each is inflated by waiting for a core, so they add up to more than 2 × wall. Uncontended, one Ed25519 verification costs ~120 µs of OpenSSL time here (openssl speed ed25519: ~8,500 verify/s per core), so the signatures of a million-event pack alone need ~60 s of both cores.\n';
fs.mkdirSync(path.join(ROOT, 'bench/results'), { recursive: true });
fs.writeFileSync(path.join(ROOT, 'bench/results/verify-pack.json'), JSON.stringify({ machine, ...results }, null, 2));
fs.writeFileSync(path.join(ROOT, 'bench/results/verify-pack.md'), md);
console.log(md);
