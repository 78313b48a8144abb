// Large-pack verification (docs/verify.md, "Large packs"): the CLI's streaming path (src/cli/verify-stream.ts,
// events read line by line, signatures on worker threads) gives byte-identical reports to the whole-document
// path on both tamper corpora and on a fresh multi-thousand-event pack from a real server, falls back to the
// whole document for files not in the pack line layout, and the worker pool gives the in-process booleans.
// No timing or memory assertions here: bench/verify-pack.ts measures those.
import { execFile } from 'node:child_process';
import { generateKeyPairSync, sign } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openBundleFile } from '../src/cli/verify-stream.js';
import { VerifyPool } from '../src/cli/verify-workers.js';
import { trustedKeysFromJson, verify, verifySignaturesInProcess, type SignatureJob, type SignatureVerifier } from '../src/verify/index.js';
import { BIN, ROOT, client, startServer, tempDir, type RunningServer } from './helpers/server.js';
import { sleep } from './helpers/wait.js';

const dir = tempDir('ps-verify-stream-');

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  timing: { path: string; fallback?: string; events?: number } | null;
}

function cli(args: string[], stream: 'always' | 'never' | 'auto'): Promise<CliResult> {
  const env: Record<string, string | undefined> = { ...process.env, PROOFSTREAM_DATA_DIR: path.join(dir, 'no-data'), PROOFSTREAM_VERIFY_TIMING: '1' };
  if (stream === 'auto') delete env.PROOFSTREAM_VERIFY_STREAM;
  else env.PROOFSTREAM_VERIFY_STREAM = stream;
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, 'verify', ...args], { env, maxBuffer: 64 * 2 ** 20 }, (err, stdout, stderr) => {
      const line = stderr.split('\n').find((l) => l.startsWith('proofstream verify: timing '));
      resolve({
        code: err ? Number((err as { code?: number }).code) : 0,
        stdout,
        stderr,
        timing: line ? JSON.parse(line.slice('proofstream verify: timing '.length)) : null,
      });
    });
  });
}

/** Both paths on one file: same stdout, same exit status. Returns the streaming run. */
async function bothPaths(args: string[]): Promise<{ streamed: CliResult; whole: CliResult }> {
  const [streamed, whole] = await Promise.all([cli(args, 'always'), cli(args, 'never')]);
  // (no timing line when the file cannot be verified at all: exit 2)
  if (whole.code !== 2) expect(whole.timing?.path, args[0]).toBe('whole');
  expect(streamed.stdout, args[0]).toBe(whole.stdout);
  expect(streamed.code, args[0]).toBe(whole.code);
  return { streamed, whole };
}

const codes = (stdout: string) => [...new Set<string>(JSON.parse(stdout).problems.map((p: { code: string }) => p.code))].sort();

const corpora = [
  { dir: path.join(ROOT, 'fixtures/tamper'), trust: ['--trust', path.join(ROOT, 'fixtures/tamper/trusted-keys.json')] },
  { dir: path.join(ROOT, 'fixtures/tamper-evidence'), trust: ['--policy', path.join(ROOT, 'fixtures/tamper-evidence/policy.txt')] },
];

describe('tamper corpora: streaming and whole-document reports are identical', () => {
  for (const corpus of corpora) {
    const cases: Array<{ file: string }> = JSON.parse(fs.readFileSync(path.join(corpus.dir, 'cases.json'), 'utf8'));
    const files = ['valid.json', ...cases.map((c) => c.file)];
    it(`${path.basename(corpus.dir)}: ${files.length} files through the CLI`, async () => {
      let streamedCount = 0;
      for (const f of files) {
        const { streamed } = await bothPaths([path.join(corpus.dir, f), ...corpus.trust, '--json']);
        if (streamed.timing?.path === 'stream') streamedCount++;
        else expect(streamed.timing?.fallback, f).toBeTruthy();
      }
      // The corpora are real packs: nearly all of them are in the writer's line layout and really were streamed.
      expect(streamedCount).toBeGreaterThan(files.length / 2);
    }, 300_000);

    it(`${path.basename(corpus.dir)}: in process, every file in the layout gives the parsed document's report`, async () => {
      const trustArg = corpus.trust[0] === '--trust' ? { trusted_keys: keysOf(corpus.trust[1]!) } : { policy: fs.readFileSync(corpus.trust[1]!, 'utf8') };
      for (const f of ['valid.json', ...cases.map((c) => c.file)]) {
        const file = path.join(corpus.dir, f);
        const b = await openBundleFile(file);
        const whole = await verify({ object: JSON.parse(fs.readFileSync(file, 'utf8')), ...trustArg });
        if (!b) continue;
        const streamed = await verify({ object: b.object, ...trustArg });
        expect(b.broken, f).toBeNull();
        expect(b.complete, f).toBe(true);
        expect(streamed, f).toEqual(whole);
      }
    });
  }

  it('also in the human-readable output, and with the bundle keys (no --trust)', async () => {
    const f = path.join(ROOT, 'fixtures/tamper/payload-changed.json');
    const { streamed } = await bothPaths([f]);
    expect(streamed.timing?.path).toBe('stream');
    expect(streamed.stdout).toMatch(/INVALID/);
  });
});

