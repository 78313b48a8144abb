// The append hot path writes its byte formats directly (JCS text of fixed-shape objects, node:crypto SHA-256,
// pooled random bytes, time-ordered ids). These tests hold it to the protocol's own definitions, byte for byte.
import path from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { Appender, initialHead, type EventInput } from '../src/ledger/appender.js';
import { ApiError } from '../src/ledger/errors.js';
import { requestFingerprint } from '../src/ledger/idempotency.js';
import { newId, newTimeOrderedId } from '../src/ledger/ids.js';
import { SignPool } from '../src/ledger/sign-pool.js';
import { loadOrCreateSigner } from '../src/ledger/signer.js';
import { warmUp } from './helpers/sign-pool.js';
import { bytesToHex, hexToBytes, utf8ToBytes } from '../src/protocol/bytes.js';
import { verifyEd25519Noble } from '../src/protocol/ed25519.js';
import { eventHash, genesisHead, nextHead, payloadCommitment } from '../src/protocol/event.js';
import { sha256 } from '../src/protocol/hash.js';
import { canonicalize, CanonicalizationError, findUnsafeNumber } from '../src/protocol/jcs.js';
import { receiptMessage } from '../src/protocol/receipt.js';
import { Store } from '../src/store/index.js';
import { tempDir } from './helpers/server.js';
import { databaseFor, openLedgerDb } from './helpers/pg-mode.js';

const stores: Store[] = [];
const pools: SignPool[] = [];
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
  for (const p of pools.splice(0)) p.close();
});

function setup() {
  const dir = tempDir('ps-fast-');
  const store = Store.open(databaseFor(dir) ?? path.join(dir, 'l.db'));
  stores.push(store);
  const signer = loadOrCreateSigner(path.join(dir, 'k.pem'));
  const appender = new Appender(store, signer);
  const at = new Date().toISOString();
  store.tenancy.insertTenant({ id: 'ten_t', name: 't', createdAt: at });
  store.tenancy.insertSystem({ id: 'sys_s', tenantId: 'ten_t', name: 's', createdAt: at });
  const mkStream = (id: string) => {
    const h = initialHead(id);
    store.streams.insert({
      id,
      tenantId: 'ten_t',
      systemId: 'sys_s',
      useCase: 'u',
      policyId: null,
      metadata: null,
      windowPolicy: null,
      kind: 'v2',
      createdAt: at,
      headSeqNo: h.seqNo,
      headHash: h.headHash,
      lastEventHash: h.lastEventHash,
      frontier: h.frontier,
      sealedSeqNo: 0,
      lastCheckpointId: null,
    } as Parameters<typeof store.streams.insert>[0]);
  };
  return { dir, store, signer, appender, mkStream };
}

