// The `proofstream` command.
import fs from 'node:fs';
import { SCOPES } from '../ledger/tenancy.js';

const USAGE = `usage: proofstream <command>

  --version, -v, version                  print the version

  serve                                   run the ledger (HOST, PORT, PROOFSTREAM_* env; see README)
  serve --allow-rollback                  start although the database is behind what was published
                                          (exit 3 without it; docs/operations.md)
  keys create --tenant <t> --system <s> [--scopes a,b,…] [--expires-in 30d] [--tenant-wide]
                                          [--tier free|professional|enterprise|unlimited] [--create]
                                          create a system key and print it once
                                          (scopes: ${SCOPES.join(', ')}; default all but admin, events:erase and pipelines:execute;
                                          tier: default unlimited, docs/api.md "Rate limits");
                                          the database must exist (PROOFSTREAM_DB, PROOFSTREAM_DATA_DIR)
                                          unless --create
  keys list [--tenant <t>] [--json]       list keys (never the keys themselves)
  keys revoke <key id>                    revoke a key, at once also for a running server
  ledger-key rotate [--db <file>] [--keys-dir <dir>] [--overlap 7d] [--json]
                                          new ledger signing key, no downtime; the old one co-signs
                                          checkpoints for the overlap (docs/trust.md)
  ledger-key retire <kid> [--db <file>]   end a retiring key's overlap now
  ledger-key list [--db <file>] [--json]  ledger keys with status and validity window
  check [--deep] [--json] [--db <file>]   verify the database: chains, hashes, Merkle nodes, tiles, checkpoints
                                          (exit 0 clean, 1 problems, 2 unreadable; docs/operations.md)
  backup <file>                           consistent online backup of the ledger (with its high-water record)
  restore <file> [--force]                put a backup in place (server stopped; refuses to go behind what
                                          was published unless --force; docs/operations.md)
  witness serve --port <p> --db <file> --key <file> --log <origin> <vkey>… [--host 127.0.0.1]
                                          run a C2SP tlog-witness; <origin> may be "<prefix>/*"
                                          (docs/witness.md)
  witness keygen --key <file> --name <name>
                                          create a witness key (0600) and print its vkey
  tsa serve --port <p> --dir <dir> [--host 127.0.0.1]
                                          run a test RFC 3161 time-stamp authority (NOT for production)
  run <attest.yaml> [--cache DIR] [--workspace DIR] [--key-file F] [--sandbox] [--var N=V]…
      [--ledger URL --key K --stream ID] [--out receipt.json]
                                          run a pipeline locally, sign its receipt, optionally append
                                          it to a ledger (exit 0 completed, 1 failed; docs/runner.md)
  verify <file> [--policy policy.txt] [--trust keys.json] [--json]
                                          verify a bundle, receipt, stream, checkpoint, consistency
                                          proof, fork evidence or v1 proof offline (exit 0 valid,
                                          1 invalid, 2 unreadable/bad usage, 3 pending;
                                          see docs/verify.md)
`;

/** A specific one-line complaint plus the usage: exit 2. */
function usageError(message: string): number {
  process.stderr.write(`${message}\n\n${USAGE}`);
  return 2;
}

function packageVersion(): string {
  const pkg = JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

async function main(argv: string[]): Promise<number> {
  const [cmd] = argv;
  if (cmd === '--version' || cmd === '-v' || cmd === 'version') {
    console.log(`proofstream ${packageVersion()}`);
    return 0;
  }
  if (cmd === undefined || cmd === 'help' || cmd === '--help' || cmd === '-h') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (cmd === 'run') return (await import('./run.js')).runCommand(argv.slice(1)); // pipelines (#16), docs/runner.md
  if (cmd === 'verify') {
    const { verifyCommand } = await import('./verify.js');
    return verifyCommand(argv.slice(1));
  }
  if (cmd === 'witness') {
    // C2SP tlog-witness: `witness serve …`, `witness keygen …` (src/cli/witness.ts)
    const { witnessCommand } = await import('./witness.js');
    return witnessCommand(argv.slice(1));
  }
  if (cmd === 'tsa') {
    // RFC 3161 test time-stamp authority: `tsa serve …` (src/cli/tsa.ts)
    const { tsaCommand } = await import('./tsa.js');
    return tsaCommand(argv.slice(1));
  }
  if (cmd === 'check') return (await import('./check.js')).checkCommand(argv.slice(1));
  if (cmd === 'backup' || cmd === 'restore') return (await import('./backup.js')).backupCommand(argv);
  if (cmd === 'serve') {
    const unknown = argv.slice(1).find((a) => a !== '--allow-rollback');
    if (unknown !== undefined) return usageError(`proofstream serve: unknown option ${JSON.stringify(unknown)}`);
    const { serveCommand } = await import('./serve.js');
    await serveCommand(argv.slice(1));
    return -1; // keep running
  }
  if (cmd === 'ledger-key') return (await import('./ledger-key.js')).ledgerKeyCommand(argv.slice(1), usageError); // rotate | retire | list
  if (cmd === 'keys') return (await import('./keys.js')).keysCommand(argv.slice(1), usageError); // create | list | revoke
  return usageError(`proofstream: unknown command ${JSON.stringify(cmd)}`);
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (e) => {
    console.error(`proofstream: ${(e as Error).message}`);
    process.exitCode = 2;
  },
);
