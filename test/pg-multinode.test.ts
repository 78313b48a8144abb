// Several API nodes on one PostgreSQL database (issue #17): three `proofstream serve` processes share one database,
// one signing key file and one bootstrap key; clients append to the same streams through all three at once (singles
// and batches under Idempotency-Keys, some sent again — or at the same time — to another node), the node holding
// the housekeeping lease is killed with SIGKILL mid-load, and the other two carry on. Then: every receipt any client
// got is in a gap-free, signed chain, no key made two events, the windows and tiles the sealers' caches built match
// the stored leaves, survivors sealed past the kill (a stream only the dead node appended to as well), the lease
// moved (its witness submissions went on: post-kill checkpoints are cosigned), and a pack of each stream verifies
// offline with `proofstream verify` against the ledger's trust policy (witness quorum included).
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rootFromLeaves } from '../src/protocol/merkle.js';
import { encodeVerifierKey } from '../src/protocol/note.js';
import { bytesToHex } from '../src/protocol/bytes.js';
import { loadOrCreateSigner } from '../src/ledger/signer.js';
import { TileFolder } from '../src/ledger/tiles.js';
import { Lease, LEASE_RETRY_MS } from '../src/ledger/lease.js';
import { Store } from '../src/store/index.js';
import { leaseKey } from '../src/store/pg/database.js';
import type { ReceiptView } from '../src/protocol/receipt.js';
import { checkChain, readAll, type StoredEvent } from './helpers/chain.js';
import { postgresAvailable, startPostgres, type RunningPostgres } from './helpers/postgres.js';
import { BIN, client, newKey, runCli, spawnListening, tempDir, type ListeningProcess } from './helpers/server.js';
import { sleep, waitFor } from './helpers/wait.js';
import { startWitness, type RunningWitnessProcess } from './helpers/witness.js';

const PG = postgresAvailable();
if (!PG) console.warn('pg-multinode.test.ts: no PostgreSQL (initdb) on this machine: the PostgreSQL half (three nodes on one database) was skipped');

const ORIGIN = 'proofstream.localhost';
/** Logical appends made through the three nodes; the lease holder is killed once KILL_AT of them have answered. */
const OPS = 330;
const KILL_AT = 110;
const CLIENTS = 6;
/** single appends sent to the lease holder just as it is killed */
const IN_FLIGHT_AT_KILL = 8;
const WINDOW_MAX_EVENTS = 25;
/** the stream only the killed node appends to: its one partial window is due by age after the node is gone */
const ORPHAN_MAX_AGE_MS = 3_000;

type Call = ReturnType<typeof client>;
interface Node {
  name: string;
  proc: ListeningProcess;
  call: Call;
  alive: boolean;
}

/** waitFor, failing with what it waited for (and what `state` says then) instead of a bare "timed out". */
async function until<T>(what: string, fn: () => Promise<T | undefined>, ms: number, state?: () => Promise<unknown>): Promise<T> {
  try {
    return await waitFor(fn, ms);
  } catch (e) {
    throw new Error(`${(e as Error).message} after ${ms} ms waiting for ${what}${state ? `: ${JSON.stringify(await state())}` : ''}`);
  }
}

/** JSON log lines of a process with the given `event` field. */
function logEvents(p: ListeningProcess, event: string): Array<{ time: string; event: string }> {
  return p
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => {
      try {
        return JSON.parse(l) as { time: string; event: string };
      } catch {
        return null;
      }
    })
    .filter((o): o is { time: string; event: string } => o !== null && o.event === event);
}

describe('the housekeeping lease on SQLite', () => {
  it('is taken inside start(), once, with no retry timer: one process per database', () => {
    const store = Store.open(path.join(tempDir('ps-lease-'), 'lease.db'));
    try {
      let taken = 0;
      const lease = new Lease(store, 'housekeeping', { start: () => taken++, stop: () => taken-- });
      lease.start();
      expect([lease.held, taken]).toEqual([true, 1]);
      expect((lease as unknown as { timer: unknown }).timer).toBeUndefined();
      lease.stop();
    } finally {
      store.close();
    }
  });
});

