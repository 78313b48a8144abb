// Server-sent events with a bounded buffer, resumable from a position: the generic mechanism behind the live feed
// (GET /v2/streams/{id}/events/live) and, later, build events. docs/api.md "Live feed" is the contract.
//
// A feed is a cursor over committed items (positions 1, 2, …) read from the database in pages, never a queue of
// everything committed since the consumer connected: a notification only tells the feed how far the items go. So
// replay and live delivery are one loop and cannot leave a gap or send an item twice, whatever commits while the
// replay is being read. What the server holds per connection is the body's queue (at most `maxBufferBytes`, plus a
// heartbeat or the last message), the rest of one page (sized to about a buffer's worth) and node's socket buffer:
//  - replaying (behind the head as it was when the consumer last caught up), the feed reads on only when the
//    consumer has taken enough to make room (the body stream's pull);
//  - live (caught up), a committed item is queued at once; if it does not fit, the consumer has fallen behind by more
//    than the buffer: it gets `event: overflow` with the position to resume from, and the feed ends.
// A replaying consumer with an item waiting for room that took nothing for a whole heartbeat interval is stalled and
// gets the same overflow. A consumer that does not take the last bytes of an ended feed is cut off (CUT_AFTER_MS).
import type { ServerResponse } from 'node:http';
import { ApiError } from '../ledger/errors.js';
import { errField, log } from '../log.js';

/** One SSE message; `data` may hold newlines (each line becomes a `data:` line). */
export interface SseMessage {
  id?: string | number;
  event?: string;
  data?: string;
  retry?: number;
  comment?: string;
}

/** The wire form (text/event-stream, WHATWG HTML §9.2): `field: value` lines, a blank line ends the message. */
export function sseText(m: SseMessage): string {
  let s = '';
  if (m.comment !== undefined) s += `: ${m.comment}\n`;
  if (m.retry !== undefined) s += `retry: ${m.retry}\n`;
  if (m.id !== undefined) s += `id: ${m.id}\n`;
  if (m.event !== undefined) s += `event: ${m.event}\n`;
  if (m.data !== undefined) for (const line of m.data.split(/\r\n|\r|\n/)) s += `data: ${line}\n`;
  return s + '\n';
}

/** An item at a position, already in wire form. */
export interface FeedItem {
  position: number;
  text: string;
}

/** Reads committed items from `from` on (ascending positions, at most `limit`); fewer or none when there are no more. */
export type FeedReader = (from: number, limit: number) => FeedItem[];

export interface SseOptions {
  /** most bytes queued for one consumer (PROOFSTREAM_SSE_MAX_BUFFER_BYTES) */
  maxBufferBytes: number;
  /** a `: ping` comment this often (PROOFSTREAM_SSE_HEARTBEAT_MS) */
  heartbeatMs: number;
  /** the `retry:` hint sent first and last (PROOFSTREAM_SSE_RETRY_MS) */
  retryMs: number;
  /** items read per page */
  pageSize: number;
  /** the overflow message's data for the position the consumer should resume from */
  overflowData: (resumeFrom: number) => string;
  /**
   * Asked at every heartbeat: why the consumer may no longer read (its key was revoked or expired), or null. A feed
   * is authorized when it opens; this is what makes a revocation reach feeds already open, within one heartbeat.
   */
  refusal?: () => { code: string; message: string } | null;
  /**
   * The last position there will ever be, once known (null: not yet): a feed that has sent it ends with a `retry:`
   * line, as at shutdown (a finished execution's progress, src/http/pipelines/). Absent: the feed never ends by itself.
   */
  endAt?: () => number | null;
}

/** Side messages (checkpoints) held until the items they follow are sent; beyond this many the oldest is dropped. */
const MAX_HELD = 64;

const utf8 = new TextEncoder();

export class SseFeed {
  readonly body: ReadableStream<Uint8Array>;
  private controller!: ReadableStreamDefaultController<Uint8Array>;
  /** the next position to send */
  private next: number;
  /** the highest position known to be committed */
  private target: number;
  private live = false;
  private fillScheduled = false;
  private ended = false;
  private held: Array<{ after: number; bytes: Uint8Array }> = [];
  private heartbeat: NodeJS.Timeout | undefined;
  /** an item is waiting for room in the queue (replaying) */
  private blocked = false;
  /** bytes ever queued; minus what is queued now, what the consumer has taken */
  private enqueuedBytes = 0;
  private takenAtLastBeat = 0;
  /**
   * The rest of the last page read, not sent yet (positions from `next` on): reading a page costs far more than
   * sending one item, so a consumer that makes room one message at a time must not cost a page read per message.
   * Pages are sized so that one holds about a buffer's worth of messages.
   */
  private page: Array<{ position: number; bytes: Uint8Array }> = [];
  private avgItemBytes = 1024;
  private readonly closeHooks: Array<() => void> = [];
  /** most bytes this feed ever had queued (metrics, tests) */
  peakQueuedBytes = 0;

