// The ingestion rule (docs/api.md, "Ingestion rule") against a real server: every reproduction of issue #12's
// poisoned ledger — a body accepted and signed that no read path, pack or verifier could serve afterwards, or
// served changed — is now refused with the error envelope, before anything is stored.
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { nestedArrays, nestedObjects, packAndVerify, postRaw, readEvents } from './helpers/ingest.js';
import { client, idemKey, startServer, type RunningServer } from './helpers/server.js';

let srv: RunningServer;
let call: ReturnType<typeof client>;
/** a stream with 3 good events, sealed, that every refused request below targets */
let sid: string;
const good = [{ a: 1 }, { b: [1.5, 'é😀'] }, { c: null }];

const post = (path: string, body: string | Uint8Array, headers: Record<string, string> = {}) =>
  postRaw(srv.url, srv.key, path, body, headers);
const append = (body: string | Uint8Array, path = `/v2/streams/${sid}/events`) => post(path, body, { 'idempotency-key': idemKey() });
const event = (payloadText: string) => `{"source_ref":"r","event_type":"t","payload":${payloadText}}`;
const batch = (...payloadTexts: string[]) => `{"events":[${payloadTexts.map(event).join(',')}]}`;
const stream = (metadataText: string) => `{"use_case":"u","metadata":${metadataText}}`;

/** The refusal: status, code, details.path; and the envelope, never a stack trace. */
function refused(r: { status: number; body: any; text: string }, status: number, code: string, path?: string) {
  expect(r.status, r.text.slice(0, 300)).toBe(status);
  expect(r.body.error.code).toBe(code);
  expect(Object.keys(r.body.error).sort()).toEqual(['code', 'details', 'message', 'request_id']);
  expect(r.text).not.toMatch(/\n\s+at /);
  if (path !== undefined) expect(r.body.error.details.path).toBe(path);
}

async function streamCount(): Promise<number> {
  return (await call('GET', '/v2/streams?limit=200')).body.streams.length;
}

beforeAll(async () => {
  srv = await startServer({ env: { PROOFSTREAM_WINDOW_MAX_EVENTS: '1000', PROOFSTREAM_WINDOW_MAX_AGE_MS: '100' } });
  call = client(srv.url, srv.key);
  sid = (await call('POST', '/v2/streams', { use_case: 'ingest-rule' })).body.stream_id;
  for (const payload of good) {
    expect((await call('POST', `/v2/streams/${sid}/events`, { source_ref: 'g', event_type: 't', payload }, { 'idempotency-key': idemKey() })).status).toBe(201);
  }
});

afterAll(async () => {
  // Nothing refused below may have been stored: the stream still holds exactly its 3 events, and they read,
  // export and verify.
  if (srv) {
    try {
      const events = await readEvents(srv.url, srv.key, sid);
      expect(events.map((e) => e.payload)).toEqual(good);
      await packAndVerify(srv.url, srv.key, sid, 3);
    } finally {
      await srv.stop();
      fs.rmSync(srv.dataDir, { recursive: true, force: true });
    }
  }
});

describe('depth: refused on the text, before JSON.parse builds it', () => {
  it('an append nested 4,500–7,000 levels deep is 400 JSON_TOO_DEEP, not a signed receipt for an unreadable event', async () => {
    for (const depth of [4500, 5000, 7000]) {
      refused(await append(event(nestedArrays(depth))), 400, 'JSON_TOO_DEEP');
      refused(await append(event(nestedObjects(depth))), 400, 'JSON_TOO_DEEP');
    }
    const r = await append(event(nestedArrays(5000)));
    expect(r.body.error.details).toMatchObject({ reason: 'too_deep', limit: 72, path: '/payload' + '/0'.repeat(71) });
    expect((await call('GET', `/v2/streams/${sid}`)).body.head_seq_no).toBe(3);
  });

  it('deep stream metadata and deep batch items are 400, not 500', async () => {
    const before = await streamCount();
    refused(await post('/v2/streams', stream(nestedObjects(6000))), 400, 'JSON_TOO_DEEP');
    refused(await post('/v2/streams', stream(nestedObjects(65))), 400, 'JSON_TOO_DEEP', '/metadata' + '/k'.repeat(64));
    refused(await append(batch('1', nestedArrays(6000)), `/v2/streams/${sid}/events/batch`), 400, 'JSON_TOO_DEEP');
    const item = await append(batch('1', '2', nestedArrays(65)), `/v2/streams/${sid}/events/batch`);
    refused(item, 400, 'JSON_TOO_DEEP', '/events/2/payload' + '/0'.repeat(64));
    expect(item.body.error.details).toMatchObject({ index: 2, limit: 64 });
    refused(await append(`{"source_ref":"r","payload":${nestedArrays(6000)}}`, '/v1/sdk/events'), 400, 'JSON_TOO_DEEP');
    refused(await append(`{"events":[{"source_ref":"r","payload":${nestedArrays(65)}}]}`, '/v1/sdk/events/batch'), 400, 'JSON_TOO_DEEP', '/events/0/payload' + '/0'.repeat(64));
    expect(await streamCount()).toBe(before);
  });

  it('payloads and metadata may nest exactly 64 levels, and read back', async () => {
    const s = await post('/v2/streams', stream(nestedObjects(64)));
    expect(s.status).toBe(201);
    expect(s.body.metadata).toEqual(JSON.parse(nestedObjects(64)));
    refused(await append(event(nestedArrays(65))), 400, 'JSON_TOO_DEEP', '/payload' + '/0'.repeat(64));
    const deep = await append(event(nestedArrays(64)), `/v2/streams/${s.body.stream_id}/events`);
    expect(deep.status).toBe(201);
    const events = await readEvents(srv.url, srv.key, s.body.stream_id);
    expect(events[0].payload).toEqual(JSON.parse(nestedArrays(64)));
    await packAndVerify(srv.url, srv.key, s.body.stream_id, 1);
  });
});

