// A small text/event-stream reader over node:http for the tests: parses the wire format itself (WHATWG HTML §9.2),
// and can stop reading (pause the socket) to play a consumer that falls behind.
import http from 'node:http';
import { sleep } from './wait.js';

export interface SseEvent {
  /** `message` when no `event:` line came */
  event: string;
  id: string | undefined;
  data: string;
  retry: number | undefined;
  /** comment lines (without the leading colon and space) */
  comments: string[];
}

export interface SseClient {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** the body of a non-200 answer, parsed */
  error: any;
  /** every message (including retry-only and comment-only ones), in order */
  messages: SseEvent[];
  /** resolves when the server ended the response (or the connection closed) */
  ended: Promise<void>;
  isEnded(): boolean;
  pause(): void;
  resume(): void;
  close(): void;
  /** polls (with a deadline) until `pred` holds over the messages so far */
  waitFor(pred: (m: SseEvent[]) => boolean, ms?: number, what?: string): Promise<void>;
  /** the `event: event` messages' ids, as numbers */
  ids(): number[];
}

export function openSse(url: string, key: string, headers: Record<string, string> = {}): Promise<SseClient> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { authorization: `Bearer ${key}`, accept: 'text/event-stream', ...headers } }, (res) => {
      const messages: SseEvent[] = [];
      let buf = '';
      let ended = false;
      let cur: SseEvent = fresh();
      res.setEncoding('utf8');
      const endedP = new Promise<void>((r) => {
        const done = () => {
          ended = true;
          r();
        };
        res.once('end', done);
        res.once('close', done);
        res.once('error', done);
      });
      if (res.statusCode !== 200) {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => {
          let error: unknown = text;
          try {
            error = JSON.parse(text);
          } catch {
            /* keep the text */
          }
          resolve({ ...client(), error });
        });
        return;
      }
      res.on('data', (chunk: string) => {
        buf += chunk;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl).replace(/\r$/, '');
          buf = buf.slice(nl + 1);
          if (line === '') {
            if (cur.data !== '' || cur.id !== undefined || cur.retry !== undefined || cur.comments.length || cur.event !== 'message') {
              cur.data = cur.data.replace(/\n$/, '');
              messages.push(cur);
            }
            cur = fresh();
            continue;
          }
          if (line.startsWith(':')) {
            cur.comments.push(line.slice(1).trimStart());
            continue;
          }
          const i = line.indexOf(':');
          const field = i < 0 ? line : line.slice(0, i);
          const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
          if (field === 'data') cur.data += value + '\n';
          else if (field === 'event') cur.event = value;
          else if (field === 'id') cur.id = value;
          else if (field === 'retry') cur.retry = Number(value);
        }
      });
      resolve(client());

      function client(): SseClient {
        return {
          status: res.statusCode!,
          headers: res.headers,
          error: undefined,
          messages,
          ended: endedP,
          isEnded: () => ended,
          pause: () => res.pause(),
          resume: () => res.resume(),
          close: () => req.destroy(),
          async waitFor(pred, ms = 30_000, what = 'the expected messages') {
            const end = Date.now() + ms;
            while (!pred(messages)) {
              if (Date.now() > end) throw new Error(`timed out waiting for ${what}; got ${messages.length} messages (ended: ${ended})`);
              await sleep(20);
            }
          },
          ids: () => messages.filter((m) => m.event === 'event').map((m) => Number(m.id)),
        };
      }
    });
    req.on('error', reject);
  });
}

function fresh(): SseEvent {
  return { event: 'message', id: undefined, data: '', retry: undefined, comments: [] };
}

/** The payloads of `event: event` messages, parsed. */
export const eventData = (c: SseClient) => c.messages.filter((m) => m.event === 'event').map((m) => JSON.parse(m.data));
