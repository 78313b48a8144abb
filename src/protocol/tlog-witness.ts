// C2SP tlog-witness wire formats (c2sp.org/tlog-witness), pure and browser-safe (no Node-only imports).
//
// add-checkpoint request body (POST <submission prefix>/add-checkpoint):
//
//   old <size>\n                      decimal, no leading zeroes ("0" for zero)
//   <base64 hash>\n                   0–63 consistency-proof lines, each one 32-byte hash
//   \n                                an empty line
//   <checkpoint note>                 a signed note (c2sp.org/signed-note) over a checkpoint body
//
// 200 response body: one or more note signature lines `— <name> base64(keyID ‖ signature)\n` (for an
// Ed25519 tlog-cosignature/v1 the signature is 8-byte big-endian time ‖ 64-byte signature).
// 409 response body: `<size of the latest cosigned checkpoint>\n`, Content-Type text/x.tlog.size.
import { base64ToBytes, bytesToBase64, concatBytes } from './bytes.js';
import { HASH_SIZE, ProtocolError } from './merkle.js';
import { isValidKeyName, MAX_NOTE_BYTES, MAX_NOTE_SIGNATURES, type NoteSignature } from './note.js';

/** Typed error for malformed tlog-witness bodies; `code` says which rule failed (see each function). */
export class TlogWitnessError extends ProtocolError {}

/** Content-Type of a 409 Conflict response body (the witness's latest cosigned size). */
export const TLOG_SIZE_CONTENT_TYPE = 'text/x.tlog.size';

/** The spec caps the consistency proof at 63 lines (a proof has at most ⌈log₂ 2^63⌉ hashes). */
export const MAX_PROOF_LINES = 63;

/** A parsed add-checkpoint request. `note` is the signed checkpoint note, unparsed and unverified. */
export interface AddCheckpointRequest {
  /** Tree size of the previous checkpoint (the witness's latest cosigned size, or 0). */
  old: number;
  /** RFC 6962/9162 consistency proof from `old` to the checkpoint size; each hash 32 bytes. */
  proof: Uint8Array[];
  /** The checkpoint as a signed note (text, blank line, signature lines). */
  note: string;
}

const SIZE_RE = /^(?:0|[1-9][0-9]*)$/;

function err(code: string, message: string): TlogWitnessError {
  return new TlogWitnessError(code, message);
}

/**
 * Serializes an add-checkpoint request body. Throws TlogWitnessError for input the parser would reject:
 * WITNESS_OLD_INVALID (old not a non-negative safe integer), WITNESS_TOO_MANY_PROOF_LINES (> 63),
 * WITNESS_PROOF_INVALID (a hash that is not 32 bytes), WITNESS_NOTE_INVALID (note not a non-empty string).
 */
export function formatAddCheckpointRequest(req: AddCheckpointRequest): string {
  const { old, proof, note } = req;
  if (typeof old !== 'number' || !Number.isSafeInteger(old) || old < 0) {
    throw err('WITNESS_OLD_INVALID', 'old size must be a non-negative safe integer');
  }
  if (!Array.isArray(proof)) throw err('WITNESS_PROOF_INVALID', 'proof must be an array of hashes');
  if (proof.length > MAX_PROOF_LINES) throw err('WITNESS_TOO_MANY_PROOF_LINES', `more than ${MAX_PROOF_LINES} proof lines`);
  for (const h of proof) {
    if (!(h instanceof Uint8Array) || h.length !== HASH_SIZE) throw err('WITNESS_PROOF_INVALID', 'proof hashes must be 32 bytes');
  }
  if (typeof note !== 'string' || note.length === 0) throw err('WITNESS_NOTE_INVALID', 'note must be a non-empty string');
  return `old ${old}\n${proof.map((h) => `${bytesToBase64(h)}\n`).join('')}\n${note}`;
}

/**
 * Strictly parses an add-checkpoint request body. The checkpoint note after the empty line is returned
 * verbatim (the witness parses and verifies it separately). Throws TlogWitnessError:
 *  - WITNESS_BODY_INVALID: not a string, too large, or not newline-terminated lines;
 *  - WITNESS_OLD_INVALID: first line is not `old <decimal>` (no leading zeroes, no sign, ≤ 2^53 − 1);
 *  - WITNESS_PROOF_INVALID: a proof line that is not canonical base64 of exactly 32 bytes;
 *  - WITNESS_TOO_MANY_PROOF_LINES: more than 63 proof lines;
 *  - WITNESS_NO_BLANK_LINE: the body ends before the empty line;
 *  - WITNESS_NOTE_INVALID: nothing after the empty line.
 */
