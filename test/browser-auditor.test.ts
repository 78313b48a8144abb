// The auditor page (web/, served at /app/) in a real Chromium: the route and its CSP; a good pack verifies; every
// tamper fixture gets the same report from the page as from `proofstream verify` (the CLI's own code, run here
// on the same file and trust: one list of expectations, computed, both checked); nothing goes over the network
// once the page is loaded, served or opened from disk.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyCommand } from '../src/cli/verify.js';
import type { Report } from '../src/verify/index.js';
import { ensureWebBuilt, launchBrowser, pickFiles, readResult, WEB_DIST } from './helpers/browser.js';
import { asCaller, corpus } from './helpers/corpus.js';
import { client, startServer, tempDir, type RunningServer } from './helpers/server.js';

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

/** `proofstream verify <file> <trustArgs> --json`, run in this process: the CLI's report. */
async function cliReport(file: string, trustArgs: string[]): Promise<Report> {
  let out = '';
  const code = await verifyCommand([file, ...trustArgs, '--json'], { out: (s) => (out += s), err: () => {} });
  expect(code, file).not.toBe(2);
  return JSON.parse(out) as Report;
}

/** What the page shows of a report, to compare with the CLI's (the table shows the path "" as "(object)"). */
async function pageReport(page: Page) {
  await page.waitForFunction(() => ['done', 'error'].includes(document.body.dataset.state ?? ''), undefined, { timeout: 60_000, polling: 100 });
  return page.evaluate(() => ({
    state: document.body.dataset.state,
    status: document.body.dataset.status,
    verdict: document.getElementById('verdict')!.textContent,
    checks: Array.from(document.querySelectorAll('#checks tbody tr')).map((tr) => ({
      status: tr.getAttribute('data-status'),
      name: tr.children[1]!.textContent,
      reason: tr.children[2]!.textContent,
    })),
    problems: Array.from(document.querySelectorAll('#problems tbody tr')).map((tr) => ({
      code: tr.children[0]!.textContent,
      path: tr.children[1]!.textContent === '(object)' ? '' : tr.children[1]!.textContent,
      message: tr.children[2]!.textContent,
    })),
  }));
}

