// The bytes of one event: payload commitment, entry, event hash (= RFC 9162 leaf hash) and the head chain.
// Specified in docs/protocol.md §3; vectors in fixtures/vectors/events.json.
import { utf8ToBytes } from './bytes.js';
import { DOMAIN, sha256 } from './hash.js';
import { canonicalBytes } from './jcs.js';

export const ENTRY_FORMAT = 'proofstream.entry/v1';

export interface EntryFields {
  stream_id: string;
  seq_no: number;
  source_ref: string;
  event_type: string;
  /** RFC 3339 as the client sent it, or null when not stated. */
  occurred_at: string | null;
  received_at: string;
  /** lowercase hex SHA-256, see payloadCommitment */
  payload_commitment: string;
}

/** SHA-256(tag ‖ salt ‖ JCS(payload)): the salt lets a payload be erased later without breaking any hash. */
export function payloadCommitment(salt: Uint8Array, payload: unknown): Uint8Array {
  return commitCanonicalPayload(salt, canonicalBytes(payload));
}

/** The same commitment when the caller already holds JCS(payload) as bytes. */
export function commitCanonicalPayload(salt: Uint8Array, payloadJcs: Uint8Array): Uint8Array {
  if (salt.length !== 32) throw new RangeError('salt must be 32 bytes');
  return sha256(DOMAIN.payload, salt, payloadJcs);
}

/** The entry bytes: JCS of the fields plus the format version. */
export function entryBytes(f: EntryFields): Uint8Array {
  return canonicalBytes({
    format: ENTRY_FORMAT,
    stream_id: f.stream_id,
    seq_no: f.seq_no,
    source_ref: f.source_ref,
    event_type: f.event_type,
    occurred_at: f.occurred_at,
    received_at: f.received_at,
    payload_commitment: f.payload_commitment,
  });
}

/** event_hash = SHA-256(0x00 ‖ entry), the RFC 9162 leaf hash, so the stream's tree is built from event hashes. */
export function eventHash(f: EntryFields): Uint8Array {
  return sha256(LEAF_PREFIX, entryBytes(f));
}
const LEAF_PREFIX = new Uint8Array([0]);

/** The head before seq 1: bound to the stream id so two streams never share a chain prefix. */
export function genesisHead(streamId: string): Uint8Array {
  return sha256(DOMAIN.genesis, utf8ToBytes(streamId));
}

/** head_n = SHA-256(tag ‖ head_{n−1} ‖ event_hash_n). */
export function nextHead(prevHead: Uint8Array, evHash: Uint8Array): Uint8Array {
  return sha256(DOMAIN.head, prevHead, evHash);
}
