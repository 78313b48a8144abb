// Verifying a webhook delivery on the receiving side (docs/webhooks.md, "Verifying a delivery"): both schemes the
// ledger signs with, over the raw body bytes. Browser- and edge-safe (@noble/hashes HMAC, no node:crypto).
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { base64ToBytes, bytesEqual, bytesToBase64, bytesToHex, concatBytes, utf8ToBytes } from '../protocol/bytes.js';

export interface WebhookRequest {
  /** the raw request body, exactly as received (before any JSON parsing) */
  body: string | Uint8Array;
  /** the request headers (a Headers object, or a plain object with lower-case names as node:http gives them) */
  headers: Headers | Record<string, string | string[] | undefined>;
  /** the webhook's secret (`whsec_…` as created, or the one you chose) */
  secret: string;
  /** Standard Webhooks: refuse a webhook-timestamp further than this from now, seconds (default 300) */
  toleranceS?: number;
  /** now, unix seconds (tests) */
  nowS?: number;
}

export type WebhookVerdict =
  | { ok: true; scheme: 'standard-webhooks' | 'x-attest'; webhook_id: string | null }
  | { ok: false; reason: 'no_signature' | 'bad_signature' | 'stale_timestamp' };

const header = (h: WebhookRequest['headers'], name: string): string | null => {
  if (typeof (h as Headers).get === 'function') return (h as Headers).get(name);
  const v = (h as Record<string, string | string[] | undefined>)[name];
  return Array.isArray(v) ? (v[0] ?? null) : (v ?? null);
};

/**
 * Checks the Standard Webhooks signature (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64>`, with
 * the replay window) when present, else the seed's `X-Attest-Signature: sha256=<hex>`. Dedupe on `webhook_id`.
 */
export function verifyWebhookSignature(d: WebhookRequest): WebhookVerdict {
  const body = typeof d.body === 'string' ? utf8ToBytes(d.body) : d.body;
  const id = header(d.headers, 'webhook-id');
  const ts = header(d.headers, 'webhook-timestamp');
  const sigs = header(d.headers, 'webhook-signature');
  if (id !== null && ts !== null && sigs !== null) {
    if (!/^\d{1,12}$/.test(ts) || Math.abs((d.nowS ?? Math.floor(Date.now() / 1000)) - Number(ts)) > (d.toleranceS ?? 300)) {
      return { ok: false, reason: 'stale_timestamp' };
    }
    let key: Uint8Array;
    try {
      key = d.secret.startsWith('whsec_') ? base64ToBytes(d.secret.slice(6)) : utf8ToBytes(d.secret);
    } catch {
      key = utf8ToBytes(d.secret);
    }
    const signed = concatBytes(utf8ToBytes(`${id}.${ts}.`), body);
    const expected = utf8ToBytes('v1,' + bytesToBase64(hmac(sha256, key, signed)));
    const ok = sigs.split(' ').some((s) => bytesEqual(utf8ToBytes(s), expected));
    return ok ? { ok: true, scheme: 'standard-webhooks', webhook_id: id } : { ok: false, reason: 'bad_signature' };
  }
  const attest = header(d.headers, 'x-attest-signature');
  if (attest === null) return { ok: false, reason: 'no_signature' };
  const expected = utf8ToBytes('sha256=' + bytesToHex(hmac(sha256, utf8ToBytes(d.secret), body)));
  return bytesEqual(utf8ToBytes(attest), expected) ? { ok: true, scheme: 'x-attest', webhook_id: id } : { ok: false, reason: 'bad_signature' };
}
