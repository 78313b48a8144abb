// Windows and checkpoints against a real server: size and age triggers, and every proof checked by a client
// that trusts nothing but GET /v2/keys.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hexToBytes } from '../src/protocol/bytes.js';
import { parseCheckpoint } from '../src/protocol/checkpoint.js';
import { rootFromLeaves, verifyConsistency, verifyInclusion } from '../src/protocol/merkle.js';
import { encodeVerifierKey, parseNote, parseVerifierKey, verifyNote } from '../src/protocol/note.js';
import { bytesToHex } from '../src/protocol/bytes.js';
import { readAll } from './helpers/chain.js';
import { client, idemKey, startServer, type RunningServer } from './helpers/server.js';
import { sleep, waitFor } from './helpers/wait.js';

let srv: RunningServer;
let call: ReturnType<typeof client>;
let pub: Uint8Array;

beforeAll(async () => {
  srv = await startServer({ env: { PROOFSTREAM_WINDOW_MAX_EVENTS: '50', PROOFSTREAM_WINDOW_MAX_AGE_MS: '300' } });
  call = client(srv.url, srv.key);
  pub = hexToBytes((await call('GET', '/v2/keys')).body.keys[0].public_key);
});
afterAll(async () => srv?.stop());

async function appendN(sid: string, n: number, tag: string, per = 25) {
  const receipts: any[] = [];
  for (let i = 0; i < n; i += per) {
    const events = Array.from({ length: Math.min(per, n - i) }, (_, k) => ({ source_ref: `${tag}-${i + k}`, event_type: 't', payload: { k: i + k } }));
    const r = await call('POST', `/v2/streams/${sid}/events/batch`, { events }, { 'idempotency-key': idemKey() });
    expect(r.status).toBe(201);
    receipts.push(...r.body.receipts);
  }
  return receipts;
}

/** What an auditor does with a checkpoint: trust only the ledger key, derive the vkey, check the note. */
async function checkCheckpoint(cp: any, streamId: string) {
  const origin = `proofstream.localhost/${streamId}`;
  const vkey = encodeVerifierKey(origin, pub);
  expect(cp.signer_vkey).toBe(vkey);
  const v = await verifyNote(cp.note, [parseVerifierKey(vkey)]);
  expect(v.ok).toBe(true);
  const body = parseCheckpoint(parseNote(cp.note).text);
  expect(body.origin).toBe(origin);
  expect(body.size).toBe(cp.tree_size);
  expect(bytesToHex(body.rootHash)).toBe(cp.root_hash);
  return body;
}

