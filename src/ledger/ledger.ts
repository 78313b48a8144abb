// The engine behind every route: one object owning the store, the signing key and the group committer.
import fs from 'node:fs';
import { bytesToHex, hexToBytes } from '../protocol/bytes.js';
import { RECEIPT_ALG, type EventView } from '../protocol/receipt.js';

export type { EventView };
import { storeTarget, type Config } from '../config.js';
import { Store } from '../store/index.js';
import type { EventEntryRow, EventRow } from '../store/events.js';
import type { ErasureRow } from '../store/erasures.js';
import type { StreamRow } from '../store/streams.js';
import { Appender, initialHead, type AppendOptions, type AppendResult, type EventInput, type IdempotencyWrite, type ReceiptView } from './appender.js';
import { SignPool } from './sign-pool.js';
import { ApiError, notFound } from './errors.js';
import { IdempotencyGate } from './idempotency.js';
import type { ReceiptsShape } from './replay.js';
import { newId } from './ids.js';
import { Anchoring } from './anchoring.js';
import { Evidence } from './evidence.js';
import { checkedEvent, checkedEvents } from './integrity.js';
import { installNativeSha256 } from './native-sha256.js';
import { Packs } from './packs.js';
import { Proofs, type InclusionView } from './proofs.js';
import { checkLedger, describeCheck } from './check.js';
import { openHighwater, refuseMissingDatabase, type HighwaterWriter } from './rollback-guard.js';
import { Witnessing } from './witnessing.js';
import { wireNotifications, type Notifications } from './notify.js';
import { Sealer } from './sealer.js';
import type { Signer } from './signer.js';
import { Keyring, keyStatus } from './keyring.js';
import { actsOn, Tenancy, type Principal } from './tenancy.js';
import { errField, log } from '../log.js';
import { Webhooks } from './webhooks.js';
import { WebhookDelivery } from './webhook-delivery.js';
import { StallWatch } from './stall-watch.js';
import { HOUSEKEEPING_LEASE, Lease } from './lease.js';

/**
 * How often PostgreSQL's lease holder looks for what other nodes did that it hears of only through the store: streams
 * they left unsealed (Sealer.watchUnsealed) and checkpoints they signed, for the witnesses.
 */
const OTHER_NODES_SCAN_MS = 2_000;

export interface StreamInput {
  system_id?: string | undefined;
  use_case: string;
  policy_id?: string | null | undefined;
  metadata?: Record<string, unknown> | null | undefined;
  window_policy?: { max_events?: number | undefined; max_age_ms?: number | undefined } | null | undefined;
  /** overrides the global witness quorum for this stream */
  witness_quorum?: { required: number } | null | undefined;
}

export interface StreamView {
  stream_id: string;
  tenant_id: string;
  system_id: string;
  use_case: string;
  policy_id: string | null;
  metadata: Record<string, unknown> | null;
  window_policy: { max_events?: number; max_age_ms?: number } | null;
  witness_quorum: { required: number } | null;
  created_at: string;
  head_seq_no: number;
  stream_head_hash: string;
}


/** How many streams GET /v2/witnesses lists per witness (the rest: streams_truncated). */
export const WITNESS_STATUS_STREAMS = 1000;

/** On an event whose payload was erased (docs/api.md "Payload erasure"); absent on every other event. */
export interface ErasedView {
  /** the erasure event's received_at */
  at: string;
  reason: string;
  erasure_event_id: string;
}

/** A stored event as the read routes return it. */
export type StoredEventView = EventView & { erased?: ErasedView };

export const erasedView = (e: ErasureRow): ErasedView => ({ at: e.erasedAt, reason: e.reason, erasure_event_id: e.erasureEventId });

