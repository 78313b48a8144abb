// Checkpoints: a C2SP signed note whose text is a tlog-checkpoint body, signed by the ledger's key under the
// verifier key encodeVerifierKey(origin, publicKey). The JSON fields (tree_size, root_hash, signer_vkey,
// stream_id) are claims the note must back.
import { bytesEqual, bytesToHex, hexToBytes } from '../protocol/bytes.js';
import { parseCheckpoint } from '../protocol/checkpoint.js';
import { parseNote, parseVerifierKey, verifyNote, type NoteSignature, type ParsedNote, type VerifierKey } from '../protocol/note.js';
import type { CheckScope, ReportBuilder } from './report.js';
import { asObj, Fields, show } from './shape.js';
import { noteVerifierKeys, type TrustSet } from './trust.js';

export interface CheckpointInfo {
  /** A trusted key signed the note and no trusted key's signature on it failed. */
  trusted: boolean;
  /** The note parsed and agrees with tree_size, root_hash, signer_vkey and the expected origin/stream. */
  consistent: boolean;
  origin: string | null;
  /** Tree size and root: from the note when it parsed (that is what is signed), else the JSON claims. */
  size: number;
  root: Uint8Array;
  rootHex: string;
  checkpointId: string | null;
  /** The JSON stream_id member, when present. */
  streamId: string | null;
}

export interface CheckpointOptions {
  /** Signature problems (CHECKPOINT_UNTRUSTED, CHECKPOINT_SIGNATURE_INVALID). */
  sig: CheckScope;
  /** Shape and body problems (MALFORMED, CHECKPOINT_MALFORMED, STREAM_MISMATCH). */
  body: CheckScope;
  /** The origin must end with "/<streamId>". */
  streamId?: string | undefined;
  /** The origin must be exactly this (a bundle's stream.origin). */
  origin?: string | undefined;
  /** The object must carry stream_id (a standalone checkpoint). */
  requireStreamId?: boolean;
  /** checkpoint_id is required (bundles list it). */
  requireId?: boolean;
}

