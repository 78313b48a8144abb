// CI/CD connector routes (docs/cicd.md "Connectors"): managing a tenant's connectors (Bearer key) and the hook
// endpoints GitHub and GitLab call (no key: the HMAC or token is the authentication). Hooks are bounded before any
// work: per-address token buckets, a body cap read from Content-Length or counted, and the signature checked on the
// raw bytes before they are parsed.
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { CONNECTOR_PROVIDERS, Connectors, type ConnectorProvider } from '../../cicd/connectors.js';
import { ApiError } from '../../ledger/errors.js';
import type { Deps } from '../deps.js';
import type { AppEnv } from '../env.js';
import { readBytes } from '../middleware/body.js';
import { policyOf, rateLimitByAddress, TokenBuckets } from '../middleware/rate-limit.js';
import { jsonText } from '../reply.js';
import { authErrors, ErrorEnvelope, json } from '../schemas.js';
import { cicdValidationHook, IdParam } from './schemas.js';

const err = (description: string) => ({ description, content: { 'application/json': { schema: ErrorEnvelope } } });

const ConnectorInput = z
  .object({
    provider: z.enum(CONNECTOR_PROVIDERS),
    name: z.string().min(1).max(128).openapi({ example: 'acme GitHub org' }),
  })
  .strict()
  .openapi('CicdConnectorInput');

const Connector = z
  .object({
    id: z.string(),
    provider: z.enum(CONNECTOR_PROVIDERS),
    name: z.string(),
    system_id: z.string(),
    webhook_path: z.string().openapi({ example: '/api/v1/connectors/github/con_…', description: "append to the ledger's public base URL" }),
    created_at: z.string(),
    revoked_at: z.string().nullable(),
  })
  .openapi('CicdConnector');

const CreatedConnector = Connector.extend({
  secret: z.string().openapi({ description: 'shown only in this answer: the GitHub webhook secret / GitLab secret token' }),
}).openapi('CicdConnectorCreated');

const HookAnswer = z
  .object({ recorded: z.literal(false), event: z.string(), reason: z.string() })
  .passthrough()
  .openapi('CicdConnectorNothingRecorded');

const HookParam = z.object({ connectorId: z.string().min(1).max(64) });

/** At most this many connectors in one list answer (newest first). */
export const CONNECTOR_LIST_MAX = 500;