export class Ledger {
  readonly tenancy: Tenancy;
  readonly appender: Appender;
  readonly idempotency: IdempotencyGate;
  readonly sealer: Sealer;
  readonly proofs: Proofs;
  readonly evidence: Evidence;
  readonly packs: Packs;
  /** null when no witnesses are configured */
  readonly witnessing: Witnessing | null;
  /** null when no TSA is configured */
  readonly anchoring: Anchoring | null;
  /** after-commit notifications: events committed, checkpoints signed/witnessed/anchored (notify.ts) */
  readonly notifications: Notifications;
  /** webhooks and their outbox (src/ledger/webhooks.ts) */
  readonly webhooks: Webhooks;
  /** the delivery worker, started by open() */
  readonly webhookDelivery: WebhookDelivery;
  /** announces overdue evidence (webhook evidence.stalled), started by open() */
  readonly stallWatch: StallWatch;
  /**
   * Witness submission, anchoring, purging, webhook delivery and the stall watch run on one node at a time: the
   * holder of this lease (lease.ts). Always this process on SQLite.
   */
  readonly housekeeping: Lease;
  private purgeTimer: NodeJS.Timeout | undefined;
  /** PostgreSQL's lease holder: submits checkpoints other nodes signed (its own seals kick the witnesses at once) */
  private witnessPoll: NodeJS.Timeout | undefined;
  /** keeps `<db>.highwater` (what was published) current; see rollback-guard.ts */
  private highwater: HighwaterWriter | undefined;

  private constructor(
    readonly config: Config,
    readonly store: Store,
    readonly keys: Keyring,
  ) {
    this.tenancy = new Tenancy(store);
    this.appender = new Appender(store, keys, config.commitDelayMs);
    if (config.signThreads > 0) this.appender.signPool = new SignPool(config.signThreads);
    this.idempotency = new IdempotencyGate(store, config.idempotencyWaitMs);
    this.sealer = new Sealer(store, keys, config.origin, { maxEvents: config.windowMaxEvents, maxAgeMs: config.windowMaxAgeMs });
    this.appender.onCommit((streamId, headSeqNo, leaves) => this.sealer.onCommit(streamId, headSeqNo, leaves));
    this.appender.ride(this.sealer);
    this.sealer.rideWith(() => this.appender.queued > 0);
    this.evidence = new Evidence(store, config);
    this.packs = new Packs(this);
    this.proofs = new Proofs(store, (p, id, what) => this.streamFor(p, id, what), this.evidence);
    this.witnessing = config.witnesses.length ? new Witnessing(store, config.witnesses, config.retryMaxMs) : null;
    this.anchoring = config.tsaUrl
      ? new Anchoring(store, config.tsaUrl, config.tsaRootsPem, config.anchorEpochMs, config.retryMaxMs)
      : null;
    this.notifications = wireNotifications(this);
    this.housekeeping = new Lease(store, HOUSEKEEPING_LEASE, {
      start: () => this.startHousekeeping(),
      stop: () => this.stopHousekeeping(),
    });
    if (this.witnessing) {
      const w = this.witnessing;
      // Only the lease holder's Witnessing is started (a kick elsewhere does nothing); it also finds checkpoints other
      // nodes signed (streamsBehind reads the store).
      this.sealer.onSealed(() => w.kick());
    }
    // Webhooks: outbox rows ride the transactions that commit what they announce (docs/webhooks.md).
    this.webhooks = new Webhooks(store, config, (p, id) => this.streamFor(p, id));
    const hooks = this.webhooks;
    this.appender.announce = (streamId, ids) => hooks.eventsAppended(streamId, ids);
    this.sealer.announce = (cp) => hooks.checkpointReached(cp, 'checkpoint.signed');
    if (this.witnessing) {
      this.witnessing.announceCosigned = (cp) => {
        // Once, when the cosignature just stored is the one that meets the quorum (at least one).
        if (!hooks.wants(cp.streamId, 'checkpoint.witnessed')) return;
        const needed = Math.max(1, this.evidence.quorumFor(cp.streamId));
        if (store.evidence.cosignatures(cp.id).length === needed) hooks.checkpointReached(cp, 'checkpoint.witnessed');
      };
      // Once per (witness, checkpoint) in this process, not once per retry of the refusing witness.
      const suspected = new Set<string>();
      this.witnessing.announceForkSuspected = (cp, witness) => {
        const k = `${witness}\n${cp.id}`;
        if (suspected.has(k)) return;
        if (suspected.size >= 10_000) suspected.clear();
        suspected.add(k);
        hooks.streamCondition(cp.streamId, 'fork.suspected', cp.id);
      };
    }
    if (this.anchoring) {
      this.anchoring.announceStamped = (epochId) => {
        if (!hooks.anyWants('checkpoint.anchored')) return;
        for (const leaf of store.evidence.epochLeaves(epochId)) {
          const cp = store.checkpoints.checkpoint(leaf.checkpointId);
          if (cp) hooks.checkpointReached(cp, 'checkpoint.anchored');
        }
      };
    }
    this.webhookDelivery = new WebhookDelivery(store, this.webhooks, config, {
      event: eventView,
      receipt: receiptView,
      checkpoint: (cp) => this.proofs.view(cp),
    });
    // Only the lease holder's delivery is started (a wake elsewhere does nothing); rows other nodes write reach it at
    // its next poll (PROOFSTREAM_WEBHOOK_POLL_MS).
    this.webhooks.outboxWritten = () => this.webhookDelivery.wake(0);
    this.stallWatch = new StallWatch(store, this.webhooks, config, config.witnesses.map((w) => w.name));
  }

