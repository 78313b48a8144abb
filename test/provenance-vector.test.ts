// The provenance bundle vector (fixtures/vectors/provenance.json, docs/protocol.md §13.3): the generator must reproduce
// it, the offline verifier must find it valid (recognized by its format alone), and every tamper listed in it must
// raise its code.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildVectors, render } from '../scripts/gen-provenance-vector.js';
import { verify, verifyJson } from '../src/verify/index.js';
import { ROOT } from './helpers/server.js';

const FILE = path.join(ROOT, 'fixtures/vectors/provenance.json');
const v = JSON.parse(fs.readFileSync(FILE, 'utf8'));
const trusted = [{ kid: v.signing_key.kid, alg: 'Ed25519' as const, public_key: v.signing_key.public_key_hex }];

/** Writes `value` at RFC 6901 `pointer` in a copy of `doc`. */
function setAt(doc: unknown, pointer: string, value: unknown): any {
  const copy = structuredClone(doc) as any;
  const tokens = pointer.split('/').slice(1).map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
  let o = copy;
  for (const t of tokens.slice(0, -1)) o = o[t];
  o[tokens[tokens.length - 1]!] = value;
  return copy;
}

describe('provenance vector', () => {
  it('the committed file is what the generator produces', async () => {
    expect(fs.readFileSync(FILE, 'utf8')).toBe(render(await buildVectors()));
  });

  it('the bundle is valid under the vector key, detected by its format', async () => {
    const r = await verifyJson(JSON.stringify({ object: v.bundle, trusted_keys: trusted }));
    expect(r.kind).toBe('provenance');
    expect(r.status, JSON.stringify(r.problems)).toBe('valid');
    // Trusting its own keys says so.
    const own = await verify({ object: v.bundle }, { trustBundleKeys: true });
    expect(own.status).toBe('valid');
    expect(own.checks.some((c) => c.name === 'trust: keys taken from the bundle itself')).toBe(true);
    // Another key: every receipt is from an unknown key, and the checkpoint is untrusted.
    const other = await verify({ object: v.bundle, trusted_keys: [{ kid: 'ps-ed25519-0000000000000000', alg: 'Ed25519', public_key: '00'.repeat(31) + '01' }] });
    expect(other.ok).toBe(false);
  });

  const tampers = v.tampers as Array<{ name: string; pointer: string; value: unknown; code: string }>;
  it.each(tampers.map((t) => [t.name, t] as [string, (typeof tampers)[number]]))('tampered %s', async (_n, t) => {
    const r = await verify({ object: setAt(v.bundle, t.pointer, t.value), trusted_keys: trusted });
    expect(r.ok).toBe(false);
    expect(r.problems.map((p) => p.code), JSON.stringify(r.problems)).toContain(t.code);
  });
});
