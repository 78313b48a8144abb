// The verify routes' limits (docs/api.md "Verify limits") against real servers: admission before the body is read
// (503 VERIFY_BUSY with Retry-After, for places and for in-flight bytes, Content-Length and chunked), the worker's
// refusals (invalid UTF-8 and nesting depth → 400 before JSON.parse), a worker out of memory or out of time → 413
// VERIFY_TOO_COMPLEX and the pool keeps working, the per-address rate limit on by default, and the OpenAPI document
// still describing both routes.
//
// Servers (started together, stopped in afterAll):
//   dflt   defaults
//   tight  1 worker, no queue, 40 MB in flight, 64 MB worker heap, 100M values, no rate limit
//   slow   300 ms per verify, no rate limit
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawPost, rawRequest, type RawResponse } from './helpers/raw-http.js';
import { client, startServer, type RunningServer } from './helpers/server.js';
import { sleep } from './helpers/wait.js';

let dflt: RunningServer;
let tight: RunningServer;
let slow: RunningServer;
const started: RunningServer[] = [];

beforeAll(async () => {
  const results = await Promise.allSettled([
    startServer(),
    startServer({
      env: {
        PROOFSTREAM_VERIFY_WORKERS: '1',
        PROOFSTREAM_VERIFY_QUEUE: '0',
        PROOFSTREAM_VERIFY_MAX_INFLIGHT_BYTES: '40000000',
        PROOFSTREAM_VERIFY_HEAP_MB: '64',
        PROOFSTREAM_VERIFY_MAX_VALUES: '100000000',
        PROOFSTREAM_VERIFY_RATE_LIMIT_RPS: '0',
      },
    }),
    // values unbounded here, so that the time limit is what a large body meets (not the shape scan before it)
    startServer({ env: { PROOFSTREAM_VERIFY_TIMEOUT_MS: '300', PROOFSTREAM_VERIFY_MAX_VALUES: '100000000', PROOFSTREAM_VERIFY_RATE_LIMIT_RPS: '0' } }),
  ]);
  for (const r of results) if (r.status === 'fulfilled') started.push(r.value);
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
  [dflt, tight, slow] = started as [RunningServer, RunningServer, RunningServer];
}, 60_000);

afterAll(async () => {
  await Promise.all(started.map((s) => s.stop()));
  for (const s of started) fs.rmSync(s.dataDir, { recursive: true, force: true });
});

function expectError(r: RawResponse, status: number, code: string) {
  expect(r.status, r.text).toBe(status);
  expect(Object.keys(r.body.error).sort()).toEqual(['code', 'details', 'message', 'request_id']);
  expect(r.body.error.code).toBe(code);
  expect(r.text).not.toMatch(/\n\s*at |node_modules|\.ts:\d+/);
  return r.body.error as { code: string; message: string; details: any };
}

/** A small request that verifies (ok: false, but a 200 report): the pool is serving. */
const SMALL = JSON.stringify({ object: { nothing: true } });

/** `{"object":{"pad":"xxx…"}}` of exactly n bytes. */
function padded(n: number): string {
  const head = '{"object":{"pad":"';
  const tail = '"}}';
  return head + 'x'.repeat(n - head.length - tail.length) + tail;
}

