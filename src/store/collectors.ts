// Collector keys and the items accepted from them (src/cicd/collectors.ts, docs/cicd.md "Collector batches").
import { and, asc, eq, inArray } from 'drizzle-orm';
import type { Db } from './db.js';
import { collectorItems, collectorKeys } from './schema.js';

export type CollectorKeyRow = typeof collectorKeys.$inferSelect;
export type CollectorItemRow = typeof collectorItems.$inferSelect;

export class CollectorsRepo {
  constructor(private readonly db: Db) {}

  /** false when the tenant registered this key already. */
  insertKey(row: CollectorKeyRow): boolean {
    return this.db.insert(collectorKeys).values(row).onConflictDoNothing().run().changes === 1;
  }

  key(tenantId: string, keyId: string): CollectorKeyRow | undefined {
    return this.db.select().from(collectorKeys).where(and(eq(collectorKeys.tenantId, tenantId), eq(collectorKeys.keyId, keyId))).get();
  }

  /** Oldest first; revoked keys included. `tenantId` undefined: every tenant's. */
  listKeys(tenantId: string | undefined, limit: number): CollectorKeyRow[] {
    const q = this.db.select().from(collectorKeys);
    return (tenantId === undefined ? q : q.where(eq(collectorKeys.tenantId, tenantId)))
      .orderBy(asc(collectorKeys.createdAt), asc(collectorKeys.keyId))
      .limit(limit)
      .all();
  }

  /** Every tenant's row of this key id (the CLI revokes by key id alone when it is unambiguous). */
  keysById(keyId: string): CollectorKeyRow[] {
    return this.db.select().from(collectorKeys).where(eq(collectorKeys.keyId, keyId)).all();
  }

  /** Sets revoked_at once; a revoked key keeps its first revocation time. */
  revokeKey(tenantId: string, keyId: string, at: string): void {
    this.db
      .update(collectorKeys)
      .set({ revokedAt: at })
      .where(and(eq(collectorKeys.tenantId, tenantId), eq(collectorKeys.keyId, keyId)))
      .run();
  }

  /** The accepted items among `itemIds` of one key. */
  items(tenantId: string, keyId: string, itemIds: readonly string[]): CollectorItemRow[] {
    if (itemIds.length === 0) return [];
    return this.db
      .select()
      .from(collectorItems)
      .where(and(eq(collectorItems.tenantId, tenantId), eq(collectorItems.keyId, keyId), inArray(collectorItems.itemId, [...itemIds])))
      .all();
  }

  /** Throws SQLITE_CONSTRAINT_PRIMARYKEY when the item was accepted meanwhile (the batch then rolls back whole). */
  insertItem(row: CollectorItemRow): void {
    this.db.insert(collectorItems).values(row).run();
  }
}
