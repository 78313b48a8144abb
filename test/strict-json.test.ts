// protocol/strict-json: what it accepts is exactly what JSON.parse builds and RFC 8785 JCS writes back unchanged;
// what it refuses is named by reason and JSON pointer.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalize } from '../src/protocol/jcs.js';
import { decodeUtf8Strict, parseStrictJson, StrictJsonError } from '../src/protocol/strict-json.js';
import { sameDecimal } from './helpers/ingest.js';

const LIMITS = { maxDepth: 72 };

function refusal(text: string, maxDepth = 72): { reason: string; path: string | null } {
  try {
    parseStrictJson(text, { maxDepth });
  } catch (e) {
    expect(e).toBeInstanceOf(StrictJsonError);
    return { reason: (e as StrictJsonError).reason, path: (e as StrictJsonError).path };
  }
  throw new Error(`accepted: ${text}`);
}

describe('parseStrictJson refuses what would not be stored as sent', () => {
  it('nesting past the limit, before building anything, with the pointer of the container that goes too deep', () => {
    expect(refusal('{"a":[[1]]}', 2)).toEqual({ reason: 'too_deep', path: '/a/0' });
    expect(refusal('['.repeat(5000) + ']'.repeat(5000))).toEqual({ reason: 'too_deep', path: '/0'.repeat(72) });
    // unbalanced and huge: still refused on the text, in one pass
    expect(refusal('['.repeat(10_000_000)).reason).toBe('too_deep');
    expect(parseStrictJson('[[1]]', { maxDepth: 2 })).toEqual([[1]]);
  });

  it('lone surrogates, escaped or raw, in strings and in keys', () => {
    expect(refusal('{"a":"\\ud800"}')).toEqual({ reason: 'lone_surrogate', path: '/a' });
    expect(refusal('{"a":["x","\\uDC00"]}')).toEqual({ reason: 'lone_surrogate', path: '/a/1' });
    expect(refusal('{"a":"\\ud83d\\u0041"}')).toEqual({ reason: 'lone_surrogate', path: '/a' });
    expect(refusal('{"a":"\\ud83dx"}')).toEqual({ reason: 'lone_surrogate', path: '/a' });
    expect(refusal('{"k\\udbff":1}').reason).toBe('lone_surrogate');
    expect(refusal('["\ud800"]')).toEqual({ reason: 'lone_surrogate', path: '/0' });
    expect(parseStrictJson('"\\ud83d\\ude00\\\\ud800"', LIMITS)).toBe('😀\\ud800'); // an escaped backslash, not an escape
  });

  it('numbers whose double is not the number sent', () => {
    expect(refusal('{"n":9007199254740993}')).toEqual({ reason: 'inexact_number', path: '/n' });
    expect(refusal('[1.00000000000000000001]')).toEqual({ reason: 'inexact_number', path: '/0' });
    expect(refusal('[1e400]').reason).toBe('inexact_number');
    expect(refusal('[-1e400]').reason).toBe('inexact_number');
    expect(refusal('[1e-400]').reason).toBe('inexact_number');
    expect(refusal('[123456789012345678901234567890]').reason).toBe('inexact_number');
    // exact, but integers beyond ±(2^53−1) are not reproduced by every I-JSON reader
    expect(refusal('{"n":[9007199254740992]}')).toEqual({ reason: 'unsafe_integer', path: '/n/0' });
    expect(refusal('[-9007199254740992]').reason).toBe('unsafe_integer');
    expect(refusal('[1e21]').reason).toBe('unsafe_integer');
    expect(refusal('[1.7976931348623157e308]').reason).toBe('unsafe_integer');
    // the same values spelled otherwise are fine: what matters is the decimal value
    expect(parseStrictJson('[9007199254740991, -9.007199254740991e15, 1.0, 1E2, 100e-2, 0.10, -0, 5e-324, 1.5e-300, 0e999999999999]', LIMITS)).toEqual([
      9007199254740991, -9007199254740991, 1, 100, 1, 0.1, -0, 5e-324, 1.5e-300, 0,
    ]);
  });

  it('duplicate keys (also when spelled with escapes) and __proto__ keys', () => {
    expect(refusal('{"a":1,"b":{"c":2,"c":3}}')).toEqual({ reason: 'duplicate_key', path: '/b/c' });
    expect(refusal('{"a":{"x":[1]},"\\u0061":1}')).toEqual({ reason: 'duplicate_key', path: '/a' });
    expect(refusal('[{"__proto__":{"polluted":1}}]')).toEqual({ reason: 'proto_key', path: '/0/__proto__' });
    expect(refusal('{"\\u005f_proto__":1}')).toEqual({ reason: 'proto_key', path: '/__proto__' });
    expect(parseStrictJson('[{"a":1},{"a":2}]', LIMITS)).toEqual([{ a: 1 }, { a: 2 }]);
  });

  it('syntax errors stay syntax errors, even with other problems in the text', () => {
    expect(refusal('{"a":9007199254740993,}').reason).toBe('syntax');
    expect(refusal('{"a":"\\ud800"').reason).toBe('syntax');
  });
});

