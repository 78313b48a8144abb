// `npm run bench:postgres [-- --quick]` (and group 7 of `npm run bench`): the ledger on PostgreSQL (issue #17).
// A throw-away cluster with durability ON (fsync, synchronous_commit, full_page_writes), one database with C
// collation, and real `proofstream serve` processes on it: single appends and 100-event batches against one node,
// then against three nodes on the same database (the connections spread round-robin over the three URLs), driven
// by the same load generator as rows 1 and 2 from a second process on 127.0.0.1. After each figure the stream is
// checked through the API: every request whose answer the load generator missed is settled (sent again under its
// Idempotency-Key), then the head's seq_no must equal the events of all 2xx answers and the chain must be gap-free.
// Then one flush is taken apart in-process (`--flush-profile`): round trips through the worker and where the time
// goes. Standalone it also measures the raw floor and the SQLite rows 1 and 2, so the figures stand beside those
// of the same run.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { EVENT, hasTaskset, load as loadRun, ROOT, runNode, startFloor, startLedgerPinned, type Load } from './lib.js';
import { startPostgres, type RunningPostgres } from '../test/helpers/postgres.js';
import { BIN, client, newKey, spawnListening, type ListeningProcess } from '../test/helpers/server.js';

export class PgBenchError extends Error {
  override readonly name = 'PgBenchError';
  constructor(
    readonly code: 'EVENTS_LOST' | 'EVENTS_EXTRA' | 'CHAIN_BROKEN' | 'SETTLE_FAILED' | 'NOT_PINNED',
    message: string,
  ) {
    super(message);
  }
}

const CONNECTIONS = 64;
const BATCH_CONNECTIONS = 16;
const BATCH_SIZE = 100;
const BATCH = { events: Array.from({ length: BATCH_SIZE }, (_, i) => ({ ...EVENT, source_ref: `b${i}` })) };

/** What ran where: the whole server side on core 0 (as rows 1 and 2: there SQLite runs inside the node), the load on core 1. */
export const PLACEMENT = hasTaskset
  ? 'core 0: the node(s), all their threads, and the PostgreSQL cluster (postmaster, every backend, WAL writer, checkpointer); core 1: the load generator'
  : 'unpinned (no taskset or fewer than 2 cores): nodes, PostgreSQL and the load share every core';

/** One measured figure: the median run (by req/s; p99 the median of the runs' p99s), plus what the check found. */
export interface Measured extends Load {
  runs: Array<Load & { unanswered_at_end: number }>;
  /** events the stream holds after the runs (head seq_no), equal to `expected` or the bench threw */
  head_seq_no: number;
  /** events of every 2xx answer, the settled requests included */
  expected: number;
  /** requests in flight when a run's duration ended, sent again under their key (all answered 2xx) */
  settled: number;
}

export interface PgFlushProfile {
  mode: 'single' | 'batch';
  flushes: number;
  events_per_flush: number;
  flush_ms: number;
  round_trips_per_flush: number;
  /** per flush, by kind of round trip: how many and how long the main thread waited for them */
  by_kind: Record<string, { per_flush: number; ms_per_flush: number }>;
  /** the flush's time not spent waiting for PostgreSQL: hashing, signing, building rows (main thread) */
  cpu_ms_per_flush: number;
  /** CPU the ledger connection's PostgreSQL backend used, per flush (from /proc; 10 ms ticks, summed over the run) */
  backend_cpu_ms_per_flush: number;
  /** CPU of the whole node process per flush: main thread (HTTP handling included) and the PostgreSQL worker thread */
  process_cpu_ms_per_flush: number;
  /** round trips of a request outside the flush (authentication, idempotency, the stream's owner, …) */
  outside_round_trips_per_request: number;
  outside_ms_per_request: number;
  outside_by_kind: Record<string, { per_request: number; ms_per_request: number }>;
}