describe.skipIf(!PG)('three API nodes on one PostgreSQL, the lease holder killed mid-load', () => {
  let pgsrv: RunningPostgres;
  let db: pg.Client;
  let witness: RunningWitnessProcess;
  const nodes: Node[] = [];
  const bootstrapKey = newKey();
  let env: NodeJS.ProcessEnv;
  let shared: string[] = [];
  let tiled = '';
  let orphan = '';

  async function startNode(name: string): Promise<Node> {
    const proc = await spawnListening(`node ${name}`, [BIN, 'serve'], { ...env, PROOFSTREAM_DATA_DIR: tempDir(`ps-mn-${name}-`) });
    return { name, proc, call: client(`http://127.0.0.1:${proc.port}`, bootstrapKey), alive: true };
  }

  beforeAll(async () => {
    pgsrv = await startPostgres();
    db = new pg.Client({ connectionString: pgsrv.url });
    await db.connect();
    const dir = tempDir('ps-mn-');
    // One signing key file for all three nodes (what an operator mounts on each), made here to pin it to the witness.
    const keyFile = path.join(dir, 'keys', 'signing-key.pem');
    const signer = loadOrCreateSigner(keyFile);
    witness = await startWitness({ logs: [{ origin: `${ORIGIN}/*`, vkeys: [encodeVerifierKey(`${ORIGIN}/*`, signer.publicKey)] }] });
    env = {
      ...process.env,
      HOST: '127.0.0.1',
      PORT: '0',
      DATABASE_URL: pgsrv.url,
      PROOFSTREAM_SIGNING_KEY: keyFile,
      PROOFSTREAM_BOOTSTRAP_KEY: bootstrapKey,
      PROOFSTREAM_ORIGIN: ORIGIN,
      PROOFSTREAM_WITNESSES: JSON.stringify([{ name: witness.name, url: witness.url, vkey: witness.vkey }]),
      PROOFSTREAM_WINDOW_MAX_EVENTS: String(WINDOW_MAX_EVENTS),
      PROOFSTREAM_WINDOW_MAX_AGE_MS: '400',
      PROOFSTREAM_RETRY_MAX_MS: '1000',
    };
    // The first node migrates the database and takes the lease; the other two start together.
    nodes.push(await startNode('a'));
    await waitFor(async () => (logEvents(nodes[0]!.proc, 'lease_taken').length ? true : undefined), 10_000);
    nodes.push(...(await Promise.all([startNode('b'), startNode('c')])));
  }, 120_000);

  afterAll(async () => {
    for (const n of nodes) await n.proc.stop();
    await witness?.stop();
    await db?.end().catch(() => {});
    await pgsrv?.stop();
  });

  it('one node holds the housekeeping lease, the others wait for it', async () => {
    const [a, b, c] = nodes;
    for (const n of [b!, c!]) {
      await waitFor(async () => (logEvents(n.proc, 'lease_waiting').length ? true : undefined), 10_000);
      expect(logEvents(n.proc, 'lease_taken')).toEqual([]);
    }
    expect(logEvents(a!.proc, 'lease_taken')).toHaveLength(1);
  });

  it('appends through all three survive killing the lease holder: one gap-free chain per stream, sealed, witnessed, verifiable', async () => {
    const [a, b, c] = nodes as [Node, Node, Node];
    const create = async (body: object) => {
      const r = await b.call('POST', '/v2/streams', { use_case: 'multinode', ...body });
      expect(r.status).toBe(201);
      return r.body.stream_id as string;
    };
    shared = [await create({}), await create({}), await create({})];
    tiled = await create({ window_policy: { max_events: 1000, max_age_ms: 60_000 } }); // size windows only
    orphan = await create({ window_policy: { max_events: 1000, max_age_ms: ORPHAN_MAX_AGE_MS } });

    const alive = () => nodes.filter((n) => n.alive);
    const answers = new Map<string, string[]>(); // Idempotency-Key → every 201 body text it got, from any node
    const unexpected: string[] = [];
    let retriedElsewhere = 0;
    const busy = { inProgress: 0, unavailable: 0 };

    /** Sends one keyed append, starting at node `first`; a node that fails or is busy hands the same key to the next. */
    async function send(first: number, p: string, body: unknown, key: string): Promise<{ text: string; body: any; replayed: boolean }> {
      for (let attempt = 0; attempt < 60; attempt++) {
        const live = alive();
        const n = live[(first + attempt) % live.length]!;
        let r: Awaited<ReturnType<Call>>;
        try {
          r = await n.call('POST', p, body, { 'idempotency-key': key });
        } catch {
          retriedElsewhere++; // the node died with the request in flight: the client does not know if it committed
          continue;
        }
        if (r.status === 201) {
          const texts = answers.get(key) ?? [];
          texts.push(r.text);
          answers.set(key, texts);
          return { text: r.text, body: r.body, replayed: r.headers.get('idempotent-replayed') === 'true' };
        }
        // 409 IDEMPOTENCY_IN_PROGRESS: the same key is being written on another node; 503: a lock wait ran out.
        if (r.status === 503 || (r.status === 409 && r.body?.error?.code === 'IDEMPOTENCY_IN_PROGRESS')) {
          busy[r.status === 503 ? 'unavailable' : 'inProgress']++;
          await sleep(50);
          continue;
        }
        unexpected.push(`${n.name} ${r.status} ${r.text.slice(0, 300)}`);
        throw new Error(`node ${n.name} answered ${r.status}: ${r.text.slice(0, 300)}`);
      }
      throw new Error(`no node accepted ${key}`);
    }

    let next = 0;
    let done = 0;
    let killedAt = 0;
    let killedSealed = new Map<string, number>();
    let inFlightAtKill: Array<Promise<unknown>> = [];
    let replays = 0;
    let raced = 0;
    const killHolder = async () => {
      // The dead node's stream: a partial window it appended and never got to seal.
      const r = await a.call('POST', `/v2/streams/${orphan}/events/batch`, {
        events: Array.from({ length: 5 }, (_, k) => ({ source_ref: `orphan-${k}`, event_type: 't', payload: { k } })),
      }, { 'idempotency-key': `orphan-${bootstrapKey}` });
      expect(r.status).toBe(201);
      answers.set(`orphan-${bootstrapKey}`, [r.text]);
      // Requests on their way to the holder as it dies: their clients cannot know whether they committed, and send
      // the same key to another node.
      const aIndex = alive().indexOf(a);
      inFlightAtKill = Array.from({ length: IN_FLIGHT_AT_KILL }, (_, k) =>
        send(aIndex, `/v2/streams/${shared[k % shared.length]}/events`, { source_ref: `kill-${k}`, event_type: 't', payload: { k } }, `kill-${k}-${bootstrapKey}`),
      );
      a.alive = false;
      await a.proc.kill();
      killedAt = Date.now();
      const rows = await db.query<{ id: string; sealed: string }>('SELECT id, sealed_seq_no AS sealed FROM streams');
      killedSealed = new Map(rows.rows.map((x) => [x.id, Number(x.sealed)]));
    };

    async function worker(w: number): Promise<void> {
      for (let n = next++; n < OPS; n = next++) {
        const sid = shared[n % shared.length]!;
        const key = `mn-${n}-${bootstrapKey}`;
        const batch = n % 5 === 0;
        const p = batch ? `/v2/streams/${sid}/events/batch` : `/v2/streams/${sid}/events`;
        const body = batch
          ? { events: [0, 1, 2].map((k) => ({ source_ref: `op-${n}-${k}`, event_type: 't', payload: { n, k } })) }
          : { source_ref: `op-${n}`, event_type: 't', payload: { n } };
        const first = (w + n) % 3;
        if (n % 10 === 3) {
          // The same request to two nodes at once: one writes, the other waits or replays; one event either way.
          const [x, y] = await Promise.all([send(first, p, body, key), send(first + 1, p, body, key)]);
          expect(y.text).toBe(x.text);
          raced++;
        } else {
          const x = await send(first, p, body, key);
          if (n % 6 === 1) {
            // A retry of an answered request, sent to another node: the same receipt, replayed.
            const y = await send(first + 1, p, body, key);
            expect(y.replayed).toBe(true);
            expect(y.text).toBe(x.text);
            replays++;
          }
        }
        if (++done === KILL_AT) await killHolder();
      }
    }

    // The tiled stream, after the kill: big batches from one survivor with small ones from the other between them.
    // The first node's window-root fold and TileFolder start at leaf 1, then see the other node's leaves missing
    // (a gap they must notice), and it is that node's own commit which fills window 1..1000, so it seals it.
    const tiledBatch = (node: Node, i: number, n: number) =>
      send(alive().indexOf(node), `/v2/streams/${tiled}/events/batch`, {
        events: Array.from({ length: n }, (_, k) => ({ source_ref: `tile-${i}-${k}`, event_type: 't', payload: { i, k } })),
      }, `tiled-${i}-${bootstrapKey}`);
    await Promise.all([
      ...Array.from({ length: CLIENTS }, (_, w) => worker(w)),
      (async () => {
        await waitFor(async () => (killedAt ? true : undefined), 60_000);
        for (const [i, [node, n]] of ([[b, 600], [c, 100], [b, 600], [c, 100], [b, 600]] as const).entries()) await tiledBatch(node, i, n);
      })(),
    ]);
    await Promise.all(inFlightAtKill);
    expect(unexpected).toEqual([]);
    expect(killedAt).toBeGreaterThan(0);
    expect(retriedElsewhere).toBeGreaterThan(0);
    expect(replays).toBeGreaterThan(20);
    expect(raced).toBeGreaterThan(20);

    // The lease moved to a survivor within seconds of the kill.
    await until('a survivor to take the lease', async () => ([b, c].some((n) => logEvents(n.proc, 'lease_taken').length) ? true : undefined), 15_000);
    const took = [b, c].flatMap((n) => logEvents(n.proc, 'lease_taken').map((e) => ({ node: n.name, at: Date.parse(e.time) })));
    expect(took).toHaveLength(1);
    expect(took[0]!.at - killedAt).toBeLessThan(LEASE_RETRY_MS + 5_000);

    // Every stream gets sealed through its head by the survivors: shared ones by age, the dead node's stream by the
    // lease holder's scan (no surviving node ever appended to it).
    const all = [...shared, tiled, orphan];
    for (const sid of all) {
      const state = async () => (await db.query('SELECT head_seq_no, sealed_seq_no FROM streams WHERE id = $1', [sid])).rows[0];
      await until(`${sid === orphan ? 'the dead node\'s stream' : sid} to be sealed through its head`, async () => {
        const s = await state();
        return Number(s.sealed_seq_no) === Number(s.head_seq_no) ? true : undefined;
      }, 30_000, state);
    }
    for (const sid of [...shared, orphan]) {
      const r = await db.query('SELECT max(tree_size) AS m FROM checkpoints WHERE stream_id = $1', [sid]);
      expect(Number(r.rows[0].m), `${sid} sealed past the kill`).toBeGreaterThan(killedSealed.get(sid) ?? 0);
    }

    // Chains: gap-free, linked, every signature valid under the one ledger key; every answer is what is stored.
    const publicKey = (await b.call('GET', '/v2/keys')).body.keys[0].public_key as string;
    const stored = new Map<string, StoredEvent[]>();
    for (const sid of all) {
      const events = await readAll(c.call, sid);
      await checkChain(sid, events, publicKey);
      stored.set(sid, events);
    }
    const byId = new Map([...stored.values()].flat().map((e) => [e.stream_event_id, e]));
    let receipts = 0;
    for (const [key, texts] of answers) {
      // Idempotent retries, from whichever node, got byte-identical answers.
      expect(new Set(texts).size, key).toBe(1);
      const body = JSON.parse(texts[0]!);
      for (const r of (body.receipts ?? [body]) as ReceiptView[]) {
        const e = byId.get(r.stream_event_id);
        expect(e, `receipt ${r.stream_event_id} of ${key} is stored`).toBeDefined();
        expect([e!.stream_id, e!.seq_no, e!.event_hash, e!.previous_event_hash, e!.stream_head_hash, e!.receipt.signature]).toEqual([
          r.stream_id,
          r.seq_no,
          r.event_hash,
          r.previous_event_hash,
          r.stream_head_hash,
          r.receipt.signature,
        ]);
        receipts++;
      }
    }
    // No duplicate: every stored event is some answered key's, exactly once.
    const total = [...stored.values()].reduce((n, e) => n + e.length, 0);
    expect(receipts).toBe(total);
    expect(new Set([...stored.values()].flat().map((e) => e.source_ref)).size).toBe(total);
    expect(total).toBe(OPS + (OPS / 5) * 2 + IN_FLIGHT_AT_KILL + 2000 + 5);

    // What the sealers built from their caches matches the stored leaves: windows contiguous from 1, each root the
    // root of its leaves, each checkpoint at its window's end; every stored tile equal to one built from all leaves.
    for (const sid of all) {
      const leaves = stored.get(sid)!.map((e) => Buffer.from(e.event_hash, 'hex'));
      const wins = (
        await db.query<{ f: string; t: string; root: string; size: string }>(
          'SELECT w.from_seq_no AS f, w.to_seq_no AS t, w.window_root AS root, c.tree_size AS size FROM windows w JOIN checkpoints c ON c.id = w.checkpoint_id WHERE w.stream_id = $1 ORDER BY w.from_seq_no',
          [sid],
        )
      ).rows.map((r) => ({ from: Number(r.f), to: Number(r.t), root: r.root, size: Number(r.size) }));
      let expectFrom = 1;
      for (const w of wins) {
        expect(w.from, `${sid} window starts where the last ended`).toBe(expectFrom);
        expect(w.size).toBe(w.to);
        expect(w.root, `${sid} window ${w.from}..${w.to}`).toBe(bytesToHex(rootFromLeaves(leaves.slice(w.from - 1, w.to))));
        expectFrom = w.to + 1;
      }
      expect(expectFrom - 1).toBe(leaves.length);
      const reference = new TileFolder();
      reference.feed(sid, 1, leaves);
      const want = new Map(reference.take().map((t) => [`${t.tileLevel}/${t.tileIndex}`, Buffer.from(t.hashes).toString('hex')]));
      const tiles = await db.query<{ l: string; i: string; h: Buffer }>('SELECT tile_level AS l, tile_idx AS i, hashes AS h FROM merkle_tiles WHERE stream_id = $1', [sid]);
      for (const t of tiles.rows) expect(t.h.toString('hex'), `${sid} tile ${t.l}/${t.i}`).toBe(want.get(`${t.l}/${t.i}`));
      if (sid === tiled) expect(tiles.rows.length, 'the tiled stream got stored tiles').toBeGreaterThan(0);
    }

    // The lease's work went on after the kill: the witness caught up with every stream, and cosigned checkpoints
    // signed after the kill (only the lease holder submits, and the holder at the kill is dead).
    const behind = async () =>
      (
        await db.query<{ id: string; size: string; cosigned: string | null }>(
          `SELECT s.id, c.tree_size AS size, w.cosigned_size AS cosigned FROM streams s JOIN checkpoints c ON c.id = s.last_checkpoint_id
           LEFT JOIN witness_state w ON w.stream_id = s.id WHERE w.cosigned_size IS NULL OR w.cosigned_size < c.tree_size`,
        )
      ).rows;
    await until('the witness to cosign every stream\'s latest checkpoint', async () => ((await behind()).length === 0 ? true : undefined), 30_000, behind);
    // Once all is quiet, a checkpoint a node without the lease signs (a window full at once, sealed by the node that
    // appended it) reaches the witness too: the holder learns of it only through the store.
    const holder = took[0]!.node === 'b' ? b : c;
    const other = holder === b ? c : b;
    const late = (await other.call('POST', '/v2/streams', { use_case: 'multinode', window_policy: { max_events: 3 } })).body.stream_id as string;
    const lateAppend = await other.call('POST', `/v2/streams/${late}/events/batch`, {
      events: [0, 1, 2].map((k) => ({ source_ref: `late-${k}`, event_type: 't', payload: { k } })),
    }, { 'idempotency-key': `late-${bootstrapKey}` });
    expect(lateAppend.status, lateAppend.text).toBe(201);
    await until('the late stream to be sealed', async () => {
      const r = await db.query('SELECT sealed_seq_no FROM streams WHERE id = $1', [late]);
      return Number(r.rows[0].sealed_seq_no) === 3 ? true : undefined;
    }, 10_000);
    await until('the witness to cosign the checkpoint a node without the lease signed', async () => ((await behind()).length === 0 ? true : undefined), 15_000, behind);

    for (const sid of [...shared, orphan]) {
      const r = await db.query('SELECT count(*) AS n FROM checkpoints c JOIN cosignatures s ON s.checkpoint_id = c.id WHERE c.stream_id = $1 AND c.tree_size > $2', [
        sid,
        killedSealed.get(sid) ?? 0,
      ]);
      expect(Number(r.rows[0].n), `${sid}: checkpoints cosigned after the kill`).toBeGreaterThan(0);
    }

    // A pack of each whole stream, built by a survivor, verifies offline against the trust policy (the log key,
    // the witness and its quorum).
    const dir = tempDir('ps-mn-packs-');
    const policy = path.join(dir, 'policy.txt');
    fs.writeFileSync(policy, (await b.call('GET', '/v2/trust-policy')).text);
    for (const sid of all) {
      const head = stored.get(sid)!.length;
      const pack = await until(`a pack of ${sid}`, async () => {
        const r = await c.call('POST', '/v2/audit/packs', { stream_id: sid, from_seq_no: 1, to_seq_no: head });
        if (r.status === 409 && r.body?.error?.code === 'EVIDENCE_PENDING') return undefined;
        expect(r.status, r.text.slice(0, 300)).toBe(201);
        return r.text;
      }, 30_000);
      const file = path.join(dir, `${sid}.json`);
      fs.writeFileSync(file, pack);
      const v = await runCli(['verify', file, '--policy', policy, '--json']);
      expect(v.code, `${sid}: ${v.stdout.slice(0, 600)} ${v.stderr.slice(0, 300)}`).toBe(0);
    }
    console.log(
      `pg-multinode: ${total} events, ${answers.size} keys, ${replays} cross-node retries, ${raced} raced keys, ${retriedElsewhere} requests lost with the killed node and sent elsewhere, ${busy.inProgress} answered 409 IDEMPOTENCY_IN_PROGRESS and ${busy.unavailable} 503 before succeeding; lease to node ${took[0]!.node} ${took[0]!.at - killedAt} ms after the kill`,
    );
  }, 240_000);

  /** Two stores on the cluster, each with a lease of `name` (asking every holderMs / otherMs) whose work logs to `log`. */
  function twoLeases(name: string, holderMs: number, otherMs: number) {
    const first = Store.open(pgsrv.url);
    const second = Store.open(pgsrv.url);
    const log: string[] = [];
    const l1 = new Lease(first, name, { start: () => log.push('first'), stop: () => log.push('first stopped') }, holderMs);
    const l2 = new Lease(second, name, { start: () => log.push('second'), stop: () => log.push('second stopped') }, otherMs);
    const close = () => {
      l1.stop();
      l2.stop();
      first.close();
      second.close();
    };
    return { first, second, l1, l2, log, close };
  }

  it('a lease another store holds is taken within the retry interval once that store closes', async () => {
    const { first, l1, l2, log: taken, close } = twoLeases('handover-test', 100, 100);
    try {
      l1.start();
      l2.start();
      await sleep(300);
      expect([l1.held, l2.held, taken]).toEqual([true, false, ['first']]);
      // The holder's connection closes as a dead process's would: PostgreSQL releases its session lock.
      l1.stop();
      first.close();
      const closedAt = Date.now();
      await until('the second store to take the lease', async () => (l2.held ? true : undefined), 5_000);
      expect(Date.now() - closedAt).toBeLessThan(1_000);
      expect(taken).toEqual(['first', 'second']);
    } finally {
      close();
    }
  });

  it('a holder whose session ends while it lives stops its work once another node has the lease, and can take it back', async () => {
    // The holder checks every 600 ms, the other asks every 50 ms: the other takes the freed lock first.
    const { second, l1, l2, log: events, close } = twoLeases('lost-test', 600, 50);
    try {
      l1.start();
      l2.start();
      expect([l1.held, l2.held]).toEqual([true, false]);
      // The holder's lease session ends (a network cut, an administrator): PostgreSQL frees its lock.
      // (pg_locks shows the 64-bit key as two unsigned 32-bit halves)
      const key = BigInt.asUintN(64, leaseKey('lost-test'));
      const holders = await db.query(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = $1::bigint::oid AND objid = $2::bigint::oid AND objsubid = 1",
        [String(key >> 32n), String(key & 0xffffffffn)],
      );
      expect(holders.rows).toHaveLength(1);
      await db.query('SELECT pg_terminate_backend($1)', [holders.rows[0].pid]);
      await until('the other store to take the freed lease', async () => (l2.held ? true : undefined), 5_000);
      await until('the former holder to notice', async () => (!l1.held ? true : undefined), 5_000);
      expect(events).toEqual(['first', 'second', 'first stopped']);
      // The new holder goes away: the former one takes the lease again and starts its work afresh.
      l2.stop();
      second.close();
      await until('the former holder to take the lease back', async () => (l1.held ? true : undefined), 5_000);
      expect(events).toEqual(['first', 'second', 'first stopped', 'first']);
    } finally {
      close();
    }
  });
});
