// GET /v2/streams/{streamId}/events/live: a stream's committed events (each with its receipt) and checkpoint moments
// as server-sent events, resumable by seq_no. The mechanism is src/http/sse.ts; this file is what a stream feeds it.
import { ServerResponse } from 'node:http';
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { ApiError } from '../../ledger/errors.js';
import { receiptOfView, type Ledger } from '../../ledger/ledger.js';
import type { CheckpointMoment, EventsCommitted } from '../../ledger/notify.js';
import type { Principal } from '../../ledger/tenancy.js';
import type { Deps } from '../deps.js';
import type { AppEnv } from '../env.js';
import { authErrors, StreamIdParam } from '../schemas.js';
import { cutOffWhenEnded, keyRefusal, SseFeed, SseRegistry, sseText, type FeedItem } from '../sse.js';

/** Events read per page while replaying (the byte bound is the buffer's, see sse.ts). */
const PAGE_EVENTS = 100;
/** Retry-After of a refusal at the connection limits, seconds. */
const LIMIT_RETRY_AFTER_S = 5;

/** The receipt members of an event view: exactly what the append answered (schemas.ts `Receipt`). */
/** The open live feeds of one server and the ledger notifications that move them. */
export class LiveFeeds {
  readonly registry: SseRegistry;
  private readonly byStream = new Map<string, Set<SseFeed>>();
  private unsubscribe: Array<() => void> = [];

  constructor(private readonly ledger: Ledger) {
    const c = ledger.config;
    this.registry = new SseRegistry(c.sseMaxConnections, c.sseMaxConnectionsPerKey);
  }

  /**
   * Opens a feed of `streamId` from `from` (or, when null, from the head + 1). Synchronous from the head read to the
   * subscription, so no commit can fall between them (notifications run on this thread, after commit).
   */
  open(p: Principal, streamId: string, from: number | null, res?: ServerResponse): SseFeed {
    const stream = this.ledger.streamFor(p, streamId);
    const refusal = this.registry.refusal(p.keyId);
    if (refusal === 'total') {
      throw new ApiError('LIVE_FEED_BUSY', `this server has ${this.registry.maxConnections} live feeds open (PROOFSTREAM_SSE_MAX_CONNECTIONS); retry later`, {
        limit: this.registry.maxConnections,
        retry_after_s: LIMIT_RETRY_AFTER_S,
      });
    }
    if (refusal === 'key') {
      throw new ApiError('LIVE_FEED_LIMIT', `this API key has ${this.registry.maxPerKey} live feeds open (PROOFSTREAM_SSE_MAX_CONNECTIONS_PER_KEY); close one first`, {
        limit: this.registry.maxPerKey,
        retry_after_s: LIMIT_RETRY_AFTER_S,
      });
    }
    const head = stream.headSeqNo;
    const c = this.ledger.config;
    const read = (start: number, limit: number): FeedItem[] =>
      this.ledger.listEvents(p, streamId, start, limit).events.map((ev) => ({
        position: ev.seq_no,
        text: sseText({ id: ev.seq_no, event: 'event', data: JSON.stringify({ event: ev, receipt: receiptOfView(ev) }) }),
      }));
    const feed = new SseFeed(
      read,
      from ?? head + 1,
      head,
      {
        maxBufferBytes: c.sseMaxBufferBytes,
        heartbeatMs: c.sseHeartbeatMs,
        retryMs: c.sseRetryMs,
        pageSize: PAGE_EVENTS,
        overflowData: (resumeFrom) => JSON.stringify({ resume_from_seq_no: resumeFrom }),
        refusal: keyRefusal(this.ledger.tenancy, p.keyId),
      },
      {
        onOverflow: () => this.registry.stats.overflows++,
        // Ended by the server (overflow, shutdown): a consumer that does not take the last bytes is cut off.
        onEnding: cutOffWhenEnded(res, c.sseHeartbeatMs),
      },
    );
    if (this.registry.size === 0) this.listen();
    this.registry.add(feed, p.keyId);
    let set = this.byStream.get(streamId);
    if (!set) this.byStream.set(streamId, (set = new Set()));
    set.add(feed);
    feed.onClose(() => {
      set.delete(feed);
      if (set.size === 0) this.byStream.delete(streamId);
      if (this.registry.size === 0) this.quiet();
    });
    return feed;
  }

  /** Server shutdown: every feed ends with a `retry:` line (clients reconnect to the next process). */
  endAll(): void {
    this.registry.endAll();
  }

  /** Listens only while a feed is open, so a server without feeds does none of the notifications' reads. */
  private listen(): void {
    const n = this.ledger.notifications;
    this.unsubscribe = [n.on('events', (e) => this.onEvents(e)), n.on('checkpoint', (m) => this.onCheckpoint(m))];
  }

