import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import { loadConfig, storeName, type Config } from '../config.js';
import { createApp } from '../http/app.js';
import { DEFAULT_WEB_DIR, WebFiles } from '../http/web-app.js';
import { hardenServer, serverOptions } from '../http/server-options.js';
import { Ledger } from '../ledger/ledger.js';
import { startMetricsListener } from '../http/metrics-server.js';
import { log } from '../log.js';
import { liveFeedsFor } from '../http/v2/live.js';
import { executionFeedsFor } from '../http/pipelines/routes.js';
import { pipelinesIfAny } from '../pipelines/service.js';
import { closeBuilds } from '../http/builds/routes.js';
import { checkWitnessesAtStart, RollbackError } from '../ledger/rollback-guard.js';

/** Exit status of `proofstream serve` when the rollback guard refuses to start. */
export const EXIT_ROLLBACK = 3;
/** Exit status when serve cannot listen (port in use, no permission, no such address). */
export const EXIT_LISTEN = 1;
/** Exit status of a shutdown that was forced (second signal, grace period over) rather than finished. */
export const EXIT_FORCED = 1;

/** One operator line for a listen failure: what went wrong and which setting changes it, never a stack trace. */
export function listenProblem(e: NodeJS.ErrnoException, host: string, port: number): string {
  switch (e.code) {
    case 'EADDRINUSE':
      return `proofstream: port ${port} on ${host} is already in use (another proofstream or another program is listening there); stop it or choose another port with PORT=<port>`;
    case 'EACCES':
      return `proofstream: not allowed to listen on port ${port} on ${host} (ports below 1024 need privileges); choose another port with PORT=<port>`;
    case 'EADDRNOTAVAIL':
      return `proofstream: cannot listen on ${host}: it is not an address of this machine; set HOST (e.g. 127.0.0.1 or 0.0.0.0)`;
    default:
      return `proofstream: cannot listen on ${host}:${port}: ${e.message}`;
  }
}

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
  console.error(`proofstream: database ${storeName(config)}`);
  const app = createApp(ledger);
  const metrics = await startMetricsListener(ledger);
  const server = serve({ fetch: app.fetch, hostname: config.host, port: config.port, serverOptions: serverOptions(config) }, (info) => {
    // One machine-readable line: tests and scripts wait for it.
    console.log(`proofstream listening on http://${info.address}:${info.port} (db ${storeName(config)}, kid ${ledger.signer.kid})`);
    log.info({ event: 'started', url: `http://${info.address}:${info.port}`, db: storeName(config), kid: ledger.signer.kid }, 'proofstream started');
    const web = new WebFiles(config.webDir ?? DEFAULT_WEB_DIR).load();
    if (!(web instanceof Map)) console.log(`auditor page (/app/) unavailable: ${web.problem}`);
    if (!ledger.store.tenancy.hasAnyKey()) {
      console.log('no API keys yet: run `npx proofstream keys create --tenant <t> --system <s>` or set PROOFSTREAM_BOOTSTRAP_KEY');
    }
  }) as Server;
  // listen() reports failure as an 'error' event after serve() returned: without a listener it is an uncaught stack trace.
  server.once('error', (e: NodeJS.ErrnoException) => {
    if (server.listening) throw e;
    console.error(listenProblem(e, config.host, config.port));
    ledger.close();
    process.exit(EXIT_LISTEN);
  });
  hardenServer(server, config);
  installShutdown(server, ledger, config, metrics ?? undefined);
}

/** A signal repeated within this long of the first counts as the same one (not as "force it"). */
const REPEAT_IS_SAME_SIGNAL_MS = 1000;

/**
 * SIGTERM/SIGINT: stop accepting, let in-flight requests answer (their appends commit in the meantime), write what is
 * still queued, close the database, print one line, exit 0. A second signal or the grace period forces exit 1.
 */
function installShutdown(server: Server, ledger: Ledger, config: Config, metrics: { close(): unknown } | undefined): void {
  let stopping: NodeJS.Signals | undefined;
  let stoppingSince = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    // Ctrl-C under `npm start` arrives twice at once (from the terminal, and forwarded by npm): that is one request to
    // stop, not an impatient second one.
    if (stopping && performance.now() - stoppingSince < REPEAT_IS_SAME_SIGNAL_MS) return;
    if (stopping) {
      console.error(`proofstream: ${sig} during shutdown: exiting now, without waiting for open requests (exit ${EXIT_FORCED})`);
      forceExit();
      return;
    }
    stopping = sig;
    log.info({ event: 'stopping', signal: sig }, 'proofstream stopping');
    metrics?.close();
    stoppingSince = performance.now();
    // close() refuses new connections and drops idle keep-alive ones; a keep-alive connection that is busy now goes
    // idle once its response is written and would hold close() open until it times out, so sweep until all are gone.
    server.close(finish);
    // Live feeds never finish on their own: each gets a last `retry:` and ends, so its connection goes idle and closes.
    liveFeedsFor(ledger).endAll();
    // Pipelines: no new executions; running ones are cancelled (their process groups killed), their feeds end.
    pipelinesIfAny(ledger)?.shutdown();
    executionFeedsFor(ledger).endAll();
    closeBuilds(ledger); // build jobs end Interrupted and their event streams close (docs/builds.md)
    server.closeIdleConnections();
    const sweep = setInterval(() => server.closeIdleConnections(), 25);
    const grace = setTimeout(() => {
      console.error(
        `proofstream: requests still open after ${config.shutdownGraceMs} ms (PROOFSTREAM_SHUTDOWN_GRACE_MS): exiting without them (exit ${EXIT_FORCED})`,
      );
      forceExit();
    }, config.shutdownGraceMs);
    function finish() {
      clearInterval(sweep);
      clearTimeout(grace);
      try {
        // Every request has been answered, so this is normally empty; whatever is queued is still written, not dropped.
        while (ledger.appender.queued > 0) ledger.appender.flush();
        ledger.sealer.runDue();
        ledger.close();
      } catch (e) {
        console.error(`proofstream: shutdown failed: ${(e as Error).message}`);
        process.exit(EXIT_FORCED);
      }
      log.info({ event: 'stopped', signal: sig }, 'proofstream stopped');
      console.log(`proofstream stopped on ${sig}: requests answered, commits written, database ${storeName(config)} closed`);
      process.exit(0);
    }
  };
  const forceExit = () => {
    server.closeAllConnections();
    try {
      // Committed appends are durable already (WAL); closing is a courtesy that must not block the forced exit.
      ledger.close();
    } catch {
      /* exiting anyway */
    }
    process.exit(EXIT_FORCED);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
