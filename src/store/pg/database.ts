// A PostgreSQL connection that offers the part of better-sqlite3's Database the store uses (prepare → run / get /
// all / raw / pluck, exec, inTransaction, close), so drizzle's SQLite session and the store's raw statements run on
// it unchanged. Every call is one synchronous round trip through the worker (bridge.ts).
import { createHash } from 'node:crypto';
import { pgBridge, PgError, type Bridge } from './bridge.js';
import { translate, type Translated } from './translate.js';

/**
 * Transaction-level advisory lock every write transaction takes first: writers on every node serialize exactly as
 * SQLite's writers do (BEGIN IMMEDIATE), so each read-then-write of the engine sees every commit before it.
 */
export const WRITER_LOCK_KEY = '7081297171101'; // "proofstream writer"
/** Session-level advisory lock held while migrations run, so nodes starting together migrate once. */
export const MIGRATION_LOCK_KEY = '7081297171102';

/** Session settings of every ledger connection (docs/operations.md "PostgreSQL"). */
const SESSION_SETTINGS = [
  // As SQLite's busy_timeout: a writer waits this long for another node's transaction, then fails (503, retryable).
  "SET lock_timeout = '5s'",
  "SET statement_timeout = '60s'",
  // A node paused inside a transaction (SIGSTOP, a frozen VM) must not hold the writer lock for ever.
  "SET idle_in_transaction_session_timeout = '10s'",
  // Durable before COMMIT returns, whatever the server's default: a receipt is only sent after its event is durable.
  "SET synchronous_commit = 'on'",
  "SET TIME ZONE 'UTC'",
].join('; ');

type Row = Record<string, unknown> | unknown[];

/** The advisory lock key of a named lease: the first 8 bytes of SHA-256("proofstream lease <name>"), signed. */
export const leaseKey = (name: string): bigint => createHash('sha256').update(`proofstream lease ${name}`).digest().readBigInt64BE(0);

/** Whether this session holds the (single-key) advisory lock whose 64-bit key has these high and low halves. */
const HOLDS_ADVISORY_LOCK =
  "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = pg_backend_pid() " +
  'AND classid = $1::bigint::oid AND objid = $2::bigint::oid AND objsubid = 1)';

/** Buffers cross the thread boundary as Uint8Array; the store expects Buffers (as better-sqlite3 returns them). */
function toBuffers(row: Row): Row {
  if (Array.isArray(row)) {
    for (let i = 0; i < row.length; i++) {
      const v = row[i];
      if (v instanceof Uint8Array && !Buffer.isBuffer(v)) row[i] = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    }
  } else {
    for (const k in row) {
      const v = row[k];
      if (v instanceof Uint8Array && !Buffer.isBuffer(v)) row[k] = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    }
  }
  return row;
}

/** A row with its folded column names given back their case. */
function renamed(row: Record<string, unknown>, renames: Record<string, string>): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const k in row) o[renames[k] ?? k] = row[k];
  return o;
}

export class PgStatement {
  private arrayMode = false;
  private plucked = false;
  /** a server-side prepared statement name: parsed once per connection, as better-sqlite3 prepares once */
  private readonly name: string | undefined;

  constructor(
    private readonly db: PgDatabase,
    private readonly t: Translated,
    readonly source: string,
  ) {
    this.name = t.kind === 'sql' ? 'ps_' + createHash('sha256').update(t.text).digest('hex').slice(0, 24) : undefined;
  }

  raw(on = true): this {
    this.arrayMode = on;
    return this;
  }

  pluck(on = true): this {
    this.plucked = on;
    return this;
  }

  /**
   * A write whose result nobody reads (an event or Merkle node insert), inside a transaction: queued, and sent with
   * the next statement that needs an answer (or COMMIT, or a savepoint), in one round trip with the rest of the
   * queue. Its failure surfaces there, inside the same transaction and savepoint. Outside a transaction: run().
   */
  runDeferred(...params: unknown[]): void {
    if (this.t.kind === 'sql' && this.db.inTransaction) this.db.defer(this.t.text, flat(params));
    else this.run(...params);
  }

  run(...params: unknown[]): { changes: number; lastInsertRowid: number } {
    const r = this.db.execute(this.t, this.name, flat(params), 'array');
    return { changes: r.rowCount, lastInsertRowid: 0 };
  }

  all(...params: unknown[]): unknown[] {
    const r = this.db.execute(this.t, this.name, flat(params), this.arrayMode || this.plucked ? 'array' : 'object');
    let rows = r.rows as Row[];
    for (const row of rows) toBuffers(row);
    const renames = this.t.kind === 'sql' ? this.t.renames : undefined;
    if (renames && !(this.arrayMode || this.plucked)) rows = rows.map((row) => renamed(row as Record<string, unknown>, renames));
    return this.plucked ? rows.map((x) => (x as unknown[])[0]) : rows;
  }

