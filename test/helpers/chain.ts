// Recomputes everything a receipt claims from the stored event, using only src/protocol and the public key.
import { bytesToHex, hexToBytes } from '../../src/protocol/bytes.js';
import { verifyEd25519, verifyEd25519Noble } from '../../src/protocol/ed25519.js';
import { eventHash, genesisHead, nextHead, payloadCommitment } from '../../src/protocol/event.js';
import { receiptMessage, type EventView } from '../../src/protocol/receipt.js';

/** An event as GET /v2/streams/{id}/events returns it. */
export type StoredEvent = EventView;

/** Throws with a precise message at the first event that does not check out. */
export async function checkChain(streamId: string, events: StoredEvent[], publicKeyHex: string): Promise<void> {
  const pub = hexToBytes(publicKeyHex);
  let head = genesisHead(streamId);
  let prev = '0'.repeat(64);
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    if (e.seq_no !== i + 1) throw new Error(`gap: position ${i} has seq_no ${e.seq_no}`);
    if (e.salt !== null) {
      const c = bytesToHex(payloadCommitment(hexToBytes(e.salt), e.payload));
      if (c !== e.payload_commitment) throw new Error(`seq ${e.seq_no}: payload commitment mismatch`);
    }
    const h = eventHash({
      stream_id: streamId,
      seq_no: e.seq_no,
      source_ref: e.source_ref,
      event_type: e.event_type,
      occurred_at: e.occurred_at,
      received_at: e.received_at,
      payload_commitment: e.payload_commitment,
    });
    if (bytesToHex(h) !== e.event_hash) throw new Error(`seq ${e.seq_no}: event hash mismatch`);
    if (e.previous_event_hash !== prev) throw new Error(`seq ${e.seq_no}: previous_event_hash breaks the chain`);
    head = nextHead(head, h);
    if (bytesToHex(head) !== e.stream_head_hash) throw new Error(`seq ${e.seq_no}: head hash mismatch`);
    const msg = receiptMessage(
      {
        kid: e.receipt.kid,
        stream_id: streamId,
        seq_no: e.seq_no,
        event_hash: e.event_hash,
        stream_head_hash: e.stream_head_hash,
        received_at: e.received_at,
      },
      e.receipt.protocol,
    );
    const sig = hexToBytes(e.receipt.signature);
    if (!(await verifyEd25519(pub, sig, msg))) throw new Error(`seq ${e.seq_no}: signature fails (WebCrypto)`);
    if (!verifyEd25519Noble(pub, sig, msg)) throw new Error(`seq ${e.seq_no}: signature fails (@noble/ed25519)`);
    prev = e.event_hash;
  }
}

/** Every event of a stream through the paginated read API. */
export async function readAll(call: (m: string, p: string) => Promise<{ status: number; body: any }>, streamId: string) {
  const out: StoredEvent[] = [];
  let from: number | null = 1;
  while (from !== null) {
    const r = await call('GET', `/v2/streams/${streamId}/events?from_seq_no=${from}&limit=1000`);
    if (r.status !== 200) throw new Error(`read failed: ${r.status} ${JSON.stringify(r.body)}`);
    out.push(...r.body.events);
    from = r.body.next_from_seq_no;
  }
  return out;
}
