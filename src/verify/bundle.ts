// Kind `bundle`: a `proofstream-bundle/v1` audit pack (docs/bundle.md), checked completely offline:
// manifest and section digests, every event (commitment, entry hash, chain, receipt signature), the range's
// inclusion in a trusted checkpoint through the range proof, and that checkpoint's consistency with the
// earlier ones the pack cites. One pass over the events; everything else is O(log n).
import { ArraySectionDigest, BUNDLE_FORMAT, BUNDLE_SECTIONS, sectionDigest, type BundleSection } from '../protocol/bundle.js';
import { hexToBytes } from '../protocol/bytes.js';
import { verifyRange } from '../protocol/merkle.js';
import { checkCheckpoint, type CheckpointInfo } from './checkpoint.js';
import { checkPair, MAX_CONSISTENCY_PROOF } from './consistency.js';
import { ptr, type ReportBuilder } from './report.js';
import { asObj, Fields, isObj, own, show, typeName } from './shape.js';
import { checkEventRun, checkGenesisAnchor, EventRunChecker, noteUnchecked, readChain, runChecks, type RunOptions, type RunResult } from './stream.js';
import type { SignatureVerifier } from './event.js';
import { addKeys, BUNDLE_KEYS_TRUST_CHECK, emptyTrust, type TrustSet } from './trust.js';
import { checkAnchors, checkWitnesses } from './evidence.js';
import type { TrustPolicy } from '../protocol/policy.js';
import { hintsFor, type CallerHints } from './caller.js';
import { CollectorChecker } from './collector.js';

const TOP_MEMBERS = ['format', 'manifest', ...BUNDLE_SECTIONS] as const;
const MANIFEST_MEMBERS = ['pack_id', 'stream_id', 'from_seq_no', 'to_seq_no', 'created_at', 'sections'] as const;
const PACK_ID_RE = /^pack_[A-Za-z0-9_-]{1,200}$/;
const RFC3339_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/;
/** A range proof holds at most two hashes per tree level. */
const MAX_RANGE_PROOF = 128;

export interface BundleTrust {
  /** The auditor's trust policy: log origins, witnesses and quorum, TSA roots (null = none given). */
  policy: TrustPolicy | null;
  /** The caller's trusted keys (ignored when useBundleKeys). */
  trust: TrustSet;
  /** Trust the bundle's own `keys` section (the CLI without --trust); the report says so. */
  useBundleKeys: boolean;
  /** Receipt signature verification (default: in process). */
  signatureVerifier?: SignatureVerifier | undefined;
  /** The bundle is plain JSON data (VerifyOptions.plainJson). */
  plainJson?: boolean | undefined;
  /** Advice for the caller (VerifyOptions.caller). */
  hints?: CallerHints | undefined;
}

/**
 * Members of a bundle that no signature, proof or trusted key binds: changing one (and the unsigned section digest
 * above it) changes nothing a verifier can see. `*` stands for every element of the array. Reported, not covered:
 * covering them would need a signature over the manifest, and packs already issued must keep verifying as they are.
 */
const UNBOUND_MEMBERS: ReadonlyArray<readonly [section: string, members: readonly string[], each: boolean]> = [
  ['manifest', ['pack_id', 'created_at'], false],
  ['stream', ['use_case', 'policy_id', 'metadata', 'created_at'], false],
  ['events', ['stream_event_id'], true],
  ['checkpoint', ['checkpoint_id'], false],
  ['witnesses', ['checkpoint_id'], true],
  ['anchors', ['checkpoint_id', 'epoch_id', 'tsa_chain'], true],
];

