#!/usr/bin/env node
// npm's `prepare` (run by `npm install`, `npm ci`, and by `npx proofstream` when npx links this package into its
// cache): builds the browser app into dist/web with Vite, unless there is nothing to build or it is up to date.
// - No web/ sources (a copy of the package without them): nothing to build.
// - dist/web newer than every file under web/: already built (so `npx proofstream` does not rebuild each time).
// - No Vite (`npm ci --omit=dev`, a production image): says so and goes on; /app/ then answers 503
//   WEB_APP_NOT_BUILT until `npm run build:web` runs where Vite is installed.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const web = path.join(root, 'web');
if (!fs.existsSync(path.join(web, 'vite.config.ts'))) process.exit(0);

function newest(dir) {
  let t = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : fs.statSync(p).mtimeMs);
  }
  return t;
}
const built = path.join(root, 'dist/web/index.html');
if (fs.existsSync(built) && fs.statSync(built).mtimeMs >= newest(web)) process.exit(0);

try {
  createRequire(import.meta.url).resolve('vite/package.json');
} catch {
  console.error('proofstream: vite is not installed (devDependencies omitted): the browser app in dist/web is not built');
  process.exit(0);
}
const r = spawnSync('npm', ['run', 'build:web'], { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
process.exit(r.status ?? 1);
