// Generates fixtures/tamper-evidence/: a real pack carrying two witness cosignatures and an RFC 3161 anchor, the
// trust policy it verifies under, and one file per way of breaking the evidence, each with the problem codes a
// verifier must report (the event/checkpoint cases live in fixtures/tamper/, from scripts/gen-tamper.ts).
//
//   node bin/run-ts.mjs scripts/gen-tamper-evidence.ts               full run: ledger, 2 witnesses, 2 TSAs as processes
//   node bin/run-ts.mjs scripts/gen-tamper-evidence.ts --cases-only  re-derive the cases from the committed files
//   node bin/run-ts.mjs scripts/gen-tamper-evidence.ts --check       compare only: exit 1 on a difference
//
// The full run starts the test TSA twice (two independent CAs: the second is the "untrusted TSA"), two witnesses
// and the ledger with a FIXED, PUBLIC fixture key (so the fork case can be signed offline), appends 45 events in
// windows of 10, waits for quorum and anchors, and packs events 11..30 (checkpoint at 30, consistency from 20).
// It also asks the trusted TSA for a token over some other digest, and the untrusted one for a token over this
// epoch's digest: source.json keeps both, so --cases-only needs no process.
import { createHash, sign } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { requestTimestamp } from '../src/anchor/tsa-client.js';
import { epochDigest } from '../src/protocol/anchor.js';
import { flipHex, keyFromSeed, rawPublic, resealManifest, serialize, type Bundle, type Case } from './tamper-lib.js';
import { bytesToBase64, bytesToHex, hexToBytes, utf8ToBytes } from '../src/protocol/bytes.js';
import { formatCheckpoint } from '../src/protocol/checkpoint.js';
import { ED25519_TYPE, encodeVerifierKey, formatNote, keyId, parseNote, signNoteCosignatureV1 } from '../src/protocol/note.js';
import { witnessKeyFromSeed } from '../src/witness/keys.js';
import { client, idemKey, startServer, tempDir } from '../test/helpers/server.js';
import { startTsa } from '../test/helpers/tsa.js';
import { sleep } from '../test/helpers/wait.js';
import { startWitness } from '../test/helpers/witness.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUT = path.join(ROOT, 'fixtures/tamper-evidence');
const RANGE = { from: 11, to: 30 } as const;

/** FIXTURE ONLY: public on purpose; never use these keys for anything real. */
const LEDGER_SEED = createHash('sha256').update('proofstream evidence corpus: ledger key (fixture only)').digest();
const STRANGER_WITNESS_SEED = createHash('sha256').update('proofstream evidence corpus: unknown witness (fixture only)').digest();

const publicOf = (seed: Uint8Array) => rawPublic(keyFromSeed(seed));

interface Source {
  /** a token from the trusted TSA over another digest */
  other_digest_token: string;
  /** a token from an untrusted TSA (another CA) over this epoch's digest, and the chain it carried */
  untrusted_token: string;
  untrusted_chain: string[];
}

