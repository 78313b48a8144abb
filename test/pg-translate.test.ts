// The SQLite → PostgreSQL statement translation (src/store/pg/translate.ts): each rule, and that a statement it
// cannot translate is refused when prepared rather than sent as is.
import { describe, expect, it } from 'vitest';
import { translate } from '../src/store/pg/translate.js';

const text = (sql: string) => {
  const t = translate(sql);
  if (t.kind !== 'sql') throw new Error(`not a plain statement: ${t.kind}`);
  return t.text;
};

describe('translate', () => {
  it('numbers ? placeholders in order, leaving quoted strings and identifiers alone', () => {
    expect(text('SELECT "a?" FROM "t" WHERE "x" = ? AND y = \'it\'\'s ?\' AND z IN (?, ?)')).toBe(
      'SELECT "a?" FROM "t" WHERE "x" = $1 AND y = \'it\'\'s ?\' AND z IN ($2, $3)',
    );
  });

  it('names the unquoted mixed-case aliases PostgreSQL folds to lower case, so their columns get their case back', () => {
    const sql = 'SELECT t.streamId FROM (SELECT s."id" AS streamId, COALESCE(c."n", 0) as checkpointSize, x AS lower, y AS "Quoted" FROM t) t';
    expect(translate(sql)).toEqual({ kind: 'sql', text: sql, renames: { streamid: 'streamId', checkpointsize: 'checkpointSize' } });
    expect(translate("SELECT 'a AS bC' AS label")).toEqual({ kind: 'sql', text: "SELECT 'a AS bC' AS label" });
  });

  it('unqualifies the columns of an ON CONFLICT target (drizzle qualifies them for SQLite)', () => {
    expect(text('insert into "w" ("a", "b") values (?, ?) on conflict ("w"."a", "w"."b") do update set "b" = ?')).toBe(
      'insert into "w" ("a", "b") values ($1, $2) on conflict ("a", "b") do update set "b" = $3',
    );
  });

  it('INSERT OR IGNORE becomes ON CONFLICT DO NOTHING, before RETURNING when there is one', () => {
    expect(text('INSERT OR IGNORE INTO "t" ("a") VALUES (?)')).toBe('INSERT INTO "t" ("a") VALUES ($1) ON CONFLICT DO NOTHING');
    expect(text('insert or ignore into "t" ("a") values (?) returning "a"')).toBe('INSERT INTO "t" ("a") values ($1) ON CONFLICT DO NOTHING returning "a"');
  });

  it('transaction control is handed to the connection (BEGIN of any kind takes the writer lock there)', () => {
    for (const s of ['BEGIN', 'BEGIN IMMEDIATE', 'begin deferred', 'BEGIN EXCLUSIVE TRANSACTION']) expect(translate(s)).toEqual({ kind: 'begin' });
    expect(translate('COMMIT')).toEqual({ kind: 'commit' });
    expect(translate('END')).toEqual({ kind: 'commit' });
    expect(translate('ROLLBACK')).toEqual({ kind: 'rollback' });
    expect(translate('SAVEPOINT "ps_sp"')).toEqual({ kind: 'savepoint', name: '"ps_sp"' });
    expect(translate('RELEASE "ps_sp"')).toEqual({ kind: 'release', name: '"ps_sp"' });
    expect(translate('release savepoint sp1')).toEqual({ kind: 'release', name: 'sp1' });
    expect(translate('ROLLBACK TO "ps_sp"')).toEqual({ kind: 'rollbackTo', name: '"ps_sp"' });
    expect(translate('rollback to savepoint sp1')).toEqual({ kind: 'rollbackTo', name: 'sp1' });
  });

  it('PRAGMA data_version has a PostgreSQL meaning; other PRAGMAs and SQLite-only inserts are refused', () => {
    expect(translate('PRAGMA data_version')).toEqual({ kind: 'dataVersion' });
    expect(() => translate('PRAGMA page_count')).toThrow(/SQLite-only/);
    expect(() => translate('INSERT OR REPLACE INTO "t" ("a") VALUES (?)')).toThrow(/SQLite-only/);
    expect(() => translate('REPLACE INTO "t" ("a") VALUES (?)')).toThrow(/SQLite-only/);
  });

  it('refuses an unterminated quote instead of numbering placeholders inside it', () => {
    expect(() => translate('SELECT \'? FROM t')).toThrow(/unterminated/);
  });
});
