// The PostgreSQL schema (src/store/schema-pg.ts, drizzle-pg/) is a mirror of the SQLite one (src/store/schema.ts):
// the store's SQL is written once and runs on both (issue #17). The first half reads both with drizzle's
// getTableConfig and fails on any difference; the second applies drizzle-pg/ to a real PostgreSQL and checks what
// it made. `rowid` columns (and an index on each) are the only extras PostgreSQL may have.
import fs from 'node:fs';
import path from 'node:path';
import { Column, is, SQL, StringChunk } from 'drizzle-orm';
import { generateDrizzleJson, generateMigration } from 'drizzle-kit/api';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import { getTableConfig as pgTableConfig, PgTable } from 'drizzle-orm/pg-core';
import { getTableConfig as sqliteTableConfig, SQLiteTable } from 'drizzle-orm/sqlite-core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as pgSchema from '../src/store/schema-pg.js';
import * as sqliteSchema from '../src/store/schema.js';
import { postgresAvailable, startPostgres, type RunningPostgres } from './helpers/postgres.js';
import { ROOT } from './helpers/server.js';

/** Tables whose SQLite rowid the store reads (src/store/idempotency.ts, src/store/evidence.ts). */
const ROWID_TABLES = ['checkpoints', 'idempotency_records'];
const ROWID_FILES = ['src/store/evidence.ts', 'src/store/idempotency.ts'];

/** SQLite storage class → the PostgreSQL type that holds the same values (docs/architecture.md "Schema"). */
const PG_TYPE: Record<string, string> = { integer: 'bigint', text: 'text', blob: 'bytea', real: 'double precision' };

type AnyColumn = Column & { getSQLType(): string; uniqueName?: string; generatedIdentity?: { type: string } };

interface Shape {
  columns: Array<{ name: string; type: string; notNull: boolean; hasDefault: boolean; default: unknown; primary: boolean; unique: string | null }>;
  primaryKeys: Array<{ name: string; columns: string[] }>;
  indexes: Array<{ name: string; columns: string[]; unique: boolean; where: string | null }>;
  uniqueConstraints: Array<{ name: string | undefined; columns: string[] }>;
  foreignKeys: Array<{ name: string; columns: string[]; foreignTable: string; foreignColumns: string[]; onDelete: string; onUpdate: string }>;
}

/** The text of a drizzle SQL fragment (a partial index's WHERE), the same for either dialect. */
function sqlText(s: SQL | undefined): string | null {
  if (!s) return null;
  return s.queryChunks.map((c) => (is(c, StringChunk) ? c.value.join('') : is(c, Column) ? `"${c.name}"` : String(c))).join('');
}

type Config = ReturnType<typeof sqliteTableConfig> | ReturnType<typeof pgTableConfig>;

function shape(cfg: Config, mapType: (c: AnyColumn) => string): Shape {
  const names = (cols: Array<{ name: string } | SQL>): string[] => cols.map((c) => (is(c, SQL) ? `(${sqlText(c)})` : c.name));
  return {
    columns: (cfg.columns as AnyColumn[]).map((c) => ({
      name: c.name,
      type: mapType(c),
      notNull: c.notNull,
      hasDefault: c.hasDefault,
      // SQLite's boolean-mode integers default to false/true, stored 0/1: the PostgreSQL bigint says 0/1.
      default: typeof c.default === 'boolean' ? Number(c.default) : c.default,
      primary: c.primary,
      unique: c.isUnique ? (c.uniqueName ?? null) : null,
    })),
    primaryKeys: cfg.primaryKeys.map((pk) => ({ name: pk.getName(), columns: pk.columns.map((c) => c.name) })),
    indexes: cfg.indexes
      .map((i) => ({ name: i.config.name ?? '(unnamed)', columns: names(i.config.columns as Array<{ name: string } | SQL>), unique: i.config.unique, where: sqlText(i.config.where) }))
      .sort((a, b) => a.name.localeCompare(b.name)),
    uniqueConstraints: cfg.uniqueConstraints.map((u) => ({ name: u.name, columns: u.columns.map((c) => c.name) })),
    foreignKeys: cfg.foreignKeys
      .map((fk) => {
        const ref = fk.reference();
        return {
          name: fk.getName(),
          columns: ref.columns.map((c) => c.name),
          foreignTable: is(ref.foreignTable, SQLiteTable) ? sqliteTableConfig(ref.foreignTable).name : pgTableConfig(ref.foreignTable as PgTable).name,
          foreignColumns: ref.foreignColumns.map((c) => c.name),
          onDelete: fk.onDelete ?? 'no action',
          onUpdate: fk.onUpdate ?? 'no action',
        };
      })
      .sort((a, b) => a.name.localeCompare(b.name)),
  };
}

