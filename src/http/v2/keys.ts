import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { Deps } from '../deps.js';
import type { AppEnv } from '../env.js';
import { json, PublicKey } from '../schemas.js';

export function keyRoutes(app: OpenAPIHono<AppEnv>, d: Deps) {
  app.openapi(
    createRoute({
      method: 'get',
      path: '/v2/keys',
      tags: ['keys'],
      summary: "The ledger's public keys (no auth): everything needed to check a receipt",
      responses: { 200: json(z.object({ keys: z.array(PublicKey) }), 'current and retired keys') },
    }),
    (c) => c.json({ keys: d.ledger.publicKeys() }, 200),
  );
}
