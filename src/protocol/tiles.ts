// Stored tiles: the layout the ledger keeps complete parts of a stream's Merkle tree in, so that a proof reads one
// blob per 8 tree levels instead of one row per level. Pure layout math and an incremental builder; no I/O.
//
// As in C2SP tlog-tiles, tile (T, k) is the perfect subtree whose leaves are the tree-level-8T hashes with indices
// [256k, 256k + 256). Unlike a tlog-tiles tile, which holds only those 256 hashes (a reader re-hashes the inner
// levels), a stored tile also holds its inner levels, so no proof ever hashes to read a node:
//
//   levels 8T, 8T+1, …, 8T+7 of that subtree, level by level, each left to right:
//   256 + 128 + 64 + 32 + 16 + 8 + 4 + 2 = 510 hashes = 16,320 bytes.
//
// The tile's own root (level 8T+8) is one of the 256 hashes of tile (T+1, ⌊k/256⌋). Only complete tiles are
// stored; the right edge of a tree is read node by node. Tiles are derived data (every hash in them is also in the
// per-node store), so a missing tile only costs speed.
//
// Browser-safe: no Node-only imports.
import { HASH_SIZE } from './merkle.js';

/** Tree levels per tile. */
export const TILE_HEIGHT = 8;
/** Hashes on a tile's bottom level. */
export const TILE_WIDTH = 256;
/** Hashes in a stored tile (levels 0..7 of its 256-wide subtree). */
export const TILE_HASHES = 2 * TILE_WIDTH - 2;
/** Bytes in a stored tile. */
export const TILE_BYTES = TILE_HASHES * HASH_SIZE;

/** Position, in hashes, of relative level r (0..7) inside a stored tile: 256 + 128 + … of the levels below it. */
export function tileLevelOffset(r: number): number {
  return 2 * TILE_WIDTH - 2 * (TILE_WIDTH / 2 ** r);
}

/** Where stored node (level, index) sits: tile (tileLevel, tileIndex), `slot` hashes into its blob. */
export interface TileAddress {
  tileLevel: number;
  tileIndex: number;
  slot: number;
}

/** Tile address of node (level, index) of the tree (index counts nodes of that level from the left). */
export function tileAddress(level: number, index: number): TileAddress {
  const tileLevel = Math.floor(level / TILE_HEIGHT);
  const r = level - tileLevel * TILE_HEIGHT;
  const width = TILE_WIDTH / 2 ** r; // nodes of relative level r in one tile
  const tileIndex = Math.floor(index / width);
  return { tileLevel, tileIndex, slot: tileLevelOffset(r) + (index - tileIndex * width) };
}

/**
 * Builds the tiles of one tile level from its level-8T hashes, pushed in order from a tile boundary. `push`
 * returns the finished tile (its 510 hashes) when the 256th hash of a tile arrives, with the tile's root (a
 * level-8T+8 hash, what the builder of tile level T+1 is fed). `hashNode` must compute RFC 9162
 * SHA-256(0x01 ‖ left ‖ right); the ledger passes a native one.
 */
export class TileBuilder {
  private blob: Uint8Array | null = null;
  private count = 0;
  private readonly stack: Uint8Array[] = [];

  constructor(private readonly hashNode: (left: Uint8Array, right: Uint8Array) => Uint8Array) {}

  push(hash: Uint8Array): { tile: Uint8Array; root: Uint8Array } | null {
    const blob = (this.blob ??= new Uint8Array(TILE_BYTES));
    const i = this.count;
    blob.set(hash, i * HASH_SIZE);
    let node = hash;
    let r = 0;
    // i's trailing one bits are the perfect subtrees this hash completes (as in an RFC 9162 frontier).
    for (let j = i; j % 2 === 1; j = (j - 1) / 2) {
      node = this.hashNode(this.stack.pop()!, node);
      r++;
      if (r < TILE_HEIGHT) blob.set(node, (tileLevelOffset(r) + Math.floor(i / 2 ** r)) * HASH_SIZE);
    }
    this.count++;
    if (this.count < TILE_WIDTH) {
      this.stack.push(node);
      return null;
    }
    this.blob = null;
    this.count = 0;
    return { tile: blob, root: node };
  }
}

/** The hash in `slot` of a stored tile blob (a view, not a copy). */
export function tileHash(blob: Uint8Array, slot: number): Uint8Array {
  return blob.subarray(slot * HASH_SIZE, (slot + 1) * HASH_SIZE);
}
