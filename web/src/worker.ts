// The auditor page's verification worker: reads the file, parses it and runs the project's verifier
// (src/verify, the same code as `proofstream verify` and POST /v2/verify) off the page's thread, so a large pack
// never freezes the page. It answers event-table queries from the parsed object it keeps. No network: the only
// inputs are the File and the trust text the page posts.
import { parsePolicy, type TrustPolicy } from '../../src/protocol/policy.js';
import { parseTimestampToken } from '../../src/verify/rfc3161.js';
import {
  BUNDLE_KEYS_TRUST_CHECK,
  detectKind,
  isVerifyRequest,
  trustedKeysFromJson,
  verify,
  verifySignaturesInProcess,
  type SignatureVerifier,
  type TrustedKey,
} from '../../src/verify/index.js';
import type { AnchorSummary, EventRow, FromWorker, Phase, Summary, ToWorker, TrustInput, WitnessSummary } from './messages.js';

const scope = self as unknown as { postMessage(m: FromWorker): void; onmessage: ((e: MessageEvent<ToWorker>) => void) | null };
const post = (m: FromWorker) => scope.postMessage(m);

/**
 * Largest file the page reads: V8 strings stop at 2^29 characters (Chromium), and a pack is parsed whole here, at
 * roughly 3–4× its size in memory. Larger packs are for `proofstream verify`, which streams them.
 */
export const MAX_BROWSER_FILE_BYTES = 512 * 1024 * 1024;

/** The events of the last verified object (bundle or stream), for the table. */
let events: unknown[] = [];
/** The last search: its query and the indices it matched, so paging does not search again. */
let lastQuery: { q: string; hits: number[] } | null = null;

scope.onmessage = (e) => {
  const m = e.data;
  if (m.type === 'verify') {
    run(m.file, m.name, m.trust).catch((err: unknown) => post({ type: 'error', message: `verification stopped: ${(err as Error)?.message ?? String(err)}` }));
  } else if (m.type === 'events') {
    post({ type: 'events', id: m.id, ...page(m.query, m.offset, m.limit) });
  }
};

let lastProgress = 0;
function progress(phase: Phase, done: number, total: number, force = false): void {
  // At most ~20 messages a second: the page repaints a bar, not every event.
  const now = Date.now();
  if (!force && now - lastProgress < 50) return;
  lastProgress = now;
  post({ type: 'progress', phase, done, total });
}

async function readText(file: Blob): Promise<string> {
  const total = file.size;
  const reader = file.stream().getReader();
  const decoder = new TextDecoder('utf-8', { fatal: false });
  const parts: string[] = [];
  let done = 0;
  progress('reading', 0, total, true);
  for (;;) {
    const r = await reader.read();
    if (r.done) break;
    done += r.value.byteLength;
    parts.push(decoder.decode(r.value, { stream: true }));
    progress('reading', done, total);
  }
  parts.push(decoder.decode());
  progress('reading', total, total, true);
  return parts.join('');
}

type Trust = { keys?: TrustedKey[]; policy?: string; policyParsed?: TrustPolicy; error?: string };

/** The trust input as the CLI reads --trust / --policy: JSON is a keys file, anything else a policy. */
function readTrust(t: TrustInput): Trust {
  if (t.kind === 'none' || t.text.trim() === '') return {};
  let json: unknown;
  let isJson = true;
  try {
    json = JSON.parse(t.text);
  } catch {
    isJson = false;
  }
  if (isJson) {
    const k = trustedKeysFromJson(json);
    if ('error' in k) return { error: `${t.name}: ${k.error}` };
    return { keys: k.keys };
  }
  try {
    return { policy: t.text, policyParsed: parsePolicy(t.text) };
  } catch (e) {
    return { error: `${t.name} is neither a keys file (JSON) nor a trust policy: ${(e as Error).message}` };
  }
}

