// POST /v1/public/verify: the shared verifier (src/verify) on a v1 proof object. No auth and no database reads:
// the default trust is the server's own trust policy built from memory (its current signing key), exactly as
// POST /v2/verify does, and the same worker pool (src/http/verify-pool.ts).
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { ApiError } from '../../ledger/errors.js';
import type { TrustedKey, VerifyInput } from '../../verify/index.js';
import { V1_PROOF_KIND } from '../../verify/v1-proof.js';
import type { Deps } from '../deps.js';
import type { AppEnv } from '../env.js';
import { validationHook, zodDetails } from '../errors.js';
import { verifyInPool } from '../verify-body.js';
import { verifyPoolFor } from '../verify-pool.js';
import { requestTrust, VERIFY_RESPONSES, VerifyRequest } from '../v2/verify.js';

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

const WRAPPER_MEMBERS = new Set(['proof', 'trusted_keys', 'policy']);
const isWrapper = (b: Record<string, unknown>) => Object.hasOwn(b, 'proof') && Object.keys(b).every((k) => WRAPPER_MEMBERS.has(k));

/**
 * A parsed POST /v1/public/verify body → verify()'s input, in the worker (src/http/verify-worker.ts): not an
 * object → 422 as the route validator gives it; a wrapper {proof, trusted_keys?, policy?} is validated as one.
 */
export function v1VerifyInput(raw: unknown, serverPolicy: string): VerifyInput {
  const top = V1VerifyBody.safeParse(raw);
  if (!top.success) validationHook({ success: false, error: top.error, target: 'json' });
  const body = top.data as Record<string, unknown>;
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
  return { kind: V1_PROOF_KIND, object: proof, ...requestTrust(trusted, policy, serverPolicy) };
}

export function v1PublicVerifyRoutes(app: OpenAPIHono<AppEnv>, d: Deps) {
  const { config } = d.ledger;
  // From memory, never from the database: every ledger key with its window as the keyring last read them.
  const pool = verifyPoolFor(d.ledger, () => d.ledger.serverPolicy());

  // Documented with its schemas but parsed and validated in the worker (v1VerifyInput), never on the main thread.
  app.openAPIRegistry.registerPath(
    createRoute({
      method: 'post',
      path: '/v1/public/verify',
      tags: ['v1'],
      summary: 'Verify a v1 proof object (no auth, stateless); the same report as POST /v2/verify',
      request: { body: { required: true, content: { 'application/json': { schema: V1VerifyBody } } } },
      responses: VERIFY_RESPONSES('the report, whether or not the proof is valid', 'not a JSON object, or malformed trusted_keys or policy'),
    }),
  );
  app.post('/v1/public/verify', d.rateLimitByAddress, (c) => verifyInPool(c, pool, 'v1', config.maxVerifyBytes));
}