describe('decodeUtf8Strict', () => {
  it('refuses invalid UTF-8 instead of replacing it, naming the byte and the value', () => {
    const bad = (bytes: number[]) => {
      try {
        decodeUtf8Strict(Uint8Array.from(bytes));
      } catch (e) {
        return { reason: (e as StrictJsonError).reason, offset: (e as StrictJsonError).offset, path: (e as StrictJsonError).path };
      }
      throw new Error('accepted');
    };
    const enc = (s: string) => [...Buffer.from(s, 'latin1')];
    expect(bad(enc('{"a":"\xff"}'))).toEqual({ reason: 'invalid_utf8', offset: 6, path: '/a' });
    expect(bad(enc('{"a":[1,"\xed\xa0\x80"]}'))).toEqual({ reason: 'invalid_utf8', offset: 9, path: '/a/1' }); // CESU surrogate
    expect(bad(enc('["\xc0\xaf"]')).offset).toBe(2); // overlong
    expect(bad(enc('["\xe2\x82"]')).offset).toBe(2); // truncated
    // before any depth check: no pointer through 100,000 open arrays
    expect(bad(enc('['.repeat(100_000) + '"\xff"'))).toEqual({ reason: 'invalid_utf8', offset: 100_001, path: null });
    expect(decodeUtf8Strict(Buffer.from('["é😀"]'))).toBe('["é😀"]');
  });
});

/** JSON text of v with random but equivalent spellings: escapes for any character, other forms for numbers. */
const spelled = (v: unknown, rnd: () => number): string => {
  if (typeof v === 'number') {
    const s = String(v);
    if (rnd() < 0.3 && Number.isInteger(v) && Math.abs(v) < 1e15) return `${s}.000`;
    if (rnd() < 0.3) return v.toExponential().replace('e+', rnd() < 0.5 ? 'E' : 'e+');
    return s;
  }
  if (typeof v === 'string') {
    let out = '"';
    for (const ch of JSON.stringify(v).slice(1, -1).match(/\\u[0-9a-f]{4}|\\.|[^]/gu) ?? []) {
      if (ch.length === 1 && rnd() < 0.2) out += `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`;
      else if (ch.length === 2 && ch.charCodeAt(0) >= 0xd800 && rnd() < 0.5) {
        out += `\\u${ch.charCodeAt(0).toString(16)}\\u${ch.charCodeAt(1).toString(16).toUpperCase()}`;
      } else out += ch;
    }
    return out + '"';
  }
  if (Array.isArray(v)) return `[${v.map((x) => spelled(x, rnd)).join(' , ')}]`;
  if (v !== null && typeof v === 'object') {
    return `{${Object.entries(v)
      .map(([k, x]) => `${spelled(k, rnd)}:${spelled(x, rnd)}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
};

describe('parseStrictJson accepts every JSON value JCS writes back unchanged', () => {
  it('for any value (astral strings, any finite double but unsafe integers) in any spelling: the same value, the same JCS', () => {
    const value = fc
      .jsonValue({ maxDepth: 6, stringUnit: 'binary' })
      .filter((v) => JSON.stringify(v).indexOf('__proto__') < 0 && !hasUnsafeInteger(v));
    fc.assert(
      fc.property(value, fc.integer(), (v, seed) => {
        let s = seed >>> 0;
        const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
        const text = spelled(v, rnd);
        const parsed = parseStrictJson(text, LIMITS);
        expect(canonicalize(parsed)).toBe(canonicalize(v));
      }),
      { numRuns: 3000 },
    );
  });

  it('refuses exactly the strings and keys that are not well-formed UTF-16, escaped or raw, wherever they sit', () => {
    const unit = fc.oneof(
      fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
      fc.integer({ min: 0xd7f0, max: 0xe010 }).map((c) => String.fromCharCode(c)),
      fc.constantFrom('😀', 'é', '"', '\\'),
    );
    fc.assert(
      fc.property(fc.string({ unit, maxLength: 8 }), fc.string({ unit, maxLength: 8 }), (a, b) => {
        const ok = a.isWellFormed() && b.isWellFormed();
        const accepts = (text: string) => {
          try {
            parseStrictJson(text, LIMITS);
            return true;
          } catch (e) {
            expect((e as StrictJsonError).reason).toBe('lone_surrogate');
            return false;
          }
        };
        // JSON.stringify escapes lone surrogates as \udxxx; the raw form puts the code units in the text itself
        expect(accepts(JSON.stringify({ [a]: [b, a], x: b }))).toBe(ok);
        const raw = (s: string) => `"${s.replace(/["\\]/g, '')}"`;
        const rawOk = a.replace(/["\\]/g, '').isWellFormed() && b.replace(/["\\]/g, '').isWellFormed();
        expect(accepts(`{${raw(a)}:[${raw(b)}]}`)).toBe(rawOk);
      }),
      { numRuns: 3000 },
    );
  });

  it('refuses exactly the number literals whose decimal value is not that of the double JCS writes, or an unsafe integer', () => {
    const literal = fc
      .tuple(fc.boolean(), fc.stringMatching(/^(0|[1-9][0-9]{0,25})$/), fc.option(fc.stringMatching(/^[0-9]{1,25}$/)), fc.option(fc.integer({ min: -330, max: 330 })))
      .map(([neg, int, frac, exp]) => `${neg ? '-' : ''}${int}${frac === null ? '' : '.' + frac}${exp === null ? '' : 'e' + exp}`);
    fc.assert(
      fc.property(literal, (lit) => {
        const d = Number(lit);
        // exact decimal comparison through BigInt: value(lit) == value(shortest form of d), both scaled to integers
        const exact = Number.isFinite(d) && sameDecimal(lit, String(d));
        const safe = !Number.isInteger(d) || Number.isSafeInteger(d);
        let reason: string | null = null;
        try {
          parseStrictJson(`[${lit}]`, LIMITS);
        } catch (e) {
          reason = (e as StrictJsonError).reason;
        }
        expect(reason).toBe(!exact ? 'inexact_number' : !safe ? 'unsafe_integer' : null);
      }),
      { numRuns: 5000 },
    );
  });
});

function hasUnsafeInteger(v: unknown): boolean {
  if (typeof v === 'number') return Number.isInteger(v) && !Number.isSafeInteger(v);
  if (v !== null && typeof v === 'object') return Object.values(v).some(hasUnsafeInteger);
  return false;
}

