// `proofstream run` end to end as a child process (issue #16): progress on stderr, receipt.json, the signing key
// created 0600, a cache hit on the second run, submission to a real ledger with the sealed receipt bundle, and
// `proofstream verify` of the result (and failure when a step hash is altered).
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyPipelineReceiptFull } from '../src/verify/index.js';
import { client, runCli, startServer, tempDir, type RunningServer } from './helpers/server.js';

const CONFIG = `version: "0.1"
steps:
  - name: gen
    run: mkdir -p out && printf 'built from %s\\n' "$(cat src/in.txt)" > out/result.txt && echo generated
    inputs: [src/]
    outputs: [out/]
  - name: check
    run: grep -q built out/result.txt && echo "GREETING=$GREETING"
    inputs: [out/]
    needs: [gen]
`;

function project(): string {
  const dir = tempDir('ps-run-');
  fs.mkdirSync(path.join(dir, 'src'));
  fs.writeFileSync(path.join(dir, 'src/in.txt'), 'sources');
  fs.writeFileSync(path.join(dir, 'attest.yaml'), CONFIG);
  return dir;
}

describe('proofstream run', () => {
  let server: RunningServer;
  let streamId: string;
  beforeAll(async () => {
    server = await startServer();
    const call = client(server.url, server.key);
    const res = await call('POST', '/v2/streams', { use_case: 'pipelines', window_policy: { max_events: 1000, max_age_ms: 100 } });
    expect(res.status).toBe(201);
    streamId = res.body.stream_id;
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('runs locally, signs with a key it creates 0600, reuses the cache, and the receipt verifies offline', async () => {
    const dir = project();
    const cache = path.join(dir, '.cache');
    const env = { PWD: dir };
    const first = await runCliIn(dir, ['run', 'attest.yaml', '--cache', cache, '--var', 'GREETING=hello'], env);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toContain('▶ gen');
    expect(first.stderr).toContain('[check] GREETING=hello');
    expect(first.stderr).toMatch(/✓ check \(/);
    const keyFile = path.join(dir, '.proofstream/runner-key.pem');
    expect(fs.statSync(keyFile).mode & 0o777).toBe(0o600);
    const r1 = JSON.parse(fs.readFileSync(path.join(dir, 'receipt.json'), 'utf8'));
    expect(r1.status).toBe('completed');
    expect(r1.steps[0].cache_hit).toBe(false);

    const second = await runCliIn(dir, ['run', 'attest.yaml', '--cache', cache, '--var', 'GREETING=hello', '--out', 'second.json'], env);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toContain('cache hit');
    const r2 = JSON.parse(fs.readFileSync(path.join(dir, 'second.json'), 'utf8'));
    expect(r2.steps[0].cache_hit).toBe(true);
    expect(r2.steps[0].outputs).toEqual(r1.steps[0].outputs);
    expect(r2.signer_public_key).toBe(r1.signer_public_key); // the same key file was reused

    const ok = await runCli(['verify', path.join(dir, 'receipt.json'), '--signer', r1.signer_public_key]);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toContain('pipeline_receipt — VALID');
    const other = await runCli(['verify', path.join(dir, 'receipt.json'), '--signer', `ed25519:${'ab'.repeat(32)}`]);
    expect(other.code).toBe(1);

    r1.steps[0].outputs['out/'] = `blake3:${'0'.repeat(64)}`;
    fs.writeFileSync(path.join(dir, 'tampered.json'), JSON.stringify(r1));
    const bad = await runCli(['verify', path.join(dir, 'tampered.json'), '--json']);
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout).problems.map((p: { code: string }) => p.code)).toEqual(['SIGNATURE_INVALID']);
  });

  it('a failing step: exit 1, dependants skipped, the receipt is still signed', async () => {
    const dir = project();
    fs.writeFileSync(path.join(dir, 'attest.yaml'), 'version: "0.1"\nsteps:\n  - {name: a, run: "exit 7"}\n  - {name: b, run: "true", needs: [a]}\n');
    const r = await runCliIn(dir, ['run', 'attest.yaml'], {});
    expect(r.code).toBe(1);
    const receipt = JSON.parse(fs.readFileSync(path.join(dir, 'receipt.json'), 'utf8'));
    expect(receipt.steps.map((s: { status: string }) => s.status)).toEqual(['failed', 'skipped']);
    expect((await runCli(['verify', path.join(dir, 'receipt.json')])).code).toBe(0);
  });

  it('refuses a bad config with the field, exit 2', async () => {
    const dir = project();
    fs.writeFileSync(path.join(dir, 'attest.yaml'), 'version: "0.1"\nsteps:\n  - {name: a, run: ""}\n');
    const r = await runCliIn(dir, ['run', 'attest.yaml'], {});
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('steps[0].run');
  });

  it('--ledger appends the receipt, waits for its checkpoint, and writes a bundle that verifies offline', async () => {
    const dir = project();
    const r = await runCliIn(dir, ['run', 'attest.yaml', '--ledger', server.url, '--stream', streamId, '--wait-seal', '30'], { PROOFSTREAM_API_KEY: server.key });
    expect(r.code, r.stderr).toBe(0);
    const bundle = JSON.parse(fs.readFileSync(path.join(dir, 'receipt.json'), 'utf8'));
    expect(bundle.ledger).toMatchObject({ stream_id: streamId, event_type: 'attest.receipt' });
    expect(bundle.ledger.payload.receipt).toEqual(bundle.receipt);
    expect(bundle.ledger.inclusion.checkpoint_id).toBe(bundle.ledger.checkpoint.checkpoint_id);

    const keys = path.join(dir, 'keys.json');
    fs.writeFileSync(keys, JSON.stringify((await client(server.url)('GET', '/v2/keys')).body));
    const v = await runCli(['verify', path.join(dir, 'receipt.json'), '--trust', keys, '--json']);
    expect(v.code, v.stdout).toBe(0);
    const report = JSON.parse(v.stdout);
    const names = report.checks.filter((c: { status: string }) => c.status === 'passed').map((c: { name: string }) => c.name);
    expect(names).toEqual(expect.arrayContaining([
      'pipeline receipt: signature over the §14 bytes',
      'ledger: the event commits to this receipt',
      'ledger: receipt: signed by a trusted key',
      'ledger: inclusion: event_hash leads to the root',
      'ledger: checkpoint: note signed by a trusted log key',
    ]));

    // Without --trust the ledger keys come from the bundle itself, and the output says so.
    const own = await runCli(['verify', path.join(dir, 'receipt.json')]);
    expect(own.code, own.stdout).toBe(0);
    expect(own.stdout).toContain('WARNING: no --trust given');
    expect(own.stdout).toContain('– pipeline receipt: signer is trusted');

    // The library form (what the server's receipt views use): the same checks, in the contract's shape.
    const ledgerKeys = JSON.parse(fs.readFileSync(keys, 'utf8')).keys ?? JSON.parse(fs.readFileSync(keys, 'utf8'));
    const full = await verifyPipelineReceiptFull(bundle, { ledgerKeys, trustedKeys: [bundle.receipt.signer_public_key] });
    expect(full).toMatchObject({ ok: true, signature_valid: true, inclusion: { checked: 'full', event_commits: true, proof_valid: true, checkpoint_valid: true, stream_id: streamId } });

    // The ledger event is bound to this receipt: a receipt swapped for another validly signed one fails.
    const other = JSON.parse(fs.readFileSync(path.join(dir, 'receipt.json'), 'utf8'));
    const again = await runCliIn(dir, ['run', 'attest.yaml', '--out', 'plain.json'], {});
    expect(again.code).toBe(0);
    other.receipt = JSON.parse(fs.readFileSync(path.join(dir, 'plain.json'), 'utf8'));
    fs.writeFileSync(path.join(dir, 'swapped.json'), JSON.stringify(other));
    const sw = await runCli(['verify', path.join(dir, 'swapped.json'), '--trust', keys, '--json']);
    expect(sw.code).toBe(1);
    expect(JSON.parse(sw.stdout).problems.map((p: { code: string }) => p.code)).toEqual(['PAYLOAD_MISMATCH']);

    // A tampered inclusion proof fails under /ledger.
    const t = JSON.parse(fs.readFileSync(path.join(dir, 'receipt.json'), 'utf8'));
    if (t.ledger.inclusion.proof.length > 0) t.ledger.inclusion.proof[0] = '00'.repeat(32);
    else t.ledger.inclusion.root_hash = '00'.repeat(32);
    fs.writeFileSync(path.join(dir, 'bad-proof.json'), JSON.stringify(t));
    const bp = await runCli(['verify', path.join(dir, 'bad-proof.json'), '--trust', keys, '--json']);
    expect(bp.code).toBe(1);
    expect(JSON.parse(bp.stdout).problems.every((p: { path: string }) => p.path.startsWith('/ledger/'))).toBe(true);
    const fullBad = await verifyPipelineReceiptFull(t, { ledgerKeys });
    expect(fullBad.ok).toBe(false);
    expect(fullBad.inclusion).toMatchObject({ checked: 'full', event_commits: true, proof_valid: false });
  });

  it('a ledger that refuses the receipt: exit 4, receipt.json still written', async () => {
    const dir = project();
    const r = await runCliIn(dir, ['run', 'attest.yaml', '--ledger', server.url, '--stream', 'str_doesnotexist', '--key', server.key, '--wait-seal', '0'], {});
    expect(r.code).toBe(4);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'receipt.json'), 'utf8')).status).toBe('completed');
  });
});

/** runCli with the project directory as cwd (the key file and receipt.json default to it). */
function runCliIn(cwd: string, args: string[], env: NodeJS.ProcessEnv) {
  const prev = process.cwd();
  process.chdir(cwd);
  try {
    return runCli(args, env);
  } finally {
    process.chdir(prev);
  }
}
