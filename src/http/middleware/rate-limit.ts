// Rate limits (docs/api.md "Rate limits"): token buckets
// - per API key, sized by the key's tier (free, professional, enterprise; `unlimited` has none), all of it capped by
//   the operator's per-key ceiling PROOFSTREAM_RATE_LIMIT_RPS / _BURST when set;
// - per API key and route group, for a group with its own default for keys without a tier limit (the CI/CD routes of
//   a later issue: 100 requests/minute), see KeyRateLimiter.forGroup;
// - per client address for failed authentication (so keys cannot be guessed at line speed);
// - per client address, in their own buckets, for the unauthenticated verify routes (PROOFSTREAM_VERIFY_RATE_LIMIT_*).
// Every limited response carries X-RateLimit-Limit/-Remaining/-Reset and the IETF RateLimit-Policy / RateLimit fields
// (draft-ietf-httpapi-ratelimit-headers-10 syntax), computed from the bucket the request was charged to.
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context } from 'hono';
import { createMiddleware } from 'hono/factory';
import type { MiddlewareHandler } from 'hono';
import { ApiError } from '../../ledger/errors.js';
import { TIERS, type Principal, type Tier } from '../../ledger/tenancy.js';
import type { RateSpec } from '../../config.js';
import type { AppEnv } from '../env.js';

export type { RateSpec } from '../../config.js';

/** A limit ready for the hot path: its refill rate, capacity and the header strings that never change. */
export interface Policy {
  /** the IETF policy name: the tier, or the route group / address limiter's name */
  readonly name: string;
  /** tokens per millisecond */
  readonly perMs: number;
  readonly capacity: number;
  /** X-RateLimit-Limit: the capacity (the most requests a full bucket allows at once) */
  readonly limitHeader: string;
  /** RateLimit-Policy: `"<name>";q=<capacity>;w=<seconds a drained bucket takes to fill>` */
  readonly policyHeader: string;
  /** `"<name>";r=` — RateLimit's constant head */
  readonly rateHead: string;
}

/**
 * A policy from a refill rate (per second) and a burst; undefined when the rate is 0 (no limit). The capacity is at
 * least one second's refill, as it always was for PROOFSTREAM_RATE_LIMIT_RPS / _BURST. q/w is the sustained rate and
 * q the burst, so both numbers of the tier are in the one IETF policy item.
 */
export function policyOf(name: string, perSecond: number, burst: number): Policy | undefined {
  if (!(perSecond > 0)) return undefined;
  const capacity = Math.max(1, Math.floor(Math.max(burst, perSecond)));
  const w = Math.max(1, Math.ceil(capacity / perSecond));
  return {
    name,
    perMs: perSecond / 1000,
    capacity,
    limitHeader: String(capacity),
    policyHeader: `"${name}";q=${capacity};w=${w}`,
    rateHead: `"${name}";r=`,
  };
}

/** The stricter of a policy and the operator's cap, under the policy's name (either may be absent: no limit). */
export function capped(name: string, spec: RateSpec | undefined, cap: { rps: number; burst: number }): Policy | undefined {
  const own = spec && spec.requests > 0 ? { perSecond: spec.requests / spec.windowS, burst: spec.burst } : undefined;
  const ceiling = cap.rps > 0 ? { perSecond: cap.rps, burst: Math.max(cap.burst, cap.rps) } : undefined;
  if (!own && !ceiling) return undefined;
  if (!own) return policyOf(name, ceiling!.perSecond, ceiling!.burst);
  if (!ceiling) return policyOf(name, own.perSecond, own.burst);
  return policyOf(name, Math.min(own.perSecond, ceiling.perSecond), Math.min(own.burst, ceiling.burst));
}

/** What one charge left: enough to write the headers (and the 429's details). */
export interface RateState {
  policy: Policy;
  /** whole requests left now */
  remaining: number;
  /** seconds until the bucket is full again, rounded up (RateLimit's t) */
  resetInS: number;
  /** unix seconds when the bucket is full again, rounded up (X-RateLimit-Reset) */
  resetAt: number;
}

