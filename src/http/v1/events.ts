// POST /v1/sdk/events and /v1/sdk/events/batch: v1 ingest through the v2 append path (same auth scope, rate
// limit, body limits and Idempotency-Key semantics), answering with v1 receipts.
import { createRoute, OpenAPIHono } from '@hono/zod-openapi';
import type { V1Ledger } from '../../ledger/v1.js';
import type { Deps } from '../deps.js';
import type { AppEnv } from '../env.js';
import { jsonText } from '../reply.js';
import { IDEMPOTENCY_KEY_PARAM, json, writeErrors } from '../schemas.js';
import { checkBatchItemSizes } from '../v2/events.js';
import { V1BatchInput, V1BatchReceipts, V1EventInput, V1Receipt } from './schemas.js';

export function v1EventRoutes(app: OpenAPIHono<AppEnv>, d: Deps, v1: V1Ledger) {
  const cfg = d.ledger.config;

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/sdk/events',
      tags: ['v1'],
      summary: "Log one event in the key's system v1 stream; answers with its v1 receipt once durable",
      security: [{ bearer: [] }],
      middleware: [d.auth('events:write'), d.rateLimit, d.body(cfg.maxEventBytes), d.idempotency(true)] as const,
      parameters: [IDEMPOTENCY_KEY_PARAM],
      request: {
        body: { required: true, content: { 'application/json': { schema: V1EventInput } } },
      },
      responses: { 201: json(V1Receipt, 'the v1 receipt'), ...writeErrors },
    }),
    async (c) => {
      const r = await v1.append(c.get('principal'), [c.req.valid('json')], c.get('idempotency'), (receipts) => receipts[0]);
      return jsonText(c, r.status, r.bodyText);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/sdk/events/batch',
      tags: ['v1'],
      summary: 'Log 1–1000 events atomically, in order; one v1 receipt per event',
      security: [{ bearer: [] }],
      middleware: [d.auth('events:write'), d.rateLimit, d.body(cfg.maxBatchBytes), d.idempotency(true)] as const,
      parameters: [IDEMPOTENCY_KEY_PARAM],
      request: {
        body: { required: true, content: { 'application/json': { schema: V1BatchInput } } },
      },
      responses: { 201: json(V1BatchReceipts, 'one v1 receipt per event, in order'), ...writeErrors },
    }),
    async (c) => {
      const { events } = c.req.valid('json');
      checkBatchItemSizes(await c.req.json(), cfg.maxEventBytes);
      const r = await v1.append(c.get('principal'), events, c.get('idempotency'), (receipts) => ({ events: receipts }));
      return jsonText(c, r.status, r.bodyText);
    },
  );
}
