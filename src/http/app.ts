// The Hono application: middleware order is request id → error model → routes (auth, limits, idempotency per route).
// The two append routes come first and run that whole chain in one handler (middleware/keyed-write.ts).
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { requestId } from 'hono/request-id';
import { newId } from '../ledger/ids.js';
import type { Ledger } from '../ledger/ledger.js';
import type { Deps } from './deps.js';
import type { AppEnv } from './env.js';
import { DOCS_HTML } from './docs-page.js';
import { errorHandler, onNotFound, validationHook } from './errors.js';
import { observabilityFor, readinessChecks } from './metrics.js';
import { authMiddleware } from './middleware/auth.js';
import { jsonBody } from './middleware/body.js';
import { idempotencyMiddleware } from './middleware/idempotency.js';
import { KeyRateLimiter, policyOf, rateLimit, rateLimitByAddress, TokenBuckets } from './middleware/rate-limit.js';
import { json } from './schemas.js';
import { StorageHealth } from './storage-health.js';
import { adminRoutes } from './v2/admin.js';
import { auditRoutes } from './v2/audit.js';
import { checkpointRoutes } from './v2/checkpoints.js';
import { erasureRoutes } from './v2/erasure.js';
import { appendRoutes, eventRoutes } from './v2/events.js';
import { keyRoutes } from './v2/keys.js';
import { streamRoutes } from './v2/streams.js';
import { verifyRoutes } from './v2/verify.js';
import { witnessRoutes } from './v2/witnesses.js';
import { liveRoutes } from './v2/live.js';
import { webhookRoutes } from './v2/webhooks.js';
import { v1Routes } from './v1/index.js';
import { DEFAULT_WEB_DIR, webAppRoutes } from './web-app.js';
import { cicdRoutes } from './cicd/routes.js';
import { connectorRoutes } from './cicd/connectors.js';
import { buildRoutes } from './builds/routes.js';
import { provenanceRoutes } from './cicd/provenance.js';
import { pipelineRoutes } from './pipelines/routes.js';

