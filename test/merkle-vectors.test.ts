// RFC 9162 inclusion/consistency vectors from transparency-dev/merkle (testdata/, Apache-2.0, copied verbatim
// into fixtures/rfc9162 from ../shared/vectors/rfc9162). Every vector goes through our verifiers; every
// accepting vector whose tree we can rebuild must also be reproduced exactly by our NodeSource prover.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { base64ToBytes, bytesToBase64, hexToBytes } from '../src/protocol/bytes.js';
import {
  EMPTY_ROOT,
  MemoryNodeSource,
  consistencyProof,
  frontierAppend,
  inclusionProof,
  leafHash,
  rootAt,
  rootFromLeaves,
  verifyConsistency,
  verifyInclusion,
  type NodeSource,
} from '../src/protocol/merkle.js';

const ROOT = join(import.meta.dirname, '..', 'fixtures', 'rfc9162');

function walk(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((n) => {
      const p = join(dir, n);
      return statSync(p).isDirectory() ? walk(p) : p.endsWith('.json') ? [p] : [];
    });
}

interface RawVector {
  desc: string;
  wantErr: boolean;
  proof: string[] | null;
  leafIdx?: number;
  treeSize?: number;
  leafHash?: string;
  root?: string;
  size1?: number;
  size2?: number;
  root1?: string;
  root2?: string;
}

// JSON.parse turns the one out-of-range integer in the set (leafIdx = 2^64 − 1, "leafIdx sub @1") into an
// unsafe float; the verifiers treat any non-safe integer as malformed, which is the expected rejection.
const files = walk(ROOT).map((p) => ({ rel: relative(ROOT, p), v: JSON.parse(readFileSync(p, 'utf8')) as RawVector }));
const b64 = (s: string | undefined): Uint8Array => base64ToBytes(s ?? '');
const proofOf = (v: RawVector): Uint8Array[] => (v.proof ?? []).map((s) => b64(s));

/*
 * The single vector where our verdict deliberately differs from `wantErr`:
 * consistency/additional/sizes-are-equal-one-and-proof-is-empty.json says sizes 1 = 1, empty proof and equal
 * roots "ZG9uJ3QgY2FyZSAy" ("don't care 2", 12 bytes) must be accepted. Upstream uses such placeholder roots
 * because its equal-size path never looks at them; the shared README (and our API contract) requires a
 * verifier to reject hashes that are not 32 bytes, so verifyConsistency returns false here. The identical
 * check with real 32-byte roots is asserted to pass below, so only the hash-length rule is involved.
 */
// Every vector is taken at its word: no verdict is overridden.
const VERDICT_OVERRIDES: Record<string, { accept: boolean; why: string }> = {};

// The transparency-dev reference tree: the RFC 6962 test leaves.
const RFC6962_LEAVES = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map(
  (h) => leafHash(hexToBytes(h)),
);

function sourceOver(leafHashes: Uint8Array[]): NodeSource {
  const src = new MemoryNodeSource();
  let frontier: Uint8Array[] = [];
  leafHashes.forEach((h, i) => {
    src.put(0, i, h);
    const r = frontierAppend(frontier, i, h);
    for (const n of r.completed) src.put(n.level, n.index, n.hash);
    frontier = r.frontier;
  });
  return src;
}
const ref = sourceOver(RFC6962_LEAVES);
const refRoot = (size: number): Uint8Array | undefined => (size >= 1 && size <= 8 ? rootAt(ref, size) : undefined);
const same = (a: Uint8Array | undefined, b: Uint8Array): boolean => !!a && bytesToBase64(a) === bytesToBase64(b);

/*
 * Accepting vectors whose tree cannot be rebuilt, so only the verifier check applies to them:
 * - consistency/additional/sizes-are-equal-one-and-proof-is-empty.json: placeholder roots, no tree at all
 *   (its verdict, accept, is checked like every other).
 * inclusion/single-entry/matching-root-and-leaf.json has an unknown leaf, but a 1-leaf tree is rebuilt from
 * its leaf hash alone, so it is reproduced too.
 */
const NOT_REBUILDABLE = new Set(['consistency/additional/sizes-are-equal-one-and-proof-is-empty.json']);

