// Witness status (per stream of the caller's tenant) and the published trust policy.
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { Deps } from '../deps.js';
import type { AppEnv } from '../env.js';
import { authErrors, json } from '../schemas.js';

const WitnessStatus = z
  .object({
    name: z.string(),
    url: z.string(),
    vkey: z.string(),
    failures: z.number().int().openapi({ description: 'consecutive failed passes (0 = healthy)' }),
    last_error: z.object({ message: z.string(), at: z.string() }).nullable(),
    last_success_at: z.string().nullable(),
    streams: z.array(
      z.object({
        stream_id: z.string(),
        last_cosigned_size: z.number().int(),
        last_error: z.string().nullable(),
        last_error_at: z.string().nullable(),
      }),
    ),
    streams_truncated: z.boolean().openapi({ description: 'true when more streams exist than the first 1,000 (by id) listed' }),
  })
  .openapi('WitnessStatus');

export function witnessRoutes(app: OpenAPIHono<AppEnv>, d: Deps) {
  const { ledger } = d;
  app.openapi(
    createRoute({
      method: 'get',
      path: '/v2/witnesses',
      tags: ['witnesses'],
      summary: "Each configured witness: health, and the last size it cosigned of each of the caller's streams",
      security: [{ bearer: [] }],
      middleware: [d.auth('read'), d.rateLimit] as const,
      responses: {
        200: json(z.object({ quorum: z.number().int(), witnesses: z.array(WitnessStatus) }), 'witness status'),
        ...authErrors,
      },
    }),
    (c) => c.json(ledger.witnessStatus(c.get('principal')), 200),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v2/trust-policy',
      tags: ['witnesses'],
      summary: 'The trust policy this ledger is configured with (no auth): log keys, witnesses and quorum, TSA roots',
      responses: {
        200: { description: 'a policy file for `proofstream verify --policy` (docs/trust.md)', content: { 'text/plain': { schema: z.string() } } },
      },
    }),
    (c) => c.text(ledger.trustPolicy(), 200, { 'content-type': 'text/plain; charset=utf-8' }),
  );
}
