// Source archives of build jobs: checked entry by entry before anything is written, then unpacked with node-tar.
// The check is the policy (docs/builds.md "Source archives"); node-tar's own guards (no `..`, no absolute paths, no
// writing through a symbolic link) stay on underneath it as a second line.
import fs from 'node:fs';
import path from 'node:path';
import { extract, Parser, type ReadEntry } from 'tar';

export interface ArchiveLimits {
  /** most entries (files, directories, symbolic links) */
  maxFiles: number;
  /** most bytes of file content once unpacked */
  maxUnpackedBytes: number;
}

/** Why an archive is refused: `too_large` (413) or `unsafe` / `invalid` (422); `entry` names the offending path. */
export class ArchiveRefused extends Error {
  constructor(
    readonly reason: 'too_large' | 'unsafe' | 'invalid',
    message: string,
    readonly entry: string | null = null,
  ) {
    super(message);
  }
}

export interface ArchiveSummary {
  files: number;
  directories: number;
  symlinks: number;
  bytes: number;
}

const FILE_TYPES = new Set(['File', 'OldFile', 'ContiguousFile']);

/** The entry's path as segments, or a reason it is unsafe: absolute, a drive letter, `..`, NUL, empty. */
function segmentsOf(p: string): string[] | string {
  if (p.includes('\0')) return 'contains a NUL byte';
  if (p.startsWith('/') || p.startsWith('\\')) return 'is an absolute path';
  if (/^[A-Za-z]:/.test(p)) return 'starts with a drive letter';
  const segs = p.split(/[\\/]+/).filter((s) => s !== '' && s !== '.');
  if (segs.includes('..')) return 'contains a `..` segment';
  return segs;
}

/**
 * Reads the whole archive without writing anything and refuses it at the first entry that is unsafe (absolute path,
 * `..`, a hard link, a device or FIFO, a symbolic link pointing outside the tree or through another symbolic link,
 * a path under a symbolic link) or once it holds more entries or bytes than the limits. Reading stops at the first
 * refusal, so a compression bomb costs at most the limit's worth of inflating.
 */
export function inspectArchive(file: string, limits: ArchiveLimits): Promise<ArchiveSummary> {
  return new Promise((resolve, reject) => {
    const sum: ArchiveSummary = { files: 0, directories: 0, symlinks: 0, bytes: 0 };
    const symlinks = new Map<string, string>(); // entry path → link target
    const paths: string[] = [];
    let settled = false;
    const rs = fs.createReadStream(file);
    const fail = (e: Error) => {
      if (settled) return;
      settled = true;
      rs.destroy();
      reject(e);
    };
    const onEntry = (e: ReadEntry) => {
      e.resume();
      if (settled) return;
      const segs = segmentsOf(e.path);
      if (typeof segs === 'string') return fail(new ArchiveRefused('unsafe', `archive entry ${JSON.stringify(e.path)} ${segs}`, e.path));
      const rel = segs.join('/');
      if (sum.files + sum.directories + sum.symlinks + 1 > limits.maxFiles) {
        return fail(new ArchiveRefused('too_large', `the archive holds more than ${limits.maxFiles} entries (PROOFSTREAM_BUILD_MAX_FILES)`, e.path));
      }
      if (FILE_TYPES.has(e.type)) {
        sum.files++;
        sum.bytes += e.size ?? 0;
        if (sum.bytes > limits.maxUnpackedBytes) {
          return fail(new ArchiveRefused('too_large', `the archive unpacks to more than ${limits.maxUnpackedBytes} bytes (PROOFSTREAM_BUILD_MAX_UNPACKED_BYTES)`, e.path));
        }
      } else if (e.type === 'Directory') {
        sum.directories++;
      } else if (e.type === 'SymbolicLink') {
        sum.symlinks++;
        const target = e.linkpath ?? '';
        if (target === '' || target.startsWith('/') || target.startsWith('\\') || /^[A-Za-z]:/.test(target) || target.includes('\0')) {
          return fail(new ArchiveRefused('unsafe', `symbolic link ${JSON.stringify(e.path)} points to an absolute path`, e.path));
        }
        symlinks.set(rel, target);
      } else {
        // Hard links, devices, FIFOs: nothing a build's sources need, and each a way out of the tree or into the host.
        return fail(new ArchiveRefused('unsafe', `archive entry ${JSON.stringify(e.path)} is a ${e.type}; only files, directories and symbolic links are accepted`, e.path));
      }
      paths.push(rel);
    };
    const parser = new Parser({ strict: true, onReadEntry: onEntry });
    parser.on('error', (err: Error) => fail(new ArchiveRefused('invalid', `not a readable .tar.gz archive: ${err.message}`)));
    parser.on('end', () => {
      if (settled) return;
      // Once every symbolic link is known: nothing may lie under one, and no target may leave the tree or pass through one.
      for (const p of paths) {
        const segs = p.split('/');
        for (let i = 1; i < segs.length; i++) {
          if (symlinks.has(segs.slice(0, i).join('/'))) {
            return fail(new ArchiveRefused('unsafe', `archive entry ${JSON.stringify(p)} lies under a symbolic link`, p));
          }
        }
      }
      for (const [p, target] of symlinks) {
        const stack = p.split('/').slice(0, -1);
        for (const seg of target.split(/[\\/]+/)) {
          if (seg === '' || seg === '.') continue;
          if (seg === '..') {
            if (stack.length === 0) return fail(new ArchiveRefused('unsafe', `symbolic link ${JSON.stringify(p)} points outside the archive`, p));
            stack.pop();
          } else {
            stack.push(seg);
            if (symlinks.has(stack.join('/')) && stack.join('/') !== p) {
              return fail(new ArchiveRefused('unsafe', `symbolic link ${JSON.stringify(p)} points through another symbolic link`, p));
            }
          }
        }
      }
      settled = true;
      resolve(sum);
    });
    rs.on('error', (err) => fail(err));
    rs.pipe(parser as unknown as NodeJS.WritableStream);
  });
}

/** Unpacks a checked archive into `dir` (which must exist and be empty): no owners, no absolute paths, strict. */
export async function unpackArchive(file: string, dir: string): Promise<void> {
  await extract({ file, cwd: dir, strict: true, preservePaths: false, preserveOwner: false, noMtime: true });
}

/** Checks, then unpacks: nothing is written unless every entry passed. */
export async function unpackSafely(file: string, dir: string, limits: ArchiveLimits): Promise<ArchiveSummary> {
  const sum = await inspectArchive(file, limits);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  await unpackArchive(file, dir);
  return sum;
}

export const relativeInside = (root: string, p: string): boolean => {
  const r = path.relative(root, p);
  return r === '' || (!r.startsWith('..') && !path.isAbsolute(r));
};
