// Witness cosignatures, per-witness progress, and RFC 3161 anchor epochs: the evidence gathered after a
// checkpoint is signed.
import { and, asc, eq, gt, gte, isNull, sql } from 'drizzle-orm';
import type { Db } from './db.js';
import { anchorEpochs, anchorLeaves, checkpoints, cosignatures, evidenceStalls, streams, witnessState } from './schema.js';
import type { CheckpointRow } from './checkpoints.js';
import { onPostgres } from './streams.js';

export type CosignatureRow = typeof cosignatures.$inferSelect;
export type WitnessStateRow = typeof witnessState.$inferSelect;
export type AnchorEpochRow = typeof anchorEpochs.$inferSelect;
export type AnchorLeafRow = typeof anchorLeaves.$inferSelect;

export class EvidenceRepo {
  private readonly pg: boolean;
  constructor(private readonly db: Db) {
    this.pg = onPostgres(db);
  }

  // ---- witnesses ----

  /** Streams whose latest checkpoint is beyond what `witness` has cosigned. */
  streamsBehind(witness: string, limit: number): { streamId: string; cosignedSize: number; latestSize: number }[] {
    return this.db
      .select({
        streamId: streams.id,
        cosignedSize: sql<number>`coalesce(${witnessState.cosignedSize}, 0)`,
        latestSize: checkpoints.treeSize,
      })
      .from(streams)
      .innerJoin(checkpoints, eq(checkpoints.id, streams.lastCheckpointId))
      .leftJoin(witnessState, and(eq(witnessState.streamId, streams.id), eq(witnessState.witness, witness)))
      .where(sql`coalesce(${witnessState.cosignedSize}, 0) < ${checkpoints.treeSize}`)
      .limit(limit)
      .all();
  }

  /** The stream's first checkpoint beyond `size`: the next one to submit to a witness at `size`. */
  nextCheckpoint(streamId: string, size: number): CheckpointRow | undefined {
    return this.db
      .select()
      .from(checkpoints)
      .where(and(eq(checkpoints.streamId, streamId), gt(checkpoints.treeSize, size)))
      .orderBy(asc(checkpoints.treeSize))
      .limit(1)
      .get();
  }

  /** Checkpoints whose tree reaches seq_no `size`, smallest first. */
  coveringCheckpoints(streamId: string, size: number, limit: number): CheckpointRow[] {
    return this.db
      .select()
      .from(checkpoints)
      .where(and(eq(checkpoints.streamId, streamId), gte(checkpoints.treeSize, size)))
      .orderBy(asc(checkpoints.treeSize))
      .limit(limit)
      .all();
  }

  /** What `witness` has cosigned of the streams of one tenant (of one system, when given), at most `limit` of them. */
  witnessStatesOfTenant(witness: string, tenantId: string, systemId: string | undefined, limit: number): WitnessStateRow[] {
    return this.db
      .select({
        witness: witnessState.witness,
        streamId: witnessState.streamId,
        cosignedSize: witnessState.cosignedSize,
        lastSuccessAt: witnessState.lastSuccessAt,
        lastError: witnessState.lastError,
        lastErrorAt: witnessState.lastErrorAt,
      })
      .from(witnessState)
      .innerJoin(streams, eq(streams.id, witnessState.streamId))
      .where(
        and(
          eq(witnessState.witness, witness),
          eq(streams.tenantId, tenantId),
          systemId === undefined ? undefined : eq(streams.systemId, systemId),
        ),
      )
      .orderBy(asc(witnessState.streamId))
      .limit(limit)
      .all();
  }

  /** Records the size the witness is now at (after a cosignature or a 409 telling us) and clears the error. */
  /**
   * How far `witness` is behind: checkpoints it has not cosigned (all streams) and when the oldest of them was
   * signed (null when none). Reads each stream's range past its cosigned size on checkpoints_stream_size.
   */
  witnessLag(witness: string): { checkpoints: number; oldestAt: string | null } {
    const r = this.db
      .select({ n: sql<number>`count(*)`, oldest: sql<string | null>`min(${checkpoints.createdAt})` })
      .from(streams)
      .leftJoin(witnessState, and(eq(witnessState.streamId, streams.id), eq(witnessState.witness, witness)))
      .innerJoin(checkpoints, and(eq(checkpoints.streamId, streams.id), sql`${checkpoints.treeSize} > coalesce(${witnessState.cosignedSize}, 0)`))
      .get();
    return { checkpoints: r?.n ?? 0, oldestAt: r?.oldest ?? null };
  }

