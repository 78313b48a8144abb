// Reads never serve altered data: every event row a route or a pack is about to hand out is checked against its own
// hashes first. A row changed behind the ledger's back (a payload edited in SQLite, a field under the event hash, a
// hash itself) answers 500 INTEGRITY_ERROR naming the row instead of being served as if it were fine.
//
// The check per row is what the appender computed when it wrote the row (src/ledger/appender.ts, protocol/event.ts):
// the payload commitment SHA-256(tag("payload") ‖ salt ‖ JCS(payload)) when the payload is present, and the event hash
// SHA-256(0x00 ‖ JCS(entry)). Both run on node:crypto's one-shot SHA-256 over a reused scratch buffer. The payload is
// stored as its JCS text, so it is hashed as stored, never re-canonicalized.
import { hash } from 'node:crypto';
import { ENTRY_FORMAT } from '../protocol/event.js';
import { DOMAIN } from '../protocol/hash.js';
import type { EventEntryRow, EventRow } from '../store/events.js';
import { ApiError } from './errors.js';
import { log } from '../log.js';

const LEAF_PREFIX = 0x00;
const ENTRY_FORMAT_JSON = JSON.stringify(ENTRY_FORMAT);
const PAYLOAD_TAG = Buffer.from(DOMAIN.payload);
const SCRATCH = Buffer.allocUnsafe(16 * 1024);
const HEX64 = /^[0-9a-f]{64}$/;
const ZERO64 = '0'.repeat(64);

/** The event hash (hex) of a stored row's entry fields, as the appender computed it when it wrote the row. */
export function storedEventHashOf(row: EventEntryRow): string {
  // JCS of the entry, keys in UTF-16 order. JSON.stringify writes a string exactly as JCS does, except that it
  // escapes a lone surrogate where JCS refuses one: the appender never stored one, so such a row fails the compare.
  const entry =
    `{"event_type":${JSON.stringify(row.eventType)},"format":${ENTRY_FORMAT_JSON},` +
    `"occurred_at":${row.occurredAt === null ? 'null' : JSON.stringify(row.occurredAt)},` +
    `"payload_commitment":${JSON.stringify(row.payloadCommitment)},"received_at":${JSON.stringify(row.receivedAt)},` +
    `"seq_no":${row.seqNo},"source_ref":${JSON.stringify(row.sourceRef)},"stream_id":${JSON.stringify(row.streamId)}}`;
  if (1 + entry.length * 3 <= SCRATCH.length) {
    SCRATCH[0] = LEAF_PREFIX;
    const n = 1 + SCRATCH.write(entry, 1, 'utf8');
    return hash('sha256', SCRATCH.subarray(0, n), 'hex');
  }
  return hash('sha256', Buffer.concat([Buffer.of(LEAF_PREFIX), Buffer.from(entry, 'utf8')]), 'hex');
}

/** The payload commitment (hex) of a stored payload and salt (salt: 64 hex digits, checked by the caller). */
function storedCommitmentOf(payload: string, salt: string): string {
  const tagLen = PAYLOAD_TAG.length;
  if (tagLen + 32 + payload.length * 3 <= SCRATCH.length) {
    PAYLOAD_TAG.copy(SCRATCH, 0);
    SCRATCH.write(salt, tagLen, 'hex');
    const n = tagLen + 32 + SCRATCH.write(payload, tagLen + 32, 'utf8');
    return hash('sha256', SCRATCH.subarray(0, n), 'hex');
  }
  return hash('sha256', Buffer.concat([PAYLOAD_TAG, Buffer.from(salt, 'hex'), Buffer.from(payload, 'utf8')]), 'hex');
}

/** What is wrong with a stored event row, or undefined when it matches its hashes. */
export function eventRowProblem(row: EventRow): string | undefined {
  if (!HEX64.test(row.eventHash)) return 'its stored event_hash is not 64 lowercase hex digits';
  if ((row.payload === null) !== (row.salt === null)) return 'only one of its payload and salt is erased';
  if (row.payload !== null && row.salt !== null) {
    if (!HEX64.test(row.salt)) return 'its stored salt is not 64 lowercase hex digits';
    if (storedCommitmentOf(row.payload, row.salt) !== row.payloadCommitment) return 'its payload and salt do not match its payload_commitment';
  }
  if (storedEventHashOf(row) !== row.eventHash) return 'its fields do not match its event_hash';
  return undefined;
}

/** 500 INTEGRITY_ERROR naming the row: the store holds an event that is not what was appended. */
export function integrityError(row: Pick<EventRow, 'id' | 'streamId' | 'seqNo'>, problem: string): ApiError {
  // The client only learns the row; the operator must hear about it, whatever route or build ran into it.
  log.error({ event: 'integrity_failure', event_id: row.id, stream_id: row.streamId, seq_no: row.seqNo, problem }, `INTEGRITY: stored event ${row.id}: ${problem}`);
  return new ApiError(
    'INTEGRITY_ERROR',
    `the stored event ${row.id} (stream ${row.streamId}, seq_no ${row.seqNo}) does not match its hash: ${problem}; it is not served`,
    { stream_id: row.streamId, seq_no: row.seqNo, stream_event_id: row.id, problem },
  );
}

/** Throws INTEGRITY_ERROR unless the row matches its hashes; returns it otherwise. */
export function checkedEvent(row: EventRow): EventRow {
  const problem = eventRowProblem(row);
  if (problem !== undefined) throw integrityError(row, problem);
  return row;
}

/**
 * Checks a page of one stream's rows in seq order: each row against its hashes, and each row after the first against
 * its predecessor (consecutive seq_no, previous_event_hash = the predecessor's event_hash).
 */
export function checkedEvents(rows: EventRow[]): EventRow[] {
  let prev: EventRow | undefined;
  for (const row of rows) {
    checkedEvent(row);
    checkLink(row, prev);
    prev = row;
  }
  return rows;
}

/**
 * Checks payload-less rows (a window's events, whose event hashes a route serves) in seq order: each row's entry
 * fields against its event_hash, and each row after the first against its predecessor.
 */
export function checkedEntries<T extends EventEntryRow>(rows: T[]): T[] {
  let prev: T | undefined;
  for (const row of rows) {
    if (storedEventHashOf(row) !== row.eventHash) throw integrityError(row, 'its fields do not match its event_hash');
    checkLink(row, prev);
    prev = row;
  }
  return rows;
}

/** A row against the row read before it (undefined for the first of a page): consecutive, and chained. */
function checkLink(row: EventEntryRow, prev: EventEntryRow | undefined): void {
  const problem = linkProblem(row, prev);
  if (problem !== undefined) throw integrityError(row, problem);
}

/** What is wrong with a row's link to the row before it (undefined: none); `proofstream check` reports it. */
export function linkProblem(row: EventEntryRow, prev: EventEntryRow | undefined): string | undefined {
  if (row.seqNo === 1 && row.previousEventHash !== ZERO64) return 'it is seq_no 1 but its previous_event_hash is not zero';
  if (!prev) return undefined;
  if (row.seqNo !== prev.seqNo + 1) return `it follows seq_no ${prev.seqNo} in the store`;
  if (row.previousEventHash !== prev.eventHash) return `its previous_event_hash is not the event_hash of seq_no ${prev.seqNo}`;
  return undefined;
}
