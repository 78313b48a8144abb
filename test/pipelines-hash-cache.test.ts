// Hashing declared paths on disk (symlinks, limits, modes) and the content-addressed cache (restore proven by
// hashes, delete, gc, size bound) — issue #16.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from './helpers/server.js';
import { hashDeclaredPath } from '../src/pipelines/hash-tree.js';
import { fileHash } from '../src/protocol/blake3-tree.js';
import { ContentCache } from '../src/pipelines/cache.js';
import { validatePipelineConfig, type PipelineConfig } from '../src/pipelines/config.js';
import { runPipeline, type EngineEvent, type RunOptions } from '../src/pipelines/engine.js';

const err = async (p: Promise<unknown>) => p.then(() => null, (e: { code?: string }) => e.code);

function opts(workspace: string, extra: Partial<RunOptions> = {}): RunOptions {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ed25519');
  return {
    workspace, mode: 'process', variables: {}, stepTimeoutMs: 30_000, logLimitBytes: 65_536, maxParallel: 2,
    sign: (m) => new Uint8Array(crypto.sign(null, m, privateKey)),
    signerPublicKey: new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }).subarray(-32)), ...extra,
  };
}
function config(steps: unknown[]): PipelineConfig {
  const r = validatePipelineConfig({ version: '0.1', steps });
  if (!r.ok) throw new Error(r.message);
  return r.config;
}

describe('hashDeclaredPath', () => {
  it('records links inside a tree without following them; a declared path may not lead outside the workspace', async () => {
    const ws = tempDir();
    const outside = tempDir('ps-outside-');
    fs.writeFileSync(path.join(outside, 'secret'), 'secret');
    fs.mkdirSync(path.join(ws, 'd'));
    fs.writeFileSync(path.join(ws, 'd/a'), 'a');
    fs.symlinkSync(path.join(outside, 'secret'), path.join(ws, 'd/link'));
    const h = await hashDeclaredPath(ws, 'd/');
    expect(h.kind).toBe('tree');
    const link = h.files.find((f) => f.path === 'link')!;
    expect(link).toMatchObject({ mode: '120000', hash: fileHash(new TextEncoder().encode(path.join(outside, 'secret'))) });
    expect(await err(hashDeclaredPath(ws, 'd/link'))).toBe('PATH_OUTSIDE_WORKSPACE');
    fs.symlinkSync(outside, path.join(ws, 'out'));
    expect(await err(hashDeclaredPath(ws, 'out/'))).toBe('PATH_OUTSIDE_WORKSPACE');
    expect(await err(hashDeclaredPath(ws, 'out/secret'))).toBe('PATH_OUTSIDE_WORKSPACE');
    expect(await err(hashDeclaredPath(ws, 'd/a/'))).toBe('PATH_KIND');
    expect(await err(hashDeclaredPath(ws, 'nope'))).toBe('PATH_NOT_FOUND');
  });

  it('a mode change or a rename changes the tree hash; file count and bytes are bounded', async () => {
    const ws = tempDir();
    fs.mkdirSync(path.join(ws, 'd/sub'), { recursive: true });
    fs.writeFileSync(path.join(ws, 'd/sub/x.sh'), 'echo hi');
    fs.writeFileSync(path.join(ws, 'd/y'), 'y'.repeat(100));
    const a = (await hashDeclaredPath(ws, 'd/')).hash;
    fs.chmodSync(path.join(ws, 'd/sub/x.sh'), 0o755);
    const b = (await hashDeclaredPath(ws, 'd/')).hash;
    expect(b).not.toBe(a);
    fs.renameSync(path.join(ws, 'd/y'), path.join(ws, 'd/z'));
    expect((await hashDeclaredPath(ws, 'd/')).hash).not.toBe(b);
    expect(await err(hashDeclaredPath(ws, 'd/', { maxFiles: 1, maxBytes: 1e9 }))).toBe('HASH_LIMIT');
    expect(await err(hashDeclaredPath(ws, 'd/', { maxFiles: 10, maxBytes: 50 }))).toBe('HASH_LIMIT');
    expect((await hashDeclaredPath(ws, 'd/', { maxFiles: 3, maxBytes: 107 })).kind).toBe('tree'); // sub/, sub/x.sh, z
    expect(await err(hashDeclaredPath(ws, 'd/', { maxFiles: 2, maxBytes: 107 }))).toBe('HASH_LIMIT');
    for (let i = 0; i < 5; i++) fs.mkdirSync(path.join(ws, `d/empty${i}`));
    expect(await err(hashDeclaredPath(ws, 'd/', { maxFiles: 7, maxBytes: 107 }))).toBe('HASH_LIMIT');
  });

  it('a missing input or undeclared output fails the step with a log line', async () => {
    const ws = tempDir();
    const lines: string[] = [];
    const res = await runPipeline(
      config([{ name: 'a', run: 'true', inputs: ['missing.txt'] }, { name: 'b', run: 'true', outputs: ['never/'] }]),
      opts(ws, { onEvent: (e: EngineEvent) => e.type === 'step.log' && lines.push(e.line) }),
    );
    expect(res.steps.map((s) => s.status)).toEqual(['failed', 'failed']);
    expect(lines.some((l) => l.includes('missing.txt'))).toBe(true);
    expect(lines.some((l) => l.includes('never/'))).toBe(true);
  });
});

