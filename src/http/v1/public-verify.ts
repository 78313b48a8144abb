// POST /v1/public/verify: the shared verifier (src/verify) on a v1 proof object. No auth and no database reads:
// the default trust is the server's own trust policy built from memory (its current signing key), exactly as
// POST /v2/verify does.
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { ApiError } from '../../ledger/errors.js';
import { verify, type TrustedKey } from '../../verify/index.js';
import { V1_PROOF_KIND } from '../../verify/v1-proof.js';
import type { Deps } from '../deps.js';
import type { AppEnv } from '../env.js';
import { zodDetails } from '../errors.js';
import { ErrorEnvelope, json } from '../schemas.js';
import { requestTrust, VerifyReport, VerifyRequest } from '../v2/verify.js';

/** `{proof, trusted_keys?, policy?}`; any other JSON object is taken as the proof itself. */
export const V1VerifyRequest = z
  .object({
    proof: z
      .unknown()
      .refine((v) => v !== undefined, { message: 'required' })
      .openapi({ description: 'the v1 proof object (GET /v1/events/{eventId}/proof)' }),
    trusted_keys: VerifyRequest.shape.trusted_keys,
    policy: VerifyRequest.shape.policy,
  })
  .strict()
  .openapi('V1VerifyRequest');

const V1VerifyBody = z
  .union([V1VerifyRequest, z.looseObject({}).openapi({ description: 'the v1 proof object itself (trust: the server key)' })])
  .openapi('V1VerifyBody');

const errorResponse = (description: string) => ({ description, content: { 'application/json': { schema: ErrorEnvelope } } });

const WRAPPER_MEMBERS = new Set(['proof', 'trusted_keys', 'policy']);
const isWrapper = (b: Record<string, unknown>) => Object.hasOwn(b, 'proof') && Object.keys(b).every((k) => WRAPPER_MEMBERS.has(k));

export function v1PublicVerifyRoutes(app: OpenAPIHono<AppEnv>, d: Deps) {
  const { signer, config } = d.ledger;
  // Read once from memory: never from the database.
  const serverPolicy = d.ledger.evidence.trustPolicy([signer.publicKey]);

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/public/verify',
      tags: ['v1'],
      summary: 'Verify a v1 proof object (no auth, stateless); the same report as POST /v2/verify',
      middleware: [d.rateLimitByAddress, d.body(config.maxVerifyBytes)] as const,
      request: { body: { required: true, content: { 'application/json': { schema: V1VerifyBody } } } },
      responses: {
        200: json(VerifyReport, 'the report, whether or not the proof is valid'),
        400: errorResponse('body is not JSON'),
        413: errorResponse('body too large'),
        415: errorResponse('not application/json'),
        429: errorResponse('over the rate limit for this client address (when PROOFSTREAM_RATE_LIMIT_RPS is set)'),
        422: errorResponse('not a JSON object, or malformed trusted_keys'),
      },
    }),
    async (c) => {
      const body = c.req.valid('json') as Record<string, unknown>;
      let proof: unknown = body;
      let trusted: TrustedKey[] | undefined;
      let policy: string | undefined;
      if (isWrapper(body)) {
        const parsed = V1VerifyRequest.safeParse(body);
        if (!parsed.success) {
          const details = zodDetails(parsed.error, 'json');
          throw new ApiError('VALIDATION_ERROR', `request json is invalid: ${details.issues[0]?.path} ${details.issues[0]?.message}`, details, 422);
        }
        ({ proof, trusted_keys: trusted, policy } = parsed.data);
      }
      const trust = requestTrust(trusted, policy, serverPolicy);
      const report = await verify({ kind: V1_PROOF_KIND, object: proof, ...trust }, { caller: 'http' });
      return c.json(report, 200);
    },
  );
}
