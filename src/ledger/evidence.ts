// What backs a checkpoint beyond the ledger's own signature: witness cosignatures (against the quorum) and
// its RFC 3161 anchor. Shapes the views routes and packs show, and the trust policy the ledger publishes.
import { bytesToHex, hexToBytes } from '../protocol/bytes.js';
import { buildEpochTree, ANCHOR_KIND_RFC3161 } from '../protocol/anchor.js';
import { formatPolicy } from '../protocol/policy.js';
import { pemToDer } from '../verify/pem.js';
import type { Config } from '../config.js';
import type { CheckpointRow } from '../store/checkpoints.js';
import type { Store } from '../store/index.js';

export interface CosignatureView {
  witness: string;
  vkey: string;
  /** the POSIX time the witness signed */
  timestamp: number;
  /** the signed-note signature line, `— <name> base64(keyID ‖ time ‖ signature)` */
  signature_line: string;
}

export interface AnchorView {
  kind: typeof ANCHOR_KIND_RFC3161;
  epoch_id: string;
  /** RFC 9162 root (hex) over the epoch's checkpoint hashes */
  epoch_root: string;
  epoch_size: number;
  leaf_index: number;
  /** hex SHA-256(tag("anchor-checkpoint") ‖ note) */
  checkpoint_hash: string;
  /** inclusion path (hex) of the checkpoint's leaf in the epoch tree */
  path: string[];
  /** base64 DER TimeStampToken over SHA-256(tag("anchor-epoch") ‖ epoch_root) */
  token: string;
  tsa_chain: string[];
  gen_time: string;
}

export interface EvidenceView {
  cosignatures: CosignatureView[];
  witness_quorum: { required: number; count: number; met: boolean };
  anchor: AnchorView | null;
  /** false when the ledger has no TSA configured (anchors are then never required) */
  anchor_required: boolean;
  /** the checkpoint note with every stored cosignature line appended (a C2SP signed note) */
  cosigned_note: string;
}

const PATH_CACHE = 64;

export class Evidence {
  private readonly paths = new Map<string, Uint8Array[][]>();

  constructor(
    private readonly store: Store,
    private readonly config: Config,
  ) {}

  quorumFor(streamId: string): number {
    const q = this.store.streams.get(streamId)?.witnessQuorum;
    return q ?? this.config.witnessQuorum;
  }

  forCheckpoint(cp: CheckpointRow): EvidenceView {
    const configured = new Map(this.config.witnesses.map((w) => [w.name, w.vkey]));
    const cos = this.store.evidence.cosignatures(cp.id);
    const views = cos.map((c) => ({ witness: c.witness, vkey: c.vkey, timestamp: c.timestamp, signature_line: c.line }));
    const count = cos.filter((c) => configured.get(c.witness) === c.vkey).length;
    const required = this.quorumFor(cp.streamId);
    return {
      cosignatures: views,
      witness_quorum: { required, count, met: count >= required },
      anchor: this.anchor(cp.id),
      anchor_required: this.config.tsaUrl !== undefined,
      cosigned_note: cos.length ? cp.note + cos.map((c) => c.line + '\n').join('') : cp.note,
    };
  }

  /** What a pack still waits for on this checkpoint (empty = complete). */
  missing(ev: EvidenceView): string[] {
    const out: string[] = [];
    if (!ev.witness_quorum.met) out.push(`witness cosignatures (${ev.witness_quorum.count} of ${ev.witness_quorum.required} required)`);
    if (ev.anchor_required && !ev.anchor) out.push('an RFC 3161 anchor');
    return out;
  }

  anchor(checkpointId: string): AnchorView | null {
    const a = this.store.evidence.anchorOf(checkpointId);
    if (!a || !a.epoch.token || !a.epoch.genTime) return null;
    return {
      kind: ANCHOR_KIND_RFC3161,
      epoch_id: a.epoch.id,
      epoch_root: a.epoch.epochRoot,
      epoch_size: a.epoch.leafCount,
      leaf_index: a.leaf.leafIndex,
      checkpoint_hash: a.leaf.checkpointHash,
      path: this.epochPaths(a.epoch.id)[a.leaf.leafIndex]!.map(bytesToHex),
      token: a.epoch.token,
      tsa_chain: a.epoch.tsaChain ?? [],
      gen_time: a.epoch.genTime,
    };
  }

  private epochPaths(epochId: string): Uint8Array[][] {
    let p = this.paths.get(epochId);
    if (!p) {
      p = buildEpochTree(this.store.evidence.epochLeaves(epochId).map((l) => hexToBytes(l.checkpointHash))).paths;
      if (this.paths.size >= PATH_CACHE) this.paths.delete(this.paths.keys().next().value!);
      this.paths.set(epochId, p);
    }
    return p;
  }

  /** The trust policy file this ledger is configured with (docs/trust.md), for GET /v2/trust-policy. */
  trustPolicy(keys: readonly (Uint8Array | { publicKey: Uint8Array; validFrom: string | null; validUntil: string | null })[]): string {
    return formatPolicy({
      logs: keys.map((k) => (k instanceof Uint8Array ? { origin: `${this.config.origin}/*`, publicKey: k } : { origin: `${this.config.origin}/*`, ...k })),
      witnesses: this.config.witnesses,
      quorum: this.config.witnesses.length ? { required: this.config.witnessQuorum } : null,
      tsaRoots: this.config.tsaRootsPem.map((pem, i) => ({ name: `tsa-root-${i + 1}`, der: pemToDer(pem) })),
    });
  }
}
