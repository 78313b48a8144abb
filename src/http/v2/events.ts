import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { ApiError } from '../../ledger/errors.js';
import type { Deps } from '../deps.js';
import type { AppEnv } from '../env.js';
import { jsonText } from '../reply.js';
import { authErrors, BatchInput, BatchReceipts, EventInput, IDEMPOTENCY_KEY_PARAM, json, Receipt, StoredReceipt, StreamIdParam, writeErrors } from '../schemas.js';

/** Each item of a batch body `{events: […]}` must fit the single-event limit too: 413 naming the first that does not. */
export function checkBatchItemSizes(body: unknown, maxEventBytes: number): void {
  const events = (body as { events: unknown[] }).events;
  events.forEach((e, index) => {
    const size = Buffer.byteLength(JSON.stringify(e));
    if (size > maxEventBytes) {
      throw new ApiError('PAYLOAD_TOO_LARGE', `events[${index}] is ${size} bytes; the limit per event is ${maxEventBytes}`, {
        index,
        limit_bytes: maxEventBytes,
      });
    }
  });
}

export function eventRoutes(app: OpenAPIHono<AppEnv>, d: Deps) {
  const { ledger } = d;
  const cfg = ledger.config;

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v2/streams/{streamId}/events',
      tags: ['events'],
      summary: 'Append one event; answers with its signed receipt once durable',
      security: [{ bearer: [] }],
      parameters: [IDEMPOTENCY_KEY_PARAM],
      middleware: [d.auth('events:write'), d.rateLimit, d.body(cfg.maxEventBytes), d.idempotency(true)] as const,
      request: {
        params: StreamIdParam,
        body: { required: true, content: { 'application/json': { schema: EventInput } } },
      },
      responses: { 201: json(Receipt, 'the signed receipt'), ...writeErrors },
    }),
    async (c) => {
      const r = await ledger.append(
        c.get('principal'),
        c.req.valid('param').streamId,
        [c.req.valid('json')],
        c.get('idempotency'),
        (receipts) => receipts[0],
      );
      return jsonText(c, r.status, r.bodyText);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v2/streams/{streamId}/events/batch',
      tags: ['events'],
      summary: 'Append 1–1000 events atomically, in order',
      security: [{ bearer: [] }],
      parameters: [IDEMPOTENCY_KEY_PARAM],
      middleware: [d.auth('events:write'), d.rateLimit, d.body(cfg.maxBatchBytes), d.idempotency(true)] as const,
      request: {
        params: StreamIdParam,
        body: { required: true, content: { 'application/json': { schema: BatchInput } } },
      },
      responses: { 201: json(BatchReceipts, 'one receipt per item, in order'), ...writeErrors },
    }),
    async (c) => {
      const { events } = c.req.valid('json');
      checkBatchItemSizes(await c.req.json(), cfg.maxEventBytes); // the body middleware's one parse, not a re-parse
      const streamId = c.req.valid('param').streamId;
      const r = await ledger.append(c.get('principal'), streamId, events, c.get('idempotency'), (receipts) => ({
        stream_id: streamId,
        receipts,
      }));
      return jsonText(c, r.status, r.bodyText);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v2/receipts/{eventId}',
      tags: ['events'],
      summary: 'The stored receipt of an event',
      security: [{ bearer: [] }],
      middleware: [d.auth('read'), d.rateLimit] as const,
      request: { params: z.object({ eventId: z.string().min(1).max(64) }) },
      responses: { 200: json(StoredReceipt, 'the receipt, with its inclusion proof once sealed'), ...authErrors },
    }),
    (c) => c.json(ledger.getReceipt(c.get('principal'), c.req.valid('param').eventId), 200),
  );
}