  /**
   * Per stream, the oldest checkpoint `witness` has not cosigned, when it was signed before `beforeIso` and its stall
   * was not announced yet (at most `limit` streams).
   */
  witnessStalls(witness: string, beforeIso: string, limit: number): Array<{ streamId: string; checkpointId: string }> {
    if (this.pg) {
      // PostgreSQL has no bare columns in aggregates: DISTINCT ON keeps each stream's row of the smallest size.
      return this.db.all<{ streamId: string; checkpointId: string }>(sql`
        SELECT t."streamId", t."checkpointId" FROM (
          SELECT DISTINCT ON (c.stream_id) c.stream_id AS "streamId", c.id AS "checkpointId", c.created_at AS "createdAt"
          FROM ${checkpoints} c LEFT JOIN ${witnessState} w ON w.stream_id = c.stream_id AND w.witness = ${witness}
          WHERE c.tree_size > coalesce(w.cosigned_size, 0)
          ORDER BY c.stream_id, c.tree_size
        ) t
        WHERE t."createdAt" < ${beforeIso}
          AND NOT EXISTS (SELECT 1 FROM ${evidenceStalls} s WHERE s.checkpoint_id = t."checkpointId" AND s.reason = ${'witness:' + witness})
        LIMIT ${limit}`);
    }
    // (SQLite: the bare columns of a min() aggregate come from the row holding the minimum.)
    return this.db.all<{ streamId: string; checkpointId: string }>(sql`
      SELECT t.streamId, t.checkpointId FROM (
        SELECT c.stream_id AS streamId, c.id AS checkpointId, c.created_at AS createdAt, min(c.tree_size) AS size
        FROM ${checkpoints} c LEFT JOIN ${witnessState} w ON w.stream_id = c.stream_id AND w.witness = ${witness}
        WHERE c.tree_size > coalesce(w.cosigned_size, 0)
        GROUP BY c.stream_id
      ) t
      WHERE t.createdAt < ${beforeIso}
        AND NOT EXISTS (SELECT 1 FROM ${evidenceStalls} s WHERE s.checkpoint_id = t.checkpointId AND s.reason = ${'witness:' + witness})
      LIMIT ${limit}`);
  }

  /**
   * Per stream, the oldest checkpoint in a closed epoch that has had no time-stamp since before `beforeIso`, unless
   * that stall was announced already (at most `limit` streams): one announcement per stream and outage.
   */
  anchorStalls(beforeIso: string, limit: number): Array<{ streamId: string; checkpointId: string }> {
    if (this.pg) {
      return this.db.all<{ streamId: string; checkpointId: string }>(sql`
        SELECT t."streamId", t."checkpointId" FROM (
          SELECT DISTINCT ON (c.stream_id) c.stream_id AS "streamId", c.id AS "checkpointId"
          FROM ${anchorEpochs} e JOIN ${anchorLeaves} l ON l.epoch_id = e.id JOIN ${checkpoints} c ON c.id = l.checkpoint_id
          WHERE e.token IS NULL AND e.created_at < ${beforeIso}
          ORDER BY c.stream_id, c.tree_size
        ) t
        WHERE NOT EXISTS (SELECT 1 FROM ${evidenceStalls} s WHERE s.checkpoint_id = t."checkpointId" AND s.reason = 'anchor')
        LIMIT ${limit}`);
    }
    return this.db.all<{ streamId: string; checkpointId: string }>(sql`
      SELECT t.streamId, t.checkpointId FROM (
        SELECT c.stream_id AS streamId, c.id AS checkpointId, min(c.tree_size) AS size
        FROM ${anchorEpochs} e JOIN ${anchorLeaves} l ON l.epoch_id = e.id JOIN ${checkpoints} c ON c.id = l.checkpoint_id
        WHERE e.token IS NULL AND e.created_at < ${beforeIso}
        GROUP BY c.stream_id
      ) t
      WHERE NOT EXISTS (SELECT 1 FROM ${evidenceStalls} s WHERE s.checkpoint_id = t.checkpointId AND s.reason = 'anchor')
      LIMIT ${limit}`);
  }

  /** Records an announced stall; false when it was recorded already (another pass or process got there first). */
  recordStall(checkpointId: string, reason: string, streamId: string, at: string): boolean {
    return this.db.insert(evidenceStalls).values({ checkpointId, reason, streamId, announcedAt: at }).onConflictDoNothing().run().changes === 1;
  }

