// Build jobs (docs/builds.md): a pipeline config plus a source archive (or a stored pipeline) queued, run by the
// pipelines engine in the mode PROOFSTREAM_RUNNER names, its outputs described by a DSSE-signed in-toto SLSA
// provenance, its signed pipeline receipt appended to the ledger, and every step of that reported as an event.
// Events are rows (build_events) before anyone is told about them, so a replay is a read and survives a restart.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { create as tarCreate } from 'tar';
import type { BuildsConfig } from '../config.js';
import { ApiError, notFound } from '../ledger/errors.js';
import { newId } from '../ledger/ids.js';
import type { Ledger } from '../ledger/ledger.js';
import { actsOn, type Principal } from '../ledger/tenancy.js';
import { errField, log } from '../log.js';
import type { EventInput } from '../ledger/appender.js';
import type { ReceiptView } from '../protocol/receipt.js';
import { canonicalize } from '../protocol/jcs.js';
import type { BuildJobRow } from '../store/builds.js';
import { ArchiveRefused, inspectArchive, unpackSafely, type ArchiveSummary } from './archive.js';
import { detectToolchains } from './detect.js';
import * as engine from './engine-port.js';
import type { ExecutionResult, PipelineConfig, PipelineReceipt } from './engine-port.js';
import { collectOutputs, OutputError, signedProvenance, type Subject } from './provenance.js';

/** One event of a job's stream, exactly as it goes on its `data:` line (the attested-builds shapes). */
export type BuildEvent =
  | { type: 'queued'; position: number }
  | { type: 'vm' | 'init' | 'detect' | 'build' | 'provenance' | 'attest'; msg: string }
  | { type: 'complete'; result: BuildOutcome };
export type BuildOutcome = { status: 'ok' } | { status: 'failed'; error: string; error_type: BuildErrorType };
/** docs/builds.md "Failures" */
export type BuildErrorType = 'BuildError' | 'Timeout' | 'Cancelled' | 'OutputError' | 'SourceError' | 'SandboxUnavailable' | 'Interrupted' | 'InternalError';

/** A stored pipeline a build may start from (pipe-server's lookup, when merged). */
export type PipelineLookup = (p: Principal, pipelineId: string) => { config: PipelineConfig; streamId: string } | undefined;

/** The event beside `attest.receipt` for an ok build: {job_id, receipt_hash, provenance_sha256, subjects}. */
export const BUILD_PROVENANCE_EVENT_TYPE = 'build.provenance/v1';

/** Events held back for the phases after the log, so a long log can never crowd out provenance, attest or complete. */
const RESERVED_EVENTS = 32;
/** Retention sweep period (also run at start and after each job). */
const SWEEP_MS = 3_600_000;

interface LiveJob {
  id: string;
  principal: Principal;
  config: PipelineConfig;
  pipelineId: string | null;
  /** where the receipt goes: the stored pipeline's own stream, else (null) the builds stream of the tenant and system */
  streamId: string | null;
  /** the uploaded archive (uploads/<id>.tar.gz) and its sha256; null for a pipeline without sources */
  source: { file: string; sha256: string; summary: ArchiveSummary } | null;
  controller: AbortController;
  /** positions used, committed or pending */
  count: number;
  pending: string[];
  flushScheduled: boolean;
  logTruncated: boolean;
  done: boolean;
}

export class Builds {
  readonly cfg: BuildsConfig;
  readonly dirs: { work: string; results: string; uploads: string };
  private readonly queue: LiveJob[] = [];
  private readonly running = new Map<string, LiveJob>();
  /** job id → feeds to tell when its events move */
  private readonly watchers = new Map<string, Set<(head: number) => void>>();
  private readonly sweepTimer: NodeJS.Timeout;
  private closed = false;
  pipelines: PipelineLookup | undefined;

