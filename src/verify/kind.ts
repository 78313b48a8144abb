// What kind of object a verify request carries: the explicit `kind`, else recognized by shape.
import { BUNDLE_FORMAT } from '../protocol/bundle.js';
import { has, isObj, own } from './shape.js';
import { isPipelineReceiptLike } from './pipeline-receipt.js';

/** Kinds this verifier checks. */
export const VERIFY_KINDS = ['receipt', 'stream', 'checkpoint', 'consistency', 'bundle', 'fork_evidence', 'v1_proof', 'provenance', 'pipeline_receipt'] as const;
export type VerifyKind = (typeof VERIFY_KINDS)[number];

/** Kinds with a reserved name but no checks yet. */
export const ANCHOR_KIND = 'anchor';
/** Proof-of-evolution objects: refused (POST /v2/verify answers 422 UNSUPPORTED_OBJECT_KIND). */
export const IVC_KIND = 'ivc';

/** Returned by detectKind when neither `kind` nor the object's shape says what it is. */
export const UNKNOWN_KIND = 'unknown';

const BUNDLE_PREFIX = BUNDLE_FORMAT.slice(0, BUNDLE_FORMAT.lastIndexOf('/') + 1); // "proofstream-bundle/"
/** An artifact's provenance bundle (src/verify/provenance.ts), any version. */
const PROVENANCE_PREFIX = 'proofstream-provenance/';

/**
 * The kind of `{kind?, object}`: `kind` when it is a string; otherwise from the object: a provenance bundle by its
 * `format` (proofstream-provenance/…), a bundle by its
 * `format` (or manifest), then the object's own `kind` member, fork evidence by `conflicting_checkpoints`,
 * a stream by `stream_id` + `events`, a receipt by `receipt`, a checkpoint by `note`, a consistency proof
 * by `from` + `to`. UNKNOWN_KIND when nothing matches.
 */
export function detectKind(input: { kind?: unknown; object?: unknown }): string {
  if (!isObj(input)) return UNKNOWN_KIND;
  const kind = own(input, 'kind');
  if (kind !== undefined) return typeof kind === 'string' ? kind : UNKNOWN_KIND;
  const o = own(input, 'object');
  if (!isObj(o)) return UNKNOWN_KIND;
  const format = own(o, 'format');
  if (typeof format === 'string' && format.startsWith(PROVENANCE_PREFIX)) return 'provenance';
  if ((typeof format === 'string' && format.startsWith(BUNDLE_PREFIX)) || has(o, 'manifest')) return 'bundle';
  const own_kind = own(o, 'kind');
  if (typeof own_kind === 'string') return own_kind;
  if (has(o, 'conflicting_checkpoints')) return 'fork_evidence';
  if (has(o, 'events') && has(o, 'stream_id')) return 'stream';
  // A pipeline receipt (§14), bare or as a receipt bundle {receipt, ledger}: before `receipt`, which it also has.
  if (isPipelineReceiptLike(o)) return 'pipeline_receipt';
  if (has(o, 'receipt')) return 'receipt';
  if (has(o, 'note')) return 'checkpoint';
  if (has(o, 'from') && has(o, 'to')) return 'consistency';
  return UNKNOWN_KIND;
}

const REQUEST_MEMBERS = new Set(['kind', 'object', 'trusted_keys', 'policy']);

/** True for `{kind?, object, trusted_keys?}` (a POST /v2/verify body), as opposed to a bare object. */
export function isVerifyRequest(v: unknown): v is { kind?: unknown; object: unknown; trusted_keys?: unknown; policy?: unknown } {
  return isObj(v) && has(v, 'object') && Object.keys(v).every((k) => REQUEST_MEMBERS.has(k));
}
