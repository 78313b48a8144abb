// The anchor, cosignature and trust-policy worked examples (fixtures/vectors/anchor.json, docs/protocol.md §8–10)
// checked from first principles: every hash is recomputed twice, with src/protocol and independently with
// node:crypto; every path verifies; the policy vectors hold; and the generator reproduces the committed file.
import { spawnSync } from 'node:child_process';
import { createHash, createPublicKey, verify as edVerify } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { anchorCheckpointHashHex, buildEpochTree, checkpointHash, epochDigest, epochLeaf } from '../src/protocol/anchor.js';
import { bytesToHex, hexToBytes } from '../src/protocol/bytes.js';
import { cosignatureMessage, decodeCosignature, parseCheckpoint } from '../src/protocol/checkpoint.js';
import { domainTag } from '../src/protocol/hash.js';
import { rootFromLeaves, verifyInclusion } from '../src/protocol/merkle.js';
import { COSIGNATURE_TYPE, encodeVerifierKey, parseNote, parseVerifierKey, verifyNote } from '../src/protocol/note.js';
import { formatPolicy, logKeyFor, parsePolicy, quorumMet } from '../src/protocol/policy.js';
import { checkAnchors, checkWitnesses, type TokenVerifier } from '../src/verify/evidence.js';
import { ReportBuilder } from '../src/verify/report.js';
import { ROOT } from './helpers/server.js';

const dir = path.join(ROOT, 'fixtures/vectors');
const v = JSON.parse(fs.readFileSync(path.join(dir, 'anchor.json'), 'utf8'));
const cpv = JSON.parse(fs.readFileSync(path.join(dir, 'checkpoint.json'), 'utf8'));
const events = JSON.parse(fs.readFileSync(path.join(dir, 'events.json'), 'utf8'));

/** SHA-256 with node:crypto, not the project's helper. */
const H = (...parts: (Buffer | Uint8Array | string)[]): Buffer => {
  const h = createHash('sha256');
  for (const p of parts) h.update(typeof p === 'string' ? Buffer.from(p, 'utf8') : p);
  return h.digest();
};
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const B = (h: string) => Buffer.from(h, 'hex');
const tag = (p: string) => Buffer.concat([Buffer.from(`proofstream/v1 ${p}`, 'utf8'), Buffer.from([0])]);
const edKey = (pub: Buffer) => createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: pub.toString('base64url') }, format: 'jwk' });

const A = v.anchors;
const cps: { leaf_index: number; note: string; checkpoint_hash: string; epoch_leaf_hash: string; path: string[] }[] = A.checkpoints;

