// Kind `receipt`: one receipt (GET /v2/receipts/{id} or an append response), optionally with the event fields
// (payload, salt, …) and, optionally, an inclusion proof plus the checkpoint it leads to.
import { bytesToHex, hexToBytes } from '../protocol/bytes.js';
import { genesisHead, nextHead } from '../protocol/event.js';
import { verifyInclusion } from '../protocol/merkle.js';
import { checkCheckpoint } from './checkpoint.js';
import { checkEventContent, readEvent, SignatureBatch } from './event.js';
import type { ReportBuilder } from './report.js';
import { Fields, isObj, own, show } from './shape.js';
import { ZERO_HASH_HEX } from './stream.js';
import type { TrustSet } from './trust.js';

/** A proof has at most one hash per tree level; sizes are below 2^53. */
const MAX_PROOF = 64;

export async function verifyReceiptKind(object: unknown, trust: TrustSet, r: ReportBuilder): Promise<void> {
  const shape = r.check('receipt: well-formed');
  const sigCheck = r.check('receipt: signed by a trusted key');
  const rec = readEvent(object, '', shape, 'receipt');
  if (!rec || !isObj(object)) {
    sigCheck.cannotRun();
    return;
  }
  const sigs = new SignatureBatch(trust, sigCheck);
  sigs.add(rec);
  await sigs.flush();

  if (rec.entry) {
    const commitment = r.check('receipt: payload commitment');
    const eventHash = r.check('receipt: event hash recomputed from the event fields');
    checkEventContent(rec, { commitment, eventHash });
    if (rec.erased) r.note('receipt: payload erased: bound by its commitment, content not checked', 'the payload was erased');
    else if (!rec.payload) r.note('receipt: no payload given: content not checked', 'no payload was given');
  } else {
    r.note('receipt: no event fields given: event_hash taken as signed', 'no event fields were given to recompute event_hash from');
  }

  // At seq_no 1 the links are known without the event before.
  if (rec.seq_no === 1) {
    const chain = r.check('receipt: first event links to the genesis head');
    if (rec.previous_event_hash !== ZERO_HASH_HEX) {
      chain.fail('CHAIN_BROKEN', '/previous_event_hash', 'seq_no 1 must have previous_event_hash of 64 zeros');
    }
    try {
      const h = bytesToHex(nextHead(genesisHead(rec.stream_id), hexToBytes(rec.event_hash)));
      if (h !== rec.stream_head_hash) {
        chain.fail('CHAIN_BROKEN', '/stream_head_hash', `stream_head_hash of seq_no 1 should be ${h}, found ${rec.stream_head_hash}`);
      }
    } catch (e) {
      chain.fail('MALFORMED', '/stream_id', `stream_id cannot be hashed: ${(e as Error).message}`);
    }
  }

  // Inclusion, against a checkpoint when one is given.
  const inclusion = own(object, 'inclusion');
  const checkpoint = own(object, 'checkpoint');
  if (inclusion === undefined || inclusion === null) {
    if (checkpoint !== undefined) {
      r.check('inclusion: well-formed').fail('MALFORMED', '/checkpoint', 'a checkpoint was given without an inclusion proof to relate it to the receipt');
    }
    return;
  }
  const inc = r.check('inclusion: well-formed');
  const proofCheck = r.check('inclusion: event_hash leads to the root');
  if (!isObj(inclusion)) {
    inc.fail('MALFORMED', '/inclusion', 'inclusion must be an object {leaf_index, tree_size, root_hash, proof}');
    proofCheck.cannotRun();
    return;
  }
  const f = new Fields(inclusion, '/inclusion', inc);
  const leafIndex = f.int('leaf_index', 0);
  const treeSize = f.int('tree_size', 1);
  const rootHash = f.hex32('root_hash');
  const cpId = f.strOrNull('checkpoint_id', { optional: true });
  const proof = f.hexList('proof', { max: MAX_PROOF });
  if (leafIndex === undefined || treeSize === undefined || rootHash === undefined || proof === undefined || !cpId.ok) {
    proofCheck.cannotRun();
    return;
  }
  let root = hexToBytes(rootHash);
  if (checkpoint !== undefined) {
    const body = r.check('checkpoint: note parses and agrees with tree_size, root_hash and stream');
    const sig = r.check('checkpoint: note signed by a trusted log key');
    const cp = await checkCheckpoint(checkpoint, '/checkpoint', trust, { sig, body, streamId: rec.stream_id });
    if (!cp) {
      proofCheck.cannotRun();
      return;
    }
    const same = r.check('inclusion: against this checkpoint');
    if (treeSize !== cp.size) same.fail('RANGE_PROOF_INVALID', '/inclusion/tree_size', `inclusion is in a tree of ${treeSize}, the checkpoint's has ${cp.size}`);
    if (rootHash !== cp.rootHex) same.fail('RANGE_PROOF_INVALID', '/inclusion/root_hash', "inclusion root_hash is not the checkpoint's root");
    if (cpId.value !== null && cp.checkpointId !== null && cpId.value !== cp.checkpointId) {
      same.fail('RANGE_PROOF_INVALID', '/inclusion/checkpoint_id', `inclusion names checkpoint ${show(cpId.value)}, not ${show(cp.checkpointId)}`);
    }
    if (cp.size < rec.seq_no) {
      r.check('checkpoint: covers the event').fail('CHECKPOINT_STALE', '/checkpoint/tree_size', `the checkpoint's tree (${cp.size}) does not contain seq_no ${rec.seq_no}`);
    }
    root = cp.root;
  } else {
    r.note('inclusion: root_hash not backed by a signed checkpoint (none given)', 'no checkpoint was given to vouch for root_hash');
  }
  if (leafIndex !== rec.seq_no - 1) {
    proofCheck.fail('RANGE_PROOF_INVALID', '/inclusion/leaf_index', `leaf_index must be seq_no − 1 = ${rec.seq_no - 1}, found ${leafIndex}`);
    return;
  }
  if (!verifyInclusion(hexToBytes(rec.event_hash), leafIndex, treeSize, proof.map(hexToBytes), root)) {
    proofCheck.fail('RANGE_PROOF_INVALID', '/inclusion/proof', `the inclusion proof does not lead from event_hash to the root of the tree of ${treeSize}`);
  }
}
