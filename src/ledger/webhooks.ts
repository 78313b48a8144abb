// Webhooks: what each tenant subscribed to, and the outbox rows written in the same transaction as what they
// announce (nothing announced that did not commit; nothing committed left unannounced). Delivery is
// webhook-delivery.ts. docs/webhooks.md is the user's description.
import { createHmac, randomBytes } from 'node:crypto';
import type { Config } from '../config.js';
import type { IdempotencyWrite } from './appender.js';
import type { CheckpointRow } from '../store/checkpoints.js';
import type { Store } from '../store/index.js';
import type { DeliveryRow, DeliveryStatus, WebhookRow } from '../store/webhooks.js';
import { ApiError, notFound } from './errors.js';
import { newId, newTimeOrderedId } from './ids.js';
import { checkedEvent } from './integrity.js';
import { actsOn, type Principal } from './tenancy.js';
import { checkWebhookUrl, WebhookUrlError } from './webhook-url.js';

/** Types a webhook may subscribe to (docs/webhooks.md); the last three are announced by pipelines (docs/pipelines.md). */
export const WEBHOOK_EVENT_TYPES = [
  'event.appended',
  'checkpoint.signed',
  'checkpoint.witnessed',
  'checkpoint.anchored',
  'evidence.stalled',
  'fork.suspected',
  'execution.completed',
  'execution.failed',
  'receipt.signed',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];
/** The types announced by systems on top of the ledger (src/pipelines/), rendered by them (renderSystemEvents). */
export const SYSTEM_WEBHOOK_TYPES = ['execution.completed', 'execution.failed', 'receipt.signed'] as const satisfies readonly WebhookEventType[];
export type SystemWebhookType = (typeof SYSTEM_WEBHOOK_TYPES)[number];

export const WEBHOOK_LIMITS = {
  urlChars: 2048,
  descriptionChars: 512,
  secretMinChars: 16,
  secretMaxChars: 256,
  /** `whsec_` secrets: decoded key bytes */
  whsecMinBytes: 24,
  whsecMaxBytes: 64,
  pageMax: 100,
} as const;

export interface WebhookView {
  webhook_id: string;
  url: string;
  events: string[];
  active: boolean;
  stream_id: string | null;
  description: string | null;
  created_at: string;
  updated_at: string;
  disabled_at: string | null;
  disabled_reason: string | null;
}

export interface DeliveryView {
  delivery_id: string;
  event: string;
  status: DeliveryStatus;
  attempts: number;
  last_status_code: number | null;
  last_error: string | null;
  next_attempt_at: string | null;
  created_at: string;
  delivered_at: string | null;
}

export const webhookView = (r: WebhookRow): WebhookView => ({
  webhook_id: r.id,
  url: r.url,
  events: [...r.events],
  active: r.active,
  stream_id: r.streamId,
  description: r.description,
  created_at: r.createdAt,
  updated_at: r.updatedAt,
  disabled_at: r.disabledAt,
  disabled_reason: r.disabledReason,
});

export const deliveryView = (r: DeliveryRow): DeliveryView => ({
  delivery_id: r.id,
  event: r.eventType,
  status: r.status as DeliveryStatus,
  attempts: r.attempts,
  last_status_code: r.lastStatusCode,
  last_error: r.lastError,
  // only a pending delivery has a next attempt (a claimed one shows its lease end)
  next_attempt_at: r.status === 'pending' ? r.nextAttemptAt : null,
  created_at: r.createdAt,
  delivered_at: r.deliveredAt,
});

// ---- signatures (docs/webhooks.md "Verifying a delivery"; vectors in fixtures/webhook-signature.json) ----------

/** The HMAC key of the Standard Webhooks signature: a `whsec_` secret's base64 payload, any other secret's UTF-8. */
export function standardKeyBytes(secret: string): Buffer {
  return secret.startsWith('whsec_') ? Buffer.from(secret.slice(6), 'base64') : Buffer.from(secret, 'utf8');
}

