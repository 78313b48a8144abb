#!/usr/bin/env node
// npm's `prepare` (run by `npm install` and `npm ci`): builds the browser app into dist/web with Vite. An install
// without devDependencies (`npm ci --omit=dev`, a production image) has no Vite: it says so and goes on, and the
// server answers /app/ with 503 WEB_APP_NOT_BUILT until someone runs `npm run build:web` where Vite is installed.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
try {
  require.resolve('vite/package.json');
} catch {
  console.error('proofstream: vite is not installed (devDependencies omitted): the browser app in dist/web is not built');
  process.exit(0);
}
const r = spawnSync('npm', ['run', 'build:web'], { stdio: 'inherit', shell: process.platform === 'win32' });
process.exit(r.status ?? 1);
