// BLAKE3 hashing of pipeline files and directory trees (docs/protocol.md §14). Pure bytes, browser-safe: the file
// system walk that feeds it lives in src/pipelines/hash-tree.ts.
//
// Domain separation uses BLAKE3's own derive-key mode: every purpose has its own context string, so a file's hash
// can never equal a tree's, a config's or a receipt's. Each value is checkable with the reference tool:
// `b3sum --derive-key "proofstream/v1 pipeline file" FILE`.
import { blake3 } from '@noble/hashes/blake3.js';
import { bytesToHex, utf8ToBytes } from './bytes.js';
import { canonicalize } from './jcs.js';

export const BLAKE3_CONTEXT = {
  file: 'proofstream/v1 pipeline file',
  tree: 'proofstream/v1 pipeline tree',
  config: 'proofstream/v1 pipeline config',
  cacheKey: 'proofstream/v1 pipeline cache-key',
  receipt: 'proofstream/v1 pipeline receipt',
} as const;
export type Blake3Purpose = keyof typeof BLAKE3_CONTEXT;

const contextBytes: Record<Blake3Purpose, Uint8Array> = {
  file: utf8ToBytes(BLAKE3_CONTEXT.file),
  tree: utf8ToBytes(BLAKE3_CONTEXT.tree),
  config: utf8ToBytes(BLAKE3_CONTEXT.config),
  cacheKey: utf8ToBytes(BLAKE3_CONTEXT.cacheKey),
  receipt: utf8ToBytes(BLAKE3_CONTEXT.receipt),
};

/** `blake3:<64 hex>` */
export const BLAKE3_REF = /^blake3:[0-9a-f]{64}$/;

/** BLAKE3 derive-key of `data` under `purpose`'s context, as `blake3:<hex>`. */
export function blake3Ref(purpose: Blake3Purpose, data: Uint8Array): string {
  return `blake3:${bytesToHex(blake3(data, { context: contextBytes[purpose] }))}`;
}

/** An incremental hash under `purpose` (for files streamed from disk). */
export function blake3Hasher(purpose: Blake3Purpose): { update(d: Uint8Array): unknown; digest(): Uint8Array } {
  return blake3.create({ context: contextBytes[purpose] });
}

/** Hash of a file's content (also the id of a cached object). */
export const fileHash = (content: Uint8Array): string => blake3Ref('file', content);

/** Git-like modes: regular, executable, symbolic link (whose "content" is its target text). */
export type TreeMode = '100644' | '100755' | '120000';
export const TREE_MODES: readonly TreeMode[] = ['100644', '100755', '120000'];

export interface TreeEntry {
  /** relative to the tree's root, `/`-separated, no `.`/`..`/empty segments */
  path: string;
  mode: TreeMode;
  /** fileHash of the content (of the link target text for 120000) */
  hash: string;
}

/** UTF-8 byte order, so every implementation sorts the same way whatever its string type. */
export function comparePaths(a: string, b: string): number {
  const x = utf8ToBytes(a);
  const y = utf8ToBytes(b);
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}

export class TreeError extends Error {
  readonly code = 'TREE_INVALID';
}

/**
 * The tree hash: BLAKE3 under the `tree` context of JCS({"format":"proofstream.tree/v1","entries":[[path, mode,
 * hash], …]}) with entries sorted by path in UTF-8 byte order. Directories themselves are not entries (like git,
 * an empty directory contributes nothing). Throws TreeError on a malformed or duplicate entry.
 */
export function treeHash(entries: readonly TreeEntry[]): string {
  return blake3Ref('tree', utf8ToBytes(treeCanonical(entries)));
}

/** The exact JCS text treeHash hashes (exposed for the vectors). */
export function treeCanonical(entries: readonly TreeEntry[]): string {
  const sorted = [...entries].sort((a, b) => comparePaths(a.path, b.path));
  for (let i = 0; i < sorted.length; i++) {
    const e = sorted[i]!;
    if (!isTreePath(e.path)) throw new TreeError(`invalid tree path ${JSON.stringify(e.path)}`);
    if (!TREE_MODES.includes(e.mode)) throw new TreeError(`invalid mode ${JSON.stringify(e.mode)} at ${e.path}`);
    if (!BLAKE3_REF.test(e.hash)) throw new TreeError(`invalid hash at ${e.path}`);
    if (i > 0 && sorted[i - 1]!.path === e.path) throw new TreeError(`duplicate tree path ${e.path}`);
  }
  return canonicalize({ format: 'proofstream.tree/v1', entries: sorted.map((e) => [e.path, e.mode, e.hash]) });
}

/** A relative, `/`-separated path without empty, `.` or `..` segments or NUL. */
export function isTreePath(p: string): boolean {
  if (typeof p !== 'string' || p.length === 0 || p.includes('\0') || p.startsWith('/') || p.endsWith('/')) return false;
  return p.split('/').every((s) => s !== '' && s !== '.' && s !== '..');
}
