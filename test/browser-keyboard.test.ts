// The auditor page by keyboard alone, in a real Chromium: Tab reaches the drop zone (focus visible), Enter opens
// the file picker, the report is announced (aria-live), the trust choice and its file picker, the event search;
// every control has a label; nothing overflows a 375 px phone screen.
import fs from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureWebBuilt, launchBrowser } from './helpers/browser.js';
import { corpus } from './helpers/corpus.js';
import { startServer, tempDir, type RunningServer } from './helpers/server.js';

let srv: RunningServer;
let browser: Browser;
const tamper = corpus('tamper');

beforeAll(async () => {
  await ensureWebBuilt();
  [srv, browser] = await Promise.all([startServer(), launchBrowser()]);
});
afterAll(async () => {
  await browser?.close();
  await srv?.stop();
});

/** Presses Tab until the focused element satisfies `is` (at most 12 presses); returns how many it took. */
async function tabTo(page: Page, is: string): Promise<number> {
  for (let i = 1; i <= 12; i++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate((sel) => document.activeElement?.matches(sel) ?? false, is)) return i;
  }
  throw new Error(`Tab never reached ${is}`);
}

const done = (page: Page) => page.waitForFunction(() => document.body.dataset.state === 'done', undefined, { timeout: 60_000, polling: 100 });

describe('keyboard only', () => {
  it('picks the evidence and the trust, reads the announced report and searches the events', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    // Intercept file choosers from the start (Playwright turns interception on with the first listener, asynchronously).
    page.on('filechooser', () => {});
    try {
      await page.goto(`${srv.url}/app/`);
      await tabTo(page, '#drop');
      expect(await page.evaluate(() => document.activeElement!.matches(':focus-visible'))).toBe(true);
      expect(await page.getAttribute('#drop', 'role')).toBe('button');

      const chooser = page.waitForEvent('filechooser');
      await page.keyboard.press('Enter');
      await (await chooser).setFiles(path.join(tamper.dir, 'valid.json'));
      await done(page);
      // The verdict is a live region: screen readers announce it when it changes.
      expect(await page.getAttribute('#verdict', 'aria-live')).toBe('polite');
      expect(await page.textContent('#verdict')).toMatch(/^VALID — bundle, 30 events/);

      // Trust: the radio group by arrows, then its file picker by Space.
      await page.focus('#drop');
      await tabTo(page, 'input[name=trust]');
      await page.keyboard.press('ArrowDown');
      expect(await page.isChecked('#trust-given')).toBe(true);
      expect(await page.isVisible('#trust-file')).toBe(true);
      await tabTo(page, '#trust-file');
      await page.evaluate(() => document.body.setAttribute('data-state', 'picking'));
      const trustChooser = page.waitForEvent('filechooser');
      await page.keyboard.press('Space');
      await (await trustChooser).setFiles(path.join(tamper.dir, 'trusted-keys.json'));
      await done(page);
      expect(await page.textContent('#facts')).toContain('keys file: trusted-keys.json');
      expect(await page.isVisible('#bundle-keys-warning')).toBe(false);

      // The event search, typed.
      await page.focus('#trust-text');
      await tabTo(page, '#search');
      await page.keyboard.type('case-2026-0052');
      await page.waitForFunction(() => document.getElementById('events-count')!.textContent!.includes('of 1 matching'));
      expect(await page.textContent('#events-table tbody')).toContain('case-2026-0052');
    } finally {
      await page.close();
    }
  });

  it('every control has a label', async () => {
    const page = await browser.newPage();
    try {
      await page.goto(`${srv.url}/app/`);
      // The page's controls: drop zone, file input, two radios, trust file and text, Verify, search, two pager buttons.
      expect(await page.locator('input, textarea, select, button, [role=button]').count()).toBeGreaterThanOrEqual(10);
      const unlabelled = await page.evaluate(() =>
        Array.from(document.querySelectorAll('input, textarea, select, button, [role=button]'))
          .filter((el) => {
            const e = el as HTMLInputElement;
            const label = (e.labels && e.labels.length > 0) || e.getAttribute('aria-label') || e.getAttribute('aria-labelledby') || (e.textContent ?? '').trim();
            return !label;
          })
          .map((el) => el.outerHTML.slice(0, 80)),
      );
      expect(unlabelled).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('a file over 512 MiB is refused at once, with the CLI named (a browser parses it whole)', async () => {
    const page = await browser.newPage();
    try {
      await page.goto(`${srv.url}/app/`);
      // Sparse: no disk or memory is spent, the size alone is refused before any byte is read.
      const big = path.join(tempDir('ps-big-'), 'huge-pack.json');
      fs.writeFileSync(big, '');
      fs.truncateSync(big, 512 * 1024 * 1024 + 1);
      await page.setInputFiles('#file', big);
      await page.waitForFunction(() => document.body.dataset.state === 'error', undefined, { timeout: 60_000 });
      expect(await page.textContent('#verdict')).toBe(
        'Could not verify: huge-pack.json is 512 MiB: the page reads files of at most 512 MiB (a browser parses it whole); verify it with `proofstream verify huge-pack.json`, which streams it',
      );
    } finally {
      await page.close();
    }
  });

  it('at 375 px the report and the events fit the width (tables scroll inside their box)', async () => {
    const page = await browser.newPage({ viewport: { width: 375, height: 800 } });
    try {
      await page.goto(`${srv.url}/app/`);
      await page.setInputFiles('#file', path.join(tamper.dir, 'payload-changed.json'));
      await page.waitForFunction(() => document.body.dataset.state === 'done', undefined, { timeout: 60_000 });
      expect(await page.textContent('#verdict')).toMatch(/^INVALID/);
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
    } finally {
      await page.close();
    }
  });
});
