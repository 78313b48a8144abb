// The Proofstream client: one object per ledger, resources as namespaces over one Transport.
//
// Extension point: a new resource (the pipelines and executions of a later issue) is a class in its own module
// taking the Transport (and Trust) like those below, exposed as one more readonly member of Proofstream.
import type { TrustedKey } from '../verify/index.js';
import type { Report } from '../verify/index.js';
import { ProofstreamError } from './errors.js';
import { follow, type FeedItem, type FollowOptions } from './follow.js';
import { assertVerified, hasTrust, verifyWith, type Trust } from './trust.js';
import { newIdempotencyKey, sleep, Transport, type RequestOptions, type RetryInfo, type RetryOptions } from './transport.js';
import type {
  AuditPack,
  BatchReceipts,
  Checkpoint,
  CheckpointPage,
  Consistency,
  CreatedWebhook,
  DeliveryPage,
  EventInput,
  Erasure,
  EventPage,
  Inclusion,
  PackRange,
  PublicKey,
  Receipt,
  ServerVerifyReport,
  StoredEvent,
  StoredReceipt,
  Stream,
  StreamInput,
  StreamPage,
  V1EventInput,
  V1Proof,
  V1Receipt,
  VerifyRequestBody,
  Webhook,
  WebhookDelivery,
  WebhookInput,
  WebhookPage,
  WebhookPatch,
  Window,
} from './types.js';

export interface ProofstreamOptions {
  /** e.g. "https://ledger.example.com" (no trailing /v2) */
  baseUrl: string;
  /** a system key (`ps_live_…`), sent as `Authorization: Bearer` */
  apiKey?: string;
  /** per attempt, ms (default 30,000; 0 = none) */
  timeoutMs?: number;
  retry?: RetryOptions;
  /** pinned ledger keys for local verification (receipts, checkpoints, packs, proofs, the live feed) */
  trustedKeys?: readonly TrustedKey[];
  /** a trust policy file (docs/trust.md), instead of or beside trustedKeys */
  policy?: string;
  /**
   * Verify every receipt the client receives (appends, the live feed) against the pinned trust before returning it;
   * a receipt that fails throws ProofstreamVerificationError. Default: on when trustedKeys or policy is given.
   */
  verifyReceipts?: boolean;
  /** a fetch to use instead of globalThis.fetch */
  fetch?: typeof fetch;
  /** extra headers on every request */
  headers?: Record<string, string>;
  onRetry?: (info: RetryInfo) => void;
}

export interface WriteOptions extends RequestOptions {
  /** the Idempotency-Key of this logical write; generated (randomUUID) when absent, the same on every retry */
  idempotencyKey?: string;
}

export interface WaitOptions extends RequestOptions {
  /** give up after this long, ms (default 10 minutes) */
  deadlineMs?: number;
}

const enc = encodeURIComponent;

export class Proofstream {
  readonly transport: Transport;
  readonly trust: Trust;
  readonly verifyReceipts: boolean;
  readonly streams: Streams;
  readonly events: Events;
  readonly receipts: Receipts;
  readonly checkpoints: Checkpoints;
  readonly packs: Packs;
  readonly webhooks: Webhooks;
  readonly v1: V1;

  constructor(opts: ProofstreamOptions) {
    if (!opts || typeof opts.baseUrl !== 'string' || !/^https?:\/\//.test(opts.baseUrl)) {
      throw new TypeError('Proofstream: baseUrl must be an http(s) URL');
    }
    this.transport = new Transport({
      baseUrl: opts.baseUrl,
      apiKey: opts.apiKey,
      fetch: opts.fetch,
      timeoutMs: opts.timeoutMs,
      retry: opts.retry,
      headers: opts.headers,
      onRetry: opts.onRetry,
    });
    this.trust = { trustedKeys: opts.trustedKeys, policy: opts.policy };
    this.verifyReceipts = opts.verifyReceipts ?? hasTrust(this.trust);
    if (this.verifyReceipts && !hasTrust(this.trust)) throw new TypeError('Proofstream: verifyReceipts needs trustedKeys or policy');
    this.streams = new Streams(this.transport);
    this.events = new Events(this);
    this.receipts = new Receipts(this);
    this.checkpoints = new Checkpoints(this.transport);
    this.packs = new Packs(this);
    this.webhooks = new Webhooks(this.transport);
    this.v1 = new V1(this);
  }

