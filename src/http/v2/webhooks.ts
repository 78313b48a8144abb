// Webhooks over HTTP, behind the `webhooks` scope (docs/webhooks.md): create, list, get, update, delete, the
// deliveries of one and redelivery. Another tenant's (or, for a key that is not tenant-wide, another system's)
// webhook answers 404 exactly like an unknown one.
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { WEBHOOK_EVENT_TYPES, WEBHOOK_LIMITS } from '../../ledger/webhooks.js';
import type { Deps } from '../deps.js';
import type { AppEnv } from '../env.js';
import { jsonText } from '../reply.js';
import { authErrors, IdempotencyHeader, json, writeErrors } from '../schemas.js';

/** A webhook request is a few short fields. */
export const MAX_WEBHOOK_BODY_BYTES = 16 * 1024;

const EventTypes = z
  .array(z.enum(WEBHOOK_EVENT_TYPES))
  .min(1)
  .max(WEBHOOK_EVENT_TYPES.length)
  .openapi({ description: `one or more of ${WEBHOOK_EVENT_TYPES.join(', ')} (duplicates are dropped)` });

const Url = z
  .string()
  .min(1)
  .max(WEBHOOK_LIMITS.urlChars)
  .openapi({ description: 'http(s) URL; no credentials; not loopback, private, link-local, CGNAT, multicast or metadata (unless PROOFSTREAM_WEBHOOK_ALLOW_PRIVATE)' });

const Secret = z
  .string()
  .min(WEBHOOK_LIMITS.secretMinChars)
  .max(WEBHOOK_LIMITS.secretMaxChars)
  .openapi({ description: 'HMAC secret, 16–256 printable ASCII characters (a whsec_ secret: canonical base64 of 24–64 bytes); default: a generated whsec_ secret' });

const Description = z.string().max(WEBHOOK_LIMITS.descriptionChars).nullable();

export const WebhookInput = z
  .object({
    url: Url,
    events: EventTypes,
    secret: Secret.optional(),
    active: z.boolean().optional().openapi({ description: 'default true' }),
    stream_id: z.string().min(1).max(64).nullable().optional().openapi({ description: "only this stream's announcements; default every stream the key may see" }),
    description: Description.optional(),
  })
  .strict()
  .openapi('WebhookInput');

export const WebhookPatch = z
  .object({
    url: Url.optional(),
    events: EventTypes.optional(),
    active: z.boolean().optional().openapi({ description: 'true on a disabled webhook re-activates it and clears disabled_at / disabled_reason' }),
    description: Description.optional(),
    secret: Secret.optional(),
  })
  .strict()
  .openapi('WebhookPatch');

export const Webhook = z
  .object({
    webhook_id: z.string(),
    url: z.string(),
    events: z.array(z.string()),
    active: z.boolean(),
    stream_id: z.string().nullable(),
    description: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
    disabled_at: z.string().nullable(),
    disabled_reason: z.string().nullable(),
  })
  .openapi('Webhook');

export const CreatedWebhook = Webhook.extend({ secret: z.string().openapi({ description: 'the signing secret: in this answer only' }) }).openapi('CreatedWebhook');

export const Delivery = z
  .object({
    delivery_id: z.string().openapi({ description: 'msg_…, also the webhook-id header of every attempt' }),
    event: z.string(),
    status: z.enum(['pending', 'delivered', 'failed', 'dead']),
    attempts: z.number().int(),
    last_status_code: z.number().int().nullable(),
    last_error: z.string().nullable(),
    next_attempt_at: z.string().nullable(),
    created_at: z.string(),
    delivered_at: z.string().nullable(),
  })
  .openapi('WebhookDelivery');

const WebhookIdParam = z.object({ webhookId: z.string().min(1).max(64).openapi({ param: { name: 'webhookId', in: 'path' } }) });
const DeliveryParams = WebhookIdParam.extend({ deliveryId: z.string().min(1).max(64).openapi({ param: { name: 'deliveryId', in: 'path' } }) });
const Page = (max: number) =>
  z.object({
    limit: z.coerce.number().int().min(1).max(max).default(50),
    cursor: z.string().max(512).optional(),
  });

const webhookErrors = {
  ...writeErrors,
  409: { description: 'WEBHOOK_LIMIT_REACHED, WEBHOOK_INACTIVE, or an Idempotency-Key conflict', content: writeErrors[409].content },
  422: { description: 'VALIDATION_ERROR, or WEBHOOK_URL_REFUSED (details.reason says why)', content: writeErrors[422].content },
};

