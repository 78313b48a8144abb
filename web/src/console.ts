// The console: a tenant's streams, events with receipts, checkpoints with witness and anchor status, and audit packs
// (build, wait for evidence, download; then verify them on the auditor page). The API key lives in sessionStorage
// only (gone with the tab). Error envelopes are shown as the API sent them: code and message.

const KEY = 'proofstream.apiKey';
const $ = <T extends HTMLElement = HTMLElement>(id: string): T => document.getElementById(id) as T;

function cell(text: string, cls = ''): HTMLTableCellElement {
  const td = document.createElement('td');
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

function row(...cells: HTMLTableCellElement[]): HTMLTableRowElement {
  const tr = document.createElement('tr');
  tr.append(...cells);
  return tr;
}

class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly retryAfter: number | null,
  ) {
    super(message);
  }
}

async function api(method: string, path: string, body?: unknown): Promise<Response> {
  const key = sessionStorage.getItem(KEY);
  const headers: Record<string, string> = {};
  if (key) headers.authorization = `Bearer ${key}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (!res.ok) {
    let code = `HTTP_${res.status}`;
    let message = res.statusText;
    try {
      const e = (await res.json()) as { error?: { code?: string; message?: string } };
      code = e.error?.code ?? code;
      message = e.error?.message ?? message;
    } catch {
      /* not an envelope */
    }
    const ra = Number(res.headers.get('retry-after'));
    throw new ApiFailure(res.status, code, message, Number.isFinite(ra) && ra > 0 ? ra : null);
  }
  return res;
}

const getJson = async <T>(path: string): Promise<T> => (await (await api('GET', path)).json()) as T;

function showError(e: unknown): void {
  const box = $('console-error');
  box.hidden = false;
  box.textContent = e instanceof ApiFailure ? `${e.code}: ${e.message}` : `Error: ${(e as Error)?.message ?? String(e)}`;
}

function clearError(): void {
  $('console-error').hidden = true;
}

interface Stream {
  stream_id: string;
  use_case: string;
  head_seq_no: number;
  stream_head_hash: string;
  created_at: string;
}

async function loadStreams(): Promise<void> {
  clearError();
  const body = $('streams').querySelector('tbody')!;
  body.replaceChildren();
  if (!sessionStorage.getItem(KEY)) return;
  try {
    const r = await getJson<{ streams: Stream[] }>('/v2/streams?limit=200');
    for (const s of r.streams) {
      const open = document.createElement('button');
      open.type = 'button';
      open.textContent = 'Open';
      open.setAttribute('aria-label', `Open stream ${s.stream_id}`);
      open.addEventListener('click', () => void openStream(s));
      const td = document.createElement('td');
      td.append(open);
      body.append(row(cell(s.stream_id, 'mono'), cell(s.use_case), cell(String(s.head_seq_no)), cell(s.stream_head_hash.slice(0, 16) + '…', 'mono'), cell(s.created_at), td));
    }
    if (r.streams.length === 0) body.append(row(cell('No streams visible to this key.')));
  } catch (e) {
    showError(e);
  }
}

let current: Stream | null = null;

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
  if (!sessionStorage.getItem(KEY)) return;
  try {
    const k = (await getJson<{ api_key: ApiKeyView }>('/v2/me')).api_key;
    info.textContent =
      `Key ${k.id}: tenant ${k.tenant}, ${k.tenant_wide ? 'every system of it' : `system ${k.system}`}; ` +
      `scopes ${k.scopes.join(', ')}; tier ${k.tier}; ${k.expires_at ? `expires ${k.expires_at}` : 'no expiry'}.`;
  } catch (e) {
    showError(e);
  }
}

interface WitnessStatus {
  name: string;
  failures: number;
  last_error: { message: string; at: string } | null;
  last_success_at: string | null;
  streams: { stream_id: string; last_cosigned_size: number }[];
}

/** GET /v2/witnesses: each witness's health, and its lag on the open stream (head − last cosigned size). */
async function loadWitnesses(): Promise<void> {
  const body = $('witnesses').querySelector('tbody')!;
  body.replaceChildren();
  $('witness-quorum').textContent = '';
  if (!sessionStorage.getItem(KEY)) return;
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

async function openStream(s: Stream): Promise<void> {
  clearError();
  current = s;
  $('stream').hidden = false;
  $('stream-h').textContent = `Stream ${s.stream_id}`;
  ($('pack-to') as HTMLInputElement).value = String(Math.max(1, s.head_seq_no));
  void loadWitnesses();
  $('pack-status').textContent = '';
  try {
    const cps = await getJson<{
      checkpoints: { checkpoint_id: string; tree_size: number; created_at: string; witness_quorum: { required: number; count: number; met: boolean }; anchor: { gen_time?: string } | null; anchor_required: boolean }[];
    }>(`/v2/streams/${encodeURIComponent(s.stream_id)}/checkpoints?limit=50`);
    $('checkpoints').querySelector('tbody')!.replaceChildren(
      ...cps.checkpoints.map((c) =>
        row(
          cell(String(c.tree_size)),
          cell(c.checkpoint_id, 'mono'),
          cell(c.created_at),
          cell(c.witness_quorum.required === 0 ? `none required (${c.witness_quorum.count} cosigned)` : `${c.witness_quorum.count} of ${c.witness_quorum.required} required${c.witness_quorum.met ? ' (met)' : ' (waiting)'}`),
          cell(c.anchor ? `anchored${c.anchor.gen_time ? ` ${c.anchor.gen_time}` : ''}` : c.anchor_required ? 'waiting' : 'no TSA configured'),
        ),
      ),
    );
    const ev = await getJson<{ events: { seq_no: number; event_type: string; source_ref: string; received_at: string; receipt: { kid: string; signature: string } }[] }>(
      `/v2/streams/${encodeURIComponent(s.stream_id)}/events?from_seq_no=1&limit=100`,
    );
    $('stream-events').querySelector('tbody')!.replaceChildren(
      ...ev.events.map((e) => row(cell(String(e.seq_no)), cell(e.event_type), cell(e.source_ref), cell(e.received_at), cell(`${e.receipt.kid} ${e.receipt.signature.slice(0, 12)}…`, 'mono'))),
    );
  } catch (e) {
    showError(e);
  }
}

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
      const a = document.createElement('a');
      a.id = 'pack-download';
      a.href = URL.createObjectURL(blob);
      a.download = `pack-${current.stream_id}-${from}-${to}.json`;
      a.textContent = `Download ${a.download} (${blob.size.toLocaleString('en-US')} bytes)`;
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

export function startConsole(): void {
  const input = $('api-key') as HTMLInputElement;
  $('key-save').addEventListener('click', () => {
    if (input.value.trim() === '') return;
    sessionStorage.setItem(KEY, input.value.trim());
    input.value = '';
    void loadKeyInfo().then(loadStreams).then(loadWitnesses);
  });
  $('key-forget').addEventListener('click', () => {
    sessionStorage.removeItem(KEY);
    $('stream').hidden = true;
    void loadKeyInfo().then(loadStreams).then(loadWitnesses);
  });
  $('pack-build').addEventListener('click', () => void buildPack());
  void loadKeyInfo().then(loadStreams).then(loadWitnesses);
}