export interface PgBenchResults {
  placement: string;
  cluster: { fsync: string; synchronous_commit: string; full_page_writes: string; wal_sync_method: string; server_version: string };
  one_node: { append: Measured; batch: Measured };
  three_nodes: { append: Measured; batch: Measured };
  flush_profile: { single: PgFlushProfile; batch: PgFlushProfile };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Moves a running process and all its threads to core 0. */
const pinToCore0 = (pid: number): void => void execFileSync('taskset', ['-a', '-p', '-c', '0', String(pid)], { stdio: 'ignore' });

/**
 * Pins the cluster to core 0: the postmaster (whose later children, every new backend, inherit its affinity) and
 * the children it already has. Found from a backend of ours: its parent is the postmaster.
 */
async function pinPostgres(url: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const backend = Number((await c.query('SELECT pg_backend_pid() AS pid')).rows[0].pid);
    const ppid = /^PPid:\s+(\d+)$/m.exec(fs.readFileSync(`/proc/${backend}/status`, 'utf8'));
    if (!ppid) throw new PgBenchError('NOT_PINNED', `no parent of PostgreSQL backend ${backend}`);
    const postmaster = Number(ppid[1]);
    pinToCore0(postmaster);
    const children = fs.readFileSync(`/proc/${postmaster}/task/${postmaster}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    for (const pid of children) {
      try {
        pinToCore0(pid);
      } catch {
        // a child that ended meanwhile
      }
    }
  } finally {
    await c.end();
  }
}

/** The durable cluster and the one database the nodes share (C collation, as the node insists). */
export async function startCluster(): Promise<{ pg: RunningPostgres; dbUrl: string; profileUrl: string; settings: PgBenchResults['cluster'] }> {
  const server = await startPostgres({ durable: true });
  try {
    if (hasTaskset) await pinPostgres(server.url);
    const c = new pg.Client({ connectionString: server.url });
    await c.connect();
    try {
      for (const name of ['proofstream', 'proofstream_profile']) await c.query(`CREATE DATABASE ${name} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'`);
      const show = async (s: string) => String((await c.query(`SHOW ${s}`)).rows[0][s]);
      const settings = {
        fsync: await show('fsync'),
        synchronous_commit: await show('synchronous_commit'),
        full_page_writes: await show('full_page_writes'),
        wal_sync_method: await show('wal_sync_method'),
        server_version: await show('server_version'),
      };
      if (settings.fsync !== 'on' || settings.synchronous_commit !== 'on' || settings.full_page_writes !== 'on') throw new Error(`bench cluster is not durable: ${JSON.stringify(settings)}`);
      const at = (db: string) => Object.assign(new URL(server.url), { pathname: `/${db}` }).toString();
      return { pg: server, dbUrl: at('proofstream'), profileUrl: at('proofstream_profile'), settings };
    } finally {
      await c.end();
    }
  } catch (e) {
    await server.stop();
    throw e;
  }
}

export interface Nodes {
  urls: string[];
  key: string;
  stop(): Promise<void>;
}

/**
 * `count` serve processes on one database, each with its own data directory (its own rollback high-water record)
 * and the same signing key file and bootstrap key, as an operator runs them behind a load balancer. The first starts
 * alone (it migrates the database), the others together.
 */
export async function startNodes(count: number, dbUrl: string): Promise<Nodes> {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'ps-pgbench-'));
  const key = newKey();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOST: '127.0.0.1',
    PORT: '0',
    DATABASE_URL: dbUrl,
    PROOFSTREAM_SIGNING_KEY: path.join(base, 'keys', 'signing-key.pem'),
    PROOFSTREAM_BOOTSTRAP_KEY: key,
  };
  const procs: ListeningProcess[] = [];
  const stop = async () => {
    for (const p of procs) await p.stop();
    fs.rmSync(base, { recursive: true, force: true, maxRetries: 3 });
  };
  const start = async (i: number) => {
    const dataDir = path.join(base, `node-${i}`);
    fs.mkdirSync(dataDir, { mode: 0o700 });
    const p = await spawnListening(`node ${i}`, [BIN, 'serve'], { ...env, PROOFSTREAM_DATA_DIR: dataDir });
    procs.push(p);
    if (hasTaskset) pinToCore0(p.proc.pid!);
    return p;
  };
  try {
    await start(0);
    await Promise.all(Array.from({ length: count - 1 }, (_, i) => start(i + 1)));
  } catch (e) {
    await stop();
    throw e;
  }
  return { urls: procs.map((p) => `http://127.0.0.1:${p.port}`), key, stop };
}

type Call = ReturnType<typeof client>;

