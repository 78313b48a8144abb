// The v1 face: event ingest, proofs and public verification over the v2 engine (docs/api.md, "v1").
import type { OpenAPIHono } from '@hono/zod-openapi';
import { V1Ledger } from '../../ledger/v1.js';
import type { Deps } from '../deps.js';
import type { AppEnv } from '../env.js';
import { v1EventRoutes } from './events.js';
import { v1ProofRoutes } from './proof.js';
import { v1PublicVerifyRoutes } from './public-verify.js';
import { v1WebhookRoutes } from './webhooks.js';

export function v1Routes(app: OpenAPIHono<AppEnv>, d: Deps): void {
  const v1 = new V1Ledger(d.ledger);
  v1EventRoutes(app, d, v1);
  v1ProofRoutes(app, d, v1);
  v1PublicVerifyRoutes(app, d);
  v1WebhookRoutes(app, d);
}
