// Audit bundle constants and section digests (docs/bundle.md). Pure and browser-safe.
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, concatBytes, utf8ToBytes } from './bytes.js';
import { domainTag } from './hash.js';
import { canonicalBytes } from './jcs.js';

export const BUNDLE_FORMAT = 'proofstream-bundle/v1';
export const BUNDLE_SECTIONS = [
  'stream',
  'keys',
  'events',
  'chain',
  'checkpoint',
  'range_proof',
  'consistency',
  'witnesses',
  'anchors',
] as const;
export type BundleSection = (typeof BUNDLE_SECTIONS)[number];

const SECTION_TAG = domainTag('bundle-section');

const prefix = (name: string) => concatBytes(SECTION_TAG, utf8ToBytes(name), new Uint8Array([0]));

/** hex(SHA-256(tag("bundle-section") ‖ utf8(name) ‖ 0x00 ‖ JCS(value))). Throws if value is not JCS-representable. */
export function sectionDigest(name: string, value: unknown): string {
  return bytesToHex(nobleSha256(concatBytes(prefix(name), canonicalBytes(value))));
}

/**
 * The same digest for an array section fed one element at a time (JCS of an array is its elements' JCS
 * joined by "," inside "[" "]"), so a million-event section never has to exist as one string.
 */
export class ArraySectionDigest {
  private readonly h = nobleSha256.create();
  private first = true;
  constructor(name: string) {
    this.h.update(prefix(name));
    this.h.update(OPEN);
  }
  add(element: unknown): void {
    if (!this.first) this.h.update(COMMA);
    this.first = false;
    this.h.update(canonicalBytes(element));
  }
  digest(): string {
    this.h.update(CLOSE);
    return bytesToHex(this.h.digest());
  }
}
const OPEN = utf8ToBytes('[');
const COMMA = utf8ToBytes(',');
const CLOSE = utf8ToBytes(']');