describe('anchor worked example (protocol.md §8)', () => {
  it('the domain tags are utf8("proofstream/v1 " + purpose) ‖ 0x00', () => {
    expect(A.tag_anchor_checkpoint).toBe(hex(tag('anchor-checkpoint')));
    expect(A.tag_anchor_epoch).toBe(hex(tag('anchor-epoch')));
    expect(bytesToHex(domainTag('anchor-checkpoint'))).toBe(A.tag_anchor_checkpoint);
    expect(bytesToHex(domainTag('anchor-epoch'))).toBe(A.tag_anchor_epoch);
  });

  it('the three notes are signed checkpoints of the events.json stream at sizes 1, 2, 3; the last is checkpoint.json', async () => {
    expect(cps.map((c) => c.leaf_index)).toEqual([0, 1, 2]);
    expect(A.epoch_size).toBe(3);
    const vkey = parseVerifierKey(encodeVerifierKey(A.origin, hexToBytes(A.log_public_key)));
    const leaves = events.events.map((e: { event_hash: string }) => hexToBytes(e.event_hash));
    for (const [i, c] of cps.entries()) {
      const n = parseNote(c.note);
      expect(n.signatures).toHaveLength(1);
      const cp = parseCheckpoint(n.text);
      expect([cp.origin, cp.size, bytesToHex(cp.rootHash)]).toEqual([A.origin, i + 1, bytesToHex(rootFromLeaves(leaves.slice(0, i + 1)))]);
      expect((await verifyNote(c.note, [vkey])).ok).toBe(true);
    }
    expect(cps[2]!.note).toBe(cpv.note);
    expect(A.log_public_key).toBe(cpv.public_key);
  });

  it('checkpoint_hash = SHA-256(tag("anchor-checkpoint") ‖ utf8(note)), leaf = SHA-256(0x00 ‖ checkpoint_hash)', () => {
    for (const c of cps) {
      expect(c.checkpoint_hash).toBe(hex(H(tag('anchor-checkpoint'), c.note)));
      expect(c.epoch_leaf_hash).toBe(hex(H(Buffer.from([0]), B(c.checkpoint_hash))));
      expect(bytesToHex(checkpointHash(c.note))).toBe(c.checkpoint_hash);
      expect(anchorCheckpointHashHex(c.note)).toBe(c.checkpoint_hash);
      expect(bytesToHex(epochLeaf(hexToBytes(c.checkpoint_hash)))).toBe(c.epoch_leaf_hash);
    }
    // The hash covers the whole signed note, not only the checkpoint body.
    const body = cps[0]!.note.slice(0, cps[0]!.note.indexOf('\n\n') + 1);
    expect(hex(H(tag('anchor-checkpoint'), body))).not.toBe(cps[0]!.checkpoint_hash);
  });

  it('epoch root, interior node and every path are RFC 9162 over the leaves in epoch order', () => {
    const [l0, l1, l2] = cps.map((c) => B(c.epoch_leaf_hash)) as [Buffer, Buffer, Buffer];
    const n10 = H(Buffer.from([1]), l0, l1);
    expect(A.epoch_node_1_0).toBe(hex(n10));
    expect(A.epoch_root).toBe(hex(H(Buffer.from([1]), n10, l2)));
    expect(cps.map((c) => c.path)).toEqual([[hex(l1), hex(l2)], [hex(l0), hex(l2)], [hex(n10)]]);
    const built = buildEpochTree(cps.map((c) => hexToBytes(c.checkpoint_hash)));
    expect(bytesToHex(built.root)).toBe(A.epoch_root);
    expect(built.paths.map((p) => p.map(bytesToHex))).toEqual(cps.map((c) => c.path));
    const root = hexToBytes(A.epoch_root);
    for (const c of cps) {
      const proof = c.path.map(hexToBytes);
      expect(verifyInclusion(hexToBytes(c.epoch_leaf_hash), c.leaf_index, A.epoch_size, proof, root)).toBe(true);
      // The leaf is the leaf hash, never the bare checkpoint_hash; and the index matters.
      expect(verifyInclusion(hexToBytes(c.checkpoint_hash), c.leaf_index, A.epoch_size, proof, root)).toBe(false);
      expect(verifyInclusion(hexToBytes(c.epoch_leaf_hash), (c.leaf_index + 1) % 3, A.epoch_size, proof, root)).toBe(false);
    }
    // Order is part of the format: the same checkpoints in another order give another root.
    expect(bytesToHex(buildEpochTree(cps.map((c) => hexToBytes(c.checkpoint_hash)).reverse()).root)).not.toBe(A.epoch_root);
  });

  it('the TSA digest is SHA-256(tag("anchor-epoch") ‖ epoch_root)', () => {
    expect(A.tsa_digest).toBe(hex(H(tag('anchor-epoch'), B(A.epoch_root))));
    expect(bytesToHex(epochDigest(hexToBytes(A.epoch_root)))).toBe(A.tsa_digest);
  });

  it('the bundle verifier checks an anchor built from the vector against exactly that digest', async () => {
    const c = cps[1]!;
    const anchor = {
      checkpoint_id: 'chk_example',
      kind: 'rfc3161',
      epoch_id: 'epo_example',
      epoch_root: A.epoch_root,
      epoch_size: A.epoch_size,
      leaf_index: c.leaf_index,
      checkpoint_hash: c.checkpoint_hash,
      path: c.path,
      token: 'MAA=',
      tsa_chain: [],
      gen_time: '2026-01-01T00:00:00.000Z',
    };
    const digests: string[] = [];
    const fakeToken: TokenVerifier = async (_t, digest) => {
      digests.push(bytesToHex(digest));
      return { ok: true, genTime: new Date('2026-01-01T00:00:00Z'), problems: [] };
    };
    const policy = parsePolicy(v.policy.text);
    const run = async (a: unknown[], note = c.note) => {
      const r = new ReportBuilder('bundle');
      await checkAnchors(a, { note, checkpointId: 'chk_example' }, policy, r, undefined, fakeToken);
      return r.build().problems.map((p) => p.code);
    };
    expect(await run([anchor])).toEqual([]);
    expect(digests).toEqual([A.tsa_digest]);
    expect(await run([anchor], cps[0]!.note)).toEqual(['ANCHOR_CHECKPOINT_MISMATCH']);
    expect(await run([{ ...anchor, leaf_index: 0 }])).toEqual(['ANCHOR_PATH_INVALID']);
    // A policy with a tsa line makes an anchor required.
    expect(await run([])).toEqual(['ANCHOR_MISSING']);
  });
});

