// The README walk-through (issue #13, "A newcomer path with no traps"), run as a newcomer would: every ```sh block
// between `<!-- walkthrough:begin` and `<!-- walkthrough:end -->` in README.md, top to bottom, in one bash with
// `set -euo pipefail`, from a directory laid out like a fresh clone, on free ports the test picks through the
// variables the README documents (PORT, WITNESS_PORT, TSA_PORT). The README's own commands start the ledger, the
// witness and the test TSA, build a pack, wait for its evidence, verify it and stop the servers; the test then checks
// what they left: a pack with a witness cosignature and an anchor that verifies against the ledger's policy, and no
// process still running.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, ROOT, tempDir } from './helpers/server.js';
import { fakeClone, freePort, groupAlive, newcomerEnv, sectionBlocks, walkthroughScript } from './helpers/walkthrough.js';

const BEGIN = '<!-- walkthrough:begin';
const END = '<!-- walkthrough:end -->';
/** The whole walk-through (servers starting, two packs, an anchor epoch of 5 s) takes ~30 s on an idle machine. */
const DEADLINE_MS = 240_000;

/** The environment of a newcomer's shell: none of this process's ledger settings, the ports the test picked. */
const walkEnv = (ports: { PORT: number; WITNESS_PORT: number; TSA_PORT: number }, npmCache: string) =>
  newcomerEnv(['PORT', 'HOST', 'LOG_LEVEL', 'WITNESS_PORT', 'TSA_PORT', 'PS_KEY', 'PS_URL'], { PORT: String(ports.PORT), WITNESS_PORT: String(ports.WITNESS_PORT), TSA_PORT: String(ports.TSA_PORT) }, npmCache);

let group: number | undefined;
afterAll(() => {
  // A failed step leaves the README's servers running: end our own process group (the bash and all it started).
  if (group !== undefined && groupAlive(group)) process.kill(-group, 'SIGKILL');
});

describe('README walk-through', () => {
  it('needs curl, jq and openssl, which the README lists (.ci/run installs jq when missing)', () => {
    for (const tool of ['curl', 'jq', 'openssl']) {
      const found = spawnSync('bash', ['-c', `command -v ${tool}`]).status === 0;
      expect(found, `${tool} is not installed: the README walk-through needs it (jq: sudo apt-get install jq; .ci/run installs it)`).toBe(true);
    }
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    expect(readme).toContain('sudo apt-get install jq');
  });

  it('the walk-through directory is ignored by git', () => {
    const ignored = fs.readFileSync(path.join(ROOT, '.gitignore'), 'utf8').split('\n').map((l) => l.trim());
    expect(ignored.some((l) => /^\/?walkthrough\/?$/.test(l)), 'walkthrough/ must be in .gitignore').toBe(true);
  });

  it('runs top to bottom with a witness and the TSA, and its pack verifies', async () => {
    const blocks = sectionBlocks(fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8'), BEGIN, END);
    expect(blocks.length).toBeGreaterThan(5);

    const clone = fakeClone('ps-walkthrough-');
    const ports = { PORT: await freePort(), WITNESS_PORT: await freePort(), TSA_PORT: await freePort() };
    expect(new Set(Object.values(ports)).size).toBe(3);
    const scriptFile = path.join(tempDir('ps-walkthrough-script-'), 'walkthrough.sh');
    fs.writeFileSync(scriptFile, walkthroughScript(blocks));

    // Its own process group, so every server the README starts can be found (and ended) afterwards.
    const bash = spawn('bash', [scriptFile], {
      cwd: clone,
      env: walkEnv(ports, tempDir('ps-walkthrough-npm-')),
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    group = bash.pid!;
    let out = '';
    bash.stdout.on('data', (d) => (out += d));
    bash.stderr.on('data', (d) => (out += d));
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => {
        out += `\n### the test's deadline (${DEADLINE_MS} ms) passed: killed\n`;
        process.kill(-group!, 'SIGKILL');
      }, DEADLINE_MS);
      bash.once('exit', (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    const logs = ['ledger.log', 'witness.log', 'tsa.log']
      .map((f) => path.join(clone, 'walkthrough', f))
      .filter((f) => fs.existsSync(f))
      .map((f) => `--- ${path.basename(f)} (last lines)\n${fs.readFileSync(f, 'utf8').split('\n').slice(-15).join('\n')}`)
      .join('\n');
    expect(code, `the walk-through failed (exit ${code}); the last step announced names its README line:\n${out.slice(-6000)}\n${logs}`).toBe(0);
    expect(out).toContain('### walk-through done');

    // The README's last step stops every server it started: nothing of the group is left running.
    const stoppedBy = Date.now() + 10_000;
    while (groupAlive(group) && Date.now() < stoppedBy) await new Promise((r) => setTimeout(r, 100));
    expect(groupAlive(group), 'a server the walk-through started is still running after its last step').toBe(false);

    // What it left: a policy naming the witness and the TSA, and a pack carrying their evidence that verifies under it.
    const dir = path.join(clone, 'walkthrough');
    const policy = fs.readFileSync(path.join(dir, 'policy.txt'), 'utf8');
    expect(policy).toMatch(/^witness witness\.example\/w1 /m);
    expect(policy).toMatch(/^tsa /m);
    const pack = JSON.parse(fs.readFileSync(path.join(dir, 'pack-witnessed.json'), 'utf8'));
    expect(JSON.stringify(pack)).toContain('witness.example/w1');
    const verified = spawnSync(process.execPath, [BIN, 'verify', path.join(dir, 'pack-witnessed.json'), '--policy', path.join(dir, 'policy.txt'), '--json'], {
      encoding: 'utf8',
    });
    expect(verified.status, verified.stdout + verified.stderr).toBe(0);
    const report = JSON.parse(verified.stdout);
    expect(report.ok).toBe(true);
    // The witness and anchor checks ran and passed (not skipped for want of a policy or of evidence).
    const evidenceChecks = report.checks.filter((c: { name: string }) => /^(witnesses|anchors):/.test(c.name));
    expect(evidenceChecks.map((c: { name: string }) => c.name)).toEqual(
      expect.arrayContaining([expect.stringMatching(/^witnesses: quorum/), expect.stringMatching(/^anchors: time-stamp token/)]),
    );
    for (const c of evidenceChecks) expect(c.status, c.name).toBe('passed');
  }, DEADLINE_MS + 30_000);
});
