// A full disk is an operating condition: sealing that meets SQLITE_FULL must not halt the stream for the life of
// the process (as a real inconsistency does), but seal as usual once space is there again, without a restart.
import { afterEach, describe, expect, it } from 'vitest';
import type { Ledger } from '../src/ledger/ledger.js';
import { openTestLedger } from './helpers/ledger.js';
import { useLogDestination } from '../src/log.js';

const ledgers: Ledger[] = [];
afterEach(() => {
  for (const l of ledgers.splice(0)) l.close();
});

/** What better-sqlite3 throws when the database or the disk is full. */
function sqliteFull(): Error {
  return Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
}

describe('sealing on a full database', () => {
  it('defers instead of halting, and seals once space is back', async () => {
    const { ledger, principal: p, stream } = openTestLedger(3, 50, 'ps-seal-full-');
    ledgers.push(ledger);
    const sid = stream();
    // The disk fills up under sealing: every checkpoint insert fails as SQLite does when no page can be had.
    const checkpoints = ledger.store.checkpoints;
    const insert = checkpoints.insertCheckpoint.bind(checkpoints);
    let full = true;
    let refused = 0;
    checkpoints.insertCheckpoint = (cp) => {
      if (full) {
        refused++;
        throw sqliteFull();
      }
      return insert(cp);
    };
    const errors: string[] = [];
    const restore = useLogDestination({ write: (line: string) => void errors.push(line) });
    try {
      for (let i = 0; i < 7; i++) {
        await ledger.append(p, sid, [{ source_ref: `r${i}`, event_type: 't', payload: { i } }], undefined, () => null);
      }
      for (let i = 0; i < 100 && refused < 2; i++) await new Promise((r) => setTimeout(r, 20));
      expect(refused).toBeGreaterThanOrEqual(2); // it tried, and tried again
      expect(ledger.store.streams.get(sid)!.sealedSeqNo).toBe(0);
      expect(ledger.sealer.halted.size).toBe(0);
      expect(errors.some((e) => /sealing str_[\w-]+ deferred: storage full/.test(e))).toBe(true);
      // Space is freed: the stream seals through its head with no restart, windows contiguous from 1.
      full = false;
      for (let i = 0; i < 200 && ledger.store.streams.get(sid)!.sealedSeqNo < 7; i++) await new Promise((r) => setTimeout(r, 25));
      expect(ledger.store.streams.get(sid)!.sealedSeqNo).toBe(7);
      const sizes = ledger.store.checkpoints.list(sid, undefined, 100).map((c) => c.treeSize).reverse();
      expect(sizes[0]).toBe(3);
      expect(sizes.at(-1)).toBe(7);
      expect(ledger.sealer.halted.size).toBe(0);
    } finally {
      restore();
    }
  });
});
