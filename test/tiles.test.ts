// Stored tiles (src/protocol/tiles.ts, built by src/ledger/tiles.ts, read by the store's node source) must hold
// exactly the RFC 9162 node hashes they claim, at every tile level, however the leaves arrive; and every proof and
// root served through them must equal the one computed without them.
import { createHash, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { Ledger } from '../src/ledger/ledger.js';
import { TileFolder } from '../src/ledger/tiles.js';
import { bytesToHex } from '../src/protocol/bytes.js';
import { consistencyProof, inclusionProof, nodeHash, rootAt, rootFromLeaves, type NodeSource } from '../src/protocol/merkle.js';
import { TILE_BYTES, TILE_HASHES, TILE_WIDTH, tileAddress, tileHash, tileLevelOffset } from '../src/protocol/tiles.js';
import { openTestLedger } from './helpers/ledger.js';
import { openLedgerDb } from './helpers/pg-mode.js';

const h = (l: Uint8Array, r: Uint8Array) => new Uint8Array(createHash('sha256').update(Uint8Array.of(1)).update(l).update(r).digest());

/** Every perfect-subtree hash of the leaves, level by level (the ground truth a tile must reproduce). */
function allLevels(leaves: Uint8Array[]): Uint8Array[][] {
  const levels = [leaves];
  while (levels[levels.length - 1]!.length >= 2) {
    const below = levels[levels.length - 1]!;
    const up: Uint8Array[] = [];
    for (let i = 0; i + 1 < below.length; i += 2) up.push(h(below[i]!, below[i + 1]!));
    levels.push(up);
  }
  return levels;
}

describe('tile layout', () => {
  it('places the 510 nodes of a tile in distinct slots, level by level, left to right', () => {
    expect(TILE_HASHES).toBe(510);
    expect(TILE_BYTES).toBe(16_320);
    expect([0, 1, 2, 7].map(tileLevelOffset)).toEqual([0, 256, 384, 508]);
    const seen = new Set<number>();
    for (let level = 0; level < 8; level++) {
      for (let index = 0; index < 256 >> level; index++) {
        const a = tileAddress(level, index + 3 * (256 >> level)); // tile 3 of tile level 0
        expect(a.tileLevel).toBe(0);
        expect(a.tileIndex).toBe(3);
        seen.add(a.slot);
      }
    }
    expect(seen.size).toBe(510);
    expect(Math.max(...seen)).toBe(509);
    expect(tileAddress(8, 5)).toEqual({ tileLevel: 1, tileIndex: 0, slot: 5 });
    expect(tileAddress(17, 128 + 3)).toEqual({ tileLevel: 2, tileIndex: 1, slot: 256 + 3 });
    // past 2^32 leaves: no 32-bit arithmetic
    expect(tileAddress(0, 2 ** 40 + 300)).toEqual({ tileLevel: 0, tileIndex: 2 ** 32 + 1, slot: 44 });
  });
});

describe('tile folder', () => {
  it('builds tiles of levels 0 and 1 equal to the reference nodes, fed in any chunking, starting anywhere', () => {
    const n = 2 * 65_536 + 700;
    const leaves = Array.from({ length: n }, () => new Uint8Array(randomBytes(32)));
    const ref = allLevels(leaves);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 600 }), fc.integer({ min: 1, max: 5000 }), (start, chunk) => {
        const folder = new TileFolder();
        // a stream whose first commit this process sees starts at seq_no `start` (leaf index start − 1)
        for (let i = start - 1; i < n; i += chunk) folder.feed('s', i + 1, leaves.slice(i, Math.min(n, i + chunk)));
        const tiles = folder.take();
        const first0 = Math.ceil((start - 1) / TILE_WIDTH);
        const level0 = tiles.filter((t) => t.tileLevel === 0).map((t) => t.tileIndex);
        expect(level0).toEqual(Array.from({ length: Math.floor(n / 256) - first0 }, (_, i) => first0 + i));
        // tile level 1 starts at its own boundary: only tile 1 of it (leaves 65,536..131,071) when start > 1
        const level1 = tiles.filter((t) => t.tileLevel === 1).map((t) => t.tileIndex);
        expect(level1).toEqual(start === 1 ? [0, 1] : [1]);
        for (const t of tiles) {
          expect(t.hashes.length).toBe(TILE_BYTES);
          for (let r = 0; r < 8; r++) {
            const width = 256 >> r;
            for (let j = 0; j < width; j += 37 % width || 1) {
              const level = t.tileLevel * 8 + r;
              const index = t.tileIndex * width + j;
              const a = tileAddress(level, index);
              expect(a.tileIndex).toBe(t.tileIndex);
              expect(bytesToHex(tileHash(t.hashes, a.slot)), `tile ${t.tileLevel}/${t.tileIndex} node ${level}/${index}`).toBe(
                bytesToHex(ref[level]![index]!),
              );
            }
          }
        }
      }),
      { numRuns: 6 },
    );
  });

  it('restarts at the next tile boundary after a gap instead of building a wrong tile', () => {
    const leaves = Array.from({ length: 1024 }, () => new Uint8Array(randomBytes(32)));
    const folder = new TileFolder();
    folder.feed('s', 1, leaves.slice(0, 300));
    folder.feed('s', 310, leaves.slice(309, 1024)); // seq 301..309 never seen
    const ref = allLevels(leaves);
    const tiles = folder.take();
    expect(tiles.map((t) => t.tileIndex)).toEqual([0, 2, 3]);
    for (const t of tiles) expect(bytesToHex(tileHash(t.hashes, 508))).toBe(bytesToHex(ref[7]![t.tileIndex * 2]!));
  });
});

