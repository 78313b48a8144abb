// TEMPORARY (until h/provenance merges): DSSE v1 envelopes (github.com/secure-systems-lab/dsse, "Protocol"). At the
// merge this file re-exports src/protocol/dsse.ts.
import { bytesToBase64, concatBytes, utf8ToBytes } from '../protocol/bytes.js';

export interface DsseEnvelope { payload: string; payloadType: string; signatures: { keyid: string; sig: string }[] }
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';

/** PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body, lengths as ASCII decimal byte counts. */
export function pae(payloadType: string, payload: Uint8Array): Uint8Array {
  const t = utf8ToBytes(payloadType);
  return concatBytes(utf8ToBytes(`DSSEv1 ${t.length} `), t, utf8ToBytes(` ${payload.length} `), payload);
}

export function signEnvelope(payloadType: string, payload: Uint8Array, keyid: string, sign: (m: Uint8Array) => Uint8Array): DsseEnvelope {
  return { payload: bytesToBase64(payload), payloadType, signatures: [{ keyid, sig: bytesToBase64(sign(pae(payloadType, payload))) }] };
}
