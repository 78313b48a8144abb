// Payload erasure and audit packs, in process: a pack whose build read an event before that event's payload was
// erased (the erasure committing mid-build) is not stored holding the payload; it is built again from what is stored.
import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { Erasures } from '../src/ledger/erasure.js';
import type { Ledger } from '../src/ledger/ledger.js';
import { verify } from '../src/verify/index.js';
import { openTestLedger } from './helpers/ledger.js';
import { waitFor } from './helpers/wait.js';

const open: Ledger[] = [];
afterEach(() => {
  for (const l of open.splice(0)) l.close();
});

const MARKER = `MID-BUILD-ERASE-${process.pid}-${Date.now()}`;

describe('erasure during a pack build', () => {
  it('the stored pack never holds the erased payload, and it verifies', async () => {
    const t = openTestLedger(4, 20, 'ps-erasure-packs-');
    open.push(t.ledger);
    const { ledger, principal } = t;
    const sid = t.stream();
    const inputs = Array.from({ length: 8 }, (_, i) => ({ source_ref: `r${i}`, event_type: 't', payload: i === 0 ? { who: MARKER } : { i } }));
    const appended = await ledger.append(principal, sid, inputs, undefined, (r) => r);
    const victim = appended.receipts[0]!.stream_event_id;
    await waitFor(async () => (ledger.store.streams.get(sid)!.sealedSeqNo === 8 ? true : undefined));

    // The erasure is asked for right after the build read its first page (which holds the victim's payload): it
    // commits while the build writes the document, before the build records it.
    const repo = ledger.store.packs;
    const page = repo.eventsPage.bind(repo);
    let erasing: Promise<unknown> | undefined;
    let reads = 0;
    repo.eventsPage = (...args: Parameters<typeof page>) => {
      const rows = page(...args);
      reads++;
      if (!erasing) {
        expect(rows[0]!.payload).toContain(MARKER);
        erasing = new Erasures(ledger).erase(principal, victim, 'mid-build', undefined);
      }
      return rows;
    };
    const built = await ledger.packs.build(principal, { stream_id: sid, from_seq_no: 1, to_seq_no: 8 }, undefined);
    const answer = (await erasing) as { status: number };
    expect(answer.status).toBe(200);
    expect(reads).toBeGreaterThan(1); // built again after the first attempt was discarded

    const text = fs.readFileSync(built.file, 'utf8');
    expect(text).not.toContain(MARKER);
    const doc = JSON.parse(text);
    expect(doc.events[0]).toMatchObject({ stream_event_id: victim, payload: null, salt: null });
    const keys = ledger.publicKeys().map((k) => ({ kid: k.kid, alg: 'Ed25519' as const, public_key: k.public_key }));
    const report = await verify({ kind: 'bundle', object: doc, trusted_keys: keys });
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
    // Only the rebuilt pack is stored, and no file of the discarded attempt is left.
    expect(fs.readdirSync(`${t.dataDir}/packs`)).toEqual([`${built.row.id}.json`]);
  });
});
