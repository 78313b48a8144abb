// A 100,000-event pack, built by a real server (cached between runs: test/helpers/browser.ts largePack), verified
// by the auditor page in a real Chromium: the worker reports its progress (bytes read, then events verified), the
// report is valid, and the events can be searched and paged. Time is measured in bench/browser-verify.ts, never here.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureWebBuilt, largePack, launchBrowser, pickFiles, readResult, type LargePack } from './helpers/browser.js';
import { startServer, type RunningServer } from './helpers/server.js';

const N = 100_000;
let srv: RunningServer;
let browser: Browser;
let pack: LargePack;

beforeAll(async () => {
  await ensureWebBuilt();
  pack = await largePack(N);
  [srv, browser] = await Promise.all([startServer(), launchBrowser()]);
}, 900_000);
afterAll(async () => {
  await browser?.close();
  await srv?.stop();
});

describe(`a ${N.toLocaleString('en-US')}-event pack in the browser`, () => {
  it('verifies valid with progress shown along the way, then pages and searches its events', async () => {
    const page = await browser.newPage();
    try {
      // Every progress state the page shows, recorded as it changes.
      await page.addInitScript(() => {
        const seen: string[] = [];
        (window as unknown as { __progress: string[] }).__progress = seen;
        new MutationObserver(() => {
          const p = document.body.getAttribute('data-progress');
          if (p && seen[seen.length - 1] !== p) seen.push(p);
        }).observe(document, { attributes: true, subtree: true, attributeFilter: ['data-progress'] });
      });
      await page.goto(`${srv.url}/app/`);
      await pickFiles(page, pack.pack, pack.keys);
      const r = await readResult(page, 600_000);
      expect(r.state).toBe('done');
      expect(r.status).toBe('valid');
      expect(r.verdict).toMatch(/^VALID — bundle, 100,000 events, 0 problems/);
      expect(r.checks.filter((c) => c.status === 'failed')).toEqual([]);

      const progress = await page.evaluate(() => (window as unknown as { __progress: string[] }).__progress);
      const verifying = progress.filter((p) => p.startsWith('verifying:')).map((p) => p.slice('verifying:'.length).split('/').map(Number));
      // Seen part-way (not only 0 and the end), with the event count as the total, and never going backwards.
      expect(verifying.some(([done, total]) => total === N && done! > 0 && done! < N), progress.join(' ')).toBe(true);
      expect(verifying.at(-1)).toEqual([N, N]);
      for (let i = 1; i < verifying.length; i++) expect(verifying[i]![0]!).toBeGreaterThanOrEqual(verifying[i - 1]![0]!);
      expect(progress.some((p) => p.startsWith('reading:'))).toBe(true);

      // The table: one page of 100 at a time.
      await page.waitForFunction(() => document.getElementById('events-count')!.textContent === 'events 1–100 of 100,000');
      expect(await page.locator('#events-table tbody tr').count()).toBe(100);
      await page.click('#next');
      await page.waitForFunction(() => document.getElementById('events-count')!.textContent === 'events 101–200 of 100,000');
      expect(await page.locator('#events-table tbody tr').first().locator('td').first().textContent()).toBe('101');
      await page.fill('#search', 'r99999');
      await page.waitForFunction(() => document.getElementById('events-count')!.textContent!.includes('of 1 matching (of 100,000)'), undefined, { timeout: 60_000 });
      expect(await page.locator('#events-table tbody tr').first().locator('td').first().textContent()).toBe('100000');
    } finally {
      await page.close();
    }
  }, 900_000);
});