  constructor(
    private readonly read: FeedReader,
    from: number,
    head: number,
    private readonly opts: SseOptions,
    private readonly hooks: { onOverflow?: () => void; onEnding?: () => void } = {},
  ) {
    this.next = from;
    this.target = head;
    this.live = from > head;
    this.body = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.controller = controller;
          // First: how long a client waits before reconnecting (with Last-Event-ID) when this connection ends.
          this.enqueue(utf8.encode(sseText({ retry: opts.retryMs })));
          this.heartbeat = setInterval(() => this.beat(), opts.heartbeatMs);
          this.heartbeat.unref();
        },
        pull: () => {
          this.blocked = false;
          if (!this.live) this.fill();
        },
        cancel: () => this.finish(),
      },
      { highWaterMark: opts.maxBufferBytes, size: (chunk) => chunk.byteLength },
    );
  }

  /** Runs once when the feed ends, however it ends (consumer gone, overflow, shutdown). */
  onClose(fn: () => void): void {
    if (this.ended) fn();
    else this.closeHooks.push(fn);
  }

  get closed(): boolean {
    return this.ended;
  }

  /** Bytes queued for the consumer now. */
  get queuedBytes(): number {
    return this.ended ? 0 : this.opts.maxBufferBytes - (this.controller.desiredSize ?? 0);
  }

  /** Items up to `head` are committed. Live, they are queued now; replaying, they are read when there is room. */
  advance(head: number): void {
    if (this.ended || head <= this.target) return;
    this.target = head;
    if (!this.live || this.fillScheduled) return;
    // Not inside the notification: it runs in the group commit's completion, which must not wait for every feed's
    // reads. Commits until the next turn are read together.
    this.fillScheduled = true;
    setImmediate(() => {
      this.fillScheduled = false;
      if (!this.ended && this.live) this.fill();
    });
  }

  /** A message that follows the item at `after` (a checkpoint of that tree size): sent once that item has been. */
  side(text: string, after: number): void {
    if (this.ended) return;
    this.held.push({ after, bytes: utf8.encode(text) });
    if (this.held.length > MAX_HELD) this.held.shift();
    this.flushHeld();
  }

  /** Ends the feed with a last `retry:` hint (server shutdown): clients reconnect, to the next process. */
  end(): void {
    if (this.ended) return;
    this.enqueue(utf8.encode(sseText({ retry: this.opts.retryMs })));
    this.close();
  }

  private fill(): void {
    try {
      this.fillFromReader();
    } catch (e) {
      // A row that cannot be served (INTEGRITY_ERROR, a closed database): say so and end; reconnecting asks again.
      log.error({ event: 'sse_read_failed', err: errField(e) }, 'a live feed could not read its next items');
      if (this.ended) return;
      const error = e instanceof ApiError ? { code: e.code, message: e.message } : { code: 'INTERNAL_ERROR', message: 'internal error (logged on the server)' };
      this.controller.enqueue(utf8.encode(sseText({ event: 'error', data: JSON.stringify({ error, resume_from_seq_no: this.next }) })));
      this.close();
    }
  }

  private fillFromReader(): void {
    while (!this.ended && this.next <= this.target) {
      if (this.page.length === 0) {
        const limit = Math.max(1, Math.min(this.opts.pageSize, Math.floor(this.opts.maxBufferBytes / this.avgItemBytes)));
        const items = this.read(this.next, limit);
        if (items.length === 0) {
          // Told about rows not visible yet (another writer's, or a rolled-back job's position): the next hint says more.
          this.live = true;
          break;
        }
        let total = 0;
        for (const item of items) {
          if (item.position < this.next) continue;
          const bytes = utf8.encode(item.text);
          total += bytes.byteLength;
          this.page.push({ position: item.position, bytes });
        }
        if (this.page.length) this.avgItemBytes = Math.max(1, Math.ceil(total / this.page.length));
      }
      while (this.page.length) {
        const item = this.page[0]!;
        if (!this.fits(item.bytes.byteLength)) {
          if (this.live) this.overflow();
          else this.blocked = true; // replaying: the next pull (the consumer made room) goes on from here
          return;
        }
        this.page.shift();
        this.enqueue(item.bytes);
        this.next = item.position + 1;
        this.target = Math.max(this.target, item.position);
        this.flushHeld();
        if (this.ended) return;
      }
    }
    if (!this.ended && this.next > this.target) {
      this.live = true;
      this.flushHeld();
    }
    const last = this.ended || !this.live ? null : (this.opts.endAt?.() ?? null);
    if (last !== null && this.next > last && this.held.length === 0) this.end();
  }

  private flushHeld(): void {
    while (!this.ended && this.held.length && this.held[0]!.after < this.next) {
      const { bytes } = this.held[0]!;
      if (!this.fits(bytes.byteLength)) {
        if (this.live) this.overflow();
        else this.blocked = true;
        return;
      }
      this.held.shift();
      this.enqueue(bytes);
    }
  }

  /** Whether `n` more bytes stay within the buffer; a lone message larger than the buffer still goes to an empty queue. */
  private fits(n: number): boolean {
    const queued = this.queuedBytes;
    return queued === 0 || queued + n <= this.opts.maxBufferBytes;
  }

  private enqueue(bytes: Uint8Array): void {
    this.enqueuedBytes += bytes.byteLength;
    this.controller.enqueue(bytes);
    const q = this.queuedBytes;
    if (q > this.peakQueuedBytes) this.peakQueuedBytes = q;
  }

  private beat(): void {
    if (this.ended) return;
    const refused = this.opts.refusal?.();
    if (refused) {
      this.controller.enqueue(utf8.encode(sseText({ event: 'error', data: JSON.stringify({ error: refused, resume_from_seq_no: this.next }) })));
      this.close();
      return;
    }
    const taken = this.enqueuedBytes - this.queuedBytes;
    if (this.blocked && taken === this.takenAtLastBeat) {
      this.overflow(); // an item waited for room a whole interval and the consumer took nothing
      return;
    }
    this.takenAtLastBeat = taken;
    if (this.fits(8)) this.enqueue(utf8.encode(sseText({ comment: 'ping' })));
  }

  /** The consumer fell behind: tell it where to resume (beyond the buffer: one small message) and end. */
  private overflow(): void {
    this.controller.enqueue(utf8.encode(sseText({ event: 'overflow', data: this.opts.overflowData(this.next) })));
    this.hooks.onOverflow?.();
    this.close();
  }

  /**
   * After the feed's last message: `cut` runs if the consumer has still not taken it this long later, so a consumer
   * that stopped reading cannot hold its connection (and socket buffers) forever.
   */
  static CUT_AFTER_MS = 30_000;

  private close(): void {
    try {
      this.controller.close();
    } catch {
      /* already closed or errored by the consumer going away */
    }
    this.hooks.onEnding?.();
    this.finish();
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    clearInterval(this.heartbeat);
    this.held = [];
    this.page = [];
    for (const fn of this.closeHooks.splice(0)) {
      try {
        fn();
      } catch (e) {
        log.error({ event: 'sse_close_hook_failed', err: errField(e) }, 'an SSE close hook failed');
      }
    }
  }
}

