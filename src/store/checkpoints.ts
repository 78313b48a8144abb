// Windows, checkpoints, and the stored Merkle nodes seen as a NodeSource for the prover.
import { and, asc, desc, eq, gte, lt, sql } from 'drizzle-orm';
import { MerkleError, type NodeSource } from '../protocol/merkle.js';
import type { Db } from './db.js';
import { checkpoints, events, merkleNodes, streams, windows } from './schema.js';

export type WindowRow = typeof windows.$inferSelect;
export type CheckpointRow = typeof checkpoints.$inferSelect;

export class CheckpointsRepo {
  private readonly leafStmt;
  private readonly nodeStmt;
  private readonly leafRangeStmt;
  constructor(private readonly db: Db) {
    const p = <T>(name: string) => sql.placeholder(name) as unknown as T;
    this.leafStmt = db
      .select({ h: events.eventHash })
      .from(events)
      .where(and(eq(events.streamId, p('s')), eq(events.seqNo, p('q'))))
      .prepare();
    this.nodeStmt = db
      .select({ h: merkleNodes.hash })
      .from(merkleNodes)
      .where(and(eq(merkleNodes.streamId, p('s')), eq(merkleNodes.level, p('l')), eq(merkleNodes.idx, p('i'))))
      .prepare();
    this.leafRangeStmt = db
      .select({ seqNo: events.seqNo, id: events.id, h: events.eventHash })
      .from(events)
      .where(and(eq(events.streamId, p('s')), gte(events.seqNo, p('from')), sql`${events.seqNo} <= ${p('to')}`))
      .orderBy(asc(events.seqNo))
      .prepare();
  }

  /**
   * The stream's stored tree: level 0 from events.event_hash, higher levels from merkle_nodes. Memoized per
   * instance, so one request's proofs share lookups. Only ever reads, so it is safe outside a transaction:
   * perfect nodes never change once written.
   */
  nodeSource(streamId: string): NodeSource {
    const memo = new Map<number, Uint8Array>();
    return {
      get: (level: number, index: number): Uint8Array => {
        const k = level * 2 ** 40 + index;
        const hit = memo.get(k);
        if (hit) return hit;
        let h: Uint8Array | undefined;
        if (level === 0) {
          const r = this.leafStmt.get({ s: streamId, q: index + 1 });
          h = r ? Buffer.from(r.h, 'hex') : undefined;
        } else {
          const r = this.nodeStmt.get({ s: streamId, l: level, i: index });
          h = r ? new Uint8Array(r.h) : undefined;
        }
        if (!h) throw new MerkleError('MERKLE_NODE_MISSING', `node ${level}/${index} of ${streamId} is not stored`);
        memo.set(k, h);
        return h;
      },
    };
  }

  leaves(streamId: string, fromSeqNo: number, toSeqNo: number): { seqNo: number; id: string; h: string }[] {
    return this.leafRangeStmt.all({ s: streamId, from: fromSeqNo, to: toSeqNo });
  }

  insertWindow(w: WindowRow): void {
    this.db.insert(windows).values(w).run();
  }

  insertCheckpoint(c: CheckpointRow): void {
    this.db.insert(checkpoints).values(c).run();
  }

  markSealed(streamId: string, sealedSeqNo: number, lastCheckpointId: string): void {
    this.db.update(streams).set({ sealedSeqNo, lastCheckpointId }).where(eq(streams.id, streamId)).run();
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

  /** Newest first; `beforeSize` is the cursor (exclusive). */
  list(streamId: string, beforeSize: number | undefined, limit: number): CheckpointRow[] {
    const where =
      beforeSize === undefined
        ? eq(checkpoints.streamId, streamId)
        : and(eq(checkpoints.streamId, streamId), lt(checkpoints.treeSize, beforeSize));
    return this.db.select().from(checkpoints).where(where).orderBy(desc(checkpoints.treeSize)).limit(limit).all();
  }
}
