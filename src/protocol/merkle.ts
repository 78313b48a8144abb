// RFC 9162 §2.1 Merkle tree math (the same trees as RFC 6962), pure and storage-agnostic.
//
// The ledger persists, per stream, the hash of every *perfect* subtree it has completed:
// node(level, index) covers leaves [index·2^level, (index+1)·2^level); level 0 holds the leaf hashes.
// Every hash a proof or a root needs is either such a node or the right-to-left fold of a few of them
// (a "non-perfect" node on the tree's right border), so the provers below never touch leaf data and make
// O(log n) `NodeSource.get` calls.
//
// Sizes and indices are JavaScript numbers and must be safe integers (< 2^53); bit tricks are done with
// arithmetic, never with 32-bit bitwise operators, so trees past 2^32 leaves work too.
//
// Browser-safe: no Node-only imports.
import { bytesEqual } from './bytes.js';
import { sha256 } from './hash.js';

/** Base class of every typed error thrown by src/protocol parsers and provers; `code` is machine-readable. */
export class ProtocolError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** Thrown by the provers/appenders for arguments no RFC 9162 proof exists for (e.g. index ≥ size). */
export class MerkleError extends ProtocolError {}

/** Size in bytes of every hash in the tree (SHA-256). */
export const HASH_SIZE = 32;

const LEAF_PREFIX = new Uint8Array([0x00]);
const NODE_PREFIX = new Uint8Array([0x01]);

/** RFC 9162 leaf hash: SHA-256(0x00 ‖ entry). The 0x00 prefix keeps leaves and interior nodes apart. */
export function leafHash(entry: Uint8Array): Uint8Array {
  return sha256(LEAF_PREFIX, entry);
}

/** RFC 9162 interior node hash: SHA-256(0x01 ‖ left ‖ right). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  return sha256(NODE_PREFIX, left, right);
}

/** MTH({}) = SHA-256(""), the root of the empty tree. */
export const EMPTY_ROOT: Uint8Array = sha256(new Uint8Array(0));

/** Address of a stored perfect subtree: covers leaves [index·2^level, (index+1)·2^level). */
export interface NodeId {
  level: number;
  index: number;
}

/** A stored perfect subtree with its hash (what the ledger persists). */
export interface PerfectNode extends NodeId {
  hash: Uint8Array;
}

/**
 * Synchronous read access to a stream's stored perfect-subtree hashes. `get` may throw if the node is
 * missing; the provers let that propagate. Use `neededNodes*` to batch-load before proving.
 */
export interface NodeSource {
  get(level: number, index: number): Uint8Array;
}

// ---------------------------------------------------------------------------------------------------
// Integer helpers (safe-integer arithmetic instead of 32-bit bitwise ops)

const isCount = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;

/** Largest power of two strictly less than n (n ≥ 2): the RFC's split point k. */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** Largest power of two ≤ n (n ≥ 1). */
function floorPow2(n: number): number {
  let p = 1;
  while (p * 2 <= n) p *= 2;
  return p;
}

/** Largest power of two dividing x (x ≥ 1). */
function lowestBit(x: number): number {
  let p = 1;
  while (x % (p * 2) === 0) p *= 2;
  return p;
}

function log2(p: number): number {
  let l = 0;
  while (p > 1) {
    p /= 2;
    l++;
  }
  return l;
}

function popcount(n: number): number {
  let c = 0;
  while (n > 0) {
    c += n % 2;
    n = Math.floor(n / 2);
  }
  return c;
}

// ---------------------------------------------------------------------------------------------------
// Reference MTH and decompositions

/**
 * RFC 9162 MTH over a list of leaf hashes (reference implementation, O(n) hashing). Used for small
 * ranges (e.g. the leaves an auditor holds, a window's own root) and as the ground truth in tests.
 */
export function rootFromLeaves(leafHashes: readonly Uint8Array[]): Uint8Array {
  if (leafHashes.length === 0) return EMPTY_ROOT;
  return mth(leafHashes, 0, leafHashes.length);
}