  constructor(private readonly ledger: Ledger) {
    this.cfg = ledger.config.builds;
    const root = path.join(ledger.config.dataDir, 'builds');
    this.dirs = { work: path.join(root, 'work'), results: path.join(root, 'results'), uploads: path.join(root, 'uploads') };
    for (const d of Object.values(this.dirs)) fs.mkdirSync(d, { recursive: true, mode: 0o700 });
    this.recoverInterrupted();
    this.sweep();
    this.sweepTimer = setInterval(() => this.sweep(), SWEEP_MS);
    this.sweepTimer.unref();
  }

  // ---- submitting ----

  /** Refuses before any body is read: building off, queue full, the key's jobs at their cap. */
  admit(p: Principal): void {
    if (!this.cfg.runner) {
      throw new ApiError('RUNNER_DISABLED', 'this server runs no builds: PROOFSTREAM_RUNNER is unset (set it to sandbox or process; docs/runner.md)');
    }
    if (this.cfg.runner === 'sandbox' && !engine.sandboxAvailable()) {
      throw new ApiError('RUNNER_UNAVAILABLE', 'PROOFSTREAM_RUNNER=sandbox but bubblewrap (bwrap) is missing or cannot create namespaces on this host: nothing runs unsandboxed instead');
    }
    const mine = [...this.queue, ...this.running.values()].filter((j) => j.principal.keyId === p.keyId).length;
    if (mine >= this.cfg.maxPerKey) {
      throw new ApiError('BUILD_LIMIT', `this API key has ${mine} build jobs queued or running (PROOFSTREAM_BUILD_MAX_PER_KEY); wait for one to complete`, {
        limit: this.cfg.maxPerKey,
        retry_after_s: 30,
      });
    }
    if (this.running.size >= this.cfg.concurrency && this.queue.length >= this.cfg.maxQueued) {
      throw new ApiError('BUILD_QUEUE_FULL', `${this.queue.length} build jobs are waiting (PROOFSTREAM_BUILD_MAX_QUEUED); retry later`, {
        limit: this.cfg.maxQueued,
        retry_after_s: 30,
      });
    }
  }

  /** A config and an uploaded archive: the archive is checked in full before the job exists (nothing runs otherwise). */
  async submitArchive(p: Principal, config: PipelineConfig, archive: Uint8Array): Promise<{ job_id: string }> {
    this.admit(p);
    const id = newId('bld');
    const file = path.join(this.dirs.uploads, `${id}.tar.gz`);
    fs.writeFileSync(file, archive, { mode: 0o600 });
    let summary: ArchiveSummary;
    try {
      summary = await inspectArchive(file, { maxFiles: this.cfg.maxFiles, maxUnpackedBytes: this.cfg.maxUnpackedBytes });
    } catch (e) {
      fs.rmSync(file, { force: true });
      if (e instanceof ArchiveRefused) {
        const code = e.reason === 'too_large' ? 'ARCHIVE_TOO_LARGE' : e.reason === 'unsafe' ? 'ARCHIVE_UNSAFE' : 'ARCHIVE_INVALID';
        throw new ApiError(code, e.message, { field: 'source', entry: e.entry });
      }
      throw e;
    }
    const sha256 = createHash('sha256').update(archive).digest('hex');
    try {
      return this.enqueue(p, id, config, null, null, { file, sha256, summary });
    } catch (e) {
      fs.rmSync(file, { force: true });
      throw e;
    }
  }

  /** A stored pipeline: its config runs in an empty workspace. */
  submitPipeline(p: Principal, pipelineId: string): { job_id: string } {
    this.admit(p);
    const found = this.pipelines?.(p, pipelineId);
    if (!found) throw new ApiError('RESOURCE_NOT_FOUND', 'pipeline not found', { field: 'pipeline_id' });
    return this.enqueue(p, newId('bld'), found.config, pipelineId, found.streamId, null);
  }

