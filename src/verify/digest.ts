// Section digests of a bundle (docs/bundle.md), computed through the injectable SHA-256 of src/protocol/hash.ts
// so the CLI's node:crypto hash serves them too. The same values as sectionDigest / ArraySectionDigest of
// src/protocol/bundle.ts (which hash with @noble/hashes directly), tested equal in test/verify-native-hash.test.ts.
import { bytesToHex, concatBytes, utf8ToBytes } from '../protocol/bytes.js';
import { createSha256, domainTag, sha256, type Sha256Hasher } from '../protocol/hash.js';
import { canonicalBytes } from '../protocol/jcs.js';

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

/** The digest of an array section fed one element (or one element's JCS) at a time. */
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
  /** Adds an element given as its JCS text. */
  addText(jcs: string): void {
    this.addCanonical(utf8Scratch(jcs));
  }
  digest(): string {
    this.h.update(CLOSE);
    return bytesToHex(this.h.digest());
  }
}
