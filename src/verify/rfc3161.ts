// Offline verification of an RFC 3161 TimeStampToken (a CMS ContentInfo/SignedData over a TSTInfo).
//
// PURE and browser-safe: no `node:` imports; only pkijs, asn1js and globalThis.crypto (through pkijs' engine).
// It never throws: anything unexpected becomes an ANCHOR_MALFORMED problem.
//
// What is checked (docs/anchors-tsa.md):
//   1. the bytes are exactly one DER/BER ContentInfo → SignedData with eContentType id-ct-TSTInfo, one signer;
//   2. TSTInfo.messageImprint is SHA-256 over exactly `expectedDigest`            (ANCHOR_IMPRINT_MISMATCH)
//   3. the signer's certificate (from the token or `opts.chain`) is found, the signed attributes carry
//      content-type = id-ct-TSTInfo and a message-digest of the TSTInfo, the ESS signing-certificate(-v2)
//      attribute names that certificate, and the signature over the signed attributes verifies
//                                                                                 (ANCHOR_SIGNATURE_INVALID)
//   4. the signer certificate carries extendedKeyUsage = {id-kp-timeStamping} only, marked critical, and a
//      keyUsage (if any) allowing digitalSignature/nonRepudiation (RFC 3161 §2.3) (ANCHOR_TSA_CERT_INVALID)
//   5. the signer certificate chains to one of `trustedRoots`, validity checked at genTime
//                                                                                 (ANCHOR_UNTRUSTED_TSA)
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { bytesEqual, bytesToHex as hex } from '../protocol/bytes.js';
import { pemBlocksToDer } from './pem.js';


export type TokenProblemCode =
  | 'ANCHOR_MALFORMED'
  | 'ANCHOR_IMPRINT_MISMATCH'
  | 'ANCHOR_SIGNATURE_INVALID'
  | 'ANCHOR_UNTRUSTED_TSA'
  | 'ANCHOR_TSA_CERT_INVALID';

export interface TokenProblem {
  code: TokenProblemCode;
  message: string;
}

export interface TokenCheck {
  ok: boolean;
  genTime?: Date;
  problems: TokenProblem[];
}

export interface VerifyTimestampOptions {
  /** PEM certificates (one or more blocks per string) the caller trusts as TSA roots. Empty → nothing is trusted. */
  trustedRoots: string[];
  /** Extra PEM certificates: intermediates, or the TSA certificate itself when the token does not carry it. */
  chain?: string[];
}

export const OID = {
  signedData: '1.2.840.113549.1.7.2',
  tstInfo: '1.2.840.113549.1.9.16.1.4',
  contentTypeAttr: '1.2.840.113549.1.9.3',
  messageDigestAttr: '1.2.840.113549.1.9.4',
  signingTimeAttr: '1.2.840.113549.1.9.5',
  signingCertificate: '1.2.840.113549.1.9.16.2.12',
  signingCertificateV2: '1.2.840.113549.1.9.16.2.47',
  sha1: '1.3.14.3.2.26',
  sha256: '2.16.840.1.101.3.4.2.1',
  sha384: '2.16.840.1.101.3.4.2.2',
  sha512: '2.16.840.1.101.3.4.2.3',
  extKeyUsage: '2.5.29.37',
  keyUsage: '2.5.29.15',
  kpTimeStamping: '1.3.6.1.5.5.7.3.8',
} as const;

/** Hash OIDs an RFC 3161 request may use with our TSA, and the digest length each implies. */
export const HASH_BY_OID: Record<string, { name: 'SHA-256' | 'SHA-384' | 'SHA-512'; length: number }> = {
  [OID.sha256]: { name: 'SHA-256', length: 32 },
  [OID.sha384]: { name: 'SHA-384', length: 48 },
  [OID.sha512]: { name: 'SHA-512', length: 64 },
};

class Malformed extends Error {}

