// Offline verification of a pipeline receipt (docs/protocol.md §14): shape, Ed25519 signature over the §14 signed
// bytes, trusted signer keys, age; for a receipt bundle, also its ledger placement. On src/protocol alone,
// synchronous, never throws.
import { hexToBytes } from '../protocol/bytes.js';
import { verifyEd25519Noble } from '../protocol/ed25519.js';
import { BLAKE3_REF } from '../protocol/blake3-tree.js';
import { canonicalize } from '../protocol/jcs.js';
import {
  PIPELINE_RECEIPT_EVENT_TYPE,
  pipelineReceiptEventPayload,
  pipelineReceiptHash,
  pipelineReceiptSignedBytes,
  type PipelineReceipt,
} from '../protocol/pipeline-receipt.js';
import { isObj, own, type Obj } from './shape.js';

export interface PipelineReceiptProblem { code: string; path: string; message: string }

export interface PipelineReceiptInclusion {
  /**
   * 'event': only that the event commits to this receipt (verifyPipelineReceipt, synchronous); 'full': also the
   * event's own hashes, ledger signature, inclusion proof and checkpoint (verifyPipelineReceiptFull).
   */
  checked: 'event' | 'full';
  /** the ledger event carries this receipt's hash (and the receipt) */
  event_commits: boolean;
  /** the event's entry hashes to the proven leaf, the audit path leads to the checkpoint's root */
  proof_valid: boolean;
  /** the checkpoint's note is signed by the ledger key named in the placement (and trusted, when keys are given) */
  checkpoint_valid: boolean;
  stream_id: string | null;
  seq_no: number | null;
  tree_size: number | null;
}

export interface PipelineReceiptVerification {
  ok: boolean;
  problems: PipelineReceiptProblem[];
  signature_valid: boolean;
  signer: string | null;
  age_hours: number | null;
  inclusion?: PipelineReceiptInclusion;
}

export interface PipelineReceiptVerifyOptions {
  /** 'ed25519:<hex>' keys; when given, the signer must be one of them */
  trustedKeys?: string[];
  now?: Date;
  /** when given, a receipt older than this (by its `timestamp`) fails */
  maxAgeHours?: number;
}

const STATUSES = new Set(['completed', 'failed', 'cancelled']);
const STEP_STATUSES = new Set(['pending', 'running', 'completed', 'failed', 'skipped', 'cancelled', 'timed_out']);
const ED_KEY = /^ed25519:[0-9a-f]{64}$/;
const ED_SIG = /^ed25519:[0-9a-f]{128}$/;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;
const RECEIPT_KEYS = ['pipeline_hash', 'timestamp', 'total_duration_secs', 'attest_version', 'status', 'steps', 'signature', 'signer_public_key'];
const STEP_KEYS = ['name', 'status', 'exit_code', 'duration_secs', 'cache_hit', 'inputs', 'outputs'];

/** A receipt bundle (`{receipt, ledger}`) or a bare receipt: returns the receipt part and the placement. */
export function splitReceiptBundle(input: unknown): { receipt: unknown; ledger: unknown; base: string } {
  if (isObj(input) && isObj(own(input, 'receipt')) && own(input, 'pipeline_hash') === undefined) {
    return { receipt: own(input, 'receipt'), ledger: own(input, 'ledger'), base: '/receipt' };
  }
  return { receipt: input, ledger: undefined, base: '' };
}

/** True when `v` looks like a pipeline receipt or a receipt bundle (for verify kind detection). */
export function isPipelineReceiptLike(v: unknown): boolean {
  const { receipt } = splitReceiptBundle(v);
  return isObj(receipt) && typeof own(receipt, 'pipeline_hash') === 'string' && own(receipt, 'steps') !== undefined;
}

