// Idempotency records: written in the same transaction as the write they describe.
import { and, eq, lte, sql } from 'drizzle-orm';
import type { Db } from './db.js';
import { idempotencyRecords } from './schema.js';

export type IdempotencyRecord = typeof idempotencyRecords.$inferSelect;

export class IdempotencyRepo {
  private readonly getStmt;
  private readonly insertStmt;
  constructor(private readonly db: Db) {
    const p = <T>(name: string) => sql.placeholder(name) as unknown as T;
    this.getStmt = db
      .select()
      .from(idempotencyRecords)
      .where(and(eq(idempotencyRecords.tenantId, p('tenantId')), eq(idempotencyRecords.key, p('key'))))
      .prepare();
    this.insertStmt = db
      .insert(idempotencyRecords)
      .values({
        tenantId: p('tenantId'),
        key: p('key'),
        fingerprint: p('fingerprint'),
        status: p('status'),
        responseBody: p('responseBody'),
        createdAt: p('createdAt'),
        expiresAt: p('expiresAt'),
      })
      // An expired record may still sit there until the purge runs: a new use of the key replaces it.
      .onConflictDoUpdate({
        target: [idempotencyRecords.tenantId, idempotencyRecords.key],
        set: {
          fingerprint: sql`excluded.fingerprint`,
          status: sql`excluded.status`,
          responseBody: sql`excluded.response_body`,
          createdAt: sql`excluded.created_at`,
          expiresAt: sql`excluded.expires_at`,
        },
        setWhere: sql`${idempotencyRecords.expiresAt} <= excluded.created_at`,
      })
      .prepare();
  }

  /** The live record for (tenant, key), ignoring expired ones. */
  get(tenantId: string, key: string, now: number): IdempotencyRecord | undefined {
    const r = this.getStmt.get({ tenantId, key });
    return r && r.expiresAt > now ? r : undefined;
  }

  /** Returns false when a live record already holds the key (the caller's transaction must then roll back). */
  insert(r: IdempotencyRecord): boolean {
    return this.insertStmt.run(r).changes === 1;
  }

  purgeExpired(now: number): number {
    return this.db.delete(idempotencyRecords).where(lte(idempotencyRecords.expiresAt, now)).run().changes;
  }
}