  /** The ledger's public keys, current and retired (GET /v2/keys, no auth). Pin them out of band, not per run. */
  async keys(o: RequestOptions = {}): Promise<PublicKey[]> {
    return (await this.transport.request<{ keys: PublicKey[] }>({ method: 'GET', path: '/v2/keys', ...o })).body.keys;
  }

  /** GET /v2/keys entries as the verifier's trusted keys (to pin: store them, and pass them as trustedKeys). */
  static trustedKeysFrom(keys: readonly PublicKey[]): TrustedKey[] {
    // The receipt windows come along: a key rotated out signs nothing received after its valid_until.
    return keys.map((k) => ({ kid: k.kid, alg: 'Ed25519' as const, public_key: k.public_key, valid_from: k.valid_from, valid_until: k.valid_until }));
  }

  /** The ledger's trust policy file (GET /v2/trust-policy). */
  async trustPolicy(o: RequestOptions = {}): Promise<string> {
    return (await this.transport.request<string>({ method: 'GET', path: '/v2/trust-policy', responseType: 'text', headers: { accept: 'text/plain' }, ...o })).body;
  }

  /** Verifies any object locally with the project's verifier (src/verify) under the pinned (or given) trust. */
  verifyLocal(object: unknown, o: { kind?: string; trust?: Trust } = {}): Promise<Report> {
    return verifyWith(o.trust ?? this.trust, o.kind, object);
  }

  /** POST /v2/verify: the server's verifier (no auth). Retried on 429/503 (it is read-only). */
  async verifyRemote(body: VerifyRequestBody, o: RequestOptions = {}): Promise<ServerVerifyReport> {
    return (await this.transport.request<ServerVerifyReport>({ method: 'POST', path: '/v2/verify', body, ...o, ...readOnlyPost })).body;
  }

  /**
   * The live feed of a stream (GET /v2/streams/{id}/events/live) as an async iterator: events with their receipts,
   * and checkpoint messages. Resumes after disconnects with Last-Event-ID: no gap, no duplicate.
   */
  follow(streamId: string, o: FollowOptions = {}): AsyncGenerator<FeedItem> {
    return follow(this, streamId, o);
  }
}

/** POST /v2/verify changes nothing, so it is retried like a read. */
const readOnlyPost = { repeatable: true } as const;

class Streams {
  constructor(private readonly t: Transport) {}

  async create(input: StreamInput, o: WriteOptions = {}): Promise<Stream> {
    const key = o.idempotencyKey ?? newIdempotencyKey();
    return (await this.t.request<Stream>({ method: 'POST', path: '/v2/streams', body: input, ...o, idempotencyKey: key })).body;
  }

  async get(streamId: string, o: RequestOptions = {}): Promise<Stream> {
    return (await this.t.request<Stream>({ method: 'GET', path: `/v2/streams/${enc(streamId)}`, ...o })).body;
  }

  async list(q: { limit?: number; cursor?: string } = {}, o: RequestOptions = {}): Promise<StreamPage> {
    return (await this.t.request<StreamPage>({ method: 'GET', path: '/v2/streams', query: q, ...o })).body;
  }

  /** Every stream, page by page. */
  async *all(o: RequestOptions & { pageSize?: number } = {}): AsyncGenerator<Stream> {
    let cursor: string | undefined;
    for (;;) {
      const page = await this.list({ limit: o.pageSize ?? 200, cursor }, o);
      yield* page.streams;
      if (!page.next_cursor) return;
      cursor = page.next_cursor;
    }
  }
}

class Events {
  constructor(private readonly c: Proofstream) {}

  /**
   * Appends one event. One Idempotency-Key per call, kept across its retries: a retry after a lost answer
   * (a dropped connection, a server killed after commit) replays the stored receipt instead of appending twice.
   */
  async append(streamId: string, event: EventInput, o: WriteOptions = {}): Promise<Receipt> {
    const key = o.idempotencyKey ?? newIdempotencyKey();
    const r = (await this.c.transport.request<Receipt>({ method: 'POST', path: `/v2/streams/${enc(streamId)}/events`, body: event, ...o, idempotencyKey: key })).body;
    if (this.c.verifyReceipts) await assertVerified(this.c.trust, 'receipt', r, `receipt of ${r.stream_event_id}`);
    return r;
  }

  /** Appends 1–1000 events atomically (one Idempotency-Key for the batch). */
  async appendBatch(streamId: string, events: EventInput[], o: WriteOptions = {}): Promise<BatchReceipts> {
    const key = o.idempotencyKey ?? newIdempotencyKey();
    const r = (await this.c.transport.request<BatchReceipts>({ method: 'POST', path: `/v2/streams/${enc(streamId)}/events/batch`, body: { events }, ...o, idempotencyKey: key })).body;
    if (this.c.verifyReceipts) {
      for (const x of r.receipts) await assertVerified(this.c.trust, 'receipt', x, `receipt of ${x.stream_event_id}`);
    }
    return r;
  }

