// POST /v2/verify: the offline verifier (src/verify) as a service. No auth, and no database reads: the default
// trust is the server's own signing key, taken from the in-memory signer, so the route keeps answering on a
// server whose database is gone. Always 200 with the report, valid or not; 422 only for IVC objects. The body is
// parsed and verified in a worker thread (src/http/verify-pool.ts), never on the main thread.
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { parsePolicy } from '../../protocol/policy.js';
import { ApiError } from '../../ledger/errors.js';
import { detectKind, IVC_KIND, PROBLEM_CODES, type TrustedKey, type VerifyInput } from '../../verify/index.js';
import type { Deps } from '../deps.js';
import type { AppEnv } from '../env.js';
import { validationHook } from '../errors.js';
import { verifyInPool } from '../verify-body.js';
import { verifyPoolFor } from '../verify-pool.js';
import { ErrorEnvelope, Hex32, json } from '../schemas.js';

const TrustedKeySchema = z
  .object({
    kid: z.string().min(1).max(256),
    alg: z.literal('Ed25519'),
    public_key: Hex32.openapi({ description: '32-byte Ed25519 public key, lowercase hex' }),
    valid_from: z.string().max(64).nullable().optional().openapi({ description: "first received_at this key's receipts may carry (GET /v2/keys); absent or null: no bound" }),
    valid_until: z.string().max(64).nullable().optional().openapi({ description: "last received_at this key's receipts may carry (GET /v2/keys); absent or null: no bound" }),
  })
  .openapi('TrustedKey');

export const VerifyRequest = z
  .object({
    kind: z
      .string()
      .min(1)
      .max(64)
      .optional()
      .openapi({ description: 'receipt, stream, checkpoint, consistency, bundle or fork_evidence; detected from the object when absent' }),
    object: z
      .unknown()
      .refine((v) => v !== undefined, { message: 'required' })
      .openapi({ description: 'the object to verify (see docs/verify.md)' }),
    trusted_keys: z
      .array(TrustedKeySchema)
      .max(1000)
      .optional()
      .openapi({ description: "keys to trust; default: this server's trust policy (GET /v2/trust-policy: every ledger key with its validity window)" }),
    policy: z
      .string()
      .max(1 << 20)
      .optional()
      .openapi({ description: 'a trust policy file (docs/trust.md): log keys, witnesses and quorum, TSA roots' }),
  })
  .strict()
  .openapi('VerifyRequest');

export const VerifyReport = z
  .object({
    ok: z.boolean().openapi({ description: 'true iff problems is empty' }),
    status: z.enum(['valid', 'invalid', 'pending']).openapi({
      description: 'valid: no problems; pending: the only problems are evidence not there yet (see pending); invalid: anything else',
    }),
    kind: z.string(),
    checks: z.array(
      z.object({
        name: z.string(),
        ok: z.boolean().openapi({ description: 'status is not "failed"' }),
        status: z.enum(['passed', 'failed', 'skipped']).openapi({ description: 'skipped: nothing was checked (the reason says why); never a pass' }),
        reason: z.string().optional().openapi({ description: 'why the check was skipped or could not be performed' }),
      }),
    ),
    problems: z.array(
      z.object({
        code: z.enum(PROBLEM_CODES),
        path: z.string().openapi({ description: 'JSON pointer into the verified object' }),
        message: z.string(),
      }),
    ),
    pending: z
      .array(
        z.object({
          evidence: z.enum(['anchor', 'witness_cosignatures', 'inclusion']),
          path: z.string(),
          missing: z.string(),
          retry: z.string(),
          retry_after_s: z.number().int(),
        }),
      )
      .optional()
      .openapi({ description: 'present when status is "pending": what is missing and when to fetch the object again' }),
    unauthenticated: z
      .array(z.string())
      .optional()
      .openapi({ description: 'JSON pointers (* = every element) of members no signature, proof or trusted key binds: labels' }),
    fork_evidence: z
      .object({
        kind: z.literal('fork_evidence'),
        stream_id: z.string(),
        conflicting_checkpoints: z.array(z.unknown()),
        consistency_proof: z.array(z.string()).optional(),
        detected_by: z.string(),
        result: z.literal('fork'),
      })
      .optional()
      .openapi({ description: 'present when a fork is proven: re-verifiable evidence (kind fork_evidence)' }),
  })
  .openapi('VerifyReport');

