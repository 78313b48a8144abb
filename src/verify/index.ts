// The offline verifier: one entry point for every object kind, shared by POST /v2/verify, `proofstream verify`
// and browsers. Imports only src/protocol (pure, no Node built-ins). Never throws. See docs/verify.md.
import { verifyBundleKind } from './bundle.js';
import type { SignatureVerifier } from './event.js';
import { verifyCheckpointKind } from './checkpoint.js';
import { verifyConsistencyKind } from './consistency.js';
import { verifyForkKind } from './fork.js';
import { ANCHOR_KIND, detectKind, isVerifyRequest, IVC_KIND, UNKNOWN_KIND, VERIFY_KINDS, type VerifyKind } from './kind.js';
import { verifyReceiptKind } from './receipt.js';
import { ReportBuilder, singleProblemReport, type Report } from './report.js';
import { isObj, own } from './shape.js';
import { verifyStreamKind } from './stream.js';
import { verifyV1ProofKind } from './v1-proof.js';
import { verifyProvenanceKind } from './provenance.js';
import { verifyPipelineReceiptKind } from './pipeline-receipt-kind.js';
import { addKeys, emptyTrust, kidOf, type TrustedKey } from './trust.js';
import { bytesToHex } from '../protocol/bytes.js';
import { hintsFor, type VerifyCaller } from './caller.js';
import { logKeysFor, parsePolicy, type TrustPolicy } from '../protocol/policy.js';

export { ANCHOR_KIND, detectKind, isVerifyRequest, IVC_KIND, UNKNOWN_KIND, VERIFY_KINDS, type VerifyKind } from './kind.js';
export {
  MAX_LISTED_PROBLEMS,
  PROBLEM_CODES,
  ptr,
  type Check,
  type CheckStatus,
  type PendingEvidence,
  type Problem,
  type ProblemCode,
  type Report,
  type ReportStatus,
} from './report.js';
export { CALLER_HINTS, hintsFor, type CallerHints, type VerifyCaller } from './caller.js';
export { BUNDLE_KEYS_TRUST_CHECK, kidOf, trustedKeysFromJson, type TrustedKey } from './trust.js';
export { SIGNATURE_BATCH, verifySignaturesInProcess, type SignatureJob, type SignatureVerifier } from './event.js';
export { StreamedEvents } from './bundle.js';
export { verifyPipelineReceipt, type PipelineReceiptVerification, type PipelineReceiptVerifyOptions } from './pipeline-receipt.js';
export { PIPELINE_RECEIPT_KIND } from './pipeline-receipt-kind.js';
export { verifyPipelineReceiptFull } from './pipeline-receipt-full.js';

export interface VerifyInput {
  /** One of VERIFY_KINDS; detected from the object when absent. */
  kind?: string | undefined;
  /** The object to verify (parsed JSON). */
  object: unknown;
  /** The keys to trust for receipts and checkpoint notes: `[{kid, alg: "Ed25519", public_key: hex}]`. */
  trusted_keys?: readonly TrustedKey[] | undefined;
  /**
   * A trust policy file (docs/trust.md): its log keys are trusted like trusted_keys (and checkpoints must be of
   * an origin it names); bundles' witness cosignatures must meet its quorum and anchors chain to its TSA roots.
   */
  policy?: string | undefined;
}

export interface VerifyOptions {
  /**
   * For bundles verified without `trusted_keys`: trust the bundle's own `keys` section. The report then
   * carries the check "trust: keys taken from the bundle itself" — the bundle is shown internally
   * consistent, not issued by a ledger the caller knows. Ignored when `trusted_keys` is given.
   */
  trustBundleKeys?: boolean;
  /**
   * Receipt signature verification for bundles and streams: a batch verifier giving the same booleans as
   * verifyEd25519 (the CLI passes a worker-thread pool, src/cli/verify-workers.ts). Default: verifySignaturesInProcess.
   */
  signatureVerifier?: SignatureVerifier;
  /**
   * The object is plain JSON data, as JSON.parse builds it (data properties only: no getters, proxies or class
   * instances). Events of the usual shape are then checked on a faster path that reads each member once; the
   * report is the same. verifyJson sets it; leave it unset for values of unknown origin.
   */
  plainJson?: boolean;
  /**
   * Who asks: advice in reasons and messages names what that caller can do (`--policy policy.txt` for the CLI, the
   * request field "policy" for HTTP, the policy input for a library caller, the default). Nothing else differs.
   */
  caller?: VerifyCaller;
  /** Kind `pipeline_receipt`: the 'ed25519:<hex>' keys a pipeline receipt's signer must be one of (absent: not pinned). */
  pipelineSigners?: readonly string[];
  /** Kind `pipeline_receipt`: the oldest receipt accepted, hours since its `timestamp` (absent: any age). */
  maxAgeHours?: number;
}

