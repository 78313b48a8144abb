// `npm run screenshots`: the auditor page's main screens and the console, as docs/img/auditor-*.png and console.png (used by README.md and
// docs/auditor.md). Drives headless Chromium (test/helpers/browser.ts) on a real server's /app/ with the committed
// fixtures. Not part of the test suite.
import fs from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { ensureWebBuilt, launchBrowser, pickFiles, readResult } from '../test/helpers/browser.js';
import { ROOT, cleanupTestFile, client, startServer } from '../test/helpers/server.js';

const OUT = path.join(ROOT, 'docs', 'img');
const fx = (...p: string[]) => path.join(ROOT, 'fixtures', ...p);

async function shot(page: Page, name: string, fullPage = false): Promise<void> {
  const file = path.join(OUT, name);
  await page.screenshot({ path: file, fullPage });
  console.log(`screenshots: ${path.relative(ROOT, file)}`);
}

async function main() {
  await ensureWebBuilt();
  fs.mkdirSync(OUT, { recursive: true });
  const srv = await startServer();
  const browser = await launchBrowser();
  try {
    const desktop = await browser.newPage({ viewport: { width: 1280, height: 860 } });
    await desktop.goto(`${srv.url}/app/`);
    await shot(desktop, 'auditor-start.png');

    await pickFiles(desktop, fx('tamper-evidence', 'valid.json'), fx('tamper-evidence', 'policy.txt'));
    await readResult(desktop);
    await desktop.setViewportSize({ width: 1280, height: 1400 });
    await shot(desktop, 'auditor-valid.png');

    const bad = await browser.newPage({ viewport: { width: 1280, height: 1100 } });
    await bad.goto(`${srv.url}/app/`);
    await pickFiles(bad, fx('tamper', 'payload-changed.json'), fx('tamper', 'trusted-keys.json'));
    await readResult(bad);
    // The failed check and its problem (code, path, message) in one view.
    await bad.evaluate(() => document.getElementById('result')!.scrollIntoView());
    await shot(bad, 'auditor-invalid.png');

    const phone = await browser.newPage({ viewport: { width: 375, height: 812 }, deviceScaleFactor: 2 });
    await phone.goto(`${srv.url}/app/`);
    await pickFiles(phone, fx('tamper', 'valid.json'));
    await readResult(phone);
    await phone.evaluate(() => document.getElementById('result')!.scrollIntoView());
    await shot(phone, 'auditor-phone.png');

    // The console, with one stream of a few events.
    const call = client(srv.url, srv.key);
    const sid = (await call('POST', '/v2/streams', { use_case: 'loan-decisions' })).body.stream_id as string;
    for (let i = 1; i <= 12; i++) {
      await call('POST', `/v2/streams/${sid}/events`, { source_ref: `app-${1000 + i}`, event_type: 'decision.made', payload: { decision: i % 3 ? 'approve' : 'refer' } }, { 'idempotency-key': `shot-${i}` });
    }
    for (let t = 0; t < 100; t++) {
      const r = await call('GET', `/v2/streams/${sid}/checkpoints/latest`);
      if (r.status === 200 && r.body.tree_size >= 12) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    const con = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    await con.goto(`${srv.url}/app/console.html`);
    await con.fill('#api-key', srv.key);
    await con.click('#key-save');
    await con.click(`button[aria-label="Open stream ${sid}"]`);
    await con.waitForFunction(() => document.querySelectorAll('#stream-events tbody tr').length > 0);
    await con.fill('#pack-to', '12');
    await con.click('#pack-build');
    await con.waitForSelector('#pack-download', { timeout: 60_000 });
    await shot(con, 'console.png', true);
  } finally {
    await browser.close();
    await srv.stop();
  }
}

main()
  .catch((e) => {
    console.error(e);
    process.exitCode = 1;
  })
  .finally(() => cleanupTestFile());
