// The console's pipeline, build and provenance views (issues #16, #15 via #18) in a real Chromium against a real
// ledger that runs real child processes (PROOFSTREAM_RUNNER=process): a pipeline run from the console with its steps,
// log tail and verified receipt, pipelines paged; a build from a config and a .tar.gz picked in the page, its live
// event log equal to the server's, its result downloaded; a dropped event stream resumed with `from` (no gap, no
// duplicate); an unknown job's envelope shown as sent; an artifact's provenance downloaded and verified on the auditor
// page.
import fs from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { create as tarCreate, list as tarList } from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureWebBuilt, launchBrowser, pickFiles, readResult } from './helpers/browser.js';
import { client, startServer, tempDir, type RunningServer } from './helpers/server.js';
import { waitFor } from './helpers/wait.js';

let srv: RunningServer;
let browser: Browser;
let call: ReturnType<typeof client>;

beforeAll(async () => {
  await ensureWebBuilt();
  [srv, browser] = await Promise.all([startServer({ env: { PROOFSTREAM_RUNNER: 'process', PROOFSTREAM_CICD_RATE_LIMIT: '100000/min,burst=100000' } }), launchBrowser()]);
  call = client(srv.url, srv.key);
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await srv?.stop();
});

const step = (name: string, run: string, more: Record<string, unknown> = {}) => ({ name, run, inputs: [], outputs: [], needs: [], ...more });

async function openConsole(page: Page, rows = '50'): Promise<void> {
  await page.goto(`${srv.url}/app/console.html`);
  await page.selectOption('#page-size', rows);
  await page.fill('#api-key', srv.key);
  await page.click('#key-save');
  await page.waitForFunction(() => document.getElementById('key-info')!.textContent!.startsWith('Key key_'));
}

const rowTexts = (page: Page, table: string) => page.$$eval(`#${table} tbody tr`, (trs) => trs.map((tr) => tr.textContent ?? ''));

/** The ledger's keys as the auditor page takes them, in a file. */
function keysFile(dir: string, keys: unknown): string {
  const f = path.join(dir, 'keys.json');
  fs.writeFileSync(f, JSON.stringify(keys));
  return f;
}

