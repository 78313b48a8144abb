// globalSetup of the `postgres` project: one throw-away cluster for the run, with a migrated template database each
// test ledger's database is cloned from (test/helpers/pg-mode.ts). PROOFSTREAM_TEST_PG_URL set beforehand (a cluster
// of one's own, C collation) is used instead of starting one.
import { Store } from '../../src/store/index.js';
import { startPostgres, type RunningPostgres } from './postgres.js';
import { PgDatabase } from '../../src/store/pg/database.js';

const TEMPLATE = 'ps_template';

export default async function setup(): Promise<() => Promise<void>> {
  let cluster: RunningPostgres | undefined;
  if (!process.env.PROOFSTREAM_TEST_PG_URL) {
    cluster = await startPostgres();
    process.env.PROOFSTREAM_TEST_PG_URL = cluster.url;
  }
  const adminUrl = process.env.PROOFSTREAM_TEST_PG_URL!;
  const admin = new PgDatabase(adminUrl);
  admin.exec(`DROP DATABASE IF EXISTS "${TEMPLATE}" WITH (FORCE)`);
  admin.exec(`CREATE DATABASE "${TEMPLATE}" TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C' ENCODING 'UTF8'`);
  admin.close();
  const u = new URL(adminUrl);
  u.pathname = `/${TEMPLATE}`;
  // Opening a store applies drizzle-pg/; every test database is then a copy of this one.
  Store.open(u.toString()).close();
  process.env.PROOFSTREAM_TEST_PG_TEMPLATE = TEMPLATE;
  return async () => {
    await cluster?.stop();
  };
}