  get(...params: unknown[]): unknown {
    return this.all(...params)[0];
  }

  iterate(...params: unknown[]): IterableIterator<unknown> {
    return this.all(...params)[Symbol.iterator]();
  }
}

/** better-sqlite3 takes parameters spread or as one array. */
const flat = (params: unknown[]): unknown[] => (params.length === 1 && Array.isArray(params[0]) ? (params[0] as unknown[]) : params);

export class PgDatabase {
  private readonly bridge: Bridge;
  private readonly conn: number;
  private leaseConn: number | null = null;
  /** leases taken on leaseConn (as far as this side knows: tryLease checks) */
  private readonly leases = new Set<string>();
  private tx = false;
  /** deferred writes not yet sent (runDeferred) */
  private pending: Array<{ text: string; params: unknown[] }> = [];
  open = true;
  readonly readonly = false;
  readonly memory = false;
  /** the URL without its password, for messages */
  readonly name: string;

  constructor(private readonly url: string) {
    const u = new URL(url);
    u.password = '';
    this.name = u.toString();
    this.bridge = pgBridge();
    this.conn = this.bridge.newConnection();
    this.bridge.call({ op: 'connect', conn: this.conn, url, role: 'main', init: SESSION_SETTINGS });
    const [coll] = this.bridge.call({
      op: 'query',
      conn: this.conn,
      text: "SELECT CASE WHEN datlocprovider = 'i' THEN 'icu:' || daticulocale ELSE datcollate END FROM pg_database WHERE datname = current_database()",
      params: [],
      rowMode: 'array',
    }).rows as string[][];
    // Paging cursors and every ORDER BY on ids assume byte order, as SQLite's BINARY collation has it (C.UTF-8 orders
    // by code point, which is byte order for UTF-8).
    if (!coll || !/^(C|POSIX|C\.UTF-?8)$/i.test(coll[0]!)) {
      this.close();
      throw new PgError(
        `the database's collation is ${coll?.[0]}; Proofstream needs "C" (CREATE DATABASE … TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C')`,
        'PG_COLLATION',
        undefined,
      );
    }
  }

  get inTransaction(): boolean {
    return this.tx;
  }

