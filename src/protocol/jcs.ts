// RFC 8785 JSON Canonicalization Scheme. ECMAScript's Number->String and JSON string escaping are exactly
// what JCS specifies, so the work here is ordering keys by UTF-16 code units and refusing what I-JSON forbids.

export class CanonicalizationError extends Error {
  readonly code = 'NOT_CANONICALIZABLE';
  constructor(message: string, readonly path: string) {
    super(message);
  }
}

/** Canonical JSON text of a JSON value; throws CanonicalizationError on values JCS cannot represent. */
export function canonicalize(value: unknown): string {
  try {
    return fast(value);
  } catch (e) {
    if (e !== REFUSED) throw e;
  }
  // Refused: walk again with JSON-pointer paths to say exactly where (same checks, so it throws).
  const out: string[] = [];
  write(value, '', out);
  return out.join('');
}

/** Thrown by fast() where write() would throw a CanonicalizationError; write() then says where. */
const REFUSED = Symbol('refused');

/**
 * The same text as write(), built by concatenation and without tracking the JSON-pointer path of every value
 * (which cost a string per value and two regex replaces per key): paths are only needed for the error.
 */
function fast(v: unknown): string {
  switch (typeof v) {
    case 'string':
      if (!v.isWellFormed()) throw REFUSED;
      return JSON.stringify(v);
    case 'number':
      if (!Number.isFinite(v)) throw REFUSED;
      return Object.is(v, -0) ? '0' : String(v);
    case 'boolean':
      return v ? 'true' : 'false';
    case 'object': {
      if (v === null) return 'null';
      if (Array.isArray(v)) {
        let s = '[';
        for (let i = 0; i < v.length; i++) {
          if (i) s += ',';
          s += fast(v[i]);
        }
        return s + ']';
      }
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) throw REFUSED;
      const keys = Object.keys(v);
      const n = keys.length;
      if (n === 0) return '{}';
      const shape = shapeOf(keys);
      const sorted = shape.sorted;
      const open = shape.open;
      let s = '';
      for (let i = 0; i < n; i++) s += open[i]! + fast((v as Record<string, unknown>)[sorted[i]!]);
      return s + '}';
    }
    default:
      throw REFUSED;
  }
}

/**
 * The keys of an object in JCS order, each with the text that opens its member: `{"key":` for the first,
 * `,"key":` for the others. Objects of one kind have the same own keys in the same order (every event of a
 * pack, every payload of one form), so sorting and quoting are done once per key list and looked up after.
 */
interface Shape {
  /** The key list as Object.keys gave it (the lookup key). */
  keys: string[];
  sorted: string[];
  open: string[];
}

/**
 * Shapes by key count (1..MAX_SHAPE_KEYS), at most SHAPES_PER_COUNT each, replaced round-robin; key lists of more
 * than MAX_SHAPE_CHARS characters in all are not kept (the cache stays small whatever the input).
 */
const MAX_SHAPE_KEYS = 64;
const MAX_SHAPE_CHARS = 2048;
const SHAPES_PER_COUNT = 8;
const shapes: { list: Shape[]; next: number }[] = [];

function shapeOf(keys: string[]): Shape {
  const n = keys.length;
  const bucket = n <= MAX_SHAPE_KEYS ? (shapes[n] ??= { list: [], next: 0 }) : null;
  if (bucket) {
    const list = bucket.list;
    for (let s = 0; s < list.length; s++) {
      const k = list[s]!.keys;
      let i = 0;
      while (i < n && k[i] === keys[i]) i++;
      if (i === n) return list[s]!;
    }
  }
  // Default sort compares UTF-16 code units, which is the order RFC 8785 §3.2.3 requires.
  const sorted = keys.slice().sort();
  const open = new Array<string>(n);
  let chars = 0;
  for (let i = 0; i < n; i++) {
    const k = sorted[i]!;
    if (!k.isWellFormed()) throw REFUSED;
    open[i] = (i ? ',' : '{') + JSON.stringify(k) + ':';
    chars += k.length;
  }
  const shape: Shape = { keys, sorted, open };
  if (bucket && chars <= MAX_SHAPE_CHARS) {
    if (bucket.list.length < SHAPES_PER_COUNT) bucket.list.push(shape);
    else bucket.list[bucket.next++ % SHAPES_PER_COUNT] = shape;
  }
  return shape;
}

