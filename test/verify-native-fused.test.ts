// The verifier's fast path for plain-JSON events (src/verify/fused.ts) and the other structure-check shortcuts:
// every text it builds is the one src/protocol builds, it steps aside (null) for anything unusual, and reports are
// byte for byte those of the generic path on thousands of random mutations of a real pack. Also: the JCS shape
// cache (src/protocol/jcs.ts) against a reference canonicalizer, and the hex and pointer helpers.
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nativeSha256 } from '../src/cli/verify.js';
import { bytesToHex, hexToBytes, isHex32 as protocolIsHex32 } from '../src/protocol/bytes.js';
import { entryBytes, eventHash, nextHead, payloadCommitment } from '../src/protocol/event.js';
import { setSha256 } from '../src/protocol/hash.js';
import { canonicalize, CanonicalizationError } from '../src/protocol/jcs.js';
import { receiptMessage } from '../src/protocol/receipt.js';
import { hexInto, hexOf, readEvent, type EventRecord } from '../src/verify/event.js';
import { commitmentHex, entryHashHex, eventTexts, FUSED_OK, nextHeadHex, receiptMessageOf } from '../src/verify/fused.js';
import { verify, verifyJson } from '../src/verify/index.js';
import { escapeToken, ReportBuilder } from '../src/verify/report.js';
import { isHex32, isSigHex, type Obj } from '../src/verify/shape.js';
import { mulberry32 } from './helpers/prng.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const TAMPER = path.join(ROOT, 'fixtures/tamper');
const valid = JSON.parse(fs.readFileSync(path.join(TAMPER, 'valid.json'), 'utf8'));
const trusted_keys = JSON.parse(fs.readFileSync(path.join(TAMPER, 'trusted-keys.json'), 'utf8'));

/** readEvent in bundle mode, asserting it accepted the event. */
function record(raw: unknown): EventRecord | null {
  const r = new ReportBuilder('x');
  return readEvent(raw, '/events/0', r.check('shape'), 'bundle');
}

/** What src/protocol builds for an accepted record. */
function reference(rec: EventRecord) {
  const entry = {
    stream_id: rec.stream_id,
    seq_no: rec.seq_no,
    source_ref: rec.entry!.source_ref,
    event_type: rec.entry!.event_type,
    occurred_at: rec.entry!.occurred_at,
    received_at: rec.received_at,
    payload_commitment: rec.entry!.payload_commitment,
  };
  return {
    entry: new TextDecoder().decode(entryBytes(entry)),
    eventHash: bytesToHex(eventHash(entry)),
    receipt: bytesToHex(receiptMessage({ ...rec })),
  };
}

// ---- random events ----

const hex = (n: number) => fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: n, maxLength: n });
/** Strings of every kind: ASCII, any Unicode, escapes, lone surrogates (which JCS refuses). */
const anyString = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.constantFrom('', '\u2028\u2029', '"\\/', '\u0000\u001f\u007f', '\ud800', 'a\udfffb', '𝄞é'),
);
const payloadValue = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constant(null),
  fc.dictionary(anyString, fc.oneof(anyString, fc.integer(), fc.double(), fc.constant(-0)), { maxKeys: 5 }),
);

const eventArb = fc
  .record({
    stream_event_id: anyString,
    stream_id: anyString.filter((s) => s.length > 0),
    seq_no: fc.oneof(fc.integer({ min: 1, max: 2 ** 31 }), fc.constant(Number.MAX_SAFE_INTEGER)),
    source_ref: anyString,
    event_type: anyString,
    occurred_at: fc.option(anyString, { nil: null }),
    received_at: anyString,
    payload: payloadValue,
    salt: fc.option(hex(64), { nil: null }),
    payload_commitment: hex(64),
    event_hash: hex(64),
    previous_event_hash: hex(64),
    stream_head_hash: hex(64),
    receipt: fc.record({ protocol: fc.constant('PROOFSTREAM-RECEIPT-001'), alg: fc.constant('Ed25519'), kid: anyString.filter((s) => s.length > 0), signature: hex(128) }),
    extra: fc.option(fc.jsonValue({ maxDepth: 1 }), { nil: undefined }),
  })
  .map((e) => {
    const o: Record<string, unknown> = { ...e };
    if (o.extra === undefined) delete o.extra;
    if (o.salt === null && typeof o.payload === 'object' && o.payload !== null && Math.abs(e.seq_no % 2) === 1) o.payload = null; // some erased
    return o;
  });

