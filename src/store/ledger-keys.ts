import { asc, eq } from 'drizzle-orm';
import type { Db } from './db.js';
import { ledgerKeys } from './schema.js';

export type LedgerKeyRow = typeof ledgerKeys.$inferSelect;

export class LedgerKeysRepo {
  constructor(private readonly db: Db) {}

  /** Registers a key; a key seen before keeps its row as it is. */
  register(row: Pick<LedgerKeyRow, 'kid' | 'alg' | 'publicKey' | 'createdAt'> & Partial<LedgerKeyRow>): void {
    this.db.insert(ledgerKeys).values(row).onConflictDoNothing().run();
  }

  list(): LedgerKeyRow[] {
    return this.db.select().from(ledgerKeys).orderBy(asc(ledgerKeys.createdAt), asc(ledgerKeys.kid)).all();
  }

  get(kid: string): LedgerKeyRow | undefined {
    return this.db.select().from(ledgerKeys).where(eq(ledgerKeys.kid, kid)).get();
  }

  /** Ends a key's windows: its receipts at `validUntil`, its checkpoint signatures at `retiredAt`. */
  close(kid: string, validUntil: string, retiredAt: string): void {
    this.db.update(ledgerKeys).set({ validUntil, retiredAt }).where(eq(ledgerKeys.kid, kid)).run();
  }

  /** Moves a key's end of checkpoint signing (`ledger-key retire`). */
  setRetiredAt(kid: string, retiredAt: string): void {
    this.db.update(ledgerKeys).set({ retiredAt }).where(eq(ledgerKeys.kid, kid)).run();
  }
}
