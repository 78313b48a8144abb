// What the bench scripts share: core pinning, running a node script and taking its last output line, the autocannon
// load run (bench/load.mjs, pinned to core 1), and the event body every load run appends.
import { execFileSync, spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { startServer, tempDir, type RunningServer } from '../test/helpers/server.js';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** taskset exists and there are two cores to pin the server (0) and the load (1) apart. */
export const hasTaskset = (() => {
  try {
    execFileSync('taskset', ['-c', '0', 'true']);
    return os.cpus().length >= 2;
  } catch {
    return false;
  }
})();

/** `cmd args` pinned to `core` when taskset is there. */
export const pin = (core: number, cmd: string, args: string[]): [string, string[]] =>
  hasTaskset ? ['taskset', ['-c', String(core), cmd, ...args]] : [cmd, args];

/** Runs node with `args` from the repo root, pinned to `core` (null: every core); resolves its last stdout line. */
export function runNode(core: number | null, args: string[]): Promise<string> {
  const [cmd, a] = core === null ? [process.execPath, args] : pin(core, process.execPath, args);
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, a, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('exit', (code) => (code === 0 ? resolve(out.trim().split('\n').pop()!) : reject(new Error(`${args.join(' ')} exited ${code}`))));
  });
}

/**
 * A server process pinned to core 0 (from `cwd`, `nodeArgs` before the script, e.g. --cpu-prof), once it printed its
 * "listening on <url>" line.
 */
export interface PinnedServer {
  url: string;
  pid: number;
  /** SIGTERM, resolved when it exited */
  stop: () => Promise<void>;
}

export async function startPinned(cwd: string, args: string[], env: Record<string, string> = {}, nodeArgs: string[] = []): Promise<PinnedServer> {
  const [cmd, a] = pin(0, process.execPath, [...nodeArgs, ...args]);
  const p = spawn(cmd, a, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve) => {
    let out = '';
    p.stdout!.on('data', (d) => {
      out += d;
      const m = /listening on (http:\/\/[^:\s]+:\d+)/.exec(out);
      if (m) resolve(m[1]!);
    });
  });
  const exited = new Promise<void>((r) => p.once('exit', () => r()));
  return { url, pid: p.pid!, stop: async () => (p.kill('SIGTERM'), await exited) };
}

/** A ledger server (this tree, fresh data directory) with all its threads moved to core 0 when taskset is there. */
export async function startLedgerPinned(env: Record<string, string> = {}): Promise<RunningServer> {
  // Pinned after its start, the server still saw both cores: on one core, signing threads would only add round trips.
  const s = await startServer({ env: { PROOFSTREAM_SIGN_THREADS: '0', ...env } });
  if (hasTaskset) execFileSync('taskset', ['-a', '-p', '-c', '0', String(s.proc.pid)], { stdio: 'ignore' });
  return s;
}

/** The raw floor server (bench/floor-server.ts) on a fresh temporary database, pinned to core 0. */
export const startFloor = (nodeArgs: string[] = []): Promise<PinnedServer> =>
  startPinned(ROOT, ['bin/run-ts.mjs', 'bench/floor-server.ts', path.join(tempDir('ps-floor-'), 'floor.db')], {}, nodeArgs);

export interface Load {
  requests_per_s: number;
  p50_ms: number;
  p99_ms: number;
  non2xx: number;
  errors: number;
  total: number;
}

/** One autocannon run from a second process on core 1 (`spec`: see bench/load.mjs). */
export const load = async (spec: { duration: number; connections?: number } & Record<string, unknown>): Promise<Load> =>
  JSON.parse(await runNode(1, ['bench/load.mjs', JSON.stringify({ connections: 64, ...spec })]));

export const EVENT = { source_ref: 'bench', event_type: 'bench.event', payload: { decision: 'approve', score: 0.91, model: 'm-1' } };
