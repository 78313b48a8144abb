// Receipt signatures of a large job spread over threads (issue #19): a batch's heads are a cheap sequential chain,
// the Ed25519 signatures over them are independent, and they are most of a batch's CPU (38–55 µs each on this VM, 47% of the batch route's). The
// group commit is synchronous, so the pool is too: the main thread sends each thread a share, signs its own share,
// then waits (Atomics.wait) for the others. With one core (PROOFSTREAM_SIGN_THREADS=0, the default when the process
// may use one CPU) nothing changes. Ed25519 signatures are deterministic: pooled or not, the bytes are the same
// (test/sign-pool.test.ts).
import type { KeyObject } from 'node:crypto';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { log } from '../log.js';
import { signWithKey } from './signer.js';

/** What the main thread sends a signing thread, and what it answers (SIGN_THREAD_SOURCE speaks both). */
interface SignRequest {
  seq: number;
  kid: string;
  /** sent once per thread and kid */
  key?: KeyObject;
  messages: Uint8Array[];
}
type SignReply = { seq: number; ok: true; signatures: Uint8Array } | { seq: number; ok: false; error: string };

/** Below this many signatures a job is signed on the main thread: a message round trip costs about one signature. */
export const MIN_POOLED = 8;
/** A thread that has not answered by then is given up on (its share is signed here). */
const ANSWER_TIMEOUT_MS = 5_000;

/**
 * The thread's whole program, plain JavaScript run with `eval`: no TypeScript loader in the thread, which would cost
 * ~30 MiB of RSS and a slower start for twenty lines (bench/verify-pack.ts measured the server's peak RSS). It signs
 * the messages it is sent with the key it is sent (kept by kid, so a key crosses once), answers on its port, and
 * wakes the main thread waiting inside its group commit. Its first message says it is ready (seq 0).
 */
export const SIGN_THREAD_SOURCE = `
const { sign } = require('node:crypto');
const { workerData } = require('node:worker_threads');
const { port, flag } = workerData;
const keys = new Map();
const answer = (reply) => {
  port.postMessage(reply, reply.ok ? [reply.signatures.buffer] : []);
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
};
port.on('message', (m) => {
  try {
    if (m.key) keys.set(m.kid, m.key);
    const key = keys.get(m.kid);
    if (!key) throw new Error('no key ' + m.kid + ' in this signing thread');
    const signatures = new Uint8Array(64 * m.messages.length);
    for (let i = 0; i < m.messages.length; i++) signatures.set(sign(null, m.messages[i], key), 64 * i);
    answer({ seq: m.seq, ok: true, signatures });
  } catch (e) {
    answer({ seq: m.seq, ok: false, error: String(e && e.message) });
  }
});
answer({ seq: 0, ok: false, error: 'ready' });
`;

interface Thread {
  worker: Worker;
  port: MessagePort;
  flag: Int32Array;
  ready: boolean;
  dead: boolean;
  /** the key object last sent for each kid */
  sent: Map<string, KeyObject>;
}

export class SignPool {
  private threads: Thread[] | null = null;
  private seq = 0;
  readonly stats = { pooledJobs: 0, pooledSignatures: 0, fallbacks: 0 };

  /** `size`: signing threads beside the main thread (0: none, every signature here). Started on first use. */
  constructor(readonly size: number) {}

