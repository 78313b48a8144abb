// Puts a real SQLite database back to the schema it had before one migration, so an upgrade test can re-apply that
// migration and every later one exactly as an old database would meet them, whatever migrations exist by then.
import fs from 'node:fs';
import path from 'node:path';
import type Database from 'better-sqlite3';
import { ROOT } from './server.js';

interface SnapshotTable {
  columns: Record<string, { name: string; type: string; primaryKey: boolean; notNull: boolean }>;
  indexes?: Record<string, { name: string; columns: string[]; isUnique: boolean }>;
  compositePrimaryKeys?: Record<string, { columns: string[] }>;
}

/** Recreates table `t` with the snapshot's columns and primary key, keeping the rows' values of those columns. */
function rebuild(db: Database.Database, t: string, known: SnapshotTable): void {
  const cols = Object.values(known.columns);
  const defs = cols.map((c) => `"${c.name}" ${c.type}${c.primaryKey ? ' PRIMARY KEY' : ''}${c.notNull ? ' NOT NULL' : ''}`);
  for (const pk of Object.values(known.compositePrimaryKeys ?? {})) defs.push(`PRIMARY KEY (${pk.columns.map((c) => `"${c}"`).join(', ')})`);
  const names = cols.map((c) => `"${c.name}"`).join(', ');
  db.exec(`CREATE TABLE "__rewind_${t}" (${defs.join(', ')})`);
  db.exec(`INSERT INTO "__rewind_${t}" (${names}) SELECT ${names} FROM "${t}"`);
  db.exec(`DROP TABLE "${t}"`);
  db.exec(`ALTER TABLE "__rewind_${t}" RENAME TO "${t}"`);
}

interface Journal {
  entries: Array<{ idx: number; tag: string; when: number }>;
}

/**
 * Rewinds `db` to just before the migration whose tag starts with `prefix` (`'0007_'`): tables and columns later
 * migrations added are dropped (read from the drizzle snapshot of the migration before it), and their records are
 * removed from `__drizzle_migrations`, so drizzle applies all of them again at the next open.
 */
export function rewindBefore(db: Database.Database, prefix: string): void {
  const journal = JSON.parse(fs.readFileSync(path.join(ROOT, 'drizzle/meta/_journal.json'), 'utf8')) as Journal;
  const target = journal.entries.find((e) => e.tag.startsWith(prefix));
  if (!target || target.idx === 0) throw new Error(`no migration before ${prefix}`);
  const snapshotFile = path.join(ROOT, `drizzle/meta/${String(target.idx - 1).padStart(4, '0')}_snapshot.json`);
  const snapshot = JSON.parse(fs.readFileSync(snapshotFile, 'utf8')) as { tables: Record<string, SnapshotTable> };
  const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> '__drizzle_migrations'").pluck().all() as string[];
  for (const t of tables) {
    const known = snapshot.tables[t];
    if (!known) {
      db.exec(`DROP TABLE "${t}"`);
      continue;
    }
    const cols = db.prepare(`SELECT name, pk FROM pragma_table_info('${t}')`).all() as Array<{ name: string; pk: number }>;
    const extra = cols.filter((c) => !(c.name in known.columns));
    // A later migration re-keyed the table (0017: merkle_nodes by `pos`): a key column cannot be dropped, so the table
    // is rebuilt in the snapshot's shape with its rows (foreign keys are not rebuilt: no re-keyed table has any).
    if (extra.some((c) => c.pk > 0)) rebuild(db, t, known);
    else for (const c of extra) db.exec(`ALTER TABLE "${t}" DROP COLUMN "${c.name}"`);
    // Indexes a later migration dropped (0017: idempotency_expires), so that migration finds them again.
    for (const ix of Object.values(known.indexes ?? {})) {
      db.exec(`CREATE ${ix.isUnique ? 'UNIQUE ' : ''}INDEX IF NOT EXISTS "${ix.name}" ON "${t}" (${ix.columns.map((c) => `"${c}"`).join(', ')})`);
    }
  }
  db.prepare('DELETE FROM __drizzle_migrations WHERE created_at >= ?').run(target.when);
}
