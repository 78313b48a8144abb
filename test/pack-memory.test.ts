// The bounded-memory pack writer (src/ledger/packs.ts: adaptive keyset pages, one reused write buffer, hash read
// back through it) writes exactly the bytes the previous writer wrote. `legacyPack` below is that writer, copied
// from the version before the change (keyset pages of 2,000 rows, each page one string turned into one Buffer,
// the file hashed through a read stream); both are run over the same store with the same pack id and creation
// time, and the files must be byte-identical. The range has erased events, a `null` payload, non-ASCII text,
// integer-like payload keys and ~50 KB events, and the new writer also runs with tiny pages and a buffer smaller
// than one event, so every path of the writer is taken. No memory is measured here: bench/verify-pack.ts does.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { Ledger } from '../src/ledger/ledger.js';
import { bundleEvent, Packs, type PackRequest } from '../src/ledger/packs.js';
import type { Principal } from '../src/ledger/tenancy.js';
import { ArraySectionDigest, BUNDLE_FORMAT, sectionDigest } from '../src/protocol/bundle.js';
import { bytesToHex } from '../src/protocol/bytes.js';
import { genesisHead } from '../src/protocol/event.js';
import { consistencyProof, rangeProof } from '../src/protocol/merkle.js';
import type { CheckpointRow } from '../src/store/checkpoints.js';
import { newKey, tempDir } from './helpers/server.js';
import { waitFor } from './helpers/wait.js';
import { databaseFor, openLedgerDb } from './helpers/pg-mode.js';

const N = 3_000;
const ERASED = new Set([1, 2, 777, 1500, N]);
const BIG = new Set([3, 10, 11, 12, 999, 2001]);

let dataDir: string;
let ledger: Ledger;
let p: Principal;
let streamId: string;

