// Byte helpers shared by every format. Browser-safe: no Node-only imports.
import { bytesToHex as nobleToHex, concatBytes, utf8ToBytes } from '@noble/hashes/utils.js';

export { concatBytes, utf8ToBytes };

export const bytesToHex = (b: Uint8Array): string => nobleToHex(b);

const HEX_RE = /^(?:[0-9a-f]{2})*$/;

/** Strict lowercase hex decode; throws on anything else (callers turn that into a typed problem). */
export function hexToBytes(hex: string): Uint8Array {
  if (typeof hex !== 'string' || !HEX_RE.test(hex)) throw new TypeError('not lowercase hex');
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

export function isHex32(s: unknown): s is string {
  return typeof s === 'string' && s.length === 64 && HEX_RE.test(s);
}

const B64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function bytesToBase64(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  return btoa(s);
}

/** Strict standard base64 (padded, canonical); throws otherwise so a re-encoded variant never verifies. */
export function base64ToBytes(s: string): Uint8Array {
  if (typeof s !== 'string' || !B64_RE.test(s)) throw new TypeError('not canonical base64');
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  if (bytesToBase64(out) !== s) throw new TypeError('not canonical base64');
  return out;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}