  static open(config: Config): Ledger {
    // The engine is Node-only: src/protocol's hashes (roots, proofs, window and tile folds, /v2/verify) go native.
    installNativeSha256();
    refuseMissingDatabase(config);
    // SQLite's open makes the data directory (db.ts); on PostgreSQL it still holds the keys and the high-water record.
    if (config.databaseUrl) fs.mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
    const store = Store.open(storeTarget(config), { maxBytes: config.maxDbBytes });
    // Before anything is appended or sealed: refuse a database behind what was already published (RollbackError).
    let highwater: HighwaterWriter;
    try {
      highwater = openHighwater(store, config);
    } catch (e) {
      store.close();
      throw e;
    }
    let keys: Keyring;
    try {
      keys = Keyring.open(store, config.signingKeyPath, config.ledgerKeysDir);
    } catch (e) {
      store.close();
      throw e;
    }
    startCheck(store, config);
    const ledger = new Ledger(config, store, keys);
    ledger.highwater = highwater;
    ledger.appender.onCommit((streamId) => highwater.touch(streamId));
    ledger.sealer.onSealed(() => highwater.sealed());
    // The bootstrap key is whatever the variable names now: a changed or unset variable retires the previous one.
    let retired: string[];
    try {
      ({ retired } = ledger.tenancy.applyBootstrapKey(config.bootstrapKey));
    } catch (e) {
      store.close(); // refused at start: nothing is running yet but the database handle
      throw e;
    }
    if (retired.length) log.warn({ event: 'bootstrap_keys_retired', key_ids: retired }, `retired ${retired.length} previous bootstrap key(s): ${retired.join(', ')}`);
    ledger.sealer.start();
    // SQLite: taken at once, so everything below starts right here as it always has. PostgreSQL: on one node only.
    ledger.housekeeping.start();
    ledger.packs.sweepOrphans();
    return ledger;
  }

  /** What the housekeeping lease's holder runs (started when this process takes the lease). */
  private startHousekeeping(): void {
    this.witnessing?.start();
    this.anchoring?.start();
    this.webhookDelivery.start();
    this.stallWatch.start();
    this.purgeTimer = setInterval(() => {
      // Housekeeping only: a failure (a busy database, a file that will not go) is logged and retried next minute,
      // never allowed to take the server down.
      try {
        this.store.idempotency.purgeExpired(Date.now());
        this.packs.purgeExpired(Date.now());
      } catch (e) {
        log.error({ event: 'purge_failed', err: errField(e) }, 'purge failed; will retry');
      }
    }, 60_000);
    this.purgeTimer.unref();
    if (this.store.kind === 'postgres') {
      // Each node's sealer hears only of its own commits; the holder also seals what the others left (a dead node's).
      this.sealer.watchUnsealed(OTHER_NODES_SCAN_MS);
      const w = this.witnessing;
      if (w) {
        this.witnessPoll = setInterval(() => w.kick(), OTHER_NODES_SCAN_MS);
        this.witnessPoll.unref();
      }
    }
  }

  /** This process lost the housekeeping lease to another node (PostgreSQL): the new holder runs it all now. */
  private stopHousekeeping(): void {
    this.witnessing?.stop();
    this.anchoring?.stop();
    this.webhookDelivery.stop();
    this.stallWatch.stop();
    clearInterval(this.purgeTimer);
    clearInterval(this.witnessPoll);
    this.sealer.stopWatchingUnsealed();
  }