function mth(leaves: readonly Uint8Array[], lo: number, hi: number): Uint8Array {
  const n = hi - lo;
  if (n === 1) return leaves[lo]!;
  const k = splitPoint(n);
  return nodeHash(mth(leaves, lo, lo + k), mth(leaves, lo + k, hi));
}

/**
 * Splits leaf range [start, end) into maximal aligned perfect subtrees, left to right (sizes rise, then
 * fall). This is the "compact range" of the interval; for [0, size) it is the frontier. The MTH of any
 * range that is a node of an RFC 9162 tree is the right-to-left fold hash(a, hash(b, hash(c, …))) of it.
 */
export function perfectSubtrees(start: number, end: number): NodeId[] {
  if (!isCount(start) || !isCount(end) || start > end) {
    throw new MerkleError('MERKLE_RANGE', `invalid leaf range [${start}, ${end})`);
  }
  const out: NodeId[] = [];
  let pos = start;
  while (pos < end) {
    let size = floorPow2(end - pos);
    if (pos > 0) size = Math.min(size, lowestBit(pos));
    out.push({ level: log2(size), index: pos / size });
    pos += size;
  }
  return out;
}

/**
 * True iff [start, end) is a node of some RFC 9162 tree, i.e. start = 0 or start is a multiple of a power
 * of two ≥ end − start. Exactly these ranges appear as roots, proof elements and subtree hashes.
 */
export function isTreeNodeRange(start: number, end: number): boolean {
  if (!isCount(start) || !isCount(end) || start >= end) return false;
  return start === 0 || lowestBit(start) >= end - start;
}

/**
 * MTH of leaves [start, end) from stored perfect nodes only (≤ log₂ n `get` calls, no leaf re-hashing).
 * Only defined for ranges that are RFC 9162 tree nodes (see isTreeNodeRange: start = 0, or start aligned
 * to a power of two ≥ end − start) — the only ranges roots and proofs ever need; anything else throws
 * MerkleError('MERKLE_RANGE'). An empty range [0, 0) yields EMPTY_ROOT.
 */
export function subtreeHash(src: NodeSource, start: number, end: number): Uint8Array {
  if (start === 0 && end === 0) return EMPTY_ROOT;
  if (!isTreeNodeRange(start, end)) {
    throw new MerkleError('MERKLE_RANGE', `[${start}, ${end}) is not an RFC 9162 subtree`);
  }
  const parts = perfectSubtrees(start, end);
  let h = src.get(parts[parts.length - 1]!.level, parts[parts.length - 1]!.index);
  for (let i = parts.length - 2; i >= 0; i--) h = nodeHash(src.get(parts[i]!.level, parts[i]!.index), h);
  return h;
}

/** Hash of the perfect subtree [lo, lo + width) (width a power of two, lo aligned): one `get`. */
function perfectHash(src: NodeSource, lo: number, width: number): Uint8Array {
  return src.get(log2(width), lo / width);
}

/** Root hash (MTH) of the tree of the first `size` leaves; EMPTY_ROOT for size 0. */
export function rootAt(src: NodeSource, size: number): Uint8Array {
  if (!isCount(size)) throw new MerkleError('MERKLE_RANGE', `invalid tree size ${size}`);
  return subtreeHash(src, 0, size);
}

// ---------------------------------------------------------------------------------------------------
// Provers (RFC 9162 §2.1.3.1 PATH and §2.1.4.1 SUBPROOF, unrolled into loops)

/**
 * RFC 9162 §2.1.3.1 inclusion proof PATH(index, D[0:size]) for leaf `index` in the tree of `size` leaves,
 * ordered leaf-to-root as the RFC specifies. Throws MerkleError unless 0 ≤ index < size.
 */
