// Tenants, systems and API keys.
import { and, asc, eq, inArray, isNull } from 'drizzle-orm';
import type Database from 'better-sqlite3';
import type { Db } from './db.js';
import { apiKeys, systems, tenants } from './schema.js';
import { rowReader, sqliteOf } from './streams.js';

export type Tenant = typeof tenants.$inferSelect;
export type System = typeof systems.$inferSelect;
export type ApiKeyRow = typeof apiKeys.$inferSelect;

export type ApiKeyListing = ApiKeyRow & { tenantName: string; systemName: string };

export class TenancyRepo {
  private readonly byHash: (keyHash: string) => ApiKeyRow | undefined;
  private readonly dataVersionStmt: Database.Statement;
  constructor(private readonly db: Db) {
    const sqlite = sqliteOf(db);
    this.byHash = rowReader(sqlite, apiKeys, '"key_hash" = ? AND "revoked_at" IS NULL');
    this.dataVersionStmt = sqlite.prepare('PRAGMA data_version').pluck();
  }

  /**
   * SQLite's data_version: it changes whenever ANOTHER connection (another process: `keys revoke`) commits, never
   * for this connection's own writes. One prepared statement, no table read: cheap enough for every request.
   */
  dataVersion(): number {
    return this.dataVersionStmt.get() as number;
  }

  /** Keys with their tenant and system names, oldest first; of one tenant when tenantId is given. */
  listKeys(tenantId?: string): ApiKeyListing[] {
    const q = this.db
      .select({ key: apiKeys, tenantName: tenants.name, systemName: systems.name })
      .from(apiKeys)
      .innerJoin(tenants, eq(tenants.id, apiKeys.tenantId))
      .innerJoin(systems, eq(systems.id, apiKeys.systemId));
    const rows = (tenantId === undefined ? q : q.where(eq(apiKeys.tenantId, tenantId))).orderBy(asc(apiKeys.createdAt), asc(apiKeys.id)).all();
    return rows.map((r) => ({ ...r.key, tenantName: r.tenantName, systemName: r.systemName }));
  }

  keyById(id: string): ApiKeyRow | undefined {
    return this.db.select().from(apiKeys).where(eq(apiKeys.id, id)).get();
  }

  /**
   * Revokes one key by hand. It also stops being a bootstrap key, so a start whose PROOFSTREAM_BOOTSTRAP_KEY still
   * names it refuses to run instead of reinstating a key someone revoked (perhaps because it leaked).
   */
  revokeKeyByHand(id: string, revokedAt: string): void {
    this.db.update(apiKeys).set({ revokedAt, bootstrap: false }).where(and(eq(apiKeys.id, id), isNull(apiKeys.revokedAt))).run();
  }

  /** The bootstrap key's shape: every scope, tenant-wide, unlimited (it may predate a scope, tenant_wide or tier). */
  setBootstrapShape(id: string, scopes: readonly string[]): void {
    this.db.update(apiKeys).set({ scopes: [...scopes], tenantWide: true, tier: 'unlimited' }).where(eq(apiKeys.id, id)).run();
  }

  tenantByName(name: string): Tenant | undefined {
    return this.db.select().from(tenants).where(eq(tenants.name, name)).get();
  }

  tenantById(id: string): Tenant | undefined {
    return this.db.select().from(tenants).where(eq(tenants.id, id)).get();
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