/** The default bound on buckets per limiter keyed by client address (PROOFSTREAM_RATE_LIMIT_MAX_ADDRESSES). */
export const DEFAULT_MAX_BUCKETS = 100_000;

/** Token buckets under one policy, one per `who`, at most `maxBuckets` of them. */
export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  constructor(
    readonly policy: Policy,
    private readonly maxBuckets = DEFAULT_MAX_BUCKETS,
  ) {}

  get size(): number {
    return this.buckets.size;
  }

  /**
   * Takes one token for `who` and returns what is left, or throws 429 RATE_LIMIT_EXCEEDED with Retry-After (and the
   * rate headers, set on `c`) when there is none: the refused request costs nothing.
   */
  take(c: Context, who: string, tier: Tier | null): RateState {
    const p = this.policy;
    const now = Date.now();
    let b = this.buckets.get(who);
    if (b === undefined) {
      if (this.buckets.size >= this.maxBuckets) this.shrink(now);
      b = { tokens: p.capacity, at: now };
      this.buckets.set(who, b);
    } else {
      b.tokens = Math.min(p.capacity, b.tokens + (now - b.at) * p.perMs);
      b.at = now;
    }
    const ok = b.tokens >= 1;
    if (ok) b.tokens -= 1;
    const msToFull = (p.capacity - b.tokens) / p.perMs;
    const state: RateState = {
      policy: p,
      remaining: Math.floor(b.tokens),
      resetInS: Math.ceil(msToFull / 1000),
      resetAt: Math.ceil((now + msToFull) / 1000),
    };
    if (ok) return state;
    setRateHeaders(c, state);
    const retryAfter = Math.max(1, Math.ceil((1 - b.tokens) / p.perMs / 1000));
    c.header('Retry-After', String(retryAfter));
    throw new ApiError('RATE_LIMIT_EXCEEDED', 'rate limit exceeded; back off and retry with the same Idempotency-Key', {
      limit: p.capacity,
      remaining: 0,
      reset: state.resetAt,
      retry_after_s: retryAfter,
      tier,
      policy: p.name,
    });
  }

  /**
   * At the bound: forget the buckets that are full again (they mean nothing), then, if a flood of distinct clients
   * still fills the map, the oldest tenth. Evicting a bucket only hands its client a fresh burst; shrinking by a
   * tenth keeps the sweep amortized O(1) per new client instead of O(n) each.
   */
  private shrink(now: number): void {
    const p = this.policy;
    for (const [k, b] of this.buckets) if (b.tokens + (now - b.at) * p.perMs >= p.capacity) this.buckets.delete(k);
    const target = Math.floor(this.maxBuckets * 0.9);
    if (this.buckets.size <= target) return;
    for (const k of this.buckets.keys()) {
      this.buckets.delete(k);
      if (this.buckets.size <= target) break;
    }
  }
}

/** Puts the five rate-limit fields of a charge on the response being built. */
export function setRateHeaders(c: Context, s: RateState): void {
  c.header('X-RateLimit-Limit', s.policy.limitHeader);
  c.header('X-RateLimit-Remaining', String(s.remaining));
  c.header('X-RateLimit-Reset', String(s.resetAt));
  c.header('RateLimit-Policy', s.policy.policyHeader);
  c.header('RateLimit', `${s.policy.rateHead}${s.remaining};t=${s.resetInS}`);
}

/** The same fields into a plain header record, lowercased (the fused append routes build their Response by hand). */
export function addRateHeaders(h: Record<string, string>, s: RateState): void {
  h['ratelimit'] = `${s.policy.rateHead}${s.remaining};t=${s.resetInS}`;
  h['ratelimit-policy'] = s.policy.policyHeader;
  h['x-ratelimit-limit'] = s.policy.limitHeader;
  h['x-ratelimit-remaining'] = String(s.remaining);
  h['x-ratelimit-reset'] = String(s.resetAt);
}

