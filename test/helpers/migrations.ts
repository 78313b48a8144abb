// Puts a real SQLite database back to the schema it had before one migration, so an upgrade test can re-apply that
// migration and every later one exactly as an old database would meet them, whatever migrations exist by then.
import fs from 'node:fs';
import path from 'node:path';
import type Database from 'better-sqlite3';
import { ROOT } from './server.js';

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
  const snapshot = JSON.parse(fs.readFileSync(snapshotFile, 'utf8')) as { tables: Record<string, { columns: Record<string, unknown> }> };
  const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> '__drizzle_migrations'").pluck().all() as string[];
  for (const t of tables) {
    const known = snapshot.tables[t];
    if (!known) db.exec(`DROP TABLE "${t}"`);
    else for (const col of db.prepare(`SELECT name FROM pragma_table_info('${t}')`).pluck().all() as string[]) if (!(col in known.columns)) db.exec(`ALTER TABLE "${t}" DROP COLUMN "${col}"`);
  }
  db.prepare('DELETE FROM __drizzle_migrations WHERE created_at >= ?').run(target.when);
}
