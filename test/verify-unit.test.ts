// The offline verifier (src/verify) against real objects of an in-process ledger: every kind valid, then every
// kind of alteration caught with its specific problem code.
import { generateKeyPairSync, sign } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { Ledger } from '../src/ledger/ledger.js';
import { signerFromKeyObject } from '../src/ledger/signer.js';
import { SCOPES, type Principal } from '../src/ledger/tenancy.js';
import { bytesToHex, hexToBytes, utf8ToBytes } from '../src/protocol/bytes.js';
import { formatCheckpoint } from '../src/protocol/checkpoint.js';
import { consistencyProof } from '../src/protocol/merkle.js';
import { ED25519_TYPE, encodeVerifierKey, formatNote, keyId } from '../src/protocol/note.js';
import { detectKind, verify, verifyJson, type Report, type TrustedKey } from '../src/verify/index.js';
import { bundleFromLedger, sealManifest, type Bundle } from './helpers/bundle.js';
import { tempDir } from './helpers/server.js';
import { sleep } from './helpers/wait.js';
import { databaseFor } from './helpers/pg-mode.js';

let ledger: Ledger;
let principal: Principal;
let sid: string;
let trusted: TrustedKey[];
let events: any[];
let cps: any[]; // oldest first, as GET /v2/checkpoints/{id} returns them

const clone = <T>(v: T): T => structuredClone(v);
const codes = (r: Report) => [...new Set(r.problems.map((p) => p.code))].sort();

async function waitSealed(streamId: string, size: number) {
  for (let i = 0; i < 400; i++) {
    const c = ledger.store.checkpoints.latest(streamId);
    if (c && c.treeSize >= size) return;
    await sleep(10);
  }
  throw new Error('not sealed in time');
}

const cpView = (id: string) => ledger.proofs.checkpoint(principal, id);

beforeAll(async () => {
  const dataDir = tempDir('ps-verify-');
  ledger = Ledger.open(
    loadConfig({}, { dataDir, dbPath: path.join(dataDir, 'l.db'), signingKeyPath: path.join(dataDir, 'k.pem'), windowMaxEvents: 10, windowMaxAgeMs: 30, databaseUrl: databaseFor(dataDir) }),
  );
  const { row } = ledger.tenancy.createKey('t', 's', SCOPES);
  principal = { keyId: row.id, tenantId: row.tenantId, systemId: row.systemId, scopes: new Set<string>(SCOPES) };
  sid = ledger.createStream(principal, { use_case: 'verify', metadata: { owner: 'qa' } }, undefined).view.stream_id;
  for (let i = 0; i < 25; i += 5) {
    const batch = Array.from({ length: 5 }, (_, k) => ({
      source_ref: `r${i + k}`,
      event_type: 'ai.decision',
      payload: (i + k) % 7 === 3 ? null : { n: i + k, s: 'é\u2028', f: (i + k) / 3, nested: [true, null, { z: 1 }] },
      ...((i + k) % 2 ? { occurred_at: '2026-06-07T12:00:00Z' } : {}),
    }));
    await ledger.append(principal, sid, batch, undefined, (r) => r);
  }
  await waitSealed(sid, 25);
  events = ledger.listEvents(principal, sid, 1, 100).events;
  cps = ledger.proofs.list(principal, sid, undefined, 50).checkpoints.reverse();
  trusted = ledger.publicKeys().map((k) => ({ kid: k.kid, alg: 'Ed25519' as const, public_key: k.public_key }));
});
afterAll(() => ledger?.close());

const V = (object: unknown, kind?: string, keys: TrustedKey[] | undefined = trusted) =>
  verify({ ...(kind ? { kind } : {}), object, ...(keys ? { trusted_keys: keys } : {}) });

