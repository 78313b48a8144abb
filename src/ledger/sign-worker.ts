// A receipt-signing thread of the SignPool (src/ledger/sign-pool.ts): signs the messages it is sent with the key it
// is sent (kept by kid, so a key crosses the thread boundary once) and wakes the main thread, which waits for the
// answer synchronously inside its group commit.
import { sign, type KeyObject } from 'node:crypto';
import { workerData, type MessagePort } from 'node:worker_threads';
import type { SignReply, SignRequest } from './sign-pool.js';

const { port, flag } = workerData as { port: MessagePort; flag: Int32Array };
const keys = new Map<string, KeyObject>();

function answer(reply: SignReply): void {
  port.postMessage(reply, reply.ok ? [reply.signatures.buffer as ArrayBuffer] : []);
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
}

port.on('message', (m: SignRequest) => {
  try {
    if (m.key) keys.set(m.kid, m.key);
    const key = keys.get(m.kid);
    if (!key) throw new Error(`no key ${m.kid} in this signing thread`);
    const signatures = new Uint8Array(64 * m.messages.length);
    for (let i = 0; i < m.messages.length; i++) signatures.set(sign(null, m.messages[i]!, key), 64 * i);
    answer({ seq: m.seq, ok: true, signatures });
  } catch (e) {
    answer({ seq: m.seq, ok: false, error: (e as Error).message });
  }
});
// Tells the pool this thread can take work (until then the main thread signs alone: no commit waits on a start).
answer({ seq: 0, ok: false, error: 'ready' });
