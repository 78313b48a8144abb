// The PostgreSQL worker thread: owns the node-postgres connections and answers the main thread's requests one at a
// time. The main thread waits for each answer synchronously (src/store/pg/bridge.ts), which is what keeps the
// store's interface synchronous on both databases.
import { workerData, type MessagePort } from 'node:worker_threads';
import pg from 'pg';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import type { PgErrorShape, PgRequest, PgResponse } from './protocol.js';

const { port, flag } = workerData as { port: MessagePort; flag: Int32Array };

// Sizes and sequence numbers are bigint columns; every value the ledger stores is below 2^53, and one that is not
// must fail loudly rather than round.
const exactNumber = (v: string): number => {
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new Error(`integer ${v} is beyond 2^53`);
  return n;
};
pg.types.setTypeParser(pg.types.builtins.INT8, exactNumber);
pg.types.setTypeParser(pg.types.builtins.NUMERIC, (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`numeric ${v} is not a finite number`);
  return n;
});

interface Conn {
  url: string;
  role: string;
  init?: string;
  /** null after the connection broke (server restart, network): re-established on the next request */
  client: pg.Client | null;
  /** a transaction is open (BEGIN sent, no COMMIT/ROLLBACK yet) */
  inTx: boolean;
  /**
   * The connection broke while a transaction was open: the server rolled it back. Until the store's ROLLBACK
   * arrives, every statement fails — running it on a fresh connection would commit part of a transaction.
   */
  lostTx: boolean;
}
const conns = new Map<number, Conn>();

async function connect(c: Conn): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: c.url, application_name: `proofstream-${c.role}` });
  // A connection lost later fails its next query; without a listener the error would end the thread.
  const broke = () => {
    if (c.client !== client) return;
    c.client = null;
    if (c.inTx) c.lostTx = true;
  };
  client.on('error', broke);
  client.on('end', broke);
  await client.connect();
  try {
    if (c.init) await client.query(c.init);
  } catch (e) {
    await client.end().catch(() => {});
    throw e;
  }
  return client;
}

/** Values a structured clone turned from Buffer into Uint8Array go back to Buffer, which pg sends as bytea. */
function param(v: unknown): unknown {
  if (v instanceof Uint8Array && !Buffer.isBuffer(v)) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  return v;
}

function errorOf(e: unknown): PgErrorShape {
  const x = e as { message?: string; code?: string; constraint?: string; detail?: string };
  return { message: String(x?.message ?? e), sqlState: typeof x?.code === 'string' ? x.code : undefined, constraint: x?.constraint, detail: x?.detail };
}

/**
 * The connection's client, re-established if it broke. A transaction open on the broken one is gone with it (the
 * server rolled it back): the statement that finds it broken failed, and the store's rollback follows.
 */
async function client(conn: number, text?: string): Promise<pg.Client> {
  const c = conns.get(conn);
  if (!c) throw new Error(`postgres connection ${conn} is not open`);
  const ends = text !== undefined && /^(COMMIT|ROLLBACK)$/.test(text);
  const begins = text !== undefined && text.startsWith('BEGIN');
  if (c.lostTx) {
    const lost = Object.assign(new Error('the connection to PostgreSQL was lost inside a transaction, which the server rolled back'), { code: '08006' });
    if (!ends) throw lost;
    // The transaction ends here either way; a COMMIT is told it did not happen.
    c.lostTx = false;
    c.inTx = false;
    if (text === 'COMMIT') throw lost;
  }
  if (ends) c.inTx = false;
  const cl = (c.client ??= await connect(c));
  if (begins) c.inTx = true;
  return cl;
}

/** PostgreSQL's limit on parameters in one statement */
const MAX_PARAMS = 65_535;
const INSERT_VALUES = /^(INSERT INTO .+? VALUES )\((\$\d+(?:, \$\d+)*)\)$/s;

/**
 * Consecutive runs of one `INSERT … VALUES ($1, …, $k)` statement become one `VALUES (…), (…), …` statement: one
 * round trip for a flush's events (or Merkle nodes) instead of one each. Anything else runs as it is.
 */
function* insertGroups(statements: Array<{ text: string; params: unknown[] }>): Generator<{ text: string; params: unknown[] }> {
  let i = 0;
  while (i < statements.length) {
    const s = statements[i]!;
    const m = INSERT_VALUES.exec(s.text);
    if (!m) {
      yield s;
      i++;
      continue;
    }
    const k = s.params.length;
    const rows: unknown[][] = [];
    while (i < statements.length && statements[i]!.text === s.text && (rows.length + 1) * k <= MAX_PARAMS) rows.push(statements[i++]!.params);
    const tuples = rows.map((_, r) => `(${Array.from({ length: k }, (_, j) => `$${r * k + j + 1}`).join(', ')})`);
    yield { text: m[1] + tuples.join(', '), params: rows.flat() };
  }
}

async function handle(req: PgRequest): Promise<PgResponse> {
  switch (req.op) {
    case 'connect': {
      const c: Conn = { url: req.url, role: req.role, init: req.init, client: null, inTx: false, lostTx: false };
      c.client = await connect(c);
      conns.set(req.conn, c);
      return { ok: true, rows: [], rowCount: 0, fields: [] };
    }
    case 'query': {
      const c = await client(req.conn);
      if (req.before) for (const group of insertGroups(req.before)) await c.query(group.text, group.params.map(param));
      const values = req.params.map(param);
      const r: pg.QueryResult<pg.QueryResultRow> =
        req.rowMode === 'array' ? await c.query({ text: req.text, values, rowMode: 'array', name: req.name }) : await c.query({ text: req.text, values, name: req.name });
      return { ok: true, rows: r.rows, rowCount: r.rowCount ?? 0, fields: r.fields.map((f) => f.name) };
    }
    case 'batch': {
      const c = await client(req.conn);
      let n = 0;
      for (const group of insertGroups(req.statements)) {
        const r = await c.query(group.text, group.params.map(param));
        n += r.rowCount ?? 0;
      }
      return { ok: true, rows: [], rowCount: n, fields: [] };
    }
    case 'exec': {
      const c = await client(req.conn, req.text);
      await c.query(req.text);
      return { ok: true, rows: [], rowCount: 0, fields: [] };
    }
    case 'migrate': {
      const c = await client(req.conn);
      // Several nodes starting together: one migrates, the others wait here and then find nothing left to do.
      await c.query('SELECT pg_advisory_lock($1::bigint)', [req.lockKey]);
      try {
        await migrate(drizzle(c), { migrationsFolder: req.folder });
      } finally {
        await c.query('SELECT pg_advisory_unlock($1::bigint)', [req.lockKey]);
      }
      return { ok: true, rows: [], rowCount: 0, fields: [] };
    }
    case 'close': {
      const c = conns.get(req.conn);
      conns.delete(req.conn);
      if (c?.client) await c.client.end().catch(() => {});
      return { ok: true, rows: [], rowCount: 0, fields: [] };
    }
  }
}

port.on('message', (req: PgRequest) => {
  handle(req)
    .catch((e): PgResponse => {
      if (process.env.PROOFSTREAM_PG_DEBUG) console.error('postgres:', (e as Error).message, 'text' in req ? req.text : req.op);
      return { ok: false, error: errorOf(e) };
    })
    .then((res) => {
      // The answer is queued on the port before the main thread is woken, so it is there when it looks.
      port.postMessage(res);
      Atomics.store(flag, 0, 1);
      Atomics.notify(flag, 0);
    });
});
