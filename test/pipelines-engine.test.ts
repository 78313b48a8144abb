// The pipeline engine with real child processes (issue #16 "The runner"): DAG with parallel branches, a failing
// step, cache hits, timeout and cancel that leave no process behind, environment scrubbing, the sandbox.
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from './helpers/server.js';
import { waitFor } from './helpers/wait.js';
import { validatePipelineConfig, type PipelineConfig } from '../src/pipelines/config.js';
import { runPipeline, sandboxAvailable, type EngineEvent, type RunOptions } from '../src/pipelines/engine.js';
import { ContentCache } from '../src/pipelines/cache.js';
import { verifyPipelineReceipt } from '../src/verify/pipeline-receipt.js';
import { loadPipelineEngineLimits } from '../src/config.js';

function signer() {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ed25519');
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  return {
    sign: (m: Uint8Array) => new Uint8Array(crypto.sign(null, m, privateKey)),
    signerPublicKey: new Uint8Array(raw),
    publicHex: `ed25519:${Buffer.from(raw).toString('hex')}`,
  };
}

function config(steps: Array<Partial<PipelineConfig['steps'][number]> & { name: string; run: string }>): PipelineConfig {
  const r = validatePipelineConfig({ version: '0.1', steps });
  if (!r.ok) throw new Error(`${r.field}: ${r.message}`);
  return r.config;
}

