// `proofstream collectors add | list | revoke`: the Ed25519 keys of a tenant's client-side collectors, on the database
// PROOFSTREAM_DATA_DIR names (docs/cicd.md "Collector batches"). Safe while the server runs: it reads a key's row for
// every batch, so a revocation committed here refuses the next batch signed with it.
import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { CollectorKeyFormatError, CollectorKeys, parseCollectorPublicKey, type CollectorKeyView } from '../cicd/collectors.js';
import { loadConfig, storeName, storeTarget } from '../config.js';
import { Store } from '../store/index.js';

export const COLLECTORS_USAGE = `usage:
  proofstream collectors add --tenant <t> (--public-key <file|base64|hex> | --generate <private key file>) [--name <label>] [--json]
        register a collector's Ed25519 public key in the tenant and print its key id (col_…, derived from the key).
        --public-key: a PEM (SPKI) file, or the key as 64 hex digits or base64 (of the 32 raw bytes or the SPKI DER).
        --generate: make a new key pair, write the private key (PKCS#8 PEM, mode 0600) to the file, which must not exist.
  proofstream collectors list [--tenant <t>] [--json]
        every collector key: key id, tenant, name, public key, created, revoked
  proofstream collectors revoke <key id> [--tenant <t>]
        revoke a key; batches signed with it are refused (422 COLLECTOR_REVOKED) from then on
`;

function fail(message: string): number {
  process.stderr.write(`proofstream collectors: ${message}\n`);
  return 2;
}

function withStore<T>(fn: (store: Store, keys: CollectorKeys) => T): T | number {
  const config = loadConfig();
  const { dbPath } = config;
  // A collector key belongs to a tenant of an existing ledger: never start a new database for one.
  if (!config.databaseUrl && !fs.existsSync(dbPath)) return fail(`no database at ${dbPath}; point at the ledger's with PROOFSTREAM_DATA_DIR=<dir> (or PROOFSTREAM_DB=<file>)`);
  console.error(`proofstream: database ${storeName(config)}`);
  const store = Store.open(storeTarget(config));
  try {
    return fn(store, new CollectorKeys(store));
  } finally {
    store.close();
  }
}

export async function collectorsCommand(argv: string[], usageError: (message: string) => number): Promise<number> {
  const [sub, ...rest] = argv;
  try {
    if (sub === 'add') return add(rest, usageError);
    if (sub === 'list') return list(rest);
    if (sub === 'revoke') return revoke(rest);
  } catch (e) {
    if (e instanceof CollectorKeyFormatError) return fail(e.message);
    if ((e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) return usageError(`proofstream collectors ${sub}: ${(e as Error).message}`);
    throw e;
  }
  return usageError(`proofstream collectors: unknown subcommand ${JSON.stringify(sub ?? '')}\n${COLLECTORS_USAGE}`);
}

function add(args: string[], usageError: (message: string) => number): number {
  const { values } = parseArgs({
    args,
    options: {
      tenant: { type: 'string' },
      'public-key': { type: 'string' },
      generate: { type: 'string' },
      name: { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  if (!values.tenant) return usageError('proofstream collectors add: missing --tenant <name>');
  if ((values['public-key'] === undefined) === (values.generate === undefined)) {
    return usageError('proofstream collectors add: give exactly one of --public-key <file|base64|hex> and --generate <private key file>');
  }
  let pub: Uint8Array;
  let privateKeyPem: string | null = null;
  if (values.generate !== undefined) {
    if (fs.existsSync(values.generate)) return fail(`${values.generate} exists already: --generate never overwrites a key`);
    const pair = generateKeyPairSync('ed25519');
    privateKeyPem = pair.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
    pub = parseCollectorPublicKey(pair.publicKey.export({ format: 'pem', type: 'spki' }) as string);
  } else {
    const given = values['public-key']!;
    // A file when one exists at that path (PEM, or the key as text); otherwise the value itself.
    const text = fs.existsSync(given) && fs.statSync(given).isFile() ? fs.readFileSync(given, 'utf8') : given;
    pub = parseCollectorPublicKey(text);
  }
  return withStore((store, keys) => {
    const tenant = store.tenancy.tenantByName(values.tenant!);
    if (!tenant) return fail(`no tenant named ${JSON.stringify(values.tenant)} (see: proofstream keys list)`);
    if (privateKeyPem !== null) {
      // 'wx': created here with 0600, never an existing file (checked above too, but a race must not overwrite).
      fs.writeFileSync(values.generate!, privateKeyPem, { mode: 0o600, flag: 'wx' });
    }
    const r = keys.add(tenant.id, pub, values.name ?? null);
    if (values.json) console.log(JSON.stringify({ ...r.key, created: r.created, private_key_file: values.generate ?? null }));
    else {
      console.log(r.key.key_id);
      console.error(
        r.created
          ? `registered collector key ${r.key.key_id} for tenant ${tenant.name} (${tenant.id})${values.generate ? `; private key written to ${values.generate} (0600)` : ''}`
          : `collector key ${r.key.key_id} was registered already for tenant ${tenant.name}${r.key.revoked_at ? ` (revoked at ${r.key.revoked_at})` : ''}`,
      );
    }
    return 0;
  });
}

function list(args: string[]): number {
  const { values } = parseArgs({ args, options: { tenant: { type: 'string' }, json: { type: 'boolean' } } });
  return withStore((store, keys) => {
    let tenantId: string | undefined;
    if (values.tenant !== undefined) {
      tenantId = store.tenancy.tenantByName(values.tenant)?.id;
      if (!tenantId) return fail(`no tenant named ${JSON.stringify(values.tenant)}`);
    }
    const rows = keys.list(tenantId);
    if (values.json) console.log(JSON.stringify({ collector_keys: rows }));
    else console.log(table(store, rows));
    return 0;
  });
}

function table(store: Store, rows: CollectorKeyView[]): string {
  const head = ['KEY ID', 'TENANT', 'NAME', 'PUBLIC KEY', 'CREATED', 'REVOKED'];
  const body = rows.map((k) => [k.key_id, store.tenancy.tenantById(k.tenant_id)?.name ?? k.tenant_id, k.name ?? '-', k.public_key, k.created_at, k.revoked_at ?? '-']);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  return [head, ...body].map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

function revoke(args: string[]): number {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { tenant: { type: 'string' } } });
  if (positionals.length !== 1) return fail(`revoke takes one key id\n${COLLECTORS_USAGE}`);
  const keyId = positionals[0]!;
  return withStore((store, keys) => {
    let rows = store.collectors.keysById(keyId);
    if (values.tenant !== undefined) {
      const t = store.tenancy.tenantByName(values.tenant);
      rows = rows.filter((r) => r.tenantId === t?.id);
    }
    if (rows.length === 0) return fail(`no collector key ${JSON.stringify(keyId)}${values.tenant ? ` in tenant ${values.tenant}` : ''} (see: proofstream collectors list)`);
    // One key may be registered by several tenants: revoking it in all of them needs the operator to say which.
    if (rows.length > 1) return fail(`${keyId} is registered by ${rows.length} tenants: name one with --tenant <t>`);
    const was = rows[0]!;
    const now = keys.revoke(was.tenantId, keyId)!;
    if (was.revokedAt) console.error(`${keyId} was already revoked at ${was.revokedAt}`);
    else console.error(`revoked collector key ${keyId} at ${now.revoked_at}`);
    return 0;
  });
}
