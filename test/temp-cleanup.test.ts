// test/helpers/server.ts: every tempDir() of a test file is removed when the file ends (test/helpers/setup.ts runs
// cleanupTestFile after the file's own afterAll hooks), and a server a test left running is killed first.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupTestFile, spawnListening, tempDir } from './helpers/server.js';

// A directory this file's own afterAll still uses: the shared cleanup runs after it, so it is still there.
let usedUntilTheEnd: string | undefined;
afterAll(() => {
  expect(usedUntilTheEnd && fs.existsSync(usedUntilTheEnd)).toBe(true);
  fs.writeFileSync(path.join(usedUntilTheEnd!, 'still-here'), 'x');
});

describe('cleanupTestFile', () => {
  it('removes every tempDir, contents and all, and kills a listening child still running', async () => {
    const a = tempDir('ps-cleanup-');
    const b = tempDir();
    fs.mkdirSync(path.join(a, 'nested', 'deeper'), { recursive: true });
    fs.writeFileSync(path.join(a, 'nested', 'deeper', 'file.db'), 'data');
    const child = await spawnListening('dummy', ['-e', "console.log('dummy listening on http://127.0.0.1:1'); setInterval(() => {}, 1000)"]);
    expect(child.proc.exitCode).toBe(null);

    await cleanupTestFile();

    expect(fs.existsSync(a)).toBe(false);
    expect(fs.existsSync(b)).toBe(false);
    expect(child.proc.signalCode).toBe('SIGKILL');
    usedUntilTheEnd = tempDir('ps-cleanup-late-');
  });
});