/** The three signature headers of one attempt (the seed's and Standard Webhooks'), over the exact body bytes. */
export function signatureHeaders(secret: string, msgId: string, timestampS: number, body: string): Record<string, string> {
  const seed = createHmac('sha256', Buffer.from(secret, 'utf8')).update(body, 'utf8').digest('hex');
  const standard = createHmac('sha256', standardKeyBytes(secret)).update(`${msgId}.${timestampS}.${body}`, 'utf8').digest('base64');
  return {
    'X-Attest-Signature': `sha256=${seed}`,
    'webhook-id': msgId,
    'webhook-timestamp': String(timestampS),
    'webhook-signature': `v1,${standard}`,
  };
}

/** Why a caller-chosen secret is refused, or undefined. */
function secretProblem(secret: string): string | undefined {
  const { secretMinChars: min, secretMaxChars: max } = WEBHOOK_LIMITS;
  if (secret.length < min || secret.length > max) return `secret must be ${min}–${max} characters`;
  if (!/^[\x21-\x7e]+$/.test(secret)) return 'secret may hold only printable ASCII characters (no spaces)';
  if (secret.startsWith('whsec_')) {
    const b64 = secret.slice(6);
    const bytes = Buffer.from(b64, 'base64');
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || bytes.toString('base64') !== b64) return 'a whsec_ secret must be whsec_ followed by canonical base64';
    if (bytes.length < WEBHOOK_LIMITS.whsecMinBytes || bytes.length > WEBHOOK_LIMITS.whsecMaxBytes) {
      return `a whsec_ secret must encode ${WEBHOOK_LIMITS.whsecMinBytes}–${WEBHOOK_LIMITS.whsecMaxBytes} bytes`;
    }
  }
  return undefined;
}

export const newSecret = (): string => `whsec_${randomBytes(32).toString('base64')}`;

export interface WebhookInput {
  url: string;
  events: string[];
  secret?: string | undefined;
  active?: boolean | undefined;
  stream_id?: string | null | undefined;
  description?: string | null | undefined;
}

export interface WebhookPatch {
  url?: string | undefined;
  events?: string[] | undefined;
  active?: boolean | undefined;
  description?: string | null | undefined;
  secret?: string | undefined;
}

/** One active subscription, as the announcers match it. */
interface Sub {
  id: string;
  tenantId: string;
  systemId: string | null;
  streamId: string | null;
  events: ReadonlySet<string>;
}

const NONE: readonly Sub[] = [];

export class Webhooks {
  /** tenant → its active subscriptions; null until (re)built */
  private index: Map<string, Sub[]> | null = null;
  /** PRAGMA data_version when the index was built: another process's commit (perhaps to webhooks) rebuilds it */
  private seenVersion = -1;
  private versionCheckedThisTurn = false;
  /** Told after a transaction that wrote outbox rows has committed (the delivery worker's wake-up). */
  private wroteOutbox = false;
  outboxWritten: (() => void) | null = null;

  constructor(
    private readonly store: Store,
    private readonly config: Config,
    private readonly streamFor: (p: Principal, id: string) => unknown,
  ) {}

  // ---- the subscription index --------------------------------------------------------------------------------

  /** Forget the index (after a change in this process). */
  invalidate(): void {
    this.index = null;
  }

  private subsOf(tenantId: string): readonly Sub[] {
    // Another process's commit can only land between event-loop turns (a flush holds the write lock for its whole
    // synchronous turn), so one PRAGMA data_version per turn serves every job of a flush.
    if (!this.versionCheckedThisTurn) {
      this.versionCheckedThisTurn = true;
      setImmediate(() => (this.versionCheckedThisTurn = false));
      const v = this.store.webhooks.dataVersion();
      if (v !== this.seenVersion) {
        this.seenVersion = v;
        this.index = null;
      }
    }
    if (!this.index) {
      const idx = new Map<string, Sub[]>();
      for (const r of this.store.webhooks.active()) {
        const s: Sub = { id: r.id, tenantId: r.tenantId, systemId: r.systemId, streamId: r.streamId, events: new Set(r.events) };
        let list = idx.get(r.tenantId);
        if (!list) idx.set(r.tenantId, (list = []));
        list.push(s);
      }
      this.index = idx;
    }
    return this.index.get(tenantId) ?? NONE;
  }

  /** Whether any active webhook of the stream's tenant wants `type` for it (cheap: the index). */
  wants(streamId: string, type: WebhookEventType): boolean {
    return this.matching(streamId, type).length > 0;
  }