/** Structural problems of a receipt (empty when well-formed). */
export function receiptShapeProblems(r: unknown, base = ''): PipelineReceiptProblem[] {
  const p: PipelineReceiptProblem[] = [];
  const bad = (path: string, message: string) => p.push({ code: 'MALFORMED', path: base + path, message });
  if (!isObj(r)) {
    bad('', 'a pipeline receipt must be an object');
    return p;
  }
  for (const k of RECEIPT_KEYS) if (!Object.hasOwn(r, k)) bad(`/${k}`, `missing ${k}`);
  for (const k of Object.keys(r)) if (!RECEIPT_KEYS.includes(k)) bad(`/${k}`, `unknown member ${k}`);
  if (p.length > 0) return p;
  if (typeof r.pipeline_hash !== 'string' || !BLAKE3_REF.test(r.pipeline_hash)) bad('/pipeline_hash', 'must be blake3:<64 hex>');
  if (typeof r.timestamp !== 'string' || !ISO.test(r.timestamp) || Number.isNaN(Date.parse(r.timestamp))) bad('/timestamp', 'must be an ISO 8601 UTC time');
  if (!isDuration(r.total_duration_secs)) bad('/total_duration_secs', 'must be a non-negative number');
  if (typeof r.attest_version !== 'string' || r.attest_version === '') bad('/attest_version', 'must be a string');
  if (typeof r.status !== 'string' || !STATUSES.has(r.status)) bad('/status', 'must be completed, failed or cancelled');
  if (typeof r.signature !== 'string' || !ED_SIG.test(r.signature)) bad('/signature', 'must be ed25519:<128 hex>');
  if (typeof r.signer_public_key !== 'string' || !ED_KEY.test(r.signer_public_key)) bad('/signer_public_key', 'must be ed25519:<64 hex>');
  if (!Array.isArray(r.steps)) {
    bad('/steps', 'must be an array');
    return p;
  }
  r.steps.forEach((s: unknown, i: number) => {
    const at = `/steps/${i}`;
    if (!isObj(s)) return bad(at, 'must be an object');
    for (const k of STEP_KEYS) if (!Object.hasOwn(s, k)) bad(`${at}/${k}`, `missing ${k}`);
    for (const k of Object.keys(s)) if (!STEP_KEYS.includes(k)) bad(`${at}/${k}`, `unknown member ${k}`);
    if (typeof s.name !== 'string' || s.name === '') bad(`${at}/name`, 'must be a non-empty string');
    if (typeof s.status !== 'string' || !STEP_STATUSES.has(s.status)) bad(`${at}/status`, 'unknown step status');
    if (!(s.exit_code === null || Number.isSafeInteger(s.exit_code))) bad(`${at}/exit_code`, 'must be an integer or null');
    if (!isDuration(s.duration_secs)) bad(`${at}/duration_secs`, 'must be a non-negative number');
    if (typeof s.cache_hit !== 'boolean') bad(`${at}/cache_hit`, 'must be a boolean');
    for (const m of ['inputs', 'outputs'] as const) {
      const map = own(s, m);
      if (!isObj(map)) {
        bad(`${at}/${m}`, 'must be an object of path -> blake3:<hex>');
        continue;
      }
      for (const [k, v] of Object.entries(map)) {
        if (typeof v !== 'string' || !BLAKE3_REF.test(v)) bad(`${at}/${m}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`, 'must be blake3:<64 hex>');
      }
    }
  });
  return p;
}

const isDuration = (x: unknown): boolean => typeof x === 'number' && Number.isFinite(x) && x >= 0;

export function verifyPipelineReceipt(input: unknown, opts: PipelineReceiptVerifyOptions = {}): PipelineReceiptVerification {
  const { receipt, ledger, base } = splitReceiptBundle(input);
  const problems = receiptShapeProblems(receipt, base);
  const out: PipelineReceiptVerification = { ok: false, problems, signature_valid: false, signer: null, age_hours: null };
  if (problems.length > 0) return out;
  const r = receipt as PipelineReceipt;
  out.signer = r.signer_public_key;
  let valid = false;
  try {
    valid = verifyEd25519Noble(
      hexToBytes(r.signer_public_key.slice('ed25519:'.length)),
      hexToBytes(r.signature.slice('ed25519:'.length)),
      pipelineReceiptSignedBytes(r),
    );
  } catch {
    valid = false;
  }
  out.signature_valid = valid;
  if (!valid) problems.push({ code: 'SIGNATURE_INVALID', path: `${base}/signature`, message: 'the signature does not verify over the receipt (§14): it was altered or signed by another key' });
  if (opts.trustedKeys !== undefined) {
    const trusted = new Set(opts.trustedKeys.map((k) => k.toLowerCase()));
    if (!trusted.has(r.signer_public_key)) problems.push({ code: 'UNKNOWN_KEY', path: `${base}/signer_public_key`, message: 'the signer is not among the trusted keys' });
  }
  const now = (opts.now ?? new Date()).getTime();
  const age = (now - Date.parse(r.timestamp)) / 3_600_000;
  out.age_hours = Math.round(age * 1000) / 1000;
  // A receipt from more than five minutes in the future was made by a wrong clock or a forger.
  if (age < -5 / 60) problems.push({ code: 'TIMESTAMP_IN_FUTURE', path: `${base}/timestamp`, message: 'the receipt is dated in the future' });
  if (opts.maxAgeHours !== undefined && age > opts.maxAgeHours) {
    problems.push({ code: 'RECEIPT_TOO_OLD', path: `${base}/timestamp`, message: `the receipt is ${out.age_hours} hours old (at most ${opts.maxAgeHours})` });
  }
  if (ledger !== undefined) verifyPlacement(r, ledger, problems, out);
  out.ok = problems.length === 0;
  return out;
}