describe('pipelines', () => {
  it('runs a pipeline from the console: status, steps, log tail and the receipt with its verification; the execution is then listed from the stream', async () => {
    const created = await call('POST', '/v1/pipelines', {
      name: 'console-hello',
      config: { version: '0.1', steps: [step('greet', 'echo hello-from-greet && echo second-line'), step('after', 'echo after-step', { needs: ['greet'] })] },
    });
    expect(created.status, created.text).toBe(201);
    const pip = created.body;

    const context = await browser.newContext({ acceptDownloads: true });
    const page = await context.newPage();
    try {
      await openConsole(page);
      await page.click('nav.views a[data-view="pipelines"]');
      await page.waitForFunction((id) => document.querySelector('#pipelines tbody')!.textContent!.includes(id), pip.id);
      await page.click(`button[aria-label="Open pipeline ${pip.id}"]`);
      await page.waitForFunction((h) => document.getElementById('pipeline-h')!.textContent === `Pipeline ${h}`, 'console-hello');
      expect(await page.textContent('#pipeline-facts')).toContain(pip.pipeline_hash);
      await page.waitForFunction(() => document.querySelector('#executions tbody')!.textContent!.includes('No execution has ended yet.'));

      await page.fill('#exec-env', 'staging');
      await page.click('#exec-start');
      await page.waitForFunction(() => document.getElementById('exec-start-status')!.textContent!.startsWith('Started exec_'));
      const execId = (await page.textContent('#exec-start-status'))!.replace(/^Started (\S+)\.$/, '$1');
      await page.waitForFunction(() => /^completed/.test(document.getElementById('execution-status')!.textContent!), undefined, { timeout: 60_000 });
      const api = (await call('GET', `/v1/executions/${execId}`)).body;
      expect(api.status).toBe('completed');
      expect(await rowTexts(page, 'execution-steps')).toEqual(api.steps.map((s: any) => `${s.name}${s.status}${s.exit_code}${s.duration_seconds}${s.cache_hit ? 'hit' : 'miss'}`));
      expect(await page.textContent('#execution-facts')).toContain('staging');
      await page.waitForFunction(() => document.getElementById('execution-log')!.textContent!.includes('hello-from-greet'));
      // The receipt, as the server verified it, and where it is on the ledger.
      await page.waitForSelector('#execution-verification');
      const receipt = (await call('GET', `/v1/executions/${execId}/receipt`)).body;
      expect(receipt.verification).toMatchObject({ signature_valid: true, timestamp_valid: true, chain_of_trust: 'verified' });
      expect(await page.textContent('#execution-verification')).toMatch(/^Verified: signature valid, timestamp valid, chain of trust verified/);
      expect(await page.textContent('#execution-receipt')).toContain(`seq_no ${receipt.ledger.seq_no} of ${pip.stream_id}`);
      // The receipt bundle (§14.4) downloads and verifies on the auditor page with the ledger's keys.
      const downloading = page.waitForEvent('download');
      await page.click('#execution-receipt-download');
      const dir = tempDir('ps-console-exec-');
      const file = path.join(dir, 'receipt-bundle.json');
      await (await downloading).saveAs(file);
      // The same receipt and event as the API's; its ledger part gains the inclusion once sealed, so it may differ in that.
      const saved = JSON.parse(fs.readFileSync(file, 'utf8'));
      expect(saved.receipt).toEqual(receipt.bundle.receipt);
      expect(JSON.stringify(saved.ledger)).toContain(receipt.ledger.receipt.stream_event_id);
      const auditor = await (await browser.newContext()).newPage();
      await auditor.goto(`${srv.url}/app/`);
      await pickFiles(auditor, file, keysFile(dir, (await client(srv.url)('GET', '/v2/keys')).body));
      const verdict = await readResult(auditor);
      expect(verdict.status, `${verdict.verdict} ${verdict.codes.join(',')}`).toMatch(/^(valid|pending)$/);
      await auditor.context().close();
      // Logs of one step only: the step select filters through the API's `step`.
      await page.selectOption('#exec-log-step', 'after');
      await page.waitForFunction(() => document.getElementById('exec-log-count')!.textContent!.includes('of step after'));
      const logs = (await call('GET', `/v1/executions/${execId}/logs?step=after&tail=200`)).body;
      expect(await page.textContent('#execution-log')).toContain('after-step');
      expect(await page.textContent('#execution-log')).not.toContain('hello-from-greet');
      expect(await page.textContent('#exec-log-count')).toBe(`${logs.logs.length} of ${logs.total_lines} lines of step after.`);
      // Ended: the execution is listed from the pipeline's stream (its attest.receipt event).
      await page.waitForFunction((id) => Array.from(document.querySelectorAll('#executions tbody tr')).some((tr) => tr.textContent!.startsWith(`${id}ended`)), execId);
    } finally {
      await context.close();
    }
  });

  it('cancels a running execution from the console', async () => {
    const pip = (await call('POST', '/v1/pipelines', { name: 'console-cancel', config: { version: '0.1', steps: [step('wait', 'echo waiting-now && sleep 60')] } })).body;
    const page = await browser.newPage();
    try {
      await openConsole(page);
      await page.click('nav.views a[data-view="pipelines"]');
      await page.click(`button[aria-label="Open pipeline ${pip.id}"]`);
      await page.click('#exec-start');
      // Running: its log is read again while it runs, so the step's first line shows up without a click.
      await page.waitForFunction(() => document.getElementById('execution-log')!.textContent!.includes('waiting-now'), undefined, { timeout: 30_000 });
      expect(await page.textContent('#execution-status')).toMatch(/^running/);
      await page.click('#exec-cancel');
      await page.waitForFunction(() => /^cancelled/.test(document.getElementById('execution-status')!.textContent!), undefined, { timeout: 30_000 });
      expect(await page.isHidden('#exec-cancel')).toBe(true);
    } finally {
      await page.close();
    }
  });

  it('pages pipelines (newest first): the oldest of eleven is on page 2 only', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 11; i++) {
      const r = await call('POST', '/v1/pipelines', { name: `console-paging-${i}`, config: { version: '0.1', steps: [step('s', 'true')] } });
      expect(r.status, r.text).toBe(201);
      ids.push(r.body.id);
    }
    const page = await browser.newPage();
    try {
      await openConsole(page, '10');
      await page.click('nav.views a[data-view="pipelines"]');
      await page.waitForFunction((id) => document.querySelector('#pipelines tbody')!.textContent!.includes(id), ids[10]!);
      expect(await page.locator('#pipelines tbody tr').count()).toBe(10);
      expect((await rowTexts(page, 'pipelines')).some((t) => t.includes(ids[0]!))).toBe(false);
      await page.click('#pipelines-next');
      await page.waitForFunction((id) => document.querySelector('#pipelines tbody')!.textContent!.includes(id), ids[0]!);
      expect(await page.textContent('#pipelines-page')).toMatch(/^Page 2/);
    } finally {
      await page.close();
    }
  });
});

