// Collector signatures (docs/protocol.md §12): the bytes a client-side collector signs for each attestation it sends
// in a batch (POST /api/v1/collector/attestations), the id of a collector key, and the payload of the event that keeps
// the signature. Pure and browser-safe: the ledger (src/cicd/collectors.ts) and the verifier (src/verify/collector.ts)
// share these definitions.
import { bytesToHex, concatBytes } from './bytes.js';
import { domainTag, sha256 } from './hash.js';
import { canonicalBytes } from './jcs.js';

/** The `format` member every signed item carries (its version is part of the signed bytes). */
export const COLLECTOR_ITEM_FORMAT = 'proofstream.collector-attestation/v1';

/** The event type of an attestation that arrived in a signed collector batch; its payload is a CollectorEventPayload. */
export const COLLECTOR_EVENT_TYPE = 'cicd.collector_attestation/v1';

export const COLLECTOR_DOMAIN = {
  /** the signature message of one item */
  item: domainTag('collector-attestation'),
  /** a collector key's id */
  key: domainTag('collector-key'),
} as const;

/** Key ids are `col_` and 32 lowercase hex digits. */
export const COLLECTOR_KEY_ID_RE = /^col_[0-9a-f]{32}$/;

/** `col_` ‖ hex(SHA-256(tag("collector-key") ‖ 32-byte public key)[0:16]). */
export function collectorKeyId(publicKey: Uint8Array): string {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32) throw new TypeError('an Ed25519 public key is 32 bytes');
  return 'col_' + bytesToHex(sha256(COLLECTOR_DOMAIN.key, publicKey).subarray(0, 16));
}

/**
 * The bytes a collector signs for one item: tag("collector-attestation") ‖ JCS(item), where `item` is the signed
 * object exactly as sent (the `attestation` member of the batch entry). Throws for a value JCS cannot represent.
 */
export function collectorSignedBytes(item: unknown): Uint8Array {
  return concatBytes(COLLECTOR_DOMAIN.item, canonicalBytes(item));
}

/** The payload of a `cicd.collector_attestation/v1` event. */
export interface CollectorEventPayload {
  /** the ledger's attestation record made of the item (GET /api/v1/attestations/{id}) */
  attestationId: string;
  collector: {
    keyId: string;
    /** 32 raw bytes, lowercase hex */
    publicKey: string;
    /** 64 bytes, standard base64, as the collector sent it */
    signature: string;
  };
  /** the signed object, exactly as sent */
  item: Record<string, unknown>;
}
