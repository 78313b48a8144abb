// RFC 3161 client: ask a time-stamp authority to stamp a SHA-256 digest, over HTTP (RFC 3161 §3.4).
//
// The request carries the digest as a SHA-256 messageImprint, a random 8-byte nonce and certReq = true (so the
// token carries the TSA certificate). The answer must be granted, and its token must echo our nonce and our
// imprint; anything else throws a TsaError. This checks the token is the answer to *our* question; whether the
// TSA is trusted and the signature valid is for verifyTimestampToken (src/verify/rfc3161.ts) to decide.
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { bytesEqual } from '../protocol/bytes.js';
import { certToDer, OID, parseTimestampToken, toArrayBuffer } from '../verify/rfc3161.js';
import { derToPem } from '../verify/pem.js';

export type TsaErrorCode =
  | 'BAD_ARGUMENT' // the digest is not 32 bytes / the URL is unusable
  | 'NETWORK' // the TSA could not be reached
  | 'TIMEOUT' // no answer within timeoutMs
  | 'HTTP_ERROR' // a non-2xx answer without a usable TimeStampResp
  | 'BAD_RESPONSE' // the body is not a TimeStampResp / the token does not parse
  | 'REJECTED' // the TSA answered with a status other than granted / grantedWithMods
  | 'NONCE_MISMATCH' // the token does not echo our nonce
  | 'IMPRINT_MISMATCH'; // the token stamps something other than our digest

export class TsaError extends Error {
  override readonly name = 'TsaError';
  constructor(
    readonly code: TsaErrorCode,
    message: string,
    readonly details: { httpStatus?: number; pkiStatus?: number; statusText?: string; failInfo?: number[] } = {},
  ) {
    super(message);
  }
}

export interface TimestampResult {
  /** DER TimeStampToken (a CMS ContentInfo), byte-for-byte as the TSA sent it. */
  token: Uint8Array;
  genTime: Date;
  /** PEM certificates carried in the token, the signer's first. */
  chain: string[];
}

