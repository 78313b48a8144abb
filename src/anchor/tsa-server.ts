// A TEST RFC 3161 time-stamp authority. NOT FOR PRODUCTION: its "CA" is a self-made root whose private key
// sits unencrypted next to it in the data directory, there is no HSM, no audit log, no clock discipline,
// no revocation. It exists so the ledger's time-stamp anchoring can be exercised end to end, offline.
//
// Wire protocol (RFC 3161 §3.4, HTTP): POST / (or /tsa) with Content-Type application/timestamp-query and a
// DER TimeStampReq; the answer is always a DER TimeStampResp with Content-Type application/timestamp-reply:
//   200  status granted, with a TimeStampToken
//   200  status rejection for a well-formed request we refuse (badAlg: hash other than SHA-256/384/512;
//        badDataFormat: digest length wrong for its algorithm; unacceptedPolicy; unacceptedExtension)
//   400  status rejection/badDataFormat when the body is not a DER TimeStampReq at all
//   413  status rejection/badRequest when the body is larger than 64 KiB
//   415  status rejection/badRequest when the Content-Type is not application/timestamp-query
//   500  status rejection/systemFailure if signing fails
// Tokens: SignedData (v3) over TSTInfo (policy TSA_TEST_POLICY_OID, the request's messageImprint copied,
// 16 random bytes of serialNumber, genTime = now to the second with accuracy 1 s, the request's nonce echoed),
// one signer identified by issuer+serial, ECDSA P-256 / SHA-256, signed attributes content-type, message-digest,
// signing-time and ESS signing-certificate-v2 (RFC 5816). The TSA certificate is put in SignedData.certificates
// only when the request sets certReq (RFC 3161 §2.4.1: otherwise it MUST be absent).
//
// Files in the data directory (created on first run, reused afterwards):
//   root.pem       the test root CA certificate (what verifiers trust)
//   root.key.pem   its PKCS#8 private key (0600)
//   tsa.pem        the TSA certificate, issued by the root, extendedKeyUsage = critical {id-kp-timeStamping}
//   tsa.key.pem    its PKCS#8 private key (0600)
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { certToDer, HASH_BY_OID, OID, toArrayBuffer } from '../verify/rfc3161.js';
import { derToPem, pemToDer } from '../verify/pem.js';

/** The policy our test TSA stamps under (the openssl sample config's tsa_policy1): a test value, not a real policy. */
export const TSA_TEST_POLICY_OID = '1.2.3.4.1';
export const MAX_REQUEST_BYTES = 64 * 1024;

const EC_ALG: EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };

/** Bit positions of PKIFailureInfo (RFC 3161 §2.4.2). */
export const FailureInfo = {
  badAlg: 0,
  badRequest: 2,
  badDataFormat: 5,
  timeNotAvailable: 14,
  unacceptedPolicy: 15,
  unacceptedExtension: 16,
  addInfoNotAvailable: 17,
  systemFailure: 25,
} as const;
export type FailureInfoName = keyof typeof FailureInfo;

function subtle(): SubtleCrypto {
  return globalThis.crypto.subtle;
}

// ---------------------------------------------------------------------------------------------- certificates

export interface CertificateSpec {
  subjectCN: string;
  /** The subject's public key. */
  publicKey: CryptoKey;
  /** The key that signs the certificate: the issuer's private key (the subject's own for a self-signed root). */
  signingKey: CryptoKey;
  /** The issuing CA certificate; omit for a self-signed certificate. */
  issuer?: pkijs.Certificate;
  /** true: basicConstraints cA (critical) + keyUsage keyCertSign|cRLSign (critical). */
  ca: boolean;
  /** The extendedKeyUsage extension, or null for none. */
  extKeyUsage: { purposes: string[]; critical: boolean } | null;
  validityDays: number;
  notBefore?: Date;
}