/** Reference JCS: the original array-building implementation, kept here to hold the fast path to it. */
function referenceJcs(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number') return Object.is(v, -0) ? '0' : String(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (v === null) return 'null';
  if (Array.isArray(v)) return `[${v.map(referenceJcs).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${referenceJcs(o[k])}`)
    .join(',')}}`;
}

/** Whether every string (and key) in v is well-formed UTF-16, i.e. whether JCS accepts it. */
const wellFormed = (v: unknown): boolean =>
  typeof v === 'string'
    ? v.isWellFormed()
    : Array.isArray(v)
      ? v.every(wellFormed)
      : v !== null && typeof v === 'object'
        ? Object.entries(v).every(([k, x]) => k.isWellFormed() && wellFormed(x))
        : true;
const jsonValue = fc.jsonValue();

describe('JCS fast path', () => {
  it('writes exactly what the reference writes', () => {
    fc.assert(
      fc.property(jsonValue, (v) => {
        if (wellFormed(v)) expect(canonicalize(v)).toBe(referenceJcs(v));
        else expect(() => canonicalize(v)).toThrow(CanonicalizationError);
      }),
      { numRuns: 1000 },
    );
  });

  it('still names the exact JSON pointer of what it refuses', () => {
    const bad = { a: [1, { 'x/y~': 'ok', z: '\ud800' }] };
    expect(() => canonicalize(bad)).toThrow(CanonicalizationError);
    try {
      canonicalize(bad);
    } catch (e) {
      expect((e as CanonicalizationError).path).toBe('/a/1/z');
    }
    expect(findUnsafeNumber({ a: [0, { 'p/q': 2 ** 60 }] })).toBe('/a/1/p~1q');
    expect(findUnsafeNumber({ a: [0, { b: 1.5, c: -(2 ** 53 - 1) }] })).toBeNull();
  });

  it('fingerprints JCS-equal bodies alike and different bodies differently', () => {
    const a = requestFingerprint('post', '/p', JSON.parse('{"b":1,"a":[true,null,"\\u00e9"]}'));
    const b = requestFingerprint('POST', '/p', JSON.parse('{ "a" : [ true , null , "é" ] , "b" : 1.0 }'));
    expect(a).toBe(b);
    expect(a).toBe(bytesToHex(sha256(utf8ToBytes('POST /p\n{"a":[true,null,"é"],"b":1}'))));
    expect(requestFingerprint('POST', '/p', { a: [true, null, 'é'], b: 2 })).not.toBe(a);
  });
});

describe('append hot path', () => {
  const strings = ['plain', 'é ü 中文 🎉', 'quote " backslash \\ slash /', 'ctl \u0001\n\t\u2028\u2029', ''];

  it('stores hashes, commitments, chain, signatures and Merkle nodes equal to the protocol definitions', () => appendAndCheck(false));
  it('… with the receipt signatures of large jobs shared over a SignPool thread', () => appendAndCheck(true));

  async function appendAndCheck(pooled: boolean) {
    const { dir, signer, appender, mkStream } = setup();
    mkStream('str_a');
    if (pooled) {
      appender.signPool = new SignPool(1);
      pools.push(appender.signPool);
      await warmUp(appender.signPool, signer.keyObject!, signer.kid);
    }
    const pooledBefore = appender.signPool?.stats.pooledSignatures ?? 0;
    const inputs: EventInput[] = [];
    for (let i = 0; i < 40; i++) {
      inputs.push({
        source_ref: `${strings[i % strings.length]!}${i}`,
        event_type: strings[(i + 2) % strings.length] || 'type',
        payload: { i, s: strings[i % strings.length], n: [1.5, -0, 1e-7, 123.456, 2 ** 53 - 1, null, true] },
        occurred_at: i % 3 === 0 ? null : i % 3 === 1 ? undefined : '2026-06-07T12:00:00.123+02:00',
      });
    }
    // Mixed job sizes in one flush, as the group committer sees them.
    const results = await Promise.all([
      appender.append('str_a', inputs.slice(0, 1), undefined, (r) => r),
      appender.append('str_a', inputs.slice(1, 17), undefined, (r) => r),
      appender.append('str_a', inputs.slice(17), undefined, (r) => r),
    ]);
    expect(results.flatMap((r) => r.receipts).map((r) => r.seq_no)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));

    const db = openLedgerDb(dir, 'l.db', { readonly: true });
    const rows = db.prepare('SELECT * FROM events WHERE stream_id = ? ORDER BY seq_no').all('str_a') as Array<Record<string, any>>; // eslint-disable-line @typescript-eslint/no-explicit-any
    const nodes = db.prepare('SELECT level, idx, hash FROM merkle_nodes WHERE stream_id = ?').all('str_a') as Array<{ level: number; idx: number; hash: Buffer }>;
    db.close();
    let head = genesisHead('str_a');
    let prev = '0'.repeat(64);
    rows.forEach((r, i) => {
      const input = inputs[i]!;
      expect(r.payload).toBe(canonicalize(input.payload));
      expect(r.payload_commitment).toBe(bytesToHex(payloadCommitment(hexToBytes(r.salt), input.payload)));
      const h = eventHash({
        stream_id: 'str_a',
        seq_no: i + 1,
        source_ref: input.source_ref,
        event_type: input.event_type,
        occurred_at: input.occurred_at ?? null,
        received_at: r.received_at,
        payload_commitment: r.payload_commitment,
      });
      expect(r.event_hash).toBe(bytesToHex(h));
      head = nextHead(head, h);
      expect(r.stream_head_hash).toBe(bytesToHex(head));
      expect(r.previous_event_hash).toBe(prev);
      prev = r.event_hash;
      const msg = receiptMessage({ kid: signer.kid, stream_id: 'str_a', seq_no: i + 1, event_hash: r.event_hash, stream_head_hash: r.stream_head_hash, received_at: r.received_at });
      expect(verifyEd25519Noble(signer.publicKey, hexToBytes(r.signature), msg)).toBe(true);
      expect(r.id).toMatch(/^sev_[A-Za-z0-9_-]{22}$/);
    });
    // Every perfect subtree of 40 leaves at level ≥ 1 is stored, with the RFC 9162 hash of its two children.
    const byKey = new Map(nodes.map((n) => [`${n.level}/${n.idx}`, new Uint8Array(n.hash)]));
    const at = (level: number, idx: number): Uint8Array =>
      level === 0 ? hexToBytes(rows[idx]!.event_hash) : byKey.get(`${level}/${idx}`)!;
    let expected = 0;
    for (let level = 1; 2 ** level <= 40; level++) {
      for (let idx = 0; (idx + 1) * 2 ** level <= 40; idx++) {
        expected++;
        expect(bytesToHex(at(level, idx))).toBe(bytesToHex(sha256(new Uint8Array([1]), at(level - 1, 2 * idx), at(level - 1, 2 * idx + 1))));
      }
    }
    expect(nodes.length).toBe(expected);
    // The jobs of 16 and 23 events were signed half on the thread; the single one here.
    expect((appender.signPool?.stats.pooledSignatures ?? 0) - pooledBefore).toBe(pooled ? 16 + 23 : 0);
  }

  it('refuses a lone surrogate in source_ref or event_type as NOT_CANONICALIZABLE, naming the field', () => {
    const { appender } = setup();
    const bad = (e: Partial<EventInput>, index?: number) => {
      try {
        const items = [{ source_ref: 'r', event_type: 't', payload: 1, ...e }];
        if (index !== undefined) items.unshift({ source_ref: 'r', event_type: 't', payload: 1 });
        void appender.append('str_none', items, undefined, (r) => r);
      } catch (err) {
        return err as ApiError;
      }
      throw new Error('accepted');
    };
    const e1 = bad({ source_ref: 'a\ud800' });
    expect(e1.code).toBe('NOT_CANONICALIZABLE');
    expect(e1.details).toMatchObject({ path: '/source_ref' });
    const e2 = bad({ event_type: '\udc00' }, 1);
    expect(e2.details).toMatchObject({ path: '/events/1/event_type', index: 1 });
    const e3 = bad({ payload: { a: [2 ** 60] } });
    expect(e3.details).toMatchObject({ path: '/payload/a/0' });
  });

  it('fails only the job that cannot commit; the others in the same flush commit without it', async () => {
    const { dir, store, appender, mkStream } = setup();
    mkStream('str_b');
    const now = Date.now();
    store.idempotency.insert({ tenantId: 'ten_t', key: 'held', fingerprint: 'x', status: 201, responseBody: '{}', createdAt: now, expiresAt: now + 60_000 });
    const idem = (key: string) => ({ tenantId: 'ten_t', key, fingerprint: 'f', ttlMs: 60_000 });
    const ev = (i: number) => ({ source_ref: `r${i}`, event_type: 't', payload: { i } });
    const outcomes = await Promise.allSettled([
      appender.append('str_b', [ev(1)], idem('k1'), (r) => r[0]),
      appender.append('str_b', [ev(2)], idem('held'), (r) => r[0]),
      appender.append('str_nope', [ev(3)], undefined, (r) => r[0]),
      appender.append('str_b', [ev(4), ev(5)], idem('k4'), (r) => r),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'fulfilled']);
    expect(((outcomes[1] as PromiseRejectedResult).reason as ApiError).code).toBe('IDEMPOTENCY_IN_PROGRESS');
    expect(((outcomes[2] as PromiseRejectedResult).reason as ApiError).code).toBe('RESOURCE_NOT_FOUND');
    expect(appender.stats.isolatedRetries).toBe(1);
    const db = openLedgerDb(dir, 'l.db', { readonly: true });
    expect(db.prepare('SELECT seq_no, source_ref FROM events WHERE stream_id = ? ORDER BY seq_no').all('str_b')).toEqual([
      { seq_no: 1, source_ref: 'r1' },
      { seq_no: 2, source_ref: 'r4' },
      { seq_no: 3, source_ref: 'r5' },
    ]);
    expect(db.prepare('SELECT key FROM idempotency_records ORDER BY key').pluck().all()).toEqual(['held', 'k1', 'k4']);
    expect(db.prepare('SELECT head_seq_no FROM streams WHERE id = ?').pluck().get('str_b')).toBe(3);
    db.close();
  });
});

describe('ids', () => {
  it('time-ordered ids sort by time, use the base64url alphabet, and do not repeat', () => {
    const seen = new Set<string>();
    let last = '';
    for (let t = 1_700_000_000_000; t < 1_700_000_000_000 + 5000; t += 7) {
      const id = newTimeOrderedId('sev', t);
      expect(id).toMatch(/^sev_[A-Za-z0-9_-]{22}$/);
      expect(id.slice(0, 12) >= last.slice(0, 12)).toBe(true);
      last = id;
      seen.add(id);
    }
    expect(seen.size).toBe(Math.ceil(5000 / 7));
    expect(newTimeOrderedId('sev', 2_000_000_000_000) > newTimeOrderedId('sev', 1_999_999_999_999)).toBe(true);
    const ids = new Set(Array.from({ length: 20_000 }, () => newId('x')));
    expect(ids.size).toBe(20_000);
  });
});