/** A second, untrusted Ed25519 key, and a helper to sign checkpoint notes with any signer. */
const rogue = signerFromKeyObject(generateKeyPairSync('ed25519').privateKey);
function signCheckpoint(signer: { publicKey: Uint8Array; sign(m: Uint8Array): Uint8Array }, origin: string, size: number, root: Uint8Array) {
  const text = formatCheckpoint({ origin, size, rootHash: root });
  const note = formatNote(text, [{ name: origin, keyId: keyId(origin, ED25519_TYPE, signer.publicKey), signature: signer.sign(utf8ToBytes(text)) }]);
  return { stream_id: sid, tree_size: size, root_hash: bytesToHex(root), note, signer_vkey: encodeVerifierKey(origin, signer.publicKey) };
}

describe('receipts', () => {
  it('a receipt with its event fields verifies; so does the bare receipt and the stored receipt with inclusion + checkpoint', async () => {
    const r = await V(events[4]);
    expect(r.kind).toBe('receipt');
    expect(r.problems).toEqual([]);
    expect(r.ok).toBe(true);
    const bare = clone(events[4]);
    for (const k of ['source_ref', 'event_type', 'occurred_at', 'payload', 'salt', 'payload_commitment']) delete bare[k];
    expect((await V(bare)).ok).toBe(true);
    const stored = ledger.getReceipt(principal, events[12].stream_event_id);
    expect(stored.inclusion).not.toBeNull();
    const withCp = { ...stored, checkpoint: cpView(stored.inclusion!.checkpoint_id!) };
    const rr = await V(withCp);
    expect(rr.problems).toEqual([]);
    expect(rr.checks.map((c) => c.name)).toContain('inclusion: event_hash leads to the root');
    // seq 1 is checked against the genesis head
    expect((await V(events[0])).ok).toBe(true);
  });

  it('changed payload or salt → PAYLOAD_MISMATCH; flipped signature → SIGNATURE_INVALID; wrong kid → UNKNOWN_KEY', async () => {
    const p = clone(events[4]);
    p.payload.n = 999;
    expect(codes(await V(p))).toEqual(['PAYLOAD_MISMATCH']);
    const s = clone(events[4]);
    s.salt = s.salt.replace(/^./, (c: string) => (c === '0' ? '1' : '0'));
    expect(codes(await V(s))).toEqual(['PAYLOAD_MISMATCH']);
    const sig = clone(events[4]);
    sig.receipt.signature = sig.receipt.signature.slice(0, 10) + (sig.receipt.signature[10] === 'a' ? 'b' : 'a') + sig.receipt.signature.slice(11);
    expect(codes(await V(sig))).toEqual(['SIGNATURE_INVALID']);
    const kid = clone(events[4]);
    kid.receipt.kid = 'ps-ed25519-0000000000000000';
    const rk = await V(kid);
    expect(codes(rk)).toEqual(['UNKNOWN_KEY']);
    expect(rk.problems[0]!.path).toBe('/receipt/kid');
    // no trust at all: nothing can be trusted
    expect(codes(await V(events[4], undefined, []))).toEqual(['UNKNOWN_KEY']);
    expect(codes(await verify({ object: events[4] }))).toEqual(['UNKNOWN_KEY']);
  });

  it('changed entry fields → EVENT_HASH_MISMATCH, changed signed claims → SIGNATURE_INVALID', async () => {
    const e = clone(events[4]);
    e.event_type = 'ci.build';
    expect(codes(await V(e))).toEqual(['EVENT_HASH_MISMATCH']);
    const t = clone(events[4]);
    t.received_at = '2020-01-01T00:00:00.000Z';
    expect(codes(await V(t))).toEqual(['EVENT_HASH_MISMATCH', 'SIGNATURE_INVALID']);
    const g = clone(events[0]);
    g.previous_event_hash = 'f'.repeat(64);
    expect(codes(await V(g))).toEqual(['CHAIN_BROKEN']);
  });

  it('a bad inclusion proof → RANGE_PROOF_INVALID; an untrusted checkpoint → CHECKPOINT_UNTRUSTED', async () => {
    const stored = ledger.getReceipt(principal, events[12].stream_event_id);
    const base = { ...stored, checkpoint: cpView(stored.inclusion!.checkpoint_id!) };
    const bad = clone(base);
    bad.inclusion!.proof[0] = 'a'.repeat(64);
    expect(codes(await V(bad))).toEqual(['RANGE_PROOF_INVALID']);
    const idx = clone(base);
    idx.inclusion!.leaf_index = 3;
    expect(codes(await V(idx))).toEqual(['RANGE_PROOF_INVALID']);
    const rogueKey = { kid: rogue.kid, alg: 'Ed25519' as const, public_key: bytesToHex(rogue.publicKey) };
    expect(codes(await V(base, undefined, [rogueKey]))).toEqual(['CHECKPOINT_UNTRUSTED', 'UNKNOWN_KEY']);
  });

  it('malformed types → MALFORMED with precise pointers', async () => {
    const cases: Array<[(e: any) => void, string]> = [
      [(e) => (e.seq_no = '5'), '/seq_no'],
      [(e) => (e.seq_no = 1.5), '/seq_no'],
      [(e) => (e.event_hash = e.event_hash.toUpperCase()), '/event_hash'],
      [(e) => (e.event_hash = e.event_hash.slice(2)), '/event_hash'],
      [(e) => (e.receipt.signature = 12), '/receipt/signature'],
      [(e) => delete e.receipt, '/receipt'],
      [(e) => (e.receipt.alg = 'RS256'), '/receipt/alg'],
      [(e) => (e.salt = null), '/salt'],
      [(e) => (e.occurred_at = 5), '/occurred_at'],
      [(e) => delete e.source_ref, '/source_ref'],
    ];
    for (const [mutate, p] of cases) {
      const e = clone(events[4]);
      mutate(e);
      const r = await V(e, 'receipt');
      expect(codes(r), p).toEqual(['MALFORMED']);
      expect(r.problems.map((x) => x.path), p).toContain(p);
    }
  });
});