describe('RFC 9162 vectors (transparency-dev/merkle testdata)', () => {
  it('has all 196 vectors plus the LICENSE', () => {
    expect(files).toHaveLength(196);
    expect(files.filter((f) => f.rel.startsWith('inclusion/'))).toHaveLength(98);
    expect(files.filter((f) => f.rel.startsWith('consistency/'))).toHaveLength(98);
    expect(statSync(join(ROOT, 'LICENSE')).isFile()).toBe(true);
    for (const k of Object.keys(VERDICT_OVERRIDES)) expect(files.some((f) => f.rel === k)).toBe(true);
  });

  it('the reference tree is the transparency-dev one (RFC 6962 leaves)', () => {
    expect(bytesToBase64(refRoot(8)!)).toBe('XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=');
    for (let n = 1; n <= 8; n++) expect(same(refRoot(n), rootFromLeaves(RFC6962_LEAVES.slice(0, n)))).toBe(true);
  });

  for (const { rel, v } of files) {
    const expected = VERDICT_OVERRIDES[rel]?.accept ?? !v.wantErr;
    it(`${rel}: ${v.desc} → ${expected ? 'accept' : 'reject'}`, () => {
      const proof = proofOf(v);
      if (rel.startsWith('inclusion/')) {
        const leaf = b64(v.leafHash);
        const root = b64(v.root);
        expect(verifyInclusion(leaf, v.leafIdx!, v.treeSize!, proof, root)).toBe(expected);
        if (!v.wantErr && !NOT_REBUILDABLE.has(rel)) {
          // Rebuild: the RFC 6962 reference tree, or a 1-leaf tree from the leaf hash itself.
          const src = same(refRoot(v.treeSize!), root) ? ref : v.treeSize === 1 && same(leaf, root) ? sourceOver([leaf]) : null;
          expect(src, 'tree of this accepting vector should be rebuildable').not.toBeNull();
          expect(rootAt(src!, v.treeSize!)).toEqual(root);
          expect(inclusionProof(src!, v.leafIdx!, v.treeSize!).map(bytesToBase64)).toEqual(v.proof ?? []);
        }
      } else {
        const root1 = b64(v.root1);
        const root2 = b64(v.root2);
        expect(verifyConsistency(v.size1!, v.size2!, proof, root1, root2)).toBe(expected);
        if (!v.wantErr && !NOT_REBUILDABLE.has(rel)) {
          expect(same(refRoot(v.size1!), root1) && same(refRoot(v.size2!), root2), 'rebuildable').toBe(true);
          expect(consistencyProof(ref, v.size1!, v.size2!).map(bytesToBase64)).toEqual(v.proof ?? []);
        }
      }
    });
  }

  it('equal sizes: consistent iff the proof is empty and the roots are the same bytes', () => {
    expect(verifyConsistency(1, 1, [], RFC6962_LEAVES[0]!, RFC6962_LEAVES[0]!)).toBe(true);
    expect(verifyConsistency(5, 5, [], refRoot(5)!, refRoot(5)!)).toBe(true);
    const short = base64ToBytes('ZG9uJ3QgY2FyZSAy');
    expect(verifyConsistency(1, 1, [], short, short)).toBe(true); // the vector's placeholder roots
    expect(verifyConsistency(5, 5, [], refRoot(5)!, refRoot(4)!)).toBe(false);
    expect(verifyConsistency(5, 5, [refRoot(5)!], refRoot(5)!, refRoot(5)!)).toBe(false);
    expect(verifyConsistency(1, 1, [], short, short.subarray(1))).toBe(false);
  });

  it('rejects non-32-byte hashes anywhere', () => {
    const root = refRoot(8)!;
    const good = inclusionProof(ref, 5, 8);
    expect(verifyInclusion(RFC6962_LEAVES[5]!, 5, 8, good, root)).toBe(true);
    const trunc = (h: Uint8Array) => h.slice(0, 31);
    const ext = (h: Uint8Array) => Uint8Array.of(...h, 0);
    for (const f of [trunc, ext]) {
      expect(verifyInclusion(f(RFC6962_LEAVES[5]!), 5, 8, good, root)).toBe(false);
      expect(verifyInclusion(RFC6962_LEAVES[5]!, 5, 8, good, f(root))).toBe(false);
      for (let i = 0; i < good.length; i++) {
        expect(verifyInclusion(RFC6962_LEAVES[5]!, 5, 8, good.map((h, j) => (j === i ? f(h) : h)), root)).toBe(false);
      }
      const cp = consistencyProof(ref, 3, 7);
      expect(verifyConsistency(3, 7, cp, refRoot(3)!, refRoot(7)!)).toBe(true);
      expect(verifyConsistency(3, 7, cp, f(refRoot(3)!), refRoot(7)!)).toBe(false);
      expect(verifyConsistency(3, 7, cp, refRoot(3)!, f(refRoot(7)!))).toBe(false);
      expect(verifyConsistency(3, 7, [f(cp[0]!), ...cp.slice(1)], refRoot(3)!, refRoot(7)!)).toBe(false);
    }
  });

  it('rejects consistency from size 0 and malformed inputs without throwing', () => {
    expect(verifyConsistency(0, 0, [], EMPTY_ROOT, EMPTY_ROOT)).toBe(false);
    expect(verifyConsistency(0, 5, [], EMPTY_ROOT, refRoot(5)!)).toBe(false);
    expect(verifyConsistency(0, 5, [refRoot(5)!], EMPTY_ROOT, refRoot(5)!)).toBe(false);
    expect(() => consistencyProof(ref, 0, 5)).toThrow(expect.objectContaining({ code: 'MERKLE_RANGE' }));
    const bad: unknown[] = [null, undefined, -1, 1.5, NaN, Infinity, 2 ** 53, '3', 3n];
    for (const x of bad) {
      expect(verifyInclusion(RFC6962_LEAVES[0]!, x as number, 8, inclusionProof(ref, 0, 8), refRoot(8)!)).toBe(false);
      expect(verifyConsistency(x as number, 8, consistencyProof(ref, 3, 8), refRoot(3)!, refRoot(8)!)).toBe(false);
      expect(verifyInclusion(x as Uint8Array, 0, 8, [], refRoot(8)!)).toBe(false);
      expect(verifyInclusion(RFC6962_LEAVES[0]!, 0, 8, x as Uint8Array[], refRoot(8)!)).toBe(false);
      expect(verifyConsistency(3, 8, x as Uint8Array[], refRoot(3)!, refRoot(8)!)).toBe(false);
    }
    expect(verifyInclusion(RFC6962_LEAVES[0]!, 0, 0, [], EMPTY_ROOT)).toBe(false);
  });
});
