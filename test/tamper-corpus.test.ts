// The tamper corpus (fixtures/tamper/, made by scripts/gen-tamper.ts from a real pack): every case fails
// closed with its specific code, the untouched pack passes, and POST /v2/verify and the offline CLI give
// the identical report for every file.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { verify } from '../src/verify/index.js';
import { codes, corpus, describeServerCliAgreement } from './helpers/corpus.js';

const C = corpus('tamper');
const { cases, load } = C;
const trustFile = path.join(C.dir, 'trusted-keys.json');
const trusted_keys = JSON.parse(fs.readFileSync(trustFile, 'utf8'));

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

describeServerCliAgreement('tamper corpus: server and CLI agree on every file', C, { trusted_keys }, ['--trust', trustFile]);
