// C2SP signed notes (c2sp.org/signed-note): text signed by one or more keys, plus verifier keys ("vkeys").
//
//   <text, ending in \n>\n
//   — <key name> base64(4-byte key ID ‖ signature)\n   (one or more; "—" is U+2014 EM DASH)
//
// Supported signature types: 0x01 (Ed25519 over the note text) and 0x04 (Ed25519 tlog-cosignature/v1,
// c2sp.org/tlog-cosignature: 8-byte timestamp ‖ signature over "cosignature/v1\ntime <t>\n" ‖ text).
// Browser-safe: WebCrypto Ed25519 when present, @noble/ed25519 otherwise (via ed25519.ts).
import { base64ToBytes, bytesEqual, bytesToBase64, bytesToHex, concatBytes, hexToBytes, utf8ToBytes } from './bytes.js';
import { COSIGNATURE_V1_TYPE, cosignatureMessage, decodeCosignature, encodeCosignature } from './checkpoint.js';
import { verifyEd25519 } from './ed25519.js';
import { sha256 } from './hash.js';
import { ProtocolError } from './merkle.js';

export { ProtocolError };

/** Typed error for malformed notes, verifier keys and signing inputs; `code` says which rule failed. */
export class NoteError extends ProtocolError {}

/** Signature type byte for plain Ed25519 note signatures. */
export const ED25519_TYPE = 0x01;
/** Signature type byte for Ed25519 tlog-cosignature/v1 (re-exported from checkpoint.ts). */
export const COSIGNATURE_TYPE = COSIGNATURE_V1_TYPE;

/**
 * Parser limits. The spec requires accepting at least 16 signatures and warns post-quantum signatures
 * approach 5 kB; we accept up to 100 signatures (as Go's golang.org/x/mod/sumdb/note does) and 1 MiB.
 */
export const MAX_NOTE_SIGNATURES = 100;
export const MAX_NOTE_BYTES = 1 << 20;

const EM_DASH_PREFIX = '\u2014 ';
// Unicode spaces (JS \s covers White_Space except U+0085, added explicitly) and '+' are banned in names.
const BAD_NAME_RE = /[\s\u0085+]/u;
// eslint-disable-next-line no-control-regex
const CONTROL_RE = /[\u0000-\u0009\u000b-\u001f]/;

/** One signature line of a note. */
export interface NoteSignature {
  /** Key name (non-empty, no Unicode spaces, no '+'). */
  name: string;
  /** 4-byte key ID (big-endian uint32 on the wire). */
  keyId: Uint8Array;
  /** Signature bytes after the key ID (for type 0x04: 8-byte timestamp ‖ 64-byte signature). */
  signature: Uint8Array;
}

/** A parsed note; the text MUST be ignored until verifyNote says a trusted key signed it. */
export interface ParsedNote {
  text: string;
  signatures: NoteSignature[];
}

/** A parsed verifier key `name+hex8(keyID)+base64(type ‖ publicKey)`. */
export interface VerifierKey {
  name: string;
  keyId: Uint8Array;
  /** Signature type byte: 0x01 (Ed25519) or 0x04 (Ed25519 cosignature/v1). */
  type: number;
  /** 32-byte Ed25519 public key. */
  publicKey: Uint8Array;
}

/** True iff `name` is a valid key name: non-empty, well-formed, no Unicode spaces, no '+'. */
export function isValidKeyName(name: unknown): name is string {
  return (
    typeof name === 'string' && name.length > 0 && name.isWellFormed() && !BAD_NAME_RE.test(name) && !CONTROL_RE.test(name)
  );
}

/** Key ID = SHA-256(name ‖ 0x0A ‖ type ‖ public key)[:4] — the signed-note recommendation, mandatory for 0x01/0x04. */
export function keyId(name: string, typeByte: number, pubkey: Uint8Array): Uint8Array {
  return sha256(utf8ToBytes(name), new Uint8Array([0x0a, typeByte & 0xff]), pubkey).slice(0, 4);
}

/** Encodes a verifier key `name+<8 lowercase hex key ID>+base64(type ‖ pubkey)`; type 0x01 unless given. */
export function encodeVerifierKey(name: string, pubkey: Uint8Array, type: number = ED25519_TYPE): string {
  if (!isValidKeyName(name)) throw new NoteError('VKEY_MALFORMED', 'invalid key name');
  if (type !== ED25519_TYPE && type !== COSIGNATURE_TYPE) throw new NoteError('VKEY_UNSUPPORTED_TYPE', `unsupported key type ${type}`);
  if (!(pubkey instanceof Uint8Array) || pubkey.length !== 32) throw new NoteError('VKEY_MALFORMED', 'Ed25519 public key must be 32 bytes');
  return `${name}+${bytesToHex(keyId(name, type, pubkey))}+${bytesToBase64(concatBytes(new Uint8Array([type]), pubkey))}`;
}

