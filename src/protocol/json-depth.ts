// A nesting-depth bound for JSON text, checked before JSON.parse builds anything: JSON.parse itself has no depth
// limit, and a body of millions of `[` costs seconds and gigabytes to build (and then overflows every recursive
// reader of it). One pass over the characters, skipping strings; it does not validate — JSON.parse does that next.

/** The offset of the first `[` or `{` that opens level maxDepth + 1, or -1 when the text never nests deeper. */
export function depthExceededAt(text: string, maxDepth: number): number {
  let depth = 0;
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
      if (++depth > maxDepth) return i;
    } else if (ch === 0x5d /* ] */ || ch === 0x7d /* } */) {
      depth--;
    }
  }
  return -1;
}
