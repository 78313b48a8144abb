// verifyWebhookSignature (proofstream/client): the Standard Webhooks specification's own example, and the seed's
// X-Attest-Signature recomputed with node:crypto (an independent HMAC) — both over the raw body.
import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { verifyWebhookSignature } from 'proofstream/client';
import { ROOT } from './helpers/server.js';

describe('verifyWebhookSignature', () => {
  // github.com/standard-webhooks/standard-webhooks, spec/standard-webhooks.md, "Example".
  const spec = {
    secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
    id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
    ts: 1614265330,
    body: '{"test": 2432232314}',
    sig: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
  };
  const headers = (sig: string, ts = spec.ts) => ({ 'webhook-id': spec.id, 'webhook-timestamp': String(ts), 'webhook-signature': sig });

  it('accepts the Standard Webhooks example (also among several signatures); refuses a changed body, id or stale timestamp', () => {
    expect(verifyWebhookSignature({ body: spec.body, headers: headers(spec.sig), secret: spec.secret, nowS: spec.ts })).toEqual({
      ok: true,
      scheme: 'standard-webhooks',
      webhook_id: spec.id,
    });
    expect(verifyWebhookSignature({ body: spec.body, headers: new Headers(headers(`v1,AAAA ${spec.sig}`)), secret: spec.secret, nowS: spec.ts + 10 }).ok).toBe(true);
    expect(verifyWebhookSignature({ body: spec.body + ' ', headers: headers(spec.sig), secret: spec.secret, nowS: spec.ts })).toEqual({ ok: false, reason: 'bad_signature' });
    expect(verifyWebhookSignature({ body: spec.body, headers: { ...headers(spec.sig), 'webhook-id': 'msg_other' }, secret: spec.secret, nowS: spec.ts }).ok).toBe(false);
    expect(verifyWebhookSignature({ body: spec.body, headers: headers(spec.sig), secret: spec.secret, nowS: spec.ts + 301 })).toEqual({ ok: false, reason: 'stale_timestamp' });
  });

  it("checks the seed's X-Attest-Signature (HMAC-SHA256 of the raw body, key = the secret's UTF-8) when no Standard Webhooks headers came", () => {
    const body = '{"event":"event.appended","timestamp":"2026-12-03T12:00:00.000Z","data":{}}';
    const secret = 'webhook_secret_key';
    const good = 'sha256=' + createHmac('sha256', secret).update(body).digest('hex');
    expect(verifyWebhookSignature({ body: new TextEncoder().encode(body), headers: { 'x-attest-signature': good }, secret })).toEqual({ ok: true, scheme: 'x-attest', webhook_id: null });
    expect(verifyWebhookSignature({ body, headers: { 'x-attest-signature': good }, secret: 'another' })).toEqual({ ok: false, reason: 'bad_signature' });
    expect(verifyWebhookSignature({ body, headers: {}, secret })).toEqual({ ok: false, reason: 'no_signature' });
  });

  it('accepts every case of the ledger\'s signature vectors (fixtures/vectors/webhook-signature.json) under both schemes', () => {
    const v = JSON.parse(fs.readFileSync(path.join(ROOT, 'fixtures/vectors/webhook-signature.json'), 'utf8')) as {
      cases: Array<{ secret: string; msg_id: string; timestamp: number; body: string; 'webhook-signature': string; 'x-attest-signature': string }>;
    };
    expect(v.cases.length).toBeGreaterThanOrEqual(3);
    for (const c of v.cases) {
      const sw = { 'webhook-id': c.msg_id, 'webhook-timestamp': String(c.timestamp), 'webhook-signature': c['webhook-signature'] };
      expect(verifyWebhookSignature({ body: c.body, headers: sw, secret: c.secret, nowS: c.timestamp })).toEqual({ ok: true, scheme: 'standard-webhooks', webhook_id: c.msg_id });
      expect(verifyWebhookSignature({ body: c.body, headers: { 'x-attest-signature': c['x-attest-signature'] }, secret: c.secret })).toMatchObject({ ok: true, scheme: 'x-attest' });
    }
  });
});
