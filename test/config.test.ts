// Settings that are periods refuse 0: PROOFSTREAM_ANCHOR_EPOCH_MS=0 became setInterval(…, 0), a busy loop that
// starved the event loop; a window age of 0 asked the sealer to run on every turn.
import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';

describe('period settings have floors', () => {
  it.each([
    ['PROOFSTREAM_ANCHOR_EPOCH_MS', '0', /PROOFSTREAM_ANCHOR_EPOCH_MS must be at least 100/],
    ['PROOFSTREAM_ANCHOR_EPOCH_MS', '99', /at least 100, got 99/],
    ['PROOFSTREAM_WINDOW_MAX_AGE_MS', '0', /PROOFSTREAM_WINDOW_MAX_AGE_MS must be at least 10/],
    // beyond 2^31−1 ms Node fires a timer at once: the sealer or the anchorer would run on every turn
    ['PROOFSTREAM_WINDOW_MAX_AGE_MS', '2147483648', /PROOFSTREAM_WINDOW_MAX_AGE_MS must be at most 2147483647/],
    ['PROOFSTREAM_ANCHOR_EPOCH_MS', '99999999999', /PROOFSTREAM_ANCHOR_EPOCH_MS must be at most 2147483647/],
  ])('%s=%s is refused at start', (name, value, message) => {
    expect(() => loadConfig({ [name]: value })).toThrow(message);
  });

  it('the floors themselves and the defaults are accepted', () => {
    const c = loadConfig({ PROOFSTREAM_ANCHOR_EPOCH_MS: '100', PROOFSTREAM_WINDOW_MAX_AGE_MS: '10' });
    expect([c.anchorEpochMs, c.windowMaxAgeMs]).toEqual([100, 10]);
    const top = loadConfig({ PROOFSTREAM_ANCHOR_EPOCH_MS: '2147483647', PROOFSTREAM_WINDOW_MAX_AGE_MS: '2147483647' });
    expect([top.anchorEpochMs, top.windowMaxAgeMs]).toEqual([2147483647, 2147483647]);
    const d = loadConfig({});
    expect([d.anchorEpochMs, d.windowMaxAgeMs]).toEqual([60_000, 1000]);
  });
});

describe('PROOFSTREAM_SIGN_THREADS', () => {
  it('defaults to the CPUs this process may use beyond the first, at most 3; takes 0..8; refuses the rest', () => {
    expect(loadConfig({}).signThreads).toBe(Math.max(0, Math.min(3, os.availableParallelism() - 1)));
    expect([0, 1, 8].map((n) => loadConfig({ PROOFSTREAM_SIGN_THREADS: String(n) }).signThreads)).toEqual([0, 1, 8]);
    expect(() => loadConfig({ PROOFSTREAM_SIGN_THREADS: '9' })).toThrow(/PROOFSTREAM_SIGN_THREADS must be at most 8 .*got 9/);
    expect(() => loadConfig({ PROOFSTREAM_SIGN_THREADS: '-1' })).toThrow(/PROOFSTREAM_SIGN_THREADS must be a non-negative integer/);
    expect(() => loadConfig({ PROOFSTREAM_SIGN_THREADS: 'two' })).toThrow(/PROOFSTREAM_SIGN_THREADS must be a non-negative integer/);
  });
});
