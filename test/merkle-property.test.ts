// Property tests: the NodeSource-based provers (over nodes produced by frontierAppend) must equal a naive
// recursive RFC 9162 reference (MTH, PATH, SUBPROOF written straight from §2.1), verify, and every
// single-bit flip, dropped or added proof element must be rejected.
// (Not tested: claiming a different tree size with the same proof and root. RFC 9162 proofs do not bind the
// size — e.g. index 0's proof in trees of 3 and 4 leaves has the same shape — the signed checkpoint does.)
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bytesToHex, utf8ToBytes } from '../src/protocol/bytes.js';
import { sha256 } from '../src/protocol/hash.js';
import {
  EMPTY_ROOT,
  MemoryNodeSource,
  consistencyProof,
  frontierAppend,
  frontierFromSource,
  inclusionProof,
  leafHash,
  neededNodesForConsistency,
  neededNodesForInclusion,
  neededNodesForRange,
  neededNodesForRoot,
  nodeHash,
  perfectSubtrees,
  rangeProof,
  rootAt,
  rootFromFrontier,
  rootFromLeaves,
  subtreeHash,
  verifyConsistency,
  verifyInclusion,
  verifyRange,
  type NodeId,
  type NodeSource,
} from '../src/protocol/merkle.js';

// ---------------------------------------------------------------------------------------------------
// Naive reference, RFC 9162 §2.1.1, §2.1.3.1, §2.1.4.1 — recursion over the leaf list, nothing stored.

const k2 = (n: number): number => {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
};
function MTH(D: Uint8Array[]): Uint8Array {
  if (D.length === 0) return sha256(new Uint8Array(0));
  if (D.length === 1) return D[0]!; // D holds leaf hashes already: MTH({d}) = SHA-256(0x00 ‖ d)
  const k = k2(D.length);
  return sha256(Uint8Array.of(1), MTH(D.slice(0, k)), MTH(D.slice(k)));
}
function PATH(m: number, D: Uint8Array[]): Uint8Array[] {
  if (D.length === 1) return [];
  const k = k2(D.length);
  return m < k ? [...PATH(m, D.slice(0, k)), MTH(D.slice(k))] : [...PATH(m - k, D.slice(k)), MTH(D.slice(0, k))];
}
function SUBPROOF(m: number, D: Uint8Array[], b: boolean): Uint8Array[] {
  if (m === D.length) return b ? [] : [MTH(D)];
  const k = k2(D.length);
  return m <= k
    ? [...SUBPROOF(m, D.slice(0, k), b), MTH(D.slice(k))]
    : [...SUBPROOF(m - k, D.slice(k), false), MTH(D.slice(0, k))];
}
const PROOF = (m: number, D: Uint8Array[]): Uint8Array[] => SUBPROOF(m, D, true);
// Range proof reference: hashes of the maximal tree nodes disjoint from [from, to), left to right.
function RANGE(from: number, to: number, D: Uint8Array[], lo = 0): Uint8Array[] {
  const hi = lo + D.length;
  if (hi <= from || lo >= to) return [MTH(D)];
  if (from <= lo && hi <= to) return [];
  const k = k2(D.length);
  return [...RANGE(from, to, D.slice(0, k), lo), ...RANGE(from, to, D.slice(k), lo + k)];
}

// ---------------------------------------------------------------------------------------------------
// Trees: leaves derived from a seed; the NodeSource is filled only through frontierAppend.

