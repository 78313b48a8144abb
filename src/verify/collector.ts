// Collector signatures in audit packs (docs/protocol.md §12, docs/cicd.md "Collector batches"): every event of type
// cicd.collector_attestation/v1 whose payload is present carries the item as its collector signed it, the signature,
// the key id and the public key. The pack's own event checks bind that payload (its commitment); these checks
// re-verify the collector's signature over it, that the key id is the one derived from the public key, and — when
// the auditor's trust policy pins collector keys — that the key is pinned. Without pins the keys are reported as
// unpinned (a skipped check naming them), never as trusted. Pure and browser-safe.
import { base64ToBytes, hexToBytes } from '../protocol/bytes.js';
import { COLLECTOR_EVENT_TYPE, collectorKeyId, collectorSignedBytes } from '../protocol/collector.js';
import type { TrustPolicy } from '../protocol/policy.js';
import { SIGNATURE_BATCH, verifySignaturesInProcess, type SignatureJob, type SignatureVerifier } from './event.js';
import { ptr, type CheckScope, type ReportBuilder } from './report.js';
import { isObj, own, show } from './shape.js';

export const COLLECTOR_CHECKS = {
  signatures: 'collectors: item signatures verify with their collector keys',
  pinned: 'collectors: signing keys pinned by the trust policy',
} as const;

/** How many unpinned key ids a skipped check's reason lists. */
const MAX_NAMED_KEYS = 10;

interface Batch {
  paths: string[];
  keyIds: string[];
  results: Promise<boolean[]>;
}

/**
 * Fed every event of a run (`add`, synchronous, in order); `finish` verifies what is queued and opens the checks —
 * only when the run held at least one collector event, so reports of other packs do not change.
 */
export class CollectorChecker {
  private queue: Array<{ path: string; keyId: string; job: SignatureJob }> = [];
  private batches: Batch[] = [];
  /** problems found while reading, reported when the checks are opened */
  private early: Array<[check: 'signatures' | 'pinned', code: 'MALFORMED' | 'COLLECTOR_KEY_MISMATCH' | 'COLLECTOR_KEY_UNPINNED', path: string, message: string]> = [];
  private seen = 0;
  private readonly pins: Map<string, string> | null;
  /** key id → events signed with it, for keys no pin covers */
  private readonly unpinned = new Map<string, number>();

  constructor(
    policy: TrustPolicy | null,
    private readonly verifier: SignatureVerifier = verifySignaturesInProcess,
  ) {
    const pins = policy?.collectors ?? [];
    this.pins = pins.length > 0 ? new Map(pins.map((c) => [c.keyId, c.publicKeyHex])) : null;
  }