  private enqueue(p: Principal, id: string, config: PipelineConfig, pipelineId: string | null, streamId: string | null, source: LiveJob['source']): { job_id: string } {
    this.admit(p); // again: the archive check awaited, others may have been admitted meanwhile
    const job: LiveJob = { id, principal: p, config, pipelineId, streamId, source, controller: new AbortController(), count: 0, pending: [], flushScheduled: false, logTruncated: false, done: false };
    const position = this.running.size < this.cfg.concurrency ? 0 : this.queue.length;
    const { store } = this.ledger;
    store.write(() => {
      store.builds.insertJob({
        id,
        tenantId: p.tenantId,
        systemId: p.systemId,
        keyId: p.keyId,
        status: 'queued',
        pipelineId,
        config: canonicalize(config),
        createdAt: new Date().toISOString(),
        startedAt: null,
        completedAt: null,
        error: null,
        errorType: null,
        eventCount: 0,
        streamId: null,
        seqNo: null,
        eventId: null,
        resultBytes: null,
        resultRemovedAt: null,
      });
      job.count = 1;
      store.builds.appendEvent(id, JSON.stringify({ type: 'queued', position } satisfies BuildEvent));
    });
    this.queue.push(job);
    setImmediate(() => this.pump());
    return { job_id: id };
  }

  private pump(): void {
    while (!this.closed && this.running.size < this.cfg.concurrency && this.queue.length) {
      const job = this.queue.shift()!;
      this.running.set(job.id, job);
      void this.run(job).finally(() => {
        this.running.delete(job.id);
        this.pump();
      });
    }
  }

  // ---- events ----

  private emit(job: LiveJob, ev: BuildEvent): void {
    if (job.done) return;
    if (ev.type === 'build') {
      if (job.count >= this.cfg.maxEvents - RESERVED_EVENTS) {
        if (job.logTruncated) return;
        job.logTruncated = true;
        ev = { type: 'build', msg: `[proofstream] log truncated: this job keeps at most ${this.cfg.maxEvents} events (PROOFSTREAM_BUILD_MAX_EVENTS); later lines are not kept` };
      } else if (Buffer.byteLength(ev.msg) > this.cfg.maxLineBytes) {
        ev = { type: 'build', msg: Buffer.from(ev.msg).subarray(0, this.cfg.maxLineBytes).toString('utf8').replace(/\uFFFD$/, '') + ' [line cut]' };
      }
    }
    job.count++;
    job.pending.push(JSON.stringify(ev));
    // Log lines come many per turn: one transaction (one fsync) per turn, not per line.
    if (!job.flushScheduled) {
      job.flushScheduled = true;
      setImmediate(() => this.flush(job));
    }
  }

  /** Writes the pending events (and `also`, in the same transaction), then tells the job's feeds. */
  private flush(job: LiveJob, also?: () => void): void {
    job.flushScheduled = false;
    const lines = job.pending.splice(0);
    if (!lines.length && !also) return;
    const { store } = this.ledger;
    let head = 0;
    store.write(() => {
      for (const l of lines) head = store.builds.appendEvent(job.id, l);
      also?.();
    });
    if (head) this.tell(job.id, head);
  }

  private tell(jobId: string, head: number): void {
    const w = this.watchers.get(jobId);
    if (w) for (const fn of [...w]) fn(head);
  }

  /** The terminal event and the job's final state in one transaction. */
  private finish(job: LiveJob, outcome: BuildOutcome, extra: Partial<BuildJobRow> = {}): void {
    if (job.done) return;
    this.emit(job, { type: 'complete', result: outcome });
    job.done = true;
    this.flush(job, () =>
      this.ledger.store.builds.updateJob(job.id, {
        status: outcome.status,
        completedAt: new Date().toISOString(),
        error: outcome.status === 'failed' ? outcome.error : null,
        errorType: outcome.status === 'failed' ? outcome.error_type : null,
        ...extra,
      }),
    );
  }

