// The console: a tenant's streams, their windows, checkpoints (witness and anchor status) and events with receipts,
// audit packs (build, wait for evidence, download; then verify them on the auditor page), witnesses, the key's scopes,
// and the CI/CD, pipeline and build views. Every list pages with the API's cursor (console/pager.ts). The API key lives
// in sessionStorage only (gone with the tab). Error envelopes are shown as the API sent them: code and message.

import { ApiFailure, FORGET_EVENT, KEY, api, clearError, getJson, hasKey, pageSize, showError } from './console/api.js';
import { startCicd } from './console/cicd.js';
import { showDetail, showEvent, showReceipt, startDetail } from './console/detail.js';
import { $, button, cell, downloadLink, emptyRow, facts, headRow, heading, nodeCell, para, row, short } from './console/dom.js';
import { Pager } from './console/pager.js';
import { startExtraViews } from './console/views.js';

interface Stream {
  stream_id: string;
  use_case: string;
  head_seq_no: number;
  stream_head_hash: string;
  created_at: string;
}

interface CheckpointView {
  checkpoint_id: string;
  tree_size: number;
  root_hash: string;
  window_id: string;
  created_at: string;
  cosignatures: { witness: string; timestamp: number }[];
  witness_quorum: { required: number; count: number; met: boolean };
  anchor: { gen_time?: string; epoch_id?: string } | null;
  anchor_required: boolean;
}

const table = (id: string) => $(id) as HTMLTableElement;
const tbody = (id: string) => table(id).tBodies[0]!;

let current: Stream | null = null;

// ---- streams ----

// Made in startConsole: app.js holds the auditor page too, where these elements do not exist.
let streamsPager: Pager<string | null>;
const makeStreamsPager = () =>
  new Pager<string | null>($('streams-pager'), 'streams', null, async (cursor) => {
  const body = tbody('streams');
  if (!hasKey()) {
    body.replaceChildren();
    return { next: null };
  }
  try {
    const q = new URLSearchParams({ limit: String(pageSize(200)) });
    if (cursor) q.set('cursor', cursor);
    const r = await getJson<{ streams: Stream[]; next_cursor: string | null }>(`/v2/streams?${q}`);
    body.replaceChildren(
      ...r.streams.map((s) =>
        row(cell(s.stream_id, 'mono'), cell(s.use_case), cell(String(s.head_seq_no)), cell(short(s.stream_head_hash, 16), 'mono'), cell(s.created_at), nodeCell(button('Open', `Open stream ${s.stream_id}`, () => void openStream(s)))),
      ),
    );
    if (r.streams.length === 0) body.append(emptyRow(table('streams'), 'No streams visible to this key.'));
    return { next: r.next_cursor };
  } catch (e) {
    body.replaceChildren();
    showError(e);
    throw e;
  }
});

// ---- the key ----

interface ApiKeyView {
  id: string;
  tenant: string;
  system: string;
  scopes: string[];
  tenant_wide: boolean;
  tier: string;
  expires_at: string | null;
}

/** GET /v2/me: which key this is and what it may do (any valid key may ask). */
async function loadKeyInfo(): Promise<void> {
  const info = $('key-info');
  info.textContent = '';
  if (!hasKey()) return;
  try {
    const k = (await getJson<{ api_key: ApiKeyView }>('/v2/me')).api_key;
    info.textContent =
      `Key ${k.id}: tenant ${k.tenant}, ${k.tenant_wide ? 'every system of it' : `system ${k.system}`}; ` +
      `scopes ${k.scopes.join(', ')}; tier ${k.tier}; ${k.expires_at ? `expires ${k.expires_at}` : 'no expiry'}.`;
  } catch (e) {
    showError(e);
  }
}

// ---- witnesses ----

interface WitnessStatus {
  name: string;
  failures: number;
  last_error: { message: string; at: string } | null;
  last_success_at: string | null;
  streams: { stream_id: string; last_cosigned_size: number }[];
}

/** GET /v2/witnesses: each witness's health, and its lag on the open stream (head − last cosigned size). */
async function loadWitnesses(): Promise<void> {
  const body = tbody('witnesses');
  body.replaceChildren();
  $('witness-quorum').textContent = '';
  if (!hasKey()) return;
  try {
    const r = await getJson<{ quorum: number; witnesses: WitnessStatus[] }>('/v2/witnesses');
    $('witness-quorum').textContent =
      r.witnesses.length === 0 ? 'No witnesses configured: checkpoints need no cosignatures.' : `Quorum: ${r.quorum} of ${r.witnesses.length} witnesses must cosign each checkpoint.`;
    for (const w of r.witnesses) {
      const onStream = current ? w.streams.find((x) => x.stream_id === current!.stream_id) : undefined;
      const lag = current ? `${Math.max(0, current.head_seq_no - (onStream?.last_cosigned_size ?? 0))} events` : 'open a stream';
      body.append(row(cell(w.name), cell(String(w.failures)), cell(w.last_success_at ?? 'never'), cell(w.last_error ? `${w.last_error.at}: ${w.last_error.message}` : ''), cell(lag)));
    }
  } catch (e) {
    showError(e);
  }
}

