// `node bin/run-ts.mjs bench/sign-rate.ts [seconds]`: native Ed25519 signatures per second on this thread
// (node:crypto, a receipt-sized message), the ceiling issue #19 measures the batch route against. Run pinned to the
// server's core by bench/run.ts; prints one JSON line.
import { generateKeyPairSync, sign } from 'node:crypto';

const seconds = Number(process.argv[2] ?? 3);
const key = generateKeyPairSync('ed25519').privateKey;
// tag("receipt") ‖ JCS(receipt fields) is ~330 bytes
const message = new TextEncoder().encode('x'.repeat(330));
for (let i = 0; i < 2_000; i++) sign(null, message, key); // warm-up
let n = 0;
const started = process.hrtime.bigint();
const until = started + BigInt(seconds * 1e9);
let now = started;
while (now < until) {
  for (let i = 0; i < 500; i++) sign(null, message, key);
  n += 500;
  now = process.hrtime.bigint();
}
const s = Number(now - started) / 1e9;
console.log(JSON.stringify({ signs_per_s: n / s, us_per_sign: (s / n) * 1e6, seconds: s }));
