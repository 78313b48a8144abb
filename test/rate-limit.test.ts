// Rate-limit tiers and their headers (issue #14, docs/api.md "Rate limits"), against a real server whose tiers the
// environment shrinks (PROOFSTREAM_RATE_LIMIT_TIER_*): keys of each tier, made by `proofstream keys create --tier` and
// POST /v2/admin/keys, see their own numbers in X-RateLimit-* and RateLimit-Policy / RateLimit, count down to a 429
// RATE_LIMIT_EXCEEDED with Retry-After, and are full again at the announced reset. Plus the pieces without a server:
// the bucket map's bound, route groups, the tier setting's syntax.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Context } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, parseRateSpec } from '../src/config.js';
import { KeyRateLimiter, policyOf, TokenBuckets } from '../src/http/middleware/rate-limit.js';
import { Tenancy, type Principal } from '../src/ledger/tenancy.js';
import { Store } from '../src/store/index.js';
import { client, idemKey, ROOT, runCli, startServer, tempDir, type RunningServer } from './helpers/server.js';
import { rewindBefore } from './helpers/migrations.js';
import { sleep } from './helpers/wait.js';

type Res = Awaited<ReturnType<ReturnType<typeof client>>>;

let srv: RunningServer;
let boot: ReturnType<typeof client>;
let sid: string;

const ENV = {
  // 5 per minute: no token comes back during a test's few requests (one every 12 s), so the countdown is exact.
  PROOFSTREAM_RATE_LIMIT_TIER_FREE: '5/min,burst=5',
  // 2 at once, one back per second: full again within 2 s, so the reset can be waited for.
  PROOFSTREAM_RATE_LIMIT_TIER_PROFESSIONAL: '60/min,burst=2',
  // enterprise keeps the seed's numbers: 10,000/min, burst 20,000
};

