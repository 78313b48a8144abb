// `proofstream check [--deep] [--json] [--db <file>]`: exit 0 clean, 1 problems found, 2 bad usage or unreadable.
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { checkLedger, describeCheck } from '../ledger/check.js';
import { Store } from '../store/index.js';

const USAGE = 'usage: proofstream check [--deep] [--json] [--db <file>]   (default database: PROOFSTREAM_DB / the data directory)\n';

export function checkCommand(args: string[]): number {
  let values: { deep?: boolean; json?: boolean; db?: string };
  try {
    ({ values } = parseArgs({ args, options: { deep: { type: 'boolean' }, json: { type: 'boolean' }, db: { type: 'string' } } }));
  } catch (e) {
    process.stderr.write(`proofstream check: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.db === undefined && loadConfig().databaseUrl) {
    // The deep check reads the SQLite file (pages, locks); PostgreSQL has its own (docs/operations.md "PostgreSQL").
    process.stderr.write('proofstream check: DATABASE_URL names PostgreSQL; check reads SQLite files only (--db <file>), see docs/operations.md\n');
    return 2;
  }
  const dbPath = values.db ?? loadConfig().dbPath;
  // Store.open would create an empty database: a missing file is unreadable, not clean.
  if (!fs.existsSync(dbPath)) {
    process.stderr.write(`proofstream check: no database at ${dbPath}\n`);
    return 2;
  }
  let store: Store;
  try {
    store = Store.open(dbPath);
  } catch (e) {
    process.stderr.write(`proofstream check: cannot open ${dbPath}: ${(e as Error).message}\n`);
    return 2;
  }
  try {
    const report = checkLedger(store, { deep: values.deep ?? false });
    if (values.json) process.stdout.write(`${JSON.stringify(report)}\n`);
    else process.stdout.write(`${dbPath}: ${describeCheck(report)}\n`);
    return report.ok ? 0 : 1;
  } catch (e) {
    process.stderr.write(`proofstream check: cannot read ${dbPath}: ${(e as Error).message}\n`);
    return 2;
  } finally {
    store.close();
  }
}
