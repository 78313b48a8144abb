// The console's windows view, its paging, and its CI/CD views (issue #18) in a real Chromium against a real ledger:
// a sealed window and the open one with their ranges and evidence; items reachable only on page 2 of streams, events,
// windows, checkpoints and pipeline runs; runs, artifacts, attestations and deployments submitted to /api/v1 listed
// with their state, each linked to its event, its receipt (which then verifies on the auditor page) and its stream; an
// API envelope shown as sent; a phone width without sideways scrolling, and the views reachable by keyboard.
import fs from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureWebBuilt, launchBrowser, pickFiles, readResult } from './helpers/browser.js';
import { client, idemKey, startServer, tempDir, type RunningServer } from './helpers/server.js';
import { waitFor } from './helpers/wait.js';

let srv: RunningServer;
let browser: Browser;
let call: ReturnType<typeof client>;

beforeAll(async () => {
  await ensureWebBuilt();
  // The CI/CD group's default (100/min per key) is more than this file needs, but not by much on a slow machine.
  [srv, browser] = await Promise.all([startServer({ env: { PROOFSTREAM_CICD_RATE_LIMIT: '100000/min,burst=100000' } }), launchBrowser()]);
  call = client(srv.url, srv.key);
});
afterAll(async () => {
  await browser?.close();
  await srv?.stop();
});

async function newStream(useCase: string, windowPolicy?: { max_events: number; max_age_ms: number }): Promise<string> {
  const r = await call('POST', '/v2/streams', { use_case: useCase, ...(windowPolicy ? { window_policy: windowPolicy } : {}) });
  expect(r.status, r.text).toBe(201);
  return r.body.stream_id as string;
}

async function append(sid: string, n: number): Promise<void> {
  for (let i = 1; i <= n; i++) {
    const r = await call('POST', `/v2/streams/${sid}/events`, { source_ref: `ref-${i}`, event_type: 'console.views', payload: { i } }, { 'idempotency-key': idemKey() });
    expect(r.status, r.text).toBe(201);
  }
}

async function sealedThrough(sid: string, size: number): Promise<any> {
  return waitFor(async () => {
    const r = await call('GET', `/v2/streams/${sid}/checkpoints/latest`);
    return r.status === 200 && r.body.tree_size >= size ? r.body : undefined;
  }, 30_000);
}

/** The console with the server's key, at `rows` rows per page. */
async function openConsole(page: Page, rows = '50'): Promise<void> {
  await page.goto(`${srv.url}/app/console.html`);
  await page.selectOption('#page-size', rows);
  await page.fill('#api-key', srv.key);
  await page.click('#key-save');
  await page.waitForFunction(() => document.getElementById('key-info')!.textContent!.startsWith('Key key_'));
}

const rowTexts = (page: Page, table: string) => page.$$eval(`#${table} tbody tr`, (trs) => trs.map((tr) => tr.textContent ?? ''));

/** Waits until the table's rows are `expected` (as seen through `pick`). */
async function waitRows(page: Page, table: string, pick: (texts: string[]) => unknown, expected: unknown): Promise<void> {
  await waitFor(async () => (JSON.stringify(pick(await rowTexts(page, table))) === JSON.stringify(expected) ? true : undefined), 15_000).catch(async () => {
    throw new Error(`#${table}: expected ${JSON.stringify(expected)}, shown ${JSON.stringify(await rowTexts(page, table))}`);
  });
}

