// The Prometheus listener: GET /metrics on its own port (PROOFSTREAM_METRICS_PORT), on HOST, apart from the API so
// it can be firewalled separately and a scrape never queues behind API traffic limits.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Ledger } from '../ledger/ledger.js';
import { errField, log } from '../log.js';
import { observabilityFor } from './metrics.js';

/** Starts the metrics listener when a port is configured; resolves to the server (or null when not configured). */
export async function startMetricsListener(ledger: Ledger): Promise<http.Server | null> {
  const { metricsPort, host } = ledger.config;
  if (metricsPort === undefined) return null;
  const registry = observabilityFor(ledger).registry;
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (req.method !== 'GET' || path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('only GET /metrics here\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (e) => {
        log.error({ event: 'metrics_failed', err: errField(e) }, 'collecting metrics failed');
        res.writeHead(500, { 'content-type': 'text/plain' }).end('collecting metrics failed\n');
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(metricsPort, host, () => resolve());
  });
  const a = server.address() as AddressInfo;
  // Not "listening on": scripts wait for that phrase from the API listener alone.
  log.info({ event: 'metrics_started', url: `http://${a.address}:${a.port}/metrics`, port: a.port }, `metrics served at http://${a.address}:${a.port}/metrics`);
  return server;
}
