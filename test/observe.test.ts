// Watching a running ledger (#13): JSON log lines (an access line per request, witness failures), Prometheus
// metrics on their own listener, GET /ready with its thresholds, GET /docs. Real servers on 127.0.0.1.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { METRICS_MAX_CONNECTIONS } from '../src/http/metrics-server.js';
import { generateWitnessKey } from '../src/witness/keys.js';
import { client, idemKey, logLines, startServer, tempDir, type RunningServer } from './helpers/server.js';
import { sleep, waitFor } from './helpers/wait.js';

/** A port nobody listens on: taken from the OS, then released. */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Prometheus text → sample name with labels → value. */
function parseMetrics(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    m.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return m;
}

const PAYLOAD_MARKER = 'secret-payload-marker-7f3a';
const dirs: string[] = [];
let srv: RunningServer;
let call: ReturnType<typeof client>;
let metricsUrl: string;
let streamId: string;

beforeAll(async () => {
  const dir = tempDir('ps-observe-');
  dirs.push(dir);
  const wkey = generateWitnessKey(path.join(dir, 'w.key'), 'witness.test/down');
  srv = await startServer({
    dataDir: path.join(dir, 'ledger'),
    env: {
      LOG_LEVEL: 'info',
      PROOFSTREAM_METRICS_PORT: '0',
      PROOFSTREAM_WINDOW_MAX_EVENTS: '2',
      PROOFSTREAM_WINDOW_MAX_AGE_MS: '100',
      PROOFSTREAM_RETRY_MAX_MS: '300',
      PROOFSTREAM_READY_MAX_WITNESS_LAG_S: '1',
      // A witness that is down: nothing listens on its port.
      PROOFSTREAM_WITNESSES: JSON.stringify([{ name: wkey.name, url: `http://127.0.0.1:${await closedPort()}`, vkey: wkey.vkey }]),
    },
  });
  call = client(srv.url, srv.key);
  const started = await waitFor(async () => logLines(srv).find((l) => l.event === 'metrics_started'));
  metricsUrl = started.url;
}, 60_000);

