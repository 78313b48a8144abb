// Pipelines on the ledger (docs/pipelines.md): a pipeline is a validated config with a stream of its own (created with
// it; its creation is the stream's first event); an execution runs the config with pipe-engine's runner in a fresh
// workspace, in the background, and ends with the engine's signed receipt appended to that stream as an
// `attest.receipt` event, the execution's final state written in that event's own transaction (so state, receipt and
// evidence never disagree) together with its webhook announcements. Uses the ledger through its public methods only.
import fs from 'node:fs';
import path from 'node:path';
import type { IdempotencyWrite, ReceiptView } from '../ledger/appender.js';
import { ApiError, notFound } from '../ledger/errors.js';
import { newId } from '../ledger/ids.js';
import type { Ledger } from '../ledger/ledger.js';
import { actsOn, type Principal } from '../ledger/tenancy.js';
import { SYSTEM_WEBHOOK_TYPES, type WebhookEventType } from '../ledger/webhooks.js';
import { errField, log } from '../log.js';
import { bytesToHex } from '../protocol/bytes.js';
import { canonicalize } from '../protocol/jcs.js';
import type { ExecutionRow, PipelineRow } from '../store/pipelines.js';
import {
  ContentCache,
  PIPELINE_RECEIPT_EVENT_TYPE,
  pipelineHash,
  pipelineReceiptEventPayload,
  pipelineReceiptHash,
  runPipeline,
  sandboxAvailable,
  validatePipelineConfig,
  verifyPipelineReceipt,
  type EngineEvent,
  type ExecutionResult,
  type PipelineConfig,
  type PipelineReceipt,
  type StepResult,
} from './engine-api.js';
import { verifyPipelineReceiptFull } from '../verify/pipeline-receipt-full.js';
import { ExecutionLog, type LogEntry } from './logs.js';

/** Event type of a pipeline's creation, the first event on its stream. */
export const PIPELINE_CREATED_EVENT_TYPE = 'pipeline.created';
/** Retry-After of RUNNER_BUSY, seconds. */
export const RUNNER_BUSY_RETRY_AFTER_S = 10;

export type ExecutionStatus = 'running' | 'completed' | 'failed' | 'cancelled';

export interface PipelineInput {
  name: string;
  description?: string | null | undefined;
  config: PipelineConfig;
}

export interface ExecuteInput {
  environment?: string | null | undefined;
  variables?: Record<string, string> | undefined;
  options?: { sign?: boolean | undefined; verify?: boolean | undefined; cache?: boolean | undefined } | undefined;
}

export interface StepView {
  name: string;
  status: string;
  exit_code: number | null;
  duration_seconds: number | null;
  cache_hit: boolean;
  inputs?: Record<string, string>;
  outputs?: Record<string, string>;
}

export interface PipelineView {
  id: string;
  name: string;
  description: string | null;
  status: string;
  config: PipelineConfig;
  pipeline_hash: string;
  stream_id: string;
  created_at: string;
  updated_at: string;
  executions: number;
  success_rate: number | null;
}

export interface ExecutionView {
  id: string;
  pipeline_id: string;
  status: ExecutionStatus;
  exit_code: number | null;
  environment: string | null;
  variables: string[];
  options: { sign: boolean; verify: boolean; cache: boolean };
  runner: string;
  started_at: string;
  completed_at: string | null;
  duration_seconds: number | null;
  steps: StepView[];
  error: string | null;
  receipt_hash: string | null;
  ledger: { stream_id: string; seq_no: number; stream_event_id: string } | null;
  pipeline_url: string;
  logs_url: string;
  receipt_url: string;
  events_url: string;
}

/** What one running execution holds in this process. */
interface Running {
  abort: AbortController;
  steps: Map<string, StepView>;
  log: ExecutionLog;
  done: Promise<void>;
}

const urls = (pipelineId: string, id: string) => ({
  pipeline_url: `/v1/pipelines/${pipelineId}`,
  logs_url: `/v1/executions/${id}/logs`,
  receipt_url: `/v1/executions/${id}/receipt`,
  events_url: `/v1/executions/${id}/events`,
});

/** 'ed25519:<hex>' of a 32-byte public key, as receipts name signers. */
export const ed25519Name = (publicKey: Uint8Array | string): string => `ed25519:${typeof publicKey === 'string' ? publicKey : bytesToHex(publicKey)}`;