/**
 * Parses a verifier key. Throws NoteError: VKEY_MALFORMED (shape, name, hex, base64, key length),
 * VKEY_UNSUPPORTED_TYPE (type other than 0x01/0x04), VKEY_KEYID_MISMATCH (ID ≠ hash of name/type/key).
 * The key ID must be 8 lowercase hex digits, as encoders write it.
 */
export function parseVerifierKey(vkey: string): VerifierKey {
  if (typeof vkey !== 'string') throw new NoteError('VKEY_MALFORMED', 'verifier key must be a string');
  // Names contain no '+', so the first two '+' delimit the fields; the base64 key may contain '+' itself.
  const p1 = vkey.indexOf('+');
  const p2 = p1 < 0 ? -1 : vkey.indexOf('+', p1 + 1);
  if (p2 < 0) throw new NoteError('VKEY_MALFORMED', 'verifier key must be name+keyid+key');
  const name = vkey.slice(0, p1);
  const idHex = vkey.slice(p1 + 1, p2);
  const keyB64 = vkey.slice(p2 + 1);
  if (!isValidKeyName(name)) throw new NoteError('VKEY_MALFORMED', 'invalid key name');
  if (!/^[0-9a-f]{8}$/.test(idHex)) throw new NoteError('VKEY_MALFORMED', 'key ID must be 8 lowercase hex digits');
  let data: Uint8Array;
  try {
    data = base64ToBytes(keyB64);
  } catch {
    throw new NoteError('VKEY_MALFORMED', 'key data is not canonical base64');
  }
  if (data.length === 0) throw new NoteError('VKEY_MALFORMED', 'key data is empty');
  const type = data[0]!;
  const publicKey = data.slice(1);
  const id = hexToBytes(idHex);
  // The ID covers type ‖ key whatever the type, so check it before rejecting unknown types.
  if (!bytesEqual(id, keyId(name, type, publicKey))) throw new NoteError('VKEY_KEYID_MISMATCH', 'key ID does not match the key');
  if (type !== ED25519_TYPE && type !== COSIGNATURE_TYPE) {
    throw new NoteError('VKEY_UNSUPPORTED_TYPE', `unsupported key type 0x${type.toString(16).padStart(2, '0')}`);
  }
  if (publicKey.length !== 32) throw new NoteError('VKEY_MALFORMED', 'Ed25519 public key must be 32 bytes');
  return { name, keyId: id, type, publicKey };
}

function checkText(text: unknown): asserts text is string {
  if (typeof text !== 'string' || text.length === 0 || !text.endsWith('\n')) {
    throw new NoteError('NOTE_MALFORMED', 'note text must be non-empty and end with a newline');
  }
  if (!text.isWellFormed()) throw new NoteError('NOTE_MALFORMED', 'note is not valid UTF-8');
  if (CONTROL_RE.test(text)) throw new NoteError('NOTE_MALFORMED', 'note contains a control character');
}

function signatureLine(sig: NoteSignature): string {
  if (!isValidKeyName(sig.name)) throw new NoteError('NOTE_MALFORMED', 'invalid key name');
  if (!(sig.keyId instanceof Uint8Array) || sig.keyId.length !== 4) throw new NoteError('NOTE_MALFORMED', 'key ID must be 4 bytes');
  if (!(sig.signature instanceof Uint8Array) || sig.signature.length === 0) throw new NoteError('NOTE_MALFORMED', 'empty signature');
  return `${EM_DASH_PREFIX}${sig.name} ${bytesToBase64(concatBytes(sig.keyId, sig.signature))}\n`;
}

/**
 * Serializes a signed note: text, a blank line, then one `— name base64(keyID ‖ sig)` line per signature.
 * Throws NoteError if the text or a signature would not parse back (no signatures, bad name, …).
 */
export function formatNote(text: string, signatures: readonly NoteSignature[]): string {
  checkText(text);
  if (signatures.length === 0) throw new NoteError('NOTE_MALFORMED', 'a note needs at least one signature');
  if (signatures.length > MAX_NOTE_SIGNATURES) throw new NoteError('NOTE_TOO_LARGE', 'too many signatures');
  const note = `${text}\n${signatures.map(signatureLine).join('')}`;
  if (utf8ToBytes(note).length > MAX_NOTE_BYTES) throw new NoteError('NOTE_TOO_LARGE', 'note too large');
  return note;
}

