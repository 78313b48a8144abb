// Kind `v1_proof`: the proof object GET /v1/events/{eventId}/proof returns (docs/api.md, "v1").
//
//   {kind: "v1_proof", status, event, receipt, inclusion | null, checkpoint | null, anchor | null, keys}
//
// `event` is the v2 event view of the v1 event (payload, salt and hashes), `receipt` the v1 receipt
// ({id, tenant_id, event_hash, received_at, signature: {alg, kid, value}}), `inclusion` its RFC 9162 proof to
// the first checkpoint covering it, `checkpoint` that checkpoint as GET /v2/checkpoints/{id} returns it, and
// `keys` the ledger's public keys as GET /v2/keys lists them. Pure: imports only src/protocol and src/verify.
import { bytesToHex, hexToBytes, isHex32 } from '../protocol/bytes.js';
import { genesisHead, nextHead } from '../protocol/event.js';
import { canonicalize } from '../protocol/jcs.js';
import { verifyInclusion } from '../protocol/merkle.js';
import { RECEIPT_ALG, RECEIPT_PROTOCOL } from '../protocol/receipt.js';
import { checkCheckpoint, type CheckpointInfo } from './checkpoint.js';
import { checkEventContent, readEvent, SignatureBatch, type EventRecord } from './event.js';
import { ptr, type CheckScope, type ReportBuilder } from './report.js';
import { asObj, Fields, isObj, own, show, type Obj } from './shape.js';
import { ZERO_HASH_HEX } from './stream.js';
import { checkAnchors, checkWitnesses } from './evidence.js';
import { quorumMet, type TrustPolicy } from '../protocol/policy.js';
import { ANCHOR_RETRY_AFTER_S, hintsFor, WITNESS_RETRY_AFTER_S, type CallerHints } from './caller.js';
import { kidOf, type TrustSet } from './trust.js';

export const V1_PROOF_KIND = 'v1_proof';

/** The committed payload of a v1 event: every v1 field the entry itself does not carry. */
export const V1_PAYLOAD_FORMAT = 'proofstream.v1-event/1';

export interface V1Payload {
  format: typeof V1_PAYLOAD_FORMAT;
  tenant_id: string;
  status: string;
  payload: unknown;
}

export const V1_STATUSES = ['pending', 'checkpointed', 'witnessed', 'anchored'] as const;

/** The checkpoint members a v1 proof carries: each is bound by the note, a cross-check or the evidence checks. */
export const V1_CHECKPOINT_MEMBERS = [
  'checkpoint_id',
  'stream_id',
  'tree_size',
  'root_hash',
  'note',
  'signer_vkey',
  'cosignatures',
  'witness_quorum',
  'anchor',
  'cosigned_note',
] as const;
const V1_KEY_MEMBERS = ['kid', 'alg', 'public_key', 'public_key_format'] as const;
export type V1Status = (typeof V1_STATUSES)[number];

/** The v1 event id of a stored event: the `sev_` id with the `evt_` prefix (same 128 random bits). */
export function v1EventId(streamEventId: string): string {
  return streamEventId.startsWith('sev_') ? `evt_${streamEventId.slice(4)}` : `evt_${streamEventId}`;
}

/** The stored (`sev_`) id a v1 event id names, or null when it is not a v1 event id. */
export function streamEventIdOf(v1Id: string): string | null {
  return /^evt_[A-Za-z0-9_-]{1,60}$/.test(v1Id) ? `sev_${v1Id.slice(4)}` : null;
}

/** The evidence a checkpoint view may carry once witnessing and anchoring are present (all optional). */
export interface CheckpointEvidence {
  witness_quorum?: { required?: unknown; met?: unknown } | null | undefined;
  anchor?: unknown;
}

/**
 * How far a v1 event's evidence goes: `pending` (not sealed yet), `checkpointed` (in a signed checkpoint),
 * `witnessed` (and the checkpoint's witness quorum, of at least one witness, is met), `anchored` (and the
 * checkpoint has an anchor). Reads the optional witness/anchor members when present.
 */
export function v1ProofStatus(checkpoint: CheckpointEvidence | null | undefined): V1Status {
  if (!checkpoint) return 'pending';
  const q = isObj(checkpoint.witness_quorum) ? checkpoint.witness_quorum : null;
  const required = q ? own(q, 'required') : undefined;
  const witnessed = q !== null && own(q, 'met') === true && typeof required === 'number' && required > 0;
  if (!witnessed) return 'checkpointed';
  const anchor = (checkpoint as Obj).anchor;
  return anchor !== undefined && anchor !== null ? 'anchored' : 'witnessed';
}

