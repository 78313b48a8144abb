// What the README walk-through tests share: the ```sh blocks between a section's markers, one bash script of them,
// a directory laid out like a fresh clone, a newcomer's environment, free ports and the check that nothing is left.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { ROOT, tempDir } from './server.js';

export interface ShellBlock {
  /** 1-based line of the block's opening fence in README.md. */
  line: number;
  code: string;
}

/** The ```sh blocks between `begin` and `end`, in order. Throws when the markers are missing or unpaired. */
export function sectionBlocks(readme: string, begin: string, end: string): ShellBlock[] {
  const b = readme.indexOf(begin);
  const e = readme.indexOf(end);
  if (b < 0 || e < 0 || e < b || readme.indexOf(begin, b + 1) >= 0 || readme.indexOf(end, e + 1) >= 0) {
    throw new Error(`README.md must hold exactly one ${begin} … ${end} pair, in that order`);
  }
  const blocks: ShellBlock[] = [];
  for (const m of readme.slice(b, e).matchAll(/^```sh\n([\s\S]*?)^```$/gm)) {
    blocks.push({ line: readme.slice(0, b + m.index).split('\n').length, code: m[1]! });
  }
  return blocks;
}

/** One bash script: the blocks in order, each announced (so a failure names its README line). */
export function walkthroughScript(blocks: ShellBlock[]): string {
  return ['set -euo pipefail', ...blocks.map((b) => `echo "### $(date +%T) README.md line ${b.line}" >&2\n${b.code}`), 'echo "### walk-through done" >&2', ''].join('\n');
}

/** A port nobody listens on right now (asked of the OS, then released for the README's server to take). */
export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** True while any process of the group `pgid` is alive (signal 0 checks without signalling). */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A directory laid out like a fresh clone after `npm install`: the files `npm start` and `npx proofstream` need, and `extra`. */
export function fakeClone(prefix: string, extra: string[] = []): string {
  const dir = tempDir(prefix);
  for (const f of ['package.json', 'package-lock.json', 'bin', 'src', 'node_modules', 'tsconfig.json', '.gitignore', ...extra]) {
    fs.symlinkSync(path.join(ROOT, f), path.join(dir, f));
  }
  return dir;
}

/**
 * A newcomer's shell: none of this process's ledger settings nor the variables in `drop`, plus `set`; npm's cache in
 * `npmCache` (`npx proofstream` links the clone into it: keep that in the test's temp dir, not in ~/.npm).
 */
export function newcomerEnv(drop: string[], set: Record<string, string>, npmCache: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    // vitest may run under `npm test`; the README's npm commands start afresh
    if (k.startsWith('PROOFSTREAM_') || k.startsWith('npm_') || drop.includes(k)) continue;
    env[k] = v;
  }
  return { ...env, ...set, npm_config_cache: npmCache, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' };
}
