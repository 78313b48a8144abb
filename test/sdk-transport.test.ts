// The SDK's retry rules, timeouts and cancellation, against stub HTTP servers on 127.0.0.1 that answer what a test
// needs (a real ledger cannot be made to answer 409 IDEMPOTENCY_IN_PROGRESS or hang on demand).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { Proofstream, ProofstreamError, type RetryInfo } from 'proofstream/client';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, n: number) => void;
const servers: http.Server[] = [];
afterAll(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

async function stub(handler: Handler): Promise<{ url: string; seen: Array<{ method: string; path: string; key: string | undefined }> }> {
  const seen: Array<{ method: string; path: string; key: string | undefined }> = [];
  const srv = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      seen.push({ method: req.method!, path: req.url!, key: req.headers['idempotency-key'] as string | undefined });
      handler(req, res, seen.length);
    });
  });
  servers.push(srv);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`, seen };
}

const envelope = (res: http.ServerResponse, status: number, code: string, headers: Record<string, string> = {}) => {
  res.writeHead(status, { 'content-type': 'application/json', 'x-request-id': `req_${code}`, ...headers });
  res.end(JSON.stringify({ error: { code, message: code.toLowerCase(), details: { why: code }, request_id: `req_${code}` } }));
};

const receiptFor = (n: number) => ({ stream_event_id: `sev_${n}`, stream_id: 'str_s', seq_no: n });

describe('SDK transport', () => {
  it('retries 409 IDEMPOTENCY_IN_PROGRESS, 502, 503 under one Idempotency-Key; never 409 IDEMPOTENCY_CONFLICT, 500 or 507', async () => {
    const s = await stub((req, res, n) => {
      if (n === 1) return envelope(res, 409, 'IDEMPOTENCY_IN_PROGRESS');
      if (n === 2) return envelope(res, 502, 'BAD_GATEWAY');
      if (n === 3) return envelope(res, 503, 'VERIFY_BUSY', { 'retry-after': '0' });
      res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify(receiptFor(1)));
    });
    const retries: RetryInfo[] = [];
    const ps = new Proofstream({ baseUrl: s.url, apiKey: 'k', retry: { baseDelayMs: 1, maxDelayMs: 5 }, onRetry: (i) => retries.push(i) });
    const r = await ps.events.append('str_s', { source_ref: 'a', event_type: 't', payload: 1 });
    expect(r.seq_no).toBe(1);
    expect(s.seen).toHaveLength(4);
    expect(new Set(s.seen.map((x) => x.key)).size).toBe(1);
    expect(s.seen[0]!.key).toMatch(/^[0-9a-f-]{36}$/);
    expect(retries.map((x) => x.error.code)).toEqual(['IDEMPOTENCY_IN_PROGRESS', 'BAD_GATEWAY', 'VERIFY_BUSY']);

    for (const [status, code] of [
      [409, 'IDEMPOTENCY_CONFLICT'],
      [500, 'INTEGRITY_ERROR'],
      [507, 'INSUFFICIENT_STORAGE'],
    ] as const) {
      const t = await stub((req, res) => envelope(res, status, code));
      const e = await new Proofstream({ baseUrl: t.url, retry: { baseDelayMs: 1 } }).events.append('str_s', { source_ref: 'a', event_type: 't', payload: 1 }).catch((x) => x);
      expect(e).toBeInstanceOf(ProofstreamError);
      expect(e).toMatchObject({ status, code, request_id: `req_${code}`, details: { why: code } });
      expect(t.seen).toHaveLength(1);
    }
  });

  it('a distinct append gets a distinct Idempotency-Key; a caller-given key is used as is', async () => {
    const s = await stub((req, res, n) => res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify(receiptFor(n))));
    const ps = new Proofstream({ baseUrl: s.url, apiKey: 'k' });
    await ps.events.append('str_s', { source_ref: 'a', event_type: 't', payload: 1 });
    await ps.events.append('str_s', { source_ref: 'a', event_type: 't', payload: 1 });
    await ps.events.append('str_s', { source_ref: 'a', event_type: 't', payload: 1 }, { idempotencyKey: 'job-42' });
    expect(s.seen[0]!.key).not.toBe(s.seen[1]!.key);
    expect(s.seen[2]!.key).toBe('job-42');
  });

  it('a server that never answers: each attempt ends at timeoutMs (TIMEOUT) and is retried, then the error is thrown', async () => {
    const s = await stub(() => {
      /* never answers */
    });
    const ps = new Proofstream({ baseUrl: s.url, timeoutMs: 100, retry: { maxRetries: 2, baseDelayMs: 1 } });
    const e = await ps.streams.get('str_s').catch((x) => x);
    expect(e).toMatchObject({ status: 0, code: 'TIMEOUT' });
    expect(s.seen).toHaveLength(3);
  });

  it('an AbortSignal ends the call during a Retry-After wait, with the signal reason, and nothing more is sent', async () => {
    const s = await stub((req, res) => envelope(res, 429, 'RATE_LIMIT_EXCEEDED', { 'retry-after': '30' }));
    const ac = new AbortController();
    const ps = new Proofstream({ baseUrl: s.url, onRetry: () => ac.abort(new Error('user gave up')) });
    await expect(ps.streams.list({}, { signal: ac.signal })).rejects.toThrow('user gave up');
    expect(s.seen).toHaveLength(1);
  });

  it('a Retry-After longer than maxRetryAfterMs is not slept through: the 429 is thrown with retryAfterMs', async () => {
    const s = await stub((req, res) => envelope(res, 429, 'RATE_LIMIT_EXCEEDED', { 'retry-after': '3600' }));
    const e = await new Proofstream({ baseUrl: s.url }).streams.list().catch((x) => x);
    expect(e).toMatchObject({ status: 429, code: 'RATE_LIMIT_EXCEEDED', retryAfterMs: 3_600_000 });
    expect(s.seen).toHaveLength(1);
  });

  it('a connection refused is a NETWORK_ERROR, retried up to maxRetries', async () => {
    const s = await stub(() => {});
    const url = s.url;
    const srv = servers.pop()!;
    await new Promise((r) => srv.close(r));
    const retries: RetryInfo[] = [];
    const e = await new Proofstream({ baseUrl: url, retry: { maxRetries: 3, baseDelayMs: 1 }, onRetry: (i) => retries.push(i) }).streams.list().catch((x) => x);
    expect(e).toMatchObject({ status: 0, code: 'NETWORK_ERROR' });
    expect(retries).toHaveLength(3);
  });
});
