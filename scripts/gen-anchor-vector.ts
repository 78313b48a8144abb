// Generates fixtures/vectors/anchor.json: the worked examples of docs/protocol.md §8–10.
//
//   - §8 anchors: three checkpoints of the events.json stream (tree sizes 1, 2 and 3; the last is exactly the note
//     of checkpoint.json), signed with the same fixed key (seed 0x42 × 32), put in one epoch in that order: every
//     checkpoint_hash, epoch leaf hash, the interior node, the epoch root, every leaf's inclusion path and the
//     digest the TSA is asked to stamp. No token: a TSA signature is not reproducible, and the token is checked
//     as RFC 3161 says (docs/anchors-tsa.md), over the digest given here.
//   - §8.1 epoch order: the first two of those checkpoints signed in one millisecond, the first signed having the
//     larger checkpoint id. Leaf i is the i-th checkpoint signed (committed), not the created_at-then-id order: the
//     vector gives the root in signing order and, to tell them apart, the root the id order would give.
//   - §9 witness cosignatures: one tlog-cosignature/v1 line by a fixed witness key (seed 0x57 × 32) over the size-3
//     checkpoint at a fixed time, and the bundle `witnesses` entry carrying it.
//   - §10 trust policy: a policy text; for sets of cosigned witness names whether quorumMet holds; logKeyFor
//     results (derived key ID and vkey, or null) for concrete origins under a wildcard and an exact log; and the
//     exact text formatPolicy renders for a ledger's published policy.
//
// Ed25519 is deterministic, so re-running reproduces the file byte for byte.
//
//   node bin/run-ts.mjs scripts/gen-anchor-vector.ts [--check]
import * as ed from '@noble/ed25519';
import { sha512 } from '@noble/hashes/sha2.js';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildEpochTree, checkpointHash, epochDigest, epochLeaf } from '../src/protocol/anchor.js';
import { bytesToBase64, bytesToHex, hexToBytes } from '../src/protocol/bytes.js';
import { cosignatureMessage, formatCheckpoint } from '../src/protocol/checkpoint.js';
import { domainTag } from '../src/protocol/hash.js';
import { nodeHash, rootFromLeaves } from '../src/protocol/merkle.js';
import { COSIGNATURE_TYPE, ED25519_TYPE, encodeVerifierKey, formatNote, keyId, signNoteCosignatureV1, signNoteEd25519 } from '../src/protocol/note.js';
import { formatPolicy, logKeyFor, parsePolicy, quorumMet } from '../src/protocol/policy.js';

ed.hashes.sha512 = sha512;
const DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/vectors');
const OUT = path.join(DIR, 'anchor.json');
export const ORIGIN_PREFIX = 'proofstream.localhost';

/** Fixed witness keys: name → seed byte (seed = that byte × 32). */
const WITNESSES = [
  { name: 'witness-a.example/w1', seedByte: 0x57, url: 'https://witness-a.example/' },
  { name: 'witness-b.example/w1', seedByte: 0x58 },
  { name: 'witness-c.example/w1', seedByte: 0x59 },
  { name: 'witness-d.example/w1', seedByte: 0x5a },
] as const;
/** The fixed cosignature time (POSIX seconds) of the §9 example. */
const COSIGN_TIME = 1_767_225_600; // 2026-01-01T00:00:00Z
/**
 * A placeholder for the `tsa` line: a DER SEQUENCE header over 16 zero bytes. parsePolicy checks only that a
 * tsa value is base64 of at least 16 bytes starting with 0x30; a real policy carries a real root certificate.
 */
const PLACEHOLDER_TSA_DER = new Uint8Array([0x30, 0x10, ...new Array<number>(16).fill(0)]);

const seedOf = (b: number): Uint8Array => new Uint8Array(32).fill(b);