export function connectorRoutes(app: OpenAPIHono<AppEnv>, d: Deps): void {
  const cfg = d.ledger.config;
  const connectors = new Connectors(d.ledger, cfg.idempotencyTtlMs);
  const limit = d.rateLimitGroup('cicd', cfg.cicdRateLimit);
  // Their own buckets: a flood of forged hooks must not eat the verify routes' budget, nor theirs this one's.
  const policy = policyOf('connectors', cfg.connectorRateLimitRps, cfg.connectorRateLimitBurst);
  const byAddress = rateLimitByAddress(policy && new TokenBuckets(policy, cfg.rateLimitMaxAddresses));
  const tags = ['cicd'];
  const security = [{ bearer: [] }];

  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/v1/connectors',
      tags,
      security,
      summary: 'Create a GitHub or GitLab connector; its secret is in this answer only',
      // events:write: a connector writes what its creator's key could write itself, on the same system's streams.
      middleware: [d.auth('events:write'), limit, d.body(cfg.maxEventBytes)],
      request: { body: { required: true, content: { 'application/json': { schema: ConnectorInput } } } },
      responses: { 201: json(CreatedConnector, 'the connector, its secret and the webhook path'), ...authErrors, 400: err('VALIDATION_ERROR naming the field') },
    }),
    (c) => {
      const { provider, name } = c.req.valid('json');
      return c.json(connectors.create(c.get('principal'), provider, name), 201);
    },
    cicdValidationHook,
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/connectors',
      tags,
      security,
      summary: `The tenant's connectors (this key's system's, or all for a tenant-wide key), newest first, at most ${CONNECTOR_LIST_MAX}; never their secrets`,
      middleware: [d.auth('read'), limit],
      responses: { 200: json(z.object({ items: z.array(Connector) }), 'the connectors'), ...authErrors },
    }),
    (c) => c.json({ items: connectors.list(c.get('principal'), CONNECTOR_LIST_MAX) }, 200),
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/api/v1/connectors/{id}',
      tags,
      security,
      summary: 'Revoke a connector: its hooks answer 404 from now on (the row stays, with revoked_at)',
      middleware: [d.auth('events:write'), limit],
      request: { params: IdParam },
      responses: { 200: json(Connector, 'the revoked connector'), ...authErrors },
    }),
    (c) => c.json(connectors.revoke(c.get('principal'), c.req.valid('param').id), 200),
    cicdValidationHook,
  );

  for (const provider of CONNECTOR_PROVIDERS) {
    const auth = provider === 'github' ? 'X-Hub-Signature-256 (HMAC-SHA256 of the raw body)' : 'X-Gitlab-Token';
    app.openapi(
      createRoute({
        method: 'post',
        path: `/api/v1/connectors/${provider}/{connectorId}`,
        tags,
        summary: `The ${provider === 'github' ? 'GitHub' : 'GitLab'} webhook endpoint of one connector (no key: ${auth} with the connector's secret authenticates)`,
        description:
          'The raw JSON body is checked before it is parsed. Answers: the written record (201, or 200 for a run update), its replay for a redelivery, 200 `recorded:false` for ping and no-op changes, 202 `recorded:false` for events and actions that are not mapped (docs/cicd.md "Connectors").',
        middleware: [byAddress],
        request: { params: HookParam },
        responses: {
          200: json(HookAnswer, 'ping, an update of a run, or a change that records nothing (recorded:false)'),
          201: json(z.object({ id: z.string() }).passthrough(), 'the CI/CD record written, with its receipt'),
          202: json(HookAnswer, 'not mapped: nothing recorded'),
          400: err('MALFORMED_JSON, or VALIDATION_ERROR naming a payload field the mapping needs'),
          401: err('CONNECTOR_SIGNATURE_INVALID: nothing recorded'),
          404: err('no such active connector of this provider'),
          409: err('IDEMPOTENCY_CONFLICT: the delivery id was seen with another body'),
          413: err('body over PROOFSTREAM_CONNECTOR_MAX_BODY_BYTES'),
          422: err('REFERENCE_UNKNOWN'),
          429: err('per-address rate limit (PROOFSTREAM_CONNECTOR_RATE_LIMIT_RPS / _BURST)'),
        },
      }),
      async (c) => {
        const bytes = await readBytes(c, cfg.connectorMaxBodyBytes);
        const body = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
        const a = await connectors.receive(provider as ConnectorProvider, c.req.valid('param').connectorId, { header: (n) => c.req.header(n), body });
        if (a.replayed) c.header('Idempotent-Replayed', 'true');
        return jsonText(c, a.status as 200, a.bodyText) as never;
      },
      cicdValidationHook,
    );

    // The bare path: which connector (so which secret) is not known from it. 404 naming where to go instead.
    app.openapi(
      createRoute({
        method: 'post',
        path: `/api/v1/connectors/${provider}`,
        tags,
        summary: `Not a hook endpoint: use /api/v1/connectors/${provider}/{connectorId} (the webhook_path of POST /api/v1/connectors)`,
        middleware: [byAddress],
        responses: { 404: err('RESOURCE_NOT_FOUND pointing to the per-connector path') },
      }),
      () => {
        throw new ApiError('RESOURCE_NOT_FOUND', `send ${provider} hooks to /api/v1/connectors/${provider}/{connectorId}: the webhook_path POST /api/v1/connectors answered`, {
          path: `/api/v1/connectors/${provider}/{connectorId}`,
        });
      },
    );
  }
}