// ---- one stream: windows, checkpoints, events ----

const witnessText = (c: CheckpointView) =>
  c.witness_quorum.required === 0
    ? `none required (${c.witness_quorum.count} cosigned)`
    : `${c.witness_quorum.count} of ${c.witness_quorum.required} required${c.witness_quorum.met ? ' (met)' : ' (waiting)'}`;
const anchorText = (c: CheckpointView) => (c.anchor ? `anchored${c.anchor.gen_time ? ` ${c.anchor.gen_time}` : ''}` : c.anchor_required ? 'waiting' : 'no TSA configured');
/** Complete evidence is what an audit pack needs: the witness quorum, and the anchor when a TSA is configured. */
const evidenceComplete = (c: CheckpointView) => c.witness_quorum.met && (c.anchor !== null || !c.anchor_required);

const streamPath = (suffix: string) => `/v2/streams/${encodeURIComponent(current!.stream_id)}${suffix}`;

let checkpointsPager: Pager<number | null>;
const makeCheckpointsPager = () =>
  new Pager<number | null>($('checkpoints-pager'), 'checkpoints', null, async (before) => {
  if (!current) return { next: null };
  try {
    const q = new URLSearchParams({ limit: String(pageSize(200)) });
    if (before !== null) q.set('before', String(before));
    const r = await getJson<{ checkpoints: CheckpointView[]; next_before: number | null }>(streamPath(`/checkpoints?${q}`));
    const body = tbody('checkpoints');
    body.replaceChildren(...r.checkpoints.map((c) => row(cell(String(c.tree_size)), cell(c.checkpoint_id, 'mono'), cell(c.created_at), cell(witnessText(c)), cell(anchorText(c)))));
    if (r.checkpoints.length === 0) body.append(emptyRow(table('checkpoints'), 'No checkpoint yet: the first window is not sealed.'));
    return { next: r.next_before };
  } catch (e) {
    showError(e);
    throw e;
  }
});

/**
 * Windows, newest first. Each sealed window is the window of one checkpoint (GET /v2/streams/{id}/checkpoints), so the
 * list pages with the checkpoints' cursor; one checkpoint more than shown is read to know where the last shown window
 * starts (the previous checkpoint's size + 1), hence at most 199 windows a page. Page 1 starts with the open window
 * (events after the newest checkpoint) when there is one.
 */
let windowsPager: Pager<number | null>;
const makeWindowsPager = () =>
  new Pager<number | null>($('windows-pager'), 'windows', null, async (before) => {
  if (!current) return { next: null };
  const shown = Math.min(pageSize(200), 199);
  try {
    const q = new URLSearchParams({ limit: String(shown + 1) });
    if (before !== null) q.set('before', String(before));
    const r = await getJson<{ checkpoints: CheckpointView[]; next_before: number | null }>(streamPath(`/checkpoints?${q}`));
    const page = r.checkpoints.slice(0, shown);
    const rows: HTMLTableRowElement[] = [];
    if (before === null) {
      const sealedTo = r.checkpoints[0]?.tree_size ?? 0;
      if (current.head_seq_no > sealedTo) {
        const tr = row(cell('open', 'mono'), cell(`${sealedTo + 1}–${current.head_seq_no}`), cell('open: not sealed yet'), cell(''), cell(''), cell(''), cell(''));
        tr.className = 'open-window';
        rows.push(tr);
      }
    }
    page.forEach((c, i) => {
      const from = (r.checkpoints[i + 1]?.tree_size ?? 0) + 1;
      const state = evidenceComplete(c) ? 'sealed: evidence complete' : 'sealed: evidence pending';
      rows.push(
        row(
          cell(c.window_id, 'mono'),
          cell(`${from}–${c.tree_size}`),
          cell(state),
          cell(`${c.checkpoint_id} (size ${c.tree_size})`, 'mono'),
          cell(witnessText(c)),
          cell(anchorText(c)),
          nodeCell(button('Open', `Open window ${c.window_id}`, () => void openWindow(c.window_id))),
        ),
      );
    });
    const body = tbody('windows');
    body.replaceChildren(...rows);
    if (rows.length === 0) body.append(emptyRow(table('windows'), 'No events yet.'));
    return { next: r.checkpoints.length > shown ? page[page.length - 1]!.tree_size : null };
  } catch (e) {
    showError(e);
    throw e;
  }
});