/** The open feeds of a server: counts per key for the connection limits, and ending them all at shutdown. */
export class SseRegistry {
  private readonly open = new Set<SseFeed>();
  private readonly perKey = new Map<string, number>();
  readonly stats = { opened: 0, overflows: 0, peakQueuedBytes: 0 };

  constructor(
    readonly maxConnections: number,
    readonly maxPerKey: number,
  ) {}

  get size(): number {
    return this.open.size;
  }

  /** Why a new feed for `key` cannot open now ('total' | 'key'), or null when it can. */
  refusal(key: string): 'total' | 'key' | null {
    if (this.maxConnections > 0 && this.open.size >= this.maxConnections) return 'total';
    if (this.maxPerKey > 0 && (this.perKey.get(key) ?? 0) >= this.maxPerKey) return 'key';
    return null;
  }

  add(feed: SseFeed, key: string): void {
    this.open.add(feed);
    this.perKey.set(key, (this.perKey.get(key) ?? 0) + 1);
    this.stats.opened++;
    feed.onClose(() => {
      this.open.delete(feed);
      const n = (this.perKey.get(key) ?? 1) - 1;
      if (n > 0) this.perKey.set(key, n);
      else this.perKey.delete(key);
      this.stats.peakQueuedBytes = Math.max(this.stats.peakQueuedBytes, feed.peakQueuedBytes);
    });
  }

  /** Bytes queued across all open feeds now. */
  queuedBytes(): number {
    let n = 0;
    for (const f of this.open) n += f.queuedBytes;
    return n;
  }

  /** The largest queue any feed has had (closed ones included). */
  peakQueued(): number {
    let n = this.stats.peakQueuedBytes;
    for (const f of this.open) n = Math.max(n, f.peakQueuedBytes);
    return n;
  }

  /** Server shutdown: every feed gets a last `retry:` and ends, so the server can close its connections. */
  endAll(): void {
    for (const f of [...this.open]) f.end();
  }
}

/**
 * SseOptions.refusal for a feed opened with API key `keyId`: its key revoked, expired or gone ends the feed with
 * AUTHENTICATION_FAILED at the next heartbeat. Every authenticated feed uses this one check.
 */
export function keyRefusal(tenancy: { keyStillValid(keyId: string): { reason: string } | null }, keyId: string): () => { code: string; message: string } | null {
  return () => {
    const why = tenancy.keyStillValid(keyId);
    return why && { code: 'AUTHENTICATION_FAILED', message: `the feed's API key is ${why.reason === 'unknown' ? 'gone' : why.reason}` };
  };
}

/**
 * An `onEnding` hook: a feed ended by the server (its end, overflow, shutdown) whose consumer does not take the last
 * bytes is cut off after CUT_AFTER_MS or two heartbeats, whichever is longer.
 */
export function cutOffWhenEnded(res: ServerResponse | undefined, heartbeatMs: number): () => void {
  return () => {
    if (!res) return;
    const t = setTimeout(() => {
      if (!res.writableFinished) res.destroy();
    }, Math.max(SseFeed.CUT_AFTER_MS, 2 * heartbeatMs));
    t.unref();
    res.once('close', () => clearTimeout(t));
  };
}
