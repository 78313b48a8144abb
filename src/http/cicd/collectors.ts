// POST /api/v1/collector/attestations (docs/cicd.md "Collector batches"): a batch of 1–100 attestations, each signed
// by a registered collector key (docs/protocol.md §12). Every refusal of a batch is 422 naming the item
// (details.index, details.field) — malformed items too, unlike the other /api/v1 routes' 400: the seed API answers a
// batch with one status whatever is wrong in it — or 409 for an item id reused with other bytes; nothing of a refused
// batch is stored. Also the admin routes for collector keys (/v2/admin/collector-keys, like /v2/admin/keys).
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { ZodError } from 'zod';
import { COLLECTOR_LIMITS, CollectorKeyFormatError, CollectorKeys, Collectors, parseCollectorPublicKey, type CollectorEntry } from '../../cicd/collectors.js';
import { ATTESTATION_TYPES } from '../../cicd/records.js';
import { ApiError, notFound } from '../../ledger/errors.js';
import { COLLECTOR_ITEM_FORMAT, COLLECTOR_KEY_ID_RE } from '../../protocol/collector.js';
import type { Deps } from '../deps.js';
import type { AppEnv } from '../env.js';
import { jsonText } from '../reply.js';
import { authErrors, ErrorEnvelope, IDEMPOTENCY_KEY_PARAM, json, writeErrors as v2WriteErrors } from '../schemas.js';
import { Attestation, RepositoryFullName, Sha256 } from './schemas.js';

const err = (description: string) => ({ description, content: { 'application/json': { schema: ErrorEnvelope } } });

const Time = z.iso.datetime({ offset: true }).openapi({ example: '2026-06-07T12:00:00Z', description: 'RFC 3339' });

/** The signed object: its JCS, after tag("collector-attestation"), is what the signature covers (docs/protocol.md §12). */
const CollectorItem = z
  .object({
    format: z.literal(COLLECTOR_ITEM_FORMAT),
    id: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/, 'must be 1–128 letters, digits, ".", "_", ":" or "-"')
      .openapi({ description: "the collector's own id of the item, unique per collector key: a replay of it is idempotent" }),
    time: Time.openapi({ description: 'when the collector made the item; the event keeps it as occurred_at' }),
    collectorKeyId: z.string().regex(COLLECTOR_KEY_ID_RE, 'must be col_ and 32 hex digits').openapi({ description: 'the registered collector key that signed it' }),
    repositoryFullName: RepositoryFullName,
    prNumber: z.number().int().min(1).max(2 ** 31 - 1).nullable().optional(),
    artifactSha256: Sha256.nullable().optional(),
    commitSha: z.string().regex(/^[0-9a-f]{4,64}$/, 'must be 4–64 lowercase hex digits').nullable().optional(),
    type: z.enum(ATTESTATION_TYPES),
    name: z.string().min(1).max(256),
    passed: z.boolean(),
    evidence: z.record(z.string(), z.unknown()).optional(),
  })
  .strict()
  .refine((a) => (a.prNumber ?? null) !== null || (a.artifactSha256 ?? null) !== null, {
    message: 'an attestation is linked to a pull request (prNumber) or an artifact (artifactSha256): give at least one',
    path: ['prNumber'],
  })
  .openapi('CollectorAttestationItem');

const CollectorEntrySchema = z
  .object({
    attestation: CollectorItem,
    signature: z.string().max(200).openapi({ description: 'standard base64 of the 64-byte Ed25519 signature over the signed bytes' }),
  })
  .strict();

const CollectorBatch = z.object({ items: z.array(CollectorEntrySchema).min(1).max(COLLECTOR_LIMITS.maxItems) }).strict().openapi('CollectorBatch');

const CollectorBatchAnswer = z
  .object({
    accepted: z.number().int().openapi({ description: 'items appended by this request' }),
    replayed: z.number().int().openapi({ description: 'items accepted before (same collector, id and bytes): their original records' }),
    items: z.array(
      z.object({
        index: z.number().int(),
        id: z.string(),
        collectorKeyId: z.string(),
        replayed: z.boolean(),
        attestation: Attestation,
      }),
    ),
  })
  .openapi('CollectorBatchAnswer');

