// Ledger signing-key rotation end to end (docs/trust.md, "Rotating the ledger key"): a real server appending while
// `proofstream ledger-key rotate` runs in another process on the same SQLite file, a real witness child process
// pinned to the OLD key and later re-pinned to the new one, and the offline verifier (`proofstream verify`,
// POST /v2/verify) on receipts, checkpoints and packs from both sides of the rotation.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytesToHex, hexToBytes } from '../src/protocol/bytes.js';
import { encodeVerifierKey, parseNote } from '../src/protocol/note.js';
import { logKeysFor, parsePolicy } from '../src/protocol/policy.js';
import { receiptMessage } from '../src/protocol/receipt.js';
import { loadOrCreateSigner, loadSigner } from '../src/ledger/signer.js';
import { client, idemKey, runCli, startServer, tempDir, type RunningServer } from './helpers/server.js';
import { waitFor } from './helpers/wait.js';
import { storeName } from '../src/config.js';
import { knownDatabaseFor } from './helpers/pg-mode.js';
import { startWitness, type RunningWitnessProcess } from './helpers/witness.js';

const ORIGIN = 'proofstream.localhost';
const dir = tempDir('ps-rotate-');
const dataDir = path.join(dir, 'ledger');
const witnessDir = path.join(dir, 'witness');

let srv: RunningServer;
let witness: RunningWitnessProcess;
let call: ReturnType<typeof client>;
let streamId: string;
let oldKid: string;
let oldPub: Uint8Array;
let newKid: string;
let newPub: Uint8Array;
/** every receipt the server answered, in seq order */
const receipts: any[] = [];
/** a pack built before the rotation */
let oldPackFile: string;

const env = { PROOFSTREAM_DATA_DIR: dataDir };
const serverEnv = () => ({
  PROOFSTREAM_WINDOW_MAX_EVENTS: '5',
  PROOFSTREAM_WINDOW_MAX_AGE_MS: '100',
  PROOFSTREAM_WITNESSES: JSON.stringify([{ name: witness.name, url: witness.url, vkey: witness.vkey }]),
  PROOFSTREAM_WITNESS_QUORUM: '1',
  PROOFSTREAM_RETRY_MAX_MS: '300',
});

const policyPinning = (pub: Uint8Array) => `log ${ORIGIN}/* ${encodeVerifierKey(`${ORIGIN}/*`, pub)}\nquorum none\n`;

async function append(tag: string): Promise<any> {
  const r = await call('POST', `/v2/streams/${streamId}/events`, { source_ref: tag, event_type: 'rotation-test', payload: { tag } }, { 'idempotency-key': idemKey() });
  expect(r.status, r.text).toBe(201);
  receipts.push(r.body);
  return r.body;
}

/** The latest checkpoint once it covers the stream's head and the witness cosigned it. */
async function latestCosigned(): Promise<any> {
  const head = receipts[receipts.length - 1].seq_no;
  return waitFor(async () => {
    const c = (await call('GET', `/v2/streams/${streamId}/checkpoints/latest`)).body;
    return c?.tree_size === head && c.witness_quorum?.met ? c : undefined;
  }, 30_000);
}

async function verifyHttp(object: unknown, trust: { policy?: string; trusted_keys?: unknown } = {}): Promise<any> {
  const r = await call('POST', '/v2/verify', { object, ...trust });
  expect(r.status, r.text).toBe(200);
  return r.body;
}

const codes = (report: any): string[] => report.problems.map((p: any) => p.code);

async function packFile(name: string, from: number, to: number): Promise<string> {
  let pack: any;
  await waitFor(async () => {
    const r = await call('POST', '/v2/audit/packs', { stream_id: streamId, from_seq_no: from, to_seq_no: to }, { 'idempotency-key': idemKey() });
    if (r.status === 201) pack = r.body;
    else expect(r.body.error.code).toBe('EVIDENCE_PENDING');
    return pack;
  }, 30_000);
  const file = path.join(dir, name);
  fs.writeFileSync(file, JSON.stringify(pack));
  return file;
}