describe('ContentCache', () => {
  const cfg = config([{ name: 'build', run: 'printf x >> runs; mkdir -p out; cp in.txt out/copy; head -c 2000 /dev/zero > out/zeros', inputs: ['in.txt'], outputs: ['out/'] }]);
  const runs = (ws: string) => fs.readFileSync(path.join(ws, 'runs'), 'utf8').length;

  it('a corrupted object is not restored: the step runs again and the hashes stay right', async () => {
    const ws = tempDir();
    const dir = tempDir('ps-cache-');
    fs.writeFileSync(path.join(ws, 'in.txt'), 'v1');
    const cache = new ContentCache(dir);
    const first = await runPipeline(cfg, opts(ws, { cache }));
    // the object holding out/copy's content ("v1"), named by its file hash
    const obj = path.join(dir, 'objects', fileHash(new TextEncoder().encode('v1')).slice('blake3:'.length));
    fs.chmodSync(obj, 0o600);
    fs.writeFileSync(obj, 'tampered');
    const second = await runPipeline(cfg, opts(ws, { cache }));
    expect(second.steps[0]!.cache_hit).toBe(false);
    expect(second.steps[0]!.outputs).toEqual(first.steps[0]!.outputs);
    expect(runs(ws)).toBe(2);
    expect(fs.readFileSync(path.join(ws, 'out/copy'), 'utf8')).toBe('v1');
  });

  it('a cache entry edited to write outside its output is not restored: the step runs instead', async () => {
    const ws = tempDir();
    const dir = tempDir('ps-cache-');
    fs.writeFileSync(path.join(ws, 'in.txt'), 'v1');
    const cache = new ContentCache(dir);
    await runPipeline(cfg, opts(ws, { cache }));
    const [entryName] = fs.readdirSync(path.join(dir, 'entries'));
    const file = path.join(dir, 'entries', entryName!);
    const entry = JSON.parse(fs.readFileSync(file, 'utf8'));
    entry.outputs['out/'].files[0].path = '../../escaped';
    fs.writeFileSync(file, JSON.stringify(entry));
    const second = await runPipeline(cfg, opts(ws, { cache }));
    expect(second.steps[0]!.cache_hit).toBe(false);
    expect(runs(ws)).toBe(2);
    expect(fs.existsSync(path.join(ws, '../escaped'))).toBe(false);
    expect(fs.existsSync(path.join(ws, '../../escaped'))).toBe(false);
  });

  it('delete removes the object and the entries that need it; stats count entries and bytes', async () => {
    const ws = tempDir();
    const cache = new ContentCache(tempDir('ps-cache-'));
    fs.writeFileSync(path.join(ws, 'in.txt'), 'v1');
    await runPipeline(cfg, opts(ws, { cache }));
    expect(cache.stats()).toMatchObject({ total_entries: 1, total_size_bytes: 2002, misses: 1, hits: 0 });
    const id = fileHash(new TextEncoder().encode('v1'));
    expect(cache.delete(id)).toBe(true);
    expect(cache.delete(id)).toBe(false);
    expect(cache.delete('blake3:nothex')).toBe(false);
    expect(cache.stats().total_entries).toBe(0);
    await runPipeline(cfg, opts(ws, { cache }));
    expect(runs(ws)).toBe(2);
  });

  it('gc by age and by target size; the size bound evicts least recently used entries', async () => {
    const dir = tempDir('ps-cache-');
    const cache = new ContentCache(dir, { maxBytes: 5000 });
    const ws = tempDir();
    for (const v of ['a', 'b', 'c']) {
      fs.writeFileSync(path.join(ws, 'in.txt'), v);
      await runPipeline(cfg, opts(ws, { cache }));
    }
    // each entry: 2000 zero bytes (shared object) + 1 byte; all three fit in 5000
    expect(cache.stats()).toMatchObject({ total_entries: 3, total_size_bytes: 2003 });
    const small = new ContentCache(tempDir('ps-cache-'), { maxBytes: 2001 });
    for (const v of ['a', 'b']) {
      fs.writeFileSync(path.join(ws, 'in.txt'), v);
      await runPipeline(cfg, opts(ws, { cache: small }));
    }
    expect(small.stats().total_size_bytes).toBeLessThanOrEqual(2001);
    expect(small.stats().total_entries).toBe(1);

    // age: make the entry of "a" old; a fresh instance reads the times from disk
    const old = new Date(Date.now() - 10 * 86_400_000);
    const entries = fs.readdirSync(path.join(dir, 'entries'));
    const aKey = entries.find((e) => fs.readFileSync(path.join(dir, 'entries', e), 'utf8').includes(fileHash(new TextEncoder().encode('a'))))!;
    fs.utimesSync(path.join(dir, 'entries', aKey), old, old);
    const reopened = new ContentCache(dir, { maxBytes: 5000 });
    expect(reopened.gc({ max_age_days: 7 })).toEqual({ removed_entries: 1, freed_bytes: 1 });
    expect(reopened.gc({ target_size_percent: 10 })).toEqual({ removed_entries: 2, freed_bytes: 2002 });
    expect(reopened.stats()).toMatchObject({ total_entries: 0, total_size_bytes: 0 });
    expect(fs.readdirSync(path.join(dir, 'objects'))).toEqual([]);
  });
});