export const IVC_MESSAGE = 'proof-of-evolution (IVC) objects are not supported by this verifier';
export const ANCHOR_MESSAGE = 'anchor checks arrive with witness/anchor support; this version cannot verify anchors';

const MAX_KIND_LABEL = 64;

/** Verifies one object. Always resolves to a report (ok only with zero problems); never throws. */
export async function verify(input: VerifyInput, opts: VerifyOptions = {}): Promise<Report> {
  let kind: string = UNKNOWN_KIND;
  try {
    kind = detectKind(input);
    return await run(input, kind, opts);
  } catch (e) {
    // A defect, or a hostile non-JSON value (cycles, throwing getters): still a report, never an exception.
    let msg = 'unknown error';
    try {
      msg = String((e as Error)?.message ?? e);
    } catch {
      /* keep the generic message */
    }
    return singleProblemReport(label(kind), 'verifier: object examined', 'MALFORMED', '', `the object could not be verified: ${msg}`);
  }
}

/** Parses JSON text first (MALFORMED "not JSON" when it does not parse), then verifies it as verify() does. */
export async function verifyJson(text: string, opts: VerifyOptions = {}): Promise<Report> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    return singleProblemReport(UNKNOWN_KIND, 'input: JSON', 'MALFORMED', '', `not JSON: ${(e as Error).message}`);
  }
  if (isVerifyRequest(v)) return verify(v as VerifyInput, { ...opts, plainJson: true });
  return verify({ object: v }, { ...opts, plainJson: true });
}

function label(kind: string): string {
  return typeof kind === 'string' && kind.length > 0 && kind.length <= MAX_KIND_LABEL ? kind : UNKNOWN_KIND;
}

