// Audit packs (POST/GET /v2/audit/packs) against a real server: the document is exactly docs/bundle.md, every
// digest and proof in it checks out with src/protocol alone, and the access rules hold. Plus one in-process test
// that the paged, streaming builder writes the same document whatever its page size.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { Packs } from '../src/ledger/packs.js';
import { Ledger } from '../src/ledger/ledger.js';
import { ArraySectionDigest, BUNDLE_FORMAT, BUNDLE_SECTIONS, sectionDigest } from '../src/protocol/bundle.js';
import { bytesToHex, hexToBytes } from '../src/protocol/bytes.js';
import { parseCheckpoint } from '../src/protocol/checkpoint.js';
import { genesisHead, nextHead } from '../src/protocol/event.js';
import { verifyConsistency, verifyRange } from '../src/protocol/merkle.js';
import { encodeVerifierKey, parseNote, parseVerifierKey, verifyNote } from '../src/protocol/note.js';
import { checkChain, readAll, type StoredEvent } from './helpers/chain.js';
import { client, idemKey, newKey, runCli, startServer, tempDir, type RunningServer } from './helpers/server.js';
import { sleep, waitFor } from './helpers/wait.js';
import { databaseFor, openLedgerDb } from './helpers/pg-mode.js';

let srv: RunningServer;
let call: ReturnType<typeof client>;
let pubHex: string;
let sid: string;
let all: StoredEvent[];
let cps: any[]; // oldest first

async function appendN(streamId: string, n: number, tag: string) {
  for (let i = 0; i < n; i += 40) {
    const events = Array.from({ length: Math.min(40, n - i) }, (_, k) => ({
      source_ref: `${tag}-${i + k}`,
      event_type: 'audit.test',
      payload: { k: i + k, note: 'é✓', nested: { list: [1, 2.5, null] } },
      occurred_at: (i + k) % 3 === 0 ? '2026-06-07T12:00:00Z' : null,
    }));
    const r = await call('POST', `/v2/streams/${streamId}/events/batch`, { events }, { 'idempotency-key': idemKey() });
    expect(r.status).toBe(201);
  }
}

async function sealedThrough(streamId: string, size: number) {
  await waitFor(async () => {
    const r = await call('GET', `/v2/streams/${streamId}/checkpoints/latest`);
    return r.status === 200 && r.body.tree_size >= size ? true : undefined;
  });
}

// Async, not execFileSync: a blocked event loop cannot see the server close an idle keep-alive socket, and the next
// request on it fails ("other side closed") when the CLI takes longer than the keep-alive timeout (it can on PostgreSQL).
async function cliKey(dataDir: string, tenant: string, system: string, scopes?: string): Promise<string> {
  const r = await runCli(['keys', 'create', '--tenant', tenant, '--system', system, '--json', ...(scopes ? ['--scopes', scopes] : [])], { PROOFSTREAM_DATA_DIR: dataDir });
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout).key;
}