async function run(file: Blob, name: string, trustInput: TrustInput): Promise<void> {
  const t0 = performance.now();
  events = [];
  lastQuery = null;
  const trust = readTrust(trustInput);
  if (trust.error !== undefined) return post({ type: 'error', message: trust.error });

  if (file.size > MAX_BROWSER_FILE_BYTES) {
    return post({
      type: 'error',
      message: `${name} is ${Math.round(file.size / 2 ** 20)} MiB: the page reads files of at most ${MAX_BROWSER_FILE_BYTES / 2 ** 20} MiB (a browser parses it whole); verify it with \`proofstream verify ${name}\`, which streams it`,
    });
  }
  const text = await readText(file);
  const t1 = performance.now();
  progress('parsing', 0, 0, true);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    return post({ type: 'error', message: `${name} is not JSON: ${(e as Error).message}` });
  }

  // A POST /v2/verify body {kind?, object, trusted_keys?, policy?} or the object itself, as the CLI reads it.
  let kind: string | undefined;
  let object: unknown = doc;
  let keys = trust.keys;
  let policy = trust.policy;
  let policyParsed = trust.policyParsed;
  if (isVerifyRequest(doc)) {
    kind = typeof doc.kind === 'string' ? doc.kind : undefined;
    object = doc.object;
    if (policy === undefined && keys === undefined && typeof doc.policy === 'string') {
      policy = doc.policy;
      try {
        policyParsed = parsePolicy(policy);
      } catch {
        /* the report says why */
      }
    }
    if (keys === undefined && policy === undefined && Array.isArray(doc.trusted_keys)) {
      const k = trustedKeysFromJson(doc.trusted_keys);
      if ('error' in k) return post({ type: 'error', message: `${name}: trusted_keys: ${k.error}` });
      keys = k.keys;
    }
  }
  const list = object && typeof object === 'object' && Array.isArray((object as { events?: unknown }).events) ? ((object as { events: unknown[] }).events) : [];
  events = list;
  const total = list.length;
  const t2 = performance.now();
  progress('verifying', 0, total, true);

  let checked = 0;
  const counting: SignatureVerifier = {
    // Several batches in flight: WebCrypto verifies on the browser's own threads while the verifier reads on.
    concurrency: 4,
    async verify(jobs) {
      const r = await verifySignaturesInProcess.verify(jobs);
      checked += jobs.length;
      progress('verifying', Math.min(checked, total), total);
      return r;
    },
  };
  const report = await verify(
    { kind, object, trusted_keys: keys, policy },
    { trustBundleKeys: keys === undefined && policy === undefined, signatureVerifier: counting, plainJson: true, caller: 'browser' },
  );
  progress('verifying', total, total, true);
  const fromBundle = report.checks.some((c) => c.name === BUNDLE_KEYS_TRUST_CHECK);
  const summary: Summary = {
    kind: report.kind || detectKind({ kind, object }),
    trust: fromBundle ? 'bundle' : keys !== undefined ? 'keys' : policy !== undefined ? 'policy' : 'none',
    trustName: trustInput.kind === 'text' ? trustInput.name : '',
    quorum: policyParsed ? quorumText(policyParsed) : null,
    checkpoint: checkpointOf(object),
    witnesses: witnessesOf(object),
    anchors: anchorsOf(object),
    events: total,
    stream_id: str(get(object, 'stream_id') ?? get(get(object, 'manifest'), 'stream_id')),
    range: rangeOf(object),
  };
  const t3 = performance.now();
  post({ type: 'result', report, summary, ms: Math.round(t3 - t0), timing: { read_ms: Math.round(t1 - t0), parse_ms: Math.round(t2 - t1), verify_ms: Math.round(t3 - t2) } });
}

const get = (o: unknown, k: string): unknown => (o && typeof o === 'object' && !Array.isArray(o) ? (o as Record<string, unknown>)[k] : undefined);
const str = (v: unknown): string => (v === undefined || v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v));

function quorumText(p: TrustPolicy): string {
  if (p.quorum === null) return 'no witness cosignatures required';
  const g = p.groups.find((x) => x.name === p.quorum);
  return g ? `${g.threshold} of ${g.members.join(', ')} (group ${g.name})` : `witness ${p.quorum}`;
}

