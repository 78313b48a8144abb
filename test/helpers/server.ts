// A real ledger in a child process on 127.0.0.1, with its own data directory: what the tests talk to.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { databaseFor, dropTestDatabases, knownDatabaseFor } from './pg-mode.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = path.join(ROOT, 'bin/proofstream.mjs');

export interface RunningServer extends ListeningProcess {
  url: string;
  dataDir: string;
  key: string;
}

/** Directories made by tempDir() and processes started by spawnListening() in this test file, for cleanupTestFile(). */
const createdDirs = new Set<string>();
const startedProcesses = new Set<ListeningProcess>();

/** A fresh directory under the OS temp dir, removed when the test file ends (test/helpers/setup.ts). */
export function tempDir(prefix = 'ps-test-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  createdDirs.add(dir);
  return dir;
}

/**
 * Runs after every other afterAll of a test file (registered first by the vitest setup file, and hooks run in stack
 * order): kills any server a test left running, so no process still writes into a directory, then removes them all.
 */
export async function cleanupTestFile(): Promise<void> {
  for (const p of startedProcesses) await p.kill();
  startedProcesses.clear();
  for (const dir of createdDirs) fs.rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  createdDirs.clear();
  dropTestDatabases();
}

export const newKey = () => 'ps_live_' + randomBytes(24).toString('base64url');

/** A child process of ours that prints `… listening on http://<host>:<port>` once it serves. */
export interface ListeningProcess {
  proc: ChildProcess;
  port: number;
  /** Everything the process wrote to stdout and stderr so far. */
  output: () => string;
  /** SIGTERM and wait for exit (no-op once it has exited). */
  stop(): Promise<void>;
  /** SIGKILL: no flush, no close — what a power cut looks like to the process. */
  kill(): Promise<void>;
}

/** Spawns `node <args>` and waits (up to 30 s) for its "listening on" line; rejects with its output if it exits first. */
export async function spawnListening(what: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<ListeningProcess> {
  const proc = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const port = await new Promise<number>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what} did not start:\n${out}`)), 30_000);
    const check = () => {
      const m = /listening on http:\/\/[^:]+:(\d+)/.exec(out);
      if (m) {
        clearTimeout(t);
        resolve(Number(m[1]));
      }
    };
    proc.stdout!.on('data', check);
    proc.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`${what} exited with ${code}:\n${out}`));
    });
  });
  const alive = () => proc.exitCode === null && proc.signalCode === null;
  const signal = async (sig: NodeJS.Signals) => {
    if (alive()) {
      proc.kill(sig);
      await exited;
    }
  };
  const started: ListeningProcess = { proc, port, output: () => out, stop: () => signal('SIGTERM'), kill: () => signal('SIGKILL') };
  startedProcesses.add(started);
  return started;
}

export async function startServer(opts: { dataDir?: string; key?: string; env?: Record<string, string>; port?: number } = {}): Promise<RunningServer> {
  const dataDir = opts.dataDir ?? tempDir();
  const key = opts.key ?? newKey();
  const p = await spawnListening('server', [BIN, 'serve'], {
    ...process.env,
    HOST: '127.0.0.1',
    PORT: String(opts.port ?? 0),
    PROOFSTREAM_DATA_DIR: dataDir,
    PROOFSTREAM_BOOTSTRAP_KEY: key,
    // the PostgreSQL project: this data directory's own database (test/helpers/pg-mode.ts)
    ...(databaseFor(dataDir) ? { DATABASE_URL: databaseFor(dataDir) } : {}),
    ...opts.env,
  });
  return { ...p, url: `http://127.0.0.1:${p.port}`, dataDir, key };
}

/**
 * Runs the `proofstream` command to completion: exit code, stdout, stderr. Its data directory is a fresh temp dir
 * unless `env` says otherwise, so an offline command can never touch a real database by accident.
 */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const e: NodeJS.ProcessEnv = { ...process.env, PROOFSTREAM_DATA_DIR: tempDir('ps-cli-'), ...env };
    // the PostgreSQL project: a command pointed at a server's data directory reaches that server's database
    const db = e.PROOFSTREAM_DB === undefined ? knownDatabaseFor(e.PROOFSTREAM_DATA_DIR) : undefined;
    if (db && e.DATABASE_URL === undefined) e.DATABASE_URL = db;
    execFile(process.execPath, [BIN, ...args], { env: e, maxBuffer: 64 * 2 ** 20 }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code) : 0, stdout, stderr }),
    );
  });
}

/** A small client for the tests: JSON in, {status, headers, body} out, never throws on HTTP errors. */
export function client(base: string, key?: string) {
  return async function call(
    method: string,
    p: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; headers: Headers; body: any; text: string }> {
    const h: Record<string, string> = { ...headers };
    if (key && !('authorization' in lower(h))) h.authorization = `Bearer ${key}`;
    let payload: string | undefined;
    if (body !== undefined) {
      payload = typeof body === 'string' ? body : JSON.stringify(body);
      if (!('content-type' in lower(h))) h['content-type'] = 'application/json';
    }
    const res = await fetch(base + p, { method, headers: h, body: payload });
    const text = await res.text();
    let parsed: unknown = undefined;
    try {
      parsed = JSON.parse(text);
    } catch {
      /* not JSON */
    }
    return { status: res.status, headers: res.headers, body: parsed, text };
  };
}

const lower = (h: Record<string, string>) => Object.fromEntries(Object.keys(h).map((k) => [k.toLowerCase(), true]));

let counter = 0;
export const idemKey = () => `test-${process.pid}-${Date.now()}-${counter++}-${randomBytes(4).toString('hex')}`;

/** The JSON lines a server printed (the plain "listening on" line and the like are skipped). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function logLines(srv: RunningServer): any[] {
  return srv
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l));
}