const MAX_PROOF = 64;
const V1_PROOF_MEMBERS = ['kind', 'status', 'event', 'receipt', 'inclusion', 'checkpoint', 'anchor', 'keys'] as const;

/** Verifies a v1 proof object. Never throws (verify() also guards). */
export async function verifyV1ProofKind(
  object: unknown,
  trust: TrustSet,
  r: ReportBuilder,
  policy: TrustPolicy | null = null,
  hints: CallerHints = hintsFor(undefined),
): Promise<void> {
  const kindCheck = r.check('v1 proof: kind');
  const top = r.check('v1 proof: well-formed');
  const o = asObj(object, '', top, 'a v1 proof object {kind: "v1_proof", status, event, receipt, inclusion, checkpoint, anchor, keys}');
  if (!o) return;
  const kind = own(o, 'kind');
  if (kind !== V1_PROOF_KIND) kindCheck.fail('UNSUPPORTED_KIND', '/kind', `kind must be "${V1_PROOF_KIND}", got ${show(kind)}`);
  for (const m of V1_PROOF_MEMBERS) {
    if (m !== 'kind' && !Object.hasOwn(o, m)) top.fail('MALFORMED', ptr('', m), `missing member "${m}"`);
  }

  // 1. The event: the receipt's protocol and algorithm are part of what is signed, so a different one is a
  // signature that cannot verify (reported before the shape check, which would only call it malformed).
  const evObj = own(o, 'event');
  const algCheck = r.check('event: receipt protocol and algorithm');
  if (isObj(evObj) && isObj(own(evObj, 'receipt'))) {
    const rc = own(evObj, 'receipt') as Obj;
    const protocol = own(rc, 'protocol');
    const alg = own(rc, 'alg');
    if (typeof protocol === 'string' && protocol !== RECEIPT_PROTOCOL) {
      algCheck.fail('SIGNATURE_INVALID', '/event/receipt/protocol', `receipts are signed under protocol ${RECEIPT_PROTOCOL}, not ${show(protocol)}: the signature cannot verify`);
    }
    if (typeof alg === 'string' && alg !== RECEIPT_ALG) {
      algCheck.fail('SIGNATURE_INVALID', '/event/receipt/alg', `receipts are signed with ${RECEIPT_ALG}, not ${show(alg)}: the signature cannot verify`);
    }
  }
  const evShape = r.check('event: well-formed');
  const sigCheck = r.check('event: receipt signed by a trusted key');
  const ev = algCheck.failures === 0 ? readEvent(evObj, '/event', evShape, 'event') : null;
  if (!ev) {
    sigCheck.cannotRun();
    return;
  }
  const commitment = r.check('event: payload commitment');
  const eventHash = r.check('event: event hash recomputed from the event fields');
  checkEventContent(ev, { commitment, eventHash });
  const sigs = new SignatureBatch(trust, sigCheck);
  sigs.add(ev);
  await sigs.flush();
  if (ev.seq_no === 1) checkGenesisLinks(ev, r.check('event: first event links to the genesis head'));

  // 2. The v1 fields inside the committed payload, and the v1 receipt against the event.
  const v1 = readV1Payload(ev, evObj as Obj, r);
  const sevId = own(evObj as Obj, 'stream_event_id');
  checkV1Receipt(own(o, 'receipt'), ev, typeof sevId === 'string' ? sevId : null, v1, r);

  // 3. The keys section.
  checkKeys(own(o, 'keys'), ev, trust, r.check('keys: every listed key consistent, the receipt key listed'));

  // 4. Checkpoint and inclusion.
  const inclusion = own(o, 'inclusion');
  const checkpoint = own(o, 'checkpoint');
  let cp: CheckpointInfo | null = null;
  let included = false;
  if (checkpoint !== undefined && checkpoint !== null) {
    const body = r.check('checkpoint: note parses and agrees with tree_size, root_hash and the stream');
    const sig = r.check('checkpoint: note signed by a trusted log key');
    if (isObj(checkpoint)) new Fields(checkpoint, '/checkpoint', body).onlyKeys(V1_CHECKPOINT_MEMBERS);
    cp = await checkCheckpoint(checkpoint, '/checkpoint', trust, { sig, body, streamId: ev.stream_id, requireId: true });
  }
  if (inclusion !== undefined && inclusion !== null) {
    included = checkInclusion(inclusion, ev, cp, checkpoint !== undefined && checkpoint !== null, r);
  }

  // 5. previous_event_hash: known at seq_no 1 (above); at an odd leaf index the proof's first hash is the leaf
  // before, which a verified inclusion proof authenticates.
  if (ev.seq_no > 1) {
    const proof = included && isObj(inclusion) ? (own(inclusion, 'proof') as string[]) : null;
    if (proof && (ev.seq_no - 1) % 2 === 1 && proof.length > 0) {
      const prev = r.check('event: previous_event_hash is the leaf before (first hash of the inclusion proof)');
      if (proof[0] !== ev.previous_event_hash) {
        prev.fail('CHAIN_BROKEN', '/event/previous_event_hash', `the leaf before this event is ${proof[0]}, previous_event_hash says ${ev.previous_event_hash}`);
      }
    } else {
      // A note: nothing in this object binds the previous event's hash.
      r.note('event: previous_event_hash not checked (bound only at seq_no 1, or at an odd leaf index by a verified inclusion proof)', 'nothing in this proof binds the previous event\'s hash');
    }
  }

  // 6. Status against what is present.
  checkStatus(o, inclusion, checkpoint, r.check('status: consistent with the evidence present'));

  // 7. The checkpoint's evidence, checked like a bundle's: cosignatures against the witness keys (the policy's,
  // else the ones listed) and its quorum; the anchor against the policy's TSA roots.
  if (cp && cp.consistent && isObj(checkpoint) && typeof own(checkpoint, 'note') === 'string') {
    const target = { note: own(checkpoint, 'note') as string, checkpointId: cp.checkpointId };
    const cos = own(checkpoint, 'cosignatures');
    const entries = Array.isArray(cos)
      ? cos.map((c) => (isObj(c) ? { checkpoint_id: cp!.checkpointId, name: own(c, 'witness'), vkey: own(c, 'vkey'), timestamp: own(c, 'timestamp'), signature_line: own(c, 'signature_line') } : c))
      : cos === undefined
        ? []
        : undefined;
    // A v1 proof is fetched again later for evidence still to come: missing evidence is pending, not invalid.
    const ctx = { hints, live: true };
    await checkWitnesses(entries, target, policy, r, '/checkpoint/cosignatures', ctx);
    const anchor = own(checkpoint, 'anchor');
    const anchors = anchor === undefined || anchor === null ? [] : [isObj(anchor) ? { checkpoint_id: cp.checkpointId, ...anchor } : anchor];
    await checkAnchors(anchors, target, policy, r, () => '/checkpoint/anchor', undefined, ctx);
  } else if ((checkpoint === undefined || checkpoint === null) && policy) {
    // Not sealed yet: the evidence the policy requires of the checkpoint cannot be there either. Saying nothing
    // would let a policy that demands an anchor pass a proof that has none.
    const c = r.check('checkpoint: present, for the cosignatures and anchor the trust policy requires');
    if (!quorumMet(policy, new Set())) {
      c.waitFor('WITNESS_QUORUM_NOT_MET', '/checkpoint', `no checkpoint yet, so no cosignatures: the policy's quorum "${policy.quorum}" is not met`, {
        evidence: 'witness_cosignatures',
        missing: `a checkpoint covering the event, then cosignatures meeting the policy's quorum "${policy.quorum}"`,
        retry: SEAL_RETRY,
        retry_after_s: WITNESS_RETRY_AFTER_S,
      });
    }
    if (policy.tsaRoots.length > 0) {
      c.waitFor('ANCHOR_MISSING', '/checkpoint', 'no checkpoint yet, so no anchor: the trust policy names TSA roots', {
        evidence: 'anchor',
        missing: 'a checkpoint covering the event, then its RFC 3161 anchor',
        retry: SEAL_RETRY,
        retry_after_s: ANCHOR_RETRY_AFTER_S,
      });
    }
    if (c.failures === 0) c.skipped('the trust policy requires neither cosignatures nor an anchor');
  }
}

