// The `proofstream` command.
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { Store } from '../store/index.js';
import { SCOPES, scopeProblem, Tenancy } from '../ledger/tenancy.js';

const USAGE = `usage: proofstream <command>

  --version, -v, version                  print the version

  serve                                   run the ledger (HOST, PORT, PROOFSTREAM_* env; see README)
  serve --allow-rollback                  start although the database is behind what was published
                                          (exit 3 without it; docs/operations.md)
  keys create --tenant <t> --system <s> [--scopes a,b,…] [--create]
                                          create a system key and print it once
                                          (scopes: ${SCOPES.join(', ')}; default all);
                                          the database must exist (PROOFSTREAM_DB, PROOFSTREAM_DATA_DIR)
                                          unless --create
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
  const [cmd, sub, ...rest] = argv;
  if (cmd === '--version' || cmd === '-v' || cmd === 'version') {
    console.log(`proofstream ${packageVersion()}`);
    return 0;
  }
  if (cmd === undefined || cmd === 'help' || cmd === '--help' || cmd === '-h') {
    process.stdout.write(USAGE);
    return 0;
  }
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
  if (cmd === 'serve') {
    const unknown = argv.slice(1).find((a) => a !== '--allow-rollback');
    if (unknown !== undefined) return usageError(`proofstream serve: unknown option ${JSON.stringify(unknown)}`);
    const { serveCommand } = await import('./serve.js');
    await serveCommand(argv.slice(1));
    return -1; // keep running
  }
  if (cmd === 'keys' && sub === 'create') return keysCreate(rest);
  if (cmd === 'keys') return usageError(`proofstream keys: unknown subcommand ${JSON.stringify(sub ?? '')}`);
  return usageError(`proofstream: unknown command ${JSON.stringify(cmd)}`);
}

function keysCreate(args: string[]): number {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        tenant: { type: 'string' },
        system: { type: 'string' },
        scopes: { type: 'string' },
        json: { type: 'boolean' },
        create: { type: 'boolean' },
      },
    }));
  } catch (e) {
    return usageError(`proofstream keys create: ${(e as Error).message}`);
  }
  for (const flag of ['tenant', 'system'] as const) {
    if (!values[flag]) return usageError(`proofstream keys create: missing --${flag} <name>`);
  }
  // Only an absent --scopes means "all": `--scopes ,` or `--scopes ''` is a mistake, not a key with no scopes.
  const scopes = values.scopes === undefined ? [...SCOPES] : values.scopes.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = scopeProblem(scopes);
  if (bad) {
    process.stderr.write(`proofstream keys create: ${bad}\n`);
    return 2;
  }
  const { dbPath } = loadConfig();
  // The path is relative to the current directory by default: run from elsewhere, it names a database that is not the
  // ledger's, and a key made there authorises nothing.
  if (!values.create && !fs.existsSync(dbPath)) {
    process.stderr.write(
      `proofstream keys create: no database at ${dbPath}; point at the ledger's with PROOFSTREAM_DATA_DIR=<dir> ` +
        `(or PROOFSTREAM_DB=<file>), or pass --create to start a new one there\n`,
    );
    return 2;
  }
  console.error(`proofstream: database ${dbPath}`);
  const store = Store.open(dbPath);
  try {
    const r = new Tenancy(store).createKey(values.tenant!, values.system!, scopes);
    if (values.json) {
      console.log(JSON.stringify({ key: r.key, key_id: r.row.id, tenant_id: r.tenant.id, system_id: r.system.id, scopes }));
    } else {
      console.log(r.key);
      console.error(`created ${r.row.id} for tenant ${r.tenant.name} (${r.tenant.id}), system ${r.system.name} (${r.system.id}), scopes ${scopes.join(',')}`);
      console.error('this key is shown once and stored only as a hash');
    }
  } finally {
    store.close();
  }
  return 0;
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
