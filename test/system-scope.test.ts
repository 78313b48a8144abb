// A key that is not tenant-wide sees only its own system's streams — and so only their packs and their witness
// status. Before this, GET /v2/audit/packs/{id} checked the tenant alone (a key of system B could read a pack of
// system A's stream by id) and GET /v2/witnesses listed every stream of the tenant.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeVerifierKey } from '../src/protocol/note.js';
import { loadOrCreateSigner } from '../src/ledger/signer.js';
import { BIN, client, idemKey, startServer, tempDir, type RunningServer } from './helpers/server.js';
import { waitFor } from './helpers/wait.js';
import { startWitness, type RunningWitnessProcess } from './helpers/witness.js';
import { knownDatabaseFor } from './helpers/pg-mode.js';

let srv: RunningServer;
let witness: RunningWitnessProcess;
let dataDir: string;

function cliKey(system: string, ...extra: string[]): string {
  const args = [BIN, 'keys', 'create', '--tenant', 'scope-t', '--system', system, '--json', ...extra];
  const out = execFileSync(process.execPath, args, { env: { ...process.env, PROOFSTREAM_DATA_DIR: dataDir, ...(knownDatabaseFor(dataDir) ? { DATABASE_URL: knownDatabaseFor(dataDir) } : {}) }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return JSON.parse(out).key;
}

beforeAll(async () => {
  const dir = tempDir('ps-sysscope-');
  dataDir = path.join(dir, 'ledger');
  const signer = loadOrCreateSigner(path.join(dataDir, 'signing-key.pem'));
  const logs = [{ origin: 'proofstream.localhost/*', vkeys: [encodeVerifierKey('proofstream.localhost/*', signer.publicKey)] }];
  witness = await startWitness({ logs, dir: path.join(dir, 'w1'), name: 'witness.test/scope' });
  srv = await startServer({
    dataDir,
    env: {
      PROOFSTREAM_WINDOW_MAX_EVENTS: '3',
      PROOFSTREAM_WINDOW_MAX_AGE_MS: '100',
      PROOFSTREAM_WITNESSES: JSON.stringify([{ name: witness.name, url: witness.url, vkey: witness.vkey }]),
      PROOFSTREAM_WITNESS_QUORUM: '1',
      PROOFSTREAM_RETRY_MAX_MS: '500',
    },
  });
}, 60_000);

afterAll(async () => {
  await Promise.all([srv?.stop(), witness?.stop()]);
});

describe('system keys and the evidence of other systems', () => {
  it("a pack and the witness status of system A's stream are not found for system B's key, open to a tenant-wide key", async () => {
    const a = client(srv.url, cliKey('alpha'));
    const b = client(srv.url, cliKey('beta'));
    const wide = client(srv.url, cliKey('ops', '--tenant-wide'));

    const s = await a('POST', '/v2/streams', { use_case: 'alpha evidence' });
    expect(s.status).toBe(201);
    const streamId: string = s.body.stream_id;
    const events = [1, 2, 3].map((n) => ({ source_ref: `r${n}`, event_type: 'scope.test', payload: { n } }));
    expect((await a('POST', `/v2/streams/${streamId}/events/batch`, { events }, { 'idempotency-key': idemKey() })).status).toBe(201);

    const pack = await waitFor(async () => {
      const r = await a('POST', '/v2/audit/packs', { stream_id: streamId, from_seq_no: 1, to_seq_no: 3 }, { 'idempotency-key': idemKey() });
      return r.status === 201 ? r.body : undefined;
    });
    const packPath = `/v2/audit/packs/${pack.pack_id ?? pack.manifest?.pack_id ?? pack.id}`;
    expect((await a('GET', packPath)).status).toBe(200);
    const refused = await b('GET', packPath);
    expect(refused.status).toBe(404);
    expect(refused.body.error.code).toBe('RESOURCE_NOT_FOUND');
    expect((await wide('GET', packPath)).status).toBe(200);

    const listed = async (call: typeof a) => {
      const r = await call('GET', '/v2/witnesses');
      expect(r.status).toBe(200);
      expect(r.body.witnesses).toHaveLength(1);
      expect(r.body.witnesses[0].streams_truncated).toBe(false);
      return r.body.witnesses[0].streams.map((x: { stream_id: string }) => x.stream_id) as string[];
    };
    await waitFor(async () => ((await listed(a)).includes(streamId) ? true : undefined));
    expect(await listed(wide)).toContain(streamId);
    expect(await listed(b)).not.toContain(streamId);
  }, 60_000);
});