  private quiet(): void {
    for (const u of this.unsubscribe.splice(0)) u();
  }

  private onEvents(e: EventsCommitted): void {
    const feeds = this.byStream.get(e.streamId);
    if (feeds) for (const f of [...feeds]) f.advance(e.toSeqNo);
  }

  private onCheckpoint(m: CheckpointMoment): void {
    const feeds = this.byStream.get(m.streamId);
    if (!feeds) return;
    const cp = this.ledger.store.checkpoints.checkpoint(m.checkpointId);
    if (!cp) return;
    // Rendered once for every consumer of the stream; no `id:` line, so Last-Event-ID stays a seq_no.
    const text = sseText({
      event: 'checkpoint',
      data: JSON.stringify({ stream_id: m.streamId, tree_size: m.treeSize, checkpoint: this.ledger.proofs.view(cp), status: m.status }),
    });
    for (const f of [...feeds]) f.side(text, m.treeSize);
  }
}

const feedsOf = new WeakMap<Ledger, LiveFeeds>();

/** The one LiveFeeds of a ledger (the route opens feeds; serve's shutdown and the metrics read it). */
export function liveFeedsFor(ledger: Ledger): LiveFeeds {
  let f = feedsOf.get(ledger);
  if (!f) feedsOf.set(ledger, (f = new LiveFeeds(ledger)));
  return f;
}

/** Only digits, as this server writes `id:` lines; anything else is a client bug worth a 400. */
function lastEventId(raw: string | undefined): number | null {
  if (raw === undefined || raw.trim() === '') return null;
  const t = raw.trim();
  if (!/^\d{1,15}$/.test(t)) {
    throw new ApiError('VALIDATION_ERROR', 'Last-Event-ID must be a seq_no (the id: of an event message)', {
      issues: [{ path: '/headers/last-event-id', message: 'expected a non-negative integer' }],
    }, 400);
  }
  return Number(t);
}

export function liveRoutes(app: OpenAPIHono<AppEnv>, d: Deps) {
  const feeds = liveFeedsFor(d.ledger);
  app.openapi(
    createRoute({
      method: 'get',
      path: '/v2/streams/{streamId}/events/live',
      tags: ['events'],
      summary: 'Live feed (server-sent events): replay from a seq_no, then each event as it commits, with its receipt',
      description:
        'Starts at `from_seq_no`, else at `Last-Event-ID` + 1, else at the head + 1. Messages: `retry:` first; ' +
        '`id: <seq_no>` / `event: event` / `data: {event, receipt}`; `event: checkpoint` (no id) with ' +
        '`{stream_id, tree_size, checkpoint, status: signed|witnessed|anchored}`; `: ping` heartbeats; ' +
        '`event: overflow` `{resume_from_seq_no}` before the server closes a consumer that fell behind. See docs/api.md "Live feed".',
      security: [{ bearer: [] }],
      middleware: [d.auth('read'), d.rateLimit] as const,
      request: {
        params: StreamIdParam,
        query: z.object({ from_seq_no: z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional() }),
        headers: z.object({ 'last-event-id': z.string().max(64).optional() }),
      },
      responses: {
        200: {
          description: 'the feed (text/event-stream), until the client leaves, the server shuts down or the consumer overflows',
          content: { 'text/event-stream': { schema: z.string() } },
        },
        ...authErrors,
        429: { description: 'rate limited, or this key has too many live feeds open (LIVE_FEED_LIMIT)', content: authErrors[429].content },
        503: { description: 'this server has too many live feeds open (LIVE_FEED_BUSY)', content: authErrors[429].content },
      },
    }),
    (c) => {
      const { streamId } = c.req.valid('param');
      const q = c.req.valid('query');
      const last = lastEventId(c.req.header('last-event-id'));
      const from = q.from_seq_no ?? (last === null ? null : last + 1);
      let feed: SseFeed;
      try {
        // The node response (from @hono/node-server's bindings), to cut off a consumer that stops reading.
        const res = (c.env as { outgoing?: ServerResponse } | undefined)?.outgoing;
        feed = feeds.open(c.get('principal'), streamId, from, res instanceof ServerResponse ? res : undefined);
      } catch (e) {
        if (e instanceof ApiError && (e.code === 'LIVE_FEED_BUSY' || e.code === 'LIVE_FEED_LIMIT')) c.header('Retry-After', String(LIMIT_RETRY_AFTER_S));
        throw e;
      }
      return c.body(feed.body, 200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        // A reverse proxy must pass messages on as they come, not buffer the response.
        'x-accel-buffering': 'no',
      }) as never;
    },
  );
}
