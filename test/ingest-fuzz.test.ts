// Fuzz every JSON write route of a real server with 12,000 hostile bodies — deep nesting, lone surrogates,
// invalid UTF-8, huge and over-precise numbers, duplicate and __proto__ keys, truncations, byte flips, random
// bytes — and require: no 5xx, the process alive, and afterwards every stream still reads, packs and verifies.
// (The verify routes are left out: they are moving to a worker pool of their own.)
import fs from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { packAndVerify, postRaw, readEvents } from './helpers/ingest.js';
import { mulberry32 } from './helpers/prng.js';
import { client, idemKey, startServer, type RunningServer } from './helpers/server.js';

const REQUESTS = 12_000;
const CONCURRENCY = 16;
const SEED = Number(process.env.FUZZ_SEED ?? 0x1d9e57);

let srv: RunningServer;
let sid: string;

beforeAll(async () => {
  srv = await startServer({ env: { PROOFSTREAM_WINDOW_MAX_EVENTS: '1000', PROOFSTREAM_WINDOW_MAX_AGE_MS: '100' } });
  sid = (await client(srv.url, srv.key)('POST', '/v2/streams', { use_case: 'fuzz' })).body.stream_id;
});

afterAll(async () => {
  await srv?.stop();
  if (srv) fs.rmSync(srv.dataDir, { recursive: true, force: true });
});