export function parseAddCheckpointRequest(text: string): AddCheckpointRequest {
  if (typeof text !== 'string') throw err('WITNESS_BODY_INVALID', 'request body must be a string');
  // Old line + 63 proof lines + blank line are < 4 KiB; the note is capped by the signed-note limit.
  if (text.length > MAX_NOTE_BYTES + 8192) throw err('WITNESS_BODY_INVALID', 'request body too large');
  let pos = text.indexOf('\n');
  if (pos < 0) throw err('WITNESS_OLD_INVALID', 'missing old size line');
  const oldLine = text.slice(0, pos);
  if (!oldLine.startsWith('old ') || !SIZE_RE.test(oldLine.slice(4))) {
    throw err('WITNESS_OLD_INVALID', 'first line must be "old <size>" in decimal without leading zeroes');
  }
  const old = Number(oldLine.slice(4));
  if (!Number.isSafeInteger(old)) throw err('WITNESS_OLD_INVALID', 'old size too large');
  pos += 1;
  const proof: Uint8Array[] = [];
  for (;;) {
    const nl = text.indexOf('\n', pos);
    if (nl < 0) throw err('WITNESS_NO_BLANK_LINE', 'missing empty line between the proof and the checkpoint');
    const line = text.slice(pos, nl);
    pos = nl + 1;
    if (line.length === 0) break;
    if (proof.length === MAX_PROOF_LINES) throw err('WITNESS_TOO_MANY_PROOF_LINES', `more than ${MAX_PROOF_LINES} proof lines`);
    let h: Uint8Array;
    try {
      h = base64ToBytes(line);
    } catch {
      throw err('WITNESS_PROOF_INVALID', `proof line ${proof.length + 1} is not canonical base64`);
    }
    if (h.length !== HASH_SIZE) throw err('WITNESS_PROOF_INVALID', `proof line ${proof.length + 1} is not a 32-byte hash`);
    proof.push(h);
  }
  const note = text.slice(pos);
  if (note.length === 0) throw err('WITNESS_NOTE_INVALID', 'missing checkpoint after the empty line');
  return { old, proof, note };
}

const EM_DASH_PREFIX = '\u2014 ';

/** Serializes signature lines (a 200 add-checkpoint body). Throws TlogWitnessError on invalid input. */
export function formatCosignatureResponse(signatures: readonly NoteSignature[]): string {
  if (!Array.isArray(signatures) || signatures.length === 0) throw err('WITNESS_RESPONSE_INVALID', 'at least one signature is required');
  return signatures
    .map((s) => {
      if (!isValidKeyName(s.name)) throw err('WITNESS_RESPONSE_INVALID', 'invalid key name');
      if (!(s.keyId instanceof Uint8Array) || s.keyId.length !== 4) throw err('WITNESS_RESPONSE_INVALID', 'key ID must be 4 bytes');
      if (!(s.signature instanceof Uint8Array) || s.signature.length === 0) throw err('WITNESS_RESPONSE_INVALID', 'empty signature');
      return `${EM_DASH_PREFIX}${s.name} ${bytesToBase64(concatBytes(s.keyId, s.signature))}\n`;
    })
    .join('');
}

/**
 * Parses a 200 add-checkpoint response: one or more lines `— <name> <base64(keyID ‖ signature)>\n`, each
 * newline-terminated, name a valid key name, canonical base64 of ≥ 5 bytes, at most MAX_NOTE_SIGNATURES
 * lines. Does not verify anything: concatenate the lines to the checkpoint note and use verifyNote with
 * the witness keys you trust. Throws TlogWitnessError('WITNESS_RESPONSE_INVALID').
 */
export function parseCosignatureResponse(text: string): NoteSignature[] {
  if (typeof text !== 'string' || text.length === 0) throw err('WITNESS_RESPONSE_INVALID', 'empty response');
  if (text.length > MAX_NOTE_BYTES) throw err('WITNESS_RESPONSE_INVALID', 'response too large');
  if (!text.endsWith('\n')) throw err('WITNESS_RESPONSE_INVALID', 'response must end with a newline');
  const lines = text.slice(0, -1).split('\n');
  if (lines.length > MAX_NOTE_SIGNATURES) throw err('WITNESS_RESPONSE_INVALID', 'too many signature lines');
  return lines.map((line, i): NoteSignature => {
    if (!line.startsWith(EM_DASH_PREFIX)) throw err('WITNESS_RESPONSE_INVALID', `line ${i + 1} must start with "— "`);
    const rest = line.slice(EM_DASH_PREFIX.length);
    const sp = rest.indexOf(' ');
    if (sp < 0) throw err('WITNESS_RESPONSE_INVALID', `line ${i + 1} needs a name and a signature`);
    const name = rest.slice(0, sp);
    if (!isValidKeyName(name)) throw err('WITNESS_RESPONSE_INVALID', `line ${i + 1} has an invalid key name`);
    let raw: Uint8Array;
    try {
      raw = base64ToBytes(rest.slice(sp + 1));
    } catch {
      throw err('WITNESS_RESPONSE_INVALID', `line ${i + 1}: signature is not canonical base64`);
    }
    if (raw.length < 5) throw err('WITNESS_RESPONSE_INVALID', `line ${i + 1}: signature too short`);
    return { name, keyId: raw.slice(0, 4), signature: raw.slice(4) };
  });
}

/** Formats a 409 body: `<size>\n`. */
export function formatSizeResponse(size: number): string {
  if (!Number.isSafeInteger(size) || size < 0) throw err('WITNESS_SIZE_INVALID', 'size must be a non-negative safe integer');
  return `${size}\n`;
}

/** Parses a 409 body `<decimal size>\n` (no leading zeroes). Throws TlogWitnessError('WITNESS_SIZE_INVALID'). */
export function parseSizeResponse(text: string): number {
  if (typeof text !== 'string' || !text.endsWith('\n') || !SIZE_RE.test(text.slice(0, -1))) {
    throw err('WITNESS_SIZE_INVALID', 'size response must be a decimal size and a newline');
  }
  const n = Number(text.slice(0, -1));
  if (!Number.isSafeInteger(n)) throw err('WITNESS_SIZE_INVALID', 'size too large');
  return n;
}
