// A bundle's `witnesses` and `anchors` sections (docs/bundle.md §5): witness cosignatures on the bundle's
// checkpoint counted against the trust policy's quorum, and RFC 3161 anchors tying the checkpoint to a
// time-stamped epoch root. Pure and browser-safe (the token check uses pkijs over WebCrypto).
import { anchorCheckpointHashHex, epochDigest, epochLeaf } from '../protocol/anchor.js';
import { base64ToBytes, hexToBytes } from '../protocol/bytes.js';
import { verifyInclusion } from '../protocol/merkle.js';
import { COSIGNATURE_TYPE, formatNote, parseNote, parseVerifierKey, verifyNote, type VerifierKey } from '../protocol/note.js';
import { quorumMet, type TrustPolicy } from '../protocol/policy.js';
import { derToPem } from './pem.js';
import { ptr, type ReportBuilder } from './report.js';
import { asObj, Fields, show } from './shape.js';
import { ANCHOR_RETRY_AFTER_S, hintsFor, WITNESS_RETRY_AFTER_S, type CallerHints } from './caller.js';

/** Name of the check a report carries when witness keys came from the bundle itself (no policy given). */
export const BUNDLE_WITNESS_TRUST_CHECK = 'trust: witness keys taken from the bundle itself (no policy)';

const WITNESS_MEMBERS = ['checkpoint_id', 'name', 'vkey', 'timestamp', 'signature_line'] as const;
const ANCHOR_MEMBERS = [
  'checkpoint_id',
  'kind',
  'epoch_id',
  'epoch_root',
  'epoch_size',
  'leaf_index',
  'checkpoint_hash',
  'path',
  'token',
  'tsa_chain',
  'gen_time',
] as const;
/** An epoch tree of up to 2^64 leaves needs at most 64 path hashes. */
const MAX_EPOCH_PATH = 64;
const MAX_TOKEN_BYTES = 64 * 1024;

export interface EvidenceContext {
  /** how the caller gives a policy, for advice in reasons and messages */
  hints?: CallerHints;
  /**
   * The object can still gain evidence (a v1 proof, fetched again later): missing cosignatures or a missing anchor
   * that the policy requires are then pending (ReportStatus "pending"), not invalid. A bundle is final: false.
   */
  live?: boolean;
}

export interface EvidenceTarget {
  /** the bundle checkpoint's note exactly as issued (no cosignature lines) */
  note: string;
  checkpointId: string | null;
}

