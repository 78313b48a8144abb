// Audit bundle constants and section digests (docs/bundle.md). Pure and browser-safe.
import { bytesToHex, concatBytes, utf8ToBytes } from './bytes.js';
import { createSha256, domainTag, sha256, type Sha256Hasher } from './hash.js';
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
  return bytesToHex(sha256(prefix(name), canonicalBytes(value)));
}

const encoder = new TextEncoder();
let scratch = new Uint8Array(1 << 14);

/** UTF-8 of `text` in a reused buffer (valid until the next call): the hashers copy what they are given. */
function utf8Scratch(text: string): Uint8Array {
  const max = 3 * text.length;
  if (max > scratch.length) {
    if (max > 1 << 20) return encoder.encode(text);
    scratch = new Uint8Array(Math.max(max, 2 * scratch.length));
  }
  return scratch.subarray(0, encoder.encodeInto(text, scratch).written);
}

const OPEN = utf8ToBytes('[');
const COMMA = utf8ToBytes(',');
const CLOSE = utf8ToBytes(']');

/**
 * The same digest for an array section fed one element at a time (JCS of an array is its elements' JCS
 * joined by "," inside "[" "]"), so a million-event section never has to exist as one string.
 */
export class ArraySectionDigest {
  private readonly h: Sha256Hasher = createSha256();
  private first = true;
  constructor(name: string) {
    this.h.update(prefix(name));
    this.h.update(OPEN);
  }
  /** Adds an element; throws (adding nothing) when it is not JCS-representable. */
  add(element: unknown): void {
    this.addCanonical(canonicalBytes(element));
  }
  /** Adds an element given as its JCS bytes. */
  addCanonical(jcs: Uint8Array): void {
    if (!this.first) this.h.update(COMMA);
    this.first = false;
    this.h.update(jcs);
  }
  /** Adds an element given as its JCS text (the verifier builds it for other hashes too). */
  addText(jcs: string): void {
    this.addCanonical(utf8Scratch(jcs));
  }
  digest(): string {
    this.h.update(CLOSE);
    return bytesToHex(this.h.digest());
  }
}
