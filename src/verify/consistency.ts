// RFC 9162 consistency between two checkpoints of one log: the later tree extends the earlier one.
import { hexToBytes } from '../protocol/bytes.js';
import { verifyConsistency } from '../protocol/merkle.js';
import { checkCheckpoint, type CheckpointInfo } from './checkpoint.js';
import { FORK_DETECTED_BY, type ForkEvidence, ptr, type CheckScope, type ReportBuilder } from './report.js';
import { Fields, isObj, own, show } from './shape.js';
import type { TrustSet } from './trust.js';

/** A consistency proof has at most ~2·log2(size) hashes; anything longer is malformed. */
export const MAX_CONSISTENCY_PROOF = 128;

export interface PairOptions {
  /** Where the proof sits (problems about it point here). */
  proofPath: string;
  /** Where the pair sits (fork problems point here). */
  pairPath: string;
  proofCheck: CheckScope;
  forkCheck: CheckScope;
  /**
   * Also report FORK_DETECTED when the proof fails between two trusted checkpoints (fork evidence, where
   * the submitter asserts a conflict). Elsewhere a failing proof is CONSISTENCY_INVALID only: it shows that
   * the proof is wrong, not that the log forked.
   */
  forkOnFailedProof?: boolean;
}

/**
 * Checks that `newer` extends `older` through `proof`. Two trusted checkpoints of the same size with
 * different roots are a proven fork (FORK_DETECTED) whatever the proof says.
 */
export function checkPair(older: CheckpointInfo, newer: CheckpointInfo, proof: string[], o: PairOptions): void {
  const bothTrusted = older.trusted && newer.trusted;
  if (older.origin !== null && newer.origin !== null && older.origin !== newer.origin) {
    o.proofCheck.fail('STREAM_MISMATCH', o.pairPath, `the checkpoints are of different logs (${show(older.origin)} and ${show(newer.origin)})`);
    return;
  }
  if (older.size === newer.size) {
    if (older.rootHex !== newer.rootHex) {
      if (bothTrusted) {
        o.forkCheck.fail(
          'FORK_DETECTED',
          o.pairPath,
          `two validly signed checkpoints of ${show(older.origin)} at tree size ${older.size} have different roots: the history is ambiguous`,
        );
      } else {
        o.proofCheck.fail('CONSISTENCY_INVALID', o.pairPath, `checkpoints of the same size ${older.size} have different roots`);
      }
    }
    if (proof.length !== 0) o.proofCheck.fail('CONSISTENCY_INVALID', o.proofPath, 'between checkpoints of equal size the proof must be empty');
    return;
  }
  if (older.size > newer.size) {
    o.proofCheck.fail('CONSISTENCY_INVALID', o.pairPath, `the earlier checkpoint (size ${older.size}) is larger than the later one (size ${newer.size})`);
    return;
  }
  const ok = verifyConsistency(older.size, newer.size, proof.map(hexToBytes), older.root, newer.root);
  if (!ok) {
    o.proofCheck.fail(
      'CONSISTENCY_INVALID',
      o.proofPath,
      `the proof does not show the tree of ${newer.size} extending the tree of ${older.size}`,
    );
    if (o.forkOnFailedProof && bothTrusted) {
      o.forkCheck.fail(
        'FORK_DETECTED',
        o.pairPath,
        `validly signed checkpoints of ${show(older.origin)} at sizes ${older.size} and ${newer.size} are not shown consistent: the history is ambiguous`,
      );
    }
  }
}

/**
 * Kind `consistency`: `{from: checkpoint, to: checkpoint, proof: [hex]}`; the proof may also come as the
 * GET /v2/checkpoints/{id}/consistency response, either merged into the object or under `consistency`.
 * The response's claims (sizes, roots, ids) must agree with the two checkpoints.
 */
export async function verifyConsistencyKind(object: unknown, trust: TrustSet, r: ReportBuilder): Promise<void> {
  const top = r.check('consistency: well-formed');
  const fromBody = r.check('from checkpoint: note parses and agrees with its fields');
  const fromSig = r.check('from checkpoint: note signed by a trusted log key');
  const toBody = r.check('to checkpoint: note parses and agrees with its fields');
  const toSig = r.check('to checkpoint: note signed by a trusted log key');
  const proofCheck = r.check('consistency: proof verifies');
  const forkCheck = r.check('consistency: no fork');
  if (!isObj(object)) {
    top.fail('MALFORMED', '', 'a consistency object must be {from, to, proof}');
    proofCheck.cannotRun();
    return;
  }
  const nested = own(object, 'consistency');
  const respPath = isObj(nested) ? '/consistency' : '';
  const resp = isObj(nested) ? nested : object;
  const rf = new Fields(resp, respPath, top);
  const proof = rf.hexList('proof', { max: MAX_CONSISTENCY_PROOF });
  const from = await checkCheckpoint(own(object, 'from'), '/from', trust, { sig: fromSig, body: fromBody });
  const to = await checkCheckpoint(own(object, 'to'), '/to', trust, { sig: toSig, body: toBody });
  if (!from || !to || proof === undefined) {
    proofCheck.cannotRun();
    return;
  }
  // The API response's own claims, when present, must describe these two checkpoints.
  const claims: Array<[string, unknown, unknown]> = [
    ['from_tree_size', own(resp, 'from_tree_size'), from.size],
    ['to_tree_size', own(resp, 'to_tree_size'), to.size],
    ['from_root', own(resp, 'from_root'), from.rootHex],
    ['to_root', own(resp, 'to_root'), to.rootHex],
    ['from_checkpoint_id', own(resp, 'from_checkpoint_id'), from.checkpointId],
    ['to_checkpoint_id', own(resp, 'to_checkpoint_id'), to.checkpointId],
  ];
  for (const [k, claimed, actual] of claims) {
    if (claimed === undefined || actual === null) continue;
    if (claimed !== actual) proofCheck.fail('CONSISTENCY_INVALID', ptr(respPath, k), `${k} is ${show(claimed)}, the checkpoint says ${show(actual)}`);
  }
  checkPair(from, to, proof, { proofPath: ptr(respPath, 'proof'), pairPath: '', proofCheck, forkCheck });
  if (forkCheck.failures > 0) r.attachForkEvidence(forkEvidence(from, to, own(object, 'from'), own(object, 'to'), proof));
}

/** The fork_evidence object for two conflicting checkpoints (raw objects as given, plus the failed proof). */
export function forkEvidence(a: CheckpointInfo, b: CheckpointInfo, rawA: unknown, rawB: unknown, proof: string[]): ForkEvidence {
  const origin = a.origin ?? b.origin ?? '';
  const streamId = a.streamId ?? b.streamId ?? origin.slice(origin.lastIndexOf('/') + 1);
  const e: ForkEvidence = { kind: 'fork_evidence', stream_id: streamId, conflicting_checkpoints: [rawA, rawB], detected_by: FORK_DETECTED_BY, result: 'fork' };
  if (a.size !== b.size) e.consistency_proof = proof;
  return e;
}
