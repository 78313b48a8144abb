// Key lifecycle against a real server process and real CLI runs: keys are listed without secrets, a revocation by
// another process is refused on the very next request (not after the cache TTL), keys expire (401 saying so), the
// admin routes need the admin scope, and a key acts on its own system's streams unless made tenant-wide.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashApiKey } from '../src/ledger/tenancy.js';
import { client, idemKey, runCli, startServer, tempDir, type RunningServer } from './helpers/server.js';
import { openLedgerDb } from './helpers/pg-mode.js';

const dirs: string[] = [];
const dir = (prefix: string) => {
  const d = tempDir(prefix);
  dirs.push(d);
  return d;
};

let srv: RunningServer;
let env: { PROOFSTREAM_DATA_DIR: string };
beforeAll(async () => {
  const dataDir = dir('ps-keylife-');
  env = { PROOFSTREAM_DATA_DIR: dataDir };
  srv = await startServer({ dataDir });
}, 60_000);
afterAll(async () => {
  await srv?.stop();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

async function createKey(args: string[]): Promise<{ key: string; key_id: string; expires_at: string | null; tenant_wide: boolean; scopes: string[] }> {
  const r = await runCli(['keys', 'create', '--json', ...args], env);
  // the one line every command that opens the database prints: which one
  expect(r.stderr).toMatch(/^proofstream: database \S+\n$/);
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout);
}

/** Another connection to the server's database, as an operator's tool would open it. */
function sql(statement: string, ...params: unknown[]): void {
  const db = openLedgerDb(env.PROOFSTREAM_DATA_DIR, 'proofstream.db');
  try {
    db.prepare(statement).run(...params);
  } finally {
    db.close();
  }
}

const streamsWith = (key: string) => client(srv.url, key)('GET', '/v2/streams');

describe('keys list', () => {
  it('shows every created key with its fields, never the key or its hash', async () => {
    const a = await createKey(['--tenant', 'list-t', '--system', 'alpha', '--scopes', 'read,audit', '--expires-in', '12h']);
    const b = await createKey(['--tenant', 'list-t', '--system', 'beta', '--tenant-wide']);
    const other = await createKey(['--tenant', 'list-other', '--system', 'alpha']);

    const r = await runCli(['keys', 'list', '--tenant', 'list-t', '--json'], env);
    expect(r.code).toBe(0);
    const keys = JSON.parse(r.stdout).keys as Record<string, unknown>[];
    expect(keys.map((k) => k.id)).toEqual([a.key_id, b.key_id]);
    expect(keys[0]).toMatchObject({
      tenant: 'list-t',
      system: 'alpha',
      scopes: ['read', 'audit'],
      prefix: a.key.slice(0, 12),
      tenant_wide: false,
      bootstrap: false,
      expires_at: a.expires_at,
      revoked_at: null,
    });
    expect(Date.parse(a.expires_at!) - Date.now()).toBeGreaterThan(12 * 3_600_000 - 120_000);
    expect(Date.parse(a.expires_at!) - Date.now()).toBeLessThanOrEqual(12 * 3_600_000);
    expect(keys[1]).toMatchObject({ system: 'beta', tenant_wide: true, expires_at: null, scopes: ['streams:write', 'events:write', 'read', 'audit', 'webhooks', 'pipelines:read', 'pipelines:write'] });
    expect(typeof keys[0]!.created_at).toBe('string');

    const all = await runCli(['keys', 'list'], env);
    expect(all.code).toBe(0);
    for (const id of [a.key_id, b.key_id, other.key_id]) expect(all.stdout).toContain(id);
    expect(all.stdout).toMatch(/BOOTSTRAP/);
    expect(all.stdout).toMatch(/\byes\b/); // the server's bootstrap key is listed as one
    for (const out of [r.stdout, all.stdout, (await runCli(['keys', 'list', '--json'], env)).stdout]) {
      for (const k of [a, b, other]) {
        expect(out).not.toContain(k.key);
        expect(out).not.toContain(hashApiKey(k.key));
      }
      expect(out).not.toContain(srv.key);
    }
    expect((await runCli(['keys', 'list', '--tenant', 'nobody'], env)).code).toBe(2);
  }, 60_000);
});

describe('revocation by another process takes effect on the very next request', () => {
  it('keys revoke while the server runs: 200 just before, 401 right after', async () => {
    const k = await createKey(['--tenant', 'default', '--system', 'rev']);
    // Warm the server's key cache, then revoke from another process well inside KEY_CACHE_TTL_MS.
    expect((await streamsWith(k.key)).status).toBe(200);
    const r = await runCli(['keys', 'revoke', k.key_id], env);
    expect(r.code).toBe(0);
    const after = await streamsWith(k.key);
    expect(after.status).toBe(401);
    expect(after.body.error.code).toBe('AUTHENTICATION_FAILED');
    const listed = JSON.parse((await runCli(['keys', 'list', '--json'], env)).stdout).keys.find((x: { id: string }) => x.id === k.key_id);
    expect(listed.revoked_at).toEqual(expect.any(String));
    expect((await runCli(['keys', 'revoke', 'key_nope'], env)).code).toBe(2);
  }, 60_000);

  it('any external commit (here a direct UPDATE) invalidates the cache at once, without waiting for the TTL', async () => {
    const k = await createKey(['--tenant', 'default', '--system', 'rev2']);
    expect((await streamsWith(k.key)).status).toBe(200);
    sql('UPDATE api_keys SET revoked_at = ? WHERE id = ?', new Date().toISOString(), k.key_id);
    expect((await streamsWith(k.key)).status).toBe(401);
  }, 60_000);
});

describe('expiry', () => {
  it('--expires-in sets expires_at; a key past it answers 401 saying it expired', async () => {
    const k = await createKey(['--tenant', 'default', '--system', 'exp', '--expires-in', '1m']);
    expect(Date.parse(k.expires_at!) - Date.now()).toBeGreaterThan(0);
    expect(Date.parse(k.expires_at!) - Date.now()).toBeLessThanOrEqual(60_000);
    expect((await streamsWith(k.key)).status).toBe(200);
    // Waiting a minute is not a test: move its expiry into the past as the clock would.
    const past = new Date(Date.now() - 1000).toISOString();
    sql('UPDATE api_keys SET expires_at = ? WHERE id = ?', past, k.key_id);
    const r = await streamsWith(k.key);
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe('AUTHENTICATION_FAILED');
    expect(r.body.error.message).toBe(`this system key expired at ${past}`);
  }, 60_000);

  for (const bad of ['0d', '30', '1y', '5s', '-1d', '3651d', '1.5h', 'd']) {
    it(`--expires-in ${JSON.stringify(bad)}: exit 2, nothing created`, async () => {
      const dataDir = dir('ps-keylife-exp-');
      const r = await runCli(['keys', 'create', '--tenant', 't', '--system', 's', `--expires-in=${bad}`], { PROOFSTREAM_DATA_DIR: dataDir });
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/not a duration between 1m and 3650d/);
      expect(fs.existsSync(path.join(dataDir, 'proofstream.db'))).toBe(false);
    });
  }
});

