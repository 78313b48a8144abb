// CI/CD connectors (src/cicd/connectors.ts): the webhook endpoints of a tenant and the provider runs they mapped.
import { and, desc, eq } from 'drizzle-orm';
import type { Db } from './db.js';
import { connectorRuns, connectors } from './schema.js';

export type ConnectorRow = typeof connectors.$inferSelect;

export class ConnectorsRepo {
  constructor(private readonly db: Db) {}

  insert(row: ConnectorRow): void {
    this.db.insert(connectors).values(row).run();
  }

  byId(id: string): ConnectorRow | undefined {
    return this.db.select().from(connectors).where(eq(connectors.id, id)).get();
  }

  /** A tenant's connectors, newest first; revoked ones included (their revoked_at says so). */
  list(tenantId: string, limit: number): ConnectorRow[] {
    return this.db.select().from(connectors).where(eq(connectors.tenantId, tenantId)).orderBy(desc(connectors.createdAt), desc(connectors.id)).limit(limit).all();
  }

  revoke(id: string, at: string): void {
    this.db.update(connectors).set({ revokedAt: at }).where(eq(connectors.id, id)).run();
  }

  runOf(connectorId: string, externalId: string): string | undefined {
    return this.db
      .select({ runId: connectorRuns.runId })
      .from(connectorRuns)
      .where(and(eq(connectorRuns.connectorId, connectorId), eq(connectorRuns.externalId, externalId)))
      .get()?.runId;
  }

  /** false when the provider run is mapped already (a concurrent hook of the same run won). */
  insertRun(row: typeof connectorRuns.$inferInsert): boolean {
    return this.db.insert(connectorRuns).values(row).onConflictDoNothing().run().changes === 1;
  }
}
