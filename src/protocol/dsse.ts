// DSSE v1 (Dead Simple Signing Envelope, github.com/secure-systems-lab/dsse protocol.md and envelope.md):
// the pre-authentication encoding, the JSON envelope, and its verification with Ed25519 keys.
// docs/protocol.md §13. Pure and browser-safe: signing takes a callback, so no key ever enters this module.
import { bytesToBase64, bytesToHex, concatBytes, utf8ToBytes } from './bytes.js';
import { verifyEd25519 } from './ed25519.js';

/** The JSON envelope exactly as envelope.md names its members. */
export interface DsseEnvelope {
  payloadType: string;
  /** Standard base64 (padded) of the serialized body. */
  payload: string;
  signatures: DsseSignature[];
}

export interface DsseSignature {
  /** Unauthenticated hint (DSSE: "MUST NOT be used for security decisions"); we put the ledger kid here. */
  keyid: string;
  /** Standard base64 of the raw 64-byte Ed25519 signature over dssePae(payloadType, payload). */
  sig: string;
}

/** Signs the PAE bytes; the ledger's Signer (src/ledger/signer.ts) fits as is. */
export interface DsseSigner {
  keyid: string;
  sign(message: Uint8Array): Uint8Array;
}

/** An Ed25519 public key (32 raw bytes) that may verify an envelope; `keyid` narrows which signatures it is tried on. */
export interface DssePublicKey {
  keyid?: string;
  publicKey: Uint8Array;
}

const SP = new Uint8Array([0x20]);
const PAE_PREFIX = utf8ToBytes('DSSEv1');

/**
 * PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body, LEN = ASCII decimal byte length
 * without leading zeros, type as its UTF-8 bytes (DSSE protocol.md, "Signature Definition").
 */
export function dssePae(payloadType: string, payload: Uint8Array): Uint8Array {
  if (typeof payloadType !== 'string') throw new TypeError('dssePae: payloadType must be a string');
  if (!(payload instanceof Uint8Array)) throw new TypeError('dssePae: payload must be bytes');
  const type = utf8ToBytes(payloadType);
  return concatBytes(
    PAE_PREFIX,
    SP,
    utf8ToBytes(String(type.length)),
    SP,
    type,
    SP,
    utf8ToBytes(String(payload.length)),
    SP,
    payload,
  );
}

/** The envelope of `payload` signed by each of `signers` (in order), payload and signatures in standard base64. */
export function dsseEnvelope(payloadType: string, payload: Uint8Array, signers: DsseSigner | readonly DsseSigner[]): DsseEnvelope {
  const list = Array.isArray(signers) ? (signers as readonly DsseSigner[]) : [signers as DsseSigner];
  if (list.length === 0) throw new TypeError('dsseEnvelope: at least one signer');
  const pae = dssePae(payloadType, payload);
  return {
    payloadType,
    payload: bytesToBase64(payload),
    signatures: list.map((s) => ({ keyid: s.keyid, sig: bytesToBase64(s.sign(pae)) })),
  };
}

/** Why an envelope was refused. */
export type DsseProblemCode = 'DSSE_MALFORMED' | 'DSSE_PAYLOAD_TYPE' | 'DSSE_SIGNATURE_INVALID';

export type DsseVerifyResult =
  | { ok: true; payloadType: string; payload: Uint8Array; keyids: string[] }
  | { ok: false; code: DsseProblemCode; message: string };

export interface DsseVerifyOptions {
  /** Distinct trusted keys that must have signed (DSSE's t of a (t, n)-envelope); default 1. */
  threshold?: number;
  /** When set, any other payloadType is refused (DSSE: "Reject if PAYLOAD_TYPE is not a supported type"). */
  payloadType?: string;
  /** Signatures tried at most (each costs a verification); default 16. More is DSSE_MALFORMED. */
  maxSignatures?: number;
}

const STD_B64 = /^[A-Za-z0-9+/]*={0,2}$/;
const URL_B64 = /^[A-Za-z0-9_-]*={0,2}$/;

/**
 * DSSE verifiers must accept standard and URL-safe base64 (padding optional). One alphabet per string, and the
 * decoding must re-encode to the same characters (no stray trailing bits), so one value has one spelling.
 */
