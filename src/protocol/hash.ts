// SHA-256 and the project's domain-separation tags. Every hash the ledger computes names its purpose,
// so a value from one context can never be replayed as another (see docs/protocol.md, "Domains").
//
// The SHA-256 implementation is injectable: @noble/hashes by default (pure, runs anywhere), or whatever a
// Node-only caller installs with setSha256 — the ledger and the CLI verifier install node:crypto's
// (src/ledger/native-sha256.ts), which is several times faster on large packs. Any implementation must give the same bytes as SHA-256
// (FIPS 180-4); the choice only changes speed, never a hash.
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, concatBytes, utf8ToBytes } from './bytes.js';

/** An incremental SHA-256: `update` any number of times, then `digest` once. */
export interface Sha256Hasher {
  update(data: Uint8Array): unknown;
  digest(): Uint8Array;
}

/** A SHA-256 implementation. Both functions must be synchronous, must not keep `data`, and must return 32 bytes. */
export interface Sha256Impl {
  /** Names the implementation (diagnostics only). */
  readonly name: string;
  /** SHA-256 of one byte string. */
  hash(data: Uint8Array): Uint8Array;
  /** The same digest as 64 lowercase hex digits (optional: when absent, hash() is hex-encoded). */
  hashHex?(data: Uint8Array): string;
  /** A fresh incremental hash. */
  create(): Sha256Hasher;
}

/** The default, portable implementation. */
export const NOBLE_SHA256: Sha256Impl = Object.freeze({
  name: '@noble/hashes',
  hash: (data: Uint8Array): Uint8Array => nobleSha256(data),
  create: (): Sha256Hasher => nobleSha256.create(),
});

let impl: Sha256Impl = NOBLE_SHA256;

/**
 * Installs the SHA-256 every function of src/protocol (and so src/verify) uses from now on; null restores the
 * default (@noble/hashes). Returns the implementation it replaces, so a caller can put it back.
 */
export function setSha256(next: Sha256Impl | null): Sha256Impl {
  if (next !== null && (typeof next !== 'object' || typeof next.hash !== 'function' || typeof next.create !== 'function')) {
    throw new TypeError('setSha256: expected {name, hash(data), create()} or null');
  }
  const prev = impl;
  impl = next ?? NOBLE_SHA256;
  return prev;
}

/** The implementation in use. */
export const getSha256 = (): Sha256Impl => impl;

/** An incremental SHA-256 from the implementation in use. */
export const createSha256 = (): Sha256Hasher => impl.create();

/**
 * Parts are joined in one reused buffer instead of a fresh one per hash (the implementations are synchronous and
 * keep nothing of their input, so reusing it is safe). It grows to fit up to MAX_SCRATCH bytes; larger inputs get
 * a buffer of their own.
 */
const MAX_SCRATCH = 1 << 20;
let scratch = new Uint8Array(4096);
const encoder = new TextEncoder();

/** SHA-256 of the concatenation of `parts`. */
export function sha256(...parts: Uint8Array[]): Uint8Array {
  return parts.length === 1 ? impl.hash(parts[0]!) : impl.hash(join(parts));
}

/**
 * Lowercase hex SHA-256 of the concatenation of `parts`, strings taken as their UTF-8 bytes (as utf8ToBytes
 * encodes them). The same value as bytesToHex(sha256(...)), without the intermediate bytes where the
 * implementation can give hex directly.
 */
export function sha256Hex(...parts: Array<Uint8Array | string>): string {
  const data = parts.length === 1 && parts[0] instanceof Uint8Array ? parts[0] : join(parts);
  return impl.hashHex ? impl.hashHex(data) : bytesToHex(impl.hash(data));
}

/** The concatenation of `parts` (strings as UTF-8), in the scratch buffer when it fits. */
function join(parts: ReadonlyArray<Uint8Array | string>): Uint8Array {
  let n = 0;
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i];
    if (typeof p === 'string') n += 3 * p.length; // UTF-8 takes at most 3 bytes per UTF-16 code unit
    else if (p instanceof Uint8Array) n += p.length;
    else return concatBytes(...parts.map((q) => (typeof q === 'string' ? utf8ToBytes(q) : q))); // throws the typed error
  }
  if (n > scratch.length) {
    if (n > MAX_SCRATCH) return concatBytes(...parts.map((q) => (typeof q === 'string' ? utf8ToBytes(q) : q)));
    scratch = new Uint8Array(Math.max(n, 2 * scratch.length));
  }
  let at = 0;
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    if (typeof p === 'string') {
      at += encoder.encodeInto(p, scratch.subarray(at)).written;
    } else {
      scratch.set(p, at);
      at += p.length;
    }
  }
  return scratch.subarray(0, at);
}

/** Tag bytes are `proofstream/v1 <purpose>` followed by one 0x00 byte. */
export function domainTag(purpose: string): Uint8Array {
  return concatBytes(utf8ToBytes(`proofstream/v1 ${purpose}`), new Uint8Array([0]));
}

export const DOMAIN = {
  payload: domainTag('payload'),
  head: domainTag('head'),
  genesis: domainTag('genesis'),
  receipt: domainTag('receipt'),
} as const;

export const ZERO_HASH = new Uint8Array(32);