const SEAL_RETRY =
  "fetch the proof again once the event's window is sealed into a checkpoint (within the stream's max_age_ms, about a second by default) and its evidence has arrived";

function checkGenesisLinks(ev: EventRecord, chain: CheckScope): void {
  if (ev.previous_event_hash !== ZERO_HASH_HEX) {
    chain.fail('CHAIN_BROKEN', '/event/previous_event_hash', 'seq_no 1 must have previous_event_hash of 64 zeros');
  }
  try {
    const h = bytesToHex(nextHead(genesisHead(ev.stream_id), hexToBytes(ev.event_hash)));
    if (h !== ev.stream_head_hash) {
      chain.fail('CHAIN_BROKEN', '/event/stream_head_hash', `stream_head_hash of seq_no 1 should be ${h}, found ${ev.stream_head_hash}`);
    }
  } catch (e) {
    chain.fail('MALFORMED', '/event/stream_id', `stream_id cannot be hashed: ${(e as Error).message}`);
  }
}

/** The committed v1 envelope {format, tenant_id, status, payload}; null when erased or not a v1 envelope. */
function readV1Payload(ev: EventRecord, evObj: Obj, r: ReportBuilder): { tenant_id: string; status: string } | null {
  if (ev.erased) {
    r.note('event: payload erased: tenant_id and status bound by the commitment, not checked', 'the payload was erased');
    return null;
  }
  const c = r.check('event: payload is a v1 envelope {format, tenant_id, status, payload}');
  const p = own(evObj, 'payload');
  if (!isObj(p)) {
    c.fail('MALFORMED', '/event/payload', `a v1 event's committed payload is {format: "${V1_PAYLOAD_FORMAT}", tenant_id, status, payload}, got ${show(p)}`);
    return null;
  }
  const f = new Fields(p, '/event/payload', c);
  const before = c.failures;
  f.literal('format', V1_PAYLOAD_FORMAT);
  const tenant_id = f.str('tenant_id', { nonEmpty: true });
  const status = f.str('status', { nonEmpty: true });
  if (!f.has('payload')) c.fail('MALFORMED', f.at('payload'), 'missing member "payload"');
  f.onlyKeys(['format', 'tenant_id', 'status', 'payload']);
  return c.failures === before ? { tenant_id: tenant_id!, status: status! } : null;
}