beforeAll(async () => {
  // The first ledger key exists before the witness starts, so the witness can be pinned to it.
  const first = loadOrCreateSigner(path.join(dataDir, 'signing-key.pem'));
  oldKid = first.kid;
  oldPub = first.publicKey;
  witness = await startWitness({ logs: [{ origin: `${ORIGIN}/*`, vkeys: [encodeVerifierKey(`${ORIGIN}/*`, oldPub)] }], dir: witnessDir, name: 'witness.test/rot' });
  srv = await startServer({ dataDir, env: serverEnv() });
  call = client(srv.url, srv.key);
  const s = await call('POST', '/v2/streams', { use_case: 'rotation' }, { 'idempotency-key': idemKey() });
  expect(s.status).toBe(201);
  streamId = s.body.stream_id;
}, 60_000);

afterAll(async () => {
  await Promise.all([srv?.stop(), witness?.stop()]);
});

describe('ledger-key rotate on a running server', () => {
  it('before any rotation: one active key, cosigned by the witness pinned to it, and a pack', async () => {
    for (let i = 0; i < 5; i++) await append(`before-${i}`);
    const keys = (await call('GET', '/v2/keys')).body.keys;
    expect(keys).toEqual([expect.objectContaining({ kid: oldKid, status: 'active', valid_from: null, valid_until: null, retired_at: null, current: true })]);
    await latestCosigned();
    oldPackFile = await packFile('old-pack.json', 1, 5);
  }, 60_000);

  it('rotates while appends keep being answered; receipts switch to the new key at one point', async () => {
    let stop = false;
    let answered = 0;
    const loop = (async () => {
      while (!stop) {
        await append(`during-${answered}`);
        answered++;
      }
    })();
    await waitFor(async () => (answered >= 3 ? true : undefined));
    const rot = await runCli(['ledger-key', 'rotate', '--overlap', '1h'], env);
    expect(rot.code, rot.stderr).toBe(0);
    // the database as messages name it: the file, or on PostgreSQL the URL without its password
    expect(rot.stderr).toContain(`proofstream: database ${storeName({ dbPath: path.join(dataDir, 'proofstream.db'), databaseUrl: knownDatabaseFor(dataDir) })}\n`);
    newKid = rot.stdout.trim();
    expect(newKid).toMatch(/^ps-ed25519-[0-9a-f]{16}$/);
    expect(newKid).not.toBe(oldKid);
    expect(rot.stderr).toContain(`${oldKid} is retiring`);
    // keep appending until the server has signed with the new key, with no failed append in between
    await waitFor(async () => (receipts[receipts.length - 1].receipt.kid === newKid ? true : undefined), 15_000);
    const more = answered + 3;
    await waitFor(async () => (answered >= more ? true : undefined));
    stop = true;
    await loop;

    const kids = receipts.map((r) => r.receipt.kid);
    const firstNew = kids.indexOf(newKid);
    expect(firstNew).toBeGreaterThan(5);
    expect(kids.slice(0, firstNew).every((k) => k === oldKid)).toBe(true);
    expect(kids.slice(firstNew).every((k) => k === newKid)).toBe(true);
    newPub = loadSigner(path.join(dataDir, 'ledger-keys', `${newKid}.pem`)).publicKey;

    const keys = (await call('GET', '/v2/keys')).body.keys;
    const old = keys.find((k: any) => k.kid === oldKid);
    const cur = keys.find((k: any) => k.kid === newKid);
    expect(old).toMatchObject({ status: 'retiring', valid_from: null, current: false });
    expect(cur).toMatchObject({ status: 'active', public_key: bytesToHex(newPub), valid_until: null, retired_at: null, current: true });
    expect(old.valid_until).toBe(cur.valid_from);
    expect(Date.parse(old.retired_at) - Date.parse(old.valid_until)).toBe(3600_000);
    // each receipt lies inside its key's window
    for (const r of receipts) {
      const k = r.receipt.kid === oldKid ? old : cur;
      if (k.valid_from) expect(r.received_at >= k.valid_from).toBe(true);
      if (k.valid_until) expect(r.received_at <= k.valid_until).toBe(true);
    }
  }, 60_000);

  it('receipts from before and after verify with /v2/verify (server trust, /v2/keys, the trust policy) and `proofstream verify`', async () => {
    const keysBody = (await call('GET', '/v2/keys')).body;
    const policy = await (await fetch(`${srv.url}/v2/trust-policy`)).text();
    const p = parsePolicy(policy);
    expect(p.logs.map((l) => bytesToHex(l.key.publicKey)).sort()).toEqual([bytesToHex(oldPub), bytesToHex(newPub)].sort());
    expect(p.logs.find((l) => bytesToHex(l.key.publicKey) === bytesToHex(oldPub))!.validUntil).toBe(keysBody.keys.find((k: any) => k.kid === oldKid).valid_until);
    const lastOld = receipts.filter((r) => r.receipt.kid === oldKid).at(-1);
    const firstNew = receipts.find((r) => r.receipt.kid === newKid);
    for (const rec of [receipts[0], lastOld, firstNew, receipts.at(-1)]) {
      for (const trust of [{}, { trusted_keys: keysBody.keys }, { policy }]) {
        const rep = await verifyHttp(rec, trust);
        expect(rep.ok, JSON.stringify(rep.problems)).toBe(true);
      }
    }
    const keysFile = path.join(dir, 'keys.json');
    fs.writeFileSync(keysFile, JSON.stringify(keysBody));
    for (const [name, rec] of [['old-receipt.json', lastOld], ['new-receipt.json', firstNew]] as const) {
      const f = path.join(dir, name);
      fs.writeFileSync(f, JSON.stringify(rec));
      const v = await runCli(['verify', f, '--trust', keysFile, '--json']);
      expect(v.code, v.stdout + v.stderr).toBe(0);
    }
  }, 60_000);

  it('a checkpoint sealed during the overlap carries both signatures and verifies pinned to either key; the witness pinned to the old key cosigns it', async () => {
    const cp = await latestCosigned();
    const note = parseNote(cp.note);
    expect(note.signatures).toHaveLength(2);
    expect(cp.signer_vkey).toBe(encodeVerifierKey(`${ORIGIN}/${streamId}`, newPub));
    for (const pub of [oldPub, newPub]) {
      const rep = await verifyHttp(cp, { policy: policyPinning(pub) });
      expect(rep.ok, JSON.stringify(rep.problems)).toBe(true);
    }
    // a key that never signed it still does not count
    const stranger = loadOrCreateSigner(path.join(dir, 'stranger.pem'));
    expect(codes(await verifyHttp(cp, { policy: policyPinning(stranger.publicKey) }))).toEqual(['CHECKPOINT_UNTRUSTED']);
    expect(cp.cosignatures.map((c: any) => c.witness)).toEqual([witness.name]);
  }, 60_000);

  it('old packs and a pack spanning the rotation verify offline with the published policy', async () => {
    const policyFile = path.join(dir, 'policy.txt');
    fs.writeFileSync(policyFile, await (await fetch(`${srv.url}/v2/trust-policy`)).text());
    const spanning = await packFile('spanning-pack.json', 1, receipts.length);
    const pack = JSON.parse(fs.readFileSync(spanning, 'utf8'));
    expect(pack.keys.map((k: any) => k.kid).sort()).toEqual([oldKid, newKid].sort());
    expect(pack.keys.find((k: any) => k.kid === newKid).valid_from).toEqual(expect.any(String));
    for (const f of [oldPackFile, spanning]) {
      const v = await runCli(['verify', f, '--policy', policyFile, '--json']);
      expect(v.code, v.stdout + v.stderr).toBe(0);
      expect(JSON.parse(v.stdout).ok).toBe(true);
    }
    // the same pack against the bundle's own keys (no policy): the windows it carries are applied too
    const own = await runCli(['verify', spanning, '--json']);
    expect(own.code, own.stdout).toBe(0);
  }, 90_000);

  it('the witness re-pinned to the new key keeps cosigning', async () => {
    await witness.stop();
    witness = await startWitness({
      logs: [{ origin: `${ORIGIN}/*`, vkeys: [encodeVerifierKey(`${ORIGIN}/*`, newPub)] }],
      dir: witnessDir,
      port: witness.port,
    });
    for (let i = 0; i < 5; i++) await append(`repinned-${i}`);
    const cp = await latestCosigned();
    expect(parseNote(cp.note).signatures).toHaveLength(2); // still inside the overlap
    expect(cp.witness_quorum).toMatchObject({ count: 1, met: true });
  }, 60_000);

  it('after `ledger-key retire` only the new key signs checkpoints; the retired key stays published', async () => {
    const r = await runCli(['ledger-key', 'retire', oldKid], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`retired ${oldKid}`);
    const refused = await runCli(['ledger-key', 'retire', newKid], env);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('is the active key');

    for (let i = 0; i < 5; i++) await append(`after-retire-${i}`);
    const cp = await latestCosigned();
    const sigs = parseNote(cp.note).signatures;
    expect(sigs).toHaveLength(1);
    expect(codes(await verifyHttp(cp, { policy: policyPinning(oldPub) }))).toEqual(['CHECKPOINT_UNTRUSTED']);
    expect((await verifyHttp(cp, { policy: policyPinning(newPub) })).ok).toBe(true);

    const keys = (await call('GET', '/v2/keys')).body.keys;
    expect(keys.find((k: any) => k.kid === oldKid)).toMatchObject({ status: 'retired', current: false });
    // receipts the retired key signed inside its window still verify with the server's trust
    const rep = await verifyHttp(receipts[0]);
    expect(rep.ok, JSON.stringify(rep.problems)).toBe(true);
  }, 60_000);

  it('a receipt signed by the retired key with a received_at after its window fails closed (KEY_OUTSIDE_WINDOW)', async () => {
    const oldKey = loadSigner(path.join(dataDir, 'signing-key.pem'));
    const real = receipts.filter((r) => r.receipt.kid === oldKid).at(-1);
    const receivedAt = new Date().toISOString();
    const claims = { kid: oldKid, stream_id: real.stream_id, seq_no: real.seq_no, event_hash: real.event_hash, stream_head_hash: real.stream_head_hash, received_at: receivedAt };
    const forged = {
      ...Object.fromEntries(['stream_event_id', 'stream_id', 'seq_no', 'event_hash', 'previous_event_hash', 'stream_head_hash'].map((k) => [k, real[k]])),
      received_at: receivedAt,
      receipt: { ...real.receipt, signature: bytesToHex(oldKey.sign(receiptMessage(claims))) },
    };
    const keysBody = (await call('GET', '/v2/keys')).body;
    const policy = await (await fetch(`${srv.url}/v2/trust-policy`)).text();
    for (const trust of [{}, { trusted_keys: keysBody.keys }, { policy }]) {
      const rep = await verifyHttp(forged, trust);
      expect(rep.ok).toBe(false);
      expect(codes(rep)).toEqual(['KEY_OUTSIDE_WINDOW']);
    }
    // the signature itself is good: a key list without windows accepts it, which is exactly what windows prevent
    const bare = keysBody.keys.map((k: any) => ({ kid: k.kid, alg: k.alg, public_key: k.public_key }));
    expect((await verifyHttp(forged, { trusted_keys: bare })).ok).toBe(true);
    const f = path.join(dir, 'forged-receipt.json');
    fs.writeFileSync(f, JSON.stringify(forged));
    const keysFile = path.join(dir, 'keys-after.json');
    fs.writeFileSync(keysFile, JSON.stringify(keysBody));
    const v = await runCli(['verify', f, '--trust', keysFile, '--json']);
    expect(v.code).toBe(1);
    expect(JSON.parse(v.stdout).problems.map((p: any) => p.code)).toEqual(['KEY_OUTSIDE_WINDOW']);
  }, 60_000);

  it('rotates a stopped server too: the next start signs with the newest key', async () => {
    await srv.stop();
    const rot = await runCli(['ledger-key', 'rotate', '--overlap', '0', '--json'], env);
    expect(rot.code, rot.stderr).toBe(0);
    const out = JSON.parse(rot.stdout);
    expect(out.previous).toEqual([expect.objectContaining({ kid: newKid })]);
    const third = out.kid as string;
    srv = await startServer({ dataDir, key: srv.key, env: serverEnv() });
    call = client(srv.url, srv.key);
    const rec = await append('after-restart');
    expect(rec.receipt.kid).toBe(third);
    const keys = (await call('GET', '/v2/keys')).body.keys;
    expect(keys.map((k: any) => [k.kid, k.status])).toEqual([
      [oldKid, 'retired'],
      [newKid, 'retired'],
      [third, 'active'],
    ]);
    const list = await runCli(['ledger-key', 'list', '--json'], env);
    expect(JSON.parse(list.stdout).keys.map((k: any) => k.status)).toEqual(['retired', 'retired', 'active']);
    for (const r of [receipts[0], receipts.find((x) => x.receipt.kid === newKid), rec]) {
      const rep = await verifyHttp(r);
      expect(rep.ok, JSON.stringify(rep.problems)).toBe(true);
    }
  }, 60_000);
});

