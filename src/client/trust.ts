// Local verification with the project's verifier (src/verify: pure, browser-safe) against pinned trust.
import { verify, type Report, type TrustedKey } from '../verify/index.js';
import { ProofstreamError, ProofstreamVerificationError } from './errors.js';

export interface Trust {
  /** pinned ledger keys `[{kid, alg: "Ed25519", public_key}]` (GET /v2/keys, fetched once over a channel you trust) */
  trustedKeys?: readonly TrustedKey[] | undefined;
  /** a trust policy file (docs/trust.md): log keys, witnesses and quorum, TSA roots */
  policy?: string | undefined;
}

export const hasTrust = (t: Trust): boolean => (t.trustedKeys !== undefined && t.trustedKeys.length > 0) || t.policy !== undefined;

/** Runs the verifier on one object under the pinned trust; never throws for an invalid object (see the report). */
export async function verifyWith(trust: Trust, kind: string | undefined, object: unknown): Promise<Report> {
  if (!hasTrust(trust)) {
    throw new ProofstreamError({
      status: 0,
      code: 'NO_TRUST',
      message: 'local verification needs pinned trust: pass trustedKeys or policy to the client (or to this call)',
    });
  }
  return verify({ kind, object, trusted_keys: trust.trustedKeys, policy: trust.policy }, { caller: 'library' });
}

/** As verifyWith, but throws ProofstreamVerificationError unless the report is valid (or only pending, when allowed). */
export async function assertVerified(trust: Trust, kind: string | undefined, object: unknown, what: string, allowPending = false): Promise<Report> {
  const r = await verifyWith(trust, kind, object);
  if (r.ok || (allowPending && r.status === 'pending')) return r;
  const first = r.problems[0];
  throw new ProofstreamVerificationError(`${what} failed verification: ${first ? `${first.code} at ${first.path || '/'}: ${first.message}` : r.status}`, r);
}
