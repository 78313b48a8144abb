// RFC 3161: the test TSA (a real child process), the client, and the offline token verifier.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { requestTimestamp, TsaError } from '../src/anchor/tsa-client.js';
import { generateKeyPair, issueCertificate, loadOrCreateTsaIdentity, signTimestampToken, FailureInfo } from '../src/anchor/tsa-server.js';
import { OID, parseTimestampToken, verifyTimestampToken, type TokenProblemCode } from '../src/verify/rfc3161.js';
import { derToPem, pemToDer } from '../src/verify/pem.js';
import { tempDir } from './helpers/server.js';
import { startTsa, type RunningTsa } from './helpers/tsa.js';

const sha256 = (b: Uint8Array | string) => new Uint8Array(createHash('sha256').update(b).digest());
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const ab = (u: Uint8Array) => u.buffer.slice(u.byteOffset, u.byteOffset + u.byteLength) as ArrayBuffer;
const codes = (r: { problems: { code: TokenProblemCode }[] }) => [...new Set(r.problems.map((p) => p.code))].sort();

/** Index of `needle` in `hay` (must occur exactly once). */
function uniqueIndex(hay: Uint8Array, needle: Uint8Array): number {
  const buf = Buffer.from(hay);
  const first = buf.indexOf(Buffer.from(needle));
  expect(first).toBeGreaterThanOrEqual(0);
  expect(buf.indexOf(Buffer.from(needle), first + 1)).toBe(-1);
  return first;
}

function flipped(token: Uint8Array, at: number): Uint8Array {
  const copy = new Uint8Array(token);
  copy[at]! ^= 0x01;
  return copy;
}

async function postQuery(url: string, body: Uint8Array<ArrayBuffer>, contentType = 'application/timestamp-query') {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': contentType }, body });
  const bytes = new Uint8Array(await res.arrayBuffer());
  return { status: res.status, type: res.headers.get('content-type'), bytes, resp: pkijs.TimeStampResp.fromBER(ab(bytes)) };
}

function query(opts: { digest?: Uint8Array; hashOid?: string; nonce?: asn1js.Integer; certReq?: boolean }): Uint8Array<ArrayBuffer> {
  const req = new pkijs.TimeStampReq({
    version: 1,
    messageImprint: new pkijs.MessageImprint({
      hashAlgorithm: new pkijs.AlgorithmIdentifier({ algorithmId: opts.hashOid ?? OID.sha256, algorithmParams: new asn1js.Null() }),
      hashedMessage: new asn1js.OctetString({ valueHex: ab(opts.digest ?? sha256('x')) }),
    }),
    ...(opts.nonce ? { nonce: opts.nonce } : {}),
    ...(opts.certReq !== undefined ? { certReq: opts.certReq } : {}),
  });
  return new Uint8Array(req.toSchema().toBER(false));
}

function failBits(resp: pkijs.TimeStampResp): number[] {
  const view = resp.status.failInfo ? new Uint8Array(resp.status.failInfo.valueBlock.valueHexView) : new Uint8Array();
  const out: number[] = [];
  for (let i = 0; i < view.length * 8; i++) if (view[i >> 3]! & (0x80 >> (i & 7))) out.push(i);
  return out;
}

function hasOpenssl(): boolean {
  return spawnSync('openssl', ['version']).status === 0;
}

let a: RunningTsa;
let b: RunningTsa;

beforeAll(async () => {
  [a, b] = await Promise.all([startTsa(), startTsa()]);
});

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
});