export function webhookRoutes(app: OpenAPIHono<AppEnv>, d: Deps) {
  const hooks = d.ledger.webhooks;

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v2/webhooks',
      tags: ['webhooks'],
      summary: 'Create a webhook; the answer holds its secret, the only time it is shown',
      security: [{ bearer: [] }],
      middleware: [d.auth('webhooks'), d.rateLimit, d.body(MAX_WEBHOOK_BODY_BYTES), d.idempotency(false)] as const,
      request: { headers: IdempotencyHeader, body: { required: true, content: { 'application/json': { schema: WebhookInput } } } },
      responses: { 201: json(CreatedWebhook, 'the new webhook and its secret'), ...webhookErrors },
    }),
    async (c) => {
      const { bodyText } = await hooks.create(c.get('principal'), c.req.valid('json'), c.get('idempotency'));
      return jsonText(c, 201, bodyText);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v2/webhooks',
      tags: ['webhooks'],
      summary: "The tenant's webhooks, oldest first (never their secrets)",
      security: [{ bearer: [] }],
      middleware: [d.auth('webhooks'), d.rateLimit] as const,
      request: { query: Page(WEBHOOK_LIMITS.pageMax) },
      responses: { 200: json(z.object({ webhooks: z.array(Webhook), next_cursor: z.string().nullable() }), 'a page of webhooks'), ...authErrors },
    }),
    (c) => {
      const q = c.req.valid('query');
      return c.json(hooks.list(c.get('principal'), q.cursor, q.limit), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v2/webhooks/{webhookId}',
      tags: ['webhooks'],
      summary: 'A webhook (never its secret)',
      security: [{ bearer: [] }],
      middleware: [d.auth('webhooks'), d.rateLimit] as const,
      request: { params: WebhookIdParam },
      responses: { 200: json(Webhook, 'the webhook'), ...authErrors },
    }),
    (c) => c.json(hooks.get(c.get('principal'), c.req.valid('param').webhookId), 200),
  );

  app.openapi(
    createRoute({
      method: 'patch',
      path: '/v2/webhooks/{webhookId}',
      tags: ['webhooks'],
      summary: 'Change url, events, active, description or secret',
      security: [{ bearer: [] }],
      middleware: [d.auth('webhooks'), d.rateLimit, d.body(MAX_WEBHOOK_BODY_BYTES)] as const,
      request: { params: WebhookIdParam, body: { required: true, content: { 'application/json': { schema: WebhookPatch } } } },
      responses: { 200: json(Webhook, 'the webhook as changed'), ...webhookErrors },
    }),
    async (c) => c.json(await hooks.update(c.get('principal'), c.req.valid('param').webhookId, c.req.valid('json')), 200),
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/v2/webhooks/{webhookId}',
      tags: ['webhooks'],
      summary: 'Delete a webhook and its deliveries (pending ones are never sent)',
      security: [{ bearer: [] }],
      middleware: [d.auth('webhooks'), d.rateLimit] as const,
      request: { params: WebhookIdParam },
      responses: { 204: { description: 'deleted' }, ...authErrors },
    }),
    (c) => {
      hooks.delete(c.get('principal'), c.req.valid('param').webhookId);
      return c.body(null, 204);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v2/webhooks/{webhookId}/deliveries',
      tags: ['webhooks'],
      summary: "A webhook's deliveries, newest first: status, attempts, last response code and error",
      security: [{ bearer: [] }],
      middleware: [d.auth('webhooks'), d.rateLimit] as const,
      request: { params: WebhookIdParam, query: Page(WEBHOOK_LIMITS.pageMax) },
      responses: { 200: json(z.object({ deliveries: z.array(Delivery), next_cursor: z.string().nullable() }), 'a page of deliveries'), ...authErrors },
    }),
    (c) => {
      const q = c.req.valid('query');
      return c.json(hooks.deliveries(c.get('principal'), c.req.valid('param').webhookId, q.cursor, q.limit), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v2/webhooks/{webhookId}/deliveries/{deliveryId}/redeliver',
      tags: ['webhooks'],
      summary: 'Send a delivery again now (same webhook-id), with a fresh retry period',
      security: [{ bearer: [] }],
      middleware: [d.auth('webhooks'), d.rateLimit] as const,
      request: { params: DeliveryParams },
      responses: { 202: json(Delivery, 'queued: the delivery, pending'), ...webhookErrors },
    }),
    (c) => {
      const p = c.req.valid('param');
      return c.json(hooks.redeliver(c.get('principal'), p.webhookId, p.deliveryId), 202);
    },
  );
}