export class Pipelines {
  private readonly running = new Map<string, Running>();
  private readonly caches = new Map<string, ContentCache>();
  private readonly progress = new Set<(executionId: string, position: number, finished: boolean) => void>();
  private stopping = false;

  constructor(private readonly ledger: Ledger) {
    const { store } = ledger;
    // A previous process died with these running: their processes and workspaces went with it, no receipt was signed.
    const orphans = store.pipelines.unfinished();
    if (orphans.length) {
      const now = new Date().toISOString();
      store.write(() => {
        for (const e of orphans) {
          const position = store.pipelines.lastPosition(e.id) + 1;
          store.pipelines.updateExecution(e.id, { status: 'failed', completedAt: now, error: 'the server stopped during this execution; no receipt was signed' });
          store.pipelines.countFinished(e.pipelineId, false, now);
          store.pipelines.insertLogs([
            { executionId: e.id, position, kind: 'execution.finished', step: null, at: now, level: 'error', message: 'execution failed: the server stopped during it', data: JSON.stringify({ status: 'failed' }) },
          ]);
        }
      });
      for (const e of orphans) fs.rmSync(path.join(ledger.config.workspaceDir, e.id), { recursive: true, force: true });
      log.warn({ event: 'pipeline_executions_orphaned', executions: orphans.map((e) => e.id) }, `${orphans.length} execution(s) were running when the server stopped: marked failed`);
    }
    ledger.webhooks.renderSystemEvents(SYSTEM_WEBHOOK_TYPES, (id, type) => this.webhookData(id, type));
  }

  /** Told after execution log rows commit (the SSE feed); `finished` once the last row is in. */
  onProgress(fn: (executionId: string, position: number, finished: boolean) => void): () => void {
    this.progress.add(fn);
    return () => this.progress.delete(fn);
  }

  private told(executionId: string, position: number, finished: boolean): void {
    for (const fn of this.progress) {
      try {
        fn(executionId, position, finished);
      } catch (e) {
        log.error({ event: 'pipeline_progress_listener_failed', err: errField(e) }, 'a pipeline progress listener failed');
      }
    }
  }

  // ---- pipelines ----

  /** Validates the config, makes the pipeline's stream and appends its creation; the pipeline row rides that event. */
  async create(p: Principal, input: PipelineInput, idem: IdempotencyWrite | undefined): Promise<{ status: number; bodyText: string }> {
    const checked = validatePipelineConfig(input.config);
    if (!checked.ok) throw configError(checked.field, checked.message);
    const config = checked.config;
    const id = newId('pip');
    const hash = pipelineHash(config);
    const { store } = this.ledger;
    const { view: stream } = this.ledger.createStream(p, { use_case: `pipeline:${id}`, metadata: { pipeline_id: id, name: input.name } }, undefined);
    const description = input.description ?? null;
    const payload = { pipeline_id: id, name: input.name, description, pipeline_hash: hash, config };
    let row: PipelineRow | undefined;
    const r = await this.ledger.append(
      p,
      stream.stream_id,
      [{ source_ref: id, event_type: PIPELINE_CREATED_EVENT_TYPE, occurred_at: null, payload }],
      idem,
      (rs) => ({ ...pipelineView(row!), ledger: placement(rs[0]!) }),
      {
        inTransaction: (rs) => {
          const rec = rs[0]!;
          row = {
            id,
            tenantId: stream.tenant_id,
            systemId: stream.system_id,
            name: input.name,
            description,
            config: canonicalize(config),
            pipelineHash: hash,
            streamId: stream.stream_id,
            status: 'active',
            createdAt: rec.received_at,
            updatedAt: rec.received_at,
            eventId: rec.stream_event_id,
            executionCount: 0,
            completedCount: 0,
            finishedCount: 0,
          };
          store.pipelines.insert(row);
        },
      },
    );
    return { status: r.status, bodyText: r.bodyText };
  }

  list(p: Principal, q: { limit: number; offset: number; order: 'asc' | 'desc' }): { pipelines: PipelineView[]; total: number; has_more: boolean; limit: number; offset: number } {
    const { rows, total } = this.ledger.store.pipelines.list(p.tenantId, p.tenantWide ? undefined : p.systemId, q.order, q.offset, q.limit);
    return { pipelines: rows.map(pipelineView), total, has_more: q.offset + rows.length < total, limit: q.limit, offset: q.offset };
  }

