// What an append route's Idempotency-Key record keeps: not the ~640-byte answer per event but where its receipts are
// (stream, first and last seq_no) and which of the two route shapes answered. The events rows are immutable in every
// field a receipt shows (erasure nulls only payload and salt), so the replay is rebuilt from them byte for byte
// (test/idempotent-replay.test.ts). Saves ~8 WAL pages per flush of ~35 appends (docs/performance.md, session 6).
// Records written before (full bodies) and by every other route are replayed as stored.
import type { Store } from '../store/index.js';
import type { ReceiptView } from '../protocol/receipt.js';
import { receiptView } from './ledger.js';

/** The two append answers: one receipt (POST …/events) or `{stream_id, receipts}` (POST …/events/batch). */
export type ReceiptsShape = 'receipt' | 'batch';

export function renderReceipts(shape: ReceiptsShape, streamId: string, receipts: ReceiptView[]): unknown {
  return shape === 'receipt' ? receipts[0] : { stream_id: streamId, receipts };
}

/** A stored body never starts like this: no route answers with this single key (and packs use `pack_ref`). */
const PREFIX = '{"receipts_ref":';

/** The record's response_body for receipts from..to of a stream in this shape. */
export function receiptsRef(shape: ReceiptsShape, streamId: string, fromSeqNo: number, toSeqNo: number): string {
  return `${PREFIX}${JSON.stringify([streamId, fromSeqNo, toSeqNo, shape])}}`;
}

export interface ReceiptsRef {
  streamId: string;
  fromSeqNo: number;
  toSeqNo: number;
  shape: ReceiptsShape;
}

/** The reference in a stored body, or undefined for a body stored whole. Throws on a malformed reference. */
export function parseReceiptsRef(stored: string): ReceiptsRef | undefined {
  if (!stored.startsWith(PREFIX)) return undefined;
  const v = (JSON.parse(stored) as { receipts_ref: unknown }).receipts_ref;
  if (
    !Array.isArray(v) ||
    v.length !== 4 ||
    typeof v[0] !== 'string' ||
    !Number.isSafeInteger(v[1]) ||
    !Number.isSafeInteger(v[2]) ||
    v[1] < 1 ||
    v[2] < v[1] ||
    (v[3] !== 'receipt' && v[3] !== 'batch')
  ) {
    throw new Error('malformed receipts_ref in an idempotency record');
  }
  return { streamId: v[0], fromSeqNo: v[1], toSeqNo: v[2], shape: v[3] };
}

/**
 * Answers rebuilt lately, by their reference text (one per ledger: two ledgers copied from one backup share stream
 * ids). A reference names immutable receipt fields (see above), so an entry never goes stale; a client retrying one
 * request in a loop is served without re-reading the events (an A/B of the rebuild against stored bytes: +16% CPU per
 * replay, docs/performance.md). Bounded in entries and characters; oldest out first.
 */
export class RebuiltAnswers {
  private readonly map = new Map<string, string>();
  private chars = 0;

  constructor(
    private readonly maxEntries = 256,
    private readonly maxChars = 1 << 20,
  ) {}

  get(stored: string): string | undefined {
    const hit = this.map.get(stored);
    if (hit !== undefined) {
      // Map keeps insertion order: a hit moves to the end, the newest.
      this.map.delete(stored);
      this.map.set(stored, hit);
    }
    return hit;
  }

  remember(stored: string, body: string): void {
    if (body.length > this.maxChars / 4 || this.map.has(stored)) return; // a large batch answer is rebuilt each time
    this.map.set(stored, body);
    this.chars += body.length;
    for (const [k, v] of this.map) {
      if (this.map.size <= this.maxEntries && this.chars <= this.maxChars) break;
      this.map.delete(k);
      this.chars -= v.length;
    }
  }

  get size(): number {
    return this.map.size;
  }
}

/** The exact answer a stored record replays. */
export function replayBodyText(store: Store, stored: string, cache?: RebuiltAnswers): string {
  const ref = parseReceiptsRef(stored);
  if (!ref) return stored;
  const hit = cache?.get(stored);
  if (hit !== undefined) return hit;
  const rows = store.events.entries(ref.streamId, ref.fromSeqNo, ref.toSeqNo);
  // Events are never deleted: anything else is a damaged database (`proofstream check` names the record).
  if (rows.length !== ref.toSeqNo - ref.fromSeqNo + 1) throw new Error(`idempotency record names events ${ref.streamId}/${ref.fromSeqNo}..${ref.toSeqNo}, which are not all stored`);
  const body = JSON.stringify(renderReceipts(ref.shape, ref.streamId, rows.map(receiptView)));
  cache?.remember(stored, body);
  return body;
}
