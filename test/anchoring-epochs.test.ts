// Closing anchor epochs (src/ledger/anchoring.ts) reads only checkpoints signed since the last epoch, yet never
// skips one and never anchors one twice — across epochs and across a restart (which scans from the start once).
import fs from 'node:fs';
import path from 'node:path';
import { buildEpochTree, checkpointHash } from '../src/protocol/anchor.js';
import { bytesToHex } from '../src/protocol/bytes.js';
import { ROOT } from './helpers/server.js';
import { afterEach, describe, expect, it } from 'vitest';
import { Anchoring } from '../src/ledger/anchoring.js';
import type { Ledger } from '../src/ledger/ledger.js';
import { openTestLedger } from './helpers/ledger.js';
import { openLedgerDb } from './helpers/pg-mode.js';

const open: Ledger[] = [];
afterEach(() => {
  for (const l of open.splice(0)) l.close();
});

const ev = (i: number) => ({ source_ref: `r${i}`, event_type: 't', payload: { i } });

describe('anchor epochs', () => {
  it('take each checkpoint exactly once, in signing order, reading only what is new', async () => {
    const { ledger, principal: p, dataDir, stream } = openTestLedger(3, 86_400_000, 'ps-epochs-');
    open.push(ledger);
    const streams = [stream(), stream()];
    let i = 0;
    const appendAndSeal = async (n: number) => {
      for (const sid of streams) await ledger.append(p, sid, Array.from({ length: n }, () => ev(i++)), undefined, () => null);
      ledger.sealer.runDue();
    };
    // No TSA is ever contacted: only closeEpoch is called.
    const anchoring = new Anchoring(ledger.store, 'http://127.0.0.1:9/', [], 60_000, 1_000);
    const db = openLedgerDb(dataDir, 'l.db', { readonly: true });
    const leaves = () =>
      db
        .prepare('SELECT c.rowid AS r, a.epoch_id AS e, a.leaf_index AS i FROM checkpoints c LEFT JOIN anchor_leaves a ON a.checkpoint_id = c.id ORDER BY c.rowid')
        .all() as Array<{ r: number; e: string | null; i: number | null }>;

    await appendAndSeal(6); // 2 checkpoints per stream
    expect(anchoring.closeEpoch()).toBe(false); // fewer than a full epoch: one epoch, nothing more to do
    let all = leaves();
    expect(all.length).toBe(4);
    expect(new Set(all.map((l) => l.e)).size).toBe(1);
    expect(all.map((l) => l.i)).toEqual([0, 1, 2, 3]);
    expect(anchoring.closeEpoch()).toBe(false);
    expect(anchoring.stats.epochs).toBe(1); // the second call found nothing

    await appendAndSeal(9); // 3 more per stream
    anchoring.closeEpoch();
    all = leaves();
    expect(all.length).toBe(10);
    expect(all.every((l) => l.e !== null)).toBe(true);
    const second = all.slice(4);
    expect(new Set(second.map((l) => l.e)).size).toBe(1);
    expect(second[0]!.e).not.toBe(all[0]!.e);
    expect(second.map((l) => l.i)).toEqual([0, 1, 2, 3, 4, 5]);

    // A restarted process starts from rowid 0: it finds nothing left, and so anchors nothing twice.
    const restarted = new Anchoring(ledger.store, 'http://127.0.0.1:9/', [], 60_000, 1_000);
    expect(restarted.closeEpoch()).toBe(false);
    expect(restarted.stats.epochs).toBe(0);
    await appendAndSeal(3);
    restarted.closeEpoch();
    all = leaves();
    expect(all.length).toBe(12);
    expect(all.slice(10).every((l) => l.e !== null && l.e !== second[0]!.e)).toBe(true);
    db.close();
  });

  it('order leaves by signing, not by created_at then id: two checkpoints of one millisecond, as in the §8.1 vector', async () => {
    const { ledger, principal: p, dataDir, stream } = openTestLedger(2, 86_400_000, 'ps-epoch-order-');
    open.push(ledger);
    try {
      const order = JSON.parse(fs.readFileSync(path.join(ROOT, 'fixtures/vectors/anchor.json'), 'utf8')).epoch_order;
      const [first, second] = order.checkpoints_in_signing_order as { checkpoint_id: string; created_at: string }[];
      for (const sid of [stream(), stream()]) await ledger.append(p, sid, [ev(1), ev(2)], undefined, () => null);
      ledger.sealer.runDue();
      // Give the two checkpoints the vector's labels: one created_at, and the one signed first the larger id.
      const rw = openLedgerDb(dataDir, 'l.db');
      const rows = rw.prepare('SELECT rowid AS r, id, note FROM checkpoints ORDER BY rowid').all() as Array<{ r: number; id: string; note: string }>;
      expect(rows.length).toBe(2);
      const relabel = rw.prepare('UPDATE checkpoints SET id = ?, created_at = ? WHERE rowid = ?');
      relabel.run(first!.checkpoint_id, first!.created_at, rows[0]!.r);
      relabel.run(second!.checkpoint_id, second!.created_at, rows[1]!.r);
      new Anchoring(ledger.store, 'http://127.0.0.1:9/', [], 60_000, 1_000).closeEpoch();
      const leaves = rw.prepare('SELECT checkpoint_id AS id, leaf_index AS i FROM anchor_leaves ORDER BY leaf_index').all();
      const epoch = rw.prepare('SELECT epoch_root AS root FROM anchor_epochs').get() as { root: string };
      rw.close();
      expect(leaves).toEqual([
        { id: first!.checkpoint_id, i: 0 },
        { id: second!.checkpoint_id, i: 1 },
      ]);
      const hashes = rows.map((r) => checkpointHash(r.note));
      expect(epoch.root).toBe(bytesToHex(buildEpochTree(hashes).root));
      expect(epoch.root).not.toBe(bytesToHex(buildEpochTree([...hashes].reverse()).root));
    } finally {
      open.splice(open.indexOf(ledger), 1);
      ledger.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