export function inclusionProof(src: NodeSource, index: number, size: number): Uint8Array[] {
  if (!isCount(index) || !isCount(size) || index >= size) {
    throw new MerkleError('MERKLE_RANGE', `no inclusion proof for index ${index} in tree size ${size}`);
  }
  const path: Uint8Array[] = [];
  let lo = 0;
  let hi = size;
  // Walk root → leaf: at node [lo, hi) with split k the sibling of the side holding `index` is in the proof.
  while (hi - lo > 1) {
    const k = splitPoint(hi - lo);
    if (index < lo + k) {
      path.push(subtreeHash(src, lo + k, hi)); // right sibling: may be a non-perfect border node
      hi = lo + k;
    } else {
      path.push(perfectHash(src, lo, k)); // left sibling: always perfect
      lo += k;
    }
  }
  return path.reverse();
}

/**
 * RFC 9162 §2.1.4.1 consistency proof PROOF(size1, D[0:size2]) = SUBPROOF(size1, D[0:size2], true),
 * ordered as the RFC specifies. Requires 0 < size1 ≤ size2 (size1 = size2 gives []); consistency from the
 * empty tree is meaningless and throws MerkleError, as does size1 > size2.
 */
export function consistencyProof(src: NodeSource, size1: number, size2: number): Uint8Array[] {
  if (!isCount(size1) || !isCount(size2) || size1 === 0 || size1 > size2) {
    throw new MerkleError('MERKLE_RANGE', `no consistency proof from size ${size1} to ${size2}`);
  }
  const out: Uint8Array[] = [];
  let lo = 0;
  let hi = size2;
  let whole = true; // the RFC's flag b: "the subtree is the whole old tree", whose root the verifier knows
  for (;;) {
    if (size1 === hi) {
      if (!whole) out.push(subtreeHash(src, lo, hi));
      break;
    }
    const k = splitPoint(hi - lo);
    if (size1 - lo <= k) {
      out.push(subtreeHash(src, lo + k, hi));
      hi = lo + k;
    } else {
      out.push(perfectHash(src, lo, k));
      lo += k;
      whole = false;
    }
  }
  return out.reverse();
}

/*
 * Range proofs (audit bundles): prove that leaf hashes L[from..to) are exactly leaves [from, to) of the tree
 * of `size` leaves with a given root, with the fewest hashes.
 *
 * Algorithm. Recurse over the RFC 9162 tree from the root [0, size), splitting node [lo, hi) at lo + k
 * (k = largest power of two < hi − lo). A node disjoint from [from, to) contributes its hash to the proof
 * and is not descended into; a node inside [from, to) contributes nothing (the verifier hashes the supplied
 * leaves); a straddling node recurses into both children. The proof lists the contributed hashes in
 * left-to-right (= depth-first) order. Each of them is needed, since the verifier knows nothing about those
 * leaves, and none can be merged with another (their parents straddle the range), so the proof is minimal.
 *
 * In compact-range terms (transparency-dev/merkle/compact): the proof is the left frontier, i.e. the perfect
 * subtrees of perfectSubtrees(0, from), followed by the right part: the maximal tree nodes covering
 * [to, size) — the perfect subtrees of perfectSubtrees(to, size) except that the trailing ones that make up
 * one non-perfect right-border node are sent as that single (ephemeral) node hash. Combining the left
 * frontier, the compact range of the supplied leaves and the right part, and folding, yields the root.
 * Length ≤ 2·⌈log₂ size⌉; for from + 1 = to it has the same hashes as the inclusion proof (other order).
 */

/**
 * Minimal proof that leaves [from, to) belong to the tree of `size` leaves (algorithm above): sibling
 * hashes left of the range, then right of it, left to right. Throws MerkleError unless 0 ≤ from < to ≤ size.
 */
