// GET /app/: the auditor page (web/, built by Vite into dist/web/ — `npm run build:web`, run by `prepare` on
// `npm install` / `npm ci`). Serves only the files the build made (a fixed, flat set, read once into memory and
// bounded), with a strict Content-Security-Policy: scripts and styles from this origin only, the verification worker
// from a blob: URL, and no connections at all — the page verifies locally and cannot send what it is given anywhere.
// When the build is missing the routes answer 503 WEB_APP_NOT_BUILT saying how to build it (and `serve` says so at
// start). docs/auditor.md.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { ApiError } from '../ledger/errors.js';
import type { AppEnv } from './env.js';
import { ErrorEnvelope } from './schemas.js';

/** Where `npm run build:web` writes the page: <repository>/dist/web (PROOFSTREAM_WEB_DIR overrides it). */
export const DEFAULT_WEB_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../dist/web');

/** The header on every /app/ response; web/index.html carries the same policy (minus frame-ancestors) in a meta tag. */
export const WEB_CSP =
  "default-src 'none'; script-src 'self'; worker-src blob:; style-src 'self'; img-src 'self' data:; connect-src 'none'; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/**
 * console.html (the tenant console) must call this ledger's API: the same policy but for `connect-src 'self'` — its
 * own origin, nothing else. The auditor page keeps `connect-src 'none'`.
 */
export const WEB_CONSOLE_CSP = WEB_CSP.replace("connect-src 'none'", "connect-src 'self'");

/** Only these names are served: what the build makes, nothing a stray file in the directory could add. */
const SERVED_NAME = /^[a-z0-9][a-z0-9._-]{0,63}\.(html|js|css)$/;
/** The build is ~0.5 MiB; a directory far over this is not our build, and is not read into memory. */
export const MAX_WEB_BYTES = 16 * 1024 * 1024;

const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
};

interface WebFile {
  body: Uint8Array<ArrayBuffer>;
  type: string;
}

const NOT_BUILT = (dir: string) =>
  `the web app is not built (no ${path.join(dir, 'index.html')}): run \`npm run build:web\` (npm install and npm ci run it)`;

/** The built files, read once; null (and retried on the next request) while the build is missing or unusable. */
export class WebFiles {
  private files: Map<string, WebFile> | null = null;
  constructor(readonly dir: string) {}

  /** The files, or why there are none. */
  load(): Map<string, WebFile> | { problem: string } {
    if (this.files) return this.files;
    let names: string[];
    try {
      names = fs.readdirSync(this.dir).filter((n) => SERVED_NAME.test(n));
    } catch {
      return { problem: NOT_BUILT(this.dir) };
    }
    if (!names.includes('index.html')) return { problem: NOT_BUILT(this.dir) };
    const out = new Map<string, WebFile>();
    let total = 0;
    for (const n of names) {
      const full = path.join(this.dir, n);
      let st: fs.Stats;
      try {
        st = fs.statSync(full);
      } catch {
        continue;
      }
      if (!st.isFile()) continue;
      total += st.size;
      if (total > MAX_WEB_BYTES) return { problem: `${this.dir} holds more than ${MAX_WEB_BYTES} bytes of pages: not the web app's build` };
      out.set(n, { body: new Uint8Array(fs.readFileSync(full)), type: TYPES[n.slice(n.lastIndexOf('.') + 1)]! });
    }
    this.files = out;
    return out;
  }
}

const fileResponse = { description: 'a file of the auditor page', content: { 'text/html': { schema: z.string() }, 'text/javascript': { schema: z.string() }, 'text/css': { schema: z.string() } } };
const errors = {
  404: { description: 'no such file in the page', content: { 'application/json': { schema: ErrorEnvelope } } },
  503: { description: 'the web app is not built (WEB_APP_NOT_BUILT)', content: { 'application/json': { schema: ErrorEnvelope } } },
};

export function webAppRoutes(app: OpenAPIHono<AppEnv>, dir: string): WebFiles {
  const web = new WebFiles(dir);

  const send = (name: string) => {
    const files = web.load();
    if (!(files instanceof Map)) throw new ApiError('WEB_APP_NOT_BUILT', files.problem);
    const f = files.get(name);
    if (!f) throw new ApiError('RESOURCE_NOT_FOUND', `/app/${name} not found`);
    return new Response(f.body, {
      status: 200,
      headers: {
        'content-type': f.type,
        'content-security-policy': name === 'console.html' ? WEB_CONSOLE_CSP : WEB_CSP,
        'x-content-type-options': 'nosniff',
        'referrer-policy': 'no-referrer',
        'cross-origin-opener-policy': 'same-origin',
        'cross-origin-resource-policy': 'same-origin',
        // Names are not content-hashed: revalidate, so an upgraded server never pairs new HTML with old script.
        'cache-control': 'no-cache',
      },
    });
  };

  app.openapi(
    createRoute({
      method: 'get',
      path: '/app',
      tags: ['web'],
      summary: 'Redirects to /app/ (the auditor page)',
      responses: { 308: { description: 'to /app/' } },
    }),
    (c) => c.redirect('/app/', 308) as never,
  );
  app.openapi(
    createRoute({
      method: 'get',
      path: '/app/',
      tags: ['web'],
      summary: 'The auditor page: verifies packs, proofs, receipts and checkpoints in the browser, sending nothing (no auth)',
      description: 'Built from web/ by `npm run build:web`. Strict CSP (no connections). docs/auditor.md.',
      responses: { 200: fileResponse, ...errors },
    }),
    () => send('index.html') as never,
  );
  app.openapi(
    createRoute({
      method: 'get',
      path: '/app/{file}',
      tags: ['web'],
      summary: 'A file of the auditor page (index.html, app.js, app.css) or the console (console.html: it asks for an API key) (no auth)',
      request: { params: z.object({ file: z.string().max(200) }) },
      responses: { 200: fileResponse, ...errors },
    }),
    (c) => send(c.req.valid('param').file) as never,
  );
  return web;
}
