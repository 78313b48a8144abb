// An in-process Ledger on a fresh temporary data directory, with one API key's principal: for tests of the engine
// below HTTP. Close what it returns (or push it to the test's list of ledgers to close).
import path from 'node:path';
import { loadConfig } from '../../src/config.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { SCOPES, type Principal } from '../../src/ledger/tenancy.js';
import { tempDir } from './server.js';
import { databaseFor } from './pg-mode.js';

export interface TestLedger {
  ledger: Ledger;
  principal: Principal;
  dataDir: string;
  dbPath: string;
  /** A new stream of this principal. */
  stream: (useCase?: string) => string;
}

export function openTestLedger(windowMaxEvents: number, windowMaxAgeMs: number, prefix = 'ps-ledger-'): TestLedger {
  const dataDir = tempDir(prefix);
  const dbPath = path.join(dataDir, 'l.db');
  const ledger = Ledger.open(loadConfig({}, { dataDir, dbPath, signingKeyPath: path.join(dataDir, 'k.pem'), windowMaxEvents, windowMaxAgeMs, databaseUrl: databaseFor(dataDir) }));
  const { row } = ledger.tenancy.createKey('t', 's', SCOPES);
  const principal: Principal = { keyId: row.id, tenantId: row.tenantId, systemId: row.systemId, scopes: new Set<string>(SCOPES) };
  const stream = (useCase = 'test') => ledger.createStream(principal, { use_case: useCase }, undefined).view.stream_id;
  return { ledger, principal, dataDir, dbPath, stream };
}