const wellFormed = (s: string) => s.isWellFormed();

describe('eventTexts: the texts src/protocol builds, or null', () => {
  it('passes its load-time self-test', () => {
    expect(FUSED_OK).toBe(true);
  });

  it('on random events: equal texts whenever it gives them, and it gives them whenever JCS can', () => {
    fc.assert(
      fc.property(eventArb, (raw) => {
        const rec = record(raw);
        if (!rec) return; // readEvent refused (e.g. salt null with a payload): the generic path reports it
        const t = eventTexts(raw as Obj, rec, true);
        const strings = [rec.stream_id, rec.received_at, rec.kid, rec.entry!.source_ref, rec.entry!.event_type, rec.entry!.occurred_at ?? ''];
        let payloadOk = true;
        if (rec.payload) {
          try {
            canonicalize(rec.payload.value);
          } catch {
            payloadOk = false;
          }
        }
        if (!strings.every(wellFormed) || !payloadOk) {
          expect(t).toBeNull();
          return;
        }
        expect(t).not.toBeNull();
        const ref = reference(rec);
        expect(t!.entry).toBe(ref.entry);
        expect(entryHashHex(t!.entry)).toBe(ref.eventHash);
        expect(bytesToHex(receiptMessageOf(t!.receipt))).toBe(ref.receipt);
        if (rec.payload) {
          expect(t!.payload).toBe(canonicalize(rec.payload.value));
          const salt = hexToBytes(rec.payload.salt);
          expect(commitmentHex(salt, t!.payload!)).toBe(bytesToHex(payloadCommitment(salt, rec.payload.value)));
        } else {
          expect(t!.payload).toBeNull();
        }
        // The whole event's JCS: only for exactly the pack's members, and then canonicalize's very string.
        let whole: string | null = null;
        try {
          whole = canonicalize(raw);
        } catch {
          whole = null;
        }
        if ('extra' in raw || whole === null || typeof raw.stream_event_id !== 'string' || !(raw.stream_event_id as string).isWellFormed()) {
          expect(t!.event).toBeNull();
        } else {
          expect(t!.event).toBe(whole);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('steps aside for objects that are not plain, members that are missing or extra', () => {
    const raw = structuredClone(valid.events[0]);
    const rec = record(raw)!;
    expect(eventTexts(raw, rec, true)!.event).toBe(canonicalize(raw));
    const withProto = Object.assign(Object.create({ inherited: 1 }), raw);
    expect(eventTexts(withProto, rec, true)!.event).toBeNull();
    const badReceipt = { ...raw, receipt: Object.assign(Object.create({ x: 1 }), raw.receipt) };
    expect(eventTexts(badReceipt, rec, true)!.event).toBeNull();
    const extraReceipt = { ...raw, receipt: { ...raw.receipt, extra: 1 } };
    expect(eventTexts(extraReceipt, rec, true)!.event).toBeNull();
    const hidden = { ...raw };
    Object.defineProperty(hidden, 'salt', { value: raw.salt, enumerable: false });
    expect(eventTexts(hidden, rec, true)!.event).toBeNull();
    expect(eventTexts(raw, rec, false)!.event).toBeNull();
  });

  it('every event of the valid fixture pack takes the fast path', () => {
    for (const raw of valid.events) {
      const rec = record(raw)!;
      const t = eventTexts(raw, rec, true)!;
      expect(t.event).toBe(canonicalize(raw));
    }
  });

  it('signed messages cut from shared blocks stay intact and apart', () => {
    const texts = Array.from({ length: 2000 }, (_, i) => `{"k":"${'é'.repeat(i % 300)}${i}"}`);
    const msgs = texts.map((t) => receiptMessageOf(t));
    const big = receiptMessageOf('x'.repeat(20_000));
    texts.forEach((t, i) => {
      const want = new Uint8Array([...new TextEncoder().encode('proofstream/v1 receipt'), 0, ...new TextEncoder().encode(t)]);
      expect(bytesToHex(msgs[i]!)).toBe(bytesToHex(want));
    });
    expect(big.length).toBe(23 + 20_000);
  });

  it('nextHeadHex = nextHead, commitmentHex = payloadCommitment, with either SHA-256', () => {
    const native = nativeSha256();
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.jsonValue(), (a, b, payload) => {
        for (const impl of [null, native]) {
          const prev = setSha256(impl);
          try {
            expect(nextHeadHex(a, b)).toBe(bytesToHex(nextHead(a, b)));
            expect(commitmentHex(a, canonicalize(payload))).toBe(bytesToHex(payloadCommitment(a, payload)));
          } finally {
            setSha256(prev);
          }
        }
      }),
      { numRuns: 200 },
    );
  });
});

// ---- whole reports: fast path vs generic path on mutated packs ----

const rnd = mulberry32(Number(process.env.FUZZ_SEED ?? 0xfa57));
const int = (n: number) => Math.floor(rnd() * n);
const pick = <T>(a: readonly T[]): T => a[int(a.length)]!;
const HEX = '0123456789abcdef';
const randomHex = (n: number) => Array.from({ length: n }, () => HEX[int(16)]).join('');
const REPLACEMENTS: Array<() => unknown> = [
  () => null,
  () => true,
  () => 0,
  () => -0,
  () => 1.5,
  () => 2 ** 53 + 2,
  () => '',
  () => 'x',
  () => '\ud800',
  () => 'é\u2028"\\',
  () => randomHex(64),
  () => randomHex(64).toUpperCase(),
  () => randomHex(128),
  () => [],
  () => ({}),
  () => ({ a: '\udc00' }),
  () => ({ z: 1, a: [2, { y: null, b: 'é' }] }),
];
const EVENT_MEMBERS = [
  'stream_event_id',
  'stream_id',
  'seq_no',
  'source_ref',
  'event_type',
  'occurred_at',
  'received_at',
  'payload',
  'salt',
  'payload_commitment',
  'event_hash',
  'previous_event_hash',
  'stream_head_hash',
  'receipt',
];
const RECEIPT_MEMBERS = ['protocol', 'alg', 'kid', 'signature'];

function tweakString(v: string): string {
  if (v.length === 0) return 'a';
  const i = int(v.length);
  const c = pick([...(/^[0-9a-f]+$/.test(v) ? HEX : HEX + 'xyZ _-\n\u2014é\ud800"')]);
  return v.slice(0, i) + (c === v[i] ? (c === 'a' ? 'b' : 'a') : c) + v.slice(i + 1);
}

/** One to three random edits inside the events of the valid pack. */
function mutateEvents(): { desc: string; doc: any } {
  const doc = structuredClone(valid);
  const descs: string[] = [];
  for (let n = 1 + int(3); n > 0; n--) {
    const i = int(doc.events.length);
    const e = doc.events[i];
    const inReceipt = rnd() < 0.25;
    const target = inReceipt ? e.receipt : e;
    const k = pick(inReceipt ? RECEIPT_MEMBERS : EVENT_MEMBERS);
    const op = pick(['replace', 'tweak', 'tweak', 'delete', 'extra', 'reorder', 'payload'] as const);
    descs.push(`${op} /events/${i}${inReceipt ? '/receipt' : ''}/${k}`);
    if (!target || typeof target !== 'object') continue;
    switch (op) {
      case 'replace':
        target[k] = pick(REPLACEMENTS)();
        break;
      case 'tweak':
        target[k] = typeof target[k] === 'string' ? tweakString(target[k]) : typeof target[k] === 'number' ? target[k] + pick([1, -1, 0.5]) : pick(REPLACEMENTS)();
        break;
      case 'delete':
        delete target[k];
        break;
      case 'extra':
        target[pick(['extra', 'kind', '__proto__', 'zz', 'a'])] = pick(REPLACEMENTS)();
        break;
      case 'reorder': {
        const entries = Object.entries(target);
        for (const [key] of entries) delete target[key];
        for (const [key, v] of entries.sort(() => rnd() - 0.5)) target[key] = v;
        break;
      }
      case 'payload':
        e.payload = pick(REPLACEMENTS)();
        break;
    }
  }
  return { desc: descs.join('; '), doc };
}

describe('fast path and generic path give the same report, byte for byte', () => {
  it('on the valid pack, in process and through verifyJson', async () => {
    const a = await verify({ object: structuredClone(valid), trusted_keys });
    const b = await verify({ object: structuredClone(valid), trusted_keys }, { plainJson: true });
    const c = await verifyJson(JSON.stringify({ object: valid, trusted_keys }));
    expect(a.ok).toBe(true);
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
    expect(JSON.stringify(c)).toBe(JSON.stringify(a));
  });

  it('on 600 random mutations of the events (bundle and stream kinds)', async () => {
    const native = nativeSha256();
    for (let run = 0; run < 600; run++) {
      const { desc, doc } = mutateEvents();
      const generic = JSON.stringify(await verify({ object: structuredClone(doc), trusted_keys }));
      const prev = setSha256(run % 2 ? native : null);
      try {
        const fast = JSON.stringify(await verify({ object: structuredClone(doc), trusted_keys }, { plainJson: true }));
        expect(fast, desc).toBe(generic);
        if (run % 5 === 0) {
          // The same events as a `stream` object (events as GET /v2/streams/{id}/events returns them).
          const stream = { stream_id: valid.manifest.stream_id, events: doc.events, chain: valid.chain, from_seq_no: valid.manifest.from_seq_no };
          const g = JSON.stringify(await verify({ object: structuredClone(stream), trusted_keys }));
          const f = JSON.stringify(await verify({ object: structuredClone(stream), trusted_keys }, { plainJson: true }));
          expect(f, `stream: ${desc}`).toBe(g);
        }
      } finally {
        setSha256(prev);
      }
    }
  }, 120_000);
});

// ---- JCS shape cache ----

/** The canonicalizer as it was before the shape cache (sort and quote per object), as a reference. */
function referenceJcs(v: unknown): string {
  switch (typeof v) {
    case 'string':
      if (!v.isWellFormed()) throw new Error('lone surrogate');
      return JSON.stringify(v);
    case 'number':
      if (!Number.isFinite(v)) throw new Error('not finite');
      return Object.is(v, -0) ? '0' : String(v);
    case 'boolean':
      return v ? 'true' : 'false';
    case 'object': {
      if (v === null) return 'null';
      if (Array.isArray(v)) return '[' + v.map(referenceJcs).join(',') + ']';
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) throw new Error('not plain');
      const keys = Object.keys(v).sort();
      return (
        '{' +
        keys
          .map((k) => {
            if (!k.isWellFormed()) throw new Error('lone surrogate key');
            return JSON.stringify(k) + ':' + referenceJcs((v as Record<string, unknown>)[k]);
          })
          .join(',') +
        '}'
      );
    }
    default:
      throw new Error('not JSON');
  }
}

describe('JCS with cached key orders', () => {
  const key = fc.oneof(fc.constantFrom('a', 'b', 'B', 'é', '1', '10', '2', '__proto__', '', '\ud800', 'z\u2028'), fc.string({ maxLength: 4 }));
  const obj = fc.dictionary(key, fc.oneof(fc.integer(), fc.string({ maxLength: 3 }), fc.constant(null)), { maxKeys: 8 });

  it('gives the reference text (or refuses with the same error) for random values, shapes repeating in any order', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(obj, fc.jsonValue({ maxDepth: 3 })), { maxLength: 30 }), (values) => {
        // Each object also in reversed key order, and again, so cached shapes are hit and missed.
        const all = values.flatMap((v) => {
          if (!v || typeof v !== 'object' || Array.isArray(v)) return [v];
          const rev = Object.fromEntries(Object.entries(v).reverse());
          return [v, rev, v];
        });
        for (const v of all) {
          let want: string | Error;
          try {
            want = referenceJcs(v);
          } catch (e) {
            want = e as Error;
          }
          if (typeof want === 'string') expect(canonicalize(v)).toBe(want);
          else expect(() => canonicalize(v)).toThrow(CanonicalizationError);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('many shapes of one size (more than the cache holds) and large objects', () => {
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 40; i++) {
        const o: Record<string, number> = { [`k${i}`]: i, a: 1, [`z${(i * 7) % 13}`]: 2 };
        expect(canonicalize(o)).toBe(referenceJcs(o));
      }
    }
    const big = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`key${(i * 37) % 100}`, i]));
    expect(canonicalize(big)).toBe(referenceJcs(big));
    expect(canonicalize(big)).toBe(referenceJcs(big));
    // Same size, same first key, different later keys: never mistaken for one another.
    for (let i = 0; i < 3; i++) {
      expect(canonicalize({ a: 1, c: 2, b: 3 })).toBe('{"a":1,"b":3,"c":2}');
      expect(canonicalize({ a: 1, c: 2, 0: 3 })).toBe('{"0":3,"a":1,"c":2}');
      expect(canonicalize({ a: 1, d: 2, b: 3 })).toBe('{"a":1,"b":3,"d":2}');
    }
    const longKeys = { ['x'.repeat(10_000)]: 1, y: 2 };
    expect(canonicalize(longKeys)).toBe(referenceJcs(longKeys));
  });

  it('names the same path for a refused key, first seen or cached', () => {
    const bad = { a: { ok: 1, ['\udc00']: 2 } };
    for (let i = 0; i < 2; i++) {
      try {
        canonicalize(bad);
        expect.unreachable();
      } catch (e) {
        expect(e).toBeInstanceOf(CanonicalizationError);
        expect((e as CanonicalizationError).path).toBe('/a');
      }
    }
  });
});

