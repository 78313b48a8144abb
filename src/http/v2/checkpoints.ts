import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { Deps } from '../deps.js';
import type { AppEnv } from '../env.js';
import { authErrors, Checkpoint, Consistency, Inclusion, json, StreamIdParam, Window } from '../schemas.js';

const unprocessable = { 422: { description: 'parameters valid in form but not for this object' } };

export function checkpointRoutes(app: OpenAPIHono<AppEnv>, d: Deps) {
  const proofs = d.ledger.proofs;
  const read = () => [d.auth('read'), d.rateLimit];

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v2/windows/{windowId}',
      tags: ['evidence'],
      summary: "A sealed window, its checkpoint and every event's inclusion proof to that checkpoint",
      security: [{ bearer: [] }],
      middleware: read(),
      request: { params: z.object({ windowId: z.string().min(1).max(64) }) },
      responses: { 200: json(Window, 'the window'), ...authErrors },
    }),
    (c) => c.json(proofs.window(c.get('principal'), c.req.valid('param').windowId), 200),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v2/checkpoints/{checkpointId}',
      tags: ['evidence'],
      summary: 'A signed checkpoint (C2SP tlog-checkpoint note)',
      security: [{ bearer: [] }],
      middleware: read(),
      request: { params: z.object({ checkpointId: z.string().min(1).max(64) }) },
      responses: { 200: json(Checkpoint, 'the checkpoint'), ...authErrors },
    }),
    (c) => c.json(proofs.checkpoint(c.get('principal'), c.req.valid('param').checkpointId), 200),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v2/checkpoints/{checkpointId}/consistency',
      tags: ['evidence'],
      summary: 'RFC 9162 consistency proof from an earlier checkpoint (id or tree size) to this one',
      security: [{ bearer: [] }],
      middleware: read(),
      request: {
        params: z.object({ checkpointId: z.string().min(1).max(64) }),
        query: z.object({ from: z.string().min(1).max(64) }),
      },
      responses: { 200: json(Consistency, 'the proof'), ...authErrors, ...unprocessable },
    }),
    (c) => c.json(proofs.consistency(c.get('principal'), c.req.valid('param').checkpointId, c.req.valid('query').from), 200),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v2/streams/{streamId}/checkpoints',
      tags: ['evidence'],
      summary: "A stream's checkpoints, newest first (`before` = tree size cursor)",
      security: [{ bearer: [] }],
      middleware: read(),
      request: {
        params: StreamIdParam,
        query: z.object({
          limit: z.coerce.number().int().min(1).max(200).default(50),
          before: z.coerce.number().int().min(1).optional(),
        }),
      },
      responses: {
        200: json(z.object({ checkpoints: z.array(Checkpoint), next_before: z.number().int().nullable() }), 'a page'),
        ...authErrors,
      },
    }),
    (c) => {
      const q = c.req.valid('query');
      return c.json(proofs.list(c.get('principal'), c.req.valid('param').streamId, q.before, q.limit), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v2/streams/{streamId}/checkpoints/latest',
      tags: ['evidence'],
      summary: "The stream's newest checkpoint",
      security: [{ bearer: [] }],
      middleware: read(),
      request: { params: StreamIdParam },
      responses: { 200: json(Checkpoint, 'the checkpoint'), ...authErrors },
    }),
    (c) => c.json(proofs.latest(c.get('principal'), c.req.valid('param').streamId), 200),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v2/streams/{streamId}/inclusion',
      tags: ['evidence'],
      summary: 'Inclusion proof of seq_no in the tree of tree_size (default: the latest checkpoint)',
      security: [{ bearer: [] }],
      middleware: read(),
      request: {
        params: StreamIdParam,
        query: z.object({
          seq_no: z.coerce.number().int().min(1),
          tree_size: z.coerce.number().int().min(1).optional(),
        }),
      },
      responses: { 200: json(Inclusion, 'the proof'), ...authErrors, ...unprocessable },
    }),
    (c) => {
      const q = c.req.valid('query');
      return c.json(proofs.inclusion(c.get('principal'), c.req.valid('param').streamId, q.seq_no, q.tree_size), 200);
    },
  );
}
