// Vectors of docs/protocol.md §14 (fixtures/vectors/blake3-tree.json, pipeline-receipt.json): the bytes are
// recomputed here from their inputs, partly without the production helpers, so a change to any format fails.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { blake3 } from '@noble/hashes/blake3.js';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers/server.js';
import { BLAKE3_CONTEXT, fileHash, treeCanonical, treeHash, type TreeEntry } from '../src/protocol/blake3-tree.js';
import { pipelineHash, validatePipelineConfig } from '../src/pipelines/config.js';
import { cacheKey } from '../src/pipelines/cache.js';
import { canonicalize } from '../src/protocol/jcs.js';
import {
  pipelineReceiptEventPayload,
  pipelineReceiptHash,
  pipelineReceiptSignedBytes,
  type PipelineReceipt,
} from '../src/protocol/pipeline-receipt.js';
import { verifyPipelineReceipt } from '../src/verify/pipeline-receipt.js';

const load = (f: string) => JSON.parse(fs.readFileSync(path.join(ROOT, 'fixtures/vectors', f), 'utf8'));
const T = load('blake3-tree.json');
const R = load('pipeline-receipt.json');
const enc = new TextEncoder();
const derive = (context: string, data: Uint8Array) => `blake3:${Buffer.from(blake3(data, { context: enc.encode(context) })).toString('hex')}`;

describe('§14 BLAKE3 vectors', () => {
  it("the derive-key mode is BLAKE3's own (reference test vectors)", () => {
    for (const c of T.blake3_reference.cases) {
      const input = new Uint8Array(c.input_len).map((_, i) => i % 251);
      expect(Buffer.from(blake3(input, { context: enc.encode(T.blake3_reference.context_string) })).toString('hex')).toBe(c.derive_key);
    }
  });

  it('contexts are the documented strings', () => {
    expect(T.contexts).toEqual(BLAKE3_CONTEXT);
    expect(BLAKE3_CONTEXT).toEqual({
      file: 'proofstream/v1 pipeline file',
      tree: 'proofstream/v1 pipeline tree',
      config: 'proofstream/v1 pipeline config',
      cacheKey: 'proofstream/v1 pipeline cache-key',
      receipt: 'proofstream/v1 pipeline receipt',
    });
  });

  it('file hashes', () => {
    for (const f of T.files) {
      expect(fileHash(enc.encode(f.content_utf8))).toBe(f.hash);
      expect(derive('proofstream/v1 pipeline file', enc.encode(f.content_utf8))).toBe(f.hash);
    }
  });

  it('tree hash: entries sorted by UTF-8 bytes, JCS, tree context', () => {
    const entries = T.tree.entries as TreeEntry[];
    const sorted = [...entries].sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
    const manual = JSON.stringify({ entries: sorted.map((e) => [e.path, e.mode, e.hash]), format: 'proofstream.tree/v1' });
    expect(treeCanonical(entries)).toBe(manual);
    expect(T.tree.canonical).toBe(manual);
    expect(treeHash(entries)).toBe(T.tree.hash);
    expect(treeHash([...entries].reverse())).toBe(T.tree.hash);
    expect(derive('proofstream/v1 pipeline tree', enc.encode(manual))).toBe(T.tree.hash);
    // a tree is never confused with a file holding its canonical text
    expect(fileHash(enc.encode(manual))).not.toBe(T.tree.hash);
  });

  it('pipeline_hash and cache key', () => {
    const v = validatePipelineConfig(T.config.input);
    if (!v.ok) throw new Error(v.message);
    expect(canonicalize({ version: v.config.version, steps: v.config.steps })).toBe(T.config.canonical);
    expect(pipelineHash(v.config)).toBe(T.config.pipeline_hash);
    expect(derive('proofstream/v1 pipeline config', enc.encode(T.config.canonical))).toBe(T.config.pipeline_hash);
    expect(canonicalize(T.cache_key.parts)).toBe(T.cache_key.canonical);
    expect(cacheKey(T.cache_key.parts)).toBe(T.cache_key.key);
  });
});

describe('§14 pipeline receipt vector', () => {
  const PKCS8 = Buffer.from('302e020100300506032b657004220420', 'hex');
  const priv = crypto.createPrivateKey({ key: Buffer.concat([PKCS8, Buffer.from(R.signing_key.seed_hex, 'hex')]), format: 'der', type: 'pkcs8' });
  const receipt = R.receipt as PipelineReceipt;

  it('signed bytes are the domain tag then JCS of the receipt without signature', () => {
    const { signature: _s, ...rest } = receipt;
    const manual = Buffer.concat([Buffer.from('proofstream/v1 pipeline-receipt'), Buffer.from([0]), Buffer.from(canonicalize(rest))]);
    expect(Buffer.from(pipelineReceiptSignedBytes(receipt)).toString('hex')).toBe(R.signed_bytes_hex);
    expect(manual.toString('hex')).toBe(R.signed_bytes_hex);
  });

  it('signature and public key follow from the seed; the receipt hash and event payload', () => {
    const pub = crypto.createPublicKey(priv).export({ format: 'der', type: 'spki' }).subarray(-32);
    expect(receipt.signer_public_key).toBe(`ed25519:${pub.toString('hex')}`);
    expect(`ed25519:${crypto.sign(null, Buffer.from(R.signed_bytes_hex, 'hex'), priv).toString('hex')}`).toBe(receipt.signature);
    expect(pipelineReceiptHash(receipt)).toBe(R.receipt_hash);
    expect(derive('proofstream/v1 pipeline receipt', enc.encode(canonicalize(receipt)))).toBe(R.receipt_hash);
    expect(pipelineReceiptEventPayload(receipt)).toEqual(R.event_payload);
  });

  it('verifies; the tampered step hash does not', () => {
    const now = new Date(Date.parse(receipt.timestamp) + 3_600_000);
    const ok = verifyPipelineReceipt(receipt, { now, trustedKeys: [R.signing_key.public_key] });
    expect(ok).toMatchObject({ ok: true, signature_valid: true, signer: R.signing_key.public_key, age_hours: 1 });
    const bad = structuredClone(receipt);
    bad.steps[0]!.outputs['node_modules/'] = R.tampered.value;
    const v = verifyPipelineReceipt(bad, { now });
    expect(v.signature_valid).toBe(false);
    expect(v.problems.map((p) => p.code)).toEqual(['SIGNATURE_INVALID']);
    expect(verifyPipelineReceipt(receipt, { now, maxAgeHours: 0.5 }).problems.map((p) => p.code)).toEqual(['RECEIPT_TOO_OLD']);
    expect(verifyPipelineReceipt(receipt, { now, trustedKeys: [`ed25519:${'ab'.repeat(32)}`] }).problems.map((p) => p.code)).toEqual(['UNKNOWN_KEY']);
    expect(verifyPipelineReceipt(receipt, { now: new Date(Date.parse(receipt.timestamp) - 3_600_000) }).problems.map((p) => p.code)).toEqual(['TIMESTAMP_IN_FUTURE']);
    expect(verifyPipelineReceipt({ ...receipt, extra: 1 }, { now }).problems[0]).toMatchObject({ code: 'MALFORMED', path: '/extra' });
  });
});