describe('streams', () => {
  const stream = (evs: any[], extra: object = {}) => ({ stream_id: sid, events: evs, ...extra });

  it('the whole stream, and a middle range with its chain, verify', async () => {
    const r = await V(stream(events));
    expect(r.kind).toBe('stream');
    expect(r.problems).toEqual([]);
    const mid = events.slice(7, 19);
    const chain = { head_before: events[6].stream_head_hash, event_hash_before: events[6].event_hash };
    expect((await V(stream(mid, { chain }))).problems).toEqual([]);
    expect((await V(stream(mid, { chain, from_seq_no: 8 }))).problems).toEqual([]);
    // without a chain the start is not anchored, and the report says so
    const un = await V(stream(mid, { from_seq_no: 8 }));
    expect(un.ok).toBe(true);
    expect(un.checks.some((c) => c.name.startsWith('chain: start not anchored'))).toBe(true);
    // a range claimed to start at 1 without its chain is checked against the genesis head
    expect(codes(await V(stream(mid)))).toContain('SEQUENCE_BROKEN');
  });

  it('removed, inserted, swapped, duplicated events → SEQUENCE_BROKEN', async () => {
    const removed = events.filter((_, i) => i !== 9);
    expect(codes(await V(stream(removed)))).toEqual(expect.arrayContaining(['SEQUENCE_BROKEN', 'CHAIN_BROKEN']));
    const dup = [...events.slice(0, 10), events[9], ...events.slice(10)];
    expect(codes(await V(stream(dup)))).toEqual(expect.arrayContaining(['SEQUENCE_BROKEN', 'CHAIN_BROKEN']));
    const swapped = clone(events);
    [swapped[5], swapped[6]] = [swapped[6], swapped[5]];
    expect(codes(await V(stream(swapped)))).toEqual(expect.arrayContaining(['SEQUENCE_BROKEN', 'CHAIN_BROKEN']));
    // an inserted event: a valid event of another stream at the right seq_no
    const other = ledger.createStream(principal, { use_case: 'other' }, undefined).view.stream_id;
    await ledger.append(principal, other, [{ source_ref: 'x', event_type: 't', payload: 1 }], undefined, (r) => r);
    const foreign = ledger.listEvents(principal, other, 1, 1).events[0]!;
    const inserted = [...events.slice(0, 3), foreign, ...events.slice(3)];
    expect(codes(await V(stream(inserted)))).toEqual(expect.arrayContaining(['SEQUENCE_BROKEN', 'STREAM_MISMATCH', 'CHAIN_BROKEN']));
    // a renumbered event breaks its signature and hash
    const renum = clone(events);
    renum[3].seq_no = 40;
    expect(codes(await V(stream(renum)))).toEqual(expect.arrayContaining(['SEQUENCE_BROKEN', 'EVENT_HASH_MISMATCH', 'SIGNATURE_INVALID']));
  });

  it('a broken link → CHAIN_BROKEN at the exact member', async () => {
    const s = clone(events);
    s[8].previous_event_hash = s[6].event_hash;
    const r = await V(stream(s));
    expect(codes(r)).toEqual(['CHAIN_BROKEN']);
    expect(r.problems[0]!.path).toBe('/events/8/previous_event_hash');
    const wrongChain = { head_before: events[5].stream_head_hash, event_hash_before: events[6].event_hash };
    const r2 = await V(stream(events.slice(7), { chain: wrongChain }));
    expect(codes(r2)).toEqual(['CHAIN_BROKEN']);
    expect(r2.problems[0]!.path).toBe('/events/0/stream_head_hash');
  });
});