/** Every SSE message of a finished job, as the wire carried them (blocks without their blank-line terminator). */
async function rawEvents(jobId: string): Promise<string[]> {
  const res = await fetch(`${srv.url}/build/${jobId}/events`, { headers: { authorization: `Bearer ${srv.key}` } });
  expect(res.status).toBe(200);
  const text = await res.text();
  return text.split('\n\n').filter((b) => /^data:/m.test(b));
}

const describeEvent = (e: any): string =>
  e.type === 'queued' ? `queued: position ${e.position}` : e.type === 'complete' ? (e.result.status === 'ok' ? 'complete: ok' : `complete: failed — ${e.result.error_type}: ${e.result.error}`) : `${e.type}: ${e.msg}`;
const dataOf = (block: string) => JSON.parse(block.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()).join('\n'));

describe('builds', () => {
  it('starts a build from a config and a .tar.gz picked in the page, shows its events live until complete, and downloads the result', async () => {
    const dir = tempDir('ps-console-build-');
    const src = path.join(dir, 'src');
    fs.mkdirSync(src);
    fs.writeFileSync(path.join(src, 'input.txt'), 'console input');
    const archive = path.join(dir, 'src.tar.gz');
    await tarCreate({ gzip: true, file: archive, cwd: src, portable: true }, ['input.txt']);
    const config = path.join(dir, 'attest.json');
    fs.writeFileSync(config, JSON.stringify({ version: '0.1', steps: [step('make', 'mkdir -p out && cp input.txt out/copy.txt && echo built-line-1 && echo built-line-2', { outputs: ['out'] })] }));

    const context = await browser.newContext({ acceptDownloads: true });
    const page = await context.newPage();
    try {
      await openConsole(page);
      await page.click('nav.views a[data-view="builds"]');
      await page.setInputFiles('#build-config', config);
      await page.setInputFiles('#build-source', archive);
      await page.click('#build-from-sources');
      await page.waitForFunction(() => document.getElementById('build-h')!.textContent!.startsWith('Build bld_'));
      const jobId = (await page.textContent('#build-h'))!.slice('Build '.length);
      await page.waitForFunction(() => document.getElementById('build-state')!.textContent === 'complete: ok', undefined, { timeout: 60_000 });
      // What the page shows is every event the server has for the job, in order, once each.
      const events = (await rawEvents(jobId)).map(dataOf);
      expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['queued', 'detect', 'build', 'provenance', 'attest', 'complete']));
      expect((await page.textContent('#build-log'))!.split('\n')).toEqual(events.map(describeEvent));
      expect(await page.textContent('#build-log')).toContain('build: [make] built-line-1');
      expect(await rowTexts(page, 'build-jobs')).toEqual([`${jobId}complete: ok${events.length}Follow`]);

      await page.waitForSelector('#build-download');
      const downloading = page.waitForEvent('download');
      await page.click('#build-download');
      const file = path.join(dir, 'result.tar.gz');
      await (await downloading).saveAs(file);
      const entries: string[] = [];
      await tarList({ file, onReadEntry: (e) => void entries.push(e.path) });
      expect(entries).toEqual(expect.arrayContaining(['provenance.json', 'receipt.json']));
      expect(entries.some((e) => e.endsWith('copy.txt'))).toBe(true);
    } finally {
      await context.close();
    }
  });

  it('a stream dropped after three events is resumed with from=3: every event once, none missing; an unknown job shows the API envelope', async () => {
    const config = JSON.stringify({ version: '0.1', steps: [step('count', 'for i in 1 2 3 4 5; do echo count-$i; done')] });
    const dir = tempDir('ps-console-build-');
    fs.writeFileSync(path.join(dir, 'a.txt'), 'a');
    const archive = path.join(dir, 'src.tar.gz');
    await tarCreate({ gzip: true, file: archive, cwd: dir, portable: true }, ['a.txt']);
    const form = new FormData();
    form.set('config', config);
    form.set('source', new Blob([new Uint8Array(fs.readFileSync(archive))], { type: 'application/gzip' }), 'src.tar.gz');
    const started = await fetch(`${srv.url}/build`, { method: 'POST', headers: { authorization: `Bearer ${srv.key}` }, body: form });
    expect(started.status).toBe(202);
    const jobId = ((await started.json()) as { job_id: string }).job_id;
    const blocks = await rawEvents(jobId); // waits for the end of the job: the stream closes after `complete`
    expect(blocks.length).toBeGreaterThan(4);

    const page = await browser.newPage();
    const asked: string[] = [];
    try {
      await openConsole(page);
      // The first connection delivers three events, then the connection ends (as a dropped one does); later ones
      // reach the real server.
      let first = true;
      await page.route('**/build/*/events*', async (route) => {
        asked.push(new URL(route.request().url()).search);
        if (first) {
          first = false;
          await route.fulfill({ status: 200, headers: { 'content-type': 'text/event-stream' }, body: blocks.slice(0, 3).join('\n\n') + '\n\n' });
        } else {
          await route.continue();
        }
      });
      await page.click('nav.views a[data-view="builds"]');
      await page.fill('#build-id', jobId);
      await page.press('#build-id', 'Enter');
      await page.waitForFunction(() => /^complete/.test(document.getElementById('build-state')!.textContent!), undefined, { timeout: 30_000 });
      expect(asked).toEqual(['?from=0', '?from=3']);
      expect((await page.textContent('#build-log'))!.split('\n')).toEqual(blocks.map(dataOf).map(describeEvent));
      expect(await page.textContent('#build-connection')).toBe(`Finished: ${blocks.length} events.`);

      await page.unroute('**/build/*/events*');
      await page.fill('#build-id', 'bld_not-a-job-of-this-ledger');
      await page.click('#build-follow');
      await page.waitForSelector('#console-error:not([hidden])');
      const api = await call('GET', '/build/bld_not-a-job-of-this-ledger/events');
      expect(api.status).toBe(404);
      expect(await page.textContent('#console-error')).toBe(`${api.body.error.code}: ${api.body.error.message}`);
    } finally {
      await page.close();
    }
  });
});

