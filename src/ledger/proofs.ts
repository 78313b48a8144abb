// Read-side evidence: checkpoints, windows, inclusion and consistency proofs, from O(log n) stored hashes.
import { bytesToHex } from '../protocol/bytes.js';
import { consistencyProof, inclusionProof, rootAt } from '../protocol/merkle.js';
import type { CheckpointRow } from '../store/checkpoints.js';
import type { Store } from '../store/index.js';
import type { StreamRow } from '../store/streams.js';
import { ApiError, notFound } from './errors.js';
import { checkedEntries } from './integrity.js';
import type { Evidence, EvidenceView } from './evidence.js';
import type { Principal } from './tenancy.js';

export interface CheckpointView {
  checkpoint_id: string;
  stream_id: string;
  tree_size: number;
  root_hash: string;
  note: string;
  signer_vkey: string;
  window_id: string;
  previous_checkpoint_id: string | null;
  created_at: string;
}

export interface InclusionView {
  leaf_index: number;
  tree_size: number;
  checkpoint_id: string | null;
  root_hash: string;
  proof: string[];
}

export const checkpointView = (c: CheckpointRow): CheckpointView => ({
  checkpoint_id: c.id,
  stream_id: c.streamId,
  tree_size: c.treeSize,
  root_hash: c.rootHash,
  note: c.note,
  signer_vkey: c.signerVkey,
  window_id: c.windowId,
  previous_checkpoint_id: c.previousCheckpointId,
  created_at: c.createdAt,
});

const hexAll = (a: Uint8Array[]) => a.map(bytesToHex);

export class Proofs {
  constructor(
    private readonly store: Store,
    private readonly streamFor: (p: Principal, id: string, what?: string) => StreamRow,
    private readonly evidence: Evidence,
  ) {}

  /** A checkpoint as routes show it: the signed checkpoint plus its cosignatures, quorum and anchor. */
  view(c: CheckpointRow): CheckpointView & EvidenceView {
    return { ...checkpointView(c), ...this.evidence.forCheckpoint(c) };
  }

  private checkpointFor(p: Principal, id: string): CheckpointRow {
    const c = this.store.checkpoints.checkpoint(id);
    if (!c) throw notFound('checkpoint');
    this.streamFor(p, c.streamId, 'checkpoint');
    return c;
  }

  checkpoint(p: Principal, id: string): CheckpointView & EvidenceView {
    return this.view(this.checkpointFor(p, id));
  }

  latest(p: Principal, streamId: string): CheckpointView & EvidenceView {
    this.streamFor(p, streamId);
    const c = this.store.checkpoints.latest(streamId);
    if (!c) throw notFound('checkpoint (the stream has no sealed window yet)');
    return this.view(c);
  }

  list(p: Principal, streamId: string, before: number | undefined, limit: number) {
    this.streamFor(p, streamId);
    const rows = this.store.checkpoints.list(streamId, before, limit + 1);
    const page = rows.slice(0, limit);
    return {
      checkpoints: page.map((c) => this.view(c)),
      next_before: rows.length > limit ? page[page.length - 1]!.treeSize : null,
    };
  }

  /** Inclusion of seq_no against the first checkpoint that covers it; null while unsealed. */
  firstInclusion(streamId: string, seqNo: number): InclusionView | null {
    const c = this.store.checkpoints.firstCovering(streamId, seqNo);
    if (!c) return null;
    const src = this.store.checkpoints.nodeSource(streamId);
    return {
      leaf_index: seqNo - 1,
      tree_size: c.treeSize,
      checkpoint_id: c.id,
      root_hash: c.rootHash,
      proof: hexAll(inclusionProof(src, seqNo - 1, c.treeSize)),
    };
  }

  /** Inclusion at any size from seq_no to the head; defaults to the latest checkpoint. */
  inclusion(p: Principal, streamId: string, seqNo: number, treeSize: number | undefined): InclusionView {
    const stream = this.streamFor(p, streamId);
    const size = treeSize ?? this.store.checkpoints.latest(streamId)?.treeSize;
    if (size === undefined) throw new ApiError('VALIDATION_ERROR', 'no checkpoint yet: pass tree_size', { path: 'tree_size' });
    if (seqNo > stream.headSeqNo) throw notFound('event');
    if (size < seqNo || size > stream.headSeqNo) {
      throw new ApiError('VALIDATION_ERROR', `tree_size must be between seq_no (${seqNo}) and the stream head (${stream.headSeqNo})`, {
        path: 'tree_size',
      });
    }
    const src = this.store.checkpoints.nodeSource(streamId);
    return {
      leaf_index: seqNo - 1,
      tree_size: size,
      checkpoint_id: this.store.checkpoints.checkpointAtSize(streamId, size)?.id ?? null,
      root_hash: bytesToHex(rootAt(src, size)),
      proof: hexAll(inclusionProof(src, seqNo - 1, size)),
    };
  }

  /** RFC 9162 consistency from an earlier checkpoint (by id or tree size) to this one. */
  consistency(p: Principal, checkpointId: string, from: string) {
    const to = this.checkpointFor(p, checkpointId);
    let older: CheckpointRow | undefined;
    if (/^\d+$/.test(from)) {
      older = this.store.checkpoints.checkpointAtSize(to.streamId, Number(from));
      if (!older) throw new ApiError('VALIDATION_ERROR', `tree size ${from} is not a checkpointed size of this stream`, { path: 'from' });
    } else {
      older = this.store.checkpoints.checkpoint(from);
      if (!older || older.streamId !== to.streamId) throw notFound('from checkpoint');
    }
    if (older.treeSize > to.treeSize) {
      throw new ApiError('VALIDATION_ERROR', `from (size ${older.treeSize}) is newer than the checkpoint (size ${to.treeSize})`, { path: 'from' });
    }
    const src = this.store.checkpoints.nodeSource(to.streamId);
    return {
      from_checkpoint_id: older.id,
      to_checkpoint_id: to.id,
      from_tree_size: older.treeSize,
      to_tree_size: to.treeSize,
      from_root: older.rootHash,
      to_root: to.rootHash,
      proof: hexAll(consistencyProof(src, older.treeSize, to.treeSize)),
    };
  }

  /** A window, its checkpoint, and each event's inclusion proof to that checkpoint's root. */
  window(p: Principal, windowId: string) {
    const w = this.store.checkpoints.window(windowId);
    if (!w) throw notFound('window');
    this.streamFor(p, w.streamId, 'window');
    const c = this.store.checkpoints.checkpoint(w.checkpointId)!;
    const src = this.store.checkpoints.nodeSource(w.streamId);
    return {
      window_id: w.id,
      stream_id: w.streamId,
      from_seq_no: w.fromSeqNo,
      to_seq_no: w.toSeqNo,
      event_count: w.toSeqNo - w.fromSeqNo + 1,
      window_root: w.windowRoot,
      trigger: w.trigger,
      sealed_at: w.sealedAt,
      checkpoint: this.view(c),
      // The entries, not just the hashes: each served event_hash is recomputed from its row first.
      events: checkedEntries(this.store.events.entries(w.streamId, w.fromSeqNo, w.toSeqNo)).map((l) => ({
        stream_event_id: l.id,
        seq_no: l.seqNo,
        event_hash: l.eventHash,
        leaf_index: l.seqNo - 1,
        inclusion_proof: hexAll(inclusionProof(src, l.seqNo - 1, c.treeSize)),
      })),
    };
  }
}
