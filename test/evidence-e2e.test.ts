// End to end: the ledger, two witnesses and the test TSA as real child processes. Appends across several
// windows, waits for quorum cosignatures and an RFC 3161 anchor, builds a pack and verifies it offline with
// `proofstream verify --policy`. Then stops a witness and the TSA: appends keep being answered, packs wait
// (409 EVIDENCE_PENDING), and evidence catches up when both come back.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytesToHex } from '../src/protocol/bytes.js';
import { encodeVerifierKey } from '../src/protocol/note.js';
import { parsePolicy } from '../src/protocol/policy.js';
import { loadOrCreateSigner } from '../src/ledger/signer.js';
import { witnessKeyFromSeed } from '../src/witness/keys.js';
import { client, idemKey, runCli, startServer, tempDir, type RunningServer } from './helpers/server.js';
import { startTsa, type RunningTsa } from './helpers/tsa.js';
import { waitFor } from './helpers/wait.js';
import { startWitness, type RunningWitnessProcess } from './helpers/witness.js';

let srv: RunningServer;
let tsa: RunningTsa;
let w1: RunningWitnessProcess;
let w2: RunningWitnessProcess;
let call: ReturnType<typeof client>;
let streamId: string;
const dir = tempDir('ps-e2e-');

const cli = runCli;

async function append(n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = await call('POST', `/v2/streams/${streamId}/events`, { source_ref: `e2e-${i}`, event_type: 'decision', payload: { i, at: Date.now() } }, { 'idempotency-key': idemKey() });
    expect(r.status).toBe(201);
    ids.push(r.body.stream_event_id);
  }
  return ids;
}

/** Builds a pack for [from, to], retrying while evidence is pending; returns the pack document. */
async function packWhenReady(from: number, to: number, timeoutMs = 30_000): Promise<any> {
  let last: any;
  await waitFor(async () => {
    last = await call('POST', '/v2/audit/packs', { stream_id: streamId, from_seq_no: from, to_seq_no: to }, { 'idempotency-key': idemKey() });
    if (last.status === 409) expect(last.body.error.code).toBe('EVIDENCE_PENDING');
    return last.status === 201 ? true : undefined;
  }, timeoutMs);
  return last.body;
}

beforeAll(async () => {
  const dataDir = path.join(dir, 'ledger');
  // The ledger key exists before the witnesses start, so they can be told to trust it.
  const signer = loadOrCreateSigner(path.join(dataDir, 'signing-key.pem'));
  const logVkey = encodeVerifierKey('proofstream.localhost/*', signer.publicKey);
  const logs = [{ origin: 'proofstream.localhost/*', vkeys: [logVkey] }];
  [tsa, w1, w2] = await Promise.all([
    startTsa(path.join(dir, 'tsa')),
    startWitness({ logs, dir: path.join(dir, 'w1'), name: 'witness.test/one' }),
    startWitness({ logs, dir: path.join(dir, 'w2'), name: 'witness.test/two' }),
  ]);
  srv = await startServer({
    dataDir,
    env: {
      PROOFSTREAM_WINDOW_MAX_EVENTS: '10',
      PROOFSTREAM_WINDOW_MAX_AGE_MS: '100',
      PROOFSTREAM_WITNESSES: JSON.stringify([w1, w2].map((w) => ({ name: w.name, url: w.url, vkey: w.vkey }))),
      PROOFSTREAM_WITNESS_QUORUM: '2',
      PROOFSTREAM_TSA_URL: tsa.url,
      PROOFSTREAM_TSA_ROOT: path.join(tsa.dir, 'root.pem'),
      PROOFSTREAM_ANCHOR_EPOCH_MS: '300',
      PROOFSTREAM_RETRY_MAX_MS: '500',
    },
  });
  call = client(srv.url, srv.key);
  const s = await call('POST', '/v2/streams', { use_case: 'e2e evidence' }, { 'idempotency-key': idemKey() });
  expect(s.status).toBe(201);
  streamId = s.body.stream_id;
}, 60_000);

afterAll(async () => {
  await Promise.all([srv?.stop(), tsa?.stop(), w1?.stop(), w2?.stop()]);
});

