// Webhooks against a real server child process and a real receiver on 127.0.0.1: both signature schemes checked
// with independent code (node:crypto here, and the seed's own Python snippet), a receiver that is down for a while,
// kill -9 between commit and delivery, the address checks, deliveries and redelivery, disabling, and the limits.
import { execFile } from 'node:child_process';
import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { client, newKey, startServer, tempDir, type RunningServer } from './helpers/server.js';
import { waitFor } from './helpers/wait.js';
import { openLedgerDb } from './helpers/pg-mode.js';

interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A webhook receiver: records every request; answers `status()` (default 200); can go down and come back on its port. */
class Receiver {
  readonly got: Received[] = [];
  status: () => number = () => 200;
  /** called instead of answering, when set */
  handler: ((req: http.IncomingMessage, res: http.ServerResponse, body: string) => void) | null = null;
  private server: http.Server | null = null;
  port = 0;

  async up(port = this.port): Promise<this> {
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        this.got.push({ headers: req.headers, body });
        if (this.handler) return this.handler(req, res, body);
        res.writeHead(this.status(), { 'content-type': 'text/plain' }).end('ok');
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    return this;
  }

  async down(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/hook`;
  }

  bodies(): any[] {
    return this.got.map((g) => JSON.parse(g.body));
  }
}

const receivers: Receiver[] = [];
async function receiver(): Promise<Receiver> {
  const r = await new Receiver().up(0);
  receivers.push(r);
  return r;
}
afterAll(async () => {
  for (const r of receivers) await r.down();
});

/** Short retries so the tests run in seconds; private addresses allowed for the local receiver. */
const FAST = {
  PROOFSTREAM_WEBHOOK_ALLOW_PRIVATE: '1',
  PROOFSTREAM_WEBHOOK_RETRY_BASE_MS: '50',
  PROOFSTREAM_WEBHOOK_RETRY_MAX_MS: '200',
  PROOFSTREAM_WEBHOOK_POLL_MS: '100',
  PROOFSTREAM_WINDOW_MAX_AGE_MS: '200',
  LOG_LEVEL: 'warn',
};

async function server(env: Record<string, string> = {}, dataDir?: string, key?: string): Promise<RunningServer> {
  return startServer({ env: { ...FAST, ...env }, ...(dataDir ? { dataDir } : {}), ...(key ? { key } : {}) });
}

async function stream(call: ReturnType<typeof client>): Promise<string> {
  const r = await call('POST', '/v2/streams', { use_case: 'webhooks' });
  expect(r.status).toBe(201);
  return r.body.stream_id;
}

async function append(call: ReturnType<typeof client>, streamId: string, n: number): Promise<any[]> {
  const out = [];
  for (let i = 0; i < n; i++) {
    const r = await call('POST', `/v2/streams/${streamId}/events`, { source_ref: `ref-${i}`, event_type: 't', payload: { i } }, { 'idempotency-key': `k-${streamId}-${i}-${Math.random()}` });
    expect(r.status).toBe(201);
    out.push(r.body);
  }
  return out;
}

/** The Standard Webhooks key: a whsec_ secret's base64 payload, any other secret's UTF-8 (docs/webhooks.md). */
const standardKey = (secret: string) => (secret.startsWith('whsec_') ? Buffer.from(secret.slice(6), 'base64') : Buffer.from(secret, 'utf8'));

/** Independent check of both schemes on one received request. */
function checkSignatures(g: Received, secret: string): void {
  const seed = 'sha256=' + createHmac('sha256', secret).update(g.body).digest('hex');
  expect(g.headers['x-attest-signature']).toBe(seed);
  const id = g.headers['webhook-id'] as string;
  const ts = g.headers['webhook-timestamp'] as string;
  expect(id).toMatch(/^msg_/);
  expect(Math.abs(Number(ts) - Date.now() / 1000)).toBeLessThan(300);
  const expected = createHmac('sha256', standardKey(secret)).update(`${id}.${ts}.${g.body}`).digest('base64');
  expect((g.headers['webhook-signature'] as string).split(' ')).toContain(`v1,${expected}`);
}

/** The seed's Python snippet (../shared/reference/attest-pipelines-api.md), verbatim, run on one delivery. */
const SEED_PY = `
import hmac
import hashlib
import sys, json

def verify_webhook(payload, signature, secret):
    expected = hmac.new(
        secret.encode(),
        payload.encode(),
        hashlib.sha256
    ).hexdigest()
    
    return hmac.compare_digest(f"sha256={expected}", signature)

a = json.load(sys.stdin)
print("VALID" if verify_webhook(a["body"], a["signature"], a["secret"]) else "INVALID")
`;

function pythonVerifies(g: Received, secret: string): Promise<string | null> {
  return new Promise((resolve) => {
    const p = execFile('python3', ['-c', SEED_PY], (err, stdout) => resolve(err ? null : stdout.trim()));
    p.stdin!.end(JSON.stringify({ body: g.body, signature: g.headers['x-attest-signature'], secret }));
  });
}

async function deliveries(call: ReturnType<typeof client>, webhookId: string): Promise<any[]> {
  const r = await call('GET', `/v2/webhooks/${webhookId}/deliveries?limit=100`);
  expect(r.status).toBe(200);
  return r.body.deliveries;
}

describe('webhook deliveries', () => {
  it('delivers event.appended and checkpoint.signed, signed per the seed and per Standard Webhooks', async () => {
    const rx = await receiver();
    const srv = await server();
    const call = client(srv.url, srv.key);
    const sid = await stream(call);
    const generated = await call('POST', '/v2/webhooks', { url: rx.url, events: ['event.appended', 'checkpoint.signed'], description: 'generated secret' });
    expect(generated.status).toBe(201);
    expect(generated.body).toMatchObject({ url: rx.url, events: ['event.appended', 'checkpoint.signed'], active: true, stream_id: null, disabled_at: null, disabled_reason: null });
    expect(generated.body.webhook_id).toMatch(/^whk_/);
    expect(generated.body.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const seedSecret = 'webhook_secret_key_0123456789';
    const seedStyle = await call('POST', '/v1/webhooks', { url: rx.url, events: ['event.appended'], secret: seedSecret, active: true });
    expect(seedStyle.status).toBe(201);
    expect(seedStyle.body.secret).toBe(seedSecret);
    // The secret is shown once: never in a read.
    expect((await call('GET', `/v2/webhooks/${generated.body.webhook_id}`)).body.secret).toBeUndefined();

    const receipts = await append(call, sid, 2);
    // 2 events × 2 webhooks, and the checkpoint once the window seals (age 200 ms).
    await waitFor(async () => (rx.got.length >= 5 ? true : undefined));
    const byHook = (secret: string) => rx.got.filter((g) => g.headers['x-attest-signature'] === 'sha256=' + createHmac('sha256', secret).update(g.body).digest('hex'));
    const genGot = byHook(generated.body.secret);
    const seedGot = byHook(seedSecret);
    expect(genGot.length + seedGot.length).toBe(rx.got.length);
    for (const g of genGot) checkSignatures(g, generated.body.secret);
    for (const g of seedGot) checkSignatures(g, seedSecret);
    expect(await pythonVerifies(seedGot[0]!, seedSecret)).toBe('VALID');
    expect(await pythonVerifies(genGot[0]!, generated.body.secret)).toBe('VALID');
    expect(await pythonVerifies({ ...seedGot[0]!, body: seedGot[0]!.body + ' ' }, seedSecret)).toBe('INVALID');

    const appended = genGot.map((g) => JSON.parse(g.body)).filter((b) => b.event === 'event.appended');
    expect(appended.map((b) => b.data.receipt.seq_no).sort()).toEqual([1, 2]);
    const first = appended.find((b) => b.data.receipt.seq_no === 1);
    expect(first.data.receipt).toEqual({ ...receipts[0] });
    expect(first.data.event).toMatchObject({ stream_event_id: receipts[0].stream_event_id, payload: { i: 0 }, source_ref: 'ref-0' });
    expect(Date.parse(first.timestamp)).not.toBeNaN();
    const cp = await waitFor(async () => {
      const g = rx.got.find((x) => JSON.parse(x.body).event === 'checkpoint.signed');
      return g && JSON.parse(g.body);
    });
    const latest = (await call('GET', `/v2/streams/${sid}/checkpoints/latest`)).body;
    expect(cp.data).toMatchObject({ stream_id: sid, status: 'signed', checkpoint: { checkpoint_id: latest.checkpoint_id, note: latest.note } });
    // The seed-style webhook did not subscribe to checkpoints, and wrote nothing for them.
    expect(seedGot.every((g) => JSON.parse(g.body).event === 'event.appended')).toBe(true);
    expect((await deliveries(call, seedStyle.body.webhook_id)).map((d) => d.event)).toEqual(['event.appended', 'event.appended']);

    const list = await deliveries(call, generated.body.webhook_id);
    expect(list.every((d) => d.status === 'delivered' && d.attempts === 1 && d.last_status_code === 200 && d.delivered_at && d.next_attempt_at === null)).toBe(true);
    await srv.stop();
  });

  it('a receiver down for a while gets every delivery once it is back; the deliveries list shows the attempts', async () => {
    const rx = await receiver();
    await rx.down(); // its port now refuses connections
    const srv = await server();
    const call = client(srv.url, srv.key);
    const sid = await stream(call);
    const w = (await call('POST', '/v2/webhooks', { url: rx.url, events: ['event.appended'], stream_id: sid })).body;
    await append(call, sid, 3);
    // Failed attempts are recorded while it is down.
    const failing = await waitFor(async () => {
      const ds = await deliveries(call, w.webhook_id);
      return ds.length === 3 && ds.every((d) => d.attempts >= 2 && d.status === 'pending') ? ds : undefined;
    });
    for (const d of failing) {
      expect(d.last_status_code).toBeNull();
      expect(d.last_error).toMatch(/ECONNREFUSED/);
      expect(d.delivered_at).toBeNull();
    }
    // Now it answers 500 for a while, then 200.
    let n = 0;
    rx.status = () => (n++ < 3 ? 500 : 200);
    await rx.up();
    const done = await waitFor(async () => {
      const ds = await deliveries(call, w.webhook_id);
      return ds.every((d) => d.status === 'delivered') ? ds : undefined;
    });
    expect(done.some((d) => d.attempts >= 3)).toBe(true);
    const seqs = rx.bodies().map((b) => b.data.receipt.seq_no);
    expect([...new Set(seqs)].sort()).toEqual([1, 2, 3]);
    // Each delivery kept its webhook-id across its attempts.
    for (const d of done) {
      const ids = rx.got.filter((g) => g.headers['webhook-id'] === d.delivery_id);
      expect(ids.length).toBeGreaterThanOrEqual(1);
      expect(new Set(ids.map((g) => JSON.parse(g.body).data.receipt.seq_no)).size).toBe(1);
    }
    // A 500 is recorded as such before the success.
    expect(rx.got.length).toBeGreaterThanOrEqual(6);
    await srv.stop();
  });

  it('kill -9 between commit and delivery still delivers every event, with the webhook-id it had before the crash', async () => {
    const rx = await receiver();
    await rx.down();
    const dataDir = tempDir('ps-webhook-crash-');
    const key = newKey();
    // A short attempt deadline keeps the lease of an attempt cut short by the kill (deadline + 5 s) short too.
    const env = { PROOFSTREAM_WEBHOOK_TIMEOUT_MS: '1000' };
    let srv = await server(env, dataDir, key);
    let call = client(srv.url, key);
    const sid = await stream(call);
    const w = (await call('POST', '/v2/webhooks', { url: rx.url, events: ['event.appended'] })).body;
    const receipts = await append(call, sid, 5);
    const before = await deliveries(call, w.webhook_id);
    expect(before).toHaveLength(5);
    await srv.kill();

    srv = await server(env, dataDir, key);
    call = client(srv.url, key);
    await rx.up();
    const after = await waitFor(async () => {
      const ds = await deliveries(call, w.webhook_id);
      return ds.every((d) => d.status === 'delivered') ? ds : undefined;
    });
    expect(after.map((d) => d.delivery_id).sort()).toEqual(before.map((d) => d.delivery_id).sort());
    const bySeq = new Map<number, string>();
    for (const g of rx.got) bySeq.set(JSON.parse(g.body).data.receipt.seq_no, g.headers['webhook-id'] as string);
    expect([...bySeq.keys()].sort()).toEqual([1, 2, 3, 4, 5]);
    // The id each event is delivered under is the one its outbox row had before the crash.
    expect(new Set(bySeq.values())).toEqual(new Set(before.map((d) => d.delivery_id)));
    for (const r of receipts) expect(rx.bodies().some((b) => b.data.receipt.stream_event_id === r.stream_event_id)).toBe(true);
    await srv.stop();
  });

  it('redeliver sends a delivery again with the same webhook-id; a 3xx is not followed', async () => {
    const rx = await receiver();
    const srv = await server();
    const call = client(srv.url, srv.key);
    const sid = await stream(call);
    const w = (await call('POST', '/v2/webhooks', { url: rx.url, events: ['event.appended'] })).body;
    await append(call, sid, 1);
    const [d] = await waitFor(async () => {
      const ds = await deliveries(call, w.webhook_id);
      return ds[0]?.status === 'delivered' ? ds : undefined;
    });
    const r = await call('POST', `/v2/webhooks/${w.webhook_id}/deliveries/${d.delivery_id}/redeliver`);
    expect(r.status).toBe(202);
    expect(r.body).toMatchObject({ delivery_id: d.delivery_id, status: 'pending', delivered_at: null });
    await waitFor(async () => (rx.got.length === 2 ? true : undefined));
    expect(rx.got.map((g) => g.headers['webhook-id'])).toEqual([d.delivery_id, d.delivery_id]);
    expect(rx.got[1]!.body).toBe(rx.got[0]!.body);
    const again = await waitFor(async () => {
      const ds = await deliveries(call, w.webhook_id);
      return ds[0]?.status === 'delivered' ? ds[0] : undefined;
    });
    expect(again.attempts).toBe(2);
    // Unknown delivery or webhook: 404 in the envelope.
    const missing = await call('POST', `/v2/webhooks/${w.webhook_id}/deliveries/msg_nope/redeliver`);
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('RESOURCE_NOT_FOUND');

    // A redirect is a failed attempt, never followed.
    const target = await receiver();
    rx.handler = (_req, res) => res.writeHead(302, { location: target.url }).end();
    await call('POST', `/v2/webhooks/${w.webhook_id}/deliveries/${d.delivery_id}/redeliver`);
    const redirected = await waitFor(async () => {
      const ds = await deliveries(call, w.webhook_id);
      return ds[0]?.last_status_code === 302 ? ds[0] : undefined;
    });
    expect(redirected.status).toBe('pending');
    expect(redirected.last_error).toMatch(/redirect .* not followed/);
    expect(target.got).toHaveLength(0);
    await srv.stop();
  });

  it('an endpoint failing for the whole retry period is disabled, its pending deliveries dead; re-activating clears it', async () => {
    const rx = await receiver();
    rx.status = () => 503;
    const srv = await server({ PROOFSTREAM_WEBHOOK_RETRY_PERIOD: '1500ms', LOG_LEVEL: 'info' });
    const call = client(srv.url, srv.key);
    const sid = await stream(call);
    const w = (await call('POST', '/v2/webhooks', { url: rx.url, events: ['event.appended'] })).body;
    await append(call, sid, 2);
    const disabled = await waitFor(async () => {
      const x = (await call('GET', `/v2/webhooks/${w.webhook_id}`)).body;
      return x.disabled_at ? x : undefined;
    });
    expect(disabled.active).toBe(false);
    expect(disabled.disabled_reason).toMatch(/failed/);
    expect(disabled.disabled_reason).toMatch(/503/);
    const ds = await deliveries(call, w.webhook_id);
    expect(ds.every((d) => d.status === 'dead' || d.status === 'failed')).toBe(true);
    expect(ds.every((d) => d.last_status_code === 503 && d.attempts >= 1)).toBe(true);
    await waitFor(async () => (/"event":"webhook_disabled"/.test(srv.output()) ? true : undefined));
    // Nothing more is written for it while disabled…
    await append(call, sid, 1);
    expect(await deliveries(call, w.webhook_id)).toHaveLength(2);
    // …redeliver refuses until it is re-activated…
    const refused = await call('POST', `/v2/webhooks/${w.webhook_id}/deliveries/${ds[0].delivery_id}/redeliver`);
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('WEBHOOK_INACTIVE');
    // …and re-activating clears disabled_* and delivers again.
    rx.status = () => 200;
    const back = await call('PATCH', `/v2/webhooks/${w.webhook_id}`, { active: true });
    expect(back.status).toBe(200);
    expect(back.body).toMatchObject({ active: true, disabled_at: null, disabled_reason: null });
    const re = await call('POST', `/v2/webhooks/${w.webhook_id}/deliveries/${ds[0].delivery_id}/redeliver`);
    expect(re.status).toBe(202);
    await waitFor(async () => ((await deliveries(call, w.webhook_id)).some((d) => d.status === 'delivered') ? true : undefined));
    await srv.stop();
  });

  it('per attempt: a timeout is a failed attempt; an endless answer is read up to the cap and dropped; deliveries in flight stay under the bound', async () => {
    const rx = await receiver();
    const srv = await server({ PROOFSTREAM_WEBHOOK_TIMEOUT_MS: '300', PROOFSTREAM_WEBHOOK_MAX_RESPONSE_BYTES: '1024', PROOFSTREAM_WEBHOOK_CONCURRENCY: '2' });
    const call = client(srv.url, srv.key);
    const sid = await stream(call);
    const w = (await call('POST', '/v2/webhooks', { url: rx.url, events: ['event.appended'] })).body;

    // Never answers: every attempt times out.
    rx.handler = () => {};
    await append(call, sid, 1);
    const timedOut = await waitFor(async () => {
      const ds = await deliveries(call, w.webhook_id);
      return ds[0]?.attempts >= 1 && ds[0].last_error ? ds[0] : undefined;
    });
    expect(timedOut.last_error).toMatch(/timeout after 300 ms/);
    expect(timedOut.status).toBe('pending');

    // 200, then a body that never ends: delivered once 1 KiB was read (without the cap it would time out).
    rx.handler = (_req, res) => {
      res.writeHead(200);
      const t = setInterval(() => res.write(Buffer.alloc(512, 'x')), 5);
      res.on('close', () => clearInterval(t));
    };
    await waitFor(async () => ((await deliveries(call, w.webhook_id))[0]?.status === 'delivered' ? true : undefined));

    // Concurrency: the receiver holds each request a little; never more than 2 at once.
    let open = 0;
    let maxOpen = 0;
    rx.handler = (_req, res) => {
      open++;
      maxOpen = Math.max(maxOpen, open);
      setTimeout(() => {
        open--;
        res.writeHead(200).end();
      }, 50);
    };
    await append(call, sid, 6);
    await waitFor(async () => ((await deliveries(call, w.webhook_id)).filter((d) => d.status === 'delivered').length === 7 ? true : undefined));
    expect(maxOpen).toBeGreaterThanOrEqual(1);
    expect(maxOpen).toBeLessThanOrEqual(2);
    await srv.stop();
  });

  it('finished deliveries are purged after PROOFSTREAM_WEBHOOK_RETENTION_MS; pending ones are kept', async () => {
    const rx = await receiver();
    const dataDir = tempDir('ps-webhook-retention-');
    const key = newKey();
    let srv = await server({}, dataDir, key);
    let call = client(srv.url, key);
    const sid = await stream(call);
    const w = (await call('POST', '/v2/webhooks', { url: rx.url, events: ['event.appended'] })).body;
    await append(call, sid, 2);
    await waitFor(async () => ((await deliveries(call, w.webhook_id)).every((d) => d.status === 'delivered') ? true : undefined));
    await rx.down();
    await append(call, sid, 1); // stays pending: the receiver is down
    await srv.stop();
    // The purge runs at the first pass after start (then hourly); with a 1 ms retention the two delivered rows go.
    srv = await server({ PROOFSTREAM_WEBHOOK_RETENTION_MS: '1' }, dataDir, key);
    call = client(srv.url, key);
    const left = await waitFor(async () => {
      const ds = await deliveries(call, w.webhook_id);
      return ds.length === 1 ? ds : undefined;
    });
    expect(left[0].status).toBe('pending');
    await srv.stop();
  });

  it('sees a webhook another process added to the database (PRAGMA data_version), and writes nothing when nobody subscribes', async () => {
    const rx = await receiver();
    const srv = await server();
    const call = client(srv.url, srv.key);
    const sid = await stream(call);
    await append(call, sid, 2); // no webhook: no outbox rows
    const db = openLedgerDb(srv.dataDir, 'proofstream.db');
    try {
      expect(db.prepare('SELECT count(*) AS n FROM webhook_deliveries').get()).toEqual({ n: 0 });
      const tenant = (db.prepare('SELECT tenant_id FROM streams WHERE id = ?').get(sid) as { tenant_id: string }).tenant_id;
      const now = new Date().toISOString();
      db.prepare(
        `INSERT INTO webhooks (id, tenant_id, system_id, stream_id, url, events, secret, active, description, created_at, updated_at)
         VALUES ('whk_other_process', ?, NULL, NULL, ?, '["event.appended"]', 'secret-from-elsewhere-0123', 1, NULL, ?, ?)`,
      ).run(tenant, rx.url, now, now);
    } finally {
      db.close();
    }
    await append(call, sid, 1);
    const got = await waitFor(async () => (rx.got.length ? rx.got : undefined));
    expect(JSON.parse(got[0]!.body).data.receipt.seq_no).toBe(3);
    checkSignatures(got[0]!, 'secret-from-elsewhere-0123');
    await srv.stop();
  });
});

describe('webhook addresses (PROOFSTREAM_WEBHOOK_ALLOW_PRIVATE unset)', () => {
  it('refuses metadata, private, loopback (also by name), link-local, CGNAT and IPv6 internal addresses, bad schemes and credentials: 422 naming why', async () => {
    const srv = await startServer({ env: { LOG_LEVEL: 'warn' } });
    const call = client(srv.url, srv.key);
    const cases: Array<[string, string]> = [
      ['http://169.254.169.254/latest/meta-data/', 'metadata'],
      ['http://10.0.0.1/', 'private'],
      ['http://192.168.1.20:8080/x', 'private'],
      ['http://172.16.0.1/', 'private'],
      ['http://localhost:9/hook', 'loopback'],
      ['http://127.0.0.1/', 'loopback'],
      ['http://2130706433/', 'loopback'], // 127.0.0.1 spelled as one number
      ['http://[::1]/', 'loopback'],
      ['http://[::ffff:127.0.0.1]/', 'loopback'], // IPv4-mapped: judged by the IPv4 address inside
      ['http://[::ffff:a00:1]/', 'private'],
      ['http://169.254.1.1/', 'link_local'],
      ['http://[fe80::1]/', 'link_local'],
      ['http://[fd00::1]/', 'unique_local'],
      ['http://100.64.0.1/', 'cgnat'],
      ['http://0.0.0.0/', 'unspecified'],
      ['http://224.0.0.1/', 'multicast'],
      ['ftp://example.com/', 'scheme'],
      ['file:///etc/passwd', 'scheme'],
      ['https://user:pw@example.com/', 'credentials'],
      ['not a url', 'malformed'],
    ];
    for (const [url, reason] of cases) {
      const r = await call('POST', '/v2/webhooks', { url, events: ['event.appended'] });
      expect({ url, status: r.status, code: r.body?.error?.code, reason: r.body?.error?.details?.reason }).toEqual({ url, status: 422, code: 'WEBHOOK_URL_REFUSED', reason });
      expect(r.body.error.request_id).toMatch(/^req_/);
    }
    // The v1 route and PATCH check the same way.
    expect((await call('POST', '/v1/webhooks', { url: 'http://10.0.0.1/', events: ['event.appended'], secret: 'webhook_secret_key_xx', active: true })).status).toBe(422);
    expect((await call('GET', '/v2/webhooks')).body.webhooks).toEqual([]);
    await srv.stop();
  });

  it('checks again at delivery, after resolving: a webhook made while private addresses were allowed is not delivered once they are not', async () => {
    const rx = await receiver();
    const dataDir = tempDir('ps-webhook-ssrf-');
    const key = newKey();
    let srv = await server({}, dataDir, key);
    let call = client(srv.url, key);
    const sid = await stream(call);
    const byIp = (await call('POST', '/v2/webhooks', { url: rx.url, events: ['event.appended'] })).body;
    const byName = (await call('POST', '/v2/webhooks', { url: `http://localhost:${rx.port}/hook`, events: ['event.appended'] })).body;
    await srv.stop();
    srv = await server({ PROOFSTREAM_WEBHOOK_ALLOW_PRIVATE: '0' }, dataDir, key);
    call = client(srv.url, key);
    await append(call, sid, 1);
    for (const w of [byIp, byName]) {
      const d = await waitFor(async () => {
        const ds = await deliveries(call, w.webhook_id);
        return ds[0]?.last_error ? ds[0] : undefined;
      });
      expect(d.status).toBe('pending');
      expect(d.last_error).toMatch(/loopback/);
    }
    expect(rx.got).toHaveLength(0);
    // PATCHing the url is checked like a create.
    const p = await call('PATCH', `/v2/webhooks/${byIp.webhook_id}`, { url: 'http://169.254.169.254/' });
    expect(p.status).toBe(422);
    expect(p.body.error.details.reason).toBe('metadata');
    await srv.stop();
  });
});