const keysOf = (file: string) => {
  const k = trustedKeysFromJson(JSON.parse(fs.readFileSync(file, 'utf8')));
  if ('error' in k) throw new Error(k.error);
  return k.keys;
};

describe('a fresh pack of 5,000 events from a real server', () => {
  let srv: RunningServer;
  let pack: string;
  let keysFile: string;
  let lines: string[];
  const N = 5000;

  beforeAll(async () => {
    srv = await startServer();
    const call = client(srv.url, srv.key);
    const sid = (await call('POST', '/v2/streams', { use_case: 'verify-stream' })).body.stream_id;
    for (let b = 0; b < N / 1000; b++) {
      const events = Array.from({ length: 1000 }, (_, i) => ({ source_ref: `r${b * 1000 + i}`, event_type: 't', payload: { i: b * 1000 + i, text: 'ünïcødé ✓' } }));
      const r = await call('POST', `/v2/streams/${sid}/events/batch`, { events }, { 'idempotency-key': `vs-${sid}-${b}` });
      expect(r.status).toBe(201);
    }
    for (let i = 0; ; i++) {
      const r = await call('GET', `/v2/streams/${sid}/checkpoints/latest`);
      if (r.status === 200 && r.body.tree_size >= N) break;
      if (i > 600) throw new Error('not sealed');
      await sleep(50);
    }
    let res;
    for (let i = 0; ; i++) {
      res = await call('POST', '/v2/audit/packs', { stream_id: sid, from_seq_no: 1, to_seq_no: N });
      if (res.status !== 409 || i > 100) break;
      await sleep(100);
    }
    expect(res.status).toBe(201);
    pack = path.join(dir, 'pack-5000.json');
    fs.writeFileSync(pack, res.text);
    keysFile = path.join(dir, 'keys.json');
    fs.writeFileSync(keysFile, JSON.stringify((await client(srv.url)('GET', '/v2/keys')).body));
    lines = res.text.split('\n');
  }, 120_000);
  afterAll(async () => srv?.stop());

  /** The pack with event i's line replaced by edit(event). */
  const withEvent = (name: string, edits: Record<number, (ev: any) => void>) => {
    const out = [...lines];
    for (const [i, edit] of Object.entries(edits)) {
      const at = 5 + Number(i); // five lines before the first event
      const comma = out[at]!.endsWith(',');
      const ev = JSON.parse(comma ? out[at]!.slice(0, -1) : out[at]!);
      expect(ev.seq_no).toBe(Number(i) + 1);
      edit(ev);
      out[at] = JSON.stringify(ev) + (comma ? ',' : '');
    }
    const f = path.join(dir, name);
    fs.writeFileSync(f, out.join('\n'));
    return f;
  };

  it('verifies, with the same report by both paths; the streaming path read every event', async () => {
    const { streamed } = await bothPaths([pack, '--trust', keysFile, '--json']);
    expect(JSON.parse(streamed.stdout).ok).toBe(true);
    expect(streamed.code).toBe(0);
    expect(streamed.timing).toMatchObject({ path: 'stream', events: N });
    // below the size threshold, the CLI picks the whole-document path by itself
    expect((await cli([pack, '--trust', keysFile, '--json'], 'auto')).timing?.path).toBe('whole');
  });

  it('a payload tampered at event 4000 fails with the same codes by both paths', async () => {
    const f = withEvent('payload-4000.json', { 3999: (ev) => (ev.payload.i = -1) });
    const { streamed } = await bothPaths([f, '--trust', keysFile, '--json']);
    expect(streamed.timing?.path).toBe('stream');
    expect(streamed.code).toBe(1);
    expect(codes(streamed.stdout)).toEqual(['MANIFEST_MISMATCH', 'PAYLOAD_MISMATCH']);
    expect(JSON.parse(streamed.stdout).problems.find((p: { code: string }) => p.code === 'PAYLOAD_MISMATCH').path).toBe('/events/3999/payload_commitment');
  });

  it('signature and key problems spread over many batches are reported in the same order', async () => {
    const flip = (ev: any) => (ev.receipt.signature = (ev.receipt.signature[0] === '0' ? '1' : '0') + ev.receipt.signature.slice(1));
    const f = withEvent('sigs.json', {
      10: flip,
      300: (ev) => (ev.receipt.kid = 'ps-ed25519-0000000000000000'),
      301: flip,
      2999: (ev) => (ev.receipt.kid = 'ps-ed25519-0000000000000000'),
      4000: flip,
      4999: flip,
    });
    const { streamed } = await bothPaths([f, '--trust', keysFile, '--json']);
    expect(streamed.timing?.path).toBe('stream');
    expect(codes(streamed.stdout)).toEqual(['MANIFEST_MISMATCH', 'SIGNATURE_INVALID', 'UNKNOWN_KEY']);
    const sigProblems = JSON.parse(streamed.stdout).problems.filter((p: { code: string }) => p.code !== 'MANIFEST_MISMATCH');
    expect(sigProblems.map((p: { path: string }) => p.path)).toEqual([
      '/events/10/receipt/signature',
      '/events/300/receipt/kid',
      '/events/301/receipt/signature',
      '/events/2999/receipt/kid',
      '/events/4000/receipt/signature',
      '/events/4999/receipt/signature',
    ]);
    // in process: a verifier with many batches in flight, settling out of order, gives the default's report
    const object = JSON.parse(fs.readFileSync(f, 'utf8'));
    const trusted_keys = keysOf(keysFile);
    const slow: SignatureVerifier = {
      concurrency: 7,
      verify: async (jobs) => {
        await sleep(Math.random() * 5);
        return verifySignaturesInProcess.verify(jobs);
      },
    };
    const a = await verify({ object, trusted_keys }, { caller: 'cli' });
    const b = await verify({ object, trusted_keys }, { signatureVerifier: slow, caller: 'cli' });
    expect(b).toEqual(a);
    expect(JSON.stringify(a)).toBe(streamed.stdout.trim());
  });

  it('a file not in the line layout takes the whole-document path, with the same report', async () => {
    // event 4000 pretty-printed over several lines: still the same JSON document, no longer one event per line
    const out = [...lines];
    out[5 + 3999] = JSON.stringify(JSON.parse(out[5 + 3999]!.slice(0, -1)), null, 2) + ',';
    const f = path.join(dir, 'pretty-4000.json');
    fs.writeFileSync(f, out.join('\n'));
    const { streamed } = await bothPaths([f, '--trust', keysFile, '--json']);
    expect(streamed.timing?.path).toBe('whole');
    expect(streamed.timing?.fallback).toMatch(/event line/);
    expect(JSON.parse(streamed.stdout).ok).toBe(true);
    // a whole pretty-printed pack is refused by the reader at once
    const pretty = path.join(dir, 'pretty.json');
    fs.writeFileSync(pretty, JSON.stringify(JSON.parse(lines.join('\n')), null, 1));
    expect(await openBundleFile(pretty)).toBeNull();
    const p = await bothPaths([pretty, '--trust', keysFile, '--json']);
    expect(p.streamed.timing).toMatchObject({ path: 'whole', fallback: 'not in the pack line layout' });
    // and an event line that is not JSON: both paths say the file is not JSON
    const broken = [...lines];
    broken[5 + 4000] = broken[5 + 4000]!.slice(0, 40) + ',';
    const bf = path.join(dir, 'broken.json');
    fs.writeFileSync(bf, broken.join('\n'));
    const b = await bothPaths([bf, '--trust', keysFile, '--json']);
    expect(b.streamed.code).toBe(2);
    expect(JSON.parse(b.streamed.stdout).error.code).toBe('MALFORMED_JSON');
  });
});