  get(p: Principal, id: string): PipelineView & { ledger: { stream_id: string; seq_no: number; stream_event_id: string } } {
    const row = this.visiblePipeline(p, id);
    return { ...pipelineView(row), ledger: { stream_id: row.streamId, seq_no: 1, stream_event_id: row.eventId } };
  }

  private visiblePipeline(p: Principal, id: string): PipelineRow {
    const row = this.ledger.store.pipelines.get(id);
    if (!row || !actsOn(p, row)) throw notFound('pipeline');
    return row;
  }

  // ---- executions ----

  /** Why an execution cannot start on this server now, as the error to answer (checked before anything is written). */
  private runnerRefusal(): ApiError | undefined {
    const cfg = this.ledger.config;
    if (this.stopping) return new ApiError('RUNNER_BUSY', 'the server is shutting down', { retry_after_s: RUNNER_BUSY_RETRY_AFTER_S });
    if (!cfg.pipelineRunner) {
      return new ApiError('RUNNER_DISABLED', 'this server does not run pipelines: PROOFSTREAM_RUNNER is unset (set it to sandbox or process, docs/runner.md)');
    }
    if (cfg.pipelineRunner === 'sandbox' && !sandboxAvailable()) {
      return new ApiError(
        'RUNNER_UNAVAILABLE',
        'PROOFSTREAM_RUNNER=sandbox but bubblewrap (bwrap) is missing or cannot create namespaces on this host: install it (Debian: apt-get install bubblewrap) or, for a trusted setup, set PROOFSTREAM_RUNNER=process',
      );
    }
    if (this.running.size >= cfg.pipelineMaxConcurrent) {
      return new ApiError('RUNNER_BUSY', `${this.running.size} executions are running, the most this server runs at once (PROOFSTREAM_PIPELINE_MAX_CONCURRENT); retry later`, {
        limit: cfg.pipelineMaxConcurrent,
        retry_after_s: RUNNER_BUSY_RETRY_AFTER_S,
      });
    }
    return undefined;
  }

  /** Starts an execution in the background; answers once its row is committed. */
  execute(p: Principal, pipelineId: string, input: ExecuteInput, idem?: IdempotencyWrite): { bodyText: string } {
    const pipeline = this.visiblePipeline(p, pipelineId);
    const refused = this.runnerRefusal();
    if (refused) throw refused;
    const cfg = this.ledger.config;
    const options = { sign: input.options?.sign ?? true, verify: input.options?.verify ?? true, cache: input.options?.cache ?? true };
    const variables = input.variables ?? {};
    const config = JSON.parse(pipeline.config) as PipelineConfig;
    const id = newId('exec');
    const startedAt = new Date().toISOString();
    const steps = new Map<string, StepView>(config.steps.map((s) => [s.name, { name: s.name, status: 'pending', exit_code: null, duration_seconds: null, cache_hit: false }]));
    const { store } = this.ledger;
    const execLog = new ExecutionLog(store, id, cfg.pipelineLogMaxLines, (eid, pos) => this.told(eid, pos, false));
    const workspace = path.join(cfg.workspaceDir, id);
    const bodyText = JSON.stringify({ execution_id: id, status: 'running', started_at: startedAt, ...urls(pipelineId, id) });
    store.write(() => {
      if (idem) {
        // The Idempotency-Key record commits with the execution: a retry replays this answer, never starts another.
        const now = Date.now();
        const fresh = store.idempotency.insert({ ...idem, status: 202, responseBody: bodyText, createdAt: now, expiresAt: now + idem.ttlMs });
        if (!fresh) throw new ApiError('IDEMPOTENCY_IN_PROGRESS', 'this Idempotency-Key was used concurrently; retry');
      }
      store.pipelines.insertExecution({
        id,
        pipelineId,
        tenantId: pipeline.tenantId,
        systemId: pipeline.systemId,
        status: 'running',
        environment: input.environment ?? null,
        // Names only: values may be secrets, and are never stored or answered (docs/pipelines.md "Variables").
        variableNames: JSON.stringify(Object.keys(variables).sort()),
        options: JSON.stringify(options),
        runner: cfg.pipelineRunner!,
        steps: JSON.stringify([...steps.values()]),
        exitCode: null,
        startedAt,
        completedAt: null,
        durationMs: null,
        error: null,
        receipt: null,
        receiptHash: null,
        eventId: null,
        seqNo: null,
        keyId: p.keyId,
      });
      store.pipelines.countStarted(pipelineId, startedAt);
    });
    execLog.add({
      kind: 'execution.started',
      step: null,
      at: startedAt,
      level: 'info',
      message: `execution started (${config.steps.length} steps, runner ${cfg.pipelineRunner}${input.environment ? `, environment ${input.environment}` : ''})`,
      data: { pipeline_id: pipelineId, pipeline_hash: pipeline.pipelineHash },
    });
    const abort = new AbortController();
    const run: Running = { abort, steps, log: execLog, done: Promise.resolve() };
    this.running.set(id, run);
    run.done = this.runInBackground(p, pipeline, config, id, startedAt, workspace, variables, options, run).finally(() => {
      this.running.delete(id);
      fs.rm(workspace, { recursive: true, force: true, maxRetries: 3 }, (e) => {
        if (e) log.warn({ event: 'pipeline_workspace_not_removed', execution_id: id, err: errField(e) }, 'an execution workspace could not be removed');
      });
    });
    return { bodyText };
  }

