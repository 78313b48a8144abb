// v1 event ingest as a thin face over the v2 engine (docs/api.md, "v1"): one v1 stream per system, v1 fields
// mapped onto v2 events, v1 receipts rendered from v2 receipts, and the v1 proof object assembled from the
// same views the v2 routes return. No protocol of its own: every v1 event is an ordinary v2 event.
import type { StreamRow } from '../store/streams.js';
import { v1EventId, v1ProofStatus, streamEventIdOf, type CheckpointEvidence, V1_CHECKPOINT_MEMBERS, V1_PAYLOAD_FORMAT, V1_PROOF_KIND, type V1Payload, type V1Status } from '../verify/v1-proof.js';
import { type AppendResult, type EventInput, type IdempotencyWrite, type ReceiptView } from './appender.js';
import { notFound } from './errors.js';
import { newStreamRow, type EventView, type Ledger } from './ledger.js';
import type { Principal } from './tenancy.js';

export const V1_DEFAULT_TYPE = 'event';
export const V1_DEFAULT_STATUS = 'recorded';
export const V1_STREAM_USE_CASE = 'v1-events';

/** A v1 event as POST /v1/sdk/events takes it (after defaults). */
export interface V1EventInput {
  type?: string | undefined;
  status?: string | undefined;
  occurred_at?: string | null | undefined;
  source_ref: string;
  payload: unknown;
}

export interface V1Receipt {
  id: string;
  tenant_id: string;
  event_hash: string;
  received_at: string;
  signature: { alg: 'Ed25519'; kid: string; value: string };
}

export interface V1Inclusion {
  leaf_index: number;
  tree_size: number;
  checkpoint_id: string;
  proof: string[];
}

export interface V1Proof {
  kind: typeof V1_PROOF_KIND;
  status: V1Status;
  event: EventView;
  receipt: V1Receipt;
  inclusion: V1Inclusion | null;
  checkpoint: Record<string, unknown> | null;
  anchor: unknown;
  keys: { kid: string; alg: string; public_key: string; public_key_format: 'raw-hex' }[];
}

/**
 * v1 → v2: `type` → event_type, `occurred_at` → occurred_at, `source_ref` → source_ref; `status`, `payload`
 * and the caller's tenant go into the committed payload `{format, tenant_id, status, payload}`. So every v1
 * field (and the receipt's tenant_id) is under the event hash, and so under the receipt signature.
 */
export function toV2Event(tenantId: string, e: V1EventInput): EventInput {
  const committed: V1Payload = {
    format: V1_PAYLOAD_FORMAT,
    tenant_id: tenantId,
    status: e.status ?? V1_DEFAULT_STATUS,
    payload: e.payload,
  };
  return {
    source_ref: e.source_ref,
    event_type: e.type ?? V1_DEFAULT_TYPE,
    occurred_at: e.occurred_at ?? null,
    payload: committed,
  };
}

/** The v1 receipt of a v2 receipt: the same signature, named by the v1 id. */
export function v1Receipt(tenantId: string, r: ReceiptView): V1Receipt {
  return {
    id: v1EventId(r.stream_event_id),
    tenant_id: tenantId,
    event_hash: r.event_hash,
    received_at: r.received_at,
    signature: { alg: r.receipt.alg, kid: r.receipt.kid, value: r.receipt.signature },
  };
}

export class V1Ledger {
  constructor(readonly ledger: Ledger) {}

  /**
   * The system's v1 stream, created on first use. The re-check and the insert run in one BEGIN IMMEDIATE
   * transaction, so two first requests (even from two processes) end up in the same stream.
   */
  streamFor(p: Principal): StreamRow {
    const { store } = this.ledger;
    const found = store.streams.v1StreamFor(p.systemId);
    if (found) return this.own(p, found);
    return this.own(
      p,
      store.write(() => {
        const again = store.streams.v1StreamFor(p.systemId);
        if (again) return again;
        const row = newStreamRow({
          tenantId: p.tenantId,
          systemId: p.systemId,
          useCase: V1_STREAM_USE_CASE,
          policyId: null,
          metadata: null,
          windowPolicy: null,
          kind: 'v1',
          witnessQuorum: null,
        });
        store.streams.insert(row);
        return row;
      }),
    );
  }

  private own(p: Principal, row: StreamRow): StreamRow {
    // A system belongs to one tenant; this only guards against a key whose system moved.
    if (row.tenantId !== p.tenantId) throw notFound('stream');
    return row;
  }

  /** Appends v1 events (atomically, in order) to the caller's v1 stream; `render` shapes the v1 answer. */
  append(p: Principal, events: readonly V1EventInput[], idem: IdempotencyWrite | undefined, render: (receipts: V1Receipt[]) => unknown): Promise<AppendResult> {
    const stream = this.streamFor(p);
    const inputs = events.map((e) => toV2Event(p.tenantId, e));
    return this.ledger.append(p, stream.id, inputs, idem, (receipts) => render(receipts.map((r) => v1Receipt(p.tenantId, r))));
  }

  /** The v1 proof object of a v1 event (404 for anything that is not a v1 event of the caller's tenant). */
  proof(p: Principal, v1Id: string): V1Proof {
    const sevId = streamEventIdOf(v1Id);
    const row = sevId ? this.ledger.store.events.get(sevId) : undefined;
    if (!row) throw notFound('event');
    const stream = this.ledger.streamFor(p, row.streamId, 'event');
    if (stream.kind !== 'v1') throw notFound('event');
    const event = this.ledger.listEvents(p, row.streamId, row.seqNo, 1).events[0];
    if (!event || event.stream_event_id !== row.id) throw notFound('event');

    const inc = this.ledger.proofs.firstInclusion(row.streamId, row.seqNo);
    const checkpoint = inc?.checkpoint_id ? (this.ledger.proofs.checkpoint(p, inc.checkpoint_id) as unknown as Record<string, unknown>) : null;
    const inclusion: V1Inclusion | null =
      inc && checkpoint && inc.checkpoint_id
        ? { leaf_index: inc.leaf_index, tree_size: inc.tree_size, checkpoint_id: inc.checkpoint_id, proof: inc.proof }
        : null;
    // Only members something binds (a hash, a signature or a cross-check): a v1 proof carries no labels a verifier
    // could not notice being changed (window ids, creation times, key bookkeeping stay on the v2 routes).
    const cp = inclusion && checkpoint ? pick(checkpoint, V1_CHECKPOINT_MEMBERS) : null;
    return {
      kind: V1_PROOF_KIND,
      status: v1ProofStatus(cp as CheckpointEvidence | null),
      event,
      receipt: v1Receipt(stream.tenantId, event),
      inclusion,
      checkpoint: cp,
      anchor: cp?.anchor ?? null,
      keys: this.ledger.publicKeys().map((k) => ({ kid: k.kid, alg: k.alg, public_key: k.public_key, public_key_format: k.public_key_format })),
    };
  }
}

const pick = (o: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> =>
  Object.fromEntries(keys.filter((k) => Object.hasOwn(o, k)).map((k) => [k, o[k]]));