describe('the worker pool verifies like the in-process verifier', () => {
  it('same booleans on valid, flipped, truncated and foreign signatures', async () => {
    const pool = new VerifyPool(2);
    try {
      const keys = [generateKeyPairSync('ed25519'), generateKeyPairSync('ed25519')];
      const raw = (k: (typeof keys)[number]) => new Uint8Array(k.publicKey.export({ format: 'der', type: 'spki' }).subarray(12));
      const jobs: SignatureJob[] = [];
      for (let i = 0; i < 600; i++) {
        const k = keys[i % 2]!;
        const message = new TextEncoder().encode(`message ${i} ${'x'.repeat(i % 50)}`);
        const signature = new Uint8Array(sign(null, message, k.privateKey));
        const publicKey = raw(k);
        switch (i % 6) {
          case 1:
            signature[i % 64]! ^= 1 << i % 8;
            break;
          case 2:
            message[0]! ^= 1;
            break;
          case 3:
            jobs.push({ publicKey: raw(keys[(i + 1) % 2]!), signature, message });
            continue;
          case 4:
            if (i % 12 === 4) {
              jobs.push({ publicKey, signature: signature.subarray(0, 63), message });
              continue;
            }
            jobs.push({ publicKey: new Uint8Array(32).fill(0xff), signature, message });
            continue;
        }
        jobs.push({ publicKey, signature, message });
      }
      const want = await verifySignaturesInProcess.verify(jobs);
      expect(want.filter(Boolean).length).toBeGreaterThan(100);
      expect(want.filter((x) => !x).length).toBeGreaterThan(100);
      // in batches, several in flight at once, as the verifier uses it
      const got = (await Promise.all([0, 1, 2, 3].map((b) => pool.verify(jobs.slice(b * 150, b * 150 + 150))))).flat();
      expect(got).toEqual(want);
      expect(pool.error).toBeNull();
      expect(pool.stats.signatures).toBeGreaterThan(0);
    } finally {
      await pool.close();
    }
  });
});
