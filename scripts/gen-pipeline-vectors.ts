// Generates fixtures/vectors/blake3-tree.json and pipeline-receipt.json (docs/protocol.md §14). Fixed inputs, a
// fixed Ed25519 seed (RFC 8032's test 1 secret key), so the output is the same on every run.
//   node bin/run-ts.mjs scripts/gen-pipeline-vectors.ts [--check]
import crypto from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fs from 'node:fs';
import { blake3 } from '@noble/hashes/blake3.js';
import { bytesToHex, utf8ToBytes } from '../src/protocol/bytes.js';
import { BLAKE3_CONTEXT, fileHash, treeCanonical, treeHash, type TreeEntry } from '../src/protocol/blake3-tree.js';
import { pipelineHash, validatePipelineConfig } from '../src/pipelines/config.js';
import { cacheKey } from '../src/pipelines/cache.js';
import { canonicalize } from '../src/protocol/jcs.js';
import { pipelineReceiptEventPayload, pipelineReceiptHash, pipelineReceiptSignedBytes, type PipelineReceipt } from '../src/protocol/pipeline-receipt.js';

const DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/vectors');
const check = process.argv.includes('--check');
let mismatch = false;
function emit(name: string, value: unknown): void {
  const text = JSON.stringify(value, null, 2) + '\n';
  const file = path.join(DIR, name);
  if (!check) {
    fs.writeFileSync(file, text);
    return;
  }
  if (fs.readFileSync(file, 'utf8') !== text) {
    mismatch = true;
    console.error(`${name} differs from what the code produces`);
  }
}

const files = [
  { name: 'empty file', content_utf8: '' },
  { name: 'hello', content_utf8: 'hello\n' },
  { name: 'non-ASCII', content_utf8: 'grüße, 世界\n' },
];
const fileCases = files.map((f) => ({ ...f, hash: fileHash(utf8ToBytes(f.content_utf8)) }));
const entries: TreeEntry[] = [
  { path: 'src/main.c', mode: '100644', hash: fileCases[1]!.hash },
  { path: 'build.sh', mode: '100755', hash: fileCases[0]!.hash },
  { path: 'src/ü.txt', mode: '100644', hash: fileCases[2]!.hash },
  { path: 'src/z', mode: '100644', hash: fileCases[0]!.hash },
  { path: 'latest', mode: '120000', hash: fileHash(utf8ToBytes('src/main.c')) },
];
const cfgIn = {
  version: '0.1',
  steps: [
    { name: 'install', run: 'npm ci', inputs: ['package.json', 'package-lock.json'], outputs: ['node_modules/'] },
    { name: 'build', run: 'npm run build', inputs: ['src/', 'public/'], outputs: ['dist/'], needs: ['install'] },
  ],
};
const v = validatePipelineConfig(cfgIn);
if (!v.ok) throw new Error('bad');
const cfg = v.config;
const normalized = { version: cfg.version, steps: cfg.steps };
const keyParts = { command: 'npm run build', inputs: { 'src/': treeHash(entries), 'public/': fileCases[0]!.hash }, outputs: ['dist/'], variables: { NODE_ENV: 'production' }, mode: 'sandbox' as const };

