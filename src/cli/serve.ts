import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import { loadConfig } from '../config.js';
import { createApp } from '../http/app.js';
import { hardenServer, serverOptions } from '../http/server-options.js';
import { Ledger } from '../ledger/ledger.js';
import { startMetricsListener } from '../http/metrics-server.js';
import { log } from '../log.js';
import { checkWitnessesAtStart, RollbackError } from '../ledger/rollback-guard.js';

/** Exit status of `proofstream serve` when the rollback guard refuses to start. */
export const EXIT_ROLLBACK = 3;

export async function serveCommand(args: string[] = []): Promise<void> {
  const config = loadConfig(process.env, args.includes('--allow-rollback') ? { allowRollback: true } : {});
  let ledger: Ledger;
  try {
    await checkWitnessesAtStart(config);
    ledger = Ledger.open(config);
  } catch (e) {
    if (!(e instanceof RollbackError)) throw e;
    // An operator message, not a crash: no stack trace.
    console.error(`proofstream: ${e.message}`);
    process.exit(EXIT_ROLLBACK);
  }
  const app = createApp(ledger);
  const metrics = await startMetricsListener(ledger);
  const server = serve({ fetch: app.fetch, hostname: config.host, port: config.port, serverOptions: serverOptions(config) }, (info) => {
    // One machine-readable line: tests and scripts wait for it.
    console.log(`proofstream listening on http://${info.address}:${info.port} (db ${config.dbPath}, kid ${ledger.signer.kid})`);
    log.info({ event: 'started', url: `http://${info.address}:${info.port}`, db: config.dbPath, kid: ledger.signer.kid }, 'proofstream started');
    if (!ledger.store.tenancy.hasAnyKey()) {
      console.log('no API keys yet: run `npx proofstream keys create --tenant <t> --system <s>` or set PROOFSTREAM_BOOTSTRAP_KEY');
    }
  });
  hardenServer(server as Server, config);
  const stop = () => {
    // Stop taking requests, let queued appends commit, then close the database cleanly.
    log.info({ event: 'stopping' }, 'proofstream stopping');
    metrics?.close();
    server.close(() => {
      ledger.appender.flush();
      ledger.sealer.runDue();
      ledger.close();
      log.info({ event: 'stopped' }, 'proofstream stopped');
      process.exit(0);
    });
    setTimeout(() => process.exit(0), 5000).unref();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
