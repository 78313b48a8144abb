// POST/GET /v1/webhooks: the seed's body ({url, events, secret, active}) over the same engine as /v2/webhooks, with
// the same answers, limits and address checks (docs/webhooks.md).
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { WEBHOOK_LIMITS } from '../../ledger/webhooks.js';
import type { Deps } from '../deps.js';
import type { AppEnv } from '../env.js';
import { jsonText } from '../reply.js';
import { authErrors, IdempotencyHeader, json } from '../schemas.js';
import { CreatedWebhook, MAX_WEBHOOK_BODY_BYTES, Webhook, WebhookInput } from '../v2/webhooks.js';

const V1WebhookInput = WebhookInput.pick({ url: true, events: true, secret: true, active: true }).strict().openapi('V1WebhookInput');

export function v1WebhookRoutes(app: OpenAPIHono<AppEnv>, d: Deps): void {
  const hooks = d.ledger.webhooks;

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/webhooks',
      tags: ['v1'],
      summary: "Create a webhook with the seed's body {url, events, secret, active}; same answer as POST /v2/webhooks",
      security: [{ bearer: [] }],
      middleware: [d.auth('webhooks'), d.rateLimit, d.body(MAX_WEBHOOK_BODY_BYTES), d.idempotency(false)] as const,
      request: { headers: IdempotencyHeader, body: { required: true, content: { 'application/json': { schema: V1WebhookInput } } } },
      responses: {
        201: json(CreatedWebhook, 'the new webhook and its secret'),
        ...authErrors,
        409: { description: 'WEBHOOK_LIMIT_REACHED or an Idempotency-Key conflict', content: authErrors[400].content },
        413: { description: 'body too large', content: authErrors[400].content },
        415: { description: 'not application/json', content: authErrors[400].content },
        422: { description: 'VALIDATION_ERROR, or WEBHOOK_URL_REFUSED (details.reason says why)', content: authErrors[400].content },
      },
    }),
    async (c) => {
      const { bodyText } = await hooks.create(c.get('principal'), c.req.valid('json'), c.get('idempotency'));
      return jsonText(c, 201, bodyText);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/webhooks',
      tags: ['v1'],
      summary: "The tenant's webhooks, oldest first (as GET /v2/webhooks)",
      security: [{ bearer: [] }],
      middleware: [d.auth('webhooks'), d.rateLimit] as const,
      request: {
        query: z.object({ limit: z.coerce.number().int().min(1).max(WEBHOOK_LIMITS.pageMax).default(50), cursor: z.string().max(512).optional() }),
      },
      responses: { 200: json(z.object({ webhooks: z.array(Webhook), next_cursor: z.string().nullable() }), 'a page of webhooks'), ...authErrors },
    }),
    (c) => {
      const q = c.req.valid('query');
      return c.json(hooks.list(c.get('principal'), q.cursor, q.limit), 200);
    },
  );
}
