// Worker thread of the CLI's signature pool (src/cli/verify-workers.ts): verifies batches of Ed25519 signatures
// with node:crypto (OpenSSL), the same primitive WebCrypto uses in Node, so the booleans are those of
// verifyEd25519. A batch arrives as one transferred buffer:
//   repeat count × [ 32-byte public key | 64-byte signature | u32be message length | message ]
// and goes back as one byte per job (1 = verifies) plus the time the thread spent verifying.
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { parentPort } from 'node:worker_threads';

/** DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): the 32 raw key bytes follow. */
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const keys = new Map<string, KeyObject | null>();

function keyFor(raw: Buffer): KeyObject | null {
  const hex = raw.toString('hex');
  let k = keys.get(hex);
  if (k === undefined) {
    try {
      k = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
    } catch {
      k = null;
    }
    if (keys.size > 1024) keys.clear();
    keys.set(hex, k);
  }
  return k;
}

export interface BatchRequest {
  id: number;
  count: number;
  buf: ArrayBuffer;
}

export interface BatchResponse {
  id: number;
  ok: Uint8Array;
  busyMs: number;
}

parentPort?.on('message', (m: BatchRequest) => {
  const t0 = performance.now();
  const b = Buffer.from(m.buf);
  const ok = new Uint8Array(m.count);
  let at = 0;
  for (let i = 0; i < m.count; i++) {
    const pub = b.subarray(at, at + 32);
    const sig = b.subarray(at + 32, at + 96);
    const len = b.readUInt32BE(at + 96);
    const msg = b.subarray(at + 100, at + 100 + len);
    at += 100 + len;
    const key = keyFor(pub);
    let good = false;
    if (key) {
      try {
        good = verify(null, msg, key, sig);
      } catch {
        good = false;
      }
    }
    ok[i] = good ? 1 : 0;
  }
  const res: BatchResponse = { id: m.id, ok, busyMs: performance.now() - t0 };
  parentPort!.postMessage(res, [ok.buffer]);
});
