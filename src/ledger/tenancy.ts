// Tenants, systems and API keys: creating them, and resolving a bearer key to who is calling.
import { hash, randomBytes } from 'node:crypto';
import type { Store } from '../store/index.js';
import type { ApiKeyRow, System, Tenant } from '../store/tenancy.js';
import { newId } from './ids.js';

export const SCOPES = ['streams:write', 'events:write', 'read', 'audit'] as const;
export type Scope = (typeof SCOPES)[number];

export const KEY_PREFIX = 'ps_live_';
/** Bootstrap keys come from operators; insist on enough entropy that a weak one is refused at start, not exploited later. */
const MIN_KEY_LEN = KEY_PREFIX.length + 22;

/** Lowercase hex SHA-256 of the key's UTF-8 bytes (what api_keys.key_hash stores). */
export const hashApiKey = (key: string): string => hash('sha256', key, 'hex');

/**
 * How long a resolved key is trusted without asking the database again. Keys are revoked by setting revoked_at
 * (there is no revoke route yet); a revocation therefore takes effect within this long, or at once in this process
 * through forgetCachedKeys().
 */
export const KEY_CACHE_TTL_MS = 1000;
const KEY_CACHE_MAX = 10_000;

export interface Principal {
  keyId: string;
  tenantId: string;
  systemId: string;
  scopes: ReadonlySet<string>;
}

export class Tenancy {
  /** key hash → principal, for KEY_CACHE_TTL_MS; only keys that resolved are kept, never failed attempts */
  private readonly keyCache = new Map<string, { principal: Principal; until: number }>();

  constructor(private readonly store: Store) {}

  ensureTenant(name: string): Tenant {
    const found = this.store.tenancy.tenantByName(name);
    if (found) return found;
    const t = { id: newId('ten'), name, createdAt: new Date().toISOString() };
    this.store.tenancy.insertTenant(t);
    return t;
  }

  ensureSystem(tenantId: string, name: string): System {
    const found = this.store.tenancy.systemByName(tenantId, name);
    if (found) return found;
    const s = { id: newId('sys'), tenantId, name, createdAt: new Date().toISOString() };
    this.store.tenancy.insertSystem(s);
    return s;
  }

  /** Creates a key and returns it in clear text: the only time it exists outside the caller. */
  createKey(tenantName: string, systemName: string, scopes: readonly string[], presetKey?: string) {
    const bad = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
    if (bad.length) throw new Error(`unknown scope(s): ${bad.join(', ')} (known: ${SCOPES.join(', ')})`);
    if (presetKey !== undefined && (!presetKey.startsWith(KEY_PREFIX) || presetKey.length < MIN_KEY_LEN)) {
      throw new Error(`a key must look like ${KEY_PREFIX}<at least 22 random base64url characters>`);
    }
    const key = presetKey ?? KEY_PREFIX + randomBytes(32).toString('base64url');
    return this.store.write(() => {
      const tenant = this.ensureTenant(tenantName);
      const system = this.ensureSystem(tenant.id, systemName);
      const keyHash = hashApiKey(key);
      const existing = this.store.tenancy.activeKeyByHash(keyHash);
      if (existing) return { key, row: existing, tenant, system, created: false };
      const row: ApiKeyRow = {
        id: newId('key'),
        tenantId: tenant.id,
        systemId: system.id,
        keyHash,
        prefix: key.slice(0, KEY_PREFIX.length + 4),
        scopes: [...scopes],
        createdAt: new Date().toISOString(),
        revokedAt: null,
      };
      this.store.tenancy.insertApiKey(row);
      return { key, row, tenant, system, created: true };
    });
  }

  authenticate(bearer: string): Principal | undefined {
    const keyHash = hashApiKey(bearer);
    const now = Date.now();
    const hit = this.keyCache.get(keyHash);
    if (hit && hit.until > now) return hit.principal;
    const row = this.store.tenancy.activeKeyByHash(keyHash);
    if (!row) {
      this.keyCache.delete(keyHash);
      return undefined;
    }
    const principal: Principal = { keyId: row.id, tenantId: row.tenantId, systemId: row.systemId, scopes: new Set(row.scopes) };
    if (this.keyCache.size >= KEY_CACHE_MAX) this.keyCache.clear();
    this.keyCache.set(keyHash, { principal, until: now + KEY_CACHE_TTL_MS });
    return principal;
  }

  /** Drops every cached key resolution (call after revoking a key in this process). */
  forgetCachedKeys(): void {
    this.keyCache.clear();
  }
}
