// A verify worker that dies for a reason other than its memory limit (seen once under heavy load) must not turn into
// a 500 about the input: the request was not verified, so it is a retryable 503 VERIFY_BUSY naming the reason, and
// the pool replaces the worker so later verifies still run.
import { afterEach, describe, expect, it } from 'vitest';
import { ApiError } from '../src/ledger/errors.js';
import { VerifyPool } from '../src/http/verify-pool.js';

const base = {
  verifyWorkers: 1,
  verifyQueue: 2,
  verifyMaxInflightBytes: 1 << 20,
  verifyHeapMb: 64,
  verifyTimeoutMs: 10_000,
  verifyMaxDepth: 64,
  verifyMaxItems: 1000,
  verifyMaxValues: 10_000,
  serverPolicy: '',
};

// Each worker answers `started`, then fails as the test says; a body of "ok" is answered normally (the replacement
// worker is the same code, so a later "ok" proves the pool spawned a new one and goes on).
const workerCode = (failure: string) => `
  const { parentPort } = require('node:worker_threads');
  parentPort.on('message', (m) => {
    parentPort.postMessage({ id: m.id, started: true });
    const text = Buffer.from(m.body, 0, m.length).toString('utf8');
    if (text === 'ok') return parentPort.postMessage({ id: m.id, ok: true, report: '{"ok":true}' });
    ${failure}
  });`;

let pool: VerifyPool | undefined;
afterEach(async () => {
  await pool?.close();
  pool = undefined;
});

const verify = (p: VerifyPool, text: string) => {
  const a = p.admit(text.length);
  const bytes = new TextEncoder().encode(text);
  return a.verify('v2', bytes.buffer, bytes.length).finally(() => a.release());
};

const refusal = async (pr: Promise<unknown>): Promise<ApiError> => {
  try {
    await pr;
  } catch (e) {
    return e as ApiError;
  }
  throw new Error('expected a refusal');
};

describe('a verify worker lost mid-request', () => {
  it.each([
    ['throws outside any handler (worker "error")', `setImmediate(() => { throw new Error('boom'); });`, 'worker_failed'],
    ['exits (worker "exit")', `setImmediate(() => process.exit(7));`, 'worker_stopped'],
  ])('%s: 503 VERIFY_BUSY with the reason, never INTERNAL_ERROR; the next verify runs on a new worker', async (_what, failure, reason) => {
    pool = new VerifyPool({ ...base, workerCode: workerCode(failure) });
    const e = await refusal(verify(pool, 'crash'));
    expect(e).toBeInstanceOf(ApiError);
    expect([e.code, e.status, (e.details as { reason?: string }).reason]).toEqual(['VERIFY_BUSY', 503, reason]);
    expect(await verify(pool, 'ok')).toBe('{"ok":true}');
  });
});
