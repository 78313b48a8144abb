// A worker-thread pool verifying receipt signatures for `proofstream verify` (a SignatureVerifier for
// src/verify/): batches go round-robin to os.availableParallelism() threads (min 1), each verifying with
// node:crypto (src/cli/verify-worker.ts), while the main thread keeps reading and checking events.
// src/verify/ stays free of Node built-ins; this is the CLI's plug-in, and gives the same booleans as the
// in-process verifier (verifyEd25519) for every job.
import { createRequire } from 'node:module';
import os from 'node:os';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { SignatureJob, SignatureVerifier } from '../verify/index.js';
import type { BatchRequest, BatchResponse } from './verify-worker.js';
import { verifySignaturesInProcess } from '../verify/index.js';

const inProcess = (jobs: readonly SignatureJob[]) => verifySignaturesInProcess.verify(jobs);

/** The worker's code. From TypeScript sources (tsx, vitest) the thread registers tsx itself: loader hooks are not inherited by workers on Node 20. */
function workerSpec(): { code: string; eval: true } | { url: URL } {
  const self = import.meta.url;
  if (!/\.ts$/.test(new URL(self).pathname)) return { url: new URL('./verify-worker.js', self) };
  const entry = new URL('./verify-worker.ts', self).href;
  const tsxApi = pathToFileURL(createRequire(self).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href;
  return {
    eval: true,
    code: `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); }).catch((e) => { throw e; });`,
  };
}

interface Pending {
  resolve: (v: boolean[]) => void;
  jobs: SignatureJob[];
}

export interface PoolStats {
  workers: number;
  batches: number;
  signatures: number;
  /** Time the workers spent verifying, summed over workers (ms). */
  busyMs: number;
}

export class VerifyPool implements SignatureVerifier {
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, Pending>();
  private next = 0;
  private rr = 0;
  private failed: Error | null = null;
  readonly stats: PoolStats;
  /** Batches in flight before the main thread waits: enough to keep every worker busy. */
  readonly concurrency: number;

  constructor(size = Math.max(1, os.availableParallelism())) {
    const n = Math.max(1, Math.floor(size));
    this.stats = { workers: n, batches: 0, signatures: 0, busyMs: 0 };
    this.concurrency = 4 * n;
    const spec = workerSpec();
    for (let i = 0; i < n; i++) {
      const w = 'code' in spec ? new Worker(spec.code, { eval: true }) : new Worker(spec.url);
      w.on('message', (m: BatchResponse) => {
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        this.stats.busyMs += m.busyMs;
        const out = new Array<boolean>(p.jobs.length);
        for (let j = 0; j < out.length; j++) out[j] = m.ok[j] === 1;
        p.resolve(out);
      });
      w.on('error', (e) => this.fail(e));
      w.on('exit', (code) => {
        if (this.pending.size > 0) this.fail(new Error(`signature worker exited (${code}) with batches pending`));
      });
      this.workers.push(w);
    }
  }

  /** A worker died: what it had, and everything after, is verified on this thread instead (same booleans). */
  private fail(e: Error): void {
    this.failed ??= e;
    for (const p of this.pending.values()) void inProcess(p.jobs).then(p.resolve);
    this.pending.clear();
  }

  /** Why the pool stopped using its workers, if it did. */
  get error(): Error | null {
    return this.failed;
  }

  /** Same booleans as verifyEd25519 for every job (false for a key or signature of the wrong length). */
  verify(jobs: readonly SignatureJob[]): Promise<boolean[]> {
    if (this.failed) return inProcess(jobs);
    const out = new Array<boolean>(jobs.length).fill(false);
    // Jobs verifyEd25519 refuses outright never leave this thread.
    const sent: number[] = [];
    const sentJobs: SignatureJob[] = [];
    let bytes = 0;
    for (let i = 0; i < jobs.length; i++) {
      const j = jobs[i]!;
      if (j.publicKey.length === 32 && j.signature.length === 64) {
        sent.push(i);
        sentJobs.push(j);
        bytes += 100 + j.message.length;
      }
    }
    if (sent.length === 0) return Promise.resolve(out);
    const buf = new ArrayBuffer(bytes);
    const u8 = new Uint8Array(buf);
    const dv = new DataView(buf);
    let at = 0;
    for (const i of sent) {
      const j = jobs[i]!;
      u8.set(j.publicKey, at);
      u8.set(j.signature, at + 32);
      dv.setUint32(at + 96, j.message.length);
      u8.set(j.message, at + 100);
      at += 100 + j.message.length;
    }
    const id = this.next++;
    this.stats.batches++;
    this.stats.signatures += sent.length;
    const w = this.workers[this.rr++ % this.workers.length]!;
    return new Promise<boolean[]>((resolve) => {
      this.pending.set(id, {
        jobs: sentJobs,
        resolve: (ok) => {
          for (let k = 0; k < sent.length; k++) out[sent[k]!] = ok[k]!;
          resolve(out);
        },
      });
      const req: BatchRequest = { id, count: sent.length, buf };
      w.postMessage(req, [buf]);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