describe('windows and checkpoints', () => {
  let sid: string;
  let receipts: any[];
  let cps: any[];

  it('seals full windows by size, then the remainder by age, and no empty windows when idle', async () => {
    sid = (await call('POST', '/v2/streams', { use_case: 'windows' })).body.stream_id;
    // Batches of 50 commit whole windows at once, so however slow the machine, the 300 ms age trigger cannot cut one
    // short: size seals 50 and 100 without waiting for age; age seals 120 soon after.
    receipts = await appendN(sid, 120, 'a', 50);
    const list = await waitFor(async () => {
      const r = await call('GET', `/v2/streams/${sid}/checkpoints`);
      return r.body.checkpoints.length === 3 ? r.body.checkpoints : undefined;
    });
    cps = [...list].reverse();
    expect(cps.map((c: any) => c.tree_size)).toEqual([50, 100, 120]);
    expect(cps[1].previous_checkpoint_id).toBe(cps[0].checkpoint_id);
    const windows = await Promise.all(cps.map((c: any) => call('GET', `/v2/windows/${c.window_id}`)));
    expect(windows.map((w) => [w.body.from_seq_no, w.body.to_seq_no, w.body.trigger])).toEqual([
      [1, 50, 'size'],
      [51, 100, 'size'],
      [101, 120, 'age'],
    ]);
    const latest = await call('GET', `/v2/streams/${sid}/checkpoints/latest`);
    expect(latest.body.checkpoint_id).toBe(cps[2].checkpoint_id);
    await sleep(900); // three age periods with nothing appended
    expect((await call('GET', `/v2/streams/${sid}/checkpoints`)).body.checkpoints).toHaveLength(3);
  });

  it('checkpoint notes verify with the key from GET /v2/keys', async () => {
    for (const cp of cps) await checkCheckpoint(cp, sid);
  });

  it("a receipt's inclusion proof verifies against its checkpoint's signed root", async () => {
    for (const pick of [receipts[0], receipts[49], receipts[50], receipts[77], receipts[119]]) {
      const r = await call('GET', `/v2/receipts/${pick.stream_event_id}`);
      expect(r.status).toBe(200);
      const inc = r.body.inclusion;
      const cp = (await call('GET', `/v2/checkpoints/${inc.checkpoint_id}`)).body;
      const body = await checkCheckpoint(cp, sid);
      expect(cp.tree_size).toBe(inc.tree_size);
      expect(inc.leaf_index).toBe(pick.seq_no - 1);
      // the first checkpoint covering it
      expect(inc.tree_size).toBe(Math.min(...cps.map((c: any) => c.tree_size).filter((s: number) => s >= pick.seq_no)));
      const proof = inc.proof.map(hexToBytes);
      expect(verifyInclusion(hexToBytes(pick.event_hash), inc.leaf_index, inc.tree_size, proof, body.rootHash)).toBe(true);
      // and it would not verify for a different event
      expect(verifyInclusion(hexToBytes(receipts[2].event_hash), inc.leaf_index, inc.tree_size, proof, body.rootHash)).toBe(false);
    }
  });

  it('inclusion at a later size, and consistency between checkpoints, verify', async () => {
    const inc = (await call('GET', `/v2/streams/${sid}/inclusion?seq_no=3&tree_size=120`)).body;
    expect(inc.checkpoint_id).toBe(cps[2].checkpoint_id);
    const root120 = (await checkCheckpoint(cps[2], sid)).rootHash;
    expect(verifyInclusion(hexToBytes(receipts[2].event_hash), 2, 120, inc.proof.map(hexToBytes), root120)).toBe(true);

    for (const [a, b] of [[0, 2], [1, 2], [0, 1]] as const) {
      const byId = await call('GET', `/v2/checkpoints/${cps[b].checkpoint_id}/consistency?from=${cps[a].checkpoint_id}`);
      const bySize = await call('GET', `/v2/checkpoints/${cps[b].checkpoint_id}/consistency?from=${cps[a].tree_size}`);
      expect(byId.status).toBe(200);
      expect(bySize.body).toEqual(byId.body);
      const r1 = (await checkCheckpoint(cps[a], sid)).rootHash;
      const r2 = (await checkCheckpoint(cps[b], sid)).rootHash;
      const proof = byId.body.proof.map(hexToBytes);
      expect(verifyConsistency(cps[a].tree_size, cps[b].tree_size, proof, r1, r2)).toBe(true);
      expect(verifyConsistency(cps[a].tree_size, cps[b].tree_size, proof, r2, r1)).toBe(false);
    }
  });

  it('a window carries its own root and per-event proofs to its checkpoint', async () => {
    const w = (await call('GET', `/v2/windows/${cps[1].window_id}`)).body;
    const events = (await readAll(call, sid)).slice(50, 100);
    expect(w.window_root).toBe(bytesToHex(rootFromLeaves(events.map((e) => hexToBytes(e.event_hash)))));
    const root = (await checkCheckpoint(w.checkpoint, sid)).rootHash;
    expect(w.events).toHaveLength(50);
    for (const e of w.events) {
      expect(verifyInclusion(hexToBytes(e.event_hash), e.leaf_index, w.checkpoint.tree_size, e.inclusion_proof.map(hexToBytes), root)).toBe(true);
    }
  });

  it('a per-stream window_policy overrides the defaults (age trigger)', async () => {
    const s2 = (await call('POST', '/v2/streams', { use_case: 'p', window_policy: { max_events: 1000, max_age_ms: 100 } })).body.stream_id;
    await appendN(s2, 70, 'b'); // above the global size of 50, below this stream's 1000
    const cp = await waitFor(async () => {
      const r = await call('GET', `/v2/streams/${s2}/checkpoints/latest`);
      // On a loaded machine the age trigger may also fire between appends: wait for the one that covers all 70.
      return r.status === 200 && r.body.tree_size === 70 ? r.body : undefined;
    });
    // Never a size-triggered window: the stream's max_events (1000) was never reached.
    const all = (await call('GET', `/v2/streams/${s2}/checkpoints?limit=100`)).body.checkpoints;
    for (const c of all) expect((await call('GET', `/v2/windows/${c.window_id}`)).body.trigger).toBe('age');
    expect((await call('GET', `/v2/windows/${cp.window_id}`)).body.trigger).toBe('age');
  });

  it('bad ids are 404 and impossible ranges 422, with the envelope', async () => {
    for (const p of ['/v2/windows/win_nope', '/v2/checkpoints/chk_nope', '/v2/checkpoints/chk_nope/consistency?from=1']) {
      const r = await call('GET', p);
      expect(r.status).toBe(404);
      expect(r.body.error.code).toBe('RESOURCE_NOT_FOUND');
    }
    const newer = await call('GET', `/v2/checkpoints/${cps[0].checkpoint_id}/consistency?from=${cps[2].checkpoint_id}`);
    expect(newer.status).toBe(422);
    expect(newer.body.error.code).toBe('VALIDATION_ERROR');
    const notCheckpointed = await call('GET', `/v2/checkpoints/${cps[2].checkpoint_id}/consistency?from=7`);
    expect(notCheckpointed.status).toBe(422);
    const beyond = await call('GET', `/v2/streams/${sid}/inclusion?seq_no=3&tree_size=121`);
    expect(beyond.status).toBe(422);
    const fresh = (await call('POST', '/v2/streams', { use_case: 'empty' })).body.stream_id;
    expect((await call('GET', `/v2/streams/${fresh}/checkpoints/latest`)).status).toBe(404);
  });
});

describe('sealing after a restart', () => {
  it('seals what was appended before a crash', async () => {
    const s = await startServer({ env: { PROOFSTREAM_WINDOW_MAX_AGE_MS: '60000' } });
    const c = client(s.url, s.key);
    const sid = (await c('POST', '/v2/streams', { use_case: 'restart' })).body.stream_id;
    const r = await c('POST', `/v2/streams/${sid}/events`, { source_ref: 'x', event_type: 't', payload: 1 }, { 'idempotency-key': 'k' });
    expect(r.status).toBe(201);
    expect((await c('GET', `/v2/receipts/${r.body.stream_event_id}`)).body.inclusion).toBeNull();
    await s.kill();
    const s2 = await startServer({ dataDir: s.dataDir, key: s.key, env: { PROOFSTREAM_WINDOW_MAX_AGE_MS: '60000' } });
    const c2 = client(s2.url, s2.key);
    const inc = await waitFor(async () => (await c2('GET', `/v2/receipts/${r.body.stream_event_id}`)).body.inclusion ?? undefined);
    expect(inc.tree_size).toBe(1);
    await s2.stop();
  });
});
