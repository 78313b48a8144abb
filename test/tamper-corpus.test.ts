// The tamper corpus (fixtures/tamper/, made by scripts/gen-tamper.ts from a real pack): every case fails
// closed with its specific code, the untouched pack passes, and POST /v2/verify and the offline CLI give
// the identical report for every file.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verify } from '../src/verify/index.js';
import { ROOT, client, runCli, startServer, type RunningServer } from './helpers/server.js';

const DIR = path.join(ROOT, 'fixtures/tamper');
const cases: Array<{ file: string; description: string; expect_codes: string[] }> = JSON.parse(fs.readFileSync(path.join(DIR, 'cases.json'), 'utf8'));
const trustFile = path.join(DIR, 'trusted-keys.json');
const trusted_keys = JSON.parse(fs.readFileSync(trustFile, 'utf8'));
const load = (f: string) => JSON.parse(fs.readFileSync(path.join(DIR, f), 'utf8'));
const codes = (r: { problems: Array<{ code: string }> }) => new Set(r.problems.map((p) => p.code));

const cli = (file: string) => runCli(['verify', path.join(DIR, file), '--trust', trustFile, '--json']);

describe('tamper corpus, in-process', () => {
  it('the untouched pack verifies', async () => {
    const r = await verify({ object: load('valid.json'), trusted_keys });
    expect(r.problems).toEqual([]);
    expect(r.ok).toBe(true);
  });

  it('lists the cases the issue asks for', () => {
    expect(cases.length).toBeGreaterThanOrEqual(20);
    for (const code of ['PAYLOAD_MISMATCH', 'SEQUENCE_BROKEN', 'RANGE_PROOF_INVALID', 'CHECKPOINT_STALE', 'CHECKPOINT_UNTRUSTED', 'CHECKPOINT_SIGNATURE_INVALID', 'SIGNATURE_INVALID', 'UNKNOWN_KEY', 'FORK_DETECTED', 'MALFORMED']) {
      expect(cases.some((c) => c.expect_codes.includes(code)), code).toBe(true);
    }
  });

  for (const c of cases) {
    it(`${c.file}: ${c.description}`, async () => {
      const r = await verify({ object: load(c.file), trusted_keys });
      expect(r.ok).toBe(false);
      expect(r.problems.length).toBeGreaterThan(0);
      const got = codes(r);
      for (const want of c.expect_codes) expect([...got], `expected ${want}`).toContain(want);
    });
  }
});

describe('tamper corpus: server and CLI agree on every file', () => {
  let srv: RunningServer;
  beforeAll(async () => {
    srv = await startServer();
  });
  afterAll(async () => srv?.stop());

  it('identical reports and exit codes for the valid pack and every case', async () => {
    const call = client(srv.url);
    const files = ['valid.json', ...cases.map((c) => c.file)];
    // Two CLI processes at a time: the machine has two cores.
    for (let i = 0; i < files.length; i += 2) {
      await Promise.all(
        files.slice(i, i + 2).map(async (f) => {
          const [http, offline] = await Promise.all([call('POST', '/v2/verify', { object: load(f), trusted_keys }), cli(f)]);
          expect(http.status, f).toBe(200);
          expect(JSON.parse(offline.stdout), f).toEqual(http.body);
          expect(offline.code, f).toBe(http.body.ok ? 0 : 1);
          expect(http.body.ok, f).toBe(f === 'valid.json');
        }),
      );
    }
  }, 180_000);
});
