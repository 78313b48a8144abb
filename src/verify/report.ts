// The verification report (docs/verify.md): `{ok, status, kind, checks:[{name, ok, status, reason?}],
// problems:[{code, path, message}], pending?, unauthenticated?}`, a builder that attributes every problem to the
// check that raised it, and JSON-pointer helpers.
// Pure and browser-safe.

/** Every problem code a verifier can report (docs/bundle.md, "What a verifier checks"). */
export const PROBLEM_CODES = [
  'MALFORMED',
  'UNSUPPORTED_KIND',
  'MANIFEST_MISMATCH',
  'UNKNOWN_KEY',
  // a receipt's received_at lies outside its key's validity window (a rotated ledger key, docs/trust.md)
  'KEY_OUTSIDE_WINDOW',
  'SIGNATURE_INVALID',
  'PAYLOAD_MISMATCH',
  'EVENT_HASH_MISMATCH',
  'CHAIN_BROKEN',
  'SEQUENCE_BROKEN',
  'STREAM_MISMATCH',
  'RANGE_PROOF_INVALID',
  'CHECKPOINT_MALFORMED',
  'CHECKPOINT_UNTRUSTED',
  'CHECKPOINT_SIGNATURE_INVALID',
  'CHECKPOINT_STALE',
  'CONSISTENCY_INVALID',
  'FORK_DETECTED',
  // v1 proofs (src/verify/v1-proof.ts): a v1 receipt field ≠ the event's; a listed key inconsistent; status ≠ the evidence
  'RECEIPT_MISMATCH',
  'KEY_MISMATCH',
  'STATUS_MISMATCH',
  'WITNESS_UNKNOWN',
  'WITNESS_SIGNATURE_INVALID',
  'WITNESS_QUORUM_NOT_MET',
  'ANCHOR_MISSING',
  'ANCHOR_MALFORMED',
  'ANCHOR_CHECKPOINT_MISMATCH',
  'ANCHOR_PATH_INVALID',
  'ANCHOR_IMPRINT_MISMATCH',
  'ANCHOR_SIGNATURE_INVALID',
  'ANCHOR_UNTRUSTED_TSA',
  'ANCHOR_TSA_CERT_INVALID',
  // provenance bundles (src/verify/provenance.ts): a record field ≠ what its events say, or a record not linked to the
  // artifact; an event not sealed into the bundle's checkpoint yet (pending: fetch the bundle again)
  'RECORD_MISMATCH',
  'INCLUSION_PENDING',
  // pipeline receipts (docs/protocol.md §14): dated more than five minutes ahead; older than the maximum age asked for
  'TIMESTAMP_IN_FUTURE',
  'RECEIPT_TOO_OLD',
] as const;
export type ProblemCode = (typeof PROBLEM_CODES)[number];

/**
 * passed: performed, nothing wrong. failed: a problem was raised through it, or it could not be performed because
 * its inputs were unusable. skipped: there was nothing to check, or nothing to check it against (the reason says
 * which) — never a pass.
 */
export type CheckStatus = 'passed' | 'failed' | 'skipped';

export interface Check {
  name: string;
  /** status !== 'failed' */
  ok: boolean;
  status: CheckStatus;
  /** why a check was skipped, or could not be performed */
  reason?: string;
}

/**
 * valid: no problems. invalid: at least one problem that more time will not cure. pending: every problem is
 * evidence that is not there yet (an anchor or witness cosignatures the trust policy requires of an object that
 * can still gain them); `pending` says what is missing and when to look again.
 */
export type ReportStatus = 'valid' | 'invalid' | 'pending';

export interface PendingEvidence {
  evidence: 'anchor' | 'witness_cosignatures' | 'inclusion';
  /** JSON pointer to where the evidence will appear */
  path: string;
  /** what is missing */
  missing: string;
  /** when to fetch the object again and verify it anew */
  retry: string;
  /** seconds until a retry is worth it under the ledger's defaults (a configured ledger may differ) */
  retry_after_s: number;
}