afterAll(async () => {
  await srv?.stop();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

describe('observe a running ledger', () => {
  it('GET /ready: 200 with its checks while nothing is behind', async () => {
    const r = await call('GET', '/ready');
    expect(r.status).toBe(200);
    expect(r.body.status).toBe('ready');
    const names = r.body.checks.map((c: any) => c.name);
    expect(names).toEqual(expect.arrayContaining(['database', 'disk', 'witness_lag']));
    expect(r.body.checks.every((c: any) => c.ok)).toBe(true);
  });

  it('an access line per request, with route pattern, status, latency, tenant and key id, and no secret', async () => {
    const s = await call('POST', '/v2/streams', { use_case: 'observe' }, { 'idempotency-key': idemKey() });
    expect(s.status).toBe(201);
    streamId = s.body.stream_id;
    const a = await call('POST', `/v2/streams/${streamId}/events`, { source_ref: 'o1', event_type: 'x', payload: { m: PAYLOAD_MARKER } }, { 'idempotency-key': idemKey() });
    expect(a.status).toBe(201);
    const denied = await client(srv.url, 'ps_live_wrongwrongwrongwrongwrongwrong')('GET', `/v2/streams/${streamId}`);
    expect(denied.status).toBe(401);
    const ids = [s, a, denied].map((r) => r.headers.get('x-request-id'));
    const lines = await waitFor(async () => {
      const ls = logLines(srv).filter((l) => l.event === 'request' && ids.includes(l.request_id));
      return ls.length === 3 ? ls : undefined;
    });
    const byId = (id: string | null) => lines.find((l) => l.request_id === id);
    const append = byId(ids[1]!);
    expect(append).toMatchObject({ method: 'POST', status: 201, level: 30 });
    expect(append.route).toMatch(/^\/v2\/streams\/:\w+\/events$/); // the pattern, not the stream id
    expect(typeof append.latency_ms).toBe('number');
    expect(append.latency_ms).toBeGreaterThan(0);
    expect(append.tenant_id).toMatch(/./);
    expect(append.key_id).toMatch(/^key_/);
    expect(byId(ids[0]!)).toMatchObject({ method: 'POST', route: '/v2/streams', status: 201, key_id: append.key_id });
    const d = byId(ids[2]!);
    expect(d).toMatchObject({ method: 'GET', status: 401 });
    expect(d.route).toMatch(/^\/v2\/streams\/:\w+$/);
    expect(d.key_id).toBeUndefined();
    const out = srv.output();
    expect(out).not.toContain(srv.key);
    expect(out).not.toContain('wrongwrongwrong');
    expect(out).not.toContain(PAYLOAD_MARKER);
    expect(out.toLowerCase()).not.toContain('bearer');
    // Still the one plain line scripts wait for.
    expect(out).toMatch(/^proofstream listening on http:\/\/127\.0\.0\.1:\d+ /m);
  });

  it('a witness that is down: a witness_failed line with its backoff', async () => {
    const line = await waitFor(async () => logLines(srv).find((l) => l.event === 'witness_failed'));
    expect(line).toMatchObject({ witness: 'witness.test/down', level: 40 });
    expect(line.retry_in_ms).toBeGreaterThan(0);
    expect(line.error).toMatch(/unreachable/);
  });

  it('GET /metrics on its own listener: counters move after appends; lag and verify pool gauges exist', async () => {
    const before = parseMetrics(await (await fetch(metricsUrl)).text());
    for (let i = 0; i < 3; i++) {
      const r = await call('POST', `/v2/streams/${streamId}/events`, { source_ref: `m${i}`, event_type: 'x', payload: { i } }, { 'idempotency-key': idemKey() });
      expect(r.status).toBe(201);
    }
    const res = await fetch(metricsUrl);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const after = parseMetrics(await res.text());
    expect(after.get('proofstream_events_committed_total')! - (before.get('proofstream_events_committed_total') ?? 0)).toBe(3);
    expect(after.get('proofstream_group_commits_total')!).toBeGreaterThanOrEqual(4);
    const appended = 'proofstream_http_requests_total{method="POST",route="/v2/streams/:streamId/events",status="201"}';
    expect(after.get(appended)! - (before.get(appended) ?? 0)).toBe(3);
    expect(after.get('proofstream_group_commit_events_count')).toBeGreaterThanOrEqual(4);
    expect(after.get('proofstream_verify_busy')).toBe(0);
    expect(after.get('proofstream_verify_queued')).toBe(0);
    expect(after.get('proofstream_verify_workers')).toBeGreaterThanOrEqual(1);
    expect(after.get('proofstream_db_bytes')).toBeGreaterThan(0);
    expect(after.has('proofstream_db_wal_bytes')).toBe(true);
    expect(after.has('proofstream_append_queue_depth')).toBe(true);
    // Windows of 2 events: 4 events sealed means checkpoints, none cosigned by the down witness.
    const lag = await waitFor(async () => {
      const m = parseMetrics(await (await fetch(metricsUrl)).text());
      return m.get('proofstream_checkpoints_signed_total')! >= 2 ? m : undefined;
    });
    expect(lag.get('proofstream_witness_lag_checkpoints{witness="witness.test/down"}')).toBeGreaterThanOrEqual(2);
    // Not served on the API port.
    expect((await call('GET', '/metrics')).status).toBe(404);
  });

  it('the unauthenticated metrics listener holds at most METRICS_MAX_CONNECTIONS sockets; idle ones do not lock scrapers out for good', async () => {
    const { port, hostname } = new URL(metricsUrl);
    const sockets: net.Socket[] = [];
    for (let i = 0; i < METRICS_MAX_CONNECTIONS; i++) {
      const s = net.connect(Number(port), hostname);
      s.on('error', () => {});
      await new Promise<void>((r) => s.once('connect', () => r()));
      sockets.push(s);
    }
    // One more: the server closes it at once instead of holding it (and whatever it would send) in memory.
    const extra = net.connect(Number(port), hostname);
    const closed = await new Promise<boolean>((resolve) => {
      extra.on('error', () => resolve(true));
      extra.on('close', () => resolve(true));
      extra.setTimeout(4000, () => resolve(false));
    });
    extra.destroy();
    expect(closed).toBe(true);
    for (const s of sockets) s.destroy();
    const after = await waitFor(async () => {
      try {
        const r = await fetch(metricsUrl);
        return r.status === 200 ? await r.text() : undefined;
      } catch {
        return undefined;
      }
    });
    expect(after).toContain('proofstream_');
  });

  it('GET /ready: 503 naming witness_lag once the witness is behind longer than the threshold', async () => {
    await sleep(1100);
    const r = await waitFor(async () => {
      const x = await call('GET', '/ready');
      return x.status === 503 ? x : undefined;
    });
    expect(r.body.status).toBe('not_ready');
    expect(r.body.failing.join('\n')).toMatch(/^witness_lag:witness\.test\/down: /m);
    expect(r.body.checks.find((c: any) => c.name === 'database').ok).toBe(true);
    // /health stays liveness.
    expect((await call('GET', '/health')).status).toBe(200);
  });

  it('GET /docs: an HTML page built from /openapi.json, loading nothing from elsewhere', async () => {
    const r = await fetch(srv.url + '/docs');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await r.text();
    expect(html).toContain("fetch('/openapi.json')");
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href=|https?:\/\//);
    expect((await call('GET', '/openapi.json')).body.paths['/ready']).toBeDefined();
  });
});

describe('GET /ready thresholds', () => {
  it('503 naming disk when free space is under PROOFSTREAM_READY_MIN_FREE_BYTES; no metrics listener unless configured', async () => {
    const dir = tempDir('ps-observe-disk-');
    dirs.push(dir);
    const s = await startServer({ dataDir: dir, env: { PROOFSTREAM_READY_MIN_FREE_BYTES: String(2 ** 60) } });
    try {
      const r = await client(s.url)('GET', '/ready');
      expect(r.status).toBe(503);
      expect(r.body.failing.join('\n')).toMatch(/^disk: \d+ bytes free/m);
      expect(r.body.checks.find((c: any) => c.name === 'database').ok).toBe(true);
      expect(logLines(s).some((l) => l.event === 'metrics_started')).toBe(false);
    } finally {
      await s.stop();
    }
  }, 60_000);

  it('PROOFSTREAM_METRICS_PORT must be a port number', async () => {
    const { loadConfig } = await import('../src/config.js');
    expect(loadConfig({}).metricsPort).toBeUndefined();
    expect(loadConfig({ PROOFSTREAM_METRICS_PORT: '9464' }).metricsPort).toBe(9464);
    expect(() => loadConfig({ PROOFSTREAM_METRICS_PORT: 'x' })).toThrow(/PROOFSTREAM_METRICS_PORT/);
  });
});
