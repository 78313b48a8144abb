// `npm run screenshots`: the auditor page's main screens, as docs/img/auditor-*.png (used by README.md and
// docs/auditor.md). Drives headless Chromium (test/helpers/browser.ts) on a real server's /app/ with the committed
// fixtures. Not part of the test suite.
import fs from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { ensureWebBuilt, launchBrowser, pickFiles, readResult } from '../test/helpers/browser.js';
import { ROOT, cleanupTestFile, startServer } from '../test/helpers/server.js';

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