  /** Whether any active webhook of any tenant wants `type`. */
  anyWants(type: WebhookEventType): boolean {
    this.subsOf('');
    for (const list of this.index!.values()) if (list.some((s) => s.events.has(type))) return true;
    return false;
  }

  /** The active webhooks of the stream's tenant that want `type` for this stream (usually none: then nothing is written). */
  private matching(streamId: string, type: WebhookEventType): Sub[] {
    const owner = this.store.streams.ownerOf(streamId);
    if (!owner) return [];
    const subs = this.subsOf(owner.tenantId);
    if (subs.length === 0) return [];
    return subs.filter(
      (s) => s.events.has(type) && (s.streamId === null || s.streamId === streamId) && (s.systemId === null || s.systemId === owner.systemId),
    );
  }

  // ---- announcers: each runs inside the transaction that commits what it announces --------------------------

  /** Appender: the events one job inserted (inside its savepoint, so a failing job's rows roll back with it). */
  eventsAppended(streamId: string, eventIds: readonly string[]): void {
    const subs = this.matching(streamId, 'event.appended');
    if (subs.length === 0) return;
    for (const s of subs) for (const id of eventIds) this.insert(s, 'event.appended', id);
  }

  /** Sealer: a checkpoint was signed. Witnessing / Anchoring: its quorum was met / it was anchored. */
  checkpointReached(cp: Pick<CheckpointRow, 'id' | 'streamId'>, type: 'checkpoint.signed' | 'checkpoint.witnessed' | 'checkpoint.anchored'): void {
    for (const s of this.matching(cp.streamId, type)) this.insert(s, type, cp.id);
  }

  /** A condition about one stream (evidence.stalled, fork.suspected); subject is the checkpoint concerned. */
  streamCondition(streamId: string, type: 'evidence.stalled' | 'fork.suspected', checkpointId: string): void {
    for (const s of this.matching(streamId, type)) this.insert(s, type, checkpointId);
  }

  /**
   * Another system's announcement about one of its streams (pipelines: execution.completed, execution.failed,
   * receipt.signed), inside the transaction that commits what it announces; `subjectId` is what its renderer reads.
   */
  systemEvent(streamId: string, type: SystemWebhookType, subjectId: string): void {
    for (const s of this.matching(streamId, type)) this.insert(s, type, subjectId);
  }

  private readonly systemRenderers = new Map<string, (subjectId: string, type: WebhookEventType) => unknown>();

  /** How another system renders `data` of its types, from its stored rows at delivery time (throws when gone). */
  renderSystemEvents(types: readonly SystemWebhookType[], render: (subjectId: string, type: WebhookEventType) => unknown): void {
    for (const t of types) this.systemRenderers.set(t, render);
  }

  private insert(s: Sub, type: WebhookEventType, subjectId: string): void {
    const now = Date.now();
    this.store.webhooks.insertOutbox({
      id: newTimeOrderedId('msg', now),
      webhookId: s.id,
      tenantId: s.tenantId,
      eventType: type,
      subjectId,
      createdAt: new Date(now).toISOString(),
      giveUpAt: new Date(now + this.config.webhookRetryPeriodMs).toISOString(),
    });
    if (!this.wroteOutbox) {
      this.wroteOutbox = true;
      // Transactions here are synchronous: by the next turn this one has committed (or rolled back, and the worker
      // finds nothing). Either way the worker looks.
      setImmediate(() => this.committed());
    }
  }

  /** After any commit that may have run an announcer: wakes the worker if rows were written. */
  committed(): void {
    if (!this.wroteOutbox) return;
    this.wroteOutbox = false;
    this.outboxWritten?.();
  }

  // ---- management (the routes) ----------------------------------------------------------------------------------

  /** A webhook the caller may see: its tenant's, and (for a key that is not tenant-wide) its own system's. */
  private visible(p: Principal, id: string): WebhookRow {
    const r = this.store.webhooks.get(id);
    if (!r || !actsOn(p, { tenantId: r.tenantId, systemId: r.systemId ?? '' })) throw notFound('webhook');
    return r;
  }

