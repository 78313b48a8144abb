// Idempotency records: written in the same transaction as the write they describe.
import type Database from 'better-sqlite3';
import type { Db } from './db.js';
import type { idempotencyRecords } from './schema.js';
import { sqliteOf } from './streams.js';
import { deferredRun } from './events.js';

export type IdempotencyRecord = typeof idempotencyRecords.$inferSelect;

export class IdempotencyRepo {
  // Raw statements: get runs on every keyed write request, insert in every append's transaction.
  private readonly getStmt: Database.Statement;
  private readonly insertStmt: Database.Statement;
  private readonly deleteExpiredStmt: Database.Statement;
  private readonly purgeStmt: Database.Statement;
  /** the delete's result is not read: on PostgreSQL it is deferred and sent with the insert (events.ts deferredRun) */
  private readonly deleteExpiredRun: (...params: unknown[]) => unknown;
  constructor(db: Db) {
    const sqlite = sqliteOf(db);
    this.getStmt = sqlite
      .prepare(
        'SELECT "tenant_id", "key", "fingerprint", "status", "response_body", "created_at", "expires_at" FROM "idempotency_records" ' +
          'WHERE "tenant_id" = ? AND "key" = ?',
      )
      .raw(true);
    // A new use of a key whose record expired (not purged yet) replaces it: deleted and inserted afresh rather than
    // updated in place, so the rowid order stays the order records expire in (purgeExpired relies on it). The delete
    // finds nothing on almost every append, and looks at the index page the insert then writes.
    this.deleteExpiredStmt = sqlite.prepare('DELETE FROM "idempotency_records" WHERE "tenant_id" = ? AND "key" = ? AND "expires_at" <= ?');
    this.deleteExpiredRun = deferredRun(this.deleteExpiredStmt);
    this.insertStmt = sqlite.prepare(
      'INSERT INTO "idempotency_records" ("tenant_id", "key", "fingerprint", "status", "response_body", "created_at", "expires_at") ' +
        'VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT ("tenant_id", "key") DO NOTHING',
    );
    // Records are written in time order with one TTL, so rowid order is expiry order: delete from the oldest up to the
    // first live one. (No index on expires_at: it cost a B-tree write per append.) A record written under a longer TTL
    // (PROOFSTREAM_IDEMPOTENCY_TTL_MS lowered since) holds back the purge of later ones until it expires itself; an
    // expired record is never replayed either way (get() checks expires_at).
    this.purgeStmt = sqlite.prepare(
      'DELETE FROM "idempotency_records" WHERE rowid < ' +
        'COALESCE((SELECT rowid FROM "idempotency_records" WHERE "expires_at" > ? ORDER BY rowid LIMIT 1), 9223372036854775807)',
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
    this.deleteExpiredRun(r.tenantId, r.key, r.createdAt);
    return this.insertStmt.run(r.tenantId, r.key, r.fingerprint, r.status, r.responseBody, r.createdAt, r.expiresAt).changes === 1;
  }

  purgeExpired(now: number): number {
    return this.purgeStmt.run(now).changes;
  }
}
