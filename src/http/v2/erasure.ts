// Payload erasure and the single-event read (docs/api.md "Payload erasure").
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { Erasures } from '../../ledger/erasure.js';
import { MAX_ERASURE_REASON } from '../../protocol/erasure.js';
import type { Deps } from '../deps.js';
import type { AppEnv } from '../env.js';
import { jsonText } from '../reply.js';
import { authErrors, Erased, ErrorEnvelope, IDEMPOTENCY_KEY_PARAM, json, Receipt, StoredEvent, writeErrors } from '../schemas.js';

/** The DELETE body is one short reason: 16 KiB is room for 500 characters of any script, escaped. */
export const ERASURE_BODY_LIMIT = 16 * 1024;

const EventIdParam = z.object({
  eventId: z.string().min(1).max(64).openapi({ param: { name: 'eventId', in: 'path' }, description: 'sev_… (or a v1 evt_… id)' }),
});

const ErasureInput = z
  .object({
    reason: z
      .string()
      .min(1)
      .max(MAX_ERASURE_REASON)
      .openapi({ description: `why, 1–${MAX_ERASURE_REASON} characters; committed in the erasure event and kept for good: no personal data` }),
  })
  .strict()
  .openapi('ErasureInput');

const ErasureAnswer = z
  .object({
    erased_event_id: z.string(),
    erased: Erased,
    erasure: Receipt.openapi({ description: "the erasure event's receipt" }),
  })
  .openapi('Erasure');

export function erasureRoutes(app: OpenAPIHono<AppEnv>, d: Deps) {
  const { ledger } = d;
  const erasures = new Erasures(ledger);

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/v2/events/{eventId}/payload',
      tags: ['events'],
      summary: "Erase an event's payload and salt; the commitment stays, and the erasure is appended to the stream as an event",
      security: [{ bearer: [] }],
      middleware: [d.auth('events:erase'), d.rateLimit, d.body(ERASURE_BODY_LIMIT), d.idempotency(true)] as const,
      parameters: [IDEMPOTENCY_KEY_PARAM],
      request: { params: EventIdParam, body: { required: true, content: { 'application/json': { schema: ErasureInput } } } },
      responses: {
        200: json(ErasureAnswer, "erased: the erased event's id and the erasure event's receipt"),
        ...writeErrors,
        409: json(ErrorEnvelope, 'ALREADY_ERASED, NOT_ERASABLE, or an Idempotency-Key conflict or in progress'),
      },
    }),
    async (c) => {
      const r = await erasures.erase(c.get('principal'), c.req.valid('param').eventId, c.req.valid('json').reason, c.get('idempotency'));
      return jsonText(c, r.status, r.bodyText);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v2/events/{eventId}',
      tags: ['events'],
      summary: 'One event with its payload and salt, or with `erased` once its payload was erased',
      security: [{ bearer: [] }],
      middleware: [d.auth('read'), d.rateLimit] as const,
      request: { params: EventIdParam },
      responses: { 200: json(StoredEvent, 'the event'), ...authErrors },
    }),
    (c) => c.json(ledger.getEvent(c.get('principal'), c.req.valid('param').eventId), 200),
  );
}