  /** A page of events in seq order, payloads and salts included. */
  async list(streamId: string, q: { from_seq_no?: number; limit?: number } = {}, o: RequestOptions = {}): Promise<EventPage> {
    return (await this.c.transport.request<EventPage>({ method: 'GET', path: `/v2/streams/${enc(streamId)}/events`, query: q, ...o })).body;
  }

  /** Every event from `from_seq_no` (default 1) to the head at the time each page is read. */
  async *all(streamId: string, q: { from_seq_no?: number; pageSize?: number } = {}, o: RequestOptions = {}): AsyncGenerator<StoredEvent> {
    let from: number | null = q.from_seq_no ?? 1;
    while (from !== null) {
      const page = await this.list(streamId, { from_seq_no: from, limit: q.pageSize ?? 1000 }, o);
      yield* page.events;
      from = page.next_from_seq_no;
    }
  }

  /** One event by its id (`sev_…`, or a v1 `evt_…`), payload included; `erased` once its payload was erased. */
  async get(eventId: string, o: RequestOptions = {}): Promise<StoredEvent> {
    return (await this.c.transport.request<StoredEvent>({ method: 'GET', path: `/v2/events/${enc(eventId)}`, ...o })).body;
  }

  /** One event by its seq_no (GET /v2/streams/{id}/events?from_seq_no=N&limit=1); null when there is none. */
  async atSeqNo(streamId: string, seqNo: number, o: RequestOptions = {}): Promise<StoredEvent | null> {
    const page = await this.list(streamId, { from_seq_no: seqNo, limit: 1 }, o);
    const e = page.events[0];
    return e && e.seq_no === seqNo ? e : null;
  }

  /**
   * Erases an event's payload and salt (DELETE /v2/events/{id}/payload, scope events:erase; docs/api.md "Payload
   * erasure"). The erasure is itself an event: its receipt is verified like an append's.
   */
  async erase(eventId: string, reason: string, o: WriteOptions = {}): Promise<Erasure> {
    const key = o.idempotencyKey ?? newIdempotencyKey();
    const r = (await this.c.transport.request<Erasure>({ method: 'DELETE', path: `/v2/events/${enc(eventId)}/payload`, body: { reason }, ...o, idempotencyKey: key })).body;
    if (this.c.verifyReceipts) await assertVerified(this.c.trust, 'receipt', r.erasure, `receipt of the erasure of ${eventId}`);
    return r;
  }

  /** An inclusion proof of seq_no at tree_size (default: the latest checkpoint). */
  async inclusion(streamId: string, q: { seq_no: number; tree_size?: number }, o: RequestOptions = {}): Promise<Inclusion> {
    return (await this.c.transport.request<Inclusion>({ method: 'GET', path: `/v2/streams/${enc(streamId)}/inclusion`, query: q, ...o })).body;
  }
}

class Receipts {
  constructor(private readonly c: Proofstream) {}

  /** The stored receipt of an event (`sev_…`), with its inclusion proof once sealed. */
  async get(eventId: string, o: RequestOptions = {}): Promise<StoredReceipt> {
    return (await this.c.transport.request<StoredReceipt>({ method: 'GET', path: `/v2/receipts/${enc(eventId)}`, ...o })).body;
  }

  /**
   * Verifies a receipt (an append answer, a stored receipt, or a stored event with its payload) locally against the
   * pinned keys: the verifier's report; `ok` false for a tampered or foreign receipt. Never contacts the server.
   */
  verify(receipt: unknown, trust?: Trust): Promise<Report> {
    return verifyWith(trust ?? this.c.trust, 'receipt', receipt);
  }

  /** As verify, but throws ProofstreamVerificationError (with the report) unless the receipt is valid. */
  async assertValid(receipt: unknown, trust?: Trust): Promise<Report> {
    return assertVerified(trust ?? this.c.trust, 'receipt', receipt, 'receipt');
  }
}

class Checkpoints {
  constructor(private readonly t: Transport) {}