describe('webhook management and limits', () => {
  it('CRUD, scopes, tenancy, and every limit answers in the envelope', async () => {
    const rx = await receiver();
    const srv = await server({ PROOFSTREAM_WEBHOOK_MAX_PER_TENANT: '3' });
    const call = client(srv.url, srv.key);
    const mk = (body: Record<string, unknown>) => call('POST', '/v2/webhooks', { url: rx.url, events: ['event.appended'], ...body });

    const a = await mk({ description: 'a' });
    expect(a.status).toBe(201);
    const id = a.body.webhook_id;
    // With an Idempotency-Key, a retried create answers the original, byte for byte, and creates nothing more.
    const once = await call('POST', '/v2/webhooks', { url: rx.url, events: ['event.appended'] }, { 'idempotency-key': 'create-once' });
    const twice = await call('POST', '/v2/webhooks', { url: rx.url, events: ['event.appended'] }, { 'idempotency-key': 'create-once' });
    expect(once.status).toBe(201);
    expect(twice.status).toBe(201);
    expect(twice.text).toBe(once.text);
    expect(twice.headers.get('idempotent-replayed')).toBe('true');
    expect((await call('DELETE', `/v2/webhooks/${once.body.webhook_id}`)).status).toBe(204);
    // PATCH every field; the answer never carries the secret.
    const p = await call('PATCH', `/v2/webhooks/${id}`, { events: ['checkpoint.signed', 'checkpoint.signed'], description: null, secret: 'another_secret_0123456789', active: false });
    expect(p.status).toBe(200);
    expect(p.body).toMatchObject({ events: ['checkpoint.signed'], description: null, active: false, disabled_at: null });
    expect(p.body.secret).toBeUndefined();
    expect(p.body.updated_at >= a.body.updated_at).toBe(true);

    // Limits and validation.
    const bad: Array<[Record<string, unknown>, number, string]> = [
      [{ url: 'http://127.0.0.1/' + 'x'.repeat(2048) }, 422, 'VALIDATION_ERROR'],
      [{ events: [] }, 422, 'VALIDATION_ERROR'],
      [{ events: ['event.nope'] }, 422, 'VALIDATION_ERROR'],
      [{ description: 'd'.repeat(513) }, 422, 'VALIDATION_ERROR'],
      [{ secret: 'short' }, 422, 'VALIDATION_ERROR'],
      [{ secret: 'has a space in it 0123' }, 422, 'VALIDATION_ERROR'],
      [{ secret: 'whsec_notbase64!!!!!!!!!!!' }, 422, 'VALIDATION_ERROR'],
      [{ unknown_field: 1 }, 422, 'VALIDATION_ERROR'],
      [{ stream_id: 'str_nope' }, 404, 'RESOURCE_NOT_FOUND'],
    ];
    for (const [body, status, code] of bad) {
      const r = await mk(body);
      expect({ body, status: r.status, code: r.body?.error?.code }).toEqual({ body, status, code });
    }
    const big = await call('POST', '/v2/webhooks', JSON.stringify({ url: rx.url, events: ['event.appended'], description: 'x'.repeat(17 * 1024) }));
    expect(big.status).toBe(413);
    expect((await call('GET', '/v2/webhooks?limit=101')).status).toBe(400);
    expect((await call('GET', `/v2/webhooks/${id}/deliveries?limit=0`)).status).toBe(400);
    expect((await call('GET', '/v2/webhooks?cursor=garbage')).status).toBe(400);

    // Per tenant: 3 here.
    expect((await mk({})).status).toBe(201);
    expect((await mk({})).status).toBe(201);
    const over = await mk({});
    expect(over.status).toBe(409);
    expect(over.body.error).toMatchObject({ code: 'WEBHOOK_LIMIT_REACHED', details: { limit: 3 } });

    // Paging: 2 per page over 3.
    const page1 = await call('GET', '/v2/webhooks?limit=2');
    expect(page1.body.webhooks).toHaveLength(2);
    expect(page1.body.webhooks[0].webhook_id).toBe(id);
    const page2 = await call('GET', `/v2/webhooks?limit=2&cursor=${page1.body.next_cursor}`);
    expect(page2.body.webhooks).toHaveLength(1);
    expect(page2.body.next_cursor).toBeNull();
    expect(page1.body.webhooks.concat(page2.body.webhooks).every((w: any) => w.secret === undefined)).toBe(true);

    // Another tenant sees none of it; a key without the webhooks scope is refused.
    const other = await call('POST', '/v2/admin/keys', { system: 'other-sys', scopes: ['read'] });
    expect(other.status).toBe(201);
    const readOnly = client(srv.url, other.body.key);
    const denied = await readOnly('GET', '/v2/webhooks');
    expect(denied.status).toBe(403);
    expect(denied.body.error.code).toBe('AUTHORIZATION_FAILED');
    const sysKey = await call('POST', '/v2/admin/keys', { system: 'other-sys' });
    const sysCall = client(srv.url, sysKey.body.key);
    // A key of one system (not tenant-wide) does not see the tenant-wide key's webhooks.
    expect((await sysCall('GET', `/v2/webhooks/${id}`)).status).toBe(404);
    expect((await sysCall('GET', '/v2/webhooks')).body.webhooks).toEqual([]);

    // Delete: 204, then 404.
    expect((await call('DELETE', `/v2/webhooks/${id}`)).status).toBe(204);
    const gone = await call('GET', `/v2/webhooks/${id}`);
    expect(gone.status).toBe(404);
    expect(gone.body.error.code).toBe('RESOURCE_NOT_FOUND');
    expect((await mk({})).status).toBe(201);

    // Every route is in the OpenAPI document.
    const doc = (await call('GET', '/openapi.json')).body;
    for (const p of ['/v2/webhooks', '/v2/webhooks/{webhookId}', '/v2/webhooks/{webhookId}/deliveries', '/v2/webhooks/{webhookId}/deliveries/{deliveryId}/redeliver', '/v1/webhooks']) {
      expect(doc.paths[p], p).toBeDefined();
    }
    await srv.stop();
  });
});