  add(raw: unknown, path: string): void {
    if (!isObj(raw) || own(raw, 'event_type') !== COLLECTOR_EVENT_TYPE) return;
    const payload = own(raw, 'payload');
    // An erased payload is bound by its commitment only: nothing here to check (the events checks say so).
    if (payload === null || payload === undefined) return;
    this.seen++;
    const pp = ptr(path, 'payload');
    const bad = (where: string, message: string): void => {
      this.early.push(['signatures', 'MALFORMED', where, message]);
    };
    if (!isObj(payload)) return bad(pp, 'a collector attestation payload must be an object {attestationId, collector, item}');
    const collector = own(payload, 'collector');
    const item = own(payload, 'item');
    if (!isObj(collector)) return bad(ptr(pp, 'collector'), 'missing object "collector" {keyId, publicKey, signature}');
    if (!isObj(item)) return bad(ptr(pp, 'item'), 'missing object "item" (the signed item)');
    const keyId = own(collector, 'keyId');
    const pubHex = own(collector, 'publicKey');
    const sigB64 = own(collector, 'signature');
    if (typeof keyId !== 'string') return bad(ptr(pp, 'collector', 'keyId'), `keyId must be a string, got ${show(keyId)}`);
    if (typeof pubHex !== 'string' || !/^[0-9a-f]{64}$/.test(pubHex)) return bad(ptr(pp, 'collector', 'publicKey'), 'publicKey must be 64 lowercase hex digits');
    let signature: Uint8Array;
    try {
      signature = base64ToBytes(sigB64 as string);
      if (signature.length !== 64) throw new Error('length');
    } catch {
      this.early.push(['signatures', 'MALFORMED', ptr(pp, 'collector', 'signature'), 'signature must be standard base64 of 64 bytes']);
      return;
    }
    const publicKey = hexToBytes(pubHex);
    const derived = collectorKeyId(publicKey);
    if (derived !== keyId) {
      this.early.push(['signatures', 'COLLECTOR_KEY_MISMATCH', ptr(pp, 'collector', 'keyId'), `keyId ${show(keyId)} is not the id of its public key (${derived})`]);
      return;
    }
    if (own(item, 'collectorKeyId') !== keyId) {
      this.early.push(['signatures', 'COLLECTOR_KEY_MISMATCH', ptr(pp, 'item', 'collectorKeyId'), `the signed item names collector ${show(own(item, 'collectorKeyId'))}, the event ${keyId}`]);
      return;
    }
    if (this.pins) {
      const pinned = this.pins.get(keyId);
      if (pinned !== pubHex) {
        this.early.push(['pinned', 'COLLECTOR_KEY_UNPINNED', ptr(pp, 'collector', 'keyId'), `collector key ${keyId} is not pinned by the trust policy`]);
      }
    } else {
      this.unpinned.set(keyId, (this.unpinned.get(keyId) ?? 0) + 1);
    }
    let message: Uint8Array;
    try {
      message = collectorSignedBytes(item);
    } catch (e) {
      bad(ptr(pp, 'item'), `the item cannot be canonicalized (RFC 8785): ${(e as Error).message}`);
      return;
    }
    this.queue.push({ path: ptr(pp, 'collector', 'signature'), keyId, job: { publicKey, signature, message } });
    if (this.queue.length >= SIGNATURE_BATCH) this.dispatch();
  }

  private dispatch(): void {
    const q = this.queue;
    if (q.length === 0) return;
    this.queue = [];
    let results: Promise<boolean[]>;
    try {
      results = this.verifier.verify(q.map((x) => x.job)).catch(() => q.map(() => false));
    } catch {
      results = Promise.resolve(q.map(() => false));
    }
    // Only paths and ids are kept: the messages go to the verifier and are released with its batch.
    this.batches.push({ paths: q.map((x) => x.path), keyIds: q.map((x) => x.keyId), results });
  }

  /** Verifies what is queued and opens the checks (none when the run held no collector event). */
  async finish(r: ReportBuilder): Promise<void> {
    this.dispatch();
    if (this.seen === 0) return;
    const sig = r.check(COLLECTOR_CHECKS.signatures);
    const pin = r.check(COLLECTOR_CHECKS.pinned);
    const scope: Record<'signatures' | 'pinned', CheckScope> = { signatures: sig, pinned: pin };
    for (const [check, code, path, message] of this.early) scope[check].fail(code, path, message);
    for (const b of this.batches) {
      const ok = await b.results;
      b.paths.forEach((path, i) => {
        if (ok[i] !== true) sig.fail('COLLECTOR_SIGNATURE_INVALID', path, `the collector signature does not verify with key ${b.keyIds[i]} over the signed item (docs/protocol.md §12)`);
      });
    }
    this.batches = [];
    if (!this.pins) {
      const ids = [...this.unpinned.keys()];
      const named = ids.slice(0, MAX_NAMED_KEYS).join(', ') + (ids.length > MAX_NAMED_KEYS ? ` and ${ids.length - MAX_NAMED_KEYS} more` : '');
      pin.skipped(
        ids.length === 0
          ? 'no collector signature could be read'
          : `unpinned: ${named} — the signatures are checked against the keys the pack names; pin the keys you trust with "collector <key_id> <public key>" lines in the trust policy`,
      );
    }
  }
}
