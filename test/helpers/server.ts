// A real ledger in a child process on 127.0.0.1, with its own data directory: what the tests talk to.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = path.join(ROOT, 'bin/proofstream.mjs');

export interface RunningServer {
  url: string;
  port: number;
  dataDir: string;
  key: string;
  proc: ChildProcess;
  output: () => string;
  /** SIGKILL: no flush, no close — what a power cut looks like to the process. */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

export function tempDir(prefix = 'ps-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export const newKey = () => 'ps_live_' + randomBytes(24).toString('base64url');

export async function startServer(opts: { dataDir?: string; key?: string; env?: Record<string, string>; port?: number } = {}): Promise<RunningServer> {
  const dataDir = opts.dataDir ?? tempDir();
  const key = opts.key ?? newKey();
  const proc = spawn(process.execPath, [BIN, 'serve'], {
    env: {
      ...process.env,
      HOST: '127.0.0.1',
      PORT: String(opts.port ?? 0),
      PROOFSTREAM_DATA_DIR: dataDir,
      PROOFSTREAM_BOOTSTRAP_KEY: key,
      ...opts.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const port = await new Promise<number>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`server did not start:\n${out}`)), 30_000);
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
      reject(new Error(`server exited with ${code}:\n${out}`));
    });
  });
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    dataDir,
    key,
    proc,
    output: () => out,
    async kill() {
      proc.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        await exited;
      }
    },
  };
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