const utf8Fatal = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Parses a signed note (string, or bytes that must be valid UTF-8) per c2sp.org/signed-note: valid
 * UTF-8, no control characters but newline, text ends in newline and is split from the signatures at the
 * last blank line, ≥ 1 signature line `— name base64`, name valid, signature canonical base64 of ≥ 5 bytes,
 * ≤ MAX_NOTE_SIGNATURES lines, ≤ MAX_NOTE_BYTES. Does not verify anything. Throws NoteError.
 */
export function parseNote(note: string | Uint8Array): ParsedNote {
  let s: string;
  if (note instanceof Uint8Array) {
    if (note.length > MAX_NOTE_BYTES) throw new NoteError('NOTE_TOO_LARGE', 'note too large');
    try {
      s = utf8Fatal.decode(note);
    } catch {
      throw new NoteError('NOTE_MALFORMED', 'note is not valid UTF-8');
    }
  } else if (typeof note === 'string') {
    s = note;
    // UTF-8 is at most 3 bytes per UTF-16 code unit; only measure when it could matter.
    if (s.length * 3 > MAX_NOTE_BYTES && utf8ToBytes(s).length > MAX_NOTE_BYTES) {
      throw new NoteError('NOTE_TOO_LARGE', 'note too large');
    }
  } else {
    throw new NoteError('NOTE_MALFORMED', 'note must be a string or bytes');
  }
  if (!s.isWellFormed()) throw new NoteError('NOTE_MALFORMED', 'note is not valid UTF-8');
  if (CONTROL_RE.test(s)) throw new NoteError('NOTE_MALFORMED', 'note contains a control character');
  const split = s.lastIndexOf('\n\n');
  if (split < 0) throw new NoteError('NOTE_MALFORMED', 'note has no blank line before its signatures');
  const text = s.slice(0, split + 1);
  const block = s.slice(split + 2);
  if (block.length === 0 || !block.endsWith('\n')) throw new NoteError('NOTE_MALFORMED', 'signature block must end with a newline');
  const lines = block.slice(0, -1).split('\n');
  if (lines.length > MAX_NOTE_SIGNATURES) throw new NoteError('NOTE_TOO_LARGE', 'too many signatures');
  const signatures = lines.map((line): NoteSignature => {
    if (!line.startsWith(EM_DASH_PREFIX)) throw new NoteError('NOTE_MALFORMED', 'signature line must start with "— "');
    const rest = line.slice(EM_DASH_PREFIX.length);
    const sp = rest.indexOf(' ');
    if (sp < 0) throw new NoteError('NOTE_MALFORMED', 'signature line needs a name and a signature');
    const name = rest.slice(0, sp);
    if (!isValidKeyName(name)) throw new NoteError('NOTE_MALFORMED', 'invalid key name in signature line');
    let raw: Uint8Array;
    try {
      raw = base64ToBytes(rest.slice(sp + 1));
    } catch {
      throw new NoteError('NOTE_MALFORMED', 'signature is not canonical base64');
    }
    if (raw.length < 5) throw new NoteError('NOTE_MALFORMED', 'signature too short');
    return { name, keyId: raw.slice(0, 4), signature: raw.slice(4) };
  });
  return { text, signatures };
}

/** A signer callback: returns the 64-byte Ed25519 signature of `msg` (sync or async, e.g. WebCrypto/HSM). */
export type Ed25519Sign = (msg: Uint8Array) => Promise<Uint8Array> | Uint8Array;

async function callSigner(sign: Ed25519Sign, msg: Uint8Array): Promise<Uint8Array> {
  const sig = await sign(msg);
  if (!(sig instanceof Uint8Array) || sig.length !== 64) throw new NoteError('SIGNER_FAILED', 'signer did not return a 64-byte signature');
  return sig;
}

/**
 * Signs note `text` with an Ed25519 key (type 0x01) and returns the signature line for formatNote. The
 * public key is needed because the key ID commits to it. Throws NoteError for invalid text/name/key.
 */
export async function signNoteEd25519(text: string, name: string, publicKey: Uint8Array, sign: Ed25519Sign): Promise<NoteSignature> {
  checkText(text);
  if (!isValidKeyName(name)) throw new NoteError('NOTE_MALFORMED', 'invalid key name');
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32) throw new NoteError('NOTE_MALFORMED', 'Ed25519 public key must be 32 bytes');
  const signature = await callSigner(sign, utf8ToBytes(text));
  return { name, keyId: keyId(name, ED25519_TYPE, publicKey), signature };
}