/** Sends a request the load generator never saw answered again under its key: the ledger commits it once at most. */
async function settle(call: Call, p: string, body: unknown, key: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const r = await call('POST', p, body, { 'idempotency-key': key });
    if (r.status >= 200 && r.status < 300) return;
    // 409: the first request under this key is still being answered (the node waits for it, then replays)
    if ((r.status === 409 || r.status === 503) && attempt < 20) {
      await sleep(250);
      continue;
    }
    throw new PgBenchError('SETTLE_FAILED', `settling ${key}: ${r.status} ${r.text.slice(0, 200)}`);
  }
}

/**
 * The stream holds exactly `expected` events, in one gap-free chain: seq_no 1..head, each previous_event_hash the
 * event_hash before it (the full cryptographic check is the tests'; this catches a lost or doubled event).
 */
async function checkStream(call: Call, streamId: string, expected: number): Promise<number> {
  const head = Number((await call('GET', `/v2/streams/${streamId}`)).body.head_seq_no);
  if (head < expected) throw new PgBenchError('EVENTS_LOST', `stream ${streamId}: head seq_no ${head}, but ${expected} events were answered 2xx`);
  if (head > expected) throw new PgBenchError('EVENTS_EXTRA', `stream ${streamId}: head seq_no ${head}, but only ${expected} events were answered 2xx`);
  let prev = '0'.repeat(64);
  let seq = 0;
  for (let from: number | null = 1; from !== null; ) {
    const page: { status: number; body: { events: Array<{ seq_no: number; event_hash: string; previous_event_hash: string }>; next_from_seq_no: number | null } } = await call(
      'GET',
      `/v2/streams/${streamId}/events?from_seq_no=${from}&limit=1000`,
    );
    if (page.status !== 200) throw new PgBenchError('CHAIN_BROKEN', `listing ${streamId} from ${from}: ${page.status}`);
    for (const e of page.body.events) {
      if (e.seq_no !== ++seq) throw new PgBenchError('CHAIN_BROKEN', `stream ${streamId}: seq_no ${e.seq_no} where ${seq} was due`);
      if (e.previous_event_hash !== prev) throw new PgBenchError('CHAIN_BROKEN', `stream ${streamId}: seq_no ${e.seq_no} does not link to the event before it`);
      prev = e.event_hash;
    }
    from = page.body.next_from_seq_no;
  }
  if (seq !== head) throw new PgBenchError('CHAIN_BROKEN', `stream ${streamId}: ${seq} events listed, head seq_no ${head}`);
  return head;
}

type LoadWithKeys = Load & { ok_2xx: number; unanswered: string[] };

/** `runs` load runs against `nodes` on a fresh stream, each settled; the median run, and the stream checked. */
export async function measure(nodes: Nodes, kind: 'append' | 'batch', runs: number, duration: number): Promise<Measured> {
  const call = client(nodes.urls[0]!, nodes.key);
  const sid = (await call('POST', '/v2/streams', { use_case: `pgbench-${kind}-${nodes.urls.length}` })).body.stream_id as string;
  const p = `/v2/streams/${sid}/events${kind === 'batch' ? '/batch' : ''}`;
  const body = kind === 'batch' ? BATCH : EVENT;
  const perRequest = kind === 'batch' ? BATCH_SIZE : 1;
  const rs: LoadWithKeys[] = [];
  let expected = 0;
  let settled = 0;
  for (let i = 0; i < runs; i++) {
    const r = (await loadRun({
      url: nodes.urls.length === 1 ? nodes.urls[0] : nodes.urls,
      key: nodes.key,
      method: 'POST',
      path: p,
      body,
      idempotency: 'unique',
      duration,
      connections: kind === 'batch' ? BATCH_CONNECTIONS : CONNECTIONS,
    })) as LoadWithKeys;
    for (const k of r.unanswered) await settle(call, p, body, k);
    settled += r.unanswered.length;
    expected += (r.ok_2xx + r.unanswered.length) * perRequest;
    rs.push(r);
  }
  const head = await checkStream(call, sid, expected);
  const m = [...rs].sort((a, b) => a.requests_per_s - b.requests_per_s)[Math.floor(rs.length / 2)]!;
  const strip = ({ unanswered, ...l }: LoadWithKeys) => ({ ...l, unanswered_at_end: unanswered.length });
  return { ...strip(m), p99_ms: rs.map((r) => r.p99_ms).sort((a, b) => a - b)[Math.floor(rs.length / 2)]!, runs: rs.map(strip), head_seq_no: head, expected, settled };
}