/** What the middleware needs of the configuration (config.ts). */
export interface RateLimitConfig {
  /** per tier; a tier absent here (unlimited) has no limit of its own */
  tiers: Partial<Record<Tier, RateSpec>>;
  /** the operator's per-key ceiling over every tier (0: none) */
  capRps: number;
  capBurst: number;
  /** bound on per-address buckets per limiter */
  maxAddressBuckets: number;
}

/** Per-key limits: one bucket map per tier (bounded by the number of keys), plus route groups' own (forGroup). */
export class KeyRateLimiter {
  private readonly byTier = new Map<Tier, TokenBuckets | undefined>();
  private readonly groups = new Map<string, KeyRateLimiter>();
  /** failed authentication, per client address */
  readonly failedAuth: TokenBuckets;

  constructor(
    private readonly cfg: RateLimitConfig,
    /** a route group's default, for keys whose tier sets no limit of its own */
    private readonly groupDefault?: { name: string; spec: RateSpec },
  ) {
    const cap = { rps: cfg.capRps, burst: cfg.capBurst };
    for (const tier of TIERS) {
      const spec = cfg.tiers[tier] ?? groupDefault?.spec;
      const p = capped(cfg.tiers[tier] || !groupDefault ? tier : groupDefault.name, spec, cap);
      this.byTier.set(tier, p && new TokenBuckets(p, Number.MAX_SAFE_INTEGER));
    }
    // Guessing keys: the operator's cap when set (as before), else the free tier's numbers.
    this.failedAuth = new TokenBuckets(
      capped('auth', cfg.capRps > 0 ? undefined : cfg.tiers.free, cap) ?? policyOf('auth', 100 / 60, 200)!,
      cfg.maxAddressBuckets,
    );
  }

  /** Charges one request to the key; undefined when its tier has no limit (then no rate fields are sent). */
  take(c: Context, p: Principal): RateState | undefined {
    const tier = p.tier ?? 'unlimited';
    return this.byTier.get(tier)?.take(c, p.keyId, tier);
  }

  /**
   * The limiter of a route group whose keys without a tier limit (`unlimited`) get `spec` there instead, in buckets
   * of their own; keys with a tier limit are charged to their tier's buckets, shared with every other route. One per
   * name, so mounting it on several routes shares the buckets.
   */
  forGroup(name: string, spec: RateSpec): KeyRateLimiter {
    let g = this.groups.get(name);
    if (!g) {
      g = new KeyRateLimiter(this.cfg, { name, spec });
      // Keys with a tier limit are charged once, in the tier's buckets, wherever they call.
      for (const tier of TIERS) if (this.cfg.tiers[tier]) g.byTier.set(tier, this.byTier.get(tier));
      this.groups.set(name, g);
    }
    return g;
  }
}

/** The peer's address, for limits on unauthenticated traffic. */
export function clientAddress(c: Context): string {
  try {
    return getConnInfo(c).remote.address ?? 'unknown';
  } catch {
    return 'unknown'; // not running under the Node server (in-process tests)
  }
}

/**
 * Puts the fields on the final response. They are prepared before next() (so a c.json answer carries them for free);
 * a handler that returns its own Response, or an error answer, gets them after.
 */
async function withHeaders(c: Context<AppEnv>, s: RateState | undefined, next: () => Promise<void>): Promise<void> {
  if (s === undefined) return next();
  setRateHeaders(c, s);
  await next();
  if (!c.res.headers.has('x-ratelimit-limit')) setRateHeaders(c, s);
}

/** For routes without authentication: one bucket per client address, in the buckets given (app.ts: the verify routes' own). */
export const rateLimitByAddress = (buckets: TokenBuckets | undefined): MiddlewareHandler<AppEnv> =>
  createMiddleware<AppEnv>(async (c, next) => withHeaders(c, buckets?.take(c, `addr:${clientAddress(c)}`, null), next));

/** After auth: charges the request to the key (its tier, or the route group's default, see KeyRateLimiter.forGroup). */
export const rateLimit = (limiter: KeyRateLimiter): MiddlewareHandler<AppEnv> =>
  createMiddleware<AppEnv>(async (c, next) => withHeaders(c, limiter.take(c, c.get('principal')), next));