/** Issue an X.509 v3 certificate with pkijs. Exported so tests can mint deliberately deficient TSA certificates. */
export async function issueCertificate(spec: CertificateSpec): Promise<pkijs.Certificate> {
  const cert = new pkijs.Certificate();
  cert.version = 2;
  cert.serialNumber = new asn1js.Integer({ valueHex: positiveRandom(16) });
  const name = (rdn: pkijs.RelativeDistinguishedNames, cn: string) => {
    rdn.typesAndValues.push(new pkijs.AttributeTypeAndValue({ type: '2.5.4.10', value: new asn1js.Utf8String({ value: 'Proofstream test TSA (NOT FOR PRODUCTION)' }) }));
    rdn.typesAndValues.push(new pkijs.AttributeTypeAndValue({ type: '2.5.4.3', value: new asn1js.Utf8String({ value: cn }) }));
  };
  name(cert.subject, spec.subjectCN);
  if (spec.issuer) cert.issuer = spec.issuer.subject;
  else name(cert.issuer, spec.subjectCN);
  const notBefore = spec.notBefore ?? new Date(Date.now() - 60 * 60 * 1000);
  cert.notBefore.value = notBefore;
  cert.notAfter.value = new Date(notBefore.getTime() + spec.validityDays * 86_400_000);
  await cert.subjectPublicKeyInfo.importKey(spec.publicKey);

  const exts: pkijs.Extension[] = [];
  const basic = new pkijs.BasicConstraints({ cA: spec.ca });
  exts.push(new pkijs.Extension({ extnID: '2.5.29.19', critical: true, extnValue: basic.toSchema().toBER(false), parsedValue: basic }));
  // keyUsage: CA → keyCertSign (bit 5) | cRLSign (bit 6); TSA → digitalSignature (bit 0).
  const ku = spec.ca
    ? new asn1js.BitString({ valueHex: new Uint8Array([0x06]).buffer, unusedBits: 1 })
    : new asn1js.BitString({ valueHex: new Uint8Array([0x80]).buffer, unusedBits: 7 });
  exts.push(new pkijs.Extension({ extnID: OID.keyUsage, critical: true, extnValue: ku.toBER(false), parsedValue: ku }));
  if (spec.extKeyUsage) {
    const eku = new pkijs.ExtKeyUsage({ keyPurposes: spec.extKeyUsage.purposes });
    exts.push(new pkijs.Extension({ extnID: OID.extKeyUsage, critical: spec.extKeyUsage.critical, extnValue: eku.toSchema().toBER(false), parsedValue: eku }));
  }
  // subjectKeyIdentifier: SHA-1 of the subjectPublicKey bits (RFC 5280 §4.2.1.2 method 1).
  const ski = new asn1js.OctetString({ valueHex: await cert.getKeyHash('SHA-1') });
  exts.push(new pkijs.Extension({ extnID: '2.5.29.14', critical: false, extnValue: ski.toBER(false), parsedValue: ski }));
  if (spec.issuer) {
    const issuerSki = spec.issuer.extensions?.find((e) => e.extnID === '2.5.29.14')?.parsedValue;
    if (issuerSki instanceof asn1js.OctetString) {
      const aki = new pkijs.AuthorityKeyIdentifier({ keyIdentifier: new asn1js.OctetString({ valueHex: issuerSki.valueBlock.valueHexView.slice().buffer }) });
      exts.push(new pkijs.Extension({ extnID: '2.5.29.35', critical: false, extnValue: aki.toSchema().toBER(false), parsedValue: aki }));
    }
  }
  cert.extensions = exts;
  await cert.sign(spec.signingKey, 'SHA-256');
  return cert;
}