export function createApp(ledger: Ledger): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  const cfg = ledger.config;
  // Rate limits per key tier (docs/api.md "Rate limits").
  const limiter = new KeyRateLimiter({
    tiers: cfg.rateLimitTiers,
    capRps: cfg.rateLimitRps,
    capBurst: cfg.rateLimitBurst,
    maxAddressBuckets: cfg.rateLimitMaxAddresses,
  });
  const verifyPolicy = policyOf('verify', cfg.verifyRateLimitRps, cfg.verifyRateLimitBurst);
  const storage = new StorageHealth(ledger.store);
  ledger.appender.onCommit(() => storage.markWritten());
  // First of all: the access line and request metrics cover every route, the fused append routes included.
  app.use('*', observabilityFor(ledger).accessLog());
  // Before the request-id middleware: these handlers answer without calling next() and set the request id
  // themselves, exactly as that middleware would (keyed-write.ts).
  appendRoutes(app, ledger, {
    tenancy: ledger.tenancy,
    limiter,
    gate: ledger.idempotency,
    idempotencyTtlMs: cfg.idempotencyTtlMs,
    maxJsonDepth: cfg.maxJsonDepth,
  });
  app.use('*', requestId({ generator: () => newId('req') }));
  app.onError(errorHandler({ storageFull: () => storage.markFull() }));
  app.notFound(onNotFound);

  const deps: Deps = {
    ledger,
    auth: authMiddleware(ledger.tenancy, limiter),
    idempotency: idempotencyMiddleware(ledger.idempotency, cfg.idempotencyTtlMs),
    body: (maxBytes) => jsonBody(maxBytes, cfg.maxJsonDepth),
    rateLimit: rateLimit(limiter),
    rateLimitGroup: (name, spec) => rateLimit(limiter.forGroup(name, spec)),
    // Its own buckets, on by default: the verify routes are unauthenticated and each request can cost seconds of CPU.
    rateLimitByAddress: rateLimitByAddress(verifyPolicy && new TokenBuckets(verifyPolicy, cfg.rateLimitMaxAddresses)),
  };

  app.openapi(
    createRoute({
      method: 'get',
      path: '/health',
      tags: ['system'],
      summary: 'Liveness, database reachability and storage (no auth)',
      responses: {
        200: json(z.object({ status: z.literal('ok'), db: z.literal('ok'), storage: z.literal('ok'), kid: z.string() }), 'healthy'),
        503: json(
          z.union([
            z.object({ status: z.literal('degraded'), db: z.literal('unreachable') }),
            z.object({ status: z.literal('degraded'), db: z.literal('ok'), storage: z.literal('full'), kid: z.string() }),
          ]),
          'database unreachable, or storage full (appends answer 507 until there is room again)',
        ),
      },
    }),
    (c) => {
      let ok = false;
      try {
        ok = ledger.store.ping();
      } catch {
        ok = false;
      }
      if (!ok) return c.json({ status: 'degraded' as const, db: 'unreachable' as const }, 503);
      const kid = ledger.signer.kid;
      return storage.state() === 'full'
        ? c.json({ status: 'degraded' as const, db: 'ok' as const, storage: 'full' as const, kid }, 503)
        : c.json({ status: 'ok' as const, db: 'ok' as const, storage: 'ok' as const, kid }, 200);
    },
  );

  const check = z.object({ name: z.string(), ok: z.boolean(), detail: z.string(), witness: z.string().optional() });
  app.openapi(
    createRoute({
      method: 'get',
      path: '/ready',
      tags: ['system'],
      summary: 'Readiness: database writable, disk space, witness and anchor lag under their thresholds (no auth)',
      description:
        'Unlike /health (liveness), /ready says whether this ledger should take traffic and is keeping its evidence up to date. ' +
        'Thresholds: PROOFSTREAM_READY_MIN_FREE_BYTES, PROOFSTREAM_READY_MAX_WITNESS_LAG_S, PROOFSTREAM_READY_MAX_ANCHOR_LAG_S.',
      responses: {
        200: json(z.object({ status: z.literal('ready'), checks: z.array(check) }), 'every check passed'),
        503: json(z.object({ status: z.literal('not_ready'), failing: z.array(z.string()), checks: z.array(check) }), 'at least one check failed; `failing` names them'),
      },
    }),
    (c) => {
      const checks = readinessChecks(ledger, storage);
      const failing = checks.filter((x) => !x.ok).map((x) => (x.witness ? `${x.name}:${x.witness}` : x.name) + `: ${x.detail}`);
      return failing.length
        ? c.json({ status: 'not_ready' as const, failing, checks }, 503)
        : c.json({ status: 'ready' as const, checks }, 200);
    },
  );
  // The API reference, rendered in the browser from /openapi.json (src/http/docs-page.ts: nothing loaded from elsewhere).
  app.get('/docs', (c) => c.html(DOCS_HTML));

  streamRoutes(app, deps);
  eventRoutes(app, deps);
  erasureRoutes(app, deps);
  keyRoutes(app, deps);
  adminRoutes(app, deps);
  checkpointRoutes(app, deps);
  auditRoutes(app, deps);
  verifyRoutes(app, deps);
  witnessRoutes(app, deps);
  liveRoutes(app, deps); // GET /v2/streams/{id}/events/live (SSE)
  webhookRoutes(app, deps);
  v1Routes(app, deps);
  // The auditor page (web/, built into dist/web/): static files under a strict CSP (src/http/web-app.ts).
  webAppRoutes(app, cfg.webDir ?? DEFAULT_WEB_DIR);
  cicdRoutes(app, deps); // /api/v1: CI/CD evidence (docs/cicd.md)
  connectorRoutes(app, deps); // /api/v1/connectors: GitHub and GitLab hooks (docs/cicd.md "Connectors")
  buildRoutes(app, deps); // /build: build jobs streamed over SSE (docs/builds.md)
  provenanceRoutes(app, deps); // /api/v1/artifacts/{sha256}/provenance (docs/cicd.md "Provenance")
  pipelineRoutes(app, deps); // /v1/pipelines, /v1/executions, /v1/receipts/verify, /v1/cache (docs/pipelines.md)

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer' });
  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: { title: 'Proofstream', version: '0.1.0', description: 'Append-only evidence ledger. See docs/api.md.' },
  });
  return app;
}
