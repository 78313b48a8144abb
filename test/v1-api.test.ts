// The v1 face (issue #6) against real servers: ingest, batches, idempotency, proofs, the public verifier, the
// offline CLI on the same proof, v1 events read back through v2, and a walk over every leaf of a proof object
// where each change must fail with a specific problem code.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROBLEM_CODES } from '../src/verify/index.js';
import { BIN, ROOT, client, idemKey, startServer, tempDir, type RunningServer } from './helpers/server.js';
import { waitFor } from './helpers/wait.js';
import { asCaller } from './helpers/corpus.js';
import { knownDatabaseFor } from './helpers/pg-mode.js';

const HEX64 = /^[0-9a-f]{64}$/;
const HEX128 = /^[0-9a-f]{128}$/;

/** The POSTs of the README's v1 quick start, exactly as written there. */
function readmeRequests(): Array<{ route: string; key: string; body: any }> {
  const text = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8').split('## v1 quick start')[1]!.split('\n## ')[0]!;
  const re = /curl -s -X POST (?:http:\/\/127\.0\.0\.1:8080|\$PS_URL)(\/v1\/sdk\/\S+) \\\n([\s\S]*?)-d '([\s\S]*?)'/g;
  return [...text.matchAll(re)].map((m) => ({ route: m[1]!, key: /Idempotency-Key: ([^"]+)"/.exec(m[2]!)![1]!, body: JSON.parse(m[3]!) }));
}
const README = readmeRequests();
/** The README's single event (the hosted service's minimal event body). */
const README_EVENT = README[0]!.body;

function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...process.env, ...env } }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code) : 0, stdout, stderr }),
    );
  });
}

/** A new API key made with the CLI against the server's database (tenant/system created on demand). */
async function createKey(srv: RunningServer, tenant: string, system: string, scopes?: string): Promise<string> {
  const args = ['keys', 'create', '--tenant', tenant, '--system', system, '--json', ...(scopes ? ['--scopes', scopes] : [])];
  // on PostgreSQL the server's database (test/helpers/pg-mode.ts)
  const r = await run(args, { PROOFSTREAM_DATA_DIR: srv.dataDir, ...(knownDatabaseFor(srv.dataDir) ? { DATABASE_URL: knownDatabaseFor(srv.dataDir)! } : {}) });
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout).key as string;
}

/** Every string/number/boolean leaf of a JSON value, as [JSON pointer, value]. */
function leaves(v: unknown, at = ''): Array<[string, string | number | boolean]> {
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return [[at, v]];
  if (Array.isArray(v)) return v.flatMap((x, i) => leaves(x, `${at}/${i}`));
  if (v && typeof v === 'object') return Object.entries(v).flatMap(([k, x]) => leaves(x, `${at}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`));
  return [];
}

/** A plausible change: same type, same form (a hex digit stays hex, a letter a letter, a digit a digit). */
function mutate(v: string | number | boolean): string | number | boolean {
  if (typeof v === 'boolean') return !v;
  if (typeof v === 'number') return v + 1;
  if (v.length === 0) return 'x';
  const i = Math.floor(v.length / 2);
  const ch = v[i]!;
  let to: string;
  if (/^[0-9a-f]+$/.test(v)) to = ((parseInt(ch, 16) + 1) % 16).toString(16);
  else if (/[0-9]/.test(ch)) to = String((Number(ch) + 1) % 10);
  else if (/[a-y]/i.test(ch)) to = String.fromCharCode(ch.charCodeAt(0) + 1);
  else if (/[zZ]/.test(ch)) to = ch === 'z' ? 'a' : 'A';
  else to = ch === 'x' ? 'y' : 'x';
  return v.slice(0, i) + to + v.slice(i + 1);
}

function setAt(o: unknown, pointer: string, value: unknown): void {
  const tokens = pointer.split('/').slice(1).map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
  let cur = o as Record<string, unknown>;
  for (const t of tokens.slice(0, -1)) cur = cur[t] as Record<string, unknown>;
  cur[tokens[tokens.length - 1]!] = value;
}

/**
 * Members of a proof that no signature, hash or cross-check binds, so no verifier can notice a change
 * (docs/api.md, "What a v1 proof does not bind"): the ids and times the ledger gives a window/checkpoint and
 * its keys, and the server's anchoring configuration flag.
 */
