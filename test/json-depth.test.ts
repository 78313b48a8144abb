import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { depthExceededAt } from '../src/protocol/json-depth.js';

/** Depth of a parsed JSON value: scalars 0, each array or object one more than its deepest member. */
function depthOf(v: unknown): number {
  if (Array.isArray(v)) return 1 + Math.max(0, ...v.map(depthOf));
  if (v !== null && typeof v === 'object') return 1 + Math.max(0, ...Object.values(v).map(depthOf));
  return 0;
}

describe('depthExceededAt', () => {
  it('finds the bracket that opens the level past the limit', () => {
    expect(depthExceededAt('[[[]]]', 3)).toBe(-1);
    expect(depthExceededAt('[[[]]]', 2)).toBe(2);
    expect(depthExceededAt('{"a":{"b":[1]}}', 2)).toBe(10);
    expect(depthExceededAt('[' .repeat(30_000_000), 64)).toBe(64);
  });

  it('does not count brackets inside strings, escaped quotes included', () => {
    expect(depthExceededAt('["[[[[", "\\"[[[[", {"k\\\\":"{{{{"}]', 2)).toBe(-1);
    expect(depthExceededAt('["\\\\", [[]]]', 2)).toBe(8);
  });

  it('agrees with the depth of the parsed value for any JSON', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 8 }), fc.integer({ min: 0, max: 10 }), (v, limit) => {
        const text = JSON.stringify(v);
        expect(depthExceededAt(text, limit) === -1).toBe(depthOf(v) <= limit);
      }),
      { numRuns: 2000 },
    );
  });
});
