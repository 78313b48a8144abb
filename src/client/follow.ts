// follow(): the live feed of one stream (GET /v2/streams/{id}/events/live, docs/api.md) as an async iterator.
//
// Resuming: the iterator remembers the last seq_no it yielded and reconnects with `Last-Event-ID: <seq_no>` after
// a disconnect, an `overflow` close or a silent connection (no byte, not even a `: ping`, for heartbeatTimeoutMs),
// so the server replays from the next one. Events at or below that seq_no are dropped (no duplicate); an event
// beyond the next one is a gap, never yielded: the connection is dropped and resumed from the next one.
import type { Proofstream } from './client.js';
import { ProofstreamError } from './errors.js';
import { SseParser, type SseMessage } from './sse.js';
import { isRetryable, sleep } from './transport.js';
import { assertVerified } from './trust.js';
import type { Checkpoint, Receipt, StoredEvent } from './types.js';
import { errorFromResponse } from './errors.js';

export interface FollowOptions {
  /**
   * The first seq_no to deliver. Default: the event after the stream's head when follow() starts (read with
   * GET /v2/streams/{id}), so every later event is delivered, also across the first reconnect.
   */
  from?: number;
  signal?: AbortSignal;
  /** reconnect when nothing arrives for this long, ms (default 45,000: three server heartbeats) */
  heartbeatTimeoutMs?: number;
  /** reconnect delays: full jitter between 0 and min(max, base·2^n), never below the server's `retry:` (default 250 / 15,000 ms) */
  reconnectBaseMs?: number;
  reconnectMaxMs?: number;
  /** consecutive failed connection attempts before the iterator throws (default Infinity: keep trying) */
  maxReconnects?: number;
  /** verify each event's receipt against the pinned trust (default: the client's verifyReceipts) */
  verifyReceipts?: boolean;
  /** called on every reconnect (after the first connection), with why */
  onReconnect?: (info: { attempt: number; delayMs: number; lastSeqNo: number; reason: string }) => void;
}

export interface FeedEvent {
  type: 'event';
  seq_no: number;
  event: StoredEvent;
  receipt: Receipt;
}

export interface FeedCheckpoint {
  type: 'checkpoint';
  stream_id: string;
  tree_size: number;
  checkpoint: Checkpoint;
  status: 'signed' | 'witnessed' | 'anchored';
}

export type FeedItem = FeedEvent | FeedCheckpoint;

/** Why a connection ended, for the reconnect log. */
class Reconnect {
  constructor(
    readonly reason: string,
    readonly immediate = false,
  ) {}
}

