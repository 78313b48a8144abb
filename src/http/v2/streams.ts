import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { Deps } from '../deps.js';
import type { AppEnv } from '../env.js';
import { jsonText } from '../reply.js';
import { authErrors, IdempotencyHeader, json, StoredEvent, Stream, StreamIdParam, StreamInput, writeErrors } from '../schemas.js';

export function streamRoutes(app: OpenAPIHono<AppEnv>, d: Deps) {
  const { ledger } = d;

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v2/streams',
      tags: ['streams'],
      summary: 'Create a stream',
      security: [{ bearer: [] }],
      middleware: [d.auth('streams:write'), d.rateLimit, d.body(ledger.config.maxEventBytes), d.idempotency(false)] as const,
      request: { headers: IdempotencyHeader, body: { required: true, content: { 'application/json': { schema: StreamInput } } } },
      responses: { 201: json(Stream, 'the new stream'), ...writeErrors },
    }),
    (c) => {
      const { bodyText } = ledger.createStream(c.get('principal'), c.req.valid('json'), c.get('idempotency'));
      return jsonText(c, 201, bodyText);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v2/streams/{streamId}',
      tags: ['streams'],
      summary: 'Get a stream and its head',
      security: [{ bearer: [] }],
      middleware: [d.auth('read'), d.rateLimit] as const,
      request: { params: StreamIdParam },
      responses: { 200: json(Stream, 'the stream'), ...authErrors },
    }),
    (c) => c.json(ledger.getStream(c.get('principal'), c.req.valid('param').streamId), 200),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v2/streams',
      tags: ['streams'],
      summary: "List the tenant's streams (oldest first, cursor paginated)",
      security: [{ bearer: [] }],
      middleware: [d.auth('read'), d.rateLimit] as const,
      request: {
        query: z.object({
          limit: z.coerce.number().int().min(1).max(200).default(50),
          cursor: z.string().max(512).optional(),
        }),
      },
      responses: {
        200: json(z.object({ streams: z.array(Stream), next_cursor: z.string().nullable() }), 'a page of streams'),
        ...authErrors,
      },
    }),
    (c) => {
      const q = c.req.valid('query');
      return c.json(ledger.listStreams(c.get('principal'), q.cursor, q.limit), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v2/streams/{streamId}/events',
      tags: ['events'],
      summary: 'Read events back in seq order, payloads and salts included',
      security: [{ bearer: [] }],
      middleware: [d.auth('read'), d.rateLimit] as const,
      request: {
        params: StreamIdParam,
        query: z.object({
          from_seq_no: z.coerce.number().int().min(1).default(1),
          limit: z.coerce.number().int().min(1).max(1000).default(100),
        }),
      },
      responses: {
        200: json(z.object({ events: z.array(StoredEvent), next_from_seq_no: z.number().int().nullable() }), 'a page of events'),
        ...authErrors,
      },
    }),
    (c) => {
      const q = c.req.valid('query');
      return c.json(ledger.listEvents(c.get('principal'), c.req.valid('param').streamId, q.from_seq_no, q.limit), 200);
    },
  );
}
