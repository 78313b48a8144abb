// The trust policy file (docs/trust.md): which log keys, witnesses (with a quorum rule) and time-stamp
// authorities an auditor trusts. Line-based, modelled on the Sigsum policy format. Pure and browser-safe.
//
//   # comment
//   log <origin> <vkey> [valid_from=<t>] [valid_until=<t>]
//                                           the ledger's checkpoint key; <origin> may be "<prefix>/*"; a rotated
//                                           key's receipt window (RFC 3339 UTC times, inclusive); several log
//                                           lines may name the same origin (a rotation)
//   witness <name> <vkey> [<url>]           a witness's cosignature/v1 key (its name is the vkey's name)
//   group <name> <k|all|any> <member>…      k of the members (witnesses or earlier groups)
//   quorum <name|none>                      the group or witness whose rule a checkpoint must meet
//   tsa <name> <base64 DER certificate>     a trusted RFC 3161 root; any tsa line makes anchors required
//   collector <key_id> <public key hex>     a pinned CI/CD collector key (docs/protocol.md §12); any collector line
//                                           makes every collector-signed event's key need a pin
import { base64ToBytes, bytesToBase64 } from './bytes.js';
import { collectorKeyId } from './collector.js';
import { ProtocolError } from './merkle.js';
import { COSIGNATURE_TYPE, ED25519_TYPE, encodeVerifierKey, isValidKeyName, keyId, parseVerifierKey, type VerifierKey } from './note.js';

export class PolicyError extends ProtocolError {}

export interface PolicyLog {
  /** An exact origin, or a prefix when `wildcard` (the line said "<prefix>/*"). */
  origin: string;
  wildcard: boolean;
  vkey: string;
  key: VerifierKey;
  /** receipts signed by this key must carry received_at ≥ validFrom (absent: no lower bound) */
  validFrom?: string;
  /** … and ≤ validUntil (absent: no upper bound) */
  validUntil?: string;
}

export interface PolicyWitness {
  name: string;
  vkey: string;
  key: VerifierKey;
  url?: string;
}

export interface PolicyGroup {
  name: string;
  /** how many members must be satisfied */
  threshold: number;
  members: string[];
}

export interface TrustPolicy {
  logs: PolicyLog[];
  witnesses: PolicyWitness[];
  groups: PolicyGroup[];
  /** name of the group or witness that must be satisfied; null = no witness requirement */
  quorum: string | null;
  tsaRoots: { name: string; der: Uint8Array }[];
  /** pinned collector keys (§12): key id and the 32-byte public key as lowercase hex */
  collectors: { keyId: string; publicKeyHex: string }[];
}

const MAX_POLICY_BYTES = 1 << 20;

