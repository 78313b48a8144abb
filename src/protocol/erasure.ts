// The erasure record: the payload of the event a ledger appends when it erases another event's payload
// (docs/protocol.md §3.4; vector in fixtures/vectors/erasure.json). It is an ordinary event payload, committed like
// any other, so the fact of an erasure is chained, sealed and signed exactly as the event it names.

export const ERASURE_FORMAT = 'proofstream.erasure/v1';
/** event_type of an erasure event */
export const ERASURE_EVENT_TYPE = 'proofstream.erasure';
/** the longest reason, in UTF-16 code units (as the API's zod schema counts) */
export const MAX_ERASURE_REASON = 500;

export interface ErasureRecord {
  format: typeof ERASURE_FORMAT;
  /** the erased event's `stream_event_id` */
  event_id: string;
  seq_no: number;
  /** the erased event's event_hash and payload_commitment: what binds this record to that entry (ids are not hashed) */
  event_hash: string;
  payload_commitment: string;
  reason: string;
  /** id of the API key that asked for the erasure */
  erased_by_key: string;
}

/** The record for an erasure, members exactly as §3.4 lists them. */
export function erasureRecord(f: Omit<ErasureRecord, 'format'>): ErasureRecord {
  return {
    format: ERASURE_FORMAT,
    event_id: f.event_id,
    seq_no: f.seq_no,
    event_hash: f.event_hash,
    payload_commitment: f.payload_commitment,
    reason: f.reason,
    erased_by_key: f.erased_by_key,
  };
}

/** source_ref of the erasure event: names the erased event, so a stream's erasures can be told apart by source. */
export const erasureSourceRef = (eventId: string): string => `erasure:${eventId}`;
