// Streams and their heads.
import type Database from 'better-sqlite3';
import { and, Column as DrizzleColumn, desc, eq, getTableColumns, getTableName, gt, or, type Column, type Table } from 'drizzle-orm';
import type { Db } from './db.js';
import { streams } from './schema.js';
import { PgDatabase } from './pg/database.js';

/** The better-sqlite3 connection under a drizzle handle (drizzle() sets $client; the Db type does not declare it). */
export const sqliteOf = (db: Db): Database.Database => (db as Db & { $client: Database.Database }).$client;

/** Whether the connection is PostgreSQL's (src/store/pg/database.ts): for the few queries whose SQL must differ. */
export const onPostgres = (db: Db): boolean => (sqliteOf(db) as unknown) instanceof PgDatabase;

/**
 * A prepared `SELECT <every column> FROM <table> WHERE <where>` on the raw better-sqlite3 connection that maps rows
 * exactly as drizzle does (each non-null value through its column's mapFromDriverValue: JSON columns parsed,
 * blobs as Buffers), minus drizzle's per-row query-builder overhead. The column list comes from the drizzle
 * table, so a column added to the schema is picked up here too. Used by the per-request lookups on the hot path.
 */
const identity = DrizzleColumn.prototype.mapFromDriverValue;

export function rowReader<T extends Table>(sqlite: Database.Database, table: T, where: string) {
  const cols = Object.entries(getTableColumns(table)) as Array<[string, Column]>;
  const names = cols.map(([k]) => k);
  // Columns whose mapFromDriverValue is the base class's identity need no call (most text and integer columns).
  const decoders = cols.map(([, c]) => (c.mapFromDriverValue === identity ? undefined : c));
  const stmt = sqlite
    .prepare(`SELECT ${cols.map(([, c]) => `"${c.name}"`).join(', ')} FROM "${getTableName(table)}" WHERE ${where}`)
    .raw(true);
  return (...params: unknown[]): T['$inferSelect'] | undefined => {
    const r = stmt.get(...params) as unknown[] | undefined;
    if (!r) return undefined;
    const o: Record<string, unknown> = {};
    for (let i = 0; i < names.length; i++) {
      const v = r[i];
      const d = decoders[i];
      o[names[i]!] = v === null || d === undefined ? v : d.mapFromDriverValue(v);
    }
    return o as T['$inferSelect'];
  };
}

export type StreamRow = typeof streams.$inferSelect;

export interface StreamOwner {
  tenantId: string;
  systemId: string;
}

export interface StreamHead {
  seqNo: number;
  headHash: string;
  lastEventHash: string;
  frontier: Buffer;
}

export class StreamsRepo {
  private readonly headStmt: Database.Statement;
  private readonly saveHeadStmt: Database.Statement;
  private readonly getRow: (id: string) => StreamRow | undefined;
  private readonly tenantStmt: Database.Statement;
  /** stream id → owner: a stream never changes tenant or system and is never deleted, so this never goes stale */
  private readonly owners = new Map<string, StreamOwner>();
  constructor(private readonly db: Db) {
    // Raw statements: get/head/saveHead run on every append.
    const sqlite = sqliteOf(db);
    this.getRow = rowReader(sqlite, streams, '"id" = ?');
    this.tenantStmt = sqlite.prepare('SELECT "tenant_id", "system_id" FROM "streams" WHERE "id" = ?').raw(true);
    this.headStmt = sqlite.prepare('SELECT "head_seq_no", "head_hash", "last_event_hash", "frontier" FROM "streams" WHERE "id" = ?').raw(true);
    this.saveHeadStmt = sqlite.prepare(
      'UPDATE "streams" SET "head_seq_no" = ?, "head_hash" = ?, "last_event_hash" = ?, "frontier" = ? WHERE "id" = ?',
    );
  }

  insert(row: StreamRow): void {
    this.db.insert(streams).values(row).run();
  }

  get(id: string): StreamRow | undefined {
    return this.getRow(id);
  }

  /**
   * The owning tenant and system of a stream (undefined if there is none), from memory after the first lookup: the
   * cheap ownership check for the append path, which does not need the rest of the row.
   */
  ownerOf(id: string): StreamOwner | undefined {
    let o = this.owners.get(id);
    if (o === undefined) {
      const r = this.tenantStmt.get(id) as [string, string] | undefined;
      if (r !== undefined) {
        o = { tenantId: r[0], systemId: r[1] };
        if (this.owners.size >= 100_000) this.owners.clear();
        this.owners.set(id, o);
      }
    }
    return o;
  }

  /** Newest first is what dashboards want; we page oldest first so a cursor never skips a stream created meanwhile. */
  list(tenantId: string, after: { createdAt: string; id: string } | undefined, limit: number, systemId?: string): StreamRow[] {
    const where = and(
      eq(streams.tenantId, tenantId),
      systemId === undefined ? undefined : eq(streams.systemId, systemId),
      after ? or(gt(streams.createdAt, after.createdAt), and(eq(streams.createdAt, after.createdAt), gt(streams.id, after.id))) : undefined,
    );
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
    const r = this.headStmt.get(id) as [number, string, string, Buffer] | undefined;
    return r && { seqNo: r[0], headHash: r[1], lastEventHash: r[2], frontier: r[3] };
  }

  saveHead(id: string, h: StreamHead): void {
    this.saveHeadStmt.run(h.seqNo, h.headHash, h.lastEventHash, h.frontier, id);
  }
}
