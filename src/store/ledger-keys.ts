import { asc } from 'drizzle-orm';
import type { Db } from './db.js';
import { ledgerKeys } from './schema.js';

export type LedgerKeyRow = typeof ledgerKeys.$inferSelect;

export class LedgerKeysRepo {
  constructor(private readonly db: Db) {}

  /** Registers the key in use; a key seen before keeps its original created_at. */
  register(row: Omit<LedgerKeyRow, 'retiredAt'>): void {
    this.db.insert(ledgerKeys).values(row).onConflictDoNothing().run();
  }

  list(): LedgerKeyRow[] {
    return this.db.select().from(ledgerKeys).orderBy(asc(ledgerKeys.createdAt)).all();
  }
}
