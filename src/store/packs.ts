// Audit packs: the pack rows, and the keyset-paged event reads the pack builder streams from.
import { and, asc, eq, gte, lt, sql } from 'drizzle-orm';
import type { Db } from './db.js';
import { events, packs } from './schema.js';
import type { EventRow } from './events.js';

export type PackRow = typeof packs.$inferSelect;

export class PacksRepo {
  private readonly pageStmt;
  private readonly eventAtStmt;
  private readonly getStmt;

  constructor(private readonly db: Db) {
    const p = <T>(name: string) => sql.placeholder(name) as unknown as T;
    // Keyset page on the (stream_id, seq_no) unique index: cost is per page, never per offset.
    this.pageStmt = db
      .select()
      .from(events)
      .where(and(eq(events.streamId, p('s')), gte(events.seqNo, p('from')), sql`${events.seqNo} <= ${p('to')}`))
      .orderBy(asc(events.seqNo))
      .limit(p('limit'))
      .prepare();
    this.eventAtStmt = db
      .select()
      .from(events)
      .where(and(eq(events.streamId, p('s')), eq(events.seqNo, p('q'))))
      .prepare();
    this.getStmt = db.select().from(packs).where(eq(packs.id, p('id'))).prepare();
  }

  /** Packs created before `createdBefore` (ISO time), oldest first, at most `limit`. */
  createdBefore(createdBefore: string, limit: number): PackRow[] {
    return this.db.select().from(packs).where(lt(packs.createdAt, createdBefore)).orderBy(asc(packs.createdAt)).limit(limit).all();
  }

  delete(id: string): void {
    this.db.delete(packs).where(eq(packs.id, id)).run();
  }

  /** The file paths (relative to the data directory) of every stored pack. */
  filePaths(): Set<string> {
    return new Set(this.db.select({ f: packs.filePath }).from(packs).all().map((r) => r.f));
  }

  /** Events of one stream with fromSeqNo ≤ seq_no ≤ toSeqNo, in order, at most `limit` of them. */
  eventsPage(streamId: string, fromSeqNo: number, toSeqNo: number, limit: number): EventRow[] {
    return this.pageStmt.all({ s: streamId, from: fromSeqNo, to: toSeqNo, limit });
  }

  eventAt(streamId: string, seqNo: number): EventRow | undefined {
    return this.eventAtStmt.get({ s: streamId, q: seqNo });
  }

  insert(row: PackRow): void {
    this.db.insert(packs).values(row).run();
  }

  get(id: string): PackRow | undefined {
    return this.getStmt.get({ id });
  }
}
