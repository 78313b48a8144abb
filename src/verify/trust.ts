// Trust: which Ed25519 keys the verifier accepts for receipts and checkpoint notes.
// Trusted keys come from the caller (`trusted_keys`); a bundle's own `keys` section is trusted only when the
// caller explicitly asks for it (the CLI without --trust), and the report then says so.
import { bytesToHex, hexToBytes } from '../protocol/bytes.js';
import { sha256 } from '../protocol/hash.js';
import { ED25519_TYPE, encodeVerifierKey, parseVerifierKey, type VerifierKey } from '../protocol/note.js';
import { isPolicyTime } from '../protocol/policy.js';
import type { CheckScope } from './report.js';
import { isHex32, isObj, own, show, typeName } from './shape.js';
import { detectKind, isVerifyRequest, UNKNOWN_KIND } from './kind.js';

/** A trusted key as the API lists it (GET /v2/keys entries carry more members; they are ignored). */
export interface TrustedKey {
  kid: string;
  alg: 'Ed25519';
  /** 32-byte Ed25519 public key, 64 lowercase hex digits. */
  public_key: string;
  /** The key's receipt window as GET /v2/keys lists it (RFC 3339 UTC, inclusive); absent or null: unbounded. */
  valid_from?: string | null;
  valid_until?: string | null;
}

/** A receipt window in ms since the epoch, both ends inclusive. */
export interface KeyWindow {
  from: number;
  until: number;
}

export interface TrustSet {
  /** kid → 32-byte public key. */
  byKid: Map<string, Uint8Array>;
  /** Every distinct trusted public key (checkpoint notes are matched by key, not kid). */
  publicKeys: Uint8Array[];
  /**
   * When set (a trust policy was given), the public keys trusted for checkpoints of one origin; otherwise every key in
   * `publicKeys` is trusted for every origin.
   */
  noteKeysFor?: (origin: string) => Uint8Array[];
  /**
   * kid → the windows its receipts' received_at must fall in (any one of them). A kid absent here, or given once
   * without a window, is unbounded. Filled from the window members of trusted keys and policy log lines.
   */
  windows?: Map<string, KeyWindow[] | null>;
}

/** Why a receipt signed by `kid` at `receivedAt` is outside the key's window, or null when it is inside (or unbounded). */
export function windowProblem(trust: TrustSet, kid: string, receivedAt: string): string | null {
  const ws = trust.windows?.get(kid);
  if (!ws) return null;
  const t = Date.parse(receivedAt);
  if (Number.isFinite(t) && ws.some((w) => t >= w.from && t <= w.until)) return null;
  const shown = ws.map((w) => `${w.from === -Infinity ? '…' : new Date(w.from).toISOString()} to ${w.until === Infinity ? '…' : new Date(w.until).toISOString()}`).join(', ');
  return `received_at ${show(receivedAt)} is outside the validity window of key ${kid} (${shown}): a key may sign receipts only inside its window`;
}

/** Records one trusted entry's window for `kid`: no bounds makes the kid unbounded for good. */
function addWindow(set: TrustSet, kid: string, from: string | null | undefined, until: string | null | undefined): void {
  const windows = (set.windows ??= new Map());
  if (windows.has(kid) && windows.get(kid) === null) return;
  if (!from && !until) {
    windows.set(kid, null);
    return;
  }
  const w = { from: from ? Date.parse(from) : -Infinity, until: until ? Date.parse(until) : Infinity };
  windows.set(kid, [...(windows.get(kid) ?? []), w]);
}

/** Name of the check a report carries when the keys came from the bundle itself, not from the caller. */
export const BUNDLE_KEYS_TRUST_CHECK = 'trust: keys taken from the bundle itself';

/** kid = "ps-ed25519-" + hex(first 8 bytes of SHA-256(public key)) (docs/protocol.md §4). */
export const kidOf = (publicKey: Uint8Array): string => `ps-ed25519-${bytesToHex(sha256(publicKey).subarray(0, 8))}`;

export const emptyTrust = (): TrustSet => ({ byKid: new Map(), publicKeys: [] });

/** Why one key entry is unusable, or null when it is fine. */
export function keyEntryProblem(v: unknown): { member: string; message: string } | null {
  if (!isObj(v)) return { member: '', message: `must be an object {kid, alg, public_key}, got ${typeName(v)}` };
  const kid = own(v, 'kid');
  if (typeof kid !== 'string' || kid.length === 0) return { member: 'kid', message: `kid must be a non-empty string, got ${show(kid)}` };
  const alg = own(v, 'alg');
  if (alg !== 'Ed25519') return { member: 'alg', message: `alg must be "Ed25519", got ${show(alg)}` };
  const pk = own(v, 'public_key');
  if (!isHex32(pk)) return { member: 'public_key', message: `public_key must be 64 lowercase hex digits (32 bytes), got ${show(pk)}` };
  for (const m of ['valid_from', 'valid_until'] as const) {
    const t = own(v, m);
    if (t !== undefined && t !== null && (typeof t !== 'string' || !isPolicyTime(t))) {
      return { member: m, message: `${m} must be null or an RFC 3339 UTC time like 2026-01-31T12:00:00.000Z, got ${show(t)}` };
    }
  }
  return null;
}

