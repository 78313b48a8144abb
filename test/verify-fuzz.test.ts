// 5,000 random mutations of a valid bundle: the verifier never throws, and nothing that differs from the
// original (by JCS) comes back ok:true — except edits confined to the manifest's pack_id/created_at, which are
// labels no digest or signature binds (docs/verify.md). JCS-equal mutations (reordered keys, …) must stay ok.
import { mulberry32 } from './helpers/prng.js';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { Ledger } from '../src/ledger/ledger.js';
import { SCOPES } from '../src/ledger/tenancy.js';
import { canonicalize } from '../src/protocol/jcs.js';
import { verify, verifyJson, type Report, type TrustedKey } from '../src/verify/index.js';
import { bundleFromLedger, type Bundle } from './helpers/bundle.js';
import { tempDir } from './helpers/server.js';
import { databaseFor } from './helpers/pg-mode.js';

const RUNS = 5000;
const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed);

let ledger: Ledger;
let bundle: Bundle;
let trusted: TrustedKey[];
let original: string;

beforeAll(async () => {
  const dataDir = tempDir('ps-fuzz-');
  ledger = Ledger.open(
    loadConfig({}, { dataDir, dbPath: path.join(dataDir, 'l.db'), signingKeyPath: path.join(dataDir, 'k.pem'), windowMaxEvents: 4, windowMaxAgeMs: 30, databaseUrl: databaseFor(dataDir) }),
  );
  const { row } = ledger.tenancy.createKey('t', 's', SCOPES);
  const p = { keyId: row.id, tenantId: row.tenantId, systemId: row.systemId, scopes: new Set<string>(SCOPES) };
  const sid = ledger.createStream(p, { use_case: 'fuzz', policy_id: 'pol', metadata: { a: [1, 'b'] } }, undefined).view.stream_id;
  await ledger.append(
    p,
    sid,
    Array.from({ length: 10 }, (_, i) => ({
      source_ref: `r${i}`,
      event_type: 'fuzz',
      payload: i === 4 ? null : { i, f: i / 7, s: 'ü\u2028', l: [true, null] },
      ...(i % 2 ? { occurred_at: '2026-06-07T12:00:00Z' } : {}),
    })),
    undefined,
    (r) => r,
  );
  for (let i = 0; i < 300 && (ledger.store.checkpoints.latest(sid)?.treeSize ?? 0) < 10; i++) await new Promise((r) => setTimeout(r, 10));
  bundle = bundleFromLedger(ledger, p, sid, 3, 7); // checkpoint 8, consistency from 4
  trusted = ledger.publicKeys().map((k) => ({ kid: k.kid, alg: 'Ed25519' as const, public_key: k.public_key }));
  original = canonicalize(bundle);
});
afterAll(() => ledger?.close());

// ---- deterministic randomness ----
let rnd = mulberry32(SEED);
const int = (n: number) => Math.floor(rnd() * n);
const pick = <T>(a: readonly T[]): T => a[int(a.length)]!;

type Path = Array<string | number>;
function paths(v: unknown, p: Path = [], out: Path[] = []): Path[] {
  out.push(p);
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...p, i], out));
  else if (v && typeof v === 'object') for (const k of Object.keys(v)) paths((v as any)[k], [...p, k], out);
  return out;
}
const getAt = (root: any, p: Path) => p.reduce((v, k) => v?.[k], root);

const HEX = '0123456789abcdef';
const randomHex = (n: number) => Array.from({ length: n }, () => HEX[int(16)]).join('');
const REPLACEMENTS: Array<() => unknown> = [
  () => null,
  () => true,
  () => false,
  () => 0,
  () => -1,
  () => 1.5,
  () => 2 ** 53 + 2,
  () => 1e300,
  () => '',
  () => 'x',
  () => randomHex(64),
  () => randomHex(64).toUpperCase(),
  () => randomHex(128),
  () => '\ud800',
  () => [],
  () => ({}),
  () => [randomHex(64)],
  () => ({ kid: 'k', alg: 'Ed25519', public_key: randomHex(64) }),
  () => 'pack_' + randomHex(8),
];

function tweak(v: unknown): unknown {
  if (typeof v === 'string') {
    if (v.length === 0) return 'a';
    const i = int(v.length);
    const alphabet = /^[0-9a-f]+$/.test(v) ? HEX : HEX + 'xyzXYZ _-+/=\n\u2014é';
    let c = pick([...alphabet]);
    if (c === v[i]) c = c === 'a' ? 'b' : 'a';
    return v.slice(0, i) + c + v.slice(i + 1);
  }
  if (typeof v === 'number') return pick([v + 1, v - 1, v * 2, -v, v + 0.5, 0]);
  if (typeof v === 'boolean') return !v;
  if (v === null) return pick([0, '', false, {}]);
  return pick(REPLACEMENTS)();
}

interface Mutation {
  desc: string;
  value?: unknown;
  text?: string;
}