/** The unbound members the bundle actually has, as JSON pointers (`*` for every element), plus `/keys`. */
function unboundMembers(b: Record<string, unknown>, useBundleKeys: boolean): string[] {
  const out: string[] = [];
  for (const [section, members, each] of UNBOUND_MEMBERS) {
    const v = b[section];
    if (each) {
      // The first element stands for all: the pack writer gives every element the same members.
      const first = v instanceof StreamedEvents ? {} : Array.isArray(v) && v.length > 0 && isObj(v[0]) ? v[0] : null;
      if (first) for (const m of members) if (v instanceof StreamedEvents || m in first) out.push(ptr('', section, '*', m));
    } else if (isObj(v)) {
      for (const m of members) if (m in v) out.push(ptr('', section, m));
    }
  }
  // The keys section is informational unless trusted; trusted, it is what everything rests on, and nothing vouches for it.
  if (Array.isArray(b.keys) && (b.keys.length > 0 || useBundleKeys)) out.push('/keys');
  return out;
}

/**
 * Stands in a bundle object for its `events` array when the events are not in memory (a pack file read line by
 * line: src/cli/verify-stream.ts). The verifier reads them once, in order, in chunks, through the same
 * EventRunChecker as an array, so the report is the one the array would give. Only a bundle whose events cannot
 * be checked one by one (no stream id to check them against) makes the verifier collect them into an array.
 */
export class StreamedEvents {
  constructor(
    private readonly source: () => AsyncIterable<readonly unknown[]>,
    /** How many events to expect (sizes buffers only). */
    readonly sizeHint = 1024,
    /** The events are plain JSON data, as JSON.parse builds them (lets them take the fast path; same report). */
    readonly plainJson = false,
  ) {}

  chunks(): AsyncIterable<readonly unknown[]> {
    return this.source();
  }

  async toArray(): Promise<unknown[]> {
    const all: unknown[] = [];
    for await (const chunk of this.source()) for (const e of chunk) all.push(e);
    return all;
  }
}

/** Feeds streamed events to a checker, in order. */
async function checkStreamedRun(events: StreamedEvents, trust: TrustSet, c: ReturnType<typeof runChecks>, o: RunOptions): Promise<RunResult> {
  const run = new EventRunChecker(trust, c, o, events.sizeHint);
  for await (const chunk of events.chunks()) {
    for (const raw of chunk) {
      const wait = run.add(raw);
      if (wait) await wait;
    }
  }
  return run.finish();
}

