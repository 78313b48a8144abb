// A repository's stream is made once per tenant and repository, even when another writer (another process on the same
// SQLite file) makes it between our look-up and our transaction: the re-check inside BEGIN IMMEDIATE finds it.
import { afterAll, describe, expect, it } from 'vitest';
import { Cicd } from '../src/cicd/cicd.js';
import { loadConfig } from '../src/config.js';
import { openTestLedger, type TestLedger } from './helpers/ledger.js';

const ledgers: TestLedger[] = [];
afterAll(() => {
  for (const t of ledgers) t.ledger.close();
});

describe('repository streams', () => {
  it('a stream made by another writer after our look-up is the one we use: one stream, one repository row', () => {
    const t = openTestLedger(1000, 60_000, 'ps-cicd-');
    ledgers.push(t);
    const { store } = t.ledger;
    const mine = new Cicd(t.ledger);
    const theirs = new Cicd(t.ledger);
    const repository = store.cicd.repository.bind(store.cicd);
    let theirStream: string | undefined;
    let lookups = 0;
    // Our first look-up misses, and the other writer commits its stream and row right after it.
    store.cicd.repository = (tenantId, key) => {
      lookups++;
      if (lookups === 1) {
        const miss = repository(tenantId, key);
        theirStream = theirs.streamOf(t.principal, 'Acme/Race').id;
        return miss;
      }
      return repository(tenantId, key);
    };
    const ours = mine.streamOf(t.principal, 'acme/race').id;
    expect(theirStream).toBeDefined();
    expect(ours).toBe(theirStream);
    const streams = t.ledger.listStreams({ ...t.principal, tenantWide: true }, undefined, 100).streams.filter((s) => s.use_case === 'cicd:acme/race');
    expect(streams.map((s) => s.stream_id)).toEqual([ours]);
    expect(repository(t.principal.tenantId, 'acme/race')).toMatchObject({ streamId: ours, repositoryFullName: 'Acme/Race' });
  });

  it('another tenant naming the same repository gets a stream of its own', () => {
    const t = openTestLedger(1000, 60_000, 'ps-cicd-');
    ledgers.push(t);
    const cicd = new Cicd(t.ledger);
    const { row } = t.ledger.tenancy.createKey('other-tenant', 'ci', ['events:write', 'read']);
    const other = { keyId: row.id, tenantId: row.tenantId, systemId: row.systemId, scopes: new Set<string>(['events:write', 'read']) };
    const a = cicd.streamOf(t.principal, 'acme/app').id;
    const b = cicd.streamOf(other, 'acme/app').id;
    expect(a).not.toBe(b);
    expect(cicd.streamOf(t.principal, 'ACME/app').id).toBe(a);
  });
});

describe('PROOFSTREAM_CICD_RATE_LIMIT', () => {
  it('defaults to the seed API\'s 100 per minute, takes the tier syntax, and refuses anything else naming the variable', () => {
    expect(loadConfig({}).cicdRateLimit).toEqual({ requests: 100, windowS: 60, burst: 100 });
    expect(loadConfig({ PROOFSTREAM_CICD_RATE_LIMIT: '10/s,burst=50' }).cicdRateLimit).toEqual({ requests: 10, windowS: 1, burst: 50 });
    for (const bad of ['100', '0/min', 'lots/min', '100/day']) {
      expect(() => loadConfig({ PROOFSTREAM_CICD_RATE_LIMIT: bad })).toThrow(/PROOFSTREAM_CICD_RATE_LIMIT/);
    }
  });
});
