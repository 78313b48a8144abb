import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { depthExceededAt, shapeExceededAt } from '../src/protocol/json-shape.js';

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

  it('counts items per container and values in all, the first limit passed wins', () => {
    expect(shapeExceededAt('[1,2,3]', { maxDepth: 4, maxItems: 3 })).toBeUndefined();
    expect(shapeExceededAt('[1,2,3,4]', { maxDepth: 4, maxItems: 3 })).toEqual({ limit: 'items', offset: 6 });
    // a comma in a nested container counts there, not in its parent
    expect(shapeExceededAt('[[1,2,3],[4,5,6]]', { maxDepth: 4, maxItems: 3 })).toBeUndefined();
    expect(shapeExceededAt('{"a,b,c,d":1}', { maxDepth: 4, maxItems: 1 })).toBeUndefined();
    // values: `[` `{` `,` `{` `,` `{` — the fifth (the second comma, offset 6) passes 4
    expect(shapeExceededAt('[{},{},{}]', { maxDepth: 4, maxValues: 4 })).toEqual({ limit: 'values', offset: 6 });
    expect(shapeExceededAt('[{},{},{}]', { maxDepth: 4, maxValues: 6 })).toBeUndefined();
    // depth is checked as the text goes: the deep prefix is refused before the items that follow it
    expect(shapeExceededAt('[[[1]],2,3,4]', { maxDepth: 2, maxItems: 1 })).toEqual({ limit: 'depth', offset: 2 });
  });

  it('agrees with the widest container of the parsed value for any JSON', () => {
    const widest = (v: unknown): number => {
      if (Array.isArray(v)) return Math.max(v.length, ...v.map(widest));
      if (v !== null && typeof v === 'object') return Math.max(Object.keys(v).length, ...Object.values(v).map(widest));
      return 0;
    };
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 5 }), fc.integer({ min: 1, max: 8 }), (v, k) => {
        const text = JSON.stringify(v);
        expect(shapeExceededAt(text, { maxDepth: 64, maxItems: k })?.limit === 'items').toBe(widest(v) > k);
      }),
      { numRuns: 2000 },
    );
  });
});
