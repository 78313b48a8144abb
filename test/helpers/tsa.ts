// A real test time-stamp authority (`proofstream tsa serve`) in a child process on 127.0.0.1.
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { BIN, spawnListening, tempDir } from './server.js';

export interface RunningTsa {
  /** Base URL, e.g. http://127.0.0.1:40123 — POST timestamp queries to it (or to `${url}/tsa`). */
  url: string;
  port: number;
  /** The TSA's data directory (root.pem, root.key.pem, tsa.pem, tsa.key.pem). */
  dir: string;
  /** Contents of `${dir}/root.pem`: the trust anchor for tokens from this TSA. */
  rootPem: string;
  /** Contents of `${dir}/tsa.pem`: the TSA (signer) certificate. */
  tsaPem: string;
  proc: ChildProcess;
  output: () => string;
  /** SIGTERM and wait for the process to exit. Safe to call twice. */
  stop(): Promise<void>;
}

/** Spawn `proofstream tsa serve --port <port> --dir <dir>` (any free port and a fresh temp dir by default) and wait until it listens. */
export async function startTsa(dir: string = tempDir('ps-tsa-'), listenPort = 0): Promise<RunningTsa> {
  const p = await spawnListening('tsa', [BIN, 'tsa', 'serve', '--port', String(listenPort), '--dir', dir, '--host', '127.0.0.1']);
  return {
    url: `http://127.0.0.1:${p.port}`,
    port: p.port,
    dir,
    rootPem: fs.readFileSync(path.join(dir, 'root.pem'), 'utf8'),
    tsaPem: fs.readFileSync(path.join(dir, 'tsa.pem'), 'utf8'),
    proc: p.proc,
    output: p.output,
    stop: p.stop,
  };
}
