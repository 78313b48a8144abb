// Opening the database: WAL + synchronous=FULL (a commit is on disk when it returns), migrations applied at start.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import * as schema from './schema.js';
import { PgDatabase } from './pg/database.js';

export type Db = BetterSQLite3Database<typeof schema>;
export interface Handle {
  /** better-sqlite3's connection, or on PostgreSQL the object that offers the same API (src/store/pg/database.ts) */
  sqlite: Database.Database;
  db: Db;
  kind: 'sqlite' | 'postgres';
}

/** Whether a store target names a PostgreSQL database rather than a SQLite file. */
export const isPostgresUrl = (target: string): boolean => /^postgres(ql)?:\/\//i.test(target);

export interface OpenOptions {
  /** cap on the database file, as SQLite's max_page_count (writes beyond it fail with SQLITE_FULL); 0 = none */
  maxBytes?: number;
}

const MIGRATIONS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../drizzle');
const PG_MIGRATIONS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../drizzle-pg');

/**
 * The database holds every payload: owner-only. SQLite creates -wal and -shm with the main file's mode, so the
 * main file is created 0600 before SQLite opens it; files an older version left group/world-readable are narrowed.
 */
function ownerOnly(file: string): void {
  fs.closeSync(fs.openSync(file, 'a', 0o600));
  for (const f of [file, `${file}-wal`, `${file}-shm`, `${file}-journal`]) {
    try {
      if ((fs.statSync(f).mode & 0o077) !== 0) fs.chmodSync(f, 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
}

export function openDatabase(file: string, opts: OpenOptions = {}): Handle {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  if (file !== ':memory:') ownerOnly(file);
  const sqlite = new Database(file);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = FULL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  // Freed space inside a page is zeroed at no extra I/O, so copies of a row that a page split or an update moved
  // do not linger in the file; payload erasure turns it fully ON for its one statement (store/erasures.ts).
  sqlite.pragma('secure_delete = FAST');
  const db = drizzle(sqlite, { schema });
  migrate(db, { migrationsFolder: MIGRATIONS });
  if (opts.maxBytes) {
    // Per connection, not stored in the file. SQLite never sets it below the current page count.
    const pageSize = sqlite.pragma('page_size', { simple: true }) as number;
    sqlite.pragma(`max_page_count = ${Math.max(1, Math.floor(opts.maxBytes / pageSize))}`);
  }
  return { sqlite, db, kind: 'sqlite' };
}

/**
 * A PostgreSQL database: migrations from drizzle-pg/ (under an advisory lock, so nodes starting together migrate
 * once), then drizzle's SQLite session over the connection, whose SQL src/store/pg/translate.ts adapts.
 */
export function openPostgres(url: string): Handle {
  const pgdb = new PgDatabase(url);
  try {
    pgdb.migrate(PG_MIGRATIONS);
  } catch (e) {
    pgdb.close();
    throw e;
  }
  const sqlite = pgdb as unknown as Database.Database;
  return { sqlite, db: drizzle(sqlite, { schema }), kind: 'postgres' };
}
