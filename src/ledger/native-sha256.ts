// node:crypto's SHA-256 for src/protocol (Node-only, so not in src/protocol itself): a Ledger installs it when it
// opens (the engine's roots, proofs and folds then hash natively), the CLI verifier for the duration of a command. Same bytes as the portable default (@noble/hashes), in a fraction of the
// time; test/verify-native-hash.test.ts holds them equal.
import crypto from 'node:crypto';
import { setSha256, type Sha256Hasher, type Sha256Impl } from '../protocol/hash.js';

/**
 * node:crypto's SHA-256 (OpenSSL) for src/protocol: the same bytes as the default @noble/hashes, several times
 * faster on the million hashes of a large pack. One-shot `crypto.hash` where this Node has it (20.12+), else
 * createHash. Results are plain Uint8Arrays (views on the returned Buffer), as @noble/hashes returns.
 */
export function nativeSha256(): Sha256Impl {
  const asBytes = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  const check = (data: Uint8Array): Uint8Array => {
    if (!(data instanceof Uint8Array)) throw new TypeError('sha256: expected a Uint8Array');
    return data;
  };
  const oneShot = (crypto as { hash?: (alg: string, data: Uint8Array, enc: 'buffer' | 'hex') => Buffer | string }).hash;
  const fast = typeof oneShot === 'function';
  const hash = fast
    ? (data: Uint8Array) => asBytes(oneShot('sha256', check(data), 'buffer') as Buffer)
    : (data: Uint8Array) => asBytes(crypto.createHash('sha256').update(check(data)).digest());
  const hashHex = fast
    ? (data: Uint8Array) => oneShot('sha256', check(data), 'hex') as string
    : (data: Uint8Array) => crypto.createHash('sha256').update(check(data)).digest('hex');
  const create = (): Sha256Hasher => {
    const h = crypto.createHash('sha256');
    return {
      update(data: Uint8Array) {
        h.update(check(data));
        return this;
      },
      digest: () => asBytes(h.digest()),
    };
  };
  return Object.freeze({ name: `node:crypto ${fast ? 'hash' : 'createHash'}`, hash, hashHex, create });
}

let native: Sha256Impl | undefined;

/**
 * Makes src/protocol hash with node:crypto in this process (the CLI and the server; the library default stays
 * @noble/hashes). Returns the implementation it replaced.
 */
export function installNativeSha256(): Sha256Impl {
  native ??= nativeSha256();
  return setSha256(native);
}
