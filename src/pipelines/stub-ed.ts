// THROWAWAY with contract-stub.ts.
import { createPublicKey, verify } from 'node:crypto';
export function ed25519Verify(sig: Uint8Array, msg: Uint8Array, pub: Uint8Array): boolean {
  const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(pub).toString('base64url') }, format: 'jwk' });
  return verify(null, msg, key, sig);
}
