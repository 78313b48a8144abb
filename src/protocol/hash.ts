// SHA-256 and the project's domain-separation tags. Every hash the ledger computes names its purpose,
// so a value from one context can never be replayed as another (see docs/protocol.md, "Domains").
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { concatBytes, utf8ToBytes } from './bytes.js';

export const sha256 = (...parts: Uint8Array[]): Uint8Array =>
  nobleSha256(parts.length === 1 ? parts[0]! : concatBytes(...parts));

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