  private async runInBackground(
    p: Principal,
    pipeline: PipelineRow,
    config: PipelineConfig,
    id: string,
    startedAt: string,
    workspace: string,
    variables: Record<string, string>,
    options: { sign: boolean; verify: boolean; cache: boolean },
    run: Running,
  ): Promise<void> {
    const cfg = this.ledger.config;
    // One key signs the whole receipt, whatever a rotation does meanwhile.
    const signer = this.ledger.signer;
    let result: ExecutionResult;
    try {
      fs.mkdirSync(workspace, { recursive: true, mode: 0o700 });
      result = await runPipeline(config, {
        workspace,
        cache: options.cache ? this.cacheOf(pipeline.tenantId) : undefined,
        mode: cfg.pipelineRunner!,
        variables,
        stepTimeoutMs: cfg.pipelineStepTimeoutMs,
        logLimitBytes: cfg.pipelineLogLimitBytes,
        hashLimits: cfg.pipelineHashLimits,
        maxParallel: cfg.pipelineMaxParallel,
        signal: run.abort.signal,
        sign: (m) => signer.sign(m),
        signerPublicKey: signer.publicKey,
        onEvent: (e) => this.onEngineEvent(run, e),
      });
    } catch (e) {
      log.error({ event: 'pipeline_execution_failed', execution_id: id, err: errField(e) }, 'an execution failed without a receipt');
      this.finishWithoutReceipt(pipeline, id, startedAt, run, e instanceof Error ? e.message : String(e));
      return;
    }
    try {
      await this.finish(p, pipeline, id, run, result, options, signer.publicKey);
    } catch (e) {
      log.error({ event: 'pipeline_receipt_append_failed', execution_id: id, err: errField(e) }, 'the receipt of an execution could not be appended');
      this.finishWithoutReceipt(pipeline, id, startedAt, run, `the signed receipt could not be appended to the ledger: ${(e as Error).message}`);
    }
  }

  private onEngineEvent(run: Running, e: EngineEvent): void {
    if (e.type === 'step.log') {
      run.log.add({ kind: 'log', step: e.step, at: e.at, level: e.stream === 'stderr' ? 'warn' : 'info', message: e.line, data: { stream: e.stream } });
      return;
    }
    const step = run.steps.get(e.step);
    if (e.type === 'step.started') {
      if (step) step.status = 'running';
      run.log.add({ kind: 'step.started', step: e.step, at: e.at, level: 'info', message: `step ${e.step} started` });
      return;
    }
    if (step) Object.assign(step, { status: e.status, exit_code: e.exit_code, duration_seconds: e.duration_seconds, cache_hit: e.cache_hit });
    const level = e.status === 'completed' || e.status === 'skipped' ? 'info' : e.status === 'cancelled' ? 'warn' : 'error';
    const how = e.cache_hit ? ' (from cache)' : e.exit_code !== null ? ` (exit ${e.exit_code})` : '';
    run.log.add({
      kind: 'step.finished',
      step: e.step,
      at: e.at,
      level,
      message: `step ${e.step} ${e.status}${how} in ${e.duration_seconds}s`,
      data: { status: e.status, exit_code: e.exit_code, duration_seconds: e.duration_seconds, cache_hit: e.cache_hit },
    });
  }

