// Payload erasure: nulling an event's payload and salt so their bytes leave the database file, and the erasure rows.
import type Database from 'better-sqlite3';
import type { Db } from './db.js';
import { eventErasures } from './schema.js';
import { rowReader, sqliteOf } from './streams.js';

export type ErasureRow = typeof eventErasures.$inferSelect;

export class ErasuresRepo {
  private readonly sqlite: Database.Database;
  private readonly eraseStmt: Database.Statement;
  private readonly insertStmt: Database.Statement;
  private readonly packsCoveringStmt: Database.Statement;
  private readonly deletePackStmt: Database.Statement;
  private readonly countStmt: Database.Statement;
  private readonly getRow: (eventId: string) => ErasureRow | undefined;
  private readonly byErasureEventRow: (erasureEventId: string) => ErasureRow | undefined;

  constructor(db: Db) {
    this.sqlite = sqliteOf(db);
    // `payload IS NOT NULL` makes the update the arbiter between two erasures of one event: only one changes a row.
    this.eraseStmt = this.sqlite.prepare('UPDATE "events" SET "payload" = NULL, "salt" = NULL WHERE "id" = ? AND "payload" IS NOT NULL');
    this.insertStmt = this.sqlite.prepare(
      'INSERT INTO "event_erasures" ("event_id", "stream_id", "seq_no", "erased_at", "reason", "erasure_event_id", "erased_by_key") VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    this.packsCoveringStmt = this.sqlite.prepare(
      'SELECT "id", "file_path" AS "filePath" FROM "packs" WHERE "stream_id" = ? AND "from_seq_no" <= ? AND "to_seq_no" >= ?',
    );
    this.deletePackStmt = this.sqlite.prepare('DELETE FROM "packs" WHERE "id" = ?');
    this.countStmt = this.sqlite.prepare('SELECT count(*) FROM "event_erasures" WHERE "stream_id" = ? AND "seq_no" BETWEEN ? AND ?').pluck();
    this.getRow = rowReader(this.sqlite, eventErasures, '"event_id" = ?');
    this.byErasureEventRow = rowReader(this.sqlite, eventErasures, '"erasure_event_id" = ?');
  }

  /**
   * Inside the caller's transaction: nulls the event's payload and salt and records the erasure. Returns false (and
   * writes nothing) when the payload was already gone. The UPDATE runs under `secure_delete = ON`, so SQLite zeroes
   * the freed bytes of the row's page and any overflow pages it frees, instead of leaving them as free space (the
   * connection's default, FAST, zeroes in-page space only: see db.ts).
   */
  erase(r: ErasureRow): boolean {
    this.sqlite.pragma('secure_delete = ON');
    try {
      if (this.eraseStmt.run(r.eventId).changes !== 1) return false;
    } finally {
      this.sqlite.pragma('secure_delete = FAST');
    }
    this.insertStmt.run(r.eventId, r.streamId, r.seqNo, r.erasedAt, r.reason, r.erasureEventId, r.erasedByKey);
    return true;
  }

  /** The erasure of an event, if its payload was erased. */
  get(eventId: string): ErasureRow | undefined {
    return this.getRow(eventId);
  }

  /** The erasure an erasure event records, if `eventId` is one. */
  byErasureEvent(eventId: string): ErasureRow | undefined {
    return this.byErasureEventRow(eventId);
  }

  /** How many events of `streamId` with fromSeqNo ≤ seq_no ≤ toSeqNo had their payload erased. */
  countInRange(streamId: string, fromSeqNo: number, toSeqNo: number): number {
    return this.countStmt.get(streamId, fromSeqNo, toSeqNo) as number;
  }

  /** Inside the caller's transaction: deletes the rows of stored packs whose range holds seqNo; returns their files. */
  deletePacksCovering(streamId: string, seqNo: number): Array<{ id: string; filePath: string }> {
    const rows = this.packsCoveringStmt.all(streamId, seqNo, seqNo) as Array<{ id: string; filePath: string }>;
    for (const row of rows) this.deletePackStmt.run(row.id);
    return rows;
  }

  /**
   * Copies the WAL into the database file and truncates the WAL to zero bytes, so the page images that still held an
   * erased payload leave the -wal file too. Returns false when a reader (another connection) kept it from finishing.
   */
  checkpointTruncate(): boolean {
    // TRUNCATE waits for other connections' readers through the busy handler: on the event loop, so not at all here
    // (a `check --deep` beside the server would otherwise hold every request up to busy_timeout).
    const busyTimeout = this.sqlite.pragma('busy_timeout', { simple: true }) as number;
    this.sqlite.pragma('busy_timeout = 0');
    try {
      const [r] = this.sqlite.pragma('wal_checkpoint(TRUNCATE)') as Array<{ busy: number; log: number; checkpointed: number }>;
      return !!r && r.busy === 0;
    } finally {
      this.sqlite.pragma(`busy_timeout = ${busyTimeout}`);
    }
  }
}