async function cliKey(tier?: string): Promise<{ key: string; tier: string }> {
  const args = ['keys', 'create', '--tenant', 'default', '--system', 'rl', '--tenant-wide', '--json']; // tenant-wide: the stream is the bootstrap key's
  if (tier) args.push('--tier', tier);
  const r = await runCli(args, { PROOFSTREAM_DATA_DIR: srv.dataDir });
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

const rate = (r: Res) => ({
  limit: r.headers.get('x-ratelimit-limit'),
  remaining: r.headers.get('x-ratelimit-remaining'),
  reset: r.headers.get('x-ratelimit-reset'),
  policy: r.headers.get('ratelimit-policy'),
  rateLimit: r.headers.get('ratelimit'),
});

/** RateLimit: "<name>";r=<remaining>;t=<seconds> */
function parseRateLimit(v: string | null): { name: string; r: number; t: number } {
  const m = /^"([a-z]+)";r=(\d+);t=(\d+)$/.exec(v ?? '');
  expect(m, `RateLimit: ${v}`).not.toBeNull();
  return { name: m![1]!, r: Number(m![2]), t: Number(m![3]) };
}

const append = (c: ReturnType<typeof client>, body: unknown) => c('POST', `/v2/streams/${sid}/events`, body, { 'idempotency-key': idemKey() });

beforeAll(async () => {
  srv = await startServer({ env: ENV });
  boot = client(srv.url, srv.key);
  const s = await boot('POST', '/v2/streams', { use_case: 'rate' });
  expect(s.status).toBe(201);
  sid = s.body.stream_id;
});
afterAll(async () => {
  await srv?.stop();
});

describe('per-key tiers and their headers', () => {
  it('a free key counts down on every kind of answer, then gets 429 RATE_LIMIT_EXCEEDED with Retry-After and details', async () => {
    const { key, tier } = await cliKey('free');
    expect(tier).toBe('free');
    const c = client(srv.url, key);
    const nowS = Math.floor(Date.now() / 1000);
    // Success and error answers, on the generic chain and on the fused append route: each is charged and says so.
    const answers = [
      await c('GET', '/v2/streams'), // 200
      await c('GET', '/v2/streams/str_doesnotexist'), // 404
      await append(c, { source_ref: 'r', event_type: 't', payload: 1 }), // 201, fused route
      await append(c, { event_type: 't', payload: 1 }), // 422, fused route
      await c('GET', `/v2/streams/${sid}`), // 200
    ];
    expect(answers.map((a) => a.status)).toEqual([200, 404, 201, 422, 200]);
    answers.forEach((a, i) => {
      const h = rate(a);
      expect(h.limit).toBe('5');
      expect(h.remaining, `answer ${i}`).toBe(String(4 - i));
      expect(h.policy).toBe('"free";q=5;w=60');
      const rl = parseRateLimit(h.rateLimit);
      expect(rl).toMatchObject({ name: 'free', r: 4 - i });
      // Full again (i+1 tokens back at 5/min) no later than 12 s per token spent, and not before now.
      expect(Number(h.reset)).toBeGreaterThanOrEqual(nowS);
      expect(Number(h.reset)).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000) + 12 * (i + 1));
      expect(rl.t).toBeLessThanOrEqual(12 * (i + 1));
    });

    for (const refused of [await c('GET', '/v2/streams'), await append(c, { source_ref: 'r', event_type: 't', payload: 2 })]) {
      expect(refused.status).toBe(429);
      expect(Object.keys(refused.body)).toEqual(['error']);
      const e = refused.body.error;
      expect(e.code).toBe('RATE_LIMIT_EXCEEDED');
      expect(e.request_id).toBe(refused.headers.get('x-request-id'));
      const retryAfter = Number(refused.headers.get('retry-after'));
      expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 12).toBe(true);
      expect(e.details).toEqual({
        limit: 5,
        remaining: 0,
        reset: Number(refused.headers.get('x-ratelimit-reset')),
        retry_after_s: retryAfter,
        tier: 'free',
        policy: 'free',
      });
      expect(rate(refused)).toMatchObject({ limit: '5', remaining: '0', policy: '"free";q=5;w=60' });
      expect(parseRateLimit(refused.headers.get('ratelimit')).r).toBe(0);
    }
    // The refused append appended nothing: the stream holds only the one accepted event.
    expect((await boot('GET', `/v2/streams/${sid}`)).body.head_seq_no).toBe(1);
  });

  it('keys of different tiers get different limits, and one key running dry leaves the others alone', async () => {
    const pro = client(srv.url, (await cliKey('professional')).key);
    const ent = client(srv.url, (await cliKey('enterprise')).key);
    const p = await pro('GET', '/v2/streams');
    const e = await ent('GET', '/v2/streams');
    expect(rate(p)).toMatchObject({ limit: '2', remaining: '1', policy: '"professional";q=2;w=2' });
    expect(parseRateLimit(p.headers.get('ratelimit')).name).toBe('professional');
    // The seed's enterprise tier: 10,000/min sustained (q/w), 20,000 at once (q).
    expect(rate(e)).toMatchObject({ limit: '20000', remaining: '19999', policy: '"enterprise";q=20000;w=120' });
  });

  it('keys without --tier and the bootstrap key are unlimited: no 429 and no rate fields', async () => {
    const made = await cliKey();
    expect(made.tier).toBe('unlimited');
    for (const c of [client(srv.url, made.key), boot]) {
      const rs: Res[] = [];
      for (let i = 0; i < 12; i++) rs.push(await c('GET', '/v2/streams')); // over the free (5) and professional (2) bursts
      expect(rs.map((r) => r.status)).toEqual(Array(12).fill(200));
      for (const r of rs) expect(rate(r)).toEqual({ limit: null, remaining: null, reset: null, policy: null, rateLimit: null });
    }
  });

  it('the bucket is full again at X-RateLimit-Reset', async () => {
    const c = client(srv.url, (await cliKey('professional')).key);
    let last: Res | undefined;
    for (let i = 0; i < 10 && last?.status !== 429; i++) last = await c('GET', '/v2/streams');
    expect(last!.status).toBe(429);
    const reset = Number(last!.headers.get('x-ratelimit-reset'));
    // Wait (by the wall clock, not a fixed time) until the announced moment has passed.
    while (Date.now() < reset * 1000) await sleep(Math.min(200, reset * 1000 - Date.now() + 1));
    const full = await c('GET', '/v2/streams');
    expect(full.status).toBe(200);
    // Full (2) minus this request.
    expect(rate(full)).toMatchObject({ limit: '2', remaining: '1' });
  });

  it('failed authentication is charged per client address, and says so', async () => {
    const r = await client(srv.url, 'ps_live_' + 'Q'.repeat(43))('GET', '/v2/streams');
    expect(r.status).toBe(401);
    // Without the operator's cap, the free tier's numbers (here shrunk to 5/min).
    expect(rate(r)).toMatchObject({ limit: '5', remaining: '4', policy: '"auth";q=5;w=60' });
  });

  it('the unauthenticated verify routes carry their per-address policy', async () => {
    const r = await client(srv.url)('POST', '/v2/verify', { object: { nothing: true } });
    expect(r.status).toBe(200);
    // PROOFSTREAM_VERIFY_RATE_LIMIT_RPS=2 / _BURST=20 (defaults): 20 at once, full again in 10 s.
    expect(rate(r)).toMatchObject({ limit: '20', policy: '"verify";q=20;w=10' });
    expect(Number(r.headers.get('x-ratelimit-remaining'))).toBeLessThanOrEqual(19);
  });
});

