// A C2SP tlog-witness (c2sp.org/tlog-witness) over HTTP: POST /add-checkpoint, cosigning checkpoints of
// configured logs with a tlog-cosignature/v1 Ed25519 key. See docs/witness.md.
//
// Request handling, in order (each step's failure is the status in brackets):
//   1. body ≤ 1 MiB [413], parsed as `old N\n` + ≤ 63 base64 hashes + empty line + signed note [400]
//   2. the note parses and its text is a checkpoint [400]
//   3. the origin is configured, exactly or by a `<prefix>/*` wildcard [404]
//   4. a trusted log key signed it and no trusted key's signature fails [403]
//   5. old ≤ checkpoint size [400]
//   6. a size-0 checkpoint has the empty-tree root; old 0 comes with an empty proof [422]
//   7. atomically (WitnessStore.advance): old == latest cosigned size [409 + `<size>\n`, text/x.tlog.size];
//      same size ⇒ same root, else the consistency proof verifies [422]; record the new checkpoint
//   8. cosign (cosignature/v1, current time) [200 + signature line]
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { bytesEqual } from '../protocol/bytes.js';
import { parseCheckpoint } from '../protocol/checkpoint.js';
import { EMPTY_ROOT } from '../protocol/merkle.js';
import {
  ED25519_TYPE,
  isValidKeyName,
  keyId,
  parseNote,
  parseVerifierKey,
  signNoteCosignatureV1,
  verifyNote,
  type VerifierKey,
} from '../protocol/note.js';
import { formatCosignatureResponse, formatSizeResponse, parseAddCheckpointRequest, TLOG_SIZE_CONTENT_TYPE } from '../protocol/tlog-witness.js';
import { loadWitnessKey, type WitnessKey } from './keys.js';
import { WitnessStore } from './store.js';

/** Largest accepted add-checkpoint body (the spec sets no limit; a checkpoint note is a few hundred bytes). */
export const MAX_REQUEST_BYTES = 1 << 20;

/** One `--log <origin> <vkey>…` entry. `origin` is either an exact origin or a wildcard `<prefix>/*`. */
export interface LogConfig {
  origin: string;
  vkeys: string[];
}

/** Thrown for invalid log configuration (bad origin pattern, bad vkey, name mismatch, wrong key type). */
export class WitnessConfigError extends Error {
  override name = 'WitnessConfigError';
}

/** Resolves a checkpoint origin to the log verifier keys trusted for it, or undefined if unknown (→ 404). */
export interface LogResolver {
  resolve(origin: string): VerifierKey[] | undefined;
  /** The configured origins and patterns, for the status endpoint. */
  readonly patterns: string[];
}

/**
 * Compiles `--log` entries.
 *  - Exact origin: each vkey is used as given; it must be an Ed25519 (type 0x01) vkey named exactly `origin`.
 *  - Wildcard `<prefix>/*`: matches any origin `<prefix>/<rest>` with non-empty `rest`, where the whole
 *    origin is a valid key name (no whitespace, no '+'). Each vkey (type 0x01, any name) only supplies its
 *    Ed25519 public key; the trusted key for a concrete origin is (name = origin, type 0x01, that public
 *    key, key ID = keyId(origin, 0x01, pub)) — how the ledger signs one origin per stream.
 * An exact origin wins over wildcards; among wildcards, the longest prefix wins.
 */
export function compileLogs(configs: readonly LogConfig[]): LogResolver {
  const exact = new Map<string, VerifierKey[]>();
  const wildcards: { prefix: string; publicKeys: Uint8Array[] }[] = [];
  for (const { origin, vkeys } of configs) {
    if (vkeys.length === 0) throw new WitnessConfigError(`--log ${origin}: at least one vkey is required`);
    const keys = vkeys.map((v) => {
      let k: VerifierKey;
      try {
        k = parseVerifierKey(v);
      } catch (e) {
        throw new WitnessConfigError(`--log ${origin}: invalid vkey ${JSON.stringify(v)}: ${(e as Error).message}`);
      }
      if (k.type !== ED25519_TYPE) throw new WitnessConfigError(`--log ${origin}: vkey ${k.name} is not an Ed25519 (type 0x01) key`);
      return k;
    });
    if (origin.endsWith('/*')) {
      const prefix = origin.slice(0, -2);
      if (!isValidKeyName(prefix) || prefix.includes('*')) throw new WitnessConfigError(`--log ${origin}: invalid wildcard prefix`);
      const existing = wildcards.find((w) => w.prefix === prefix);
      if (existing) existing.publicKeys.push(...keys.map((k) => k.publicKey));
      else wildcards.push({ prefix, publicKeys: keys.map((k) => k.publicKey) });
    } else {
      if (!isValidKeyName(origin) || origin.includes('*')) throw new WitnessConfigError(`--log ${origin}: invalid origin`);
      for (const k of keys) {
        if (k.name !== origin) throw new WitnessConfigError(`--log ${origin}: vkey name ${k.name} does not match the origin`);
      }
      exact.set(origin, [...(exact.get(origin) ?? []), ...keys]);
    }
  }
  wildcards.sort((a, b) => b.prefix.length - a.prefix.length);
  const patterns = [...exact.keys(), ...wildcards.map((w) => `${w.prefix}/*`)];
  return {
    patterns,
    resolve(origin: string): VerifierKey[] | undefined {
      const e = exact.get(origin);
      if (e) return e;
      if (!isValidKeyName(origin)) return undefined;
      const w = wildcards.find((w) => origin.length > w.prefix.length + 1 && origin.startsWith(`${w.prefix}/`));
      if (!w) return undefined;
      return w.publicKeys.map((publicKey) => ({ name: origin, keyId: keyId(origin, ED25519_TYPE, publicKey), type: ED25519_TYPE, publicKey }));
    },
  };
}

