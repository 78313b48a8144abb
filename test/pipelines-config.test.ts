// Pipeline config validation (issue #16): structure, empty run, duplicate names, unknown needs, cycles, limits.
import { describe, expect, it } from 'vitest';
import { parsePipelineYaml, pipelineHash, PIPELINE_LIMITS, validatePipelineConfig } from '../src/pipelines/config.js';

const step = (name: string, extra: Record<string, unknown> = {}) => ({ name, run: `echo ${name}`, ...extra });

describe('validatePipelineConfig', () => {
  it('accepts the seed config and fills defaults', () => {
    const r = parsePipelineYaml(`
version: "0.1"
steps:
  - name: install
    run: npm ci
    inputs: [package.json, package-lock.json]
    outputs: [node_modules/]
  - name: build
    run: npm run build
    inputs: [src/, public/]
    outputs: [dist/]
    needs: [install]
`);
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.config.steps[0]!.needs).toEqual([]);
  });

  it.each([
    ['empty run', { version: '0.1', steps: [step('a', { run: '   ' })] }, 'steps[0].run'],
    ['missing run', { version: '0.1', steps: [{ name: 'a' }] }, 'steps[0].run'],
    ['duplicate names', { version: '0.1', steps: [step('a'), step('b'), step('a')] }, 'steps[2].name'],
    ['unknown needs', { version: '0.1', steps: [step('a'), step('b', { needs: ['a', 'nope'] })] }, 'steps[1].needs[1]'],
    ['self cycle', { version: '0.1', steps: [step('a', { needs: ['a'] })] }, 'steps[0].needs'],
    ['cycle', { version: '0.1', steps: [step('a', { needs: ['c'] }), step('b', { needs: ['a'] }), step('c', { needs: ['b'] })] }, 'steps[0].needs'],
    ['wrong version', { version: '0.2', steps: [step('a')] }, 'version'],
    ['no steps', { version: '0.1', steps: [] }, 'steps'],
    ['unknown member', { version: '0.1', steps: [step('a', { need: ['b'] })] }, 'steps[0].need'],
    ['path escaping the workspace', { version: '0.1', steps: [step('a', { inputs: ['../etc/passwd'] })] }, 'steps[0].inputs[0]'],
    ['absolute path', { version: '0.1', steps: [step('a', { outputs: ['/tmp/x'] })] }, 'steps[0].outputs[0]'],
    ['too many steps', { version: '0.1', steps: Array.from({ length: PIPELINE_LIMITS.maxSteps + 1 }, (_, i) => step(`s${i}`)) }, 'steps'],
    ['long name', { version: '0.1', steps: [step('n'.repeat(PIPELINE_LIMITS.maxNameLength + 1))] }, 'steps[0].name'],
    ['long command', { version: '0.1', steps: [step('a', { run: 'x'.repeat(PIPELINE_LIMITS.maxRunLength + 1) })] }, 'steps[0].run'],
  ])('refuses %s', (_what, input, field) => {
    const r = validatePipelineConfig(input);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.field).toBe(field);
  });

  it('names the cycle', () => {
    const r = validatePipelineConfig({ version: '0.1', steps: [step('a', { needs: ['c'] }), step('b', { needs: ['a'] }), step('c', { needs: ['b'] })] });
    expect(r.ok ? '' : r.message).toBe('dependency cycle: a -> c -> b -> a');
  });

  it('refuses YAML that is not YAML, duplicate keys, and alias bombs', () => {
    expect(parsePipelineYaml('version: "0.1"\nsteps: [').ok).toBe(false);
    expect(parsePipelineYaml('version: "0.1"\nversion: "0.1"\nsteps: []').ok).toBe(false);
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]', ...Array.from({ length: 12 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10).fill('*' + String.fromCharCode(97 + i)).join(', ')}]`)].join('\n');
    const r = parsePipelineYaml(bomb);
    expect(r.ok).toBe(false);
  });

  it('pipelineHash covers the normalized config: absent lists equal empty lists, any change changes it', () => {
    const a = validatePipelineConfig({ version: '0.1', steps: [step('a')] });
    const b = validatePipelineConfig({ steps: [{ needs: [], outputs: [], inputs: [], run: 'echo a', name: 'a' }], version: '0.1' });
    const c = validatePipelineConfig({ version: '0.1', steps: [step('a', { run: 'echo b' })] });
    if (!a.ok || !b.ok || !c.ok) throw new Error('invalid');
    expect(pipelineHash(a.config)).toMatch(/^blake3:[0-9a-f]{64}$/);
    expect(pipelineHash(a.config)).toBe(pipelineHash(b.config));
    expect(pipelineHash(a.config)).not.toBe(pipelineHash(c.config));
  });
});