export async function generateKeyPair(): Promise<CryptoKeyPair> {
  return (await subtle().generateKey(EC_ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
}

async function importPrivateKey(pem: string): Promise<CryptoKey> {
  return subtle().importKey('pkcs8', toArrayBuffer(pemToDer(pem, 'PRIVATE KEY')), EC_ALG, false, ['sign']);
}

async function exportPrivateKey(key: CryptoKey): Promise<string> {
  return derToPem(new Uint8Array(await subtle().exportKey('pkcs8', key)), 'PRIVATE KEY');
}

// ---------------------------------------------------------------------------------------------- identity

export interface TsaIdentity {
  dir: string;
  rootCert: pkijs.Certificate;
  rootKey: CryptoKey;
  rootPem: string;
  tsaCert: pkijs.Certificate;
  tsaKey: CryptoKey;
  tsaPem: string;
}

export const TSA_FILES = { rootCert: 'root.pem', rootKey: 'root.key.pem', tsaCert: 'tsa.pem', tsaKey: 'tsa.key.pem' } as const;

function writeAtomic(file: string, data: string, mode: number): void {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  fs.writeFileSync(tmp, data, { mode });
  fs.chmodSync(tmp, mode);
  fs.renameSync(tmp, file);
}

/**
 * Load the test CA and TSA identity from `dir`, creating whatever is missing: a self-signed root (10 years)
 * and a TSA certificate issued by it (5 years, critical extendedKeyUsage id-kp-timeStamping). ECDSA P-256.
 */
export async function loadOrCreateTsaIdentity(dir: string): Promise<TsaIdentity> {
  fs.mkdirSync(dir, { recursive: true });
  const p = (f: string) => path.join(dir, f);
  let rootCert: pkijs.Certificate;
  let rootKey: CryptoKey;
  let rootPem: string;
  if (fs.existsSync(p(TSA_FILES.rootCert)) && fs.existsSync(p(TSA_FILES.rootKey))) {
    rootPem = fs.readFileSync(p(TSA_FILES.rootCert), 'utf8');
    rootCert = pkijs.Certificate.fromBER(toArrayBuffer(pemToDer(rootPem)));
    rootKey = await importPrivateKey(fs.readFileSync(p(TSA_FILES.rootKey), 'utf8'));
  } else {
    const kp = await generateKeyPair();
    rootCert = await issueCertificate({
      subjectCN: `Proofstream TEST TSA Root ${randomBytes(4).toString('hex')}`,
      publicKey: kp.publicKey,
      signingKey: kp.privateKey,
      ca: true,
      extKeyUsage: null,
      validityDays: 3650,
    });
    rootKey = kp.privateKey;
    rootPem = derToPem(certToDer(rootCert));
    writeAtomic(p(TSA_FILES.rootKey), await exportPrivateKey(kp.privateKey), 0o600);
    writeAtomic(p(TSA_FILES.rootCert), rootPem, 0o644);
    // A new root invalidates any TSA certificate left from an older one.
    fs.rmSync(p(TSA_FILES.tsaCert), { force: true });
  }
  let tsaCert: pkijs.Certificate;
  let tsaKey: CryptoKey;
  let tsaPem: string;
  if (fs.existsSync(p(TSA_FILES.tsaCert)) && fs.existsSync(p(TSA_FILES.tsaKey))) {
    tsaPem = fs.readFileSync(p(TSA_FILES.tsaCert), 'utf8');
    tsaCert = pkijs.Certificate.fromBER(toArrayBuffer(pemToDer(tsaPem)));
    tsaKey = await importPrivateKey(fs.readFileSync(p(TSA_FILES.tsaKey), 'utf8'));
  } else {
    const kp = await generateKeyPair();
    tsaCert = await issueCertificate({
      subjectCN: 'Proofstream TEST Time-Stamp Authority',
      publicKey: kp.publicKey,
      signingKey: rootKey,
      issuer: rootCert,
      ca: false,
      extKeyUsage: { purposes: [OID.kpTimeStamping], critical: true },
      validityDays: 1825,
    });
    tsaKey = kp.privateKey;
    tsaPem = derToPem(certToDer(tsaCert));
    writeAtomic(p(TSA_FILES.tsaKey), await exportPrivateKey(kp.privateKey), 0o600);
    writeAtomic(p(TSA_FILES.tsaCert), tsaPem, 0o644);
  }
  return { dir, rootCert, rootKey, rootPem, tsaCert, tsaKey, tsaPem };
}

// ---------------------------------------------------------------------------------------------- tokens

export interface TsaSigner {
  cert: pkijs.Certificate;
  key: CryptoKey;
  policy?: string;
}

export interface TokenContent {
  messageImprint: pkijs.MessageImprint;
  nonce?: asn1js.Integer;
  /** Put the signer certificate into SignedData.certificates. */
  includeCertificate: boolean;
  genTime?: Date;
}

/** Sign a TSTInfo and wrap it as a TimeStampToken (ContentInfo → SignedData). Returns the DER bytes. */
export async function signTimestampToken(signer: TsaSigner, content: TokenContent): Promise<Uint8Array> {
  const crypto = pkijs.getCrypto(true);
  const genTime = content.genTime ?? new Date(Math.floor(Date.now() / 1000) * 1000);
  const tst = new pkijs.TSTInfo({
    version: 1,
    policy: signer.policy ?? TSA_TEST_POLICY_OID,
    messageImprint: content.messageImprint,
    serialNumber: new asn1js.Integer({ valueHex: positiveRandom(16) }),
    genTime,
    accuracy: new pkijs.Accuracy({ seconds: 1 }),
    ...(content.nonce ? { nonce: content.nonce } : {}),
  });
  const tstDer = tst.toSchema().toBER(false);
  const certDer = certToDer(signer.cert);

  // ESS signing-certificate-v2 (RFC 5816): certs = [ESSCertIDv2 { certHash = SHA-256(cert), issuerSerial }];
  // hashAlgorithm is omitted because SHA-256 is its DEFAULT.
  const essCertIdV2 = new asn1js.Sequence({
    value: [
      new asn1js.OctetString({ valueHex: await crypto.digest({ name: 'SHA-256' }, toArrayBuffer(certDer)) }),
      new pkijs.IssuerSerial({
        issuer: new pkijs.GeneralNames({ names: [new pkijs.GeneralName({ type: 4, value: signer.cert.issuer })] }),
        serialNumber: signer.cert.serialNumber,
      }).toSchema(),
    ],
  });
  const signingCertV2 = new asn1js.Sequence({ value: [new asn1js.Sequence({ value: [essCertIdV2] })] });

  const attrs = [
    new pkijs.Attribute({ type: OID.contentTypeAttr, values: [new asn1js.ObjectIdentifier({ value: OID.tstInfo })] }),
    new pkijs.Attribute({ type: OID.signingTimeAttr, values: [new asn1js.UTCTime({ valueDate: genTime })] }),
    new pkijs.Attribute({
      type: OID.messageDigestAttr,
      values: [new asn1js.OctetString({ valueHex: await crypto.digest({ name: 'SHA-256' }, tstDer) })],
    }),
    new pkijs.Attribute({ type: OID.signingCertificateV2, values: [signingCertV2] }),
  ];
  // DER: a SET OF is sorted by the encodings of its elements.
  const encoded = new Map(attrs.map((a) => [a, new Uint8Array(a.toSchema().toBER(false))] as const));
  attrs.sort((a, b) => compareBytes(encoded.get(a)!, encoded.get(b)!));

  const signedData = new pkijs.SignedData({
    version: 3,
    encapContentInfo: new pkijs.EncapsulatedContentInfo({
      eContentType: OID.tstInfo,
      eContent: new asn1js.OctetString({ valueHex: tstDer }),
    }),
    signerInfos: [
      new pkijs.SignerInfo({
        version: 1,
        sid: new pkijs.IssuerAndSerialNumber({ issuer: signer.cert.issuer, serialNumber: signer.cert.serialNumber }),
        signedAttrs: new pkijs.SignedAndUnsignedAttributes({ type: 0, attributes: attrs }),
      }),
    ],
    ...(content.includeCertificate ? { certificates: [signer.cert] } : {}),
  });
  await signedData.sign(signer.key, 0, 'SHA-256');
  const ci = new pkijs.ContentInfo({ contentType: OID.signedData, content: signedData.toSchema(true) });
  return new Uint8Array(ci.toSchema().toBER(false));
}

export interface TimestampReply {
  /** HTTP status to answer with (see the table at the top of this file). */
  httpStatus: number;
  /** DER TimeStampResp. */
  body: Uint8Array;
  granted: boolean;
}

/** A DER TimeStampResp with status rejection and the given failure bit. */
export function rejection(failure: FailureInfoName, text: string): Uint8Array {
  const bit = FailureInfo[failure];
  const bytes = new Uint8Array(Math.floor(bit / 8) + 1);
  bytes[bytes.length - 1] = 0x80 >> bit % 8;
  const failInfo = new asn1js.BitString({ valueHex: bytes.buffer, unusedBits: 7 - (bit % 8) });
  const resp = new pkijs.TimeStampResp({
    status: new pkijs.PKIStatusInfo({
      status: pkijs.PKIStatus.rejection,
      statusStrings: [new asn1js.Utf8String({ value: text })],
      failInfo,
    }),
  });
  return new Uint8Array(resp.toSchema().toBER(false));
}

/** Answer one DER TimeStampReq. Never throws. */
export async function createTimestampReply(reqDer: Uint8Array, signer: TsaSigner): Promise<TimestampReply> {
  const reject = (httpStatus: number, failure: FailureInfoName, text: string): TimestampReply => ({
    httpStatus,
    body: rejection(failure, text),
    granted: false,
  });
  let req: pkijs.TimeStampReq;
  try {
    const asn = asn1js.fromBER(toArrayBuffer(reqDer), { maxDepth: 32, maxNodes: 1000 });
    if (asn.offset === -1 || asn.offset !== reqDer.byteLength) throw new Error('not a single DER value');
    req = new pkijs.TimeStampReq({ schema: asn.result });
  } catch {
    return reject(400, 'badDataFormat', 'the request is not a DER TimeStampReq');
  }
  if (req.version !== 1) return reject(200, 'badRequest', `unsupported TimeStampReq version ${req.version}`);
  const alg = HASH_BY_OID[req.messageImprint.hashAlgorithm.algorithmId];
  if (!alg) return reject(200, 'badAlg', `unsupported hash algorithm ${req.messageImprint.hashAlgorithm.algorithmId}; use SHA-256, SHA-384 or SHA-512`);
  if (req.messageImprint.hashedMessage.valueBlock.valueHexView.byteLength !== alg.length) {
    return reject(200, 'badDataFormat', `a ${alg.name} imprint is ${alg.length} bytes`);
  }
  const policy = signer.policy ?? TSA_TEST_POLICY_OID;
  if (req.reqPolicy !== undefined && req.reqPolicy !== policy) return reject(200, 'unacceptedPolicy', `this TSA only stamps under policy ${policy}`);
  if (req.extensions && req.extensions.length > 0) return reject(200, 'unacceptedExtension', 'this TSA supports no request extensions');
  try {
    const token = await signTimestampToken(signer, {
      messageImprint: req.messageImprint,
      ...(req.nonce ? { nonce: req.nonce } : {}),
      includeCertificate: req.certReq === true,
    });
    const tokenAsn = asn1js.fromBER(toArrayBuffer(token));
    const resp = new pkijs.TimeStampResp({
      status: new pkijs.PKIStatusInfo({ status: pkijs.PKIStatus.granted }),
      timeStampToken: new pkijs.ContentInfo({ schema: tokenAsn.result }),
    });
    return { httpStatus: 200, body: new Uint8Array(resp.toSchema().toBER(false)), granted: true };
  } catch (e) {
    return reject(500, 'systemFailure', `signing failed: ${(e as Error).message}`);
  }
}

// ---------------------------------------------------------------------------------------------- HTTP

export interface TsaServerOptions {
  dir: string;
  port: number;
  /** Default 127.0.0.1. */
  host?: string;
}

export interface RunningTsa {
  url: string;
  port: number;
  identity: TsaIdentity;
  close(): Promise<void>;
}

export function createTsaApp(signer: TsaSigner): Hono {
  const app = new Hono();
  const reply = (r: { httpStatus: number; body: Uint8Array }) =>
    new Response(r.body as Uint8Array<ArrayBuffer>, {
      status: r.httpStatus,
      headers: { 'content-type': 'application/timestamp-reply', 'cache-control': 'no-store' },
    });
  const handle = async (c: { req: { raw: Request; header(name: string): string | undefined } }) => {
    const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/timestamp-query') {
      return reply({ httpStatus: 415, body: rejection('badRequest', 'Content-Type must be application/timestamp-query') });
    }
    const declared = Number(c.req.header('content-length') ?? '0');
    if (declared > MAX_REQUEST_BYTES) return reply({ httpStatus: 413, body: rejection('badRequest', 'request too large') });
    const body = new Uint8Array(await c.req.raw.arrayBuffer());
    if (body.byteLength > MAX_REQUEST_BYTES) return reply({ httpStatus: 413, body: rejection('badRequest', 'request too large') });
    return reply(await createTimestampReply(body, signer));
  };
  app.post('/', handle);
  app.post('/tsa', handle);
  app.get('/', (c) => c.text('Proofstream TEST RFC 3161 time-stamp authority (NOT FOR PRODUCTION). POST application/timestamp-query to /.\n'));
  app.notFound((c) => c.text('not found\n', 404));
  return app;
}

/** Load/create the identity in `dir` and listen. Resolves once listening (port 0 → an ephemeral port). */
export async function startTsaServer(opts: TsaServerOptions): Promise<RunningTsa> {
  const identity = await loadOrCreateTsaIdentity(opts.dir);
  const app = createTsaApp({ cert: identity.tsaCert, key: identity.tsaKey });
  const host = opts.host ?? '127.0.0.1';
  let server: ServerType;
  const port = await new Promise<number>((resolve, reject) => {
    server = serve({ fetch: app.fetch, hostname: host, port: opts.port }, (info) => resolve(info.port));
    server.once('error', reject);
  });
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shownHost}:${port}`,
    port,
    identity,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      }),
  };
}

// ---------------------------------------------------------------------------------------------- helpers

/** `n` random bytes read as a positive, minimally encoded INTEGER (first byte 0x01..0x7f). */
export function positiveRandom(n: number): ArrayBuffer {
  const b = new Uint8Array(randomBytes(n));
  b[0] = (b[0]! & 0x7f) | 0x01;
  return b.buffer;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}