describe('a rotated key the server cannot read', () => {
  it('appends answer 503 LEDGER_KEY_UNAVAILABLE (nothing signed by another key) until the key file is in place', async () => {
    const d = tempDir('ps-rotate-missing-');
    const s = await startServer({ dataDir: d });
    try {
      const c = client(s.url, s.key);
      const st = await c('POST', '/v2/streams', { use_case: 'missing key' }, { 'idempotency-key': idemKey() });
      const ev = () => c('POST', `/v2/streams/${st.body.stream_id}/events`, { source_ref: 'x', event_type: 't', payload: {} }, { 'idempotency-key': idemKey() });
      const first = await ev();
      expect(first.status).toBe(201);
      // The key goes to a directory this server does not look in (it uses <data dir>/ledger-keys).
      const elsewhere = path.join(d, 'elsewhere');
      const rot = await runCli(['ledger-key', 'rotate', '--keys-dir', elsewhere], { PROOFSTREAM_DATA_DIR: d });
      expect(rot.code, rot.stderr).toBe(0);
      const kid = rot.stdout.trim();
      const refused = await ev();
      expect(refused.status).toBe(503);
      expect(refused.body.error).toMatchObject({ code: 'LEDGER_KEY_UNAVAILABLE', request_id: expect.any(String) });
      expect(refused.body.error.message).toContain(kid);
      expect(refused.text).not.toContain('    at '); // no stack trace
      const events = (await c('GET', `/v2/streams/${st.body.stream_id}/events`)).body.events;
      expect(events).toHaveLength(1); // the refused append changed nothing
      fs.mkdirSync(path.join(d, 'ledger-keys'), { recursive: true });
      fs.renameSync(path.join(elsewhere, `${kid}.pem`), path.join(d, 'ledger-keys', `${kid}.pem`));
      const ok = await ev();
      expect(ok.status).toBe(201);
      expect(ok.body.receipt.kid).toBe(kid);
      expect(ok.body.seq_no).toBe(2);
    } finally {
      await s.stop();
    }
  }, 60_000);
});

