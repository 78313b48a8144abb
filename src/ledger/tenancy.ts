// Tenants, systems and API keys: creating them, and resolving a bearer key to who is calling.
import { randomBytes } from 'node:crypto';
import { bytesToHex, utf8ToBytes } from '../protocol/bytes.js';
import { sha256 } from '../protocol/hash.js';
import type { Store } from '../store/index.js';
import type { ApiKeyRow, System, Tenant } from '../store/tenancy.js';
import { newId } from './ids.js';

export const SCOPES = ['streams:write', 'events:write', 'read', 'audit'] as const;
export type Scope = (typeof SCOPES)[number];

export const KEY_PREFIX = 'ps_live_';
/** Bootstrap keys come from operators; insist on enough entropy that a weak one is refused at start, not exploited later. */
const MIN_KEY_LEN = KEY_PREFIX.length + 22;

export const hashApiKey = (key: string): string => bytesToHex(sha256(utf8ToBytes(key)));

export interface Principal {
  keyId: string;
  tenantId: string;
  systemId: string;
  scopes: ReadonlySet<string>;
}

export class Tenancy {
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
    const row = this.store.tenancy.activeKeyByHash(hashApiKey(bearer));
    if (!row) return undefined;
    return { keyId: row.id, tenantId: row.tenantId, systemId: row.systemId, scopes: new Set(row.scopes) };
  }
}
