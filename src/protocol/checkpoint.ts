// C2SP tlog-checkpoint note bodies (c2sp.org/tlog-checkpoint) and the Ed25519 tlog-cosignature/v1 format
// (c2sp.org/tlog-cosignature). A checkpoint body is the text of a signed note (see note.ts):
//
//   <origin>\n<tree size, decimal>\n<base64 RFC 9162 root hash>\n[<extension line>\n]*
//
// Browser-safe: no Node-only imports.
import { base64ToBytes, bytesToBase64, concatBytes, utf8ToBytes } from './bytes.js';
import { HASH_SIZE, ProtocolError } from './merkle.js';

/** Typed error for malformed checkpoint bodies and cosignatures; `code` says which rule failed. */
export class CheckpointError extends ProtocolError {}

/** A checkpoint: the three mandatory lines plus optional opaque extension lines. */
export interface Checkpoint {
  /** Unique log identity, e.g. `example.com/log42`. Non-empty. */
  origin: string;
  /** Number of leaves in the tree (a safe integer). */
  size: number;
  /** RFC 9162 root hash of the tree at `size` (32 bytes). */
  rootHash: Uint8Array;
  /** Opaque, non-empty extension lines (NOT RECOMMENDED by the spec); absent or empty when none. */
  extensions?: string[];
}

/** Key type byte of Ed25519 tlog-cosignature/v1 keys (signed-note signature type 0x04). */
export const COSIGNATURE_V1_TYPE = 0x04;
/** Length of an Ed25519 timestamped_signature: u64 big-endian timestamp ‖ 64-byte signature. */
export const COSIGNATURE_V1_SIZE = 72;
/** The spec caps cosignature timestamps at 2^63 − 1. */
export const MAX_COSIGNATURE_TIME = (1n << 63n) - 1n;

const SIZE_RE = /^(?:0|[1-9][0-9]*)$/;
// Note text must be free of ASCII control characters other than newline (signed-note); lines have none.
// eslint-disable-next-line no-control-regex
const CONTROL_RE = /[\u0000-\u001f]/;

function checkLine(line: string, what: string): void {
  if (line.length === 0) throw new CheckpointError('CHECKPOINT_MALFORMED', `${what} is empty`);
  if (CONTROL_RE.test(line)) throw new CheckpointError('CHECKPOINT_MALFORMED', `${what} contains a control character`);
  if (!line.isWellFormed()) throw new CheckpointError('CHECKPOINT_MALFORMED', `${what} is not valid Unicode`);
}

/**
 * Serializes a checkpoint body ("origin\nsize\nbase64(root)\n" plus extension lines), the exact text a
 * log signs. Throws CheckpointError for values parseCheckpoint would reject, so output always round-trips.
 */
export function formatCheckpoint(cp: Checkpoint): string {
  checkLine(cp.origin, 'origin');
  if (!Number.isSafeInteger(cp.size) || cp.size < 0) {
    throw new CheckpointError('CHECKPOINT_MALFORMED', 'tree size must be a non-negative safe integer');
  }
  if (!(cp.rootHash instanceof Uint8Array) || cp.rootHash.length !== HASH_SIZE) {
    throw new CheckpointError('CHECKPOINT_MALFORMED', 'root hash must be 32 bytes');
  }
  const ext = cp.extensions ?? [];
  ext.forEach((e, i) => checkLine(e, `extension line ${i + 1}`));
  return [cp.origin, String(cp.size), bytesToBase64(cp.rootHash), ...ext].map((l) => `${l}\n`).join('');
}

/**
 * Strictly parses a checkpoint body (note text, without signatures): ≥ 3 newline-terminated non-empty
 * lines; decimal size without leading zeros (and ≤ 2^53 − 1, the ledger's limit); canonical base64 of a
 * 32-byte root; any further lines are returned as extensions. Throws CheckpointError('CHECKPOINT_MALFORMED').
 */