describe('admin routes', () => {
  it('need the admin scope: the bootstrap key has it, a default keys create does not (403)', async () => {
    const plain = await createKey(['--tenant', 'default', '--system', 'noadmin', '--tenant-wide']);
    expect(plain.scopes).not.toContain('admin');
    const c = client(srv.url, plain.key);
    for (const [m, p, body] of [
      ['GET', '/v2/admin/keys'],
      ['POST', '/v2/admin/keys', { system: 'x' }],
      ['DELETE', `/v2/admin/keys/${plain.key_id}`],
    ] as const) {
      const r = await c(m, p, body);
      expect(r.status, `${m} ${p}`).toBe(403);
      expect(r.body.error).toMatchObject({ code: 'AUTHORIZATION_FAILED', details: { required_scope: 'admin' } });
    }
    expect((await streamsWith(plain.key)).status).toBe(200); // 403 changed nothing: the key still works
    expect((await client(srv.url)('GET', '/v2/admin/keys')).status).toBe(401);
    const paths = (await client(srv.url)('GET', '/openapi.json')).body.paths;
    expect(Object.keys(paths['/v2/admin/keys'])).toEqual(expect.arrayContaining(['get', 'post']));
    expect(Object.keys(paths['/v2/admin/keys/{keyId}'])).toEqual(['delete']);
  }, 60_000);

  it('list, create (the key once), revoke (at once); 404 for unknown and other tenants, 422 for bad input', async () => {
    const admin = client(srv.url, srv.key);
    const made = await admin('POST', '/v2/admin/keys', { system: 'api-made', scopes: ['read'], expires_in: '30d' });
    expect(made.status).toBe(201);
    expect(made.body.key).toMatch(/^ps_live_/);
    expect(made.body.api_key).toMatchObject({ tenant: 'default', system: 'api-made', scopes: ['read'], tenant_wide: false, revoked_at: null });
    expect(Date.parse(made.body.api_key.expires_at) - Date.now()).toBeGreaterThan(30 * 86_400_000 - 120_000);
    expect((await streamsWith(made.body.key)).status).toBe(200);

    const listed = await admin('GET', '/v2/admin/keys');
    expect(listed.status).toBe(200);
    expect(listed.body.keys.map((k: { id: string }) => k.id)).toContain(made.body.api_key.id);
    expect(listed.body.keys.every((k: { tenant: string }) => k.tenant === 'default')).toBe(true);
    expect(listed.text).not.toContain(made.body.key);
    expect(listed.text).not.toContain(srv.key);

    const revoked = await admin('DELETE', `/v2/admin/keys/${made.body.api_key.id}`);
    expect(revoked.status).toBe(200);
    expect(revoked.body.api_key.revoked_at).toEqual(expect.any(String));
    expect((await streamsWith(made.body.key)).status).toBe(401);

    const elsewhere = await createKey(['--tenant', 'admin-other', '--system', 's']);
    for (const id of ['key_unknown', elsewhere.key_id]) {
      const r = await admin('DELETE', `/v2/admin/keys/${id}`);
      expect(r.status).toBe(404);
      expect(r.body.error.code).toBe('RESOURCE_NOT_FOUND');
    }
    expect((await streamsWith(elsewhere.key)).status).toBe(200); // another tenant's key untouched

    const before = (await admin('GET', '/v2/admin/keys')).body.keys.length;
    for (const body of [
      { system: 's', scopes: ['nope'] },
      { system: 's', scopes: [] },
      { system: 's', expires_in: '1y' },
      { system: 's', expires_in: '0m' },
      { system: '' },
      { system: 's', extra: 1 },
    ]) {
      const r = await admin('POST', '/v2/admin/keys', body);
      expect(r.status, JSON.stringify(body)).toBe(422);
      expect(r.body.error.code).toBe('VALIDATION_ERROR');
      expect(r.body.error.request_id).toEqual(expect.any(String));
    }
    const big = await admin('POST', '/v2/admin/keys', { system: 's', pad: 'x'.repeat(17 * 1024) });
    expect(big.status).toBe(413);
    expect(big.body.error.code).toBe('PAYLOAD_TOO_LARGE');
    expect((await admin('GET', '/v2/admin/keys')).body.keys.length).toBe(before); // nothing created
  }, 60_000);
});

