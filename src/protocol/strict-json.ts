// Strict JSON: parse only what RFC 8785 JCS represents exactly, so a value accepted once can be canonicalized,
// hashed, served, exported and verified forever, and reads back as the caller sent it. JSON.parse alone accepts
// more: unbounded nesting (which later overflows every recursive reader), lone surrogates (which JCS refuses),
// numbers a double cannot hold (9007199254740993 silently becomes …992), duplicate keys (the last one silently
// wins) and `__proto__` keys (dropped by object spreads and by zod). Pure and browser-safe.
//
// Cost, for the append hot path: one linear pass over the text (nesting depth, `\u` escapes, number literals,
// member count) before JSON.parse, then one walk of the parsed value (key count, `__proto__`). Paths are only built
// when something is refused, by a slower second look that names the place as a JSON pointer.

export type StrictJsonReason =
  | 'invalid_utf8'
  | 'syntax'
  | 'too_deep'
  | 'lone_surrogate'
  | 'inexact_number'
  | 'unsafe_integer'
  | 'duplicate_key'
  | 'proto_key';

export class StrictJsonError extends Error {
  constructor(
    readonly reason: StrictJsonReason,
    message: string,
    /** JSON pointer of the offending value or member ("" is the whole document); null when it cannot be named */
    readonly path: string | null,
    /** offset in the text (UTF-16 code units; bytes for invalid_utf8) where the problem is, when known */
    readonly offset: number | null = null,
  ) {
    super(message);
  }
}

const fatalDecoder = new TextDecoder('utf-8', { fatal: true });
const lossyDecoder = new TextDecoder('utf-8');

/**
 * UTF-8 bytes to text, refusing invalid sequences instead of replacing them with U+FFFD (which would commit
 * something other than what was sent). A leading BOM is dropped, as before. The error names the byte offset and,
 * where the text around it is JSON, the pointer of the value holding it.
 */
export function decodeUtf8Strict(bytes: Uint8Array): string {
  try {
    return fatalDecoder.decode(bytes);
  } catch {
    const at = firstInvalidUtf8(bytes);
    // The pointer of the value holding the bad byte: locate it in the text decoded up to there (valid by construction).
    const before = lossyDecoder.decode(bytes.subarray(0, at));
    throw new StrictJsonError('invalid_utf8', `not valid UTF-8 (byte ${at})`, pointerAt(before, before.length), at);
  }
}

/** Offset of the first byte that does not start or continue a well-formed UTF-8 sequence (RFC 3629 §4). */
function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  const n = b.length;
  while (i < n) {
    const c = b[i]!;
    if (c < 0x80) {
      i++;
      continue;
    }
    let len: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) len = 2;
    else if (c >= 0xe0 && c <= 0xef) {
      len = 3;
      if (c === 0xe0) lo = 0xa0;
      else if (c === 0xed) hi = 0x9f; // U+D800..DFFF (surrogates) are not encodable
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4;
      if (c === 0xf0) lo = 0x90;
      else if (c === 0xf4) hi = 0x8f;
    } else return i;
    for (let k = 1; k < len; k++) {
      const d = b[i + k];
      if (d === undefined || d < (k === 1 ? lo : 0x80) || d > (k === 1 ? hi : 0xbf)) return i;
    }
    i += len;
  }
  return n;
}

/** Default nesting limit of payloads and metadata (PROOFSTREAM_MAX_JSON_DEPTH), and the most it may be raised to. */
export const MAX_JSON_DEPTH_DEFAULT = 64;
export const MAX_JSON_DEPTH_CEILING = 256;

export interface StrictJsonLimits {
  /** deepest nesting of arrays and objects in the whole text (a scalar is depth 0, `[]` depth 1) */
  maxDepth: number;
  /**
   * The text is known to hold no unpaired surrogate code unit, as text from decodeUtf8Strict cannot: the check for
   * raw ones (isWellFormed, slow in Node 20: as long as JSON.parse on ASCII) is skipped. Escapes are checked anyway.
   */
  wellFormed?: boolean;
}

/**
 * JSON.parse, refusing what JCS cannot carry exactly. Throws StrictJsonError: `syntax` and `too_deep` (checked on
 * the text before anything is built), `lone_surrogate`, `inexact_number`, `unsafe_integer`, `duplicate_key`,
 * `proto_key`. `info.depth`, when given, is set to the nesting depth of the text.
 */
