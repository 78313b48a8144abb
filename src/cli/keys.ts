// `proofstream keys create | list | revoke`: key lifecycle on the database PROOFSTREAM_DATA_DIR names. Safe while
// the server runs: a revocation commits in this process and the server sees it on its next request (PRAGMA
// data_version, src/ledger/tenancy.ts).
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { loadConfig, storeName, storeTarget } from '../config.js';
import { DEFAULT_SCOPES, DEFAULT_TIER, KeyPolicyError, parseExpiresIn, SCOPES, scopeProblem, Tenancy, TIERS, tierProblem, type KeyView } from '../ledger/tenancy.js';
import { Store } from '../store/index.js';

export const KEYS_USAGE = `usage:
  proofstream keys create --tenant <t> --system <s> [--scopes a,b,…] [--expires-in 30d] [--tenant-wide] [--tier <tier>] [--json]
        create a key and print it once. scopes: ${SCOPES.join(', ')}; default all but admin, events:erase and pipelines:execute.
        --tier: rate-limit tier, one of ${TIERS.join(', ')}; default ${DEFAULT_TIER} (docs/api.md "Rate limits").
        --expires-in: 90s, 15m, 12h, 30d (1m to 3650d); default never.
        --tenant-wide: act on every stream of the tenant; default only the system's own streams.
  proofstream keys list [--tenant <t>] [--json]
        every key (never the key or its hash): id, tenant, system, scopes, tier, prefix, created, expires, revoked, bootstrap
  proofstream keys revoke <key id>
        revoke a key; a running server refuses it from its next request
`;

function fail(message: string): number {
  process.stderr.write(`proofstream keys: ${message}\n`);
  return 2;
}

function withTenancy<T>(fn: (t: Tenancy, store: Store) => T): T {
  const config = loadConfig();
  console.error(`proofstream: database ${storeName(config)}`);
  const store = Store.open(storeTarget(config));
  try {
    return fn(new Tenancy(store), store);
  } finally {
    store.close();
  }
}