describe('a replaced signing-key file (the way before rotation existed)', () => {
  it('is taken as a rotation with no overlap: the old key is retired with a window, its receipts still verify', async () => {
    const d = tempDir('ps-rotate-replaced-');
    let s = await startServer({ dataDir: d });
    let c = client(s.url, s.key);
    const st = await c('POST', '/v2/streams', { use_case: 'replaced' }, { 'idempotency-key': idemKey() });
    const ev = () => c('POST', `/v2/streams/${st.body.stream_id}/events`, { source_ref: 'x', event_type: 't', payload: {} }, { 'idempotency-key': idemKey() });
    const before = (await ev()).body;
    await s.stop();
    const keyFile = path.join(d, 'signing-key.pem');
    fs.rmSync(keyFile);
    const replacement = loadOrCreateSigner(keyFile);
    s = await startServer({ dataDir: d, key: s.key });
    try {
      c = client(s.url, s.key);
      expect(s.output()).toContain('taken as a rotation with no overlap');
      const after = (await ev()).body;
      expect(after.receipt.kid).toBe(replacement.kid);
      const keys = (await c('GET', '/v2/keys')).body.keys;
      expect(keys.map((k: any) => [k.kid, k.status])).toEqual([
        [before.receipt.kid, 'retired'],
        [replacement.kid, 'active'],
      ]);
      for (const r of [before, after]) {
        const rep = (await c('POST', '/v2/verify', { object: r })).body;
        expect(rep.ok, JSON.stringify(rep.problems)).toBe(true);
      }
    } finally {
      await s.stop();
    }
  }, 60_000);
});

