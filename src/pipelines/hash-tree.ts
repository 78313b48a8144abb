// Hashing a step's declared inputs and outputs on disk (docs/protocol.md §14): a file by content, a directory as its
// tree. Symbolic links inside a tree are recorded (mode 120000, hash of the target text), never followed; a
// declared path may pass through links only while it stays inside the workspace. Bounded in files and bytes.
import fs from 'node:fs';
import path from 'node:path';
import { bytesToHex, utf8ToBytes } from '../protocol/bytes.js';
import { blake3Hasher, fileHash, treeHash, type TreeEntry, type TreeMode } from '../protocol/blake3-tree.js';

export interface HashLimits {
  /** most entries (files, links and directories) under one declared path */
  maxFiles: number;
  /** most content bytes under one declared path */
  maxBytes: number;
}
export const DEFAULT_HASH_LIMITS: HashLimits = { maxFiles: 100_000, maxBytes: 4 * 1024 ** 3 };

export class HashTreeError extends Error {
  constructor(
    readonly code: 'PATH_NOT_FOUND' | 'PATH_OUTSIDE_WORKSPACE' | 'PATH_KIND' | 'HASH_LIMIT' | 'UNSUPPORTED_FILE',
    message: string,
  ) {
    super(message);
  }
}

/** One file (or link) under a declared path; `path` is relative to it ('' when the declared path is the file). */
export interface HashedFile { path: string; abs: string; mode: TreeMode; hash: string; size: number }

export interface HashedPath {
  kind: 'file' | 'tree';
  /** 'blake3:<hex>': fileHash for a file, treeHash for a directory */
  hash: string;
  files: HashedFile[];
}

/** Real path of the workspace, resolved once per call so a link to it is treated as inside. */
function inside(root: string, p: string): boolean {
  const rel = path.relative(root, p);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

const CHUNK = 1 << 20;

/** Streams a file through the `file` hasher (async reads: a large file never blocks the event loop for long). */
export async function hashFile(abs: string): Promise<{ hash: string; size: number }> {
  const h = blake3Hasher('file');
  const fd = await fs.promises.open(abs, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  try {
    const buf = Buffer.allocUnsafe(CHUNK);
    let size = 0;
    for (;;) {
      const { bytesRead } = await fd.read(buf, 0, CHUNK, null);
      if (bytesRead === 0) break;
      h.update(buf.subarray(0, bytesRead));
      size += bytesRead;
    }
    return { hash: `blake3:${bytesToHex(h.digest())}`, size };
  } finally {
    await fd.close();
  }
}

const modeOf = (st: fs.Stats): TreeMode => (st.isSymbolicLink() ? '120000' : st.mode & 0o111 ? '100755' : '100644');

/**
 * Hashes `declared` (a config path; a trailing `/` requires a directory) under `workspace`. Throws HashTreeError.
 */
export async function hashDeclaredPath(workspace: string, declared: string, limits: HashLimits = DEFAULT_HASH_LIMITS): Promise<HashedPath> {
  const root = await fs.promises.realpath(workspace);
  const wantDir = declared.endsWith('/');
  const rel = wantDir ? declared.slice(0, -1) : declared;
  let real: string;
  try {
    real = await fs.promises.realpath(path.join(root, rel));
  } catch {
    throw new HashTreeError('PATH_NOT_FOUND', `${declared}: no such file or directory in the workspace`);
  }
  if (!inside(root, real)) throw new HashTreeError('PATH_OUTSIDE_WORKSPACE', `${declared}: resolves outside the workspace`);
  const st = await fs.promises.stat(real);
  if (st.isFile()) {
    if (wantDir) throw new HashTreeError('PATH_KIND', `${declared}: is a file, not a directory`);
    if (st.size > limits.maxBytes) throw new HashTreeError('HASH_LIMIT', `${declared}: larger than ${limits.maxBytes} bytes`);
    const { hash, size } = await hashFile(real);
    return { kind: 'file', hash, files: [{ path: '', abs: real, mode: modeOf(st), hash, size }] };
  }
  if (!st.isDirectory()) throw new HashTreeError('UNSUPPORTED_FILE', `${declared}: not a regular file or directory`);

  const files: HashedFile[] = [];
  const entries: TreeEntry[] = [];
  let bytes = 0;
  let seen = 0;
  const stack: string[] = [''];
  while (stack.length > 0) {
    const sub = stack.pop()!;
    const dir = sub === '' ? real : path.join(real, sub);
    const list = await fs.promises.readdir(dir, { withFileTypes: true });
    for (const d of list) {
      const entryRel = sub === '' ? d.name : `${sub}/${d.name}`;
      const abs = path.join(dir, d.name);
      // Directories count too: a tree of empty directories must not be walkable without bound.
      if (++seen > limits.maxFiles) throw new HashTreeError('HASH_LIMIT', `${declared}: more than ${limits.maxFiles} entries`);
      if (d.isDirectory()) {
        stack.push(entryRel);
        continue;
      }
      let hash: string;
      let size: number;
      let mode: TreeMode;
      if (d.isSymbolicLink()) {
        const target = await fs.promises.readlink(abs);
        const t = utf8ToBytes(target);
        hash = fileHash(t);
        size = t.length;
        mode = '120000';
      } else if (d.isFile()) {
        const fst = await fs.promises.lstat(abs);
        bytes += fst.size;
        if (bytes > limits.maxBytes) throw new HashTreeError('HASH_LIMIT', `${declared}: more than ${limits.maxBytes} bytes`);
        ({ hash, size } = await hashFile(abs));
        mode = modeOf(fst);
      } else {
        throw new HashTreeError('UNSUPPORTED_FILE', `${declared}: ${entryRel} is not a regular file, directory or link`);
      }
      entries.push({ path: entryRel, mode, hash });
      files.push({ path: entryRel, abs, mode, hash, size });
    }
  }
  return { kind: 'tree', hash: treeHash(entries), files };
}