  close(): void {
    this.housekeeping.stop();
    clearInterval(this.purgeTimer);
    clearInterval(this.witnessPoll);
    this.sealer.stop();
    this.witnessing?.stop();
    this.anchoring?.stop();
    this.webhookDelivery.stop();
    this.stallWatch.stop();
    this.highwater?.close();
    this.appender.signPool?.close();
    this.store.close();
  }

  // ---- streams ----

  createStream(p: Principal, input: StreamInput, idem: IdempotencyWrite | undefined): { bodyText: string; view: StreamView } {
    const systemId = input.system_id ?? p.systemId;
    const system = this.store.tenancy.systemById(systemId);
    if (!system || !actsOn(p, { tenantId: system.tenantId, systemId: system.id })) throw notFound('system');
    const q = input.witness_quorum?.required;
    if (q !== undefined && q > this.config.witnesses.length) {
      throw new ApiError('VALIDATION_ERROR', `witness_quorum.required (${q}) exceeds the ${this.config.witnesses.length} witnesses this ledger is configured with`, {
        path: 'witness_quorum.required',
      });
    }
    return this.store.write(() => {
      const row = newStreamRow({
        tenantId: p.tenantId,
        systemId,
        useCase: input.use_case,
        policyId: input.policy_id ?? null,
        metadata: input.metadata ?? null,
        windowPolicy: stripUndefined(input.window_policy),
        kind: 'v2',
        witnessQuorum: q ?? null,
      });
      this.store.streams.insert(row);
      const view = streamView(row);
      const bodyText = JSON.stringify(view);
      if (idem) this.recordIdempotent(idem, 201, bodyText);
      return { bodyText, view };
    });
  }

  private recordIdempotent(idem: IdempotencyWrite, status: number, bodyText: string): void {
    const now = Date.now();
    const fresh = this.store.idempotency.insert({ ...idem, status, responseBody: bodyText, createdAt: now, expiresAt: now + idem.ttlMs });
    if (!fresh) throw new ApiError('IDEMPOTENCY_IN_PROGRESS', 'this Idempotency-Key was used concurrently; retry');
  }

  /**
   * A stream the caller may act on (its tenant's; its own system's unless the key is tenant-wide); anything else is
   * "not found" so existence never leaks across tenants or systems. `what` names the object the caller asked for,
   * so another tenant's event reads exactly like a missing one.
   */
  streamFor(p: Principal, id: string, what = 'stream'): StreamRow {
    const row = this.store.streams.get(id);
    if (!row || !actsOn(p, row)) throw notFound(what);
    return row;
  }

  getStream(p: Principal, id: string): StreamView {
    return streamView(this.streamFor(p, id));
  }

  listStreams(p: Principal, cursor: string | undefined, limit: number): { streams: StreamView[]; next_cursor: string | null } {
    let after: { createdAt: string; id: string } | undefined;
    if (cursor) {
      try {
        const [createdAt, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [string, string];
        if (typeof createdAt !== 'string' || typeof id !== 'string') throw new Error();
        after = { createdAt, id };
      } catch {
        throw new ApiError('VALIDATION_ERROR', 'cursor is not one this server issued', { path: 'cursor' });
      }
    }
    const rows = this.store.streams.list(p.tenantId, after, limit + 1, p.tenantWide ? undefined : p.systemId);
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      streams: page.map(streamView),
      next_cursor: rows.length > limit && last ? Buffer.from(JSON.stringify([last.createdAt, last.id])).toString('base64url') : null,
    };
  }

  // ---- events ----

  append(
    p: Principal,
    streamId: string,
    inputs: readonly EventInput[],
    idem: IdempotencyWrite | undefined,
    render: ((r: ReceiptView[]) => unknown) | ReceiptsShape,
    opts?: AppendOptions,
  ): Promise<AppendResult> {
    // The hot path needs only the owner (cached); the appender reads the head itself.
    const owner = this.store.streams.ownerOf(streamId);
    if (!owner || !actsOn(p, owner)) throw notFound('stream');
    return this.appender.append(streamId, inputs, idem, render, opts);
  }

  /** The stored receipt, plus (once sealed) its inclusion proof against the first checkpoint covering it. */
  getReceipt(p: Principal, eventId: string): ReceiptView & { inclusion: InclusionView | null } {
    const ev = this.store.events.get(eventId);
    if (!ev) throw notFound('event');
    this.streamFor(p, ev.streamId, 'event');
    // Ownership first: another tenant's row stays "not found" even when it is damaged.
    return { ...receiptView(checkedEvent(ev)), inclusion: this.proofs.firstInclusion(ev.streamId, ev.seqNo) };
  }