/** The previous writer, verbatim but for the pack id and creation time, which it takes as arguments. */
async function legacyPack(ledger: Ledger, p: Principal, req: PackRequest, packId: string, createdAt: string, out: string) {
  const ZERO64 = '0'.repeat(64);
  const checkpointSection = (c: CheckpointRow) => ({ checkpoint_id: c.id, tree_size: c.treeSize, root_hash: c.rootHash, note: c.note, signer_vkey: c.signerVkey });
  const stream = ledger.streamFor(p, req.stream_id);
  const { store, sealer, evidence: ev } = ledger;
  const repo = store.packs;
  const from = req.from_seq_no;
  const to = req.to_seq_no;
  let found: { checkpoint: CheckpointRow; evidence: ReturnType<typeof ev.forCheckpoint> } | undefined;
  for (const c of store.evidence.coveringCheckpoints(stream.id, to, 64)) {
    const e = ev.forCheckpoint(c);
    if (ev.missing(e).length === 0) {
      found = { checkpoint: c, evidence: e };
      break;
    }
  }
  if (!found) throw new Error('no evidenced checkpoint');
  const { checkpoint, evidence } = found;
  const src = store.checkpoints.nodeSource(stream.id);
  const previous = checkpoint.previousCheckpointId ? store.checkpoints.checkpoint(checkpoint.previousCheckpointId) : undefined;
  let chain: { head_before: string; event_hash_before: string };
  if (from === 1) {
    chain = { head_before: bytesToHex(genesisHead(stream.id)), event_hash_before: ZERO64 };
  } else {
    const before = repo.eventAt(stream.id, from - 1)!;
    chain = { head_before: before.streamHeadHash, event_hash_before: before.eventHash };
  }
  const sections = {
    stream: { stream_id: stream.id, origin: sealer.originOf(stream.id), use_case: stream.useCase, policy_id: stream.policyId, metadata: stream.metadata, created_at: stream.createdAt },
    keys: store.ledgerKeys.list().map((k) => ({ kid: k.kid, alg: k.alg, public_key: k.publicKey })),
    chain,
    checkpoint: checkpointSection(checkpoint),
    range_proof: { from_index: from - 1, to_index: to, tree_size: checkpoint.treeSize, proof: rangeProof(src, from - 1, to, checkpoint.treeSize).map(bytesToHex) },
    consistency: previous
      ? [{ from: checkpointSection(previous), proof: consistencyProof(src, previous.treeSize, checkpoint.treeSize).map(bytesToHex) }]
      : [],
    witnesses: evidence.cosignatures
      .filter((c) => ledger.config.witnesses.some((w) => w.name === c.witness && w.vkey === c.vkey))
      .map((c) => ({ checkpoint_id: checkpoint.id, name: c.witness, vkey: c.vkey, timestamp: c.timestamp, signature_line: c.signature_line })),
    anchors: evidence.anchor ? [{ checkpoint_id: checkpoint.id, ...evidence.anchor }] : [],
  };
  const manifest = {
    pack_id: packId,
    stream_id: stream.id,
    from_seq_no: from,
    to_seq_no: to,
    created_at: createdAt,
    sections: {
      stream: sectionDigest('stream', sections.stream),
      keys: sectionDigest('keys', sections.keys),
      events: ZERO64,
      chain: sectionDigest('chain', sections.chain),
      checkpoint: sectionDigest('checkpoint', sections.checkpoint),
      range_proof: sectionDigest('range_proof', sections.range_proof),
      consistency: sectionDigest('consistency', sections.consistency),
      witnesses: sectionDigest('witnesses', sections.witnesses),
      anchors: sectionDigest('anchors', sections.anchors),
    },
  };
  const manifestText = JSON.stringify(manifest);
  const marker = `"events":"${ZERO64}"`;
  const head = `{"format":${JSON.stringify(BUNDLE_FORMAT)},\n"manifest":${manifestText},\n`;
  const digestOffset = Buffer.byteLength(head.slice(0, head.indexOf(marker) + '"events":"'.length), 'utf8');
  let byteSize = 0;
  const fh = await fs.promises.open(out, 'w', 0o600);
  try {
    const write = async (s: string) => {
      const buf = Buffer.from(s, 'utf8');
      byteSize += buf.length;
      await fh.write(buf);
    };
    await write(head);
    await write(`"stream":${JSON.stringify(sections.stream)},\n"keys":${JSON.stringify(sections.keys)},\n"events":[`);
    const digest = new ArraySectionDigest('events');
    let expected = from;
    while (expected <= to) {
      const rows = repo.eventsPage(stream.id, expected, to, 2_000);
      let chunk = '';
      for (const row of rows) {
        const e = bundleEvent(row);
        digest.add(e);
        chunk += (expected === from ? '\n' : ',\n') + JSON.stringify(e);
        expected++;
      }
      await write(chunk);
    }
    const tail =
      `\n],\n"chain":${JSON.stringify(sections.chain)},\n"checkpoint":${JSON.stringify(sections.checkpoint)},\n` +
      `"range_proof":${JSON.stringify(sections.range_proof)},\n"consistency":${JSON.stringify(sections.consistency)},\n` +
      `"witnesses":${JSON.stringify(sections.witnesses)},\n"anchors":${JSON.stringify(sections.anchors)}}\n`;
    await write(tail);
    await fh.write(digest.digest(), digestOffset, 'utf8');
    await fh.sync();
  } finally {
    await fh.close();
  }
  const bytes = fs.readFileSync(out);
  return { bytes, byteSize, sha256: createHash('sha256').update(bytes).digest('hex') };
}

function payloadOf(i: number): unknown {
  if (i === 5) return null; // the JSON value null, with a salt: not erased
  if (i === 6) return 'just a string';
  if (i === 7) return [1, 2.5, -0.125, 1e-7, 123456.789, true, null];
  if (BIG.has(i)) return { i, blob: 'é✓𝄞'.repeat(5_000 + (i % 1_000)), tail: 'x'.repeat(i % 97) };
  // integer-like keys are reordered by JSON.parse: the document must keep whatever order the writer produced
  return { i, '10': 'ten', '9': 'nine', b: { z: 1, a: [i % 7, 'ü'] }, note: i % 3 === 0 ? 'line\nbreak "quoted" \u2028' : 'plain' };
}