/** Parse a DER TimeStampToken (ContentInfo) into its SignedData and TSTInfo; throws on anything malformed. */
export function parseTimestampToken(token: Uint8Array): { signedData: pkijs.SignedData; tstInfo: pkijs.TSTInfo; tstInfoDer: Uint8Array } {
  const asn = asn1js.fromBER(toArrayBuffer(token));
  if (asn.offset === -1) throw new Malformed('not ASN.1 (BER/DER)');
  if (asn.offset !== token.byteLength) throw new Malformed('trailing bytes after the ContentInfo');
  const ci = new pkijs.ContentInfo({ schema: asn.result });
  if (ci.contentType !== OID.signedData) throw new Malformed(`ContentInfo is ${ci.contentType}, not SignedData`);
  const signedData = new pkijs.SignedData({ schema: ci.content });
  const eci = signedData.encapContentInfo;
  if (eci.eContentType !== OID.tstInfo) throw new Malformed(`eContentType is ${eci.eContentType}, not id-ct-TSTInfo`);
  if (!eci.eContent) throw new Malformed('SignedData has no encapsulated TSTInfo');
  const tstInfoDer = new Uint8Array(eci.eContent.getValue());
  const tAsn = asn1js.fromBER(toArrayBuffer(tstInfoDer));
  if (tAsn.offset !== tstInfoDer.byteLength) throw new Malformed('TSTInfo is not a single ASN.1 value');
  const tstInfo = new pkijs.TSTInfo({ schema: tAsn.result });
  if (!(tstInfo.genTime instanceof Date) || Number.isNaN(tstInfo.genTime.getTime())) throw new Malformed('TSTInfo.genTime is not a valid time');
  return { signedData, tstInfo, tstInfoDer };
}

