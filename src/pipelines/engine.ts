// The pipeline engine: runs a validated config as a DAG of steps (runner.ts), hashes declared inputs and outputs
// (hash-tree.ts), consults the cache (cache.ts), and signs the receipt (§14) whatever the outcome.
// Used by the server (pipe-server) and `proofstream run`. docs/runner.md.
import fs from 'node:fs';
import path from 'node:path';
import { bytesToHex } from '../protocol/bytes.js';
import {
  ATTEST_VERSION,
  pipelineReceiptSignedBytes,
  type PipelineReceipt,
} from '../protocol/pipeline-receipt.js';
import { pipelineHash, type PipelineConfig } from './config.js';
import { doomedSteps, readySteps, type NodeState } from './dag.js';
import { hashDeclaredPath, DEFAULT_HASH_LIMITS, type HashedPath, type HashLimits } from './hash-tree.js';
import { cacheKey, type ContentCache } from './cache.js';
import { runStepProcess } from './runner.js';
import { sandboxAvailable } from './sandbox.js';

export { sandboxAvailable };
export type { PipelineReceipt };

export type StepStatus = 'pending' | 'running' | 'completed' | 'failed' | 'skipped' | 'cancelled' | 'timed_out';
export type EngineEvent =
  | { type: 'step.started'; step: string; at: string }
  | { type: 'step.log'; step: string; stream: 'stdout' | 'stderr'; line: string; at: string }
  | { type: 'step.finished'; step: string; status: StepStatus; exit_code: number | null;
      duration_seconds: number; cache_hit: boolean; at: string };
export interface StepResult { name: string; status: StepStatus; exit_code: number | null; duration_seconds: number;
  cache_hit: boolean; inputs: Record<string, string>; outputs: Record<string, string> }
export interface ExecutionResult { status: 'completed' | 'failed' | 'cancelled'; started_at: string;
  completed_at: string; steps: StepResult[]; receipt: PipelineReceipt }
export interface RunOptions {
  workspace: string;
  cache?: ContentCache;
  mode: 'process' | 'sandbox';
  variables: Record<string, string>;
  stepTimeoutMs: number; logLimitBytes: number; maxParallel: number;
  signal?: AbortSignal;
  sign: (message: Uint8Array) => Uint8Array | Promise<Uint8Array>;
  signerPublicKey: Uint8Array;
  onEvent?: (e: EngineEvent) => void;
  /** bounds on hashing one declared input or output (default DEFAULT_HASH_LIMITS) */
  hashLimits?: HashLimits;
  /** extra directories visible read-only in sandbox mode (e.g. a toolchain outside /usr) */
  sandboxReadOnly?: string[];
}

/** The PATH a step gets unless `variables` sets its own. */
export const STEP_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export class EngineError extends Error {
  constructor(readonly code: 'INVALID_RUN_OPTIONS' | 'SANDBOX_UNAVAILABLE', message: string) {
    super(message);
  }
}

