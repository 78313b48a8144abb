// The process lifecycle and the command line (issue #13): graceful shutdown with appends in flight and keep-alive
// connections open, forced shutdown, `npm start` passing the signal on, a port in use, --version and usage errors,
// `keys create` from the wrong directory. Real servers, real child processes, real SQLite files.
import { execFile, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { rawRequest } from './helpers/raw-http.js';
import { BIN, client, idemKey, ROOT, startServer, tempDir, type RunningServer } from './helpers/server.js';
import { sleep, waitFor } from './helpers/wait.js';
import { storeName } from '../src/config.js';
import { knownDatabaseFor } from './helpers/pg-mode.js';

const VERSION = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version as string;

/** Sends `sig` and waits for the exit: its code (null when a signal ended it) and how long it took. */
async function signalAndWait(srv: RunningServer, sig: NodeJS.Signals): Promise<{ code: number | null; ms: number }> {
  const t0 = performance.now();
  const exited = new Promise<number | null>((r) => srv.proc.once('exit', (code) => r(code)));
  srv.proc.kill(sig);
  return { code: await exited, ms: performance.now() - t0 };
}

/** One POST over a keep-alive agent (the connection stays open after the answer); `sent` once it is all written. */
function keepAlivePost(agent: http.Agent, url: string, key: string, body: unknown): Promise<{ status: number; body: any }> & { sent: Promise<void> } {
  let req!: http.ClientRequest;
  const answer = new Promise<{ status: number; body: any }>((resolve, reject) => {
    const payload = JSON.stringify(body);
    req = http.request(url, {
      method: 'POST',
      agent,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'idempotency-key': idemKey(), 'content-length': Buffer.byteLength(payload) },
    });
    req.on('response', (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(payload);
  });
  const sent = new Promise<void>((r) => req.once('finish', () => r()));
  return Object.assign(answer, { sent });
}

/** A request the server has begun but cannot finish: the body is declared and held back. */
function stuckRequest(srv: RunningServer) {
  const r = rawRequest(srv.url, 'POST', '/v2/streams', { contentLength: 100, headers: { authorization: `Bearer ${srv.key}` } });
  r.write('{"use_case":');
  r.response.catch(() => {}); // the server will cut it off
  return r;
}

describe('graceful shutdown', () => {
  it('SIGTERM with appends in flight and keep-alive connections open: every append answered and stored, one line, exit 0', async () => {
    // The commit delay holds the appends in the queue when the signal arrives; the long keep-alive timeout means only
    // the shutdown itself can close the connections in time.
    const env = { PROOFSTREAM_COMMIT_DELAY_MS: '3000', PROOFSTREAM_KEEP_ALIVE_TIMEOUT_MS: '60000', PROOFSTREAM_SHUTDOWN_GRACE_MS: '30000' };
    let srv = await startServer({ env });
    const call = client(srv.url, srv.key);
    const stream = await call('POST', '/v2/streams', { use_case: 'shutdown' });
    expect(stream.status).toBe(201);
    const sid = stream.body.stream_id as string;

    const agent = new http.Agent({ keepAlive: true });
    try {
      // An idle keep-alive connection, and one that is busy when the signal comes and idle after.
      expect((await keepAlivePost(agent, `${srv.url}/v2/streams/${sid}/events`, srv.key, { source_ref: 'warm', event_type: 't', payload: 0 })).status).toBe(201);
      const N = 30;
      const inFlight = Array.from({ length: N }, (_, i) =>
        keepAlivePost(agent, `${srv.url}/v2/streams/${sid}/events`, srv.key, { source_ref: `f-${i}`, event_type: 't', payload: i }),
      );
      let answeredBeforeSignal = 0;
      for (const f of inFlight) void f.then(() => answeredBeforeSignal++, () => {});
      await Promise.all(inFlight.map((f) => f.sent));
      await sleep(1000); // accepted and parsed by the server (a loaded machine is slow to); their commit is still 2 s away
      expect(answeredBeforeSignal).toBe(0);
      const { code, ms } = await signalAndWait(srv, 'SIGTERM');
      const answers = await Promise.all(inFlight);

      expect(answers.map((a) => a.status)).toEqual(Array(N).fill(201));
      for (const a of answers) expect(a.body.receipt.signature).toMatch(/\S/);
      expect(code).toBe(0);
      expect(ms).toBeLessThan(10_000); // not held open by the keep-alive connections until their timeout
      const stopped = srv.output().split('\n').filter((l) => l.startsWith('proofstream stopped'));
      expect(stopped).toEqual([`proofstream stopped on SIGTERM: requests answered, commits written, database ${dbName(srv.dataDir)} closed`]);

      srv = await startServer({ dataDir: srv.dataDir, key: srv.key });
      const head = await client(srv.url, srv.key)('GET', `/v2/streams/${sid}`);
      expect(head.body.head_seq_no).toBe(N + 1);
      const stored = new Set<number>();
      for (const a of answers) stored.add(a.body.seq_no);
      expect(stored.size).toBe(N);
    } finally {
      agent.destroy();
      await srv.stop();
    }
  });

  it('SIGINT twice at once (Ctrl-C under npm start: the terminal and npm both send it) stops cleanly, exit 0', async () => {
    // An append waiting for its commit keeps the shutdown busy while the second SIGINT arrives.
    const srv = await startServer({ env: { PROOFSTREAM_COMMIT_DELAY_MS: '2000' } });
    const stream = await client(srv.url, srv.key)('POST', '/v2/streams', { use_case: 'sigint' });
    const agent = new http.Agent({ keepAlive: true });
    try {
      const append = keepAlivePost(agent, `${srv.url}/v2/streams/${stream.body.stream_id}/events`, srv.key, { source_ref: 'a', event_type: 't', payload: 1 });
      await append.sent;
      await sleep(500);
      srv.proc.kill('SIGINT');
      await sleep(100); // npm's copy comes a moment later (sent together, the kernel would merge them into one)
      const { code } = await signalAndWait(srv, 'SIGINT');
      expect((await append).status).toBe(201);
      expect(code).toBe(0);
      expect(srv.output()).toContain('proofstream stopped on SIGINT');
    } finally {
      agent.destroy();
    }
  });

  it('a second signal while a request is still open forces exit 1 with a message', async () => {
    const srv = await startServer({ env: { PROOFSTREAM_SHUTDOWN_GRACE_MS: '60000' } });
    stuckRequest(srv);
    await sleep(200);
    srv.proc.kill('SIGTERM');
    await sleep(1500); // a repeat within a second is taken for the same signal
    expect(srv.proc.exitCode).toBe(null); // waiting for the open request
    const { code } = await signalAndWait(srv, 'SIGTERM');
    expect(code).toBe(1);
    expect(srv.output()).toMatch(/proofstream: SIGTERM during shutdown: exiting now/);
    expect(srv.output()).not.toContain('proofstream stopped');
  });

  it('the grace period (PROOFSTREAM_SHUTDOWN_GRACE_MS) over with a request open forces exit 1 with a message', async () => {
    const srv = await startServer({ env: { PROOFSTREAM_SHUTDOWN_GRACE_MS: '700' } });
    stuckRequest(srv);
    await sleep(200);
    const { code, ms } = await signalAndWait(srv, 'SIGTERM');
    expect(code).toBe(1);
    expect(ms).toBeGreaterThanOrEqual(600);
    expect(srv.output()).toMatch(/requests still open after 700 ms \(PROOFSTREAM_SHUTDOWN_GRACE_MS\)/);
  });
});

/** The pids of `pid`'s children (Linux ps). */
function childrenOf(pid: number): number[] {
  const r = spawnSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' });
  return r.stdout.split('\n').map((s) => s.trim()).filter(Boolean).map(Number);
}

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('npm start', () => {
  it('SIGTERM to npm stops the node server too (npm runs the script with sh -c; the script execs node)', async () => {
    const dataDir = tempDir();
    const npm = spawn('npm', ['start'], {
      cwd: ROOT,
      env: { ...process.env, HOST: '127.0.0.1', PORT: '0', PROOFSTREAM_DATA_DIR: dataDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    npm.stdout!.on('data', (d) => (out += d));
    npm.stderr!.on('data', (d) => (out += d));
    const npmExited = new Promise<number | null>((r) => npm.once('exit', (code) => r(code)));
    let serverPids: number[] = [];
    try {
      await waitFor(async () => (/listening on http:\/\//.test(out) ? true : undefined), 30_000);
      // npm's child and whatever that runs: with `exec`, the node server is npm's direct child.
      const direct = childrenOf(npm.pid!);
      serverPids = [...direct, ...direct.flatMap(childrenOf)];
      expect(serverPids.length).toBeGreaterThan(0);
      npm.kill('SIGTERM');
      await npmExited;
      await waitFor(async () => (serverPids.every((p) => !isAlive(p)) ? true : undefined), 10_000).catch(() => {});
      expect(serverPids.filter(isAlive)).toEqual([]);
      expect(out).toContain('proofstream stopped on SIGTERM');
    } finally {
      for (const p of serverPids.filter(isAlive)) process.kill(p, 'SIGKILL');
      if (npm.exitCode === null && npm.signalCode === null) npm.kill('SIGKILL');
    }
  });
});

/** The database of a server's data directory as messages name it (storeName): the file, or the URL without password. */
const dbName = (dataDir: string) => storeName({ dbPath: path.join(dataDir, 'proofstream.db'), databaseUrl: knownDatabaseFor(dataDir) });

/** `proofstream …` run to completion in `cwd` with exactly `env` (on top of PATH), not the test's data directory. */
function runIn(cwd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const e: NodeJS.ProcessEnv = { ...process.env, ...env };
  for (const k of ['PROOFSTREAM_DATA_DIR', 'PROOFSTREAM_DB', 'PORT', 'HOST']) if (!(k in env)) delete e[k];
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd, env: e }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code) : 0, stdout, stderr }),
    );
  });
}

