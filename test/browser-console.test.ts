// The console (web/public/console.html, served at /app/console.html) in a real Chromium against a real ledger: the
// API key kept in sessionStorage only, an error envelope shown as the API sent it, a stream listed with its head,
// its checkpoints and events, and a pack built, downloaded, and then verified on the auditor page.
import fs from 'node:fs';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureWebBuilt, launchBrowser, pickFiles, readResult } from './helpers/browser.js';
import { client, startServer, tempDir, type RunningServer } from './helpers/server.js';
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

describe('the console', () => {
  it('a wrong key: the API envelope message is shown as sent', async () => {
    const page = await browser.newPage();
    try {
      await page.goto(`${srv.url}/app/console.html`);
      await page.fill('#api-key', 'ps_live_not-a-key-of-this-ledger-000000');
      await page.click('#key-save');
      await page.waitForSelector('#console-error:not([hidden])');
      const shown = await page.textContent('#console-error');
      const api = await client(srv.url, 'ps_live_not-a-key-of-this-ledger-000000')('GET', '/v2/streams?limit=200');
      expect(shown).toBe(`${api.body.error.code}: ${api.body.error.message}`);
    } finally {
      await page.close();
    }
  });

  it('lists a stream with its head, shows checkpoints and receipts, builds and downloads a pack that verifies on the auditor page', async () => {
    const call = client(srv.url, srv.key);
    const sid = (await call('POST', '/v2/streams', { use_case: 'console-test' })).body.stream_id as string;
    for (let i = 1; i <= 5; i++) expect((await call('POST', `/v2/streams/${sid}/events`, { source_ref: `c-${i}`, event_type: 'console.test', payload: { i } }, { 'idempotency-key': `console-${sid}-${i}` })).status).toBe(201);
    await waitFor(async () => {
      const r = await call('GET', `/v2/streams/${sid}/checkpoints/latest`);
      return r.status === 200 && r.body.tree_size >= 5 ? true : undefined;
    });

    const context = await browser.newContext({ acceptDownloads: true });
    const page = await context.newPage();
    try {
      await page.goto(`${srv.url}/app/console.html`);
      await page.fill('#api-key', srv.key);
      await page.click('#key-save');
      await page.waitForFunction((id) => document.querySelector('#streams tbody')!.textContent!.includes(id), sid);
      const rowText = await page.locator('#streams tbody tr', { hasText: sid }).textContent();
      expect(rowText).toContain('console-test');
      expect(rowText).toContain('5'); // head seq_no
      // Which key this is and what it may do (GET /v2/me): the bootstrap key has every scope.
      await page.waitForFunction(() => document.getElementById('key-info')!.textContent!.startsWith('Key key_'));
      expect(await page.textContent('#key-info')).toMatch(/tenant default, every system of it; scopes .*events:erase.*; tier unlimited; no expiry\./);
      // This ledger has no witnesses: the console says so rather than showing an empty table.
      await page.waitForFunction(() => document.getElementById('witness-quorum')!.textContent!.startsWith('No witnesses configured'));
      // The key: in this tab's session storage, nowhere that outlives it.
      expect(await page.evaluate(() => [sessionStorage.length, localStorage.length, document.cookie])).toEqual([1, 0, '']);

      await page.click(`button[aria-label="Open stream ${sid}"]`);
      await page.waitForFunction(() => document.querySelectorAll('#stream-events tbody tr').length === 5);
      expect(await page.locator('#checkpoints tbody tr').count()).toBeGreaterThan(0);
      expect(await page.textContent('#stream-events tbody')).toContain('ps-ed25519-');

      await page.fill('#pack-to', '5');
      await page.click('#pack-build');
      await page.waitForSelector('#pack-download', { timeout: 60_000 });
      const downloading = page.waitForEvent('download');
      await page.click('#pack-download');
      const file = path.join(tempDir('ps-console-'), 'pack.json');
      await (await downloading).saveAs(file);
      const keys = path.join(path.dirname(file), 'keys.json');
      fs.writeFileSync(keys, JSON.stringify((await client(srv.url)('GET', '/v2/keys')).body));

      // A fresh context: the key is gone with the session, and the auditor page needs none.
      const auditor = await (await browser.newContext()).newPage();
      await auditor.goto(`${srv.url}/app/`);
      expect(await auditor.evaluate(() => sessionStorage.length)).toBe(0);
      await pickFiles(auditor, file, keys);
      const r = await readResult(auditor);
      expect(r.status).toBe('valid');
      expect(r.verdict).toMatch(/^VALID — bundle, 5 events/);
      await auditor.context().close();
    } finally {
      await context.close();
    }
  });

  it('console.html may connect to its own origin only; the auditor page to nothing', async () => {
    const c = await fetch(`${srv.url}/app/console.html`);
    expect(c.headers.get('content-security-policy')).toContain("connect-src 'self'");
    const a = await fetch(`${srv.url}/app/`);
    expect(a.headers.get('content-security-policy')).toContain("connect-src 'none'");
  });
});
