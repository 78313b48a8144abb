// The verifier tells the truth (issue #12): a check that checked nothing says "skipped", never ✓; a --trust file
// cut from the verified object is refused; a good anchored pack passes with keys alone (its token reported as not
// checked) and advice names the caller's flag or request field; missing evidence an object can still gain is
// "pending" (exit 3), not invalid; and what no signature binds in a pack is listed as unauthenticated.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytesToHex } from '../src/protocol/bytes.js';
import { parsePolicy } from '../src/protocol/policy.js';
import { kidOf, verify } from '../src/verify/index.js';
import { asCaller } from './helpers/corpus.js';
import { client, idemKey, ROOT, runCli, startServer, tempDir, type RunningServer } from './helpers/server.js';
import { startTsa, type RunningTsa } from './helpers/tsa.js';
import { waitFor } from './helpers/wait.js';

const TAMPER = path.join(ROOT, 'fixtures/tamper');
const EVIDENCE = path.join(ROOT, 'fixtures/tamper-evidence');
const plainPack = path.join(TAMPER, 'valid.json'); // witnesses: [], anchors: []
const plainKeys = path.join(TAMPER, 'trusted-keys.json');
const anchoredPack = path.join(EVIDENCE, 'valid.json'); // two cosignatures and an RFC 3161 anchor
const evidencePolicy = path.join(EVIDENCE, 'policy.txt');
const read = (f: string) => JSON.parse(fs.readFileSync(f, 'utf8'));