  /** The newest checkpoint of a stream; null while none is signed yet (404 before the first window is sealed). */
  async latest(streamId: string, o: RequestOptions = {}): Promise<Checkpoint | null> {
    try {
      return (await this.t.request<Checkpoint>({ method: 'GET', path: `/v2/streams/${enc(streamId)}/checkpoints/latest`, ...o })).body;
    } catch (e) {
      // Only "no checkpoint yet" is null; an unknown (or foreign) stream stays an error.
      if (e instanceof ProofstreamError && e.status === 404 && /checkpoint/i.test(e.message)) return null;
      throw e;
    }
  }

  async get(checkpointId: string, o: RequestOptions = {}): Promise<Checkpoint> {
    return (await this.t.request<Checkpoint>({ method: 'GET', path: `/v2/checkpoints/${enc(checkpointId)}`, ...o })).body;
  }

  /** The checkpoint of exactly this tree size, or null when the stream has none of that size. */
  async bySize(streamId: string, treeSize: number, o: RequestOptions = {}): Promise<Checkpoint | null> {
    const page = await this.list(streamId, { before: treeSize + 1, limit: 1 }, o);
    const cp = page.checkpoints[0];
    return cp && cp.tree_size === treeSize ? cp : null;
  }

  /** Newest first; `before` is a tree-size cursor. */
  async list(streamId: string, q: { before?: number; limit?: number } = {}, o: RequestOptions = {}): Promise<CheckpointPage> {
    return (await this.t.request<CheckpointPage>({ method: 'GET', path: `/v2/streams/${enc(streamId)}/checkpoints`, query: q, ...o })).body;
  }

  /** RFC 9162 consistency proof to checkpoint `to` from `from` (a checkpoint id or a checkpointed tree size). */
  async consistency(to: string, from: string | number, o: RequestOptions = {}): Promise<Consistency> {
    return (await this.t.request<Consistency>({ method: 'GET', path: `/v2/checkpoints/${enc(to)}/consistency`, query: { from }, ...o })).body;
  }

  async window(windowId: string, o: RequestOptions = {}): Promise<Window> {
    return (await this.t.request<Window>({ method: 'GET', path: `/v2/windows/${enc(windowId)}`, ...o })).body;
  }
}

class Packs {
  constructor(private readonly c: Proofstream) {}

  /** Builds an audit pack now; throws ProofstreamError EVIDENCE_PENDING (409, retryAfterMs) while evidence is missing. */
  async build(range: PackRange, o: WriteOptions = {}): Promise<AuditPack> {
    const key = o.idempotencyKey ?? newIdempotencyKey();
    return (await this.c.transport.request<AuditPack>({ method: 'POST', path: '/v2/audit/packs', body: range, ...o, idempotencyKey: key })).body;
  }

  /**
   * Builds an audit pack once its evidence is complete: on 409 EVIDENCE_PENDING it waits (Retry-After when the
   * server gives one, else exponential backoff with full jitter, 1 s doubling to 30 s) and asks again with the same
   * Idempotency-Key, until `deadlineMs` (default 10 minutes) → EVIDENCE_TIMEOUT carrying the last answer's details.
   */
  async buildWhenReady(range: PackRange, o: WriteOptions & WaitOptions = {}): Promise<AuditPack> {
    const key = o.idempotencyKey ?? newIdempotencyKey();
    const deadline = Date.now() + (o.deadlineMs ?? 600_000);
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.build(range, { ...o, idempotencyKey: key });
      } catch (e) {
        if (!(e instanceof ProofstreamError) || e.code !== 'EVIDENCE_PENDING') throw e;
        const backoff = Math.random() * Math.min(30_000, 1000 * 2 ** attempt);
        const wait = Math.max(e.retryAfterMs ?? 0, backoff);
        if (Date.now() + wait > deadline) {
          throw new ProofstreamError({ status: 0, code: 'EVIDENCE_TIMEOUT', message: `evidence for the pack still pending at the deadline: ${e.message}`, details: e.details, cause: e });
        }
        await sleep(wait, o.signal);
      }
    }
  }

  /** A pack built earlier, as its exact bytes (text) — what its manifest digests cover. */
  async download(packId: string, o: RequestOptions = {}): Promise<string> {
    return (await this.c.transport.request<string>({ method: 'GET', path: `/v2/audit/packs/${enc(packId)}`, responseType: 'text', ...o })).body;
  }

  /** Verifies a pack (object or its text) locally with the project's verifier under the pinned trust. */
  verify(pack: AuditPack | string | unknown, trust?: Trust): Promise<Report> {
    return verifyWith(trust ?? this.c.trust, 'bundle', typeof pack === 'string' ? JSON.parse(pack) : pack);
  }
}

