// "Formats are forever": fixtures/vectors/erasure.json pins the erasure record (docs/protocol.md §3.4) and the event
// that carries it. Recomputed here from src/protocol and, independently, with node:crypto straight from the spec.
import { createHash, createPublicKey, verify as nodeVerify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERASURE_EVENT_TYPE, ERASURE_FORMAT, erasureRecord } from '../src/protocol/erasure.js';
import { canonicalize } from '../src/protocol/jcs.js';
import { buildErasureVector, renderErasure } from '../scripts/gen-erasure-vector.js';

const FILE = join(import.meta.dirname, '..', 'fixtures', 'vectors', 'erasure.json');
const text = readFileSync(FILE, 'utf8');
const V = JSON.parse(text);
const EVENTS = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'vectors', 'events.json'), 'utf8'));

const osha = (...parts: Array<Buffer | string>) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};
const tag = (purpose: string) => Buffer.concat([Buffer.from(`proofstream/v1 ${purpose}`, 'utf8'), Buffer.from([0])]);

describe('erasure vector', () => {
  it('is what the protocol code produces now, byte for byte', () => {
    expect(renderErasure(buildErasureVector())).toBe(text);
  });

  it('the record has exactly the documented members, and erasureRecord builds it', () => {
    expect(V.erasure_format).toBe('proofstream.erasure/v1');
    expect(ERASURE_FORMAT).toBe(V.erasure_format);
    expect(ERASURE_EVENT_TYPE).toBe('proofstream.erasure');
    expect(Object.keys(V.record).sort()).toEqual(['erased_by_key', 'event_hash', 'event_id', 'format', 'payload_commitment', 'reason', 'seq_no']);
    const { format: _f, ...fields } = V.record;
    expect(erasureRecord(fields)).toEqual(V.record);
    // It names the erased event by what its entry hashes, not only by id.
    const erased = EVENTS.events[1];
    expect(V.record).toMatchObject({ seq_no: erased.inputs.seq_no, event_hash: erased.event_hash, payload_commitment: erased.payload_commitment });
  });

  it('record JCS, commitment, entry, event hash, head and receipt signature re-derive with node:crypto', () => {
    // JCS of the record by hand: keys in UTF-16 order, strings as JSON.stringify writes them.
    const r = V.record;
    const jcs =
      `{"erased_by_key":${JSON.stringify(r.erased_by_key)},"event_hash":"${r.event_hash}","event_id":${JSON.stringify(r.event_id)},` +
      `"format":"proofstream.erasure/v1","payload_commitment":"${r.payload_commitment}","reason":${JSON.stringify(r.reason)},"seq_no":${r.seq_no}}`;
    expect(jcs).toBe(V.record_jcs);
    expect(canonicalize(r)).toBe(V.record_jcs);
    expect(Buffer.from(jcs, 'utf8').toString('hex')).toBe(V.record_jcs_hex);

    const commitment = osha(tag('payload'), Buffer.from(V.inputs.salt, 'hex'), Buffer.from(jcs, 'utf8')).toString('hex');
    expect(commitment).toBe(V.payload_commitment);
    expect(V.source_ref).toBe(`erasure:${r.event_id}`);
    const entry =
      `{"event_type":"proofstream.erasure","format":"proofstream.entry/v1","occurred_at":null,"payload_commitment":"${commitment}",` +
      `"received_at":"${V.inputs.received_at}","seq_no":4,"source_ref":${JSON.stringify(V.source_ref)},"stream_id":"${V.stream_id}"}`;
    expect(entry).toBe(V.entry_text);
    const evHash = osha(Buffer.from([0]), entry);
    expect(evHash.toString('hex')).toBe(V.event_hash);
    // Appended after event 3 of events.json.
    expect(V.previous_event_hash).toBe(EVENTS.events[2].event_hash);
    const head = osha(tag('head'), Buffer.from(EVENTS.events[2].stream_head_hash, 'hex'), evHash);
    expect(head.toString('hex')).toBe(V.stream_head_hash);

    const msg =
      `{"event_hash":"${V.event_hash}","kid":"${EVENTS.signing_key.kid}","protocol":"PROOFSTREAM-RECEIPT-001",` +
      `"received_at":"${V.inputs.received_at}","seq_no":4,"stream_head_hash":"${V.stream_head_hash}","stream_id":"${V.stream_id}"}`;
    const message = Buffer.concat([tag('receipt'), Buffer.from(msg, 'utf8')]);
    expect(message.toString('hex')).toBe(V.receipt_message_hex);
    const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(EVENTS.signing_key.public_key_hex, 'hex')]);
    const key = createPublicKey({ key: spki, format: 'der', type: 'spki' });
    expect(nodeVerify(null, message, key, Buffer.from(V.signature, 'hex'))).toBe(true);
  });

  it('the erased event keeps its entry: payload and salt null, event hash unchanged', () => {
    const erased = EVENTS.events[1];
    expect(V.erased_event).toEqual({ seq_no: 2, event_hash: erased.event_hash, payload_commitment: erased.payload_commitment, payload: null, salt: null });
    expect(osha(Buffer.from([0]), erased.entry_text).toString('hex')).toBe(erased.event_hash);
  });
});