describe('nothing is stored changed', () => {
  it('a lone surrogate in stream metadata is 422, so no pack of the stream can fail on it', async () => {
    const before = await streamCount();
    refused(await post('/v2/streams', stream('{"note":"\\ud800"}')), 422, 'NOT_CANONICALIZABLE', '/metadata/note');
    refused(await post('/v2/streams', stream('{"\\udc00":1}')), 422, 'NOT_CANONICALIZABLE');
    refused(await post('/v2/streams', '{"use_case":"\\ud83d"}'), 422, 'NOT_CANONICALIZABLE', '/use_case');
    expect(await streamCount()).toBe(before);
  });

  it('metadata: a __proto__ key, an integer past 2^53, a duplicate key are refused, not dropped or rounded', async () => {
    const before = await streamCount();
    refused(await post('/v2/streams', stream('{"__proto__":{"admin":true},"x":1}')), 422, 'FORBIDDEN_KEY', '/metadata/__proto__');
    refused(await post('/v2/streams', stream('{"n":9007199254740993}')), 422, 'NOT_CANONICALIZABLE', '/metadata/n');
    refused(await post('/v2/streams', stream('{"n":0.1000000000000000000001}')), 422, 'NOT_CANONICALIZABLE', '/metadata/n');
    refused(await post('/v2/streams', stream('{"owner":"alice","owner":"mallory"}')), 422, 'DUPLICATE_KEY', '/metadata/owner');
    refused(await post('/v2/streams', stream('{"n":[1e21]}')), 422, 'NOT_CANONICALIZABLE', '/metadata/n/0');
    expect((await post('/v2/streams', stream('{"n":9007199254740991,"x":1.5e-300}'))).body.metadata).toEqual({ n: 9007199254740991, x: 1.5e-300 });
    expect(await streamCount()).toBe(before + 1);
  });

  it('payloads: the same, on the single, batch and v1 routes', async () => {
    refused(await append(event('{"n":9007199254740993}')), 422, 'NOT_CANONICALIZABLE', '/payload/n');
    refused(await append(event('{"x":1e400}')), 422, 'NOT_CANONICALIZABLE', '/payload/x');
    refused(await append(event('[1.00000000000000000001]')), 422, 'NOT_CANONICALIZABLE', '/payload/0');
    refused(await append(event('{"a":1,"a":2}')), 422, 'DUPLICATE_KEY', '/payload/a');
    refused(await append(event('{"k":[{"__proto__":1}]}')), 422, 'FORBIDDEN_KEY', '/payload/k/0/__proto__');
    const item = await append(batch('1', '{"s":"x\\udfff"}'), `/v2/streams/${sid}/events/batch`);
    refused(item, 422, 'NOT_CANONICALIZABLE', '/events/1/payload/s');
    expect(item.body.error.details).toMatchObject({ reason: 'lone_surrogate', index: 1 });
    refused(await append('{"source_ref":"r","source_ref":"s","payload":1}', '/v1/sdk/events'), 422, 'DUPLICATE_KEY', '/source_ref');
    refused(await append('{"source_ref":"r","payload":{"__proto__":[]}}', '/v1/sdk/events'), 422, 'FORBIDDEN_KEY', '/payload/__proto__');
  });

  it('invalid UTF-8 is 400 MALFORMED_JSON, not committed as U+FFFD', async () => {
    const bytes = (s: string) => Buffer.from(s, 'latin1');
    const before = await streamCount();
    refused(await post('/v2/streams', bytes('{"use_case":"u","metadata":{"a":"\xff\xfe"}}')), 400, 'MALFORMED_JSON', '/metadata/a');
    refused(await append(bytes(event('"\xc3"'))), 400, 'MALFORMED_JSON', '/payload');
    refused(await append(bytes(event('"\xed\xa0\x80"'))), 400, 'MALFORMED_JSON', '/payload'); // an encoded surrogate
    refused(await append(bytes(batch('1', '"\xc0\xaf"')), `/v2/streams/${sid}/events/batch`), 400, 'MALFORMED_JSON', '/events/1/payload');
    const r = await append(bytes(event('"\x80"')));
    const at = event('"').length - 1; // the byte after the opening quote
    expect(r.body.error.details).toMatchObject({ reason: 'invalid_utf8', offset: at });
    expect(r.body.error.message).toBe(`request body is not valid UTF-8 (byte ${at})`);
    // A chunked body (no Content-Length) is read on its own path: the same rule, even when a character is split
    // across chunks.
    const chunks = [bytes('{"use_case":"u","metadata":{"a":"'), Buffer.from([0xc3]), Buffer.from([0xa9, 0xff]), bytes('"}}')];
    const chunked = await fetch(`${srv.url}/v2/streams`, {
      method: 'POST',
      headers: { authorization: `Bearer ${srv.key}`, 'content-type': 'application/json' },
      body: new ReadableStream({ start: (c) => (chunks.forEach((x) => c.enqueue(x)), c.close()) }),
      duplex: 'half',
    } as RequestInit);
    const cb = await chunked.json();
    expect([chunked.status, cb.error.code, cb.error.details.path]).toEqual([400, 'MALFORMED_JSON', '/metadata/a']);
    expect(await streamCount()).toBe(before);
  });

  it('every JSON route: audit pack requests too', async () => {
    refused(await post('/v2/audit/packs', `{"stream_id":"${sid}","from_seq_no":1,"to_seq_no":3,"to_seq_no":2}`), 422, 'DUPLICATE_KEY', '/to_seq_no');
    refused(await post('/v2/audit/packs', `{"stream_id":"${sid}","from_seq_no":1,"to_seq_no":3e400}`), 422, 'NOT_CANONICALIZABLE', '/to_seq_no');
    refused(await post('/v2/audit/packs', nestedArrays(100)), 400, 'JSON_TOO_DEEP');
  });
});

