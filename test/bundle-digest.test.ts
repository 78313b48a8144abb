import { describe, expect, it } from 'vitest';
import { ArraySectionDigest, sectionDigest } from '../src/protocol/bundle.js';

describe('bundle section digests', () => {
  it('the streaming array digest equals the digest of the whole array', () => {
    const events = Array.from({ length: 50 }, (_, i) => ({ seq_no: i + 1, payload: { s: 'é\u2028', n: i / 3 }, z: null }));
    const d = new ArraySectionDigest('events');
    for (const e of events) d.add(e);
    expect(d.digest()).toBe(sectionDigest('events', events));
    expect(new ArraySectionDigest('events').digest()).toBe(sectionDigest('events', []));
  });
  it('binds the section name and the content', () => {
    expect(sectionDigest('stream', { a: 1 })).not.toBe(sectionDigest('chain', { a: 1 }));
    expect(sectionDigest('stream', { a: 1 })).not.toBe(sectionDigest('stream', { a: 2 }));
    expect(sectionDigest('stream', { a: 1, b: 2 })).toBe(sectionDigest('stream', { b: 2, a: 1 }));
  });
});
