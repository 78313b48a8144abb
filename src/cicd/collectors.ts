// Signed collector batches (docs/cicd.md "Collector batches"): a tenant registers the Ed25519 public keys of its
// client-side collectors; a batch of 1–100 attestations, each signed by one of them (docs/protocol.md §12), is checked
// whole before anything is queued and appended as ONE job to the repository's stream, so it commits or rolls back
// whole. Each item becomes an ordinary attestation record whose event (cicd.collector_attestation/v1) keeps the item
// as signed, the signature, the key id and the public key, so the offline verifier re-checks it in packs.
import { createHash, createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { base64ToBytes, bytesToHex } from '../protocol/bytes.js';
import {
  COLLECTOR_EVENT_TYPE,
  collectorKeyId,
  collectorSignedBytes,
  type CollectorEventPayload,
} from '../protocol/collector.js';
import type { AppendResult, EventInput, IdempotencyWrite, ReceiptView } from '../ledger/appender.js';
import { ApiError } from '../ledger/errors.js';
import { newId } from '../ledger/ids.js';
import type { Ledger } from '../ledger/ledger.js';
import type { Principal } from '../ledger/tenancy.js';
import type { CollectorKeyRow } from '../store/collectors.js';
import type { Store } from '../store/index.js';
import { Cicd, repositoryKeyOf, type RecordView } from './cicd.js';
import type { Attestation, AttestationType } from './records.js';

const verifyAsync = promisify(cryptoVerify);

/** Bounds of a batch (docs/cicd.md "Collector batches"); the body cap is PROOFSTREAM_COLLECTOR_MAX_BATCH_BYTES. */
export const COLLECTOR_LIMITS = {
  /** items per batch (the seed API's 1–100) */
  maxItems: 100,
  /** collector keys one listing returns */
  listMax: 1000,
} as const;

/** A collector key as the CLI and the admin routes show it. */
export interface CollectorKeyView {
  key_id: string;
  tenant_id: string;
  /** 32 raw bytes, lowercase hex */
  public_key: string;
  name: string | null;
  created_at: string;
  revoked_at: string | null;
}

export const collectorKeyView = (r: CollectorKeyRow): CollectorKeyView => ({
  key_id: r.keyId,
  tenant_id: r.tenantId,
  public_key: r.publicKey,
  name: r.name,
  created_at: r.createdAt,
  revoked_at: r.revokedAt,
});

/** Thrown for a public key the CLI or an admin route cannot read. */
export class CollectorKeyFormatError extends Error {}

/**
 * The 32 raw bytes of an Ed25519 public key given as PEM (SPKI), 64 hex digits, or base64 of the 32 raw bytes or of
 * the SPKI DER. Anything else, or a key of another algorithm, throws CollectorKeyFormatError.
 */
export function parseCollectorPublicKey(text: string): Uint8Array {
  const s = text.trim();
  const fromSpki = (key: KeyObject): Uint8Array => {
    if (key.asymmetricKeyType !== 'ed25519') throw new CollectorKeyFormatError(`the key is ${key.asymmetricKeyType ?? 'of an unknown type'}, not Ed25519`);
    const x = key.export({ format: 'jwk' }).x;
    if (typeof x !== 'string') throw new CollectorKeyFormatError('the key has no public part');
    return new Uint8Array(Buffer.from(x, 'base64url'));
  };
  try {
    if (s.startsWith('-----BEGIN')) {
      if (/PRIVATE KEY/.test(s)) throw new CollectorKeyFormatError('this is a private key: give the public key (the private key stays with the collector)');
      return fromSpki(createPublicKey({ key: s, format: 'pem' }));
    }
    if (/^[0-9a-fA-F]{64}$/.test(s)) return new Uint8Array(Buffer.from(s, 'hex'));
    const der = base64ToBytes(s);
    if (der.length === 32) return der;
    return fromSpki(createPublicKey({ key: Buffer.from(der), format: 'der', type: 'spki' }));
  } catch (e) {
    if (e instanceof CollectorKeyFormatError) throw e;
    throw new CollectorKeyFormatError('not an Ed25519 public key: give PEM (SPKI), 64 hex digits, or base64 of the 32-byte key or of its SPKI DER');
  }
}

const keyObjectOf = (raw: Uint8Array): KeyObject =>
  createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(raw).toString('base64url') }, format: 'jwk' });

/** Collector key lifecycle on a store: the CLI (`proofstream collectors`) and the admin routes share it. */
export class CollectorKeys {
  constructor(private readonly store: Store) {}

