// Windows, checkpoints, and the stored Merkle nodes seen as a NodeSource for the prover.
import type Database from 'better-sqlite3';
import { and, asc, desc, eq, gte, lt, sql } from 'drizzle-orm';
import { MerkleError, type NodeSource } from '../protocol/merkle.js';
import { TILE_BYTES, tileAddress, tileHash } from '../protocol/tiles.js';
import type { Db } from './db.js';
import { merkleNodePos } from './events.js';
import { checkpoints, events, streams, windows } from './schema.js';

export type WindowRow = typeof windows.$inferSelect;
export type CheckpointRow = typeof checkpoints.$inferSelect;
/** A stream's committed head and latest checkpoint (see CheckpointsRepo.published). */
export interface PublishedState {
  streamId: string;
  headSeqNo: number;
  headHash: string;
  checkpointSize: number;
  checkpointRoot: string | null;
}
/** A complete stored tile (layout: src/protocol/tiles.ts). */
export interface TileRow {
  streamId: string;
  tileLevel: number;
  tileIndex: number;
  hashes: Uint8Array;
}

/** Node hashes cached per store (32 B each plus the key). */
const NODE_CACHE_MAX = 200_000;
/** Levels below this are read from SQLite every time (see nodeSource). */
const CACHED_FROM_LEVEL = 10;
/** Tiles of tile level ≥ 1 (levels ≥ 8) cached per store, 16 KiB each: few, and most proofs touch one. */
const TILE_CACHE_MAX = 512;

export class CheckpointsRepo {
  private readonly leafRaw: Database.Statement;
  private readonly nodeRaw: Database.Statement;
  private readonly leafRangeStmt;
  private readonly leafHashRange: Database.Statement;
  /** Immutable once committed, so shared by every request on this store. */
  private readonly nodeCache = new Map<string, Map<number, Uint8Array>>();
  private cached = 0;
  private readonly tileRaw: Database.Statement;
  private readonly tileInsert: Database.Statement;
  private readonly tileCache = new Map<string, Uint8Array>();
  // Prepared once: building these queries per window cost more than running them (sealing runs inside group commits).
  private readonly insertWindowStmt;
  private readonly insertCheckpointStmt;
  private readonly markSealedStmt;
  constructor(private readonly db: Db) {
    const p = <T>(name: string) => sql.placeholder(name) as unknown as T;
    // Raw statements for the prover's point lookups: drizzle's row mapping costs more than the lookup itself.
    const sqlite = (db as Db & { $client: Database.Database }).$client;
    this.leafRaw = sqlite.prepare('SELECT "event_hash" FROM "events" WHERE "stream_id" = ? AND "seq_no" = ?').pluck();
    this.nodeRaw = sqlite.prepare('SELECT "hash" FROM "merkle_nodes" WHERE "stream_id" = ? AND "pos" = ?').pluck();
    this.tileRaw = sqlite
      .prepare('SELECT "hashes" FROM "merkle_tiles" WHERE "stream_id" = ? AND "tile_level" = ? AND "tile_idx" = ?')
      .pluck();
    this.tileInsert = sqlite.prepare(
      'INSERT OR IGNORE INTO "merkle_tiles" ("stream_id", "tile_level", "tile_idx", "hashes") VALUES (?, ?, ?, ?)',
    );
    this.leafHashRange = sqlite
      .prepare('SELECT "event_hash" FROM "events" WHERE "stream_id" = ? AND "seq_no" >= ? AND "seq_no" <= ? ORDER BY "seq_no"')
      .pluck();
    this.insertWindowStmt = db
      .insert(windows)
      .values({
        id: p('id'),
        streamId: p('streamId'),
        fromSeqNo: p('fromSeqNo'),
        toSeqNo: p('toSeqNo'),
        windowRoot: p('windowRoot'),
        checkpointId: p('checkpointId'),
        trigger: p('trigger'),
        sealedAt: p('sealedAt'),
      })
      .prepare();
    this.insertCheckpointStmt = db
      .insert(checkpoints)
      .values({
        id: p('id'),
        streamId: p('streamId'),
        treeSize: p('treeSize'),
        rootHash: p('rootHash'),
        note: p('note'),
        signerVkey: p('signerVkey'),
        windowId: p('windowId'),
        previousCheckpointId: p('previousCheckpointId'),
        createdAt: p('createdAt'),
      })
      .prepare();
    this.markSealedStmt = db
      .update(streams)
      .set({ sealedSeqNo: p('sealedSeqNo'), lastCheckpointId: p('lastCheckpointId') })
      .where(eq(streams.id, p('id')))
      .prepare();
    this.leafRangeStmt = db
      .select({ seqNo: events.seqNo, id: events.id, h: events.eventHash })
      .from(events)
      .where(and(eq(events.streamId, p('s')), gte(events.seqNo, p('from')), sql`${events.seqNo} <= ${p('to')}`))
      .orderBy(asc(events.seqNo))
      .prepare();
  }

