// The pipelines view (docs/pipelines.md, /v1): stored pipelines with their execution count and success rate (paged by
// offset, as the route pages); a pipeline's executions — the ended ones from its ledger stream, where each ended
// execution is one `attest.receipt` event whose source_ref is the execution id, plus any started from this tab —; an
// execution's status, steps, the tail of its logs (polled while it runs) and its signed receipt with the server's
// verification and its place on the ledger.

import { ApiFailure, FORGET_EVENT, api, clearError, getJson, hasKey, pageSize, query, showError } from './api.js';
import { showDetail, showReceipt } from './detail.js';
import { $, button, cell, downloadLink, emptyRow, facts, nodeCell, para, pre, row } from './dom.js';
import { Pager } from './pager.js';

interface Pipeline {
  id: string;
  name: string;
  description: string | null;
  status: string;
  config: unknown;
  pipeline_hash: string;
  stream_id: string;
  created_at: string;
  updated_at: string;
  executions: number;
  success_rate: number | null;
}

interface ExecStep {
  name: string;
  status: string;
  exit_code: number | null;
  duration_seconds: number | null;
  cache_hit: boolean;
}

interface Execution {
  id: string;
  pipeline_id: string;
  status: string;
  exit_code: number | null;
  environment: string | null;
  variables: string[];
  runner: string;
  started_at: string;
  completed_at: string | null;
  duration_seconds: number | null;
  steps: ExecStep[];
  error: string | null;
  receipt_hash: string | null;
  ledger: { stream_id: string; seq_no: number; stream_event_id: string } | null;
}

interface ExecReceipt {
  receipt: Record<string, unknown>;
  receipt_hash: string | null;
  verification: { signature_valid: boolean; timestamp_valid: boolean; chain_of_trust: string; signer: string | null; problems: { code: string; path: string; message: string }[] };
  ledger: { stream_id: string; seq_no: number; receipt: { stream_event_id: string }; inclusion: { checkpoint_id: string | null; tree_size: number } | null };
  /** docs/protocol.md §14.4: the receipt with its ledger event (and once sealed its proof), verifiable offline. */
  bundle?: unknown;
}

const table = (id: string) => $(id) as HTMLTableElement;
const RUNNING = new Set(['queued', 'running']);
/** While an execution runs, its status and log tail are read again this often. */
const POLL_MS = 1000;

let current: Pipeline | null = null;
let openExecution: string | null = null;
let pollTimer: ReturnType<typeof setTimeout> | null = null;
/** Executions started from this tab, per pipeline: shown before they reach the stream. */
const startedHere = new Map<string, string[]>();
/** Executions seen running by this tab (so the list is read again when one ends). */
const wasRunning = new Set<string>();

const pct = (r: number | null) => (r === null ? '—' : `${Math.round(r * 1000) / 10}%`);