function sqliteShapes(): Map<string, Shape> {
  const out = new Map<string, Shape>();
  for (const t of Object.values(sqliteSchema)) {
    if (!is(t, SQLiteTable)) continue;
    const cfg = sqliteTableConfig(t);
    out.set(cfg.name, shape(cfg, (c) => PG_TYPE[c.getSQLType()] ?? `unmapped SQLite type ${c.getSQLType()}`));
  }
  return out;
}

/** PostgreSQL shapes with the rowid columns and their indexes taken out (checked on their own), and those rowids. */
function pgShapes(): { shapes: Map<string, Shape>; rowids: Map<string, { identity: string | undefined; type: string; indexes: string[] }> } {
  const shapes = new Map<string, Shape>();
  const rowids = new Map<string, { identity: string | undefined; type: string; indexes: string[] }>();
  for (const t of Object.values(pgSchema)) {
    if (!is(t, PgTable)) continue;
    const cfg = pgTableConfig(t);
    // bigint({ mode: 'number' }) is PgBigInt53: read as a JS number, as better-sqlite3 reads integers.
    const s = shape(cfg, (c) => (c.getSQLType() === 'bigint' && c.columnType !== 'PgBigInt53' ? 'bigint (not mode number)' : c.getSQLType()));
    const rowid = (cfg.columns as AnyColumn[]).find((c) => c.name === 'rowid');
    if (rowid) {
      rowids.set(cfg.name, {
        identity: rowid.generatedIdentity?.type,
        type: rowid.getSQLType(),
        indexes: s.indexes.filter((i) => i.columns.length === 1 && i.columns[0] === 'rowid').map((i) => i.name),
      });
      s.columns = s.columns.filter((c) => c.name !== 'rowid');
      s.indexes = s.indexes.filter((i) => !(i.columns.length === 1 && i.columns[0] === 'rowid'));
    }
    shapes.set(cfg.name, s);
  }
  return { shapes, rowids };
}

