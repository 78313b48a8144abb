// Window roots folded incrementally from committed leaves (src/ledger/sealer.ts) must equal the RFC 9162 root of the
// window's events read back from the database, in every way windows get cut: by size inside one batch, across
// batches, by age, and after a restart that joins a window in the middle (where the fold falls back to the store).
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { Ledger } from '../src/ledger/ledger.js';
import { SCOPES } from '../src/ledger/tenancy.js';
import { bytesToHex, hexToBytes } from '../src/protocol/bytes.js';
import { rootFromLeaves } from '../src/protocol/merkle.js';
import { tempDir } from './helpers/server.js';
import { databaseFor, openLedgerDb } from './helpers/pg-mode.js';

const open: Ledger[] = [];
afterEach(() => {
  for (const l of open.splice(0)) l.close();
});

const ev = (i: number) => ({ source_ref: `r${i}`, event_type: 't', payload: { i } });
const turn = () => new Promise((r) => setImmediate(r));

function openLedger(dataDir: string, maxAgeMs = 86_400_000) {
  const ledger = Ledger.open(
    loadConfig({}, { dataDir, dbPath: path.join(dataDir, 'l.db'), signingKeyPath: path.join(dataDir, 'k.pem'), windowMaxEvents: 7, windowMaxAgeMs: maxAgeMs, databaseUrl: databaseFor(dataDir) }),
  );
  open.push(ledger);
  return ledger;
}

/** Every window's stored root against the root recomputed from its events in the database. */
function checkWindows(dataDir: string, streamId: string): number {
  const db = openLedgerDb(dataDir, 'l.db', { readonly: true });
  const windows = db.prepare('SELECT from_seq_no, to_seq_no, window_root FROM windows WHERE stream_id = ? ORDER BY from_seq_no').all(streamId) as Array<{
    from_seq_no: number;
    to_seq_no: number;
    window_root: string;
  }>;
  const leaves = db.prepare('SELECT event_hash FROM events WHERE stream_id = ? AND seq_no BETWEEN ? AND ? ORDER BY seq_no');
  let expectFrom = 1;
  for (const w of windows) {
    expect(w.from_seq_no).toBe(expectFrom);
    const hs = (leaves.all(streamId, w.from_seq_no, w.to_seq_no) as Array<{ event_hash: string }>).map((r) => hexToBytes(r.event_hash));
    expect(hs.length).toBe(w.to_seq_no - w.from_seq_no + 1);
    expect(w.window_root, `window ${w.from_seq_no}..${w.to_seq_no}`).toBe(bytesToHex(rootFromLeaves(hs)));
    expectFrom = w.to_seq_no + 1;
  }
  db.close();
  return windows.length;
}

describe('incremental window roots', () => {
  it('equal the stored events\' root for size windows cut inside and across batches, and for age windows', async () => {
    const dataDir = tempDir('ps-winroots-');
    const ledger = openLedger(dataDir, 30);
    const { row } = ledger.tenancy.createKey('t', 's', SCOPES);
    const p = { keyId: row.id, tenantId: row.tenantId, systemId: row.systemId, scopes: new Set<string>(SCOPES) };
    const sid = ledger.createStream(p, { use_case: 'w' }, undefined).view.stream_id;
    const repo = ledger.store.checkpoints;
    const read = repo.leafHashes.bind(repo);
    const reads: string[] = [];
    repo.leafHashes = (s: string, from: number, to: number) => (reads.push(`${from}..${to}`), read(s, from, to));
    let i = 0;
    // windows of 7: one batch of 17 (two full windows + 3), single appends, a batch of 5, then idle (age seal)
    await ledger.append(p, sid, Array.from({ length: 17 }, () => ev(i++)), undefined, (r) => r);
    for (let k = 0; k < 6; k++) await ledger.append(p, sid, [ev(i++)], undefined, (r) => r);
    await ledger.append(p, sid, Array.from({ length: 5 }, () => ev(i++)), undefined, (r) => r);
    await new Promise((r) => setTimeout(r, 120)); // the age trigger seals the remainder
    await ledger.append(p, sid, [ev(i++), ev(i++)], undefined, (r) => r);
    await new Promise((r) => setTimeout(r, 120));
    await turn();
    expect(ledger.proofs.latest(p, sid).tree_size).toBe(i);
    expect(checkWindows(dataDir, sid)).toBeGreaterThanOrEqual(5);
    expect(reads).toEqual([]); // every window root came from the fold
  });

  it('after a restart in the middle of a window, falls back to the store and then folds again', async () => {
    const dataDir = tempDir('ps-winroots-');
    let ledger = openLedger(dataDir);
    const { row } = ledger.tenancy.createKey('t', 's', SCOPES);
    const p = { keyId: row.id, tenantId: row.tenantId, systemId: row.systemId, scopes: new Set<string>(SCOPES) };
    const sid = ledger.createStream(p, { use_case: 'w' }, undefined).view.stream_id;
    let i = 0;
    await ledger.append(p, sid, Array.from({ length: 10 }, () => ev(i++)), undefined, (r) => r); // 7 sealed, 3 open
    await turn();
    ledger.close();
    open.splice(open.indexOf(ledger), 1);
    ledger = openLedger(dataDir);
    // Count reads of window leaves from the store: the fallback path.
    const repo = ledger.store.checkpoints;
    const read = repo.leafHashes.bind(repo);
    const reads: string[] = [];
    repo.leafHashes = (s: string, from: number, to: number) => (reads.push(`${from}..${to}`), read(s, from, to));
    for (let k = 0; k < 25; k++) await ledger.append(p, sid, [ev(i++)], undefined, (r) => r);
    await turn();
    ledger.sealer.runDue();
    // At start the open remainder 8..10 is sealed by age (from the store: nothing was folded for it); then windows
    // of 7 from 11 are folded as they commit; 32..35 stay open.
    expect(ledger.proofs.latest(p, sid).tree_size).toBe(31);
    expect(checkWindows(dataDir, sid)).toBe(5);
    expect(reads).toEqual(['8..10']);
  });
});