  /** Registers a key in the tenant; registering it again answers the existing row (`created` false). */
  add(tenantId: string, publicKey: Uint8Array, name: string | null): { key: CollectorKeyView; created: boolean } {
    const row: CollectorKeyRow = {
      tenantId,
      keyId: collectorKeyId(publicKey),
      publicKey: bytesToHex(publicKey),
      name,
      createdAt: new Date().toISOString(),
      revokedAt: null,
    };
    const created = this.store.collectors.insertKey(row);
    return { key: collectorKeyView(created ? row : this.store.collectors.key(tenantId, row.keyId)!), created };
  }

  list(tenantId: string | undefined): CollectorKeyView[] {
    return this.store.collectors.listKeys(tenantId, COLLECTOR_LIMITS.listMax).map(collectorKeyView);
  }

  /** Revokes the tenant's key (a revoked key keeps its first revocation time); undefined when there is none. */
  revoke(tenantId: string, keyId: string): CollectorKeyView | undefined {
    if (!this.store.collectors.key(tenantId, keyId)) return undefined;
    this.store.write(() => {
      if (this.store.collectors.key(tenantId, keyId)?.revokedAt === null) this.store.collectors.revokeKey(tenantId, keyId, new Date().toISOString());
    });
    return collectorKeyView(this.store.collectors.key(tenantId, keyId)!);
  }
}

/** One signed item after the route's validation: the object as sent (what was signed) and its fields. */
export interface CollectorEntry {
  /** the `attestation` member exactly as received: its JCS is what the signature covers */
  raw: Record<string, unknown>;
  item: CollectorItem;
  signature: string;
}

export interface CollectorItem {
  format: string;
  id: string;
  time: string;
  collectorKeyId: string;
  repositoryFullName: string;
  prNumber?: number | null | undefined;
  artifactSha256?: string | null | undefined;
  commitSha?: string | null | undefined;
  type: AttestationType;
  name: string;
  passed: boolean;
  evidence?: Record<string, unknown> | undefined;
}

/** One item of the answer: the attestation it made (new) or made before (replayed). */
export interface CollectorResult {
  index: number;
  id: string;
  collectorKeyId: string;
  replayed: boolean;
  attestation: RecordView<Attestation>;
}

interface Checked {
  index: number;
  entry: CollectorEntry;
  key: CollectorKeyRow;
  digest: string;
  signature: Uint8Array;
  message: Uint8Array;
}

const itemField = (i: number, member?: string) => `items[${i}]${member ? `.${member}` : ''}`;
const isKeyViolation = (e: unknown): boolean => /^SQLITE_CONSTRAINT_(PRIMARYKEY|UNIQUE)$/.test((e as { code?: string } | null)?.code ?? '');

export class Collectors {
  private readonly cicd: Cicd;

  constructor(
    private readonly ledger: Ledger,
    /** the largest JCS of one signed item (PROOFSTREAM_MAX_EVENT_BYTES: an item is one event) */
    private readonly maxItemBytes: number,
  ) {
    this.cicd = new Cicd(ledger);
  }

  /**
   * Checks every item (key registered and not revoked, signature, size, ids), then appends the new ones as one job.
   * A concurrent batch that accepted one of the same items first makes this job fail in its transaction; it is then
   * checked once more, and those items answer as replays (or 409).
   */
  async ingest(p: Principal, entries: readonly CollectorEntry[], idem: IdempotencyWrite | undefined): Promise<AppendResult> {
    try {
      return await this.ingestOnce(p, entries, idem);
    } catch (e) {
      if (!isKeyViolation(e)) throw e;
      return this.ingestOnce(p, entries, idem);
    }
  }

