// `proofstream witness …`: run a C2SP tlog-witness, or create its key. See docs/witness.md.
import { generateWitnessKey, WitnessKeyError } from '../witness/keys.js';
import { startWitnessServer, WitnessConfigError, type LogConfig } from '../witness/server.js';

const USAGE = `usage:
  proofstream witness serve --port <p> --db <file> --key <file> --log <origin> <vkey>… [--log …] [--host 127.0.0.1]
      run a C2SP tlog-witness (POST /add-checkpoint). <origin> may be a wildcard <prefix>/* (docs/witness.md).
      Prints "witness listening on http://<host>:<port>" once listening (--port 0 picks a free port).
  proofstream witness keygen --key <file> --name <name>
      create a witness key file (mode 0600, never overwritten) and print its verifier key
`;

class UsageError extends Error {}

interface Parsed {
  values: Map<string, string>;
  logs: LogConfig[];
}

/** Parses `--flag value` / `--flag=value` options; `--log` takes an origin and one or more vkeys. */
function parseFlags(args: string[], allowed: readonly string[], allowLog: boolean): Parsed {
  const values = new Map<string, string>();
  const logs: LogConfig[] = [];
  let i = 0;
  while (i < args.length) {
    const arg = args[i]!;
    if (!arg.startsWith('--')) throw new UsageError(`unexpected argument ${JSON.stringify(arg)}`);
    if (allowLog && arg === '--log') {
      const origin = args[i + 1];
      if (origin === undefined || origin.startsWith('--')) throw new UsageError('--log needs an origin and at least one vkey');
      i += 2;
      const vkeys: string[] = [];
      while (i < args.length && !args[i]!.startsWith('--')) vkeys.push(args[i++]!);
      if (vkeys.length === 0) throw new UsageError(`--log ${origin} needs at least one vkey`);
      logs.push({ origin, vkeys });
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
    if (!allowed.includes(name)) throw new UsageError(`unknown option --${name}`);
    let value: string | undefined;
    if (eq >= 0) {
      value = arg.slice(eq + 1);
      i += 1;
    } else {
      value = args[i + 1];
      if (value === undefined || value.startsWith('--')) throw new UsageError(`--${name} needs a value`);
      i += 2;
    }
    if (values.has(name)) throw new UsageError(`--${name} given twice`);
    values.set(name, value);
  }
  return { values, logs };
}

function required(p: Parsed, name: string): string {
  const v = p.values.get(name);
  if (v === undefined || v === '') throw new UsageError(`--${name} is required`);
  return v;
}

async function serveWitness(args: string[]): Promise<number> {
  const p = parseFlags(args, ['port', 'db', 'key', 'host'], true);
  const portText = required(p, 'port');
  if (!/^[0-9]{1,5}$/.test(portText) || Number(portText) > 65535) throw new UsageError('--port must be 0–65535');
  const dbPath = required(p, 'db');
  const keyFile = required(p, 'key');
  const host = p.values.get('host') ?? '127.0.0.1';
  if (p.logs.length === 0) throw new UsageError('at least one --log <origin> <vkey>… is required');
  let w;
  try {
    w = await startWitnessServer({ host, port: Number(portText), dbPath, keyFile, logs: p.logs });
  } catch (e) {
    if (e instanceof WitnessConfigError) throw new UsageError(e.message);
    throw e;
  }
  const shown = host.includes(':') ? `[${host}]` : host;
  // One machine-readable line: tests and scripts wait for it.
  console.log(`witness listening on http://${shown}:${w.port}`);
  console.log(`witness ${w.key.name} (vkey ${w.key.vkey}), db ${dbPath}, logs ${p.logs.map((l) => l.origin).join(' ')}`);
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    setTimeout(() => process.exit(0), 5000).unref();
    void w.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  return -1; // keep running
}

function keygen(args: string[]): number {
  const p = parseFlags(args, ['key', 'name'], false);
  const file = required(p, 'key');
  const name = required(p, 'name');
  try {
    const k = generateWitnessKey(file, name);
    console.log(k.vkey);
    return 0;
  } catch (e) {
    if (e instanceof WitnessKeyError) {
      process.stderr.write(`proofstream witness keygen: ${e.message}\n`);
      return e.code === 'KEY_INVALID_NAME' ? 2 : 1;
    }
    throw e;
  }
}

export async function witnessCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  try {
    if (sub === 'serve') return await serveWitness(rest);
    if (sub === 'keygen') return keygen(rest);
    if (sub === undefined || sub === 'help' || sub === '--help') {
      process.stdout.write(USAGE);
      return sub === undefined ? 2 : 0;
    }
    throw new UsageError(`unknown witness command ${JSON.stringify(sub)}`);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`proofstream witness: ${e.message}\n${USAGE}`);
      return 2;
    }
    throw e;
  }
}