const open: Ledger[] = [];
afterEach(() => {
  for (const l of open.splice(0)) l.close();
});

describe('stored tiles in the ledger', () => {
  it('are written by sealing, hold the stored nodes, and leave every proof and root unchanged', async () => {
    const { ledger, principal: p, dataDir, stream } = openTestLedger(500, 20, 'ps-tiles-');
    open.push(ledger);
    const sid = stream();
    const n = 3_000;
    for (let i = 0; i < n; i += 97) {
      const k = Math.min(97, n - i);
      await ledger.append(p, sid, Array.from({ length: k }, (_, j) => ({ source_ref: `r${i + j}`, event_type: 't', payload: { i: i + j } })), undefined, () => null);
    }
    for (let i = 0; i < 200 && ledger.store.streams.get(sid)!.sealedSeqNo < n; i++) await new Promise((r) => setTimeout(r, 10));
    expect(ledger.store.streams.get(sid)!.sealedSeqNo).toBe(n);

    const db = openLedgerDb(dataDir, 'l.db', { readonly: true });
    const stored = db.prepare('SELECT tile_level, tile_idx, length(hashes) AS len FROM merkle_tiles WHERE stream_id = ? ORDER BY tile_level, tile_idx').all(sid);
    expect(stored).toEqual(Array.from({ length: Math.floor(n / 256) }, (_, i) => ({ tile_level: 0, tile_idx: i, len: TILE_BYTES })));
    const leaves = (db.prepare('SELECT event_hash FROM events WHERE stream_id = ? ORDER BY seq_no').pluck().all(sid) as string[]).map((x) => Buffer.from(x, 'hex'));
    db.close();

    // Reference: every node from the events themselves; the node source must agree whether a tile serves it or not.
    const ref = allLevels(leaves);
    const refSrc: NodeSource = { get: (level, index) => ref[level]![index]! };
    const src = ledger.store.checkpoints.nodeSource(sid);
    for (let level = 0; level < ref.length; level++) {
      for (let index = 0; index < ref[level]!.length; index += level < 3 ? 13 : 1) {
        expect(bytesToHex(src.get(level, index)), `node ${level}/${index}`).toBe(bytesToHex(ref[level]![index]!));
      }
    }
    fc.assert(
      fc.property(fc.integer({ min: 1, max: n }), fc.integer({ min: 1, max: n }), (a, b) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        const s = ledger.store.checkpoints.nodeSource(sid);
        expect(inclusionProof(s, lo - 1, hi).map(bytesToHex)).toEqual(inclusionProof(refSrc, lo - 1, hi).map(bytesToHex));
        expect(consistencyProof(s, lo, hi).map(bytesToHex)).toEqual(consistencyProof(refSrc, lo, hi).map(bytesToHex));
        expect(bytesToHex(rootAt(s, hi))).toBe(bytesToHex(rootFromLeaves(leaves.slice(0, hi))));
      }),
      { numRuns: 300 },
    );
  });

  it('fall back to the per-node store when a tile is missing or not a tile', async () => {
    const t = openTestLedger(256, 20, 'ps-tiles-');
    let ledger = t.ledger;
    open.push(ledger);
    const p = t.principal;
    const sid = t.stream();
    const config = ledger.config;
    await ledger.append(p, sid, Array.from({ length: 1024 }, (_, j) => ({ source_ref: `r${j}`, event_type: 't', payload: { j } })), undefined, () => null);
    for (let i = 0; i < 200 && ledger.store.streams.get(sid)!.sealedSeqNo < 1024; i++) await new Promise((r) => setTimeout(r, 10));
    const before = [0, 300, 700, 1023].map((i) => inclusionProof(ledger.store.checkpoints.nodeSource(sid), i, 1024).map(bytesToHex));
    ledger.close();
    open.pop();
    const db = openLedgerDb(t.dataDir, 'l.db');
    expect(db.prepare('SELECT count(*) FROM merkle_tiles WHERE stream_id = ?').pluck().get(sid)).toBe(4);
    db.prepare('DELETE FROM merkle_tiles WHERE stream_id = ? AND tile_idx = 1').run(sid);
    db.prepare('UPDATE merkle_tiles SET hashes = ? WHERE stream_id = ? AND tile_idx = 2').run(Buffer.alloc(100), sid);
    db.close();
    ledger = Ledger.open(config);
    open.push(ledger);
    const after = [0, 300, 700, 1023].map((i) => inclusionProof(ledger.store.checkpoints.nodeSource(sid), i, 1024).map(bytesToHex));
    expect(after).toEqual(before);
  });
});