describe('admission: 503 VERIFY_BUSY before the body is read', () => {
  it('with every place taken, a request is refused at once without sending its body; the place frees afterwards', async () => {
    for (const path of ['/v2/verify', '/v1/public/verify']) {
      // A holds the only place: its headers are in, its body is not.
      const body = padded(1000);
      const a = rawRequest(tight.url, 'POST', path, { contentLength: body.length });
      a.write(body.slice(0, 10));
      await sleep(300);
      // B declares a body and never sends it: the answer cannot depend on reading it.
      const b = rawRequest(tight.url, 'POST', path, { contentLength: 5000 });
      const refused = await b.response;
      const e = expectError(refused, 503, 'VERIFY_BUSY');
      expect(refused.headers['retry-after']).toBe('2');
      expect(e.details.retry_after_s).toBe(2);
      a.end(body.slice(10));
      const ok = await a.response;
      expect(ok.status, ok.text).toBe(200);
      expect(ok.body.ok).toBe(false);
      b.end(); // (nothing more to send; closes our side)
      const again = await rawPost(tight.url, path, SMALL);
      expect(again.status, again.text).toBe(200);
    }
  });

  it('a body larger than the in-flight budget is refused from its Content-Length, and a chunked one as it streams', async () => {
    const declared = rawRequest(tight.url, 'POST', '/v2/verify', { contentLength: 45_000_000 });
    const e = expectError(await declared.response, 503, 'VERIFY_BUSY');
    expect(e.details.inflight_limit_bytes).toBe(40_000_000);
    declared.end();

    const chunked = rawRequest(tight.url, 'POST', '/v2/verify');
    const mb = Buffer.alloc(1 << 20, 0x20);
    // Keep streaming, no faster than the server reads, until it answers (it must, at about 40 MB).
    let sent = 0;
    let answer: RawResponse | undefined;
    let failed: NodeJS.ErrnoException | undefined;
    void chunked.response.then(
      (r) => (answer = r),
      (e: NodeJS.ErrnoException) => (failed = e),
    );
    while (!answer && !failed && sent < 60) {
      await chunked.write(mb);
      sent++;
    }
    chunked.end();
    if (!answer) await chunked.response.then((r) => (answer = r), (e: NodeJS.ErrnoException) => (failed = e));
    if (answer) {
      expectError(answer, 503, 'VERIFY_BUSY');
      expect(answer.headers['retry-after']).toBe('2');
    } else {
      // The server answered 503 and closed while we were still writing: the client saw the closed pipe first.
      expect(failed?.code, String(failed)).toMatch(/^(EPIPE|ECONNRESET)$/);
    }
    expect(sent).toBeLessThan(60); // refused before the whole 60 MB went in
    expect((await rawPost(tight.url, '/v2/verify', SMALL)).status).toBe(200);
  });
});

describe('in the worker', () => {
  it('a body nested deeper than the limit is refused before parsing (400 JSON_TOO_DEEP), quickly; the limit itself is accepted', async () => {
    const deep = Buffer.alloc(30_000_000, '['); // 30 million `[`: seconds and gigabytes for JSON.parse
    const r = await rawPost(dflt.url, '/v2/verify', deep);
    const e = expectError(r, 400, 'JSON_TOO_DEEP');
    expect(e.details).toEqual({ max_depth: 256, offset: 256 });
    // mostly the upload of 30 MB; JSON.parse of it used to block the server for ~25 s
    expect(r.ms).toBeLessThan(15_000);
    // {"object": 255 arrays} is 256 levels deep: verified (a report), not refused.
    const atLimit = await rawPost(dflt.url, '/v2/verify', `{"object":${'['.repeat(255)}${']'.repeat(255)}}`);
    expect(atLimit.status, atLimit.text).toBe(200);
    const v1 = await rawPost(dflt.url, '/v1/public/verify', `{"proof":${'['.repeat(300)}${']'.repeat(300)}}`);
    expectError(v1, 400, 'JSON_TOO_DEEP');
  });

  it('invalid UTF-8 is 400 MALFORMED_JSON, not verified with replacement characters', async () => {
    for (const path of ['/v2/verify', '/v1/public/verify']) {
      const bad = Buffer.concat([Buffer.from('{"object":{"x":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}}')]);
      const e = expectError(await rawPost(dflt.url, path, bad), 400, 'MALFORMED_JSON');
      expect(e.details).toEqual({ reason: 'invalid_utf8' });
    }
  });

  it('validation answers as before: 422 VALIDATION_ERROR with the zod details, 422 for IVC, 400 for broken JSON', async () => {
    const anon = client(dflt.url);
    const v = await anon('POST', '/v2/verify', { nothing: 1 });
    expect(v.status).toBe(422);
    expect(v.body.error.code).toBe('VALIDATION_ERROR');
    expect(v.body.error.details.target).toBe('json');
    expect(v.body.error.details.issues.map((i: { path: string }) => i.path)).toContain('/object');
    expect((await anon('POST', '/v2/verify', { kind: 'ivc', object: {} })).body.error.code).toBe('UNSUPPORTED_OBJECT_KIND');
    expect((await anon('POST', '/v1/public/verify', [1])).body.error.code).toBe('VALIDATION_ERROR');
    expect((await anon('POST', '/v2/verify', '{"object": ', { 'content-type': 'application/json' })).body.error.code).toBe('MALFORMED_JSON');
    expect((await anon('POST', '/v2/verify', SMALL, { 'content-type': 'text/plain' })).status).toBe(415);
  });

  it('an array or object with more items than the limit is refused before parsing (413 VERIFY_TOO_COMPLEX)', async () => {
    // One array of 1,000,001 elements: a single backing store that could outgrow a worker's heap in one piece.
    const r = await rawPost(dflt.url, '/v2/verify', '{"object":[' + '0,'.repeat(1_000_000) + '0]}');
    const e = expectError(r, 413, 'VERIFY_TOO_COMPLEX');
    expect(e.details).toEqual({ limit: 'items', max_items: 1_000_000, offset: 11 + 2 * 1_000_000 - 1 });
    // the same items split into arrays of a thousand: verified
    const ok = await rawPost(dflt.url, '/v2/verify', '{"object":[' + ('[' + '0,'.repeat(999) + '0],').repeat(1000) + '[]]}');
    expect(ok.status, ok.text).toBe(200);
  });

  it('a body with more values than the limit is refused before parsing (413 VERIFY_TOO_COMPLEX)', async () => {
    // 4.2 million `{}` in arrays of a thousand: 12 MB of text, hundreds of MB once parsed.
    const body = '{"object":[' + ('[' + '{},'.repeat(999) + '{}],').repeat(4200) + '[]]}';
    const t0 = performance.now();
    const e = expectError(await rawPost(dflt.url, '/v2/verify', body), 413, 'VERIFY_TOO_COMPLEX');
    expect(e.details.limit).toBe('values');
    expect(e.details.max_values).toBe(4_000_000);
    expect(performance.now() - t0).toBeLessThan(5000);
  });

  it('a worker out of memory answers 413 VERIFY_TOO_COMPLEX; the server stays up and the next verify works', async () => {
    // 6 MB of `{}` in arrays of a thousand: two million objects, more than a 64 MB heap holds.
    const body = '{"object":[' + ('[' + '{},'.repeat(999) + '{}],').repeat(2000) + '[]]}';
    const r = await rawPost(tight.url, '/v2/verify', body);
    const e = expectError(r, 413, 'VERIFY_TOO_COMPLEX');
    expect(e.details).toEqual({ limit: 'memory', limit_mb: 64 });
    expect(tight.proc.exitCode).toBeNull();
    expect((await client(tight.url)('GET', '/health')).status).toBe(200);
    const next = await rawPost(tight.url, '/v1/public/verify', SMALL);
    expect(next.status, next.text).toBe(200);
  });

  it('a verify over its time limit answers 413 VERIFY_TOO_COMPLEX; the next verify works', async () => {
    // 15 million numbers in arrays of a thousand: well over 300 ms to parse and walk.
    const body = '{"object":[' + ('[' + '1,'.repeat(999) + '1],').repeat(15_000) + '[]]}';
    const r = await rawPost(slow.url, '/v2/verify', body);
    const e = expectError(r, 413, 'VERIFY_TOO_COMPLEX');
    expect(e.details).toEqual({ limit: 'time', limit_ms: 300 });
    const next = await rawPost(slow.url, '/v2/verify', SMALL);
    expect(next.status, next.text).toBe(200);
  });
});