  listEvents(p: Principal, streamId: string, fromSeqNo: number, limit: number): { events: StoredEventView[]; next_from_seq_no: number | null } {
    const stream = this.streamFor(p, streamId);
    const rows = checkedEvents(this.store.events.list(streamId, fromSeqNo, limit));
    const last = rows[rows.length - 1];
    return {
      events: rows.map((r) => this.storedEventView(r)),
      next_from_seq_no: last && last.seqNo < stream.headSeqNo ? last.seqNo + 1 : null,
    };
  }

  /** GET /v2/events/{id}: one event of the caller's, as the list returns it (`sev_…`, or a v1 `evt_…` id). */
  getEvent(p: Principal, eventId: string): StoredEventView {
    const ev = this.store.events.get(eventId.startsWith('evt_') ? `sev_${eventId.slice(4)}` : eventId);
    if (!ev) throw notFound('event');
    this.streamFor(p, ev.streamId, 'event');
    return this.storedEventView(checkedEvent(ev));
  }

  /** The event view, with `erased` when its payload was erased (one point read, only for payload-less rows). */
  private storedEventView(ev: EventRow): StoredEventView {
    const view = eventView(ev);
    if (ev.payload !== null) return view;
    const erasure = this.store.erasures.get(ev.id);
    return erasure ? { ...view, erased: erasedView(erasure) } : view;
  }

  /** GET /v2/witnesses: process-wide health plus per-stream progress for the caller's streams only. */
  witnessStatus(p: Principal) {
    const w = this.witnessing;
    return {
      quorum: this.config.witnessQuorum,
      witnesses: (w?.status() ?? []).map((s, i) => {
        const cfg = w!.configured[i]!;
        return {
          name: cfg.name,
          url: cfg.url,
          vkey: cfg.vkey,
          failures: s.failures,
          last_error: s.lastError,
          last_success_at: s.lastSuccessAt,
          ...this.witnessStreams(cfg.name, p),
        };
      }),
    };
  }

  /**
   * The streams a key may see (its system's, or the tenant's when tenant-wide) with what `witness` cosigned of them:
   * the first WITNESS_STATUS_STREAMS by id, so one answer stays small whatever the tenant holds.
   */
  private witnessStreams(witness: string, p: Principal) {
    const rows = this.store.evidence.witnessStatesOfTenant(
      witness,
      p.tenantId,
      p.tenantWide ? undefined : p.systemId,
      WITNESS_STATUS_STREAMS + 1,
    );
    return {
      streams: rows.slice(0, WITNESS_STATUS_STREAMS).map((r) => ({
        stream_id: r.streamId,
        last_cosigned_size: r.cosignedSize,
        last_error: r.lastError,
        last_error_at: r.lastErrorAt,
      })),
      streams_truncated: rows.length > WITNESS_STATUS_STREAMS,
    };
  }

  /** The key that signs receipts now (as last seen; a rotation by another process shows at the next write). */
  get signer(): Signer {
    return this.keys.current;
  }

  /** The policy file of GET /v2/trust-policy: every key this ledger has signed with (with its window), its witnesses, its TSA roots. */
  trustPolicy(): string {
    return this.evidence.trustPolicy(this.keys.list().map(policyKey));
  }

  /**
   * The trust /v2/verify uses when a request brings none: every ledger key with its window, as the keyring last read
   * them (no database access: the route keeps answering when the database is gone). Rebuilt only after a rotation.
   */
  serverPolicy(): string {
    const rows = this.keys.cached();
    if (this.serverPolicyCache?.rows !== rows) this.serverPolicyCache = { rows, text: this.evidence.trustPolicy(rows.map(policyKey)) };
    return this.serverPolicyCache.text;
  }

  private serverPolicyCache: { rows: readonly unknown[]; text: string } | undefined;

