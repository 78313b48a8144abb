// Key management over HTTP, behind the `admin` scope: list, create (the key is shown once), revoke. An admin key
// manages its own tenant's keys only; another tenant's key id answers 404 exactly like an unknown one.
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { ApiError, notFound } from '../../ledger/errors.js';
import { DEFAULT_TIER, KeyPolicyError, SCOPES, TIERS, type KeyView } from '../../ledger/tenancy.js';
import type { Deps } from '../deps.js';
import type { AppEnv } from '../env.js';
import { authErrors, json, writeErrors } from '../schemas.js';

/** A create request is a few short fields; anything near this is not one. */
const MAX_ADMIN_BODY_BYTES = 16 * 1024;

const ApiKey = z
  .object({
    id: z.string(),
    tenant: z.string(),
    tenant_id: z.string(),
    system: z.string(),
    system_id: z.string(),
    scopes: z.array(z.string()),
    prefix: z.string().openapi({ description: 'the first characters of the key, to tell keys apart (never the key)' }),
    tenant_wide: z.boolean(),
    tier: z.enum(TIERS).openapi({ description: 'rate-limit tier (docs/api.md "Rate limits")' }),
    bootstrap: z.boolean(),
    created_at: z.string(),
    expires_at: z.string().nullable(),
    revoked_at: z.string().nullable(),
  })
  .openapi('ApiKey');

const CreateKeyInput = z
  .object({
    system: z.string().min(1).max(200).openapi({ description: "the key's system in the caller's tenant (created if new)" }),
    scopes: z
      .array(z.string().max(64))
      .max(SCOPES.length)
      .optional()
      .openapi({ description: `any of ${SCOPES.join(', ')}; default all but admin, events:erase and pipelines:execute` }),
    expires_in: z.string().max(40).optional().openapi({ description: 'a duration: 90s, 15m, 12h, 30d (1m to 3650d); default never' }),
    tenant_wide: z.boolean().optional().openapi({ description: "act on every stream of the tenant, not only the system's; default false" }),
    tier: z
      .enum(TIERS)
      .optional()
      .openapi({ description: `rate-limit tier: ${TIERS.join(', ')}; default ${DEFAULT_TIER} (docs/api.md "Rate limits")` }),
  })
  .strict();

const KeyIdParam = z.object({ keyId: z.string().min(1).max(100).openapi({ param: { name: 'keyId', in: 'path' } }) });

export function adminRoutes(app: OpenAPIHono<AppEnv>, d: Deps) {
  const tenancy = d.ledger.tenancy;

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v2/me',
      tags: ['keys'],
      summary: 'The calling key as `GET /v2/admin/keys` lists it (never the key): its tenant, system, scopes, tier, expiry',
      description: 'Any valid key, whatever its scopes: what a console or SDK shows its user, and what a key may do.',
      security: [{ bearer: [] }],
      middleware: [d.auth(null), d.rateLimit] as const,
      responses: { 200: json(z.object({ api_key: ApiKey }), 'the calling key'), ...authErrors },
    }),
    (c) => {
      const p = c.get('principal');
      const view = tenancy.describeKey(p.keyId, p.tenantId);
      // Authenticated a moment ago, so it exists; gone meanwhile reads as any unknown key.
      if (!view) throw new ApiError('AUTHENTICATION_FAILED', 'invalid or revoked system key');
      return c.json({ api_key: view }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v2/admin/keys',
      tags: ['admin'],
      summary: "The tenant's API keys (never the keys themselves), oldest first",
      security: [{ bearer: [] }],
      middleware: [d.auth('admin'), d.rateLimit] as const,
      responses: { 200: json(z.object({ keys: z.array(ApiKey) }), 'every key of the tenant, revoked and expired ones included'), ...authErrors },
    }),
    (c) => c.json({ keys: tenancy.listKeys(c.get('principal').tenantId) }, 200),
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v2/admin/keys',
      tags: ['admin'],
      summary: "Create a key in the caller's tenant; the answer holds the key, the only time it is shown",
      security: [{ bearer: [] }],
      middleware: [d.auth('admin'), d.rateLimit, d.body(MAX_ADMIN_BODY_BYTES)] as const,
      request: { body: { required: true, content: { 'application/json': { schema: CreateKeyInput } } } },
      responses: {
        201: json(z.object({ key: z.string(), api_key: ApiKey }), 'the new key (shown once) and its listing'),
        ...writeErrors,
      },
    }),
    (c) => {
      const p = c.get('principal');
      const input = c.req.valid('json');
      const tenant = tenantNameOf(d, p.tenantId);
      let made;
      try {
        made = tenancy.createKey(tenant, input.system, { scopes: input.scopes, expiresIn: input.expires_in, tenantWide: input.tenant_wide, tier: input.tier });
      } catch (e) {
        if (e instanceof KeyPolicyError) {
          throw new ApiError('VALIDATION_ERROR', e.message, { path: e.code === 'EXPIRY_INVALID' ? 'expires_in' : e.code === 'TIER_INVALID' ? 'tier' : 'scopes' });
        }
        throw e;
      }
      const view = tenancy.describeKey(made.row.id) as KeyView;
      return c.json({ key: made.key, api_key: view }, 201);
    },
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/v2/admin/keys/{keyId}',
      tags: ['admin'],
      summary: 'Revoke a key of the tenant, at once (revoking a revoked key changes nothing)',
      security: [{ bearer: [] }],
      middleware: [d.auth('admin'), d.rateLimit] as const,
      request: { params: KeyIdParam },
      responses: { 200: json(z.object({ api_key: ApiKey }), 'the key, revoked'), ...authErrors },
    }),
    (c) => {
      const view = tenancy.revokeKey(c.req.valid('param').keyId, c.get('principal').tenantId);
      if (!view) throw notFound('key');
      return c.json({ api_key: view }, 200);
    },
  );
}

function tenantNameOf(d: Deps, tenantId: string): string {
  const t = d.ledger.store.tenancy.tenantById(tenantId);
  if (!t) throw notFound('tenant');
  return t.name;
}