export interface WitnessAppOptions {
  store: WitnessStore;
  key: WitnessKey;
  logs: LogResolver;
  /** Clock for cosignature timestamps (ms since the epoch); Date.now by default. */
  now?: () => number;
}

const utf8Fatal = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The witness HTTP app (hono). */
export function createWitnessApp(opts: WitnessAppOptions): Hono {
  const { store, key, logs } = opts;
  const now = opts.now ?? Date.now;
  const app = new Hono();

  const status = (c: { json: (o: unknown) => Response }) =>
    c.json({ status: 'ok', role: 'tlog-witness', name: key.name, vkey: key.vkey, logs: logs.patterns });
  app.get('/', status);
  app.get('/health', status);

  app.post(
    '/add-checkpoint',
    // The unread rest of the body is not drained: close the connection so clients do not reuse it.
    bodyLimit({ maxSize: MAX_REQUEST_BYTES, onError: (c) => c.text('request body too large\n', 413, { Connection: 'close' }) }),
    async (c) => {
      const bad = (status: 400 | 403 | 404 | 422, msg: string) => c.text(`${msg}\n`, status);
      let body: string;
      try {
        body = utf8Fatal.decode(await c.req.arrayBuffer());
      } catch {
        return bad(400, 'request body is not valid UTF-8');
      }
      let req;
      let text: string;
      let cp;
      try {
        req = parseAddCheckpointRequest(body);
        text = parseNote(req.note).text;
        cp = parseCheckpoint(text);
      } catch (e) {
        return bad(400, `malformed request: ${(e as Error).message}`);
      }
      const keys = logs.resolve(cp.origin);
      if (!keys) return bad(404, 'unknown log origin');
      const v = await verifyNote(req.note, keys);
      if (!v.ok) {
        return bad(403, v.failed.length > 0 ? 'a trusted log key signature does not verify' : 'no signature from a trusted log key');
      }
      if (req.old > cp.size) return bad(400, 'old size is larger than the checkpoint size');
      if (cp.size === 0 && !bytesEqual(cp.rootHash, EMPTY_ROOT)) return bad(422, 'a size-0 checkpoint must have the empty-tree root');
      if (req.old === 0 && req.proof.length > 0) return bad(422, 'the consistency proof must be empty when old is 0');
      const r = store.advance({ origin: cp.origin, old: req.old, size: cp.size, rootHash: cp.rootHash, proof: req.proof, checkpoint: text });
      if (r.kind === 'conflict') return c.body(formatSizeResponse(r.size), 409, { 'Content-Type': TLOG_SIZE_CONTENT_TYPE });
      if (r.kind === 'inconsistent') {
        return bad(422, r.reason === 'root_mismatch' ? 'same size as the latest cosigned checkpoint but a different root' : 'consistency proof does not verify');
      }
      const time = Math.floor(now() / 1000);
      const sig = await signNoteCosignatureV1(text, key.name, key.publicKey, time, key.sign);
      return c.body(formatCosignatureResponse([sig]), 200, { 'Content-Type': 'text/plain; charset=utf-8' });
    },
  );
  app.all('/add-checkpoint', (c) => c.text('use POST\n', 405, { Allow: 'POST' }));
  return app;
}

export interface WitnessServerOptions {
  host: string;
  port: number;
  dbPath: string;
  keyFile: string;
  logs: readonly LogConfig[];
}

export interface RunningWitness {
  server: ServerType;
  port: number;
  key: WitnessKey;
  store: WitnessStore;
  /** Stops accepting connections, waits for in-flight requests, closes the database. */
  close(): Promise<void>;
}

/** Loads the key, opens the database, compiles the log configuration and listens. */
export async function startWitnessServer(opts: WitnessServerOptions): Promise<RunningWitness> {
  const logs = compileLogs(opts.logs);
  const key = loadWitnessKey(opts.keyFile);
  const store = WitnessStore.open(opts.dbPath);
  const app = createWitnessApp({ store, key, logs });
  let server!: ServerType;
  let info: AddressInfo;
  try {
    info = await new Promise<AddressInfo>((resolve, reject) => {
      server = serve({ fetch: app.fetch, hostname: opts.host, port: opts.port }, resolve);
      server.once('error', reject);
    });
  } catch (e) {
    store.close();
    throw e;
  }
  return {
    server,
    port: info.port,
    key,
    store,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          store.close();
          resolve();
        });
        (server as { closeIdleConnections?: () => void }).closeIdleConnections?.();
      }),
  };
}