describe('windows', () => {
  it('shows a sealed window with its range, checkpoint and evidence, and the open window after it; a window opens with its events', async () => {
    // Windows of 3 events, sealed by size: 5 events are the sealed window 1–3 and the open window 4–5.
    const sid = await newStream('console-windows', { max_events: 3, max_age_ms: 86_400_000 });
    await append(sid, 5);
    const cp = await sealedThrough(sid, 3);
    expect(cp.tree_size).toBe(3);
    const win = (await call('GET', `/v2/windows/${cp.window_id}`)).body;

    const page = await browser.newPage();
    try {
      await openConsole(page);
      await page.click(`button[aria-label="Open stream ${sid}"]`);
      await waitRows(page, 'windows', (t) => t.length, 2);
      const [open, sealed] = await rowTexts(page, 'windows');
      expect(open).toContain('4–5');
      expect(open).toContain('open: not sealed yet');
      expect(sealed).toContain(cp.window_id);
      expect(sealed).toContain('1–3');
      expect(sealed).toContain('sealed: evidence complete');
      expect(sealed).toContain(`${cp.checkpoint_id} (size 3)`);
      expect(sealed).toContain('none required (0 cosigned)');
      expect(sealed).toContain('no TSA configured');

      const opener = `button[aria-label="Open window ${cp.window_id}"]`;
      await page.click(opener);
      await page.waitForSelector('#detail:not([hidden]) #window-events');
      expect(await page.textContent('#detail-h')).toBe(`Window ${cp.window_id}`);
      const detail = (await page.textContent('#detail-body'))!;
      expect(detail).toContain('1–3 (3 events)');
      expect(detail).toContain(win.window_root);
      expect(await page.$$eval('#window-events tbody tr', (trs) => trs.map((tr) => tr.children[1]!.textContent))).toEqual(win.events.map((e: any) => e.stream_event_id));
      // Keyboard: focus went to the panel; Escape closes it and gives focus back to the button that opened it.
      expect(await page.evaluate(() => document.activeElement?.id)).toBe('detail');
      await page.keyboard.press('Escape');
      expect(await page.isHidden('#detail')).toBe(true);
      expect(await page.evaluate(() => document.activeElement?.getAttribute('aria-label'))).toBe(`Open window ${cp.window_id}`);
    } finally {
      await page.close();
    }
  });
});

