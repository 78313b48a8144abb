// Reading a big audit pack FILE without holding it: `proofstream verify` on a million-event pack (~900 MB of
// JSON, more than one V8 string can hold) in bounded memory.
//
// src/ledger/packs.ts writes a pack in one canonical line layout (docs/bundle.md, "Building packs"):
//
//   {"format":<json>,
//   "manifest":<json>,
//   "stream":<json>,
//   "keys":<json>,
//   "events":[
//   <event>,                     one event per line, each line but the last ending with ","
//   <event>
//   ],
//   "chain":<json>,
//   "checkpoint":<json>,
//   "range_proof":<json>,
//   "consistency":<json>,
//   "witnesses":<json>,
//   "anchors":<json>}
//
// This reader recognizes exactly that layout. The small members come from the first five lines and, because
// `chain` (which the events are checked against) comes after the events, from the last lines, read backwards
// from the end of the file. The events in between are read forward, one line at a time, parsed and handed to
// the verifier in chunks (src/verify/bundle.ts, StreamedEvents → EventRunChecker): nothing but their 32-byte
// hashes is kept. The verifier is the same code as for a parsed document, so the report is the same.
//
// Correctness never depends on the layout, only speed: each line must parse as exactly one JSON value with the
// member name and punctuation above, which makes the value rebuilt from the lines the one JSON.parse would give
// for the whole file. Anything else — another member order, a pretty-printed or minified file, a verify request,
// an event line that is not one JSON value — is refused (openBundleFile returns null), or, when found in the
// middle of the events, flagged (`broken`) so the caller discards the report and uses the whole-document path.
import fs from 'node:fs';
import { StreamedEvents } from '../verify/index.js';

/** Files from this size up are verified streaming (when in the layout); smaller ones are parsed whole. */
export const STREAM_THRESHOLD_BYTES = 16 * 2 ** 20;

/** The first five lines (format … "events":[) and the lines after the events are small; beyond these, give up. */
const HEAD_MAX = 16 * 2 ** 20;
const TAIL_MAX = 64 * 2 ** 20;
const CHUNK = 1 << 20;

const HEAD = [
  { prefix: '{"format":', end: ',' },
  { prefix: '"manifest":', end: ',' },
  { prefix: '"stream":', end: ',' },
  { prefix: '"keys":', end: ',' },
] as const;
const EVENTS_OPEN = '"events":[';
const EVENTS_CLOSE = '],';
const TAIL = [
  { prefix: '"chain":', end: ',' },
  { prefix: '"checkpoint":', end: ',' },
  { prefix: '"range_proof":', end: ',' },
  { prefix: '"consistency":', end: ',' },
  { prefix: '"witnesses":', end: ',' },
  { prefix: '"anchors":', end: '}' },
] as const;
const NL = 0x0a;
/**
 * Parsed events are handed over in groups of at most this many, not a whole read (~1,100 events per MiB): fewer
 * of them alive at once, so the young-generation GC copies less.
 */
const YIELD_EVENTS = 128;

export interface StreamedBundle {
  /** The bundle, its `events` a StreamedEvents read from the file when the verifier asks. */
  object: Record<string, unknown>;
  /** Events read so far. */
  readonly events: number;
  /** Why the events turned out not to be in the layout (the report is then void); null while they are. */
  readonly broken: string | null;
  /** True once the events were read to their end without a layout problem. */
  readonly complete: boolean;
}

/** `"name":<json><end>` → the parsed value, or undefined when the line is not exactly that. */
function member(line: string, prefix: string, end: string): { value: unknown } | undefined {
  if (!line.startsWith(prefix) || !line.endsWith(end) || line.length < prefix.length + end.length + 1) return undefined;
  try {
    return { value: JSON.parse(line.slice(prefix.length, line.length - end.length)) as unknown };
  } catch {
    return undefined;
  }
}

