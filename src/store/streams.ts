// Streams and their heads.
import { and, desc, eq, gt, or, sql } from 'drizzle-orm';
import type { Db } from './db.js';
import { streams } from './schema.js';

export type StreamRow = typeof streams.$inferSelect;

export interface StreamHead {
  seqNo: number;
  headHash: string;
  lastEventHash: string;
  frontier: Buffer;
}

export class StreamsRepo {
  private readonly headStmt;
  private readonly saveHeadStmt;
  private readonly getStmt;
  constructor(private readonly db: Db) {
    this.getStmt = db.select().from(streams).where(eq(streams.id, sql.placeholder('id'))).prepare();
    this.headStmt = db
      .select({
        seqNo: streams.headSeqNo,
        headHash: streams.headHash,
        lastEventHash: streams.lastEventHash,
        frontier: streams.frontier,
      })
      .from(streams)
      .where(eq(streams.id, sql.placeholder('id')))
      .prepare();
    this.saveHeadStmt = db
      .update(streams)
      .set({
        headSeqNo: sql.placeholder('seqNo') as unknown as number,
        headHash: sql.placeholder('headHash') as unknown as string,
        lastEventHash: sql.placeholder('lastEventHash') as unknown as string,
        frontier: sql.placeholder('frontier') as unknown as Buffer,
      })
      .where(eq(streams.id, sql.placeholder('id')))
      .prepare();
  }

  insert(row: StreamRow): void {
    this.db.insert(streams).values(row).run();
  }

  get(id: string): StreamRow | undefined {
    return this.getStmt.get({ id });
  }

  /** Newest first is what dashboards want; we page oldest first so a cursor never skips a stream created meanwhile. */
  list(tenantId: string, after: { createdAt: string; id: string } | undefined, limit: number): StreamRow[] {
    const where = after
      ? and(
          eq(streams.tenantId, tenantId),
          or(gt(streams.createdAt, after.createdAt), and(eq(streams.createdAt, after.createdAt), gt(streams.id, after.id))),
        )
      : eq(streams.tenantId, tenantId);
    return this.db.select().from(streams).where(where).orderBy(streams.createdAt, streams.id).limit(limit).all();
  }

  v1StreamFor(systemId: string): StreamRow | undefined {
    return this.db
      .select()
      .from(streams)
      .where(and(eq(streams.systemId, systemId), eq(streams.kind, 'v1')))
      .orderBy(desc(streams.createdAt))
      .get();
  }

  head(id: string): StreamHead | undefined {
    return this.headStmt.get({ id });
  }

  saveHead(id: string, h: StreamHead): void {
    this.saveHeadStmt.run({ id, ...h });
  }
}