export interface RequestTimestampOptions {
  /** Default 10 000 ms. */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

/** Request an RFC 3161 time-stamp over `digest` (the SHA-256 of the stamped data, 32 bytes). */
export async function requestTimestamp(url: string, digest: Uint8Array, opts: RequestTimestampOptions = {}): Promise<TimestampResult> {
  if (!(digest instanceof Uint8Array) || digest.byteLength !== 32) {
    throw new TsaError('BAD_ARGUMENT', 'the digest must be a 32-byte SHA-256 value');
  }
  const nonceBytes = new Uint8Array(8);
  globalThis.crypto.getRandomValues(nonceBytes);
  nonceBytes[0] = (nonceBytes[0]! & 0x7f) | 0x01; // positive, minimally encoded INTEGER
  const nonce = new asn1js.Integer({ valueHex: nonceBytes.buffer });
  const req = new pkijs.TimeStampReq({
    version: 1,
    messageImprint: new pkijs.MessageImprint({
      hashAlgorithm: new pkijs.AlgorithmIdentifier({ algorithmId: OID.sha256, algorithmParams: new asn1js.Null() }),
      hashedMessage: new asn1js.OctetString({ valueHex: toArrayBuffer(digest) }),
    }),
    nonce,
    certReq: true,
  });
  const body = new Uint8Array(req.toSchema().toBER(false));

  const doFetch = opts.fetch ?? globalThis.fetch;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  let res: Response;
  let raw: Uint8Array;
  try {
    try {
      res = await doFetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/timestamp-query', accept: 'application/timestamp-reply' },
        body,
        signal: ac.signal,
      });
      raw = new Uint8Array(await res.arrayBuffer());
    } catch (e) {
      if (ac.signal.aborted) throw new TsaError('TIMEOUT', `no answer from the TSA at ${url} within ${timeoutMs} ms`);
      if (e instanceof TypeError && /invalid url|failed to parse url/i.test(String((e as Error).cause ?? e.message))) {
        throw new TsaError('BAD_ARGUMENT', `unusable TSA URL ${url}: ${e.message}`);
      }
      const cause = (e as Error & { cause?: { code?: string; message?: string } }).cause;
      throw new TsaError('NETWORK', `cannot reach the TSA at ${url}: ${cause?.code ?? cause?.message ?? (e as Error).message}`);
    }
  } finally {
    clearTimeout(timer);
  }

  // Parse the TimeStampResp; keep the token's own bytes (re-encoding could change what was signed).
  let resp: pkijs.TimeStampResp | undefined;
  let tokenBytes: Uint8Array | undefined;
  try {
    const asn = asn1js.fromBER(toArrayBuffer(raw));
    if (asn.offset === -1 || asn.offset !== raw.byteLength) throw new Error('not a single DER value');
    resp = new pkijs.TimeStampResp({ schema: asn.result });
    const tokenBlock = (asn.result as asn1js.Sequence).valueBlock.value[1];
    if (tokenBlock) tokenBytes = new Uint8Array(tokenBlock.valueBeforeDecodeView);
  } catch {
    resp = undefined;
  }
  if (!resp) {
    if (!res.ok) throw new TsaError('HTTP_ERROR', `the TSA answered HTTP ${res.status}`, { httpStatus: res.status });
    throw new TsaError('BAD_RESPONSE', 'the TSA answer is not a DER TimeStampResp', { httpStatus: res.status });
  }
  const status = resp.status.status;
  if (status !== pkijs.PKIStatus.granted && status !== pkijs.PKIStatus.grantedWithMods) {
    const statusText = (resp.status.statusStrings ?? []).map((s) => s.valueBlock.value).join('; ');
    const failInfo = failBits(resp.status.failInfo);
    throw new TsaError(
      'REJECTED',
      `the TSA refused the request (status ${status}${failInfo.length ? `, failInfo ${failInfo.join(',')}` : ''}${statusText ? `: ${statusText}` : ''})`,
      { httpStatus: res.status, pkiStatus: status, statusText, failInfo },
    );
  }
  if (!res.ok) throw new TsaError('HTTP_ERROR', `the TSA answered HTTP ${res.status}`, { httpStatus: res.status });
  if (!tokenBytes) throw new TsaError('BAD_RESPONSE', 'the TSA granted the request but sent no token', { httpStatus: res.status });

  let parsed: ReturnType<typeof parseTimestampToken>;
  try {
    parsed = parseTimestampToken(tokenBytes);
  } catch (e) {
    throw new TsaError('BAD_RESPONSE', `the token does not parse: ${(e as Error).message}`);
  }
  const { tstInfo, signedData } = parsed;
  if (!tstInfo.nonce || !tstInfo.nonce.isEqual(nonce)) throw new TsaError('NONCE_MISMATCH', 'the token does not echo the request nonce');
  const imprint = tstInfo.messageImprint;
  if (imprint.hashAlgorithm.algorithmId !== OID.sha256 || !bytesEqual(new Uint8Array(imprint.hashedMessage.valueBlock.valueHexView), digest)) {
    throw new TsaError('IMPRINT_MISMATCH', 'the token stamps a different digest than the one requested');
  }

  // The certificates, signer first.
  const certs = (signedData.certificates ?? []).filter((c): c is pkijs.Certificate => c instanceof pkijs.Certificate);
  const sid = signedData.signerInfos[0]?.sid;
  const isSigner = (c: pkijs.Certificate) =>
    sid instanceof pkijs.IssuerAndSerialNumber && c.issuer.isEqual(sid.issuer) && c.serialNumber.isEqual(sid.serialNumber);
  const ordered = [...certs.filter(isSigner), ...certs.filter((c) => !isSigner(c))];
  return { token: tokenBytes, genTime: tstInfo.genTime, chain: ordered.map((c) => derToPem(certToDer(c))) };
}

function failBits(bits: asn1js.BitString | undefined): number[] {
  if (!bits) return [];
  const view = new Uint8Array(bits.valueBlock.valueHexView);
  const out: number[] = [];
  for (let i = 0; i < view.length * 8; i++) if (view[i >> 3]! & (0x80 >> (i & 7))) out.push(i);
  return out;
}