interface WindowView {
  window_id: string;
  from_seq_no: number;
  to_seq_no: number;
  event_count: number;
  window_root: string;
  trigger: string;
  sealed_at: string;
  checkpoint: CheckpointView & { note: string; cosigned_note: string; anchor: (CheckpointView['anchor'] & { epoch_id: string; gen_time: string }) | null };
  events: { stream_event_id: string; seq_no: number; event_hash: string; leaf_index: number; inclusion_proof: string[] }[];
}

/** At most this many of a window's events are listed in the panel (a window holds up to 100,000). */
const WINDOW_EVENTS_SHOWN = 100;

/** GET /v2/windows/{id}: the window, its checkpoint and evidence, and each event's inclusion proof. */
async function openWindow(windowId: string): Promise<void> {
  const title = `Window ${windowId}`;
  try {
    const w = await getJson<WindowView>(`/v2/windows/${encodeURIComponent(windowId)}`);
    const c = w.checkpoint;
    const cos = c.cosignatures.length === 0 ? 'none' : c.cosignatures.map((x) => `${x.witness} at ${new Date(x.timestamp * 1000).toISOString()}`).join('; ');
    const t = document.createElement('table');
    t.id = 'window-events';
    const cap = t.createCaption();
    cap.textContent = `Events of window ${w.window_id} with their inclusion proofs`;
    cap.className = 'visually-hidden';
    t.createTHead().append(headRow('seq_no', 'event', 'event hash', 'leaf index', 'proof (hashes)'));
    const tb = t.createTBody();
    for (const e of w.events.slice(0, WINDOW_EVENTS_SHOWN)) tb.append(row(cell(String(e.seq_no)), cell(e.stream_event_id, 'mono'), cell(short(e.event_hash, 16), 'mono'), cell(String(e.leaf_index)), cell(String(e.inclusion_proof.length))));
    const wrap = document.createElement('div');
    wrap.className = 'table-wrap';
    wrap.append(t);
    const text = JSON.stringify(w, null, 2);
    showDetail(
      title,
      facts([
        ['state', evidenceComplete(c) ? 'sealed: evidence complete' : 'sealed: evidence pending'],
        ['seq_no', `${w.from_seq_no}–${w.to_seq_no} (${w.event_count} events)`],
        ['window root', w.window_root],
        ['sealed', `${w.sealed_at} (trigger: ${w.trigger})`],
        ['checkpoint', `${c.checkpoint_id}, tree size ${c.tree_size}, root ${c.root_hash}`],
        ['witnesses', `${witnessText(c)}; cosignatures: ${cos}`],
        ['anchor', c.anchor ? `RFC 3161 time ${c.anchor.gen_time}, epoch ${c.anchor.epoch_id}` : anchorText(c)],
      ]),
      heading(4, w.events.length > WINDOW_EVENTS_SHOWN ? `Events (the first ${WINDOW_EVENTS_SHOWN} of ${w.events.length}; all are in the download)` : 'Events'),
      wrap,
      para(downloadLink('detail-download', `window-${w.window_id}.json`, text), ' · ', downloadLink('detail-note', `checkpoint-${c.checkpoint_id}.txt`, c.cosigned_note, 'text/plain')),
    );
  } catch (e) {
    showError(e);
  }
}

interface EventRow {
  stream_event_id: string;
  seq_no: number;
  event_type: string;
  source_ref: string;
  received_at: string;
  receipt: { kid: string; signature: string };
}

let eventsPager: Pager<number>;
const makeEventsPager = () =>
  new Pager<number>($('events-pager'), 'events', 1, async (fromSeqNo) => {
  if (!current) return { next: null };
  try {
    const ev = await getJson<{ events: EventRow[]; next_from_seq_no: number | null }>(streamPath(`/events?from_seq_no=${fromSeqNo}&limit=${pageSize(1000)}`));
    const body = tbody('stream-events');
    body.replaceChildren(
      ...ev.events.map((e) =>
        row(
          cell(String(e.seq_no)),
          cell(e.event_type),
          cell(e.source_ref),
          cell(e.received_at),
          cell(`${e.receipt.kid} ${e.receipt.signature.slice(0, 12)}…`, 'mono'),
          nodeCell(button('Event', `Event ${e.seq_no} (${e.stream_event_id})`, () => void showEvent(e.stream_event_id)), ' ', button('Receipt', `Receipt of event ${e.seq_no} (${e.stream_event_id})`, () => void showReceipt(e.stream_event_id))),
        ),
      ),
    );
    if (ev.events.length === 0) body.append(emptyRow(table('stream-events'), 'No events yet.'));
    return { next: ev.next_from_seq_no };
  } catch (e) {
    showError(e);
    throw e;
  }
});

