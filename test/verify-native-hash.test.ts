// The injectable SHA-256 (src/protocol/hash.ts): the CLI's node:crypto implementation gives the bytes of the
// default @noble/hashes one on random inputs, one-shot and incremental, and the verifier's report for every fixture
// pack is the same whichever is installed (and whichever event path — generic or plain-JSON fast — is taken).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { nativeSha256, installNativeSha256 } from '../src/cli/verify.js';
import { ArraySectionDigest, sectionDigest } from '../src/protocol/bundle.js';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, concatBytes, utf8ToBytes } from '../src/protocol/bytes.js';
import { createSha256, getSha256, NOBLE_SHA256, setSha256, sha256, sha256Hex, type Sha256Impl } from '../src/protocol/hash.js';
import { canonicalize } from '../src/protocol/jcs.js';
import { verify, type Report } from '../src/verify/index.js';

const ROOT = path.resolve(import.meta.dirname, '..');

afterEach(() => {
  setSha256(null);
});

/** Runs `f` with `impl` installed, then puts back what was there. */
function using<T>(impl: Sha256Impl, f: () => T): T {
  const prev = setSha256(impl);
  try {
    return f();
  } finally {
    setSha256(prev);
  }
}
async function usingAsync<T>(impl: Sha256Impl, f: () => Promise<T>): Promise<T> {
  const prev = setSha256(impl);
  try {
    return await f();
  } finally {
    setSha256(prev);
  }
}

const native = nativeSha256();
const bytes = (max = 300) => fc.uint8Array({ maxLength: max });
const part = fc.oneof(bytes(), fc.string({ unit: 'grapheme', maxLength: 60 }), fc.string({ unit: 'binary', maxLength: 60 }));

describe('node:crypto SHA-256 = @noble/hashes SHA-256', () => {
  it('one-shot, on random bytes (plain Uint8Array results, not Buffers)', () => {
    fc.assert(
      fc.property(bytes(5000), (data) => {
        const a = NOBLE_SHA256.hash(data);
        const b = native.hash(data);
        expect(b.constructor).toBe(Uint8Array);
        expect(b.length).toBe(32);
        expect(bytesToHex(b)).toBe(bytesToHex(a));
        expect(native.hashHex!(data)).toBe(bytesToHex(a));
      }),
      { numRuns: 500 },
    );
  });

  it('incremental, in random pieces, equals one-shot', () => {
    fc.assert(
      fc.property(fc.array(bytes(200), { maxLength: 12 }), (pieces) => {
        const whole = new Uint8Array(pieces.reduce((n, p) => n + p.length, 0));
        let at = 0;
        for (const p of pieces) {
          whole.set(p, at);
          at += p.length;
        }
        const n = NOBLE_SHA256.create();
        const h = native.create();
        for (const p of pieces) {
          n.update(p);
          h.update(p);
        }
        const want = bytesToHex(NOBLE_SHA256.hash(whole));
        expect(bytesToHex(n.digest())).toBe(want);
        expect(bytesToHex(h.digest())).toBe(want);
      }),
      { numRuns: 300 },
    );
  });

  it('sha256(...parts) and sha256Hex(...parts, strings as UTF-8) agree across implementations and with the plain concatenation', () => {
    fc.assert(
      fc.property(fc.array(part, { maxLength: 6 }), (parts) => {
        const asBytes = parts.map((p) => (typeof p === 'string' ? utf8ToBytes(p) : p));
        const len = asBytes.reduce((n, p) => n + p.length, 0);
        const whole = new Uint8Array(len);
        let at = 0;
        for (const p of asBytes) {
          whole.set(p, at);
          at += p.length;
        }
        const want = bytesToHex(NOBLE_SHA256.hash(whole));
        for (const impl of [NOBLE_SHA256, native]) {
          using(impl, () => {
            expect(bytesToHex(sha256(...asBytes))).toBe(want);
            expect(sha256Hex(...parts)).toBe(want);
            const h = createSha256();
            for (const p of asBytes) h.update(p);
            expect(bytesToHex(h.digest())).toBe(want);
          });
        }
      }),
      { numRuns: 500 },
    );
  });

  it('inputs larger than the reused buffer (4 KiB) and than its cap (1 MiB)', () => {
    for (const n of [4095, 4096, 4097, 70_000, (1 << 20) + 3]) {
      const a = crypto.randomBytes(n);
      const b = new Uint8Array(a.buffer, a.byteOffset, a.length);
      const want = bytesToHex(NOBLE_SHA256.hash(new Uint8Array([1, 2, ...b.subarray(0, 10)])));
      for (const impl of [NOBLE_SHA256, native]) {
        using(impl, () => {
          expect(sha256Hex(b)).toBe(bytesToHex(NOBLE_SHA256.hash(b)));
          expect(bytesToHex(sha256(new Uint8Array([1, 2]), b.subarray(0, 10)))).toBe(want);
          const text = 'é'.repeat(n >> 1);
          expect(sha256Hex(new Uint8Array([7]), text)).toBe(bytesToHex(NOBLE_SHA256.hash(new Uint8Array([7, ...utf8ToBytes(text)]))));
        });
      }
    }
  });

  it('the createHash fallback (Node 20 minors without crypto.hash) gives the same bytes', () => {
    const c = crypto as unknown as { hash?: unknown };
    const saved = c.hash;
    c.hash = undefined;
    let fallback: Sha256Impl;
    try {
      fallback = nativeSha256();
    } finally {
      c.hash = saved;
    }
    expect(fallback.name).toBe('node:crypto createHash');
    fc.assert(
      fc.property(bytes(500), (data) => {
        const want = bytesToHex(NOBLE_SHA256.hash(data));
        expect(bytesToHex(fallback.hash(data))).toBe(want);
        expect(fallback.hashHex!(data)).toBe(want);
      }),
      { numRuns: 100 },
    );
  });

  it('refuses what is not bytes, as @noble/hashes does', () => {
    for (const impl of [NOBLE_SHA256, native]) {
      expect(() => impl.hash('abc' as unknown as Uint8Array)).toThrow();
      expect(() => using(impl, () => sha256(new Uint8Array(1), [1, 2] as unknown as Uint8Array))).toThrow();
    }
  });

  it('setSha256 returns what it replaces; null restores the default; a malformed implementation is refused', () => {
    expect(getSha256()).toBe(NOBLE_SHA256);
    expect(setSha256(native)).toBe(NOBLE_SHA256);
    expect(getSha256()).toBe(native);
    expect(setSha256(null)).toBe(native);
    expect(getSha256()).toBe(NOBLE_SHA256);
    expect(() => setSha256({ name: 'x' } as unknown as Sha256Impl)).toThrow(TypeError);
    expect(getSha256()).toBe(NOBLE_SHA256);
    const prev = installNativeSha256();
    expect(prev).toBe(NOBLE_SHA256);
    expect(getSha256().name).toMatch(/^node:crypto /);
  });
});