describe('checkpoints and consistency', () => {
  it('a checkpoint verifies; altered note text, foreign signer and mismatched fields are caught', async () => {
    const cp = cpView(cps[1].checkpoint_id);
    expect(detectKind({ object: cp })).toBe('checkpoint');
    expect((await V(cp)).problems).toEqual([]);
    const lines = cp.note.split('\n');
    const altered = { ...cp, note: [lines[0], '21', ...lines.slice(2)].join('\n') };
    expect(codes(await V(altered))).toEqual(expect.arrayContaining(['CHECKPOINT_SIGNATURE_INVALID']));
    const bad = { ...cp, note: cp.note.replace('\n\n', '\n') };
    expect(codes(await V(bad))).toEqual(['CHECKPOINT_MALFORMED']);
    const foreign = signCheckpoint(rogue, lines[0]!, cp.tree_size, hexToBytes(cp.root_hash));
    expect(codes(await V({ ...cp, ...foreign }))).toEqual(expect.arrayContaining(['CHECKPOINT_UNTRUSTED']));
    expect(codes(await V({ ...cp, tree_size: 19 }))).toEqual(['CHECKPOINT_MALFORMED']);
    expect(codes(await V({ ...cp, root_hash: 'b'.repeat(64) }))).toEqual(['CHECKPOINT_MALFORMED']);
    expect(codes(await V({ ...cp, stream_id: 'str_other' }))).toEqual(['STREAM_MISMATCH']);
    expect(codes(await V({ ...cp, signer_vkey: encodeVerifierKey(lines[0]!, rogue.publicKey) }))).toEqual(['CHECKPOINT_MALFORMED']);
    expect(codes(await V({ ...cp, tree_size: '20' }))).toEqual(['MALFORMED']);
  });

  it('consistency between two checkpoints verifies, also in the API response shape; a bad proof does not', async () => {
    const from = cpView(cps[0].checkpoint_id);
    const to = cpView(cps[2].checkpoint_id);
    const resp = ledger.proofs.consistency(principal, to.checkpoint_id, from.checkpoint_id);
    expect((await V({ from, to, proof: resp.proof })).problems).toEqual([]);
    expect((await V({ ...resp, from, to })).problems).toEqual([]);
    expect((await V({ consistency: resp, from, to })).problems).toEqual([]);
    const bad = clone(resp.proof);
    bad[0] = 'c'.repeat(64);
    expect(codes(await V({ from, to, proof: bad }))).toEqual(['CONSISTENCY_INVALID']);
    expect(codes(await V({ from: to, to: from, proof: resp.proof }))).toEqual(['CONSISTENCY_INVALID']);
    expect(codes(await V({ ...resp, from_tree_size: 11, from, to }))).toEqual(['CONSISTENCY_INVALID']);
  });

  it('two validly signed checkpoints of one origin, same size, different roots → FORK_DETECTED', async () => {
    const cp = cpView(cps[1].checkpoint_id);
    const origin = cp.note.slice(0, cp.note.indexOf('\n'));
    const forged = signCheckpoint(ledger.signer, origin, cp.tree_size, hexToBytes('d'.repeat(64)));
    const ev = { kind: 'fork_evidence', stream_id: sid, conflicting_checkpoints: [cp, forged] };
    const r = await V(ev);
    expect(r.kind).toBe('fork_evidence');
    expect(codes(r)).toEqual(['FORK_DETECTED']);
    // the same through the consistency kind
    expect(codes(await V({ from: cp, to: forged, proof: [] }))).toEqual(['FORK_DETECTED']);
    // a failing proof between validly signed checkpoints of different sizes is fork evidence too
    const later = cpView(cps[2].checkpoint_id);
    const forged2 = signCheckpoint(ledger.signer, origin, later.tree_size, hexToBytes('e'.repeat(64)));
    const proof = consistencyProof(ledger.store.checkpoints.nodeSource(sid), cp.tree_size, later.tree_size).map(bytesToHex);
    expect(codes(await V({ ...ev, conflicting_checkpoints: [cp, forged2], consistency_proof: proof }))).toContain('FORK_DETECTED');
    // consistent checkpoints are no fork
    expect((await V({ ...ev, conflicting_checkpoints: [cp, later], consistency_proof: proof })).ok).toBe(true);
    // a fork claimed with an untrusted signature proves nothing
    const fake = signCheckpoint(rogue, origin, cp.tree_size, hexToBytes('d'.repeat(64)));
    expect(codes(await V({ ...ev, conflicting_checkpoints: [cp, fake] }))).toEqual(['CHECKPOINT_UNTRUSTED']);
  });
});