describe('test TSA + client + verifier', () => {
  it('creates its test CA on first run with private keys at mode 0600', () => {
    for (const f of ['root.pem', 'root.key.pem', 'tsa.pem', 'tsa.key.pem']) expect(fs.existsSync(path.join(a.dir, f))).toBe(true);
    expect(fs.statSync(path.join(a.dir, 'root.key.pem')).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.join(a.dir, 'tsa.key.pem')).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(path.join(a.dir, 'root.key.pem'), 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    // Two directories, two different CAs.
    expect(a.rootPem).not.toBe(b.rootPem);
    // The TSA certificate carries a critical extendedKeyUsage = {id-kp-timeStamping}.
    const cert = pkijs.Certificate.fromBER(ab(pemToDer(a.tsaPem)));
    const eku = cert.extensions?.find((e) => e.extnID === OID.extKeyUsage);
    expect(eku?.critical).toBe(true);
    expect((eku?.parsedValue as pkijs.ExtKeyUsage).keyPurposes).toEqual([OID.kpTimeStamping]);
  });

  it('stamps a digest; the token verifies against root.pem with a sane genTime', async () => {
    const digest = sha256('evidence ' + randomBytes(8).toString('hex'));
    const before = Date.now();
    const r = await requestTimestamp(a.url, digest);
    expect(Math.abs(r.genTime.getTime() - before)).toBeLessThan(60_000);
    // The token carries the TSA certificate (certReq), signer first.
    expect(r.chain[0]).toBe(derToPem(pemToDer(a.tsaPem)));
    const check = await verifyTimestampToken(r.token, digest, { trustedRoots: [a.rootPem] });
    expect(check).toEqual({ ok: true, genTime: r.genTime, problems: [] });
    // The TSTInfo is what we asked for: our imprint, the test policy, a 16-byte serial.
    const { tstInfo } = parseTimestampToken(r.token);
    expect(hex(new Uint8Array(tstInfo.messageImprint.hashedMessage.valueBlock.valueHexView))).toBe(hex(digest));
    expect(tstInfo.policy).toBe('1.2.3.4.1');
    expect(tstInfo.serialNumber.valueBlock.valueHexView.byteLength).toBe(16);
  });

  it('serial numbers differ between tokens', async () => {
    const d = sha256('same');
    const [x, y] = await Promise.all([requestTimestamp(a.url, d), requestTimestamp(a.url, d)]);
    const sx = hex(new Uint8Array(parseTimestampToken(x.token).tstInfo.serialNumber.valueBlock.valueHexView));
    const sy = hex(new Uint8Array(parseTimestampToken(y.token).tstInfo.serialNumber.valueBlock.valueHexView));
    expect(sx).not.toBe(sy);
  });

  it('a different expected digest → ANCHOR_IMPRINT_MISMATCH (and nothing else)', async () => {
    const digest = sha256('one');
    const r = await requestTimestamp(a.url, digest);
    const check = await verifyTimestampToken(r.token, sha256('two'), { trustedRoots: [a.rootPem] });
    expect(check.ok).toBe(false);
    expect(codes(check)).toEqual(['ANCHOR_IMPRINT_MISMATCH']);
  });

  it("another CA's root, or no roots at all → ANCHOR_UNTRUSTED_TSA", async () => {
    const digest = sha256('trust');
    const r = await requestTimestamp(a.url, digest);
    const other = await verifyTimestampToken(r.token, digest, { trustedRoots: [b.rootPem] });
    expect(other.ok).toBe(false);
    expect(codes(other)).toEqual(['ANCHOR_UNTRUSTED_TSA']);
    const none = await verifyTimestampToken(r.token, digest, { trustedRoots: [] });
    expect(codes(none)).toEqual(['ANCHOR_UNTRUSTED_TSA']);
    // Trusting both roots works: the right one is found.
    expect((await verifyTimestampToken(r.token, digest, { trustedRoots: [b.rootPem, a.rootPem] })).ok).toBe(true);
    // And B's tokens verify against B, not A.
    const rb = await requestTimestamp(b.url, digest);
    expect((await verifyTimestampToken(rb.token, digest, { trustedRoots: [b.rootPem] })).ok).toBe(true);
    expect(codes(await verifyTimestampToken(rb.token, digest, { trustedRoots: [a.rootPem] }))).toEqual(['ANCHOR_UNTRUSTED_TSA']);
  });

  it('a flipped byte in the signature → ANCHOR_SIGNATURE_INVALID', async () => {
    const digest = sha256('sig');
    const r = await requestTimestamp(a.url, digest);
    const sig = new Uint8Array(parseTimestampToken(r.token).signedData.signerInfos[0]!.signature.valueBlock.valueHexView);
    const at = uniqueIndex(r.token, sig) + sig.length - 2; // inside s of the ECDSA (r, s)
    const check = await verifyTimestampToken(flipped(r.token, at), digest, { trustedRoots: [a.rootPem] });
    expect(check.ok).toBe(false);
    expect(codes(check)).toEqual(['ANCHOR_SIGNATURE_INVALID']);
  });

  it('a flipped byte in the TSTInfo → ANCHOR_SIGNATURE_INVALID (serial) / plus ANCHOR_IMPRINT_MISMATCH (imprint)', async () => {
    const digest = sha256('tst');
    const r = await requestTimestamp(a.url, digest);
    const { tstInfo } = parseTimestampToken(r.token);
    const serial = new Uint8Array(tstInfo.serialNumber.valueBlock.valueHexView);
    const inSerial = await verifyTimestampToken(flipped(r.token, uniqueIndex(r.token, serial) + 8), digest, { trustedRoots: [a.rootPem] });
    expect(inSerial.ok).toBe(false);
    expect(codes(inSerial)).toEqual(['ANCHOR_SIGNATURE_INVALID']);
    expect(inSerial.problems[0]!.message).toMatch(/message-digest/);
    const inImprint = await verifyTimestampToken(flipped(r.token, uniqueIndex(r.token, digest) + 5), digest, { trustedRoots: [a.rootPem] });
    expect(codes(inImprint)).toEqual(['ANCHOR_IMPRINT_MISMATCH', 'ANCHOR_SIGNATURE_INVALID']);
  });

  it('garbage, empty, truncated or padded input → ANCHOR_MALFORMED, never a throw', async () => {
    const digest = sha256('garbage');
    const r = await requestTimestamp(a.url, digest);
    const inputs = [
      new Uint8Array(),
      new Uint8Array(randomBytes(300)),
      new TextEncoder().encode('not a token at all'),
      r.token.subarray(0, r.token.length - 10),
      new Uint8Array([...r.token, 0x00]),
      new Uint8Array(await (await fetch(a.url + '/', { method: 'POST', headers: { 'content-type': 'application/timestamp-query' }, body: query({}) })).arrayBuffer()), // a TimeStampResp, not a token
    ];
    for (const input of inputs) {
      const check = await verifyTimestampToken(input, digest, { trustedRoots: [a.rootPem] });
      expect(check.ok).toBe(false);
      expect(codes(check)).toEqual(['ANCHOR_MALFORMED']);
    }
    // Not even byte arrays: still no throw.
    const bogus = await verifyTimestampToken('nope' as unknown as Uint8Array, digest, { trustedRoots: [a.rootPem] });
    expect(codes(bogus)).toEqual(['ANCHOR_MALFORMED']);
  });

  it('echoes the nonce; omits it when the request has none; certReq=false → no certificate in the token', async () => {
    const nonce = new asn1js.Integer({ valueHex: ab(new Uint8Array([0x12, ...randomBytes(7)])) });
    const digest = sha256('nonce');
    const withNonce = await postQuery(a.url, query({ digest, nonce, certReq: true }));
    expect(withNonce.status).toBe(200);
    expect(withNonce.type).toBe('application/timestamp-reply');
    expect(withNonce.resp.status.status).toBe(pkijs.PKIStatus.granted);
    const tst1 = parseTimestampToken(new Uint8Array(withNonce.resp.timeStampToken!.toSchema().toBER(false))).tstInfo;
    expect(tst1.nonce?.isEqual(nonce)).toBe(true);

    const noNonce = await postQuery(a.url + '/tsa', query({ digest, certReq: false }));
    expect(noNonce.resp.status.status).toBe(pkijs.PKIStatus.granted);
    const token = new Uint8Array(noNonce.resp.timeStampToken!.toSchema().toBER(false));
    const parsed = parseTimestampToken(token);
    expect(parsed.tstInfo.nonce).toBeUndefined();
    expect(parsed.signedData.certificates ?? []).toHaveLength(0);
    // Without the certificate the verifier cannot identify the TSA; given it via `chain`, it can.
    expect(codes(await verifyTimestampToken(token, digest, { trustedRoots: [a.rootPem] }))).toEqual(['ANCHOR_UNTRUSTED_TSA']);
    expect((await verifyTimestampToken(token, digest, { trustedRoots: [a.rootPem], chain: [a.tsaPem] })).ok).toBe(true);
  });

  it('rejects malformed requests (400 + rejection/badDataFormat) and unsupported hashes (rejection/badAlg)', async () => {
    const garbage = await postQuery(a.url, new TextEncoder().encode('definitely not DER'));
    expect(garbage.status).toBe(400);
    expect(garbage.type).toBe('application/timestamp-reply');
    expect(garbage.resp.status.status).toBe(pkijs.PKIStatus.rejection);
    expect(garbage.resp.timeStampToken).toBeUndefined();
    expect(failBits(garbage.resp)).toEqual([FailureInfo.badDataFormat]);

    const sha1 = await postQuery(a.url, query({ hashOid: OID.sha1, digest: new Uint8Array(20) }));
    expect(sha1.resp.status.status).toBe(pkijs.PKIStatus.rejection);
    expect(failBits(sha1.resp)).toEqual([FailureInfo.badAlg]);

    const shortDigest = await postQuery(a.url, query({ digest: new Uint8Array(31) }));
    expect(failBits(shortDigest.resp)).toEqual([FailureInfo.badDataFormat]);

    const wrongType = await postQuery(a.url, query({}), 'application/octet-stream');
    expect(wrongType.status).toBe(415);
    expect(wrongType.resp.status.status).toBe(pkijs.PKIStatus.rejection);

    // SHA-512 is supported.
    const sha512 = await postQuery(a.url, query({ hashOid: OID.sha512, digest: new Uint8Array(64).fill(1) }));
    expect(sha512.resp.status.status).toBe(pkijs.PKIStatus.granted);
  });

  it('the client throws typed errors: network down, HTTP error, nonce and imprint mismatch, bad digest', async () => {
    const digest = sha256('client');
    const err = async (p: Promise<unknown>) => {
      try {
        await p;
      } catch (e) {
        expect(e).toBeInstanceOf(TsaError);
        return (e as TsaError).code;
      }
      throw new Error('expected a TsaError');
    };
    expect(await err(requestTimestamp(a.url, new Uint8Array(31)))).toBe('BAD_ARGUMENT');
    expect(await err(requestTimestamp(a.url + '/nowhere', digest))).toBe('HTTP_ERROR');
    // A port nothing listens on: B's port after B is gone would race, so use a closed ephemeral port.
    const closed = await startTsa(b.dir);
    const closedUrl = closed.url;
    await closed.stop();
    expect(await err(requestTimestamp(closedUrl, digest, { timeoutMs: 5000 }))).toBe('NETWORK');
    // A man in the middle that replays someone else's answer: our nonce / our digest are not in it.
    const replay = (alter: { digest?: Uint8Array }): typeof fetch =>
      (async (_url: string | URL | Request, init?: RequestInit) =>
        fetch(a.url, { ...init, body: query({ digest: alter.digest ?? digest, nonce: new asn1js.Integer({ value: 42 }), certReq: true }) })) as typeof fetch;
    expect(await err(requestTimestamp(a.url, digest, { fetch: replay({}) }))).toBe('NONCE_MISMATCH');
    const sameNonceOtherDigest: typeof fetch = (async (_url: string | URL | Request, init?: RequestInit) => {
      const sent = pkijs.TimeStampReq.fromBER(ab(new Uint8Array(init!.body as Uint8Array)));
      sent.messageImprint.hashedMessage = new asn1js.OctetString({ valueHex: ab(sha256('something else')) });
      return fetch(a.url, { ...init, body: new Uint8Array(sent.toSchema().toBER(false)) });
    }) as typeof fetch;
    expect(await err(requestTimestamp(a.url, digest, { fetch: sameNonceOtherDigest }))).toBe('IMPRINT_MISMATCH');
  });

  it('restarting with the same dir reuses the same root (and old tokens still verify); SIGTERM exits 0', async () => {
    const dir = tempDir('ps-tsa-restart-');
    const first = await startTsa(dir);
    const digest = sha256('restart');
    const before = await requestTimestamp(first.url, digest);
    const tsaPem = first.tsaPem;
    await first.stop();
    expect(first.proc.exitCode).toBe(0);
    const second = await startTsa(dir);
    try {
      expect(second.rootPem).toBe(first.rootPem);
      expect(second.tsaPem).toBe(tsaPem);
      const after = await requestTimestamp(second.url, digest);
      for (const t of [before, after]) expect((await verifyTimestampToken(t.token, digest, { trustedRoots: [first.rootPem] })).ok).toBe(true);
    } finally {
      await second.stop();
    }
    expect(second.proc.exitCode).toBe(0);
  });

  it.skipIf(!hasOpenssl())('openssl ts -verify accepts our tokens (independent implementation) and refuses a wrong digest', async () => {
    const digest = sha256('interop ' + randomBytes(4).toString('hex'));
    const r = await requestTimestamp(a.url, digest);
    const work = tempDir('ps-tsa-openssl-');
    const tokenFile = path.join(work, 'token.der');
    const rootFile = path.join(a.dir, 'root.pem');
    fs.writeFileSync(tokenFile, r.token);
    const run = (args: string[]) => spawnSync('openssl', args, { encoding: 'utf8' });
    const ok = run(['ts', '-verify', '-digest', hex(digest), '-token_in', '-in', tokenFile, '-CAfile', rootFile]);
    expect(ok.stdout + ok.stderr).toMatch(/Verification: OK/);
    expect(ok.status).toBe(0);
    // The whole TimeStampResp as the server sent it, too.
    const resp = await postQuery(a.url, query({ digest, certReq: true }));
    const respFile = path.join(work, 'resp.tsr');
    fs.writeFileSync(respFile, resp.bytes);
    const okResp = run(['ts', '-verify', '-digest', hex(digest), '-in', respFile, '-CAfile', rootFile]);
    expect(okResp.status).toBe(0);
    // Negative controls: a wrong digest, or another CA.
    expect(run(['ts', '-verify', '-digest', hex(sha256('other')), '-token_in', '-in', tokenFile, '-CAfile', rootFile]).status).not.toBe(0);
    expect(run(['ts', '-verify', '-digest', hex(digest), '-token_in', '-in', tokenFile, '-CAfile', path.join(b.dir, 'root.pem')]).status).not.toBe(0);
    // openssl parses our TSTInfo the same way.
    const text = run(['ts', '-reply', '-token_in', '-in', tokenFile, '-text', '-token_out']);
    expect(text.status).toBe(0);
    expect(text.stdout.replace(/[\s:-]/g, '').toLowerCase()).toContain(hex(digest).slice(0, 16));
  });

  describe('TSA certificate profile', () => {
    // Tokens signed by certificates our root issues, with and without a proper extendedKeyUsage.
    async function tokenSignedBy(eku: { purposes: string[]; critical: boolean } | null, digest: Uint8Array) {
      const id = await loadOrCreateTsaIdentity(a.dir); // reads the existing root (and its key) from the TSA dir
      const kp = await generateKeyPair();
      const cert = await issueCertificate({
        subjectCN: 'deficient TSA',
        publicKey: kp.publicKey,
        signingKey: id.rootKey,
        issuer: id.rootCert,
        ca: false,
        extKeyUsage: eku,
        validityDays: 30,
      });
      const messageImprint = new pkijs.MessageImprint({
        hashAlgorithm: new pkijs.AlgorithmIdentifier({ algorithmId: OID.sha256, algorithmParams: new asn1js.Null() }),
        hashedMessage: new asn1js.OctetString({ valueHex: ab(digest) }),
      });
      return signTimestampToken({ cert, key: kp.privateKey }, { messageImprint, includeCertificate: true });
    }

    it('control: a root-issued certificate with critical {timeStamping} verifies', async () => {
      const digest = sha256('profile ok');
      const token = await tokenSignedBy({ purposes: [OID.kpTimeStamping], critical: true }, digest);
      expect(await verifyTimestampToken(token, digest, { trustedRoots: [a.rootPem] })).toMatchObject({ ok: true, problems: [] });
    });

    it('no extendedKeyUsage, a non-critical one, or extra purposes → ANCHOR_TSA_CERT_INVALID', async () => {
      const digest = sha256('profile bad');
      const cases: [{ purposes: string[]; critical: boolean } | null, RegExp][] = [
        [null, /no extendedKeyUsage/],
        [{ purposes: [OID.kpTimeStamping], critical: false }, /not marked critical/],
        [{ purposes: ['1.3.6.1.5.5.7.3.1'], critical: true }, /does not include id-kp-timeStamping/],
        [{ purposes: [OID.kpTimeStamping, '1.3.6.1.5.5.7.3.1'], critical: true }, /only id-kp-timeStamping/],
      ];
      for (const [eku, why] of cases) {
        const token = await tokenSignedBy(eku, digest);
        const check = await verifyTimestampToken(token, digest, { trustedRoots: [a.rootPem] });
        expect(check.ok).toBe(false);
        expect(codes(check)).toEqual(['ANCHOR_TSA_CERT_INVALID']);
        expect(check.problems.map((p) => p.message).join('\n')).toMatch(why);
      }
    });

    it.skipIf(!hasOpenssl())('openssl agrees: a non-critical timeStamping EKU is refused', async () => {
      const digest = sha256('profile openssl');
      const token = await tokenSignedBy({ purposes: [OID.kpTimeStamping], critical: false }, digest);
      const file = path.join(tempDir('ps-tsa-eku-'), 'token.der');
      fs.writeFileSync(file, token);
      const r = spawnSync('openssl', ['ts', '-verify', '-digest', hex(digest), '-token_in', '-in', file, '-CAfile', path.join(a.dir, 'root.pem')], { encoding: 'utf8' });
      expect(r.status).not.toBe(0);
    });
  });
});