  /**
   * The stream's stored tree: level 0 from events.event_hash, higher levels from merkle_nodes. Both are immutable
   * once committed, so hashes are kept in one cache per store (bounded; emptied when full) shared by every
   * request: the upper levels every proof touches stay in memory. Only ever reads committed rows (better-sqlite3
   * is synchronous, so no reader runs inside an open append transaction), hence safe outside a transaction.
   */
  nodeSource(streamId: string): NodeSource {
    let nodes = this.nodeCache.get(streamId);
    if (!nodes) this.nodeCache.set(streamId, (nodes = new Map()));
    const cache = nodes;
    // The tiles this source has looked up (null: not stored): a proof touches one tile per 8 levels.
    const tiles = new Map<number, Uint8Array | null>();
    return {
      get: (level: number, index: number): Uint8Array => {
        // Numeric keys: no string built per lookup (proofs are GC-sensitive at the tail).
        // Only nodes of ≥ 2^CACHED_FROM_LEVEL leaves are cached: every proof touches them, they are few (≈ 2n/1024),
        // so the map stays small and never stalls a request growing.
        const cacheable = level >= CACHED_FROM_LEVEL;
        const k = level * 2 ** 44 + index;
        const hit = cacheable ? cache.get(k) : undefined;
        if (hit) return hit;
        // Below that, a complete tile holds the node with the 509 others of its 8 levels: one read for all of
        // them (a random leaf's ~10 lower levels would otherwise be ~10 reads from as many database pages).
        const a = tileAddress(level, index);
        const tk = a.tileLevel * 2 ** 44 + a.tileIndex;
        let tile = tiles.get(tk);
        if (tile === undefined) tiles.set(tk, (tile = this.tile(streamId, a.tileLevel, a.tileIndex) ?? null));
        let h: Uint8Array | undefined;
        if (tile) h = tileHash(tile, a.slot);
        else if (level === 0) {
          const hex = this.leafRaw.get(streamId, index + 1) as string | undefined;
          h = hex === undefined ? undefined : Buffer.from(hex, 'hex');
        } else {
          const b = this.nodeRaw.get(streamId, merkleNodePos(level, index)) as Buffer | undefined;
          h = b === undefined ? undefined : new Uint8Array(b);
        }
        if (!h) throw new MerkleError('MERKLE_NODE_MISSING', `node ${level}/${index} of ${streamId} is not stored`);
        if (!cacheable) return h;
        if (tile) h = h.slice(); // a cached node must not pin its 16 KiB tile
        if (++this.cached > NODE_CACHE_MAX) {
          // Crude but cheap: start over (the upper levels come back on the next few proofs).
          this.nodeCache.clear();
          this.nodeCache.set(streamId, cache);
          cache.clear();
          this.cached = 1;
        }
        cache.set(k, h);
        return h;
      },
    };
  }

  /** A complete stored tile, or undefined; tiles of tile level ≥ 1 are cached (immutable once written). */
  tile(streamId: string, tileLevel: number, tileIndex: number): Uint8Array | undefined {
    const key = tileLevel >= 1 ? `${streamId}/${tileLevel}/${tileIndex}` : '';
    if (key) {
      const hit = this.tileCache.get(key);
      if (hit) return hit;
    }
    const b = this.tileRaw.get(streamId, tileLevel, tileIndex) as Buffer | undefined;
    // A blob of any other length is not a tile this code wrote: ignore it (the per-node store answers).
    if (!b || b.length !== TILE_BYTES) return undefined;
    if (key) {
      if (this.tileCache.size >= TILE_CACHE_MAX) this.tileCache.clear();
      this.tileCache.set(key, b);
    }
    return b;
  }

  /** Stores finished tiles (a tile already stored is left as it is: its content can only be the same). */
  insertTiles(rows: readonly TileRow[]): void {
    for (const r of rows) this.tileInsert.run(r.streamId, r.tileLevel, r.tileIndex, r.hashes);
  }

