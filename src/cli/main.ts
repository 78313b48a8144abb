// The `proofstream` command.
import { SCOPES } from '../ledger/tenancy.js';

const USAGE = `usage: proofstream <command>

  serve                                   run the ledger (HOST, PORT, PROOFSTREAM_* env; see README)
  serve --allow-rollback                  start although the database is behind what was published
                                          (exit 3 without it; docs/operations.md)
  keys create --tenant <t> --system <s> [--scopes a,b,…] [--expires-in 30d] [--tenant-wide]
                                          create a system key and print it once
                                          (scopes: ${SCOPES.join(', ')}; default all but admin)
  keys list [--tenant <t>] [--json]       list keys (never the keys themselves)
  keys revoke <key id>                    revoke a key, at once also for a running server
  witness serve --port <p> --db <file> --key <file> --log <origin> <vkey>… [--host 127.0.0.1]
                                          run a C2SP tlog-witness; <origin> may be "<prefix>/*"
                                          (docs/witness.md)
  witness keygen --key <file> --name <name>
                                          create a witness key (0600) and print its vkey
  tsa serve --port <p> --dir <dir> [--host 127.0.0.1]
                                          run a test RFC 3161 time-stamp authority (NOT for production)
  verify <file> [--policy policy.txt] [--trust keys.json] [--json]
                                          verify a bundle, receipt, stream, checkpoint, consistency
                                          proof, fork evidence or v1 proof offline (exit 0 valid,
                                          1 invalid, 2 unreadable/bad usage, 3 pending;
                                          see docs/verify.md)
`;

async function main(argv: string[]): Promise<number> {
  const [cmd, sub, ...rest] = argv;
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
    const { serveCommand } = await import('./serve.js');
    await serveCommand(argv.slice(1));
    return -1; // keep running
  }
  if (cmd === 'keys') return (await import('./keys.js')).keysCommand(argv.slice(1)); // create | list | revoke (src/cli/keys.ts)
  process.stderr.write(USAGE);
  return cmd === undefined || cmd === 'help' || cmd === '--help' ? 0 : 2;
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