/** Group 7: the cluster, one node then three, and the flush profile. Every process it starts is stopped. */
export async function benchPostgres(opts: { runs: number; duration: number }): Promise<PgBenchResults> {
  const cluster = await startCluster();
  try {
    // Single appends then batches against `count` nodes on the database; the nodes are stopped after.
    const onNodes = async (count: number): Promise<PgBenchResults['one_node']> => {
      const nodes = await startNodes(count, cluster.dbUrl);
      try {
        return { append: await measure(nodes, 'append', opts.runs, opts.duration), batch: await measure(nodes, 'batch', opts.runs, opts.duration) };
      } finally {
        await nodes.stop();
      }
    };
    const one_node = await onNodes(1);
    const three_nodes = await onNodes(3);
    // In a process of its own on core 0 (where a node runs), on a database of its own.
    const flush_profile = JSON.parse(await runNode(hasTaskset ? 0 : null, ['bin/run-ts.mjs', 'bench/postgres.ts', '--flush-profile', cluster.profileUrl])) as PgBenchResults['flush_profile'];
    return { placement: PLACEMENT, cluster: cluster.settings, one_node, three_nodes, flush_profile };
  } finally {
    await cluster.pg.stop();
  }
}

export interface Row {
  name: string;
  value: string;
  unit: string;
  note: string;
}