describe('OpenAPI', () => {
  it('still describes both verify routes with their request schemas and the new refusals', async () => {
    const doc = (await client(dflt.url)('GET', '/openapi.json')).body;
    const v2 = doc.paths['/v2/verify'].post;
    expect(v2.requestBody.content['application/json'].schema.$ref).toBe('#/components/schemas/VerifyRequest');
    const v1 = doc.paths['/v1/public/verify'].post;
    expect(v1.requestBody.content['application/json'].schema.$ref).toBe('#/components/schemas/V1VerifyBody');
    for (const op of [v1, v2]) {
      expect(Object.keys(op.responses).sort()).toEqual(['200', '400', '413', '415', '422', '429', '503']);
      expect(op.responses['200'].content['application/json'].schema.$ref).toBe('#/components/schemas/VerifyReport');
    }
  });
});

describe('rate limit, on by default', () => {
  it('the unauthenticated verify routes refuse a burst from one address with 429 RATE_LIMIT_EXCEEDED and Retry-After', async () => {
    await sleep(1000);
    const statuses: number[] = [];
    let refused: RawResponse | undefined;
    for (let i = 0; i < 30; i++) {
      const r = await rawPost(dflt.url, i % 2 ? '/v2/verify' : '/v1/public/verify', SMALL);
      statuses.push(r.status);
      if (r.status === 429) refused ??= r;
    }
    // Earlier tests on this server may have spent part of the burst (20); the second's sleep refilled at least 2.
    expect(statuses[0], String(statuses)).toBe(200);
    expect(statuses.every((s) => s === 200 || s === 429), String(statuses)).toBe(true);
    expect(refused, String(statuses)).toBeDefined();
    const e = expectError(refused!, 429, 'RATE_LIMIT_EXCEEDED');
    expect(Number(refused!.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(e.details.retry_after_s).toBe(Number(refused!.headers['retry-after']));
  });
});