describe('ledger-key refusals', () => {
  it('an overlap outside 0..365d, a bad PROOFSTREAM_LEDGER_KEY_OVERLAP, a missing database, an unknown key: one line, exit 2, nothing written', async () => {
    const d = tempDir('ps-rotate-usage-');
    const tooLong = await runCli(['ledger-key', 'rotate', '--overlap', '366d'], { PROOFSTREAM_DATA_DIR: d });
    expect(tooLong.code).toBe(2);
    expect(tooLong.stderr).toContain('is not a duration between 0 and 365d');
    const badEnv = await runCli(['ledger-key', 'rotate'], { PROOFSTREAM_DATA_DIR: d, PROOFSTREAM_LEDGER_KEY_OVERLAP: '7 days' });
    expect(badEnv.code).toBe(2);
    expect(badEnv.stderr).toContain('PROOFSTREAM_LEDGER_KEY_OVERLAP');
    const noDb = await runCli(['ledger-key', 'rotate'], { PROOFSTREAM_DATA_DIR: d });
    expect(noDb.code).toBe(2);
    expect(noDb.stderr).toContain(`no database at ${path.join(d, 'proofstream.db')}`);
    expect(fs.readdirSync(d)).toEqual([]); // neither a database nor a key was created
    for (const r of [tooLong, badEnv, noDb]) expect(r.stderr).not.toContain('    at ');
    const unknown = await runCli(['ledger-key', 'retire', 'ps-ed25519-0000000000000000'], env);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no ledger key "ps-ed25519-0000000000000000"');
  }, 60_000);
});