function opts(workspace: string, extra: Partial<RunOptions> = {}): RunOptions & { publicHex: string } {
  const s = signer();
  return {
    workspace, mode: 'process', variables: {}, stepTimeoutMs: 30_000, logLimitBytes: 64 * 1024, maxParallel: 4,
    sign: s.sign, signerPublicKey: s.signerPublicKey, publicHex: s.publicHex, ...extra,
  };
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('runPipeline', () => {
  it('runs independent branches in parallel, skips the dependants of a failed step, and still signs the receipt', async () => {
    const ws = tempDir();
    // a and b each wait until the other has started: they can only both finish if they overlap. No timing assertion.
    // The start file appears by rename, whole: a redirect creates it empty before `date` writes, and a step that saw
    // it then could write its end time before the other's start time lands (seen once under load).
    const wait = (me: string, other: string) =>
      `date +%s%N > ${me}.start.tmp && mv ${me}.start.tmp ${me}.start; i=0; while [ ! -f ${other}.start ]; do i=$((i+1)); [ $i -gt 400 ] && exit 9; sleep 0.05; done; date +%s%N > ${me}.end`;
    const cfg = config([
      { name: 'a', run: wait('a', 'b') },
      { name: 'b', run: wait('b', 'a') },
      { name: 'join', run: 'cat a.end b.end > joined', needs: ['a', 'b'], outputs: ['joined'] },
      { name: 'boom', run: 'echo about to fail; exit 3', needs: ['join'] },
      { name: 'after-boom', run: 'touch never', needs: ['boom'] },
      { name: 'after-after', run: 'touch never2', needs: ['after-boom'] },
    ]);
    const events: EngineEvent[] = [];
    const o = opts(ws, { onEvent: (e) => events.push(e) });
    const res = await runPipeline(cfg, o);
    const byName = Object.fromEntries(res.steps.map((s) => [s.name, s]));
    expect(byName.a!.status).toBe('completed');
    expect(byName.b!.status).toBe('completed');
    // overlap from what the steps wrote: each started before the other ended
    const t = (f: string) => BigInt(fs.readFileSync(path.join(ws, f), 'utf8').trim());
    expect(t('a.start') < t('b.end') && t('b.start') < t('a.end')).toBe(true);
    expect(byName.join!.outputs.joined).toMatch(/^blake3:[0-9a-f]{64}$/);
    expect(byName.boom).toMatchObject({ status: 'failed', exit_code: 3 });
    expect(byName['after-boom']!.status).toBe('skipped');
    expect(byName['after-after']!.status).toBe('skipped');
    expect(fs.existsSync(path.join(ws, 'never'))).toBe(false);
    expect(res.status).toBe('failed');
    expect(res.receipt.status).toBe('failed');
    expect(events.some((e) => e.type === 'step.log' && e.step === 'boom' && e.line === 'about to fail')).toBe(true);
    const v = verifyPipelineReceipt(res.receipt, { trustedKeys: [o.publicHex] });
    expect(v.problems).toEqual([]);
    expect(v.ok).toBe(true);
    // one altered output hash breaks the signature
    const tampered = structuredClone(res.receipt);
    tampered.steps[2]!.outputs.joined = `blake3:${'0'.repeat(64)}`;
    expect(verifyPipelineReceipt(tampered).problems.map((p) => p.code)).toEqual(['SIGNATURE_INVALID']);
  });

  it('restores outputs from the cache on the second run, with identical hashes and without running the command', async () => {
    const ws = tempDir();
    const cache = new ContentCache(tempDir('ps-cache-'));
    fs.mkdirSync(path.join(ws, 'src'));
    fs.writeFileSync(path.join(ws, 'src/a.txt'), 'hello');
    const cfg = config([{
      name: 'build', inputs: ['src/'], outputs: ['dist/', 'count'],
      run: 'mkdir -p dist/sub && cp src/a.txt dist/sub/a.txt && printf x >> runs && ln -sf sub/a.txt dist/link && wc -c < runs > count',
    }]);
    const first = await runPipeline(cfg, opts(ws, { cache }));
    expect(first.steps[0]).toMatchObject({ status: 'completed', cache_hit: false });
    fs.rmSync(path.join(ws, 'dist'), { recursive: true });
    fs.writeFileSync(path.join(ws, 'count'), 'garbage');
    const second = await runPipeline(cfg, opts(ws, { cache }));
    expect(second.steps[0]).toMatchObject({ status: 'completed', cache_hit: true });
    expect(second.steps[0]!.outputs).toEqual(first.steps[0]!.outputs);
    expect(second.steps[0]!.inputs).toEqual(first.steps[0]!.inputs);
    expect(fs.readFileSync(path.join(ws, 'runs'), 'utf8')).toBe('x'); // the command ran once
    expect(fs.readlinkSync(path.join(ws, 'dist/link'))).toBe('sub/a.txt');
    expect(cache.stats()).toMatchObject({ hits: 1, misses: 1, total_entries: 1 });
    // a changed input is a different key: the command runs again
    fs.writeFileSync(path.join(ws, 'src/a.txt'), 'changed');
    const third = await runPipeline(cfg, opts(ws, { cache }));
    expect(third.steps[0]!.cache_hit).toBe(false);
    expect(fs.readFileSync(path.join(ws, 'runs'), 'utf8')).toBe('xx');
  });

  it('a timed-out step is killed with its whole process group', async () => {
    const ws = tempDir();
    const cfg = config([{ name: 'slow', run: 'sleep 300 & echo $! > child.pid; echo $$ > sh.pid; wait' }]);
    // long enough for the pid files to be written on a loaded machine
    const res = await runPipeline(cfg, opts(ws, { stepTimeoutMs: 4000 }));
    expect(res.steps[0]!.status).toBe('timed_out');
    expect(res.status).toBe('failed');
    for (const f of ['child.pid', 'sh.pid']) {
      const pid = Number(fs.readFileSync(path.join(ws, f), 'utf8'));
      await waitFor(async () => (alive(pid) ? undefined : true));
    }
  });

  it('cancel kills every running group and cancels the steps not started', async () => {
    const ws = tempDir();
    const cfg = config([
      { name: 'x', run: 'sleep 300 & echo $! > x.pid; wait' },
      { name: 'y', run: 'sleep 300 & echo $! > y.pid; wait' },
      { name: 'z', run: 'touch z.ran', needs: ['x'] },
    ]);
    const ac = new AbortController();
    const p = runPipeline(cfg, opts(ws, { signal: ac.signal }));
    await waitFor(async () => (fs.existsSync(path.join(ws, 'x.pid')) && fs.existsSync(path.join(ws, 'y.pid')) ? true : undefined));
    ac.abort();
    const res = await p;
    expect(res.status).toBe('cancelled');
    expect(res.steps.map((s) => s.status)).toEqual(['cancelled', 'cancelled', 'cancelled']);
    expect(fs.existsSync(path.join(ws, 'z.ran'))).toBe(false);
    for (const f of ['x.pid', 'y.pid']) {
      const pid = Number(fs.readFileSync(path.join(ws, f), 'utf8'));
      await waitFor(async () => (alive(pid) ? undefined : true));
    }
    expect(verifyPipelineReceipt(res.receipt).ok).toBe(true);
  });

  it('steps see exactly the variables given (plus PATH and HOME), never the server environment', async () => {
    const ws = tempDir();
    process.env.PROOFSTREAM_TEST_SERVER_SECRET = 'hunter2';
    try {
      const cfg = config([{ name: 'env', run: 'env | sort > env.txt' }]);
      const res = await runPipeline(cfg, opts(ws, { variables: { GREETING: 'hi there' } }));
      expect(res.status).toBe('completed');
      const names = fs.readFileSync(path.join(ws, 'env.txt'), 'utf8').trim().split('\n').map((l) => l.split('=')[0]);
      expect(fs.readFileSync(path.join(ws, 'env.txt'), 'utf8')).not.toContain('hunter2');
      expect(names.filter((n) => !['PWD', 'SHLVL', '_'].includes(n!))).toEqual(['GREETING', 'HOME', 'PATH']);
    } finally {
      delete process.env.PROOFSTREAM_TEST_SERVER_SECRET;
    }
  });

  it('maxParallel bounds how many steps run at once', async () => {
    const ws = tempDir();
    const step = (n: string) => ({ name: n, run: `date +%s%N > ${n}.start; sleep 0.3; date +%s%N > ${n}.end` });
    const res = await runPipeline(config([step('a'), step('b'), step('c')]), opts(ws, { maxParallel: 1 }));
    expect(res.status).toBe('completed');
    const t = (f: string) => BigInt(fs.readFileSync(path.join(ws, f), 'utf8').trim());
    // one at a time, in config order: each starts after the previous one ended
    expect(t('a.end') <= t('b.start') && t('b.end') <= t('c.start')).toBe(true);
  });

  it('engine limits come from the environment, with defaults, and bad values are refused', () => {
    expect(loadPipelineEngineLimits({})).toEqual({
      stepTimeoutMs: 1_800_000, logLimitBytes: 10 * 1024 * 1024, maxParallel: 4, cacheMaxBytes: 5 * 1024 ** 3, hashMaxFiles: 100_000, hashMaxBytes: 4 * 1024 ** 3,
    });
    expect(loadPipelineEngineLimits({ PROOFSTREAM_PIPELINE_STEP_TIMEOUT_MS: '5000', PROOFSTREAM_PIPELINE_MAX_PARALLEL: '2', PROOFSTREAM_CACHE_MAX_BYTES: '1000' }))
      .toMatchObject({ stepTimeoutMs: 5000, maxParallel: 2, cacheMaxBytes: 1000 });
    expect(() => loadPipelineEngineLimits({ PROOFSTREAM_PIPELINE_MAX_PARALLEL: '0' })).toThrow(/at least 1/);
    expect(() => loadPipelineEngineLimits({ PROOFSTREAM_PIPELINE_LOG_LIMIT_BYTES: 'lots' })).toThrow(/non-negative integer/);
  });

  it('caps the log of a step and says so', async () => {
    const ws = tempDir();
    const lines: string[] = [];
    const cfg = config([{ name: 'noisy', run: 'i=0; while [ $i -lt 2000 ]; do echo line-$i; i=$((i+1)); done' }]);
    const res = await runPipeline(cfg, opts(ws, { logLimitBytes: 1000, onEvent: (e) => e.type === 'step.log' && lines.push(e.line) }));
    expect(res.status).toBe('completed');
    expect(lines.at(-1)).toBe('[proofstream: log truncated after 1000 bytes]');
    expect(lines.slice(0, -1).join('\n').length).toBeLessThanOrEqual(1000);
    expect(lines[0]).toBe('line-0');
  });

  const bwrap = sandboxAvailable();
  it.runIf(bwrap)('sandbox mode refuses network access, and reads and writes outside the workspace (process mode, the control, does not)', async () => {
    const server = net.createServer((sock) => sock.end('hi\n'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    try {
      const outside = tempDir('ps-outside-');
      const cfg = config([
        { name: 'net', run: `/usr/bin/bash -c 'exec 3<>/dev/tcp/127.0.0.1/${port}' 2>/dev/null && echo open > net.txt || echo refused > net.txt` },
        { name: 'write', run: `touch ${outside}/escaped 2>/dev/null; echo ok > inside.txt` },
        { name: 'read', run: `cat ${outside}/secret > read.txt 2>/dev/null || echo unreadable > read.txt` },
      ]);
      fs.writeFileSync(path.join(outside, 'secret'), 'server secret');
      const control = tempDir();
      expect((await runPipeline(cfg, opts(control, { mode: 'process' }))).status).toBe('completed');
      expect(fs.readFileSync(path.join(control, 'net.txt'), 'utf8').trim()).toBe('open');
      expect(fs.existsSync(path.join(outside, 'escaped'))).toBe(true);
      expect(fs.readFileSync(path.join(control, 'read.txt'), 'utf8')).toBe('server secret');
      fs.rmSync(path.join(outside, 'escaped'));

      const ws = tempDir();
      const res = await runPipeline(cfg, opts(ws, { mode: 'sandbox' }));
      expect(res.status).toBe('completed');
      expect(fs.readFileSync(path.join(ws, 'net.txt'), 'utf8').trim()).toBe('refused');
      expect(fs.readFileSync(path.join(ws, 'inside.txt'), 'utf8').trim()).toBe('ok');
      expect(fs.existsSync(path.join(outside, 'escaped'))).toBe(false);
      expect(fs.readFileSync(path.join(ws, 'read.txt'), 'utf8').trim()).toBe('unreadable');
    } finally {
      server.close();
    }
  });
  // Shown only where bwrap cannot run, so that a missing sandbox test is visible in the report (CI installs bubblewrap).
  it.skipIf(bwrap)('sandbox mode NOT TESTED: bubblewrap is not installed or cannot create namespaces here', () => {
    console.warn('pipelines-engine: sandbox test skipped: bwrap unavailable');
  });
});
