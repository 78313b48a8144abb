// The signed receipt: what the ledger promises the moment an event is durable. docs/protocol.md §4.
import { concatBytes } from './bytes.js';
import { DOMAIN } from './hash.js';
import { canonicalBytes } from './jcs.js';

/** Names this project's receipt protocol; part of the signed message, so it can never be reinterpreted. */
export const RECEIPT_PROTOCOL = 'PROOFSTREAM-RECEIPT-001';
export const RECEIPT_ALG = 'Ed25519' as const;

/** The receipt as the API returns it (append response, GET /v2/receipts). */
export interface ReceiptView {
  stream_event_id: string;
  stream_id: string;
  seq_no: number;
  event_hash: string;
  previous_event_hash: string;
  stream_head_hash: string;
  received_at: string;
  receipt: { protocol: string; alg: 'Ed25519'; kid: string; signature: string };
}

/** A stored event as the API returns it: the receipt plus what it commits to (payload and salt null once erased). */
export interface EventView extends ReceiptView {
  source_ref: string;
  event_type: string;
  occurred_at: string | null;
  payload: unknown;
  salt: string | null;
  payload_commitment: string;
}

export interface ReceiptClaims {
  kid: string;
  stream_id: string;
  seq_no: number;
  event_hash: string;
  stream_head_hash: string;
  received_at: string;
}

/** Signed message = tag("receipt") ‖ JCS({protocol, kid, stream_id, seq_no, event_hash, stream_head_hash, received_at}). */
export function receiptMessage(c: ReceiptClaims, protocol: string = RECEIPT_PROTOCOL): Uint8Array {
  return concatBytes(
    DOMAIN.receipt,
    canonicalBytes({
      protocol,
      kid: c.kid,
      stream_id: c.stream_id,
      seq_no: c.seq_no,
      event_hash: c.event_hash,
      stream_head_hash: c.stream_head_hash,
      received_at: c.received_at,
    }),
  );
}
