// `proofstream tsa serve --port <p> --dir <dir> [--host 127.0.0.1]`: a TEST RFC 3161 time-stamp authority
// (src/anchor/tsa-server.ts, docs/anchors-tsa.md). NOT FOR PRODUCTION.
import { parseArgs } from 'node:util';
import path from 'node:path';

const USAGE = `usage: proofstream tsa serve --port <p> --dir <dir> [--host 127.0.0.1]

Runs a TEST RFC 3161 time-stamp authority over HTTP: POST / (or /tsa) with
Content-Type application/timestamp-query; answers application/timestamp-reply.
On first run it creates its own test CA in <dir> (root.pem, root.key.pem, tsa.pem,
tsa.key.pem); verifiers trust <dir>/root.pem. Later runs reuse them.

NOT FOR PRODUCTION: the CA key lies unencrypted on disk, there is no HSM, no audit
trail, no revocation and no disciplined clock. Use it for tests and demos only.

  --port <p>    TCP port (0: any free port; the real one is printed)
  --dir <dir>   where the test CA and TSA keys and certificates live
  --host <h>    address to bind (default 127.0.0.1)
`;

export async function tsaCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === 'help' || sub === '--help' || sub === '-h') {
    process.stdout.write(USAGE);
    return sub === undefined ? 2 : 0;
  }
  if (sub !== 'serve') {
    process.stderr.write(USAGE);
    return 2;
  }
  let values: { port?: string; dir?: string; host?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: rest,
      options: { port: { type: 'string' }, dir: { type: 'string' }, host: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    }));
  } catch (e) {
    process.stderr.write(`proofstream tsa: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const port = Number(values.port);
  if (values.port === undefined || !Number.isInteger(port) || port < 0 || port > 65535 || !values.dir) {
    process.stderr.write(USAGE);
    return 2;
  }
  // Handlers first: a SIGTERM during start-up also ends the process cleanly.
  let tsa: { close(): Promise<void> } | undefined;
  const stop = () => {
    setTimeout(() => process.exit(0), 5000).unref();
    if (!tsa) process.exit(0);
    tsa.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  const { startTsaServer } = await import('../anchor/tsa-server.js');
  const dir = path.resolve(values.dir);
  const running = await startTsaServer({ dir, port, host: values.host ?? '127.0.0.1' });
  tsa = running;
  // One machine-readable line on stdout: tests and scripts wait for it.
  console.log(`tsa listening on ${running.url}`);
  console.error(`test TSA (NOT FOR PRODUCTION); trust anchor: ${path.join(dir, 'root.pem')}`);
  return -1; // keep running
}
