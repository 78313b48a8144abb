// The witness's Ed25519 cosigning key (tlog-cosignature/v1, signed-note type 0x04).
//
// Key file format (one line, the signed-note "private key" convention of golang.org/x/mod/sumdb/note):
//
//   PRIVATE+KEY+<name>+<8 lowercase hex key ID>+<base64(0x04 ‖ 32-byte Ed25519 seed)>\n
//
// where key ID = SHA-256(<name> ‖ 0x0A ‖ 0x04 ‖ 32-byte public key)[:4] (c2sp.org/tlog-cosignature). The
// file is created with mode 0600 and never overwritten. The matching verifier key (what logs and clients
// configure) is `<name>+<key ID hex>+<base64(0x04 ‖ public key)>`.
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign as nodeSign, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { base64ToBytes, bytesEqual, bytesToBase64, bytesToHex, concatBytes, hexToBytes } from '../protocol/bytes.js';
import { COSIGNATURE_TYPE, encodeVerifierKey, isValidKeyName, keyId } from '../protocol/note.js';

/** A loaded witness key. */
export interface WitnessKey {
  /** Witness name (key name in cosignature lines), e.g. `witness.example/w1`. */
  name: string;
  /** 32-byte Ed25519 public key. */
  publicKey: Uint8Array;
  /** 4-byte key ID = SHA-256(name ‖ 0x0A ‖ 0x04 ‖ publicKey)[:4]. */
  keyId: Uint8Array;
  /** C2SP verifier key `name+hex(keyID)+base64(0x04 ‖ publicKey)`. */
  vkey: string;
  /** Ed25519 signature (64 bytes) of msg. */
  sign(msg: Uint8Array): Uint8Array;
}

/** Thrown for unreadable, malformed or mismatching key files, and when keygen would overwrite a file. */
export class WitnessKeyError extends Error {
  constructor(
    readonly code: 'KEY_EXISTS' | 'KEY_MALFORMED' | 'KEY_INVALID_NAME',
    message: string,
  ) {
    super(message);
    this.name = 'WitnessKeyError';
  }
}

// PKCS#8 DER prefix of an Ed25519 private key (RFC 8410): SEQUENCE { 0, AlgId id-Ed25519, OCTET STRING { OCTET STRING seed } }.
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

function keyObjectFromSeed(seed: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, Buffer.from(seed)]), format: 'der', type: 'pkcs8' });
}

function publicKeyOf(priv: KeyObject): Uint8Array {
  const jwk = createPublicKey(priv).export({ format: 'jwk' });
  return new Uint8Array(Buffer.from(jwk.x!, 'base64url'));
}

function seedOf(priv: KeyObject): Uint8Array {
  const jwk = priv.export({ format: 'jwk' });
  return new Uint8Array(Buffer.from(jwk.d!, 'base64url'));
}

/** Builds a WitnessKey from a name and a 32-byte Ed25519 seed. */
export function witnessKeyFromSeed(name: string, seed: Uint8Array): WitnessKey {
  if (!isValidKeyName(name)) throw new WitnessKeyError('KEY_INVALID_NAME', 'invalid witness name (empty, spaces or "+")');
  if (!(seed instanceof Uint8Array) || seed.length !== 32) throw new WitnessKeyError('KEY_MALFORMED', 'Ed25519 seed must be 32 bytes');
  const priv = keyObjectFromSeed(seed);
  const publicKey = publicKeyOf(priv);
  return {
    name,
    publicKey,
    keyId: keyId(name, COSIGNATURE_TYPE, publicKey),
    vkey: encodeVerifierKey(name, publicKey, COSIGNATURE_TYPE),
    sign: (msg) => new Uint8Array(nodeSign(null, msg, priv)),
  };
}

/** Serializes a key file line (see the format above). */
export function formatWitnessKeyFile(name: string, seed: Uint8Array): string {
  const k = witnessKeyFromSeed(name, seed);
  return `PRIVATE+KEY+${name}+${bytesToHex(k.keyId)}+${bytesToBase64(concatBytes(new Uint8Array([COSIGNATURE_TYPE]), seed))}\n`;
}

/** Parses key file contents; checks the type byte, the seed length and that the key ID matches. */
export function parseWitnessKeyFile(text: string): WitnessKey {
  const line = text.endsWith('\n') ? text.slice(0, -1) : text;
  if (!line.startsWith('PRIVATE+KEY+')) throw new WitnessKeyError('KEY_MALFORMED', 'key file must start with PRIVATE+KEY+');
  const rest = line.slice('PRIVATE+KEY+'.length);
  // Names contain no '+': the first two '+' delimit name and key ID; the base64 may contain '+'.
  const p1 = rest.indexOf('+');
  const p2 = p1 < 0 ? -1 : rest.indexOf('+', p1 + 1);
  if (p2 < 0) throw new WitnessKeyError('KEY_MALFORMED', 'key file must be PRIVATE+KEY+name+keyid+key');
  const name = rest.slice(0, p1);
  const idHex = rest.slice(p1 + 1, p2);
  if (!isValidKeyName(name)) throw new WitnessKeyError('KEY_INVALID_NAME', 'invalid witness name in key file');
  if (!/^[0-9a-f]{8}$/.test(idHex)) throw new WitnessKeyError('KEY_MALFORMED', 'key ID must be 8 lowercase hex digits');
  let data: Uint8Array;
  try {
    data = base64ToBytes(rest.slice(p2 + 1));
  } catch {
    throw new WitnessKeyError('KEY_MALFORMED', 'key data is not canonical base64');
  }
  if (data.length !== 33 || data[0] !== COSIGNATURE_TYPE) {
    throw new WitnessKeyError('KEY_MALFORMED', 'key data must be 0x04 followed by a 32-byte Ed25519 seed');
  }
  const key = witnessKeyFromSeed(name, data.slice(1));
  if (!bytesEqual(key.keyId, hexToBytes(idHex))) throw new WitnessKeyError('KEY_MALFORMED', 'key ID does not match the key');
  return key;
}

/**
 * Creates a new random witness key in `file` (mode 0600, parent directories 0700) and returns it.
 * Refuses to overwrite: throws WitnessKeyError('KEY_EXISTS') if the file exists.
 */
export function generateWitnessKey(file: string, name: string): WitnessKey {
  if (!isValidKeyName(name)) throw new WitnessKeyError('KEY_INVALID_NAME', 'invalid witness name (empty, spaces or "+")');
  const { privateKey } = generateKeyPairSync('ed25519');
  const seed = seedOf(privateKey);
  const text = formatWitnessKeyFile(name, seed);
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true, mode: 0o700 });
  let fd: number;
  try {
    fd = fs.openSync(file, 'wx', 0o600); // O_CREAT | O_EXCL: never clobbers an existing key
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new WitnessKeyError('KEY_EXISTS', `${file} already exists; refusing to overwrite it`);
    throw e;
  }
  try {
    fs.fchmodSync(fd, 0o600); // independent of the umask
    fs.writeSync(fd, text);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  return parseWitnessKeyFile(text);
}

/** Loads a witness key file. Throws WitnessKeyError for malformed contents (and fs errors as they are). */
export function loadWitnessKey(file: string): WitnessKey {
  return parseWitnessKeyFile(fs.readFileSync(file, 'utf8'));
}
