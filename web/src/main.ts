// The auditor page: picks the evidence and the trust, hands both to the verification worker, shows the report and
// pages through the events. Builds the DOM with textContent only (evidence is untrusted text). Sends nothing.
import VerifyWorker from './worker.ts?worker&inline';
import type { Check, PendingEvidence, Problem, Report } from '../../src/verify/index.js';
import type { EventRow, FromWorker, Summary, ToWorker, TrustInput } from './messages.js';

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} missing`);
  return el as T;
};

type Child = Node | string | null | undefined | false;
function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

/** The CLI's warning, word for word but for how to give keys here. */
const BUNDLE_KEYS_WARNING =
  'WARNING: no keys or trust policy given: the keys were taken from the evidence itself. This shows it is internally ' +
  "consistent, not that a ledger you trust issued it. Give the ledger's GET /v2/keys (or its trust policy) under Trust for that.";

const PAGE = 100;

const drop = $('drop');
const fileInput = $<HTMLInputElement>('file');
const fileName = $('file-name');
const trustBundle = $<HTMLInputElement>('trust-bundle');
const trustGiven = $<HTMLInputElement>('trust-given');
const trustInputs = $('trust-inputs');
const trustFile = $<HTMLInputElement>('trust-file');
const trustText = $<HTMLTextAreaElement>('trust-text');
const verifyBtn = $<HTMLButtonElement>('verify');
const progressBox = $('progress-box');
const progressLabel = $('progress-label');
const progressBar = $<HTMLProgressElement>('progress');
const progressText = $('progress-text');
const verdict = $('verdict');
const reportEl = $('report');
const eventsBox = $('events');
const search = $<HTMLInputElement>('search');
const eventsCount = $('events-count');
const eventsBody = $('events-table').querySelector('tbody')!;
const prevBtn = $<HTMLButtonElement>('prev');
const nextBtn = $<HTMLButtonElement>('next');

let evidence: File | null = null;
let worker: Worker | null = null;
let running = false;
let offset = 0;
let matched = 0;
let queryId = 0;

// The page's state for tests and scripts: idle | running | done | error.
const setState = (s: string) => document.body.setAttribute('data-state', s);
setState('idle');

function startWorker(): Worker {
  // A fresh worker per verification: the last one's events are dropped with it, and a stuck run can be abandoned.
  worker?.terminate();
  const w = new VerifyWorker();
  w.onmessage = (e: MessageEvent<FromWorker>) => onMessage(e.data);
  w.onerror = (e) => showError(`the verifier failed: ${e.message || 'worker error'}`);
  worker = w;
  return w;
}

function pick(file: File | undefined): void {
  if (!file) return;
  evidence = file;
  fileName.textContent = `Chosen: ${file.name} (${fmtBytes(file.size)})`;
  verifyBtn.disabled = false;
  void run();
}

drop.addEventListener('click', () => fileInput.click());
drop.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' || e.key === ' ') {
    e.preventDefault();
    fileInput.click();
  }
});
drop.addEventListener('dragover', (e) => {
  e.preventDefault();
  drop.classList.add('over');
});
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  pick(e.dataTransfer?.files[0]);
});
// A file dropped anywhere else must not make the browser navigate away to it.
window.addEventListener('dragover', (e) => e.preventDefault());
window.addEventListener('drop', (e) => e.preventDefault());
fileInput.addEventListener('change', () => pick(fileInput.files?.[0]));

const syncTrust = () => {
  trustInputs.hidden = !trustGiven.checked;
};
trustBundle.addEventListener('change', syncTrust);
trustGiven.addEventListener('change', syncTrust);
trustFile.addEventListener('change', async () => {
  const f = trustFile.files?.[0];
  if (!f) return;
  trustText.value = await f.text();
  trustText.dataset.name = f.name;
  if (evidence) void run();
});
trustText.addEventListener('input', () => delete trustText.dataset.name);
verifyBtn.addEventListener('click', () => void run());

function trustInput(): TrustInput {
  if (!trustGiven.checked || trustText.value.trim() === '') return { kind: 'none' };
  return { kind: 'text', text: trustText.value, name: trustText.dataset.name ?? 'the pasted trust' };
}

async function run(): Promise<void> {
  if (!evidence) return;
  running = true;
  setState('running');
  verdict.textContent = `Verifying ${evidence.name}…`;
  verdict.className = '';
  reportEl.replaceChildren();
  eventsBox.hidden = true;
  progressBox.hidden = false;
  progressBar.value = 0;
  progressText.textContent = '';
  const w = startWorker();
  const msg: ToWorker = { type: 'verify', file: evidence, name: evidence.name, trust: trustInput() };
  w.postMessage(msg);
}

function onMessage(m: FromWorker): void {
  if (m.type === 'progress') {
    progressLabel.textContent = m.phase === 'reading' ? 'Reading the file' : m.phase === 'parsing' ? 'Parsing JSON' : 'Verifying';
    if (m.total > 0) {
      progressBar.max = m.total;
      progressBar.value = m.done;
    } else progressBar.removeAttribute('value');
    progressText.textContent =
      m.phase === 'reading' ? `${fmtBytes(m.done)} of ${fmtBytes(m.total)}` : m.phase === 'verifying' && m.total > 0 ? `${fmtInt(m.done)} of ${fmtInt(m.total)} events` : '';
    document.body.setAttribute('data-progress', `${m.phase}:${m.done}/${m.total}`);
  } else if (m.type === 'result') {
    running = false;
    progressBox.hidden = true;
    showReport(m.report, m.summary, m.ms);
    // For bench/browser-verify.ts: where the time went.
    document.body.setAttribute('data-timing', JSON.stringify({ total_ms: m.ms, ...m.timing }));
    setState('done');
  } else if (m.type === 'error') {
    showError(m.message);
  } else if (m.type === 'events') {
    if (m.id !== queryId) return; // an older query's answer
    renderEvents(m.rows, m.matched, m.total);
  }
}

function showError(message: string): void {
  running = false;
  progressBox.hidden = true;
  verdict.className = 'verdict error';
  verdict.textContent = `Could not verify: ${message}`;
  setState('error');
}

const STATUS_WORD = { valid: 'VALID', invalid: 'INVALID', pending: 'PENDING' } as const;
const MARK = { passed: '✓', failed: '✗', skipped: '–' } as const;

function showReport(r: Report, s: Summary, ms: number): void {
  verdict.className = `verdict ${r.status}`;
  verdict.textContent =
    `${STATUS_WORD[r.status]} — ${r.kind}` +
    (s.events > 0 ? `, ${fmtInt(s.events)} events` : '') +
    `, ${r.problems.length} problem${r.problems.length === 1 ? '' : 's'}` +
    (r.status === 'pending' ? ' (only evidence still to come is missing)' : '') +
    ` (${(ms / 1000).toFixed(1)} s)`;
  document.body.setAttribute('data-status', r.status);

  const parts: Node[] = [];
  if (s.trust === 'bundle') parts.push(h('p', { class: 'warning', role: 'alert', id: 'bundle-keys-warning' }, BUNDLE_KEYS_WARNING));
  else if (s.trust === 'none') parts.push(h('p', { class: 'warning' }, 'No keys or trust policy were given: signatures could not be checked against anything you trust.'));

  parts.push(
    h(
      'dl',
      { class: 'facts', id: 'facts' },
      ...fact('Kind', r.kind),
      ...fact('Trust', s.trust === 'bundle' ? "the evidence's own keys" : s.trust === 'none' ? 'none' : `${s.trust === 'keys' ? 'keys file' : 'trust policy'}: ${s.trustName}`),
      ...(s.stream_id ? fact('Stream', s.stream_id) : []),
      ...(s.range ? fact('Range (seq_no)', s.range) : []),
      ...(s.checkpoint
        ? [
            ...fact('Checkpoint', `${s.checkpoint.checkpoint_id} — tree size ${s.checkpoint.tree_size}`),
            ...fact('Checkpoint origin', s.checkpoint.origin),
            ...fact('Root hash', s.checkpoint.root_hash),
          ]
        : []),
      ...fact('Witness quorum', s.quorum ?? (s.trust === 'policy' ? 'no witness cosignatures required' : 'not checked: no trust policy given')),
      ...fact('Witnesses', s.witnesses.length ? s.witnesses.map((w) => `${w.name} (${w.timestamp})`).join('; ') : 'none in the evidence'),
      ...fact('Anchor', s.anchors.length ? s.anchors.map((a) => `${a.kind} ${a.epoch_id}, time ${a.time || 'unknown'}${a.tsa ? `, TSA ${a.tsa}` : ''}`).join('; ') : 'none in the evidence'),
    ),
  );

  // Problems first: what is wrong is what an auditor reads first; every check follows.
  parts.push(h('h3', {}, `Problems (${r.problems.length})`), r.problems.length ? problemsTable(r.problems) : h('p', {}, 'None.'));
  parts.push(h('h3', {}, `Checks (${r.checks.length})`), checksTable(r.checks));
  if (r.pending?.length) parts.push(h('h3', {}, 'Pending evidence (nothing is wrong yet; it is not there yet)'), pendingList(r.pending));
  if (r.unauthenticated?.length) {
    parts.push(
      h('h3', {}, 'Not authenticated'),
      h('p', { class: 'hint' }, 'Labels: nothing verified binds these members (* = every element).'),
      h('ul', { class: 'mono' }, ...r.unauthenticated.map((p) => h('li', {}, p))),
    );
  }
  if (r.fork_evidence) {
    const blob = new Blob([JSON.stringify(r.fork_evidence, null, 2)], { type: 'application/json' });
    parts.push(h('p', {}, h('a', { href: URL.createObjectURL(blob), download: 'fork-evidence.json' }, 'Download the fork evidence (anyone can re-verify it)')));
  }
  if (s.trust === 'bundle') parts.push(h('p', { class: 'warning' }, BUNDLE_KEYS_WARNING));
  reportEl.replaceChildren(...parts);

  if (s.events > 0) {
    eventsBox.hidden = false;
    search.value = '';
    offset = 0;
    query();
  }
}

function fact(term: string, value: string): Node[] {
  return [h('dt', {}, term), h('dd', {}, value)];
}

function checksTable(checks: Check[]): HTMLElement {
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { id: 'checks' },
      h('caption', { class: 'visually-hidden' }, 'Every check the verifier ran, with its status'),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Status'), h('th', { scope: 'col' }, 'Check'), h('th', { scope: 'col' }, 'Reason'))),
      h(
        'tbody',
        {},
        ...checks.map((c) =>
          h('tr', { class: c.status, 'data-status': c.status }, h('td', {}, `${MARK[c.status]} ${c.status}`), h('td', {}, c.name), h('td', {}, c.reason ?? '')),
        ),
      ),
    ),
  );
}

function problemsTable(problems: Problem[]): HTMLElement {
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { id: 'problems' },
      h('caption', { class: 'visually-hidden' }, 'Every problem, with its code, JSON pointer and message'),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Code'), h('th', { scope: 'col' }, 'Path'), h('th', { scope: 'col' }, 'Message'))),
      h(
        'tbody',
        {},
        ...problems.map((p) => h('tr', {}, h('td', { class: 'mono code' }, p.code), h('td', { class: 'mono' }, p.path === '' ? '(object)' : p.path), h('td', {}, p.message))),
      ),
    ),
  );
}

function pendingList(list: PendingEvidence[]): HTMLElement {
  return h('ul', {}, ...list.map((p) => h('li', {}, `${p.evidence} at ${p.path}: ${p.missing}. Retry: ${p.retry} (in about ${p.retry_after_s} s).`)));
}

// Events: the worker keeps them; the page asks for one page of 100 at a time.
let searchTimer: ReturnType<typeof setTimeout> | undefined;
search.addEventListener('input', () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => {
    offset = 0;
    query();
  }, 200);
});
prevBtn.addEventListener('click', () => {
  offset = Math.max(0, offset - PAGE);
  query();
});
nextBtn.addEventListener('click', () => {
  if (offset + PAGE < matched) offset += PAGE;
  query();
});

function query(): void {
  if (!worker || running) return;
  const m: ToWorker = { type: 'events', id: ++queryId, query: search.value, offset, limit: PAGE };
  worker.postMessage(m);
}

function renderEvents(rows: EventRow[], m: number, total: number): void {
  matched = m;
  eventsCount.textContent =
    m === 0 ? `no events match (of ${fmtInt(total)})` : `events ${fmtInt(offset + 1)}–${fmtInt(offset + rows.length)} of ${fmtInt(m)}${m !== total ? ` matching (of ${fmtInt(total)})` : ''}`;
  eventsBody.replaceChildren(
    ...rows.map((r) =>
      h(
        'tr',
        {},
        h('td', {}, r.seq_no),
        h('td', {}, r.event_type),
        h('td', {}, r.source_ref),
        h('td', {}, r.occurred_at),
        h('td', { class: 'mono hash', title: r.event_hash }, r.event_hash.slice(0, 16) + (r.event_hash.length > 16 ? '…' : '')),
        h('td', { class: 'mono payload' }, r.payload),
      ),
    ),
  );
  prevBtn.disabled = offset === 0;
  nextBtn.disabled = offset + PAGE >= m;
}

function fmtInt(n: number): string {
  return n.toLocaleString('en-US');
}

function fmtBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}