describe('the tier of a key: keys create --tier, keys list, POST /v2/admin/keys', () => {
  it('keys create refuses an unknown tier as a usage error, before any database is touched', async () => {
    const r = await runCli(['keys', 'create', '--tenant', 't', '--system', 's', '--tier', 'gold', '--create']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--tier: unknown tier "gold" (valid tiers: free, professional, enterprise, unlimited)');
    expect(r.stderr).toContain('usage:');
    expect(r.stdout).toBe('');
  });

  it('keys list shows each key\'s tier (table and JSON)', async () => {
    const made = await cliKey('enterprise');
    const env = { PROOFSTREAM_DATA_DIR: srv.dataDir };
    const json = await runCli(['keys', 'list', '--json'], env);
    expect(json.code).toBe(0);
    const keys = JSON.parse(json.stdout).keys as { prefix: string; tier: string; bootstrap: boolean }[];
    expect(keys.find((k) => made.key.startsWith(k.prefix) && k.tier === 'enterprise')).toBeDefined();
    expect(keys.find((k) => k.bootstrap)?.tier).toBe('unlimited');
    const table = await runCli(['keys', 'list'], env);
    const [head, ...rows] = table.stdout.trim().split('\n');
    expect(head).toMatch(/\bSCOPES\s+TIER\s+PREFIX\b/);
    expect(rows.some((l) => /\senterprise\s/.test(l))).toBe(true);
  });

  it('the admin route takes a tier, lists it, refuses an unknown one (422, nothing created), and the key gets its limits', async () => {
    const made = await boot('POST', '/v2/admin/keys', { system: 'rl-admin', tier: 'free' });
    expect(made.status, made.text).toBe(201);
    expect(made.body.api_key.tier).toBe('free');
    const before = (await boot('GET', '/v2/admin/keys')).body.keys;
    expect(before.find((k: { id: string }) => k.id === made.body.api_key.id).tier).toBe('free');

    const bad = await boot('POST', '/v2/admin/keys', { system: 'rl-admin', tier: 'gold' });
    expect(bad.status).toBe(422);
    expect(bad.body.error.code).toBe('VALIDATION_ERROR');
    expect((await boot('GET', '/v2/admin/keys')).body.keys.length).toBe(before.length);

    const plain = await boot('POST', '/v2/admin/keys', { system: 'rl-admin' });
    expect(plain.body.api_key.tier).toBe('unlimited');

    const r = await client(srv.url, made.body.key)('GET', '/v2/streams');
    expect(rate(r)).toMatchObject({ limit: '5', remaining: '4', policy: '"free";q=5;w=60' });
  });
});

describe('upgrade', () => {
  it('keys made before tiers existed are unlimited after migration 0007 (a real SQLite file, migrated at open)', () => {
    const file = path.join(tempDir('ps-rate-upgrade-'), 'p.db');
    let store = Store.open(file);
    let id: string;
    try {
      id = new Tenancy(store).createKey('acme', 'writer', { tier: 'free' }).row.id;
    } finally {
      store.close();
    }
    // Back to the schema before 0007 (no tier column), 0007 and every later migration not yet applied.
    const db = new Database(file);
    try {
      rewindBefore(db, '0007_');
    } finally {
      db.close();
    }
    store = Store.open(file);
    try {
      expect(new Tenancy(store).describeKey(id)?.tier).toBe('unlimited');
    } finally {
      store.close();
    }
  });
});

describe('without a server', () => {
  const ctx = { header: () => undefined } as unknown as Context;

  it('per-address buckets stay within their bound however many addresses come', () => {
    const b = new TokenBuckets(policyOf('t', 1, 5)!, 1000);
    for (let i = 0; i < 20_000; i++) b.take(ctx, `addr:10.0.${i >> 8}.${i & 255}`, null);
    expect(b.size).toBeLessThanOrEqual(1000);
    expect(b.size).toBeGreaterThan(0);
  });

  it('a route group gives unlimited keys its own default; keys with a tier keep their tier everywhere', () => {
    const limiter = new KeyRateLimiter({
      tiers: { free: { requests: 100, windowS: 60, burst: 200 } },
      capRps: 0,
      capBurst: 0,
      maxAddressBuckets: 10,
    });
    const cicd = limiter.forGroup('cicd', { requests: 100, windowS: 60, burst: 100 });
    expect(limiter.forGroup('cicd', { requests: 1, windowS: 1, burst: 1 })).toBe(cicd); // one per name
    const unlimited: Principal = { keyId: 'key_u', tenantId: 't', systemId: 's', scopes: new Set(), tier: 'unlimited' };
    const free: Principal = { ...unlimited, keyId: 'key_f', tier: 'free' };
    expect(limiter.take(ctx, unlimited)).toBeUndefined();
    expect(cicd.take(ctx, unlimited)).toMatchObject({ remaining: 99, policy: { name: 'cicd', policyHeader: '"cicd";q=100;w=60' } });
    expect(cicd.take(ctx, free)).toMatchObject({ remaining: 199, policy: { name: 'free' } });
    expect(limiter.take(ctx, free)).toMatchObject({ remaining: 198 }); // the same bucket
  });

  it('the operator cap (PROOFSTREAM_RATE_LIMIT_RPS/_BURST) bounds every tier', () => {
    const limiter = new KeyRateLimiter({
      tiers: { enterprise: { requests: 10_000, windowS: 60, burst: 20_000 } },
      capRps: 10,
      capBurst: 50,
      maxAddressBuckets: 10,
    });
    const p: Principal = { keyId: 'key_e', tenantId: 't', systemId: 's', scopes: new Set(), tier: 'enterprise' };
    expect(limiter.take(ctx, p)).toMatchObject({ remaining: 49, policy: { name: 'enterprise', policyHeader: '"enterprise";q=50;w=5' } });
    expect(limiter.take(ctx, { ...p, keyId: 'key_u', tier: 'unlimited' })?.policy.policyHeader).toBe('"unlimited";q=50;w=5');
  });

  it('PROOFSTREAM_RATE_LIMIT_TIER_* syntax: n/s|min|h[,burst=m]; anything else stops the start', () => {
    expect(parseRateSpec('X', '100/min,burst=200')).toEqual({ requests: 100, windowS: 60, burst: 200 });
    expect(parseRateSpec('X', '5/s')).toEqual({ requests: 5, windowS: 1, burst: 5 });
    expect(parseRateSpec('X', '3600/h, burst=10')).toEqual({ requests: 3600, windowS: 3600, burst: 10 });
    for (const bad of ['100', '0/min', '100/day', '100/min,burst=0', '100/min;burst=2', '-1/s']) {
      expect(() => parseRateSpec('X', bad), bad).toThrow(/X must look like 100\/min,burst=200/);
    }
    expect(() => loadConfig({ PROOFSTREAM_RATE_LIMIT_TIER_PROFESSIONAL: 'lots' })).toThrow(/PROOFSTREAM_RATE_LIMIT_TIER_PROFESSIONAL/);
    expect(loadConfig({ PROOFSTREAM_RATE_LIMIT_MAX_ADDRESSES: '7' }).rateLimitMaxAddresses).toBe(7);
    expect(loadConfig({}).rateLimitMaxAddresses).toBe(100_000);
    expect(loadConfig({}).rateLimitTiers).toEqual({
      free: { requests: 100, windowS: 60, burst: 200 },
      professional: { requests: 1000, windowS: 60, burst: 2000 },
      enterprise: { requests: 10_000, windowS: 60, burst: 20_000 },
    });
  });
});