beforeAll(async () => {
  dataDir = tempDir('ps-pack-memory-');
  const key = newKey();
  ledger = Ledger.open(loadConfig({}, { dataDir, bootstrapKey: key, windowMaxEvents: 512, windowMaxAgeMs: 20, databaseUrl: databaseFor(dataDir) }));
  p = ledger.tenancy.authenticate(key)!;
  streamId = ledger.createStream(p, { use_case: 'pack-memory', metadata: { owner: 'ü' } }, undefined).view.stream_id;
  for (let s = 1; s <= N; ) {
    const events = [];
    let bytes = 0;
    // keep each batch under the 8 MiB batch limit (the big payloads are ~60 KB)
    for (; s <= N && events.length < 200 && bytes < 4_000_000; s++) {
      const e = { source_ref: `m-${s}`, event_type: s % 2 ? 'pack.odd' : 'pack.even', payload: payloadOf(s), occurred_at: s % 4 === 0 ? '2026-06-07T12:00:00Z' : null };
      bytes += JSON.stringify(e).length;
      events.push(e);
    }
    await ledger.append(p, streamId, events, undefined, (r) => r);
  }
  await waitFor(async () => (ledger.store.streams.get(streamId)!.sealedSeqNo === N ? true : undefined), 30_000);
  // Erase a few payloads the way an operator's erasure leaves them: payload and salt NULL, commitment kept.
  const db = openLedgerDb(dataDir, 'proofstream.db');
  try {
    const erase = db.prepare('UPDATE events SET payload = NULL, salt = NULL WHERE stream_id = ? AND seq_no = ?');
    for (const s of ERASED) erase.run(streamId, s);
  } finally {
    db.close();
  }
}, 120_000);

afterAll(() => {
  ledger?.close();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

describe('bounded-memory pack writer', () => {
  const ranges: Array<[number, number]> = [
    [1, N],
    [2, 2],
    [600, 2_345],
  ];
  const variants: Array<[string, () => Packs]> = [
    ['defaults', () => new Packs(ledger)],
    ['pages of 1–7 rows, 512-byte buffer (events bigger than the buffer)', () => new Packs(ledger, 7, 1, 512)],
    ['a first page of 64 rows then the rest in one, a 64 MiB buffer', () => new Packs(ledger, 100_000, 1 << 30, 64 * 1024 * 1024)],
  ];

  for (const [from, to] of ranges) {
    for (const [name, make] of variants) {
      it(`events ${from}..${to}, ${name}: byte-identical to the previous writer`, async () => {
        const built = await make().build(p, { stream_id: streamId, from_seq_no: from, to_seq_no: to }, undefined);
        const bytes = fs.readFileSync(built.file);
        const doc = JSON.parse(bytes.toString('utf8'));
        const ref = await legacyPack(ledger, p, { stream_id: streamId, from_seq_no: from, to_seq_no: to }, doc.manifest.pack_id, doc.manifest.created_at, `${built.file}.legacy`);
        fs.rmSync(`${built.file}.legacy`);
        expect(bytes.length).toBe(ref.bytes.length);
        expect(bytes.equals(ref.bytes)).toBe(true);
        expect(built.row.byteSize).toBe(ref.byteSize);
        expect(built.row.sha256).toBe(ref.sha256);
        // and the document is what it claims to be
        expect(doc.events).toHaveLength(to - from + 1);
        expect(doc.manifest.sections.events).toBe(sectionDigest('events', doc.events));
        for (const e of doc.events) {
          if (ERASED.has(e.seq_no)) expect([e.payload, e.salt]).toEqual([null, null]);
          else expect(e.salt).toMatch(/^[0-9a-f]+$/);
        }
        expect(fs.readdirSync(path.join(dataDir, 'packs')).filter((f) => f.endsWith('.tmp'))).toEqual([]);
      }, 60_000);
    }
  }

  it('the ranges above include erased, null, non-ASCII and ~45–55 KB events', async () => {
    const rows = ledger.store.packs.eventsPage(streamId, 1, N, N);
    expect(rows.filter((r) => r.payload === null).map((r) => r.seqNo)).toEqual([...ERASED]);
    expect(rows.find((r) => r.seqNo === 5)!.payload).toBe('null');
    expect(Math.max(...rows.map((r) => Buffer.byteLength(r.payload ?? '')))).toBeGreaterThan(45_000);
  });
});
