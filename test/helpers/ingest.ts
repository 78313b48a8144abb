// For the ingestion-rule tests: raw bodies (exact bytes, invalid UTF-8 included) to a real server, and "this
// stream still reads, exports and verifies": every page of its events, an audit pack, the offline verifier.
import { expect } from 'vitest';
import { verify, type Report } from '../../src/verify/index.js';
import { client, idemKey } from './server.js';
import { waitFor } from './wait.js';

export interface RawResponse {
  status: number;
  text: string;
  body: any;
}

/** POST exactly these bytes (or this text, as UTF-8) with Content-Type application/json. */
export async function postRaw(
  base: string,
  key: string,
  path: string,
  body: string | Uint8Array,
  headers: Record<string, string> = {},
): Promise<RawResponse> {
  const res = await fetch(base + path, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
    body: body as BodyInit,
  });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: res.status, text, body: parsed };
}

/** Every event of the stream through GET /v2/streams/{id}/events, page by page; each page must be 200. */
export async function readEvents(base: string, key: string, streamId: string): Promise<any[]> {
  const call = client(base, key);
  const out: any[] = [];
  for (let from = 1; ; ) {
    const r = await call('GET', `/v2/streams/${streamId}/events?from_seq_no=${from}&limit=1000`);
    expect(r.status, r.text.slice(0, 300)).toBe(200);
    out.push(...r.body.events);
    if (r.body.next_from_seq_no === null) return out;
    from = r.body.next_from_seq_no;
  }
}

/**
 * Waits until the stream is sealed through `size`, builds an audit pack of 1..size and verifies it with the offline
 * verifier, trusting the server's published keys. Returns the pack and the report (which must be ok).
 */
export async function packAndVerify(base: string, key: string, streamId: string, size: number): Promise<{ pack: any; report: Report }> {
  const call = client(base, key);
  await waitFor(async () => {
    const r = await call('GET', `/v2/streams/${streamId}/checkpoints/latest`);
    return r.status === 200 && r.body.tree_size >= size ? true : undefined;
  }, 30_000);
  const r = await call('POST', '/v2/audit/packs', { stream_id: streamId, from_seq_no: 1, to_seq_no: size }, { 'idempotency-key': idemKey() });
  expect(r.status, r.text.slice(0, 300)).toBe(201);
  const keys = (await call('GET', '/v2/keys')).body.keys.map((k: any) => ({ kid: k.kid, alg: k.alg, public_key: k.public_key }));
  const report = await verify({ kind: 'bundle', object: r.body, trusted_keys: keys });
  expect(report.problems).toEqual([]);
  expect(report.ok).toBe(true);
  return { pack: r.body, report };
}

/** Nested arrays, `depth` levels: depth 1 is `[0]`. */
export const nestedArrays = (depth: number) => '['.repeat(depth) + '0' + ']'.repeat(depth);
/** Nested objects, `depth` levels: depth 1 is `{"k":0}`. */
export const nestedObjects = (depth: number) => '{"k":'.repeat(depth) + '0' + '}'.repeat(depth);

/** Whether two decimal literals denote the same rational number (an independent check: BigInt arithmetic). */
export function sameDecimal(a: string, b: string): boolean {
  const parse = (s: string) => {
    const m = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(s)!;
    const digits = BigInt(m[2]! + (m[3] ?? '')) * (m[1] ? -1n : 1n);
    return { digits, exp: Number(m[4] ?? 0) - (m[3]?.length ?? 0) };
  };
  const x = parse(a);
  const y = parse(b);
  // exponents this far apart: equal only as zeros (and 10n ** 1000+ would be slow to build)
  if (Math.abs(x.exp - y.exp) > 1000) return x.digits === 0n && y.digits === 0n;
  const e = Math.min(x.exp, y.exp);
  return x.digits * 10n ** BigInt(x.exp - e) === y.digits * 10n ** BigInt(y.exp - e);
}
