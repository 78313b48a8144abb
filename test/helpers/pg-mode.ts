// The PostgreSQL half of the suite (vitest project `postgres`, issue #17): the same test files, with every ledger the
// helpers make (openTestLedger, startServer, runCli on a server's data directory) on a database of its own, cloned
// from a migrated template in the cluster test/helpers/pg-global.ts started. Outside that project this does nothing.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { PgDatabase } from '../../src/store/pg/database.js';

/** Set by the `postgres` project (vitest.config.ts). */
export const pgMode = process.env.PROOFSTREAM_TEST_STORE === 'postgres';

/** data directory → database name: a server restarted on its data directory finds its database again */
const databases = new Map<string, string>();
let admin: PgDatabase | null = null;

function adminUrl(): string {
  const url = process.env.PROOFSTREAM_TEST_PG_URL;
  if (!url) throw new Error('PROOFSTREAM_TEST_STORE=postgres but no cluster: PROOFSTREAM_TEST_PG_URL is unset (test/helpers/pg-global.ts)');
  return url;
}

const urlOf = (name: string): string => {
  const u = new URL(adminUrl());
  u.pathname = `/${name}`;
  return u.toString();
};

/** The database of a ledger's data directory (created on first ask), or undefined outside the PostgreSQL project. */
export function databaseFor(dataDir: string): string | undefined {
  if (!pgMode) return undefined;
  const dir = path.resolve(dataDir);
  let name = databases.get(dir);
  if (!name) {
    name = cloneDatabase(process.env.PROOFSTREAM_TEST_PG_TEMPLATE!);
    databases.set(dir, name);
  }
  return urlOf(name);
}

/** A new database copied from `template` (which must have no connections); returns its name. */
function cloneDatabase(template: string): string {
  const name = `t_${randomBytes(8).toString('hex')}`;
  admin ??= new PgDatabase(adminUrl());
  // FILE_COPY: a small database is copied in tens of milliseconds (the default WAL_LOG strategy takes ~10x).
  admin.exec(`CREATE DATABASE "${name}" TEMPLATE "${template}" STRATEGY FILE_COPY`);
  return name;
}

/** The database already made for a data directory, if any (runCli pointed at a server's directory). */
export function knownDatabaseFor(dataDir: string | undefined): string | undefined {
  if (!pgMode || !dataDir) return undefined;
  const name = databases.get(path.resolve(dataDir));
  return name ? urlOf(name) : undefined;
}

/** Drops this test file's databases (after its servers were stopped and its ledgers closed). */
export function dropTestDatabases(): void {
  if (!admin) return;
  for (const name of databases.values()) admin.exec(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  databases.clear();
  admin.close();
  admin = null;
}

/**
 * A direct connection to a ledger's database, for tests that read (or damage) rows under the engine: the SQLite file
 * (`file` in the data directory, default proofstream.db), or in the PostgreSQL project that directory's database
 * through the same better-sqlite3-shaped API (prepare/run/get/all/exec/close; SQL in SQLite's dialect, translated).
 */
export function openLedgerDb(dataDir: string, file = 'proofstream.db', opts: { readonly?: boolean } = {}): Database.Database {
  const url = knownDatabaseFor(dataDir);
  if (url) return new PgDatabase(url) as unknown as Database.Database;
  return new Database(path.join(dataDir, file), opts);
}

/**
 * A copy of a stopped ledger: its data directory, and in the PostgreSQL project its database too (CREATE DATABASE …
 * TEMPLATE, which needs the source's connections closed). Returns the new data directory's path (`dest`).
 */
export function copyLedger(srcDir: string, dest: string): string {
  fs.cpSync(srcDir, dest, { recursive: true });
  const src = knownDatabaseFor(srcDir);
  if (src) databases.set(path.resolve(dest), cloneDatabase(new URL(src).pathname.slice(1)));
  return dest;
}

/**
 * Whether `needle` is stored anywhere in a ledger's database: in the SQLite file or its -wal (bytes on disk), or on
 * PostgreSQL in any column of any live row (a row's text form; the row versions an UPDATE or DELETE left behind are
 * VACUUM's, out of reach of a query).
 */
export function databaseContains(dataDir: string, needle: string, file = 'proofstream.db'): boolean {
  if (knownDatabaseFor(dataDir)) {
    const db = openLedgerDb(dataDir, file);
    try {
      const tables = db.prepare("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'").pluck().all() as string[];
      if (!tables.includes('events')) throw new Error(`databaseContains: no ledger tables in ${knownDatabaseFor(dataDir)}`);
      return tables.some((t) => db.prepare(`SELECT 1 FROM "${t}" AS r WHERE strpos(r::text, ?) > 0 LIMIT 1`).pluck().get(needle) !== undefined);
    } finally {
      db.close();
    }
  }
  return [file, `${file}-wal`].some((f) => fs.existsSync(path.join(dataDir, f)) && fs.readFileSync(path.join(dataDir, f)).includes(needle));
}
