// The store's SQL is written once, in SQLite's dialect (drizzle's SQLite builder and a few raw statements). These
// are the differences PostgreSQL needs, applied once per prepared statement. Each rule is tested in
// test/pg-translate.test.ts; a statement this cannot translate fails when prepared, never silently.

/**
 * Outside quoted strings and identifiers: `?` placeholders become `$1…$n`. Unquoted mixed-case aliases (`AS
 * streamId`) are collected: PostgreSQL folds them (and every unquoted reference to them) to lower case where SQLite
 * keeps the case, so the result's columns are renamed back (`renames`, lower case → as written).
 */
function rewriteUnquoted(sql: string, renames: Record<string, string>): string {
  let out = '';
  let n = 0;
  let plain = '';
  const flushPlain = () => {
    for (const m of plain.matchAll(/\bAS\s+([A-Za-z_][A-Za-z0-9_]*)\b/gi)) if (/[A-Z]/.test(m[1]!)) renames[m[1]!.toLowerCase()] = m[1]!;
    out += plain.replace(/\?/g, () => `$${++n}`);
    plain = '';
  };
  for (let i = 0; i < sql.length; i++) {
    const ch = sql[i]!;
    if (ch === "'" || ch === '"') {
      flushPlain();
      const end = closing(sql, i, ch);
      out += sql.slice(i, end + 1);
      i = end;
    } else plain += ch;
  }
  flushPlain();
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
  | { kind: 'sql'; text: string; renames?: Record<string, string> }
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

  const renames: Record<string, string> = {};
  let text = rewriteUnquoted(s, renames);
  // drizzle's SQLite builder qualifies the conflict target's columns ("t"."c"), which PostgreSQL does not accept.
  text = text.replace(/\bon conflict \(([^)]*)\)/gi, (_m, cols: string) => `on conflict (${cols.replace(/"[^"]+"\."([^"]+)"/g, '"$1"')})`);
  // INSERT OR IGNORE → INSERT … ON CONFLICT DO NOTHING (before any RETURNING).
  if (/^INSERT\s+OR\s+IGNORE\s+INTO\s/i.test(text)) {
    text = text.replace(/^INSERT\s+OR\s+IGNORE\s+INTO\s/i, 'INSERT INTO ');
    const ret = /\sRETURNING\s/i.exec(text);
    text = ret ? `${text.slice(0, ret.index)} ON CONFLICT DO NOTHING${text.slice(ret.index)}` : `${text} ON CONFLICT DO NOTHING`;
  } else if (/^INSERT\s+OR\s+/i.test(text) || /^REPLACE\s/i.test(text)) {
    throw new Error(`SQLite-only statement on PostgreSQL: ${s.slice(0, 80)}`);
  }
  return Object.keys(renames).length ? { kind: 'sql', text, renames } : { kind: 'sql', text };
}
