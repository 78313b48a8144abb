// Tenants, systems and API keys: creating them, and resolving a bearer key to who is calling.
import { hash, randomBytes } from 'node:crypto';
import type { Store } from '../store/index.js';
import type { ApiKeyListing, ApiKeyRow, System, Tenant } from '../store/tenancy.js';
import { newId } from './ids.js';

export const SCOPES = [
  'streams:write',
  'events:write',
  'read',
  'audit',
  'admin',
  'webhooks',
  'events:erase',
  // pipelines (docs/pipelines.md): executing runs commands on the server, so it is a scope of its own, asked for by name
  'pipelines:read',
  'pipelines:write',
  'pipelines:execute',
] as const;
export type Scope = (typeof SCOPES)[number];
/** Scopes a key gets only when asked for by name: `admin` mints keys, `events:erase` erases payloads. */
const BY_NAME_ONLY: readonly Scope[] = ['admin', 'events:erase', 'pipelines:execute'];
/**
 * What `keys create` (and POST /v2/admin/keys) grant without an explicit scope list: everything but `admin`, which
 * manages keys, and `events:erase`. Least privilege: those are asked for by name; the bootstrap key has every scope.
 */
export const DEFAULT_SCOPES: readonly Scope[] = SCOPES.filter((s) => !BY_NAME_ONLY.includes(s));

/**
 * Rate-limit tiers of API keys (docs/api.md "Rate limits"; the numbers live in config.ts, overridable per tier).
 * `unlimited` has no per-key limit (only PROOFSTREAM_RATE_LIMIT_RPS, the operator's cap, if set).
 */
export const TIERS = ['free', 'professional', 'enterprise', 'unlimited'] as const;
export type Tier = (typeof TIERS)[number];
/**
 * The tier of a key made without one (`keys create` without --tier, POST /v2/admin/keys without `tier`), and of every
 * key made before tiers existed: `unlimited`. On a self-hosted ledger keys are mostly the operator's own writers, and
 * per-key limits were off until now; a throttled default would start refusing appends after an upgrade. Tiers are for
 * keys handed to others: asked for by name. The bootstrap key is `unlimited` too (the operator's way in must not be
 * throttled while revoking a key in an incident).
 */
export const DEFAULT_TIER: Tier = 'unlimited';

/** Why a tier name is refused, or undefined when it is one of TIERS. */
export function tierProblem(tier: string): string | undefined {
  return (TIERS as readonly string[]).includes(tier) ? undefined : `unknown tier ${JSON.stringify(tier.slice(0, 40))} (valid tiers: ${TIERS.join(', ')})`;
}

/** The longest --expires-in / expires_in a key may be given (10 years). */
export const MAX_EXPIRES_IN_MS = 3650 * 86_400_000;
const DURATION_UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** Milliseconds of a duration like 30d, 12h, 15m or 90s, or a KeyPolicyError saying what is wrong with it. */
export function parseExpiresIn(text: string): number {
  const m = /^([1-9][0-9]{0,6})([smhd])$/.exec(text);
  const ms = m ? Number(m[1]) * DURATION_UNIT_MS[m[2] as keyof typeof DURATION_UNIT_MS] : NaN;
  if (!m || ms < 60_000 || ms > MAX_EXPIRES_IN_MS) {
    throw new KeyPolicyError(
      'EXPIRY_INVALID',
      `expires-in ${JSON.stringify(text.slice(0, 40))} is not a duration between 1m and 3650d (a positive whole number followed by s, m, h or d: 90s, 15m, 12h, 30d)`,
    );
  }
  return ms;
}

/** Whether a principal may act on a stream (or system) with this owner: its tenant, and its system unless tenant-wide. */
export const actsOn = (p: Principal, owner: { tenantId: string; systemId: string }): boolean =>
  owner.tenantId === p.tenantId && (p.tenantWide === true || owner.systemId === p.systemId);

export const KEY_PREFIX = 'ps_live_';
/** Bootstrap keys come from operators; insist on enough entropy that a weak one is refused at start, not exploited later. */
export const MIN_KEY_BODY_CHARS = 22;
/** Estimated bits a person-chosen key must reach (keyStrengthBits); 112 is the least NIST SP 800-57 still accepts. */
export const MIN_KEY_BITS = 112;
/**
 * The longest run of one character ("aaaaaaa") and of consecutive characters ("abcdefg", "7654321") a key may hold.
 * Long enough that a random key (hex included) practically never trips them; a typed one soon does.
 */
export const MAX_REPEAT_RUN = 7;
export const MAX_SEQUENCE_RUN = 7;

