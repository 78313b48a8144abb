// Builds `proofstream-bundle/v1` documents for tests, exactly as docs/bundle.md specifies, from a real stream:
// in-process from a Ledger (store.checkpoints.nodeSource for the proofs), or from a running server through its
// public API (proofs recomputed from the events' hashes). Independent of src/ledger/packs.ts on purpose: the
// verifier is tested against the spec, not against the builder.
import { randomBytes } from 'node:crypto';
import { ArraySectionDigest, BUNDLE_FORMAT, BUNDLE_SECTIONS, sectionDigest } from '../../src/protocol/bundle.js';
import { bytesToHex, hexToBytes } from '../../src/protocol/bytes.js';
import { genesisHead } from '../../src/protocol/event.js';
import { consistencyProof, frontierAppend, MemoryNodeSource, rangeProof, type NodeSource } from '../../src/protocol/merkle.js';
import type { Ledger } from '../../src/ledger/ledger.js';
import type { Principal } from '../../src/ledger/tenancy.js';

export interface CheckpointSection {
  checkpoint_id: string;
  tree_size: number;
  root_hash: string;
  note: string;
  signer_vkey: string;
}

export interface Bundle {
  format: string;
  manifest: {
    pack_id: string;
    stream_id: string;
    from_seq_no: number;
    to_seq_no: number;
    created_at: string;
    sections: Record<string, string>;
  };
  stream: { stream_id: string; origin: string; use_case: string; policy_id: string | null; metadata: Record<string, unknown> | null; created_at: string };
  keys: { kid: string; alg: string; public_key: string }[];
  events: any[];
  chain: { head_before: string; event_hash_before: string };
  checkpoint: CheckpointSection;
  range_proof: { from_index: number; to_index: number; tree_size: number; proof: string[] };
  consistency: { from: CheckpointSection; proof: string[] }[];
  witnesses: unknown[];
  anchors: unknown[];
}

export interface BundleParts {
  stream: Bundle['stream'];
  keys: Bundle['keys'];
  /** The events of the range, as GET /v2/streams/{id}/events returns them. */
  events: any[];
  /** The event at from_seq_no − 1, when from_seq_no > 1. */
  before: { event_hash: string; stream_head_hash: string } | null;
  checkpoint: CheckpointSection;
  /** Earlier checkpoints to cite, each with the consistency proof to `checkpoint`. */
  earlier: { from: CheckpointSection; proof: string[] }[];
  /** The stream's tree, for the range proof. */
  src: NodeSource;
}

const ZERO64 = '0'.repeat(64);

/** Recomputes every manifest digest (after a test edits a section on purpose). */
export function sealManifest(b: Bundle): Bundle {
  for (const name of BUNDLE_SECTIONS) {
    if (name === 'events') {
      const d = new ArraySectionDigest('events');
      for (const e of b.events) d.add(e);
      b.manifest.sections.events = d.digest();
    } else {
      b.manifest.sections[name] = sectionDigest(name, (b as any)[name]);
    }
  }
  return b;
}

/** Puts the parts together as docs/bundle.md lays them out. */
export function assembleBundle(p: BundleParts): Bundle {
  const from = p.events[0].seq_no as number;
  const to = p.events[p.events.length - 1].seq_no as number;
  const streamId = p.stream.stream_id;
  const chain =
    from === 1
      ? { head_before: bytesToHex(genesisHead(streamId)), event_hash_before: ZERO64 }
      : { head_before: p.before!.stream_head_hash, event_hash_before: p.before!.event_hash };
  const b: Bundle = {
    format: BUNDLE_FORMAT,
    manifest: {
      pack_id: `pack_${randomBytes(16).toString('base64url')}`,
      stream_id: streamId,
      from_seq_no: from,
      to_seq_no: to,
      created_at: new Date().toISOString(),
      sections: {},
    },
    stream: p.stream,
    keys: p.keys,
    events: p.events.map((e) => ({
      stream_event_id: e.stream_event_id,
      stream_id: e.stream_id,
      seq_no: e.seq_no,
      source_ref: e.source_ref,
      event_type: e.event_type,
      occurred_at: e.occurred_at,
      received_at: e.received_at,
      payload: e.payload,
      salt: e.salt,
      payload_commitment: e.payload_commitment,
      event_hash: e.event_hash,
      previous_event_hash: e.previous_event_hash,
      stream_head_hash: e.stream_head_hash,
      receipt: e.receipt,
    })),
    chain,
    checkpoint: p.checkpoint,
    range_proof: {
      from_index: from - 1,
      to_index: to,
      tree_size: p.checkpoint.tree_size,
      proof: rangeProof(p.src, from - 1, to, p.checkpoint.tree_size).map(bytesToHex),
    },
    consistency: p.earlier,
    witnesses: [],
    anchors: [],
  };
  return sealManifest(b);
}