/** `keys create|list|revoke`; usageError prints a one-line error and the command's usage (exit 2). */
export async function keysCommand(argv: string[], usageError: (message: string) => number): Promise<number> {
  const [sub, ...rest] = argv;
  try {
    if (sub === 'create') return create(rest, usageError);
    if (sub === 'list') return list(rest);
    if (sub === 'revoke') return revoke(rest);
  } catch (e) {
    if (e instanceof KeyPolicyError) return fail(e.message);
    // parseArgs: unknown option, missing value
    if ((e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) return usageError(`proofstream keys ${sub}: ${(e as Error).message}`);
    throw e;
  }
  return usageError(`proofstream keys: unknown subcommand ${JSON.stringify(sub ?? '')}`);
}

function create(args: string[], usageError: (message: string) => number): number {
  const { values } = parseArgs({
    args,
    options: {
      tenant: { type: 'string' },
      system: { type: 'string' },
      scopes: { type: 'string' },
      'expires-in': { type: 'string' },
      'tenant-wide': { type: 'boolean' },
      tier: { type: 'string' },
      json: { type: 'boolean' },
      create: { type: 'boolean' },
    },
  });
  for (const flag of ['tenant', 'system'] as const) {
    if (!values[flag]) return usageError(`proofstream keys create: missing --${flag} <name>`);
  }
  // Only an absent --scopes means the default: `--scopes ,` or `--scopes ''` is a mistake, not a key with no scopes.
  const scopes = values.scopes === undefined ? [...DEFAULT_SCOPES] : values.scopes.split(',').map((s) => s.trim()).filter(Boolean);
  const tenantWide = values['tenant-wide'] ?? false;
  // Refused before the database is opened: a mistyped command leaves no file behind.
  const bad = scopeProblem(scopes);
  if (bad) return fail(bad);
  if (values['expires-in'] !== undefined) parseExpiresIn(values['expires-in']);
  const tier = values.tier ?? DEFAULT_TIER;
  const badTier = tierProblem(tier);
  if (badTier) return usageError(`proofstream keys create: --tier: ${badTier}`);
  // The default path is relative to the current directory: run from elsewhere it names a database that is not the
  // ledger's, and a key made there authorises nothing.
  const { dbPath, databaseUrl } = loadConfig();
  if (!values.create && !databaseUrl && !fs.existsSync(dbPath)) {
    return fail(
      `create: no database at ${dbPath}; point at the ledger's with PROOFSTREAM_DATA_DIR=<dir> ` +
        `(or PROOFSTREAM_DB=<file>), or pass --create to start a new one there`,
    );
  }
  return withTenancy((tenancy) => {
    const r = tenancy.createKey(values.tenant!, values.system!, { scopes, expiresIn: values['expires-in'], tenantWide, tier });
    if (values.json) {
      console.log(
        JSON.stringify({
          key: r.key,
          key_id: r.row.id,
          tenant_id: r.tenant.id,
          system_id: r.system.id,
          scopes,
          expires_at: r.row.expiresAt,
          tenant_wide: r.row.tenantWide,
          tier: r.row.tier,
        }),
      );
    } else {
      console.log(r.key);
      console.error(
        `created ${r.row.id} for tenant ${r.tenant.name} (${r.tenant.id}), system ${r.system.name} (${r.system.id}), scopes ${scopes.join(',')}, tier ${r.row.tier}` +
          `${tenantWide ? ', tenant-wide' : ''}${r.row.expiresAt ? `, expires ${r.row.expiresAt}` : ''}`,
      );
      console.error('this key is shown once and stored only as a hash');
    }
    return 0;
  });
}

function list(args: string[]): number {
  const { values } = parseArgs({ args, options: { tenant: { type: 'string' }, json: { type: 'boolean' } } });
  return withTenancy((tenancy, store) => {
    let tenantId: string | undefined;
    if (values.tenant !== undefined) {
      tenantId = store.tenancy.tenantByName(values.tenant)?.id;
      if (!tenantId) return fail(`no tenant named ${JSON.stringify(values.tenant)}`);
    }
    const keys = tenancy.listKeys(tenantId);
    if (values.json) console.log(JSON.stringify({ keys }));
    else console.log(table(keys));
    return 0;
  });
}

function table(keys: KeyView[]): string {
  const now = Date.now();
  const head = ['ID', 'TENANT', 'SYSTEM', 'SCOPES', 'TIER', 'PREFIX', 'CREATED', 'EXPIRES', 'REVOKED', 'BOOTSTRAP'];
  const rows = keys.map((k) => [
    k.id,
    k.tenant,
    k.system + (k.tenant_wide ? ' (tenant-wide)' : ''),
    k.scopes.join(','),
    k.tier,
    k.prefix + '…',
    k.created_at,
    k.expires_at ? k.expires_at + (Date.parse(k.expires_at) <= now ? ' (expired)' : '') : '-',
    k.revoked_at ?? '-',
    k.bootstrap ? 'yes' : 'no',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [head, ...rows].map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

function revoke(args: string[]): number {
  const { positionals } = parseArgs({ args, allowPositionals: true, options: {} });
  if (positionals.length !== 1) return fail(`revoke takes one key id\n${KEYS_USAGE}`);
  const id = positionals[0]!;
  return withTenancy((tenancy) => {
    const was = tenancy.describeKey(id);
    if (!was) return fail(`no key with id ${JSON.stringify(id)} (see: proofstream keys list)`);
    const now = tenancy.revokeKey(id)!;
    if (was.revoked_at) console.error(`${id} was already revoked at ${was.revoked_at}`);
    else console.error(`revoked ${id} (tenant ${now.tenant}, system ${now.system}) at ${now.revoked_at}`);
    return 0;
  });
}
