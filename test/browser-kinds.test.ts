// Not only packs: a receipt, a stream {stream_id, events}, a checkpoint and a v1 proof from a real ledger, each also
// with one byte changed, an artifact's provenance bundle (the protocol vector) and a POST /v2/verify body — the auditor page shows the CLI's exact report for each
// (same file, same trust: the ledger's GET /v2/keys, or its trust policy for the v1 proof).
import fs from 'node:fs';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyCommand } from '../src/cli/verify.js';
import type { Report } from '../src/verify/index.js';
import { ensureWebBuilt, launchBrowser } from './helpers/browser.js';
import { asCaller } from './helpers/corpus.js';
import { client, ROOT, startServer, tempDir, type RunningServer } from './helpers/server.js';
import { waitFor } from './helpers/wait.js';

let srv: RunningServer;
let browser: Browser;

beforeAll(async () => {
  await ensureWebBuilt();
  [srv, browser] = await Promise.all([startServer(), launchBrowser()]);
});
afterAll(async () => {
  await browser?.close();
  await srv?.stop();
});

async function cliReport(file: string, trustArgs: string[]): Promise<Report> {
  let out = '';
  const code = await verifyCommand([file, ...trustArgs, '--json'], { out: (s) => (out += s), err: () => {} });
  expect(code, file).not.toBe(2);
  return JSON.parse(out) as Report;
}

/** One hex digit of `s` changed (the first one after `from`). */
const flipHex = (s: string) => (s[0] === '0' ? '1' : '0') + s.slice(1);