export async function openStream(s: Stream): Promise<void> {
  clearError();
  current = s;
  $('stream').hidden = false;
  $('stream-h').textContent = `Stream ${s.stream_id}`;
  ($('pack-to') as HTMLInputElement).value = String(Math.max(1, s.head_seq_no));
  $('pack-status').textContent = '';
  void loadWitnesses();
  await Promise.all([windowsPager.reset(), checkpointsPager.reset(), eventsPager.reset()]);
}

/** Opens a stream by id (from a CI/CD record): GET /v2/streams/{id}, then the ledger view. */
export async function openStreamById(id: string): Promise<void> {
  try {
    const s = await getJson<Stream>(`/v2/streams/${encodeURIComponent(id)}`);
    location.hash = '#ledger';
    await openStream(s);
    $('stream').scrollIntoView({ block: 'start' });
    $('stream-h').setAttribute('tabindex', '-1');
    $('stream-h').focus();
  } catch (e) {
    showError(e);
  }
}

// ---- packs ----

async function buildPack(): Promise<void> {
  if (!current) return;
  clearError();
  const status = $('pack-status');
  const from = Number(($('pack-from') as HTMLInputElement).value);
  const to = Number(($('pack-to') as HTMLInputElement).value);
  const body = { stream_id: current.stream_id, from_seq_no: from, to_seq_no: to };
  // 409 EVIDENCE_PENDING: the range is not sealed, witnessed or anchored yet; wait as Retry-After says, 20 tries.
  for (let attempt = 1; attempt <= 20; attempt++) {
    try {
      status.textContent = `Building the pack of ${current.stream_id} ${from}–${to}…`;
      const res = await api('POST', '/v2/audit/packs', body);
      const blob = await res.blob();
      const a = downloadLink('pack-download', `pack-${current.stream_id}-${from}-${to}.json`, blob);
      const verifyLink = document.createElement('a');
      verifyLink.href = './';
      verifyLink.textContent = 'then drop it on the auditor page to verify it';
      status.replaceChildren('Pack built. ', a, ' — ', verifyLink, '.');
      return;
    } catch (e) {
      if (e instanceof ApiFailure && e.code === 'EVIDENCE_PENDING') {
        const wait = Math.min(e.retryAfter ?? 2, 30);
        status.textContent = `${e.code}: ${e.message} — trying again in ${wait} s (attempt ${attempt} of 20)`;
        await new Promise((r) => setTimeout(r, wait * 1000));
        continue;
      }
      status.textContent = '';
      showError(e);
      return;
    }
  }
}

// ---- views (hash navigation: #ledger, #cicd, #pipelines, #builds) ----

const VIEWS = ['ledger', 'cicd', 'pipelines', 'builds'];
const viewListeners = new Map<string, () => void>();

/** Called when a view is shown (each view loads on first show and when asked again). */
export function onView(name: string, f: () => void): void {
  viewListeners.set(name, f);
}

function showView(): void {
  const wanted = location.hash.slice(1);
  const name = VIEWS.includes(wanted) ? wanted : 'ledger';
  // A detail belongs to the view it was opened from.
  $('detail').hidden = true;
  for (const panel of Array.from(document.querySelectorAll<HTMLElement>('[data-view-panel]'))) panel.hidden = panel.dataset.viewPanel !== name;
  for (const a of Array.from(document.querySelectorAll<HTMLAnchorElement>('nav.views a'))) {
    if (a.dataset.view === name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  viewListeners.get(name)?.();
}

async function refreshAll(): Promise<void> {
  clearError();
  await loadKeyInfo();
  await streamsPager.reset();
  await loadWitnesses();
  showView();
}

export function startConsole(): void {
  streamsPager = makeStreamsPager();
  windowsPager = makeWindowsPager();
  checkpointsPager = makeCheckpointsPager();
  eventsPager = makeEventsPager();
  startDetail();
  const input = $('api-key') as HTMLInputElement;
  $('key-save').addEventListener('click', () => {
    if (input.value.trim() === '') return;
    sessionStorage.setItem(KEY, input.value.trim());
    input.value = '';
    void refreshAll();
  });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') $('key-save').click();
  });
  $('key-forget').addEventListener('click', () => {
    sessionStorage.removeItem(KEY);
    current = null;
    $('stream').hidden = true;
    // Whatever still runs with the old key (a build's event stream, an execution's polling) stops now.
    document.dispatchEvent(new Event(FORGET_EVENT));
    void refreshAll();
  });
  $('page-size').addEventListener('change', () => {
    void streamsPager.reset();
    if (current) void Promise.all([windowsPager.reset(), checkpointsPager.reset(), eventsPager.reset()]);
    viewListeners.get(location.hash.slice(1))?.();
  });
  $('pack-build').addEventListener('click', () => void buildPack());
  startCicd(onView, (id) => void openStreamById(id));
  startExtraViews(onView, (id) => void openStreamById(id));
  window.addEventListener('hashchange', showView);
  void refreshAll();
}
