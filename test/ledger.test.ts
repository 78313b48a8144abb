// The engine in-process over a real SQLite file: transaction boundaries and what gets persisted.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { ApiError } from '../src/ledger/errors.js';
import { Ledger } from '../src/ledger/ledger.js';
import { SCOPES } from '../src/ledger/tenancy.js';
import { bytesToHex, hexToBytes } from '../src/protocol/bytes.js';
import { MemoryNodeSource, rootAt, rootFromLeaves } from '../src/protocol/merkle.js';
import { frontierFromBuffer } from '../src/ledger/appender.js';
import { rootFromFrontier } from '../src/protocol/merkle.js';
import { tempDir } from './helpers/server.js';
import { useLogDestination } from '../src/log.js';
import { databaseFor, openLedgerDb, pgMode } from './helpers/pg-mode.js';

const open: Ledger[] = [];
afterEach(() => {
  for (const l of open.splice(0)) l.close();
});

function setup() {
  const dataDir = tempDir('ps-ledger-');
  const ledger = Ledger.open(loadConfig({}, { dataDir, dbPath: path.join(dataDir, 'l.db'), signingKeyPath: path.join(dataDir, 'k.pem'), databaseUrl: databaseFor(dataDir) }));
  open.push(ledger);
  const { row } = ledger.tenancy.createKey('t', 's', SCOPES);
  const principal = { keyId: row.id, tenantId: row.tenantId, systemId: row.systemId, scopes: new Set<string>(SCOPES) };
  const stream = ledger.createStream(principal, { use_case: 'x' }, undefined).view;
  return { ledger, principal, streamId: stream.stream_id, dataDir };
}

const ev = (i: number) => ({ source_ref: `r${i}`, event_type: 't', payload: { i } });