/** The step environment: exactly `variables`, plus PATH and HOME (the workspace) when they do not set them. */
export function stepEnvironment(variables: Record<string, string>, workspace: string): Record<string, string> {
  return { PATH: STEP_PATH, HOME: workspace, ...variables };
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

export async function runPipeline(config: PipelineConfig, opts: RunOptions): Promise<ExecutionResult> {
  for (const [k, v] of Object.entries(opts.variables)) {
    if (!VARIABLE_NAME.test(k) || typeof v !== 'string' || v.includes('\0')) {
      throw new EngineError('INVALID_RUN_OPTIONS', `variable ${JSON.stringify(k)}: names are [A-Za-z_][A-Za-z0-9_]*, values strings without NUL`);
    }
  }
  if (!(opts.signerPublicKey instanceof Uint8Array) || opts.signerPublicKey.length !== 32) {
    throw new EngineError('INVALID_RUN_OPTIONS', 'signerPublicKey must be 32 bytes');
  }
  if (opts.mode === 'sandbox' && !sandboxAvailable()) throw new EngineError('SANDBOX_UNAVAILABLE', 'bubblewrap (bwrap) is not available');
  const workspace = path.resolve(opts.workspace);
  if (!fs.statSync(workspace, { throwIfNoEntry: false })?.isDirectory()) throw new EngineError('INVALID_RUN_OPTIONS', `workspace ${workspace} is not a directory`);
  const maxParallel = Math.max(1, Math.floor(opts.maxParallel));
  const limits = opts.hashLimits ?? DEFAULT_HASH_LIMITS;
  const env = stepEnvironment(opts.variables, workspace);
  const emit = (e: EngineEvent): void => {
    try {
      opts.onEvent?.(e);
    } catch {
      /* a listener's failure is not the step's */
    }
  };

  const startedMs = Date.now();
  const started_at = new Date(startedMs).toISOString();
  const steps = config.steps;
  const index = new Map(steps.map((s, i) => [s.name, i]));
  const state: NodeState[] = steps.map(() => 'pending');
  const results: StepResult[] = steps.map((s) => ({
    name: s.name, status: 'pending', exit_code: null, duration_seconds: 0, cache_hit: false, inputs: {}, outputs: {},
  }));

  const finish = (i: number, r: Partial<StepResult> & { status: StepStatus }): void => {
    Object.assign(results[i]!, r);
    state[i] = r.status as NodeState;
    const x = results[i]!;
    emit({ type: 'step.finished', step: x.name, status: x.status, exit_code: x.exit_code, duration_seconds: x.duration_seconds, cache_hit: x.cache_hit, at: new Date().toISOString() });
  };

  const runOne = async (i: number): Promise<void> => {
    const step = steps[i]!;
    const t0 = Date.now();
    const log = (stream: 'stdout' | 'stderr', line: string) => emit({ type: 'step.log', step: step.name, stream, line, at: new Date().toISOString() });
    emit({ type: 'step.started', step: step.name, at: new Date(t0).toISOString() });
    const dur = () => round3((Date.now() - t0) / 1000);

    const inputs: Record<string, string> = {};
    try {
      for (const p of step.inputs) inputs[p] = (await hashDeclaredPath(workspace, p, limits)).hash;
    } catch (e) {
      log('stderr', `[proofstream: input ${(e as Error).message}]`);
      finish(i, { status: 'failed', exit_code: null, duration_seconds: dur(), inputs });
      return;
    }

    // Only steps that declare inputs are cached: a step with none depends on nothing we hash.
    const key = opts.cache && step.inputs.length > 0
      ? cacheKey({ command: step.run, inputs, outputs: step.outputs, variables: opts.variables, mode: opts.mode })
      : null;
    if (key && opts.cache) {
      const entry = await opts.cache.lookup(key);
      if (entry) {
        const restored = await opts.cache.restore(entry, workspace, limits, step.outputs).catch(() => null);
        if (restored) {
          log('stdout', `[proofstream: cache hit ${key}: outputs restored, command not run]`);
          finish(i, { status: 'completed', exit_code: 0, duration_seconds: dur(), cache_hit: true, inputs, outputs: hashesOf(restored) });
          return;
        }
        opts.cache.recountAsMiss();
      }
    }

    const r = await runStepProcess({
      command: step.run, cwd: workspace, env, mode: opts.mode, timeoutMs: opts.stepTimeoutMs,
      logLimitBytes: opts.logLimitBytes, signal: opts.signal, onLog: log, sandboxReadOnly: opts.sandboxReadOnly,
    });
    if (r.status !== 'completed') {
      if (r.status === 'timed_out') log('stderr', `[proofstream: step timed out after ${opts.stepTimeoutMs} ms; its process group was killed]`);
      finish(i, { status: r.status, exit_code: r.exit_code, duration_seconds: dur(), inputs });
      return;
    }
    const hashed: Record<string, HashedPath> = {};
    try {
      for (const p of step.outputs) hashed[p] = await hashDeclaredPath(workspace, p, limits);
    } catch (e) {
      log('stderr', `[proofstream: output ${(e as Error).message}]`);
      finish(i, { status: 'failed', exit_code: r.exit_code, duration_seconds: dur(), inputs });
      return;
    }
    if (key && opts.cache) await opts.cache.store(key, hashed).catch(() => false);
    finish(i, { status: 'completed', exit_code: r.exit_code, duration_seconds: dur(), inputs, outputs: hashesOf(hashed) });
  };

  const running = new Map<number, Promise<number>>();
  const aborted = () => opts.signal?.aborted === true;
  for (;;) {
    for (const i of doomedSteps(steps, state, index)) finish(i, { status: aborted() ? 'cancelled' : 'skipped' });
    if (aborted()) for (let i = 0; i < steps.length; i++) if (state[i] === 'pending') finish(i, { status: 'cancelled' });
    for (const i of readySteps(steps, state, index)) {
      if (running.size >= maxParallel || aborted()) break;
      state[i] = 'running';
      results[i]!.status = 'running';
      running.set(i, runOne(i).then(() => i, (e) => {
        finish(i, { status: 'failed', exit_code: null });
        emit({ type: 'step.log', step: steps[i]!.name, stream: 'stderr', line: `[proofstream: ${(e as Error).message}]`, at: new Date().toISOString() });
        return i;
      }));
    }
    if (running.size === 0) break;
    const done = await Promise.race(running.values());
    running.delete(done);
  }
  // Should the DAG leave anything pending (it cannot after validation), it did not run.
  for (let i = 0; i < steps.length; i++) if (state[i] === 'pending') finish(i, { status: 'skipped' });

  const completedMs = Date.now();
  const completed_at = new Date(completedMs).toISOString();
  const status: ExecutionResult['status'] = aborted()
    ? 'cancelled'
    : results.every((r) => r.status === 'completed') ? 'completed' : 'failed';
  const unsigned: Omit<PipelineReceipt, 'signature'> = {
    pipeline_hash: pipelineHash(config),
    timestamp: completed_at,
    total_duration_secs: round3((completedMs - startedMs) / 1000),
    attest_version: ATTEST_VERSION,
    status,
    steps: results.map((r) => ({
      name: r.name, status: r.status, exit_code: r.exit_code, duration_secs: r.duration_seconds, cache_hit: r.cache_hit,
      inputs: r.inputs, outputs: r.outputs,
    })),
    signer_public_key: `ed25519:${bytesToHex(opts.signerPublicKey)}`,
  };
  const sig = await opts.sign(pipelineReceiptSignedBytes(unsigned));
  const receipt: PipelineReceipt = { ...unsigned, signature: `ed25519:${bytesToHex(sig)}` };
  return { status, started_at, completed_at, steps: results, receipt };
}

function hashesOf(h: Record<string, HashedPath>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) out[k] = v.hash;
  return out;
}
