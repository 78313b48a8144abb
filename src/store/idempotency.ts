// Idempotency records: written in the same transaction as the write they describe.
import type Database from 'better-sqlite3';
import { lte } from 'drizzle-orm';
import type { Db } from './db.js';
import { idempotencyRecords } from './schema.js';
import { sqliteOf } from './streams.js';

export type IdempotencyRecord = typeof idempotencyRecords.$inferSelect;

export class IdempotencyRepo {
  // Raw statements: get runs on every keyed write request, insert in every append's transaction.
  private readonly getStmt: Database.Statement;
  private readonly insertStmt: Database.Statement;
  constructor(private readonly db: Db) {
    const sqlite = sqliteOf(db);
    this.getStmt = sqlite
      .prepare(
        'SELECT "tenant_id", "key", "fingerprint", "status", "response_body", "created_at", "expires_at" FROM "idempotency_records" ' +
          'WHERE "tenant_id" = ? AND "key" = ?',
      )
      .raw(true);
    this.insertStmt = sqlite.prepare(
      'INSERT INTO "idempotency_records" ("tenant_id", "key", "fingerprint", "status", "response_body", "created_at", "expires_at") ' +
        'VALUES (?, ?, ?, ?, ?, ?, ?) ' +
        // An expired record may still sit there until the purge runs: a new use of the key replaces it.
        'ON CONFLICT ("tenant_id", "key") DO UPDATE SET "fingerprint" = excluded.fingerprint, "status" = excluded.status, ' +
        '"response_body" = excluded.response_body, "created_at" = excluded.created_at, "expires_at" = excluded.expires_at ' +
        'WHERE "idempotency_records"."expires_at" <= excluded.created_at',
    );
  }

  /** The live record for (tenant, key), ignoring expired ones. */
  get(tenantId: string, key: string, now: number): IdempotencyRecord | undefined {
    const r = this.getStmt.get(tenantId, key) as [string, string, string, number, string, number, number] | undefined;
    if (!r || r[6] <= now) return undefined;
    return { tenantId: r[0], key: r[1], fingerprint: r[2], status: r[3], responseBody: r[4], createdAt: r[5], expiresAt: r[6] };
  }

  /** Returns false when a live record already holds the key (the caller's transaction must then roll back). */
  insert(r: IdempotencyRecord): boolean {
    return this.insertStmt.run(r.tenantId, r.key, r.fingerprint, r.status, r.responseBody, r.createdAt, r.expiresAt).changes === 1;
  }

  purgeExpired(now: number): number {
    return this.db.delete(idempotencyRecords).where(lte(idempotencyRecords.expiresAt, now)).run().changes;
  }
}
