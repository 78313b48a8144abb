// Webhooks and their outbox (webhook_deliveries). The outbox insert runs inside the append flush, so it is a raw
// prepared statement; the rest is drizzle.
import type Database from 'better-sqlite3';
import { and, asc, count, desc, eq, gt, inArray, lt, lte, or, sql } from 'drizzle-orm';
import type { Db } from './db.js';
import { webhookDeliveries, webhooks } from './schema.js';
import { sqliteOf } from './streams.js';

export type WebhookRow = typeof webhooks.$inferSelect;
export type DeliveryRow = typeof webhookDeliveries.$inferSelect;
export type DeliveryStatus = 'pending' | 'delivered' | 'failed' | 'dead';

/** What the outbox insert needs; the rest of the row is derived. */
export interface OutboxRow {
  id: string;
  webhookId: string;
  tenantId: string;
  eventType: string;
  subjectId: string;
  createdAt: string;
  giveUpAt: string;
}

export class WebhooksRepo {
  private readonly insertOutboxStmt: Database.Statement;
  private readonly dataVersionStmt: Database.Statement;

  constructor(private readonly db: Db) {
    const sqlite = sqliteOf(db);
    this.insertOutboxStmt = sqlite.prepare(
      'INSERT INTO "webhook_deliveries" ("id", "webhook_id", "tenant_id", "event_type", "subject_id", "status", "attempts", ' +
        '"next_attempt_at", "give_up_at", "created_at") VALUES (?, ?, ?, ?, ?, \'pending\', 0, ?, ?, ?)',
    );
    this.dataVersionStmt = sqlite.prepare('PRAGMA data_version').pluck();
  }

  /** Changes when another connection commits (see TenancyRepo.dataVersion). */
  dataVersion(): number {
    return this.dataVersionStmt.get() as number;
  }

  // ---- webhooks ----

  insert(row: WebhookRow): void {
    this.db.insert(webhooks).values(row).run();
  }

  get(id: string): WebhookRow | undefined {
    return this.db.select().from(webhooks).where(eq(webhooks.id, id)).get();
  }

  countOfTenant(tenantId: string): number {
    return this.db.select({ n: count() }).from(webhooks).where(eq(webhooks.tenantId, tenantId)).get()?.n ?? 0;
  }

  /** Oldest first, keyset-paged on (created_at, id). */
  list(tenantId: string, after: { createdAt: string; id: string } | undefined, limit: number): WebhookRow[] {
    const where = and(
      eq(webhooks.tenantId, tenantId),
      after ? or(gt(webhooks.createdAt, after.createdAt), and(eq(webhooks.createdAt, after.createdAt), gt(webhooks.id, after.id))) : undefined,
    );
    return this.db.select().from(webhooks).where(where).orderBy(webhooks.createdAt, webhooks.id).limit(limit).all();
  }

  /** Every active webhook (the subscription index is built from them). */
  active(): WebhookRow[] {
    return this.db.select().from(webhooks).where(eq(webhooks.active, true)).all();
  }

  update(id: string, patch: Partial<WebhookRow>): void {
    this.db.update(webhooks).set(patch).where(eq(webhooks.id, id)).run();
  }

  /** The webhook and its whole outbox. */
  delete(id: string): void {
    this.db.delete(webhookDeliveries).where(eq(webhookDeliveries.webhookId, id)).run();
    this.db.delete(webhooks).where(eq(webhooks.id, id)).run();
  }

  /** Disabled after failing too long: inactive, says why, and what was still pending is dead. */
  disable(id: string, at: string, reason: string): void {
    this.db.update(webhooks).set({ active: false, disabledAt: at, disabledReason: reason, updatedAt: at }).where(eq(webhooks.id, id)).run();
    this.db
      .update(webhookDeliveries)
      .set({ status: 'dead' })
      .where(and(eq(webhookDeliveries.webhookId, id), eq(webhookDeliveries.status, 'pending')))
      .run();
  }

  // ---- the outbox ----