it(`${REQUESTS} hostile bodies over every JSON write route: 0 crashes, 0 5xx, nothing poisoned`, async () => {
  const rnd = mulberry32(SEED);
  const int = (n: number) => Math.floor(rnd() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const enc = new TextEncoder();

  const strings = ['', 'a', 'é', '😀', '\\ud800', '\\udfff', '\\ud83d\\ude00', '\\ud83dx', '\\u0000', '\\"', '\\\\', '\\/', '\\b\\f\\n\\r\\t', '\\u00', '\\x', '\u2028', '\uffff'];
  const numbers = [
    '0', '-0', '1', '-1', '1.5', '1e2', '1E-2', '0.1', '9007199254740991', '9007199254740992', '9007199254740993', '-9007199254740993',
    '1e21', '1e308', '1e309', '-1e309', '1e-400', '5e-324', '2.4703282292062328e-324', '1.00000000000000000001', '0.30000000000000004',
    '1' + '0'.repeat(400), '0.' + '0'.repeat(400) + '1', '1'.repeat(5000), '123456789012345678901234567890', '1.7976931348623157e308',
    '01', '1.', '.5', '+1', '1e', '--1', 'NaN', 'Infinity', '0x10', '1_000',
  ];
  const keys = ['a', 'b', '__proto__', '\\u005f_proto__', 'constructor', 'prototype', 'toString', '', '\\ud800', 'payload', 'events', 'metadata', 'k'];

  /** A random JSON-ish value: mostly valid, with every hazard somewhere. */
  const value = (depth: number): string => {
    const r = rnd();
    if (depth > 6 || r < 0.35) {
      const s = rnd();
      if (s < 0.4) return pick(numbers);
      if (s < 0.8) return `"${pick(strings)}${pick(strings)}"`;
      return pick(['true', 'false', 'null', 'nul', 'True']);
    }
    if (r < 0.6) return `[${Array.from({ length: int(4) }, () => value(depth + 1)).join(',')}]`;
    const n = int(4);
    const members = Array.from({ length: n }, () => `"${pick(keys)}":${value(depth + 1)}`);
    if (n > 0 && rnd() < 0.15) members.push(members[0]!); // duplicate key
    return `{${members.join(',')}}`;
  };
  const deep = (): string => {
    const d = pick([63, 64, 65, 66, 71, 72, 73, 80, 200, 4500, 5000, 7000, 20_000, 60_000]);
    const kind = int(4);
    if (kind === 0) return '['.repeat(d) + ']'.repeat(d);
    if (kind === 1) return '{"k":'.repeat(d) + '1' + '}'.repeat(d);
    if (kind === 2) return '['.repeat(d); // unbalanced
    return Array.from({ length: d }, (_, i) => (i % 2 ? '{"x":' : '[')).join('') + '0' + Array.from({ length: d }, (_, i) => ((d - 1 - i) % 2 ? '}' : ']')).join('');
  };
  const payload = () => (rnd() < 0.15 ? deep() : value(0));
  const event = (v1: boolean) =>
    v1
      ? `{"source_ref":"f","type":"t","status":"s","payload":${payload()}}`
      : `{"source_ref":"f","event_type":"t","payload":${payload()}${rnd() < 0.2 ? ',"occurred_at":"2026-01-01T00:00:00Z"' : ''}}`;
  const batch = (v1: boolean) => `{"events":[${Array.from({ length: 1 + int(4) }, () => event(v1)).join(',')}]}`;

  const routes: { path: string; body: () => string }[] = [
    { path: '/v2/streams', body: () => `{"use_case":"u","metadata":${rnd() < 0.15 ? deep() : value(0)}}` },
    { path: `/v2/streams/${sid}/events`, body: () => event(false) },
    { path: `/v2/streams/${sid}/events/batch`, body: () => batch(false) },
    { path: '/v1/sdk/events', body: () => event(true) },
    { path: '/v1/sdk/events/batch', body: () => batch(true) },
    { path: '/v2/audit/packs', body: () => `{"stream_id":"${sid}","from_seq_no":${pick(numbers)},"to_seq_no":${pick(numbers)}${rnd() < 0.3 ? `,"x":${value(0)}` : ''}}` },
  ];

  /** The bytes to send: a body for the route, then maybe broken at the byte level. */
  const bytesFor = (route: (typeof routes)[number]): Uint8Array => {
    const r = rnd();
    if (r < 0.05) return Uint8Array.from({ length: int(300) }, () => int(256)); // random bytes
    if (r < 0.08) return enc.encode(deep());
    let b = enc.encode(route.body());
    if (b.length > 60_000) b = b.subarray(0, 60_000);
    const m = rnd();
    if (m < 0.1) return b.subarray(0, int(b.length + 1)); // truncated
    if (m < 0.2) {
      // invalid UTF-8 (or a CESU-8 surrogate) spliced in
      const bad = pick([[0xff], [0xc3], [0xed, 0xa0, 0x80], [0xc0, 0xaf], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82], [0x80]]);
      const at = int(b.length + 1);
      return Uint8Array.from([...b.subarray(0, at), ...bad, ...b.subarray(at)]);
    }
    if (m < 0.27) {
      const c = Uint8Array.from(b); // byte flips
      for (let i = 0, n = 1 + int(3); i < n && c.length; i++) c[int(c.length)] = int(256);
      return c;
    }
    return b;
  };

  const statuses = new Map<number, number>();
  const fiveXX: string[] = [];
  let next = 0;
  const reusedKey = idemKey();
  const worker = async () => {
    while (next < REQUESTS) {
      const i = next++;
      const route = pick(routes);
      const body = bytesFor(route);
      const headers: Record<string, string> = { 'idempotency-key': rnd() < 0.03 ? reusedKey : idemKey() };
      if (rnd() < 0.03) headers['content-type'] = 'application/json; charset=utf-8';
      const r = await postRaw(srv.url, srv.key, route.path, body, headers);
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      if (r.status >= 500) fiveXX.push(`#${i} ${route.path} ${r.status} ${r.text.slice(0, 200)} ← ${Buffer.from(body).toString('latin1').slice(0, 200)}`);
      if (r.status >= 400) expect(Object.keys(r.body.error).sort()).toEqual(['code', 'details', 'message', 'request_id']);
    }
  };
  const started = Date.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const summary = [...statuses].sort(([a], [b]) => a - b).map(([s, n]) => `${s}:${n}`).join(' ');
  console.log(`fuzz seed ${SEED}: ${REQUESTS} requests in ${Date.now() - started} ms; statuses ${summary}`);

  expect(fiveXX).toEqual([]);
  expect(srv.proc.exitCode).toBeNull();
  expect(srv.proc.signalCode).toBeNull();
  expect(srv.output()).not.toMatch(/INTERNAL_ERROR|RangeError|Maximum call stack/);
  // Something of every kind got through, so the poisoning checks below have material.
  expect(statuses.get(201) ?? 0).toBeGreaterThan(500);

  // Nothing poisoned: every stream of the tenant reads back whole, and the two append targets export and verify.
  const call = client(srv.url, srv.key);
  expect((await call('GET', '/health')).status).toBe(200);
  const streams: any[] = [];
  for (let cursor: string | null = null; ; ) {
    const page: any = await call('GET', `/v2/streams?limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    expect(page.status).toBe(200);
    streams.push(...page.body.streams);
    if (!page.body.next_cursor) break;
    cursor = page.body.next_cursor;
  }
  for (const s of streams) expect((await call('GET', `/v2/streams/${s.stream_id}`)).status).toBe(200);
  const bySize = [...streams].sort((a, b) => b.head_seq_no - a.head_seq_no).slice(0, 2);
  expect(bySize.map((s) => s.stream_id)).toContain(sid);
  for (const s of bySize) {
    const events = await readEvents(srv.url, srv.key, s.stream_id);
    expect(events.length).toBe(s.head_seq_no);
    await packAndVerify(srv.url, srv.key, s.stream_id, s.head_seq_no);
  }
}, 300_000);