export function rangeProof(src: NodeSource, from: number, to: number, size: number): Uint8Array[] {
  if (!isCount(from) || !isCount(to) || !isCount(size) || from >= to || to > size) {
    throw new MerkleError('MERKLE_RANGE', `no range proof for [${from}, ${to}) in tree size ${size}`);
  }
  const out: Uint8Array[] = [];
  const walk = (lo: number, hi: number): void => {
    if (hi <= from || lo >= to) {
      out.push(subtreeHash(src, lo, hi));
      return;
    }
    if (from <= lo && hi <= to) return;
    const k = splitPoint(hi - lo);
    walk(lo, lo + k);
    walk(lo + k, hi);
  };
  walk(0, size);
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Batch-loading helpers

/** Runs a prover against a recording source and returns the distinct nodes it reads, in first-use order. */
export function recordNodeAccess(run: (src: NodeSource) => unknown): NodeId[] {
  const seen = new Set<string>();
  const out: NodeId[] = [];
  const dummy = new Uint8Array(HASH_SIZE);
  run({
    get(level, index) {
      const key = `${level}/${index}`;
      if (!seen.has(key)) {
        seen.add(key);
        out.push({ level, index });
      }
      return dummy;
    },
  });
  return out;
}

/** Stored nodes rootAt(size) reads (the frontier of size), so a DB can fetch them in one query. */
export const neededNodesForRoot = (size: number): NodeId[] => recordNodeAccess((s) => rootAt(s, size));
/** Stored nodes inclusionProof(index, size) reads. */
export const neededNodesForInclusion = (index: number, size: number): NodeId[] =>
  recordNodeAccess((s) => inclusionProof(s, index, size));
/** Stored nodes consistencyProof(size1, size2) reads. */
export const neededNodesForConsistency = (size1: number, size2: number): NodeId[] =>
  recordNodeAccess((s) => consistencyProof(s, size1, size2));
/** Stored nodes rangeProof(from, to, size) reads. */
export const neededNodesForRange = (from: number, to: number, size: number): NodeId[] =>
  recordNodeAccess((s) => rangeProof(s, from, to, size));

/** A NodeSource over a Map, for tests, caches and batch-loaded DB rows; `get` throws if a node is missing. */
export class MemoryNodeSource implements NodeSource {
  private readonly nodes = new Map<string, Uint8Array>();
  /** Stores one node hash. */
  put(level: number, index: number, hash: Uint8Array): void {
    this.nodes.set(`${level}/${index}`, hash);
  }
  /** Returns a stored node hash or throws MerkleError('MERKLE_NODE_MISSING'). */
  get(level: number, index: number): Uint8Array {
    const h = this.nodes.get(`${level}/${index}`);
    if (!h) throw new MerkleError('MERKLE_NODE_MISSING', `node ${level}/${index} not stored`);
    return h;
  }
  /** Number of stored nodes. */
  get size(): number {
    return this.nodes.size;
  }
}

// ---------------------------------------------------------------------------------------------------
// Appending: the frontier (compact range of [0, size))

/** Levels of the frontier entries of a tree of `size` leaves, left to right (the set bits of size, high→low). */
export function frontierLevels(size: number): number[] {
  return perfectSubtrees(0, size).map((n) => n.level);
}

/** Loads the frontier of a tree of `size` leaves from stored nodes (popcount(size) `get` calls). */
export function frontierFromSource(src: NodeSource, size: number): Uint8Array[] {
  return perfectSubtrees(0, size).map((n) => src.get(n.level, n.index));
}

/** Result of appending one leaf to a frontier. */
export interface FrontierAppend {
  /** Frontier of the tree with one more leaf. */
  frontier: Uint8Array[];
  /** New tree size (old size + 1). */
  size: number;
  /** Perfect nodes of level ≥ 1 completed by this leaf, bottom-up, for the ledger to persist. */
  completed: PerfectNode[];
}

/**
 * Appends a leaf to the frontier of a tree of `size` leaves (the hashes of perfectSubtrees(0, size), left
 * to right). Returns the new frontier and the perfect nodes (level ≥ 1) the leaf completed — exactly the
 * rows a ledger must add besides the leaf itself (level 0, index size) so a NodeSource can serve proofs.
 * O(log n) hashing. Throws MerkleError if the frontier does not have popcount(size) 32-byte entries.
 */
export function frontierAppend(frontier: readonly Uint8Array[], size: number, leaf: Uint8Array): FrontierAppend {
  if (!isCount(size) || size >= Number.MAX_SAFE_INTEGER) throw new MerkleError('MERKLE_RANGE', `invalid tree size ${size}`);
  if (frontier.length !== popcount(size) || !frontier.every(isHash) || !isHash(leaf)) {
    throw new MerkleError('MERKLE_FRONTIER', `frontier does not match tree size ${size}`);
  }
  const next = frontier.slice();
  const completed: PerfectNode[] = [];
  let h = leaf;
  let level = 0;
  let index = size;
  let rest = size;
  // Each trailing 1-bit of size is a perfect subtree of that level waiting for a right sibling.
  while (rest % 2 === 1) {
    h = nodeHash(next.pop()!, h);
    level++;
    index = Math.floor(index / 2);
    rest = Math.floor(rest / 2);
    completed.push({ level, index, hash: h });
  }
  next.push(h);
  return { frontier: next, size: size + 1, completed };
}

/** Root (MTH) of the tree a frontier describes: right-to-left fold; EMPTY_ROOT for an empty frontier. */
export function rootFromFrontier(frontier: readonly Uint8Array[]): Uint8Array {
  if (frontier.length === 0) return EMPTY_ROOT;
  let h = frontier[frontier.length - 1]!;
  for (let i = frontier.length - 2; i >= 0; i--) h = nodeHash(frontier[i]!, h);
  return h;
}

// ---------------------------------------------------------------------------------------------------
// Verifiers. Never throw: any malformed input (non-32-byte hash, non-array proof, unsafe or negative
// integer, index ≥ size, …) is simply a failed verification.

const isHash = (h: unknown): h is Uint8Array => h instanceof Uint8Array && h.length === HASH_SIZE;
const isProof = (p: unknown): p is Uint8Array[] => Array.isArray(p) && p.every(isHash);
const eqHash = (a: Uint8Array, b: Uint8Array): boolean => {
  let d = 0;
  for (let i = 0; i < HASH_SIZE; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
};

/**
 * Recomputes the root from an inclusion proof (RFC 9162 §2.1.3.2 steps 1–5, without the final compare).
 * Returns null if the proof is malformed or has the wrong length for (index, size).
 */
export function rootFromInclusionProof(
  leaf: Uint8Array,
  index: number,
  size: number,
  proof: readonly Uint8Array[],
): Uint8Array | null {
  try {
    if (!isHash(leaf) || !isCount(index) || !isCount(size) || index >= size || !isProof(proof)) return null;
    let fn = index;
    let sn = size - 1;
    let r = leaf;
    for (const p of proof) {
      if (sn === 0) return null;
      if (fn % 2 === 1 || fn === sn) {
        r = nodeHash(p, r);
        if (fn % 2 === 0) {
          while (fn % 2 === 0 && fn !== 0) {
            fn /= 2;
            sn = Math.floor(sn / 2);
          }
        }
      } else {
        r = nodeHash(r, p);
      }
      fn = Math.floor(fn / 2);
      sn = Math.floor(sn / 2);
    }
    return sn === 0 ? r : null;
  } catch {
    return null;
  }
}

/** RFC 9162 §2.1.3.2: does `proof` show leaf hash `leaf` at `index` in the tree of `size` with `root`? */
export function verifyInclusion(
  leaf: Uint8Array,
  index: number,
  size: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  if (!isHash(root)) return false;
  const r = rootFromInclusionProof(leaf, index, size, proof);
  return r !== null && eqHash(r, root);
}

/**
 * RFC 9162 §2.1.4.2: does `proof` show the tree (size2, root2) extends (size1, root1)?
 * Beyond the RFC's loop: size1 > size2 fails; size1 = size2 succeeds iff the proof is empty and the roots
 * are equal; size1 = 0 always fails (a consistency proof from the empty tree proves nothing, and the
 * project's vectors reject it); every hash, including both roots, must be 32 bytes.
 */
export function verifyConsistency(
  size1: number,
  size2: number,
  proof: readonly Uint8Array[],
  root1: Uint8Array,
  root2: Uint8Array,
): boolean {
  try {
    if (!isCount(size1) || !isCount(size2) || !isProof(proof)) return false;
    if (size1 === 0 || size1 > size2) return false;
    // Equal sizes: consistent iff no proof and the very same root bytes (RFC 9162 §2.1.4.2 step 1, and the
    // transparency-dev vector that uses opaque placeholder roots). Nothing is hashed, so length is moot here.
    if (size1 === size2) {
      return proof.length === 0 && root1 instanceof Uint8Array && root2 instanceof Uint8Array && bytesEqual(root1, root2);
    }
    if (!isHash(root1) || !isHash(root2)) return false;
    // 1. An empty path fails.
    if (proof.length === 0) return false;
    // 2. If first is an exact power of 2, prepend first_hash.
    const path = floorPow2(size1) === size1 ? [root1, ...proof] : proof;
    // 3.–4.
    let fn = size1 - 1;
    let sn = size2 - 1;
    while (fn % 2 === 1) {
      fn = Math.floor(fn / 2);
      sn = Math.floor(sn / 2);
    }
    // 5.
    let fr = path[0]!;
    let sr = path[0]!;
    // 6.
    for (let i = 1; i < path.length; i++) {
      const c = path[i]!;
      if (sn === 0) return false;
      if (fn % 2 === 1 || fn === sn) {
        fr = nodeHash(c, fr);
        sr = nodeHash(c, sr);
        if (fn % 2 === 0) {
          while (fn % 2 === 0 && fn !== 0) {
            fn /= 2;
            sn = Math.floor(sn / 2);
          }
        }
      } else {
        sr = nodeHash(sr, c);
      }
      fn = Math.floor(fn / 2);
      sn = Math.floor(sn / 2);
    }
    // 7.
    return sn === 0 && eqHash(fr, root1) && eqHash(sr, root2);
  } catch {
    return false;
  }
}

/**
 * Recomputes the root from a range proof (algorithm above rangeProof). Returns null if the inputs are
 * malformed or the proof has too few or too many hashes.
 */
export function rootFromRangeProof(
  from: number,
  to: number,
  size: number,
  leafHashes: readonly Uint8Array[],
  proof: readonly Uint8Array[],
): Uint8Array | null {
  try {
    if (!isCount(from) || !isCount(to) || !isCount(size) || from >= to || to > size) return null;
    if (!Array.isArray(leafHashes) || leafHashes.length !== to - from || !leafHashes.every(isHash)) return null;
    if (!isProof(proof) || proof.length > 2 * 64) return null;
    let pos = 0;
    const walk = (lo: number, hi: number): Uint8Array | null => {
      if (hi <= from || lo >= to) return pos < proof.length ? proof[pos++]! : null;
      if (from <= lo && hi <= to) return mth(leafHashes, lo - from, hi - from);
      const k = splitPoint(hi - lo);
      const l = walk(lo, lo + k);
      if (l === null) return null;
      const r = walk(lo + k, hi);
      return r === null ? null : nodeHash(l, r);
    };
    const root = walk(0, size);
    return root !== null && pos === proof.length ? root : null;
  } catch {
    return null;
  }
}

/** Do `leafHashes` (exactly to − from of them) sit at [from, to) in the tree of `size` leaves with `root`? */
export function verifyRange(
  from: number,
  to: number,
  size: number,
  leafHashes: readonly Uint8Array[],
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  if (!isHash(root)) return false;
  const r = rootFromRangeProof(from, to, size, leafHashes, proof);
  return r !== null && eqHash(r, root);
}
