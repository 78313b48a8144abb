// Tenants, systems and API keys.
import { and, eq, inArray, isNull } from 'drizzle-orm';
import type { Db } from './db.js';
import { apiKeys, systems, tenants } from './schema.js';
import { rowReader, sqliteOf } from './streams.js';

export type Tenant = typeof tenants.$inferSelect;
export type System = typeof systems.$inferSelect;
export type ApiKeyRow = typeof apiKeys.$inferSelect;

export class TenancyRepo {
  private readonly byHash: (keyHash: string) => ApiKeyRow | undefined;
  constructor(private readonly db: Db) {
    this.byHash = rowReader(sqliteOf(db), apiKeys, '"key_hash" = ? AND "revoked_at" IS NULL');
  }

  tenantByName(name: string): Tenant | undefined {
    return this.db.select().from(tenants).where(eq(tenants.name, name)).get();
  }

  insertTenant(t: Tenant): void {
    this.db.insert(tenants).values(t).run();
  }

  systemByName(tenantId: string, name: string): System | undefined {
    return this.db.select().from(systems).where(and(eq(systems.tenantId, tenantId), eq(systems.name, name))).get();
  }

  systemById(id: string): System | undefined {
    return this.db.select().from(systems).where(eq(systems.id, id)).get();
  }

  insertSystem(s: System): void {
    this.db.insert(systems).values(s).run();
  }

  insertApiKey(k: ApiKeyRow): void {
    this.db.insert(apiKeys).values(k).run();
  }

  activeKeyByHash(keyHash: string): ApiKeyRow | undefined {
    return this.byHash(keyHash);
  }

  /** The key with this hash, revoked or not (key_hash is unique over every row ever made). */
  keyByHash(keyHash: string): ApiKeyRow | undefined {
    return this.db.select().from(apiKeys).where(eq(apiKeys.keyHash, keyHash)).get();
  }

  /** Keys installed from PROOFSTREAM_BOOTSTRAP_KEY that still authenticate. */
  activeBootstrapKeys(): ApiKeyRow[] {
    return this.db.select().from(apiKeys).where(and(eq(apiKeys.bootstrap, true), isNull(apiKeys.revokedAt))).all();
  }

  revokeKeys(ids: readonly string[], revokedAt: string): void {
    if (ids.length) this.db.update(apiKeys).set({ revokedAt }).where(inArray(apiKeys.id, [...ids])).run();
  }

  /** Makes a bootstrap key an earlier start retired authenticate again. */
  reinstateAsBootstrap(id: string): void {
    this.db.update(apiKeys).set({ revokedAt: null }).where(and(eq(apiKeys.id, id), eq(apiKeys.bootstrap, true))).run();
  }

  hasAnyKey(): boolean {
    return this.db.select({ id: apiKeys.id }).from(apiKeys).limit(1).get() !== undefined;
  }
}
