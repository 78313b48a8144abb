// Builds the auditor page (web/) into dist/web/: index.html, app.js (the page), app.css. The verification worker is
// inlined into app.js and started from a blob: URL, and app.js is a classic script (not a module), so the same three
// files work served at /app/ and opened from disk (file://), where Chromium refuses module scripts and worker files.
// Relative paths only, nothing from elsewhere. `npm run build:web`; `prepare` runs it on `npm install` / `npm ci`.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

const here = path.dirname(fileURLToPath(import.meta.url));

/** `<script type="module" crossorigin src>` → `<script defer src>`: a classic script loads from file:// too. */
const classicScript = (): Plugin => ({
  name: 'proofstream-classic-script',
  enforce: 'post',
  transformIndexHtml: (html) => html.replace(/<script type="module" crossorigin src=/g, '<script defer src=').replace(/ crossorigin href=/g, ' href='),
});

export default defineConfig({
  root: here,
  base: './',
  logLevel: 'warn',
  plugins: [classicScript()],
  worker: { format: 'iife' },
  build: {
    outDir: path.join(here, '..', 'dist', 'web'),
    emptyOutDir: true,
    assetsDir: '',
    modulePreload: false,
    // One app.css file: split CSS would be injected by script into a <style> element, which the CSP refuses.
    cssCodeSplit: false,
    target: 'es2022',
    // Nothing external: fonts, images and CSS stay in the three files.
    assetsInlineLimit: 100_000,
    chunkSizeWarningLimit: 2_000,
    rollupOptions: {
      output: { format: 'iife', entryFileNames: 'app.js', assetFileNames: 'app[extname]', inlineDynamicImports: true },
    },
  },
});
