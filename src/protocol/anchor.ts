// RFC 3161 anchoring of checkpoints (docs/protocol.md §8). Pure and browser-safe.
//
// Every checkpoint signed in one epoch, across all streams, becomes a leaf of one RFC 9162 tree (the epoch
// tree); one time-stamp token covers its root. A checkpoint's anchor is that token plus the inclusion path of
// its leaf, so one TSA request per epoch anchors any number of streams.
import { bytesToHex, utf8ToBytes } from './bytes.js';
import { domainTag, sha256 } from './hash.js';
import { inclusionProof, leafHash, MemoryNodeSource, nodeHash, rootAt } from './merkle.js';

export const ANCHOR_KIND_RFC3161 = 'rfc3161';

const CHECKPOINT_TAG = domainTag('anchor-checkpoint');
const EPOCH_TAG = domainTag('anchor-epoch');

/**
 * checkpoint_hash = SHA-256(tag("anchor-checkpoint") ‖ UTF-8 of the signed note as the ledger issued it: the
 * checkpoint body, the blank line and the ledger's own signature line; witness cosignatures are not included,
 * since they arrive later).
 */
export function checkpointHash(note: string): Uint8Array {
  return sha256(CHECKPOINT_TAG, utf8ToBytes(note));
}

export const anchorCheckpointHashHex = (note: string): string => bytesToHex(checkpointHash(note));

/** The epoch tree's leaf hash for a checkpoint: RFC 9162 leaf hash SHA-256(0x00 ‖ checkpoint_hash). */
export const epochLeaf = (cpHash: Uint8Array): Uint8Array => leafHash(cpHash);

/**
 * The digest the TSA stamps (the TimeStampReq messageImprint, SHA-256): SHA-256(tag("anchor-epoch") ‖ epoch_root).
 * Domain-separated so a token over an epoch root can never be read as a token over anything else of ours.
 */
export function epochDigest(epochRoot: Uint8Array): Uint8Array {
  return sha256(EPOCH_TAG, epochRoot);
}

/** Builds an epoch tree over checkpoint hashes (in order): its root and every leaf's inclusion path. */
export function buildEpochTree(cpHashes: readonly Uint8Array[]): { root: Uint8Array; paths: Uint8Array[][] } {
  const src = new MemoryNodeSource();
  const n = cpHashes.length;
  let level = cpHashes.map(epochLeaf);
  level.forEach((h, i) => src.put(0, i, h));
  // Store every perfect subtree hash, level by level: what rootAt and inclusionProof read.
  for (let l = 1; level.length > 1; l++) {
    const up: Uint8Array[] = [];
    for (let i = 0; i + 1 < level.length; i += 2) up.push(nodeHash(level[i]!, level[i + 1]!));
    up.forEach((h, i) => src.put(l, i, h));
    level = up;
  }
  return { root: rootAt(src, n), paths: cpHashes.map((_, i) => inclusionProof(src, i, n)) };
}