function mutate(): Mutation {
  const doc: any = structuredClone(bundle);
  const op = pick(['replace', 'tweak', 'tweak', 'tweak', 'delete', 'duplicate', 'insert', 'swap', 'truncate', 'reorder', 'textflip', 'texttruncate'] as const);
  if (op === 'textflip' || op === 'texttruncate') {
    const text = JSON.stringify(bundle);
    if (op === 'texttruncate') {
      const at = int(text.length);
      return { desc: `text truncated at ${at}`, text: text.slice(0, at) };
    }
    for (let tries = 0; tries < 50; tries++) {
      const i = int(text.length);
      const c = pick([...'0123456789abcdefABCDEF"{}[],:-.eE tnulrs\\/\u2014']);
      if (c === text[i]) continue;
      const t = text.slice(0, i) + c + text.slice(i + 1);
      try {
        return { desc: `text char ${i} ${JSON.stringify(text[i])}→${JSON.stringify(c)}`, value: JSON.parse(t) };
      } catch {
        /* try another flip */
      }
    }
    return { desc: 'text flip (no parseable flip found)', value: doc };
  }
  const all = paths(doc);
  const p = pick(all.slice(1));
  const parent = getAt(doc, p.slice(0, -1));
  const key = p[p.length - 1]!;
  const cur = parent[key];
  const where = '/' + p.join('/');
  switch (op) {
    case 'replace':
      parent[key] = pick(REPLACEMENTS)();
      break;
    case 'tweak':
      parent[key] = tweak(cur);
      break;
    case 'delete':
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete parent[key];
      break;
    case 'duplicate':
      if (Array.isArray(parent)) parent.splice(key as number, 0, structuredClone(cur));
      else parent[`${key}_copy`] = structuredClone(cur);
      break;
    case 'insert':
      if (Array.isArray(cur)) cur.splice(int(cur.length + 1), 0, pick(REPLACEMENTS)());
      else if (cur && typeof cur === 'object') cur[pick(['extra', 'kind', 'format', 'proof', '__proto__', 'stream_id'])] = pick(REPLACEMENTS)();
      else parent[key] = [cur];
      break;
    case 'swap': {
      const holder = Array.isArray(cur) || (cur && typeof cur === 'object') ? cur : parent;
      const keys = Object.keys(holder);
      if (keys.length >= 2) {
        const a = pick(keys);
        const b = pick(keys.filter((k) => k !== a));
        [holder[a], holder[b]] = [holder[b], holder[a]];
      } else parent[key] = tweak(cur);
      break;
    }
    case 'truncate':
      if (typeof cur === 'string') parent[key] = cur.slice(0, int(cur.length));
      else if (Array.isArray(cur)) cur.length = int(cur.length);
      else parent[key] = tweak(cur);
      break;
    case 'reorder': {
      const holder = cur && typeof cur === 'object' && !Array.isArray(cur) ? cur : parent;
      if (!Array.isArray(holder)) {
        const entries = Object.entries(holder);
        for (const [k] of entries) delete holder[k];
        for (const [k, v] of entries.sort(() => rnd() - 0.5)) holder[k] = v;
      }
      break;
    }
  }
  return { desc: `${op} at ${where}`, value: doc };
}

/** JCS, with the manifest's unbound labels reset to the original's when they are still well-formed strings. */
function semantic(v: unknown): string | null {
  try {
    const c: any = structuredClone(v);
    const m = c && typeof c === 'object' ? c.manifest : undefined;
    if (m && typeof m === 'object' && !Array.isArray(m)) {
      if (typeof m.pack_id === 'string' && /^pack_[A-Za-z0-9_-]{1,200}$/.test(m.pack_id)) m.pack_id = bundle.manifest.pack_id;
      if (typeof m.created_at === 'string' && Number.isFinite(Date.parse(m.created_at)) && /^\d{4}-\d\d-\d\dT/.test(m.created_at)) {
        m.created_at = bundle.manifest.created_at;
      }
    }
    return canonicalize(c);
  } catch {
    return null; // not canonicalizable: certainly not the original
  }
}

describe('verifier fuzz', () => {
  it(`${RUNS} random mutations: no exception, nothing altered passes (seed ${SEED})`, async () => {
    expect((await verify({ object: bundle, trusted_keys: trusted })).ok).toBe(true);
    rnd = mulberry32(SEED);
    const slipped: string[] = [];
    const broken: string[] = [];
    const stats = { changed: 0, equivalent: 0, labels: 0, text: 0 };
    for (let i = 0; i < RUNS; i++) {
      const m = mutate();
      let report: Report;
      try {
        if (m.text !== undefined) {
          stats.text++;
          report = await verifyJson(JSON.stringify({ object: 1 }).replace('1', m.text), {});
          if (report.ok) slipped.push(`#${i} ${m.desc}`);
          continue;
        }
        report = await verify({ ...(i % 3 === 0 ? { kind: 'bundle' } : {}), object: m.value, trusted_keys: trusted });
      } catch (e) {
        broken.push(`#${i} ${m.desc}: threw ${(e as Error).stack}`);
        continue;
      }
      if (typeof report?.ok !== 'boolean' || !Array.isArray(report.problems) || report.ok !== (report.problems.length === 0)) {
        broken.push(`#${i} ${m.desc}: not a report`);
        continue;
      }
      let exact: string | null = null;
      try {
        exact = canonicalize(m.value);
      } catch {
        exact = null;
      }
      if (exact === original) {
        stats.equivalent++;
        if (!report.ok) broken.push(`#${i} ${m.desc}: JCS-equal to the original but ${JSON.stringify(report.problems.slice(0, 2))}`);
      } else if (semantic(m.value) === original) {
        stats.labels++;
      } else {
        stats.changed++;
        if (report.ok) slipped.push(`#${i} ${m.desc}`);
      }
    }
    console.log(`fuzz seed ${SEED}:`, stats);
    expect(broken).toEqual([]);
    expect(slipped).toEqual([]);
    expect(stats.changed).toBeGreaterThan(RUNS * 0.8);
  }, 120_000);
});