  /** Appends the receipt; the execution's end, its counters, its last log row and its webhooks ride that event. */
  private async finish(
    p: Principal,
    pipeline: PipelineRow,
    id: string,
    run: Running,
    result: ExecutionResult,
    options: { verify: boolean },
    signerPublicKey: Uint8Array,
  ): Promise<void> {
    const { store } = this.ledger;
    const receipt = result.receipt;
    if (options.verify) {
      // The server checks what it is about to publish: a receipt its own key does not verify is never appended.
      const v = verifyPipelineReceipt(receipt, { trustedKeys: [ed25519Name(signerPublicKey)] });
      if (!v.signature_valid) throw new Error(`the receipt did not verify: ${v.problems.map((x) => x.code).join(', ')}`);
    }
    const receiptHash = pipelineReceiptHash(receipt);
    const steps = result.steps.map(stepView);
    const exitCode = executionExitCode(result.status, result.steps);
    const completedAt = result.completed_at;
    const durationMs = Math.max(0, Date.parse(completedAt) - Date.parse(result.started_at));
    const last = run.log.finalRow({
      kind: 'execution.finished',
      step: null,
      at: completedAt,
      level: result.status === 'completed' ? 'info' : result.status === 'cancelled' ? 'warn' : 'error',
      message: `execution ${result.status}; receipt ${receiptHash} signed and appended to the ledger`,
      data: { status: result.status, exit_code: exitCode, receipt_hash: receiptHash, lines_dropped: run.log.dropped },
    });
    const payload = pipelineReceiptEventPayload(receipt);
    await this.ledger.append(p, pipeline.streamId, [{ source_ref: id, event_type: PIPELINE_RECEIPT_EVENT_TYPE, occurred_at: receipt.timestamp, payload }], undefined, () => null, {
      inTransaction: (rs) => {
        const rec = rs[0]!;
        store.pipelines.updateExecution(id, {
          status: result.status,
          steps: JSON.stringify(steps),
          exitCode,
          completedAt,
          durationMs,
          receipt: canonicalize(receipt),
          receiptHash,
          eventId: rec.stream_event_id,
          seqNo: rec.seq_no,
        });
        store.pipelines.countFinished(pipeline.id, result.status === 'completed', completedAt);
        store.pipelines.insertLogs([{ ...last, data: JSON.stringify({ ...JSON.parse(last.data!), stream_id: rec.stream_id, seq_no: rec.seq_no }) }]);
        this.ledger.webhooks.systemEvent(pipeline.streamId, 'receipt.signed', id);
        this.ledger.webhooks.systemEvent(pipeline.streamId, result.status === 'completed' ? 'execution.completed' : 'execution.failed', id);
      },
    });
    this.told(id, last.position, true);
  }

  /** The engine threw or the receipt could not be appended: the execution failed, no receipt exists. */
  private finishWithoutReceipt(pipeline: PipelineRow, id: string, startedAt: string, run: Running, error: string): void {
    const { store } = this.ledger;
    const now = new Date().toISOString();
    const last = run.log.finalRow({ kind: 'execution.finished', step: null, at: now, level: 'error', message: `execution failed without a receipt: ${error}`, data: { status: 'failed' } });
    try {
      store.write(() => {
        store.pipelines.updateExecution(id, {
          status: 'failed',
          steps: JSON.stringify([...run.steps.values()]),
          completedAt: now,
          durationMs: Math.max(0, Date.parse(now) - Date.parse(startedAt)),
          error,
        });
        store.pipelines.countFinished(pipeline.id, false, now);
        store.pipelines.insertLogs([last]);
        this.ledger.webhooks.systemEvent(pipeline.streamId, 'execution.failed', id);
      });
    } catch (e) {
      // Shutdown closed the database: the next start marks it failed (the constructor).
      log.error({ event: 'pipeline_execution_end_not_recorded', execution_id: id, err: errField(e) }, 'the end of an execution could not be recorded');
      return;
    }
    this.told(id, last.position, true);
  }

  private visibleExecution(p: Principal, id: string): ExecutionRow {
    const row = this.ledger.store.pipelines.execution(id);
    if (!row || !actsOn(p, row)) throw notFound('execution');
    return row;
  }