const encoder = new TextEncoder();
export const canonicalBytes = (value: unknown): Uint8Array => encoder.encode(canonicalize(value));

function write(v: unknown, path: string, out: string[]): void {
  switch (typeof v) {
    case 'string':
      if (!v.isWellFormed()) throw new CanonicalizationError('string contains a lone surrogate', path);
      out.push(JSON.stringify(v));
      return;
    case 'number':
      if (!Number.isFinite(v)) throw new CanonicalizationError('number is not finite', path);
      out.push(Object.is(v, -0) ? '0' : String(v));
      return;
    case 'boolean':
      out.push(v ? 'true' : 'false');
      return;
    case 'object':
      if (v === null) {
        out.push('null');
      } else if (Array.isArray(v)) {
        out.push('[');
        for (let i = 0; i < v.length; i++) {
          if (i) out.push(',');
          write(v[i], `${path}/${i}`, out);
        }
        out.push(']');
      } else {
        const proto = Object.getPrototypeOf(v);
        if (proto !== Object.prototype && proto !== null) {
          throw new CanonicalizationError('not a plain JSON object', path);
        }
        // Default sort compares UTF-16 code units, which is the order RFC 8785 §3.2.3 requires.
        const keys = Object.keys(v).sort();
        out.push('{');
        for (let i = 0; i < keys.length; i++) {
          const k = keys[i]!;
          if (!k.isWellFormed()) throw new CanonicalizationError('key contains a lone surrogate', path);
          if (i) out.push(',');
          out.push(JSON.stringify(k), ':');
          write((v as Record<string, unknown>)[k], `${path}/${escapePointer(k)}`, out);
        }
        out.push('}');
      }
      return;
    default:
      throw new CanonicalizationError(`${typeof v} is not a JSON value`, path);
  }
}

const escapePointer = (k: string) => k.replace(/~/g, '~0').replace(/\//g, '~1');

/**
 * Ingestion policy on top of JCS: integers beyond ±(2^53−1) cannot round-trip through I-JSON parsers, so a
 * ledger that commits to them would commit to something other readers see differently. Returns the JSON
 * pointer of the first offending value, or null.
 */
export function findUnsafeNumber(v: unknown, path = ''): string | null {
  // Nearly every value is fine: scan without building paths first, and only walk with them to name the culprit.
  return hasUnsafeNumber(v) ? findUnsafeNumberAt(v, path) : null;
}

const isUnsafeNumber = (v: number) => !Number.isFinite(v) || (Number.isInteger(v) && !Number.isSafeInteger(v));

function hasUnsafeNumber(v: unknown): boolean {
  if (typeof v === 'number') return isUnsafeNumber(v);
  if (v && typeof v === 'object') {
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) if (hasUnsafeNumber(v[i])) return true;
    } else {
      for (const k of Object.keys(v)) if (hasUnsafeNumber((v as Record<string, unknown>)[k])) return true;
    }
  }
  return false;
}

function findUnsafeNumberAt(v: unknown, path: string): string | null {
  if (typeof v === 'number') {
    return !Number.isFinite(v) || (Number.isInteger(v) && !Number.isSafeInteger(v)) ? path : null;
  }
  if (v && typeof v === 'object') {
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const p = findUnsafeNumberAt(v[i], `${path}/${i}`);
        if (p !== null) return p;
      }
    } else {
      for (const k of Object.keys(v)) {
        const p = findUnsafeNumberAt((v as Record<string, unknown>)[k], `${path}/${escapePointer(k)}`);
        if (p !== null) return p;
      }
    }
  }
  return null;
}