  /** Feeds follow a job: `fn(head)` whenever its committed events reach `head`. Returns the unsubscribe. */
  watch(jobId: string, fn: (head: number) => void): () => void {
    let set = this.watchers.get(jobId);
    if (!set) this.watchers.set(jobId, (set = new Set()));
    set.add(fn);
    return () => {
      set.delete(fn);
      if (set.size === 0) this.watchers.delete(jobId);
    };
  }

  /** A job the caller may see (its tenant's; its own system's unless the key is tenant-wide), else 404. */
  jobFor(p: Principal, id: string): BuildJobRow {
    const row = this.ledger.store.builds.job(id);
    if (!row || !actsOn(p, { tenantId: row.tenantId, systemId: row.systemId })) throw notFound('build job');
    return row;
  }

  /** The position of a finished job's `complete` (its last event), or null while it may still grow. */
  lastPosition(jobId: string): number | null {
    const row = this.ledger.store.builds.job(jobId);
    return !row || row.status === 'ok' || row.status === 'failed' ? (row?.eventCount ?? 0) : null;
  }

  events(jobId: string, from: number, limit: number): { position: number; data: string }[] {
    return this.ledger.store.builds.events(jobId, from, limit);
  }

  // ---- running ----

  private async run(job: LiveJob): Promise<void> {
    const startedOn = new Date().toISOString();
    const ws = path.join(this.dirs.work, job.id);
    const mode = this.cfg.runner ?? 'process';
    try {
      this.ledger.store.write(() => this.ledger.store.builds.updateJob(job.id, { status: 'running', startedAt: startedOn }));
      const sandboxed = mode === 'sandbox';
      if (sandboxed && !engine.sandboxAvailable()) {
        this.emit(job, { type: 'vm', msg: 'PROOFSTREAM_RUNNER=sandbox, but bubblewrap (bwrap) is not usable on this server: nothing was run' });
        return this.finish(job, { status: 'failed', error: 'the bubblewrap sandbox is not available on this server', error_type: 'SandboxUnavailable' });
      }
      const isolation = sandboxed
        ? 'bubblewrap sandbox: no network, read-only system, only the workspace writable, own process group; no hardware isolation (no confidential VM)'
        : 'plain child process (PROOFSTREAM_RUNNER=process): scrubbed environment and own process group only; no sandbox, no network isolation, no hardware isolation';
      this.emit(job, { type: 'vm', msg: isolation });

      if (job.source) {
        this.emit(job, { type: 'init', msg: `Unpacking sources: ${job.source.summary.files} files, ${job.source.summary.bytes} bytes (archive sha256 ${job.source.sha256})` });
        try {
          await unpackSafely(job.source.file, ws, { maxFiles: this.cfg.maxFiles, maxUnpackedBytes: this.cfg.maxUnpackedBytes });
        } catch (e) {
          return this.finish(job, { status: 'failed', error: `the sources could not be unpacked: ${(e as Error).message}`, error_type: 'SourceError' });
        }
      } else {
        fs.mkdirSync(ws, { recursive: true, mode: 0o700 });
        this.emit(job, { type: 'init', msg: 'No source archive: the pipeline runs in an empty workspace' });
      }
      const pipelineHash = engine.pipelineHash(job.config);
      this.emit(job, { type: 'init', msg: `Verifying build inputs: ${job.config.steps.length} steps, pipeline_hash ${pipelineHash}` });
      const toolchains = detectToolchains(ws);
      this.emit(job, { type: 'detect', msg: toolchains.length ? toolchains.join(', ') : 'none' });

      const signer = this.ledger.signer;
      const result: ExecutionResult = await engine.runPipeline(job.config, {
        workspace: ws,
        mode,
        variables: {},
        stepTimeoutMs: this.cfg.stepTimeoutMs,
        logLimitBytes: this.cfg.logLimitBytes,
        maxParallel: this.ledger.config.pipelineMaxParallel, // PROOFSTREAM_PIPELINE_MAX_PARALLEL, as for executions
        signal: job.controller.signal,
        sign: (m) => signer.sign(m),
        signerPublicKey: signer.publicKey,
        onEvent: (e) => {
          if (e.type === 'step.log') this.emit(job, { type: 'build', msg: `[${e.step}] ${e.line}` });
          else if (e.type === 'step.started') this.emit(job, { type: 'build', msg: `[${e.step}] started` });
          else this.emit(job, { type: 'build', msg: `[${e.step}] ${e.status}${e.exit_code === null ? '' : ` (exit code ${e.exit_code})`}${e.cache_hit ? ', from cache' : ''} in ${e.duration_seconds.toFixed(2)} s` });
        },
      });
      if (job.done) return; // interrupted (shutdown) while the engine wound down

      const receiptHash = engine.pipelineReceiptHash(result.receipt);
      let failure = failureOf(result);
      let provenance: { text: string; sha256: string } | null = null;
      let subjects: Subject[] = [];
      if (!failure) {
        try {
          const declared = [...new Set(job.config.steps.flatMap((s) => s.outputs))];
          subjects = (await collectOutputs(ws, declared, this.cfg.maxResultBytes)).subjects;
          if (subjects.length === 0) throw new OutputError('the build produced no output files (declare them in the steps\' `outputs`): a build\'s provenance and result are its outputs');
          this.emit(job, { type: 'provenance', msg: `Generating provenance: in-toto Statement v1, SLSA Provenance v1, ${subjects.length} subject${subjects.length === 1 ? '' : 's'}` });
          const envelope = signedProvenance(
            {
              jobId: job.id,
              builderId: `urn:proofstream:builder:${encodeURIComponent(this.ledger.config.origin)}:${mode}`,
              config: job.config,
              pipelineHash,
              pipelineId: job.pipelineId,
              sourceSha256: job.source?.sha256 ?? null,
              runner: { mode, isolation },
              toolchains,
              startedOn: result.started_at,
              finishedOn: result.completed_at,
              subjects,
              receiptHash,
            },
            signer.kid,
            (m) => signer.sign(m),
          );
          const text = JSON.stringify(envelope, null, 2) + '\n';
          provenance = { text, sha256: createHash('sha256').update(text).digest('hex') };
          this.emit(job, { type: 'provenance', msg: `Signed DSSE envelope (application/vnd.in-toto+json) with ledger key ${signer.kid}; provenance.json sha256 ${provenance.sha256}` });
        } catch (e) {
          if (!(e instanceof OutputError)) throw e;
          failure = { status: 'failed', error: e.message, error_type: 'OutputError' };
        }
      }

      this.emit(job, { type: 'attest', msg: `Generating attestation: pipeline receipt ${receiptHash} (${result.receipt.status}), signed by the ledger key` });
      const placedAll = await this.appendReceipt(job, result.receipt, provenance && { sha256: provenance.sha256, subjects });
      const placed = placedAll[0]!;
      this.emit(job, {
        type: 'attest',
        msg: `Receipt appended to the ledger: stream ${placed.stream_id}, seq_no ${placed.seq_no}, event ${placed.stream_event_id}` +
          (placedAll[1] ? `; provenance committed at seq_no ${placedAll[1].seq_no} (${BUILD_PROVENANCE_EVENT_TYPE})` : ''),
      });
      const placement = { streamId: placed.stream_id, seqNo: placed.seq_no, eventId: placed.stream_event_id };
      if (failure) return this.finish(job, failure, placement);

      // receipt.json is §14.4's receipt bundle: the receipt and its stored event (inclusion once sealed: see docs).
      const bytes = await this.writeResult(job, ws, subjects, provenance!.text, {
        receipt: result.receipt,
        ledger: this.ledger.getEvent(job.principal, placed.stream_event_id),
      });
      this.finish(job, { status: 'ok' }, { ...placement, resultBytes: bytes });
    } catch (e) {
      if (job.done) return;
      if (e instanceof engine.EngineError && e.code === 'SANDBOX_UNAVAILABLE') {
        return this.finish(job, { status: 'failed', error: e.message, error_type: 'SandboxUnavailable' });
      }
      log.error({ event: 'build_failed', job_id: job.id, err: errField(e) }, 'a build job failed inside the server');
      this.finish(job, { status: 'failed', error: 'internal error (logged on the server)', error_type: 'InternalError' });
    } finally {
      fs.rmSync(ws, { recursive: true, force: true });
      if (job.source) fs.rmSync(job.source.file, { force: true });
      if (!this.closed) this.sweep();
    }
  }

