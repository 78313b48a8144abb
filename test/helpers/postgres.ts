// A real, throw-away PostgreSQL cluster for the tests of the PostgreSQL store (issue #17): initdb into a fresh temp
// dir, started with pg_ctl on a free 127.0.0.1 port, stopped and removed by stop(). A cluster refuses to run as
// root, so under root every PostgreSQL command runs as the `postgres` user (runuser) in a directory it owns.
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

export type PostgresErrorCode =
  | 'NOT_INSTALLED' // no initdb at /usr/lib/postgresql/*/bin nor on PATH
  | 'NO_POSTGRES_USER' // running as root, but there is no `postgres` user to run the cluster as
  | 'INITDB_FAILED'
  | 'START_FAILED' // pg_ctl start failed (the message carries the end of the server log)
  | 'NOT_ACCEPTING'; // started, but no connection succeeded in time

export class PostgresError extends Error {
  override readonly name = 'PostgresError';
  constructor(
    readonly code: PostgresErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface RunningPostgres {
  /** postgres://postgres@127.0.0.1:<port>/postgres (trust auth, C collation, UTF8) */
  url: string;
  /** pg_ctl stop -m immediate, then the cluster's directory is removed; safe to call twice */
  stop(): Promise<void>;
}

/** The directory holding initdb and pg_ctl: the newest /usr/lib/postgresql/<major>/bin (Debian), else PATH. */
function binDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  const majors = fs.existsSync(root)
    ? fs
        .readdirSync(root)
        .filter((v) => fs.existsSync(path.join(root, v, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (majors.length > 0) return path.join(root, majors[0]!, 'bin');
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && fs.existsSync(path.join(dir, 'initdb'))) return dir;
  }
  return undefined;
}

const asRoot = process.getuid?.() === 0;

function postgresUser(): { uid: number; gid: number } | undefined {
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    return { uid, gid };
  } catch {
    return undefined;
  }
}

/** True when a cluster can be made here: initdb is installed (and, under root, there is a `postgres` user). */
export function postgresAvailable(): boolean {
  return binDir() !== undefined && (!asRoot || postgresUser() !== undefined);
}

/** Runs a PostgreSQL binary, as the `postgres` user when we are root. */
function pgCommand(bin: string, args: string[], cwd: string): Promise<{ stdout: string; stderr: string }> {
  return asRoot ? run('runuser', ['-u', 'postgres', '--', bin, ...args], { cwd }) : run(bin, args, { cwd });
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

function logTail(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-15).join('\n');
  } catch {
    return '(no server log)';
  }
}

async function acceptsConnections(url: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
    try {
      await client.connect();
      await client.query('SELECT 1');
      return true;
    } catch {
      if (Date.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, 100));
    } finally {
      await client.end().catch(() => {});
    }
  }
}

export interface StartPostgresOptions {
  /**
   * fsync, synchronous_commit and full_page_writes on, and initdb syncs its files: what a bench must measure
   * (bench/postgres.ts). Tests leave it off: fsync=off makes a throw-away cluster fast and loses nothing they check.
   */
  durable?: boolean;
}

/** A fresh cluster (initdb --locale=C -E UTF8 --auth=trust -U postgres) listening on 127.0.0.1 only. */
export async function startPostgres(options: StartPostgresOptions = {}): Promise<RunningPostgres> {
  const durable = options.durable === true;
  const bin = binDir();
  if (!bin) throw new PostgresError('NOT_INSTALLED', 'no initdb in /usr/lib/postgresql/*/bin or on PATH');
  const user = asRoot ? postgresUser() : undefined;
  if (asRoot && !user) throw new PostgresError('NO_POSTGRES_USER', 'running as root and there is no postgres user to run the cluster as');

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ps-pg-'));
  if (user) fs.chownSync(dir, user.uid, user.gid);
  const data = path.join(dir, 'data');
  const log = path.join(dir, 'server.log');
  // A server runs (or a failed start may have left one) while its pid file exists.
  const running = (): boolean => fs.existsSync(path.join(data, 'postmaster.pid'));
  let stopped = false;

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    process.off('exit', stopAtExit);
    if (running()) await pgCommand(path.join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop'], dir).catch(() => {});
    fs.rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  };
  // A test process that ends without calling stop() (a crash, a timeout) must not leave a server running.
  const stopAtExit = (): void => {
    if (stopped) return;
    try {
      if (running()) execFileSync(asRoot ? 'runuser' : path.join(bin, 'pg_ctl'), [...(asRoot ? ['-u', 'postgres', '--', path.join(bin, 'pg_ctl')] : []), '-D', data, '-m', 'immediate', 'stop'], { cwd: dir, stdio: 'ignore' });
    } catch {
      // already gone
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', stopAtExit);

  try {
    // --no-sync: a test cluster needs no durability, and initdb's fsyncs are most of its time.
    await pgCommand(path.join(bin, 'initdb'), ['-D', data, '--locale=C', '-E', 'UTF8', '--auth=trust', '-U', 'postgres', ...(durable ? [] : ['--no-sync'])], dir).catch(
      (e: Error & { stderr?: string }) => {
        throw new PostgresError('INITDB_FAILED', `initdb failed: ${e.stderr ?? e.message}`);
      },
    );
    // The free port can be taken between freePort() and the server's bind: try another one then.
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const opts = [
        `-p ${port}`,
        '-c listen_addresses=127.0.0.1',
        `-c unix_socket_directories=${dir}`,
        // named even when on: a durable cluster must not depend on what postgresql.conf happens to say
        ...(durable ? ['-c fsync=on', '-c synchronous_commit=on', '-c full_page_writes=on'] : ['-c fsync=off']),
        '-c max_connections=200',
      ].join(' ');
      try {
        await pgCommand(path.join(bin, 'pg_ctl'), ['-D', data, '-l', log, '-o', opts, '-w', '-t', '60', 'start'], dir);
      } catch (e) {
        const tail = logTail(log);
        if (attempt < 3 && /could not bind|already in use/i.test(tail)) continue;
        throw new PostgresError('START_FAILED', `pg_ctl start failed: ${(e as Error & { stderr?: string }).stderr ?? (e as Error).message}\n${tail}`);
      }
      const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
      if (!(await acceptsConnections(url, 30_000))) throw new PostgresError('NOT_ACCEPTING', `no connection to ${url} within 30 s\n${logTail(log)}`);
      return { url, stop };
    }
  } catch (e) {
    await stop();
    throw e;
  }
}
