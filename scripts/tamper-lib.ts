// What the two tamper-corpus generators (gen-tamper.ts, gen-tamper-evidence.ts) share: the case record, the pack
// layout they write, resealing the manifest after a change, and the fixture keys derived from public seeds.
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { BUNDLE_SECTIONS, sectionDigest } from '../src/protocol/bundle.js';

export type Bundle = Record<string, any>;

export interface Case {
  file: string;
  description: string;
  expect_codes: string[];
  text: string;
}

/** Layout like the server's: one top-level member per line, one event per line. */
export function serialize(b: Bundle): string {
  const member = ([k, v]: [string, unknown]) =>
    `${JSON.stringify(k)}:${k === 'events' && Array.isArray(v) ? `[\n${v.map((e) => JSON.stringify(e)).join(',\n')}\n]` : JSON.stringify(v)}`;
  return `{${Object.entries(b).map(member).join(',\n')}}\n`;
}

/** Recompute every section digest, so the manifest is not what fails. */
export function resealManifest(b: Bundle): Bundle {
  for (const name of BUNDLE_SECTIONS) if (name in b) b.manifest.sections[name] = sectionDigest(name, b[name]);
  return b;
}

/** Flip one hex digit (a different, still valid hex digit). */
export const flipHex = (h: string, at = h.length - 1) => h.slice(0, at) + (h[at] === '0' ? '1' : '0') + h.slice(at + 1);

/** FIXTURE ONLY: an Ed25519 private key from a 32-byte seed (PKCS#8 DER prefix + seed). */
export const keyFromSeed = (seed: Uint8Array): KeyObject =>
  createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]), format: 'der', type: 'pkcs8' });

/** The raw 32-byte public key of an Ed25519 KeyObject. */
export const rawPublic = (k: KeyObject): Uint8Array => new Uint8Array(Buffer.from(createPublicKey(k).export({ format: 'jwk' }).x!, 'base64url'));
