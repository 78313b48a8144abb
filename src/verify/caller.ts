// Who asked for a report, so that its advice names what that caller can actually do: a CLI flag for
// `proofstream verify`, a request field for POST /v2/verify and POST /v1/public/verify, an input of verify() for
// library users. Only advice differs between callers; codes, paths, checks and statuses never do.

export type VerifyCaller = 'library' | 'cli' | 'http' | 'browser';

export interface CallerHints {
  /** how this caller gives a trust policy */
  policy: string;
  /** how this caller gives trusted keys */
  trust: string;
}

export const CALLER_HINTS: Readonly<Record<VerifyCaller, CallerHints>> = {
  library: { policy: 'the policy input of verify()', trust: 'the trusted_keys input of verify()' },
  cli: { policy: '--policy policy.txt', trust: '--trust keys.json' },
  http: { policy: 'the request field "policy"', trust: 'the request field "trusted_keys"' },
  // the auditor page (web/): one Trust input takes either file
  browser: { policy: 'a trust policy in the Trust input', trust: 'a keys file (GET /v2/keys) in the Trust input' },
};

export const hintsFor = (caller: VerifyCaller | undefined): CallerHints => CALLER_HINTS[caller ?? 'library'] ?? CALLER_HINTS.library;

/** Defaults of the ledger (src/config.ts) behind the retry advice of a pending report. */
export const ANCHOR_RETRY_AFTER_S = 60; // PROOFSTREAM_ANCHOR_EPOCH_MS, 60,000
export const WITNESS_RETRY_AFTER_S = 30; // PROOFSTREAM_RETRY_MAX_MS, 30,000: the longest wait between submissions to a witness
