// The console's one way to the API: the session's key as a Bearer token, JSON in and out, and any non-2xx answer
// turned into an ApiFailure carrying the envelope's code and message exactly as the API sent them.

export const KEY = 'proofstream.apiKey';
/** Dispatched on document when the key is forgotten: views stop what they run with it and hide what it showed. */
export const FORGET_EVENT = 'proofstream:forget-key';

export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly retryAfter: number | null,
  ) {
    super(message);
  }
}

export const hasKey = (): boolean => sessionStorage.getItem(KEY) !== null;

/** The Authorization header of the session's key (none without a key: the API answers 401 as it would to anyone). */
export function authHeaders(): Record<string, string> {
  const key = sessionStorage.getItem(KEY);
  return key ? { authorization: `Bearer ${key}` } : {};
}

/** An answer that is not 2xx as an ApiFailure: the envelope's code and message, else the HTTP status. */
export async function failureOf(res: Response): Promise<ApiFailure> {
  let code = `HTTP_${res.status}`;
  let message = res.statusText;
  try {
    const e = (await res.json()) as { error?: { code?: string; message?: string } };
    code = e.error?.code ?? code;
    message = e.error?.message ?? message;
  } catch {
    /* not an envelope */
  }
  const ra = Number(res.headers.get('retry-after'));
  return new ApiFailure(res.status, code, message, Number.isFinite(ra) && ra > 0 ? ra : null);
}

export async function api(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<Response> {
  const headers = authHeaders();
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal });
  if (!res.ok) throw await failureOf(res);
  return res;
}

export const getJson = async <T>(path: string): Promise<T> => (await (await api('GET', path)).json()) as T;

/** `?a=1&b=x` from the entries that are set. */
export function query(params: Record<string, string | number | null | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** The console's error line: the API's envelope as sent (code: message), or the client-side error. */
export function showError(e: unknown): void {
  const box = document.getElementById('console-error')!;
  box.hidden = false;
  box.textContent = e instanceof ApiFailure ? `${e.code}: ${e.message}` : `Error: ${(e as Error)?.message ?? String(e)}`;
}

export function clearError(): void {
  document.getElementById('console-error')!.hidden = true;
}

/** Rows per page, as chosen in the page-size select, within the route's own maximum. */
export function pageSize(max = 200): number {
  const v = Number((document.getElementById('page-size') as HTMLSelectElement | null)?.value ?? 50);
  return Math.max(1, Math.min(max, Number.isFinite(v) ? v : 50));
}