/** The v1 receipt must restate the event it names: id, event_hash, received_at, signature; tenant_id as committed. */
function checkV1Receipt(v: unknown, ev: EventRecord, sevId: string | null, v1: { tenant_id: string } | null, r: ReportBuilder): void {
  const shape = r.check('receipt: well-formed');
  const same = r.check('receipt: the v1 receipt restates the event (id, tenant, hash, time, signature)');
  const o = asObj(v, '/receipt', shape, 'the v1 receipt {id, tenant_id, event_hash, received_at, signature}');
  if (!o) {
    same.cannotRun();
    return;
  }
  const f = new Fields(o, '/receipt', shape);
  const id = f.str('id', { nonEmpty: true });
  const tenant = f.str('tenant_id', { nonEmpty: true });
  const hash = f.str('event_hash');
  const at = f.str('received_at');
  const s = f.obj('signature');
  let alg: string | undefined, kid: string | undefined, value: string | undefined;
  if (s) {
    const sf = new Fields(s, '/receipt/signature', shape);
    alg = sf.str('alg');
    kid = sf.str('kid');
    value = sf.str('value');
  }
  const mismatch = (p: string, what: string, got: unknown, want: unknown) =>
    same.fail('RECEIPT_MISMATCH', p, `${what} is ${show(got)}, the event says ${show(want)}`);
  if (sevId === null) shape.fail('MALFORMED', '/event/stream_event_id', 'the event must carry its stream_event_id (the v1 id is derived from it)');
  if (id !== undefined && sevId !== null && id !== v1EventId(sevId)) mismatch('/receipt/id', 'id', id, v1EventId(sevId));
  if (tenant !== undefined && v1 && tenant !== v1.tenant_id) mismatch('/receipt/tenant_id', 'tenant_id', tenant, v1.tenant_id);
  if (hash !== undefined && hash !== ev.event_hash) mismatch('/receipt/event_hash', 'event_hash', hash, ev.event_hash);
  if (at !== undefined && at !== ev.received_at) mismatch('/receipt/received_at', 'received_at', at, ev.received_at);
  if (alg !== undefined && alg !== RECEIPT_ALG) mismatch('/receipt/signature/alg', 'signature.alg', alg, RECEIPT_ALG);
  if (kid !== undefined && kid !== ev.kid) mismatch('/receipt/signature/kid', 'signature.kid', kid, ev.kid);
  if (value !== undefined && value !== ev.signature) mismatch('/receipt/signature/value', 'signature.value', value, ev.signature);
}

