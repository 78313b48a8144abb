// The pipeline receipt (docs/protocol.md §14): what an execution's signer signs, and the hash its ledger event
// commits to. Pure bytes, browser-safe.
import { concatBytes } from './bytes.js';
import { canonicalBytes } from './jcs.js';
import { domainTag } from './hash.js';
import { blake3Ref } from './blake3-tree.js';

export interface PipelineReceiptStep {
  name: string;
  status: string;
  exit_code: number | null;
  duration_secs: number;
  cache_hit: boolean;
  /** declared path -> 'blake3:<hex>' (file or tree hash, §14) */
  inputs: Record<string, string>;
  outputs: Record<string, string>;
}

export interface PipelineReceipt {
  pipeline_hash: string;
  timestamp: string;
  total_duration_secs: number;
  attest_version: string;
  status: 'completed' | 'failed' | 'cancelled';
  steps: PipelineReceiptStep[];
  /** 'ed25519:<128 hex>' */
  signature: string;
  /** 'ed25519:<64 hex>' */
  signer_public_key: string;
}

/** The config format the receipts of this version attest (`attest_version`). */
export const ATTEST_VERSION = '0.1';

/** Event type of the ledger event that carries a receipt on the pipeline's stream. */
export const PIPELINE_RECEIPT_EVENT_TYPE = 'attest.receipt';

/** Signature domain: `utf8("proofstream/v1 pipeline-receipt") ‖ 0x00`, like every Ed25519 message of §2. */
export const PIPELINE_RECEIPT_DOMAIN = domainTag('pipeline-receipt');

/** The message the signer signs: tag ‖ JCS(receipt without `signature`). */
export function pipelineReceiptSignedBytes(r: Omit<PipelineReceipt, 'signature'>): Uint8Array {
  const { signature: _drop, ...rest } = r as PipelineReceipt;
  return concatBytes(PIPELINE_RECEIPT_DOMAIN, canonicalBytes(rest));
}

/** BLAKE3 (context `proofstream/v1 pipeline receipt`) of JCS of the whole receipt, signature included. */
export function pipelineReceiptHash(r: PipelineReceipt): string {
  return blake3Ref('receipt', canonicalBytes(r));
}

/** The payload of the `attest.receipt` event on the pipeline's stream. */
export interface PipelineReceiptEventPayload {
  receipt_hash: string;
  pipeline_hash: string;
  status: PipelineReceipt['status'];
  receipt: PipelineReceipt;
}

export function pipelineReceiptEventPayload(r: PipelineReceipt): PipelineReceiptEventPayload {
  return { receipt_hash: pipelineReceiptHash(r), pipeline_hash: r.pipeline_hash, status: r.status, receipt: r };
}