describe('epoch order (protocol.md §8.1): signing order, not created_at then checkpoint id', () => {
  const O = v.epoch_order;
  const cs: { checkpoint_id: string; created_at: string; note: string; checkpoint_hash: string; leaf_index: number; path: string[] }[] = O.checkpoints_in_signing_order;

  it('two checkpoints share a millisecond, and the one signed first has the larger id', () => {
    expect(cs.map((c) => c.leaf_index)).toEqual([0, 1]);
    expect(cs[0]!.created_at).toBe(cs[1]!.created_at);
    expect(cs[0]!.checkpoint_id > cs[1]!.checkpoint_id).toBe(true);
    // They are the §8 notes of sizes 1 and 2: signed in that order.
    expect(cs.map((c) => c.note)).toEqual([cps[0]!.note, cps[1]!.note]);
    for (const c of cs) expect(c.checkpoint_hash).toBe(hex(H(tag('anchor-checkpoint'), c.note)));
  });

  it('the epoch root is over the leaves in signing order; the id order gives another root', () => {
    const leaf = (c: { checkpoint_hash: string }) => H(Buffer.from([0]), B(c.checkpoint_hash));
    const [l0, l1] = cs.map(leaf) as [Buffer, Buffer];
    expect(O.epoch_size).toBe(2);
    expect(O.epoch_root).toBe(hex(H(Buffer.from([1]), l0, l1)));
    expect(O.not_the_root_in_checkpoint_id_order).toBe(hex(H(Buffer.from([1]), l1, l0)));
    expect(O.not_the_root_in_checkpoint_id_order).not.toBe(O.epoch_root);
    expect(O.tsa_digest).toBe(hex(H(tag('anchor-epoch'), B(O.epoch_root))));
    expect(cs.map((c) => c.path)).toEqual([[hex(l1)], [hex(l0)]]);
    for (const c of cs) expect(verifyInclusion(leaf(c), c.leaf_index, 2, c.path.map(hexToBytes), hexToBytes(O.epoch_root))).toBe(true);
  });
});

describe('witness cosignature example (protocol.md §9)', () => {
  const C = v.cosignature;
  it('the signed message, key ID and signature line follow tlog-cosignature/v1', () => {
    const pub = B(C.witness_public_key);
    expect(C.checkpoint_body).toBe(parseNote(cps[2]!.note).text);
    const msg = Buffer.concat([Buffer.from(`cosignature/v1\ntime ${C.timestamp}\n`, 'utf8'), Buffer.from(C.checkpoint_body, 'utf8')]);
    expect(C.signed_message_hex).toBe(msg.toString('hex'));
    expect(hex(cosignatureMessage(C.timestamp, C.checkpoint_body))).toBe(C.signed_message_hex);
    expect(C.key_id).toBe(hex(H(C.witness, Buffer.from([0x0a, 0x04]), pub).subarray(0, 4)));
    expect(C.witness_vkey).toBe(`${C.witness}+${C.key_id}+${Buffer.concat([Buffer.from([0x04]), pub]).toString('base64')}`);
    expect(C.witness_vkey).toBe(encodeVerifierKey(C.witness, pub, COSIGNATURE_TYPE));
    const prefix = `— ${C.witness} `;
    expect(C.signature_line.startsWith(prefix)).toBe(true);
    const raw = Buffer.from(C.signature_line.slice(prefix.length), 'base64');
    expect(raw.length).toBe(4 + 8 + 64);
    expect(raw.subarray(0, 4).toString('hex')).toBe(C.key_id);
    expect(raw.readBigUInt64BE(4)).toBe(BigInt(C.timestamp));
    expect(decodeCosignature(raw.subarray(4)).timestamp).toBe(BigInt(C.timestamp));
    expect(edVerify(null, msg, edKey(pub), raw.subarray(12))).toBe(true);
    expect(edVerify(null, Buffer.from(C.checkpoint_body, 'utf8'), edKey(pub), raw.subarray(12))).toBe(false);
  });

  it('the cosigned note verifies under both keys, and the bundle entry passes the verifier', async () => {
    expect(C.cosigned_note).toBe(`${cps[2]!.note}${C.signature_line}\n`);
    const res = await verifyNote(C.cosigned_note, [parseVerifierKey(C.witness_vkey), parseVerifierKey(cpv.signer_vkey)]);
    expect(res.ok).toBe(true);
    expect(res.verified.map((s) => s.name).sort()).toEqual([C.witness, A.origin].sort());
    expect(C.bundle_entry).toEqual({ checkpoint_id: 'chk_example', name: C.witness, vkey: C.witness_vkey, timestamp: C.timestamp, signature_line: C.signature_line });
    const policy = parsePolicy(`log ${A.origin} ${cpv.signer_vkey}\nwitness ${C.witness} ${C.witness_vkey}\nquorum ${C.witness}\n`);
    const run = async (entry: unknown) => {
      const r = new ReportBuilder('bundle');
      await checkWitnesses([entry], { note: cps[2]!.note, checkpointId: 'chk_example' }, policy, r);
      return r.build().problems.map((p) => p.code);
    };
    expect(await run(C.bundle_entry)).toEqual([]);
    expect(await run({ ...C.bundle_entry, timestamp: C.timestamp + 1 })).toEqual(['WITNESS_SIGNATURE_INVALID', 'WITNESS_QUORUM_NOT_MET']);
    const r = new ReportBuilder('bundle');
    await checkWitnesses([C.bundle_entry], { note: cps[1]!.note, checkpointId: 'chk_example' }, policy, r);
    expect(r.build().problems.map((p) => p.code)).toEqual(['WITNESS_SIGNATURE_INVALID', 'WITNESS_QUORUM_NOT_MET']);
  });
});