/**
 * A key request the key rules refuse: a PROOFSTREAM_BOOTSTRAP_KEY that is weak or revoked (the message never
 * contains the key), a scope list that is empty or names an unknown scope, or an expiry that is not a duration.
 */
export class KeyPolicyError extends Error {
  constructor(
    readonly code: 'BOOTSTRAP_KEY_REFUSED' | 'SCOPES_INVALID' | 'EXPIRY_INVALID' | 'TIER_INVALID',
    message: string,
  ) {
    super(message);
  }
}

/** Why a scope list is refused (empty, or an unknown scope), or undefined when every scope is known. */
export function scopeProblem(scopes: readonly string[]): string | undefined {
  const valid = `valid scopes: ${SCOPES.join(', ')}`;
  if (scopes.length === 0) return `a key needs at least one scope (${valid})`;
  const bad = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
  if (bad.length) return `unknown scope(s): ${bad.map((b) => JSON.stringify(b)).join(', ')} (${valid})`;
  return undefined;
}

/**
 * A conservative estimate of the entropy of a person-chosen key body: the character classes used give the alphabet
 * (lowercase 26, uppercase 26, digits 10, other printable ASCII 32), and only min(length, 2 × distinct characters)
 * characters count, so "aaaa…" or "abcabc…" score by what they repeat, not by their length. A random base64url body
 * of 22 characters scores ≈ 131 bits; 22 × "a" scores 9.
 */
export function keyStrengthBits(body: string): number {
  let pool = 0;
  if (/[a-z]/.test(body)) pool += 26;
  if (/[A-Z]/.test(body)) pool += 26;
  if (/[0-9]/.test(body)) pool += 10;
  if (/[^a-zA-Z0-9]/.test(body)) pool += 32;
  const distinct = new Set(body).size;
  return pool <= 1 ? 0 : Math.min(body.length, 2 * distinct) * Math.log2(pool);
}

/** Why a person-chosen key is refused, or undefined when it passes; never quotes the key. */
export function keyWeakness(key: string): string | undefined {
  if (!key.startsWith(KEY_PREFIX)) return `must start with ${KEY_PREFIX}`;
  const body = key.slice(KEY_PREFIX.length);
  if (!/^[\x21-\x7e]*$/.test(body)) return 'may hold only printable ASCII characters after the prefix (no spaces)';
  if (body.length < MIN_KEY_BODY_CHARS) return `needs at least ${MIN_KEY_BODY_CHARS} characters after ${KEY_PREFIX} (it has ${body.length})`;
  let same = 1;
  let up = 1;
  let down = 1;
  for (let i = 1; i < body.length; i++) {
    const d = body.charCodeAt(i) - body.charCodeAt(i - 1);
    same = d === 0 ? same + 1 : 1;
    up = d === 1 ? up + 1 : 1;
    down = d === -1 ? down + 1 : 1;
    if (same > MAX_REPEAT_RUN) return `repeats one character more than ${MAX_REPEAT_RUN} times in a row`;
    if (up > MAX_SEQUENCE_RUN || down > MAX_SEQUENCE_RUN) return `holds a run of more than ${MAX_SEQUENCE_RUN} consecutive characters (like abcdefgh)`;
  }
  const bits = keyStrengthBits(body);
  if (bits < MIN_KEY_BITS) {
    return `is too predictable (about ${Math.floor(bits)} bits estimated from its character classes and distinct characters; at least ${MIN_KEY_BITS} needed)`;
  }
  return undefined;
}

/** Lowercase hex SHA-256 of the key's UTF-8 bytes (what api_keys.key_hash stores). */
export const hashApiKey = (key: string): string => hash('sha256', key, 'hex');

/**
 * How long a resolved key is trusted without asking the database again. A revocation still takes effect at once:
 * by another process (`proofstream keys revoke`) through PRAGMA data_version, checked on every authentication; in
 * this process (DELETE /v2/admin/keys/{id}) through forgetCachedKeys(). The TTL only bounds the cache's age.
 */
export const KEY_CACHE_TTL_MS = 1000;
const KEY_CACHE_MAX = 10_000;

export interface Principal {
  keyId: string;
  tenantId: string;
  systemId: string;
  scopes: ReadonlySet<string>;
  /** acts on every stream of its tenant, not only its own system's (absent: false) */
  tenantWide?: boolean;
  /** its rate-limit tier (absent: unlimited) */
  tier?: Tier;
}

/** Why a bearer key did not authenticate: never seen (or garbage), revoked, or past its expires_at. */
export type KeyRefusal = { reason: 'unknown' } | { reason: 'revoked' } | { reason: 'expired'; expiresAt: string };