/** Everything an auditor checks with src/protocol and the ledger's public key alone. */
async function checkBundle(b: any, streamId: string, from: number, to: number) {
  expect(b.format).toBe(BUNDLE_FORMAT);
  expect(Object.keys(b)).toEqual(['format', 'manifest', 'stream', 'keys', 'events', 'chain', 'checkpoint', 'range_proof', 'consistency', 'witnesses', 'anchors']);
  expect(b.manifest.pack_id).toMatch(/^pack_[A-Za-z0-9_-]{22}$/);
  expect(b.manifest).toMatchObject({ stream_id: streamId, from_seq_no: from, to_seq_no: to });
  expect(Number.isNaN(Date.parse(b.manifest.created_at))).toBe(false);
  expect(Object.keys(b.manifest.sections)).toEqual([...BUNDLE_SECTIONS]);
  for (const name of BUNDLE_SECTIONS) expect(b.manifest.sections[name], name).toBe(sectionDigest(name, b[name]));
  const streamed = new ArraySectionDigest('events');
  for (const e of b.events) streamed.add(e);
  expect(streamed.digest()).toBe(b.manifest.sections.events);

  // stream and keys
  const origin = `proofstream.localhost/${streamId}`;
  expect(b.stream).toMatchObject({ stream_id: streamId, origin });
  expect(b.keys).toContainEqual({ kid: expect.stringMatching(/^ps-ed25519-/), alg: 'Ed25519', public_key: pubHex });
  expect(b.witnesses).toEqual([]);
  expect(b.anchors).toEqual([]);

  // events: the range, in order, exactly as the read API serves them
  expect(b.events.map((e: any) => e.seq_no)).toEqual(Array.from({ length: to - from + 1 }, (_, i) => from + i));
  expect(b.events).toEqual(all.slice(from - 1, to));

  // chain: head_before links to the first event
  const before = from === 1 ? undefined : all[from - 2]!;
  expect(b.chain).toEqual({
    head_before: before ? before.stream_head_hash : bytesToHex(genesisHead(streamId)),
    event_hash_before: before ? before.event_hash : '0'.repeat(64),
  });
  expect(b.events[0].previous_event_hash).toBe(b.chain.event_hash_before);
  expect(bytesToHex(nextHead(hexToBytes(b.chain.head_before), hexToBytes(b.events[0].event_hash)))).toBe(b.events[0].stream_head_hash);

  // checkpoint: the first covering to_seq_no, signed by the ledger key
  const covering = cps.find((c) => c.tree_size >= to);
  expect(b.checkpoint).toEqual({
    checkpoint_id: covering.checkpoint_id,
    tree_size: covering.tree_size,
    root_hash: covering.root_hash,
    note: covering.note,
    signer_vkey: covering.signer_vkey,
  });
  const vkey = parseVerifierKey(encodeVerifierKey(origin, hexToBytes(pubHex)));
  const noteBody = async (cp: any) => {
    expect((await verifyNote(cp.note, [vkey])).ok).toBe(true);
    const body = parseCheckpoint(parseNote(cp.note).text);
    expect(body.origin).toBe(origin);
    expect(body.size).toBe(cp.tree_size);
    expect(bytesToHex(body.rootHash)).toBe(cp.root_hash);
    return body;
  };
  const root = (await noteBody(b.checkpoint)).rootHash;

  // range proof: the events' hashes lead to the signed root
  const rp = b.range_proof;
  expect(rp).toMatchObject({ from_index: from - 1, to_index: to, tree_size: b.checkpoint.tree_size });
  const leaves = b.events.map((e: any) => hexToBytes(e.event_hash));
  const proof = rp.proof.map(hexToBytes);
  expect(verifyRange(rp.from_index, rp.to_index, rp.tree_size, leaves, proof, root)).toBe(true);
  expect(rp.proof.length).toBeLessThanOrEqual(2 * Math.ceil(Math.log2(rp.tree_size)));
  // and not with one leaf changed
  const bad = [...leaves];
  bad[0] = hexToBytes(all[(from + 5) % all.length]!.event_hash);
  expect(verifyRange(rp.from_index, rp.to_index, rp.tree_size, bad, proof, root)).toBe(false);

  // consistency: from the previous checkpoint, when there is one
  const prev = cps[cps.indexOf(covering) - 1];
  expect(b.consistency.map((c: any) => c.from.checkpoint_id)).toEqual(prev ? [prev.checkpoint_id] : []);
  for (const c of b.consistency) {
    const oldRoot = (await noteBody(c.from)).rootHash;
    expect(verifyConsistency(c.from.tree_size, b.checkpoint.tree_size, c.proof.map(hexToBytes), oldRoot, root)).toBe(true);
  }

  // receipts: every signature, commitment and link (the read API's events are the same objects)
  await checkChain(streamId, all.slice(0, to), pubHex);
}

beforeAll(async () => {
  // Windows close at 50 events; the age only closes the last one (120). 300 ms sealed at 80 on a loaded machine on
  // PostgreSQL, where a 40-event batch can take longer than that.
  srv = await startServer({ env: { PROOFSTREAM_WINDOW_MAX_EVENTS: '50', PROOFSTREAM_WINDOW_MAX_AGE_MS: '1500' } });
  call = client(srv.url, srv.key);
  pubHex = (await call('GET', '/v2/keys')).body.keys[0].public_key;
  sid = (await call('POST', '/v2/streams', { use_case: 'packs', policy_id: 'pol-1', metadata: { owner: 'audit' } })).body.stream_id;
  await appendN(sid, 120, 'a');
  await sealedThrough(sid, 120);
  all = await readAll(call, sid);
  cps = [...(await call('GET', `/v2/streams/${sid}/checkpoints`)).body.checkpoints].reverse();
  expect(cps.map((c) => c.tree_size)).toEqual([50, 100, 120]);
});
afterAll(async () => srv?.stop());