async function buildValid(): Promise<{ validText: string; policy: string; source: Source }> {
  const dir = tempDir('ps-evidence-corpus-');
  const dataDir = path.join(dir, 'ledger');
  fs.mkdirSync(dataDir, { recursive: true });
  fs.writeFileSync(path.join(dataDir, 'signing-key.pem'), keyFromSeed(LEDGER_SEED).export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
  const logs = [{ origin: 'proofstream.localhost/*', vkeys: [encodeVerifierKey('proofstream.localhost/*', publicOf(LEDGER_SEED))] }];
  const [tsa, other, w1, w2] = await Promise.all([
    startTsa(path.join(dir, 'tsa')),
    startTsa(path.join(dir, 'tsa-untrusted')),
    startWitness({ logs, dir: path.join(dir, 'w1'), name: 'witness.example/alpha' }),
    startWitness({ logs, dir: path.join(dir, 'w2'), name: 'witness.example/beta' }),
  ]);
  const srv = await startServer({
    dataDir,
    env: {
      PROOFSTREAM_WINDOW_MAX_EVENTS: '10',
      PROOFSTREAM_WINDOW_MAX_AGE_MS: '200',
      PROOFSTREAM_WITNESSES: JSON.stringify([w1, w2].map((w) => ({ name: w.name, url: w.url, vkey: w.vkey }))),
      PROOFSTREAM_WITNESS_QUORUM: '2',
      PROOFSTREAM_TSA_URL: tsa.url,
      PROOFSTREAM_TSA_ROOT: path.join(tsa.dir, 'root.pem'),
      PROOFSTREAM_ANCHOR_EPOCH_MS: '1500',
    },
  });
  try {
    const call = client(srv.url, srv.key);
    const sid = (await call('POST', '/v2/streams', { use_case: 'evidence-corpus' }, { 'idempotency-key': idemKey() })).body.stream_id as string;
    for (let i = 1; i <= 45; i++) {
      const r = await call('POST', `/v2/streams/${sid}/events`, { source_ref: `ev-${i}`, event_type: 'decision', payload: { i } }, { 'idempotency-key': idemKey() });
      if (r.status !== 201) throw new Error(`append: ${r.status} ${r.text}`);
    }
    let pack: any;
    for (let t = 0; ; t++) {
      const r = await call('POST', '/v2/audit/packs', { stream_id: sid, from_seq_no: RANGE.from, to_seq_no: RANGE.to }, { 'idempotency-key': idemKey() });
      if (r.status === 201) {
        pack = r;
        break;
      }
      if (r.status !== 409 || t > 300) throw new Error(`pack: ${r.status} ${r.text}`);
      await sleep(100);
    }
    const valid = JSON.parse(pack.text) as Bundle;
    if (valid.anchors[0].path.length === 0) throw new Error('the epoch holds one checkpoint only; the path case needs more');
    const policy = await (await fetch(`${srv.url}/v2/trust-policy`)).text();
    const otherDigest = createHash('sha256').update('proofstream evidence corpus: some other digest').digest();
    const t1 = await requestTimestamp(tsa.url, otherDigest);
    const t2 = await requestTimestamp(other.url, epochDigest(hexToBytes(valid.anchors[0].epoch_root)));
    return {
      validText: pack.text,
      policy,
      source: { other_digest_token: bytesToBase64(t1.token), untrusted_token: bytesToBase64(t2.token), untrusted_chain: t2.chain },
    };
  } finally {
    await Promise.all([srv.stop(), tsa.stop(), other.stop(), w1.stop(), w2.stop()]);
  }
}

async function deriveCases(validText: string, source: Source): Promise<Case[]> {
  const valid = JSON.parse(validText) as Bundle;
  const cases: Case[] = [];
  const tampered = async (file: string, description: string, expect_codes: string[], mutate: (b: Bundle) => void | Promise<void>) => {
    const b = structuredClone(valid);
    await mutate(b);
    cases.push({ file, description, expect_codes, text: serialize(resealManifest(b)) });
  };
  if (valid.witnesses.length !== 2 || valid.anchors.length !== 1) throw new Error('valid.json must carry 2 cosignatures and 1 anchor');

  await tampered('witness-unknown.json', 'an extra, validly signed cosignature from a witness the policy does not list', ['WITNESS_UNKNOWN'], async (b) => {
    const k = witnessKeyFromSeed('witness.example/stranger', STRANGER_WITNESS_SEED);
    const body = parseNote(b.checkpoint.note).text;
    const time = b.witnesses[0].timestamp;
    const sig = await signNoteCosignatureV1(body, k.name, k.publicKey, time, (m) => k.sign(m));
    const line = `— ${k.name} ${bytesToBase64(new Uint8Array([...sig.keyId, ...sig.signature]))}`;
    b.witnesses.push({ checkpoint_id: b.checkpoint.checkpoint_id, name: k.name, vkey: k.vkey, timestamp: time, signature_line: line });
  });
  await tampered('witness-cosignature-flipped.json', 'one byte of witnesses[0] signature flipped', ['WITNESS_SIGNATURE_INVALID', 'WITNESS_QUORUM_NOT_MET'], (b) => {
    const line: string = b.witnesses[0].signature_line;
    const [dash, name, b64] = line.split(' ');
    const bytes = Buffer.from(b64!, 'base64');
    bytes[bytes.length - 5] = bytes[bytes.length - 5]! ^ 0x01;
    b.witnesses[0].signature_line = `${dash} ${name} ${bytes.toString('base64')}`;
  });
  await tampered('witness-quorum-not-met.json', 'witnesses[1] removed: one of the two required cosignatures', ['WITNESS_QUORUM_NOT_MET'], (b) => {
    b.witnesses.splice(1, 1);
  });
  await tampered('witness-timestamp-changed.json', 'witnesses[0].timestamp differs from the signed time', ['WITNESS_SIGNATURE_INVALID'], (b) => {
    b.witnesses[0].timestamp += 1;
  });
  await tampered('anchor-token-other-hash.json', 'the anchor token is a genuine token of the trusted TSA, over another digest', ['ANCHOR_IMPRINT_MISMATCH'], (b) => {
    b.anchors[0].token = source.other_digest_token;
  });
  await tampered('anchor-untrusted-tsa.json', "the anchor token covers this epoch root but comes from a TSA whose root the policy doesn't list", ['ANCHOR_UNTRUSTED_TSA'], (b) => {
    b.anchors[0].token = source.untrusted_token;
    b.anchors[0].tsa_chain = source.untrusted_chain;
  });
  await tampered('anchor-path-invalid.json', 'anchors[0].path[0] altered: the path no longer leads to the epoch root', ['ANCHOR_PATH_INVALID'], (b) => {
    b.anchors[0].path[0] = flipHex(b.anchors[0].path[0]);
  });
  await tampered('anchor-leaf-index-changed.json', 'anchors[0].leaf_index moved: the path leads elsewhere', ['ANCHOR_PATH_INVALID'], (b) => {
    b.anchors[0].leaf_index = (b.anchors[0].leaf_index + 1) % b.anchors[0].epoch_size;
  });
  await tampered('anchor-checkpoint-hash-changed.json', "anchors[0].checkpoint_hash is not the hash of the bundle's checkpoint", ['ANCHOR_CHECKPOINT_MISMATCH'], (b) => {
    b.anchors[0].checkpoint_hash = flipHex(b.anchors[0].checkpoint_hash);
  });
  await tampered('anchor-epoch-root-changed.json', 'anchors[0].epoch_root altered', ['ANCHOR_PATH_INVALID'], (b) => {
    b.anchors[0].epoch_root = flipHex(b.anchors[0].epoch_root);
  });
  await tampered('anchor-missing.json', 'the anchor removed while the policy names a TSA', ['ANCHOR_MISSING'], (b) => {
    b.anchors = [];
  });

  // Fork evidence: the checkpoint and a second note at the same size with another root, both validly signed
  // with the ledger's key (a compromised or forking log).
  const cp = valid.checkpoint;
  const origin: string = valid.stream.origin;
  const forgedRoot = createHash('sha256').update(`proofstream evidence corpus: forged root for ${cp.root_hash}`).digest();
  const text = formatCheckpoint({ origin, size: cp.tree_size, rootHash: forgedRoot });
  const pub = publicOf(LEDGER_SEED);
  const note = formatNote(text, [{ name: origin, keyId: keyId(origin, ED25519_TYPE, pub), signature: new Uint8Array(sign(null, utf8ToBytes(text), keyFromSeed(LEDGER_SEED))) }]);
  const forked = { checkpoint_id: 'chk_forkFORKforkFORKfork09', tree_size: cp.tree_size, root_hash: bytesToHex(forgedRoot), note, signer_vkey: cp.signer_vkey };
  cases.push({
    file: 'fork-evidence.json',
    description: 'fork evidence: two validly signed checkpoints of one origin, same size, different roots',
    expect_codes: ['FORK_DETECTED'],
    text: `${JSON.stringify(
      { kind: 'fork_evidence', stream_id: valid.manifest.stream_id, conflicting_checkpoints: [cp, forked], detected_by: 'tamper-corpus', result: 'fork' },
      null,
      2,
    )}\n`,
  });
  return cases;
}

const pretty = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;

async function main(argv: string[]): Promise<number> {
  const offline = argv.includes('--cases-only') || argv.includes('--check');
  let validText: string;
  let policy: string;
  let source: Source;
  if (offline) {
    validText = fs.readFileSync(path.join(OUT, 'valid.json'), 'utf8');
    policy = fs.readFileSync(path.join(OUT, 'policy.txt'), 'utf8');
    source = JSON.parse(fs.readFileSync(path.join(OUT, 'source.json'), 'utf8'));
  } else {
    ({ validText, policy, source } = await buildValid());
  }
  const cases = await deriveCases(validText, source);
  const files = new Map<string, string>([
    ['valid.json', validText],
    ['policy.txt', policy],
    ['source.json', pretty(source)],
    ['cases.json', pretty(cases.map(({ file, description, expect_codes }) => ({ file, description, expect_codes })))],
    ...cases.map((c): [string, string] => [c.file, c.text]),
  ]);
  if (argv.includes('--check')) {
    const differ = [...files].filter(([f, t]) => !fs.existsSync(path.join(OUT, f)) || fs.readFileSync(path.join(OUT, f), 'utf8') !== t);
    for (const [f] of differ) console.error(`differs: fixtures/tamper-evidence/${f}`);
    if (differ.length) return 1;
    console.log(`fixtures/tamper-evidence: ${cases.length} cases match`);
    return 0;
  }
  fs.mkdirSync(OUT, { recursive: true });
  for (const f of fs.readdirSync(OUT)) if (f.endsWith('.json') && !files.has(f)) fs.rmSync(path.join(OUT, f));
  for (const [f, t] of files) fs.writeFileSync(path.join(OUT, f), t);
  console.log(`wrote fixtures/tamper-evidence: valid.json, policy.txt, ${cases.length} cases`);
  return 0;
}

main(process.argv.slice(2)).then(
  (c) => process.exit(c),
  (e) => {
    console.error(e);
    process.exit(2);
  },
);