  private async checkedUrl(url: string): Promise<string> {
    try {
      return (await checkWebhookUrl(url, this.config.webhookAllowPrivate)).href;
    } catch (e) {
      if (e instanceof WebhookUrlError) {
        throw new ApiError('WEBHOOK_URL_REFUSED', e.message, { path: 'url', reason: e.reason, address: e.address ?? null });
      }
      throw e;
    }
  }

  private checkSecret(secret: string | undefined): void {
    if (secret === undefined) return;
    const bad = secretProblem(secret);
    if (bad) throw new ApiError('VALIDATION_ERROR', bad, { path: 'secret' });
  }

  /**
   * Creates a webhook; `bodyText` is the 201 answer (with the secret), recorded with the Idempotency-Key, if any, in
   * the same transaction.
   */
  async create(p: Principal, input: WebhookInput, idem?: IdempotencyWrite): Promise<{ view: WebhookView & { secret: string }; bodyText: string }> {
    this.checkSecret(input.secret);
    if (input.stream_id) this.streamFor(p, input.stream_id);
    const url = await this.checkedUrl(input.url);
    const now = new Date().toISOString();
    const row: WebhookRow = {
      id: newId('whk'),
      tenantId: p.tenantId,
      systemId: p.tenantWide ? null : p.systemId,
      streamId: input.stream_id ?? null,
      url,
      events: [...new Set(input.events)],
      secret: input.secret ?? newSecret(),
      active: input.active ?? true,
      description: input.description ?? null,
      createdAt: now,
      updatedAt: now,
      disabledAt: null,
      disabledReason: null,
      failingSince: null,
    };
    const max = this.config.webhookMaxPerTenant;
    const view = { ...webhookView(row), secret: row.secret };
    const bodyText = JSON.stringify(view);
    this.store.write(() => {
      // Counted inside the write lock, so concurrent creates cannot overshoot.
      const n = this.store.webhooks.countOfTenant(p.tenantId);
      if (n >= max) {
        throw new ApiError('WEBHOOK_LIMIT_REACHED', `this tenant already has ${n} webhooks, the most allowed (PROOFSTREAM_WEBHOOK_MAX_PER_TENANT=${max}); delete one first`, {
          limit: max,
        });
      }
      this.store.webhooks.insert(row);
      if (idem) {
        const at = Date.now();
        const fresh = this.store.idempotency.insert({ ...idem, status: 201, responseBody: bodyText, createdAt: at, expiresAt: at + idem.ttlMs });
        if (!fresh) throw new ApiError('IDEMPOTENCY_IN_PROGRESS', 'this Idempotency-Key was used concurrently; retry');
      }
    });
    this.invalidate();
    return { view, bodyText };
  }

  get(p: Principal, id: string): WebhookView {
    return webhookView(this.visible(p, id));
  }

  list(p: Principal, cursor: string | undefined, limit: number): { webhooks: WebhookView[]; next_cursor: string | null } {
    const after = decodeCursor(cursor);
    // A key that is not tenant-wide sees its own system's webhooks only: filter while paging, in bounded reads.
    const out: WebhookRow[] = [];
    let next = after;
    let more = false;
    for (;;) {
      const rows = this.store.webhooks.list(p.tenantId, next, limit + 1);
      for (const r of rows) {
        if (!actsOn(p, { tenantId: r.tenantId, systemId: r.systemId ?? '' })) continue;
        if (out.length === limit) {
          more = true;
          break;
        }
        out.push(r);
      }
      if (more || rows.length <= limit) break;
      const last = rows[rows.length - 1]!;
      next = { createdAt: last.createdAt, id: last.id };
    }
    const last = out[out.length - 1];
    return { webhooks: out.map(webhookView), next_cursor: more && last ? encodeCursor(last) : null };
  }