describe('bundles', () => {
  let bundle: Bundle;
  beforeAll(() => {
    bundle = bundleFromLedger(ledger, principal, sid, 6, 17, { allEarlier: true });
  });
  const VB = (b: unknown, keys: TrustedKey[] | undefined = trusted) => V(b, undefined, keys);
  const mutated = (f: (b: any) => void, reseal = false) => {
    const b = clone(bundle);
    f(b);
    return reseal ? sealManifest(b) : b;
  };

  it('a bundle built to docs/bundle.md verifies; from seq 1 too; with erased payloads too', async () => {
    expect(bundle.consistency.length).toBe(1); // the checkpoint at 10, before the covering one at 20
    const r = await VB(bundle);
    expect(r.kind).toBe('bundle');
    expect(r.problems).toEqual([]);
    expect(r.ok).toBe(true);
    const whole = bundleFromLedger(ledger, principal, sid, 1, 25);
    expect((await VB(whole)).problems).toEqual([]);
    const erased = mutated((b) => {
      b.events[2].payload = null;
      b.events[2].salt = null;
    }, true);
    const re = await VB(erased);
    expect(re.problems).toEqual([]);
    expect(re.checks.some((c) => c.name.includes('1 erased payload'))).toBe(true);
  });

  it("without trusted keys the bundle's own keys are used only on request, and the report says so", async () => {
    expect(codes(await verify({ object: bundle }))).toEqual(['CHECKPOINT_UNTRUSTED', 'UNKNOWN_KEY']);
    const r = await verify({ object: bundle }, { trustBundleKeys: true });
    expect(r.ok).toBe(true);
    expect(r.checks).toContainEqual(expect.objectContaining({ name: 'trust: keys taken from the bundle itself', ok: true, status: 'skipped' }));
    // explicit trust wins over the option
    expect((await verify({ object: bundle, trusted_keys: [] }, { trustBundleKeys: true })).ok).toBe(false);
  });

  it('each alteration is caught with its code', async () => {
    const cases: Array<[string, (b: any) => void, boolean, string[]]> = [
      ['payload', (b) => (b.events[1].payload = { n: 1 }), true, ['PAYLOAD_MISMATCH']],
      ['payload, manifest not resealed', (b) => (b.events[1].payload = { n: 1 }), false, ['MANIFEST_MISMATCH', 'PAYLOAD_MISMATCH']],
      ['event type', (b) => (b.events[1].event_type = 'x'), true, ['EVENT_HASH_MISMATCH']],
      ['signature', (b) => (b.events[1].receipt.signature = '0'.repeat(128)), true, ['SIGNATURE_INVALID']],
      ['removed event', (b) => b.events.splice(4, 1), true, ['CHAIN_BROKEN', 'RANGE_PROOF_INVALID', 'SEQUENCE_BROKEN']],
      ['duplicated event', (b) => b.events.splice(4, 0, b.events[4]), true, ['CHAIN_BROKEN', 'RANGE_PROOF_INVALID', 'SEQUENCE_BROKEN']],
      ['last event dropped', (b) => b.events.pop(), true, ['RANGE_PROOF_INVALID', 'SEQUENCE_BROKEN']],
      ['manifest range', (b) => (b.manifest.to_seq_no = 16), false, ['MANIFEST_MISMATCH', 'SEQUENCE_BROKEN']],
      ['manifest stream', (b) => (b.manifest.stream_id = 'str_other'), false, expect.arrayContaining(['MANIFEST_MISMATCH', 'STREAM_MISMATCH'])],
      ['chain', (b) => (b.chain.head_before = 'a'.repeat(64)), true, ['CHAIN_BROKEN']],
      ['range proof', (b) => (b.range_proof.proof[0] = 'a'.repeat(64)), true, ['RANGE_PROOF_INVALID']],
      ['consistency proof', (b) => (b.consistency[0].proof[0] = 'a'.repeat(64)), true, ['CONSISTENCY_INVALID']],
      ['checkpoint note', (b) => (b.checkpoint.note = b.checkpoint.note.replace('\n20\n', '\n21\n')), true, expect.arrayContaining(['CHECKPOINT_SIGNATURE_INVALID'])],
      ['witnesses', (b) => b.witnesses.push({ any: 1 }), true, ['MALFORMED']],
      ['anchors', (b) => b.anchors.push({ any: 1 }), true, ['MALFORMED']],
      ['unknown member', (b) => (b.extra = 1), false, ['MALFORMED']],
      ['format', (b) => (b.format = 'proofstream-bundle/v2'), false, ['MALFORMED']],
      ['hex case', (b) => (b.events[0].event_hash = b.events[0].event_hash.toUpperCase()), true, expect.arrayContaining(['MALFORMED'])],
      ['stale checkpoint', (b) => (b.manifest.to_seq_no = 21), false, expect.arrayContaining(['CHECKPOINT_STALE'])],
      ['keys kid', (b) => (b.keys[0].kid = 'ps-ed25519-0000000000000000'), true, ['MALFORMED']],
    ];
    for (const [name, f, reseal, want] of cases) {
      const r = await VB(mutated(f, reseal));
      expect(r.ok, name).toBe(false);
      expect(codes(r), name).toEqual(want);
    }
  });

  it('a checkpoint signed by an unknown key → CHECKPOINT_UNTRUSTED; a fork with a cited checkpoint → FORK_DETECTED', async () => {
    const origin = bundle.stream.origin;
    const foreign = signCheckpoint(rogue, origin, bundle.checkpoint.tree_size, hexToBytes(bundle.checkpoint.root_hash));
    const r = await VB(mutated((b) => Object.assign(b.checkpoint, { note: foreign.note, signer_vkey: foreign.signer_vkey }), true));
    expect(codes(r)).toEqual(['CHECKPOINT_UNTRUSTED']);
    const forged = signCheckpoint(ledger.signer, origin, bundle.checkpoint.tree_size, hexToBytes('d'.repeat(64)));
    const { stream_id: _, ...forgedSection } = forged;
    const fork = mutated((b) => b.consistency.push({ from: { checkpoint_id: 'chk_forged', ...forgedSection }, proof: [] }), true);
    expect(codes(await VB(fork))).toEqual(['FORK_DETECTED']);
  });

  it('never throws, whatever it is given', async () => {
    const weird: unknown[] = [null, 1, 'x', [], {}, { object: null }, { object: [] }, { kind: 5, object: {} }, { kind: 'bundle', object: 'x' }];
    for (const w of weird) {
      const r = await verify(w as any);
      expect(r.ok).toBe(false);
    }
    const cyclic: any = { format: 'proofstream-bundle/v1' };
    cyclic.events = [cyclic];
    expect((await verify({ object: cyclic, trusted_keys: trusted })).ok).toBe(false);
    const getter = { get receipt(): never { throw new Error('boom'); }, event_hash: 'x' };
    expect((await verify({ object: getter })).ok).toBe(false);
    expect((await verifyJson('{"format":')).problems[0]!.code).toBe('MALFORMED');
    expect((await verify({ kind: 'anchor', object: {} })).problems[0]!.code).toBe('UNSUPPORTED_KIND');
    expect((await verify({ kind: 'ivc', object: {} })).problems[0]!.message).toMatch(/IVC/);
    expect((await verify({ kind: 'nope', object: {} })).problems[0]!.code).toBe('UNSUPPORTED_KIND');
    expect((await verify({ object: { hello: 1 } })).problems[0]!.code).toBe('UNSUPPORTED_KIND');
    expect(codes(await verify({ object: events[0], trusted_keys: [{ kid: 'k', alg: 'Ed25519', public_key: 'XYZ' }] as any }))).toContain('MALFORMED');
  });

  it('verifies multi-window bundles of thousands of events (citing earlier checkpoints) without problems', async () => {
    const big = ledger.createStream(principal, { use_case: 'big', window_policy: { max_events: 1000 } }, undefined).view.stream_id;
    for (let i = 0; i < 4; i++) {
      const batch = Array.from({ length: 1000 }, (_, k) => ({ source_ref: `b${i}-${k}`, event_type: 't', payload: { k } }));
      await ledger.append(principal, big, batch, undefined, (r) => r);
    }
    await waitSealed(big, 4000);
    // Speed is measured in bench/, never asserted here.
    for (const [from, to] of [[1, 1000], [1, 4000], [1500, 3999]] as const) {
      const r = await V(bundleFromLedger(ledger, principal, big, from, to));
      expect(r.problems).toEqual([]);
      expect(r.ok).toBe(true);
    }
  });

  it('src/verify imports nothing but src/protocol (and the browser-safe pkijs/asn1js) and uses no Node built-ins', () => {
    const dir = path.join(import.meta.dirname, '../src/verify');
    for (const f of fs.readdirSync(dir)) {
      const text = fs.readFileSync(path.join(dir, f), 'utf8');
      const imports = [...text.matchAll(/from '([^']+)'/g)].map((m) => m[1]!);
      // pkijs and asn1js run on WebCrypto in browsers; they parse and check RFC 3161 tokens (rfc3161.ts only).
      const libs = f === 'rfc3161.ts' ? ['pkijs', 'asn1js'] : [];
      for (const i of imports) expect(i.startsWith('./') || i.startsWith('../protocol/') || libs.includes(i), `${f}: ${i}`).toBe(true);
      expect(text, f).not.toMatch(/\bBuffer\b|\bprocess\./);
    }
  });
});