/**
 * Adds well-formed entries of `list` to a trust set. Bad entries are reported to `c` at `pathOf(i, member)`
 * and skipped; with `checkKid`, an entry whose kid is not derived from its key is reported too (the
 * ledger's kids always are, so a mismatch in a bundle means the section was edited).
 */
export function addKeys(
  set: TrustSet,
  list: unknown,
  c: CheckScope,
  pathOf: (i: number, member: string) => string,
  opts: { checkKid?: boolean; what: string },
): void {
  if (!Array.isArray(list)) {
    c.fail('MALFORMED', pathOf(-1, ''), `${opts.what} must be an array of {kid, alg, public_key}, got ${typeName(list)}`);
    return;
  }
  const seen = new Set(set.publicKeys.map(bytesToHex));
  for (let i = 0; i < list.length; i++) {
    const e = list[i];
    const bad = keyEntryProblem(e);
    if (bad) {
      c.fail('MALFORMED', pathOf(i, bad.member), `${opts.what}[${i}]: ${bad.message}`);
      continue;
    }
    const o = e as { kid: string; public_key: string; valid_from?: string | null; valid_until?: string | null };
    const pub = hexToBytes(o.public_key);
    if (opts.checkKid && o.kid !== kidOf(pub)) {
      c.fail('MALFORMED', pathOf(i, 'kid'), `${opts.what}[${i}]: kid ${show(o.kid)} is not derived from its public key (expected ${kidOf(pub)})`);
      continue;
    }
    const prev = set.byKid.get(o.kid);
    if (prev && bytesToHex(prev) !== o.public_key) {
      c.fail('MALFORMED', pathOf(i, 'kid'), `${opts.what}[${i}]: two different keys share kid ${show(o.kid)}`);
      continue;
    }
    set.byKid.set(o.kid, pub);
    addWindow(set, o.kid, own(o, 'valid_from') as string | null | undefined, own(o, 'valid_until') as string | null | undefined);
    if (!seen.has(o.public_key)) {
      seen.add(o.public_key);
      set.publicKeys.push(pub);
    }
  }
}

/**
 * The note verifier keys of every trusted key for a checkpoint origin: encodeVerifierKey(origin, key),
 * parsed. Throws (NoteError) when the origin cannot be a key name; callers report that.
 */
export function noteVerifierKeys(trust: TrustSet, origin: string): { vkeys: VerifierKey[]; encoded: string[] } {
  const encoded = (trust.noteKeysFor?.(origin) ?? trust.publicKeys).map((pk) => encodeVerifierKey(origin, pk, ED25519_TYPE));
  return { vkeys: encoded.map(parseVerifierKey), encoded };
}

/**
 * Reads a keys file for the CLI's --trust: an array of keys, the GET /v2/keys response `{keys:[…]}`, or
 * `{trusted_keys:[…]}`. Returns the normalized keys or a message saying what is wrong.
 *
 * Refused (`selfTrust`): a value that is itself something to verify — a bundle, a v1 proof (both carry a `keys`
 * member), any object detectKind recognizes. Keys read out of evidence are the evidence's claim about its own
 * signer; trusting them proves only that the object agrees with itself. (A POST /v2/verify body is read for its
 * `trusted_keys`, which are its author's, as before.)
 */
export function trustedKeysFromJson(v: unknown): { keys: TrustedKey[] } | { error: string; selfTrust?: true } {
  if (isObj(v) && !isVerifyRequest(v) && detectKind({ object: v }) !== UNKNOWN_KIND) {
    return {
      selfTrust: true,
      error: `this is a ${detectKind({ object: v })} object, not a keys file: keys taken out of evidence only show that the evidence agrees with itself; use the ledger's GET /v2/keys response`,
    };
  }
  let list: unknown = v;
  if (isObj(v)) {
    if (Array.isArray(own(v, 'keys'))) list = own(v, 'keys');
    else if (Array.isArray(own(v, 'trusted_keys'))) list = own(v, 'trusted_keys');
  }
  if (!Array.isArray(list)) return { error: 'expected an array of {kid, alg, public_key}, or {"keys": [...]} as GET /v2/keys answers' };
  const keys: TrustedKey[] = [];
  for (let i = 0; i < list.length; i++) {
    const bad = keyEntryProblem(list[i]);
    if (bad) return { error: `key ${i}: ${bad.message}` };
    const o = list[i] as TrustedKey;
    const from = own(list[i] as Record<string, unknown>, 'valid_from') as string | null | undefined;
    const until = own(list[i] as Record<string, unknown>, 'valid_until') as string | null | undefined;
    keys.push({ kid: o.kid, alg: 'Ed25519', public_key: o.public_key, ...(from ? { valid_from: from } : {}), ...(until ? { valid_until: until } : {}) });
  }
  return { keys };
}
