// The builds view (docs/builds.md, /build): start a job (a stored pipeline, or a config plus a .tar.gz of sources),
// follow its events live, and download its result. The events come as server-sent events over fetch (EventSource
// cannot send the Authorization header), parsed by the SDK's SseParser. When the connection ends before the terminal
// `complete` event — a dropped network, a proxy timeout, a server restart — the console reconnects with `?from=<events
// received>`, so the server replays exactly the rest: no gap, no duplicate.

import { SseParser } from '../../../src/client/sse.js';
import { ApiFailure, FORGET_EVENT, authHeaders, clearError, failureOf, showError } from './api.js';
import { $, button, cell, nodeCell, row } from './dom.js';

interface BuildEvent {
  type: string;
  msg?: string;
  position?: number;
  result?: { status: 'ok' } | { status: 'failed'; error: string; error_type: string };
}

interface Job {
  id: string;
  state: string;
  events: number;
}

/** Reconnect backoff: 0.5 s doubling to 8 s; after this many failed attempts in a row the console stops and says so. */
const RECONNECT_FIRST_MS = 500;
const RECONNECT_MAX_MS = 8000;
const RECONNECT_ATTEMPTS = 20;
/** Lines kept in the page's log (a build may print far more; the oldest go first, and the page says how many). */
const LOG_LINES_KEPT = 5000;

const jobs = new Map<string, Job>();
let following: { id: string; abort: AbortController } | null = null;

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    });
  });

function renderJobs(): void {
  const body = ($('build-jobs') as HTMLTableElement).tBodies[0]!;
  body.replaceChildren(
    ...[...jobs.values()].map((j) => row(cell(j.id, 'mono'), cell(j.state), cell(String(j.events)), nodeCell(button('Follow', `Follow build ${j.id}`, () => void follow(j.id))))),
  );
}

function jobOf(id: string): Job {
  let j = jobs.get(id);
  if (!j) {
    j = { id, state: 'following', events: 0 };
    jobs.set(id, j);
  }
  return j;
}

function describe(e: BuildEvent): string {
  if (e.type === 'queued') return `queued: position ${e.position ?? '?'}`;
  if (e.type === 'complete') {
    const r = e.result;
    return r?.status === 'ok' ? 'complete: ok' : `complete: failed — ${r && 'error' in r ? `${r.error_type}: ${r.error}` : 'no detail'}`;
  }
  return `${e.type}: ${e.msg ?? ''}`;
}

/** GET /build/{id}/result as a file (a blob: link; the key goes in the header, so a plain link would not do). */
async function offerResult(id: string, signal: AbortSignal): Promise<void> {
  const out = $('build-result');
  out.textContent = 'Fetching the result…';
  try {
    const res = await fetch(`/build/${encodeURIComponent(id)}/result`, { headers: authHeaders(), signal });
    if (!res.ok) throw await failureOf(res);
    const blob = await res.blob();
    const a = document.createElement('a');
    a.id = 'build-download';
    a.href = URL.createObjectURL(blob);
    a.download = `${id}.tar.gz`;
    a.textContent = `Download ${a.download} (${blob.size.toLocaleString('en-US')} bytes): outputs/, provenance.json (DSSE), receipt.json`;
    out.replaceChildren(a);
  } catch (e) {
    out.textContent = e instanceof ApiFailure ? `${e.code}: ${e.message}` : `Error: ${(e as Error).message}`;
  }
}

