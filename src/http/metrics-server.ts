// The Prometheus listener: GET /metrics on its own port (PROOFSTREAM_METRICS_PORT), on HOST, apart from the API so
// it can be firewalled separately and a scrape never queues behind API traffic limits.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Ledger } from '../ledger/ledger.js';
import { errField, log } from '../log.js';
import { observabilityFor } from './metrics.js';

/**
 * The listener has no authentication (it is meant to be firewalled to the scraper), so it is bounded on its own:
 * a few connections, short timeouts, and one collection in flight that concurrent scrapes share.
 */
export const METRICS_MAX_CONNECTIONS = 16;
const METRICS_HEADERS_TIMEOUT_MS = 5_000;
const METRICS_REQUEST_TIMEOUT_MS = 10_000;

/** Starts the metrics listener when a port is configured; resolves to the server (or null when not configured). */
export async function startMetricsListener(ledger: Ledger): Promise<http.Server | null> {
  const { metricsPort, host } = ledger.config;
  if (metricsPort === undefined) return null;
  const registry = observabilityFor(ledger).registry;
  let collecting: Promise<string> | null = null;
  const collect = () => (collecting ??= registry.metrics().finally(() => (collecting = null)));
  const server = http.createServer({ headersTimeout: METRICS_HEADERS_TIMEOUT_MS, requestTimeout: METRICS_REQUEST_TIMEOUT_MS }, (req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (req.method !== 'GET' || path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('only GET /metrics here\n');
      return;
    }
    collect().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (e) => {
        log.error({ event: 'metrics_failed', err: errField(e) }, 'collecting metrics failed');
        res.writeHead(500, { 'content-type': 'text/plain' }).end('collecting metrics failed\n');
      },
    );
  });
  server.maxConnections = METRICS_MAX_CONNECTIONS;
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(metricsPort, host, () => resolve());
  });
  const a = server.address() as AddressInfo;
  // Not "listening on": scripts wait for that phrase from the API listener alone.
  log.info({ event: 'metrics_started', url: `http://${a.address}:${a.port}/metrics`, port: a.port }, `metrics served at http://${a.address}:${a.port}/metrics`);
  return server;
}
