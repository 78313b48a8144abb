import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { ApiError } from '../../ledger/errors.js';
import type { Ledger } from '../../ledger/ledger.js';
import type { Deps } from '../deps.js';
import type { AppEnv } from '../env.js';
import { jsonForValidation, keyedWrite, validated, type KeyedWriteDeps } from '../middleware/keyed-write.js';
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

const SINGLE_PATH = '/v2/streams/{streamId}/events';
const BATCH_PATH = '/v2/streams/{streamId}/events/batch';
const honoPath = (p: string) => p.replaceAll(/\/{(.+?)}/g, '/:$1');

/**
 * The two append routes, as handlers: each runs its whole middleware chain in one function (keyed-write.ts), with
 * the same checks in the same order as the chain declared for the other write routes: auth('events:write'), rate
 * limit, body (the route's size limit), idempotency (required), then the param validator, the media-type gate and
 * the json validator. app.ts registers these before the global request-id middleware; their documentation is
 * registered by eventRoutes, in its place in /openapi.json.
 */
export function appendRoutes(app: OpenAPIHono<AppEnv>, ledger: Ledger, d: KeyedWriteDeps) {
  const cfg = ledger.config;

  app.post(
    honoPath(SINGLE_PATH),
    keyedWrite(d, 'events:write', cfg.maxEventBytes, (c, w) => {
      const { streamId } = validated(StreamIdParam, c.req.param(), 'param');
      const input = validated(EventInput, jsonForValidation(c, w.body), 'json');
      return ledger.append(w.principal, streamId, [input], w.idem, 'receipt');
    }),
  );

  app.post(
    honoPath(BATCH_PATH),
    keyedWrite(d, 'events:write', cfg.maxBatchBytes, (c, w) => {
      const { streamId } = validated(StreamIdParam, c.req.param(), 'param');
      const { events } = validated(BatchInput, jsonForValidation(c, w.body), 'json');
      checkBatchItemSizes(w.body, cfg.maxEventBytes); // the one parse, not a re-parse
      return ledger.append(w.principal, streamId, events, w.idem, 'batch');
    }),
  );
}

export function eventRoutes(app: OpenAPIHono<AppEnv>, d: Deps) {
  const { ledger } = d;

  // Documentation only: the handlers are appendRoutes above (what app.openapi() would register, minus the chain).
  app.openAPIRegistry.registerPath(
    createRoute({
      method: 'post',
      path: SINGLE_PATH,
      tags: ['events'],
      summary: 'Append one event; answers with its signed receipt once durable',
      security: [{ bearer: [] }],
      parameters: [IDEMPOTENCY_KEY_PARAM],
      request: {
        params: StreamIdParam,
        body: { required: true, content: { 'application/json': { schema: EventInput } } },
      },
      responses: { 201: json(Receipt, 'the signed receipt'), ...writeErrors },
    }),
  );

  app.openAPIRegistry.registerPath(
    createRoute({
      method: 'post',
      path: BATCH_PATH,
      tags: ['events'],
      summary: 'Append 1–1000 events atomically, in order',
      security: [{ bearer: [] }],
      parameters: [IDEMPOTENCY_KEY_PARAM],
      request: {
        params: StreamIdParam,
        body: { required: true, content: { 'application/json': { schema: BatchInput } } },
      },
      responses: { 201: json(BatchReceipts, 'one receipt per item, in order'), ...writeErrors },
    }),
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