function checkpointOf(o: unknown) {
  const c = get(o, 'checkpoint') ?? (get(o, 'note') !== undefined ? o : undefined);
  if (!c || typeof c !== 'object') return null;
  const note = get(c, 'note');
  return {
    checkpoint_id: str(get(c, 'checkpoint_id') ?? get(c, 'id')),
    origin: typeof note === 'string' ? note.split('\n', 1)[0]! : '',
    tree_size: str(get(c, 'tree_size')),
    root_hash: str(get(c, 'root_hash')),
  };
}

function witnessesOf(o: unknown): WitnessSummary[] {
  const w = get(o, 'witnesses');
  if (!Array.isArray(w)) return [];
  return w.slice(0, 100).map((x) => {
    const ts = get(x, 'timestamp');
    return { name: str(get(x, 'name')), timestamp: typeof ts === 'number' && Number.isSafeInteger(ts) ? new Date(ts * 1000).toISOString() : str(ts) };
  });
}

function anchorsOf(o: unknown): AnchorSummary[] {
  const a = get(o, 'anchors');
  if (!Array.isArray(a)) return [];
  return a.slice(0, 20).map((x) => {
    const out: AnchorSummary = { kind: str(get(x, 'kind')), epoch_id: str(get(x, 'epoch_id')), time: '', tsa: '' };
    const token = get(x, 'token');
    if (typeof token === 'string') {
      try {
        const bin = atob(token);
        const bytes = new Uint8Array(bin.length);
        for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
        const { tstInfo, signedData } = parseTimestampToken(bytes);
        out.time = tstInfo.genTime.toISOString();
        const cn = signedData.certificates?.[0];
        if (cn && 'subject' in cn) {
          const tv = cn.subject.typesAndValues.find((t) => t.type === '2.5.4.3');
          out.tsa = tv ? String(tv.value.valueBlock.value) : '';
        }
      } catch {
        out.time = 'token does not parse';
      }
    }
    return out;
  });
}

function rangeOf(o: unknown): string {
  const m = get(o, 'manifest');
  const f = get(m, 'from_seq_no');
  const t = get(m, 'to_seq_no');
  return f !== undefined ? `${str(f)}–${str(t)}` : '';
}

function row(e: unknown, index: number): EventRow {
  const payload = get(e, 'payload');
  let p = '';
  try {
    p = payload === undefined ? '' : JSON.stringify(payload);
  } catch {
    p = '(unprintable)';
  }
  return {
    index,
    seq_no: str(get(e, 'seq_no')),
    event_type: str(get(e, 'event_type')),
    source_ref: str(get(e, 'source_ref')),
    occurred_at: str(get(e, 'occurred_at')),
    event_hash: str(get(e, 'event_hash')),
    kid: str(get(get(e, 'receipt'), 'kid')),
    payload: p.length > 300 ? p.slice(0, 300) + '…' : p,
  };
}

/** Rows [offset, offset+limit) of the events matching `query` (case-insensitive substring of any shown field). */
function page(query: string, offset: number, limit: number): { rows: EventRow[]; matched: number; total: number } {
  const q = query.trim().toLowerCase();
  const n = Math.max(0, Math.min(200, limit));
  if (q === '') {
    const rows: EventRow[] = [];
    for (let i = offset; i < Math.min(events.length, offset + n); i++) rows.push(row(events[i], i));
    return { rows, matched: events.length, total: events.length };
  }
  if (!lastQuery || lastQuery.q !== q) {
    const hits: number[] = [];
    for (let i = 0; i < events.length; i++) {
      const r = row(events[i], i);
      const hay = `${r.seq_no}\u0000${r.event_type}\u0000${r.source_ref}\u0000${r.occurred_at}\u0000${r.event_hash}\u0000${r.kid}\u0000${str(get(events[i], 'payload'))}\u0000${str(get(events[i], 'stream_event_id'))}`;
      if (hay.toLowerCase().includes(q)) hits.push(i);
    }
    lastQuery = { q, hits };
  }
  const hits = lastQuery.hits;
  return { rows: hits.slice(offset, offset + n).map((i) => row(events[i], i)), matched: hits.length, total: events.length };
}