/** Checks the `witnesses` section: every cosignature verifies under a trusted witness key, and the quorum holds. */
export async function checkWitnesses(
  section: unknown[] | undefined,
  target: EvidenceTarget | null,
  policy: TrustPolicy | null,
  r: ReportBuilder,
  base = '/witnesses',
  ctx: EvidenceContext = {},
): Promise<void> {
  const hints = ctx.hints ?? hintsFor(undefined);
  const shape = r.check('witnesses: well-formed, one entry per witness, for the bundle checkpoint');
  const sig = r.check('witnesses: cosignatures verify under trusted witness keys');
  const quorum = r.check(policy ? `witnesses: quorum "${policy.quorum ?? 'none'}" of the policy met` : 'witnesses: quorum (no policy: not required)');
  if (!policy) {
    quorum.skipped(`no trust policy was given (${hints.policy}), so no quorum is required`);
    r.note(BUNDLE_WITNESS_TRUST_CHECK, `no trust policy was given (${hints.policy}): a cosignature is checked against the key its own entry carries, which does not show who the witness is`);
  } else if (!policy.quorum) quorum.skipped('the trust policy sets no quorum');
  if (!section || !target) {
    shape.cannotRun();
    sig.cannotRun();
    if (policy?.quorum) quorum.fail('WITNESS_QUORUM_NOT_MET', base, 'no usable witness section or checkpoint: the quorum cannot be met');
    return;
  }
  if (section.length === 0) {
    shape.skipped('no cosignatures are present');
    sig.skipped('no cosignatures are present');
  }
  let body: string;
  try {
    body = parseNote(target.note).text;
  } catch {
    sig.cannotRun();
    quorum.cannotRun();
    return;
  }
  const verified = new Set<string>();
  const seen = new Set<string>();
  for (let i = 0; i < section.length; i++) {
    const path = ptr(base, i);
    const e = asObj(section[i], path, shape, 'an object {checkpoint_id, name, vkey, timestamp, signature_line}');
    if (!e) continue;
    const f = new Fields(e, path, shape);
    f.onlyKeys(WITNESS_MEMBERS);
    const cpId = f.str('checkpoint_id');
    const name = f.str('name', { nonEmpty: true });
    const vkey = f.str('vkey', { nonEmpty: true });
    const ts = f.int('timestamp', 0);
    const line = f.str('signature_line', { nonEmpty: true });
    if (cpId !== undefined && target.checkpointId !== null && cpId !== target.checkpointId) {
      shape.fail('MANIFEST_MISMATCH', ptr(path, 'checkpoint_id'), `cosignature is for ${show(cpId)}, not the bundle checkpoint ${show(target.checkpointId)}`);
      continue;
    }
    if (name === undefined || vkey === undefined || line === undefined || ts === undefined) continue;
    if (seen.has(name)) {
      shape.fail('MALFORMED', ptr(path, 'name'), `witness ${show(name)} is listed twice`);
      continue;
    }
    seen.add(name);
    let key: VerifierKey;
    try {
      key = parseVerifierKey(vkey);
    } catch (err) {
      shape.fail('MALFORMED', ptr(path, 'vkey'), `not a verifier key: ${(err as Error).message}`);
      continue;
    }
    if (key.type !== COSIGNATURE_TYPE || key.name !== name) {
      shape.fail('MALFORMED', ptr(path, 'vkey'), 'vkey must be a cosignature/v1 key (type 0x04) named like the witness');
      continue;
    }
    if (policy) {
      const trusted = policy.witnesses.find((w) => w.name === name);
      if (!trusted || trusted.vkey !== vkey) {
        sig.fail('WITNESS_UNKNOWN', ptr(path, 'vkey'), `witness ${show(name)} with this key is not in the trust policy`);
        continue;
      }
    }
    // The line must be exactly one signature line, re-attached to the checkpoint body it claims to sign.
    let note: string;
    try {
      if (!line.startsWith('— ') || line.includes('\n')) throw new Error('not one signature line');
      note = formatNote(body, [parseNote(`${body}\n${line}\n`).signatures[0]!]);
    } catch (err) {
      sig.fail('MALFORMED', ptr(path, 'signature_line'), `not a signature line: ${(err as Error).message}`);
      continue;
    }
    const v = await verifyNote(note, [key]);
    if (!v.ok || v.verified.length !== 1) {
      sig.fail('WITNESS_SIGNATURE_INVALID', ptr(path, 'signature_line'), `the cosignature of ${show(name)} does not verify over the checkpoint`);
      continue;
    }
    if (v.verified[0]!.timestamp !== BigInt(ts)) {
      sig.fail('WITNESS_SIGNATURE_INVALID', ptr(path, 'timestamp'), `timestamp ${ts} is not the signed time ${v.verified[0]!.timestamp}`);
      continue;
    }
    verified.add(name);
  }
  if (section.length > 0 && verified.size === 0) sig.skipped('no cosignature got as far as its signature check');
  if (policy && !quorumMet(policy, verified)) {
    const message = `${verified.size} trusted witness cosignature(s) verified (${[...verified].join(', ') || 'none'}); the policy's quorum "${policy.quorum}" is not met`;
    // Only missing cosignatures can still arrive: one that is present and wrong stays wrong.
    if (ctx.live && shape.ok && sig.ok) {
      quorum.waitFor('WITNESS_QUORUM_NOT_MET', base, message, {
        evidence: 'witness_cosignatures',
        missing: `cosignatures meeting the policy's quorum "${policy.quorum}" (${verified.size} verified so far)`,
        retry: 'fetch the object again once the witnesses have cosigned the checkpoint: the ledger submits every checkpoint to them, retrying a witness that is down at most every PROOFSTREAM_RETRY_MAX_MS (30 s by default)',
        retry_after_s: WITNESS_RETRY_AFTER_S,
      });
    } else quorum.fail('WITNESS_QUORUM_NOT_MET', base, message);
  }
}

/** The token check, injected so this module stays free of pkijs when anchors are absent (see rfc3161.ts). */
export type TokenVerifier = (
  token: Uint8Array,
  digest: Uint8Array,
  opts: { trustedRoots: string[]; chain?: string[] },
) => Promise<{ ok: boolean; genTime?: Date; problems: { code: string; message: string }[] }>;

/** The RFC 3161 check, loaded on first use: pkijs is only needed for objects that carry anchors. */
export const verifyTokenLazily: TokenVerifier = async (...a) => (await import('./rfc3161.js')).verifyTimestampToken(...a);

const TOKEN_CODES = new Set(['ANCHOR_MALFORMED', 'ANCHOR_IMPRINT_MISMATCH', 'ANCHOR_SIGNATURE_INVALID', 'ANCHOR_UNTRUSTED_TSA', 'ANCHOR_TSA_CERT_INVALID']);