  private async ingestOnce(p: Principal, entries: readonly CollectorEntry[], idem: IdempotencyWrite | undefined): Promise<AppendResult> {
    const { store } = this.ledger;
    if (entries.length < 1 || entries.length > COLLECTOR_LIMITS.maxItems) {
      throw new ApiError('COLLECTOR_BATCH_INVALID', `a batch holds 1–${COLLECTOR_LIMITS.maxItems} items, this one ${entries.length}`, {
        index: entries.length > COLLECTOR_LIMITS.maxItems ? COLLECTOR_LIMITS.maxItems : null,
        field: 'items',
        limit: COLLECTOR_LIMITS.maxItems,
      });
    }
    // 1. Each item on its own: its key, its size, its id unique in the batch, its signed bytes.
    const checked: Checked[] = [];
    const seen = new Map<string, number>();
    entries.forEach((entry, index) => {
      const { item } = entry;
      const key = store.collectors.key(p.tenantId, item.collectorKeyId);
      if (!key) {
        throw new ApiError('COLLECTOR_UNKNOWN', `${itemField(index, 'attestation.collectorKeyId')}: no collector key ${item.collectorKeyId} is registered in this tenant`, {
          index,
          field: itemField(index, 'attestation.collectorKeyId'),
        });
      }
      if (key.revokedAt !== null) {
        throw new ApiError('COLLECTOR_REVOKED', `${itemField(index, 'attestation.collectorKeyId')}: collector key ${key.keyId} was revoked at ${key.revokedAt}`, {
          index,
          field: itemField(index, 'attestation.collectorKeyId'),
          revoked_at: key.revokedAt,
        });
      }
      const dup = seen.get(`${key.keyId} ${item.id}`);
      if (dup !== undefined) {
        throw new ApiError('COLLECTOR_ITEM_INVALID', `${itemField(index, 'attestation.id')}: repeats the id of items[${dup}] (one collector's item ids are unique)`, {
          index,
          field: itemField(index, 'attestation.id'),
        });
      }
      seen.set(`${key.keyId} ${item.id}`, index);
      let message: Uint8Array;
      try {
        message = collectorSignedBytes(entry.raw);
      } catch (e) {
        throw new ApiError('COLLECTOR_ITEM_INVALID', `${itemField(index, 'attestation')}: cannot be canonicalized (RFC 8785): ${(e as Error).message}`, {
          index,
          field: itemField(index, 'attestation'),
        });
      }
      if (message.length > this.maxItemBytes) {
        throw new ApiError('COLLECTOR_ITEM_INVALID', `${itemField(index, 'attestation')}: ${message.length} signed bytes, over the ${this.maxItemBytes} one item may have`, {
          index,
          field: itemField(index, 'attestation'),
          limit: this.maxItemBytes,
        });
      }
      let signature: Uint8Array;
      try {
        signature = base64ToBytes(entry.signature);
      } catch {
        signature = new Uint8Array(0);
      }
      if (signature.length !== 64) {
        throw new ApiError('COLLECTOR_SIGNATURE_INVALID', `${itemField(index, 'signature')}: must be standard base64 of a 64-byte Ed25519 signature`, {
          index,
          field: itemField(index, 'signature'),
        });
      }
      checked.push({ index, entry, key, digest: createHash('sha256').update(message).digest('hex'), signature, message });
    });

    // 2. Signatures, off the event loop (libuv's pool), all before anything is decided.
    const valid = await Promise.all(
      checked.map((c) => verifyAsync(null, c.message, keyObjectOf(Buffer.from(c.key.publicKey, 'hex')), c.signature).catch(() => false)),
    );
    const bad = valid.indexOf(false);
    if (bad >= 0) {
      const c = checked[bad]!;
      throw new ApiError('COLLECTOR_SIGNATURE_INVALID', `${itemField(c.index, 'signature')}: does not verify with collector key ${c.key.keyId} over the item's signed bytes (docs/protocol.md §12)`, {
        index: c.index,
        field: itemField(c.index, 'signature'),
      });
    }

    // 3. Replays: the same collector, id and bytes answer the original record; other bytes are 409.
    const replayed = new Map<number, RecordView<Attestation>>();
    const byKey = new Map<string, Checked[]>();
    for (const c of checked) byKey.set(c.key.keyId, [...(byKey.get(c.key.keyId) ?? []), c]);
    for (const [keyId, group] of byKey) {
      const prior = new Map(store.collectors.items(p.tenantId, keyId, group.map((c) => c.entry.item.id)).map((r) => [r.itemId, r]));
      for (const c of group) {
        const was = prior.get(c.entry.item.id);
        if (!was) continue;
        const conflict = (why: string) =>
          new ApiError('COLLECTOR_ITEM_CONFLICT', `${itemField(c.index, 'attestation.id')}: collector ${keyId} sent item ${JSON.stringify(c.entry.item.id)} before ${why}`, {
            index: c.index,
            field: itemField(c.index, 'attestation.id'),
            attestationId: was.recordId,
          });
        if (was.digest !== c.digest) throw conflict('with other bytes');
        try {
          replayed.set(c.index, this.cicd.get<Attestation>(p, 'attestation', was.recordId, 'attestation'));
        } catch {
          throw conflict('on a repository this key cannot see');
        }
      }
    }
    const fresh = checked.filter((c) => !replayed.has(c.index));

    // 4. The new items: one repository, one stream, one job.
    if (fresh.length === 0) {
      const body = { accepted: 0, replayed: replayed.size, items: checked.map((c) => this.result(c, true, replayed.get(c.index)!)) };
      return { status: 200, bodyText: JSON.stringify(body), receipts: [] };
    }
    const repo = fresh[0]!.entry.item.repositoryFullName;
    const other = fresh.find((c) => repositoryKeyOf(c.entry.item.repositoryFullName) !== repositoryKeyOf(repo));
    if (other) {
      throw new ApiError(
        'COLLECTOR_BATCH_INVALID',
        `${itemField(other.index, 'attestation.repositoryFullName')}: a batch's new items name one repository (${repo}); send other repositories in batches of their own`,
        { index: other.index, field: itemField(other.index, 'attestation.repositoryFullName') },
      );
    }
    const stream = this.cicd.streamOf(p, repo);
    const records = fresh.map((c): Attestation => {
      const it = c.entry.item;
      return {
        id: newId('att'),
        repositoryFullName: it.repositoryFullName,
        prNumber: it.prNumber ?? null,
        artifactSha256: it.artifactSha256 ?? null,
        commitSha: it.commitSha ?? null,
        pipelineRunId: null,
        type: it.type,
        name: it.name,
        passed: it.passed,
        evidence: it.evidence ?? {},
      };
    });
    const inputs: EventInput[] = fresh.map((c, k) => {
      const payload: CollectorEventPayload = {
        attestationId: records[k]!.id,
        collector: { keyId: c.key.keyId, publicKey: c.key.publicKey, signature: c.entry.signature },
        item: c.entry.raw,
      };
      return { source_ref: records[k]!.id, event_type: COLLECTOR_EVENT_TYPE, occurred_at: c.entry.item.time, payload };
    });
    const view = (k: number, r: ReceiptView): RecordView<Attestation> => ({
      ...records[k]!,
      createdAt: r.received_at,
      updatedAt: r.received_at,
      stream_id: r.stream_id,
      seq_no: r.seq_no,
      receipt: r,
    });
    const render = (receipts: ReceiptView[]) => {
      const made = new Map(fresh.map((c, k) => [c.index, view(k, receipts[k]!)]));
      return {
        accepted: fresh.length,
        replayed: replayed.size,
        items: checked.map((c) => (made.has(c.index) ? this.result(c, false, made.get(c.index)!) : this.result(c, true, replayed.get(c.index)!))),
      };
    };
    return this.ledger.append(p, stream.id, inputs, idem, render, {
      inTransaction: (receipts) => {
        fresh.forEach((c, k) => {
          // A revocation committed (by the CLI, say) since the checks above: the batch is refused whole.
          if (store.collectors.key(p.tenantId, c.key.keyId)?.revokedAt !== null) {
            throw new ApiError('COLLECTOR_REVOKED', `${itemField(c.index, 'attestation.collectorKeyId')}: collector key ${c.key.keyId} was revoked`, {
              index: c.index,
              field: itemField(c.index, 'attestation.collectorKeyId'),
            });
          }
          const rec = receipts[k]!;
          const a = records[k]!;
          store.cicd.insertRecord({
            id: a.id,
            kind: 'attestation',
            tenantId: stream.tenantId,
            systemId: stream.systemId,
            streamId: stream.id,
            repositoryKey: repositoryKeyOf(a.repositoryFullName),
            record: JSON.stringify(a),
            status: null,
            attestationType: a.type,
            passed: a.passed ? 1 : 0,
            prNumber: a.prNumber,
            artifactSha256: a.artifactSha256,
            environment: null,
            pipelineRunId: null,
            createdAt: rec.received_at,
            updatedAt: rec.received_at,
            eventId: rec.stream_event_id,
            seqNo: rec.seq_no,
            eventCount: 1,
          });
          // The primary key (tenant, key, item id) is the backstop against a concurrent batch with the same item.
          store.collectors.insertItem({ tenantId: p.tenantId, keyId: c.key.keyId, itemId: c.entry.item.id, digest: c.digest, recordId: a.id, createdAt: rec.received_at });
        });
      },
    });
  }

  private result(c: Checked, replayed: boolean, attestation: RecordView<Attestation>): CollectorResult {
    return { index: c.index, id: c.entry.item.id, collectorKeyId: c.key.keyId, replayed, attestation };
  }
}