export interface Problem {
  code: ProblemCode;
  /** JSON pointer (RFC 6901) into the verified object; "" is the object itself. */
  path: string;
  message: string;
}

export interface Report {
  /** True iff `problems` is empty. */
  ok: boolean;
  status: ReportStatus;
  kind: string;
  checks: Check[];
  problems: Problem[];
  /** Present when status is "pending": the evidence still to come. */
  pending?: PendingEvidence[];
  /**
   * JSON pointers to members of the verified object that no signature, proof or digest the verifier trusts binds:
   * they could be changed without the report changing (bundles: docs/bundle.md, "What a bundle does not bind").
   */
  unauthenticated?: string[];
  /** Present when the verifier proved a fork: a `fork_evidence` object anyone can re-verify (docs/trust.md). */
  fork_evidence?: ForkEvidence;
}

/** Two validly signed checkpoints of one origin that cannot both be true. */
export interface ForkEvidence {
  kind: 'fork_evidence';
  stream_id: string;
  conflicting_checkpoints: [unknown, unknown];
  /** the consistency proof that failed between them (absent for equal sizes) */
  consistency_proof?: string[];
  detected_by: string;
  result: 'fork';
}

/** Who the verifier says found the fork. */
export const FORK_DETECTED_BY = 'proofstream-verifier';

/**
 * At most this many problems are listed per check (and per report); the rest are counted and summarized
 * as one problem per code, so a million broken events cannot blow up the report.
 */
export const MAX_LISTED_PROBLEMS = 1000;

