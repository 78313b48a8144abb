// Events (the leaves) and the Merkle nodes above them.
import type Database from 'better-sqlite3';
import { and, asc, eq, gte } from 'drizzle-orm';
import type { Db } from './db.js';
import { events } from './schema.js';
import { rowReader, sqliteOf } from './streams.js';

export type EventRow = typeof events.$inferSelect;
/** A row without its payload and salt: what an event hash can be recomputed from (the commitment stands for them). */
export type EventEntryRow = Omit<EventRow, 'payload' | 'salt'>;

/**
 * The key of Merkle node (level ≥ 1, idx) in merkle_nodes: (index of the last leaf it covers) × 64 + level. The
 * appender creates the nodes of leaf L right after L, bottom up, so keys only grow within a stream: a flush's nodes
 * are appended at one right edge. Exact below 2^53 (leaf indexes below 2^47). Migration 0017 computes the same in SQL.
 */
export function merkleNodePos(level: number, idx: number): number {
  return ((idx + 1) * 2 ** level - 1) * 64 + level;
}

/**
 * How to run a write whose result is never read: better-sqlite3's run(), or on PostgreSQL runDeferred() (queued
 * inside a transaction and sent with the next statement, src/store/pg/database.ts). Chosen once per statement.
 */
export function deferredRun(s: Database.Statement): (...params: unknown[]) => unknown {
  const deferred = (s as Database.Statement & { runDeferred?: (...p: unknown[]) => void }).runDeferred;
  return deferred ? deferred.bind(s) : s.run.bind(s);
}

export class EventsRepo {
  // Raw better-sqlite3 statements: these run once per appended event (insert, insertNode) or per receipt read.
  private readonly insertStmt: Database.Statement;
  private readonly insertNodeStmt: Database.Statement;
  private readonly getRow: (id: string) => EventRow | undefined;
  private readonly entriesStmt: Database.Statement;
  /**
   * The two inserts above, as the connection runs them best: better-sqlite3's run(), or on PostgreSQL runDeferred(),
   * which sends a flush's inserts together (src/store/pg/database.ts). Chosen once, so SQLite's path is unchanged.
   */
  private readonly insertRun: (...params: unknown[]) => unknown;
  private readonly insertNodeRun: (...params: unknown[]) => unknown;
  constructor(private readonly db: Db) {
    const sqlite = sqliteOf(db);
    this.insertStmt = sqlite.prepare(
      'INSERT INTO "events" ("id", "stream_id", "seq_no", "source_ref", "event_type", "occurred_at", "received_at", "payload", "salt", ' +
        '"payload_commitment", "event_hash", "previous_event_hash", "stream_head_hash", "protocol", "kid", "signature") ' +
        'VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.insertNodeStmt = sqlite.prepare('INSERT INTO "merkle_nodes" ("stream_id", "pos", "level", "idx", "hash") VALUES (?, ?, ?, ?, ?)');
    this.insertRun = deferredRun(this.insertStmt);
    this.insertNodeRun = deferredRun(this.insertNodeStmt);
    this.getRow = rowReader(sqlite, events, '"id" = ?');
    this.entriesStmt = sqlite.prepare(
      'SELECT "id", "stream_id" AS "streamId", "seq_no" AS "seqNo", "source_ref" AS "sourceRef", "event_type" AS "eventType", ' +
        '"occurred_at" AS "occurredAt", "received_at" AS "receivedAt", "payload_commitment" AS "payloadCommitment", ' +
        '"event_hash" AS "eventHash", "previous_event_hash" AS "previousEventHash", "stream_head_hash" AS "streamHeadHash", ' +
        '"protocol", "kid", "signature" FROM "events" WHERE "stream_id" = ? AND "seq_no" >= ? AND "seq_no" <= ? ORDER BY "seq_no"',
    );
  }

  insert(r: EventRow): void {
    this.insertRun(
      r.id,
      r.streamId,
      r.seqNo,
      r.sourceRef,
      r.eventType,
      r.occurredAt,
      r.receivedAt,
      r.payload,
      r.salt,
      r.payloadCommitment,
      r.eventHash,
      r.previousEventHash,
      r.streamHeadHash,
      r.protocol,
      r.kid,
      r.signature,
    );
  }

  insertNode(streamId: string, level: number, idx: number, hash: Uint8Array): void {
    this.insertNodeRun(streamId, merkleNodePos(level, idx), level, idx, Buffer.from(hash.buffer, hash.byteOffset, hash.byteLength));
  }

  get(id: string): EventRow | undefined {
    return this.getRow(id);
  }

  /** Events fromSeqNo..toSeqNo of a stream in order, without payloads (which can be large and are not needed). */
  entries(streamId: string, fromSeqNo: number, toSeqNo: number): EventEntryRow[] {
    return this.entriesStmt.all(streamId, fromSeqNo, toSeqNo) as EventEntryRow[];
  }

  list(streamId: string, fromSeqNo: number, limit: number): EventRow[] {
    return this.db
      .select()
      .from(events)
      .where(and(eq(events.streamId, streamId), gte(events.seqNo, fromSeqNo)))
      .orderBy(asc(events.seqNo))
      .limit(limit)
      .all();
  }
}