export function startPipelines(onView: (name: string, f: () => void) => void, openStream: (id: string) => void): void {
  const pipelines = new Pager<number>($('pipelines-pager'), 'pipelines', 0, async (offset) => {
    const body = table('pipelines').tBodies[0]!;
    if (!hasKey()) {
      body.replaceChildren();
      return { next: null };
    }
    const limit = pageSize(100);
    try {
      const r = await getJson<{ pipelines: Pipeline[]; has_more: boolean; total: number }>(`/v1/pipelines${query({ limit, offset, sort: 'created_at:desc' })}`);
      body.replaceChildren(
        ...r.pipelines.map((p) =>
          row(
            cell(p.id, 'mono'),
            cell(p.name),
            cell(p.status),
            cell(String(p.executions)),
            cell(pct(p.success_rate)),
            cell(p.created_at),
            nodeCell(button('Open', `Open pipeline ${p.id}`, () => void openPipeline(p.id)), ' ', button('Stream', `Stream of pipeline ${p.id}`, () => openStream(p.stream_id))),
          ),
        ),
      );
      if (r.pipelines.length === 0) body.append(emptyRow(table('pipelines'), 'No pipelines visible to this key.'));
      return { next: r.has_more ? offset + limit : null };
    } catch (e) {
      body.replaceChildren();
      showError(e);
      throw e;
    }
  });

  /** The pipeline's ended executions: its stream's attest.receipt events, in stream order, paged by from_seq_no. */
  const executions = new Pager<number>($('executions-pager'), 'executions', 1, async (fromSeqNo) => {
    const body = table('executions').tBodies[0]!;
    if (!current) return { next: null };
    const p = current;
    try {
      const r = await getJson<{ events: { stream_event_id: string; seq_no: number; event_type: string; source_ref: string; received_at: string }[]; next_from_seq_no: number | null }>(
        `/v2/streams/${encodeURIComponent(p.stream_id)}/events${query({ from_seq_no: fromSeqNo, limit: pageSize(1000) })}`,
      );
      const ended = r.events.filter((e) => e.event_type === 'attest.receipt');
      const endedIds = new Set(ended.map((e) => e.source_ref));
      const rows: HTMLTableRowElement[] = [];
      if (fromSeqNo === 1) {
        for (const id of startedHere.get(p.id) ?? []) {
          if (!endedIds.has(id)) rows.push(row(cell(id, 'mono'), cell('started from this tab'), cell(''), cell(''), nodeCell(button('Open', `Open execution ${id}`, () => void showExecution(id)))));
        }
      }
      for (const e of ended) {
        rows.push(
          row(
            cell(e.source_ref, 'mono'),
            cell('ended'),
            cell(e.received_at),
            cell(`seq_no ${e.seq_no}`),
            nodeCell(button('Open', `Open execution ${e.source_ref}`, () => void showExecution(e.source_ref)), ' ', button('Receipt event', `Ledger receipt of execution ${e.source_ref}`, () => void showReceipt(e.stream_event_id))),
          ),
        );
      }
      body.replaceChildren(...rows);
      if (rows.length === 0) body.append(emptyRow(table('executions'), r.next_from_seq_no === null ? 'No execution has ended yet.' : 'No ended execution on this page of the stream.'));
      return { next: r.next_from_seq_no };
    } catch (e) {
      showError(e);
      throw e;
    }
  });

  async function openPipeline(id: string): Promise<void> {
    clearError();
    try {
      const p = await getJson<Pipeline>(`/v1/pipelines/${encodeURIComponent(id)}`);
      current = p;
      $('pipeline').hidden = false;
      $('pipeline-h').textContent = `Pipeline ${p.name}`;
      $('exec-start-status').textContent = '';
      const config = JSON.stringify(p.config, null, 2);
      $('pipeline-facts').replaceChildren(
        facts([
          ['id', p.id],
          ['description', p.description ?? '—'],
          ['pipeline hash', p.pipeline_hash],
          ['stream', p.stream_id],
          ['executions', `${p.executions} (success rate ${pct(p.success_rate)})`],
          ['created / updated', `${p.created_at} / ${p.updated_at}`],
        ]),
        pre(config),
      );
      await executions.reset();
      $('pipeline').scrollIntoView({ block: 'start' });
    } catch (e) {
      showError(e);
    }
  }

  async function startExecution(): Promise<void> {
    if (!current) return;
    clearError();
    const status = $('exec-start-status');
    const env = ($('exec-env') as HTMLInputElement).value.trim();
    try {
      const r = (await (await api('POST', `/v1/pipelines/${encodeURIComponent(current.id)}/executions`, env ? { environment: env } : {})).json()) as { execution_id: string };
      const list = startedHere.get(current.id) ?? [];
      list.unshift(r.execution_id);
      startedHere.set(current.id, list);
      // Even if it ends before it is first read, the list is read again once it has (its receipt event is then there).
      wasRunning.add(r.execution_id);
      status.textContent = `Started ${r.execution_id}.`;
      await executions.reset();
      await showExecution(r.execution_id);
    } catch (e) {
      status.textContent = '';
      showError(e);
    }
  }

  function stopPolling(): void {
    if (pollTimer) clearTimeout(pollTimer);
    pollTimer = null;
  }

  /** GET /v1/executions/{id}, its log tail, and (once ended) its receipt; again every second while it runs. */
  async function showExecution(id: string): Promise<void> {
    stopPolling();
    const fresh = openExecution !== id;
    openExecution = id;
    const box = $('execution');
    box.hidden = false;
    $('execution-h').textContent = `Execution ${id}`;
    if (fresh) {
      $('execution-log').textContent = '';
      $('execution-receipt').replaceChildren(para('The signed receipt exists once the execution has ended.'));
      const stepSel = $('exec-log-step') as HTMLSelectElement;
      stepSel.replaceChildren(new Option('all steps', ''));
      box.scrollIntoView({ block: 'start' });
      box.focus();
    }
    try {
      const x = await getJson<Execution>(`/v1/executions/${encodeURIComponent(id)}`);
      if (openExecution !== id) return;
      const running = RUNNING.has(x.status);
      $('exec-cancel').hidden = !running;
      $('execution-status').textContent = `${x.status}${x.exit_code !== null ? ` (exit code ${x.exit_code})` : ''}${x.error ? `: ${x.error}` : ''}${running ? ' — refreshing every second' : ''}`;
      $('execution-status').className = `status-line status-${x.status}`;
      $('execution-facts').replaceChildren(
        facts([
          ['pipeline', x.pipeline_id],
          ['environment', x.environment ?? '—'],
          ['variables', x.variables.length ? `${x.variables.join(', ')} (names only: values are never answered)` : 'none'],
          ['runner', x.runner],
          ['started / completed', `${x.started_at} / ${x.completed_at ?? '—'}`],
          ['duration', x.duration_seconds === null ? '—' : `${x.duration_seconds} s`],
        ]),
      );
      table('execution-steps').tBodies[0]!.replaceChildren(
        ...x.steps.map((s) => row(cell(s.name), cell(s.status, `status-${s.status}`), cell(s.exit_code === null ? '' : String(s.exit_code)), cell(s.duration_seconds === null ? '' : String(s.duration_seconds)), cell(s.cache_hit ? 'hit' : 'miss'))),
      );
      const stepSel = $('exec-log-step') as HTMLSelectElement;
      if (stepSel.options.length !== x.steps.length + 1) {
        const chosen = stepSel.value;
        stepSel.replaceChildren(new Option('all steps', ''), ...x.steps.map((s) => new Option(s.name, s.name)));
        stepSel.value = x.steps.some((s) => s.name === chosen) ? chosen : '';
      }
      await showLogs(id);
      if (!running && x.receipt_hash) await showExecReceipt(id);
      // One started here has just ended: its receipt event is on the pipeline's stream now.
      if (!running && wasRunning.delete(id)) void executions.reset();
      if (running) wasRunning.add(id);
      if (running && openExecution === id) pollTimer = setTimeout(() => void showExecution(id), POLL_MS);
    } catch (e) {
      if (e instanceof ApiFailure) $('execution-status').textContent = `${e.code}: ${e.message}`;
      showError(e);
    }
  }

  async function showLogs(id: string): Promise<void> {
    const step = ($('exec-log-step') as HTMLSelectElement).value;
    const tail = Number(($('exec-log-tail') as HTMLSelectElement).value);
    const r = await getJson<{ logs: { timestamp: string; step: string | null; level: string; message: string }[]; total_lines: number; has_more: boolean }>(
      `/v1/executions/${encodeURIComponent(id)}/logs${query({ step, tail })}`,
    );
    if (openExecution !== id) return;
    const log = $('execution-log');
    const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
    log.textContent = r.logs.map((l) => `${l.timestamp} ${l.level.padEnd(5)} ${l.step ? `[${l.step}] ` : ''}${l.message}`).join('\n');
    if (atBottom) log.scrollTop = log.scrollHeight;
    $('exec-log-count').textContent = `${r.logs.length} of ${r.total_lines} lines${step ? ` of step ${step}` : ''}${r.has_more ? ' (the last ones)' : ''}.`;
  }

  /** GET /v1/executions/{id}/receipt: the pipeline receipt, the server's verification of it, and its ledger event. */
  async function showExecReceipt(id: string): Promise<void> {
    const r = await getJson<ExecReceipt>(`/v1/executions/${encodeURIComponent(id)}/receipt`);
    if (openExecution !== id) return;
    const v = r.verification;
    const verdict = para(
      v.signature_valid && v.timestamp_valid && v.chain_of_trust === 'verified'
        ? `Verified: signature valid, timestamp valid, chain of trust ${v.chain_of_trust}${v.signer ? ` (signer ${v.signer})` : ''}.`
        : `Not verified: signature ${v.signature_valid ? 'valid' : 'INVALID'}, timestamp ${v.timestamp_valid ? 'valid' : 'INVALID'}, chain of trust ${v.chain_of_trust}.`,
    );
    verdict.id = 'execution-verification';
    verdict.className = `verdict ${v.signature_valid && v.timestamp_valid && v.chain_of_trust === 'verified' ? 'valid' : 'invalid'}`;
    const problems = v.problems.length ? [pre(v.problems.map((p) => `${p.code} ${p.path}: ${p.message}`).join('\n'), 'json')] : [];
    const text = JSON.stringify(r, null, 2);
    const sev = r.ledger.receipt.stream_event_id;
    $('execution-receipt').replaceChildren(
      verdict,
      ...problems,
      facts([
        ['receipt hash', r.receipt_hash ?? '—'],
        ['on the ledger', `seq_no ${r.ledger.seq_no} of ${r.ledger.stream_id} (${sev}); ${r.ledger.inclusion ? `in checkpoint ${r.ledger.inclusion.checkpoint_id ?? '—'} at size ${r.ledger.inclusion.tree_size}` : 'not sealed yet'}`],
      ]),
      para(
        r.bundle === undefined
          ? downloadLink('execution-receipt-download', `receipt-${id}.json`, text)
          : downloadLink('execution-receipt-download', `receipt-bundle-${id}.json`, JSON.stringify(r.bundle, null, 2)),
        r.bundle === undefined ? '' : ' (verify it with proofstream verify, or on the auditor page)',
        ' ',
        button('Ledger receipt', `Ledger receipt of execution ${id}`, () => void showReceipt(sev)),
        ' ',
        button('Show JSON', `Receipt JSON of execution ${id}`, () => showDetail(`Pipeline receipt of ${id}`, pre(text))),
      ),
    );
  }

  document.addEventListener(FORGET_EVENT, () => {
    stopPolling();
    openExecution = null;
    current = null;
    $('pipeline').hidden = true;
    $('execution').hidden = true;
  });
  $('exec-start').addEventListener('click', () => void startExecution());
  // POST /v1/executions/{id}/cancel: the server kills the run's process group; the receipt then says `cancelled`.
  $('exec-cancel').addEventListener('click', () => {
    const id = openExecution;
    if (!id) return;
    clearError();
    void api('POST', `/v1/executions/${encodeURIComponent(id)}/cancel`)
      .then(() => showExecution(id))
      .catch(showError);
  });
  $('exec-refresh').addEventListener('click', () => {
    if (openExecution) void showExecution(openExecution);
  });
  for (const id of ['exec-log-step', 'exec-log-tail']) {
    $(id).addEventListener('change', () => {
      if (openExecution) void showLogs(openExecution).catch(showError);
    });
  }
  onView('pipelines', () => {
    clearError();
    void pipelines.reset();
  });
}