/** Every listed key: Ed25519, raw hex, kid derived from the key, the same key as a trusted one of that kid. */
function checkKeys(v: unknown, ev: EventRecord, trust: TrustSet, c: CheckScope): void {
  if (!Array.isArray(v)) {
    c.fail('MALFORMED', '/keys', `keys must be an array of public keys as GET /v2/keys lists them, got ${show(v)}`);
    return;
  }
  const listed = new Set<string>();
  v.forEach((k, i) => {
    const at = (m: string) => ptr('/keys', i, m);
    if (!isObj(k)) {
      c.fail('MALFORMED', ptr('/keys', i), `keys[${i}] must be an object {kid, alg, public_key, …}`);
      return;
    }
    new Fields(k, ptr('/keys', i), c).onlyKeys(V1_KEY_MEMBERS);
    const kid = own(k, 'kid');
    const alg = own(k, 'alg');
    const pk = own(k, 'public_key');
    const format = own(k, 'public_key_format');
    if (typeof kid !== 'string' || kid.length === 0) return c.fail('MALFORMED', at('kid'), `kid must be a non-empty string, got ${show(kid)}`);
    if (!isHex32(pk)) return c.fail('MALFORMED', at('public_key'), `public_key must be 64 lowercase hex digits, got ${show(pk)}`);
    if (alg !== RECEIPT_ALG) c.fail('KEY_MISMATCH', at('alg'), `the ledger's keys are ${RECEIPT_ALG}, keys[${i}] says ${show(alg)}`);
    if (format !== undefined && format !== 'raw-hex') c.fail('KEY_MISMATCH', at('public_key_format'), `public_key is raw hex, keys[${i}] says ${show(format)}`);
    const pub = hexToBytes(pk);
    const derived = kidOf(pub);
    if (kid !== derived) {
      c.fail('KEY_MISMATCH', at('kid'), `kid ${show(kid)} is not derived from its public key (expected ${derived})`);
      return;
    }
    const trusted = trust.byKid.get(kid);
    if (trusted && bytesToHex(trusted) !== pk) c.fail('KEY_MISMATCH', at('public_key'), `the trusted key ${kid} is a different key`);
    listed.add(kid);
  });
  if (c.failures === 0 && !listed.has(ev.kid)) {
    c.fail('KEY_MISMATCH', '/event/receipt/kid', `the receipt's key ${show(ev.kid)} is not among the listed keys`);
  }
}

/** Inclusion {leaf_index, tree_size, checkpoint_id, proof} of event_hash in the checkpoint's tree. True when it verifies. */
function checkInclusion(v: unknown, ev: EventRecord, cp: CheckpointInfo | null, cpGiven: boolean, r: ReportBuilder): boolean {
  const shape = r.check('inclusion: well-formed');
  const proofCheck = r.check('inclusion: event_hash leads to the checkpoint root');
  const o = asObj(v, '/inclusion', shape, 'an inclusion proof {leaf_index, tree_size, checkpoint_id, proof}');
  if (!o) {
    proofCheck.cannotRun();
    return false;
  }
  const f = new Fields(o, '/inclusion', shape);
  const leafIndex = f.int('leaf_index', 0);
  const treeSize = f.int('tree_size', 1);
  const cpId = f.str('checkpoint_id', { nonEmpty: true });
  const proof = f.hexList('proof', { max: MAX_PROOF });
  if (leafIndex === undefined || treeSize === undefined || cpId === undefined || proof === undefined || !cpGiven || !cp) {
    proofCheck.cannotRun();
    return false;
  }
  const same = r.check('inclusion: against this checkpoint');
  if (cp.checkpointId !== null && cpId !== cp.checkpointId) {
    same.fail('RANGE_PROOF_INVALID', '/inclusion/checkpoint_id', `inclusion names checkpoint ${show(cpId)}, the checkpoint is ${show(cp.checkpointId)}`);
  }
  if (treeSize !== cp.size) same.fail('RANGE_PROOF_INVALID', '/inclusion/tree_size', `inclusion is in a tree of ${treeSize}, the checkpoint's has ${cp.size}`);
  if (cp.size < ev.seq_no) {
    r.check('checkpoint: covers the event').fail('CHECKPOINT_STALE', '/checkpoint/tree_size', `the checkpoint's tree (${cp.size}) does not contain seq_no ${ev.seq_no}`);
  }
  if (leafIndex !== ev.seq_no - 1) {
    proofCheck.fail('RANGE_PROOF_INVALID', '/inclusion/leaf_index', `leaf_index must be seq_no − 1 = ${ev.seq_no - 1}, found ${leafIndex}`);
    return false;
  }
  if (!verifyInclusion(hexToBytes(ev.event_hash), leafIndex, treeSize, proof.map(hexToBytes), cp.root)) {
    proofCheck.fail('RANGE_PROOF_INVALID', '/inclusion/proof', `the inclusion proof does not lead from event_hash to the checkpoint's root (tree of ${treeSize})`);
    return false;
  }
  return same.failures === 0 && cp.trusted;
}