/** The ledger event in a placement: it must be an `attest.receipt` event whose payload commits to this receipt. */
function verifyPlacement(r: PipelineReceipt, ledger: unknown, problems: PipelineReceiptProblem[], out: PipelineReceiptVerification): void {
  const inc: PipelineReceiptInclusion = { checked: 'event', event_commits: false, proof_valid: false, checkpoint_valid: false, stream_id: null, seq_no: null, tree_size: null };
  out.inclusion = inc;
  const bad = eventCommitProblem(r, ledger);
  if (bad) {
    problems.push(bad);
    return;
  }
  const l = ledger as Obj;
  inc.event_commits = true;
  inc.stream_id = own(l, 'stream_id') as string;
  inc.seq_no = own(l, 'seq_no') as number;
  const i = own(l, 'inclusion');
  if (isObj(i) && Number.isSafeInteger(own(i, 'tree_size'))) inc.tree_size = own(i, 'tree_size') as number;
}

/**
 * Null when `ledger` is an `attest.receipt` event (the §14 placement: a stored event view with payload and salt)
 * whose payload is exactly {receipt_hash, pipeline_hash, status, receipt} of this receipt; else the problem.
 * The payload's own commitment, the event hash, its ledger signature and inclusion are checked by the async
 * verifier (verify kind `pipeline_receipt`), with the existing receipt-kind checks.
 */
export function eventCommitProblem(r: PipelineReceipt, ledger: unknown): PipelineReceiptProblem | null {
  const at = (p: string, message: string, code = 'MALFORMED') => ({ code, path: `/ledger${p}`, message });
  if (!isObj(ledger)) return at('', 'ledger must be the stored event (GET /v2/events/{id}) with inclusion and checkpoint');
  if (typeof own(ledger, 'stream_id') !== 'string' || !Number.isSafeInteger(own(ledger, 'seq_no'))) return at('', 'ledger must carry stream_id and seq_no');
  if (own(ledger, 'event_type') !== PIPELINE_RECEIPT_EVENT_TYPE) return at('/event_type', `the event type must be ${PIPELINE_RECEIPT_EVENT_TYPE}`, 'PAYLOAD_MISMATCH');
  const payload = own(ledger, 'payload');
  if (!isObj(payload)) return at('/payload', 'the event payload is missing (erased events cannot vouch for a receipt)', 'PAYLOAD_MISMATCH');
  let expected: string;
  try {
    expected = canonicalize(pipelineReceiptEventPayload(r));
    if (canonicalize(payload) !== expected) {
      const hash = pipelineReceiptHash(r);
      return own(payload, 'receipt_hash') !== hash
        ? at('/payload/receipt_hash', `the event commits to receipt ${String(own(payload, 'receipt_hash'))}, this receipt hashes to ${hash}`, 'PAYLOAD_MISMATCH')
        : at('/payload', 'the event payload is not exactly {receipt_hash, pipeline_hash, status, receipt} of this receipt', 'PAYLOAD_MISMATCH');
    }
  } catch (e) {
    return at('/payload', `the payload cannot be canonicalized: ${(e as Error).message}`);
  }
  return null;
}