async function readAt(fh: fs.promises.FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await fh.read(buf, got, length - got, position + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return buf.subarray(0, got);
}

/**
 * Opens a pack file written in the canonical line layout. Null when the file is not in it (the caller then
 * parses it whole). The returned object is read lazily: the events are read when the verifier iterates them.
 */
export async function openBundleFile(file: string): Promise<StreamedBundle | null> {
  const fh = await fs.promises.open(file, 'r');
  let head: { values: unknown[]; eventsStart: number } | null;
  let tail: { values: unknown[]; tailStart: number } | null;
  try {
    const size = (await fh.stat()).size;
    head = await readHead(fh, size);
    tail = head ? await readTail(fh, size) : null;
  } finally {
    await fh.close();
  }
  if (!head || !tail || tail.tailStart < head.eventsStart) return null;
  const [format, manifest, stream, keys] = head.values;
  const [chain, checkpoint, rangeProof, consistency, witnesses, anchors] = tail.values;
  const state = { events: 0, broken: null as string | null, complete: false };
  const from = head.eventsStart;
  const to = tail.tailStart;
  const m = manifest as { from_seq_no?: unknown; to_seq_no?: unknown } | null;
  const hint =
    m && typeof m === 'object' && Number.isSafeInteger(m.from_seq_no) && Number.isSafeInteger(m.to_seq_no)
      ? Math.max(1, Math.min(1 << 20, (m.to_seq_no as number) - (m.from_seq_no as number) + 1))
      : 1024;
  // Every event is a JSON.parse result: plain JSON data, so the verifier may take its fast path.
  const events = new StreamedEvents(() => readEvents(file, from, to, state), hint, true);
  const object: Record<string, unknown> = {
    format,
    manifest,
    stream,
    keys,
    events,
    chain,
    checkpoint,
    range_proof: rangeProof,
    consistency,
    witnesses,
    anchors,
  };
  return {
    object,
    get events() {
      return state.events;
    },
    get broken() {
      return state.broken;
    },
    get complete() {
      return state.complete;
    },
  };
}

/** The four members before the events and the `"events":[` line; eventsStart is the offset of the first event line. */
async function readHead(fh: fs.promises.FileHandle, size: number): Promise<{ values: unknown[]; eventsStart: number } | null> {
  const parts: Buffer[] = [];
  let len = 0;
  let lines: number[] = []; // offsets just past each "\n"
  while (lines.length < 5) {
    if (len >= Math.min(size, HEAD_MAX)) return null;
    const chunk = await readAt(fh, len, Math.min(CHUNK, size - len));
    if (chunk.length === 0) return null;
    for (let at = chunk.indexOf(NL); at >= 0 && lines.length < 5; at = chunk.indexOf(NL, at + 1)) lines.push(len + at + 1);
    parts.push(chunk);
    len += chunk.length;
  }
  const buf = Buffer.concat(parts, len);
  const text = (i: number) => buf.toString('utf8', i === 0 ? 0 : lines[i - 1]!, lines[i]! - 1);
  const values: unknown[] = [];
  for (let i = 0; i < HEAD.length; i++) {
    const v = member(text(i), HEAD[i]!.prefix, HEAD[i]!.end);
    if (!v) return null;
    values.push(v.value);
  }
  if (text(4) !== EVENTS_OPEN) return null;
  lines = lines.slice(0, 5);
  return { values, eventsStart: lines[4]! };
}

/** The `],` line closing the events and the six members after it; tailStart is the offset of the `],` line. */
async function readTail(fh: fs.promises.FileHandle, size: number): Promise<{ values: unknown[]; tailStart: number } | null> {
  let start = size;
  let buf = Buffer.alloc(0);
  const marker = Buffer.from('\n],\n');
  let at = -1;
  while (at < 0) {
    if (start === 0 || size - start >= TAIL_MAX) return null;
    const n = Math.min(CHUNK, start);
    start -= n;
    buf = Buffer.concat([await readAt(fh, start, n), buf]);
    at = buf.lastIndexOf(marker);
  }
  const rest = buf.toString('utf8', at + marker.length).split('\n');
  const values: unknown[] = [];
  for (let i = 0; i < TAIL.length; i++) {
    const v = rest[i] === undefined ? undefined : member(rest[i]!, TAIL[i]!.prefix, TAIL[i]!.end);
    if (!v) return null;
    values.push(v.value);
  }
  // After the closing brace only JSON whitespace.
  for (let i = TAIL.length; i < rest.length; i++) if (!/^[ \t\r]*$/.test(rest[i]!)) return null;
  return { values, tailStart: start + at + 1 };
}

/** The event lines in [from, to): each one JSON value, all but the last followed by ",". Yields chunks of parsed events. */
async function* readEvents(
  file: string,
  from: number,
  to: number,
  state: { events: number; broken: string | null; complete: boolean },
): AsyncGenerator<unknown[]> {
  state.events = 0;
  state.broken = null;
  state.complete = false;
  if (to === from) {
    state.complete = true;
    return;
  }
  const input = fs.createReadStream(file, { start: from, end: to - 1, highWaterMark: CHUNK });
  let carry: Buffer | null = null;
  let pos = from; // file offset of the start of the current line
  let lineNo = 0;
  const fail = (why: string) => {
    state.broken = `event line ${lineNo + 1} (byte ${pos}): ${why}`;
  };
  try {
    for await (const chunk of input as AsyncIterable<Buffer>) {
      let out: unknown[] = [];
      let start = 0;
      for (let nl = chunk.indexOf(NL); nl >= 0; nl = chunk.indexOf(NL, start)) {
        let line: string;
        let lineBytes: number;
        if (carry) {
          // A line split across reads; "\n" never occurs inside a UTF-8 sequence, so decoding per line is exact.
          lineBytes = carry.length + nl;
          line = Buffer.concat([carry, chunk.subarray(0, nl)]).toString('utf8');
          carry = null;
        } else {
          lineBytes = nl - start;
          line = chunk.toString('utf8', start, nl);
        }
        const next = pos + lineBytes + 1;
        const last = next === to;
        const value = eventLine(line, last);
        if (value === undefined) {
          fail(last ? 'the last event line must be one JSON value' : 'not one JSON value followed by ","');
          return;
        }
        out.push(value.value);
        lineNo++;
        pos = next;
        start = nl + 1;
        if (out.length === YIELD_EVENTS) {
          state.events += out.length;
          yield out;
          out = [];
        }
      }
      if (start < chunk.length) carry = carry ? Buffer.concat([carry, chunk.subarray(start)]) : Buffer.from(chunk.subarray(start));
      state.events += out.length;
      if (out.length > 0) yield out;
    }
    if (carry || pos !== to) {
      fail('the events do not end with a complete line');
      return;
    }
    state.complete = true;
  } finally {
    input.destroy();
  }
}

function eventLine(line: string, last: boolean): { value: unknown } | undefined {
  const body = last ? line : line.endsWith(',') ? line.slice(0, -1) : null;
  if (body === null || body.length === 0 || (last && body.endsWith(','))) return undefined;
  try {
    return { value: JSON.parse(body) as unknown };
  } catch {
    return undefined;
  }
}