describe('POST /v2/audit/packs', () => {
  let whole: { text: string; body: any; headers: Headers };

  it('builds the whole sealed range: 201, docs/bundle.md layout, every digest and proof checks', async () => {
    const r = await call('POST', '/v2/audit/packs', { stream_id: sid, from_seq_no: 1, to_seq_no: 120 });
    expect(r.status).toBe(201);
    expect(r.headers.get('content-type')).toMatch(/^application\/json/);
    expect(r.headers.get('location')).toBe(`/v2/audit/packs/${r.body.manifest.pack_id}`);
    expect(Number(r.headers.get('content-length'))).toBe(Buffer.byteLength(r.text));
    whole = r;
    expect(r.body.stream).toEqual({
      stream_id: sid,
      origin: `proofstream.localhost/${sid}`,
      use_case: 'packs',
      policy_id: 'pol-1',
      metadata: { owner: 'audit' },
      created_at: expect.any(String),
    });
    await checkBundle(r.body, sid, 1, 120);
    expect(r.body.checkpoint.tree_size).toBe(120);
    expect(r.body.consistency[0].from.tree_size).toBe(100);
  });

  it('stores the document under <dataDir>/packs/<pack_id>.json with its SHA-256', async () => {
    const id = whole.body.manifest.pack_id;
    const file = path.join(srv.dataDir, 'packs', `${id}.json`);
    const bytes = fs.readFileSync(file);
    expect(bytes.toString('utf8')).toBe(whole.text);
    const sha = createHash('sha256').update(bytes).digest('hex');
    expect(whole.headers.get('etag')).toBe(`"${sha}"`);
    expect(fs.readdirSync(path.join(srv.dataDir, 'packs')).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    const db = openLedgerDb(srv.dataDir, 'proofstream.db', { readonly: true });
    try {
      const row = db.prepare('SELECT * FROM packs WHERE id = ?').get(id) as any;
      expect(row).toMatchObject({ stream_id: sid, from_seq_no: 1, to_seq_no: 120, file_path: `packs/${id}.json`, sha256: sha, byte_size: bytes.length });
      expect(row.checkpoint_id).toBe(whole.body.checkpoint.checkpoint_id);
    } finally {
      db.close();
    }
  });

  it('GET /v2/audit/packs/{id} returns the same document byte for byte', async () => {
    const g = await call('GET', `/v2/audit/packs/${whole.body.manifest.pack_id}`);
    expect(g.status).toBe(200);
    expect(g.headers.get('content-type')).toMatch(/^application\/json/);
    expect(g.text).toBe(whole.text);
    const missing = await call('GET', '/v2/audit/packs/pack_nope');
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('RESOURCE_NOT_FOUND');
  });

  it('a range in the middle: head_before is head_{from-1}, checkpoint the first covering to_seq_no', async () => {
    const r = await call('POST', '/v2/audit/packs', { stream_id: sid, from_seq_no: 60, to_seq_no: 70 });
    expect(r.status).toBe(201);
    expect(r.body.chain.head_before).toBe(all[58]!.stream_head_hash);
    expect(r.body.chain.event_hash_before).toBe(all[58]!.event_hash);
    expect(r.body.checkpoint.tree_size).toBe(100);
    expect(r.body.consistency[0].from.tree_size).toBe(50);
    await checkBundle(r.body, sid, 60, 70);
  });

  it('ranges inside the first window (no consistency), one event, and across windows', async () => {
    for (const [from, to] of [[1, 10], [50, 50], [51, 51], [49, 101], [120, 120], [2, 120]] as const) {
      const r = await call('POST', '/v2/audit/packs', { stream_id: sid, from_seq_no: from, to_seq_no: to });
      expect(r.status, `${from}..${to}`).toBe(201);
      await checkBundle(r.body, sid, from, to);
      if (to <= 50) expect(r.body.consistency).toEqual([]);
    }
  });

  it('Idempotency-Key: a replay is the same document with Idempotent-Replayed; a changed body is 409', async () => {
    const key = idemKey();
    const a = await call('POST', '/v2/audit/packs', { stream_id: sid, from_seq_no: 3, to_seq_no: 77 }, { 'idempotency-key': key });
    expect(a.status).toBe(201);
    const b = await call('POST', '/v2/audit/packs', { stream_id: sid, from_seq_no: 3, to_seq_no: 77 }, { 'idempotency-key': key });
    expect(b.status).toBe(201);
    expect(b.headers.get('idempotent-replayed')).toBe('true');
    expect(b.text).toBe(a.text);
    const c = await call('POST', '/v2/audit/packs', { stream_id: sid, from_seq_no: 3, to_seq_no: 78 }, { 'idempotency-key': key });
    expect(c.status).toBe(409);
    expect(c.body.error.code).toBe('IDEMPOTENCY_CONFLICT');
    // without a key every call is a new pack
    const d = await call('POST', '/v2/audit/packs', { stream_id: sid, from_seq_no: 3, to_seq_no: 77 });
    expect(d.body.manifest.pack_id).not.toBe(a.body.manifest.pack_id);
  });

  it('erased payloads are null in the pack; the commitment still binds the event', async () => {
    const s2 = (await call('POST', '/v2/streams', { use_case: 'erasure' })).body.stream_id;
    await appendN(s2, 12, 'e');
    await sealedThrough(s2, 12);
    const db = openLedgerDb(srv.dataDir, 'proofstream.db');
    try {
      db.pragma('busy_timeout = 5000');
      db.prepare('UPDATE events SET payload = NULL, salt = NULL WHERE stream_id = ? AND seq_no = 5').run(s2);
    } finally {
      db.close();
    }
    const r = await call('POST', '/v2/audit/packs', { stream_id: s2, from_seq_no: 1, to_seq_no: 12 });
    expect(r.status).toBe(201);
    const e5 = r.body.events[4];
    expect(e5.payload).toBeNull();
    expect(e5.salt).toBeNull();
    expect(e5.payload_commitment).toMatch(/^[0-9a-f]{64}$/);
    expect(r.body.events[3].payload).not.toBeNull();
    expect(r.body.manifest.sections.events).toBe(sectionDigest('events', r.body.events));
    const leaves = r.body.events.map((e: any) => hexToBytes(e.event_hash));
    const root = hexToBytes(r.body.checkpoint.root_hash);
    expect(verifyRange(0, 12, 12, leaves, r.body.range_proof.proof.map(hexToBytes), root)).toBe(true);
  });

  it('an unsealed range is 409 EVIDENCE_PENDING with Retry-After', async () => {
    const s3 = (await call('POST', '/v2/streams', { use_case: 'slow', window_policy: { max_events: 1000, max_age_ms: 3_600_000 } })).body.stream_id;
    await appendN(s3, 5, 'u');
    const r = await call('POST', '/v2/audit/packs', { stream_id: s3, from_seq_no: 1, to_seq_no: 5 });
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe('EVIDENCE_PENDING');
    expect(r.body.error.message).toMatch(/not sealed/);
    expect(r.body.error.details).toMatchObject({ sealed_seq_no: 0, head_seq_no: 5, retry_after_s: 3600 });
    expect(r.headers.get('retry-after')).toBe('3600');
    expect(fs.readdirSync(path.join(srv.dataDir, 'packs')).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('bad ranges are 422 VALIDATION_ERROR', async () => {
    const bodies: unknown[] = [
      { stream_id: sid, from_seq_no: 0, to_seq_no: 5 },
      { stream_id: sid, from_seq_no: -1, to_seq_no: 5 },
      { stream_id: sid, from_seq_no: 10, to_seq_no: 9 },
      { stream_id: sid, from_seq_no: 1, to_seq_no: 121 }, // beyond the head: waiting would not help
      { stream_id: sid, from_seq_no: 1.5, to_seq_no: 5 },
      { stream_id: sid, from_seq_no: '1', to_seq_no: 5 },
      { stream_id: sid, from_seq_no: 1 },
      { stream_id: sid, from_seq_no: 1, to_seq_no: 5, extra: true },
      { from_seq_no: 1, to_seq_no: 5 },
    ];
    for (const body of bodies) {
      const r = await call('POST', '/v2/audit/packs', body);
      expect(r.status, JSON.stringify(body)).toBe(422);
      expect(r.body.error.code).toBe('VALIDATION_ERROR');
    }
    expect((await call('POST', '/v2/audit/packs', '{"stream_id":')).status).toBe(400);
  });

  it("unknown and other tenants' streams and packs are 404; a key without `audit` is 403; no key 401", async () => {
    const unknown = await call('POST', '/v2/audit/packs', { stream_id: 'str_nope', from_seq_no: 1, to_seq_no: 1 });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('RESOURCE_NOT_FOUND');

    const other = client(srv.url, await cliKey(srv.dataDir, 'other', 's'));
    const o1 = await other('POST', '/v2/audit/packs', { stream_id: sid, from_seq_no: 1, to_seq_no: 10 });
    expect(o1.status).toBe(404);
    expect(o1.body.error.code).toBe('RESOURCE_NOT_FOUND');
    expect(o1.text).not.toContain(sid);
    const o2 = await other('GET', `/v2/audit/packs/${whole.body.manifest.pack_id}`);
    expect(o2.status).toBe(404);
    expect(o2.body.error.code).toBe('RESOURCE_NOT_FOUND');

    const readOnly = client(srv.url, await cliKey(srv.dataDir, 'default', 'default', 'read,streams:write,events:write'));
    const f1 = await readOnly('POST', '/v2/audit/packs', { stream_id: sid, from_seq_no: 1, to_seq_no: 10 });
    expect(f1.status).toBe(403);
    expect(f1.body.error.code).toBe('AUTHORIZATION_FAILED');
    expect(f1.body.error.details).toEqual({ required_scope: 'audit' });
    expect((await readOnly('GET', `/v2/audit/packs/${whole.body.manifest.pack_id}`)).status).toBe(403);

    const anon = client(srv.url);
    expect((await anon('POST', '/v2/audit/packs', { stream_id: sid, from_seq_no: 1, to_seq_no: 10 })).status).toBe(401);
    expect((await anon('GET', `/v2/audit/packs/${whole.body.manifest.pack_id}`)).status).toBe(401);
  });

  it('the routes are in /openapi.json', async () => {
    const doc = (await call('GET', '/openapi.json')).body;
    expect(doc.paths['/v2/audit/packs'].post).toBeDefined();
    expect(doc.paths['/v2/audit/packs/{packId}'].get).toBeDefined();
  });
});

describe('pack builder (in process)', () => {
  it('writes the same document whatever the page size (keyset paging is seamless)', async () => {
    const dataDir = tempDir('ps-packs-');
    const key = newKey();
    const ledger = Ledger.open(loadConfig({}, { dataDir, bootstrapKey: key, windowMaxEvents: 16, windowMaxAgeMs: 20, databaseUrl: databaseFor(dataDir) }));
    try {
      const p = ledger.tenancy.authenticate(key)!;
      const streamId = ledger.createStream(p, { use_case: 'paging' }, undefined).view.stream_id;
      const events = Array.from({ length: 45 }, (_, i) => ({ source_ref: `p-${i}`, event_type: 't', payload: { i } }));
      await ledger.append(p, streamId, events, undefined, (r) => r);
      await waitFor(async () => (ledger.store.streams.get(streamId)!.sealedSeqNo === 45 ? true : undefined));
      const docs: any[] = [];
      for (const pageSize of [1, 7, 2_000]) {
        const built = await new Packs(ledger, pageSize).build(p, { stream_id: streamId, from_seq_no: 4, to_seq_no: 40 }, undefined);
        const doc = JSON.parse(fs.readFileSync(built.file, 'utf8'));
        expect(built.row.sha256).toBe(createHash('sha256').update(fs.readFileSync(built.file)).digest('hex'));
        expect(doc.events).toHaveLength(37);
        expect(doc.manifest.sections.events).toBe(sectionDigest('events', doc.events));
        delete doc.manifest.pack_id;
        delete doc.manifest.created_at;
        docs.push(doc);
      }
      expect(docs[1]).toEqual(docs[0]);
      expect(docs[2]).toEqual(docs[0]);
      expect(docs[0].checkpoint.tree_size).toBe(45);
      expect(docs[0].consistency[0].from.tree_size).toBe(32);
    } finally {
      ledger.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
