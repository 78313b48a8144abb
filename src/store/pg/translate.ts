// The store's SQL is written once, in SQLite's dialect (drizzle's SQLite builder and a few raw statements). These
// are the differences PostgreSQL needs, applied once per prepared statement. Each rule is tested in
// test/pg-translate.test.ts; a statement this cannot translate fails when prepared, never silently.

/** Rewrites `?` placeholders to `$1…$n`, leaving quoted strings and identifiers alone. */
function numberPlaceholders(sql: string): string {
  let out = '';
  let n = 0;
  for (let i = 0; i < sql.length; i++) {
    const ch = sql[i]!;
    if (ch === "'" || ch === '"') {
      const end = closing(sql, i, ch);
      out += sql.slice(i, end + 1);
      i = end;
    } else if (ch === '?') out += `$${++n}`;
    else out += ch;
  }
  return out;
}

/** Index of the quote closing the one at `start` (a doubled quote is an escaped one). */
function closing(sql: string, start: number, q: string): number {
  for (let i = start + 1; i < sql.length; i++) {
    if (sql[i] === q) {
      if (sql[i + 1] === q) i++;
      else return i;
    }
  }
  throw new Error(`unterminated ${q} in SQL: ${sql.slice(0, 80)}`);
}

export type Translated =
  /** an ordinary statement */
  | { kind: 'sql'; text: string }
  /** a transaction-control statement the connection handles itself (BEGIN takes the writer lock) */
  | { kind: 'begin' | 'commit' | 'rollback' }
  | { kind: 'savepoint' | 'release' | 'rollbackTo'; name: string }
  /** PRAGMA data_version: changes when another connection commits */
  | { kind: 'dataVersion' };

export function translate(sqlite: string): Translated {
  const s = sqlite.trim();
  const u = s.toUpperCase();
  if (/^BEGIN(\s+(DEFERRED|IMMEDIATE|EXCLUSIVE))?(\s+TRANSACTION)?$/.test(u)) return { kind: 'begin' };
  if (/^(COMMIT|END)(\s+TRANSACTION)?$/.test(u)) return { kind: 'commit' };
  if (/^ROLLBACK(\s+TRANSACTION)?$/.test(u)) return { kind: 'rollback' };
  let m = /^SAVEPOINT\s+("?[A-Za-z_][A-Za-z0-9_]*"?)$/i.exec(s);
  if (m) return { kind: 'savepoint', name: m[1]! };
  m = /^RELEASE(?:\s+SAVEPOINT)?\s+("?[A-Za-z_][A-Za-z0-9_]*"?)$/i.exec(s);
  if (m) return { kind: 'release', name: m[1]! };
  m = /^ROLLBACK(?:\s+TRANSACTION)?\s+TO(?:\s+SAVEPOINT)?\s+("?[A-Za-z_][A-Za-z0-9_]*"?)$/i.exec(s);
  if (m) return { kind: 'rollbackTo', name: m[1]! };
  if (/^PRAGMA\s+DATA_VERSION$/.test(u)) return { kind: 'dataVersion' };
  if (u.startsWith('PRAGMA')) throw new Error(`SQLite-only statement on PostgreSQL: ${s}`);

  let text = numberPlaceholders(s);
  // INSERT OR IGNORE → INSERT … ON CONFLICT DO NOTHING (before any RETURNING).
  if (/^INSERT\s+OR\s+IGNORE\s+INTO\s/i.test(text)) {
    text = text.replace(/^INSERT\s+OR\s+IGNORE\s+INTO\s/i, 'INSERT INTO ');
    const ret = /\sRETURNING\s/i.exec(text);
    text = ret ? `${text.slice(0, ret.index)} ON CONFLICT DO NOTHING${text.slice(ret.index)}` : `${text} ON CONFLICT DO NOTHING`;
  } else if (/^INSERT\s+OR\s+/i.test(text) || /^REPLACE\s/i.test(text)) {
    throw new Error(`SQLite-only statement on PostgreSQL: ${s.slice(0, 80)}`);
  }
  // drizzle's SQLite builder qualifies an upsert's conflict target ("t"."a", "t"."b"); PostgreSQL takes bare columns.
  text = text.replace(/(\bON\s+CONFLICT\s*)\(([^)]*)\)/gi, (_, on: string, cols: string) => `${on}(${cols.replace(/"[^"]+"\.("[^"]+")/g, '$1')})`);
  return { kind: 'sql', text };
}
