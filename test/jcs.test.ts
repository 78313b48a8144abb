// RFC 8785 (JCS): the cyberphone reference vectors in fixtures/jcs, plus everything our canonicalizer must
// refuse and the ingestion policy (findUnsafeNumber) layered on top of it.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bytesToHex } from '../src/protocol/bytes.js';
import { CanonicalizationError, canonicalBytes, canonicalize, findUnsafeNumber } from '../src/protocol/jcs.js';

const DIR = join(import.meta.dirname, '..', 'fixtures', 'jcs');
const names = readdirSync(join(DIR, 'input'))
  .filter((n) => n.endsWith('.json'))
  .map((n) => n.slice(0, -'.json'.length))
  .sort();

/** Throws unless fn throws a CanonicalizationError; returns it for further checks. */
function refusal(fn: () => unknown): CanonicalizationError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(CanonicalizationError);
    expect((e as CanonicalizationError).code).toBe('NOT_CANONICALIZABLE');
    return e as CanonicalizationError;
  }
  throw new Error('expected a CanonicalizationError, but canonicalize succeeded');
}

describe('RFC 8785 reference vectors (fixtures/jcs)', () => {
  it('finds all six vector pairs', () => {
    expect(names).toEqual(['arrays', 'french', 'structures', 'unicode', 'values', 'weird']);
  });

  for (const name of names) {
    it(`${name}: canonical bytes equal outhex/${name}.txt and output/${name}.json`, () => {
      const input = JSON.parse(readFileSync(join(DIR, 'input', `${name}.json`), 'utf8'));
      const expectedHex = readFileSync(join(DIR, 'outhex', `${name}.txt`), 'utf8').replace(/\s+/g, '').toLowerCase();
      const expectedOutput = readFileSync(join(DIR, 'output', `${name}.json`));

      const text = canonicalize(input);
      const bytes = canonicalBytes(input);
      expect(bytesToHex(bytes)).toBe(expectedHex);
      expect(Buffer.from(bytes).equals(expectedOutput)).toBe(true);
      expect(Buffer.from(text, 'utf8').equals(expectedOutput)).toBe(true);
      // Canonical form is a fixed point.
      expect(canonicalize(JSON.parse(text))).toBe(text);
    });
  }
});

describe('canonicalize: numbers', () => {
  it('refuses NaN, Infinity and -Infinity (at any depth, naming the path)', () => {
    refusal(() => canonicalize(NaN));
    refusal(() => canonicalize(Infinity));
    refusal(() => canonicalize(-Infinity));
    expect(refusal(() => canonicalize({ a: [1, { b: NaN }] })).path).toBe('/a/1/b');
  });

  it('writes -0 as 0, everywhere', () => {
    expect(canonicalize(-0)).toBe('0');
    expect(canonicalize({ x: [-0, 0] })).toBe('{"x":[0,0]}');
  });

  it('uses ECMAScript number serialization', () => {
    expect(canonicalize([1e21, 1e-7, 123456789012345680000, 0.1 + 0.2, 5e-324, -1.5])).toBe(
      '[1e+21,1e-7,123456789012345680000,0.30000000000000004,5e-324,-1.5]',
    );
  });
});

describe('canonicalize: strings and keys', () => {
  it('refuses a lone surrogate in a string value, with its path', () => {
    refusal(() => canonicalize('\ud800'));
    refusal(() => canonicalize('a\udc00b'));
    expect(refusal(() => canonicalize({ k: ['ok', 'x\ud800'] })).path).toBe('/k/1');
  });

  it('refuses a lone surrogate in a key', () => {
    refusal(() => canonicalize({ ['\ud800']: 1 }));
    refusal(() => canonicalize({ nested: { ['z\udfff']: 1 } }));
  });

  it('accepts a correctly paired surrogate and emits it as raw UTF-8', () => {
    expect(canonicalize('\ud83d\ude00')).toBe('"\u{1F600}"');
    expect(bytesToHex(canonicalBytes('\u{1F600}'))).toBe('22f09f988022');
  });

  it('escapes control characters the RFC 8785 way', () => {
    expect(canonicalize('\u0000\u0008\t\n\f\r\u001f"\\/\u007f')).toBe('"\\u0000\\b\\t\\n\\f\\r\\u001f\\"\\\\/\u007f"');
  });

  it('orders keys by UTF-16 code units, not by code point or locale', () => {
    // U+1F600 is the surrogate pair D83D DE00, which sorts before U+FFFF by code unit (but after it by code point).
    expect(canonicalize({ '\uFFFF': 1, '\u{1F600}': 2 })).toBe('{"\u{1F600}":2,"\uFFFF":1}');
    expect(canonicalize({ b: 1, a: 2, B: 3, '': 4, aa: 5, é: 6, e: 7 })).toBe('{"":4,"B":3,"a":2,"aa":5,"b":1,"e":7,"é":6}');
    // Integer-like keys are not special: "10" < "2" lexically, although JS objects enumerate them numerically.
    expect(canonicalize({ 2: 'two', 10: 'ten', 1: 'one' })).toBe('{"1":"one","10":"ten","2":"two"}');
  });

  it('does not depend on insertion order', () => {
    const a = canonicalize({ x: 1, y: { p: [1, 2], q: null } });
    const b = canonicalize({ y: { q: null, p: [1, 2] }, x: 1 });
    expect(a).toBe(b);
    expect(a).toBe('{"x":1,"y":{"p":[1,2],"q":null}}');
  });
});

