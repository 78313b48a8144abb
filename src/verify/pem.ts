// PEM <-> DER for X.509 certificates and PKCS#8 keys. Pure and browser-safe: no `node:` imports, no Node buffers
// (atob/btoa exist in browsers and in Node >= 16).

/** Every PEM block of the given label (default CERTIFICATE) in `text`, decoded to DER, in order. */
export function pemBlocksToDer(text: string, label = 'CERTIFICATE'): Uint8Array[] {
  const re = new RegExp(`-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]*?)-----END ${label}-----`, 'g');
  const out: Uint8Array[] = [];
  for (const m of text.matchAll(re)) out.push(base64ToBytes((m[1] ?? '').replace(/\s+/g, '')));
  return out;
}

/** The first PEM block of the given label (default CERTIFICATE) as DER; throws if there is none. */
export function pemToDer(pem: string, label = 'CERTIFICATE'): Uint8Array {
  const blocks = pemBlocksToDer(pem, label);
  const first = blocks[0];
  if (!first || first.length === 0) throw new Error(`no ${label} PEM block found`);
  return first;
}

/** DER bytes as a PEM block (64-column base64, trailing newline). */
export function derToPem(der: Uint8Array, label = 'CERTIFICATE'): string {
  const b64 = bytesToBase64(der);
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

function base64ToBytes(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function bytesToBase64(bytes: Uint8Array): string {
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(bin);
}