describe('port already in use', () => {
  it('one clear line naming the port and host, exit 1, no stack trace', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const dataDir = tempDir();
      const r = await runIn(dataDir, ['serve'], { HOST: '127.0.0.1', PORT: String(port), PROOFSTREAM_DATA_DIR: dataDir });
      expect(r.code).toBe(1);
      const lines = r.stderr.trim().split('\n');
      expect(lines.at(-1)).toMatch(new RegExp(`^proofstream: port ${port} on 127\\.0\\.0\\.1 is already in use .*PORT=`));
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(r.stdout).not.toContain('listening');
    } finally {
      blocker.close();
    }
  });
});

describe('version and usage errors', () => {
  for (const arg of ['--version', '-v', 'version']) {
    it(`${arg} prints the package version, exit 0`, async () => {
      const r = await runIn(tempDir(), [arg]);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(`proofstream ${VERSION}\n`);
    });
  }

  const cases: Array<[string[], string]> = [
    [['frobnicate'], 'proofstream: unknown command "frobnicate"'],
    [['keys', 'delete'], 'proofstream keys: unknown subcommand "delete"'],
    [['keys', 'create', '--tenant', 't'], 'proofstream keys create: missing --system <name>'],
    [['keys', 'create', '--system', 's'], 'proofstream keys create: missing --tenant <name>'],
    [['keys', 'create', '--tenant', 't', '--system', 's', '--bogus'], "proofstream keys create: Unknown option '--bogus'"],
    [['serve', '--allow-rolback'], 'proofstream serve: unknown option "--allow-rolback"'],
  ];
  for (const [args, first] of cases) {
    it(`${args.join(' ')}: "${first}", the usage, exit 2`, async () => {
      const cwd = tempDir();
      const r = await runIn(cwd, args);
      expect(r.code).toBe(2);
      expect(r.stderr.split('\n')[0]).toContain(first);
      expect(r.stderr).toContain('usage: proofstream <command>');
      expect(fs.readdirSync(cwd)).toEqual([]); // nothing opened, nothing created
    });
  }
});

