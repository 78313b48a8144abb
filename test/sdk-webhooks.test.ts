// The SDK's webhook calls against a real server child and a real receiver on 127.0.0.1 that checks both signature
// schemes with verifyWebhookSignature (docs/webhooks.md).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { Proofstream, ProofstreamError, verifyWebhookSignature } from 'proofstream/client';
import { startServer, type RunningServer } from './helpers/server.js';
import { waitFor } from './helpers/wait.js';

interface Got {
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

describe('SDK webhooks against a real server', () => {
  let srv: RunningServer;
  let receiver: http.Server;
  afterAll(async () => {
    await srv?.stop();
    receiver?.closeAllConnections();
    await new Promise((r) => receiver?.close(r));
  });

  it('create, list, get, deliveries, redeliver, update, delete; deliveries verify under both schemes and carry verifiable receipts', async () => {
    const got: Got[] = [];
    receiver = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        got.push({ headers: req.headers, body: Buffer.concat(chunks) });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    srv = await startServer({ env: { PROOFSTREAM_WEBHOOK_ALLOW_PRIVATE: '1', PROOFSTREAM_WEBHOOK_POLL_MS: '50' } });
    const keys = Proofstream.trustedKeysFrom(await new Proofstream({ baseUrl: srv.url }).keys());
    const ps = new Proofstream({ baseUrl: srv.url, apiKey: srv.key, trustedKeys: keys });

    const sid = (await ps.streams.create({ use_case: 'sdk-webhooks' })).stream_id;
    const hook = await ps.webhooks.create({ url: hookUrl, events: ['event.appended'], stream_id: sid, description: 'sdk test' });
    expect(hook).toMatchObject({ url: hookUrl, events: ['event.appended'], active: true, stream_id: sid, disabled_at: null });
    expect(hook.webhook_id).toMatch(/^whk_/);
    expect(hook.secret).toMatch(/^whsec_/);
    const { secret, ...shown } = hook;
    expect(await ps.webhooks.get(hook.webhook_id)).toEqual(shown);
    expect((await ps.webhooks.list()).webhooks.map((w) => w.webhook_id)).toContain(hook.webhook_id);

    const receipt = await ps.events.append(sid, { source_ref: 'w1', event_type: 'sdk.webhook', payload: { w: 1 } });
    await waitFor(async () => (got.length >= 1 ? true : undefined));
    const first = got[0]!;
    const sw = verifyWebhookSignature({ body: first.body, headers: first.headers as Record<string, string>, secret });
    expect(sw).toEqual({ ok: true, scheme: 'standard-webhooks', webhook_id: first.headers['webhook-id'] });
    const seedOnly = { 'x-attest-signature': first.headers['x-attest-signature'] as string };
    expect(verifyWebhookSignature({ body: first.body, headers: seedOnly, secret })).toMatchObject({ ok: true, scheme: 'x-attest' });
    expect(verifyWebhookSignature({ body: first.body, headers: first.headers as Record<string, string>, secret: 'whsec_' + 'A'.repeat(43) + '=' }).ok).toBe(false);
    const announced = JSON.parse(first.body.toString());
    expect(announced).toMatchObject({ event: 'event.appended', data: { receipt: { event_hash: receipt.event_hash } } });
    expect((await ps.receipts.verify(announced.data.event)).ok).toBe(true);

    const deliveries = await waitFor(async () => {
      const page = await ps.webhooks.deliveries(hook.webhook_id);
      return page.deliveries[0]?.status === 'delivered' ? page.deliveries : undefined;
    });
    expect(deliveries[0]).toMatchObject({ delivery_id: first.headers['webhook-id'], event: 'event.appended', attempts: 1, last_status_code: 204 });

    const again = await ps.webhooks.redeliver(hook.webhook_id, deliveries[0]!.delivery_id);
    expect(again.delivery_id).toBe(deliveries[0]!.delivery_id);
    await waitFor(async () => (got.length >= 2 ? true : undefined));
    expect(got[1]!.headers['webhook-id']).toBe(first.headers['webhook-id']);

    expect(await ps.webhooks.update(hook.webhook_id, { active: false, description: 'paused' })).toMatchObject({ active: false, description: 'paused' });
    await ps.webhooks.delete(hook.webhook_id);
    const gone = await ps.webhooks.get(hook.webhook_id).catch((e) => e);
    expect(gone).toBeInstanceOf(ProofstreamError);
    expect(gone).toMatchObject({ status: 404, code: 'RESOURCE_NOT_FOUND' });
  });
});