const errorResponse = (description: string) => ({ description, content: { 'application/json': { schema: ErrorEnvelope } } });

/**
 * The trust of a stateless verify request: the caller's keys and/or policy (a policy that does not parse → 422), or,
 * with neither, the server's own policy (its key, witnesses and TSA roots, built from memory).
 */
export function requestTrust(
  trusted_keys: TrustedKey[] | undefined,
  policy: string | undefined,
  serverPolicy: string,
): { trusted_keys?: TrustedKey[] | undefined; policy?: string | undefined } {
  if (trusted_keys === undefined && policy === undefined) return { policy: serverPolicy };
  if (policy !== undefined) {
    try {
      parsePolicy(policy);
    } catch (e) {
      throw new ApiError('VALIDATION_ERROR', `policy: ${(e as Error).message}`, { path: 'policy' });
    }
  }
  return { trusted_keys, policy };
}

/**
 * A parsed POST /v2/verify body → verify()'s input, in the worker (src/http/verify-worker.ts): the request schema
 * (422 VALIDATION_ERROR, the same details as the route validator gives), IVC refused (422), trust (a bad policy → 422).
 */
export function v2VerifyInput(raw: unknown, serverPolicy: string): VerifyInput {
  const parsed = VerifyRequest.safeParse(raw);
  if (!parsed.success) validationHook({ success: false, error: parsed.error, target: 'json' });
  const body = parsed.data!;
  if (detectKind(body) === IVC_KIND) {
    throw new ApiError('UNSUPPORTED_OBJECT_KIND', 'proof-of-evolution (IVC) objects are not supported: this server verifies receipts, streams, checkpoints, consistency proofs, audit bundles and fork evidence', {
      kind: IVC_KIND,
    });
  }
  return { kind: body.kind, object: body.object, ...requestTrust(body.trusted_keys, body.policy, serverPolicy) };
}

export function verifyRoutes(app: OpenAPIHono<AppEnv>, d: Deps) {
  const { config } = d.ledger;
  // From memory, never from the database: every ledger key with its window as the keyring last read them.
  const pool = verifyPoolFor(d.ledger, () => d.ledger.serverPolicy());

  // Documented with its schemas, but not validated by the OpenAPI middleware: that would parse the body on the main
  // thread. The worker parses and validates it (v2VerifyInput).
  app.openAPIRegistry.registerPath(
    createRoute({
      method: 'post',
      path: '/v2/verify',
      tags: ['evidence'],
      summary: 'Verify a receipt, stream, checkpoint, consistency proof, audit bundle or fork evidence (no auth, stateless)',
      request: { body: { required: true, content: { 'application/json': { schema: VerifyRequest } } } },
      responses: VERIFY_RESPONSES('the report, whether or not the object is valid', 'not a verify request, a bad policy, or an unsupported object kind (UNSUPPORTED_OBJECT_KIND for IVC)'),
    }),
  );
  app.post('/v2/verify', d.rateLimitByAddress, (c) => verifyInPool(c, pool, 'v2', config.maxVerifyBytes));
}

/** The responses both verify routes document (docs/api.md "Verify limits"). */
export const VERIFY_RESPONSES = (ok: string, unprocessable: string) => ({
  200: json(VerifyReport, ok),
  400: errorResponse('MALFORMED_JSON: not UTF-8 or not JSON; JSON_TOO_DEEP: nested deeper than PROOFSTREAM_VERIFY_MAX_DEPTH'),
  413: errorResponse('PAYLOAD_TOO_LARGE: body over PROOFSTREAM_MAX_VERIFY_BYTES; VERIFY_TOO_COMPLEX: the verify needs more memory or time than one verify may use'),
  415: errorResponse('not application/json'),
  422: errorResponse(unprocessable),
  429: errorResponse('RATE_LIMIT_EXCEEDED: over the per-address limit (PROOFSTREAM_VERIFY_RATE_LIMIT_RPS), with Retry-After'),
  503: errorResponse('VERIFY_BUSY: every verify worker and queue place, or the in-flight body budget, is taken; with Retry-After'),
});
