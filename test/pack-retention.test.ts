// Audit packs do not pile up: packs older than PROOFSTREAM_PACK_TTL_MS lose their row and their file (a request
// for one is then 404), younger ones stay, 0 keeps everything; files no row refers to (a crashed build, an
// interrupted purge) are swept at start once nothing has written them for a while.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { Ledger } from '../src/ledger/ledger.js';
import { PACKS_DIR } from '../src/ledger/packs.js';
import { openTestLedger } from './helpers/ledger.js';
import { waitFor } from './helpers/wait.js';
import { databaseFor } from './helpers/pg-mode.js';

const open: Ledger[] = [];
afterEach(() => {
  for (const l of open.splice(0)) l.close();
});

async function ledgerWithPacks(n: number) {
  const t = openTestLedger(8, 20, 'ps-retention-');
  open.push(t.ledger);
  const sid = t.stream();
  await t.ledger.append(t.principal, sid, Array.from({ length: 16 }, (_, i) => ({ source_ref: `r${i}`, event_type: 't', payload: { i } })), undefined, () => null);
  await waitFor(async () => (t.ledger.store.streams.get(sid)!.sealedSeqNo === 16 ? true : undefined));
  const built = [];
  for (let i = 0; i < n; i++) built.push(await t.ledger.packs.build(t.principal, { stream_id: sid, from_seq_no: 1 + i, to_seq_no: 16 }, undefined));
  return { ...t, built };
}

describe('pack retention', () => {
  it('deletes packs past the TTL (row first, then file) and keeps younger ones', async () => {
    const { ledger, principal, built } = await ledgerWithPacks(3);
    const ttl = ledger.config.packTtlMs;
    expect(ttl).toBe(7 * 24 * 3600 * 1000); // the default
    const created = built.map((b) => Date.parse(b.row.createdAt));
    // A clock just past the first pack's expiry, before the others'
    const now = created[0]! + ttl + 1;
    const expected = created.filter((c) => c < now - ttl).length;
    expect(expected).toBeGreaterThanOrEqual(1);
    expect(ledger.packs.purgeExpired(now)).toBe(expected);
    for (const [i, b] of built.entries()) {
      const gone = created[i]! < now - ttl;
      expect(fs.existsSync(b.file), `pack ${i}`).toBe(!gone);
      if (gone) expect(() => ledger.packs.get(principal, b.row.id)).toThrow(expect.objectContaining({ code: 'RESOURCE_NOT_FOUND' }));
      else expect(ledger.packs.get(principal, b.row.id).row.id).toBe(b.row.id);
    }
    // Far in the future everything goes; a second purge finds nothing.
    expect(ledger.packs.purgeExpired(Date.now() + 2 * ttl)).toBe(built.length - expected);
    expect(ledger.packs.purgeExpired(Date.now() + 2 * ttl)).toBe(0);
    expect(fs.readdirSync(path.join(ledger.config.dataDir, PACKS_DIR))).toEqual([]);
  });

  it('keeps everything with PROOFSTREAM_PACK_TTL_MS=0', async () => {
    const { ledger, built } = await ledgerWithPacks(1);
    const keep = Ledger.open(loadConfig({ PROOFSTREAM_PACK_TTL_MS: '0' }, { dataDir: ledger.config.dataDir, dbPath: ledger.config.dbPath, signingKeyPath: ledger.config.signingKeyPath, databaseUrl: databaseFor(ledger.config.dataDir) }));
    open.push(keep);
    expect(keep.config.packTtlMs).toBe(0);
    expect(keep.packs.purgeExpired(Date.now() + 10 * 365 * 24 * 3600 * 1000)).toBe(0);
    expect(fs.existsSync(built[0]!.file)).toBe(true);
  });

  it('sweeps files no row refers to, once they have been quiet for an hour, and never a pack\'s file', async () => {
    const { ledger, built } = await ledgerWithPacks(1);
    const dir = path.join(ledger.config.dataDir, PACKS_DIR);
    const stale = ['pk_crashed.json.tmp', 'pk_norow.json'].map((n) => path.join(dir, n));
    const fresh = path.join(dir, 'pk_building.json.tmp');
    for (const f of [...stale, fresh]) fs.writeFileSync(f, '{');
    const hourAgo = new Date(Date.now() - 3700_000);
    for (const f of [...stale, path.join(dir, path.basename(built[0]!.file))]) fs.utimesSync(f, hourAgo, hourAgo);
    expect(ledger.packs.sweepOrphans()).toBe(2);
    expect(stale.map((f) => fs.existsSync(f))).toEqual([false, false]);
    expect(fs.existsSync(fresh)).toBe(true); // maybe a build still running
    expect(fs.existsSync(built[0]!.file)).toBe(true); // old, but its row is there
    // and a ledger opening on the directory does the same sweep
    fs.utimesSync(fresh, hourAgo, hourAgo);
    const again = Ledger.open(ledger.config);
    open.push(again);
    expect(fs.existsSync(fresh)).toBe(false);
    expect(fs.existsSync(built[0]!.file)).toBe(true);
  });
});