/** Verify an RFC 3161 token against the SHA-256 digest it should stamp and a set of trusted TSA roots. Never throws. */
export async function verifyTimestampToken(token: Uint8Array, expectedDigest: Uint8Array, opts: VerifyTimestampOptions): Promise<TokenCheck> {
  const problems: TokenProblem[] = [];
  const add = (code: TokenProblemCode, message: string) => problems.push({ code, message });
  let genTime: Date | undefined;
  try {
    if (!(token instanceof Uint8Array) || !(expectedDigest instanceof Uint8Array)) {
      add('ANCHOR_MALFORMED', 'token and expected digest must be byte arrays');
      return { ok: false, problems };
    }
    let parsed: ReturnType<typeof parseTimestampToken>;
    try {
      parsed = parseTimestampToken(token);
    } catch (e) {
      add('ANCHOR_MALFORMED', `token does not parse as an RFC 3161 TimeStampToken: ${errMsg(e)}`);
      return { ok: false, problems };
    }
    const { signedData, tstInfo, tstInfoDer } = parsed;
    genTime = tstInfo.genTime;

    // 2. The imprint: SHA-256 over exactly the expected digest.
    const imprint = tstInfo.messageImprint;
    const imprintAlg = imprint.hashAlgorithm.algorithmId;
    const imprintHash = new Uint8Array(imprint.hashedMessage.valueBlock.valueHexView);
    if (imprintAlg !== OID.sha256) {
      add('ANCHOR_IMPRINT_MISMATCH', `messageImprint uses hash algorithm ${imprintAlg}, expected SHA-256 (${OID.sha256})`);
    } else if (!bytesEqual(imprintHash, expectedDigest)) {
      add('ANCHOR_IMPRINT_MISMATCH', `messageImprint ${hex(imprintHash)} does not match the expected digest ${hex(expectedDigest)}`);
    }

    // 3. The signer and its signature.
    if (signedData.signerInfos.length !== 1) {
      add('ANCHOR_MALFORMED', `a TimeStampToken has exactly one signer, this one has ${signedData.signerInfos.length}`);
      return { ok: false, genTime, problems };
    }
    const signerInfo = signedData.signerInfos[0]!;
    const tokenCerts = (signedData.certificates ?? []).filter((c): c is pkijs.Certificate => c instanceof pkijs.Certificate);
    const extraCerts: pkijs.Certificate[] = [];
    for (const pem of opts.chain ?? []) {
      for (const der of pemBlocksToDer(pem)) {
        try {
          extraCerts.push(pkijs.Certificate.fromBER(toArrayBuffer(der)));
        } catch (e) {
          add('ANCHOR_MALFORMED', `a certificate in opts.chain does not parse: ${errMsg(e)}`);
        }
      }
    }
    const candidates = [...tokenCerts, ...extraCerts];
    const signerCert = await findSigner(signerInfo, candidates);
    if (!signerCert) {
      add('ANCHOR_UNTRUSTED_TSA', 'the signer certificate is neither in the token nor in the supplied chain');
      return { ok: false, genTime, problems };
    }
    const sigProblem = await checkSignature(signerInfo, signerCert, tstInfoDer);
    if (sigProblem) add('ANCHOR_SIGNATURE_INVALID', sigProblem);

    // 4. The signer certificate is a time-stamping certificate.
    for (const m of tsaCertProblems(signerCert)) add('ANCHOR_TSA_CERT_INVALID', m);

    // 5. It chains to a trusted root, valid at genTime.
    const roots: pkijs.Certificate[] = [];
    for (const pem of opts.trustedRoots ?? []) {
      for (const der of pemBlocksToDer(pem)) {
        try {
          roots.push(pkijs.Certificate.fromBER(toArrayBuffer(der)));
        } catch (e) {
          add('ANCHOR_MALFORMED', `a trusted root does not parse: ${errMsg(e)}`);
        }
      }
    }
    if (roots.length === 0) {
      add('ANCHOR_UNTRUSTED_TSA', 'no trusted TSA roots were supplied');
    } else {
      const chainProblem = await checkChain(signerCert, candidates, roots, genTime);
      if (chainProblem) add('ANCHOR_UNTRUSTED_TSA', chainProblem);
    }
  } catch (e) {
    add('ANCHOR_MALFORMED', `unexpected error while verifying the token: ${errMsg(e)}`);
  }
  return genTime ? { ok: problems.length === 0, genTime, problems } : { ok: problems.length === 0, problems };
}

async function findSigner(signerInfo: pkijs.SignerInfo, certs: pkijs.Certificate[]): Promise<pkijs.Certificate | undefined> {
  const sid = signerInfo.sid;
  if (sid instanceof pkijs.IssuerAndSerialNumber) {
    return certs.find((c) => c.issuer.isEqual(sid.issuer) && c.serialNumber.isEqual(sid.serialNumber));
  }
  // subjectKeyIdentifier [0]: compare against each certificate's SHA-1 key hash (RFC 5280 method 1).
  const block = sid as asn1js.BaseBlock & { valueBlock: { value?: asn1js.BaseBlock[]; valueHexView?: Uint8Array } };
  const inner = block.idBlock.isConstructed ? (block.valueBlock.value?.[0] as asn1js.OctetString | undefined) : undefined;
  const keyId = inner ? new Uint8Array(inner.valueBlock.valueHexView) : new Uint8Array(block.valueBlock.valueHexView ?? []);
  for (const c of certs) {
    const h = new Uint8Array(await c.getKeyHash('SHA-1'));
    if (bytesEqual(h, keyId)) return c;
  }
  return undefined;
}

