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

const clients = new Map<number, pg.Client>();

/** Values a structured clone turned from Buffer into Uint8Array go back to Buffer, which pg sends as bytea. */
function param(v: unknown): unknown {
  if (v instanceof Uint8Array && !Buffer.isBuffer(v)) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  return v;
}

function errorOf(e: unknown): PgErrorShape {
  const x = e as { message?: string; code?: string; constraint?: string; detail?: string };
  return { message: String(x?.message ?? e), sqlState: typeof x?.code === 'string' ? x.code : undefined, constraint: x?.constraint, detail: x?.detail };
}

async function client(conn: number): Promise<pg.Client> {
  const c = clients.get(conn);
  if (!c) throw new Error(`postgres connection ${conn} is not open`);
  return c;
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
      const c = new pg.Client({ connectionString: req.url, application_name: `proofstream-${req.role}` });
      // A connection lost later surfaces on the next query; without a listener the error would end the thread.
      c.on('error', () => {});
      await c.connect();
      clients.set(req.conn, c);
      return { ok: true, rows: [], rowCount: 0, fields: [] };
    }
    case 'query': {
      const c = await client(req.conn);
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
      const c = await client(req.conn);
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
      const c = clients.get(req.conn);
      clients.delete(req.conn);
      if (c) await c.end().catch(() => {});
      return { ok: true, rows: [], rowCount: 0, fields: [] };
    }
  }
}

port.on('message', (req: PgRequest) => {
  handle(req)
    .catch((e): PgResponse => ({ ok: false, error: errorOf(e) }))
    .then((res) => {
      // The answer is queued on the port before the main thread is woken, so it is there when it looks.
      port.postMessage(res);
      Atomics.store(flag, 0, 1);
      Atomics.notify(flag, 0);
    });
});
