// Content-addressed step cache (docs/runner.md "Cache"). Objects are file contents under `objects/<blake3 hex>`
// (the §14 file hash, so an object's name proves its content); entries under `entries/<key hex>.json` say which
// objects make up each declared output of a step. The key is BLAKE3 (context `proofstream/v1 pipeline cache-key`)
// of JCS{command, inputs, outputs, variables, mode}: anything that could change what the step produces.
import fs from 'node:fs';
import path from 'node:path';
import { utf8ToBytes } from '../protocol/bytes.js';
import { canonicalize } from '../protocol/jcs.js';
import { BLAKE3_REF, blake3Ref, isTreePath, TREE_MODES, type TreeMode } from '../protocol/blake3-tree.js';
import { isStepPath } from './config.js';
import { hashDeclaredPath, hashFile, type HashedPath, type HashLimits } from './hash-tree.js';

export const DEFAULT_CACHE_MAX_BYTES = 5 * 1024 ** 3;
/** Orphan objects younger than this survive a non-aggressive gc: a concurrent store writes objects before its entry. */
const ORPHAN_GRACE_MS = 60 * 60 * 1000;

export interface CacheKeyParts {
  command: string;
  /** declared input path -> hash */
  inputs: Record<string, string>;
  /** declared output paths */
  outputs: string[];
  variables: Record<string, string>;
  mode: 'process' | 'sandbox';
}

export function cacheKey(parts: CacheKeyParts): string {
  return blake3Ref('cacheKey', utf8ToBytes(canonicalize(parts)));
}

interface EntryFile { path: string; mode: TreeMode; hash: string; size: number }
export interface CacheEntry {
  key: string;
  created_at: string;
  outputs: Record<string, { kind: 'file' | 'tree'; hash: string; files: EntryFile[] }>;
}

interface EntryIndex { objects: Set<string>; lastUsed: number }

const hexOf = (ref: string): string => ref.slice('blake3:'.length);

export class ContentCache {
  readonly dir: string;
  readonly maxBytes: number;
  private readonly objectsDir: string;
  private readonly entriesDir: string;
  private readonly objects = new Map<string, number>(); // hex -> size
  private readonly entries = new Map<string, EntryIndex>(); // key hex -> index
  private totalBytes = 0;
  private hits = 0;
  private misses = 0;

  constructor(dir: string, opts: { maxBytes?: number } = {}) {
    this.dir = path.resolve(dir);
    this.maxBytes = opts.maxBytes ?? DEFAULT_CACHE_MAX_BYTES;
    this.objectsDir = path.join(this.dir, 'objects');
    this.entriesDir = path.join(this.dir, 'entries');
    fs.mkdirSync(this.objectsDir, { recursive: true, mode: 0o700 });
    fs.mkdirSync(this.entriesDir, { recursive: true, mode: 0o700 });
    this.scan();
  }

  /** Rebuilds the in-memory index from disk (once, at construction). */
  private scan(): void {
    for (const name of fs.readdirSync(this.objectsDir)) {
      const abs = path.join(this.objectsDir, name);
      if (!/^[0-9a-f]{64}$/.test(name)) continue; // temp files of an interrupted store; gc removes them
      const st = fs.statSync(abs);
      this.objects.set(name, st.size);
      this.totalBytes += st.size;
    }
    for (const name of fs.readdirSync(this.entriesDir)) {
      const m = /^([0-9a-f]{64})\.json$/.exec(name);
      if (!m) continue;
      const abs = path.join(this.entriesDir, name);
      try {
        const e = JSON.parse(fs.readFileSync(abs, 'utf8')) as CacheEntry;
        this.entries.set(m[1]!, { objects: objectsOf(e), lastUsed: fs.statSync(abs).mtimeMs });
      } catch {
        fs.rmSync(abs, { force: true });
      }
    }
  }

  stats(): { total_size_bytes: number; total_entries: number; hits: number; misses: number; hit_rate: number; miss_rate: number } {
    const n = this.hits + this.misses;
    return {
      total_size_bytes: this.totalBytes,
      total_entries: this.entries.size,
      hits: this.hits,
      misses: this.misses,
      hit_rate: n === 0 ? 0 : this.hits / n,
      miss_rate: n === 0 ? 0 : this.misses / n,
    };
  }

  /** The entry for `key` if it and all its objects are present (counts a hit or a miss). */
  async lookup(key: string): Promise<CacheEntry | null> {
    const hex = hexOf(key);
    const idx = this.entries.get(hex);
    if (!idx || [...idx.objects].some((o) => !this.objects.has(o))) {
      this.misses++;
      return null;
    }
    try {
      const e = JSON.parse(await fs.promises.readFile(path.join(this.entriesDir, `${hex}.json`), 'utf8')) as CacheEntry;
      const now = new Date();
      await fs.promises.utimes(path.join(this.entriesDir, `${hex}.json`), now, now);
      idx.lastUsed = now.getTime();
      this.hits++;
      return e;
    } catch {
      this.misses++;
      return null;
    }
  }