const cpSection = (c: { checkpoint_id: string; tree_size: number; root_hash: string; note: string; signer_vkey: string }): CheckpointSection => ({
  checkpoint_id: c.checkpoint_id,
  tree_size: c.tree_size,
  root_hash: c.root_hash,
  note: c.note,
  signer_vkey: c.signer_vkey,
});

/**
 * A bundle of seq_no from..to of a stream of an in-process Ledger (the range must be sealed). Cites the
 * checkpoint just before the covering one, or every earlier one with `allEarlier`.
 */
export function bundleFromLedger(ledger: Ledger, p: Principal, streamId: string, from: number, to: number, opts: { allEarlier?: boolean } = {}): Bundle {
  const store = ledger.store;
  const cp = store.checkpoints.firstCovering(streamId, to);
  if (!cp) throw new Error(`no checkpoint covers ${to} yet`);
  const src = store.checkpoints.nodeSource(streamId);
  const earlierRows = store.checkpoints.list(streamId, cp.treeSize, opts.allEarlier ? 1000 : 1);
  const view = ledger.getStream(p, streamId);
  const events = ledger.listEvents(p, streamId, from, to - from + 1).events;
  const before = from > 1 ? ledger.listEvents(p, streamId, from - 1, 1).events[0]! : null;
  return assembleBundle({
    stream: {
      stream_id: streamId,
      origin: ledger.sealer.originOf(streamId),
      use_case: view.use_case,
      policy_id: view.policy_id,
      metadata: view.metadata,
      created_at: view.created_at,
    },
    keys: ledger.publicKeys().map((k) => ({ kid: k.kid, alg: k.alg, public_key: k.public_key })),
    events,
    before,
    checkpoint: cpSection({ checkpoint_id: cp.id, tree_size: cp.treeSize, root_hash: cp.rootHash, note: cp.note, signer_vkey: cp.signerVkey }),
    earlier: earlierRows.map((c) => ({
      from: cpSection({ checkpoint_id: c.id, tree_size: c.treeSize, root_hash: c.rootHash, note: c.note, signer_vkey: c.signerVkey }),
      proof: consistencyProof(src, c.treeSize, cp.treeSize).map(bytesToHex),
    })),
    src,
  });
}

type Call = (method: string, path: string) => Promise<{ status: number; body: any }>;

async function get(call: Call, path: string): Promise<any> {
  const r = await call('GET', path);
  if (r.status !== 200) throw new Error(`GET ${path}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

/** The stream's tree from leaf hashes alone (every perfect node), for proofs without the database. */
export function nodeSourceFromLeaves(leafHexes: readonly string[]): MemoryNodeSource {
  const src = new MemoryNodeSource();
  let frontier: Uint8Array[] = [];
  leafHexes.forEach((h, i) => {
    const leaf = hexToBytes(h);
    src.put(0, i, leaf);
    const r = frontierAppend(frontier, i, leaf);
    for (const n of r.completed) src.put(n.level, n.index, n.hash);
    frontier = r.frontier;
  });
  return src;
}

/** A bundle of seq_no from..to built from a running server's public API only (the range must be sealed). */
export async function bundleFromServer(call: Call, streamId: string, from: number, to: number): Promise<Bundle> {
  const view = await get(call, `/v2/streams/${streamId}`);
  const keys = (await get(call, '/v2/keys')).keys.map((k: any) => ({ kid: k.kid, alg: k.alg, public_key: k.public_key }));
  const cps: any[] = [];
  for (let before: number | null = null; ; ) {
    const page: any = await get(call, `/v2/streams/${streamId}/checkpoints?limit=200${before ? `&before=${before}` : ''}`);
    cps.push(...page.checkpoints);
    if (page.next_before === null) break;
    before = page.next_before;
  }
  cps.sort((a, b) => a.tree_size - b.tree_size);
  const cp = cps.find((c) => c.tree_size >= to);
  if (!cp) throw new Error(`no checkpoint covers ${to} yet`);
  const prev = [...cps].reverse().find((c) => c.tree_size < cp.tree_size);
  const all: any[] = [];
  for (let next: number | null = 1; next !== null && next <= cp.tree_size; ) {
    const page: any = await get(call, `/v2/streams/${streamId}/events?from_seq_no=${next}&limit=1000`);
    all.push(...page.events);
    next = page.next_from_seq_no;
  }
  const src = nodeSourceFromLeaves(all.slice(0, cp.tree_size).map((e) => e.event_hash));
  const earlier = prev ? [{ from: cpSection(prev), proof: (await get(call, `/v2/checkpoints/${cp.checkpoint_id}/consistency?from=${prev.checkpoint_id}`)).proof }] : [];
  return assembleBundle({
    stream: {
      stream_id: streamId,
      origin: cp.note.slice(0, cp.note.indexOf('\n')),
      use_case: view.use_case,
      policy_id: view.policy_id,
      metadata: view.metadata,
      created_at: view.created_at,
    },
    keys,
    events: all.slice(from - 1, to),
    before: from > 1 ? all[from - 2] : null,
    checkpoint: cpSection(cp),
    earlier,
    src,
  });
}
