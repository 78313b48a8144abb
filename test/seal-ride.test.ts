// Sealing rides the appender's group commits while appends are queued (src/ledger/sealer.ts, CommitRider): the
// checkpoints it signs there must be exactly the ones its own transactions would have signed — contiguous windows,
// every checkpoint consistent with the one before — including when the group commit it was to ride fails.
import { afterEach, describe, expect, it } from 'vitest';
import type { Ledger } from '../src/ledger/ledger.js';
import { hexToBytes } from '../src/protocol/bytes.js';
import { parseCheckpoint } from '../src/protocol/checkpoint.js';
import { consistencyProof, rootAt, verifyConsistency } from '../src/protocol/merkle.js';
import { openTestLedger } from './helpers/ledger.js';

const open: Ledger[] = [];
afterEach(() => {
  for (const l of open.splice(0)) l.close();
});

const ev = (i: number) => ({ source_ref: `r${i}`, event_type: 't', payload: { i } });

function setup(windowMaxEvents: number) {
  const { ledger, principal: p, stream } = openTestLedger(windowMaxEvents, 40, 'ps-ride-');
  open.push(ledger);
  return { ledger, p, stream };
}

async function sealedThrough(ledger: Ledger, sid: string, n: number) {
  for (let i = 0; i < 300 && ledger.store.streams.get(sid)!.sealedSeqNo < n; i++) await new Promise((r) => setTimeout(r, 10));
  expect(ledger.store.streams.get(sid)!.sealedSeqNo).toBe(n);
}

/** Windows tile 1..n without gaps; each checkpoint's note and root match the tree; each is consistent with the last. */
function checkChain(ledger: Ledger, sid: string, n: number) {
  const cps = ledger.store.checkpoints.list(sid, undefined, 10_000).reverse();
  const src = ledger.store.checkpoints.nodeSource(sid);
  let from = 1;
  let prev: (typeof cps)[number] | undefined;
  for (const cp of cps) {
    const w = ledger.store.checkpoints.window(cp.windowId!)!;
    expect(w.fromSeqNo).toBe(from);
    expect(w.toSeqNo).toBe(cp.treeSize);
    expect(cp.previousCheckpointId).toBe(prev?.id ?? null);
    const parsed = parseCheckpoint(cp.note.slice(0, cp.note.indexOf('\n\n') + 1));
    expect(parsed.size).toBe(cp.treeSize);
    expect(Buffer.from(parsed.rootHash).toString('hex')).toBe(cp.rootHash);
    expect(Buffer.from(rootAt(src, cp.treeSize)).toString('hex')).toBe(cp.rootHash);
    if (prev) {
      const proof = consistencyProof(src, prev.treeSize, cp.treeSize);
      expect(verifyConsistency(prev.treeSize, cp.treeSize, proof, hexToBytes(prev.rootHash), hexToBytes(cp.rootHash))).toBe(true);
    }
    from = cp.treeSize + 1;
    prev = cp;
  }
  expect(from - 1).toBe(n);
}

describe('sealing inside group commits', () => {
  it('seals windows in the appends\' transactions while appends keep coming, and the chain is the same', async () => {
    const { ledger, p, stream } = setup(10);
    const a = stream();
    const b = stream();
    const pending: Promise<unknown>[] = [];
    // Waves of single appends to two streams: windows come due while the next wave is queued.
    for (let wave = 0; wave < 30; wave++) {
      for (let i = 0; i < 12; i++) pending.push(ledger.append(p, i % 2 ? a : b, [ev(wave * 12 + i)], undefined, () => null));
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all(pending);
    expect(ledger.sealer.stats.rides).toBeGreaterThan(0);
    for (const sid of [a, b]) {
      await sealedThrough(ledger, sid, 180);
      checkChain(ledger, sid, 180);
    }
  });

  it('seals what was due later when the group commit it was to ride fails', async () => {
    const { ledger, p, stream } = setup(5);
    const a = stream();
    await ledger.append(p, a, [1, 2, 3, 4, 5].map(ev), undefined, () => null); // a window is now due
    // Queued before the sealer's turn: the sealer decides to ride this flush, whose lone job fails.
    const failing = ledger.appender.append('str_missing', [ev(6)], undefined, () => null);
    await expect(failing).rejects.toMatchObject({ code: 'RESOURCE_NOT_FOUND' });
    await sealedThrough(ledger, a, 5);
    checkChain(ledger, a, 5);
    // and a flush with a failing job among good ones (the isolated retry) loses nothing either
    await ledger.append(p, a, [6, 7, 8, 9].map(ev), undefined, () => null);
    const mixed = await Promise.allSettled([
      ledger.append(p, a, [ev(10)], undefined, () => null),
      ledger.appender.append('str_missing', [ev(0)], undefined, () => null),
      ledger.append(p, a, [ev(11), ev(12)], undefined, () => null),
    ]);
    expect(mixed.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    await sealedThrough(ledger, a, 12);
    checkChain(ledger, a, 12);
    expect(ledger.sealer.halted.size).toBe(0);
  });
});