  /**
   * `fn`'s reads from one snapshot (REPEATABLE READ, READ ONLY), without the writer lock: what SQLite's deferred
   * read transaction gives. Statements of a READ COMMITTED transaction would each see the commits made meanwhile.
   */
  readSnapshot<T>(fn: () => T): T {
    if (this.tx) return fn();
    this.bridge.call({ op: 'exec', conn: this.conn, text: 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY' });
    this.tx = true;
    try {
      return fn();
    } finally {
      this.tx = false;
      this.bridge.call({ op: 'exec', conn: this.conn, text: 'COMMIT' });
    }
  }

  prepare(sql: string): PgStatement {
    return new PgStatement(this, translate(sql), sql);
  }

  /** Statements without parameters, one at a time (transaction control is understood as in prepare). */
  exec(sql: string): this {
    for (const part of sql.split(';').map((s) => s.trim()).filter(Boolean)) this.execute(translate(part), undefined, [], 'array');
    return this;
  }

  /**
   * The SQLite PRAGMAs the store issues outside the hot path, as far as they mean anything here. Erasure's
   * `secure_delete` and `wal_checkpoint(TRUNCATE)` scrub SQLite's file and WAL of an erased payload; PostgreSQL has no
   * such switch: the row version that held it stays in the table's pages until VACUUM reclaims the space and later
   * writes overwrite it (docs/operations.md "PostgreSQL", erasure). Anything else is refused.
   */
  pragma(source: string, opts: { simple?: boolean } = {}): unknown {
    const p = source.trim().toLowerCase();
    if (/^(secure_delete|busy_timeout)\s*=/.test(p)) return [];
    if (p === 'busy_timeout') return opts.simple ? 5000 : [{ timeout: 5000 }];
    if (/^wal_checkpoint\(truncate\)$/.test(p)) return [{ busy: 0, log: 0, checkpointed: 0 }];
    throw new PgError(`SQLite-only PRAGMA on PostgreSQL: ${source}`, 'SQLITE_ERROR', undefined);
  }

  migrate(folder: string): void {
    this.bridge.call({ op: 'migrate', conn: this.conn, folder, lockKey: MIGRATION_LOCK_KEY });
  }

  /**
   * Takes the named lease if no other node holds it: a session-level advisory lock on a connection of its own, held
   * until this process closes the store or dies (PostgreSQL then releases it and another node takes over).
   */
  tryLease(name: string): boolean {
    if (this.leaseConn === null) {
      this.leaseConn = this.bridge.newConnection();
      this.bridge.call({ op: 'connect', conn: this.leaseConn, url: this.url, role: 'lease' });
    }
    const key = leaseKey(name);
    const ask = (text: string, params: string[]) => (this.bridge.call({ op: 'query', conn: this.leaseConn!, text, params, rowMode: 'array' }).rows as boolean[][])[0]![0] === true;
    // Held already: look whether this session still has it, rather than take it once more (the lock is re-entrant,
    // and a holder checking every few seconds would pile up a count). After a reconnect it does not, and asks anew.
    if (this.leases.has(name)) {
      const u = BigInt.asUintN(64, key);
      if (ask(HOLDS_ADVISORY_LOCK, [String(u >> 32n), String(u & 0xffffffffn)])) return true;
      this.leases.delete(name);
    }
    const won = ask('SELECT pg_try_advisory_lock($1::bigint)', [key.toString()]);
    if (won) this.leases.add(name);
    return won;
  }

  defer(text: string, params: unknown[]): void {
    this.pending.push({ text, params });
  }

  execute(t: Translated, name: string | undefined, params: unknown[], rowMode: 'array' | 'object'): { rows: unknown[]; rowCount: number } {
    if (!this.open) throw new TypeError('The database connection is not open');
    let before: Array<{ text: string; params: unknown[] }> | undefined;
    if (this.pending.length && t.kind === 'sql') {
      // Sent in the same request as this statement: one crossing of the thread boundary for both.
      before = this.pending;
      this.pending = [];
    } else if (this.pending.length) {
      const statements = this.pending;
      this.pending = [];
      // Rolled back anyway: a ROLLBACK (TO) drops what was queued since its savepoint (SAVEPOINT itself sent the rest).
      if (t.kind !== 'rollback' && t.kind !== 'rollbackTo') this.bridge.call({ op: 'batch', conn: this.conn, statements });
    }
    switch (t.kind) {
      case 'sql':
        return this.bridge.call({ op: 'query', conn: this.conn, text: t.text, params, rowMode, name, before });
      case 'begin':
        if (this.tx) throw new PgError('cannot start a transaction within a transaction', 'SQLITE_ERROR', undefined);
        try {
          this.bridge.call({ op: 'exec', conn: this.conn, text: `BEGIN; SELECT pg_advisory_xact_lock(${WRITER_LOCK_KEY})` });
        } catch (e) {
          // The lock was not granted (lock_timeout): BEGIN went through, so end that aborted transaction here.
          try {
            this.bridge.call({ op: 'exec', conn: this.conn, text: 'ROLLBACK' });
          } catch {
            // the connection itself failed: nothing to end
          }
          throw e;
        }
        this.tx = true;
        return { rows: [], rowCount: 0 };
      case 'commit':
      case 'rollback':
        // PostgreSQL ends the transaction whether COMMIT succeeds or fails.
        this.tx = false;
        this.bridge.call({ op: 'exec', conn: this.conn, text: t.kind === 'commit' ? 'COMMIT' : 'ROLLBACK' });
        return { rows: [], rowCount: 0 };
      case 'savepoint':
        return this.bridge.call({ op: 'exec', conn: this.conn, text: `SAVEPOINT ${t.name}` });
      case 'release':
        return this.bridge.call({ op: 'exec', conn: this.conn, text: `RELEASE SAVEPOINT ${t.name}` });
      case 'rollbackTo':
        return this.bridge.call({ op: 'exec', conn: this.conn, text: `ROLLBACK TO SAVEPOINT ${t.name}` });
      case 'dataVersion': {
        // The next transaction id: it moves whenever any connection (another node's too) writes. Unlike SQLite's
        // data_version it also moves for this connection's own commits, which only makes caches reload sooner.
        const r = this.bridge.call({ op: 'query', conn: this.conn, text: 'SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint', params: [], rowMode: 'array', name: 'ps_data_version' });
        return { rows: rowMode === 'array' ? r.rows : (r.rows as unknown[][]).map((x) => ({ data_version: x[0] })), rowCount: 1 };
      }
    }
  }

  close(): void {
    if (!this.open) return;
    this.open = false;
    this.pending = [];
    this.tx = false;
    for (const conn of [this.conn, this.leaseConn]) if (conn !== null) this.bridge.call({ op: 'close', conn });
  }
}