// ---- hex and pointer helpers ----

describe('shape and hex helpers', () => {
  const hexish = fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEFxg \n\u0660'), minLength: 60, maxLength: 130 });

  it('isHex32 / isSigHex accept exactly what the regexes accept', () => {
    fc.assert(
      fc.property(fc.oneof(hexish, hex(64), hex(128), fc.string(), fc.anything()), (s) => {
        expect(isHex32(s)).toBe(protocolIsHex32(s));
        expect(isSigHex(s)).toBe(typeof s === 'string' && /^[0-9a-f]{128}$/.test(s));
      }),
      { numRuns: 2000 },
    );
    expect(isHex32('a'.repeat(63) + '\n')).toBe(false);
  });

  it('hexInto decodes as hexToBytes, and throws where it throws', () => {
    fc.assert(
      fc.property(fc.oneof(hex(64), hexish), (s) => {
        const out = new Uint8Array(80);
        let want: Uint8Array | null = null;
        try {
          want = hexToBytes(s);
        } catch {
          want = null;
        }
        if (want && want.length <= 70) {
          expect(bytesToHex(hexInto(s, out, 10))).toBe(bytesToHex(want));
          expect(bytesToHex(hexOf(s))).toBe(bytesToHex(want));
        } else if (!want) {
          expect(() => hexInto(s, out, 0)).toThrow(TypeError);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('escapeToken = the two replaces', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.constantFrom('~', '/', '~1/', 'a/b~c'), fc.nat()), (t) => {
        expect(escapeToken(t)).toBe(String(t).replace(/~/g, '~0').replace(/\//g, '~1'));
      }),
    );
  });
});