  /** Event hashes of seq_no from..to, in order, as bytes (what sealing a window hashes). */
  leafHashes(streamId: string, fromSeqNo: number, toSeqNo: number): Uint8Array[] {
    return (this.leafHashRange.all(streamId, fromSeqNo, toSeqNo) as string[]).map((h) => Buffer.from(h, 'hex'));
  }

  leaves(streamId: string, fromSeqNo: number, toSeqNo: number): { seqNo: number; id: string; h: string }[] {
    return this.leafRangeStmt.all({ s: streamId, from: fromSeqNo, to: toSeqNo });
  }

  insertWindow(w: WindowRow): void {
    this.insertWindowStmt.run(w);
  }

  insertCheckpoint(c: CheckpointRow): void {
    this.insertCheckpointStmt.run(c);
  }

  markSealed(streamId: string, sealedSeqNo: number, lastCheckpointId: string): void {
    this.markSealedStmt.run({ id: streamId, sealedSeqNo, lastCheckpointId });
  }

  /** Streams with events not yet in a window (used at start to resume sealing). */
  unsealedStreams(): { id: string; headSeqNo: number; sealedSeqNo: number }[] {
    return this.db
      .select({ id: streams.id, headSeqNo: streams.headSeqNo, sealedSeqNo: streams.sealedSeqNo })
      .from(streams)
      .where(sql`${streams.headSeqNo} > ${streams.sealedSeqNo}`)
      .all();
  }

  window(id: string): WindowRow | undefined {
    return this.db.select().from(windows).where(eq(windows.id, id)).get();
  }

  checkpoint(id: string): CheckpointRow | undefined {
    return this.db.select().from(checkpoints).where(eq(checkpoints.id, id)).get();
  }

  checkpointAtSize(streamId: string, treeSize: number): CheckpointRow | undefined {
    return this.db
      .select()
      .from(checkpoints)
      .where(and(eq(checkpoints.streamId, streamId), eq(checkpoints.treeSize, treeSize)))
      .get();
  }

  /** The first checkpoint whose tree contains leaf seq_no. */
  firstCovering(streamId: string, seqNo: number): CheckpointRow | undefined {
    return this.db
      .select()
      .from(checkpoints)
      .where(and(eq(checkpoints.streamId, streamId), gte(checkpoints.treeSize, seqNo)))
      .orderBy(asc(checkpoints.treeSize))
      .limit(1)
      .get();
  }

  latest(streamId: string): CheckpointRow | undefined {
    return this.db.select().from(checkpoints).where(eq(checkpoints.streamId, streamId)).orderBy(desc(checkpoints.treeSize)).limit(1).get();
  }

  /**
   * What each stream has published so far, as committed: its head and its latest checkpoint (size 0 and a null root
   * when it has none). The rollback guard's record (src/ledger/rollback-guard.ts); `streamId` narrows it to one.
   */
  published(streamId?: string): PublishedState[] {
    const sqlite = (this.db as Db & { $client: Database.Database }).$client;
    const base =
      'SELECT s."id" AS streamId, s."head_seq_no" AS headSeqNo, s."head_hash" AS headHash, ' +
      'COALESCE(c."tree_size", 0) AS checkpointSize, c."root_hash" AS checkpointRoot ' +
      'FROM "streams" s LEFT JOIN "checkpoints" c ON c."id" = s."last_checkpoint_id"';
    if (streamId === undefined) return (this.publishedAll ??= sqlite.prepare(base)).all() as PublishedState[];
    return (this.publishedOne ??= sqlite.prepare(`${base} WHERE s."id" = ?`)).all(streamId) as PublishedState[];
  }
  private publishedAll: Database.Statement | undefined;
  private publishedOne: Database.Statement | undefined;

  /** The stream head hash stored with event `seqNo` (what a receipt for it carried), or undefined. */
  headHashAt(streamId: string, seqNo: number): string | undefined {
    const sqlite = (this.db as Db & { $client: Database.Database }).$client;
    return sqlite.prepare('SELECT "stream_head_hash" FROM "events" WHERE "stream_id" = ? AND "seq_no" = ?').pluck().get(streamId, seqNo) as
      | string
      | undefined;
  }

  /** Newest first; `beforeSize` is the cursor (exclusive). */
  list(streamId: string, beforeSize: number | undefined, limit: number): CheckpointRow[] {
    const where =
      beforeSize === undefined
        ? eq(checkpoints.streamId, streamId)
        : and(eq(checkpoints.streamId, streamId), lt(checkpoints.treeSize, beforeSize));
    return this.db.select().from(checkpoints).where(where).orderBy(desc(checkpoints.treeSize)).limit(limit).all();
  }
}