/** Escapes one reference token (RFC 6901 §4: "~" → "~0", "/" → "~1"). */
export const escapeToken = (token: string | number): string => {
  const s = String(token);
  // Most tokens (array indices, member names) have neither character: skip the two replaces for them.
  return s.includes('~') || s.includes('/') ? s.replace(/~/g, '~0').replace(/\//g, '~1') : s;
};

/** Appends reference tokens to a JSON pointer: ptr('/events', 3, 'receipt') === '/events/3/receipt'. */
export function ptr(base: string, ...tokens: Array<string | number>): string {
  let out = base;
  for (const t of tokens) out += '/' + escapeToken(t);
  return out;
}

/** One named check; problems raised through it make it fail. */
export class CheckScope {
  private listed: Problem[] = [];
  private omitted = new Map<ProblemCode, number>();
  private count = 0;
  private unusable = false;
  private skipReason: string | undefined;
  private unusableReason: string | undefined;
  /** @internal problems raised through waitFor (evidence not there yet), a subset of count */
  pendingCount = 0;
  /** @internal */
  readonly pending: PendingEvidence[] = [];

  constructor(readonly name: string) {}

  /** Records a problem against this check. */
  fail(code: ProblemCode, path: string, message: string): void {
    this.count++;
    if (this.listed.length < MAX_LISTED_PROBLEMS) this.listed.push({ code, path, message });
    else this.omitted.set(code, (this.omitted.get(code) ?? 0) + 1);
  }

  /**
   * Records a problem that is evidence not there yet: the check fails (ok: false), and when every problem of the
   * report is of this sort the report's status is "pending" rather than "invalid".
   */
  waitFor(code: ProblemCode, path: string, message: string, pending: Omit<PendingEvidence, 'path'>): void {
    this.fail(code, path, message);
    this.pendingCount++;
    this.pending.push({ evidence: pending.evidence, path, missing: pending.missing, retry: pending.retry, retry_after_s: pending.retry_after_s });
  }

  /** Marks the check as not performed because its inputs were unusable (or absent): it fails (ok: false). */
  cannotRun(reason?: string): void {
    this.unusable = true;
    this.unusableReason ??= reason;
  }

  /** Marks the check as skipped: nothing to check, or nothing to check it against. A problem still fails it. */
  skipped(reason: string): void {
    this.skipReason ??= reason;
  }

  get failures(): number {
    return this.count;
  }

  get ok(): boolean {
    return this.count === 0 && !this.unusable;
  }

  get status(): CheckStatus {
    return !this.ok ? 'failed' : this.skipReason !== undefined ? 'skipped' : 'passed';
  }

  /** The check as the report lists it. */
  toCheck(): Check {
    const status = this.status;
    const reason = status === 'skipped' ? this.skipReason : this.unusable && this.count === 0 ? (this.unusableReason ?? NOT_PERFORMED) : undefined;
    return reason === undefined ? { name: this.name, ok: status !== 'failed', status } : { name: this.name, ok: status !== 'failed', status, reason };
  }

  /** @internal */
  drain(): { listed: Problem[]; omitted: Map<ProblemCode, number> } {
    return { listed: this.listed, omitted: this.omitted };
  }
}

const NOT_PERFORMED = 'not performed: its inputs are unusable (the other problems say why)';

/** Collects checks in the order they are opened; `build()` lists problems grouped by check, in that order. */
export class ReportBuilder {
  private readonly checks: CheckScope[] = [];
  private readonly byName = new Map<string, CheckScope>();
  private fork: ForkEvidence | undefined;
  private readonly unbound: string[] = [];

  constructor(public kind: string) {}

  /** Attaches the evidence of a proven fork (the first one found is kept). */
  attachForkEvidence(e: ForkEvidence): void {
    this.fork ??= e;
  }

  /** A check that records what was not checked: always skipped, with its reason. */
  note(name: string, reason: string): CheckScope {
    const c = this.check(name);
    c.skipped(reason);
    return c;
  }

  /** Records members of the object that nothing binds (Report.unauthenticated). */
  unauthenticated(...paths: string[]): void {
    this.unbound.push(...paths);
  }

  /** Opens (or returns the already opened) check with this name. */
  check(name: string): CheckScope {
    let c = this.byName.get(name);
    if (!c) {
      c = new CheckScope(name);
      this.byName.set(name, c);
      this.checks.push(c);
    }
    return c;
  }

  /** Total problems raised so far (listed or not). */
  get problemCount(): number {
    let n = 0;
    for (const c of this.checks) n += c.failures;
    return n;
  }

  build(): Report {
    const problems: Problem[] = [];
    const omitted = new Map<ProblemCode, number>();
    for (const c of this.checks) {
      const d = c.drain();
      for (const p of d.listed) {
        if (problems.length < MAX_LISTED_PROBLEMS) problems.push(p);
        else omitted.set(p.code, (omitted.get(p.code) ?? 0) + 1);
      }
      for (const [code, n] of d.omitted) omitted.set(code, (omitted.get(code) ?? 0) + n);
    }
    for (const [code, n] of omitted) {
      problems.push({ code, path: '', message: `${n} more ${code} problem(s) not listed` });
    }
    let total = 0;
    let pendingTotal = 0;
    for (const c of this.checks) {
      total += c.failures;
      pendingTotal += c.pendingCount;
    }
    const status: ReportStatus = total === 0 ? 'valid' : pendingTotal === total ? 'pending' : 'invalid';
    const report: Report = {
      ok: problems.length === 0,
      status,
      kind: this.kind,
      checks: this.checks.map((c) => c.toCheck()),
      problems,
    };
    if (status === 'pending') report.pending = this.checks.flatMap((c) => c.pending);
    if (this.unbound.length > 0) report.unauthenticated = [...this.unbound];
    if (this.fork && problems.some((p) => p.code === 'FORK_DETECTED')) report.fork_evidence = this.fork;
    return report;
  }
}

/** A report for an object that could not be examined at all (one problem, one failed check). */
export function singleProblemReport(kind: string, checkName: string, code: ProblemCode, path: string, message: string): Report {
  const r = new ReportBuilder(kind);
  r.check(checkName).fail(code, path, message);
  return r.build();
}