  /** A page of a pipeline's executions (newest first by default), each as GET /v1/executions/{id} answers it. */
  executions(p: Principal, pipelineId: string, q: { limit: number; offset: number; order: 'asc' | 'desc' }): { executions: ExecutionView[]; total: number; has_more: boolean; limit: number; offset: number } {
    const pipeline = this.visiblePipeline(p, pipelineId);
    const { rows, total } = this.ledger.store.pipelines.listExecutions(pipeline.id, q.order, q.offset, q.limit);
    return { executions: rows.map((r) => this.executionView(r)), total, has_more: q.offset + rows.length < total, limit: q.limit, offset: q.offset };
  }

  execution(p: Principal, id: string): ExecutionView {
    return this.executionView(this.visibleExecution(p, id));
  }

  private executionView(row: ExecutionRow): ExecutionView {
    const live = this.running.get(row.id);
    const steps = row.status === 'running' && live ? [...live.steps.values()].map((s) => ({ ...s })) : (JSON.parse(row.steps) as StepView[]);
    return {
      id: row.id,
      pipeline_id: row.pipelineId,
      status: row.status as ExecutionStatus,
      exit_code: row.exitCode,
      environment: row.environment,
      variables: JSON.parse(row.variableNames) as string[],
      options: JSON.parse(row.options) as ExecutionView['options'],
      runner: row.runner,
      started_at: row.startedAt,
      completed_at: row.completedAt,
      duration_seconds: row.durationMs === null ? null : row.durationMs / 1000,
      steps,
      error: row.error,
      receipt_hash: row.receiptHash,
      ledger: row.eventId === null ? null : { stream_id: this.ledger.store.pipelines.get(row.pipelineId)!.streamId, seq_no: row.seqNo!, stream_event_id: row.eventId },
      ...urls(row.pipelineId, row.id),
    };
  }

  logs(p: Principal, id: string, q: { step?: string | undefined; tail: number }) {
    const row = this.visibleExecution(p, id);
    if (q.step !== undefined) {
      const config = JSON.parse(this.ledger.store.pipelines.get(row.pipelineId)!.config) as PipelineConfig;
      if (!config.steps.some((s) => s.name === q.step)) {
        throw new ApiError('VALIDATION_ERROR', `step: the pipeline has no step ${JSON.stringify(q.step)}`, { field: 'step', issue: 'unknown step' }, 400);
      }
    }
    // Lines still buffered (at most ~50 ms' worth) show at the next read: the log is written in batches.
    const { rows, total } = this.ledger.store.pipelines.logsTail(id, q.step, q.tail);
    return {
      execution_id: id,
      status: row.status,
      logs: rows.map((r) => ({ position: r.position, timestamp: r.at, step: r.step, level: r.level, kind: r.kind, message: r.message })),
      total_lines: total,
      has_more: total > rows.length,
    };
  }

  /** Cancels a running execution: the engine kills every running process group; the end is recorded as it happens. */
  cancel(p: Principal, id: string): ExecutionView {
    const row = this.visibleExecution(p, id);
    const run = this.running.get(id);
    if (row.status !== 'running' || !run) {
      throw new ApiError('EXECUTION_FINISHED', `the execution has ended (${row.status})`, { status: row.status });
    }
    if (!run.abort.signal.aborted) {
      run.log.add({ kind: 'log', step: null, at: new Date().toISOString(), level: 'warn', message: `cancel requested (key ${p.keyId})` });
      run.abort.abort();
    }
    return this.executionView(row);
  }

  /** Resolves when the execution ends in this process (tests, shutdown); at once when it is not running here. */
  settled(id: string): Promise<void> {
    return this.running.get(id)?.done ?? Promise.resolve();
  }

