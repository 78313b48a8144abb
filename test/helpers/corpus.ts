// A fixtures corpus of packs (fixtures/tamper, fixtures/tamper-evidence): its cases, its files, and the test both
// corpora run — POST /v2/verify and the offline CLI give the identical report and exit code for every file.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, client, runCli, startServer, type RunningServer } from './server.js';
import { CALLER_HINTS, type VerifyCaller } from '../../src/verify/index.js';

/**
 * A report as another caller would get it: the only difference between callers is the advice naming how to give a
 * policy or keys (VerifyOptions.caller), so every such phrase of `from` becomes the one of `to`.
 */
export function asCaller<T>(report: T, from: VerifyCaller, to: VerifyCaller): T {
  const swap = (s: string) =>
    s.split(CALLER_HINTS[from].policy).join(CALLER_HINTS[to].policy).split(CALLER_HINTS[from].trust).join(CALLER_HINTS[to].trust);
  const walk = (v: unknown): unknown =>
    typeof v === 'string' ? swap(v) : Array.isArray(v) ? v.map(walk) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)])) : v;
  return walk(report) as T;
}

export interface CorpusCase {
  file: string;
  description: string;
  expect_codes: string[];
}

export function corpus(name: string) {
  const dir = path.join(ROOT, 'fixtures', name);
  return {
    dir,
    cases: JSON.parse(fs.readFileSync(path.join(dir, 'cases.json'), 'utf8')) as CorpusCase[],
    /** fixture JSON, read by the tests member by member */
    load: (f: string): any => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')),
    /** `proofstream verify <file> <trustArgs> --json` */
    cli: (file: string, trustArgs: string[]) => runCli(['verify', path.join(dir, file), ...trustArgs, '--json']),
  };
}

export const codes = (r: { problems: Array<{ code: string }> }) => new Set(r.problems.map((p) => p.code));

/**
 * valid.json and every case through a real server's POST /v2/verify (with `trust` in the body) and through the CLI
 * (with `trustArgs`): identical reports but for the caller's advice (asCaller), exit code 0 exactly when ok, and
 * only valid.json ok.
 */
export function describeServerCliAgreement(title: string, c: ReturnType<typeof corpus>, trust: Record<string, unknown>, trustArgs: string[]): void {
  describe(title, () => {
    let srv: RunningServer;
    beforeAll(async () => {
      srv = await startServer();
    });
    afterAll(async () => srv?.stop());

    it('identical reports and exit codes for the valid pack and every case', async () => {
      const call = client(srv.url);
      const files = ['valid.json', ...c.cases.map((k) => k.file)];
      // Two CLI processes at a time: the machine has two cores.
      for (let i = 0; i < files.length; i += 2) {
        await Promise.all(
          files.slice(i, i + 2).map(async (f) => {
            const [http, offline] = await Promise.all([call('POST', '/v2/verify', { object: c.load(f), ...trust }), c.cli(f, trustArgs)]);
            expect(http.status, f).toBe(200);
            expect(asCaller(JSON.parse(offline.stdout), 'cli', 'http'), f).toEqual(http.body);
            expect(offline.code, f).toBe(http.body.ok ? 0 : 1);
            expect(http.body.ok, f).toBe(f === 'valid.json');
          }),
        );
      }
    }, 180_000);
  });
}
