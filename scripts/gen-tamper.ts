// Generates the tamper corpus in fixtures/tamper/: one valid audit pack and one file per way of breaking it,
// each with the problem codes (docs/bundle.md) a verifier must report.
//
//   node bin/run-ts.mjs scripts/gen-tamper.ts               start a real server, build valid.json, derive the cases
//   node bin/run-ts.mjs scripts/gen-tamper.ts --cases-only  re-derive every case from the committed valid.json,
//                                                            source.json and trusted-keys.json (no server)
//   node bin/run-ts.mjs scripts/gen-tamper.ts --check       like --cases-only, but only compare: exit 1 on a difference
//
// What the full run does: starts `proofstream serve` (test/helpers/server.ts) on a temporary data directory with
// PROOFSTREAM_WINDOW_MAX_EVENTS=50, creates a stream, appends 120 events (so checkpoints at 50, 100, 120), waits
// until everything is sealed, then POSTs /v2/audit/packs for events 41..70 (it crosses a window boundary, its
// head_before is not the genesis head, its checkpoint is the one at 100 and its consistency proof is from 50).
//
// Files (all of them valid JSON; `file` in cases.json is relative to fixtures/tamper/):
//   valid.json          the pack exactly as the server returned it: a verifier must report ok:true
//   trusted-keys.json   [{kid, alg, public_key}] from GET /v2/keys: what to pass as the verifier's trusted keys
//   source.json         material from the same run the cases need beyond the pack (every checkpoint, one event
//                       outside the range), so --cases-only can rebuild the corpus offline
//   cases.json          [{file, description, expect_codes}]
//   <case>.json         one tampered pack per case
//
// expect_codes: the verifier's report for the file must have ok:false and include at least each listed code (other
// codes may accompany it — a changed seq_no also breaks the event hash, for instance). An empty list means "any
// problem at all" (used for the random byte flips). Unless a case is about the manifest, the manifest's section
// digests are recomputed after tampering, so the listed code is what fails rather than MANIFEST_MISMATCH.
//
// Determinism: the server's data (ids, salts, timestamps) is random, so each full run yields a new valid.json. To keep
// everything else reproducible the server is started with a FIXED, PUBLIC fixture signing key (seed below; never
// use it for anything real), the "unknown" key is fixed too, and the byte flips come from a seeded PRNG: given the
// same valid.json/source.json, --cases-only writes the same files byte for byte (--check verifies that).
//
// The fork cases act as a compromised (or forking) log: they sign conflicting checkpoint notes with the ledger's own
// key through node:crypto. The full run installs that key as <dataDir>/signing-key.pem before the server starts and
// reads the file back to check the server signs with it; the cases derive it from the seed, so --cases-only needs no
// server. Cases (k = 7, i.e. seq_no 48): payload/salt changed, seq_no changed, event removed/inserted/swapped/
// duplicated, range proof truncated, checkpoint stale/untrusted/note altered, receipt signature flipped, unknown kid,
// three fork variants, four malformed documents, a wrong manifest digest, and five random byte flips.
import { mulberry32 } from '../test/helpers/prng.js';
import { createHash, createPrivateKey, sign, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { flipHex, keyFromSeed, rawPublic, resealManifest, serialize, type Bundle, type Case } from './tamper-lib.js';
import { bytesToHex, hexToBytes, utf8ToBytes } from '../src/protocol/bytes.js';
import { formatCheckpoint, parseCheckpoint } from '../src/protocol/checkpoint.js';
import { canonicalize } from '../src/protocol/jcs.js';
import { ED25519_TYPE, encodeVerifierKey, formatNote, keyId, parseNote } from '../src/protocol/note.js';
import { client, idemKey, startServer, tempDir } from '../test/helpers/server.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUT = path.join(ROOT, 'fixtures/tamper');
const RANGE = { from: 41, to: 70 } as const;
const EVENTS = 120;

/** FIXTURE ONLY: the ledger key the corpus server signs with. Public on purpose; never use it elsewhere. */
const LEDGER_SEED = createHash('sha256').update('proofstream tamper corpus: ledger key (fixture only)').digest();
/** The key of the "unknown signer" case. */
const STRANGER_SEED = createHash('sha256').update('proofstream tamper corpus: unknown key').digest();
const FLIP_SEED = 0x7a3f2026;
const FLIPS = 5;


// ------------------------------------------------------------------------------------------------------------
// The full run: a real server and a real pack

async function buildValid(): Promise<{ validText: string; trusted: unknown[]; source: Source }> {
  const dataDir = tempDir('ps-tamper-');
  fs.writeFileSync(path.join(dataDir, 'signing-key.pem'), keyFromSeed(LEDGER_SEED).export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
  const srv = await startServer({ dataDir, env: { PROOFSTREAM_WINDOW_MAX_EVENTS: '50', PROOFSTREAM_WINDOW_MAX_AGE_MS: '300' } });
  try {
    const call = client(srv.url, srv.key);
    const ok = <R extends { status: number; text: string }>(r: R, status: number): R => {
      if (r.status !== status) throw new Error(`expected ${status}, got ${r.status}: ${r.text.slice(0, 500)}`);
      return r;
    };
    const sid = ok(await call('POST', '/v2/streams', { use_case: 'tamper-corpus', policy_id: 'policy-2026-01', metadata: { owner: 'audit' } }), 201).body
      .stream_id as string;
    for (let i = 0; i < EVENTS; i += 40) {
      const events = Array.from({ length: 40 }, (_, k) => fixtureEvent(i + k));
      ok(await call('POST', `/v2/streams/${sid}/events/batch`, { events }, { 'idempotency-key': idemKey() }), 201);
    }
    const end = Date.now() + 30_000;
    for (;;) {
      const r = await call('GET', `/v2/streams/${sid}/checkpoints/latest`);
      if (r.status === 200 && r.body.tree_size === EVENTS) break;
      if (Date.now() > end) throw new Error('the stream was not sealed in time');
      await new Promise((res) => setTimeout(res, 100));
    }
    const pack = ok(await call('POST', '/v2/audit/packs', { stream_id: sid, from_seq_no: RANGE.from, to_seq_no: RANGE.to }), 201);
    const keys = ok(await call('GET', '/v2/keys'), 200).body.keys as Array<{ kid: string; alg: string; public_key: string }>;
    const checkpoints = [...ok(await call('GET', `/v2/streams/${sid}/checkpoints`), 200).body.checkpoints].reverse();
    const outside = ok(await call('GET', `/v2/streams/${sid}/events?from_seq_no=${RANGE.to + 10}&limit=1`), 200).body.events[0];
    // The fork cases sign with the server's key as the server stored it.
    const pem = fs.readFileSync(path.join(dataDir, 'signing-key.pem'));
    if (bytesToHex(rawPublic(createPrivateKey(pem))) !== keys[0]!.public_key) throw new Error('the server is not using the fixture key');
    return {
      validText: pack.text,
      trusted: keys.map((k) => ({ kid: k.kid, alg: k.alg, public_key: k.public_key })),
      source: { stream_id: sid, checkpoints, outside_event: outside },
    };
  } finally {
    await srv.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Varied but fixed payloads: nested values, non-ASCII, fractions, an explicit null payload (not an erasure). */
function fixtureEvent(i: number) {
  const payloads: unknown[] = [
    { decision: i % 2 ? 'approve' : 'manual_review', score: (i * 7) % 100, model: 'classifier-v7' },
    { reasons: ['income verified', 'no prior defaults'], threshold: 0.5, reviewer: null },
    { note: 'Grüße, 世界 — ✓', nested: { list: [1, -2, 3.25, [], {}], empty: '' } },
    null,
    [i, String(i), i / 8, true],
  ];
  return {
    source_ref: `case-2026-${String(i).padStart(4, '0')}`,
    event_type: ['ai.decision', 'human.review', 'ci.deploy'][i % 3]!,
    payload: payloads[i % payloads.length],
    ...(i % 4 === 0 ? { occurred_at: '2026-06-07T12:00:00Z' } : {}),
  };
}

interface Source {
  stream_id: string;
  checkpoints: Array<{ checkpoint_id: string; tree_size: number; root_hash: string; note: string; signer_vkey: string }>;
  outside_event: Record<string, unknown>;
}

// ------------------------------------------------------------------------------------------------------------
// The cases

const cpSection = (c: Source['checkpoints'][number]) => ({
  checkpoint_id: c.checkpoint_id,
  tree_size: c.tree_size,
  root_hash: c.root_hash,
  note: c.note,
  signer_vkey: c.signer_vkey,
});

const prng = mulberry32;

function deriveCases(validText: string, trusted: Array<{ public_key: string }>, source: Source): Case[] {
  const valid = JSON.parse(validText) as Bundle;
  const fresh = (): Bundle => structuredClone(valid);
  const cases: Case[] = [];
  const add = (file: string, description: string, expect_codes: string[], b: Bundle | string) =>
    cases.push({ file, description, expect_codes, text: typeof b === 'string' ? b : serialize(b) });
  const tampered = (file: string, description: string, codes: string[], mutate: (b: Bundle) => void) => {
    const b = fresh();
    mutate(b);
    add(file, description, codes, resealManifest(b));
  };

  const origin: string = valid.stream.origin;
  const ledgerKey = keyFromSeed(LEDGER_SEED);
  const ledgerPub = rawPublic(ledgerKey);
  if (bytesToHex(ledgerPub) !== trusted[0]!.public_key) throw new Error('trusted-keys.json does not hold the fixture ledger key');
  const stranger = keyFromSeed(STRANGER_SEED);
  const strangerPub = rawPublic(stranger);
  /** A checkpoint note for origin, signed (Ed25519, type 0x01) by `key`. */
  const signedNote = (text: string, key: KeyObject, pub: Uint8Array) =>
    formatNote(text, [{ name: origin, keyId: keyId(origin, ED25519_TYPE, pub), signature: new Uint8Array(sign(null, utf8ToBytes(text), key)) }]);
  const forgedRoot = (root: string) => createHash('sha256').update(`proofstream tamper corpus: forged root for ${root}`).digest();

  const k = 7; // events[7] is seq_no 48: in the first window of the range, away from both ends
  const n = valid.events.length;
  if (n !== RANGE.to - RANGE.from + 1 || valid.events[k].seq_no !== RANGE.from + k) throw new Error('valid.json is not the expected range');
  if (valid.events[k].salt === null) throw new Error('events[k] must have a payload');

  // --- payloads
  tampered('payload-changed.json', `events[${k}].payload altered (salt and commitment kept)`, ['PAYLOAD_MISMATCH'], (b) => {
    b.events[k].payload = { tampered: true, was: b.events[k].payload };
  });
  tampered('salt-changed.json', `one hex digit of events[${k}].salt changed`, ['PAYLOAD_MISMATCH'], (b) => {
    b.events[k].salt = flipHex(b.events[k].salt, 0);
  });

  // --- sequence
  tampered('seq-no-changed.json', `events[${k}].seq_no set to the next event's number`, ['SEQUENCE_BROKEN'], (b) => {
    b.events[k].seq_no += 1;
  });
  tampered('event-removed.json', `events[${k}] removed from the middle of the range`, ['SEQUENCE_BROKEN'], (b) => {
    b.events.splice(k, 1);
  });
  tampered(
    'event-inserted.json',
    `a genuine, validly signed event from outside the range (seq_no ${source.outside_event.seq_no as number}) inserted after events[${k}]`,
    ['SEQUENCE_BROKEN'],
    (b) => {
      b.events.splice(k + 1, 0, source.outside_event);
    },
  );
  tampered('events-swapped.json', `events[${k}] and events[${k + 1}] swapped`, ['SEQUENCE_BROKEN'], (b) => {
    [b.events[k], b.events[k + 1]] = [b.events[k + 1], b.events[k]];
  });
  tampered('event-duplicated.json', `events[${k}] appears twice in a row`, ['SEQUENCE_BROKEN'], (b) => {
    b.events.splice(k, 0, structuredClone(b.events[k]));
  });

  // --- range proof
  tampered('range-proof-truncated.json', 'the last hash of range_proof.proof removed', ['RANGE_PROOF_INVALID'], (b) => {
    if (b.range_proof.proof.length < 2) throw new Error('range proof too short to truncate');
    b.range_proof.proof.pop();
  });

  // --- checkpoint
  const older = source.checkpoints.find((c) => c.tree_size < RANGE.to);
  if (!older) throw new Error('no checkpoint older than the range in source.json');
  tampered(
    'checkpoint-stale.json',
    `checkpoint replaced by the stream's earlier, validly signed checkpoint of size ${older.tree_size} (< to_seq_no ${RANGE.to})`,
    ['CHECKPOINT_STALE'],
    (b) => {
      b.checkpoint = cpSection(older);
    },
  );
  tampered(
    'checkpoint-untrusted.json',
    'checkpoint note re-signed (same origin, same text) by an Ed25519 key that is not trusted; signer_vkey replaced by that key',
    ['CHECKPOINT_UNTRUSTED'],
    (b) => {
      b.checkpoint.note = signedNote(parseNote(b.checkpoint.note).text, stranger, strangerPub);
      b.checkpoint.signer_vkey = encodeVerifierKey(origin, strangerPub);
    },
  );
  tampered(
    'checkpoint-note-altered.json',
    "the root line of the checkpoint note's text changed (root_hash updated to match); the ledger's signature kept",
    ['CHECKPOINT_SIGNATURE_INVALID'],
    (b) => {
      const parsed = parseNote(b.checkpoint.note);
      const body = parseCheckpoint(parsed.text);
      const root = forgedRoot(b.checkpoint.root_hash);
      b.checkpoint.note = formatNote(formatCheckpoint({ ...body, rootHash: root }), parsed.signatures);
      b.checkpoint.root_hash = bytesToHex(root);
    },
  );

  // --- receipts
  tampered('receipt-signature-flipped.json', `one bit of events[${k}].receipt.signature flipped`, ['SIGNATURE_INVALID'], (b) => {
    const sig = hexToBytes(b.events[k].receipt.signature);
    sig[10]! ^= 0x01;
    b.events[k].receipt.signature = bytesToHex(sig);
  });
  tampered('wrong-kid.json', `events[${k}].receipt.kid names a key that is not trusted`, ['UNKNOWN_KEY'], (b) => {
    b.events[k].receipt.kid = `ps-ed25519-${createHash('sha256').update('unknown kid').digest('hex').slice(0, 16)}`;
  });

  // --- forks: conflicting notes validly signed by the ledger's own key
  /** A checkpoint section for origin at `size` with a forged root, validly signed by the ledger's key. */
  const forgedCheckpoint = (size: number, realRoot: string, id: string) => {
    const root = forgedRoot(realRoot);
    return {
      checkpoint_id: id,
      tree_size: size,
      root_hash: bytesToHex(root),
      note: signedNote(formatCheckpoint({ origin, size, rootHash: root }), ledgerKey, ledgerPub),
      signer_vkey: encodeVerifierKey(origin, ledgerPub),
    };
  };
  tampered(
    'fork-same-size.json',
    "consistency gains a checkpoint with the same tree size as `checkpoint` but a different root (proof []), validly signed by the ledger's key: two signed, conflicting histories",
    ['FORK_DETECTED'],
    (b) => {
      b.consistency.push({ from: forgedCheckpoint(b.checkpoint.tree_size, b.checkpoint.root_hash, 'chk_forkFORKforkFORKfork01'), proof: [] });
    },
  );
  tampered(
    'fork-same-size-earlier.json',
    "consistency gains a second checkpoint with the same size as consistency[0].from but a different root, validly signed by the ledger's key (with consistency[0]'s proof): two signed checkpoints that cannot both be true",
    ['FORK_DETECTED'],
    (b) => {
      const real = b.consistency[0];
      if (!real) throw new Error('valid.json has no consistency entry');
      b.consistency.push({ from: forgedCheckpoint(real.from.tree_size, real.from.root_hash, 'chk_forkFORKforkFORKfork02'), proof: real.proof });
    },
  );
  tampered(
    'fork-inconsistent.json',
    "checkpoint replaced by one of the same size with a different root, validly signed by the ledger's key, so the consistency proof from the earlier signed checkpoint fails. docs/bundle.md also names this FORK_DETECTED; only CONSISTENCY_INVALID is required here, because a failing proof alone does not prove the two trees inconsistent",
    ['CONSISTENCY_INVALID'],
    (b) => {
      const forged = forgedCheckpoint(b.checkpoint.tree_size, b.checkpoint.root_hash, b.checkpoint.checkpoint_id);
      b.checkpoint.note = forged.note;
      b.checkpoint.root_hash = forged.root_hash;
    },
  );

  // --- malformed
  tampered('malformed-seq-no-string.json', `events[${k}].seq_no is a string ("${RANGE.from + k}")`, ['MALFORMED'], (b) => {
    b.events[k].seq_no = String(b.events[k].seq_no);
  });
  tampered('malformed-events-not-array.json', 'events is an object keyed by seq_no instead of an array', ['MALFORMED'], (b) => {
    b.events = Object.fromEntries(b.events.map((e: any) => [String(e.seq_no), e]));
  });
  tampered('malformed-hex.json', `events[${k}].event_hash starts with "xyz": not hex`, ['MALFORMED'], (b) => {
    b.events[k].event_hash = 'xyz' + b.events[k].event_hash.slice(3);
  });
  tampered('malformed-missing-checkpoint.json', 'the checkpoint section is missing', ['MALFORMED'], (b) => {
    delete b.checkpoint;
    delete b.manifest.sections.checkpoint;
  });

  // --- the manifest itself
  {
    const b = fresh();
    b.manifest.sections.events = flipHex(b.manifest.sections.events);
    add('manifest-digest-wrong.json', 'only manifest.sections.events is wrong (one hex digit); every section is intact', ['MANIFEST_MISMATCH'], b);
  }

  // --- random byte flips on the server's own bytes
  const rand = prng(FLIP_SEED);
  const bytes = Buffer.from(validText, 'utf8');
  const canonicalValid = canonicalize(unbound(valid));
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  let made = 0;
  for (let tries = 0; made < FLIPS && tries < 100_000; tries++) {
    const at = Math.floor(rand() * bytes.length);
    const bit = 1 << Math.floor(rand() * 8);
    const out = Buffer.from(bytes);
    out[at]! ^= bit;
    let parsed: Bundle;
    try {
      parsed = JSON.parse(utf8.decode(out)) as Bundle;
    } catch {
      continue; // must stay valid UTF-8 and valid JSON
    }
    // manifest.pack_id and manifest.created_at are bound by nothing (no digest covers the manifest): a flip there
    // is not tampering anyone can detect, so it does not count.
    let same = false;
    try {
      same = canonicalize(unbound(parsed)) === canonicalValid;
    } catch {
      same = false;
    }
    if (same) continue;
    made++;
    const before = JSON.stringify(String.fromCharCode(bytes[at]!));
    const after = JSON.stringify(String.fromCharCode(out[at]!));
    add(`random-flip-${made}.json`, `byte ${at} of valid.json XOR 0x${bit.toString(16).padStart(2, '0')} (${before} → ${after}); still valid JSON`, [], out.toString('utf8'));
  }
  if (made < FLIPS) throw new Error('could not find enough JSON-preserving byte flips');
  return cases;
}

/** The document without the two manifest members nothing binds. */
function unbound(b: Bundle): unknown {
  if (!b || typeof b !== 'object' || !b.manifest || typeof b.manifest !== 'object') return b;
  const { pack_id: _p, created_at: _c, ...manifest } = b.manifest;
  return { ...b, manifest };
}

// ------------------------------------------------------------------------------------------------------------

const readJson = (f: string) => JSON.parse(fs.readFileSync(path.join(OUT, f), 'utf8'));
const pretty = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;

async function main(argv: string[]): Promise<number> {
  const offline = argv.includes('--cases-only') || argv.includes('--check');
  let validText: string;
  let trusted: Array<{ kid: string; alg: string; public_key: string }>;
  let source: Source;
  if (offline) {
    validText = fs.readFileSync(path.join(OUT, 'valid.json'), 'utf8');
    trusted = readJson('trusted-keys.json');
    source = readJson('source.json');
  } else {
    const built = await buildValid();
    validText = built.validText;
    trusted = built.trusted as typeof trusted;
    source = built.source;
  }
  const cases = deriveCases(validText, trusted, source);
  const files = new Map<string, string>([
    ['valid.json', validText],
    ['trusted-keys.json', pretty(trusted)],
    ['source.json', pretty(source)],
    ['cases.json', pretty(cases.map(({ file, description, expect_codes }) => ({ file, description, expect_codes })))],
    ...cases.map((c): [string, string] => [c.file, c.text]),
  ]);
  if (argv.includes('--check')) {
    const differ = [...files].filter(([f, text]) => !fs.existsSync(path.join(OUT, f)) || fs.readFileSync(path.join(OUT, f), 'utf8') !== text);
    const stale = fs.readdirSync(OUT).filter((f) => f.endsWith('.json') && !files.has(f));
    for (const [f] of differ) console.error(`differs: fixtures/tamper/${f}`);
    for (const f of stale) console.error(`not generated: fixtures/tamper/${f}`);
    if (differ.length || stale.length) return 1;
    console.log(`fixtures/tamper: ${cases.length} cases match`);
    return 0;
  }
  fs.mkdirSync(OUT, { recursive: true });
  for (const f of fs.readdirSync(OUT)) if (f.endsWith('.json') && !files.has(f)) fs.rmSync(path.join(OUT, f));
  for (const [f, text] of files) fs.writeFileSync(path.join(OUT, f), text);
  console.log(`wrote fixtures/tamper: valid.json, ${cases.length} cases (${cases.map((c) => c.file).join(', ')})`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    console.error(e);
    process.exitCode = 1;
  },
);