  /** The stream of the job's tenant and system (made on first use, in one transaction with its row). */
  private streamOf(p: Principal): string {
    const { store } = this.ledger;
    const found = store.builds.stream(p.tenantId, p.systemId);
    if (found) return found.streamId;
    return store.write(() => {
      const again = store.builds.stream(p.tenantId, p.systemId);
      if (again) return again.streamId;
      const { view } = this.ledger.createStream(p, { use_case: 'builds', metadata: { kind: 'proofstream.builds' } }, undefined);
      store.builds.insertStream({ tenantId: p.tenantId, systemId: p.systemId, streamId: view.stream_id, createdAt: view.created_at });
      return view.stream_id;
    });
  }

  /**
   * The receipt as the pipelines append it (`attest.receipt`, payload exactly §14.4's, so the receipt bundle verifies
   * offline), and for an ok build a second event in the same batch committing to provenance.json's bytes and subjects.
   */
  private async appendReceipt(job: LiveJob, receipt: PipelineReceipt, provenance: { sha256: string; subjects: Subject[] } | null): Promise<ReceiptView[]> {
    const streamId = job.streamId ?? this.streamOf(job.principal);
    const events: EventInput[] = [{ source_ref: `build:${job.id}`, event_type: engine.PIPELINE_RECEIPT_EVENT_TYPE, payload: engine.pipelineReceiptEventPayload(receipt) }];
    if (provenance) {
      events.push({
        source_ref: `build:${job.id}`,
        event_type: BUILD_PROVENANCE_EVENT_TYPE,
        payload: { job_id: job.id, receipt_hash: engine.pipelineReceiptHash(receipt), provenance_sha256: provenance.sha256, subjects: provenance.subjects },
      });
    }
    const r = await this.ledger.append(job.principal, streamId, events, undefined, (rs) => rs);
    return r.receipts;
  }

