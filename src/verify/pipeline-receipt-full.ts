// verifyPipelineReceipt plus the ledger placement's own checks (event hashes, ledger signature, inclusion proof,
// checkpoint), for callers that want the contract's result shape rather than a Report (the server's receipt views).
import { verify, type TrustedKey } from './index.js';
import { verifyPipelineReceipt, type PipelineReceiptProblem, type PipelineReceiptVerification, type PipelineReceiptVerifyOptions } from './pipeline-receipt.js';
import { PIPELINE_RECEIPT_KIND } from './pipeline-receipt-kind.js';

export async function verifyPipelineReceiptFull(
  input: unknown,
  opts: PipelineReceiptVerifyOptions & { ledgerKeys?: readonly TrustedKey[]; policy?: string },
): Promise<PipelineReceiptVerification> {
  const base = verifyPipelineReceipt(input, opts);
  if (!base.inclusion || !base.inclusion.event_commits) return base;
  const report = await verify(
    { kind: PIPELINE_RECEIPT_KIND, object: input, trusted_keys: opts.ledgerKeys, policy: opts.policy },
    { trustBundleKeys: opts.ledgerKeys === undefined && opts.policy === undefined, pipelineSigners: opts.trustedKeys, maxAgeHours: opts.maxAgeHours },
  );
  const passed = (name: string) => report.checks.some((c) => c.name === name && c.status === 'passed');
  const failed = (prefix: string) => report.checks.some((c) => c.name.startsWith(prefix) && c.status === 'failed');
  const problems: PipelineReceiptProblem[] = [...base.problems];
  for (const p of report.problems) if (p.path.startsWith('/ledger')) problems.push({ code: p.code, path: p.path, message: p.message });
  const inclusion = {
    ...base.inclusion,
    checked: 'full' as const,
    proof_valid: passed('ledger: inclusion: event_hash leads to the root') && !failed('ledger: inclusion'),
    checkpoint_valid: passed('ledger: checkpoint: note signed by a trusted log key') && !failed('ledger: checkpoint'),
  };
  return { ...base, problems, inclusion, ok: problems.length === 0 };
}
