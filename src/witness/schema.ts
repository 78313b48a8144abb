// The witness's own database (separate from the ledger's): per log origin, the latest checkpoint it
// cosigned. Hashes are lowercase hex text, like the ledger's schema. Migrations: drizzle-witness/,
// generated with `npx drizzle-kit generate --config drizzle.witness.config.ts`.
import { integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';

export const cosignedCheckpoints = sqliteTable('cosigned_checkpoints', {
  /** Checkpoint origin line (a concrete origin, never a wildcard pattern). */
  origin: text('origin').primaryKey(),
  /** Tree size of the latest cosigned checkpoint. */
  size: integer('size').notNull(),
  /** Its RFC 9162 root hash, lowercase hex. */
  rootHash: text('root_hash').notNull(),
  /** The checkpoint body (note text, without signatures) that was cosigned. */
  checkpoint: text('checkpoint').notNull(),
  /** ISO-8601 time of the last update. */
  updatedAt: text('updated_at').notNull(),
});