  /** Ed25519 signatures of `messages` with `key`, in order; blocks until all are made. */
  signAll(key: KeyObject, kid: string, messages: readonly Uint8Array[]): Uint8Array[] {
    const ready = messages.length >= MIN_POOLED ? this.readyThreads() : [];
    const out = new Array<Uint8Array>(messages.length);
    if (!ready.length) {
      for (let i = 0; i < messages.length; i++) out[i] = signWithKey(key, messages[i]!);
      return out;
    }
    const seq = ++this.seq;
    const share = Math.ceil(messages.length / (ready.length + 1));
    const sent: Array<{ t: Thread; from: number; to: number }> = [];
    for (const t of ready) {
      const from = sent.length * share;
      const to = Math.min(messages.length, from + share);
      if (from >= to) break;
      const req: SignRequest = { seq, kid, messages: messages.slice(from, to) as Uint8Array[] };
      if (t.sent.get(kid) !== key) req.key = key;
      Atomics.store(t.flag, 0, 0);
      t.port.postMessage(req);
      t.sent.set(kid, key);
      sent.push({ t, from, to });
    }
    for (let i = sent.length * share; i < messages.length; i++) out[i] = signWithKey(key, messages[i]!);
    for (const { t, from, to } of sent) {
      const sigs = this.awaitAnswer(t, seq);
      if (sigs && sigs.length === 64 * (to - from)) {
        for (let i = from; i < to; i++) out[i] = sigs.subarray(64 * (i - from), 64 * (i - from + 1));
      } else {
        this.stats.fallbacks++;
        for (let i = from; i < to; i++) out[i] = signWithKey(key, messages[i]!);
      }
    }
    this.stats.pooledJobs++;
    this.stats.pooledSignatures += messages.length;
    return out;
  }

  close(): void {
    for (const t of this.threads ?? []) {
      t.dead = true;
      void t.worker.terminate();
    }
    this.threads = [];
  }

  /** Threads that have said they are ready; starts them on first call (they become ready while this thread works). */
  private readyThreads(): Thread[] {
    if (this.size <= 0) return [];
    if (!this.threads) this.threads = Array.from({ length: this.size }, () => this.startThread());
    for (const t of this.threads) {
      if (t.ready || t.dead) continue;
      const m = receiveMessageOnPort(t.port) as { message: SignReply } | undefined;
      if (m?.message.seq === 0) t.ready = true;
    }
    return this.threads.filter((t) => t.ready && !t.dead);
  }

  private startThread(): Thread {
    const { port1, port2 } = new MessageChannel();
    const flag = new Int32Array(new SharedArrayBuffer(4));
    // Small heaps: the thread holds one job's messages at a time (its RSS is part of the server's, docs/performance.md).
    const resourceLimits = { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 4 };
    const worker = new Worker(SIGN_THREAD_SOURCE, { eval: true, workerData: { port: port2, flag }, transferList: [port2], resourceLimits });
    const t: Thread = { worker, port: port1, flag, ready: false, dead: false, sent: new Map() };
    const lost = (why: string) => {
      if (t.dead) return;
      t.dead = true;
      log.warn({ event: 'sign_thread_lost', reason: why }, `a receipt-signing thread stopped (${why}); its share is signed on the main thread`);
    };
    worker.on('error', (e) => lost(e.message));
    worker.on('exit', (code) => lost(`exit ${code}`));
    // Never keeps a finished process alive.
    worker.unref();
    port1.unref();
    return t;
  }

  /** The thread's signatures for `seq`, or null when it failed or did not answer in time (then it is not used again). */
  private awaitAnswer(t: Thread, seq: number): Uint8Array | null {
    const started = Date.now();
    for (;;) {
      const m = receiveMessageOnPort(t.port) as { message: SignReply } | undefined;
      if (m) {
        if (m.message.seq !== seq) continue; // an answer to a request given up on earlier
        if (m.message.ok) return m.message.signatures;
        t.dead = true; // whatever failed there (a key it could not use) would fail again
        void t.worker.terminate();
        log.warn({ event: 'sign_thread_failed', reason: m.message.error }, `a receipt-signing thread failed: ${m.message.error}; it is stopped`);
        return null;
      }
      const left = ANSWER_TIMEOUT_MS - (Date.now() - started);
      if (left <= 0) {
        t.dead = true;
        void t.worker.terminate();
        log.warn({ event: 'sign_thread_lost', reason: 'timeout' }, 'a receipt-signing thread did not answer in time; it is stopped');
        return null;
      }
      Atomics.wait(t.flag, 0, 0, Math.min(left, 100));
      // (a crashed thread's exit event cannot run while this blocks: the timeout above is what ends the wait)
      Atomics.store(t.flag, 0, 0);
    }
  }
}
