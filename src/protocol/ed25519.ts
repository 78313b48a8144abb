// Ed25519 verification that runs anywhere: WebCrypto when the runtime has Ed25519, @noble/ed25519 otherwise.
import * as noble from '@noble/ed25519';
import { sha512 } from '@noble/hashes/sha2.js';

// noble v3 needs a SHA-512 for its sync API; the async API uses WebCrypto's digest when present.
noble.hashes.sha512 = sha512;

let webcryptoOk: boolean | undefined;

async function webcryptoVerify(pub: Uint8Array, sig: Uint8Array, msg: Uint8Array): Promise<boolean | undefined> {
  const subtle = globalThis.crypto?.subtle;
  if (!subtle || webcryptoOk === false) return undefined;
  try {
    const key = await subtle.importKey('raw', pub as BufferSource, { name: 'Ed25519' }, false, ['verify']);
    const ok = await subtle.verify({ name: 'Ed25519' }, key, sig as BufferSource, msg as BufferSource);
    webcryptoOk = true;
    return ok;
  } catch (e) {
    // Runtime without Ed25519 in WebCrypto: remember and fall back. A bad key is a plain failure.
    if (webcryptoOk === undefined && (e as Error)?.name === 'NotSupportedError') webcryptoOk = false;
    return webcryptoOk === false ? undefined : false;
  }
}

/** Never throws: false for any malformed key, signature or message. */
export async function verifyEd25519(pub: Uint8Array, sig: Uint8Array, msg: Uint8Array): Promise<boolean> {
  if (!(pub instanceof Uint8Array) || pub.length !== 32 || !(sig instanceof Uint8Array) || sig.length !== 64) return false;
  const w = await webcryptoVerify(pub, sig, msg);
  if (w !== undefined) return w;
  return verifyEd25519Noble(pub, sig, msg);
}

/** The portable path, also used to cross-check native signatures in tests. */
export function verifyEd25519Noble(pub: Uint8Array, sig: Uint8Array, msg: Uint8Array): boolean {
  try {
    return noble.verify(sig, msg, pub);
  } catch {
    return false;
  }
}
