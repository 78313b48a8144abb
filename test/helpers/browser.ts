// The browser tests' plumbing: Debian's Chromium driven by playwright-core (Playwright's own browser download
// cannot be reached here), the built auditor page (dist/web/, rebuilt when web/ or the verifier is newer), and a
// large pack built by a real server, cached across runs.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ROOT, client, startServer } from './server.js';
import { sleep } from './wait.js';

export const WEB_DIST = path.join(ROOT, 'dist', 'web');
const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

/** The Chromium to drive: $PROOFSTREAM_CHROMIUM, else Debian's. Throws (never skips) when there is none. */
export function chromiumPath(): string {
  const env = process.env.PROOFSTREAM_CHROMIUM;
  const list = env ? [env] : CANDIDATES;
  const found = list.find((p) => fs.existsSync(p));
  if (!found) {
    throw new Error(
      `no Chromium for the browser tests (looked at ${list.join(', ')}): install Debian's with \`apt-get install -y chromium\` ` +
        '(.ci/run does when it is missing) or set PROOFSTREAM_CHROMIUM to a Chromium/Chrome binary',
    );
  }
  return found;
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    // Root in a container has no user namespaces for the sandbox; /dev/shm is often tiny there.
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
}

function newestMtime(dir: string): number {
  let t = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newestMtime(p) : fs.statSync(p).mtimeMs);
  }
  return t;
}

/**
 * dist/web/ as the current sources build it: built by `npm install`/`npm ci` (prepare); rebuilt here when web/,
 * src/verify, src/protocol or src/client (the console uses its SSE parser) changed since. One builder at a time across
 * test files (a lock directory).
 */
