import type { KeyObject } from 'node:crypto';
import { MIN_POOLED, type SignPool } from '../../src/ledger/sign-pool.js';

/** Waits until the pool's threads have started and signed a job (they start on first use, asynchronously). */
export async function warmUp(pool: SignPool, key: KeyObject, kid: string): Promise<void> {
  const msgs = Array.from({ length: MIN_POOLED }, (_, i) => new Uint8Array([i]));
  for (let i = 0; i < 300 && pool.stats.pooledJobs === 0; i++) {
    pool.signAll(key, kid, msgs);
    if (pool.stats.pooledJobs === 0) await new Promise((r) => setTimeout(r, 20));
  }
  if (pool.stats.pooledJobs === 0) throw new Error('signing threads did not start');
}