describe('PROOFSTREAM_MAX_JSON_DEPTH', () => {
  it('sets the payload and metadata limit (the body may nest 8 more); out-of-range values stop the server from starting', async () => {
    expect(loadConfig({}).maxJsonDepth).toBe(64);
    expect(loadConfig({ PROOFSTREAM_MAX_JSON_DEPTH: '200' }).maxJsonDepth).toBe(200);
    expect(() => loadConfig({ PROOFSTREAM_MAX_JSON_DEPTH: '0' })).toThrow(/PROOFSTREAM_MAX_JSON_DEPTH/);
    expect(() => loadConfig({ PROOFSTREAM_MAX_JSON_DEPTH: '257' })).toThrow(/PROOFSTREAM_MAX_JSON_DEPTH/);
    const small = await startServer({ env: { PROOFSTREAM_MAX_JSON_DEPTH: '4' } });
    try {
      const p = (path: string, body: string) => postRaw(small.url, small.key, path, body, { 'idempotency-key': idemKey() });
      const s = await p('/v2/streams', stream(nestedObjects(4)));
      expect(s.status).toBe(201);
      refused(await p('/v2/streams', stream(nestedObjects(5))), 400, 'JSON_TOO_DEEP', '/metadata/k/k/k/k');
      const at = `/v2/streams/${s.body.stream_id}/events`;
      expect((await p(at, event(nestedArrays(4)))).status).toBe(201);
      const r = await p(at, event(nestedArrays(5)));
      refused(r, 400, 'JSON_TOO_DEEP', '/payload/0/0/0/0');
      expect(r.body.error.details.limit).toBe(4);
      refused(await p(at, `{"x":${nestedArrays(12)}}`), 400, 'JSON_TOO_DEEP');
    } finally {
      await small.stop();
      fs.rmSync(small.dataDir, { recursive: true, force: true });
    }
  });
});