export async function* follow(client: Proofstream, streamId: string, o: FollowOptions = {}): AsyncGenerator<FeedItem> {
  const t = client.transport;
  const verify = o.verifyReceipts ?? client.verifyReceipts;
  const heartbeatMs = o.heartbeatTimeoutMs ?? 45_000;
  const base = o.reconnectBaseMs ?? 250;
  const max = o.reconnectMaxMs ?? 15_000;
  const maxReconnects = o.maxReconnects ?? Infinity;
  let last: number;
  if (o.from !== undefined) {
    if (!Number.isSafeInteger(o.from) || o.from < 1) throw new TypeError('follow: from must be an integer ≥ 1');
    last = o.from - 1;
  } else {
    last = (await client.streams.get(streamId, { signal: o.signal })).head_seq_no;
  }
  let serverRetryMs = 0;
  let failures = 0;
  let connections = 0;
  for (;;) {
    o.signal?.throwIfAborted();
    const ac = new AbortController();
    const onAbort = () => ac.abort(o.signal!.reason);
    o.signal?.addEventListener('abort', onAbort, { once: true });
    let watchdog: ReturnType<typeof setTimeout> | undefined;
    const arm = () => {
      if (watchdog !== undefined) clearTimeout(watchdog);
      watchdog = setTimeout(() => ac.abort(new Reconnect(`nothing received for ${heartbeatMs} ms`)), heartbeatMs);
    };
    let outcome: Reconnect;
    try {
      arm();
      // The first connection names its start (from_seq_no); every reconnect resumes with Last-Event-ID, as an
      // EventSource would.
      const first = connections === 0 && failures === 0;
      const headers = t.headers({ accept: 'text/event-stream', 'cache-control': 'no-cache' });
      if (!first) headers['last-event-id'] = String(last);
      const url = t.url(`/v2/streams/${encodeURIComponent(streamId)}/events/live`, first ? { from_seq_no: last + 1 } : undefined);
      const fetchFn = t.opts.fetch ?? ((i: RequestInfo | URL, init?: RequestInit) => globalThis.fetch(i, init));
      const res = await fetchFn(url, { headers, signal: ac.signal });
      if (!res.ok) {
        const err = errorFromResponse(res.status, await res.text(), res.headers);
        if (!isRetryable(err)) throw err;
        if (err.retryAfterMs !== null) serverRetryMs = Math.max(serverRetryMs, err.retryAfterMs);
        throw new Reconnect(`HTTP ${res.status} ${err.code}`);
      }
      if (!res.body) throw new ProofstreamError({ status: res.status, code: 'FEED_PROTOCOL', message: 'the live feed answered without a body' });
      connections++;
      const parser = new SseParser();
      const reader = res.body.getReader();
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) {
            parser.end();
            outcome = new Reconnect('the server closed the feed');
            break;
          }
          arm();
          failures = 0; // the server is talking: the next reconnect starts its backoff afresh
          let msgs: SseMessage[];
          try {
            msgs = parser.push(value);
          } catch (e) {
            throw new ProofstreamError({ status: 0, code: 'FEED_PROTOCOL', message: `live feed of ${streamId}: ${(e as Error).message}` });
          }
          if (parser.retryMs !== null) serverRetryMs = parser.retryMs;
          let stop: Reconnect | null = null;
          for (const m of msgs) {
            const item = interpret(m, streamId);
            if (item instanceof Reconnect) {
              stop = item;
              break;
            }
            if (item === null) continue;
            if (item.type === 'event') {
              if (item.seq_no <= last) continue; // replayed twice: already delivered
              if (item.seq_no !== last + 1) {
                stop = new Reconnect(`gap: expected seq_no ${last + 1}, got ${item.seq_no}`);
                break;
              }
              if (verify) await assertVerified(client.trust, 'receipt', item.event, `live feed receipt of seq_no ${item.seq_no}`);
              last = item.seq_no;
            }
            // The watchdog times the server, not our consumer: paused while the consumer holds the item.
            if (watchdog !== undefined) clearTimeout(watchdog);
            yield item;
            arm();
          }
          if (stop) {
            outcome = stop;
            break;
          }
        }
      } finally {
        // Whatever ends this connection (break, a throw, the consumer leaving the loop) closes it.
        ac.abort(new Reconnect('closed by the client'));
        reader.releaseLock();
      }
    } catch (e) {
      if (o.signal?.aborted) throw o.signal.reason;
      // Our own errors first: the connection's abort in the finally above must not turn them into a reconnect.
      if (e instanceof ProofstreamError) throw e;
      if (e instanceof Reconnect) outcome = e;
      else if (ac.signal.aborted && ac.signal.reason instanceof Reconnect) outcome = ac.signal.reason;
      else outcome = new Reconnect(`connection failed: ${(e as Error)?.message ?? e}`);
    } finally {
      if (watchdog !== undefined) clearTimeout(watchdog);
      o.signal?.removeEventListener('abort', onAbort);
    }
    failures++;
    if (failures > maxReconnects) {
      throw new ProofstreamError({ status: 0, code: 'NETWORK_ERROR', message: `live feed of ${streamId}: gave up after ${failures - 1} reconnects (${outcome.reason})` });
    }
    const ceiling = Math.min(max, base * 2 ** Math.min(failures - 1, 30));
    const delayMs = outcome.immediate && failures === 1 ? 0 : Math.max(serverRetryMs, Math.random() * ceiling);
    if (connections > 0 || failures > 1) o.onReconnect?.({ attempt: failures, delayMs, lastSeqNo: last, reason: outcome.reason });
    await sleep(delayMs, o.signal);
  }
}

/** One SSE message → a feed item, null (ignored), or a Reconnect (overflow). */
function interpret(m: SseMessage, streamId: string): FeedItem | Reconnect | null {
  let data: unknown;
  try {
    data = JSON.parse(m.data);
  } catch {
    throw new ProofstreamError({ status: 0, code: 'FEED_PROTOCOL', message: `live feed of ${streamId}: ${m.event} message data is not JSON` });
  }
  const d = data as Record<string, unknown>;
  switch (m.event) {
    case 'event': {
      const event = d?.event as StoredEvent | undefined;
      const seq = Number(m.id);
      if (!event || typeof event !== 'object' || !Number.isSafeInteger(seq) || event.seq_no !== seq || event.stream_id !== streamId) {
        throw new ProofstreamError({ status: 0, code: 'FEED_PROTOCOL', message: `live feed of ${streamId}: malformed event message (id ${JSON.stringify(m.id)})` });
      }
      return { type: 'event', seq_no: seq, event, receipt: (d.receipt ?? event) as Receipt };
    }
    case 'checkpoint':
      return { type: 'checkpoint', ...(d as Omit<FeedCheckpoint, 'type'>) };
    case 'overflow':
      // We fell behind the server's buffer; it closes the feed and says where to resume (= our last + 1).
      return new Reconnect(`overflow (resume from ${String(d?.resume_from_seq_no)})`, true);
    case 'error': {
      // The server could not serve the next event (INTEGRITY_ERROR: a stored row fails its hash). Asking again does
      // not heal it: end the iterator with the server's code, after everything before it was delivered.
      const e = (d?.error ?? {}) as { code?: unknown; message?: unknown };
      throw new ProofstreamError({
        status: 0,
        code: typeof e.code === 'string' ? e.code : 'FEED_PROTOCOL',
        message: `live feed of ${streamId}: ${typeof e.message === 'string' ? e.message : 'the server ended the feed with an error'}`,
        details: d,
      });
    }
    default:
      return null; // message types of later versions
  }
}
