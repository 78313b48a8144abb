// `npm run screenshots`: the auditor page's main screens and the console's views, as docs/img/auditor-*.png and console*.png (used by README.md and
// docs/auditor.md). Drives headless Chromium (test/helpers/browser.ts) on a real server's /app/ with the committed
// fixtures. Not part of the test suite.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { create as tarCreate } from 'tar';
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
  // The pipeline and build views run real commands on this server (docs/runner.md).
  const srv = await startServer({ env: { PROOFSTREAM_RUNNER: 'process' } });
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

    // The console, with one stream of a few events in windows of 5: two sealed windows and the open one.
    const call = client(srv.url, srv.key);
    const sid = (await call('POST', '/v2/streams', { use_case: 'loan-decisions', window_policy: { max_events: 5, max_age_ms: 86_400_000 } })).body.stream_id as string;
    for (let i = 1; i <= 12; i++) {
      await call('POST', `/v2/streams/${sid}/events`, { source_ref: `app-${1000 + i}`, event_type: 'decision.made', payload: { decision: i % 3 ? 'approve' : 'refer' } }, { 'idempotency-key': `shot-${i}` });
    }
    for (let t = 0; t < 100; t++) {
      const r = await call('GET', `/v2/streams/${sid}/checkpoints/latest`);
      if (r.status === 200 && r.body.tree_size >= 10) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    const con = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    await con.goto(`${srv.url}/app/console.html`);
    await con.fill('#api-key', srv.key);
    await con.click('#key-save');
    await con.click(`button[aria-label="Open stream ${sid}"]`);
    await con.waitForFunction(() => document.querySelectorAll('#stream-events tbody tr').length > 0 && document.querySelectorAll('#windows tbody tr').length === 3);
    await con.fill('#pack-from', '1');
    await con.fill('#pack-to', '10');
    await con.click('#pack-build');
    await con.waitForSelector('#pack-download', { timeout: 60_000 });
    await shot(con, 'console.png', true);

    // CI/CD evidence of one repository: a run with its steps, an artifact, a scan, a deployment.
    const repo = 'acme/payments-api';
    const run = (await call('POST', '/api/v1/pipeline-runs', { repositoryFullName: repo, name: 'release', provider: 'github-actions', commitSha: '9f2c1e7', branch: 'main', steps: [{ name: 'install' }, { name: 'test' }, { name: 'build' }] })).body;
    await call('PUT', `/api/v1/pipeline-runs/${run.id}`, { status: 'SUCCEEDED', finishedAt: new Date().toISOString(), steps: ['install', 'test', 'build'].map((name) => ({ name, status: 'SUCCEEDED' })) });
    const sha = 'a3f5'.repeat(16);
    await call('POST', '/api/v1/artifacts', { repositoryFullName: repo, name: 'payments-api', version: '2.1.0', sha256: sha, artifactType: 'docker-image', commitSha: '9f2c1e7', branch: 'main', pipelineRunId: run.id });
    await call('POST', '/api/v1/attestations', { repositoryFullName: repo, artifactSha256: sha, type: 'SECURITY_SCAN', name: 'trivy', passed: true, evidence: { critical: 0, high: 0 } });
    await call('POST', '/api/v1/attestations', { repositoryFullName: repo, prNumber: 42, type: 'TEST_RESULTS', name: 'Unit Tests', passed: true, evidence: { totalTests: 1234, failed: 0 } });
    await call('POST', '/api/v1/deployments', { environment: 'production', artifactSha256: sha, status: 'SUCCEEDED', pipelineRunId: run.id });
    await con.click('nav.views a[data-view="cicd"]');
    await con.waitForFunction(() => document.querySelectorAll('#cicd-deployments tbody tr td').length > 1);
    await con.click(`#cicd-artifacts button[aria-label="Open artifact ${sha}"]`);
    await con.waitForFunction(() => document.getElementById('detail-h')!.textContent!.startsWith('Artifact payments-api'));
    await shot(con, 'console-cicd.png', true);

    const conPhone = await browser.newPage({ viewport: { width: 375, height: 812 }, deviceScaleFactor: 2 });
    await conPhone.goto(`${srv.url}/app/console.html`);
    await conPhone.fill('#api-key', srv.key);
    await conPhone.click('#key-save');
    await conPhone.click(`button[aria-label="Open stream ${sid}"]`);
    await conPhone.waitForFunction(() => document.querySelectorAll('#windows tbody tr').length === 3);
    await conPhone.evaluate(() => document.getElementById('stream')!.scrollIntoView());
    await shot(conPhone, 'console-phone.png');

    // A pipeline run from the console, and a build of it followed live.
    const pipConfig = {
      version: '0.1',
      steps: [
        { name: 'install', run: 'echo "added 214 packages in 3s"', inputs: [], outputs: [], needs: [] },
        { name: 'test', run: 'echo "Tests: 128 passed, 128 total"', inputs: [], outputs: [], needs: ['install'] },
        { name: 'package', run: 'mkdir -p dist && echo bundle > dist/app.js && echo "dist/app.js 7 bytes"', inputs: [], outputs: ['dist'], needs: ['test'] },
      ],
    };
    const pip = (await call('POST', '/v1/pipelines', { name: 'web-app-build', description: 'install, test and package', config: pipConfig })).body;
    await con.click('nav.views a[data-view="pipelines"]');
    await con.click(`button[aria-label="Open pipeline ${pip.id}"]`);
    await con.fill('#exec-env', 'staging');
    await con.click('#exec-start');
    await con.waitForSelector('#execution-verification', { timeout: 60_000 });
    await shot(con, 'console-pipeline.png', true);
    await con.click('nav.views a[data-view="builds"]');
    // From a config and a source archive picked in the page (as a user without a stored pipeline would).
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ps-shot-build-'));
    fs.mkdirSync(path.join(work, 'src'));
    fs.writeFileSync(path.join(work, 'src', 'package.json'), '{"name":"web-app","version":"1.4.0"}\n');
    fs.writeFileSync(path.join(work, 'src', 'index.js'), 'console.log("hello")\n');
    await tarCreate({ gzip: true, file: path.join(work, 'src.tar.gz'), cwd: path.join(work, 'src'), portable: true }, ['package.json', 'index.js']);
    fs.writeFileSync(path.join(work, 'attest.json'), JSON.stringify({ ...pipConfig, steps: pipConfig.steps.map((x) => (x.name === 'package' ? { ...x, run: 'mkdir -p dist && cp index.js dist/app.js && echo "dist/app.js packaged"' } : x)) }));
    await con.setInputFiles('#build-config', path.join(work, 'attest.json'));
    await con.setInputFiles('#build-source', path.join(work, 'src.tar.gz'));
    await con.click('#build-from-sources');
    await con.waitForSelector('#build-download', { timeout: 60_000 });
    await shot(con, 'console-build.png', true);
    fs.rmSync(work, { recursive: true, force: true });
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
