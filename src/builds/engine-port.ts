// TEMPORARY (until h/pipeengine merges): the #16 engine contract's shapes and a minimal stand-in engine, so the
// build jobs can be written and tested before the real one lands. At the merge this file re-exports src/pipelines/.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { blake3 } from '@noble/hashes/blake3.js';
import { z } from 'zod';
import { bytesToHex } from '../protocol/bytes.js';
import { canonicalize } from '../protocol/jcs.js';

export interface StepConfig { name: string; run: string; inputs: string[]; outputs: string[]; needs: string[] }
export interface PipelineConfig { version: '0.1'; steps: StepConfig[] }
export type StepStatus = 'pending' | 'running' | 'completed' | 'failed' | 'skipped' | 'cancelled' | 'timed_out';
export type EngineEvent =
  | { type: 'step.started'; step: string; at: string }
  | { type: 'step.log'; step: string; stream: 'stdout' | 'stderr'; line: string; at: string }
  | { type: 'step.finished'; step: string; status: StepStatus; exit_code: number | null; duration_seconds: number; cache_hit: boolean; at: string };
export interface PipelineReceipt {
  pipeline_hash: string; timestamp: string; total_duration_secs: number; attest_version: string;
  status: 'completed' | 'failed' | 'cancelled';
  steps: { name: string; status: string; exit_code: number | null; duration_secs: number; cache_hit: boolean; inputs: Record<string, string>; outputs: Record<string, string> }[];
  signature: string; signer_public_key: string;
}
export interface StepResult { name: string; status: StepStatus; exit_code: number | null; duration_seconds: number; cache_hit: boolean; inputs: Record<string, string>; outputs: Record<string, string> }
export interface ExecutionResult { status: 'completed' | 'failed' | 'cancelled'; started_at: string; completed_at: string; steps: StepResult[]; receipt: PipelineReceipt }
export interface RunOptions {
  workspace: string; mode: 'process' | 'sandbox'; variables: Record<string, string>;
  stepTimeoutMs: number; logLimitBytes: number; maxParallel: number; signal?: AbortSignal;
  sign: (message: Uint8Array) => Uint8Array | Promise<Uint8Array>; signerPublicKey: Uint8Array;
  onEvent?: (e: EngineEvent) => void;
}
export const PIPELINE_RECEIPT_EVENT_TYPE = 'attest.receipt';

const Step = z.object({ name: z.string().min(1), run: z.string(), inputs: z.array(z.string()).default([]), outputs: z.array(z.string()).default([]), needs: z.array(z.string()).default([]) });
export const PipelineConfigSchema = z.object({ version: z.literal('0.1'), steps: z.array(Step).min(1) });

export function validatePipelineConfig(input: unknown): { ok: true; config: PipelineConfig } | { ok: false; field: string; message: string } {
  const r = PipelineConfigSchema.safeParse(input);
  if (!r.success) {
    const i = r.error.issues[0]!;
    return { ok: false, field: i.path.map((p, k) => (typeof p === 'number' ? `[${p}]` : k ? `.${String(p)}` : String(p))).join(''), message: i.message };
  }
  const cfg = r.data as PipelineConfig;
  for (const [k, s] of cfg.steps.entries()) if (!s.run.trim()) return { ok: false, field: `steps[${k}].run`, message: 'empty command' };
  return { ok: true, config: cfg };
}

export function parsePipelineYaml(text: string): ReturnType<typeof validatePipelineConfig> {
  try {
    return validatePipelineConfig(JSON.parse(text));
  } catch {
    return { ok: false, field: 'config', message: 'not JSON (stub engine)' };
  }
}

export const pipelineHash = (c: PipelineConfig): string => 'blake3:' + bytesToHex(blake3(new TextEncoder().encode(canonicalize(c))));
export const sandboxAvailable = (): boolean => false;
export const pipelineReceiptHash = (r: PipelineReceipt): string => 'blake3:' + bytesToHex(blake3(new TextEncoder().encode(canonicalize(r))));

export async function runPipeline(config: PipelineConfig, opts: RunOptions): Promise<ExecutionResult> {
  const started = new Date();
  const steps: StepResult[] = [];
  let failed = false;
  for (const s of config.steps) {
    if (failed) {
      steps.push({ name: s.name, status: 'skipped', exit_code: null, duration_seconds: 0, cache_hit: false, inputs: {}, outputs: {} });
      continue;
    }
    opts.onEvent?.({ type: 'step.started', step: s.name, at: new Date().toISOString() });
    const t0 = Date.now();
    const code = await new Promise<number | null>((resolve) => {
      const child = spawn('sh', ['-c', s.run], { cwd: opts.workspace, env: { PATH: process.env.PATH!, HOME: opts.workspace, ...opts.variables }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      const abort = () => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ } };
      opts.signal?.addEventListener('abort', abort, { once: true });
      for (const [name, st] of [['stdout', child.stdout], ['stderr', child.stderr]] as const) {
        let buf = '';
        st.on('data', (d: Buffer) => {
          buf += d.toString();
          let i;
          while ((i = buf.indexOf('\n')) >= 0) {
            opts.onEvent?.({ type: 'step.log', step: s.name, stream: name, line: buf.slice(0, i), at: new Date().toISOString() });
            buf = buf.slice(i + 1);
          }
        });
        st.on('end', () => buf && opts.onEvent?.({ type: 'step.log', step: s.name, stream: name, line: buf, at: new Date().toISOString() }));
      }
      child.on('close', (c) => { opts.signal?.removeEventListener('abort', abort); resolve(c); });
    });
    const outputs: Record<string, string> = {};
    for (const o of s.outputs) {
      const f = path.join(opts.workspace, o);
      if (fs.existsSync(f) && fs.statSync(f).isFile()) outputs[o] = 'blake3:' + bytesToHex(blake3(fs.readFileSync(f)));
    }
    const ok = code === 0;
    failed = !ok;
    const r: StepResult = { name: s.name, status: ok ? 'completed' : 'failed', exit_code: code, duration_seconds: (Date.now() - t0) / 1000, cache_hit: false, inputs: {}, outputs };
    steps.push(r);
    opts.onEvent?.({ type: 'step.finished', step: s.name, status: r.status, exit_code: code, duration_seconds: r.duration_seconds, cache_hit: false, at: new Date().toISOString() });
  }
  const status = failed ? 'failed' : 'completed';
  const unsigned = {
    pipeline_hash: pipelineHash(config), timestamp: new Date().toISOString(), total_duration_secs: (Date.now() - started.getTime()) / 1000,
    attest_version: 'stub', status, signer_public_key: 'ed25519:' + bytesToHex(opts.signerPublicKey),
    steps: steps.map((x) => ({ name: x.name, status: x.status, exit_code: x.exit_code, duration_secs: x.duration_seconds, cache_hit: x.cache_hit, inputs: x.inputs, outputs: x.outputs })),
  } as const;
  const sig = await opts.sign(new TextEncoder().encode(canonicalize(unsigned)));
  return { status, started_at: started.toISOString(), completed_at: new Date().toISOString(), steps, receipt: { ...unsigned, signature: 'ed25519:' + bytesToHex(sig) } };
}
