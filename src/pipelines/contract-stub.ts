// THROWAWAY: a minimal stand-in for pipe-engine's modules (the #16 contract), used only until h/pipeengine's
// engine-contract commit is merged. Deleted at that merge; nothing else imports it but engine-api.ts.
import { spawn } from 'node:child_process';
import { blake3 } from '@noble/hashes/blake3.js';
import { z } from 'zod';
import { bytesToHex, hexToBytes } from '../protocol/bytes.js';
import { canonicalize, canonicalBytes } from '../protocol/jcs.js';
import { ed25519Verify } from './stub-ed.js';

export interface StepConfig { name: string; run: string; inputs: string[]; outputs: string[]; needs: string[] }
export interface PipelineConfig { version: '0.1'; steps: StepConfig[] }
export const PipelineConfigSchema: z.ZodType<PipelineConfig> = z.object({
  version: z.literal('0.1'),
  steps: z.array(z.object({ name: z.string(), run: z.string(), inputs: z.array(z.string()).default([]), outputs: z.array(z.string()).default([]), needs: z.array(z.string()).default([]) })),
}) as never;
export function validatePipelineConfig(input: unknown): { ok: true; config: PipelineConfig } | { ok: false; field: string; message: string } {
  const r = PipelineConfigSchema.safeParse(input);
  if (!r.success) {
    const i = r.error.issues[0]!;
    return { ok: false, field: i.path.map((p, n) => (typeof p === 'number' ? `[${p}]` : n ? `.${String(p)}` : String(p))).join(''), message: i.message };
  }
  const names = new Set<string>();
  for (const [i, s] of r.data.steps.entries()) {
    if (!s.run.trim()) return { ok: false, field: `steps[${i}].run`, message: 'Command cannot be empty' };
    if (names.has(s.name)) return { ok: false, field: `steps[${i}].name`, message: 'duplicate step name' };
    names.add(s.name);
  }
  for (const [i, s] of r.data.steps.entries()) for (const [j, n] of s.needs.entries()) if (!names.has(n)) return { ok: false, field: `steps[${i}].needs[${j}]`, message: 'unknown step' };
  return { ok: true, config: r.data };
}
export const pipelineHash = (c: PipelineConfig): string => `blake3:${bytesToHex(blake3(canonicalBytes(c)))}`;
export type StepStatus = 'pending' | 'running' | 'completed' | 'failed' | 'skipped' | 'cancelled' | 'timed_out';
export type EngineEvent =
  | { type: 'step.started'; step: string; at: string }
  | { type: 'step.log'; step: string; stream: 'stdout' | 'stderr'; line: string; at: string }
  | { type: 'step.finished'; step: string; status: StepStatus; exit_code: number | null; duration_seconds: number; cache_hit: boolean; at: string };
export interface StepResult { name: string; status: StepStatus; exit_code: number | null; duration_seconds: number; cache_hit: boolean; inputs: Record<string, string>; outputs: Record<string, string> }
export interface PipelineReceipt { pipeline_hash: string; timestamp: string; total_duration_secs: number; attest_version: string; status: 'completed' | 'failed' | 'cancelled';
  steps: { name: string; status: string; exit_code: number | null; duration_secs: number; cache_hit: boolean; inputs: Record<string, string>; outputs: Record<string, string> }[];
  signature: string; signer_public_key: string }
export interface ExecutionResult { status: 'completed' | 'failed' | 'cancelled'; started_at: string; completed_at: string; steps: StepResult[]; receipt: PipelineReceipt }
export class ContentCache {
  private hits = 0;
  private misses = 0;
  constructor(readonly dir: string, _opts?: { maxBytes?: number }) {}
  stats() { return { total_size_bytes: 0, total_entries: 0, hits: this.hits, misses: this.misses, hit_rate: 0, miss_rate: 0 }; }
  delete(_b: string): boolean { return false; }
  gc(_o: { max_age_days?: number; target_size_percent?: number; aggressive?: boolean }) { return { removed_entries: 0, freed_bytes: 0 }; }
}
export interface RunOptions { workspace: string; cache?: ContentCache; mode: 'process' | 'sandbox'; variables: Record<string, string>; stepTimeoutMs: number; logLimitBytes: number; maxParallel: number;
  signal?: AbortSignal; sign: (m: Uint8Array) => Uint8Array | Promise<Uint8Array>; signerPublicKey: Uint8Array; onEvent?: (e: EngineEvent) => void }