/**
 * Cosigns checkpoint note `text` (tlog-cosignature/v1, type 0x04) at POSIX time `time`: signs
 * "cosignature/v1\ntime <t>\n" ‖ text and returns the signature line (timestamp ‖ signature) for formatNote.
 */
export async function signNoteCosignatureV1(
  text: string,
  name: string,
  publicKey: Uint8Array,
  time: bigint | number,
  sign: Ed25519Sign,
): Promise<NoteSignature> {
  checkText(text);
  if (!isValidKeyName(name)) throw new NoteError('NOTE_MALFORMED', 'invalid key name');
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32) throw new NoteError('NOTE_MALFORMED', 'Ed25519 public key must be 32 bytes');
  const sig = await callSigner(sign, cosignatureMessage(time, text));
  return { name, keyId: keyId(name, COSIGNATURE_TYPE, publicKey), signature: encodeCosignature(time, sig) };
}

/** A signature line from a known key that verified. */
export interface VerifiedSignature extends NoteSignature {
  key: VerifierKey;
  /** For cosignatures (type 0x04): the signed POSIX timestamp. */
  timestamp?: bigint;
}

/** A signature line from a known key that did NOT verify (the note should be rejected). */
export interface FailedSignature extends NoteSignature {
  reason: 'bad_signature' | 'malformed_signature';
}

/** Outcome of verifyNote. Never thrown; inspect `ok`. */
export interface NoteVerification {
  /** True iff the note parsed, ≥ 1 known key verified and no known key's signature failed. */
  ok: boolean;
  /** The note text — set only when ok (the spec says to ignore unverified text). */
  text?: string;
  verified: VerifiedSignature[];
  failed: FailedSignature[];
  /** Signatures whose (name, key ID) matches no known key: ignored, as the spec requires. */
  unknown: NoteSignature[];
  /** Set when the note itself is malformed (then every list is empty). */
  error?: { code: string; message: string };
}

/**
 * Verifies a signed note against trusted verifier keys. Signatures are matched to keys on (name, key ID);
 * unmatched ones are ignored (listed in `unknown`); every matched one is verified, and a failure is
 * reported in `failed` and makes `ok` false (the spec lets clients reject the whole note; we do). Type 0x01
 * verifies Ed25519 over the text; type 0x04 over the tlog-cosignature/v1 message. Never throws.
 */
export async function verifyNote(note: string | Uint8Array, verifierKeys: readonly VerifierKey[]): Promise<NoteVerification> {
  let parsed: ParsedNote;
  try {
    parsed = parseNote(note);
  } catch (e) {
    const code = e instanceof ProtocolError ? e.code : 'NOTE_MALFORMED';
    return { ok: false, verified: [], failed: [], unknown: [], error: { code, message: (e as Error)?.message ?? String(e) } };
  }
  const textBytes = utf8ToBytes(parsed.text);
  const keys = Array.isArray(verifierKeys) ? verifierKeys : [];
  const verified: VerifiedSignature[] = [];
  const failed: FailedSignature[] = [];
  const unknown: NoteSignature[] = [];
  for (const sig of parsed.signatures) {
    const matches = keys.filter((k) => k && k.name === sig.name && k.keyId instanceof Uint8Array && bytesEqual(k.keyId, sig.keyId));
    if (matches.length === 0) {
      unknown.push(sig);
      continue;
    }
    let good: VerifiedSignature | undefined;
    let malformed = false;
    for (const key of matches) {
      if (key.type === ED25519_TYPE) {
        if (sig.signature.length !== 64) {
          malformed = true;
          continue;
        }
        if (await verifyEd25519(key.publicKey, sig.signature, textBytes)) good = { ...sig, key };
      } else if (key.type === COSIGNATURE_TYPE) {
        let cos: { timestamp: bigint; signature: Uint8Array };
        try {
          cos = decodeCosignature(sig.signature);
        } catch {
          malformed = true;
          continue;
        }
        const msg = cosignatureMessage(cos.timestamp, parsed.text);
        if (await verifyEd25519(key.publicKey, cos.signature, msg)) good = { ...sig, key, timestamp: cos.timestamp };
      }
      if (good) break;
    }
    if (good) verified.push(good);
    else failed.push({ ...sig, reason: malformed ? 'malformed_signature' : 'bad_signature' });
  }
  const ok = verified.length > 0 && failed.length === 0;
  return ok ? { ok, text: parsed.text, verified, failed, unknown } : { ok, verified, failed, unknown };
}