describe('every kind verify() accepts, page against CLI', () => {
  it('receipt, stream, checkpoint, v1 proof and a verify body — untouched and tampered — give the CLI\'s report', async () => {
    const call = client(srv.url, srv.key);
    const sid = (await call('POST', '/v2/streams', { use_case: 'kinds' })).body.stream_id as string;
    const appended: any[] = [];
    for (let i = 1; i <= 4; i++) {
      const r = await call('POST', `/v2/streams/${sid}/events`, { source_ref: `k-${i}`, event_type: 'kinds.test', payload: { i } }, { 'idempotency-key': `kinds-${sid}-${i}` });
      expect(r.status).toBe(201);
      appended.push(r.body);
    }
    const v1 = await call('POST', '/v1/sdk/events', { type: 'ai.decision', source_ref: 'kinds-v1', payload: { decision: 'approve' } }, { 'idempotency-key': 'kinds-v1' });
    expect(v1.status).toBe(201);
    const cp = await waitFor(async () => {
      const r = await call('GET', `/v2/streams/${sid}/checkpoints/latest`);
      return r.status === 200 && r.body.tree_size >= 4 ? r.body : undefined;
    });
    const proof = await waitFor(async () => {
      const r = await call('GET', `/v1/events/${v1.body.id}/proof`);
      return r.status === 200 && r.body.status !== 'pending' ? r.body : undefined;
    });
    const events = (await call('GET', `/v2/streams/${sid}/events?from_seq_no=1&limit=10`)).body.events as any[];
    const checkpoint = (await call('GET', `/v2/checkpoints/${cp.checkpoint_id}`)).body;

    const dir = tempDir('ps-kinds-');
    const keys = path.join(dir, 'keys.json');
    fs.writeFileSync(keys, JSON.stringify((await client(srv.url)('GET', '/v2/keys')).body));
    const policy = path.join(dir, 'policy.txt');
    fs.writeFileSync(policy, (await client(srv.url)('GET', '/v2/trust-policy')).text);

    // An artifact's provenance bundle: the protocol vector (fixtures/vectors/provenance.json), under its own key.
    const vector = JSON.parse(fs.readFileSync(path.join(ROOT, 'fixtures/vectors/provenance.json'), 'utf8'));
    const vectorKeys = path.join(dir, 'vector-keys.json');
    fs.writeFileSync(vectorKeys, JSON.stringify([{ kid: vector.signing_key.kid, alg: 'Ed25519', public_key: vector.signing_key.public_key_hex }]));
    const tamperedProvenance = structuredClone(vector.bundle);
    tamperedProvenance.records[0].record.version = '9.9.9';

    const tamperedEvents = structuredClone(events);
    tamperedEvents[2].payload = { i: 99 };
    const objects: Record<string, { object: unknown; trust: string; flag: string }> = {
      'receipt.json': { object: appended[1], trust: keys, flag: '--trust' },
      'receipt-tampered.json': { object: { ...appended[1], event_hash: flipHex(appended[1].event_hash) }, trust: keys, flag: '--trust' },
      'stream.json': { object: { stream_id: sid, events }, trust: keys, flag: '--trust' },
      'stream-tampered.json': { object: { stream_id: sid, events: tamperedEvents }, trust: keys, flag: '--trust' },
      'checkpoint.json': { object: checkpoint, trust: keys, flag: '--trust' },
      'checkpoint-tampered.json': { object: { ...checkpoint, root_hash: flipHex(checkpoint.root_hash) }, trust: keys, flag: '--trust' },
      'v1-proof.json': { object: proof, trust: policy, flag: '--policy' },
      'v1-proof-tampered.json': { object: { ...proof, event: { ...proof.event, payload: { decision: 'reject' } } }, trust: policy, flag: '--policy' },
      'verify-body.json': { object: { kind: 'checkpoint', object: checkpoint }, trust: keys, flag: '--trust' },
      'provenance.json': { object: vector.bundle, trust: vectorKeys, flag: '--trust' },
      'provenance-tampered.json': { object: tamperedProvenance, trust: vectorKeys, flag: '--trust' },
    };

    const page = await browser.newPage();
    try {
      await page.goto(`${srv.url}/app/`);
      await page.check('#trust-given');
      let currentTrust = '';
      const statuses: Record<string, string> = {};
      for (const [name, o] of Object.entries(objects)) {
        const file = path.join(dir, name);
        fs.writeFileSync(file, JSON.stringify(o.object));
        if (currentTrust !== o.trust) {
          await page.setInputFiles('#trust-file', o.trust);
          await page.waitForFunction((n) => (document.getElementById('trust-text') as HTMLTextAreaElement).dataset.name === n, path.basename(o.trust));
          currentTrust = o.trust;
        }
        const cli = asCaller(await cliReport(file, [o.flag, o.trust]), 'cli', 'browser');
        await page.evaluate(() => document.body.setAttribute('data-state', 'picking'));
        await page.setInputFiles('#file', file);
        await page.waitForFunction(() => ['done', 'error'].includes(document.body.dataset.state ?? ''), undefined, { timeout: 60_000, polling: 100 });
        const shown = await page.evaluate(() => ({
          state: document.body.dataset.state,
          status: document.body.dataset.status,
          checks: Array.from(document.querySelectorAll('#checks tbody tr')).map((tr) => ({ status: tr.getAttribute('data-status'), name: tr.children[1]!.textContent, reason: tr.children[2]!.textContent })),
          problems: Array.from(document.querySelectorAll('#problems tbody tr')).map((tr) => ({
            code: tr.children[0]!.textContent,
            path: tr.children[1]!.textContent === '(object)' ? '' : tr.children[1]!.textContent,
            message: tr.children[2]!.textContent,
          })),
        }));
        expect(shown.state, name).toBe('done');
        expect(shown.status, name).toBe(cli.status);
        expect(shown.checks, name).toEqual(cli.checks.map((c) => ({ status: c.status, name: c.name, reason: c.reason ?? '' })));
        expect(shown.problems, name).toEqual(cli.problems);
        statuses[name] = cli.status;
      }
      // The untouched objects verify and every tampered one does not: the comparison is not between two failures.
      expect(statuses).toEqual({
        'receipt.json': 'valid',
        'receipt-tampered.json': 'invalid',
        'stream.json': 'valid',
        'stream-tampered.json': 'invalid',
        'checkpoint.json': 'valid',
        'checkpoint-tampered.json': 'invalid',
        'v1-proof.json': 'valid',
        'v1-proof-tampered.json': 'invalid',
        'verify-body.json': 'valid',
        'provenance.json': 'valid',
        'provenance-tampered.json': 'invalid',
      });
    } finally {
      await page.close();
    }
  }, 180_000);
});
