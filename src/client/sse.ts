// A text/event-stream parser (WHATWG HTML, "Server-sent events", §9.2.6 "Interpreting an event stream") over the
// bytes of fetch's ReadableStream: browser-safe, no EventSource (which cannot send Authorization headers).
// Chunks may split anywhere, also inside a UTF-8 sequence or between the CR and LF of a line end.

export interface SseMessage {
  /** the `event:` field; "message" when absent */
  event: string;
  /** the `data:` lines joined with "\n" */
  data: string;
  /** the last event ID at dispatch (the `id:` of this message or of an earlier one) */
  id: string;
}

export interface SseParserOptions {
  /** a field line (or a data buffer) longer than this many characters is a protocol error (default 16 MiB) */
  maxLineChars?: number;
}

export class SseParser {
  private readonly decoder = new TextDecoder('utf-8');
  private readonly maxLine: number;
  private buf = '';
  private afterCR = false;
  private first = true;
  private data: string[] = [];
  private dataChars = 0;
  private eventType = '';
  private sawData = false;
  /** the stream's last event ID (what a reconnect sends as Last-Event-ID) */
  lastEventId = '';
  /** the last `retry:` value in ms, null until the server sends one */
  retryMs: number | null = null;
  /** how many comment lines (": ping") arrived: heartbeats */
  comments = 0;

  constructor(opts: SseParserOptions = {}) {
    this.maxLine = opts.maxLineChars ?? 16 * 2 ** 20;
  }

  /** Feeds bytes; returns the messages they complete, in order. */
  push(bytes: Uint8Array): SseMessage[] {
    return this.feed(this.decoder.decode(bytes, { stream: true }));
  }

  /** The stream ended: an incomplete message is discarded, as the spec says. */
  end(): SseMessage[] {
    const out = this.feed(this.decoder.decode());
    this.buf = '';
    this.data = [];
    this.dataChars = 0;
    this.sawData = false;
    this.eventType = '';
    return out;
  }

  private feed(text: string): SseMessage[] {
    const out: SseMessage[] = [];
    if (this.first && text.length > 0) {
      this.first = false;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    let i = 0;
    // A CR ended the previous chunk: a LF right here belongs to that line end.
    if (this.afterCR && text.length > 0) {
      this.afterCR = false;
      if (text.charCodeAt(0) === 0x0a) i = 1;
    }
    let start = i;
    for (; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c !== 0x0a && c !== 0x0d) continue;
      const line = this.buf + text.slice(start, i);
      this.buf = '';
      this.line(line, out);
      if (c === 0x0d) {
        if (i + 1 < text.length) {
          if (text.charCodeAt(i + 1) === 0x0a) i++;
        } else {
          this.afterCR = true;
        }
      }
      start = i + 1;
    }
    this.buf += text.slice(start);
    if (this.buf.length > this.maxLine) throw new Error(`event-stream line longer than ${this.maxLine} characters`);
    return out;
  }

  private line(line: string, out: SseMessage[]): void {
    if (line === '') {
      this.dispatch(out);
      return;
    }
    if (line.charCodeAt(0) === 0x3a) {
      this.comments++;
      return;
    }
    const colon = line.indexOf(':');
    let field: string;
    let value: string;
    if (colon === -1) {
      field = line;
      value = '';
    } else {
      field = line.slice(0, colon);
      value = line.slice(colon + (line.charCodeAt(colon + 1) === 0x20 ? 2 : 1));
    }
    switch (field) {
      case 'event':
        this.eventType = value;
        break;
      case 'data':
        this.data.push(value);
        this.sawData = true;
        this.dataChars += value.length + 1;
        if (this.dataChars > this.maxLine) throw new Error(`event-stream message longer than ${this.maxLine} characters`);
        break;
      case 'id':
        if (!value.includes('\u0000')) this.lastEventId = value;
        break;
      case 'retry':
        if (/^[0-9]+$/.test(value)) this.retryMs = Number(value);
        break;
      default:
        break; // unknown fields are ignored
    }
  }

  private dispatch(out: SseMessage[]): void {
    if (this.sawData) out.push({ event: this.eventType || 'message', data: this.data.join('\n'), id: this.lastEventId });
    this.data = [];
    this.dataChars = 0;
    this.sawData = false;
    this.eventType = '';
  }
}
