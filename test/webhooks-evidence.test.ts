// checkpoint.witnessed, checkpoint.anchored and fork.suspected webhooks, from a ledger with a real witness, a real
// TSA and a "witness" that answers every submission 422 (what a witness says when a checkpoint contradicts one it
// cosigned), and evidence.stalled from a ledger whose witness stays down; all child processes or servers on 127.0.0.1.
import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeVerifierKey } from '../src/protocol/note.js';
import { generateWitnessKey } from '../src/witness/keys.js';
import { loadOrCreateSigner } from '../src/ledger/signer.js';
import { client, idemKey, startServer, tempDir, type RunningServer } from './helpers/server.js';
import { startTsa, type RunningTsa } from './helpers/tsa.js';
import { waitFor } from './helpers/wait.js';
import { startWitness, type RunningWitnessProcess } from './helpers/witness.js';

const servers: http.Server[] = [];
let srv: RunningServer | undefined;
let tsa: RunningTsa | undefined;
let w1: RunningWitnessProcess | undefined;
let w2: RunningWitnessProcess | undefined;

async function listen(handler: http.RequestListener): Promise<string> {
  const s = http.createServer(handler);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  servers.push(s);
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

afterAll(async () => {
  await Promise.all([srv?.stop(), tsa?.stop(), w1?.stop(), w2?.stop()]);
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
});

describe('evidence webhooks', () => {
  it('announces checkpoint.witnessed once the quorum is met, checkpoint.anchored once stamped, and fork.suspected on a witness 422', async () => {
    const dir = tempDir('ps-webhook-evidence-');
    const dataDir = path.join(dir, 'ledger');
    const signer = loadOrCreateSigner(path.join(dataDir, 'signing-key.pem'));
    const logs = [{ origin: 'proofstream.localhost/*', vkeys: [encodeVerifierKey('proofstream.localhost/*', signer.publicKey)] }];
    [tsa, w1, w2] = await Promise.all([
      startTsa(path.join(dir, 'tsa')),
      startWitness({ logs, dir: path.join(dir, 'w1'), name: 'witness.test/one' }),
      startWitness({ logs, dir: path.join(dir, 'w2'), name: 'witness.test/forked' }),
    ]);
    // w2's key, but its submissions go to a server that finds every checkpoint inconsistent.
    const forkedUrl = await listen((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(422, { 'content-type': 'text/plain' }).end('inconsistent with a checkpoint I cosigned'));
    });
    const got: Array<{ headers: http.IncomingHttpHeaders; body: string }> = [];
    const rxUrl = await listen((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        got.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        res.writeHead(204).end();
      });
    });
    srv = await startServer({
      dataDir,
      env: {
        LOG_LEVEL: 'warn',
        PROOFSTREAM_WEBHOOK_ALLOW_PRIVATE: '1',
        PROOFSTREAM_WEBHOOK_POLL_MS: '100',
        PROOFSTREAM_WINDOW_MAX_AGE_MS: '100',
        PROOFSTREAM_WITNESSES: JSON.stringify([
          { name: w1.name, url: w1.url, vkey: w1.vkey },
          { name: w2.name, url: forkedUrl, vkey: w2.vkey },
        ]),
        PROOFSTREAM_WITNESS_QUORUM: '1',
        PROOFSTREAM_TSA_URL: tsa.url,
        PROOFSTREAM_TSA_ROOT: path.join(tsa.dir, 'root.pem'),
        PROOFSTREAM_ANCHOR_EPOCH_MS: '300',
        PROOFSTREAM_RETRY_MAX_MS: '500',
      },
    });
    const call = client(srv.url, srv.key);
    const secret = 'evidence_secret_0123456789';
    const w = await call('POST', '/v2/webhooks', {
      url: rxUrl,
      secret,
      events: ['checkpoint.signed', 'checkpoint.witnessed', 'checkpoint.anchored', 'fork.suspected'],
    });
    expect(w.status).toBe(201);
    const sid = (await call('POST', '/v2/streams', { use_case: 'evidence webhooks' })).body.stream_id;
    const r = await call('POST', `/v2/streams/${sid}/events`, { source_ref: 'e', event_type: 't', payload: {} }, { 'idempotency-key': idemKey() });
    expect(r.status).toBe(201);

    const byType = () => {
      const m = new Map<string, any[]>();
      for (const g of got) {
        const b = JSON.parse(g.body);
        m.set(b.event, [...(m.get(b.event) ?? []), b]);
      }
      return m;
    };
    await waitFor(async () => {
      const m = byType();
      return ['checkpoint.signed', 'checkpoint.witnessed', 'checkpoint.anchored', 'fork.suspected'].every((t) => m.has(t)) ? true : undefined;
    }, 30_000);
    for (const g of got) expect(g.headers['x-attest-signature']).toBe('sha256=' + createHmac('sha256', secret).update(g.body).digest('hex'));
    const m = byType();
    const cpId = m.get('checkpoint.signed')![0].data.checkpoint.checkpoint_id;
    const witnessed = m.get('checkpoint.witnessed')!.find((b) => b.data.checkpoint.checkpoint_id === cpId);
    expect(witnessed.data).toMatchObject({ stream_id: sid, tree_size: 1, status: 'witnessed' });
    expect(witnessed.data.checkpoint.witness_quorum.met).toBe(true);
    expect(witnessed.data.checkpoint.cosignatures.map((c: any) => c.witness)).toEqual([w1.name]);
    const anchored = m.get('checkpoint.anchored')!.find((b) => b.data.checkpoint.checkpoint_id === cpId);
    expect(anchored.data.status).toBe('anchored');
    expect(anchored.data.checkpoint.anchor).not.toBeNull();
    const fork = m.get('fork.suspected')![0];
    expect(fork.data).toMatchObject({ stream_id: sid, condition: 'fork.suspected' });
    // Announced once per refusing witness and checkpoint, however often the refusal is retried.
    const forkIds = m.get('fork.suspected')!.map((b) => b.data.checkpoint.checkpoint_id);
    expect(new Set(forkIds).size).toBe(forkIds.length);
    // Witnessed exactly once per checkpoint, although two witnesses were asked.
    const ids = m.get('checkpoint.witnessed')!.map((b) => b.data.checkpoint.checkpoint_id);
    expect(new Set(ids).size).toBe(ids.length);
  }, 90_000);

  it('announces evidence.stalled once per stream and reason when a witness and the TSA stay down longer than the /ready thresholds', async () => {
    const dir = tempDir('ps-webhook-stalled-');
    const roots = await startTsa(path.join(dir, 'tsa')); // only for its root certificate: the TSA URL below is down
    await roots.stop();
    const down = await listen((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(503, { 'content-type': 'text/plain' }).end('down for maintenance'));
    });
    const got: any[] = [];
    const rxUrl = await listen((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        got.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        res.writeHead(204).end();
      });
    });
    const stalled = await startServer({
      dataDir: path.join(dir, 'ledger'),
      env: {
        LOG_LEVEL: 'warn',
        PROOFSTREAM_WEBHOOK_ALLOW_PRIVATE: '1',
        PROOFSTREAM_WEBHOOK_POLL_MS: '100',
        PROOFSTREAM_WINDOW_MAX_AGE_MS: '100',
        PROOFSTREAM_WITNESSES: JSON.stringify([{ name: 'witness.test/down', url: down, vkey: generateWitnessKey(path.join(dir, 'w.key'), 'witness.test/down').vkey }]),
        PROOFSTREAM_WITNESS_QUORUM: '1',
        PROOFSTREAM_RETRY_MAX_MS: '500',
        PROOFSTREAM_READY_MAX_WITNESS_LAG_S: '1',
        PROOFSTREAM_TSA_URL: down,
        PROOFSTREAM_TSA_ROOT: path.join(roots.dir, 'root.pem'),
        PROOFSTREAM_ANCHOR_EPOCH_MS: '300',
        PROOFSTREAM_READY_MAX_ANCHOR_LAG_S: '1',
      },
    });
    try {
      const call = client(stalled.url, stalled.key);
      expect((await call('POST', '/v2/webhooks', { url: rxUrl, events: ['evidence.stalled'] })).status).toBe(201);
      const sids: string[] = [];
      for (const n of [1, 2]) {
        const sid = (await call('POST', '/v2/streams', { use_case: `stalled ${n}` })).body.stream_id;
        sids.push(sid);
        for (let i = 0; i < 3; i++) {
          // three checkpoints per stream, none ever cosigned
          expect((await call('POST', `/v2/streams/${sid}/events`, { source_ref: `e${i}`, event_type: 't', payload: { i } }, { 'idempotency-key': idemKey() })).status).toBe(201);
          await waitFor(async () => ((await call('GET', `/v2/streams/${sid}/checkpoints/latest`)).body.tree_size === i + 1 ? true : undefined));
        }
      }
      // Per stream: one for the witness, one for the anchor, each naming the stream's oldest checkpoint (size 1).
      await waitFor(async () => (got.length >= 4 ? true : undefined), 30_000);
      // Several more passes (one a second at these thresholds): still one announcement per stream and reason.
      await new Promise((r) => setTimeout(r, 3_000));
      expect(got.map((b) => b.event)).toEqual(Array(4).fill('evidence.stalled'));
      for (const sid of sids) {
        const mine = got.filter((x) => x.data.stream_id === sid);
        expect(mine).toHaveLength(2);
        for (const b of mine) {
          expect(b.data).toMatchObject({ stream_id: sid, tree_size: 1, condition: 'evidence.stalled' });
          expect(b.data.checkpoint.witness_quorum.met).toBe(false);
          expect(b.data.checkpoint.anchor).toBeNull();
        }
      }
    } finally {
      await stalled.stop();
    }
  }, 90_000);
});