  receipt(p: Principal, id: string) {
    const row = this.visibleExecution(p, id);
    if (row.receipt === null) {
      if (row.status === 'running') throw new ApiError('RECEIPT_PENDING', 'the execution is still running: its receipt is signed when it ends', { status: row.status });
      throw new ApiError('RESOURCE_NOT_FOUND', `this execution ended without a receipt: ${row.error ?? 'unknown'}`, { status: row.status, error: row.error });
    }
    const receipt = JSON.parse(row.receipt) as PipelineReceipt;
    const event = this.ledger.getEvent(p, row.eventId!);
    const eventReceipt = this.ledger.getReceipt(p, row.eventId!);
    const { inclusion, ...stored } = eventReceipt;
    const trusted = this.ledger.publicKeys().map((k) => ed25519Name(k.public_key));
    const v = verifyPipelineReceipt(receipt, { trustedKeys: trusted });
    const committed = (event.payload as { receipt_hash?: unknown } | null)?.receipt_hash;
    const ts = Date.parse(receipt.timestamp);
    // Signed before it was appended: a timestamp after the ledger received it (beyond clock rounding) is wrong.
    const timestampValid = Number.isFinite(ts) && ts <= Date.parse(event.received_at) + 1000;
    const inLedger = committed === pipelineReceiptHash(receipt) && committed === row.receiptHash;
    // §14.4's receipt bundle, ready for `proofstream verify`: the stored event, and once sealed its inclusion proof
    // and the checkpoint it leads to.
    const cp = inclusion?.checkpoint_id ? this.ledger.store.checkpoints.checkpoint(inclusion.checkpoint_id) : undefined;
    const bundle = { receipt, ledger: { ...event, ...(inclusion && cp ? { inclusion, checkpoint: this.ledger.proofs.view(cp) } : {}) } };
    return {
      execution_id: id,
      receipt,
      receipt_hash: row.receiptHash,
      verification: {
        signature_valid: v.signature_valid,
        timestamp_valid: timestampValid,
        chain_of_trust: !v.signature_valid ? 'invalid' : !trusted.includes(v.signer ?? '') ? 'untrusted' : inLedger ? 'verified' : 'invalid',
        signer: v.signer,
        problems: v.problems,
      },
      ledger: {
        stream_id: event.stream_id,
        seq_no: event.seq_no,
        event,
        receipt: stored as ReceiptView,
        inclusion,
      },
      bundle,
    };
  }

  // ---- receipts ----

  /**
   * POST /v1/receipts/verify: the engine's offline check of a receipt (or receipt bundle), with the caller's trusted
   * keys and policies. Policies are parsed by the route (unknown ones are a 400 there).
   */
  async verifyReceipt(input: unknown, trustedKeys: string[] | undefined, policies: { name: string; kind: 'require-signature' | 'max-age'; hours?: number }[]) {
    const maxAge = policies.filter((x) => x.kind === 'max-age').reduce<number | undefined>((m, x) => (m === undefined ? x.hours! : Math.min(m, x.hours!)), undefined);
    // A receipt bundle's placement (event, ledger signature, inclusion, checkpoint) is checked against this ledger's
    // keys, as POST /v2/verify does without a trust policy; a bare receipt needs no ledger key.
    const ledgerKeys = this.ledger.publicKeys().map((k) => ({ kid: k.kid, alg: 'Ed25519' as const, public_key: k.public_key, valid_from: k.valid_from, valid_until: k.valid_until }));
    const v = await verifyPipelineReceiptFull(input, { trustedKeys, maxAgeHours: maxAge, ledgerKeys });
    const violations: { policy: string; message: string }[] = [];
    for (const pol of policies) {
      if (pol.kind === 'require-signature' && !v.signature_valid) violations.push({ policy: pol.name, message: 'the receipt carries no valid Ed25519 signature' });
      if (pol.kind === 'max-age' && (v.age_hours === null || v.age_hours > pol.hours!)) {
        violations.push({ policy: pol.name, message: v.age_hours === null ? 'the receipt has no readable timestamp' : `the receipt is ${v.age_hours.toFixed(2)} hours old (more than ${pol.hours})` });
      }
    }
    const trusted = trustedKeys === undefined || v.signer === null ? null : trustedKeys.includes(v.signer);
    // Readable, not in the future (the verifier allows five minutes of clock skew) and within every max-age policy.
    const timestampValid =
      v.age_hours !== null && !v.problems.some((x) => x.code === 'TIMESTAMP_IN_FUTURE') && !violations.some((x) => x.policy.startsWith('max-age-'));
    return {
      valid: v.ok && violations.length === 0,
      signature_verification: { valid: v.signature_valid, signer: v.signer, algorithm: 'ed25519' as const, trusted },
      policy_compliance: { passed: violations.length === 0, violations },
      timestamp_check: { valid: timestampValid, age_hours: v.age_hours === null ? null : Math.round(v.age_hours * 1000) / 1000 },
      problems: v.problems,
      ...(v.inclusion ? { inclusion: v.inclusion } : {}),
    };
  }