describe('bundle section digests through the injectable hash (src/protocol/bundle.ts)', () => {
  it('equal the formula of docs/bundle.md computed with @noble/hashes directly, with either implementation', () => {
    const tag = utf8ToBytes('proofstream/v1 bundle-section\u0000');
    fc.assert(
      fc.property(fc.constantFrom('stream', 'keys', 'events', 'chain', 'anchors'), fc.array(fc.jsonValue(), { maxLength: 8 }), (name, values) => {
        const want = bytesToHex(nobleSha256(concatBytes(tag, utf8ToBytes(name), Uint8Array.of(0), utf8ToBytes(canonicalize(values)))));
        for (const impl of [NOBLE_SHA256, native]) {
          using(impl, () => {
            expect(sectionDigest(name, values)).toBe(want);
            const d = new ArraySectionDigest(name);
            const t = new ArraySectionDigest(name);
            for (const v of values) {
              d.add(v);
              t.addText(canonicalize(v)); // the verifier hands it canonical text it built: here the library's
            }
            expect(d.digest()).toBe(want);
            expect(t.digest()).toBe(want);
          });
        }
      }),
      { numRuns: 300 },
    );
  });
});

// ---- the verifier's reports on every fixture pack ----

interface Fixture {
  file: string;
  object: unknown;
  trusted_keys?: unknown;
  policy?: string;
}

function fixtures(): Fixture[] {
  const out: Fixture[] = [];
  const tamper = path.join(ROOT, 'fixtures/tamper');
  const keys = JSON.parse(fs.readFileSync(path.join(tamper, 'trusted-keys.json'), 'utf8'));
  for (const f of fs.readdirSync(tamper).sort()) {
    if (!f.endsWith('.json') || ['cases.json', 'source.json', 'trusted-keys.json'].includes(f)) continue;
    out.push({ file: `tamper/${f}`, object: JSON.parse(fs.readFileSync(path.join(tamper, f), 'utf8')), trusted_keys: keys });
  }
  const ev = path.join(ROOT, 'fixtures/tamper-evidence');
  const policy = fs.readFileSync(path.join(ev, 'policy.txt'), 'utf8');
  for (const f of fs.readdirSync(ev).sort()) {
    if (!f.endsWith('.json') || ['cases.json', 'source.json'].includes(f)) continue;
    out.push({ file: `tamper-evidence/${f}`, object: JSON.parse(fs.readFileSync(path.join(ev, f), 'utf8')), policy });
  }
  return out;
}

async function reportOf(fx: Fixture, plainJson: boolean): Promise<Report> {
  return verify({ object: structuredClone(fx.object), trusted_keys: fx.trusted_keys as never, policy: fx.policy }, { plainJson });
}

describe('the verifier gives the same report with either SHA-256', () => {
  const all = fixtures();
  it('has the fixture packs', () => {
    expect(all.length).toBeGreaterThan(35);
  });
  for (const fx of all) {
    it(fx.file, async () => {
      const want = JSON.stringify(await reportOf(fx, false)); // @noble/hashes, generic path: the reference
      for (const impl of [NOBLE_SHA256, native]) {
        for (const plainJson of [false, true]) {
          const got = await usingAsync(impl, () => reportOf(fx, plainJson));
          expect(JSON.stringify(got), `${impl.name}, plainJson ${plainJson}`).toBe(want);
        }
      }
    });
  }
});