export function dsseBase64Decode(s: string): Uint8Array {
  if (typeof s !== 'string' || !(STD_B64.test(s) || URL_B64.test(s))) throw new TypeError('not base64');
  let std = s.replace(/-/g, '+').replace(/_/g, '/');
  const bare = std.replace(/=+$/, '');
  if (bare.length % 4 === 1) throw new TypeError('not base64');
  if (std.length !== bare.length && std.length % 4 !== 0) throw new TypeError('not base64'); // partial padding
  std = bare + '='.repeat((4 - (bare.length % 4)) % 4);
  let bin: string;
  try {
    bin = atob(std);
  } catch {
    throw new TypeError('not base64');
  }
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  if (bytesToBase64(out).replace(/=+$/, '') !== bare) throw new TypeError('not canonical base64');
  return out;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Verifies a JSON envelope against Ed25519 keys: it is valid when signatures from at least `threshold` distinct
 * keys verify over PAE(payloadType, payload). keyid only narrows which keys are tried (a signature whose keyid
 * matches no key is tried against all). Unknown members are ignored, as envelope.md requires. Never throws.
 * The payload returned is the one verified: callers must parse that, never re-read the envelope.
 */
export async function verifyDsseEnvelope(
  env: unknown,
  publicKeys: readonly DssePublicKey[],
  opts: DsseVerifyOptions = {},
): Promise<DsseVerifyResult> {
  const bad = (code: DsseProblemCode, message: string): DsseVerifyResult => ({ ok: false, code, message });
  if (!isObj(env)) return bad('DSSE_MALFORMED', 'envelope is not a JSON object');
  const { payloadType, payload, signatures } = env;
  if (typeof payloadType !== 'string') return bad('DSSE_MALFORMED', 'payloadType must be a string');
  if (typeof payload !== 'string') return bad('DSSE_MALFORMED', 'payload must be a base64 string');
  if (!Array.isArray(signatures) || signatures.length === 0) return bad('DSSE_MALFORMED', 'signatures must be a non-empty array');
  const maxSignatures = opts.maxSignatures ?? 16;
  if (signatures.length > maxSignatures) return bad('DSSE_MALFORMED', `more than ${maxSignatures} signatures`);
  let body: Uint8Array;
  try {
    body = dsseBase64Decode(payload);
  } catch {
    return bad('DSSE_MALFORMED', 'payload is not base64');
  }
  const threshold = opts.threshold ?? 1;
  if (!Number.isInteger(threshold) || threshold < 1) return bad('DSSE_MALFORMED', 'threshold must be a positive integer');
  const keys = publicKeys.filter((k) => k && k.publicKey instanceof Uint8Array && k.publicKey.length === 32);
  const pae = dssePae(payloadType, body);
  const accepted = new Map<string, string>(); // public key hex -> keyid it verified under
  for (const [i, s] of signatures.entries()) {
    if (!isObj(s) || typeof s.sig !== 'string') return bad('DSSE_MALFORMED', `signatures[${i}].sig must be a base64 string`);
    if (s.keyid !== undefined && typeof s.keyid !== 'string') return bad('DSSE_MALFORMED', `signatures[${i}].keyid must be a string`);
    let sig: Uint8Array;
    try {
      sig = dsseBase64Decode(s.sig);
    } catch {
      return bad('DSSE_MALFORMED', `signatures[${i}].sig is not base64`);
    }
    const keyid = typeof s.keyid === 'string' ? s.keyid : '';
    const named = keyid === '' ? [] : keys.filter((k) => k.keyid === keyid);
    for (const k of named.length > 0 ? named : keys) {
      const hex = bytesToHex(k.publicKey);
      if (accepted.has(hex)) continue;
      if (await verifyEd25519(k.publicKey, sig, pae)) {
        accepted.set(hex, k.keyid ?? keyid);
        break;
      }
    }
    if (accepted.size >= threshold) break;
  }
  if (accepted.size < threshold) {
    return bad('DSSE_SIGNATURE_INVALID', `signatures from ${accepted.size} trusted key(s) verify, ${threshold} required`);
  }
  if (opts.payloadType !== undefined && payloadType !== opts.payloadType) {
    return bad('DSSE_PAYLOAD_TYPE', `payloadType ${JSON.stringify(payloadType)} is not ${JSON.stringify(opts.payloadType)}`);
  }
  return { ok: true, payloadType, payload: body, keyids: [...accepted.values()] };
}