const jcs = (v: unknown): string | null => {
  try {
    return canonicalize(v ?? null);
  } catch {
    return null;
  }
};

/** status = what the evidence shows; the top-level anchor is the checkpoint's; witness claims add up. */
function checkStatus(o: Obj, inclusion: unknown, checkpoint: unknown, c: CheckScope): void {
  const status = own(o, 'status');
  const hasCp = checkpoint !== undefined && checkpoint !== null;
  const hasInc = inclusion !== undefined && inclusion !== null;
  if (typeof status !== 'string' || !(V1_STATUSES as readonly string[]).includes(status)) {
    c.fail('STATUS_MISMATCH', '/status', `status must be one of ${V1_STATUSES.join(', ')}, got ${show(status)}`);
    return;
  }
  if (hasCp !== hasInc) {
    c.fail('STATUS_MISMATCH', hasCp ? '/inclusion' : '/checkpoint', 'a checkpoint and an inclusion proof go together: one is given without the other');
  }
  const cpObj = hasCp && isObj(checkpoint) ? checkpoint : null;
  const expected = v1ProofStatus(cpObj as CheckpointEvidence | null);
  if (status !== expected) {
    c.fail(
      'STATUS_MISMATCH',
      '/status',
      status === 'pending' || expected === 'pending'
        ? `status is ${status} but ${hasCp ? 'a checkpoint is' : 'no checkpoint is'} given`
        : `status is ${status} but the checkpoint's evidence shows ${expected}`,
    );
  }
  if (cpObj) {
    const q = own(cpObj, 'witness_quorum');
    if (isObj(q)) {
      const required = own(q, 'required');
      const count = own(q, 'count');
      const met = own(q, 'met');
      const cos = own(cpObj, 'cosignatures');
      if (typeof required === 'number' && typeof count === 'number' && met !== count >= required) {
        c.fail('STATUS_MISMATCH', '/checkpoint/witness_quorum/met', `witness_quorum.met is ${show(met)} but ${count} of ${required} required cosignatures are counted`);
      }
      if (typeof count === 'number' && Array.isArray(cos) && count > cos.length) {
        c.fail('STATUS_MISMATCH', '/checkpoint/witness_quorum/count', `witness_quorum.count is ${count} but only ${cos.length} cosignature(s) are given`);
      }
    }
  }
  if (cpObj && typeof own(cpObj, 'cosigned_note') === 'string' && typeof own(cpObj, 'note') === 'string') {
    const cos = own(cpObj, 'cosignatures');
    const lines = Array.isArray(cos) ? cos.map((x) => (isObj(x) ? own(x, 'signature_line') : undefined)) : [];
    if (lines.every((l) => typeof l === 'string')) {
      const want = (own(cpObj, 'note') as string) + lines.map((l) => `${l as string}\n`).join('');
      if (own(cpObj, 'cosigned_note') !== want) {
        c.fail('STATUS_MISMATCH', '/checkpoint/cosigned_note', "cosigned_note must be the note followed by the cosignatures' signature lines");
      }
    }
  }
  const anchor = own(o, 'anchor');
  const cpAnchor = cpObj ? own(cpObj, 'anchor') : null;
  if (jcs(anchor) !== jcs(cpAnchor)) {
    c.fail('STATUS_MISMATCH', '/anchor', "anchor must be the checkpoint's anchor (null when it has none)");
  }
}
