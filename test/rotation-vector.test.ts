// The ledger-key rotation vector (fixtures/vectors/rotation.json, docs/protocol.md §6.1 and §10): a checkpoint signed
// by two keys over the unchanged body, the policy with receipt windows, and what the verifier answers on each side.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { build } from '../scripts/gen-rotation-vector.js';
import { hexToBytes } from '../src/protocol/bytes.js';
import { encodeVerifierKey, parseNote, parseVerifierKey, verifyNote } from '../src/protocol/note.js';
import { parsePolicy } from '../src/protocol/policy.js';
import { verify } from '../src/verify/index.js';
import { ROOT } from './helpers/server.js';

const dir = path.join(ROOT, 'fixtures/vectors');
const v = JSON.parse(fs.readFileSync(path.join(dir, 'rotation.json'), 'utf8'));
const single = JSON.parse(fs.readFileSync(path.join(dir, 'checkpoint.json'), 'utf8'));
const pinning = (publicKey: string) => `log proofstream.localhost/* ${encodeVerifierKey('proofstream.localhost/*', hexToBytes(publicKey))}\nquorum none\n`;
const codes = (r: { problems: { code: string }[] }) => r.problems.map((p) => p.code);

describe('ledger-key rotation vector', () => {
  it('the two-signature note signs the unchanged checkpoint body; the old key signature line is the single-key one', async () => {
    const note = parseNote(v.checkpoint.note);
    expect(note.text).toBe(single.checkpoint_text);
    expect(note.signatures).toHaveLength(2);
    expect(v.checkpoint.note.endsWith(single.note.slice(single.checkpoint_text.length + 1))).toBe(true);
    expect(v.old_vkey).toBe(single.signer_vkey);
    for (const vk of [v.checkpoint.signer_vkey, v.old_vkey]) {
      const r = await verifyNote(v.checkpoint.note, [parseVerifierKey(vk)]);
      expect(r.ok).toBe(true);
      expect([r.verified.length, r.unknown.length]).toEqual([1, 1]); // the other key's line is ignored, as C2SP says
    }
  });

  it('the checkpoint verifies pinned to the old key only, to the new key only, and with the published policy', async () => {
    for (const policy of [pinning(v.old_key.public_key), pinning(v.new_key.public_key), v.policy]) {
      const r = await verify({ object: v.checkpoint, policy });
      expect(r.ok, JSON.stringify(r.problems)).toBe(true);
    }
  });

  it('the policy parses to two windowed log lines of one origin', () => {
    const p = parsePolicy(v.policy);
    expect(p.logs.map((l) => [l.origin, l.validFrom ?? null, l.validUntil ?? null])).toEqual([
      ['proofstream.localhost', null, v.rotated_at],
      ['proofstream.localhost', v.rotated_at, null],
    ]);
  });

  it('receipts: inside their key window valid, the old key after the rotation KEY_OUTSIDE_WINDOW — by policy and by trusted_keys', async () => {
    const keys = [v.old_key, v.new_key].map((k: any) => ({ alg: 'Ed25519', ...k }));
    for (const { expect: want, object } of v.receipts) {
      for (const trust of [{ policy: v.policy }, { trusted_keys: keys }]) {
        const r = await verify({ object, ...trust });
        if (want === 'valid') expect(r.ok, JSON.stringify(r.problems)).toBe(true);
        else expect(codes(r)).toEqual([want]);
      }
    }
  });

  it('the generator reproduces the committed file byte for byte', async () => {
    expect(JSON.stringify(await build(), null, 2) + '\n').toBe(fs.readFileSync(path.join(dir, 'rotation.json'), 'utf8'));
  });
});