  async update(p: Principal, id: string, patch: WebhookPatch): Promise<WebhookView> {
    this.visible(p, id);
    this.checkSecret(patch.secret);
    const url = patch.url === undefined ? undefined : await this.checkedUrl(patch.url);
    const now = new Date().toISOString();
    const row = this.store.write(() => {
      const cur = this.visible(p, id);
      const set: Partial<WebhookRow> = { updatedAt: now };
      if (url !== undefined) set.url = url;
      if (patch.events !== undefined) set.events = [...new Set(patch.events)];
      if (patch.description !== undefined) set.description = patch.description;
      if (patch.secret !== undefined) set.secret = patch.secret;
      if (patch.active !== undefined) {
        set.active = patch.active;
        // Re-activating starts afresh: no longer disabled, no failure streak carried over.
        if (patch.active && !cur.active) Object.assign(set, { disabledAt: null, disabledReason: null, failingSince: null });
      }
      this.store.webhooks.update(id, set);
      return this.store.webhooks.get(id)!;
    });
    this.invalidate();
    return webhookView(row);
  }

  delete(p: Principal, id: string): void {
    this.store.write(() => {
      this.visible(p, id);
      this.store.webhooks.delete(id);
    });
    this.invalidate();
  }

  deliveries(p: Principal, id: string, cursor: string | undefined, limit: number): { deliveries: DeliveryView[]; next_cursor: string | null } {
    this.visible(p, id);
    const rows = this.store.webhooks.deliveries(id, decodeCursor(cursor), limit + 1);
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return { deliveries: page.map(deliveryView), next_cursor: rows.length > limit && last ? encodeCursor(last) : null };
  }

  redeliver(p: Principal, webhookId: string, deliveryId: string): DeliveryView {
    const row = this.store.write(() => {
      const w = this.visible(p, webhookId);
      const d = this.store.webhooks.delivery(deliveryId);
      if (!d || d.webhookId !== w.id) throw notFound('delivery');
      if (!w.active) {
        throw new ApiError('WEBHOOK_INACTIVE', 'the webhook is not active; re-activate it (PATCH {"active": true}) before redelivering', {
          disabled_at: w.disabledAt,
          disabled_reason: w.disabledReason,
        });
      }
      const now = Date.now();
      this.store.webhooks.redeliver(d.id, new Date(now).toISOString(), new Date(now + this.config.webhookRetryPeriodMs).toISOString());
      return this.store.webhooks.delivery(d.id)!;
    });
    this.outboxWritten?.();
    return deliveryView(row);
  }

  // ---- rendering a delivery body ------------------------------------------------------------------------------

  /** `data` of a delivery, rendered from what it announces (the same objects the read routes return). */
  renderData(d: DeliveryRow, views: WebhookRenderers): unknown {
    const system = this.systemRenderers.get(d.eventType);
    if (system) return system(d.subjectId, d.eventType as WebhookEventType);
    if (SYSTEM_WEBHOOK_TYPES.includes(d.eventType as SystemWebhookType)) throw new Error(`no renderer for ${d.eventType} in this process yet`);
    if (d.eventType === 'event.appended') {
      const ev = this.store.events.get(d.subjectId);
      if (!ev) throw new Error(`event ${d.subjectId} is gone`);
      checkedEvent(ev);
      return { event: views.event(ev), receipt: views.receipt(ev) };
    }
    const cp = this.store.checkpoints.checkpoint(d.subjectId);
    if (!cp) throw new Error(`checkpoint ${d.subjectId} is gone`);
    const status =
      d.eventType === 'checkpoint.anchored' ? 'anchored' : d.eventType === 'checkpoint.witnessed' ? 'witnessed' : d.eventType === 'checkpoint.signed' ? 'signed' : undefined;
    return { stream_id: cp.streamId, tree_size: cp.treeSize, checkpoint: views.checkpoint(cp), ...(status ? { status } : { condition: d.eventType }) };
  }
}

export interface WebhookRenderers {
  event: (ev: import('../store/events.js').EventRow) => unknown;
  receipt: (ev: import('../store/events.js').EventRow) => unknown;
  checkpoint: (cp: CheckpointRow) => unknown;
}

function decodeCursor(cursor: string | undefined): { createdAt: string; id: string } | undefined {
  if (!cursor) return undefined;
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [string, string];
    if (typeof createdAt !== 'string' || typeof id !== 'string') throw new Error();
    return { createdAt, id };
  } catch {
    throw new ApiError('VALIDATION_ERROR', 'cursor is not one this server issued', { path: 'cursor' }, 400);
  }
}

const encodeCursor = (r: { createdAt: string; id: string }): string => Buffer.from(JSON.stringify([r.createdAt, r.id])).toString('base64url');