describe('provenance', () => {
  it("an artifact's provenance bundle downloads from the CI/CD view and verifies on the auditor page", async () => {
    const repo = 'acme/console-provenance';
    const sha = 'e1'.repeat(32);
    const run = await call('POST', '/api/v1/pipeline-runs', { repositoryFullName: repo, name: 'release', status: 'SUCCEEDED', commitSha: 'abc123', branch: 'main' });
    expect(run.status, run.text).toBe(201);
    const art = await call('POST', '/api/v1/artifacts', { repositoryFullName: repo, name: 'prov-demo', version: '1.0.0', sha256: sha, artifactType: 'tarball', commitSha: 'abc123', branch: 'main', pipelineRunId: run.body.id });
    expect(art.status, art.text).toBe(201);
    expect((await call('POST', '/api/v1/attestations', { repositoryFullName: repo, artifactSha256: sha, type: 'SBOM', name: 'syft', passed: true })).status).toBe(201);
    // Sealed first, so the bundle is complete (a pending one says so and is fetched again later).
    await waitFor(async () => {
      const r = await call('GET', `/api/v1/artifacts/${sha}/provenance`);
      return r.status === 200 && r.body.status === 'complete' ? true : undefined;
    }, 30_000);

    const context = await browser.newContext({ acceptDownloads: true });
    const page = await context.newPage();
    try {
      await openConsole(page);
      await page.click('nav.views a[data-view="cicd"]');
      await page.fill('#artifact-sha', sha);
      await page.click('#artifact-find');
      await page.waitForFunction(() => document.getElementById('detail-h')!.textContent === 'Artifact prov-demo 1.0.0');
      await page.click(`button[aria-label="Download the provenance bundle of artifact ${sha}"]`);
      await page.waitForSelector('#provenance-download');
      expect(await page.getAttribute('#provenance-status', 'data-status')).toBe('complete');
      const downloading = page.waitForEvent('download');
      await page.click('#provenance-download');
      const dir = tempDir('ps-console-prov-');
      const file = path.join(dir, 'provenance.json');
      await (await downloading).saveAs(file);
      expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toMatchObject({ artifact_sha256: sha, status: 'complete' });

      const auditor = await (await browser.newContext()).newPage();
      await auditor.goto(`${srv.url}/app/`);
      await pickFiles(auditor, file, keysFile(dir, (await client(srv.url)('GET', '/v2/keys')).body));
      const r = await readResult(auditor);
      expect(r.status, `${r.verdict} ${r.codes.join(',')}`).toBe('valid');
      await auditor.context().close();

      // The in-toto form: a DSSE envelope.
      await page.click(`button[aria-label="Download the in-toto provenance of artifact ${sha}"]`);
      await page.waitForSelector('#provenance-intoto-download');
    } finally {
      await context.close();
    }
  });
});