/** Checks one checkpoint object; null when it is too malformed to use at all. Never throws. */
export async function checkCheckpoint(v: unknown, path: string, trust: TrustSet, o: CheckpointOptions): Promise<CheckpointInfo | null> {
  const obj = asObj(v, path, o.body, 'a checkpoint object');
  if (!obj) return null;
  const f = new Fields(obj, path, o.body);
  const before = o.body.failures;
  const note = f.str('note', { nonEmpty: true });
  const treeSize = f.int('tree_size', 0);
  const rootHash = f.hex32('root_hash');
  const signerVkey = f.str('signer_vkey');
  const checkpointId = f.str('checkpoint_id', { optional: !o.requireId, nonEmpty: true }) ?? null;
  const streamId = f.str('stream_id', { optional: !o.requireStreamId, nonEmpty: true }) ?? null;
  if (o.body.failures !== before || note === undefined || treeSize === undefined || rootHash === undefined) return null;

  const info: CheckpointInfo = {
    trusted: false,
    consistent: false,
    origin: null,
    size: treeSize,
    root: hexToBytes(rootHash),
    rootHex: rootHash,
    checkpointId,
    streamId,
  };
  const bodyBefore = o.body.failures;

  // 1. The note and its checkpoint body.
  let parsed: ParsedNote;
  try {
    parsed = parseNote(note);
  } catch (e) {
    o.body.fail('CHECKPOINT_MALFORMED', f.at('note'), `the note does not parse as a C2SP signed note: ${(e as Error).message}`);
    o.sig.cannotRun();
    return info;
  }
  let origin: string;
  try {
    const cp = parseCheckpoint(parsed.text);
    origin = cp.origin;
    info.origin = origin;
    if (cp.size !== treeSize) {
      o.body.fail('CHECKPOINT_MALFORMED', f.at('tree_size'), `tree_size is ${treeSize} but the signed note says ${cp.size}`);
    }
    const noteRoot = bytesToHex(cp.rootHash);
    if (noteRoot !== rootHash) {
      o.body.fail('CHECKPOINT_MALFORMED', f.at('root_hash'), `root_hash is ${rootHash} but the signed note says ${noteRoot}`);
    }
    info.size = cp.size;
    info.root = cp.rootHash;
    info.rootHex = noteRoot;
  } catch (e) {
    o.body.fail('CHECKPOINT_MALFORMED', f.at('note'), `the note text is not a tlog-checkpoint body: ${(e as Error).message}`);
    o.sig.cannotRun();
    return info;
  }

  // 2. Whose log it is.
  if (o.origin !== undefined && origin !== o.origin) {
    o.body.fail('STREAM_MISMATCH', f.at('note'), `checkpoint origin ${show(origin)} is not the stream's origin ${show(o.origin)}`);
  }
  if (o.streamId !== undefined && !origin.endsWith(`/${o.streamId}`)) {
    o.body.fail('STREAM_MISMATCH', f.at('note'), `checkpoint origin ${show(origin)} does not end with "/${o.streamId}"`);
  }
  if (streamId !== null && !origin.endsWith(`/${streamId}`)) {
    o.body.fail('STREAM_MISMATCH', f.at('stream_id'), `stream_id ${show(streamId)} is not the one the origin ${show(origin)} names`);
  }
  if (streamId !== null && o.streamId !== undefined && streamId !== o.streamId) {
    o.body.fail('STREAM_MISMATCH', f.at('stream_id'), `stream_id ${show(streamId)} is not ${show(o.streamId)}`);
  }

  // 3. The signature, under every trusted key's verifier key for this origin.
  let encoded: string[] = [];
  let vkeys: ReturnType<typeof noteVerifierKeys>['vkeys'] = [];
  try {
    ({ vkeys, encoded } = noteVerifierKeys(trust, origin));
  } catch (e) {
    o.body.fail('CHECKPOINT_MALFORMED', f.at('note'), `origin ${show(origin)} cannot name a verifier key: ${(e as Error).message}`);
    o.sig.cannotRun();
    return info;
  }
  const res = await verifyNote(note, vkeys);
  if (res.error) {
    o.body.fail('CHECKPOINT_MALFORMED', f.at('note'), `the note does not parse: ${res.error.message}`);
  } else if (res.failed.length > 0) {
    o.sig.fail('CHECKPOINT_SIGNATURE_INVALID', f.at('note'), `the note's signature by trusted key ${res.failed[0]!.name} does not verify`);
  } else if (res.verified.length === 0) {
    o.sig.fail(
      'CHECKPOINT_UNTRUSTED',
      f.at('note'),
      trust.publicKeys.length === 0
        ? 'no trusted keys were given, so no signature on the note can be trusted'
        : `no signature on the note is from a trusted log key for origin ${show(origin)}`,
    );
  } else {
    info.trusted = true;
    // signer_vkey is informational, but it must name a key that signed: one that verified, or (during a ledger-key
    // rotation, for a verifier pinned to the other key) one whose signature line is on the note but is not trusted.
    const good = new Set(res.verified.map((s) => encoded[vkeys.indexOf(s.key)]));
    if (signerVkey !== undefined && !good.has(signerVkey) && !namesUntrustedSigner(signerVkey, res.unknown)) {
      o.body.fail('CHECKPOINT_MALFORMED', f.at('signer_vkey'), 'signer_vkey is not the verifier key that signed the note');
    }
  }
  info.consistent = o.body.failures === bodyBefore;
  return info;
}

/** Whether `vkey` parses and a signature line on the note carries its name and key ID. */
function namesUntrustedSigner(vkey: string, unknown: readonly NoteSignature[]): boolean {
  let k: VerifierKey;
  try {
    k = parseVerifierKey(vkey);
  } catch {
    return false;
  }
  return unknown.some((s) => s.name === k.name && bytesEqual(s.keyId, k.keyId));
}

/** Kind `checkpoint`: a checkpoint as GET /v2/checkpoints/{id} returns it. */
export async function verifyCheckpointKind(object: unknown, trust: TrustSet, r: ReportBuilder): Promise<void> {
  const body = r.check('checkpoint: note parses and agrees with tree_size, root_hash and stream_id');
  const sig = r.check('checkpoint: note signed by a trusted log key');
  await checkCheckpoint(object, '', trust, { sig, body, requireStreamId: true });
}