  // ---- cache ----

  /** The tenant's cache (one directory per tenant: one tenant's outputs are never another's cache hits). */
  cacheOf(tenantId: string): ContentCache {
    let c = this.caches.get(tenantId);
    if (!c) {
      const dir = path.join(this.ledger.config.cacheDir, tenantId);
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      this.caches.set(tenantId, (c = new ContentCache(dir, { maxBytes: this.ledger.config.cacheMaxBytes })));
    }
    return c;
  }

  // ---- webhooks ----

  private webhookData(id: string, type: WebhookEventType): unknown {
    const row = this.ledger.store.pipelines.execution(id);
    if (!row) throw new Error(`execution ${id} is gone`);
    if (type === 'receipt.signed') {
      const receipt = JSON.parse(row.receipt!) as PipelineReceipt;
      const key = this.ledger.publicKeys().find((k) => ed25519Name(k.public_key) === receipt.signer_public_key);
      return {
        execution_id: id,
        pipeline_id: row.pipelineId,
        receipt_hash: row.receiptHash,
        signature: receipt.signature,
        signer: key?.kid ?? receipt.signer_public_key,
        signer_public_key: receipt.signer_public_key,
        stream_id: this.ledger.store.pipelines.get(row.pipelineId)!.streamId,
        seq_no: row.seqNo,
      };
    }
    return {
      execution_id: id,
      pipeline_id: row.pipelineId,
      status: row.status,
      duration_seconds: row.durationMs === null ? null : row.durationMs / 1000,
      exit_code: row.exitCode,
      receipt_url: row.receipt === null ? null : `/v1/executions/${id}/receipt`,
      error: row.error,
    };
  }

  // ---- shutdown ----

  /** Server shutdown: no new executions; every running one is cancelled (its process groups killed). */
  shutdown(): void {
    this.stopping = true;
    for (const r of this.running.values()) r.abort.abort();
  }
}

/** A config the engine refused, as the seed's error: 400 VALIDATION_ERROR, `details.field` relative to the config. */
export function configError(field: string, message: string): ApiError {
  return new ApiError('VALIDATION_ERROR', `Invalid pipeline configuration: ${field}: ${message}`, { field, issue: message, target: 'json', path: `config.${field}` }, 400);
}

function pipelineView(r: PipelineRow): PipelineView {
  return {
    id: r.id,
    name: r.name,
    description: r.description,
    status: r.status,
    config: JSON.parse(r.config) as PipelineConfig,
    pipeline_hash: r.pipelineHash,
    stream_id: r.streamId,
    created_at: r.createdAt,
    updated_at: r.updatedAt,
    executions: r.executionCount,
    // Of the executions that ended; null before any has (there is no rate yet).
    success_rate: r.finishedCount === 0 ? null : Math.round((r.completedCount / r.finishedCount) * 10_000) / 10_000,
  };
}

const placement = (r: ReceiptView) => ({ stream_id: r.stream_id, seq_no: r.seq_no, receipt: r });

function stepView(s: StepResult): StepView {
  return { name: s.name, status: s.status, exit_code: s.exit_code, duration_seconds: s.duration_seconds, cache_hit: s.cache_hit, inputs: s.inputs, outputs: s.outputs };
}

/** 0 when completed; else the first failed step's exit code (null when it had none: timed out, cancelled). */
function executionExitCode(status: string, steps: StepResult[]): number | null {
  if (status === 'completed') return 0;
  const bad = steps.find((s) => s.status === 'failed' || s.status === 'timed_out');
  return bad?.exit_code ?? null;
}

const services = new WeakMap<Ledger, Pipelines>();

/** The one Pipelines of a ledger (routes, serve's shutdown). */
export function pipelinesFor(ledger: Ledger): Pipelines {
  let s = services.get(ledger);
  if (!s) services.set(ledger, (s = new Pipelines(ledger)));
  return s;
}

/** Whether this ledger has pipelines wired (serve's shutdown: nothing to stop otherwise). */
export const pipelinesIfAny = (ledger: Ledger): Pipelines | undefined => services.get(ledger);