async function run(input: VerifyInput, kind: string, opts: VerifyOptions): Promise<Report> {
  const r = new ReportBuilder(label(kind));
  if (!isObj(input)) {
    r.check('input: {kind?, object, trusted_keys?}').fail('MALFORMED', '', 'verify input must be an object {kind?, object, trusted_keys?}');
    return r.build();
  }
  const object = own(input, 'object');
  const kindCheck = () => r.check('kind: supported');
  if (kind === IVC_KIND) {
    kindCheck().fail('UNSUPPORTED_KIND', '', IVC_MESSAGE);
    return r.build();
  }
  if (kind === ANCHOR_KIND) {
    kindCheck().fail('UNSUPPORTED_KIND', '', ANCHOR_MESSAGE);
    return r.build();
  }
  if (kind === UNKNOWN_KIND) {
    if (own(input, 'kind') !== undefined) kindCheck().fail('UNSUPPORTED_KIND', '', 'kind must be a string');
    else if (object === undefined) kindCheck().fail('MALFORMED', '', 'nothing to verify: "object" is missing');
    else if (!isObj(object)) kindCheck().fail('MALFORMED', '', 'the object to verify must be a JSON object');
    else kindCheck().fail('UNSUPPORTED_KIND', '', `cannot tell what kind of object this is; pass kind (one of ${VERIFY_KINDS.join(', ')})`);
    return r.build();
  }
  if (!(VERIFY_KINDS as readonly string[]).includes(kind)) {
    kindCheck().fail('UNSUPPORTED_KIND', '', `unknown kind ${JSON.stringify(label(kind))}; supported: ${VERIFY_KINDS.join(', ')}`);
    return r.build();
  }

  // Trust: the caller's keys; for bundles without any, optionally the bundle's own (reported as such).
  const trust = emptyTrust();
  const given = own(input, 'trusted_keys');
  const useBundleKeys = given === undefined && own(input, 'policy') === undefined && (kind === 'bundle' || kind === 'provenance') && opts.trustBundleKeys === true;
  // A pipeline receipt without a ledger placement needs no ledger keys; with one, its own keys may stand in (as bundles').
  const pipelineOwnKeys = kind === 'pipeline_receipt' && given === undefined && own(input, 'policy') === undefined &&
    (opts.trustBundleKeys === true || !isObj(object) || own(object, 'ledger') === undefined);
  if (given !== undefined) {
    const n = Array.isArray(given) ? given.length : 0;
    const tc = r.check(`trust: ${n} trusted key(s) given by the caller`);
    addKeys(trust, given, tc, () => '', { what: 'trusted_keys' });
  } else if (!useBundleKeys && !pipelineOwnKeys && own(input, 'policy') === undefined) {
    r.check('trust: no trusted keys given').cannotRun(`no keys to check signatures against: give ${hintsFor(opts.caller).trust} or ${hintsFor(opts.caller).policy}`);
  }

  let policy: TrustPolicy | null = null;
  const policyText = own(input, 'policy');
  if (policyText !== undefined) {
    const pc = r.check('trust: policy parses');
    try {
      if (typeof policyText !== 'string') throw new Error('policy must be the text of a policy file');
      const p = parsePolicy(policyText);
      policy = p;
      // Checkpoints: only the keys the policy names for their origin (plus keys the caller gave explicitly); a note
      // is trusted when any of them signed it (after a rotation it may carry the old and the new key's signature).
      const given = [...trust.publicKeys];
      trust.noteKeysFor = (origin) => [...logKeysFor(p, origin).map((k) => k.publicKey), ...given];
      // Receipts: any of the policy's log keys, inside the window its line gives.
      addKeys(
        trust,
        p.logs.map((l) => ({ kid: kidOf(l.key.publicKey), alg: 'Ed25519', public_key: bytesToHex(l.key.publicKey), valid_from: l.validFrom ?? null, valid_until: l.validUntil ?? null })),
        pc,
        () => '/policy',
        { what: 'policy' },
      );
    } catch (e) {
      pc.fail('MALFORMED', '/policy', `the trust policy is not usable: ${(e as Error).message}`);
      return r.build();
    }
  }

  switch (kind as VerifyKind) {
    case 'receipt':
      await verifyReceiptKind(object, trust, r);
      break;
    case 'stream':
      await verifyStreamKind(object, trust, r, opts.signatureVerifier, opts.plainJson === true);
      break;
    case 'checkpoint':
      await verifyCheckpointKind(object, trust, r);
      break;
    case 'consistency':
      await verifyConsistencyKind(object, trust, r);
      break;
    case 'bundle':
      await verifyBundleKind(
        object,
        {
          trust,
          useBundleKeys: useBundleKeys && policy === null,
          policy,
          signatureVerifier: opts.signatureVerifier,
          plainJson: opts.plainJson === true,
          hints: hintsFor(opts.caller),
        },
        r,
      );
      break;
    case 'fork_evidence':
      await verifyForkKind(object, trust, r);
      break;
    case 'v1_proof':
      await verifyV1ProofKind(object, trust, r, policy, hintsFor(opts.caller));
      break;
    case 'provenance':
      await verifyProvenanceKind(
        object,
        { trust, useBundleKeys: useBundleKeys && policy === null, policy, signatureVerifier: opts.signatureVerifier, hints: hintsFor(opts.caller) },
        r,
      );
      break;
    case 'pipeline_receipt':
      await verifyPipelineReceiptKind(object, trust, r, {
        signers: opts.pipelineSigners,
        useBundleKeys: given === undefined && own(input, 'policy') === undefined && opts.trustBundleKeys === true,
        maxAgeHours: opts.maxAgeHours,
      });
      break;
  }
  return r.build();
}