export async function verifyBundleKind(object: unknown, t: BundleTrust, r: ReportBuilder): Promise<void> {
  const fmt = r.check('format: proofstream-bundle/v1 with every section');
  const b = asObj(object, '', fmt, 'a bundle object');
  if (!b) return;
  const top = new Fields(b, '', fmt);
  top.literal('format', BUNDLE_FORMAT);
  top.onlyKeys(TOP_MEMBERS);
  for (const k of TOP_MEMBERS) if (!top.has(k)) fmt.fail('MALFORMED', ptr('', k), `missing member "${k}"`);
  // Missing members are reported once, above; the readers below only report wrong types.
  const sectionObj = (k: string) => (top.has(k) ? top.obj(k) : undefined);
  const sectionArr = (k: string) => (top.has(k) ? top.arr(k) : undefined);

  // ---- manifest ----
  const mc = r.check('manifest: well-formed');
  const digests = r.check('manifest: section digests match');
  const m = sectionObj('manifest');
  let streamId: string | undefined;
  let from: number | undefined;
  let to: number | undefined;
  let claimed: Partial<Record<BundleSection, string>> = {};
  if (m) {
    const mf = new Fields(m, '/manifest', mc);
    mf.onlyKeys(MANIFEST_MEMBERS);
    const packId = mf.str('pack_id');
    if (packId !== undefined && !PACK_ID_RE.test(packId)) mc.fail('MALFORMED', '/manifest/pack_id', `pack_id must look like "pack_…", got ${show(packId)}`);
    streamId = mf.str('stream_id', { nonEmpty: true });
    from = mf.int('from_seq_no', 1);
    to = mf.int('to_seq_no', 1);
    if (from !== undefined && to !== undefined && to < from) {
      mc.fail('MALFORMED', '/manifest/to_seq_no', `to_seq_no ${to} is before from_seq_no ${from}`);
      to = undefined;
    }
    const createdAt = mf.str('created_at');
    if (createdAt !== undefined && !(RFC3339_RE.test(createdAt) && Number.isFinite(Date.parse(createdAt)))) {
      mc.fail('MALFORMED', '/manifest/created_at', `created_at must be an RFC 3339 timestamp, got ${show(createdAt)}`);
    }
    const s = mf.obj('sections');
    if (s) {
      const sf = new Fields(s, '/manifest/sections', mc);
      sf.onlyKeys(BUNDLE_SECTIONS);
      for (const name of BUNDLE_SECTIONS) {
        const d = sf.hex32(name);
        if (d !== undefined) claimed[name] = d;
      }
    }
  }
  /** Compares a computed digest with the manifest's. */
  const compare = (name: BundleSection, actual: string | null) => {
    const want = claimed[name];
    if (actual === null || want === undefined) {
      digests.cannotRun();
      return;
    }
    if (actual !== want) {
      digests.fail('MANIFEST_MISMATCH', ptr('/manifest/sections', name), `section "${name}" digests to ${actual}, the manifest says ${want}`);
    }
  };
  const digestOf = (name: BundleSection, value: unknown = b[name]): string | null => {
    if (!top.has(name)) return null;
    try {
      return sectionDigest(name, value);
    } catch (e) {
      fmt.fail('MALFORMED', ptr('', name), `section cannot be canonicalized (RFC 8785): ${(e as Error).message}`);
      return null;
    }
  };
  for (const name of BUNDLE_SECTIONS) if (name !== 'events') compare(name, digestOf(name));

  // ---- stream ----
  const sc = r.check("stream: the manifest's stream, origin naming it");
  let origin: string | undefined;
  const st = sectionObj('stream');
  if (st) {
    const sf = new Fields(st, '/stream', sc);
    const sid = sf.str('stream_id', { nonEmpty: true });
    origin = sf.str('origin', { nonEmpty: true });
    sf.str('use_case');
    sf.strOrNull('policy_id');
    if (!sf.has('metadata')) sc.fail('MALFORMED', '/stream/metadata', 'missing member "metadata" (an object or null)');
    else if (st.metadata !== null && !isObj(st.metadata)) sc.fail('MALFORMED', '/stream/metadata', `metadata must be an object or null, got ${typeName(st.metadata)}`);
    sf.str('created_at');
    if (sid !== undefined && streamId !== undefined && sid !== streamId) {
      sc.fail('MANIFEST_MISMATCH', '/stream/stream_id', `stream_id ${show(sid)} is not the manifest's ${show(streamId)}`);
    }
    streamId ??= sid;
    if (origin !== undefined && streamId !== undefined && !origin.endsWith(`/${streamId}`)) {
      sc.fail('STREAM_MISMATCH', '/stream/origin', `origin ${show(origin)} does not end with "/${streamId}"`);
    }
  }

  // ---- keys and trust ----
  const kc = r.check('keys: well-formed, kids derived from the keys');
  const own_ = emptyTrust();
  if (top.has('keys')) addKeys(own_, b.keys, kc, (i, member) => (i < 0 ? '/keys' : ptr('/keys', i, ...(member ? [member] : []))), { checkKid: true, what: 'keys' });
  let trust = t.trust;
  if (t.useBundleKeys) {
    const h = t.hints ?? hintsFor(undefined);
    r.note(BUNDLE_KEYS_TRUST_CHECK, `no trusted keys were given (${h.trust} or ${h.policy}): the bundle is shown consistent and signed by the keys it names, not issued by a ledger you know`);
    trust = own_;
  }

  // ---- chain and events ----
  const cc = r.check('chain: start of the range');
  let anchor: ReturnType<typeof readChain> = null;
  if (top.has('chain')) anchor = readChain(b.chain, '/chain', cc);
  if (anchor && from === 1 && streamId !== undefined) checkGenesisAnchor(anchor, streamId, '/chain', cc);

  const checks = runChecks(r, 'events');
  const streamed = top.has('events') && b.events instanceof StreamedEvents ? b.events : null;
  const events = streamed ?? sectionArr('events');
  let leaves: Uint8Array[] | null = null;
  // Collector signatures ride the same pass over the events (their payloads are bound by the events checks).
  const collectors = new CollectorChecker(t.policy, t.signatureVerifier);
  if (events && streamId !== undefined) {
    const d = new ArraySectionDigest('events');
    let digestOk = true;
    const o: RunOptions = {
      path: '/events',
      mode: 'bundle',
      streamId,
      from,
      to,
      anchor,
      collectLeaves: true,
      signatureVerifier: t.signatureVerifier,
      plainJson: streamed ? streamed.plainJson : t.plainJson === true,
      onEach: (raw, i, canonical) => {
        collectors.add(raw, ptr('/events', i));
        if (!digestOk) return;
        try {
          if (canonical !== undefined) d.addText(canonical);
          else d.add(raw);
        } catch (e) {
          digestOk = false;
          fmt.fail('MALFORMED', ptr('/events', i), `event cannot be canonicalized (RFC 8785): ${(e as Error).message}`);
        }
      },
    };
    const res = streamed ? await checkStreamedRun(streamed, trust, checks, o) : await checkEventRun(events as unknown[], trust, checks, o);
    compare('events', digestOk ? d.digest() : null);
    noteUnchecked(r, 'events', res);
    await collectors.finish(r);
    leaves = res.leaves;
  } else {
    compare('events', digestOf('events', streamed ? await streamed.toArray() : b.events));
    for (const c of Object.values(checks)) c.cannotRun();
  }

  // ---- checkpoint ----
  const cpBody = r.check("checkpoint: note parses and agrees with tree_size, root_hash and the stream's origin");
  const cpSig = r.check('checkpoint: note signed by a trusted log key');
  const cpCover = r.check('checkpoint: covers the range');
  let cp: CheckpointInfo | null = null;
  if (top.has('checkpoint')) {
    cp = await checkCheckpoint(b.checkpoint, '/checkpoint', trust, { sig: cpSig, body: cpBody, streamId, origin, requireId: true });
  }
  if (!cp) {
    cpSig.cannotRun();
    cpCover.cannotRun();
  } else if (to !== undefined && cp.size < to) {
    cpCover.fail('CHECKPOINT_STALE', '/checkpoint/tree_size', `the checkpoint's tree (${cp.size}) does not reach to_seq_no ${to}`);
  }

  // ---- range proof ----
  const rc = r.check("range proof: the events' hashes lead to the checkpoint root");
  const rp = sectionObj('range_proof');
  if (rp) {
    const rf = new Fields(rp, '/range_proof', rc);
    const fromIndex = rf.int('from_index', 0);
    const toIndex = rf.int('to_index', 1);
    const treeSize = rf.int('tree_size', 1);
    const proof = rf.hexList('proof', { max: MAX_RANGE_PROOF });
    if (fromIndex !== undefined && from !== undefined && fromIndex !== from - 1) {
      rc.fail('MANIFEST_MISMATCH', '/range_proof/from_index', `from_index must be from_seq_no − 1 = ${from - 1}, found ${fromIndex}`);
    }
    if (toIndex !== undefined && to !== undefined && toIndex !== to) {
      rc.fail('MANIFEST_MISMATCH', '/range_proof/to_index', `to_index must be to_seq_no = ${to}, found ${toIndex}`);
    }
    if (treeSize !== undefined && cp && treeSize !== cp.size) {
      rc.fail('RANGE_PROOF_INVALID', '/range_proof/tree_size', `tree_size ${treeSize} is not the checkpoint's ${cp.size}`);
    }
    if (rc.failures === 0 && cp && leaves && proof && from !== undefined && to !== undefined) {
      // verifyRange also fails when the events are not exactly the to − from + 1 leaves of the range.
      if (!verifyRange(from - 1, to, cp.size, leaves, proof.map(hexToBytes), cp.root)) {
        rc.fail(
          'RANGE_PROOF_INVALID',
          '/range_proof/proof',
          leaves.length === to - from + 1
            ? `the events' hashes and the proof do not give the root of the checkpoint's tree of ${cp.size}`
            : `${leaves.length} event hashes cannot be leaves ${from}..${to} of the checkpoint's tree`,
        );
      }
    } else if (rc.failures === 0) {
      rc.cannotRun();
    }
  } else {
    rc.cannotRun();
  }

  // ---- consistency ----
  const conBody = r.check('consistency: earlier checkpoints parse and are of this stream');
  const conSig = r.check('consistency: earlier checkpoints signed by a trusted log key');
  const conProof = r.check('consistency: proofs verify');
  const conFork = r.check('consistency: no fork');
  const cons = sectionArr('consistency');
  if (cons && cons.length === 0) {
    const why = 'the bundle cites no earlier checkpoint (its checkpoint is the first of the stream, or none was included)';
    for (const c of [conBody, conSig, conProof, conFork]) c.skipped(why);
  }
  // Every validly signed checkpoint the bundle cites, by size: two with one size and different roots is a fork,
  // whichever of them is the bundle's own checkpoint.
  const seenBySize = new Map<number, { rootHex: string; path: string }>();
  if (cp && cp.trusted) seenBySize.set(cp.size, { rootHex: cp.rootHex, path: '/checkpoint' });
  if (cons) {
    for (let i = 0; i < cons.length; i++) {
      const path = ptr('/consistency', i);
      const e = asObj(cons[i], path, conBody, 'an object {from, proof}');
      if (!e) continue;
      const ef = new Fields(e, path, conBody);
      ef.onlyKeys(['from', 'proof']);
      const proof = ef.hexList('proof', { max: MAX_CONSISTENCY_PROOF });
      const older = await checkCheckpoint(own(e, 'from'), ptr(path, 'from'), trust, { sig: conSig, body: conBody, streamId, origin, requireId: true });
      if (older && older.trusted) {
        const seen = seenBySize.get(older.size);
        if (seen && seen.rootHex !== older.rootHex && seen.path !== '/checkpoint') {
          conFork.fail(
            'FORK_DETECTED',
            path,
            `${seen.path} and ${path}/from are validly signed checkpoints at tree size ${older.size} with different roots: the history is ambiguous`,
          );
        } else if (!seen) seenBySize.set(older.size, { rootHex: older.rootHex, path: `${path}/from` });
      }
      if (!older || !cp || proof === undefined) {
        conProof.cannotRun();
        continue;
      }
      checkPair(older, cp, proof, { proofPath: ptr(path, 'proof'), pairPath: path, proofCheck: conProof, forkCheck: conFork });
    }
  }

  // ---- witnesses and anchors ----
  const note = cp && cp.consistent && isObj(b.checkpoint) && typeof b.checkpoint.note === 'string' ? b.checkpoint.note : null;
  const target = note !== null && cp ? { note, checkpointId: cp.checkpointId } : null;
  const ctx = { hints: t.hints ?? hintsFor(undefined), live: false };
  await checkWitnesses(sectionArr('witnesses'), target, t.policy, r, '/witnesses', ctx);
  const anchors = sectionArr('anchors');
  await checkAnchors(anchors, target, t.policy, r, undefined, undefined, ctx);

  // ---- what nothing binds ----
  const unbound = unboundMembers(b, t.useBundleKeys);
  if (unbound.length > 0) {
    r.unauthenticated(...unbound);
    r.note(
      'unauthenticated: labels bound by no signature, proof or trusted key',
      `${unbound.join(', ')} could be changed (with the unsigned manifest digests) without changing this report: read them as labels`,
    );
  }
}