const dirs: string[] = [];
const scratch = (prefix: string) => {
  const d = tempDir(prefix);
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

/** What GET /v2/keys answers for the ledger that signed the evidence corpus: its log key from the policy. */
function anchoredPackKeysFile(): string {
  const pub = parsePolicy(fs.readFileSync(evidencePolicy, 'utf8')).logs[0]!.key.publicKey;
  const f = path.join(scratch('ps-truth-keys-'), 'keys.json');
  fs.writeFileSync(f, JSON.stringify({ keys: [{ kid: kidOf(pub), alg: 'Ed25519', public_key: bytesToHex(pub) }] }));
  return f;
}

const NO_POLICY_CLI = 'no trust policy was given (--policy policy.txt)';
const NO_TSA_CLI = 'no trust policy naming TSA roots was given (--policy policy.txt), so no time-stamp authority is trusted';

describe('a check that checked nothing says so', () => {
  it('a pack with witnesses: [] and anchors: [] shows those checks as skipped with a reason, never ✓ (CLI)', async () => {
    const human = await runCli(['verify', plainPack, '--trust', plainKeys]);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toContain('valid.json: bundle — VALID');
    expect(human.stdout).not.toMatch(/✓ (anchors|witnesses):/);
    expect(human.stdout).toContain(
      [
        '  – anchors: time-stamp token over the epoch root, from a trusted TSA',
        `      skipped: no anchor is present, and none is required: ${NO_TSA_CLI}`,
      ].join('\n'),
    );
    expect(human.stdout).toContain(['  – witnesses: cosignatures verify under trusted witness keys', '      skipped: no cosignatures are present'].join('\n'));

    const json = await runCli(['verify', plainPack, '--trust', plainKeys, '--json']);
    const r = JSON.parse(json.stdout);
    expect([json.code, r.ok, r.status]).toEqual([0, true, 'valid']);
    const byName = (prefix: string) => r.checks.filter((c: { name: string }) => c.name.startsWith(prefix));
    expect(byName('anchors:')).toEqual([
      { name: 'anchors: well-formed, for the bundle checkpoint', ok: true, status: 'skipped', reason: 'no anchor is present' },
      { name: "anchors: the checkpoint's hash leads to the epoch root", ok: true, status: 'skipped', reason: 'no anchor is present' },
      { name: 'anchors: time-stamp token over the epoch root, from a trusted TSA', ok: true, status: 'skipped', reason: `no anchor is present, and none is required: ${NO_TSA_CLI}` },
    ]);
    expect(byName('witnesses:')).toEqual([
      { name: 'witnesses: well-formed, one entry per witness, for the bundle checkpoint', ok: true, status: 'skipped', reason: 'no cosignatures are present' },
      { name: 'witnesses: cosignatures verify under trusted witness keys', ok: true, status: 'skipped', reason: 'no cosignatures are present' },
      { name: 'witnesses: quorum (no policy: not required)', ok: true, status: 'skipped', reason: `${NO_POLICY_CLI}, so no quorum is required` },
    ]);
    // Checks that did run are passed, and every check has a status.
    expect(r.checks.find((c: { name: string }) => c.name === 'events: receipts signed by trusted keys')).toEqual({ name: 'events: receipts signed by trusted keys', ok: true, status: 'passed' });
    expect(r.checks.every((c: { status: string; ok: boolean }) => ['passed', 'failed', 'skipped'].includes(c.status) && c.ok === (c.status !== 'failed'))).toBe(true);
  }, 60_000);

  it('a consistency section of [] is skipped too, and a tampered pack still fails with status invalid', async () => {
    const pack = read(plainPack);
    const r = await verify({ object: { ...pack, consistency: [] }, trusted_keys: read(plainKeys) });
    // The manifest digest of consistency no longer matches: invalid, and the consistency checks say why they are empty.
    expect([r.ok, r.status]).toEqual([false, 'invalid']);
    expect(r.checks.find((c) => c.name === 'consistency: proofs verify')).toEqual({
      name: 'consistency: proofs verify',
      ok: true,
      status: 'skipped',
      reason: 'the bundle cites no earlier checkpoint (its checkpoint is the first of the stream, or none was included)',
    });
  });
});

describe('--trust refuses keys taken from the object being verified', () => {
  it('the pack as its own --trust file, a copy of it, a link to it and a v1 proof are refused (exit 2); a keys file is not', async () => {
    const d = scratch('ps-truth-self-');
    const copy = path.join(d, 'copy-of-pack.json');
    fs.copyFileSync(plainPack, copy);
    const link = path.join(d, 'link-to-pack.json');
    fs.symlinkSync(plainPack, link);

    const same = await runCli(['verify', plainPack, '--trust', plainPack, '--json']);
    expect(same.code).toBe(2);
    expect(JSON.parse(same.stdout)).toEqual({
      error: {
        code: 'SELF_TRUST_REFUSED',
        message: `--trust ${plainPack} is the file being verified: an object cannot vouch for its own keys; use the ledger's GET /v2/keys response`,
      },
    });
    const viaLink = await runCli(['verify', plainPack, '--trust', link, '--json']);
    expect([viaLink.code, JSON.parse(viaLink.stdout).error.code]).toEqual([2, 'SELF_TRUST_REFUSED']);

    const copied = await runCli(['verify', plainPack, '--trust', copy]);
    expect(copied.code).toBe(2);
    expect(copied.stderr).toBe(
      `proofstream verify: --trust ${copy}: this is a bundle object, not a keys file: keys taken out of evidence only show that the evidence agrees with itself; use the ledger's GET /v2/keys response\n`,
    );
    expect(copied.stdout).toBe('');

    // Any evidence that carries keys: a v1 proof has a `keys` member too.
    const proofFile = path.join(d, 'proof.json');
    fs.writeFileSync(proofFile, JSON.stringify({ kind: 'v1_proof', status: 'pending', keys: read(plainKeys) }));
    const proof = await runCli(['verify', plainPack, '--trust', proofFile, '--json']);
    expect([proof.code, JSON.parse(proof.stdout).error.code]).toEqual([2, 'SELF_TRUST_REFUSED']);

    // The ledger's keys, as a file of their own, are what --trust is for.
    expect((await runCli(['verify', plainPack, '--trust', plainKeys])).code).toBe(0);
  }, 60_000);
});

describe('an anchored pack with a TSA configured', () => {
  it('`verify pack.json --trust keys.json` (the README) passes a good pack; the token is reported as not checked', async () => {
    const keys = anchoredPackKeysFile();
    const human = await runCli(['verify', anchoredPack, '--trust', keys]);
    expect(human.code, human.stdout).toBe(0);
    expect(human.stdout).toContain(
      [
        '  – anchors: time-stamp token over the epoch root, from a trusted TSA',
        `      skipped: ${NO_TSA_CLI}: the token was not checked`,
      ].join('\n'),
    );
    expect(human.stdout).toContain("  ✓ anchors: the checkpoint's hash leads to the epoch root");
    expect(human.stdout).not.toContain('ANCHOR_UNTRUSTED_TSA');
    // With the policy, the token is checked and passes.
    const strict = JSON.parse((await runCli(['verify', anchoredPack, '--policy', evidencePolicy, '--json'])).stdout);
    expect(strict.checks.find((c: { name: string }) => c.name.startsWith('anchors: time-stamp token'))).toEqual({
      name: 'anchors: time-stamp token over the epoch root, from a trusted TSA',
      ok: true,
      status: 'passed',
    });
  }, 60_000);
});

describe('over HTTP, and for evidence not there yet', () => {
  let tsa: RunningTsa;
  let srv: RunningServer;
  let call: ReturnType<typeof client>;
  let pub: ReturnType<typeof client>;
  beforeAll(async () => {
    const d = scratch('ps-truth-srv-');
    tsa = await startTsa(path.join(d, 'tsa'));
    // A TSA is configured, but the first anchor epoch closes only after an hour: every anchor stays pending.
    srv = await startServer({
      dataDir: path.join(d, 'ledger'),
      env: {
        PROOFSTREAM_TSA_URL: tsa.url,
        PROOFSTREAM_TSA_ROOT: path.join(tsa.dir, 'root.pem'),
        PROOFSTREAM_ANCHOR_EPOCH_MS: '3600000',
        PROOFSTREAM_WINDOW_MAX_AGE_MS: '100',
      },
    });
    call = client(srv.url, srv.key);
    pub = client(srv.url);
  }, 60_000);
  afterAll(async () => {
    await Promise.all([srv?.stop(), tsa?.stop()]);
  });

  it('POST /v2/verify names its request field, never a CLI flag, and passes the anchored pack given keys', async () => {
    const keys = read(anchoredPackKeysFile()).keys;
    const r = await pub('POST', '/v2/verify', { object: read(anchoredPack), trusted_keys: keys });
    expect(r.status).toBe(200);
    expect([r.body.ok, r.body.status, r.body.problems]).toEqual([true, 'valid', []]);
    expect(r.body.checks.find((c: { name: string }) => c.name.startsWith('anchors: time-stamp token'))).toEqual({
      name: 'anchors: time-stamp token over the epoch root, from a trusted TSA',
      ok: true,
      status: 'skipped',
      reason: 'no trust policy naming TSA roots was given (the request field "policy"), so no time-stamp authority is trusted: the token was not checked',
    });
    expect(r.text).not.toContain('--policy');
    expect(r.text).not.toContain('--trust');
  });

  it('a v1 proof whose anchor is pending is "pending" with what is missing and when to retry, and the CLI exits 3', async () => {
    const posted = await call('POST', '/v1/sdk/events', { source_ref: 'truth-1', payload: { decision: 'approve' } }, { 'idempotency-key': idemKey() });
    expect(posted.status, posted.text).toBe(201);
    const proof = await waitFor(async () => {
      const p = await call('GET', `/v1/events/${posted.body.id}/proof`);
      expect(p.status).toBe(200);
      return p.body.status === 'pending' ? undefined : p.body;
    });
    expect(proof.anchor).toBeNull();

    // The server's own policy (it names the TSA root) is the default trust.
    const http = await pub('POST', '/v1/public/verify', { proof });
    expect(http.status).toBe(200);
    const pendingAnchor = {
      evidence: 'anchor',
      path: '/checkpoint/anchor',
      missing: "an RFC 3161 anchor of the checkpoint (the ledger's next anchor epoch has not been time-stamped yet)",
      retry: 'fetch the object again after the next anchor epoch has been closed and time-stamped: the ledger closes one every PROOFSTREAM_ANCHOR_EPOCH_MS (60 s by default)',
      retry_after_s: 60,
    };
    expect({ ok: http.body.ok, status: http.body.status, problems: http.body.problems, pending: http.body.pending }).toEqual({
      ok: false,
      status: 'pending',
      problems: [{ code: 'ANCHOR_MISSING', path: '/checkpoint/anchor', message: 'the trust policy names TSA roots, but no anchor is present yet' }],
      pending: [pendingAnchor],
    });
    expect((await pub('POST', '/v2/verify', { object: proof })).body).toEqual(http.body);

    const d = scratch('ps-truth-pending-');
    const proofFile = path.join(d, 'proof.json');
    const policyFile = path.join(d, 'policy.txt');
    fs.writeFileSync(proofFile, JSON.stringify(proof));
    fs.writeFileSync(policyFile, (await pub('GET', '/v2/trust-policy')).text);
    const json = await runCli(['verify', proofFile, '--policy', policyFile, '--json']);
    expect(json.code).toBe(3);
    expect(asCaller(JSON.parse(json.stdout), 'cli', 'http')).toEqual(http.body);
    const human = await runCli(['verify', proofFile, '--policy', policyFile]);
    expect(human.code).toBe(3);
    expect(human.stdout).toContain('proof.json: v1_proof — PENDING');
    expect(human.stdout).toContain(`  anchor at /checkpoint/anchor: ${pendingAnchor.missing}\n      retry: ${pendingAnchor.retry} (in about 60 s)`);

    // A policy that also demands a witness nobody has asked yet: both pieces pending, in check order.
    const vectorWitness = read(path.join(ROOT, 'fixtures/vectors/anchor.json')).cosignature;
    const serverPolicy = (await pub('GET', '/v2/trust-policy')).text.split('\n').filter((l: string) => !l.startsWith('quorum ')).join('\n');
    const stricter = `${serverPolicy}\nwitness ${vectorWitness.witness} ${vectorWitness.witness_vkey}\nquorum ${vectorWitness.witness}\n`;
    const both = (await pub('POST', '/v1/public/verify', { proof, policy: stricter })).body;
    expect({ status: both.status, codes: both.problems.map((p: { code: string }) => p.code), pending: both.pending }).toEqual({
      status: 'pending',
      codes: ['WITNESS_QUORUM_NOT_MET', 'ANCHOR_MISSING'],
      pending: [
        {
          evidence: 'witness_cosignatures',
          path: '/checkpoint/cosignatures',
          missing: `cosignatures meeting the policy's quorum "${vectorWitness.witness}" (0 verified so far)`,
          retry: 'fetch the object again once the witnesses have cosigned the checkpoint: the ledger submits every checkpoint to them, retrying a witness that is down at most every PROOFSTREAM_RETRY_MAX_MS (30 s by default)',
          retry_after_s: 30,
        },
        pendingAnchor,
      ],
    });

    // Fetched before its window was sealed: no checkpoint, so no anchor either — pending too, not a silent pass.
    const unsealed = { ...proof, status: 'pending', inclusion: null, checkpoint: null, anchor: null };
    const early = (await pub('POST', '/v1/public/verify', { proof: unsealed })).body;
    expect({ status: early.status, problems: early.problems, pending: early.pending }).toEqual({
      status: 'pending',
      problems: [{ code: 'ANCHOR_MISSING', path: '/checkpoint', message: 'no checkpoint yet, so no anchor: the trust policy names TSA roots' }],
      pending: [
        {
          evidence: 'anchor',
          path: '/checkpoint',
          missing: 'a checkpoint covering the event, then its RFC 3161 anchor',
          retry: "fetch the proof again once the event's window is sealed into a checkpoint (within the stream's max_age_ms, about a second by default) and its evidence has arrived",
          retry_after_s: 60,
        },
      ],
    });
    // Without a policy nothing is required of the checkpoint: the unsealed proof is valid as far as it goes.
    expect((await pub('POST', '/v1/public/verify', { proof: unsealed, trusted_keys: (await pub('GET', '/v2/keys')).body.keys })).body.status).toBe('valid');

    // Evidence that is present and wrong is invalid, pending or not: an altered payload beside the missing anchor.
    const forged = structuredClone(proof);
    forged.event.payload.payload.decision = 'reject';
    const bad = (await pub('POST', '/v1/public/verify', { proof: forged })).body;
    expect([bad.ok, bad.status, 'pending' in bad]).toEqual([false, 'invalid', false]);
    expect(bad.problems.map((p: { code: string }) => p.code).sort()).toEqual(['ANCHOR_MISSING', 'PAYLOAD_MISMATCH']);
  }, 60_000);
});

describe('what no signature binds in a pack is reported as unauthenticated', () => {
  const UNBOUND = [
    '/manifest/pack_id',
    '/manifest/created_at',
    '/stream/use_case',
    '/stream/policy_id',
    '/stream/metadata',
    '/stream/created_at',
    '/events/*/stream_event_id',
    '/checkpoint/checkpoint_id',
    '/keys',
  ];

  it('pack_id and created_at changed: the same report, which lists them (and the other labels) as unauthenticated', async () => {
    const pack = read(plainPack);
    const trusted_keys = read(plainKeys);
    const relabelled = structuredClone(pack);
    relabelled.manifest.pack_id = 'pack_relabelled';
    relabelled.manifest.created_at = '1999-01-01T00:00:00.000Z';
    const before = await verify({ object: pack, trusted_keys });
    const after = await verify({ object: relabelled, trusted_keys });
    expect(after).toEqual(before);
    expect([after.ok, after.status, after.unauthenticated]).toEqual([true, 'valid', UNBOUND]);
    expect(after.checks.at(-1)).toEqual({
      name: 'unauthenticated: labels bound by no signature, proof or trusted key',
      ok: true,
      status: 'skipped',
      reason: `${UNBOUND.join(', ')} could be changed (with the unsigned manifest digests) without changing this report: read them as labels`,
    });
    // An anchored pack adds its witnesses' and anchor's labels.
    const anchored = await verify({ object: read(anchoredPack), policy: fs.readFileSync(evidencePolicy, 'utf8') });
    expect(anchored.unauthenticated).toEqual([
      ...UNBOUND.slice(0, -1),
      '/witnesses/*/checkpoint_id',
      '/anchors/*/checkpoint_id',
      '/anchors/*/epoch_id',
      '/anchors/*/tsa_chain',
      '/keys',
    ]);
  });

  it('the CLI prints them under "not authenticated"', async () => {
    const human = await runCli(['verify', plainPack, '--trust', plainKeys]);
    expect(human.stdout).toContain(['', 'not authenticated (labels: nothing verified binds them; * = every element):', ...UNBOUND.map((p) => `  ${p}`)].join('\n'));
  }, 30_000);
});