/** Parses a policy file. Throws PolicyError('POLICY_MALFORMED', "line N: …") on anything it does not understand. */
export function parsePolicy(text: string): TrustPolicy {
  if (typeof text !== 'string') throw new PolicyError('POLICY_MALFORMED', 'policy must be text');
  if (text.length > MAX_POLICY_BYTES) throw new PolicyError('POLICY_MALFORMED', 'policy is too large');
  const p: TrustPolicy = { logs: [], witnesses: [], groups: [], quorum: null, tsaRoots: [], collectors: [] };
  const names = new Set<string>();
  let quorumSeen = false;
  text.split('\n').forEach((raw, i) => {
    const fail = (msg: string): never => {
      throw new PolicyError('POLICY_MALFORMED', `line ${i + 1}: ${msg}`);
    };
    const line = raw.replace(/#.*$/, '').trim();
    if (!line) return;
    const [word, ...args] = line.split(/[ \t]+/);
    const vkeyOf = (s: string | undefined, type: number): VerifierKey => {
      if (!s) return fail('missing vkey');
      let k: VerifierKey;
      try {
        k = parseVerifierKey(s);
      } catch (e) {
        return fail(`bad vkey: ${(e as Error).message}`);
      }
      if (k.type !== type) fail(`vkey must be of type 0x0${type}`);
      return k;
    };
    const fresh = (name: string | undefined): string => {
      if (!name || !isValidKeyName(name)) return fail('missing or invalid name');
      if (names.has(name)) fail(`name ${name} is defined twice`);
      names.add(name);
      return name;
    };
    switch (word) {
      case 'log': {
        if (args.length < 2 || args.length > 4) fail('expected: log <origin> <vkey> [valid_from=<time>] [valid_until=<time>]');
        const [origin, vkey, ...windowArgs] = args as [string, string, ...string[]];
        const key = vkeyOf(vkey, ED25519_TYPE);
        if (key.name !== origin) fail('the vkey name must equal the origin');
        const wildcard = origin.endsWith('/*');
        const entry: PolicyLog = { origin: wildcard ? origin.slice(0, -2) : origin, wildcard, vkey, key };
        for (const a of windowArgs) {
          const m = /^(valid_from|valid_until)=(.*)$/.exec(a);
          if (!m) fail(`unknown log option ${JSON.stringify(a)} (expected valid_from=<time> or valid_until=<time>)`);
          if (!isPolicyTime(m![2]!)) fail(`${m![1]} must be an RFC 3339 UTC time like 2026-01-31T12:00:00.000Z`);
          const field = m![1] === 'valid_from' ? 'validFrom' : 'validUntil';
          if (entry[field] !== undefined) fail(`${m![1]} is given twice`);
          entry[field] = m![2]!;
        }
        if (entry.validFrom && entry.validUntil && Date.parse(entry.validFrom) > Date.parse(entry.validUntil)) fail('valid_from is after valid_until');
        p.logs.push(entry);
        break;
      }
      case 'witness': {
        if (args.length < 2 || args.length > 3) fail('expected: witness <name> <vkey> [<url>]');
        const name = fresh(args[0]);
        const key = vkeyOf(args[1], COSIGNATURE_TYPE);
        if (key.name !== name) fail('the vkey name must equal the witness name');
        p.witnesses.push(args[2] ? { name, vkey: args[1]!, key, url: args[2] } : { name, vkey: args[1]!, key });
        break;
      }
      case 'group': {
        if (args.length < 3) fail('expected: group <name> <k|all|any> <member>…');
        const name = fresh(args[0]);
        const members = args.slice(2);
        if (new Set(members).size !== members.length) fail('a group lists a member twice');
        for (const m of members) if (!names.has(m) || m === name) fail(`unknown member ${m} (define it first)`);
        const t = args[1]!;
        const threshold = t === 'all' ? members.length : t === 'any' ? 1 : /^[1-9][0-9]*$/.test(t) ? Number(t) : fail('threshold must be k, all or any');
        if (threshold > members.length) fail('threshold exceeds the member count');
        p.groups.push({ name, threshold, members });
        break;
      }
      case 'quorum': {
        if (args.length !== 1) fail('expected: quorum <name|none>');
        if (quorumSeen) fail('quorum is given twice');
        quorumSeen = true;
        const q = args[0]!;
        if (q !== 'none' && !names.has(q)) fail(`quorum names unknown ${q}`);
        p.quorum = q === 'none' ? null : q;
        break;
      }
      case 'tsa': {
        if (args.length !== 2) fail('expected: tsa <name> <base64 DER certificate>');
        const name = fresh(args[0]);
        let der: Uint8Array;
        try {
          der = base64ToBytes(args[1]!);
        } catch {
          return fail('certificate is not base64');
        }
        if (der.length < 16 || der[0] !== 0x30) fail('certificate is not DER');
        p.tsaRoots.push({ name, der });
        break;
      }
      case 'collector': {
        if (args.length !== 2) fail('expected: collector <key_id> <public key hex>');
        const [id, hex] = args as [string, string];
        if (!/^[0-9a-f]{64}$/.test(hex)) fail('the collector public key must be 64 lowercase hex digits');
        let bytes: Uint8Array;
        try {
          bytes = new Uint8Array(hex.match(/../g)!.map((h) => parseInt(h, 16)));
        } catch {
          return fail('bad collector public key');
        }
        if (collectorKeyId(bytes) !== id) fail(`${id} is not the key id of that public key (${collectorKeyId(bytes)})`);
        if (p.collectors.some((c) => c.keyId === id)) fail(`collector ${id} is pinned twice`);
        p.collectors.push({ keyId: id, publicKeyHex: hex });
        break;
      }
      default:
        fail(`unknown directive ${JSON.stringify(word)}`);
    }
  });
  if (p.logs.length === 0) throw new PolicyError('POLICY_MALFORMED', 'a policy must name at least one log');
  if (!quorumSeen && p.witnesses.length > 0) throw new PolicyError('POLICY_MALFORMED', 'witnesses are listed but no quorum line says how many must cosign');
  return p;
}

/**
 * The log verifier key for a concrete checkpoint origin, or null when the policy trusts no log for it. An exact
 * `log` line wins over wildcards; among wildcards the longest prefix wins (the witness resolves origins the same way).
 */
export function logKeyFor(p: TrustPolicy, origin: string): VerifierKey | null {
  const exact = p.logs.find((l) => !l.wildcard && l.origin === origin);
  if (exact) return exact.key;
  if (!isValidKeyName(origin)) return null;
  let best: PolicyLog | null = null;
  for (const l of p.logs) {
    if (l.wildcard && origin.startsWith(l.origin + '/') && origin.length > l.origin.length + 1 && (!best || l.origin.length > best.origin.length)) best = l;
  }
  // A wildcard trusts the public key under every origin below the prefix; the key ID commits to the name.
  return best ? { name: origin, type: ED25519_TYPE, publicKey: best.key.publicKey, keyId: keyId(origin, ED25519_TYPE, best.key.publicKey) } : null;
}

/**
 * Every log verifier key trusted for a concrete origin: all `log` lines naming it exactly, else all lines of the
 * longest matching wildcard prefix (a rotated ledger lists its old and new key under the same origin). A checkpoint
 * is trusted when any of them signed it.
 */
export function logKeysFor(p: TrustPolicy, origin: string): VerifierKey[] {
  const exact = p.logs.filter((l) => !l.wildcard && l.origin === origin);
  if (exact.length) return exact.map((l) => l.key);
  if (!isValidKeyName(origin)) return [];
  let best = -1;
  for (const l of p.logs) {
    if (l.wildcard && origin.startsWith(l.origin + '/') && origin.length > l.origin.length + 1) best = Math.max(best, l.origin.length);
  }
  return p.logs
    .filter((l) => l.wildcard && l.origin.length === best && origin.startsWith(l.origin + '/'))
    .map((l) => ({ name: origin, type: ED25519_TYPE, publicKey: l.key.publicKey, keyId: keyId(origin, ED25519_TYPE, l.key.publicKey) }));
}

const POLICY_TIME_RE = /^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?Z$/;

/** An RFC 3339 UTC time as the ledger writes them (toISOString), the only form a window may take. */
export function isPolicyTime(t: string): boolean {
  return POLICY_TIME_RE.test(t) && Number.isFinite(Date.parse(t));
}

/** Does the set of witnesses whose cosignatures verified satisfy the policy's quorum? */
export function quorumMet(p: TrustPolicy, cosigned: ReadonlySet<string>): boolean {
  if (p.quorum === null) return true;
  const memo = new Map<string, boolean>();
  const sat = (name: string): boolean => {
    const hit = memo.get(name);
    if (hit !== undefined) return hit;
    const g = p.groups.find((x) => x.name === name);
    const v = g ? g.members.filter(sat).length >= g.threshold : cosigned.has(name);
    memo.set(name, v);
    return v;
  };
  return sat(p.quorum);
}

/** Renders a policy file (the inverse of parsePolicy, comments aside). */
export function formatPolicy(p: {
  logs: { origin: string; publicKey: Uint8Array; validFrom?: string | null; validUntil?: string | null }[];
  witnesses: { name: string; vkey: string; url?: string | undefined }[];
  quorum: { required: number } | null;
  tsaRoots: { name: string; der: Uint8Array }[];
}): string {
  const out = ['# Proofstream trust policy (docs/trust.md)'];
  for (const l of p.logs) {
    const window = `${l.validFrom ? ` valid_from=${l.validFrom}` : ''}${l.validUntil ? ` valid_until=${l.validUntil}` : ''}`;
    out.push(`log ${l.origin} ${encodeVerifierKey(l.origin, l.publicKey, ED25519_TYPE)}${window}`);
  }
  for (const w of p.witnesses) out.push(`witness ${w.name} ${w.vkey}${w.url ? ' ' + w.url : ''}`);
  if (p.witnesses.length && p.quorum && p.quorum.required > 0) {
    out.push(`group witnesses ${p.quorum.required} ${p.witnesses.map((w) => w.name).join(' ')}`);
    out.push('quorum witnesses');
  } else {
    out.push('quorum none');
  }
  for (const t of p.tsaRoots) out.push(`tsa ${t.name} ${bytesToBase64(t.der)}`);
  return out.join('\n') + '\n';
}