interface Tree {
  leaves: Uint8Array[];
  src: MemoryNodeSource;
  frontiers: Uint8Array[][]; // frontiers[s] = frontier of the tree of size s
}
const cache = new Map<string, Tree>();
function tree(n: number, seed: number): Tree {
  const key = `${n}/${seed}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const leaves = Array.from({ length: n }, (_, i) => leafHash(utf8ToBytes(`seed ${seed} leaf ${i}`)));
  const src = new MemoryNodeSource();
  const frontiers: Uint8Array[][] = [[]];
  leaves.forEach((h, i) => {
    src.put(0, i, h);
    const r = frontierAppend(frontiers[i]!, i, h);
    expect(r.size).toBe(i + 1);
    for (const c of r.completed) {
      expect(c.level).toBeGreaterThanOrEqual(1);
      src.put(c.level, c.index, c.hash);
    }
    frontiers.push(r.frontier);
  });
  const t = { leaves, src, frontiers };
  if (cache.size > 64) cache.clear();
  cache.set(key, t);
  return t;
}

/** Wraps a source, counting `get` calls and refusing nodes outside an allowed set (if given). */
function counting(src: NodeSource, allowed?: NodeId[]) {
  const ok = allowed && new Set(allowed.map((n) => `${n.level}/${n.index}`));
  const s = {
    calls: 0,
    get(level: number, index: number) {
      s.calls++;
      if (ok && !ok.has(`${level}/${index}`)) throw new Error(`unexpected node ${level}/${index}`);
      return src.get(level, index);
    },
  };
  return s;
}
const lg = (n: number) => Math.ceil(Math.log2(Math.max(n, 2)));
const hex = (l: Uint8Array[]) => l.map(bytesToHex);

// Mutations of a proof that must all be rejected.
function* mutations(proof: Uint8Array[], bits: number[], extra: Uint8Array): Generator<[string, Uint8Array[]]> {
  for (let i = 0; i < proof.length; i++) {
    const bit = bits[i % bits.length]! % 256;
    const h = proof[i]!.slice();
    h[bit >> 3]! ^= 1 << (bit & 7);
    yield [`flip bit ${bit} of [${i}]`, proof.map((p, j) => (j === i ? h : p))];
    yield [`drop [${i}]`, proof.filter((_, j) => j !== i)];
  }
  for (let i = 0; i <= proof.length; i++) yield [`insert at ${i}`, [...proof.slice(0, i), extra, ...proof.slice(i)]];
  if (proof.length > 0) yield ['duplicate last', [...proof, proof[proof.length - 1]!]];
}
const EXTRA = sha256(utf8ToBytes('extra'));

const arbTree = fc.record({ n: fc.integer({ min: 1, max: 1100 }), seed: fc.integer({ min: 0, max: 3 }) });
const unit = fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true });
const picks = fc.array(fc.tuple(unit, unit, unit), { minLength: 1, maxLength: 4 });
const bits = fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 8 });
const pick = (u: number, lo: number, hi: number) => lo + Math.floor(u * (hi - lo + 1)); // in [lo, hi]

describe('merkle prover vs naive RFC 9162 reference', () => {
  it('frontierAppend completes exactly every perfect subtree; roots/frontiers agree with MTH', () => {
    fc.assert(
      fc.property(arbTree, picks, ({ n, seed }, us) => {
        const t = tree(n, seed);
        // Every perfect node of level ≥ 1 is stored, with the naive MTH of its range.
        let expected = n;
        for (let w = 2; w <= n; w *= 2) expected += Math.floor(n / w);
        expect(t.src.size).toBe(expected);
        for (const [u] of us) {
          const size = pick(u, 0, n);
          const want = MTH(t.leaves.slice(0, size));
          expect(rootAt(t.src, size)).toEqual(want);
          expect(rootFromFrontier(t.frontiers[size]!)).toEqual(want);
          expect(frontierFromSource(t.src, size)).toEqual(t.frontiers[size]);
          expect(rootFromLeaves(t.leaves.slice(0, size))).toEqual(want);
          const c = counting(t.src, neededNodesForRoot(size));
          rootAt(c, size);
          expect(c.calls).toBeLessThanOrEqual(lg(size) + 1);
          // Perfect node hashes match their leaf ranges.
          for (const { level, index } of perfectSubtrees(0, size)) {
            const w = 2 ** level;
            expect(t.src.get(level, index)).toEqual(MTH(t.leaves.slice(index * w, (index + 1) * w)));
          }
        }
      }),
      { numRuns: 60 },
    );
    expect(rootFromFrontier([])).toEqual(EMPTY_ROOT);
  });

  it('inclusion proofs equal PATH, verify, and reject every mutation', () => {
    fc.assert(
      fc.property(arbTree, picks, bits, ({ n, seed }, us, bs) => {
        const t = tree(n, seed);
        for (const [u, v, w] of us) {
          const size = pick(u, 1, n);
          const index = pick(v, 0, size - 1);
          const D = t.leaves.slice(0, size);
          const root = MTH(D);
          const c = counting(t.src, neededNodesForInclusion(index, size));
          const proof = inclusionProof(c, index, size);
          expect(hex(proof)).toEqual(hex(PATH(index, D)));
          expect(c.calls).toBeLessThanOrEqual(2 * lg(size) + 1);
          const leaf = t.leaves[index]!;
          expect(verifyInclusion(leaf, index, size, proof, root)).toBe(true);
          for (const [what, bad] of mutations(proof, bs, EXTRA)) {
            expect(verifyInclusion(leaf, index, size, bad, root), what).toBe(false);
          }
          const flipped = leaf.slice();
          flipped[bs[0]! >> 3]! ^= 1 << (bs[0]! & 7);
          expect(verifyInclusion(flipped, index, size, proof, root)).toBe(false);
          expect(verifyInclusion(leaf, index, size, proof, flipped)).toBe(false);
          if (index + 1 < size) expect(verifyInclusion(leaf, index + 1, size, proof, root)).toBe(false);
          if (index > 0) expect(verifyInclusion(leaf, index - 1, size, proof, root)).toBe(false);
        }
      }),
      { numRuns: 80 },
    );
  });

  it('consistency proofs equal PROOF/SUBPROOF, verify, and reject every mutation', () => {
    fc.assert(
      fc.property(arbTree, picks, bits, ({ n, seed }, us, bs) => {
        const t = tree(n, seed);
        for (const [u, v, w] of us) {
          const size2 = pick(u, 1, n);
          const size1 = pick(w, 1, size2);
          const D = t.leaves.slice(0, size2);
          const root1 = MTH(D.slice(0, size1));
          const root2 = MTH(D);
          const c = counting(t.src, neededNodesForConsistency(size1, size2));
          const proof = consistencyProof(c, size1, size2);
          expect(hex(proof)).toEqual(hex(PROOF(size1, D)));
          expect(c.calls).toBeLessThanOrEqual(2 * lg(size2) + 2);
          expect(verifyConsistency(size1, size2, proof, root1, root2)).toBe(true);
          for (const [what, bad] of mutations(proof, bs, EXTRA)) {
            expect(verifyConsistency(size1, size2, bad, root1, root2), what).toBe(false);
          }
          const r1 = root1.slice();
          r1[bs[0]! >> 3]! ^= 1 << (bs[0]! & 7);
          expect(verifyConsistency(size1, size2, proof, r1, root2)).toBe(false);
          expect(verifyConsistency(size1, size2, proof, root1, r1)).toBe(false);
          if (size1 < size2) {
            expect(verifyConsistency(size2, size1, proof, root2, root1)).toBe(false);
            expect(verifyConsistency(size1, size2, proof, root2, root1)).toBe(false);
          }
        }
      }),
      { numRuns: 80 },
    );
  });

  it('range proofs equal the reference, are short, verify, and reject every mutation', () => {
    fc.assert(
      fc.property(arbTree, picks, bits, ({ n, seed }, us, bs) => {
        const t = tree(n, seed);
        for (const [u, v, w] of us) {
          const size = pick(u, 1, n);
          const a = pick(v, 0, size - 1);
          const b = pick(w, 0, size - 1);
          const from = Math.min(a, b);
          const to = Math.max(a, b) + 1;
          const D = t.leaves.slice(0, size);
          const root = MTH(D);
          const leaves = D.slice(from, to);
          const c = counting(t.src, neededNodesForRange(from, to, size));
          const proof = rangeProof(c, from, to, size);
          expect(hex(proof)).toEqual(hex(RANGE(from, to, D)));
          expect(proof.length).toBeLessThanOrEqual(2 * lg(size));
          expect(c.calls).toBeLessThanOrEqual(3 * lg(size) + 2);
          if (to === from + 1) expect(new Set(hex(proof))).toEqual(new Set(hex(PATH(from, D))));
          expect(verifyRange(from, to, size, leaves, proof, root)).toBe(true);
          for (const [what, bad] of mutations(proof, bs, EXTRA)) {
            expect(verifyRange(from, to, size, leaves, bad, root), what).toBe(false);
          }
          const i = bs[0]! % leaves.length;
          const badLeaves = leaves.map((l, j) => (j === i ? EXTRA : l));
          expect(verifyRange(from, to, size, badLeaves, proof, root)).toBe(false);
          expect(verifyRange(from, to, size, leaves.slice(1), proof, root)).toBe(false);
          if (to < size) expect(verifyRange(from + 1, to + 1, size, leaves, proof, root)).toBe(false);
        }
      }),
      { numRuns: 60 },
    );
  });

  it('subtreeHash matches MTH on every tree-node range and refuses other ranges', () => {
    const t = tree(1100, 9);
    for (let start = 0; start < 1100; start += 37) {
      for (let end = start + 1; end <= 1100; end += 13) {
        const lowbit = start === 0 ? Infinity : start & -start;
        if (start === 0 || lowbit >= end - start) {
          expect(subtreeHash(t.src, start, end)).toEqual(MTH(t.leaves.slice(start, end)));
        } else {
          expect(() => subtreeHash(t.src, start, end)).toThrow(expect.objectContaining({ code: 'MERKLE_RANGE' }));
        }
      }
    }
  });

  it('exhaustive single-bit flips on a few large proofs', () => {
    const t = tree(1100, 1);
    const cases: Array<[Uint8Array[], (p: Uint8Array[]) => boolean]> = [];
    for (const [i, s] of [[0, 1100], [1099, 1100], [517, 1025]] as const) {
      const root = rootAt(t.src, s);
      cases.push([inclusionProof(t.src, i, s), (p) => verifyInclusion(t.leaves[i]!, i, s, p, root)]);
    }
    for (const [s1, s2] of [[1, 1100], [1023, 1100], [700, 1099]] as const) {
      const r1 = rootAt(t.src, s1);
      const r2 = rootAt(t.src, s2);
      cases.push([consistencyProof(t.src, s1, s2), (p) => verifyConsistency(s1, s2, p, r1, r2)]);
    }
    {
      const root = rootAt(t.src, 1100);
      const leaves = t.leaves.slice(300, 333);
      cases.push([rangeProof(t.src, 300, 333, 1100), (p) => verifyRange(300, 333, 1100, leaves, p, root)]);
    }
    for (const [proof, verify] of cases) {
      expect(verify(proof)).toBe(true);
      for (let i = 0; i < proof.length; i++) {
        for (let bit = 0; bit < 256; bit++) {
          const h = proof[i]!.slice();
          h[bit >> 3]! ^= 1 << (bit & 7);
          if (verify(proof.map((p, j) => (j === i ? h : p)))) throw new Error(`bit ${bit} of [${i}] accepted`);
        }
      }
    }
  });

  it('nodeHash/leafHash domain separation and known empty root', () => {
    expect(bytesToHex(EMPTY_ROOT)).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    const a = leafHash(Uint8Array.of(1));
    expect(nodeHash(a, a)).not.toEqual(leafHash(Uint8Array.of(...a, ...a)));
    expect(() => inclusionProof(tree(5, 0).src, 5, 5)).toThrow(expect.objectContaining({ code: 'MERKLE_RANGE' }));
    expect(() => rangeProof(tree(5, 0).src, 2, 2, 5)).toThrow(expect.objectContaining({ code: 'MERKLE_RANGE' }));
    expect(() => frontierAppend([], 1, a)).toThrow(expect.objectContaining({ code: 'MERKLE_FRONTIER' }));
  });
});