describe('GET /v2/me', () => {
  it('any valid key sees itself (scopes, system, tier, expiry; never the key); no key or a revoked one is 401', async () => {
    const k = await createKey(['--tenant', 'me-t', '--system', 'reader', '--scopes', 'read', '--expires-in', '2h']);
    const me = await client(srv.url, k.key)('GET', '/v2/me');
    expect(me.status).toBe(200);
    expect(me.body.api_key).toMatchObject({ id: k.key_id, tenant: 'me-t', system: 'reader', scopes: ['read'], tenant_wide: false, tier: 'unlimited', expires_at: k.expires_at, revoked_at: null });
    expect(JSON.stringify(me.body)).not.toContain(k.key);
    // the same listing an admin gets for that key
    const listed = (await runCli(['keys', 'list', '--tenant', 'me-t', '--json'], env)).stdout;
    expect(JSON.parse(listed).keys.find((x: { id: string }) => x.id === k.key_id)).toEqual(me.body.api_key);
    expect((await client(srv.url)('GET', '/v2/me')).status).toBe(401);
    expect((await runCli(['keys', 'revoke', k.key_id], env)).code).toBe(0);
    const gone = await client(srv.url, k.key)('GET', '/v2/me');
    expect(gone.status).toBe(401);
    expect(gone.body.error.code).toBe('AUTHENTICATION_FAILED');
  });
});

describe('a key acts on its own system streams unless tenant-wide', () => {
  it("another system's stream is 404 to a system key, open to a tenant-wide key", async () => {
    const owner = await createKey(['--tenant', 'sys-t', '--system', 'default']);
    const writer = await createKey(['--tenant', 'sys-t', '--system', 'writer']);
    const wide = await createKey(['--tenant', 'sys-t', '--system', 'ops', '--tenant-wide']);

    const s = await client(srv.url, owner.key)('POST', '/v2/streams', { use_case: 'owned' });
    expect(s.status).toBe(201);
    const streamId = s.body.stream_id ?? s.body.id;
    const event = { source_ref: 'r1', event_type: 'test.event', payload: { n: 1 } };

    const w = client(srv.url, writer.key);
    const refused = await w('POST', `/v2/streams/${streamId}/events`, event, { 'idempotency-key': idemKey() });
    expect(refused.status).toBe(404);
    expect(refused.body.error.code).toBe('RESOURCE_NOT_FOUND');
    expect((await w('GET', `/v2/streams/${streamId}`)).status).toBe(404);
    expect((await w('GET', '/v2/streams')).body.streams).toEqual([]);
    expect((await w('POST', '/v2/streams', { use_case: 'x', system_id: s.body.system_id })).status).toBe(404);

    const t = client(srv.url, wide.key);
    const ok = await t('POST', `/v2/streams/${streamId}/events`, event, { 'idempotency-key': idemKey() });
    expect(ok.status).toBe(201);
    expect((await t('GET', '/v2/streams')).body.streams.map((x: { stream_id?: string; id?: string }) => x.stream_id ?? x.id)).toContain(streamId);

    const own = await client(srv.url, owner.key)('POST', `/v2/streams/${streamId}/events`, { ...event, source_ref: 'r2' }, { 'idempotency-key': idemKey() });
    expect(own.status).toBe(201);
    expect((await client(srv.url, owner.key)('GET', `/v2/streams/${streamId}/events`)).body.events).toHaveLength(2);
  }, 60_000);
});