export const sandboxAvailable = (): boolean => false;
const DOMAIN = 'proofstream/pipeline-receipt/v0\n';
export const pipelineReceiptSignedBytes = (r: Omit<PipelineReceipt, 'signature'>): Uint8Array => new TextEncoder().encode(DOMAIN + canonicalize(r));
export const pipelineReceiptHash = (r: PipelineReceipt): string => `blake3:${bytesToHex(blake3(canonicalBytes(r)))}`;
export const PIPELINE_RECEIPT_EVENT_TYPE = 'attest.receipt';
export async function runPipeline(config: PipelineConfig, o: RunOptions): Promise<ExecutionResult> {
  const t0 = Date.now();
  const started_at = new Date().toISOString();
  const steps: StepResult[] = [];
  let failed = false;
  let cancelled = false;
  for (const s of config.steps) {
    if (failed || cancelled || o.signal?.aborted) {
      cancelled ||= !!o.signal?.aborted;
      steps.push({ name: s.name, status: cancelled ? 'cancelled' : 'skipped', exit_code: null, duration_seconds: 0, cache_hit: false, inputs: {}, outputs: {} });
      continue;
    }
    const st = Date.now();
    o.onEvent?.({ type: 'step.started', step: s.name, at: new Date().toISOString() });
    const code = await new Promise<number | null>((resolve) => {
      const p = spawn('sh', ['-c', s.run], { cwd: o.workspace, env: { PATH: '/usr/bin:/bin', HOME: o.workspace, ...o.variables }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      const kill = () => { try { process.kill(-p.pid!, 'SIGKILL'); } catch { /* gone */ } };
      o.signal?.addEventListener('abort', kill, { once: true });
      for (const [name, stream] of [['stdout', p.stdout], ['stderr', p.stderr]] as const) {
        let buf = '';
        stream.setEncoding('utf8');
        stream.on('data', (d: string) => {
          buf += d;
          const lines = buf.split('\n');
          buf = lines.pop()!;
          for (const line of lines) o.onEvent?.({ type: 'step.log', step: s.name, stream: name, line, at: new Date().toISOString() });
        });
        stream.on('end', () => { if (buf) o.onEvent?.({ type: 'step.log', step: s.name, stream: name, line: buf, at: new Date().toISOString() }); });
      }
      p.on('close', (c) => { o.signal?.removeEventListener('abort', kill); resolve(c); });
    });
    const status: StepStatus = o.signal?.aborted ? 'cancelled' : code === 0 ? 'completed' : 'failed';
    if (status === 'failed') failed = true;
    if (status === 'cancelled') cancelled = true;
    const r: StepResult = { name: s.name, status, exit_code: code, duration_seconds: (Date.now() - st) / 1000, cache_hit: false, inputs: {}, outputs: {} };
    steps.push(r);
    o.onEvent?.({ type: 'step.finished', step: s.name, status, exit_code: code, duration_seconds: r.duration_seconds, cache_hit: false, at: new Date().toISOString() });
  }
  const status = cancelled ? 'cancelled' : failed ? 'failed' : 'completed';
  const unsigned: Omit<PipelineReceipt, 'signature'> = {
    pipeline_hash: pipelineHash(config), timestamp: new Date().toISOString(), total_duration_secs: (Date.now() - t0) / 1000, attest_version: '0.1.0', status,
    steps: steps.map((s) => ({ name: s.name, status: s.status, exit_code: s.exit_code, duration_secs: s.duration_seconds, cache_hit: s.cache_hit, inputs: s.inputs, outputs: s.outputs })),
    signer_public_key: `ed25519:${bytesToHex(o.signerPublicKey)}`,
  };
  const sig = await o.sign(pipelineReceiptSignedBytes(unsigned));
  return { status, started_at, completed_at: new Date().toISOString(), steps, receipt: { ...unsigned, signature: `ed25519:${bytesToHex(sig)}` } };
}
export function verifyPipelineReceipt(input: unknown, opts: { trustedKeys?: string[]; now?: Date; maxAgeHours?: number }) {
  const problems: { code: string; path: string; message: string }[] = [];
  const r = input as PipelineReceipt;
  let signature_valid = false;
  let signer: string | null = null;
  let age_hours: number | null = null;
  try {
    const { signature, ...rest } = r;
    signer = r.signer_public_key;
    signature_valid = ed25519Verify(hexToBytes(signature.slice(8)), pipelineReceiptSignedBytes(rest), hexToBytes(r.signer_public_key.slice(8)));
    if (!signature_valid) problems.push({ code: 'SIGNATURE_INVALID', path: '/signature', message: 'bad signature' });
    if (opts.trustedKeys && !opts.trustedKeys.includes(r.signer_public_key)) problems.push({ code: 'SIGNER_UNTRUSTED', path: '/signer_public_key', message: 'untrusted' });
    age_hours = ((opts.now ?? new Date()).getTime() - Date.parse(r.timestamp)) / 3_600_000;
    if (opts.maxAgeHours !== undefined && age_hours > opts.maxAgeHours) problems.push({ code: 'RECEIPT_TOO_OLD', path: '/timestamp', message: 'too old' });
  } catch (e) {
    problems.push({ code: 'MALFORMED', path: '', message: (e as Error).message });
  }
  return { ok: problems.length === 0, problems, signature_valid, signer, age_hours };
}
