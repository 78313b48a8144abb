// Store.readSnapshot: reads that compare tables with each other (proofstream check) see one state of the database
// while another connection commits, on SQLite and on PostgreSQL. Without it the erasure test's deep check on
// PostgreSQL saw a stream row from before a seal and that seal's checkpoint (a false "sealed_seq_no" problem).
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Store } from '../src/store/index.js';
import { tempDir } from './helpers/server.js';
import { databaseFor } from './helpers/pg-mode.js';

const stores: Store[] = [];
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
});

describe('Store.readSnapshot', () => {
  it('sees none of the commits another connection makes meanwhile, and blocks none of them', () => {
    const dir = tempDir('ps-snap-');
    const target = databaseFor(dir) ?? path.join(dir, 'l.db');
    const reader = Store.open(target);
    stores.push(reader);
    const writer = Store.open(target);
    stores.push(writer);
    const at = new Date().toISOString();
    const has = (id: string) => reader.tenancy.tenantById(id) !== undefined;
    writer.write(() => writer.tenancy.insertTenant({ id: 'ten_a', name: 'a', createdAt: at }));
    const seen = reader.readSnapshot(() => {
      const before = [has('ten_a'), has('ten_b')];
      // committed by the other connection while the snapshot is open: not waiting on the reader
      writer.write(() => writer.tenancy.insertTenant({ id: 'ten_b', name: 'b', createdAt: at }));
      return [...before, has('ten_b')];
    });
    expect(seen).toEqual([true, false, false]);
    expect(has('ten_b')).toBe(true); // after the snapshot: the new row
  });
});