const SPECIFIC = PROBLEM_CODES.filter((c) => c !== 'MALFORMED');

describe('v1 API', () => {
  let srv: RunningServer;
  let call: ReturnType<typeof client>;
  let pub: ReturnType<typeof client>;
  let first: any; // the README event's v1 receipt
  let batch: any[]; // the README batch's v1 receipts
  let streamId: string;

  beforeAll(async () => {
    // The leaf-by-leaf test sends ~100 verifies, 16 at a time, from one address: no per-address verify limit here.
    srv = await startServer({ env: { PROOFSTREAM_WINDOW_MAX_AGE_MS: '200', PROOFSTREAM_MAX_VERIFY_BYTES: String(64 * 1024), PROOFSTREAM_VERIFY_RATE_LIMIT_RPS: '0' } });
    call = client(srv.url, srv.key);
    pub = client(srv.url);
  });
  afterAll(async () => srv?.stop());

  const proofOf = (id: string) => call('GET', `/v1/events/${id}/proof`);
  const sealedProof = (id: string) =>
    waitFor(async () => {
      const r = await proofOf(id);
      expect(r.status).toBe(200);
      return r.body.status === 'pending' ? undefined : r.body;
    });

  it('the README quick start: post an event, post a batch, get the proof once sealed', async () => {
    expect(README.map((q) => q.route)).toEqual(['/v1/sdk/events', '/v1/sdk/events/batch']);
    const r = await call('POST', README[0]!.route, README[0]!.body, { 'idempotency-key': README[0]!.key });
    expect(r.status, r.text).toBe(201);
    first = r.body;
    expect(Object.keys(first).sort()).toEqual(['event_hash', 'id', 'received_at', 'signature', 'tenant_id']);
    expect(first.id).toMatch(/^evt_[A-Za-z0-9_-]{22}$/);
    expect(first.tenant_id).toMatch(/^ten_/);
    expect(first.event_hash).toMatch(HEX64);
    expect(Number.isNaN(Date.parse(first.received_at))).toBe(false);
    expect(first.signature.alg).toBe('Ed25519');
    expect(first.signature.kid).toBe((await pub('GET', '/v2/keys')).body.keys[0].kid);
    expect(first.signature.value).toMatch(HEX128);

    const b = await call('POST', README[1]!.route, README[1]!.body, { 'idempotency-key': README[1]!.key });
    expect(b.status, b.text).toBe(201);
    expect(Object.keys(b.body)).toEqual(['events']);
    batch = b.body.events;
    expect(batch).toHaveLength(2);
    expect(new Set([first.id, ...batch.map((e: any) => e.id)]).size).toBe(3);

    const proof = await sealedProof(first.id);
    expect(proof.kind).toBe('v1_proof');
    expect(proof.status).toBe('checkpointed');
    streamId = proof.event.stream_id;
    expect(proof.event.seq_no).toBe(1);
    expect(proof.receipt).toEqual(first);
    expect(proof.inclusion).toMatchObject({ leaf_index: 0, checkpoint_id: proof.checkpoint.checkpoint_id, tree_size: proof.checkpoint.tree_size });
    expect(proof.checkpoint.stream_id).toBe(streamId);
    expect(proof.anchor).toBeNull();
    // the keys and the checkpoint are what the v2 routes return, restricted to the members a verifier can check
    const v2keys = (await pub('GET', '/v2/keys')).body.keys;
    expect(proof.keys).toEqual(v2keys.map((k: any) => ({ kid: k.kid, alg: k.alg, public_key: k.public_key, public_key_format: k.public_key_format })));
    const v2cp = (await call('GET', `/v2/checkpoints/${proof.checkpoint.checkpoint_id}`)).body;
    expect(Object.keys(v2cp).filter((k) => !(k in proof.checkpoint)).sort()).toEqual(['anchor_required', 'created_at', 'previous_checkpoint_id', 'window_id']);
    for (const [k, v] of Object.entries(proof.checkpoint)) expect(v, k).toEqual(v2cp[k]);
    // the v1 fields: type → event_type, occurred_at and source_ref as they are, status and payload committed
    expect(proof.event).toMatchObject({ event_type: 'ai.decision', source_ref: 'case-2026-0001', occurred_at: '2026-06-07T12:00:00Z' });
    expect(proof.event.payload).toEqual({ format: 'proofstream.v1-event/1', tenant_id: first.tenant_id, status: 'verified', payload: README_EVENT.payload });

    // defaults: type "event", status "recorded", occurred_at null; all three events in the one v1 stream
    const p2 = await sealedProof(batch[0].id);
    expect(p2.event).toMatchObject({ stream_id: streamId, seq_no: 2, event_type: 'event', occurred_at: null });
    expect(p2.event.payload.status).toBe('recorded');
    expect(p2.event.previous_event_hash).toBe(first.event_hash);
    expect((await sealedProof(batch[1].id)).event).toMatchObject({ stream_id: streamId, seq_no: 3 });
  });

  it('a pending proof (window not sealed) says so, has no inclusion, and verifies', async () => {
    const slow = await startServer({ env: { PROOFSTREAM_WINDOW_MAX_AGE_MS: '3600000' } });
    try {
      const c = client(slow.url, slow.key);
      const r = await c('POST', '/v1/sdk/events', README_EVENT, { 'idempotency-key': idemKey() });
      expect(r.status).toBe(201);
      const p = (await c('GET', `/v1/events/${r.body.id}/proof`)).body;
      expect(p).toMatchObject({ kind: 'v1_proof', status: 'pending', inclusion: null, checkpoint: null, anchor: null });
      const ok = await client(slow.url)('POST', '/v1/public/verify', { proof: p });
      expect(ok.body.problems).toEqual([]);
      expect(ok.body.ok).toBe(true);
      // claiming more than is there is caught
      const lie = await client(slow.url)('POST', '/v1/public/verify', { proof: { ...p, status: 'checkpointed' } });
      expect(lie.body.ok).toBe(false);
      expect(lie.body.problems[0]).toMatchObject({ code: 'STATUS_MISMATCH', path: '/status' });
    } finally {
      await slow.stop();
    }
  });

  it('a proof verifies through POST /v1/public/verify, and offline with `proofstream verify` to the same report', async () => {
    const proof = await sealedProof(first.id);
    const wrapped = await pub('POST', '/v1/public/verify', { proof });
    expect(wrapped.status).toBe(200);
    expect(wrapped.body.problems).toEqual([]);
    expect(wrapped.body).toMatchObject({ ok: true, kind: 'v1_proof' });
    expect(wrapped.body.checks.length).toBeGreaterThan(5);
    // the proof object itself as the body: the same report
    expect((await pub('POST', '/v1/public/verify', proof)).body).toEqual(wrapped.body);
    // and the same through POST /v2/verify
    expect((await pub('POST', '/v2/verify', { object: proof })).body).toEqual(wrapped.body);

    const dir = tempDir('ps-v1-cli-');
    const file = path.join(dir, 'proof.json');
    const keys = path.join(dir, 'keys.json');
    const policy = path.join(dir, 'policy.txt');
    fs.writeFileSync(file, JSON.stringify(proof));
    fs.writeFileSync(keys, (await pub('GET', '/v2/keys')).text);
    fs.writeFileSync(policy, (await pub('GET', '/v2/trust-policy')).text);
    const offline = await run(['verify', file, '--policy', policy, '--json'], { PROOFSTREAM_DATA_DIR: tempDir() });
    expect(offline.code, offline.stderr).toBe(0);
    expect(asCaller(JSON.parse(offline.stdout), 'cli', 'http')).toEqual(wrapped.body);
    // with the keys instead of the policy: the same as the server given those keys
    const withKeys = await pub('POST', '/v1/public/verify', { proof, trusted_keys: JSON.parse(fs.readFileSync(keys, 'utf8')).keys });
    expect(withKeys.body.ok).toBe(true);
    const offlineKeys = await run(['verify', file, '--trust', keys, '--json'], { PROOFSTREAM_DATA_DIR: tempDir() });
    expect(offlineKeys.code, offlineKeys.stderr).toBe(0);
    expect(asCaller(JSON.parse(offlineKeys.stdout), 'cli', 'http')).toEqual(withKeys.body);
    const human = await run(['verify', file, '--trust', keys], { PROOFSTREAM_DATA_DIR: tempDir() });
    expect(human.code).toBe(0);
    expect(human.stdout).toContain('v1_proof — VALID');

    // a tampered file: exit 1 and the same report as the server's
    const bad = structuredClone(proof);
    bad.event.payload.payload.decision = 'approve';
    fs.writeFileSync(file, JSON.stringify(bad));
    const off2 = await run(['verify', file, '--policy', policy, '--json'], { PROOFSTREAM_DATA_DIR: tempDir() });
    expect(off2.code).toBe(1);
    const http2 = (await pub('POST', '/v1/public/verify', { proof: bad })).body;
    expect(asCaller(JSON.parse(off2.stdout), 'cli', 'http')).toEqual(http2);
    expect(http2.problems[0]).toMatchObject({ code: 'PAYLOAD_MISMATCH', path: '/event/payload_commitment' });

    // trust: a key the proof was not signed with fails it
    const stranger = { kid: 'ps-ed25519-0000000000000000', alg: 'Ed25519', public_key: '11'.repeat(32) };
    const untrusted = (await pub('POST', '/v1/public/verify', { proof, trusted_keys: [stranger] })).body;
    expect(untrusted.ok).toBe(false);
    expect(untrusted.problems.map((p: any) => p.code)).toEqual(expect.arrayContaining(['UNKNOWN_KEY', 'CHECKPOINT_UNTRUSTED']));
  });

  it('changing any leaf of a proof fails it with a specific problem code', async () => {
    // seq_no 1 (previous_event_hash bound to zeros) and seq_no 2 (bound by the inclusion proof's first hash)
    for (const id of [first.id, batch[0].id]) {
      const proof = await sealedProof(id);
      expect((await pub('POST', '/v1/public/verify', { proof })).body.ok).toBe(true);
      const all = leaves(proof);
      const walked = all; // every member is bound: no label a verifier could not notice
      expect(walked.length).toBeGreaterThan(40);
      for (const must of ['/kind', '/status', '/event/stream_event_id', '/event/previous_event_hash', '/receipt/tenant_id', '/keys/0/public_key', '/inclusion/checkpoint_id', '/checkpoint/note']) {
        expect(walked.map(([p]) => p)).toContain(must);
      }
      for (let i = 0; i < walked.length; i += 16) {
        await Promise.all(
          walked.slice(i, i + 16).map(async ([p, v]) => {
            const bad = structuredClone(proof);
            setAt(bad, p, mutate(v));
            const r = await pub('POST', '/v1/public/verify', { proof: bad });
            expect(r.status).toBe(200);
            expect(r.body.ok, `${p} changed: ${JSON.stringify(r.body.problems)}`).toBe(false);
            expect(SPECIFIC, `${p} changed: ${JSON.stringify(r.body.problems[0])}`).toContain(r.body.problems[0].code);
          }),
        );
      }
      // nothing can be added either: an extra member of the checkpoint or of a key is refused
      for (const extra of [['checkpoint', 'window_id'], ['keys', 0, 'current']] as const) {
        const bad = structuredClone(proof);
        let o: any = bad;
        for (const k of extra.slice(0, -1)) o = o[k];
        o[extra[extra.length - 1]!] = 'added';
        const r = (await pub('POST', '/v1/public/verify', { proof: bad })).body;
        expect(r.ok, extra.join('/')).toBe(false);
        expect(r.problems[0].code).toBe('MALFORMED');
      }
    }
  });

  it('a v1 event reads back through v2 with the same hash and signature', async () => {
    const proof = await sealedProof(batch[1].id);
    const sev = proof.event.stream_event_id;
    expect(batch[1].id).toBe(`evt_${sev.slice(4)}`);
    const events = await call('GET', `/v2/streams/${streamId}/events?from_seq_no=1&limit=100`);
    expect(events.status).toBe(200);
    const ev = events.body.events.find((e: any) => e.stream_event_id === sev);
    expect(ev).toEqual(proof.event);
    expect(ev.event_hash).toBe(batch[1].event_hash);
    const rec = await call('GET', `/v2/receipts/${sev}`);
    expect(rec.status).toBe(200);
    expect(rec.body.event_hash).toBe(batch[1].event_hash);
    expect(rec.body.receipt.signature).toBe(batch[1].signature.value);
    expect(rec.body.inclusion.proof).toEqual(proof.inclusion.proof);
    // a v2 event's id in v1 form is not a v1 event
    const v2s = (await call('POST', '/v2/streams', { use_case: 'plain v2' })).body.stream_id;
    const v2e = await call('POST', `/v2/streams/${v2s}/events`, { source_ref: 'x', event_type: 't', payload: 1 }, { 'idempotency-key': idemKey() });
    expect((await proofOf(`evt_${v2e.body.stream_event_id.slice(4)}`)).status).toBe(404);
    expect((await proofOf(v2e.body.stream_event_id)).status).toBe(404);
  });

  it('a batch of 1001 is refused; one bad item is refused naming its index, and nothing is stored', async () => {
    const head = async () => (await call('GET', `/v2/streams/${streamId}`)).body.head_seq_no as number;
    const before = await head();
    const many = Array.from({ length: 1001 }, (_, i) => ({ source_ref: `m-${i}`, payload: i }));
    const r = await call('POST', '/v1/sdk/events/batch', { events: many }, { 'idempotency-key': idemKey() });
    expect(r.status).toBe(422);
    expect(r.body.error.code).toBe('VALIDATION_ERROR');

    const items = Array.from({ length: 5 }, (_, i) => ({ source_ref: `b-${i}`, payload: { i }, occurred_at: '2026-06-07T12:00:00Z' }));
    items[3]!.occurred_at = 'yesterday';
    const bad = await call('POST', '/v1/sdk/events/batch', { events: items }, { 'idempotency-key': idemKey() });
    expect(bad.status).toBe(422);
    expect(bad.body.error.code).toBe('VALIDATION_ERROR');
    expect(bad.body.error.details.index).toBe(3);
    expect(bad.body.error.details.issues[0].path).toBe('/events/3/occurred_at');
    expect(bad.body.error.message).toContain('events[3]');
    const noRef = await call('POST', '/v1/sdk/events/batch', { events: [{ source_ref: 'ok', payload: 1 }, { payload: 2 }] }, { 'idempotency-key': idemKey() });
    expect(noRef.status).toBe(422);
    expect(noRef.body.error.details).toMatchObject({ index: 1, issues: [{ path: '/events/1/source_ref' }] });
    const single = await call('POST', '/v1/sdk/events', { ...README_EVENT, extra: 1 }, { 'idempotency-key': idemKey() });
    expect(single.status).toBe(422);
    expect(await head()).toBe(before);
    // the same five, fixed, go in whole and in order
    items[3]!.occurred_at = '2026-06-07T12:00:00Z';
    const good = await call('POST', '/v1/sdk/events/batch', { events: items }, { 'idempotency-key': idemKey() });
    expect(good.status).toBe(201);
    expect(await head()).toBe(before + 5);
    const seqs = await Promise.all(good.body.events.map(async (e: any) => (await proofOf(e.id)).body.event.seq_no));
    expect(seqs).toEqual([1, 2, 3, 4, 5].map((k) => before + k));
  });

  it('Idempotency-Key: a replay is byte-identical, a changed body is 409, no key is 400', async () => {
    for (const [route, body, changed] of [
      ['/v1/sdk/events', { source_ref: 'idem-1', payload: { a: 1 } }, { source_ref: 'idem-1', payload: { a: 2 } }],
      ['/v1/sdk/events/batch', { events: [{ source_ref: 'idem-2', payload: 1 }] }, { events: [{ source_ref: 'idem-2', payload: 1, status: 'other' }] }],
    ] as const) {
      const key = idemKey();
      const a = await call('POST', route, body, { 'idempotency-key': key });
      expect(a.status).toBe(201);
      // the same JSON with members in another order is the same request (JCS)
      const reordered = JSON.stringify(Object.fromEntries(Object.entries(body).reverse()));
      const b = await call('POST', route, reordered, { 'idempotency-key': key });
      expect(b.status).toBe(201);
      expect(b.text).toBe(a.text);
      expect(b.headers.get('idempotent-replayed')).toBe('true');
      const c = await call('POST', route, changed, { 'idempotency-key': key });
      expect(c.status).toBe(409);
      expect(c.body.error.code).toBe('IDEMPOTENCY_CONFLICT');
      expect((await call('POST', route, body)).status).toBe(400);
    }
  });

  it('auth: events:write to ingest, read for proofs, one v1 stream per system, tenants isolated', async () => {
    expect((await pub('POST', '/v1/sdk/events', README_EVENT, { 'idempotency-key': idemKey() })).status).toBe(401);
    const readOnly = client(srv.url, await createKey(srv, 'default', 'default', 'read'));
    const denied = await readOnly('POST', '/v1/sdk/events', README_EVENT, { 'idempotency-key': idemKey() });
    expect(denied.status).toBe(403);
    expect((await readOnly('GET', `/v1/events/${first.id}/proof`)).status).toBe(200);

    // a fresh system: concurrent first requests all land in one new v1 stream
    const other = client(srv.url, await createKey(srv, 'default', 'scoring'));
    const rs = await Promise.all(
      Array.from({ length: 6 }, (_, i) => other('POST', '/v1/sdk/events', { source_ref: `c-${i}`, payload: i }, { 'idempotency-key': idemKey() })),
    );
    expect(rs.map((r) => r.status)).toEqual(Array(6).fill(201));
    const proofs = await Promise.all(rs.map(async (r) => (await other('GET', `/v1/events/${r.body.id}/proof`)).body));
    const sids = new Set(proofs.map((p) => p.event.stream_id));
    expect(sids.size).toBe(1);
    expect(sids.has(streamId)).toBe(false);
    expect(proofs.map((p) => p.event.seq_no).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6]);

    const stranger = client(srv.url, await createKey(srv, 'someone-else', 'x'));
    const hidden = await stranger('GET', `/v1/events/${first.id}/proof`);
    expect(hidden.status).toBe(404);
    expect(hidden.body.error.code).toBe('RESOURCE_NOT_FOUND');
    expect((await call('GET', '/v1/events/evt_nope/proof')).status).toBe(404);
  });

  it('POST /v1/public/verify: error envelopes for bad bodies, reports for bad proofs, no database needed', async () => {
    const notJson = await pub('POST', '/v1/public/verify', '{"proof":', { 'content-type': 'application/json' });
    expect(notJson.status).toBe(400);
    expect(notJson.body.error.code).toBe('MALFORMED_JSON');
    expect(notJson.body.error.request_id).toMatch(/^req_/);
    const notObject = await pub('POST', '/v1/public/verify', [1, 2]);
    expect(notObject.status).toBe(422);
    expect(notObject.body.error.code).toBe('VALIDATION_ERROR');
    const badKeys = await pub('POST', '/v1/public/verify', { proof: {}, trusted_keys: [{ kid: 'k' }] });
    expect(badKeys.status).toBe(422);
    expect(badKeys.body.error.code).toBe('VALIDATION_ERROR');
    const wrongKind = await pub('POST', '/v1/public/verify', { proof: { kind: 'receipt' } });
    expect(wrongKind.status).toBe(200);
    expect(wrongKind.body).toMatchObject({ ok: false, kind: 'v1_proof' });
    expect(wrongKind.body.problems[0]).toMatchObject({ code: 'UNSUPPORTED_KIND', path: '/kind' });

    const proof = await sealedProof(first.id);
    const big = await pub('POST', '/v1/public/verify', { proof, pad: 'x'.repeat(70 * 1024) });
    expect(big.status).toBe(413);
    expect(big.body.error.code).toBe('PAYLOAD_TOO_LARGE');

    const openapi = (await pub('GET', '/openapi.json')).body;
    for (const p of ['/v1/sdk/events', '/v1/sdk/events/batch', '/v1/events/{eventId}/proof', '/v1/public/verify', '/v2/streams/{streamId}/events', '/v2/verify']) {
      expect(Object.keys(openapi.paths)).toContain(p);
    }

    // last: the database files go away, and the public verifier keeps answering from memory
    for (const f of ['proofstream.db', 'proofstream.db-wal', 'proofstream.db-shm']) fs.rmSync(path.join(srv.dataDir, f), { force: true });
    const after = await pub('POST', '/v1/public/verify', { proof });
    expect(after.status).toBe(200);
    expect(after.body.ok).toBe(true);
  });
});