/** `items[3].attestation.name` from a zod path; an unknown key is named by itself. */
function fieldOf(issue: ZodError['issues'][number]): string {
  const keys = issue.code === 'unrecognized_keys' ? [...issue.path, (issue as { keys: string[] }).keys[0] ?? ''] : issue.path;
  return keys.map((k, i) => (typeof k === 'number' ? `[${k}]` : i === 0 ? String(k) : `.${String(k)}`)).join('');
}

/** Validation failures of a batch: 422, naming the item (details.index) and the field. */
function collectorValidationHook(result: { success: boolean; error?: ZodError; target: string }): undefined {
  if (result.success) return undefined;
  const first = result.error!.issues[0]!;
  const field = fieldOf(first) || result.target;
  const path = first.path;
  if (path[0] === 'items' && typeof path[1] === 'number') {
    throw new ApiError('COLLECTOR_ITEM_INVALID', `${field}: ${first.message}`, { index: path[1], field });
  }
  if (path.length === 1 && path[0] === 'items' && first.code === 'too_big') {
    throw new ApiError('COLLECTOR_BATCH_INVALID', `items: a batch holds at most ${COLLECTOR_LIMITS.maxItems} items`, {
      index: COLLECTOR_LIMITS.maxItems,
      field: 'items',
      limit: COLLECTOR_LIMITS.maxItems,
    });
  }
  throw new ApiError('COLLECTOR_BATCH_INVALID', `${field}: ${first.message}`, { index: null, field });
}

const CollectorKey = z
  .object({
    key_id: z.string().openapi({ description: 'col_ ‖ hex(SHA-256(tag("collector-key") ‖ public key)[0:16]) (docs/protocol.md §12)' }),
    tenant_id: z.string(),
    public_key: z.string().openapi({ description: 'the 32-byte Ed25519 public key, lowercase hex' }),
    name: z.string().nullable(),
    created_at: z.string(),
    revoked_at: z.string().nullable(),
  })
  .openapi('CollectorKey');

const AddCollectorKeyInput = z
  .object({
    public_key: z.string().min(1).max(4096).openapi({ description: 'PEM (SPKI), 64 hex digits, or base64 of the 32-byte key or its SPKI DER' }),
    name: z.string().min(1).max(200).optional().openapi({ description: 'a label for people (not signed, not unique)' }),
  })
  .strict();

const CollectorKeyIdParam = z.object({ keyId: z.string().min(1).max(100).openapi({ param: { name: 'keyId', in: 'path' } }) });

/** An admin create request is one key and a label. */
const MAX_ADMIN_BODY_BYTES = 16 * 1024;