/** Follows one job's events until `complete`, reconnecting with `from` when the stream ends early. */
export async function follow(id: string): Promise<void> {
  following?.abort.abort();
  const abort = new AbortController();
  following = { id, abort };
  const job = jobOf(id);
  job.events = 0;
  renderJobs();
  const box = $('build');
  box.hidden = false;
  $('build-h').textContent = `Build ${id}`;
  const log = $('build-log');
  log.textContent = '';
  $('build-result').textContent = '';
  $('build-state').textContent = 'Connecting…';
  box.scrollIntoView({ block: 'start' });
  box.focus();
  const lines: string[] = [];
  let dropped = 0;
  const connection = $('build-connection');
  let failures = 0;
  let connections = 0;

  while (!abort.signal.aborted) {
    connections++;
    let done = false;
    try {
      const res = await fetch(`/build/${encodeURIComponent(id)}/events?from=${job.events}`, { headers: { ...authHeaders(), accept: 'text/event-stream' }, signal: abort.signal });
      if (!res.ok) throw await failureOf(res);
      connection.textContent = connections === 1 ? 'Connected.' : `Reconnected: resumed after ${job.events} events (from=${job.events}).`;
      failures = 0;
      const parser = new SseParser();
      const reader = res.body!.getReader();
      const take = (msgs: ReturnType<SseParser['push']>) => {
        for (const m of msgs) {
          if (m.data === '') continue;
          let e: BuildEvent;
          try {
            e = JSON.parse(m.data) as BuildEvent;
          } catch {
            continue;
          }
          job.events++;
          lines.push(describe(e));
          if (lines.length > LOG_LINES_KEPT) {
            lines.shift();
            dropped++;
          }
          if (e.type === 'complete') {
            done = true;
            job.state = e.result?.status === 'ok' ? 'complete: ok' : 'complete: failed';
            $('build-state').textContent = describe(e);
            $('build-state').className = `verdict ${e.result?.status === 'ok' ? 'valid' : 'invalid'}`;
          } else {
            job.state = e.type === 'queued' ? `queued (position ${e.position ?? '?'})` : `running (${e.type})`;
            $('build-state').textContent = job.state;
            $('build-state').className = '';
          }
        }
      };
      for (;;) {
        const { done: end, value } = await reader.read();
        if (end) break;
        take(parser.push(value));
        const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
        log.textContent = (dropped ? `(${dropped} earlier lines not kept here)\n` : '') + lines.join('\n');
        if (atBottom) log.scrollTop = log.scrollHeight;
        renderJobs();
      }
      take(parser.end());
      renderJobs();
      if (done) {
        connection.textContent = `Finished: ${job.events} events.`;
        if (job.state === 'complete: ok') await offerResult(id, abort.signal);
        return;
      }
    } catch (e) {
      if (abort.signal.aborted) return;
      // 404, 401, 403: nothing to come back for. 429/503 (too many feeds) and network errors: try again.
      if (e instanceof ApiFailure && e.status !== 429 && e.status !== 503) {
        $('build-state').textContent = `${e.code}: ${e.message}`;
        connection.textContent = '';
        job.state = e.code;
        renderJobs();
        showError(e);
        return;
      }
    }
    failures++;
    if (failures > RECONNECT_ATTEMPTS) {
      connection.textContent = `Gave up after ${RECONNECT_ATTEMPTS} reconnection attempts; press Follow to try again.`;
      return;
    }
    const wait = Math.min(RECONNECT_FIRST_MS * 2 ** (failures - 1), RECONNECT_MAX_MS);
    connection.textContent = `Connection lost after ${job.events} events; reconnecting with from=${job.events} in ${(wait / 1000).toFixed(1)} s (attempt ${failures} of ${RECONNECT_ATTEMPTS}).`;
    await sleep(wait, abort.signal);
  }
}

async function submit(body: BodyInit, json: boolean): Promise<void> {
  clearError();
  try {
    const headers = authHeaders();
    if (json) headers['content-type'] = 'application/json';
    // FormData sets its own multipart content-type with the boundary.
    const res = await fetch('/build', { method: 'POST', headers, body });
    if (!res.ok) throw await failureOf(res);
    const { job_id } = (await res.json()) as { job_id: string };
    jobOf(job_id).state = 'queued';
    await follow(job_id);
  } catch (e) {
    showError(e);
  }
}

export function startBuilds(): void {
  document.addEventListener(FORGET_EVENT, () => {
    following?.abort.abort();
    following = null;
    jobs.clear();
    renderJobs();
    $('build').hidden = true;
  });
  $('build-from-pipeline').addEventListener('click', () => {
    const id = ($('build-pipeline') as HTMLInputElement).value.trim();
    if (id) void submit(JSON.stringify({ pipeline_id: id }), true);
  });
  $('build-from-sources').addEventListener('click', () => {
    const config = ($('build-config') as HTMLInputElement).files?.[0];
    const source = ($('build-source') as HTMLInputElement).files?.[0];
    // Missing parts go to the API as missing: its 400 names the field, shown as sent.
    const form = new FormData();
    if (config) form.append('config', config, config.name);
    if (source) form.append('source', source, source.name);
    void submit(form, false);
  });
  const followTyped = () => {
    const id = ($('build-id') as HTMLInputElement).value.trim();
    if (id) void follow(id);
  };
  $('build-follow').addEventListener('click', followTyped);
  $('build-id').addEventListener('keydown', (e) => {
    if (e.key === 'Enter') followTyped();
  });
}