describe('GET /app/', () => {
  it('serves the page, its script and style under a strict CSP; /app redirects; unknown files are 404 envelopes', async () => {
    const call = client(srv.url);
    const index = await call('GET', '/app/');
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toMatch(/^text\/html/);
    const csp = index.headers.get('content-security-policy')!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("connect-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(index.headers.get('x-content-type-options')).toBe('nosniff');
    // Relative asset paths only, nothing from elsewhere.
    // (In-page anchors and the empty data: favicon, which keeps the browser from asking for /favicon.ico, aside.)
    const refs = [...index.text.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!).filter((r) => !r.startsWith('#') && r !== 'data:,');
    expect(refs).toEqual(expect.arrayContaining(['./app.js', './app.css']));
    for (const r of refs) expect(r, r).toMatch(/^\.\/[a-z0-9.-]+$/);
    for (const r of refs) {
      const f = await call('GET', `/app/${r.slice(2)}`);
      expect(f.status, r).toBe(200);
      // The console (linked from the footer) talks to this ledger: its own origin, nothing else.
      expect(f.headers.get('content-security-policy'), r).toBe(r === './console.html' ? csp.replace("connect-src 'none'", "connect-src 'self'") : csp);
    }
    const redirect = await fetch(`${srv.url}/app`, { redirect: 'manual' });
    expect(redirect.status).toBe(308);
    expect(redirect.headers.get('location')).toBe('/app/');
    for (const bad of ['/app/nope.js', '/app/..%2Fpackage.json', '/app/.env']) {
      const r = await call('GET', bad);
      expect(r.status, bad).toBe(404);
      expect(r.body.error.code, bad).toBe('RESOURCE_NOT_FOUND');
    }
    const spec = (await call('GET', '/openapi.json')).body;
    expect(Object.keys(spec.paths)).toEqual(expect.arrayContaining(['/app', '/app/', '/app/{file}']));
  });

  it('without a build: 503 WEB_APP_NOT_BUILT saying how to build it, and serve says so at start', async () => {
    const empty = tempDir('ps-web-empty-');
    const s = await startServer({ env: { PROOFSTREAM_WEB_DIR: empty } });
    try {
      const r = await client(s.url)('GET', '/app/');
      expect(r.status).toBe(503);
      expect(r.body.error.code).toBe('WEB_APP_NOT_BUILT');
      expect(r.body.error.message).toContain('npm run build:web');
      expect(s.output()).toContain('auditor page (/app/) unavailable');
    } finally {
      await s.stop();
    }
  });
});

describe('the auditor page verifies what the CLI verifies, with the same report', () => {
  const tamper = corpus('tamper');
  const evidence = corpus('tamper-evidence');
  const sets = [
    { name: 'tamper', c: tamper, trustFile: path.join(tamper.dir, 'trusted-keys.json'), trustArgs: (f: string) => ['--trust', f] },
    { name: 'tamper-evidence', c: evidence, trustFile: path.join(evidence.dir, 'policy.txt'), trustArgs: (f: string) => ['--policy', f] },
  ];

  it('a good pack without trust: valid, with the loud "the evidence\'s own keys" warning', async () => {
    const page = await browser.newPage();
    try {
      await page.goto(`${srv.url}/app/`);
      await pickFiles(page, path.join(tamper.dir, 'valid.json'));
      const r = await readResult(page);
      expect(r.status).toBe('valid');
      expect(r.verdict).toMatch(/^VALID — bundle, 30 events, 0 problems/);
      expect(r.warning).toMatch(/^WARNING: no keys or trust policy given: the keys were taken from the evidence itself/);
      expect(r.checks.some((c) => c.name === 'trust: keys taken from the bundle itself')).toBe(true);
    } finally {
      await page.close();
    }
  });

  for (const set of sets) {
    it(`${set.name}: valid.json and every case — the page's checks and problems equal the CLI's`, async () => {
      const page = await browser.newPage();
      try {
        await page.goto(`${srv.url}/app/`);
        await page.check('#trust-given');
        await page.setInputFiles('#trust-file', set.trustFile);
        await page.waitForFunction((n) => (document.getElementById('trust-text') as HTMLTextAreaElement).dataset.name === n, path.basename(set.trustFile));
        const files = ['valid.json', ...set.c.cases.map((k) => k.file)];
        for (const f of files) {
          const file = path.join(set.c.dir, f);
          const cli = asCaller(await cliReport(file, set.trustArgs(set.trustFile)), 'cli', 'browser');
          await page.evaluate(() => document.body.setAttribute('data-state', 'picking'));
          await page.setInputFiles('#file', file);
          const shown = await pageReport(page);
          expect(shown.state, f).toBe('done');
          expect(shown.status, f).toBe(cli.status);
          expect(shown.checks, f).toEqual(cli.checks.map((c) => ({ status: c.status, name: c.name, reason: c.reason ?? '' })));
          expect(shown.problems, f).toEqual(cli.problems);
          // The corpus' own expectations hold for both.
          const k = set.c.cases.find((x) => x.file === f);
          if (k) for (const want of k.expect_codes) expect(shown.problems.map((p) => p.code), `${f}: ${want}`).toContain(want);
          else expect(cli.ok, f).toBe(true);
        }
      } finally {
        await page.close();
      }
    }, 240_000);
  }
});

describe('nothing is sent over the network after load', () => {
  const evidence = corpus('tamper-evidence');

  for (const from of ['served', 'opened from disk'] as const) {
    it(`${from}: every request blocked and counted; verification with policy, witnesses and anchor still completes`, async () => {
      const page = await browser.newPage();
      try {
        await page.goto(from === 'served' ? `${srv.url}/app/` : pathToFileURL(path.join(WEB_DIST, 'index.html')).href);
        await page.waitForFunction(() => document.body.dataset.state === 'idle');
        const attempts: string[] = [];
        await page.route('**/*', (route) => {
          attempts.push(route.request().url());
          return route.abort();
        });
        page.on('request', (r) => {
          // The worker's blob: URL is the page's own memory, not the network.
          if (!r.url().startsWith('blob:') && !r.url().startsWith('data:')) attempts.push(r.url());
        });
        await pickFiles(page, path.join(evidence.dir, 'valid.json'), path.join(evidence.dir, 'policy.txt'));
        const r = await readResult(page);
        expect(r.status).toBe('valid');
        expect(r.checks.find((c) => c.name.startsWith('anchors: time-stamp token'))?.status).toBe('passed');
        const facts = await page.textContent('#facts');
        expect(facts).toContain('2 of witness.example/alpha, witness.example/beta');
        expect(facts).toMatch(/time \d{4}-\d\d-\d\dT/);
        // Browse and search the events, still offline.
        await page.fill('#search', 'ev-17');
        await page.waitForFunction(() => document.getElementById('events-count')!.textContent!.includes('of 1 matching'));
        expect(attempts).toEqual([]);
      } finally {
        await page.close();
      }
    });
  }

  it('the page cannot reach the network even if its code tried: the CSP blocks connections', async () => {
    const page = await browser.newPage();
    try {
      await page.goto(`${srv.url}/app/`);
      const blocked = await page.evaluate(async (u) => {
        try {
          await fetch(u);
          return false;
        } catch {
          return true;
        }
      }, `${srv.url}/health`);
      expect(blocked).toBe(true);
    } finally {
      await page.close();
    }
  });
});
