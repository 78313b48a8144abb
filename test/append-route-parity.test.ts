// The two append routes run their middleware chain fused into one handler (src/http/middleware/keyed-write.ts),
// which mirrors what hono's request-id middleware and @hono/zod-openapi's validators do on every other route. This
// pins the mirror to the libraries: for the same media types and request ids, the fused route and a route on the
// generic chain (POST /v2/streams) must decide alike. A library upgrade that changes its behaviour fails here.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, idemKey, startServer, type RunningServer } from './helpers/server.js';

let s: RunningServer;
let sid: string;
beforeAll(async () => {
  s = await startServer();
  sid = (await client(s.url, s.key)('POST', '/v2/streams', { use_case: 'parity' })).body.stream_id;
});
afterAll(async () => {
  await s?.stop();
});

async function post(path: string, body: string, headers: Record<string, string>) {
  const res = await fetch(s.url + path, {
    method: 'POST',
    headers: { authorization: `Bearer ${s.key}`, 'idempotency-key': idemKey(), ...headers },
    body: new TextEncoder().encode(body), // bytes: fetch adds no Content-Type of its own
  });
  const text = await res.text();
  let code: string | undefined;
  try {
    code = JSON.parse(text).error?.code;
  } catch {
    code = 'NOT_JSON';
  }
  return { status: res.status, code, rid: res.headers.get('x-request-id'), ok: res.status < 300 };
}

const MEDIA_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'application/json;charset=UTF-8',
  'APPLICATION/JSON',
  'Application/Json; Charset=utf-8',
  'application/merge-patch+json',
  'application/vnd.api+json; charset=utf-8',
  'application/json;charset=utf-8;x=y',
  'application/json ; charset=utf-8',
  'application/json;',
  'application/jsonx',
  'application/json-seq',
  'text/json',
  'text/plain',
  'multipart/form-data',
  '',
];

describe('fused append routes decide like the generic chain', () => {
  for (const ct of MEDIA_TYPES) {
    it(`Content-Type ${JSON.stringify(ct)}`, async () => {
      const headers: Record<string, string> = ct === '' ? {} : { 'content-type': ct };
      const fused = await post(`/v2/streams/${sid}/events`, JSON.stringify({ source_ref: 'p', event_type: 't', payload: 1 }), headers);
      const batch = await post(`/v2/streams/${sid}/events/batch`, JSON.stringify({ events: [{ source_ref: 'p', event_type: 't', payload: 1 }] }), headers);
      const generic = await post('/v2/streams', JSON.stringify({ use_case: 'parity' }), headers);
      expect({ status: fused.status, code: fused.code }).toEqual({ status: generic.status, code: generic.code });
      expect({ status: batch.status, code: batch.code }).toEqual({ status: generic.status, code: generic.code });
    });
  }

  it('request ids: a valid one is echoed, an invalid or over-long one replaced, as hono/request-id does', async () => {
    const body = JSON.stringify({ source_ref: 'p', event_type: 't', payload: 1 });
    for (const rid of ['abc-123_X=', 'has space', 'semi;colon', 'a'.repeat(255), 'a'.repeat(256), '']) {
      const h = { 'content-type': 'application/json', ...(rid ? { 'x-request-id': rid } : {}) };
      const fused = await post(`/v2/streams/${sid}/events`, body, h);
      const generic = await post('/v2/streams', JSON.stringify({ use_case: 'parity' }), h);
      expect(fused.ok && generic.ok).toBe(true);
      expect(fused.rid === rid, `fused, ${JSON.stringify(rid)}`).toBe(generic.rid === rid);
      expect(fused.rid).toMatch(/^[\w\-=]{1,255}$/);
      // and on an error answer too (401: no key)
      const res = await fetch(`${s.url}/v2/streams/${sid}/events`, { method: 'POST', headers: { ...h, 'idempotency-key': idemKey() }, body });
      const env = await res.json();
      expect(res.status).toBe(401);
      expect(env.error.request_id).toBe(res.headers.get('x-request-id'));
      expect(res.headers.get('x-request-id') === rid).toBe(generic.rid === rid);
    }
  });
});