describe('trust policy windows (pure)', () => {
  const a = loadOrCreateSigner(path.join(dir, 'a.pem'));
  const b = loadOrCreateSigner(path.join(dir, 'b.pem'));
  const va = encodeVerifierKey(`${ORIGIN}/*`, a.publicKey);
  const vb = encodeVerifierKey(`${ORIGIN}/*`, b.publicKey);

  it('parses log lines with windows, and returns every key of the best-matching origin', () => {
    const p = parsePolicy(`log ${ORIGIN}/* ${va} valid_until=2026-01-01T00:00:00.000Z\nlog ${ORIGIN}/* ${vb} valid_from=2026-01-01T00:00:00.000Z\nquorum none\n`);
    expect(p.logs.map((l) => [l.validFrom, l.validUntil])).toEqual([
      [undefined, '2026-01-01T00:00:00.000Z'],
      ['2026-01-01T00:00:00.000Z', undefined],
    ]);
    expect(logKeysFor(p, `${ORIGIN}/str_x`).map((k) => bytesToHex(k.publicKey))).toEqual([bytesToHex(a.publicKey), bytesToHex(b.publicKey)]);
  });

  it('refuses malformed windows', () => {
    for (const bad of [
      `log ${ORIGIN}/* ${va} valid_until=yesterday`,
      `log ${ORIGIN}/* ${va} until=2026-01-01T00:00:00Z`,
      `log ${ORIGIN}/* ${va} valid_from=2026-01-02T00:00:00Z valid_until=2026-01-01T00:00:00Z`,
      `log ${ORIGIN}/* ${va} valid_from=2026-01-01T00:00:00Z valid_from=2026-01-01T00:00:00Z`,
    ]) {
      expect(() => parsePolicy(`${bad}\nquorum none\n`)).toThrow(/POLICY|valid_|log option|twice/);
    }
    expect(hexToBytes(bytesToHex(a.publicKey))).toEqual(a.publicKey);
  });
});