export function parseStrictJson(text: string, limits: StrictJsonLimits, info?: { depth: number }): unknown {
  const scan = scanText(text, limits.maxDepth, limits.wellFormed === true || text.isWellFormed());
  if (info) info.depth = scan.maxDepth;
  if (scan.tooDeepAt >= 0) {
    throw new StrictJsonError(
      'too_deep',
      `JSON nests deeper than ${limits.maxDepth} levels`,
      pointerAt(text, scan.tooDeepAt),
      scan.tooDeepAt,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    const m = /position (\d+)/.exec((e as Error).message);
    const offset = m ? Number(m[1]) : null;
    throw new StrictJsonError('syntax', `not valid JSON: ${(e as Error).message}`, offset === null ? null : pointerAt(text, offset), offset);
  }
  // Only now that the text is known to be JSON do its semantic problems count (a syntax error is the answer first).
  if (scan.problemAt >= 0) {
    const at = scan.problemAt;
    const literal = () => text.slice(at, numberEnd(text, at));
    const what =
      scan.problem === 'lone_surrogate'
        ? 'a string or key contains a lone surrogate, which UTF-8 and RFC 8785 cannot represent'
        : scan.problem === 'unsafe_integer'
          ? `the integer ${literal()} is beyond ±(2^53−1), which I-JSON readers cannot reproduce`
          : `the number ${literal()} has no exact IEEE 754 double: it would be stored and signed as ${String(Number(literal()))}`;
    throw new StrictJsonError(scan.problem!, what, pointerAt(text, at), at);
  }
  const walked = { keys: 0, proto: false };
  countKeys(value, walked);
  if (walked.proto || walked.keys !== scan.members) {
    // JSON.parse kept one member per key (the last) and made __proto__ an own property: find the first offender.
    const found = firstBadKey(text);
    if (found) {
      const dup = found.reason === 'duplicate_key';
      throw new StrictJsonError(
        found.reason,
        dup ? `duplicate key ${JSON.stringify(found.key)}: JSON.parse would silently keep only the last` : 'a "__proto__" key is not accepted',
        found.path,
        found.offset,
      );
    }
  }
  return value;
}

/** Depth of a parsed JSON value: scalars 0, each array or object one more than its deepest member. */
export function jsonDepth(v: unknown): number {
  if (typeof v !== 'object' || v === null) return 0;
  let d = 0;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const x = jsonDepth(v[i]);
      if (x > d) d = x;
    }
  } else {
    for (const k of Object.keys(v)) {
      const x = jsonDepth((v as Record<string, unknown>)[k]);
      if (x > d) d = x;
    }
  }
  return d + 1;
}

/** JSON pointer (relative to v) of the first array or object that opens level maxDepth + 1 inside v, or null. */
export function tooDeepPointer(v: unknown, maxDepth: number, path = ''): string | null {
  if (typeof v !== 'object' || v === null) return null;
  if (maxDepth === 0) return path;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const p = tooDeepPointer(v[i], maxDepth - 1, `${path}/${i}`);
      if (p !== null) return p;
    }
  } else {
    for (const k of Object.keys(v)) {
      const p = tooDeepPointer((v as Record<string, unknown>)[k], maxDepth - 1, `${path}/${escapePointer(k)}`);
      if (p !== null) return p;
    }
  }
  return null;
}

