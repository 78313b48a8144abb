// The README's "CI/CD evidence" walk-through (issue #15), run as a newcomer would, the way
// test/readme-walkthrough.test.ts runs the main one: every ```sh block between `<!-- cicd-walkthrough:begin` and
// `<!-- cicd-walkthrough:end -->`, top to bottom, in one bash with `set -euo pipefail`, from a directory laid out like
// a fresh clone, on a free port the test picks through PORT. The README's own commands start the ledger, make a CI key
// with the CLI, submit and finish a run, register an artifact, attest and deploy it, read it back, create a GitHub
// connector and deliver a hook signed with openssl, and stop the ledger; the test then checks what they left behind.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, tempDir } from './helpers/server.js';
import { fakeClone, freePort, groupAlive, newcomerEnv, sectionBlocks, walkthroughScript } from './helpers/walkthrough.js';

const BEGIN = '<!-- cicd-walkthrough:begin';
const END = '<!-- cicd-walkthrough:end -->';
/** One ledger start, one CLI call and some twenty requests: ~10 s on an idle machine. */
const DEADLINE_MS = 180_000;

/** A newcomer's shell: none of this process's ledger settings or the walk-through's variables; the port the test picked. */
const walkEnv = (port: number, npmCache: string) =>
  newcomerEnv(['PORT', 'HOST', 'LOG_LEVEL', 'PS_KEY', 'PS_URL', 'CI_KEY', 'COMMIT', 'SHA256', 'RUN_ID', 'STREAM'], { PORT: String(port) }, npmCache);

let group: number | undefined;
afterAll(() => {
  // A failed step leaves the README's ledger running: end our own process group (the bash and all it started).
  if (group !== undefined && groupAlive(group)) process.kill(-group, 'SIGKILL');
});

describe('README "CI/CD evidence" walk-through', () => {
  it('runs top to bottom against the ledger it starts, and leaves the records it describes', async () => {
    const blocks = sectionBlocks(fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8'), BEGIN, END);
    expect(blocks.length).toBeGreaterThan(14);

    const clone = fakeClone('ps-cicd-walkthrough-', ['fixtures']);
    const scriptFile = path.join(tempDir('ps-cicd-walkthrough-script-'), 'walkthrough.sh');
    fs.writeFileSync(scriptFile, walkthroughScript(blocks));
    const bash = spawn('bash', [scriptFile], { cwd: clone, env: walkEnv(await freePort(), tempDir('ps-cicd-walkthrough-npm-')), detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
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
    const dir = path.join(clone, 'walkthrough', 'cicd');
    const log = path.join(dir, 'ledger.log');
    const tail = fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n').slice(-15).join('\n') : '';
    expect(code, `the walk-through failed (exit ${code}); the last step announced names its README line:\n${out.slice(-6000)}\n--- ledger.log\n${tail}`).toBe(0);
    expect(out).toContain('### walk-through done');

    // The last step stops the ledger it started: nothing of the group is left running.
    const stoppedBy = Date.now() + 10_000;
    while (groupAlive(group) && Date.now() < stoppedBy) await new Promise((r) => setTimeout(r, 100));
    expect(groupAlive(group), 'the ledger the walk-through started is still running after its last step').toBe(false);

    // What the README says each step shows, from the answers it kept.
    const read = (f: string) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'));
    const run = read('run.json');
    expect(run).toMatchObject({ repositoryFullName: 'acme/payments-api', status: 'RUNNING', seq_no: 1 });
    expect(read('run-final.json')).toMatchObject({ id: run.id, status: 'SUCCEEDED', seq_no: 2, steps: [{ name: 'compile', status: 'SUCCEEDED' }, { name: 'test', status: 'SUCCEEDED' }] });
    const tarball = fs.readFileSync(path.join(dir, 'payments-api-2.1.0.tar'));
    const sha256 = (await import('node:crypto')).createHash('sha256').update(tarball).digest('hex');
    expect(read('artifact.json')).toMatchObject({ sha256, pipelineRunId: run.id, stream_id: run.stream_id, seq_no: 3 });
    const hook = read('hook-answer.json');
    expect(hook).toMatchObject({ provider: 'github-actions', externalId: '30433642', status: 'SUCCEEDED', stream_id: run.stream_id, seq_no: 6 });
    expect(read('forged-answer.json').error.code).toBe('CONNECTOR_SIGNATURE_INVALID');
    // The README shows the stream's five records in order, then the hook's run; the replay and the forgery added nothing.
    expect(out).toMatch(/^1 cicd\.pipeline_run\.created\/v1 [0-9a-f]{16}…\n2 cicd\.pipeline_run\.updated\/v1 .*\n3 cicd\.artifact\/v1 .*\n4 cicd\.attestation\/v1 .*\n5 cicd\.deployment\/v1 /m);
    expect(out).toMatch(/^idempotent-replayed: true\r?$/im);
    expect(out).toContain('"code":"PIPELINE_RUN_FINAL"');

    // The collector's batch: accepted, its altered copy refused naming item 0, its resend a replay.
    expect(read('batch-answer.json')).toMatchObject({ accepted: 1, replayed: 0, items: [{ index: 0, id: 'sbom-payments-api-2.1.0', replayed: false }] });
    expect(out).toContain('{"code":"COLLECTOR_SIGNATURE_INVALID","index":0}');
    expect(out).toContain('{"accepted":0,"replayed":1}');
    // The provenance bundle verified (exit 0 under set -e), holds every record of the walk-through, and its altered
    // copy failed with exit 1; openssl accepted the DSSE signature over the PAE the README builds.
    const bundle = read('provenance.json');
    expect(bundle).toMatchObject({ format: 'proofstream-provenance/v1', status: 'complete', artifact_sha256: sha256 });
    // (two attestations: the scan, and the collector's signed SBOM, made from its signed item)
    expect(bundle.records.map((r: any) => r.kind).sort()).toEqual(['artifact', 'attestation', 'attestation', 'deployment', 'pipeline_run']);
    expect(out).toMatch(/^exit 1$/m);
    expect(out).toContain('Signature Verified Successfully');
    expect(read('statement.json')).toMatchObject({ subject: [{ digest: { sha256 } }], predicateType: 'https://slsa.dev/provenance/v1' });

    // The key the CLI made has exactly the CI scopes the README names.
    const keys = spawnSync(process.execPath, [path.join(ROOT, 'bin/proofstream.mjs'), 'keys', 'list', '--json'], {
      encoding: 'utf8',
      env: { ...process.env, PROOFSTREAM_DATA_DIR: path.join(dir, 'data') },
    });
    expect(keys.status, keys.stderr).toBe(0);
    const listed = JSON.parse(keys.stdout).keys;
    expect(listed).toHaveLength(1);
    expect([...listed[0].scopes].sort()).toEqual(['events:write', 'read']);
  }, DEADLINE_MS + 30_000);
});