describe('canonicalize: non-JSON values', () => {
  it('refuses non-plain objects (Date, Map, Set, class instances, typed arrays)', () => {
    class Thing {
      a = 1;
    }
    refusal(() => canonicalize(new Date(0)));
    refusal(() => canonicalize(new Map([['a', 1]])));
    refusal(() => canonicalize(new Set([1])));
    refusal(() => canonicalize(new Thing()));
    refusal(() => canonicalize(new Uint8Array(2)));
    expect(refusal(() => canonicalize({ when: new Date(0) })).path).toBe('/when');
  });

  it('accepts a null-prototype object as a plain object', () => {
    const o = Object.create(null) as Record<string, unknown>;
    o.b = 1;
    o.a = 2;
    expect(canonicalize(o)).toBe('{"a":2,"b":1}');
  });

  it('refuses undefined, functions, symbols and bigint, including inside containers', () => {
    refusal(() => canonicalize(undefined));
    refusal(() => canonicalize(() => 1));
    refusal(() => canonicalize(Symbol('s')));
    refusal(() => canonicalize(10n));
    // JSON.stringify would silently drop or null these; a commitment must not.
    expect(refusal(() => canonicalize({ a: undefined })).path).toBe('/a');
    expect(refusal(() => canonicalize([1, undefined])).path).toBe('/1');
    expect(refusal(() => canonicalize({ f() {} })).path).toBe('/f');
    expect(refusal(() => canonicalize({ n: [0, 1n] })).path).toBe('/n/1');
  });

  it('escapes "~" and "/" in error paths as JSON pointer does', () => {
    expect(refusal(() => canonicalize({ 'a/b': { 'c~d': NaN } })).path).toBe('/a~1b/c~0d');
  });
});

describe('findUnsafeNumber', () => {
  it('flags integers beyond ±(2^53−1) with the JSON pointer to them', () => {
    expect(findUnsafeNumber(2 ** 53)).toBe('');
    expect(findUnsafeNumber(-(2 ** 53))).toBe('');
    expect(findUnsafeNumber({ a: 2 ** 53 })).toBe('/a');
    expect(findUnsafeNumber({ a: [1, 2, { b: -(2 ** 53) }] })).toBe('/a/2/b');
    expect(findUnsafeNumber({ x: { y: [0, 1e300] } })).toBe('/x/y/1');
    expect(findUnsafeNumber(JSON.parse('{"id":9007199254740993}'))).toBe('/id');
  });

  it('flags non-finite numbers', () => {
    expect(findUnsafeNumber({ n: NaN })).toBe('/n');
    expect(findUnsafeNumber([Infinity])).toBe('/0');
  });

  it('escapes "~" and "/" in the pointer', () => {
    expect(findUnsafeNumber({ 'a/b': { 'c~d': 2 ** 60 } })).toBe('/a~1b/c~0d');
  });

  it('accepts safe integers, fractions and non-numbers', () => {
    expect(findUnsafeNumber(2 ** 53 - 1)).toBeNull();
    expect(findUnsafeNumber(-(2 ** 53 - 1))).toBeNull();
    expect(findUnsafeNumber(1.5)).toBeNull();
    expect(findUnsafeNumber({ a: [1.5, 2 ** 53 - 1, -0, 'x', null, true, { b: 1e-300 }] })).toBeNull();
    expect(findUnsafeNumber('9007199254740993')).toBeNull();
  });

  it('returns the first offender in document order', () => {
    expect(findUnsafeNumber([1, 2 ** 53, 2 ** 54])).toBe('/1');
  });
});