describe('ledger engine', () => {
  it('creates the signing key with mode 0600 and the database in the data dir', () => {
    const { dataDir } = setup();
    expect(fs.statSync(path.join(dataDir, 'k.pem')).mode & 0o777).toBe(0o600);
    // SQLite's file in WAL mode; on PostgreSQL the database is the server's, and nothing of it is in the data dir.
    if (pgMode) {
      expect(fs.existsSync(path.join(dataDir, 'l.db'))).toBe(false);
      return;
    }
    const db = openLedgerDb(dataDir, 'l.db', { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
  });

  it('persists Merkle nodes and frontier that reproduce the RFC 9162 root at every size', async () => {
    const { ledger, principal, streamId, dataDir } = setup();
    for (let i = 0; i < 37; i++) {
      await ledger.append(principal, streamId, i % 3 ? [ev(i)] : [ev(i), ev(i + 1000)], undefined, (r) => r);
    }
    const db = openLedgerDb(dataDir, 'l.db', { readonly: true });
    const leaves = (db.prepare('SELECT event_hash FROM events WHERE stream_id = ? ORDER BY seq_no').all(streamId) as { event_hash: string }[]).map((r) =>
      hexToBytes(r.event_hash),
    );
    const nodes = db.prepare('SELECT level, idx, hash FROM merkle_nodes WHERE stream_id = ?').all(streamId) as { level: number; idx: number; hash: Buffer }[];
    const head = db.prepare('SELECT head_seq_no, frontier FROM streams WHERE id = ?').get(streamId) as { head_seq_no: number; frontier: Buffer };
    db.close();
    expect(leaves.length).toBe(head.head_seq_no);
    // The frontier is the compact root of everything appended.
    expect(bytesToHex(rootFromFrontier(frontierFromBuffer(head.frontier)))).toBe(bytesToHex(rootFromLeaves(leaves)));
    // Stored nodes alone (plus leaves) answer the root at any size, equal to hashing the leaves directly.
    const src = new MemoryNodeSource();
    leaves.forEach((h, i) => src.put(0, i, h));
    for (const n of nodes) src.put(n.level, n.idx, new Uint8Array(n.hash));
    for (let size = 1; size <= leaves.length; size++) {
      expect(bytesToHex(rootAt(src, size))).toBe(bytesToHex(rootFromLeaves(leaves.slice(0, size))));
    }
  });

  it('rolls back a job whose idempotency record cannot be written, and only that job', async () => {
    const { ledger, principal, streamId, dataDir } = setup();
    // Another process already holds this key: the append must not leave an event without its record.
    const db = openLedgerDb(dataDir, 'l.db');
    db.prepare('INSERT INTO idempotency_records VALUES (?,?,?,?,?,?,?)').run(principal.tenantId, 'held', 'other', 201, '{}', Date.now(), Date.now() + 60_000);
    db.close();
    const idem = { tenantId: principal.tenantId, key: 'held', fingerprint: 'mine', ttlMs: 60_000 };
    const a = ledger.append(principal, streamId, [ev(1), ev(2)], idem, (r) => r);
    const b = ledger.append(principal, streamId, [ev(3)], undefined, (r) => r);
    await expect(a).rejects.toBeInstanceOf(ApiError);
    const rb = await b;
    expect(rb.receipts[0]!.seq_no).toBe(1); // the failed job's seq numbers were not consumed
    const listed = ledger.listEvents(principal, streamId, 1, 100).events;
    expect(listed.map((e) => e.source_ref)).toEqual(['r3']);
  });

  it('writes the idempotency record with the exact response bytes in the append transaction', async () => {
    const { ledger, principal, streamId, dataDir } = setup();
    const idem = { tenantId: principal.tenantId, key: 'k1', fingerprint: 'f1', ttlMs: 60_000 };
    const r = await ledger.append(principal, streamId, [ev(1)], idem, (x) => x[0]);
    const db = openLedgerDb(dataDir, 'l.db', { readonly: true });
    const rec = db.prepare('SELECT status, response_body FROM idempotency_records WHERE key = ?').get('k1') as { status: number; response_body: string };
    db.close();
    expect(rec.status).toBe(201);
    expect(rec.response_body).toBe(r.bodyText);
    expect(JSON.parse(rec.response_body).stream_event_id).toBe(r.receipts[0]!.stream_event_id);
  });

  it('refuses payloads JCS cannot represent before anything is queued', () => {
    const { ledger, principal, streamId } = setup();
    expect(() => ledger.append(principal, streamId, [{ ...ev(1), payload: { n: 2 ** 60 } }], undefined, (r) => r)).toThrow(/2\^53/);
    expect(() => ledger.append(principal, streamId, [{ ...ev(1), payload: 'a\ud800' }], undefined, (r) => r)).toThrow(ApiError);
    expect(ledger.getStream(principal, streamId).head_seq_no).toBe(0);
  });
});

describe('sealer safety', () => {
  it('refuses to sign a checkpoint inconsistent with one already signed, and halts only that stream', async () => {
    const dataDir = tempDir('ps-seal-');
    const ledger = Ledger.open(
      loadConfig({}, { dataDir, dbPath: path.join(dataDir, 'l.db'), signingKeyPath: path.join(dataDir, 'k.pem'), windowMaxEvents: 4, windowMaxAgeMs: 60_000, databaseUrl: databaseFor(dataDir) }),
    );
    open.push(ledger);
    const { row } = ledger.tenancy.createKey('t', 's', SCOPES);
    const p = { keyId: row.id, tenantId: row.tenantId, systemId: row.systemId, scopes: new Set<string>(SCOPES) };
    const a = ledger.createStream(p, { use_case: 'a' }, undefined).view.stream_id;
    const b = ledger.createStream(p, { use_case: 'b' }, undefined).view.stream_id;
    await ledger.append(p, a, [ev(1), ev(2), ev(3), ev(4)], undefined, (r) => r);
    await new Promise((r) => setImmediate(r)); // the size trigger seals on its own turn
    expect(ledger.proofs.latest(p, a).tree_size).toBe(4);

    // History rewritten under the ledger: the stored tree no longer extends the root it signed at size 4.
    const db = openLedgerDb(dataDir, 'l.db');
    db.prepare("UPDATE checkpoints SET root_hash = ? WHERE stream_id = ?").run('ab'.repeat(32), a);
    db.close();

    const errors: string[] = [];
    const restore = useLogDestination({ write: (line: string) => void errors.push(line) });
    try {
      await ledger.append(p, a, [ev(5), ev(6), ev(7), ev(8)], undefined, (r) => r);
      await ledger.append(p, b, [ev(1), ev(2), ev(3), ev(4)], undefined, (r) => r);
      await new Promise((r) => setImmediate(r));
      ledger.sealer.runDue();
    } finally {
      restore();
    }
    expect(ledger.proofs.latest(p, a).tree_size).toBe(4); // nothing new signed for the tampered stream
    expect(ledger.sealer.halted.get(a)).toMatch(/not consistent/);
    expect(ledger.proofs.latest(p, b).tree_size).toBe(4); // other streams keep sealing
    expect(errors.join('\n')).toMatch(/sealing halted/);
  });
});