  /** results/<id>.tar.gz: outputs/<path>…, provenance.json, receipt.json; written aside, then renamed. */
  private async writeResult(job: LiveJob, ws: string, subjects: Subject[], provenanceText: string, receiptBundle: unknown): Promise<number> {
    const stage = path.join(this.dirs.results, `${job.id}.stage`);
    fs.rmSync(stage, { recursive: true, force: true });
    fs.mkdirSync(path.join(stage, 'outputs'), { recursive: true, mode: 0o700 });
    try {
      for (const s of subjects) {
        const to = path.join(stage, 'outputs', s.name);
        fs.mkdirSync(path.dirname(to), { recursive: true });
        fs.copyFileSync(path.join(ws, s.name), to);
      }
      fs.writeFileSync(path.join(stage, 'provenance.json'), provenanceText, { mode: 0o600 });
      fs.writeFileSync(path.join(stage, 'receipt.json'), JSON.stringify(receiptBundle, null, 2) + '\n', { mode: 0o600 });
      const tmp = path.join(this.dirs.results, `${job.id}.tar.gz.tmp`);
      await tarCreate({ gzip: true, file: tmp, cwd: stage, portable: true }, ['outputs', 'provenance.json', 'receipt.json']);
      const final = this.resultFile(job.id);
      fs.renameSync(tmp, final);
      return fs.statSync(final).size;
    } finally {
      fs.rmSync(stage, { recursive: true, force: true });
    }
  }

  resultFile(jobId: string): string {
    return path.join(this.dirs.results, `${jobId}.tar.gz`);
  }

