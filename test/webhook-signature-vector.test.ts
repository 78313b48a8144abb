// The webhook signature vectors (fixtures/vectors/webhook-signature.json, docs/protocol.md §11): the server's signer
// must produce them, and independent code (node:crypto here; the first case is the Standard Webhooks
// specification's own published example) must agree with them.
import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { signatureHeaders, standardKeyBytes } from '../src/ledger/webhooks.js';
import { ROOT } from './helpers/server.js';

interface Case {
  name: string;
  secret: string;
  msg_id: string;
  timestamp: number;
  body: string;
  key_hex: string;
  'x-attest-signature': string;
  'webhook-signature': string;
}
const vectors = JSON.parse(fs.readFileSync(path.join(ROOT, 'fixtures/vectors/webhook-signature.json'), 'utf8')) as { cases: Case[] };

describe('webhook signature vectors', () => {
  it.each(vectors.cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const h = signatureHeaders(c.secret, c.msg_id, c.timestamp, c.body);
    expect(h).toEqual({
      'X-Attest-Signature': c['x-attest-signature'],
      'webhook-id': c.msg_id,
      'webhook-timestamp': String(c.timestamp),
      'webhook-signature': c['webhook-signature'],
    });
    expect(standardKeyBytes(c.secret).toString('hex')).toBe(c.key_hex);
    // Independently of the signer.
    const key = c.secret.startsWith('whsec_') ? Buffer.from(c.secret.slice('whsec_'.length), 'base64') : Buffer.from(c.secret, 'utf8');
    expect('v1,' + createHmac('sha256', key).update(`${c.msg_id}.${c.timestamp}.${c.body}`).digest('base64')).toBe(c['webhook-signature']);
    expect('sha256=' + createHmac('sha256', c.secret).update(c.body).digest('hex')).toBe(c['x-attest-signature']);
  });
});