describe('trust policy vectors (protocol.md §10)', () => {
  const P = v.policy;
  const policy = parsePolicy(P.text);

  it('parses to the listed logs, witnesses, groups, quorum and TSA roots', () => {
    expect(policy.logs.map((l) => ({ origin: l.origin, wildcard: l.wildcard }))).toEqual(P.parsed.logs);
    expect(policy.witnesses.map((w) => w.name)).toEqual(P.parsed.witnesses);
    expect(policy.groups).toEqual(P.parsed.groups);
    expect(policy.quorum).toBe(P.parsed.quorum);
    expect(policy.tsaRoots.map((t) => t.name)).toEqual(P.parsed.tsa_roots);
  });

  it('quorumMet gives the listed answer for every set of cosigned witnesses', () => {
    expect(P.quorum_cases.length).toBeGreaterThanOrEqual(8);
    expect(P.quorum_cases.some((c: { met: boolean }) => c.met) && P.quorum_cases.some((c: { met: boolean }) => !c.met)).toBe(true);
    for (const c of P.quorum_cases) expect({ set: c.cosigned, met: quorumMet(policy, new Set(c.cosigned)) }).toEqual({ set: c.cosigned, met: c.met });
  });

  it('logKeyFor derives the per-origin key ID under a wildcard, and matches nothing else', () => {
    const wildPub = parseVerifierKey(policy.logs[0]!.vkey).publicKey;
    for (const c of P.log_key_cases) {
      const k = logKeyFor(policy, c.origin);
      if (c.key_id === null) {
        expect({ origin: c.origin, key: k }).toEqual({ origin: c.origin, key: null });
        continue;
      }
      expect(k).not.toBeNull();
      expect(c.key_id).toBe(hex(H(c.origin, Buffer.from([0x0a, 0x01]), B(c.public_key)).subarray(0, 4)));
      expect([k!.name, bytesToHex(k!.keyId), bytesToHex(k!.publicKey)]).toEqual([c.origin, c.key_id, c.public_key]);
      expect(c.vkey).toBe(encodeVerifierKey(c.origin, hexToBytes(c.public_key)));
      if (c.origin !== 'example.com/log') expect(c.public_key).toBe(bytesToHex(wildPub));
    }
    // The derived key of the stream's origin is the one that signs its checkpoints.
    const stream = P.log_key_cases.find((c: { origin: string }) => c.origin === A.origin);
    expect(stream.vkey).toBe(cpv.signer_vkey);
    // The wildcard line's own key ID (over the name "<prefix>/*") is not the derived one.
    expect(bytesToHex(policy.logs[0]!.key.keyId)).not.toBe(stream.key_id);
  });

  it('formatPolicy renders the published policy exactly, and it parses back', () => {
    const pub = parseVerifierKey(policy.logs[0]!.vkey).publicKey;
    const text = formatPolicy({
      logs: [{ origin: 'proofstream.localhost/*', publicKey: pub }],
      witnesses: policy.witnesses.slice(0, 2).map((w) => ({ name: w.name, vkey: w.vkey, url: w.url })),
      quorum: { required: 1 },
      tsaRoots: [{ name: 'tsa-root-1', der: policy.tsaRoots[0]!.der }],
    });
    expect(text).toBe(P.published_text);
    const back = parsePolicy(P.published_text);
    expect(back.groups).toEqual([{ name: 'witnesses', threshold: 1, members: P.parsed.witnesses.slice(0, 2) }]);
    expect(back.quorum).toBe('witnesses');
    expect(bytesToHex(logKeyFor(back, A.origin)!.keyId)).toBe(P.log_key_cases[0].key_id);
  });
});

describe('the generator', () => {
  it('reproduces the committed file (gen-anchor-vector.ts --check exits 0)', () => {
    const r = spawnSync(process.execPath, ['bin/run-ts.mjs', 'scripts/gen-anchor-vector.ts', '--check'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    expect({ status: r.status, out: r.stdout.trim() }).toEqual({ status: 0, out: 'anchor.json is up to date' });
  });
});
