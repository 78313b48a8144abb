// `npm run bench:browser [-- --events 100000 --runs 2]`: the same pack verified by the auditor page in headless
// Chromium (web/, the Web Worker, @noble/hashes SHA-256 and WebCrypto Ed25519) and by `proofstream verify` (node:crypto
// SHA-256, worker-thread signature pool), on this machine. The pack is built by a real server and cached
// (test/helpers/browser.ts largePack; $PROOFSTREAM_PACK_CACHE). Writes bench/results/browser-verify.{json,md}.
// Issue #18 asks for the browser within 2× of the CLI; this measures it, nothing asserts it.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureWebBuilt, largePack, launchBrowser, pickFiles, readResult } from '../test/helpers/browser.js';
import { BIN, ROOT, cleanupTestFile, startServer } from '../test/helpers/server.js';

const argv = process.argv.slice(2);
const arg = (name: string, dflt: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : dflt;
};
const N = Number(arg('events', '100000'));
const RUNS = Number(arg('runs', '2'));
const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function cliOnce(pack: string, keys: string): Promise<{ wall_s: number; status: string }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const p = spawn(process.execPath, [BIN, 'verify', pack, '--trust', keys, '--json'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('error', reject);
    p.on('exit', () => resolve({ wall_s: (performance.now() - t0) / 1000, status: (JSON.parse(out) as { status: string }).status }));
  });
}

async function main() {
  await ensureWebBuilt();
  console.error(`browser-verify: ${N.toLocaleString('en-US')}-event pack (built on first use, cached)`);
  const pack = await largePack(N);
  const bytes = fs.statSync(pack.pack).size;

  const cli: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const r = await cliOnce(pack.pack, pack.keys);
    if (r.status !== 'valid') throw new Error(`CLI: ${r.status}`);
    cli.push(r.wall_s);
    console.error(`browser-verify: CLI run ${i + 1}: ${round(r.wall_s)} s`);
  }

  const srv = await startServer();
  const browser = await launchBrowser();
  const runs: { wall_s: number; read_s: number; parse_s: number; verify_s: number }[] = [];
  try {
    for (let i = 0; i < RUNS; i++) {
      const page = await browser.newPage();
      await page.goto(`${srv.url}/app/`);
      const t0 = performance.now();
      await pickFiles(page, pack.pack, pack.keys);
      const r = await readResult(page, 1_200_000);
      const wall = (performance.now() - t0) / 1000;
      if (r.status !== 'valid') throw new Error(`browser: ${r.verdict}`);
      const t = JSON.parse((await page.getAttribute('body', 'data-timing'))!) as { read_ms: number; parse_ms: number; verify_ms: number };
      runs.push({ wall_s: wall, read_s: t.read_ms / 1000, parse_s: t.parse_ms / 1000, verify_s: t.verify_ms / 1000 });
      console.error(`browser-verify: browser run ${i + 1}: ${round(wall)} s (read ${t.read_ms} ms, parse ${t.parse_ms} ms, verify ${t.verify_ms} ms)`);
      await page.close();
    }
  } finally {
    await browser.close();
    await srv.stop();
  }
  const cliS = median(cli);
  const webS = median(runs.map((r) => r.wall_s));
  const best = runs.find((r) => r.wall_s === webS)!;
  const result = {
    events: N,
    pack_bytes: bytes,
    runs: RUNS,
    cli_s: round(cliS),
    cli_runs_s: cli.map((x) => round(x)),
    browser_s: round(webS),
    browser_runs: runs.map((r) => ({ wall_s: round(r.wall_s), read_s: round(r.read_s), parse_s: round(r.parse_s), verify_s: round(r.verify_s) })),
    browser_breakdown_s: { read: round(best.read_s), parse: round(best.parse_s), verify: round(best.verify_s) },
    ratio: round(webS / cliS),
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model ?? '', node: process.version },
    measured_at: new Date().toISOString(),
  };
  const dir = path.join(ROOT, 'bench', 'results');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'browser-verify.json'), JSON.stringify(result, null, 2) + '\n');
  const md = [
    `# Browser vs CLI: verifying a ${N.toLocaleString('en-US')}-event pack`,
    '',
    `Pack ${round(bytes / 2 ** 20, 1)} MiB, ${RUNS} run(s) each, median wall time; ${result.machine.cpus} CPU(s) (${result.machine.model}), Node ${result.machine.node}, ${result.measured_at}.`,
    '',
    '| verifier | wall time | breakdown |',
    '|---|---|---|',
    `| \`proofstream verify --trust\` (CLI) | ${result.cli_s} s (${result.cli_runs_s.join(', ')}) | node:crypto SHA-256, worker-thread signature pool |`,
    `| auditor page, headless Chromium | ${result.browser_s} s (${result.browser_runs.map((r) => r.wall_s).join(', ')}) | read ${result.browser_breakdown_s.read} s, parse ${result.browser_breakdown_s.parse} s, verify ${result.browser_breakdown_s.verify} s |`,
    '',
    `Browser / CLI: **${result.ratio}×** (issue #18 asks for at most 2×).`,
    '',
  ].join('\n');
  fs.writeFileSync(path.join(dir, 'browser-verify.md'), md);
  process.stdout.write(md);
}

main()
  .catch((e) => {
    console.error(e);
    process.exitCode = 1;
  })
  .finally(() => cleanupTestFile());