export interface CreateKeyOptions {
  scopes?: readonly string[];
  /** a duration accepted by parseExpiresIn */
  expiresIn?: string;
  tenantWide?: boolean;
  /** one of TIERS; default DEFAULT_TIER */
  tier?: string;
}

/** What listings show of a key: never the key or its hash. */
export interface KeyView {
  id: string;
  tenant: string;
  tenant_id: string;
  system: string;
  system_id: string;
  scopes: string[];
  prefix: string;
  tenant_wide: boolean;
  tier: Tier;
  bootstrap: boolean;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
}

export const keyView = (k: ApiKeyListing): KeyView => ({
  id: k.id,
  tenant: k.tenantName,
  tenant_id: k.tenantId,
  system: k.systemName,
  system_id: k.systemId,
  scopes: [...k.scopes],
  prefix: k.prefix,
  tenant_wide: k.tenantWide,
  tier: k.tier as Tier,
  bootstrap: k.bootstrap,
  created_at: k.createdAt,
  expires_at: k.expiresAt,
  revoked_at: k.revokedAt,
});

export class Tenancy {
  /** key hash → principal, for KEY_CACHE_TTL_MS; only keys that resolved are kept, never failed attempts */
  private readonly keyCache = new Map<string, { principal: Principal; until: number }>();
  /** PRAGMA data_version when the cache was last known good */
  private seenDataVersion = -1;

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

  /**
   * Creates a random key and returns it in clear text: the only time it exists outside the caller. Scopes default to
   * DEFAULT_SCOPES (no admin); the key acts on its own system's streams unless tenantWide.
   */
  createKey(tenantName: string, systemName: string, options: CreateKeyOptions | readonly string[] = {}) {
    const opts: CreateKeyOptions = Array.isArray(options) ? { scopes: options as readonly string[] } : (options as CreateKeyOptions);
    const scopes = opts.scopes ?? DEFAULT_SCOPES;
    const bad = scopeProblem(scopes);
    if (bad) throw new KeyPolicyError('SCOPES_INVALID', bad);
    const tier = opts.tier ?? DEFAULT_TIER;
    const badTier = tierProblem(tier);
    if (badTier) throw new KeyPolicyError('TIER_INVALID', badTier);
    const expiresAt = opts.expiresIn === undefined ? null : new Date(Date.now() + parseExpiresIn(opts.expiresIn)).toISOString();
    const key = KEY_PREFIX + randomBytes(32).toString('base64url');
    return this.store.write(() => this.insertKey(key, tenantName, systemName, scopes, { bootstrap: false, tenantWide: opts.tenantWide ?? false, expiresAt, tier: tier as Tier }));
  }

  /** Every key (of one tenant when tenantId is given), oldest first, as listings show it. */
  listKeys(tenantId?: string): KeyView[] {
    return this.store.tenancy.listKeys(tenantId).map(keyView);
  }

  /** One key as listings show it (of this tenant only, when tenantId is given), or undefined. */
  describeKey(id: string, tenantId?: string): KeyView | undefined {
    const row = this.store.tenancy.keyById(id);
    if (!row || (tenantId !== undefined && row.tenantId !== tenantId)) return undefined;
    return this.store.tenancy.listKeys(row.tenantId).map(keyView).find((k) => k.id === id);
  }

  /**
   * Revokes a key (of this tenant only, when tenantId is given): undefined when there is no such key. Revoking a
   * revoked key changes nothing. This process forgets its cached resolutions at once; other processes see the
   * commit through PRAGMA data_version on their next authentication.
   */
  revokeKey(id: string, tenantId?: string): KeyView | undefined {
    const row = this.store.tenancy.keyById(id);
    if (!row || (tenantId !== undefined && row.tenantId !== tenantId)) return undefined;
    if (row.revokedAt === null) {
      this.store.write(() => this.store.tenancy.revokeKeyByHand(id, new Date().toISOString()));
      this.forgetCachedKeys();
    }
    return this.describeKey(id);
  }

