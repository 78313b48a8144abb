// The source-archive policy of build jobs (src/builds/archive.ts) on real archives made by node-tar: what is refused
// before anything is written, and that an accepted archive unpacks as it was.
import fs from 'node:fs';
import path from 'node:path';
import { create as tarCreate } from 'tar';
import { describe, expect, it } from 'vitest';
import { ArchiveRefused, inspectArchive, unpackSafely } from '../src/builds/archive.js';
import { tempDir } from './helpers/server.js';

const LIMITS = { maxFiles: 100, maxUnpackedBytes: 1_000_000 };

/** Lays out `build(dir)` in a fresh directory and archives `entries` of it (symbolic links archived as links). */
async function archive(build: (dir: string) => void, entries: string[]): Promise<string> {
  const dir = tempDir('ps-arc-');
  build(dir);
  const file = path.join(tempDir('ps-arc-out-'), 'a.tar.gz');
  await tarCreate({ gzip: true, file, cwd: dir, portable: true }, entries);
  return file;
}

async function refusal(file: string): Promise<ArchiveRefused> {
  try {
    await inspectArchive(file, LIMITS);
  } catch (e) {
    if (e instanceof ArchiveRefused) return e;
    throw e;
  }
  throw new Error('the archive was accepted');
}

describe('source archives', () => {
  it('accepts files, directories and a symbolic link that stays inside, and unpacks them as they were', async () => {
    const file = await archive((d) => {
      fs.mkdirSync(path.join(d, 'src/lib'), { recursive: true });
      fs.writeFileSync(path.join(d, 'src/lib/a.txt'), 'A');
      fs.symlinkSync('lib/a.txt', path.join(d, 'src/link'));
    }, ['src']);
    const out = path.join(tempDir('ps-arc-x-'), 'ws');
    const sum = await unpackSafely(file, out, LIMITS);
    expect(sum).toMatchObject({ files: 1, symlinks: 1, bytes: 1 });
    expect(fs.readFileSync(path.join(out, 'src/link'), 'utf8')).toBe('A');
  });

  it('refuses a symbolic link that points outside the tree, or to an absolute path', async () => {
    const up = await archive((d) => fs.symlinkSync('../../etc/passwd', path.join(d, 'l')), ['l']);
    expect((await refusal(up)).message).toMatch(/points outside the archive/);
    const abs = await archive((d) => fs.symlinkSync('/etc/passwd', path.join(d, 'l')), ['l']);
    expect((await refusal(abs)).message).toMatch(/absolute path/);
  });

  it('refuses a link whose target passes through another link (which could point anywhere once unpacked)', async () => {
    // a/b/up -> ..  (is a/, inside) ; esc -> a/b/up/../../..: textually inside, really two levels above the root.
    const file = await archive((d) => {
      fs.mkdirSync(path.join(d, 'a/b'), { recursive: true });
      fs.symlinkSync('..', path.join(d, 'a/b/up'));
      fs.symlinkSync('a/b/up/../../..', path.join(d, 'esc'));
    }, ['a', 'esc']);
    const e = await refusal(file);
    expect(e.reason).toBe('unsafe');
  });

  it('refuses entries lying under a symbolic link', async () => {
    // Made in two archives' worth of steps: node-tar would follow the link when archiving, so the entry is added by name.
    const dir = tempDir('ps-arc-');
    fs.mkdirSync(path.join(dir, 'real'));
    fs.writeFileSync(path.join(dir, 'real/f'), 'x');
    fs.symlinkSync('real', path.join(dir, 'l'));
    const file = path.join(tempDir('ps-arc-out-'), 'a.tar.gz');
    await tarCreate({ gzip: true, file, cwd: dir, portable: true }, ['l', 'l/f']);
    const e = await refusal(file);
    expect(e.message).toMatch(/under a symbolic link/);
  });

  it('refuses hard links', async () => {
    const file = await archive((d) => {
      fs.writeFileSync(path.join(d, 'a'), 'x');
      fs.linkSync(path.join(d, 'a'), path.join(d, 'b'));
    }, ['a', 'b']);
    expect((await refusal(file)).message).toMatch(/Link/);
  });

  it('refuses bytes that are not a tar archive', async () => {
    const file = path.join(tempDir('ps-arc-'), 'x.tar.gz');
    fs.writeFileSync(file, 'this is not an archive at all, just some text that goes on for a while '.repeat(20));
    expect((await refusal(file)).reason).toBe('invalid');
  });
});