export async function ensureWebBuilt(): Promise<void> {
  const index = path.join(WEB_DIST, 'index.html');
  const fresh = () => {
    if (!fs.existsSync(index)) return false;
    const src = Math.max(...['web', 'src/verify', 'src/protocol', 'src/client'].map((d) => newestMtime(path.join(ROOT, d))));
    return fs.statSync(index).mtimeMs >= src;
  };
  if (fresh()) return;
  const lock = path.join(ROOT, 'dist', '.web-build-lock');
  fs.mkdirSync(path.dirname(lock), { recursive: true });
  const deadline = Date.now() + 240_000;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      break;
    } catch {
      // Another test file is building: wait for it, then use its build (a lock older than 5 min is a dead builder's).
      try {
        if (Date.now() - fs.statSync(lock).mtimeMs > 300_000) fs.rmSync(lock, { recursive: true, force: true });
      } catch {
        /* gone meanwhile */
      }
      if (Date.now() > deadline) throw new Error('waited 4 min for another build of dist/web');
      await sleep(250);
      if (!fs.existsSync(lock) && fresh()) return;
    }
  }
  try {
    if (fresh()) return;
    const r = spawnSync(process.execPath, [path.join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', '--config', 'web/vite.config.ts'], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    if (r.status !== 0) throw new Error(`vite build failed:\n${r.stdout}\n${r.stderr}`);
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

/** Puts the evidence file (and optionally a trust file) into the page; verification starts on the pick. */
export async function pickFiles(page: Page, evidence: string, trust?: string): Promise<void> {
  // So readResult cannot read the previous run's result.
  await page.evaluate(() => document.body.setAttribute('data-state', 'picking'));
  if (trust !== undefined) {
    await page.check('#trust-given');
    await page.setInputFiles('#trust-file', trust);
    // The page reads the trust file asynchronously: wait until it is in, so the evidence is verified under it.
    await page.waitForFunction((name) => (document.getElementById('trust-text') as HTMLTextAreaElement).dataset.name === name, path.basename(trust));
  }
  await page.setInputFiles('#file', evidence);
}

/** Waits for the page to finish (data-state done or error), then reads what it shows. */
export async function readResult(page: Page, timeoutMs = 60_000) {
  await page.waitForFunction(() => ['done', 'error'].includes(document.body.dataset.state ?? ''), undefined, { timeout: timeoutMs, polling: 100 });
  return page.evaluate(() => ({
    state: document.body.dataset.state,
    status: document.body.dataset.status,
    verdict: document.getElementById('verdict')?.textContent ?? '',
    codes: Array.from(document.querySelectorAll('#problems tbody tr')).map((tr) => tr.children[0]!.textContent ?? ''),
    paths: Array.from(document.querySelectorAll('#problems tbody tr')).map((tr) => tr.children[1]!.textContent ?? ''),
    checks: Array.from(document.querySelectorAll('#checks tbody tr')).map((tr) => ({ status: tr.getAttribute('data-status'), name: tr.children[1]!.textContent ?? '' })),
    warning: document.getElementById('bundle-keys-warning')?.textContent ?? null,
  }));
}

export interface LargePack {
  pack: string;
  keys: string;
  events: number;
}

/** Where large packs are kept between runs (they take a minute to build): $PROOFSTREAM_PACK_CACHE or the OS temp dir. */
export const PACK_CACHE = process.env.PROOFSTREAM_PACK_CACHE ?? path.join(os.tmpdir(), 'proofstream-pack-cache');

/**
 * An n-event pack from a real server (batch appends, wait for the seal, POST /v2/audit/packs), with the server's
 * GET /v2/keys, cached in PACK_CACHE. The server and its data directory are gone when this returns.
 */
export async function largePack(n: number): Promise<LargePack> {
  fs.mkdirSync(PACK_CACHE, { recursive: true });
  const out = { pack: path.join(PACK_CACHE, `pack-${n}.json`), keys: path.join(PACK_CACHE, `keys-${n}.json`), events: n };
  if (fs.existsSync(out.pack) && fs.existsSync(out.keys)) return out;
  const srv = await startServer();
  try {
    const call = client(srv.url, srv.key);
    const sid = (await call('POST', '/v2/streams', { use_case: 'browser-large-pack' })).body.stream_id as string;
    const BATCH = 1000;
    let next = 0;
    const worker = async () => {
      for (;;) {
        const start = next;
        if (start >= n) return;
        const count = Math.min(BATCH, n - start);
        next += count;
        const events = Array.from({ length: count }, (_, i) => ({
          source_ref: `r${start + i}`,
          event_type: 'browser.decision',
          payload: { i: start + i, decision: (start + i) % 3 === 0 ? 'deny' : 'approve', score: 0.5 },
        }));
        const r = await call('POST', `/v2/streams/${sid}/events/batch`, { events }, { 'idempotency-key': `large-${sid}-${start}` });
        if (r.status !== 201) throw new Error(`batch at ${start}: ${r.status} ${r.text.slice(0, 300)}`);
      }
    };
    await Promise.all(Array.from({ length: 3 }, worker));
    const deadline = Date.now() + 600_000;
    for (;;) {
      const r = await call('GET', `/v2/streams/${sid}/checkpoints/latest`);
      if (r.status === 200 && r.body.tree_size >= n) break;
      if (Date.now() > deadline) throw new Error(`not sealed through ${n} after 10 min`);
      await sleep(200);
    }
    const res = await fetch(`${srv.url}/v2/audit/packs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${srv.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ stream_id: sid, from_seq_no: 1, to_seq_no: n }),
    });
    if (res.status !== 201) throw new Error(`POST /v2/audit/packs: ${res.status} ${(await res.text()).slice(0, 300)}`);
    const tmp = `${out.pack}.${process.pid}.tmp`;
    await pipeline(Readable.fromWeb(res.body as never), fs.createWriteStream(tmp));
    fs.writeFileSync(out.keys, JSON.stringify((await client(srv.url)('GET', '/v2/keys')).body));
    fs.renameSync(tmp, out.pack);
    return out;
  } finally {
    await srv.stop();
  }
}
