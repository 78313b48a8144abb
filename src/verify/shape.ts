// Reading untrusted JSON: typed accessors that report MALFORMED (with a JSON pointer) instead of throwing.
// Only own properties are ever read, so "constructor" or "__proto__" never resolve to inherited values.
import { ptr, type CheckScope } from './report.js';

export type Obj = Record<string, unknown>;

export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
export const has = (o: Obj, k: string): boolean => Object.hasOwn(o, k);
export const own = (o: Obj, k: string): unknown => (Object.hasOwn(o, k) ? o[k] : undefined);

/** 1 for the code units of lowercase hex digits. */
const HEX_DIGIT: Uint8Array = (() => {
  const t = new Uint8Array(128);
  for (const ch of '0123456789abcdef') t[ch.charCodeAt(0)] = 1;
  return t;
})();

/** `s` is exactly `len` lowercase hex digits (a loop over a table: about twice as fast as the regex here). */
function isHexOfLength(s: unknown, len: number): s is string {
  if (typeof s !== 'string' || s.length !== len) return false;
  for (let i = 0; i < len; i++) {
    const c = s.charCodeAt(i);
    if (c > 127 || HEX_DIGIT[c] === 0) return false;
  }
  return true;
}

/** 64 lowercase hex digits (32 bytes): the same test as isHex32 of src/protocol/bytes.ts. */
export const isHex32 = (s: unknown): s is string => isHexOfLength(s, 64);
/** 128 lowercase hex digits (a 64-byte signature). */
export const isSigHex = (s: unknown): s is string => isHexOfLength(s, 128);

/** JSON type name for messages. */
export function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

/** Short, safe rendering of a value for a message. */
export function show(v: unknown): string {
  let s: string;
  try {
    s = typeof v === 'string' ? JSON.stringify(v) : (JSON.stringify(v) ?? String(v));
  } catch {
    s = typeName(v);
  }
  return s.length > 80 ? `${s.slice(0, 77)}…` : s;
}

/**
 * Field reader bound to one object, its pointer and the check MALFORMED problems go to. Every getter
 * returns undefined (after reporting) when the member is missing or of the wrong type.
 */
export class Fields {
  constructor(
    readonly o: Obj,
    readonly path: string,
    readonly c: CheckScope,
  ) {}

  has(k: string): boolean {
    return has(this.o, k);
  }

  at(k: string): string {
    return ptr(this.path, k);
  }

  raw(k: string): unknown {
    return own(this.o, k);
  }

  private missing(k: string, what: string): undefined {
    this.c.fail('MALFORMED', this.at(k), `missing member "${k}" (${what})`);
    return undefined;
  }

  private wrong(k: string, what: string, v: unknown): undefined {
    this.c.fail('MALFORMED', this.at(k), `"${k}" must be ${what}, got ${show(v)}`);
    return undefined;
  }

  str(k: string, opt: { optional?: boolean; nonEmpty?: boolean } = {}): string | undefined {
    if (!this.has(k)) return opt.optional ? undefined : this.missing(k, 'a string');
    const v = this.o[k];
    if (typeof v !== 'string' || (opt.nonEmpty && v.length === 0)) return this.wrong(k, opt.nonEmpty ? 'a non-empty string' : 'a string', v);
    return v;
  }

  /** A string or null; undefined when missing/invalid (then `ok` is false). */
  strOrNull(k: string, opt: { optional?: boolean } = {}): { ok: boolean; value: string | null } {
    if (!this.has(k)) {
      if (!opt.optional) this.missing(k, 'a string or null');
      return { ok: !!opt.optional, value: null };
    }
    const v = this.o[k];
    if (v === null || typeof v === 'string') return { ok: true, value: v };
    this.wrong(k, 'a string or null', v);
    return { ok: false, value: null };
  }

  hex32(k: string, opt: { optional?: boolean } = {}): string | undefined {
    if (!this.has(k)) return opt.optional ? undefined : this.missing(k, '64 lowercase hex digits');
    const v = this.o[k];
    if (!isHex32(v)) return this.wrong(k, '64 lowercase hex digits', v);
    return v;
  }

  /** 64-hex or null. */
  hex32OrNull(k: string): { ok: boolean; value: string | null } {
    if (!this.has(k)) {
      this.missing(k, '64 lowercase hex digits or null');
      return { ok: false, value: null };
    }
    const v = this.o[k];
    if (v === null || isHex32(v)) return { ok: true, value: v };
    this.wrong(k, '64 lowercase hex digits or null', v);
    return { ok: false, value: null };
  }

  int(k: string, min: number, opt: { optional?: boolean } = {}): number | undefined {
    if (!this.has(k)) return opt.optional ? undefined : this.missing(k, `an integer ≥ ${min}`);
    const v = this.o[k];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) return this.wrong(k, `an integer ≥ ${min}`, v);
    return v;
  }

  obj(k: string, opt: { optional?: boolean } = {}): Obj | undefined {
    if (!this.has(k)) return opt.optional ? undefined : this.missing(k, 'an object');
    const v = this.o[k];
    if (!isObj(v)) return this.wrong(k, 'an object', v);
    return v;
  }

  arr(k: string, opt: { optional?: boolean } = {}): unknown[] | undefined {
    if (!this.has(k)) return opt.optional ? undefined : this.missing(k, 'an array');
    const v = this.o[k];
    if (!Array.isArray(v)) return this.wrong(k, 'an array', v);
    return v;
  }

  /** An array of 64-hex strings; undefined (after reporting each bad element) when any element is bad. */
  hexList(k: string, opt: { max?: number } = {}): string[] | undefined {
    const a = this.arr(k);
    if (!a) return undefined;
    let ok = true;
    if (opt.max !== undefined && a.length > opt.max) {
      this.c.fail('MALFORMED', this.at(k), `"${k}" has ${a.length} hashes; at most ${opt.max} are possible`);
      return undefined;
    }
    for (let i = 0; i < a.length; i++) {
      if (!isHex32(a[i])) {
        this.c.fail('MALFORMED', ptr(this.path, k, i), `must be 64 lowercase hex digits, got ${show(a[i])}`);
        ok = false;
      }
    }
    return ok ? (a as string[]) : undefined;
  }

  literal<T extends string>(k: string, expected: T): T | undefined {
    if (!this.has(k)) return this.missing(k, JSON.stringify(expected));
    const v = this.o[k];
    if (v !== expected) return this.wrong(k, JSON.stringify(expected), v);
    return expected;
  }

  /** Reports members not in `allowed` (for sections whose every member is specified). */
  onlyKeys(allowed: readonly string[]): boolean {
    const set = new Set(allowed);
    let ok = true;
    for (const k of Object.keys(this.o)) {
      if (!set.has(k)) {
        this.c.fail('MALFORMED', this.at(k), `unknown member "${k}"`);
        ok = false;
      }
    }
    return ok;
  }
}

/** Reads `v` as an object, reporting MALFORMED at `path` if it is not one. */
export function asObj(v: unknown, path: string, c: CheckScope, what = 'an object'): Obj | undefined {
  if (isObj(v)) return v;
  c.fail('MALFORMED', path, v === undefined ? `missing (${what})` : `must be ${what}, got ${typeName(v)}`);
  return undefined;
}