class Webhooks {
  constructor(private readonly t: Transport) {}

  /** Registers a webhook; the answer carries `secret`, which no later call returns. */
  async create(input: WebhookInput, o: WriteOptions = {}): Promise<CreatedWebhook> {
    const key = o.idempotencyKey ?? newIdempotencyKey();
    return (await this.t.request<CreatedWebhook>({ method: 'POST', path: '/v2/webhooks', body: input, ...o, idempotencyKey: key })).body;
  }

  async list(q: { limit?: number; cursor?: string } = {}, o: RequestOptions = {}): Promise<WebhookPage> {
    return (await this.t.request<WebhookPage>({ method: 'GET', path: '/v2/webhooks', query: q, ...o })).body;
  }

  async get(webhookId: string, o: RequestOptions = {}): Promise<Webhook> {
    return (await this.t.request<Webhook>({ method: 'GET', path: `/v2/webhooks/${enc(webhookId)}`, ...o })).body;
  }

  /** PATCH: the same body applied twice gives the same webhook, so it is retried with a kept Idempotency-Key. */
  async update(webhookId: string, patch: WebhookPatch, o: WriteOptions = {}): Promise<Webhook> {
    const key = o.idempotencyKey ?? newIdempotencyKey();
    return (await this.t.request<Webhook>({ method: 'PATCH', path: `/v2/webhooks/${enc(webhookId)}`, body: patch, ...o, idempotencyKey: key })).body;
  }

  /** DELETE (204). Retried on network errors: a retry after a lost 204 answers 404 RESOURCE_NOT_FOUND. */
  async delete(webhookId: string, o: RequestOptions = {}): Promise<void> {
    await this.t.request<void>({ method: 'DELETE', path: `/v2/webhooks/${enc(webhookId)}`, responseType: 'none', ...o });
  }

  async deliveries(webhookId: string, q: { limit?: number; cursor?: string } = {}, o: RequestOptions = {}): Promise<DeliveryPage> {
    return (await this.t.request<DeliveryPage>({ method: 'GET', path: `/v2/webhooks/${enc(webhookId)}/deliveries`, query: q, ...o })).body;
  }

  /**
   * Queues one delivery again (202 → the delivery), with the same webhook-id. Not idempotent on the server; a retry
   * after a lost answer may queue it twice, which receivers absorb by deduplicating on webhook-id.
   */
  async redeliver(webhookId: string, deliveryId: string, o: RequestOptions = {}): Promise<WebhookDelivery> {
    return (
      await this.t.request<WebhookDelivery>({
        method: 'POST',
        path: `/v2/webhooks/${enc(webhookId)}/deliveries/${enc(deliveryId)}/redeliver`,
        ...o,
        repeatable: true,
      })
    ).body;
  }
}

class V1 {
  readonly events: { log: (e: V1EventInput, o?: WriteOptions) => Promise<V1Receipt>; logBatch: (e: V1EventInput[], o?: WriteOptions) => Promise<{ events: V1Receipt[] }> };
  readonly proofs: { get: (eventId: string, o?: RequestOptions) => Promise<V1Proof>; verify: (proof: unknown, trust?: Trust) => Promise<Report> };

  constructor(private readonly c: Proofstream) {
    const t = c.transport;
    this.events = {
      log: async (e, o = {}) =>
        (await t.request<V1Receipt>({ method: 'POST', path: '/v1/sdk/events', body: e, ...o, idempotencyKey: o.idempotencyKey ?? newIdempotencyKey() })).body,
      logBatch: async (events, o = {}) =>
        (await t.request<{ events: V1Receipt[] }>({ method: 'POST', path: '/v1/sdk/events/batch', body: { events }, ...o, idempotencyKey: o.idempotencyKey ?? newIdempotencyKey() }))
          .body,
    };
    this.proofs = {
      get: async (eventId, o = {}) => (await t.request<V1Proof>({ method: 'GET', path: `/v1/events/${enc(eventId)}/proof`, ...o })).body,
      /** Locally, with the project's verifier (kind v1_proof). */
      verify: (proof, trust) => verifyWith(trust ?? c.trust, 'v1_proof', proof),
    };
  }

  /** POST /v1/public/verify: the server's verifier on a v1 proof (no auth). */
  async verifyRemote(proof: unknown, o: RequestOptions = {}): Promise<ServerVerifyReport> {
    return (await this.c.transport.request<ServerVerifyReport>({ method: 'POST', path: '/v1/public/verify', body: proof, ...o, ...readOnlyPost })).body;
  }
}
