// The ledger's Ed25519 key: created on first start (mode 0600), used through node:crypto's native signer.
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { bytesToHex } from '../protocol/bytes.js';
import { sha256 } from '../protocol/hash.js';
import { log } from '../log.js';

export interface Signer {
  kid: string;
  alg: 'Ed25519';
  publicKey: Uint8Array;
  sign(message: Uint8Array): Uint8Array;
  /** the native private key, when there is one: lets a SignPool sign with it on other threads */
  keyObject?: KeyObject;
}

/** kid = "ps-ed25519-" + first 8 bytes of SHA-256(public key), hex: stable, derived, collision-resistant enough to index. */
export const kidFor = (publicKey: Uint8Array): string => `ps-ed25519-${bytesToHex(sha256(publicKey).subarray(0, 8))}`;

/** An Ed25519 signature with a native key, as a Uint8Array view of the fresh Buffer sign() returns (no copy). */
export function signWithKey(priv: KeyObject, message: Uint8Array): Uint8Array {
  const sig = sign(null, message, priv);
  return new Uint8Array(sig.buffer, sig.byteOffset, sig.byteLength);
}

export function signerFromKeyObject(priv: KeyObject): Signer {
  const jwk = createPublicKey(priv).export({ format: 'jwk' });
  const publicKey = new Uint8Array(Buffer.from(jwk.x!, 'base64url'));
  return {
    kid: kidFor(publicKey),
    alg: 'Ed25519',
    publicKey,
    keyObject: priv,
    sign: (message) => signWithKey(priv, message),
  };
}

export function loadOrCreateSigner(file: string): Signer {
  if (!fs.existsSync(file)) {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    const { privateKey } = generateKeyPairSync('ed25519');
    const pem = privateKey.export({ format: 'pem', type: 'pkcs8' });
    // 'wx' fails if another process created it meanwhile; then we read theirs.
    try {
      fs.writeFileSync(file, pem, { mode: 0o600, flag: 'wx' });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
  return loadSigner(file);
}

/** Reads an existing Ed25519 private key file (PKCS#8 PEM); throws when it is missing or not Ed25519. */
export function loadSigner(file: string): Signer {
  warnIfExposed(file);
  const key = createPrivateKey(fs.readFileSync(file));
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`${file} is not an Ed25519 private key`);
  return signerFromKeyObject(key);
}

/** Writes a fresh Ed25519 key to `<dir>/<kid>.pem` (directory 0700, file 0600) and returns its signer and path. */
export function createSignerFile(dir: string): { signer: Signer; file: string } {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const { privateKey } = generateKeyPairSync('ed25519');
  const signer = signerFromKeyObject(privateKey);
  const file = path.join(dir, `${signer.kid}.pem`);
  fs.writeFileSync(file, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600, flag: 'wx' });
  return { signer, file };
}

/** One line at start when the key file is open to group or others: whoever can read it can sign receipts. */
function warnIfExposed(file: string): void {
  if (process.platform === 'win32') return; // no POSIX modes there
  const mode = fs.statSync(file).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    log.warn({ event: 'signing_key_mode' }, `warning: signing key ${file} has mode ${mode.toString(8).padStart(4, '0')} (group/others can access it); run chmod 600 on it`);
  }
}