const blake3Vectors = {
  description: 'BLAKE3 hashing of pipelines (docs/protocol.md §14): every hash is BLAKE3 in derive-key mode with the context string of its purpose, 32 bytes, written blake3:<hex>. A file: context "proofstream/v1 pipeline file" over its bytes. A tree: context "proofstream/v1 pipeline tree" over JCS({"format":"proofstream.tree/v1","entries":[[path, mode, hash], ...]}) sorted by path in UTF-8 byte order. pipeline_hash: context "proofstream/v1 pipeline config" over JCS of the defaults-filled config. Cache key: context "proofstream/v1 pipeline cache-key" over JCS{command, inputs, outputs, variables, mode}.',
  contexts: BLAKE3_CONTEXT,
  blake3_reference: {
    description: "BLAKE3's own test vectors (github.com/BLAKE3-team/BLAKE3 test_vectors/test_vectors.json), derive_key mode, first 32 bytes: input_len bytes of the repeating sequence 0..250",
    context_string: 'BLAKE3 2019-12-27 16:29:52 test vectors context',
    cases: [
      { input_len: 0, derive_key: '2cc39783c223154fea8dfb7c1b1660f2ac2dcbd1c1de8277b0b0dd39b7e50d7d' },
      { input_len: 1023, derive_key: '74a16c1c3d44368a86e1ca6df64be6a2f64cce8f09220787450722d85725dea5' },
    ],
  },
  files: fileCases,
  tree: { entries, canonical: treeCanonical(entries), hash: treeHash(entries) },
  config: { input: cfgIn, canonical: canonicalize(normalized), pipeline_hash: pipelineHash(cfg) },
  cache_key: { parts: keyParts, canonical: canonicalize(keyParts), key: cacheKey(keyParts) },
};
// sanity: reference vectors
for (const c of blake3Vectors.blake3_reference.cases) {
  const input = new Uint8Array(c.input_len).map((_, i) => i % 251);
  const got = bytesToHex(blake3(input, { context: utf8ToBytes(blake3Vectors.blake3_reference.context_string) }));
  if (got !== c.derive_key) throw new Error(`reference mismatch ${c.input_len}: ${got}`);
}
emit('blake3-tree.json', blake3Vectors);

// Receipt
const seedHex = '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60'; // RFC 8032 test 1 secret key
const PKCS8 = Buffer.from('302e020100300506032b657004220420', 'hex');
const priv = crypto.createPrivateKey({ key: Buffer.concat([PKCS8, Buffer.from(seedHex, 'hex')]), format: 'der', type: 'pkcs8' });
const pub = crypto.createPublicKey(priv).export({ format: 'der', type: 'spki' }).subarray(-32);
const unsigned: Omit<PipelineReceipt, 'signature'> = {
  pipeline_hash: pipelineHash(cfg),
  timestamp: '2026-12-03T14:05:30.123Z',
  total_duration_secs: 330.5,
  attest_version: '0.1',
  status: 'failed',
  steps: [
    { name: 'install', status: 'completed', exit_code: 0, duration_secs: 120, cache_hit: true,
      inputs: { 'package.json': fileCases[1]!.hash, 'package-lock.json': fileCases[2]!.hash }, outputs: { 'node_modules/': treeHash(entries) } },
    { name: 'build', status: 'failed', exit_code: 2, duration_secs: 180.25, cache_hit: false,
      inputs: { 'src/': treeHash(entries), 'public/': fileCases[0]!.hash }, outputs: {} },
  ],
  signer_public_key: `ed25519:${Buffer.from(pub).toString('hex')}`,
};
const signed = pipelineReceiptSignedBytes(unsigned);
const sig = crypto.sign(null, signed, priv);
const receipt: PipelineReceipt = { ...unsigned, signature: `ed25519:${sig.toString('hex')}` };
const rv = {
  description: 'Pipeline receipt (docs/protocol.md §14). signed_bytes = utf8("proofstream/v1 pipeline-receipt") || 0x00 || JCS(receipt without "signature"); signature = Ed25519(seed, signed_bytes) written ed25519:<hex>; receipt_hash = BLAKE3 derive-key, context "proofstream/v1 pipeline receipt", over JCS(receipt with signature); the attest.receipt event payload is {receipt_hash, pipeline_hash, status, receipt}.',
  signing_key: { seed_hex: seedHex, public_key: unsigned.signer_public_key },
  receipt,
  signed_bytes_hex: bytesToHex(signed),
  receipt_hash: pipelineReceiptHash(receipt),
  event_payload: pipelineReceiptEventPayload(receipt),
  tampered: { description: 'steps[0].outputs["node_modules/"] changed to the empty file hash: the signature no longer verifies', path: '/steps/0/outputs/node_modules~1', value: fileCases[0]!.hash },
};
emit('pipeline-receipt.json', rv);
process.exit(mismatch ? 1 : 0);
