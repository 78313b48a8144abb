// The signed receipt: what the ledger promises the moment an event is durable. docs/protocol.md §4.
import { concatBytes } from './bytes.js';
import { DOMAIN } from './hash.js';
import { canonicalBytes } from './jcs.js';

/** Names this project's receipt protocol; part of the signed message, so it can never be reinterpreted. */
export const RECEIPT_PROTOCOL = 'PROOFSTREAM-RECEIPT-001';
export const RECEIPT_ALG = 'Ed25519' as const;

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