const fmt = (n: number, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

/** The "7. PostgreSQL" rows, each set beside the SQLite figure of the same run (rows 1 and 2) and the raw floor. */
export function postgresRows(r: PgBenchResults, same: { floor: Load; append: Load; batch: Load }): Row[] {
  const bad = (l: Load) => (l.non2xx || l.errors ? ` — ${l.non2xx} non-2xx, ${l.errors} errors!` : '');
  const checked = (m: Measured) => `chain checked: head seq_no ${fmt(m.head_seq_no)} = events answered 2xx (${m.settled} in-flight requests settled)`;
  const single = (m: Measured) =>
    `p50 ${m.p50_ms} ms, p99 ${m.p99_ms} ms; ${fmt(m.requests_per_s / same.append.requests_per_s, 2)}× SQLite row 1 (${fmt(same.append.requests_per_s)}), ${fmt(m.requests_per_s / same.floor.requests_per_s, 2)}× floor; ${checked(m)}${bad(m)}`;
  const batch = (m: Measured) =>
    `${fmt(m.requests_per_s)} req/s, p99 ${m.p99_ms} ms; ${fmt(m.requests_per_s / same.batch.requests_per_s, 2)}× SQLite row 2 (${fmt(same.batch.requests_per_s * BATCH_SIZE)} events/s); ${checked(m)}${bad(m)}`;
  const prof = (f: PgFlushProfile) => {
    // the five kinds that took longest, the rest summed (all of them are in the results JSON)
    const sorted = Object.entries(f.by_kind).sort((a, b) => b[1].ms_per_flush - a[1].ms_per_flush);
    const rest = sorted.slice(5).reduce((t, [, v]) => ({ n: t.n + v.per_flush, ms: t.ms + v.ms_per_flush }), { n: 0, ms: 0 });
    const kinds = [...sorted.slice(0, 5).map(([k, v]) => `${k} ${fmt(v.per_flush, 1)}× ${fmt(v.ms_per_flush, 1)} ms`), `${sorted.length - 5} other kinds ${fmt(rest.n, 1)}× ${fmt(rest.ms, 1)} ms`].join(', ');
    return `${fmt(f.events_per_flush, 0)} events/flush, ${fmt(f.round_trips_per_flush, 1)} round trips: ${kinds}; main thread's own work in the flush ${fmt(f.cpu_ms_per_flush, 1)} ms; CPU per flush: PostgreSQL backend ${fmt(f.backend_cpu_ms_per_flush, 1)} ms, node process ${fmt(f.process_cpu_ms_per_flush, 1)} ms (all threads, HTTP included); outside the flush ${fmt(f.outside_round_trips_per_request, 1)} round trips (${fmt(f.outside_ms_per_request, 2)} ms) per request: ${Object.entries(f.outside_by_kind).sort((a, b) => b[1].per_request - a[1].per_request).slice(0, 3).map(([k, v]) => `${k} ${fmt(v.per_request, 2)}×`).join(', ')} (bench/postgres.ts --flush-profile, in-process, core 0)`;
  };
  const o = r.one_node;
  const t = r.three_nodes;
  return [
    { name: '7. PostgreSQL: single appends, 1 node, 64 conns, durable', value: fmt(o.append.requests_per_s), unit: 'events/s', note: single(o.append) },
    { name: '   batch route, 1 node, 100 events/request, 16 conns', value: fmt(o.batch.requests_per_s * BATCH_SIZE), unit: 'events/s', note: batch(o.batch) },
    {
      name: '   single appends, 3 nodes on one database, round-robin',
      value: fmt(t.append.requests_per_s),
      unit: 'events/s',
      note: `on 2 cores this measures contention, not scaling (three nodes and PostgreSQL share core 0); ${single(t.append)}`,
    },
    { name: '   batch route, 3 nodes, round-robin', value: fmt(t.batch.requests_per_s * BATCH_SIZE), unit: 'events/s', note: batch(t.batch) },
    { name: '   one flush on PostgreSQL, 64 single appends queued', value: fmt(r.flush_profile.single.flush_ms, 2), unit: 'ms', note: prof(r.flush_profile.single) },
    { name: '   one flush on PostgreSQL, 16 batches of 100 queued', value: fmt(r.flush_profile.batch.flush_ms, 2), unit: 'ms', note: prof(r.flush_profile.batch) },
    {
      name: '   where it ran',
      value: '',
      unit: '',
      note: `${r.placement}. PostgreSQL ${r.cluster.server_version}, fsync ${r.cluster.fsync}, synchronous_commit ${r.cluster.synchronous_commit}, full_page_writes ${r.cluster.full_page_writes}, wal_sync_method ${r.cluster.wal_sync_method}; one database, the four figures on four streams in this order`,
    },
  ];
}

// ---- the flush profile (a process of its own: `bench/postgres.ts --flush-profile <url>`) ----

/**
 * The HTTP app in-process on a PostgreSQL ledger, the process's bridge wrapped (here, not in src/store/pg) so each
 * round trip is counted and timed, and each one told apart as inside a flush or not. `perTurn` requests are sent
 * in one event-loop turn, as that many connections would, so they share a flush.
 */
async function flushProfile(url: string): Promise<PgBenchResults['flush_profile']> {
  const { loadConfig } = await import('../src/config.js');
  const { Ledger } = await import('../src/ledger/ledger.js');
  const { createApp } = await import('../src/http/app.js');
  const { pgBridge } = await import('../src/store/pg/bridge.js');
  const { useLogDestination } = await import('../src/log.js');
  // stdout carries this process's one result line (runNode takes the last): the ledger's warnings go to stderr
  process.env.LOG_LEVEL = 'warn';
  useLogDestination(process.stderr);
  type Req = Parameters<ReturnType<typeof pgBridge>['call']>[0];

  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ps-pgflush-'));
  const key = newKey();
  const ledger = Ledger.open(loadConfig({ DATABASE_URL: url, PROOFSTREAM_DATA_DIR: dataDir, PROOFSTREAM_BOOTSTRAP_KEY: key }));
  const app = createApp(ledger);
  try {
    const bridge = pgBridge();
    // a round trip's kind: the statement's verb and table (a deferred batch: the tables it inserts into; a SELECT of
    // a function, e.g. pg_snapshot_xmax(): the data_version check)
    const tableOf = (text: string): string => /^\s*(?:INSERT\s+INTO|DELETE\s+FROM|UPDATE)\s+"?(\w+)"?/i.exec(text)?.[1] ?? /\sFROM\s+"?(\w+)"?/i.exec(text)?.[1] ?? (/^\s*SELECT\s+(\w+)\(/i.exec(text)?.[1]?.concat('()') ?? '(no table)');
    const kindOf = (req: Req): string => {
      if (req.op === 'batch') return `deferred INSERT ${[...new Set(req.statements.map((x) => tableOf(x.text)))].join('+')}`;
      if (req.op === 'exec') {
        const w = req.text.trimStart().split(/\s/)[0]!.replace(/;$/, '').toUpperCase();
        return w === 'BEGIN' ? 'BEGIN + writer lock' : w === 'COMMIT' ? 'COMMIT (WAL flush)' : w;
      }
      if (req.op === 'query') return `${req.text.trimStart().split(/\s/)[0]!.toUpperCase()} ${tableOf(req.text)}`;
      return req.op;
    };
    let inFlush = false;
    const inside = new Map<string, { n: number; ms: number }>();
    const outside = { n: 0, ms: 0 };
    const outsideKinds = new Map<string, { n: number; ms: number }>();
    const call = bridge.call.bind(bridge);
    bridge.call = (req: Req) => {
      const t = performance.now();
      try {
        return call(req);
      } finally {
        const ms = performance.now() - t;
        if (inFlush) {
          const k = kindOf(req);
          const e = inside.get(k) ?? { n: 0, ms: 0 };
          e.n++;
          e.ms += ms;
          inside.set(k, e);
        } else {
          outside.n++;
          outside.ms += ms;
          const k = kindOf(req);
          const e = outsideKinds.get(k) ?? { n: 0, ms: 0 };
          e.n++;
          e.ms += ms;
          outsideKinds.set(k, e);
        }
      }
    };
    // The ledger's own connection is the bridge's first (src/store/pg/database.ts opens it before any other).
    const backend = await (async () => {
      const r = bridge.call({ op: 'query', conn: 1, text: 'SELECT pg_backend_pid(), current_setting($1)', params: ['application_name'], rowMode: 'array' });
      const [pid, app] = (r.rows as [number, string][])[0]!;
      if (app !== 'proofstream-main') throw new Error(`connection 1 is ${app}, not the ledger's`);
      return pid;
    })();
    const tick = 1000 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    const backendCpuMs = (): number => {
      const f = fs.readFileSync(`/proc/${backend}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return (Number(f[11]) + Number(f[12])) * tick; // utime, stime (fields 14 and 15)
    };
    const appender = ledger.appender as unknown as { flush: () => void };
    const flush = appender.flush.bind(appender);
    let flushes = 0;
    let flushMs = 0;
    appender.flush = () => {
      const t = performance.now();
      inFlush = true;
      try {
        flush();
      } finally {
        inFlush = false;
        flushes++;
        flushMs += performance.now() - t;
      }
    };

    const post = (p: string, body: unknown, idem: string) =>
      app.request(p, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'idempotency-key': idem }, body: JSON.stringify(body) });
    const run = async (mode: 'single' | 'batch'): Promise<PgFlushProfile> => {
      const created = await app.request('/v2/streams', { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ use_case: `flush-${mode}` }) });
      const sid = ((await created.json()) as { stream_id: string }).stream_id;
      const p = `/v2/streams/${sid}/events${mode === 'batch' ? '/batch' : ''}`;
      const body = mode === 'batch' ? BATCH : EVENT;
      const perTurn = mode === 'batch' ? BATCH_CONNECTIONS : CONNECTIONS;
      const turns = mode === 'batch' ? 40 : 150;
      let requests = 0;
      const go = async (turn: number) => {
        const rs = await Promise.all(Array.from({ length: perTurn }, (_, j) => post(p, body, `${mode}-${turn}-${j}`)));
        for (const r of rs) if (r.status >= 300) throw new Error(`flush profile: ${r.status} ${await r.text()}`);
        requests += rs.length;
      };
      for (let i = 0; i < 10; i++) await go(-1 - i); // warm-up: statements prepared, caches filled
      inside.clear();
      outsideKinds.clear();
      outside.n = outside.ms = flushes = flushMs = requests = 0;
      const b0 = backendCpuMs();
      const c0 = process.cpuUsage();
      for (let i = 0; i < turns; i++) await go(i);
      const cpu = process.cpuUsage(c0);
      const backendMs = backendCpuMs() - b0;
      const by_kind: PgFlushProfile['by_kind'] = {};
      let rt = 0;
      let waited = 0;
      for (const [k, v] of inside) {
        by_kind[k] = { per_flush: v.n / flushes, ms_per_flush: v.ms / flushes };
        rt += v.n;
        waited += v.ms;
      }
      const events = requests * (mode === 'batch' ? BATCH_SIZE : 1);
      return {
        mode,
        flushes,
        events_per_flush: events / flushes,
        flush_ms: flushMs / flushes,
        round_trips_per_flush: rt / flushes,
        by_kind,
        cpu_ms_per_flush: (flushMs - waited) / flushes,
        backend_cpu_ms_per_flush: backendMs / flushes,
        process_cpu_ms_per_flush: (cpu.user + cpu.system) / 1000 / flushes,
        outside_round_trips_per_request: outside.n / requests,
        outside_by_kind: Object.fromEntries([...outsideKinds].map(([k, v]) => [k, { per_request: v.n / requests, ms_per_request: v.ms / requests }])),
        outside_ms_per_request: outside.ms / requests,
      };
    };
    return { single: await run('single'), batch: await run('batch') };
  } finally {
    ledger.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

// ---- standalone ----

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href;

if (isMain && process.argv[2] === '--flush-profile') {
  console.log(JSON.stringify(await flushProfile(process.argv[3]!)));
  process.exit(0);
} else if (isMain) {
  // The same runs and durations as bench/run.ts, and its SQLite rows 1 and 2 and the floor, measured here too.
  const quick = process.argv.includes('--quick');
  const runs = 3;
  const duration = quick ? 3 : 10;
  console.error(`bench:postgres: ${quick ? 'quick' : 'full'}, ${runs} runs × ${duration}s, pinned=${hasTaskset}`);
  const median = async (spec: () => object): Promise<Load> => {
    const rs: Load[] = [];
    for (let i = 0; i < runs; i++) rs.push(await loadRun({ duration, connections: CONNECTIONS, ...spec() }));
    return [...rs].sort((a, b) => a.requests_per_s - b.requests_per_s)[Math.floor(rs.length / 2)]!;
  };
  const f = await startFloor();
  const floor = await median(() => ({ url: f.url, key: 'none', method: 'POST', path: '/floor', body: EVENT }));
  await f.stop();
  const sqlite = async (kind: 'append' | 'batch'): Promise<Load> => {
    const s = await startLedgerPinned();
    try {
      const sid = (await client(s.url, s.key)('POST', '/v2/streams', { use_case: `sqlite-${kind}` })).body.stream_id;
      return await median(() =>
        kind === 'batch'
          ? { url: s.url, key: s.key, method: 'POST', path: `/v2/streams/${sid}/events/batch`, body: BATCH, idempotency: 'unique', connections: BATCH_CONNECTIONS }
          : { url: s.url, key: s.key, method: 'POST', path: `/v2/streams/${sid}/events`, body: EVENT, idempotency: 'unique' },
      );
    } finally {
      await s.stop();
      fs.rmSync(s.dataDir, { recursive: true, force: true });
    }
  };
  const append = await sqlite('append');
  const batch = await sqlite('batch');
  const results = await benchPostgres({ runs, duration });
  const rows: Row[] = [
    { name: 'raw floor (Hono POST + 1 insert + 1 sign, durable)', value: fmt(floor.requests_per_s), unit: 'req/s', note: `p50 ${floor.p50_ms} ms, p99 ${floor.p99_ms} ms` },
    { name: '1. SQLite: single appends, 64 conns, durable', value: fmt(append.requests_per_s), unit: 'events/s', note: `p50 ${append.p50_ms} ms, p99 ${append.p99_ms} ms` },
    { name: '2. SQLite: batch route, 100 events/request, 16 conns', value: fmt(batch.requests_per_s * BATCH_SIZE), unit: 'events/s', note: `${fmt(batch.requests_per_s)} req/s, p99 ${batch.p99_ms} ms` },
    ...postgresRows(results, { floor, append, batch }),
  ];
  const md = [
    `Run ${new Date().toISOString()} (${quick ? 'quick' : 'full'}: median of ${runs} runs × ${duration} s)`,
    '',
    '| figure | value | unit | notes |',
    '|---|---:|---|---|',
    ...rows.map((r) => `| ${r.name} | ${r.value} | ${r.unit} | ${r.note} |`),
    '',
  ].join('\n');
  const out = path.join(ROOT, 'bench/results');
  fs.mkdirSync(out, { recursive: true });
  fs.writeFileSync(path.join(out, 'postgres.json'), JSON.stringify({ quick, runs, duration_s: duration, floor, sqlite: { append, batch }, postgres: results }, null, 2));
  fs.writeFileSync(path.join(out, 'postgres.md'), md);
  console.log(md);
}
