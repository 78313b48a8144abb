// Synchronous calls into the PostgreSQL worker. The main thread posts a request and blocks on Atomics.wait until the
// worker has posted the answer: a PostgreSQL round trip then looks to the store exactly like a better-sqlite3 call
// (which also blocks the event loop for its I/O), so the engine, its group commit and every repository stay
// synchronous and shared by both databases. One worker serves the whole process; its connections are numbered.
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import type { PgRequest, PgResponse } from './protocol.js';

/** The worker's code. From TypeScript sources (tsx, vitest) the thread registers tsx itself, as verify-pool does. */
function workerSpec(): { code: string } | { url: URL } {
  const self = import.meta.url;
  if (!/\.ts$/.test(new URL(self).pathname)) return { url: new URL('./worker.js', self) };
  const entry = new URL('./worker.ts', self).href;
  const tsxApi = pathToFileURL(createRequire(self).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href;
  return { code: `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); })` };
}

/** A PostgreSQL error with its SQLSTATE, and the SQLite-style code the engine already tells apart (see codeOf). */
export class PgError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly sqlState: string | undefined,
    readonly constraint?: string,
  ) {
    super(message);
    this.name = 'PgError';
  }
}

/**
 * The engine recognises a few database failures by SQLite's codes (a unique key taken by a concurrent insert, a full
 * disk, a lock not granted in time). The same conditions on PostgreSQL carry the same codes, so that code is shared.
 */
function codeOf(sqlState: string | undefined): string {
  switch (sqlState) {
    case '23505':
      return 'SQLITE_CONSTRAINT_UNIQUE';
    case '23503':
      return 'SQLITE_CONSTRAINT_FOREIGNKEY';
    case '23502':
      return 'SQLITE_CONSTRAINT_NOTNULL';
    case '23514':
      return 'SQLITE_CONSTRAINT_CHECK';
    case '53100': // disk_full
    case '54000': // program_limit_exceeded
      return 'SQLITE_FULL';
    case '55P03': // lock_not_available (lock_timeout)
    case '40P01': // deadlock_detected
    case '40001': // serialization_failure
      return 'SQLITE_BUSY';
    case '57P01': // admin_shutdown: the server ended this session (restart, pg_terminate_backend)
    case '57P02': // crash_shutdown
    case '57P03': // cannot_connect_now (starting up, in recovery)
      return 'PG_CONNECTION';
    default:
      // class 08: connection exceptions; no SQLSTATE at all: the socket itself failed
      return !sqlState || sqlState.startsWith('08') ? 'PG_CONNECTION' : `PG_${sqlState}`;
  }
}

/** How long one call may block before the bridge gives up on the worker (statement_timeout is set well below it). */
const CALL_TIMEOUT_MS = 120_000;

class Bridge {
  private readonly worker: Worker;
  private readonly port: MessagePort;
  private readonly flag = new Int32Array(new SharedArrayBuffer(4));
  private nextConn = 1;
  private dead: Error | null = null;

  constructor() {
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    const spec = workerSpec();
    const data = { workerData: { port: port2, flag: this.flag }, transferList: [port2] };
    this.worker = 'code' in spec ? new Worker(spec.code, { eval: true, ...data }) : new Worker(spec.url, data);
    this.worker.on('error', (e) => {
      this.dead = e;
    });
    this.worker.on('exit', () => {
      this.dead ??= new Error('the PostgreSQL worker exited');
    });
    // The worker holds sockets; it must never keep a finished process alive.
    this.worker.unref();
    this.port.unref();
  }

  newConnection(): number {
    return this.nextConn++;
  }

  call(req: PgRequest): PgResponse & { ok: true } {
    if (this.dead) throw new PgError(`PostgreSQL worker unavailable: ${this.dead.message}`, 'PG_CONNECTION', undefined);
    Atomics.store(this.flag, 0, 0);
    this.port.postMessage(req);
    const started = Date.now();
    let msg: { message: PgResponse } | undefined;
    // Woken by the worker's notify; a spurious wake-up (or a worker that died) is told apart by the port being empty.
    while (!(msg = receiveMessageOnPort(this.port) as { message: PgResponse } | undefined)) {
      // (set by the worker's error/exit events, which cannot run while this loop blocks — hence the re-read)
      const dead = this.dead as Error | null;
      if (dead) throw new PgError(`PostgreSQL worker unavailable: ${dead.message}`, 'PG_CONNECTION', undefined);
      const left = CALL_TIMEOUT_MS - (Date.now() - started);
      if (left <= 0) throw new PgError('PostgreSQL worker did not answer in time', 'PG_TIMEOUT', undefined);
      Atomics.wait(this.flag, 0, 0, Math.min(left, 1000));
    }
    const res: PgResponse = msg.message;
    if (!res.ok) throw new PgError(res.error.message, codeOf(res.error.sqlState), res.error.sqlState, res.error.constraint);
    return res;
  }
}

let bridge: Bridge | null = null;

/** The process's bridge, started on first use. */
export function pgBridge(): Bridge {
  return (bridge ??= new Bridge());
}

export type { Bridge };