export function parseCheckpoint(text: string): Checkpoint {
  if (typeof text !== 'string' || !text.endsWith('\n')) {
    throw new CheckpointError('CHECKPOINT_MALFORMED', 'checkpoint must end with a newline');
  }
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3) throw new CheckpointError('CHECKPOINT_MALFORMED', 'checkpoint needs origin, size and root lines');
  const [origin, sizeLine, rootLine, ...extensions] = lines as [string, string, string, ...string[]];
  checkLine(origin, 'origin');
  if (!SIZE_RE.test(sizeLine)) {
    throw new CheckpointError('CHECKPOINT_MALFORMED', 'tree size must be decimal without leading zeros');
  }
  const size = Number(sizeLine);
  if (!Number.isSafeInteger(size)) throw new CheckpointError('CHECKPOINT_MALFORMED', 'tree size too large');
  let rootHash: Uint8Array;
  try {
    rootHash = base64ToBytes(rootLine);
  } catch {
    throw new CheckpointError('CHECKPOINT_MALFORMED', 'root hash is not canonical base64');
  }
  if (rootHash.length !== HASH_SIZE) throw new CheckpointError('CHECKPOINT_MALFORMED', 'root hash must be 32 bytes');
  extensions.forEach((e, i) => checkLine(e, `extension line ${i + 1}`));
  return extensions.length > 0 ? { origin, size, rootHash, extensions } : { origin, size, rootHash };
}

function toTime(time: bigint | number): bigint {
  if (typeof time === 'number' && !Number.isSafeInteger(time)) {
    throw new CheckpointError('COSIGNATURE_MALFORMED', 'timestamp must be an integer');
  }
  if (typeof time !== 'number' && typeof time !== 'bigint') {
    throw new CheckpointError('COSIGNATURE_MALFORMED', 'timestamp must be an integer');
  }
  const t = BigInt(time);
  if (t < 0n || t > MAX_COSIGNATURE_TIME) {
    throw new CheckpointError('COSIGNATURE_MALFORMED', 'timestamp must be in [0, 2^63 - 1]');
  }
  return t;
}

/**
 * The message an Ed25519 tlog-cosignature/v1 signs (c2sp.org/tlog-cosignature, "Ed25519 signed message"):
 * UTF-8 of "cosignature/v1\ntime <t>\n" followed by the whole checkpoint note text (with its final newline,
 * without signature lines). `time` is POSIX seconds in [0, 2^63 − 1]. Throws CheckpointError otherwise or
 * if the body does not end with a newline.
 */
export function cosignatureMessage(time: bigint | number, checkpointBody: string): Uint8Array {
  const t = toTime(time);
  if (typeof checkpointBody !== 'string' || !checkpointBody.endsWith('\n')) {
    throw new CheckpointError('COSIGNATURE_MALFORMED', 'cosigned body must end with a newline');
  }
  return utf8ToBytes(`cosignature/v1\ntime ${t.toString()}\n${checkpointBody}`);
}

/** Encodes a timestamped_signature: 8-byte big-endian `time` ‖ 64-byte Ed25519 signature (72 bytes). */
export function encodeCosignature(time: bigint | number, signature: Uint8Array): Uint8Array {
  const t = toTime(time);
  if (!(signature instanceof Uint8Array) || signature.length !== 64) {
    throw new CheckpointError('COSIGNATURE_MALFORMED', 'Ed25519 signature must be 64 bytes');
  }
  const head = new Uint8Array(8);
  new DataView(head.buffer).setBigUint64(0, t, false);
  return concatBytes(head, signature);
}

/** Decodes a 72-byte Ed25519 timestamped_signature; throws CheckpointError on wrong length or time ≥ 2^63. */
export function decodeCosignature(bytes: Uint8Array): { timestamp: bigint; signature: Uint8Array } {
  if (!(bytes instanceof Uint8Array) || bytes.length !== COSIGNATURE_V1_SIZE) {
    throw new CheckpointError('COSIGNATURE_MALFORMED', `cosignature must be ${COSIGNATURE_V1_SIZE} bytes`);
  }
  const timestamp = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, false);
  if (timestamp > MAX_COSIGNATURE_TIME) throw new CheckpointError('COSIGNATURE_MALFORMED', 'timestamp exceeds 2^63 - 1');
  return { timestamp, signature: bytes.slice(8) };
}