  /** Anchor epochs closed but not yet time-stamped: how many, the checkpoints in them, and the oldest one's creation. */
  anchorBacklog(): { epochs: number; checkpoints: number; oldestAt: string | null } {
    const r = this.db
      .select({ n: sql<number>`count(*)`, leaves: sql<number>`coalesce(sum(${anchorEpochs.leafCount}), 0)`, oldest: sql<string | null>`min(${anchorEpochs.createdAt})` })
      .from(anchorEpochs)
      .where(isNull(anchorEpochs.token))
      .get();
    return { epochs: r?.n ?? 0, checkpoints: r?.leaves ?? 0, oldestAt: r?.oldest ?? null };
  }

  setCosignedSize(witness: string, streamId: string, size: number, at: string, success: boolean): void {
    this.db
      .insert(witnessState)
      .values({ witness, streamId, cosignedSize: size, lastSuccessAt: success ? at : null })
      .onConflictDoUpdate({
        target: [witnessState.witness, witnessState.streamId],
        set: success
          ? { cosignedSize: size, lastSuccessAt: at, lastError: null, lastErrorAt: null }
          : { cosignedSize: size },
      })
      .run();
  }

  setWitnessError(witness: string, streamId: string, error: string, at: string): void {
    this.db
      .insert(witnessState)
      .values({ witness, streamId, cosignedSize: 0, lastError: error, lastErrorAt: at })
      .onConflictDoUpdate({ target: [witnessState.witness, witnessState.streamId], set: { lastError: error, lastErrorAt: at } })
      .run();
  }

  insertCosignature(row: CosignatureRow): void {
    this.db.insert(cosignatures).values(row).onConflictDoNothing().run();
  }

  cosignatures(checkpointId: string): CosignatureRow[] {
    return this.db.select().from(cosignatures).where(eq(cosignatures.checkpointId, checkpointId)).orderBy(asc(cosignatures.witness)).all();
  }

  // ---- anchors ----

  /**
   * Checkpoints not yet placed in an anchor epoch, in insertion (rowid) order, only past `afterRowid`: the caller
   * passes the highest rowid it has seen anchored with everything before it, so an epoch reads only new rows
   * instead of anti-joining every checkpoint ever signed (0 scans them all once, e.g. after a restart).
   */
  unanchoredCheckpoints(limit: number, afterRowid = 0): { rowid: number; id: string; note: string }[] {
    return this.db
      .select({ rowid: sql<number>`${checkpoints}.rowid`, id: checkpoints.id, note: checkpoints.note })
      .from(checkpoints)
      .leftJoin(anchorLeaves, eq(anchorLeaves.checkpointId, checkpoints.id))
      .where(and(sql`${checkpoints}.rowid > ${afterRowid}`, isNull(anchorLeaves.checkpointId)))
      .orderBy(sql`${checkpoints}.rowid`)
      .limit(limit)
      .all();
  }

  insertEpoch(epoch: AnchorEpochRow, leaves: AnchorLeafRow[]): void {
    this.db.insert(anchorEpochs).values(epoch).run();
    for (const l of leaves) this.db.insert(anchorLeaves).values(l).run();
  }

  unstampedEpochs(): AnchorEpochRow[] {
    return this.db.select().from(anchorEpochs).where(isNull(anchorEpochs.token)).orderBy(asc(anchorEpochs.createdAt)).all();
  }

  stampEpoch(id: string, token: string, tsaChain: string[], genTime: string, at: string): void {
    this.db.update(anchorEpochs).set({ token, tsaChain, genTime, stampedAt: at, lastError: null }).where(eq(anchorEpochs.id, id)).run();
  }

  epochFailed(id: string, error: string): void {
    this.db
      .update(anchorEpochs)
      .set({ lastError: error, attempts: sql`${anchorEpochs.attempts} + 1` })
      .where(eq(anchorEpochs.id, id))
      .run();
  }

  anchorOf(checkpointId: string): { leaf: AnchorLeafRow; epoch: AnchorEpochRow } | undefined {
    const leaf = this.db.select().from(anchorLeaves).where(eq(anchorLeaves.checkpointId, checkpointId)).get();
    if (!leaf) return undefined;
    const epoch = this.db.select().from(anchorEpochs).where(eq(anchorEpochs.id, leaf.epochId)).get();
    return epoch ? { leaf, epoch } : undefined;
  }

  epochLeaves(epochId: string): AnchorLeafRow[] {
    return this.db.select().from(anchorLeaves).where(eq(anchorLeaves.epochId, epochId)).orderBy(asc(anchorLeaves.leafIndex)).all();
  }
}