export async function build() {
  const ev = JSON.parse(fs.readFileSync(path.join(DIR, 'events.json'), 'utf8'));
  const seed = hexToBytes(ev.signing_key.seed_hex);
  const pub = await ed.getPublicKeyAsync(seed);
  const eventLeaves: Uint8Array[] = ev.events.map((e: { event_hash: string }) => hexToBytes(e.event_hash));
  const origin = `${ORIGIN_PREFIX}/${ev.stream_id}`;

  // §8: three checkpoints of one stream, in the order they were signed (= the order they enter the epoch).
  const notes: string[] = [];
  for (let size = 1; size <= eventLeaves.length; size++) {
    const text = formatCheckpoint({ origin, size, rootHash: rootFromLeaves(eventLeaves.slice(0, size)) });
    notes.push(formatNote(text, [await signNoteEd25519(text, origin, pub, (m) => ed.signAsync(m, seed))]));
  }
  const cpHashes = notes.map(checkpointHash);
  const leaves = cpHashes.map(epochLeaf);
  const { root, paths } = buildEpochTree(cpHashes);
  const digest = epochDigest(root);

  // §8.1 epoch order: two checkpoints with one created_at; ids are random, so the first signed may sort last.
  const sameMs = '2026-01-01T00:00:00.000Z';
  const ordered = [
    { checkpoint_id: 'chk_zzzzzzzzzzzzzzzzzzzzzz', created_at: sameMs, note: notes[0]!, checkpoint_hash: bytesToHex(cpHashes[0]!) },
    { checkpoint_id: 'chk_AAAAAAAAAAAAAAAAAAAAAA', created_at: sameMs, note: notes[1]!, checkpoint_hash: bytesToHex(cpHashes[1]!) },
  ];
  const signingOrder = buildEpochTree([cpHashes[0]!, cpHashes[1]!]);
  const byIdOrder = buildEpochTree([cpHashes[1]!, cpHashes[0]!]);

  // §9: a witness cosignature over the size-3 checkpoint, and the bundle entry that carries it.
  const wPub = new Map<string, Uint8Array>();
  for (const w of WITNESSES) wPub.set(w.name, await ed.getPublicKeyAsync(seedOf(w.seedByte)));
  const vkeyOf = (name: string) => encodeVerifierKey(name, wPub.get(name)!, COSIGNATURE_TYPE);
  const w0 = WITNESSES[0];
  const body = notes[2]!.slice(0, notes[2]!.indexOf('\n\n') + 1);
  const cosig = await signNoteCosignatureV1(body, w0.name, wPub.get(w0.name)!, COSIGN_TIME, (m) => ed.signAsync(m, seedOf(w0.seedByte)));
  const cosignedNote = formatNote(body, [
    await signNoteEd25519(body, origin, pub, (m) => ed.signAsync(m, seed)),
    cosig,
  ]);
  const signatureLine = cosignedNote.trimEnd().split('\n').at(-1)!;

  // §10: a policy with a wildcard log, an exact log, four witnesses, nested groups, a quorum and a tsa line.
  const exactOrigin = 'example.com/log';
  const exactPub = await ed.getPublicKeyAsync(seedOf(0x4c));
  const [a, b, c, d] = WITNESSES.map((w) => w.name) as [string, string, string, string];
  const policyText = [
    '# Trust policy vector (docs/protocol.md §10)',
    `log ${ORIGIN_PREFIX}/* ${encodeVerifierKey(`${ORIGIN_PREFIX}/*`, pub)}`,
    `log ${exactOrigin} ${encodeVerifierKey(exactOrigin, exactPub)}   # an exact origin`,
    ...WITNESSES.map((w) => `witness ${w.name} ${vkeyOf(w.name)}${'url' in w ? ' ' + w.url : ''}`),
    `group independent 2 ${a} ${b} ${c}`,
    `group required all independent ${d}`,
    'quorum required',
    `tsa placeholder-root ${bytesToBase64(PLACEHOLDER_TSA_DER)}`,
    '',
  ].join('\n');
  const policy = parsePolicy(policyText);
  const quorumSets: string[][] = [[], [d], [a, b], [a, d], [a, b, d], [b, c, d], [a, b, c], [a, b, c, d], [a, d, 'not-in-policy.example/w'], [d, 'independent']];
  const originCases = [
    origin,
    `${ORIGIN_PREFIX}/str_other`,
    `${ORIGIN_PREFIX}/a/b`,
    exactOrigin,
    ORIGIN_PREFIX,
    `${ORIGIN_PREFIX}/`,
    `${ORIGIN_PREFIX}X/str_abc`,
    `other.example/${ORIGIN_PREFIX}/x`,
    `${ORIGIN_PREFIX}/a+b`,
    `${exactOrigin}/x`,
  ];
  const published = formatPolicy({
    logs: [{ origin: `${ORIGIN_PREFIX}/*`, publicKey: pub }],
    witnesses: WITNESSES.slice(0, 2).map((w) => ({ name: w.name, vkey: vkeyOf(w.name), url: 'url' in w ? w.url : undefined })),
    quorum: { required: 1 },
    tsaRoots: [{ name: 'tsa-root-1', der: PLACEHOLDER_TSA_DER }],
  });

  return {
    description:
      'Worked examples of docs/protocol.md §8 (RFC 3161 anchors), §9 (witness cosignatures) and §10 (trust policy file). Generated by scripts/gen-anchor-vector.ts.',
    anchors: {
      origin,
      log_public_key: bytesToHex(pub),
      tag_anchor_checkpoint: bytesToHex(domainTag('anchor-checkpoint')),
      tag_anchor_epoch: bytesToHex(domainTag('anchor-epoch')),
      checkpoints: notes.map((note, i) => ({
        leaf_index: i,
        note,
        checkpoint_hash: bytesToHex(cpHashes[i]!),
        epoch_leaf_hash: bytesToHex(leaves[i]!),
        path: paths[i]!.map(bytesToHex),
      })),
      epoch_size: notes.length,
      epoch_node_1_0: bytesToHex(nodeHash(leaves[0]!, leaves[1]!)),
      epoch_root: bytesToHex(root),
      tsa_digest: bytesToHex(digest),
    },
    epoch_order: {
      rule: 'leaf i of an epoch is the i-th checkpoint the ledger signed (committed) among those in no epoch yet; created_at and checkpoint_id do not order leaves',
      checkpoints_in_signing_order: ordered.map((c, i) => ({ ...c, leaf_index: i, path: signingOrder.paths[i]!.map(bytesToHex) })),
      epoch_size: 2,
      epoch_root: bytesToHex(signingOrder.root),
      tsa_digest: bytesToHex(epochDigest(signingOrder.root)),
      not_the_root_in_checkpoint_id_order: bytesToHex(byIdOrder.root),
    },
    cosignature: {
      witness: w0.name,
      witness_public_key: bytesToHex(wPub.get(w0.name)!),
      witness_vkey: vkeyOf(w0.name),
      key_id: bytesToHex(keyId(w0.name, COSIGNATURE_TYPE, wPub.get(w0.name)!)),
      timestamp: COSIGN_TIME,
      checkpoint_body: body,
      signed_message_hex: bytesToHex(cosignatureMessage(COSIGN_TIME, body)),
      signature_line: signatureLine,
      cosigned_note: cosignedNote,
      bundle_entry: { checkpoint_id: 'chk_example', name: w0.name, vkey: vkeyOf(w0.name), timestamp: COSIGN_TIME, signature_line: signatureLine },
    },
    policy: {
      text: policyText,
      parsed: {
        logs: policy.logs.map((l) => ({ origin: l.origin, wildcard: l.wildcard })),
        witnesses: policy.witnesses.map((w) => w.name),
        groups: policy.groups.map((g) => ({ name: g.name, threshold: g.threshold, members: g.members })),
        quorum: policy.quorum,
        tsa_roots: policy.tsaRoots.map((t) => t.name),
      },
      quorum_cases: quorumSets.map((s) => ({ cosigned: s, met: quorumMet(policy, new Set(s)) })),
      log_key_cases: originCases.map((o) => {
        const k = logKeyFor(policy, o);
        return k
          ? { origin: o, key_id: bytesToHex(k.keyId), public_key: bytesToHex(k.publicKey), vkey: encodeVerifierKey(k.name, k.publicKey, ED25519_TYPE) }
          : { origin: o, key_id: null };
      }),
      published_text: published,
    },
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const text = JSON.stringify(await build(), null, 2) + '\n';
  if (process.argv.includes('--check')) {
    const same = fs.existsSync(OUT) && fs.readFileSync(OUT, 'utf8') === text;
    console.log(same ? 'anchor.json is up to date' : 'anchor.json differs from what the code produces');
    process.exit(same ? 0 : 1);
  }
  fs.writeFileSync(OUT, text);
  console.log(`wrote ${OUT}`);
}