describe('ledger + two witnesses + TSA', () => {
  it('publishes a trust policy naming its key, both witnesses with quorum 2, and the TSA root', async () => {
    const r = await fetch(`${srv.url}/v2/trust-policy`);
    expect(r.status).toBe(200);
    const p = parsePolicy(await r.text());
    const keys = (await call('GET', '/v2/keys')).body.keys;
    expect(p.logs.map((l) => bytesToHex(l.key.publicKey))).toEqual([keys[0].public_key]);
    expect(p.logs[0]!.wildcard).toBe(true);
    expect(p.witnesses.map((w) => w.vkey).sort()).toEqual([w1.vkey, w2.vkey].sort());
    expect(p.groups).toEqual([{ name: 'witnesses', threshold: 2, members: [w1.name, w2.name] }]);
    expect(p.quorum).toBe('witnesses');
    expect(p.tsaRoots).toHaveLength(1);
  });

  it('gets every checkpoint cosigned by both witnesses and anchored, and a pack that verifies offline with --policy', async () => {
    await append(35); // several size-triggered windows, then an age-triggered one
    let latest: any;
    await waitFor(async () => {
      latest = (await call('GET', `/v2/streams/${streamId}/checkpoints/latest`)).body;
      return latest.tree_size === 35 && latest.witness_quorum.met && latest.anchor !== null ? true : undefined;
    }, 30_000);
    expect(latest.witness_quorum).toEqual({ required: 2, count: 2, met: true });
    expect(latest.cosignatures.map((c: any) => c.witness).sort()).toEqual([w1.name, w2.name].sort());
    expect(latest.cosigned_note.startsWith(latest.note)).toBe(true);
    expect(latest.cosigned_note.split('\n— ').length).toBe(4); // log signature + two cosignatures
    expect(latest.anchor).toMatchObject({ kind: 'rfc3161', checkpoint_hash: expect.stringMatching(/^[0-9a-f]{64}$/) });

    // every checkpoint of the stream got both cosignatures (each was submitted, in order)
    const all = (await call('GET', `/v2/streams/${streamId}/checkpoints?limit=100`)).body.checkpoints;
    expect(all.length).toBeGreaterThanOrEqual(4);
    for (const c of all) expect(c.witness_quorum.count).toBe(2);

    const ws = (await call('GET', '/v2/witnesses')).body;
    expect(ws.quorum).toBe(2);
    for (const w of ws.witnesses) {
      expect(w.failures).toBe(0);
      expect(w.streams).toContainEqual(expect.objectContaining({ stream_id: streamId, last_cosigned_size: 35 }));
    }

    const pack = await packWhenReady(1, 35);
    expect(pack.witnesses).toHaveLength(2);
    expect(pack.anchors).toHaveLength(1);
    const packFile = path.join(dir, 'pack.json');
    const policyFile = path.join(dir, 'policy.txt');
    fs.writeFileSync(packFile, JSON.stringify(pack));
    fs.writeFileSync(policyFile, await (await fetch(`${srv.url}/v2/trust-policy`)).text());
    const v = await cli(['verify', packFile, '--policy', policyFile, '--json']);
    const report = JSON.parse(v.stdout);
    expect(report.problems).toEqual([]);
    expect(v.code).toBe(0);
    expect(report.checks).toContainEqual({ name: 'witnesses: quorum "witnesses" of the policy met', ok: true, status: 'passed' });
    expect(report.checks).toContainEqual({ name: 'anchors: time-stamp token over the epoch root, from a trusted TSA', ok: true, status: 'passed' });

    // The same pack against a stricter policy (a third witness that never cosigned is required) is refused.
    const three = witnessKeyFromSeed('witness.test/three', new Uint8Array(32).fill(3));
    const strict = fs
      .readFileSync(policyFile, 'utf8')
      .replace(/^group witnesses 2 (.*)$/m, `witness ${three.name} ${three.vkey}\ngroup witnesses 3 $1 ${three.name}`);
    fs.writeFileSync(path.join(dir, 'strict.txt'), strict);
    const s3 = await cli(['verify', packFile, '--policy', path.join(dir, 'strict.txt'), '--json']);
    expect(s3.code).toBe(1);
    expect(JSON.parse(s3.stdout).problems.map((p: any) => p.code)).toEqual(['WITNESS_QUORUM_NOT_MET']);
  }, 90_000);

  it('witnesses many streams at once (more than are submitted concurrently), each in order', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      const s = await call('POST', '/v2/streams', { use_case: `many-${i}` }, { 'idempotency-key': idemKey() });
      ids.push(s.body.stream_id);
      for (let k = 0; k < 3; k++) {
        const r = await call('POST', `/v2/streams/${s.body.stream_id}/events`, { source_ref: `m${i}-${k}`, event_type: 'x', payload: { k } }, { 'idempotency-key': idemKey() });
        expect(r.status).toBe(201);
      }
    }
    for (const id of ids) {
      const cp = await waitFor(async () => {
        const c = await call('GET', `/v2/streams/${id}/checkpoints/latest`);
        return c.status === 200 && c.body.tree_size === 3 && c.body.witness_quorum.met ? c.body : undefined;
      }, 30_000);
      expect(cp.cosignatures).toHaveLength(2);
    }
  }, 60_000);

  it('a v1 event reaches status "anchored"; its proof verifies with cosignatures and anchor checked, and fails when one is altered', async () => {
    const ev = await call('POST', '/v1/sdk/events', { source_ref: 'v1-e2e', payload: { ok: true } }, { 'idempotency-key': idemKey() });
    expect(ev.status).toBe(201);
    const proof = await waitFor(async () => {
      const r = await call('GET', `/v1/events/${ev.body.id}/proof`);
      return r.body.status === 'anchored' ? r.body : undefined;
    }, 30_000);
    expect(proof.checkpoint.cosignatures).toHaveLength(2);
    const ok = await call('POST', '/v1/public/verify', proof);
    expect(ok.body.problems).toEqual([]);
    expect(ok.body.checks).toContainEqual({ name: 'anchors: time-stamp token over the epoch root, from a trusted TSA', ok: true, status: 'passed' });
    const bad = structuredClone(proof);
    const line: string = bad.checkpoint.cosignatures[1].signature_line;
    bad.checkpoint.cosignatures[1].signature_line = line.slice(0, -4) + (line.slice(-4) === 'AAAA' ? 'BBBB' : 'AAAA');
    bad.checkpoint.cosigned_note = bad.checkpoint.note + bad.checkpoint.cosignatures.map((c: any) => c.signature_line + '\n').join('');
    const r = await call('POST', '/v1/public/verify', bad);
    expect(r.body.ok).toBe(false);
    expect(r.body.problems.map((p: any) => p.code)).toContain('WITNESS_SIGNATURE_INVALID');
  }, 60_000);

  it('keeps answering appends with a witness and the TSA down; packs wait; evidence catches up when they return', async () => {
    await Promise.all([w1.stop(), tsa.stop()]);
    const ids = await append(25); // every append is still answered with a receipt
    expect(new Set(ids).size).toBe(25);
    // sealing carries on: checkpoints are signed without the witness
    let latest: any;
    await waitFor(async () => {
      latest = (await call('GET', `/v2/streams/${streamId}/checkpoints/latest`)).body;
      // the witness still up cosigns it; the one down cannot
      return latest.tree_size === 60 && latest.witness_quorum.count === 1 ? true : undefined;
    }, 20_000);
    expect(latest.witness_quorum.met).toBe(false);
    expect(latest.anchor).toBeNull();
    const pending = await call('POST', '/v2/audit/packs', { stream_id: streamId, from_seq_no: 36, to_seq_no: 60 }, { 'idempotency-key': idemKey() });
    expect(pending.status).toBe(409);
    expect(pending.body.error.code).toBe('EVIDENCE_PENDING');
    expect(pending.body.error.details.missing.join(' ')).toMatch(/witness cosignatures \(1 of 2 required\)/);
    expect(pending.body.error.details.missing.join(' ')).toMatch(/anchor/);
    expect(pending.body.error.details.retry_after_s).toBeGreaterThan(0);
    // a stream whose own quorum is one witness is witnessed by the one still up
    const tooMany = await call('POST', '/v2/streams', { use_case: 'q3', witness_quorum: { required: 3 } }, { 'idempotency-key': idemKey() });
    expect(tooMany.status).toBe(422);
    const q1 = await call('POST', '/v2/streams', { use_case: 'q1', witness_quorum: { required: 1 } }, { 'idempotency-key': idemKey() });
    expect(q1.status).toBe(201);
    expect(q1.body.witness_quorum).toEqual({ required: 1 });
    const r1 = await call('POST', `/v2/streams/${q1.body.stream_id}/events`, { source_ref: 'q1', event_type: 'decision', payload: {} }, { 'idempotency-key': idemKey() });
    expect(r1.status).toBe(201);
    const q1cp = await waitFor(async () => {
      const c = await call('GET', `/v2/streams/${q1.body.stream_id}/checkpoints/latest`);
      return c.status === 200 && c.body.witness_quorum.count === 1 ? c.body : undefined;
    }, 20_000);
    expect(q1cp.witness_quorum).toEqual({ required: 1, count: 1, met: true });
    expect(q1cp.cosignatures.map((c: any) => c.witness)).toEqual([w2.name]);

    // the down witness shows its error
    await waitFor(async () => {
      const ws = (await call('GET', '/v2/witnesses')).body.witnesses;
      return ws.find((w: any) => w.name === w1.name).last_error !== null ? true : undefined;
    }, 10_000);

    // both come back on the same state and port: evidence catches up without any append
    [w1, tsa] = await Promise.all([
      startWitness({ logs: [{ origin: 'proofstream.localhost/*', vkeys: [parsePolicy(await (await fetch(`${srv.url}/v2/trust-policy`)).text()).logs[0]!.vkey] }], dir: w1.dir, port: w1.port }),
      startTsa(tsa.dir, tsa.port),
    ]);
    await waitFor(async () => {
      latest = (await call('GET', `/v2/streams/${streamId}/checkpoints/latest`)).body;
      return latest.witness_quorum.met && latest.anchor !== null ? true : undefined;
    }, 30_000);
    const pack = await packWhenReady(36, 60);
    const packFile = path.join(dir, 'pack2.json');
    fs.writeFileSync(packFile, JSON.stringify(pack));
    const v = await cli(['verify', packFile, '--policy', path.join(dir, 'policy.txt'), '--json']);
    expect(JSON.parse(v.stdout).problems).toEqual([]);
    expect(v.code).toBe(0);
  }, 120_000);
});
