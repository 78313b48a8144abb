// Verify kind `pipeline_receipt` (docs/protocol.md §14): a pipeline receipt, or a receipt bundle {receipt, ledger}
// whose `ledger` is the `attest.receipt` event on the pipeline's stream (the stored event view, with `inclusion`
// and `checkpoint` beside its members, and optionally the ledger's `keys`). The receipt is checked by
// verifyPipelineReceipt; the placement by the receipt kind's own checks (payload commitment, event hash, ledger
// signature, inclusion against a signed checkpoint), with problem paths under /ledger.
import { verifyReceiptKind } from './receipt.js';
import type { CheckScope, ReportBuilder } from './report.js';
import { isObj, own } from './shape.js';
import { addKeys, BUNDLE_KEYS_TRUST_CHECK, type TrustSet } from './trust.js';
import { splitReceiptBundle, verifyPipelineReceipt, type PipelineReceiptProblem } from './pipeline-receipt.js';
import type { ProblemCode } from './report.js';

export const PIPELINE_RECEIPT_KIND = 'pipeline_receipt';

export interface PipelineReceiptKindOptions {
  /** 'ed25519:<hex>' keys the pipeline signer must be one of; absent: the signer is reported, not pinned */
  signers?: readonly string[];
  /** with no caller trust: take the ledger keys from the bundle's `ledger.keys` (reported as such) */
  useBundleKeys: boolean;
  maxAgeHours?: number;
  now?: Date;
}

const CHECK_OF: Record<string, string> = {
  MALFORMED: 'pipeline receipt: well-formed',
  SIGNATURE_INVALID: 'pipeline receipt: signature over the §14 bytes',
  UNKNOWN_KEY: 'pipeline receipt: signer is trusted',
  TIMESTAMP_IN_FUTURE: 'pipeline receipt: age',
  RECEIPT_TOO_OLD: 'pipeline receipt: age',
  PAYLOAD_MISMATCH: 'ledger: the event commits to this receipt',
};

export async function verifyPipelineReceiptKind(object: unknown, trust: TrustSet, r: ReportBuilder, o: PipelineReceiptKindOptions): Promise<void> {
  const v = verifyPipelineReceipt(object, { trustedKeys: o.signers ? [...o.signers] : undefined, maxAgeHours: o.maxAgeHours, now: o.now });
  const shape = r.check(CHECK_OF.MALFORMED!);
  const sig = r.check(CHECK_OF.SIGNATURE_INVALID!);
  const signer = r.check(CHECK_OF.UNKNOWN_KEY!);
  const age = r.check(CHECK_OF.RECEIPT_TOO_OLD!);
  const report = (p: PipelineReceiptProblem) => r.check(CHECK_OF[p.code] ?? CHECK_OF.MALFORMED!).fail(p.code as ProblemCode, p.path, p.message);
  const shapeBad = v.problems.some((p) => p.code === 'MALFORMED' && !p.path.startsWith('/ledger'));
  for (const p of v.problems) report(p);
  if (shapeBad) {
    sig.cannotRun();
    signer.cannotRun();
    age.cannotRun();
    return;
  }
  if (!o.signers) signer.skipped(`signer ${v.signer} is not pinned: pass the keys you trust for pipeline receipts`);
  if (o.maxAgeHours === undefined && v.problems.every((p) => p.path !== '/receipt/timestamp' && p.path !== '/timestamp')) {
    age.skipped(`no maximum age given (the receipt is ${v.age_hours} hours old)`);
  }

  const { ledger } = splitReceiptBundle(object);
  if (ledger === undefined) {
    r.note('ledger: placement', 'no ledger placement given: the receipt is not shown to be in any ledger');
    return;
  }
  const commits = r.check(CHECK_OF.PAYLOAD_MISMATCH!);
  if (v.inclusion?.event_commits !== true) {
    if (commits.ok) commits.cannotRun();
    return;
  }
  // The placement's ledger keys, only when the caller gave none (the report then says so, as for bundles).
  if (o.useBundleKeys && isObj(ledger) && own(ledger, 'keys') !== undefined) {
    const tc = r.check(BUNDLE_KEYS_TRUST_CHECK);
    addKeys(trust, own(ledger, 'keys'), tc, (i, m) => (i < 0 ? '/ledger/keys' : `/ledger/keys/${i}${m ? `/${m}` : ''}`), { checkKid: true, what: 'ledger.keys' });
  }
  const { keys: _keys, ...event } = ledger as Record<string, unknown>;
  await verifyReceiptKind(event, trust, prefixed(r, '/ledger', 'ledger: '));
}

/** A view of `r` whose checks are named `prefix + name` and whose problem paths sit under `base`. */
function prefixed(r: ReportBuilder, base: string, prefix: string): ReportBuilder {
  const wrap = (c: CheckScope): CheckScope =>
    new Proxy(c, {
      get(t, p) {
        if (p === 'fail') return (code: ProblemCode, path: string, message: string) => t.fail(code, base + path, message);
        if (p === 'waitFor') return (code: ProblemCode, path: string, message: string, pending: never) => t.waitFor(code, base + path, message, pending);
        const val = Reflect.get(t, p, t);
        return typeof val === 'function' ? val.bind(t) : val;
      },
    });
  return new Proxy(r, {
    get(t, p) {
      if (p === 'check') return (name: string) => wrap(t.check(prefix + name));
      if (p === 'note') return (name: string, reason: string) => wrap(t.note(prefix + name, reason));
      if (p === 'unauthenticated') return (...paths: string[]) => t.unauthenticated(...paths.map((x) => base + x));
      const val = Reflect.get(t, p, t);
      return typeof val === 'function' ? val.bind(t) : val;
    },
  });
}