/** Returns a description of what is wrong with the signature, or null if it verifies. */
async function checkSignature(signerInfo: pkijs.SignerInfo, signerCert: pkijs.Certificate, tstInfoDer: Uint8Array): Promise<string | null> {
  const crypto = pkijs.getCrypto(true);
  const attrs = signerInfo.signedAttrs?.attributes;
  if (!attrs || attrs.length === 0) return 'the signer has no signed attributes (RFC 3161 requires them)';
  const attr = (type: string) => attrs.filter((a) => a.type === type);
  const ct = attr(OID.contentTypeAttr);
  const md = attr(OID.messageDigestAttr);
  if (ct.length !== 1 || md.length !== 1) return 'signed attributes must carry exactly one content-type and one message-digest';
  const ctValue = ct[0]!.values[0];
  if (!(ctValue instanceof asn1js.ObjectIdentifier) || ctValue.valueBlock.toString() !== OID.tstInfo) {
    return 'the content-type signed attribute is not id-ct-TSTInfo';
  }
  const mdValue = md[0]!.values[0];
  if (!(mdValue instanceof asn1js.OctetString)) return 'the message-digest signed attribute is not an OCTET STRING';

  const digestAlg = crypto.getAlgorithmByOID(signerInfo.digestAlgorithm.algorithmId);
  if (!('name' in digestAlg)) return `unsupported digest algorithm ${signerInfo.digestAlgorithm.algorithmId}`;
  const digestName = (digestAlg as { name: string }).name;
  const tstDigest = new Uint8Array(await crypto.digest({ name: digestName }, toArrayBuffer(tstInfoDer)));
  if (!bytesEqual(tstDigest, new Uint8Array(mdValue.valueBlock.valueHexView))) {
    return 'the message-digest signed attribute does not match the TSTInfo (the TSTInfo was altered)';
  }

  // ESS signing-certificate(-v2): binds the signer certificate into what was signed (RFC 3161 §2.4.1, RFC 5816).
  const essProblem = await checkEssSigningCertificate(attr(OID.signingCertificateV2), attr(OID.signingCertificate), signerCert);
  if (essProblem) return essProblem;

  let verified = false;
  try {
    const sigAlg = signerInfo.signatureAlgorithm;
    verified =
      sigAlg.algorithmId === '1.2.840.113549.1.1.1'
        ? await crypto.verifyWithPublicKey(signerInfo.signedAttrs!.encodedValue, signerInfo.signature, signerCert.subjectPublicKeyInfo, sigAlg, digestName)
        : await crypto.verifyWithPublicKey(signerInfo.signedAttrs!.encodedValue, signerInfo.signature, signerCert.subjectPublicKeyInfo, sigAlg);
  } catch (e) {
    return `the signature could not be verified: ${errMsg(e)}`;
  }
  return verified ? null : 'the signature over the signed attributes does not verify with the signer certificate';
}

async function checkEssSigningCertificate(v2: pkijs.Attribute[], v1: pkijs.Attribute[], signerCert: pkijs.Certificate): Promise<string | null> {
  if (v2.length + v1.length === 0) return 'no ESS signing-certificate attribute names the signer certificate';
  const crypto = pkijs.getCrypto(true);
  const certDer = certToDer(signerCert);
  const check = async (attrVal: unknown, v: 1 | 2): Promise<string | null> => {
    // SigningCertificate(V2) ::= SEQUENCE { certs SEQUENCE OF ESSCertID(v2), policies … OPTIONAL }
    const certs = seqItems(seqItems(attrVal)?.[0]);
    const first = seqItems(certs?.[0]);
    if (!first || first.length === 0) return `the ESS signing-certificate${v === 2 ? '-v2' : ''} attribute is malformed`;
    let hashName = 'SHA-1';
    let hashIndex = 0;
    if (v === 2) {
      // ESSCertIDv2 ::= SEQUENCE { hashAlgorithm AlgorithmIdentifier DEFAULT sha256, certHash OCTET STRING, … }
      hashName = 'SHA-256';
      if (first[0] instanceof asn1js.Sequence) {
        const alg = new pkijs.AlgorithmIdentifier({ schema: first[0] });
        const found = crypto.getAlgorithmByOID(alg.algorithmId);
        if (!('name' in found)) return `unsupported ESS certHash algorithm ${alg.algorithmId}`;
        hashName = (found as { name: string }).name;
        hashIndex = 1;
      }
    }
    const certHash = first[hashIndex];
    if (!(certHash instanceof asn1js.OctetString)) return 'the ESS certHash is not an OCTET STRING';
    const actual = new Uint8Array(await crypto.digest({ name: hashName }, toArrayBuffer(certDer)));
    if (!bytesEqual(actual, new Uint8Array(certHash.valueBlock.valueHexView))) {
      return 'the ESS signing-certificate attribute names a different certificate than the signer certificate';
    }
    return null;
  };
  for (const a of v2) {
    const p = await check(a.values[0], 2);
    if (p) return p;
  }
  for (const a of v1) {
    const p = await check(a.values[0], 1);
    if (p) return p;
  }
  return null;
}

