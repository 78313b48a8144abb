// The ingestion rule as a property, against a real server: any body the append route accepts reads back as sent
// (every number the same decimal value, every string and key the same, no member lost), exports in an audit pack
// and verifies offline; any body it cannot store exactly is refused with the documented code and stores nothing.
// Bodies are generated as a model plus a random spelling of it (escapes, astral characters, every number form,
// nesting up to the depth limit); the oracle for numbers is exact BigInt arithmetic, independent of the server.
import fs from 'node:fs';
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { packAndVerify, postRaw, readEvents, sameDecimal } from './helpers/ingest.js';
import { client, idemKey, startServer, type RunningServer } from './helpers/server.js';

type Model =
  | { t: 'num'; lit: string }
  | { t: 'str'; v: string }
  | { t: 'lit'; v: 'true' | 'false' | 'null' }
  | { t: 'arr'; items: Model[] }
  | { t: 'obj'; members: [string, Model][] };


/**
 * Whether a literal is stored exactly: its double is finite, JCS writes the same decimal value for it, and an integer
 * value is within ±(2^53−1).
 */
function storable(lit: string): boolean {
  const d = Number(lit);
  return Number.isFinite(d) && sameDecimal(lit, String(d)) && (!Number.isInteger(d) || Number.isSafeInteger(d));
}

