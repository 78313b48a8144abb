// The pipeline config (`attest.yaml`, version "0.1"): structure (zod, also the OpenAPI body schema) plus the checks
// zod cannot express per field — duplicate names, unknown `needs`, cycles. docs/runner.md "Config".
import { z } from '@hono/zod-openapi';
import { parse as parseYaml } from 'yaml';
import { utf8ToBytes } from '../protocol/bytes.js';
import { canonicalize } from '../protocol/jcs.js';
import { blake3Ref, isTreePath } from '../protocol/blake3-tree.js';

export interface StepConfig { name: string; run: string; inputs: string[]; outputs: string[]; needs: string[] }
export interface PipelineConfig { version: '0.1'; steps: StepConfig[] }

/** Format limits (part of the config format, the same on every server and CLI). */
export const PIPELINE_LIMITS = {
  maxSteps: 256,
  maxNameLength: 100,
  maxRunLength: 16_384,
  maxPathsPerStep: 128,
  maxPathLength: 1024,
  /** YAML/JSON text of one config */
  maxConfigBytes: 1_048_576,
} as const;

const STEP_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** A workspace-relative path; one trailing `/` marks a directory (the seed's `dist/`). */
export function isStepPath(p: string): boolean {
  return isTreePath(p.endsWith('/') ? p.slice(0, -1) : p);
}

const StepPath = z
  .string()
  .min(1)
  .max(PIPELINE_LIMITS.maxPathLength)
  .refine(isStepPath, { message: 'must be a relative path inside the workspace (no leading /, no . or .. segments)' });

export const StepConfigSchema = z
  .object({
    name: z.string().min(1).max(PIPELINE_LIMITS.maxNameLength).regex(STEP_NAME, 'letters, digits, . _ - (not first)'),
    run: z.string().max(PIPELINE_LIMITS.maxRunLength).refine((s) => s.trim().length > 0, { message: 'command must not be empty' }),
    inputs: z.array(StepPath).max(PIPELINE_LIMITS.maxPathsPerStep).default([]),
    outputs: z.array(StepPath).max(PIPELINE_LIMITS.maxPathsPerStep).default([]),
    needs: z.array(z.string().min(1).max(PIPELINE_LIMITS.maxNameLength)).max(PIPELINE_LIMITS.maxSteps).default([]),
  })
  .strict()
  .openapi('PipelineStep');

export const PipelineConfigSchema: z.ZodType<PipelineConfig> = z
  .object({
    version: z.literal('0.1'),
    steps: z.array(StepConfigSchema).min(1).max(PIPELINE_LIMITS.maxSteps),
  })
  .strict()
  .openapi('PipelineConfig') as unknown as z.ZodType<PipelineConfig>;

export type ConfigCheck = { ok: true; config: PipelineConfig } | { ok: false; field: string; message: string };

/** `['steps', 0, 'run']` → `steps[0].run` */
export function fieldPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? String(p) : `.${String(p)}`;
  return out === '' ? '(root)' : out;
}

/** Full check: structure, empty `run`, duplicate names, unknown needs, cycles. field like `steps[0].run`. */
export function validatePipelineConfig(input: unknown): ConfigCheck {
  const parsed = PipelineConfigSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    // An unknown member is named itself (steps[0].need), not its object.
    const extra = issue.code === 'unrecognized_keys' ? [issue.keys[0]!] : [];
    return { ok: false, field: fieldPath([...issue.path, ...extra]), message: issue.message };
  }
  const config = parsed.data;
  const index = new Map<string, number>();
  for (const [i, s] of config.steps.entries()) {
    if (index.has(s.name)) return { ok: false, field: `steps[${i}].name`, message: `duplicate step name "${s.name}" (also steps[${index.get(s.name)}])` };
    index.set(s.name, i);
  }
  for (const [i, s] of config.steps.entries()) {
    const seen = new Set<string>();
    for (const [j, n] of s.needs.entries()) {
      if (!index.has(n)) return { ok: false, field: `steps[${i}].needs[${j}]`, message: `unknown step "${n}"` };
      if (seen.has(n)) return { ok: false, field: `steps[${i}].needs[${j}]`, message: `"${n}" is listed twice` };
      seen.add(n);
    }
  }
  const cycle = findCycle(config.steps, index);
  if (cycle) {
    const first = index.get(cycle[0]!)!;
    return { ok: false, field: `steps[${first}].needs`, message: `dependency cycle: ${cycle.join(' -> ')}` };
  }
  return { ok: true, config };
}

/** A cycle as step names (first repeated at the end), or null. Iterative, so a 256-step chain cannot overflow. */
function findCycle(steps: StepConfig[], index: Map<string, number>): string[] | null {
  const state = new Uint8Array(steps.length); // 0 new, 1 on the stack, 2 done
  for (let root = 0; root < steps.length; root++) {
    if (state[root] !== 0) continue;
    const stack: { i: number; next: number }[] = [{ i: root, next: 0 }];
    state[root] = 1;
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const needs = steps[top.i]!.needs;
      if (top.next >= needs.length) {
        state[top.i] = 2;
        stack.pop();
        continue;
      }
      const j = index.get(needs[top.next++]!)!;
      if (state[j] === 1) {
        const from = stack.findIndex((f) => f.i === j);
        return [...stack.slice(from).map((f) => steps[f.i]!.name), steps[j]!.name];
      }
      if (state[j] === 0) {
        state[j] = 1;
        stack.push({ i: j, next: 0 });
      }
    }
  }
  return null;
}

/** Parses `attest.yaml` (YAML or JSON text), then validatePipelineConfig. Never throws. */
export function parsePipelineYaml(text: string): ConfigCheck {
  if (typeof text !== 'string') return { ok: false, field: '(root)', message: 'config must be text' };
  if (utf8ToBytes(text).length > PIPELINE_LIMITS.maxConfigBytes) {
    return { ok: false, field: '(root)', message: `config is larger than ${PIPELINE_LIMITS.maxConfigBytes} bytes` };
  }
  let value: unknown;
  try {
    // Aliases are capped so a small document cannot expand into a huge one; duplicate keys are refused.
    value = parseYaml(text, { maxAliasCount: 100, uniqueKeys: true, prettyErrors: false });
  } catch (e) {
    return { ok: false, field: '(root)', message: `not valid YAML: ${(e as Error).message.split('\n')[0]}` };
  }
  return validatePipelineConfig(value);
}

/** `blake3:<hex>` (context `proofstream/v1 pipeline config`) of JCS of the validated, defaults-filled config, §14. */
export function pipelineHash(config: PipelineConfig): string {
  const normalized = {
    version: config.version,
    steps: config.steps.map((s) => ({ name: s.name, run: s.run, inputs: s.inputs, outputs: s.outputs, needs: s.needs })),
  };
  return blake3Ref('config', utf8ToBytes(canonicalize(normalized)));
}