/** RFC 3161 §2.3: the TSA certificate's extendedKeyUsage is exactly {id-kp-timeStamping} and critical. */
export function tsaCertProblems(cert: pkijs.Certificate): string[] {
  const out: string[] = [];
  const exts = cert.extensions ?? [];
  const eku = exts.filter((e) => e.extnID === OID.extKeyUsage);
  if (eku.length !== 1) {
    out.push(eku.length === 0 ? 'the TSA certificate has no extendedKeyUsage extension' : 'the TSA certificate has more than one extendedKeyUsage extension');
  } else {
    const ext = eku[0]!;
    const purposes = ext.parsedValue instanceof pkijs.ExtKeyUsage ? ext.parsedValue.keyPurposes : [];
    if (!purposes.includes(OID.kpTimeStamping)) out.push('the TSA certificate extendedKeyUsage does not include id-kp-timeStamping');
    else if (purposes.length !== 1) out.push('the TSA certificate extendedKeyUsage must contain only id-kp-timeStamping');
    if (!ext.critical) out.push('the TSA certificate extendedKeyUsage extension is not marked critical');
  }
  const ku = exts.find((e) => e.extnID === OID.keyUsage);
  if (ku && ku.parsedValue instanceof asn1js.BitString) {
    const first = new Uint8Array(ku.parsedValue.valueBlock.valueHexView)[0] ?? 0;
    // digitalSignature (bit 0) or nonRepudiation (bit 1)
    if ((first & 0xc0) === 0) out.push('the TSA certificate keyUsage allows neither digitalSignature nor nonRepudiation');
  }
  return out;
}

async function checkChain(signer: pkijs.Certificate, candidates: pkijs.Certificate[], roots: pkijs.Certificate[], at: Date): Promise<string | null> {
  const signerDer = certToDer(signer);
  // pkijs takes the LAST entry of `certs` as the end-entity; the others must be CA certificates.
  const intermediates = candidates.filter((c) => !bytesEqual(certToDer(c), signerDer) && pkijs.checkCA(c, signer) !== null);
  const engine = new pkijs.CertificateChainValidationEngine({
    trustedCerts: roots,
    certs: [...intermediates, signer],
    checkDate: at,
  });
  try {
    const r = await engine.verify();
    return r.result ? null : `the TSA certificate does not chain to a trusted root: ${r.resultMessage || 'no valid path'}`;
  } catch (e) {
    const msg = e && typeof e === 'object' && 'resultMessage' in e ? String((e as { resultMessage: unknown }).resultMessage) : errMsg(e);
    return `the TSA certificate does not chain to a trusted root: ${msg}`;
  }
}

function seqItems(v: unknown): asn1js.BaseBlock[] | undefined {
  if (!(v instanceof asn1js.Sequence)) return undefined;
  return v.valueBlock.value as asn1js.BaseBlock[];
}

export function certToDer(cert: pkijs.Certificate): Uint8Array {
  return new Uint8Array(cert.toSchema(false).toBER(false));
}

export function toArrayBuffer(u: Uint8Array): ArrayBuffer {
  return u.buffer.slice(u.byteOffset, u.byteOffset + u.byteLength) as ArrayBuffer;
}


function errMsg(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