  // ---- restart, shutdown, retention ----

  /** Jobs a previous process left queued or running end `failed` / Interrupted, with their terminal event. */
  private recoverInterrupted(): void {
    const { store } = this.ledger;
    for (const row of store.builds.jobsWithStatus(['queued', 'running'])) {
      const error = row.status === 'running' ? 'the server restarted while the job ran' : 'the server restarted before the job ran';
      store.write(() => {
        store.builds.appendEvent(row.id, JSON.stringify({ type: 'complete', result: { status: 'failed', error, error_type: 'Interrupted' } } satisfies BuildEvent));
        store.builds.updateJob(row.id, { status: 'failed', completedAt: new Date().toISOString(), error, errorType: 'Interrupted' });
      });
    }
    // Workspaces and uploads belong to running or queued jobs only, and there are none now.
    for (const d of [this.dirs.work, this.dirs.uploads]) for (const f of fs.readdirSync(d)) fs.rmSync(path.join(d, f), { recursive: true, force: true });
    for (const f of fs.readdirSync(this.dirs.results)) if (!f.endsWith('.tar.gz')) fs.rmSync(path.join(this.dirs.results, f), { recursive: true, force: true });
  }

  /** Deletes jobs finished longer than the retention ago, and result archives beyond the newest PROOFSTREAM_BUILD_MAX_RESULTS. */
  sweep(): void {
    const { store } = this.ledger;
    try {
      const before = new Date(Date.now() - this.cfg.retentionMs).toISOString();
      for (const row of store.builds.finishedBefore(before, 1000)) {
        fs.rmSync(this.resultFile(row.id), { force: true });
        store.write(() => store.builds.deleteJob(row.id));
      }
      const kept = store.builds.keptResults();
      for (const row of kept.slice(this.cfg.maxResults)) {
        fs.rmSync(this.resultFile(row.id), { force: true });
        store.write(() => store.builds.updateJob(row.id, { resultBytes: null, resultRemovedAt: new Date().toISOString() }));
      }
    } catch (e) {
      log.error({ event: 'build_sweep_failed', err: errField(e) }, 'the build retention sweep failed');
    }
  }

  /** Server shutdown: running jobs are cancelled (their process groups killed) and end Interrupted, as queued ones. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweepTimer);
    for (const job of [...this.queue.splice(0), ...this.running.values()]) {
      job.controller.abort();
      this.finish(job, { status: 'failed', error: 'the server shut down while the job was queued or running', error_type: 'Interrupted' });
      if (job.source) fs.rmSync(job.source.file, { force: true });
    }
  }
}

function failureOf(r: ExecutionResult): BuildOutcome | null {
  if (r.status === 'completed') return null;
  const timedOut = r.steps.find((s) => s.status === 'timed_out');
  if (timedOut) return { status: 'failed', error: `step ${JSON.stringify(timedOut.name)} timed out`, error_type: 'Timeout' };
  const failed = r.steps.find((s) => s.status === 'failed');
  if (failed) return { status: 'failed', error: `step ${JSON.stringify(failed.name)} failed${failed.exit_code === null ? '' : ` with exit code ${failed.exit_code}`}`, error_type: 'BuildError' };
  if (r.status === 'cancelled') return { status: 'failed', error: 'the build was cancelled', error_type: 'Cancelled' };
  return { status: 'failed', error: 'the build failed', error_type: 'BuildError' };
}

const buildsOf = new WeakMap<Ledger, Builds>();

/** The one Builds of a ledger (routes and serve's shutdown share it). */
export function buildsFor(ledger: Ledger): Builds {
  let b = buildsOf.get(ledger);
  if (!b) buildsOf.set(ledger, (b = new Builds(ledger)));
  return b;
}

/** The Builds of a ledger if one was made (shutdown must not create one). */
export const existingBuilds = (ledger: Ledger): Builds | undefined => buildsOf.get(ledger);