/** Another spelling of the same decimal value as the shortest form s (trailing zeros, exponent shifts, E/e/+). */
function respell(s: string, r: number): string {
  const neg = s.startsWith('-');
  const m = /^(\d+)(?:\.(\d+))?(?:e([+-]\d+))?$/.exec(neg ? s.slice(1) : s)!;
  let digits = m[1]! + (m[2] ?? '');
  let exp = Number(m[3] ?? 0) - (m[2]?.length ?? 0); // value = digits × 10^exp
  digits = digits.replace(/^0+(?=\d)/, '');
  if (/^0+$/.test(digits)) return `${neg ? '-' : ''}${['0', '0.0', '0e5', '0E-3'][r % 4]}`;
  const pad = r % 3; // extra trailing zeros
  digits += '0'.repeat(pad);
  exp -= pad;
  const e = (x: number) => (r % 2 ? 'E' : 'e') + (x >= 0 && r % 5 === 0 ? '+' : '') + x;
  let out: string;
  switch (r % 4) {
    case 0: // d.ddd e x
      out = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}${e(exp + digits.length - 1)}` : `${digits}${e(exp)}`;
      break;
    case 1: // ddd e x
      out = `${digits}${e(exp)}`;
      break;
    default: // plain decimal where that is short enough
      if (exp >= 0 && exp < 30) out = digits + '0'.repeat(exp);
      else if (exp < 0 && -exp < 30) {
        const whole = digits.length + exp;
        out = whole > 0 ? `${digits.slice(0, whole)}.${digits.slice(whole)}` : `0.${'0'.repeat(-whole)}${digits}`;
      } else out = `${digits}${e(exp)}`;
  }
  return (neg ? '-' : '') + out;
}

const cleanNumber = fc.oneof(
  fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }).map(String),
  fc
    .tuple(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.nat())
    .filter(([d]) => !Number.isInteger(d) || Number.isSafeInteger(d))
    .map(([d, r]) => respell(String(d), r)),
  fc.constantFrom('0', '-0', '-0.0', '5e-324', '1.5e-300', '9007199254740991', '-9.007199254740991E15', '0.1', '100e-2'),
);

const str = fc.string({ unit: 'binary', maxLength: 12 });
const key = str.filter((k) => k !== '__proto__');

const { value: cleanValue } = fc.letrec<{ value: Model; arr: Model; obj: Model }>((tie) => ({
  value: fc.oneof(
    { maxDepth: 4, depthSize: 'small' },
    cleanNumber.map((lit): Model => ({ t: 'num', lit })),
    str.map((v): Model => ({ t: 'str', v })),
    fc.constantFrom<Model>({ t: 'lit', v: 'true' }, { t: 'lit', v: 'false' }, { t: 'lit', v: 'null' }),
    tie('arr'),
    tie('obj'),
  ),
  arr: fc.array(tie('value'), { maxLength: 4 }).map((items): Model => ({ t: 'arr', items })),
  obj: fc.uniqueArray(fc.tuple(key, tie('value')), { maxLength: 4, selector: ([k]) => k }).map((members): Model => ({ t: 'obj', members })),
}));

const depthOf = (m: Model): number =>
  m.t === 'arr' ? 1 + Math.max(0, ...m.items.map(depthOf)) : m.t === 'obj' ? 1 + Math.max(0, ...m.members.map(([, v]) => depthOf(v))) : 0;

/** A model wrapped in `levels` single-member objects or arrays (to reach the depth limit). */
function wrap(m: Model, levels: number, objects: boolean): Model {
  for (let i = 0; i < levels; i++) m = objects ? { t: 'obj', members: [['w', m]] } : { t: 'arr', items: [m] };
  return m;
}

/** JSON text of a string with random escapes: \uXXXX for any code unit, astral characters as escaped pairs or raw. */
function spellString(s: string, rnd: () => number): string {
  let out = '"';
  for (const ch of s) {
    const plain = JSON.stringify(ch).slice(1, -1);
    if (ch.length === 2 && rnd() < 0.5) {
      out += `\\u${ch.charCodeAt(0).toString(16)}\\u${ch.charCodeAt(1).toString(16).toUpperCase()}`;
    } else if (ch.length === 1 && rnd() < 0.2) {
      out += `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`;
    } else out += plain;
  }
  return out + '"';
}

function spell(m: Model, rnd: () => number): string {
  const ws = () => (rnd() < 0.1 ? ' \n\t'[Math.floor(rnd() * 3)]! : '');
  switch (m.t) {
    case 'num':
      return m.lit;
    case 'str':
      return spellString(m.v, rnd);
    case 'lit':
      return m.v;
    case 'arr':
      return `[${ws()}${m.items.map((x) => spell(x, rnd)).join(`${ws()},${ws()}`)}${ws()}]`;
    case 'obj':
      return `{${ws()}${m.members.map(([k, v]) => `${spellString(k, rnd)}${ws()}:${ws()}${spell(v, rnd)}`).join(',')}${ws()}}`;
  }
}

/** Whether what the server serves is the model: same structure, same strings and keys, same decimal numbers. */
function sameAs(served: unknown, m: Model): boolean {
  switch (m.t) {
    case 'num':
      return typeof served === 'number' && sameDecimal(m.lit, Object.is(served, -0) ? '0' : String(served));
    case 'str':
      return served === m.v;
    case 'lit':
      return JSON.stringify(served) === m.v;
    case 'arr':
      return Array.isArray(served) && served.length === m.items.length && m.items.every((x, i) => sameAs(served[i], x));
    case 'obj': {
      if (typeof served !== 'object' || served === null || Array.isArray(served)) return false;
      const keys = Object.keys(served);
      return keys.length === m.members.length && m.members.every(([k, v]) => Object.hasOwn(served, k) && sameAs((served as any)[k], v));
    }
  }
}

/** One thing the rule must refuse, as text to put next to a clean value, with the answer it must get. */
const hazard = fc.oneof(
  fc.integer({ min: 65, max: 7000 }).map((d) => ({ text: '['.repeat(d) + ']'.repeat(d), status: 400, code: 'JSON_TOO_DEEP' })),
  fc.constantFrom('\\ud800', '\\uDFFF', 'a\\ud83d', '\\ude00x', '\\ud83d\\u0041').map((s) => ({ text: `"${s}"`, status: 422, code: 'NOT_CANONICALIZABLE' })),
  fc.constantFrom('\\ud800', '\\uDC00').map((s) => ({ text: `{"${s}":1}`, status: 422, code: 'NOT_CANONICALIZABLE' })),
  fc
    .oneof(
      fc.bigInt({ min: 2n ** 53n, max: 2n ** 70n }).map((b) => b.toString()), // beyond 2^53 − 1: inexact or unsafe
      fc.constantFrom('1e21', '-9007199254740992', '1.7976931348623157e308'),
      fc.tuple(fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e300, max: 1e300 }), fc.integer({ min: 1, max: 9 })).map(([d, x]) => {
        const s = String(d);
        const [mant, exp] = s.split('e');
        return `${mant}${mant!.includes('.') ? '' : '.'}${'0'.repeat(20)}${x}${exp ? 'e' + exp : ''}`;
      }),
      fc.constantFrom('1e400', '-1e400', '1e-400', '2.4703282292062328e-324'),
    )
    .filter((lit) => !storable(lit))
    .map((lit) => ({ text: lit, status: 422, code: 'NOT_CANONICALIZABLE' })),
  key.map((k) => ({ text: `{${JSON.stringify(k)}:1,"x":2,${JSON.stringify(k)}:3}`, status: 422, code: 'DUPLICATE_KEY' })),
  fc.constantFrom('"__proto__"', '"\\u005f_proto__"').map((k) => ({ text: `{"a":1,${k}:{"isAdmin":true}}`, status: 422, code: 'FORBIDDEN_KEY' })),
);

let srv: RunningServer;
let sid: string;
let accepted = 0;

beforeAll(async () => {
  srv = await startServer({ env: { PROOFSTREAM_WINDOW_MAX_EVENTS: '1000', PROOFSTREAM_WINDOW_MAX_AGE_MS: '100' } });
  sid = (await client(srv.url, srv.key)('POST', '/v2/streams', { use_case: 'ingest-property' })).body.stream_id;
});

afterAll(async () => {
  await srv?.stop();
  if (srv) fs.rmSync(srv.dataDir, { recursive: true, force: true });
});

it('what the append route accepts reads back as sent, exports and verifies; what it cannot store exactly it refuses', async () => {
  const body = fc.record({
    value: cleanValue,
    levels: fc.nat({ max: 64 }),
    objects: fc.boolean(),
    hazard: fc.oneof({ arbitrary: fc.constant(null), weight: 4 }, { arbitrary: hazard, weight: 1 }),
    seed: fc.integer(),
  });
  const sent: Model[] = [];
  await fc.assert(
    fc.asyncProperty(body, async ({ value, levels, objects, hazard: h, seed }) => {
      let s = seed >>> 0;
      const rnd = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
      // nest the value up to exactly the limit (64) at most
      const payload = wrap(value, Math.max(0, Math.min(levels, 64 - depthOf(value))), objects);
      const payloadText = h ? `[${spell(payload, rnd)},${h.text}]` : spell(payload, rnd);
      const text = `{"source_ref":"p","event_type":"prop","payload":${payloadText}}`;
      const r = await postRaw(srv.url, srv.key, `/v2/streams/${sid}/events`, text, { 'idempotency-key': idemKey() });
      if (h) {
        expect(r.status, r.text.slice(0, 300)).toBe(h.status);
        expect(r.body.error.code).toBe(h.code);
        return;
      }
      expect(r.status, r.text.slice(0, 300)).toBe(201);
      accepted++;
      sent[r.body.seq_no - 1] = payload;
      const back = await client(srv.url, srv.key)('GET', `/v2/streams/${sid}/events?from_seq_no=${r.body.seq_no}&limit=1`);
      expect(back.status).toBe(200);
      expect(sameAs(back.body.events[0].payload, payload), `served ${JSON.stringify(back.body.events[0].payload)?.slice(0, 200)}`).toBe(true);
    }),
    { numRuns: 250 },
  );
  expect(accepted).toBeGreaterThan(150);
  // Everything accepted is in the stream, reads back in one list, exports in one pack, and the pack verifies.
  const events = await readEvents(srv.url, srv.key, sid);
  expect(events.length).toBe(accepted);
  events.forEach((e, i) => expect(sameAs(e.payload, sent[i]!)).toBe(true));
  const { pack } = await packAndVerify(srv.url, srv.key, sid, accepted);
  expect(pack.events.map((e: any) => e.payload)).toEqual(events.map((e) => e.payload));
}, 120_000);