export function collectorRoutes(app: OpenAPIHono<AppEnv>, d: Deps): void {
  const cfg = d.ledger.config;
  const collectors = new Collectors(d.ledger, cfg.maxEventBytes);
  const keys = new CollectorKeys(d.ledger.store);
  const limit = d.rateLimitGroup('cicd', cfg.cicdRateLimit);

  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/v1/collector/attestations',
      tags: ['cicd'],
      security: [{ bearer: [] }],
      summary: 'Ingest a batch of 1–100 attestations, each Ed25519-signed by a registered collector key (all or nothing)',
      description:
        'Each item is checked (collector key registered and not revoked, signature over the item per docs/protocol.md §12) before anything ' +
        'is stored; the new items are appended to their repository stream in one transaction. A replayed item (same collector, id and bytes) ' +
        'answers its original record; the same id with other bytes is 409.',
      middleware: [d.auth('events:write'), limit, d.body(cfg.collectorMaxBatchBytes), d.idempotency(false)],
      parameters: [IDEMPOTENCY_KEY_PARAM],
      request: { body: { required: true, content: { 'application/json': { schema: CollectorBatch } } } },
      responses: {
        201: json(CollectorBatchAnswer, 'some items were appended: every item with its attestation record and receipt'),
        200: json(CollectorBatchAnswer, 'every item was accepted before: their original records'),
        ...authErrors,
        400: err('MALFORMED_JSON, IDEMPOTENCY_KEY_INVALID'),
        404: err('the repository is not visible to this key'),
        409: err('COLLECTOR_ITEM_CONFLICT (details.index, details.attestationId), IDEMPOTENCY_CONFLICT / IDEMPOTENCY_IN_PROGRESS'),
        413: err('body over PROOFSTREAM_COLLECTOR_MAX_BATCH_BYTES'),
        415: err('not application/json'),
        422: err('COLLECTOR_BATCH_INVALID, COLLECTOR_ITEM_INVALID, COLLECTOR_UNKNOWN, COLLECTOR_REVOKED, COLLECTOR_SIGNATURE_INVALID: details.index and details.field name the item; nothing stored'),
        507: err('storage full: nothing was written'),
      },
    }),
    async (c) => {
      const parsed = c.req.valid('json');
      // The signature covers the item exactly as sent: the raw body, not the validated (defaulted) value.
      const raw = (await c.req.json()) as { items: Array<{ attestation: Record<string, unknown>; signature: string }> };
      const entries: CollectorEntry[] = parsed.items.map((e, i) => ({ raw: raw.items[i]!.attestation, item: e.attestation, signature: e.signature }));
      const r = await collectors.ingest(c.get('principal'), entries, c.get('idempotency'));
      return jsonText(c, r.status, r.bodyText);
    },
    collectorValidationHook,
  );

  // ---- admin: the tenant's collector keys ----
  app.openapi(
    createRoute({
      method: 'get',
      path: '/v2/admin/collector-keys',
      tags: ['admin'],
      summary: "The tenant's collector keys, oldest first (revoked ones included)",
      security: [{ bearer: [] }],
      middleware: [d.auth('admin'), d.rateLimit] as const,
      responses: { 200: json(z.object({ collector_keys: z.array(CollectorKey) }), `at most ${COLLECTOR_LIMITS.listMax} keys`), ...authErrors },
    }),
    (c) => c.json({ collector_keys: keys.list(c.get('principal').tenantId) }, 200),
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v2/admin/collector-keys',
      tags: ['admin'],
      summary: 'Register a collector public key in the caller\'s tenant (201; 200 when it is registered already)',
      security: [{ bearer: [] }],
      middleware: [d.auth('admin'), d.rateLimit, d.body(MAX_ADMIN_BODY_BYTES)] as const,
      request: { body: { required: true, content: { 'application/json': { schema: AddCollectorKeyInput } } } },
      responses: {
        201: json(z.object({ collector_key: CollectorKey }), 'the key, registered'),
        200: json(z.object({ collector_key: CollectorKey }), 'the key was registered already (its row, unchanged)'),
        ...v2WriteErrors,
      },
    }),
    (c) => {
      const input = c.req.valid('json');
      let pub: Uint8Array;
      try {
        pub = parseCollectorPublicKey(input.public_key);
      } catch (e) {
        if (e instanceof CollectorKeyFormatError) throw new ApiError('VALIDATION_ERROR', `public_key: ${e.message}`, { path: 'public_key', field: 'public_key' });
        throw e;
      }
      const r = keys.add(c.get('principal').tenantId, pub, input.name ?? null);
      return c.json({ collector_key: r.key }, r.created ? 201 : 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/v2/admin/collector-keys/{keyId}',
      tags: ['admin'],
      summary: 'Revoke a collector key of the tenant: batches signed with it are refused from now on (422 COLLECTOR_REVOKED)',
      security: [{ bearer: [] }],
      middleware: [d.auth('admin'), d.rateLimit] as const,
      request: { params: CollectorKeyIdParam },
      responses: { 200: json(z.object({ collector_key: CollectorKey }), 'the key, revoked'), ...authErrors, 404: err('no such collector key in the tenant') },
    }),
    (c) => {
      const view = keys.revoke(c.get('principal').tenantId, c.req.valid('param').keyId);
      if (!view) throw notFound('collector key');
      return c.json({ collector_key: view }, 200);
    },
  );
}
