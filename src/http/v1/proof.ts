// GET /v1/events/{eventId}/proof: everything needed to check one v1 event offline (docs/api.md, "v1").
import { createRoute, OpenAPIHono } from '@hono/zod-openapi';
import type { V1Ledger } from '../../ledger/v1.js';
import type { Deps } from '../deps.js';
import type { AppEnv } from '../env.js';
import { authErrors, json } from '../schemas.js';
import { V1EventIdParam, V1Proof } from './schemas.js';

export function v1ProofRoutes(app: OpenAPIHono<AppEnv>, d: Deps, v1: V1Ledger) {
  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/events/{eventId}/proof',
      tags: ['v1'],
      summary: 'The proof object of a v1 event: event, receipt, inclusion, checkpoint, anchor and keys',
      security: [{ bearer: [] }],
      middleware: [d.auth('read'), d.rateLimit] as const,
      request: { params: V1EventIdParam },
      responses: { 200: json(V1Proof, 'the proof; status pending until the event is sealed into a checkpoint'), ...authErrors },
    }),
    (c) => c.json(v1.proof(c.get('principal'), c.req.valid('param').eventId) as never, 200),
  );
}
