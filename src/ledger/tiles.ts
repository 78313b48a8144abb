// Builds the stored tiles (src/protocol/tiles.ts) of every stream from the leaves each commit hands over, in
// memory; the sealer writes the finished ones in its own transaction. Tiles are derived data: a tile that is never
// built (a restart mid-tile, a stream pushed out of the bounded working set) only leaves its proofs to the slower
// per-node reads, so nothing here is on the durability path.
import { TILE_WIDTH, TileBuilder } from '../protocol/tiles.js';
import type { TileRow } from '../store/checkpoints.js';
import { nodeHash } from '../protocol/merkle.js';

/** Streams with a tile in progress kept at once (each holds up to one 16 KiB tile per tile level). */
const MAX_STREAMS = 1024;
/** Finished tiles waiting for a sealing transaction; past this the oldest are dropped (they stay unbuilt). */
const MAX_PENDING = 1024;

interface StreamTiles {
  /** seq_no the next leaf must carry */
  next: number;
  /** builders for tile levels 0, 1, …, and the index of the tile each is filling */
  levels: { builder: TileBuilder; tileIndex: number }[];
}

export class TileFolder {
  private readonly streams = new Map<string, StreamTiles>();
  private pending: TileRow[] = [];
  readonly stats = { built: 0, dropped: 0 };

  /** The leaves a commit added to a stream, first one at `firstSeqNo` (leaf index firstSeqNo − 1). */
  feed(streamId: string, firstSeqNo: number, leaves: readonly Uint8Array[]): void {
    if (leaves.length === 0) return;
    let st = this.streams.get(streamId);
    if (st) this.streams.delete(streamId); // re-inserted below: Map order is least recently fed first
    if (st && st.next !== firstSeqNo) st = undefined; // a gap (should not happen): start over at a tile boundary
    let i = 0;
    if (!st) {
      // Start only at a tile boundary: leaf index ≡ 0 (mod 256).
      const skip = (TILE_WIDTH - ((firstSeqNo - 1) % TILE_WIDTH)) % TILE_WIDTH;
      if (skip >= leaves.length) return;
      i = skip;
      st = { next: firstSeqNo + skip, levels: [{ builder: new TileBuilder(nodeHash), tileIndex: (firstSeqNo + skip - 1) / TILE_WIDTH }] };
    }
    for (; i < leaves.length; i++) {
      this.push(streamId, st, 0, leaves[i]!);
      st.next++;
    }
    this.streams.set(streamId, st);
    if (this.streams.size > MAX_STREAMS) this.streams.delete(this.streams.keys().next().value!);
  }

  private push(streamId: string, st: StreamTiles, t: number, hash: Uint8Array): void {
    const lvl = st.levels[t]!;
    const done = lvl.builder.push(hash);
    if (!done) return;
    this.pending.push({ streamId, tileLevel: t, tileIndex: lvl.tileIndex, hashes: done.tile });
    this.stats.built++;
    if (this.pending.length > MAX_PENDING) {
      this.pending.shift();
      this.stats.dropped++;
    }
    lvl.tileIndex++;
    // The finished tile's root is the next hash one tile level up; that level starts only at its own boundary.
    let up = st.levels[t + 1];
    if (!up) {
      if ((lvl.tileIndex - 1) % TILE_WIDTH !== 0) return;
      up = { builder: new TileBuilder(nodeHash), tileIndex: (lvl.tileIndex - 1) / TILE_WIDTH };
      st.levels.push(up);
    }
    this.push(streamId, st, t + 1, done.root);
  }

  /** Finished tiles not yet written; the caller writes them (or drops them: they are only a speed-up). */
  take(): TileRow[] {
    const out = this.pending;
    this.pending = [];
    return out;
  }
}