describe('keys create finds the database or says which one it looked for', () => {
  it('from another directory: refused, naming the path and the settings; nothing created', async () => {
    const elsewhere = tempDir();
    const r = await runIn(elsewhere, ['keys', 'create', '--tenant', 't', '--system', 's']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`no database at ${path.join(fs.realpathSync(elsewhere), 'data', 'proofstream.db')}`);
    expect(r.stderr).toMatch(/PROOFSTREAM_DATA_DIR/);
    expect(r.stderr).toMatch(/PROOFSTREAM_DB/);
    expect(r.stderr).toMatch(/--create/);
    expect(fs.readdirSync(elsewhere)).toEqual([]);
  });

  it('pointed at a ledger from another directory: the key works and the database is named on stderr', async () => {
    const srv = await startServer();
    try {
      const db = knownDatabaseFor(srv.dataDir); // on PostgreSQL the server's database
      const r = await runIn(tempDir(), ['keys', 'create', '--tenant', 'default', '--system', 'default', '--json'], { PROOFSTREAM_DATA_DIR: srv.dataDir, ...(db ? { DATABASE_URL: db } : {}) });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain(`proofstream: database ${dbName(srv.dataDir)}\n`);
      const key = JSON.parse(r.stdout).key as string;
      expect((await client(srv.url, key)('GET', '/v2/streams')).status).toBe(200);
    } finally {
      await srv.stop();
    }
  });

  it('--create makes a new database where asked, and says so', async () => {
    const elsewhere = tempDir();
    const r = await runIn(elsewhere, ['keys', 'create', '--tenant', 't', '--system', 's', '--create']);
    expect(r.code, r.stderr).toBe(0);
    const db = path.join(fs.realpathSync(elsewhere), 'data', 'proofstream.db');
    expect(r.stderr).toContain(`proofstream: database ${db}`);
    expect(fs.existsSync(db)).toBe(true);
  });
});
