// The ledger's side of c2sp.org/tlog-witness: submit a checkpoint (with a consistency proof from the size
// the witness last cosigned) and classify the answer. Never throws for HTTP or network problems.
//
// Verifying the returned cosignatures is the caller's job (it knows which witness keys it trusts): the
// raw body is signature lines, so `note + raw` is the checkpoint note with the cosignatures appended, ready
// for verifyNote(note + raw, [parseVerifierKey(witnessVkey)]).
import type { NoteSignature } from '../protocol/note.js';
import {
  formatAddCheckpointRequest,
  parseCosignatureResponse,
  parseSizeResponse,
  TLOG_SIZE_CONTENT_TYPE,
  type AddCheckpointRequest,
} from '../protocol/tlog-witness.js';

export type SubmitResult =
  /** 200: the witness cosigned; `signatures` parsed from `raw` (not verified). */
  | { kind: 'cosigned'; signatures: NoteSignature[]; raw: string }
  /** 409 with a text/x.tlog.size body: the witness's latest cosigned size is `size`; retry from there. */
  | { kind: 'conflict'; size: number }
  /** Any other HTTP answer (404, 403, 400, 422, 413, 5xx, a malformed 200/409, …). */
  | { kind: 'rejected'; status: number; body: string }
  /** No HTTP answer: connection refused, DNS, TLS, timeout, aborted, body read failure. */
  | { kind: 'unreachable'; error: string };

export interface SubmitOptions {
  /** Whole-request timeout in milliseconds (default 10 000). */
  timeoutMs?: number;
  /** fetch implementation (default globalThis.fetch), e.g. for tests. */
  fetch?: typeof fetch;
}

export const DEFAULT_SUBMIT_TIMEOUT_MS = 10_000;

/** `<base>/add-checkpoint`, tolerating a trailing slash on the base URL. */
export function addCheckpointUrl(base: string): string {
  return `${base.replace(/\/+$/, '')}/add-checkpoint`;
}

/**
 * POSTs `req` to `<url>/add-checkpoint` and classifies the response (see SubmitResult). Throws only for a
 * request that cannot be serialized (TlogWitnessError from formatAddCheckpointRequest: negative `old`,
 * > 63 proof hashes, a hash that is not 32 bytes, an empty note) — a caller bug, not a witness problem.
 */
export async function submitCheckpoint(url: string, req: AddCheckpointRequest, opts: SubmitOptions = {}): Promise<SubmitResult> {
  const body = formatAddCheckpointRequest(req);
  const doFetch = opts.fetch ?? globalThis.fetch;
  const timeoutMs = opts.timeoutMs ?? DEFAULT_SUBMIT_TIMEOUT_MS;
  let status: number;
  let contentType: string;
  let text: string;
  try {
    const res = await doFetch(addCheckpointUrl(url), {
      method: 'POST',
      headers: { 'content-type': 'text/plain; charset=utf-8' },
      body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    status = res.status;
    contentType = res.headers.get('content-type') ?? '';
    text = await res.text();
  } catch (e) {
    const err = e as Error;
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const detail = cause?.code ?? cause?.message;
    return { kind: 'unreachable', error: `${err?.name ?? 'Error'}: ${err?.message ?? String(e)}${detail ? ` (${detail})` : ''}` };
  }
  if (status === 200) {
    try {
      return { kind: 'cosigned', signatures: parseCosignatureResponse(text), raw: text };
    } catch {
      return { kind: 'rejected', status, body: text };
    }
  }
  if (status === 409) {
    const mediaType = contentType.split(';')[0]!.trim().toLowerCase();
    if (mediaType === TLOG_SIZE_CONTENT_TYPE) {
      try {
        return { kind: 'conflict', size: parseSizeResponse(text) };
      } catch {
        /* malformed conflict body: reported as rejected below */
      }
    }
  }
  return { kind: 'rejected', status, body: text };
}