  /** Every ledger key with its validity window, as /v2/keys, packs and the server's own verify trust show them. */
  publicKeys() {
    const now = new Date().toISOString();
    const current = this.keys.activeKid;
    return this.keys.list().map((k) => ({
      kid: k.kid,
      alg: k.alg,
      public_key: k.publicKey,
      public_key_format: 'raw-hex' as const,
      created_at: k.createdAt,
      status: keyStatus(k, now),
      valid_from: k.validFrom,
      valid_until: k.validUntil,
      retired_at: k.retiredAt,
      current: k.kid === current,
    }));
  }
}

/** A ledger key as a trust-policy log key: its public key and receipt window. */
export function policyKey(k: { publicKey: string; validFrom: string | null; validUntil: string | null }) {
  return { publicKey: hexToBytes(k.publicKey), validFrom: k.validFrom, validUntil: k.validUntil };
}

/** A new, empty stream: a fresh id, the genesis head, nothing sealed. */
export function newStreamRow(
  f: Pick<StreamRow, 'tenantId' | 'systemId' | 'useCase' | 'policyId' | 'metadata' | 'windowPolicy' | 'kind' | 'witnessQuorum'>,
): StreamRow {
  const id = newId('str');
  const head = initialHead(id);
  return {
    id,
    ...f,
    createdAt: new Date().toISOString(),
    headSeqNo: head.seqNo,
    headHash: head.headHash,
    lastEventHash: head.lastEventHash,
    frontier: head.frontier,
    sealedSeqNo: 0,
    lastCheckpointId: null,
  };
}

function stripUndefined<T extends object>(o: T | null | undefined): T | null {
  if (!o) return null;
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

export function streamView(r: StreamRow): StreamView {
  return {
    stream_id: r.id,
    tenant_id: r.tenantId,
    system_id: r.systemId,
    use_case: r.useCase,
    policy_id: r.policyId,
    metadata: r.metadata,
    window_policy: r.windowPolicy,
    witness_quorum: r.witnessQuorum === null ? null : { required: r.witnessQuorum },
    created_at: r.createdAt,
    head_seq_no: r.headSeqNo,
    stream_head_hash: r.headHash,
  };
}

export function receiptView(ev: EventEntryRow): ReceiptView {
  return {
    stream_event_id: ev.id,
    stream_id: ev.streamId,
    seq_no: ev.seqNo,
    event_hash: ev.eventHash,
    previous_event_hash: ev.previousEventHash,
    stream_head_hash: ev.streamHeadHash,
    received_at: ev.receivedAt,
    receipt: { protocol: ev.protocol, alg: RECEIPT_ALG, kid: ev.kid, signature: ev.signature },
  };
}

/** The receipt part of an event as the read routes show it (what the append answered for it). */
export function receiptOfView(ev: ReceiptView): ReceiptView {
  const { stream_event_id, stream_id, seq_no, event_hash, previous_event_hash, stream_head_hash, received_at, receipt } = ev;
  return { stream_event_id, stream_id, seq_no, event_hash, previous_event_hash, stream_head_hash, received_at, receipt };
}

export function eventView(ev: EventRow): EventView {
  return {
    ...receiptView(ev),
    source_ref: ev.sourceRef,
    event_type: ev.eventType,
    occurred_at: ev.occurredAt,
    payload: ev.payload === null ? null : JSON.parse(ev.payload),
    salt: ev.salt,
    payload_commitment: ev.payloadCommitment,
  };
}

/** A light check at start found damage and PROOFSTREAM_START_CHECK=strict: the server does not start. */
export class StartCheckError extends Error {
  readonly code = 'START_CHECK_FAILED';
}

/**
 * The light integrity check (src/ledger/check.ts) before anything is served: damage is logged loudly with its rows;
 * the server still starts unless PROOFSTREAM_START_CHECK=strict (reads of a damaged row answer INTEGRITY_ERROR anyway).
 */
function startCheck(store: Store, config: Config): void {
  if (config.startCheck === 'off') return;
  const report = checkLedger(store, { deep: false, latestEvents: config.startCheckEvents });
  if (report.ok) return;
  const text = `INTEGRITY: the start check of ${config.dbPath} found damage; run \`proofstream check --deep\` (docs/operations.md, "Check integrity"):\n${describeCheck(report)}`;
  if (config.startCheck === 'strict') {
    store.close();
    throw new StartCheckError(`refusing to start (PROOFSTREAM_START_CHECK=strict): ${text}`);
  }
  console.error(text);
}