  insertOutbox(r: OutboxRow): void {
    this.insertOutboxStmt.run(r.id, r.webhookId, r.tenantId, r.eventType, r.subjectId, r.createdAt, r.giveUpAt, r.createdAt);
  }

  delivery(id: string): DeliveryRow | undefined {
    return this.db.select().from(webhookDeliveries).where(eq(webhookDeliveries.id, id)).get();
  }

  /** Newest first, keyset-paged on (created_at, id). */
  deliveries(webhookId: string, before: { createdAt: string; id: string } | undefined, limit: number): DeliveryRow[] {
    const d = webhookDeliveries;
    const where = and(
      eq(d.webhookId, webhookId),
      before ? or(lt(d.createdAt, before.createdAt), and(eq(d.createdAt, before.createdAt), lt(d.id, before.id))) : undefined,
    );
    return this.db.select().from(d).where(where).orderBy(desc(d.createdAt), desc(d.id)).limit(limit).all();
  }

  /**
   * Inside a write transaction: the pending deliveries of active webhooks due at `now` (oldest due first, at most
   * `limit`, none of `skip`), each leased until `leaseUntil` so that another claimer (or this process after a crash)
   * takes it again only once the lease ran out.
   */
  claimDue(now: string, limit: number, leaseUntil: string, skip: ReadonlySet<string>): Array<{ delivery: DeliveryRow; webhook: WebhookRow }> {
    const d = webhookDeliveries;
    const rows = this.db
      .select({ delivery: d, webhook: webhooks })
      .from(d)
      .innerJoin(webhooks, eq(webhooks.id, d.webhookId))
      .where(and(eq(d.status, 'pending'), lte(d.nextAttemptAt, now), eq(webhooks.active, true)))
      .orderBy(asc(d.nextAttemptAt))
      .limit(limit + skip.size)
      .all()
      .filter((r) => !skip.has(r.delivery.id))
      .slice(0, limit);
    if (rows.length) {
      this.db
        .update(d)
        .set({ nextAttemptAt: leaseUntil })
        .where(inArray(d.id, rows.map((r) => r.delivery.id)))
        .run();
    }
    return rows;
  }

  /** The earliest next_attempt_at of a pending delivery of an active webhook, or undefined. */
  nextDueAt(): string | undefined {
    const d = webhookDeliveries;
    return this.db
      .select({ at: d.nextAttemptAt })
      .from(d)
      .innerJoin(webhooks, eq(webhooks.id, d.webhookId))
      .where(and(eq(d.status, 'pending'), eq(webhooks.active, true)))
      .orderBy(asc(d.nextAttemptAt))
      .limit(1)
      .get()?.at;
  }

  /** Records one attempt's outcome (only on a row still pending: a delete or a disable meanwhile wins). */
  recordAttempt(id: string, patch: Pick<DeliveryRow, 'status' | 'lastStatusCode' | 'lastError' | 'nextAttemptAt' | 'deliveredAt'>): void {
    const d = webhookDeliveries;
    this.db.update(d).set({ attempts: sql`${d.attempts} + 1` }).where(eq(d.id, id)).run();
    this.db
      .update(d)
      .set(patch)
      .where(and(eq(d.id, id), eq(d.status, 'pending')))
      .run();
  }

  /** Queues a delivery again now, with a fresh retry period; same id (webhook-id). */
  redeliver(id: string, now: string, giveUpAt: string): void {
    this.db
      .update(webhookDeliveries)
      .set({ status: 'pending', nextAttemptAt: now, giveUpAt, deliveredAt: null })
      .where(eq(webhookDeliveries.id, id))
      .run();
  }

  /** Deletes finished deliveries (delivered, failed, dead) created before `before`, at most `limit`. */
  purgeFinished(before: string, limit: number): number {
    const d = webhookDeliveries;
    const ids = this.db
      .select({ id: d.id })
      .from(d)
      .where(and(inArray(d.status, ['delivered', 'failed', 'dead']), lt(d.createdAt, before)))
      .limit(limit)
      .all()
      .map((r) => r.id);
    if (ids.length) this.db.delete(d).where(inArray(d.id, ids)).run();
    return ids.length;
  }
}