export const escapePointer = (k: string) => k.replace(/~/g, '~0').replace(/\//g, '~1');

// ---- the text pass ---------------------------------------------------------------------------------------------

interface Scan {
  /** offset of the bracket that opens level maxDepth + 1, or -1 */
  tooDeepAt: number;
  /** the deepest level the text reached (up to the first one past the limit) */
  maxDepth: number;
  /** the first semantic problem (reported only if the text parses) */
  problem: 'lone_surrogate' | 'inexact_number' | 'unsafe_integer' | null;
  problemAt: number;
  /** object members in the text (one `:` each outside strings), duplicates included */
  members: number;
}

/** The value of the 4 hex digits at i, or -1. */
function hex4(text: string, i: number): number {
  if (i + 4 > text.length) return -1;
  let v = 0;
  for (let k = 0; k < 4; k++) {
    const c = text.charCodeAt(i + k);
    const lower = c | 0x20;
    if (c >= 0x30 && c <= 0x39) v = v * 16 + (c - 0x30);
    else if (lower >= 0x61 && lower <= 0x66) v = v * 16 + (lower - 0x57);
    else return -1;
  }
  return v;
}

/**
 * One pass over the characters. It does not validate syntax (JSON.parse does, right after): on valid JSON it is
 * exact, on anything else it only has to terminate.
 */
function scanText(text: string, maxDepth: number, rawOk: boolean): Scan {
  const r: Scan = { tooDeepAt: -1, maxDepth: 0, problem: null, problemAt: -1, members: 0 };
  const n = text.length;
  // Strings are skipped with indexOf (native) unless a backslash lies before their closing quote.
  let nextEscape = text.indexOf('\\');
  if (nextEscape < 0) nextEscape = n;
  let depth = 0;
  for (let i = 0; i < n; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 0x22 /* " */) {
      const start = i;
      const close = text.indexOf('"', i + 1);
      if (close >= 0 && close < nextEscape && rawOk) {
        i = close;
        continue;
      }
      for (i++; i < n; i++) {
        const s = text.charCodeAt(i);
        if (s === 0x22) break;
        if (s === 0x5c /* \ */) {
          i++;
          if (text.charCodeAt(i) === 0x75 /* u */) {
            const u = hex4(text, i + 1);
            if (u >= 0xd800 && u <= 0xdfff) {
              // A high surrogate escape is whole only with a low surrogate escape right after it.
              const pairOk =
                u <= 0xdbff && text.charCodeAt(i + 5) === 0x5c && text.charCodeAt(i + 6) === 0x75 && (hex4(text, i + 7) & 0xfc00) === 0xdc00;
              if (!pairOk) {
                if (r.problemAt < 0) {
                  r.problem = 'lone_surrogate';
                  r.problemAt = start;
                }
              } else i += 6;
            }
            if (u >= 0) i += 4;
          }
        } else if (!rawOk && s >= 0xd800 && s <= 0xdfff) {
          const pairOk = s <= 0xdbff && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00;
          if (!pairOk && r.problemAt < 0) {
            r.problem = 'lone_surrogate';
            r.problemAt = start;
          }
          if (pairOk) i++;
        }
      }
      nextEscape = text.indexOf('\\', i + 1);
      if (nextEscape < 0) nextEscape = n;
    } else if (ch === 0x5b /* [ */ || ch === 0x7b /* { */) {
      if (++depth > r.maxDepth) {
        r.maxDepth = depth;
        if (depth > maxDepth) {
          r.tooDeepAt = i;
          return r;
        }
      }
    } else if (ch === 0x5d /* ] */ || ch === 0x7d /* } */) {
      depth--;
    } else if (ch === 0x3a /* : */) {
      r.members++;
    } else if (ch === 0x2d /* - */ || (ch >= 0x30 && ch <= 0x39)) {
      const end = numberEnd(text, i);
      if (r.problemAt < 0) {
        const p = numberProblem(text, i, end);
        if (p !== null) {
          r.problem = p;
          r.problemAt = i;
        }
      }
      i = end - 1;
    }
  }
  return r;
}

/** End of the number-like run starting at i (digits, sign, point, exponent). */
function numberEnd(text: string, i: number): number {
  const n = text.length;
  let j = i + 1;
  for (; j < n; j++) {
    const c = text.charCodeAt(j);
    if (!((c >= 0x30 && c <= 0x39) || c === 0x2e || c === 0x65 || c === 0x45 || c === 0x2b || c === 0x2d)) break;
  }
  return j;
}

/**
 * Null when the literal text[i, end) denotes exactly the decimal value of the double JCS writes for it (ECMAScript
 * Number::toString), so that what is signed and served is the number that was sent (-0 counts as 0: JCS writes 0);
 * and, when that value is an integer, it is within ±(2^53−1), the integers every I-JSON reader (RFC 7493 §2.2)
 * reproduces — the ledger's policy for payloads since the first version.
 */
function numberProblem(text: string, i: number, end: number): 'inexact_number' | 'unsafe_integer' | null {
  // Integers of at most 15 digits are safe, exact doubles whose shortest form is the literal itself (leading
  // zeros aside, which JSON forbids): the common case, decided without building a string.
  const len = end - i;
  if (len <= 15) {
    let plain = true;
    for (let k = text.charCodeAt(i) === 0x2d ? i + 1 : i; k < end; k++) {
      const c = text.charCodeAt(k);
      if (c < 0x30 || c > 0x39) {
        plain = false;
        break;
      }
    }
    if (plain) return null;
  }
  const literal = text.slice(i, end);
  const n = Number(literal);
  // NaN here means not a number at all: JSON.parse refuses it first
  if (!Number.isFinite(n)) return 'inexact_number';
  const written = Object.is(n, -0) ? '0' : String(n);
  if (written !== literal && decimalKey(literal) !== decimalKey(written)) return 'inexact_number';
  return Number.isInteger(n) && !Number.isSafeInteger(n) ? 'unsafe_integer' : null;
}

/**
 * A decimal literal (JSON number grammar, or ECMAScript's output) as sign, significant digits and the exponent of
 * 0.d1d2…: equal keys, equal values.
 */
function decimalKey(s: string): string {
  let k = 0;
  const neg = s.charCodeAt(0) === 0x2d;
  if (neg) k = 1;
  const e = s.search(/[eE]/);
  const mantissa = s.slice(k, e < 0 ? s.length : e);
  const exp = e < 0 ? 0 : Number(s.slice(e + 1));
  const dot = mantissa.indexOf('.');
  const intPart = dot < 0 ? mantissa : mantissa.slice(0, dot);
  const digits = dot < 0 ? mantissa : intPart + mantissa.slice(dot + 1);
  let lead = 0;
  while (lead < digits.length && digits.charCodeAt(lead) === 0x30) lead++;
  if (lead === digits.length) return '0';
  let tail = digits.length;
  while (digits.charCodeAt(tail - 1) === 0x30) tail--;
  return `${neg ? '-' : ''}${digits.slice(lead, tail)}e${intPart.length - lead + exp}`;
}

