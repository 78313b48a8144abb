// `proofstream ledger-key rotate | retire | list`: the ledger's signing keys (docs/trust.md, "Rotating the ledger
// key"). Safe while the server runs: the change commits here and the server takes it up inside its next write
// transaction (PRAGMA data_version, src/ledger/keyring.ts), with no restart.
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_LEDGER_KEY_OVERLAP, loadConfig, parseOverlap, storeName, storeTarget } from '../config.js';
import { isPostgresUrl } from '../store/db.js';
import { KeyRotationError, keyStatus, retireLedgerKey, rotateLedgerKey } from '../ledger/keyring.js';
import { Store } from '../store/index.js';

export const LEDGER_KEY_USAGE = `usage:
  proofstream ledger-key rotate [--db <file>] [--keys-dir <dir>] [--overlap <duration>] [--json]
        create a new ledger signing key; it signs every receipt and checkpoint from now on, and the key it replaces
        co-signs checkpoints for the overlap (default ${DEFAULT_LEDGER_KEY_OVERLAP}, PROOFSTREAM_LEDGER_KEY_OVERLAP; 0 = none;
        90s, 12h, 7d …), then signs nothing. Works on a running server (no restart) and on a stopped one.
  proofstream ledger-key retire <kid> [--db <file>]
        end a retiring key's overlap now: later checkpoints carry only the active key's signature
  proofstream ledger-key list [--db <file>] [--json]
        every ledger key with its status and validity window
  The database is --db, else PROOFSTREAM_DB / PROOFSTREAM_DATA_DIR. New private keys go to --keys-dir, else
  PROOFSTREAM_LEDGER_KEYS_DIR, else ledger-keys/ beside the first key (PROOFSTREAM_SIGNING_KEY), or beside --db.
`;

function fail(message: string): number {
  process.stderr.write(`proofstream ledger-key: ${message}\n`);
  return 2;
}

/** The database to open (it must exist: a rotation on a fresh file would sign for nobody) and where new keys go. */
function locate(db: string | undefined, keysDir: string | undefined): { dbPath: string; keysDir: string } {
  const config = loadConfig();
  // --db names a SQLite file; without it DATABASE_URL (PostgreSQL) wins over the data directory's file.
  const dbPath = db !== undefined ? path.resolve(db) : storeTarget(config);
  const env = process.env;
  // --db alone: the keys go beside that database, as the default layout has them, not under this directory.
  const besideDb = db !== undefined && !env.PROOFSTREAM_LEDGER_KEYS_DIR && !env.PROOFSTREAM_SIGNING_KEY && !env.PROOFSTREAM_DATA_DIR;
  return { dbPath, keysDir: path.resolve(keysDir ?? (besideDb ? path.join(path.dirname(dbPath), 'ledger-keys') : config.ledgerKeysDir)) };
}

function withStore<T>(dbPath: string, fn: (store: Store) => T): T | number {
  if (!isPostgresUrl(dbPath) && !fs.existsSync(dbPath)) {
    return fail(`no database at ${dbPath}; point at the ledger's with --db <file>, PROOFSTREAM_DB=<file> or PROOFSTREAM_DATA_DIR=<dir>`);
  }
  console.error(`proofstream: database ${isPostgresUrl(dbPath) ? storeName({ dbPath, databaseUrl: dbPath }) : dbPath}`);
  const store = Store.open(dbPath);
  try {
    return fn(store);
  } finally {
    store.close();
  }
}

export async function ledgerKeyCommand(argv: string[], usageError: (message: string) => number): Promise<number> {
  const [sub, ...rest] = argv;
  try {
    if (sub === 'rotate') return rotate(rest);
    if (sub === 'retire') return retire(rest);
    if (sub === 'list') return list(rest);
  } catch (e) {
    if (e instanceof KeyRotationError) return fail(e.message);
    if ((e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) return usageError(`proofstream ledger-key ${sub}: ${(e as Error).message}`);
    throw e;
  }
  return usageError(`proofstream ledger-key: unknown subcommand ${JSON.stringify(sub ?? '')}`);
}

function rotate(args: string[]): number {
  const { values } = parseArgs({
    args,
    options: { db: { type: 'string' }, 'keys-dir': { type: 'string' }, overlap: { type: 'string' }, json: { type: 'boolean' } },
  });
  let overlapMs: number;
  try {
    overlapMs = values.overlap === undefined ? loadConfig().ledgerKeyOverlapMs : parseOverlap(values.overlap);
  } catch (e) {
    return fail((e as Error).message);
  }
  const { dbPath, keysDir } = locate(values.db, values['keys-dir']);
  return withStore(dbPath, (store) => {
    const r = rotateLedgerKey(store, keysDir, overlapMs);
    if (values.json) {
      console.log(
        JSON.stringify({
          database: dbPath,
          kid: r.next.kid,
          key_file: r.file,
          valid_from: r.next.validFrom,
          previous: r.previous.map((k) => ({ kid: k.kid, valid_until: k.validUntil, retired_at: k.retiredAt })),
        }),
      );
    } else {
      console.log(r.next.kid);
      console.error(`new ledger key ${r.next.kid} (private key ${r.file}) signs receipts and checkpoints from ${r.next.validFrom}`);
      for (const k of r.previous) {
        console.error(
          overlapMs > 0
            ? `${k.kid} is retiring: it co-signs checkpoints until ${k.retiredAt} (end it earlier: proofstream ledger-key retire ${k.kid}); its receipts stay valid up to ${k.validUntil}`
            : `${k.kid} is retired (no overlap); its receipts stay valid up to ${k.validUntil}`,
        );
      }
      console.error('a running server switches at its next write; witnesses and auditors: see docs/trust.md, "Rotating the ledger key"');
    }
    return 0;
  });
}

function retire(args: string[]): number {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { db: { type: 'string' } } });
  if (positionals.length !== 1) return fail(`retire takes one key id\n${LEDGER_KEY_USAGE}`);
  const { dbPath } = locate(values.db, undefined);
  return withStore(dbPath, (store) => {
    const { row, was } = retireLedgerKey(store, positionals[0]!);
    if (was === 'retired') console.error(`${row.kid} was already retired at ${row.retiredAt}`);
    else console.error(`retired ${row.kid} at ${row.retiredAt}: later checkpoints carry only the active key's signature`);
    return 0;
  });
}

function list(args: string[]): number {
  const { values } = parseArgs({ args, options: { db: { type: 'string' }, json: { type: 'boolean' } } });
  const { dbPath } = locate(values.db, undefined);
  return withStore(dbPath, (store) => {
    const now = new Date().toISOString();
    const keys = store.ledgerKeys.list().map((k) => ({
      kid: k.kid,
      status: keyStatus(k, now),
      public_key: k.publicKey,
      created_at: k.createdAt,
      valid_from: k.validFrom,
      valid_until: k.validUntil,
      retired_at: k.retiredAt,
    }));
    if (values.json) {
      console.log(JSON.stringify({ keys }));
      return 0;
    }
    const head = ['KID', 'STATUS', 'VALID_FROM', 'VALID_UNTIL', 'RETIRED_AT'];
    const rows = keys.map((k) => [k.kid, k.status, k.valid_from ?? '-', k.valid_until ?? '-', k.retired_at ?? '-']);
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    console.log([head, ...rows].map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n'));
    return 0;
  });
}