describe('PostgreSQL schema parity (src/store/schema-pg.ts against src/store/schema.ts)', () => {
  const sqlite = sqliteShapes();
  const { shapes: pgs, rowids } = pgShapes();

  it('has the same tables', () => {
    expect(sqlite.size).toBe(32);
    expect([...pgs.keys()].sort()).toEqual([...sqlite.keys()].sort());
  });

  it('mirrors every table: columns in order (type, nullability, default, key, unique), keys, indexes, foreign keys', () => {
    for (const [name, want] of sqlite) expect({ table: name, ...pgs.get(name) }).toEqual({ table: name, ...want });
  });

  it('gives exactly the tables whose rowid the store reads a rowid identity column with an index', () => {
    expect([...rowids.keys()].sort()).toEqual(ROWID_TABLES);
    for (const [table, r] of rowids) {
      expect({ table, ...r, indexes: r.indexes.length }).toEqual({ table, identity: 'always', type: 'bigint', indexes: 1 });
    }
    // A new use of SQLite's implicit rowid elsewhere needs a rowid column on PostgreSQL too: fail until it has one.
    const readers = fs
      .readdirSync(path.join(ROOT, 'src/store'), { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts') && !f.startsWith('schema') && !f.startsWith('pg/'))
      .filter((f) => /\browid\b/i.test(fs.readFileSync(path.join(ROOT, 'src/store', f), 'utf8')))
      .map((f) => `src/store/${f}`)
      .sort();
    expect(readers).toEqual(ROWID_FILES);
  });

  it('has no change drizzle-pg/ lacks (run `npm run db:generate:pg` after editing schema-pg.ts)', async () => {
    const journal = JSON.parse(fs.readFileSync(path.join(ROOT, 'drizzle-pg/meta/_journal.json'), 'utf8')) as { entries: Array<{ idx: number }> };
    const last = String(journal.entries.at(-1)!.idx).padStart(4, '0');
    const snapshot = JSON.parse(fs.readFileSync(path.join(ROOT, `drizzle-pg/meta/${last}_snapshot.json`), 'utf8'));
    expect(await generateMigration(snapshot, generateDrizzleJson(pgSchema, snapshot.id))).toEqual([]);
  });
});

const PG = postgresAvailable();
if (!PG) console.warn('pg-schema.test.ts: no PostgreSQL (initdb) on this machine: the PostgreSQL half was skipped');

describe.skipIf(!PG)('drizzle-pg/ applied to a real PostgreSQL', () => {
  let server: RunningPostgres;
  let client: pg.Client;

  beforeAll(async () => {
    server = await startPostgres();
    client = new pg.Client({ connectionString: server.url });
    await client.connect();
    await migrate(drizzle({ client }), { migrationsFolder: path.join(ROOT, 'drizzle-pg') });
  });
  afterAll(async () => {
    await client?.end();
    await server?.stop();
  });

  it('runs in a "C"-collated UTF8 database, the byte order the paging cursors assume', async () => {
    const { rows } = await client.query<{ datcollate: string; encoding: string }>(
      'SELECT datcollate, pg_encoding_to_char(encoding) AS encoding FROM pg_database WHERE datname = current_database()',
    );
    expect(rows[0]).toEqual({ datcollate: 'C', encoding: 'UTF8' });
  });

  it('makes every table and column of schema-pg.ts, in order, with its type and nullability, and nothing else', async () => {
    const { rows } = await client.query<{ table_name: string; column_name: string; data_type: string; is_nullable: string; is_identity: string }>(
      `SELECT table_name, column_name, data_type, is_nullable, is_identity FROM information_schema.columns
        WHERE table_schema = 'public' ORDER BY table_name, ordinal_position`,
    );
    const got = new Map<string, string[]>();
    for (const r of rows) {
      const col = `${r.column_name} ${r.data_type}${r.is_nullable === 'NO' ? ' not null' : ''}${r.is_identity === 'YES' ? ' identity' : ''}`;
      got.set(r.table_name, [...(got.get(r.table_name) ?? []), col]);
    }
    const want = new Map<string, string[]>();
    for (const t of Object.values(pgSchema)) {
      if (!is(t, PgTable)) continue;
      const cfg = pgTableConfig(t);
      want.set(
        cfg.name,
        (cfg.columns as AnyColumn[]).map((c) => `${c.name} ${c.getSQLType()}${c.notNull ? ' not null' : ''}${c.generatedIdentity ? ' identity' : ''}`),
      );
    }
    expect(Object.fromEntries([...got].sort())).toEqual(Object.fromEntries([...want].sort()));
  });

  it('makes every index by name, and a second migrate is a no-op', async () => {
    const names = async (): Promise<string[]> =>
      (await client.query<{ indexname: string }>("SELECT indexname FROM pg_indexes WHERE schemaname = 'public' ORDER BY indexname")).rows.map((r) => r.indexname);
    const made = await names();
    for (const t of Object.values(pgSchema)) {
      if (!is(t, PgTable)) continue;
      for (const i of pgTableConfig(t).indexes) expect(made).toContain(i.config.name);
    }
    await migrate(drizzle({ client }), { migrationsFolder: path.join(ROOT, 'drizzle-pg') });
    expect(await names()).toEqual(made);
  });

  it('numbers rowid itself in insertion order, refuses a given one, and keeps the artifact index partial', async () => {
    const insert = (key: string) =>
      client.query(
        `INSERT INTO "idempotency_records" ("tenant_id", "key", "fingerprint", "status", "response_body", "created_at", "expires_at")
         VALUES ('t', $1, 'f', 200, '{}', 1, 2) RETURNING rowid`,
        [key],
      );
    const a = (await insert('a')).rows[0].rowid as string;
    const b = (await insert('b')).rows[0].rowid as string;
    expect(BigInt(b)).toBeGreaterThan(BigInt(a));
    await expect(client.query(`INSERT INTO "idempotency_records" VALUES ('t', 'c', 'f', 200, '{}', 1, 2, 99)`)).rejects.toThrow(/non-DEFAULT value into column "rowid"/);

    // The SQLite migration's partial unique index (0012): one artifact per sha256 per tenant, other kinds unbounded.
    await client.query(`INSERT INTO "tenants" VALUES ('ten', 'ten', 'now')`);
    await client.query(`INSERT INTO "systems" VALUES ('sys', 'ten', 'sys', 'now')`);
    await client.query(`INSERT INTO "streams" ("id", "tenant_id", "system_id", "use_case", "created_at", "head_hash", "last_event_hash", "frontier")
                        VALUES ('str', 'ten', 'sys', 'u', 'now', 'h', 'h', '\\x')`);
    await client.query(`INSERT INTO "events" VALUES ('ev', 'str', 1, 's', 't', NULL, 'now', NULL, NULL, 'c', 'h', 'p', 'sh', 'v', 'k', 'sig')`);
    const record = (id: string, kind: string) =>
      client.query(
        `INSERT INTO "cicd_records" ("id", "kind", "tenant_id", "system_id", "stream_id", "repository_key", "record", "artifact_sha256",
           "created_at", "updated_at", "event_id", "seq_no", "event_count") VALUES ($1, $2, 'ten', 'sys', 'str', 'r', '{}', 'aa', 'now', 'now', 'ev', 1, 1)`,
        [id, kind],
      );
    await record('r1', 'attestation');
    await record('r2', 'attestation');
    await record('r3', 'artifact');
    await expect(record('r4', 'artifact')).rejects.toThrow(/cicd_records_artifact/);
  });
});