  /** A miss that restore could not use after all (an object changed on disk): undo the hit. */
  recountAsMiss(): void {
    this.hits--;
    this.misses++;
  }

  /** Stores a step's outputs under `key`. Best effort: false when they do not fit or changed while copied. */
  async store(key: string, outputs: Record<string, HashedPath>): Promise<boolean> {
    const hex = hexOf(key);
    const entry: CacheEntry = { key, created_at: new Date().toISOString(), outputs: {} };
    let size = 0;
    for (const [declared, h] of Object.entries(outputs)) {
      entry.outputs[declared] = { kind: h.kind, hash: h.hash, files: h.files.map((f) => ({ path: f.path, mode: f.mode, hash: f.hash, size: f.size })) };
      for (const f of h.files) size += f.size;
    }
    if (size > this.maxBytes) return false;
    for (const h of Object.values(outputs)) {
      for (const f of h.files) {
        const oh = hexOf(f.hash);
        if (this.objects.has(oh)) continue;
        const tmp = path.join(this.objectsDir, `${oh}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
        try {
          if (f.mode === '120000') await fs.promises.writeFile(tmp, await fs.promises.readlink(f.abs), { mode: 0o600 });
          else await fs.promises.copyFile(f.abs, tmp);
          // The object's name must be its content's hash: check the copy, not the file we hashed earlier.
          const { hash, size: got } = await hashFile(tmp);
          if (hash !== f.hash) {
            await fs.promises.rm(tmp, { force: true });
            return false;
          }
          await fs.promises.chmod(tmp, 0o600);
          await fs.promises.rename(tmp, path.join(this.objectsDir, oh));
          if (!this.objects.has(oh)) {
            this.objects.set(oh, got);
            this.totalBytes += got;
          }
        } catch {
          await fs.promises.rm(tmp, { force: true });
          return false;
        }
      }
    }
    const file = path.join(this.entriesDir, `${hex}.json`);
    const tmp = `${file}.${process.pid}.tmp`;
    await fs.promises.writeFile(tmp, JSON.stringify(entry), { mode: 0o600 });
    await fs.promises.rename(tmp, file);
    this.entries.set(hex, { objects: objectsOf(entry), lastUsed: Date.now() });
    if (this.totalBytes > this.maxBytes) this.evictTo(this.maxBytes, new Set([hex]));
    return true;
  }

  /**
   * Restores an entry's outputs into the workspace (each declared output path is replaced), then re-hashes them:
   * true only when every hash equals the entry's, so a hit is proven by the same hashes a run would give.
   */
  async restore(entry: CacheEntry, workspace: string, limits?: HashLimits, expectedOutputs?: readonly string[]): Promise<Record<string, HashedPath> | null> {
    const root = await fs.promises.realpath(workspace);
    // An entry is data on disk: restore nothing it names that the step did not declare, nor any path that could
    // leave the output it belongs to.
    if (!entryIsSane(entry, expectedOutputs)) return null;
    for (const [declared, out] of Object.entries(entry.outputs)) {
      const rel = declared.endsWith('/') ? declared.slice(0, -1) : declared;
      const target = path.join(root, rel);
      await fs.promises.mkdir(path.dirname(target), { recursive: true });
      const parent = await fs.promises.realpath(path.dirname(target));
      if (!isInside(root, parent)) return null;
      await fs.promises.rm(target, { recursive: true, force: true });
      if (out.kind === 'tree') await fs.promises.mkdir(target, { recursive: true });
      // Links last, so no file is ever written through a link this restore created.
      const ordered = [...out.files.filter((f) => f.mode !== '120000'), ...out.files.filter((f) => f.mode === '120000')];
      for (const f of ordered) {
        const dest = f.path === '' ? target : path.join(target, ...f.path.split('/'));
        await fs.promises.mkdir(path.dirname(dest), { recursive: true });
        const obj = path.join(this.objectsDir, hexOf(f.hash));
        if (f.mode === '120000') {
          await fs.promises.symlink(await fs.promises.readFile(obj, 'utf8'), dest);
        } else {
          await fs.promises.copyFile(obj, dest);
          await fs.promises.chmod(dest, f.mode === '100755' ? 0o755 : 0o644);
        }
      }
    }
    const hashed: Record<string, HashedPath> = {};
    for (const [declared, out] of Object.entries(entry.outputs)) {
      try {
        hashed[declared] = await hashDeclaredPath(root, declared, limits);
      } catch {
        return null;
      }
      if (hashed[declared]!.hash !== out.hash) return null;
    }
    return hashed;
  }

  /** Removes the object `blake3:<hex>` and every entry that needs it. False if there was no such object. */
  delete(blake3: string): boolean {
    if (typeof blake3 !== 'string' || !BLAKE3_REF.test(blake3)) return false;
    const hex = hexOf(blake3);
    if (!this.objects.has(hex)) return false;
    for (const [k, idx] of [...this.entries]) if (idx.objects.has(hex)) this.removeEntry(k);
    this.removeObject(hex);
    return true;
  }

  /**
   * Entries unused for `max_age_days` go; then least-recently-used entries until the size is `target_size_percent`
   * of maxBytes; then objects no entry needs (aggressive: also those younger than an hour, and stray temp files).
   */
  gc(opts: { max_age_days?: number; target_size_percent?: number; aggressive?: boolean } = {}): { removed_entries: number; freed_bytes: number } {
    const before = { entries: this.entries.size, bytes: this.totalBytes };
    if (opts.max_age_days !== undefined) {
      const cutoff = Date.now() - opts.max_age_days * 86_400_000;
      for (const [k, idx] of [...this.entries]) if (idx.lastUsed < cutoff) this.removeEntry(k);
    }
    this.removeOrphans(opts.aggressive === true);
    if (opts.target_size_percent !== undefined) this.evictTo(Math.floor((this.maxBytes * opts.target_size_percent) / 100), new Set());
    return { removed_entries: before.entries - this.entries.size, freed_bytes: before.bytes - this.totalBytes };
  }

  /** Drops least-recently-used entries (and the objects only they used) until the size is at most `limit`. */
  private evictTo(limit: number, keep: Set<string>): void {
    const order = [...this.entries].filter(([k]) => !keep.has(k)).sort((a, b) => a[1].lastUsed - b[1].lastUsed);
    for (const [k] of order) {
      if (this.totalBytes <= limit) break;
      this.removeEntry(k);
    }
  }

  /** Removes an entry and the objects no other entry needs (those were in use, so no grace applies to them). */
  private removeEntry(k: string): void {
    const idx = this.entries.get(k);
    fs.rmSync(path.join(this.entriesDir, `${k}.json`), { force: true });
    this.entries.delete(k);
    if (!idx) return;
    for (const o of idx.objects) {
      let used = false;
      for (const other of this.entries.values()) if (other.objects.has(o)) used = true;
      if (!used) this.removeObject(o);
    }
  }

  private removeObject(hex: string): void {
    fs.rmSync(path.join(this.objectsDir, hex), { force: true });
    const size = this.objects.get(hex);
    if (size !== undefined) this.totalBytes -= size;
    this.objects.delete(hex);
  }

  private removeOrphans(aggressive: boolean): void {
    const used = new Set<string>();
    for (const idx of this.entries.values()) for (const o of idx.objects) used.add(o);
    const now = Date.now();
    for (const name of fs.readdirSync(this.objectsDir)) {
      const isObject = /^[0-9a-f]{64}$/.test(name);
      if (isObject && used.has(name)) continue;
      const abs = path.join(this.objectsDir, name);
      let mtime = 0;
      try {
        mtime = fs.statSync(abs).mtimeMs;
      } catch {
        continue;
      }
      if (!aggressive && now - mtime < ORPHAN_GRACE_MS) continue;
      if (isObject) this.removeObject(name);
      else fs.rmSync(abs, { force: true });
    }
  }
}

function entryIsSane(e: CacheEntry, expected: readonly string[] | undefined): boolean {
  if (!e || typeof e !== 'object' || !e.outputs || typeof e.outputs !== 'object') return false;
  const declared = Object.keys(e.outputs);
  if (expected && (declared.length !== expected.length || !expected.every((d) => Object.hasOwn(e.outputs, d)))) return false;
  for (const d of declared) {
    if (!isStepPath(d)) return false;
    const out = e.outputs[d]!;
    if ((out.kind !== 'file' && out.kind !== 'tree') || !Array.isArray(out.files)) return false;
    if (out.kind === 'file' && (out.files.length !== 1 || out.files[0]!.path !== '')) return false;
    for (const f of out.files) {
      if (out.kind === 'tree' && !isTreePath(f.path)) return false;
      if (!TREE_MODES.includes(f.mode) || !BLAKE3_REF.test(f.hash)) return false;
    }
  }
  return true;
}

function objectsOf(e: CacheEntry): Set<string> {
  const s = new Set<string>();
  for (const o of Object.values(e.outputs ?? {})) for (const f of o.files) s.add(hexOf(f.hash));
  return s;
}

function isInside(root: string, p: string): boolean {
  const rel = path.relative(root, p);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}
