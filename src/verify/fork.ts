// Kind `fork_evidence`: two checkpoints someone says cannot both be true.
//
//   {kind: "fork_evidence", stream_id, conflicting_checkpoints: [cp, cp], consistency_proof?: [hex], …}
//
// When both are validly signed by a trusted key, for the same origin, and either have the same size with
// different roots, or the given consistency proof between them fails, the fork is proven: the report is
// ok: false with FORK_DETECTED. Otherwise the evidence proves nothing and the report says why.
import { checkCheckpoint, type CheckpointInfo } from './checkpoint.js';
import { checkPair, forkEvidence, MAX_CONSISTENCY_PROOF } from './consistency.js';
import { ptr, type ReportBuilder } from './report.js';
import { Fields, isObj } from './shape.js';
import type { TrustSet } from './trust.js';

export async function verifyForkKind(object: unknown, trust: TrustSet, r: ReportBuilder): Promise<void> {
  const top = r.check('fork evidence: well-formed');
  if (!isObj(object)) {
    top.fail('MALFORMED', '', 'fork evidence must be {kind: "fork_evidence", stream_id, conflicting_checkpoints: [cp, cp]}');
    return;
  }
  const f = new Fields(object, '', top);
  if (f.has('kind')) f.literal('kind', 'fork_evidence');
  const streamId = f.str('stream_id', { nonEmpty: true });
  const cps = f.arr('conflicting_checkpoints');
  const proof = f.has('consistency_proof') ? f.hexList('consistency_proof', { max: MAX_CONSISTENCY_PROOF }) : null;
  if (cps && cps.length !== 2) top.fail('MALFORMED', '/conflicting_checkpoints', `exactly two checkpoints are needed, got ${cps.length}`);
  if (streamId === undefined || !cps || cps.length !== 2 || proof === undefined) return;

  const infos: Array<CheckpointInfo | null> = [];
  for (let i = 0; i < 2; i++) {
    const body = r.check(`checkpoint ${i}: note parses and agrees with its fields and the stream`);
    const sig = r.check(`checkpoint ${i}: note signed by a trusted log key`);
    infos.push(await checkCheckpoint(cps[i], ptr('/conflicting_checkpoints', i), trust, { sig, body, streamId }));
  }
  const [a, b] = infos;
  const forkCheck = r.check('fork: no conflict between the two checkpoints');
  if (!a || !b || !a.trusted || !b.trusted) {
    // Unsigned or untrusted evidence proves nothing; the checkpoint problems say why.
    forkCheck.cannotRun();
    return;
  }
  const proofCheck = r.check('fork evidence: consistency proof');
  const [older, newer] = a.size <= b.size ? [a, b] : [b, a];
  if (older.size !== newer.size && proof === null) {
    r.note('fork: not demonstrated (sizes differ and no consistency_proof was given)', 'no consistency_proof to test the two checkpoints against each other');
    return;
  }
  checkPair(older, newer, proof ?? [], {
    proofPath: '/consistency_proof',
    pairPath: '/conflicting_checkpoints',
    proofCheck,
    forkCheck,
    forkOnFailedProof: true,
  });
  if (forkCheck.failures > 0) r.attachForkEvidence(forkEvidence(a, b, cps[0], cps[1], proof ?? []));
}