/** Checks the `anchors` section: checkpoint hash, epoch path, and the time-stamp token against trusted TSA roots. */
export async function checkAnchors(
  section: unknown[] | undefined,
  target: EvidenceTarget | null,
  policy: TrustPolicy | null,
  r: ReportBuilder,
  pathOf: (i: number) => string = (i) => ptr('/anchors', i),
  verifyToken: TokenVerifier = verifyTokenLazily,
  ctx: EvidenceContext = {},
): Promise<void> {
  const hints = ctx.hints ?? hintsFor(undefined);
  const shape = r.check('anchors: well-formed, for the bundle checkpoint');
  const path_ = r.check("anchors: the checkpoint's hash leads to the epoch root");
  const tok = r.check('anchors: time-stamp token over the epoch root, from a trusted TSA');
  const required = policy !== null && policy.tsaRoots.length > 0;
  if (!section || !target) {
    shape.cannotRun();
    path_.cannotRun();
    tok.cannotRun();
    return;
  }
  // Without a TSA root there is nothing to check a token against: the anchor is then not evidence of anything.
  const noRoots = !policy
    ? `no trust policy naming TSA roots was given (${hints.policy}), so no time-stamp authority is trusted`
    : 'the trust policy names no TSA root (no tsa line), so no time-stamp authority is trusted';
  if (section.length === 0) {
    shape.skipped('no anchor is present');
    path_.skipped('no anchor is present');
    if (!required) tok.skipped(`no anchor is present, and none is required: ${noRoots}`);
    else {
      const at = pathOf(0).replace(/\/0$/, '');
      const message = 'the trust policy names TSA roots, but no anchor is present';
      if (ctx.live) {
        tok.waitFor('ANCHOR_MISSING', at, `${message} yet`, {
          evidence: 'anchor',
          missing: "an RFC 3161 anchor of the checkpoint (the ledger's next anchor epoch has not been time-stamped yet)",
          retry: 'fetch the object again after the next anchor epoch has been closed and time-stamped: the ledger closes one every PROOFSTREAM_ANCHOR_EPOCH_MS (60 s by default)',
          retry_after_s: ANCHOR_RETRY_AFTER_S,
        });
      } else tok.fail('ANCHOR_MISSING', at, message);
    }
    return;
  }
  const roots = policy ? policy.tsaRoots.map((t) => derToPem(t.der)) : [];
  let tokensChecked = 0;
  let pathsChecked = 0;
  const cpHash = anchorCheckpointHashHex(target.note);
  for (let i = 0; i < section.length; i++) {
    const path = pathOf(i);
    const e = asObj(section[i], path, shape, 'an anchor object');
    if (!e) continue;
    const f = new Fields(e, path, shape);
    f.onlyKeys(ANCHOR_MEMBERS);
    const cpId = f.str('checkpoint_id');
    f.literal('kind', 'rfc3161');
    f.str('epoch_id', { nonEmpty: true });
    const root = f.hex32('epoch_root');
    const size = f.int('epoch_size', 1);
    const index = f.int('leaf_index', 0);
    const h = f.hex32('checkpoint_hash');
    const proof = f.hexList('path', { max: MAX_EPOCH_PATH });
    const token = f.str('token', { nonEmpty: true });
    const chain = f.arr('tsa_chain');
    const genTime = f.str('gen_time', { nonEmpty: true });
    if (chain && !chain.every((c) => typeof c === 'string' && c.length < MAX_TOKEN_BYTES)) shape.fail('MALFORMED', ptr(path, 'tsa_chain'), 'tsa_chain must be PEM strings');
    if (cpId !== undefined && target.checkpointId !== null && cpId !== target.checkpointId) {
      shape.fail('MANIFEST_MISMATCH', ptr(path, 'checkpoint_id'), `anchor is for ${show(cpId)}, not the bundle checkpoint ${show(target.checkpointId)}`);
      continue;
    }
    if (root === undefined || size === undefined || index === undefined || h === undefined || proof === undefined || token === undefined || genTime === undefined) continue;
    pathsChecked++;
    if (h !== cpHash) {
      path_.fail('ANCHOR_CHECKPOINT_MISMATCH', ptr(path, 'checkpoint_hash'), `checkpoint_hash ${h} is not the hash of the bundle's checkpoint note (${cpHash})`);
      continue;
    }
    if (index >= size || !verifyInclusion(epochLeaf(hexToBytes(h)), index, size, proof.map(hexToBytes), hexToBytes(root))) {
      path_.fail('ANCHOR_PATH_INVALID', ptr(path, 'path'), `the path does not lead from leaf ${index} of ${size} to epoch_root`);
      continue;
    }
    let der: Uint8Array;
    try {
      der = base64ToBytes(token);
      if (der.length > MAX_TOKEN_BYTES) throw new Error('token too large');
    } catch (err) {
      tok.fail('ANCHOR_MALFORMED', ptr(path, 'token'), `token is not base64 DER: ${(err as Error).message}`);
      continue;
    }
    if (roots.length === 0) {
      tok.skipped(`${noRoots}: the token was not checked`);
      continue;
    }
    tokensChecked++;
    const res = await verifyToken(der, epochDigest(hexToBytes(root)), { trustedRoots: roots, chain: (chain ?? []) as string[] });
    if (!res.ok) {
      for (const p of res.problems) {
        tok.fail((TOKEN_CODES.has(p.code) ? p.code : 'ANCHOR_MALFORMED') as 'ANCHOR_MALFORMED', ptr(path, 'token'), p.message);
      }
      continue;
    }
    if (!res.genTime || Date.parse(genTime) !== res.genTime.getTime()) {
      tok.fail('ANCHOR_MALFORMED', ptr(path, 'gen_time'), `gen_time ${show(genTime)} is not the token's time ${res.genTime?.toISOString() ?? '(none)'}`);
    }
  }
  // An entry stopped before its token (by the checks above) leaves nothing verified: say so rather than pass.
  if (pathsChecked === 0) path_.skipped('no path was checked: no anchor got that far');
  if (tokensChecked === 0) tok.skipped('no time-stamp token was checked: no anchor got that far');
}
