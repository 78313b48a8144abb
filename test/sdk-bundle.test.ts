// 'proofstream/client' must bundle for browsers: esbuild (the one vite and tsx bring) builds it with platform
// "browser" from the package export, and every import of a Node built-in anywhere in its graph fails the test.
import { builtinModules } from 'node:module';
import path from 'node:path';
import { build, type Plugin } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers/server.js';

const BUILTINS = new Set(builtinModules);

async function bundleForBrowser(contents: string): Promise<{ nodeImports: string[]; errors: string[]; inputs: string[] }> {
  const nodeImports: string[] = [];
  const detect: Plugin = {
    name: 'detect-node-builtins',
    setup(b) {
      b.onResolve({ filter: /.*/ }, (args) => {
        const bare = args.path.startsWith('node:') ? args.path.slice(5) : args.path;
        if (args.path.startsWith('node:') || BUILTINS.has(bare) || BUILTINS.has(bare.split('/')[0]!)) {
          nodeImports.push(`${args.path} (imported by ${path.relative(ROOT, args.importer)})`);
          return { path: args.path, external: true };
        }
        return undefined;
      });
    },
  };
  try {
    const r = await build({
      stdin: { contents, resolveDir: ROOT, loader: 'ts', sourcefile: 'browser-entry.ts' },
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      logLevel: 'silent',
      metafile: true,
      plugins: [detect],
    });
    return { nodeImports, errors: [], inputs: Object.keys(r.metafile.inputs) };
  } catch (e) {
    return { nodeImports, errors: ((e as { errors?: Array<{ text: string }> }).errors ?? [{ text: String(e) }]).map((x) => x.text), inputs: [] };
  }
}

describe('browser bundle', () => {
  it("'proofstream/client' bundles for the browser with no Node built-in reachable", async () => {
    const r = await bundleForBrowser("export { Proofstream, Monitor, SseParser, ProofstreamError } from 'proofstream/client';");
    expect(r.errors).toEqual([]);
    expect(r.nodeImports).toEqual([]);
    expect(r.inputs).toEqual(expect.arrayContaining(['src/client/index.ts', 'src/client/client.ts']));
    // The verifier is in it (local verification works offline in a browser)…
    expect(r.inputs).toContain('src/verify/index.ts');
    // …and no server code: the types from src/http are type-only imports.
    expect(r.inputs.filter((f) => /^src\/(http|ledger|store|cli)\/|better-sqlite3|drizzle|hono/.test(f))).toEqual([]);
  }, 60_000);

  it('the check catches a Node built-in: the Node entry, proofstream/client/node, is refused', async () => {
    const r = await bundleForBrowser("export { FileCheckpointStore } from 'proofstream/client/node';");
    expect(r.nodeImports).toEqual(expect.arrayContaining([expect.stringMatching(/^node:fs\/promises \(imported by src\/client\/node\.ts\)/)]));
  }, 60_000);
});