  /** Inside a write transaction: the key's row (an active one with the same hash is returned as is). */
  private insertKey(
    key: string,
    tenantName: string,
    systemName: string,
    scopes: readonly string[],
    shape: { bootstrap: boolean; tenantWide: boolean; expiresAt: string | null; tier: Tier },
  ) {
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
      bootstrap: shape.bootstrap,
      expiresAt: shape.expiresAt,
      tenantWide: shape.tenantWide,
      tier: shape.tier,
    };
    this.store.tenancy.insertApiKey(row);
    return { key, row, tenant, system, created: true };
  }

  /**
   * Applies PROOFSTREAM_BOOTSTRAP_KEY at start: the key it names (checked by keyWeakness) is the one bootstrap key,
   * installed with every scope (admin included), tenant-wide, tier unlimited, for tenant and system `default` if new; every other bootstrap key is revoked, so a
   * changed or unset variable retires the previous key. One transaction. Returns the ids of the keys it retired.
   */
  applyBootstrapKey(key: string | undefined): { retired: string[] } {
    if (key !== undefined) {
      const weak = keyWeakness(key);
      if (weak) throw new KeyPolicyError('BOOTSTRAP_KEY_REFUSED', `PROOFSTREAM_BOOTSTRAP_KEY ${weak}; generate one with: echo ${KEY_PREFIX}$(openssl rand -base64 32 | tr '+/' '-_' | tr -d '=')`);
    }
    const keyHash = key === undefined ? undefined : hashApiKey(key);
    const retired = this.store.write(() => {
      if (key !== undefined && keyHash !== undefined) {
        const existing = this.store.tenancy.keyByHash(keyHash);
        if (!existing) this.insertKey(key, 'default', 'default', SCOPES, { bootstrap: true, tenantWide: true, expiresAt: null, tier: 'unlimited' });
        // An earlier bootstrap key named again is the bootstrap key again: the variable decides. (A key revoked by
        // hand is no longer marked bootstrap, so it lands in the refusal below.)
        else if (existing.bootstrap) {
          this.store.tenancy.reinstateAsBootstrap(existing.id);
          this.store.tenancy.setBootstrapShape(existing.id, SCOPES);
        }
        // A key made otherwise is never touched: if revoked it stays revoked, if active it stays what it is.
        else if (existing.revokedAt !== null) {
          throw new KeyPolicyError('BOOTSTRAP_KEY_REFUSED', 'PROOFSTREAM_BOOTSTRAP_KEY names a key that was revoked; choose a new one');
        }
      }
      const stale = this.store.tenancy.activeBootstrapKeys().filter((k) => k.keyHash !== keyHash).map((k) => k.id);
      this.store.tenancy.revokeKeys(stale, new Date().toISOString());
      return stale;
    });
    // Cached resolutions of a retired key must not outlive this call.
    if (retired.length) this.forgetCachedKeys();
    return { retired };
  }

  authenticate(bearer: string): Principal | undefined {
    const keyHash = hashApiKey(bearer);
    const now = Date.now();
    // Another process committed (perhaps `keys revoke`): nothing cached may be trusted. One pragma per request.
    const version = this.store.tenancy.dataVersion();
    if (version !== this.seenDataVersion) {
      this.keyCache.clear();
      this.seenDataVersion = version;
    }
    const hit = this.keyCache.get(keyHash);
    if (hit && hit.until > now) return hit.principal;
    const row = this.store.tenancy.activeKeyByHash(keyHash);
    const expiresAtMs = row?.expiresAt ? Date.parse(row.expiresAt) : Infinity;
    if (!row || expiresAtMs <= now) {
      this.keyCache.delete(keyHash);
      return undefined;
    }
    const principal: Principal = {
      keyId: row.id,
      tenantId: row.tenantId,
      systemId: row.systemId,
      scopes: new Set(row.scopes),
      tenantWide: row.tenantWide,
      tier: row.tier as Tier,
    };
    if (this.keyCache.size >= KEY_CACHE_MAX) this.keyCache.clear();
    // Never cached past its expiry.
    this.keyCache.set(keyHash, { principal, until: Math.min(now + KEY_CACHE_TTL_MS, expiresAtMs) });
    return principal;
  }

  /** Why a key authenticate() refused was refused (the cold path: one more lookup, only after a failure). */
  refusal(bearer: string): KeyRefusal {
    const row = this.store.tenancy.keyByHash(hashApiKey(bearer));
    if (!row) return { reason: 'unknown' };
    if (row.revokedAt !== null) return { reason: 'revoked' };
    if (row.expiresAt !== null && Date.parse(row.expiresAt) <= Date.now()) return { reason: 'expired', expiresAt: row.expiresAt };
    return { reason: 'unknown' };
  }

  /**
   * Why a key that authenticated earlier may no longer act (revoked, expired, gone), or null while it still may: what
   * a long-lived request (a live feed) asks now and then, by key id. Reads the row: cheap, and not cached.
   */
  keyStillValid(keyId: string): KeyRefusal | null {
    const row = this.store.tenancy.keyById(keyId);
    if (!row) return { reason: 'unknown' };
    if (row.revokedAt !== null) return { reason: 'revoked' };
    if (row.expiresAt !== null && Date.parse(row.expiresAt) <= Date.now()) return { reason: 'expired', expiresAt: row.expiresAt };
    return null;
  }

  /** Drops every cached key resolution (call after revoking a key in this process). */
  forgetCachedKeys(): void {
    this.keyCache.clear();
  }
}