// ---- the value walk --------------------------------------------------------------------------------------------

function countKeys(v: unknown, acc: { keys: number; proto: boolean }): void {
  if (typeof v !== 'object' || v === null) return;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) countKeys(v[i], acc);
    return;
  }
  // for-in rather than Object.keys: no array per object. JSON.parse objects inherit no enumerable keys (should
  // Object.prototype be polluted, the count only goes up, and firstBadKey then finds nothing to refuse).
  for (const k in v) {
    acc.keys++;
    countKeys((v as Record<string, unknown>)[k], acc);
  }
  // JSON.parse defines __proto__ as an own data property (it does not set the prototype).
  if (Object.hasOwn(v, '__proto__')) acc.proto = true;
}

// ---- naming the place (only when something is refused) ----------------------------------------------------------

interface Frame {
  array: boolean;
  /** array: index of the current element; object: unused */
  index: number;
  /** object: the current member's key (null before its key is read) */
  key: string | null;
  /** object: keys seen so far (only when looking for duplicates) */
  seen: Set<string> | null;
}

const pointerOf = (stack: Frame[]) =>
  stack.map((f) => (f.array ? `/${f.index}` : f.key === null ? '' : `/${escapePointer(f.key)}`)).join('');

function decodeKey(raw: string): string {
  try {
    return JSON.parse(raw) as string;
  } catch {
    return raw.slice(1, -1);
  }
}

/**
 * A tokenizer over (valid or truncated) JSON text that keeps the path to the current value. With `offset`, the
 * pointer of the value or member at that offset; with `keys`, the first duplicate or __proto__ key.
 */
function tokenize(
  text: string,
  offset: number,
  keys: boolean,
): { path: string | null; offset: number; key?: string; reason?: 'duplicate_key' | 'proto_key' } | null {
  const stack: Frame[] = [];
  const n = text.length;
  let expectKey = false;
  for (let i = 0; i < n; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 0x22) {
      const start = i;
      for (i++; i < n; i++) {
        const s = text.charCodeAt(i);
        if (s === 0x5c) i++;
        else if (s === 0x22) break;
      }
      const top = stack[stack.length - 1];
      if (expectKey && top && !top.array) {
        const key = decodeKey(text.slice(start, i + 1));
        top.key = key;
        expectKey = false;
        if (keys) {
          if (key === '__proto__') return { path: pointerOf(stack), offset: start, key, reason: 'proto_key' };
          if (top.seen!.has(key)) return { path: pointerOf(stack), offset: start, key, reason: 'duplicate_key' };
          top.seen!.add(key);
        }
      }
      if (!keys && offset <= i) return { path: pointerOf(stack), offset: start };
      continue;
    }
    if (!keys && i >= offset && ch !== 0x2c && ch !== 0x3a && ch !== 0x20 && ch !== 0x0a && ch !== 0x0d && ch !== 0x09) {
      return { path: pointerOf(stack), offset: i };
    }
    // Text not yet checked for depth (the prefix before invalid UTF-8) may nest without bound: no pointer then.
    if ((ch === 0x5b || ch === 0x7b) && stack.length >= MAX_POINTER_DEPTH) return { path: null, offset: i };
    if (ch === 0x5b) {
      stack.push({ array: true, index: 0, key: null, seen: null });
      expectKey = false;
    } else if (ch === 0x7b) {
      stack.push({ array: false, index: 0, key: null, seen: keys ? new Set() : null });
      expectKey = true;
    } else if (ch === 0x5d || ch === 0x7d) {
      stack.pop();
      expectKey = false;
    } else if (ch === 0x2c) {
      const top = stack[stack.length - 1];
      if (top?.array) top.index++;
      else if (top) {
        top.key = null;
        expectKey = true;
      }
    }
  }
  return keys ? null : { path: pointerOf(stack), offset: n };
}

/** Pointers are not built through more containers than this (the text may not have been depth-checked yet). */
const MAX_POINTER_DEPTH = 1024;

/**
 * JSON pointer of the value (or member) at a text offset: the containers open there, with their current keys; null
 * past MAX_POINTER_DEPTH containers.
 */
export function pointerAt(text: string, offset: number): string | null {
  return tokenize(text, offset, false)!.path;
}

function firstBadKey(text: string) {
  const r = tokenize(text, 0, true);
  return r ? { path: r.path, offset: r.offset, key: r.key!, reason: r.reason! } : null;
}
