// Shape bounds for JSON text, checked before JSON.parse builds anything. JSON.parse has no depth limit (a body of
// millions of `[` costs seconds and gigabytes, then overflows every recursive reader), and within a byte limit the
// number of values is what its memory grows with (millions of `{}`); one array of millions of elements is a single
// backing store that can outgrow a worker's heap and abort the whole process (nodejs/node#47224). One pass over
// the characters, skipping strings; it does not validate — JSON.parse does that next.

export interface ShapeLimits {
  /** containers nested in containers: `[]` is 1 */
  maxDepth: number;
  /** items (elements or members) in one array or object */
  maxItems?: number;
  /** values in all, counted as `[`, `{` and `,` (each a value beyond the first of its container) */
  maxValues?: number;
}

export interface ShapeExcess {
  limit: 'depth' | 'items' | 'values';
  /** the character at which the limit was first passed */
  offset: number;
}

/** Where the text first passes one of the limits, or undefined. */
export function shapeExceededAt(text: string, limits: ShapeLimits): ShapeExcess | undefined {
  const { maxDepth } = limits;
  const maxItems = limits.maxItems ?? Infinity;
  const maxValues = limits.maxValues ?? Infinity;
  // items so far in each open container; never longer than maxDepth, since passing it returns
  const counts: number[] = [];
  let values = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 0x22 /* " */) {
      // Skip the string: a backslash escapes the next character, whatever it is.
      for (i++; i < n; i++) {
        const s = text.charCodeAt(i);
        if (s === 0x5c /* \ */) i++;
        else if (s === 0x22) break;
      }
    } else if (ch === 0x5b /* [ */ || ch === 0x7b /* { */) {
      if (counts.length >= maxDepth) return { limit: 'depth', offset: i };
      counts.push(1);
      if (++values > maxValues) return { limit: 'values', offset: i };
    } else if (ch === 0x5d /* ] */ || ch === 0x7d /* } */) {
      counts.pop();
    } else if (ch === 0x2c /* , */ && counts.length > 0) {
      if (++counts[counts.length - 1]! > maxItems) return { limit: 'items', offset: i };
      if (++values > maxValues) return { limit: 'values', offset: i };
    }
  }
  return undefined;
}

/** The offset of the first `[` or `{` that opens level maxDepth + 1, or -1 when the text never nests deeper. */
export function depthExceededAt(text: string, maxDepth: number): number {
  return shapeExceededAt(text, { maxDepth })?.offset ?? -1;
}