describe('paging', () => {
  it('streams, events, windows and checkpoints: an item only on page 2 is reached with Next page, and Previous page comes back', async () => {
    const before = (await call('GET', '/v2/streams?limit=200')).body.streams.length as number;
    const perSeal = await newStream('console-paging-windows', { max_events: 1, max_age_ms: 86_400_000 });
    const events = await newStream('console-paging-events');
    const more: string[] = [];
    for (let i = 0; i < 10; i++) more.push(await newStream(`console-paging-${i}`));
    const last = more[more.length - 1]!;
    expect(before + 12).toBeGreaterThan(10);
    await append(events, 12);
    await append(perSeal, 12);
    await sealedThrough(perSeal, 12);

    const page = await browser.newPage();
    try {
      await openConsole(page, '10');
      // Streams are oldest first: the newest is not on page 1.
      await waitRows(page, 'streams', (t) => t.length, 10);
      expect((await rowTexts(page, 'streams')).some((t) => t.includes(last))).toBe(false);
      expect(await page.textContent('#streams-page')).toBe('Page 1');
      for (let p = 2; !(await rowTexts(page, 'streams')).some((t) => t.includes(last)); p++) {
        expect(p, 'the newest stream is on a later page').toBeLessThanOrEqual(Math.ceil((before + 12) / 10));
        await page.click('#streams-next');
        await page.waitForFunction((n) => document.getElementById('streams-page')!.textContent!.startsWith(`Page ${n}`), p);
      }
      expect(await page.textContent('#streams-page')).toMatch(/^Page [2-9]\d* \(last\)$/);
      expect(await page.isDisabled('#streams-next')).toBe(true);
      await page.click('#streams-prev');
      await page.waitForFunction(() => !document.getElementById('streams-page')!.textContent!.includes('(last)'));
      while (!(await page.isDisabled('#streams-prev'))) {
        const label = await page.textContent('#streams-page');
        await page.click('#streams-prev');
        await page.waitForFunction((l) => document.getElementById('streams-page')!.textContent !== l, label);
      }

      // Events: seq 11 and 12 are on page 2 only. (Both streams were made before the ten others: on page 1.)
      const openStream = (sid: string) => page.click(`button[aria-label="Open stream ${sid}"]`);
      await openStream(events);
      await waitRows(page, 'stream-events', (t) => t.map((x) => x.split('console.views')[0]), ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10']);
      await page.click('#events-next');
      await waitRows(page, 'stream-events', (t) => t.map((x) => x.split('console.views')[0]), ['11', '12']);
      expect(await page.textContent('#events-page')).toBe('Page 2 (last)');
      await page.click('#events-prev');
      await waitRows(page, 'stream-events', (t) => t.length, 10);

      // Windows and checkpoints, newest first: one window per event, so tree size 1 is on page 2 only.
      await openStream(perSeal);
      const seq = (t: string[]) => t.map((x) => /(\d+)–(\d+)/.exec(x)?.[0]);
      await waitRows(page, 'windows', seq, ['12–12', '11–11', '10–10', '9–9', '8–8', '7–7', '6–6', '5–5', '4–4', '3–3']);
      await page.click('#windows-next');
      await waitRows(page, 'windows', seq, ['2–2', '1–1']);
      expect(await page.textContent('#windows-page')).toBe('Page 2 (last)');
      const size = (t: string[]) => t.map((x) => Number(/^\d+/.exec(x)?.[0]));
      await waitRows(page, 'checkpoints', size, [12, 11, 10, 9, 8, 7, 6, 5, 4, 3]);
      await page.click('#checkpoints-next');
      await waitRows(page, 'checkpoints', size, [2, 1]);
      await page.click('#checkpoints-prev');
      await waitRows(page, 'checkpoints', (t) => size(t)[0], 12);
    } finally {
      await page.close();
    }
  });
});

describe('CI/CD', () => {
  it('lists a submitted run, artifact, attestation and deployment with their state; each links to its event, receipt and stream; runs page', async () => {
    const repo = 'acme/console-demo';
    const sha = 'c0'.repeat(32);
    const run = await call('POST', '/api/v1/pipeline-runs', { repositoryFullName: repo, name: 'release', steps: [{ name: 'build' }, { name: 'test' }] });
    expect(run.status, run.text).toBe(201);
    const done = await call('PUT', `/api/v1/pipeline-runs/${run.body.id}`, { status: 'SUCCEEDED', steps: [{ name: 'build', status: 'SUCCEEDED' }, { name: 'test', status: 'SUCCEEDED' }] });
    expect(done.status, done.text).toBe(200);
    const art = await call('POST', '/api/v1/artifacts', { repositoryFullName: repo, name: 'demo-api', version: '3.4.5', sha256: sha, artifactType: 'docker-image', commitSha: 'abc123', branch: 'main', pipelineRunId: run.body.id });
    expect(art.status, art.text).toBe(201);
    const att = await call('POST', '/api/v1/attestations', { repositoryFullName: repo, artifactSha256: sha, type: 'SECURITY_SCAN', name: 'trivy', passed: true, evidence: { critical: 0 } });
    expect(att.status, att.text).toBe(201);
    const dep = await call('POST', '/api/v1/deployments', { environment: 'production', artifactSha256: sha, status: 'SUCCEEDED', deployedAt: '2026-06-07T13:00:00Z' });
    expect(dep.status, dep.text).toBe(201);
    // 11 runs of another repository: with 10 rows a page, the oldest is on page 2 only.
    const pagingRuns: string[] = [];
    for (let i = 0; i < 11; i++) pagingRuns.push((await call('POST', '/api/v1/pipeline-runs', { repositoryFullName: 'acme/console-paging', name: `run-${i}` })).body.id);

    const context = await browser.newContext({ acceptDownloads: true });
    const page = await context.newPage();
    try {
      await openConsole(page);
      await page.click('nav.views a[data-view="cicd"]');
      await page.fill('#cicd-repo', repo);
      await page.click('#cicd-show');
      await waitRows(page, 'cicd-runs', (t) => t.length, 1);
      const [runRow] = await rowTexts(page, 'cicd-runs');
      expect(runRow).toContain(run.body.id);
      expect(runRow).toContain('SUCCEEDED');
      expect(runRow).toContain('2 of 2 succeeded');
      await waitRows(page, 'cicd-artifacts', (t) => t.length, 1);
      expect((await rowTexts(page, 'cicd-artifacts'))[0]).toMatch(/demo-api.*3\.4\.5.*docker-image/);
      await waitRows(page, 'cicd-attestations', (t) => t.length, 1);
      expect((await rowTexts(page, 'cicd-attestations'))[0]).toMatch(new RegExp(`${att.body.id}.*SECURITY_SCAN.*trivy.*passed`));
      await waitRows(page, 'cicd-deployments', (t) => t.length, 1);
      expect((await rowTexts(page, 'cicd-deployments'))[0]).toMatch(new RegExp(`${dep.body.id}.*production.*SUCCEEDED`));

      // The run opens with its steps.
      await page.click(`button[aria-label="Open pipeline run ${run.body.id}"]`);
      await page.waitForSelector('#detail:not([hidden]) #run-steps');
      expect(await page.$$eval('#run-steps tbody tr', (trs) => trs.map((tr) => tr.textContent))).toEqual(['buildSUCCEEDED', 'testSUCCEEDED']);

      // The artifact opens with its attestation and deployment.
      await page.click(`#cicd-artifacts button[aria-label="Open artifact ${sha}"]`);
      await page.waitForFunction(() => document.getElementById('detail-h')!.textContent === 'Artifact demo-api 3.4.5');
      const artDetail = (await page.textContent('#detail-body'))!;
      expect(artDetail).toContain(`SECURITY_SCAN trivy: passed (${att.body.id})`);
      expect(artDetail).toContain(`production: SUCCEEDED at 2026-06-07T13:00:00Z (${dep.body.id})`);

      // The artifact's event and receipt.
      const sev = art.body.receipt.stream_event_id as string;
      await page.click(`button[aria-label="Event of artifact ${art.body.id}"]`);
      await page.waitForFunction((id) => document.getElementById('detail-h')!.textContent === `Event ${id}`, sev);
      const shownEvent = JSON.parse((await page.textContent('#detail-body pre'))!);
      expect(shownEvent).toMatchObject({ stream_event_id: sev, event_type: 'cicd.artifact/v1', payload: { sha256: sha } });
      await page.click(`button[aria-label="Receipt of artifact ${art.body.id}"]`);
      await page.waitForFunction((id) => document.getElementById('detail-h')!.textContent === `Receipt of ${id}`, sev);
      expect(JSON.parse((await page.textContent('#detail-body pre'))!)).toEqual((await call('GET', `/v2/receipts/${sev}`)).body);
      const downloading = page.waitForEvent('download');
      await page.click('#detail-download');
      const dir = tempDir('ps-console-views-');
      const file = path.join(dir, 'receipt.json');
      await (await downloading).saveAs(file);
      const keys = path.join(dir, 'keys.json');
      fs.writeFileSync(keys, JSON.stringify((await client(srv.url)('GET', '/v2/keys')).body));
      const auditor = await (await browser.newContext()).newPage();
      await auditor.goto(`${srv.url}/app/`);
      await pickFiles(auditor, file, keys);
      const verdict = await readResult(auditor);
      expect(verdict.status, verdict.verdict).toBe('valid');
      await auditor.context().close();

      // The deployment's stream opens in the ledger view, with the deployment's event in it.
      await page.click(`button[aria-label="Stream of deployment ${dep.body.id}"]`);
      await page.waitForFunction((sid) => document.getElementById('stream-h')!.textContent === `Stream ${sid}`, dep.body.stream_id);
      expect(await page.isVisible('#view-cicd')).toBe(false);
      await waitRows(page, 'stream-events', (t) => t.some((x) => x.includes('cicd.deployment/v1')), true);

      // Paging: the oldest of 11 runs only on page 2.
      await page.click('nav.views a[data-view="cicd"]');
      await page.selectOption('#page-size', '10');
      await page.fill('#cicd-repo', 'acme/console-paging');
      await page.click('#cicd-show');
      const ids = (t: string[]) => t.map((x) => pagingRuns.find((id) => x.startsWith(id)));
      await waitRows(page, 'cicd-runs', ids, pagingRuns.slice(1).reverse());
      await page.click('#cicd-runs-next');
      await waitRows(page, 'cicd-runs', ids, [pagingRuns[0]]);
      expect(await page.textContent('#cicd-runs-page')).toBe('Page 2 (last)');

      // A bad filter: the API's envelope, as sent.
      await page.fill('#cicd-repo', 'not a repository');
      await page.click('#cicd-show');
      await page.waitForSelector('#console-error:not([hidden])');
      const api = await call('GET', '/api/v1/pipeline-runs?limit=10&repositoryFullName=not+a+repository');
      expect(api.status).toBe(400);
      expect(await page.textContent('#console-error')).toBe(`${api.body.error.code}: ${api.body.error.message}`);
    } finally {
      await context.close();
    }
  });

  it('at 375 px nothing scrolls sideways but the tables, and the views are reached with the keyboard', async () => {
    const page = await browser.newPage({ viewport: { width: 375, height: 812 } });
    try {
      await openConsole(page);
      // Tab from the page-size select to the first view link, then along to CI/CD, and Enter.
      await page.focus('#page-size');
      await page.keyboard.press('Tab');
      expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Ledger');
      await page.keyboard.press('Tab');
      expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('CI/CD');
      await page.keyboard.press('Enter');
      await page.waitForFunction(() => !document.getElementById('view-cicd')!.hidden);
      expect(await page.getAttribute('nav.views a[data-view="cicd"]', 'aria-current')).toBe('page');
      await waitRows(page, 'cicd-runs', (t) => t.length > 0, true);
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
      // Every control has an accessible name.
      const unnamed = await page.$$eval('#view-cicd button, #view-cicd input, #view-cicd select', (els) =>
        els.filter((e) => !(e.getAttribute('aria-label') || (e.id && document.querySelector(`label[for="${e.id}"]`)) || e.textContent?.trim())).map((e) => e.outerHTML),
      );
      expect(unnamed).toEqual([]);
    } finally {
      await page.close();
    }
  });
});
