// `proofstream verify <file> [--trust keys.json] [--json]`: the offline verifier on a file. No network, no
// database. Exit 0 valid, 1 invalid, 2 unreadable file or bad usage (a --trust file that is itself evidence
// included), 3 pending (only evidence still to come is missing). `--json` prints the report POST /v2/verify returns
// for the same object and trust, its advice naming CLI flags instead of request fields.
//
// Large packs (docs/verify.md, "Large packs"): a bundle file of STREAM_THRESHOLD_BYTES (16 MiB) or more that is
// in the pack writer's line layout is read line by line (src/cli/verify-stream.ts) instead of parsed whole, and
// receipt signatures go to a worker-thread pool (src/cli/verify-workers.ts). Same verifier, same report; any
// file not in the layout takes the whole-document path. PROOFSTREAM_VERIFY_STREAM=always|never forces the
// choice (tests); PROOFSTREAM_VERIFY_TIMING=1 prints one `proofstream verify: timing {…}` line to stderr.
//
// Hashing: for the duration of the command src/protocol hashes with node:crypto (installNativeSha256) instead of
// the portable default @noble/hashes; the same bytes, in a fraction of the time (docs/verify.md, "SHA-256 in the CLI").
import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { openBundleFile, STREAM_THRESHOLD_BYTES, type StreamedBundle } from './verify-stream.js';
import { VerifyPool } from './verify-workers.js';
import { setSha256 } from '../protocol/hash.js';
import { installNativeSha256 } from '../ledger/native-sha256.js';
export { installNativeSha256, nativeSha256 } from '../ledger/native-sha256.js';
import { parsePolicy } from '../protocol/policy.js';
import {
  BUNDLE_KEYS_TRUST_CHECK,
  detectKind,
  isVerifyRequest,
  IVC_KIND,
  trustedKeysFromJson,
  verify,
  type Report,
  type TrustedKey,
} from '../verify/index.js';

export const VERIFY_USAGE = `usage: proofstream verify <file> [--policy policy.txt] [--trust keys.json] [--json]

  <file>        a bundle (audit pack), a receipt, a stream {stream_id, events}, a checkpoint,
                a consistency proof {from, to, proof}, fork evidence, a v1 proof
                (GET /v1/events/{id}/proof), a pipeline receipt or receipt bundle (docs/protocol.md §14),
                an artifact's provenance (GET /api/v1/artifacts/{sha256}/provenance),
                or a POST /v2/verify body {kind?, object, trusted_keys?, policy?}
  --policy F    the trust policy file F (docs/trust.md; start from the ledger's GET /v2/trust-policy):
                log keys, witnesses with their quorum, TSA roots. Bundles must then carry the
                cosignatures and anchors it demands.
  --trust F     trust the keys in F: the GET /v2/keys response, or an array of {kid, alg, public_key}
                (without it, a bundle or provenance is checked against its own keys, and the report says so).
                F may not be the file being verified, nor any pack, proof or other evidence.
  --json        print the JSON report (the same object POST /v2/verify returns)
  --signer K    pipeline receipts (receipt.json of \`proofstream run\`, docs/runner.md): the signer must be
                K (ed25519:<hex>); repeat for several. Without it the signer is reported, not pinned.
  --max-age-hours N   pipeline receipts: refuse one whose timestamp is more than N hours old

  exit status: 0 valid, 1 invalid, 2 unreadable file or bad usage,
               3 pending (evidence the policy requires is not there yet: fetch it again later)
`;

const BUNDLE_KEYS_WARNING =
  'WARNING: no --trust given: the keys were taken from the bundle itself. This shows the bundle is internally ' +
  "consistent, not that a ledger you trust issued it. Pass --trust keys.json (the ledger's GET /v2/keys) for that.";
const NO_TRUST_HINT = 'hint: no trusted keys were given; pass --trust keys.json (the ledger\'s GET /v2/keys).';

interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
}

const stdio: Io = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) };

function fail(io: Io, json: boolean, code: string, message: string): number {
  if (json) io.out(JSON.stringify({ error: { code, message } }) + '\n');
  io.err(`proofstream verify: ${message}\n`);
  return 2;
}

function readJson(file: string): { value: unknown } | { error: string; code: string } {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    return { code: 'UNREADABLE_FILE', error: `cannot read ${file}: ${(e as Error).message}` };
  }
  try {
    return { value: JSON.parse(text) as unknown };
  } catch (e) {
    return { code: 'MALFORMED_JSON', error: `${file} is not JSON: ${(e as Error).message}` };
  }
}

export async function verifyCommand(args: string[], io: Io = stdio): Promise<number> {
  // Hashing (payload commitments, event hashes, chain, digests, proofs) with node:crypto: same bytes, less time.
  const previous = installNativeSha256();
  try {
    return await verifyCommandWith(args, io);
  } finally {
    setSha256(previous);
  }
}

async function verifyCommandWith(args: string[], io: Io): Promise<number> {
  let values: {
    trust?: string | undefined; policy?: string | undefined; json?: boolean | undefined; help?: boolean | undefined;
    signer?: string[] | undefined; 'max-age-hours'?: string | undefined;
  };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        trust: { type: 'string' }, policy: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
        signer: { type: 'string', multiple: true }, 'max-age-hours': { type: 'string' },
      },
    }));
  } catch (e) {
    io.err(`proofstream verify: ${(e as Error).message}\n${VERIFY_USAGE}`);
    return 2;
  }
  if (values.help) {
    io.out(VERIFY_USAGE);
    return 0;
  }
  const json = values.json === true;
  // Pipeline receipts (§14): the signer keys to pin, and the oldest receipt to accept.
  for (const k of values.signer ?? []) {
    if (!/^ed25519:[0-9a-f]{64}$/.test(k)) return fail(io, json, 'VALIDATION_ERROR', `--signer ${k}: expected ed25519:<64 lowercase hex>`);
  }
  const maxAge = values['max-age-hours'] === undefined ? undefined : Number(values['max-age-hours']);
  if (maxAge !== undefined && !(Number.isFinite(maxAge) && maxAge >= 0)) return fail(io, json, 'VALIDATION_ERROR', '--max-age-hours must be a non-negative number');
  pipelineOpts = { ...(values.signer ? { pipelineSigners: values.signer } : {}), ...(maxAge !== undefined ? { maxAgeHours: maxAge } : {}) };
  if (positionals.length !== 1) {
    io.err(VERIFY_USAGE);
    return 2;
  }
  const file = positionals[0]!;
  const t0 = performance.now();
  const elu0 = performance.eventLoopUtilization();
  const timed = process.env.PROOFSTREAM_VERIFY_TIMING === '1';
  const cpu0 = process.cpuUsage();
  const mainCpu0 = timed ? threadCpuSeconds() : undefined;

  // The options are read first but their errors reported after the document's, as always.
  const opts = readOptions(values, file);

  let size = -1;
  try {
    size = fs.statSync(file).size;
  } catch {
    /* readJson reports it */
  }
  const mode = process.env.PROOFSTREAM_VERIFY_STREAM;
  const large = size >= STREAM_THRESHOLD_BYTES || mode === 'always';
  const pool = large && !('error' in opts) ? new VerifyPool() : undefined;
  try {
    let streamed: { report: Report; bundle: StreamedBundle } | null = null;
    let fallback: string | null = null;
    if (large && mode !== 'never' && !('error' in opts)) {
      const bundle = await openBundleFile(file).catch(() => null);
      if (!bundle) fallback = 'not in the pack line layout';
      else {
        const report = await verify(
          { object: bundle.object, trusted_keys: opts.trusted, policy: opts.policy },
          { trustBundleKeys: opts.trusted === undefined && opts.policy === undefined, signatureVerifier: pool, plainJson: true, caller: 'cli' },
        );
        if (bundle.complete && bundle.broken === null) streamed = { report, bundle };
        else fallback = bundle.broken ?? 'the events were not read to their end';
      }
    }
    let report: Report;
    let fromBundle: boolean;
    let noTrust: boolean;
    if (streamed) {
      report = streamed.report;
      fromBundle = report.checks.some((c) => c.name === BUNDLE_KEYS_TRUST_CHECK);
      noTrust = !('error' in opts) && opts.trusted === undefined && opts.policy === undefined && !fromBundle;
    } else {
      const r = await verifyWhole(file, opts, io, json, pool);
      if (typeof r === 'number') return r;
      ({ report, fromBundle, noTrust } = r);
    }
    if (timed) {
      const elu = performance.eventLoopUtilization(elu0);
      const mainCpu = threadCpuSeconds();
      const timing = {
        path: streamed ? 'stream' : 'whole',
        ...(fallback && large && mode !== 'never' ? { fallback } : {}),
        bytes: size,
        events: streamed ? streamed.bundle.events : undefined,
        total_s: round((performance.now() - t0) / 1000),
        structure_s: round(elu.active / 1000),
        ...(mainCpu0 !== undefined && mainCpu !== undefined ? { structure_cpu_s: round(mainCpu - mainCpu0) } : {}),
        cpu_s: round(cpuSeconds(process.cpuUsage(cpu0))),
        signature_wait_s: round(elu.idle / 1000),
        signatures_s: pool ? round(pool.stats.busyMs / 1000) : undefined,
        signatures: pool?.stats.signatures,
        workers: pool ? pool.stats.workers : 0,
        rss_mb: Math.round(process.memoryUsage.rss() / 2 ** 20),
      };
      io.err(`proofstream verify: timing ${JSON.stringify(timing)}\n`);
    }
    if (json) {
      io.out(JSON.stringify(report) + '\n');
      if (fromBundle) io.err(BUNDLE_KEYS_WARNING + '\n');
    } else {
      io.out(formatReport(report, { file, fromBundle, noTrust }));
    }
    return exitCodeOf(report);
  } finally {
    await pool?.close();
  }
}

/** Exit status of a report: 0 valid, 1 invalid, 3 pending (2 is for errors before any report). */
export const EXIT_VALID = 0;
export const EXIT_INVALID = 1;
export const EXIT_USAGE = 2;
export const EXIT_PENDING = 3;
export const exitCodeOf = (r: Report): number => (r.status === 'valid' ? EXIT_VALID : r.status === 'pending' ? EXIT_PENDING : EXIT_INVALID);

const round = (x: number) => Math.round(x * 1000) / 1000;
const cpuSeconds = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1e6;

/**
 * CPU time of the calling thread (the one checking the structure), for the timing line: Linux's
 * /proc/thread-self/schedstat (nanoseconds on a CPU). Undefined where that is not available.
 * process.cpuUsage() counts the worker threads too.
 */
function threadCpuSeconds(): number | undefined {
  try {
    const ns = Number(fs.readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]);
    return Number.isFinite(ns) ? ns / 1e9 : undefined;
  } catch {
    return undefined;
  }
}

/** Whether two paths name one file (false when either cannot be read: readJson reports that). */
function sameFile(a: string, b: string): boolean {
  try {
    const x = fs.statSync(a);
    const y = fs.statSync(b);
    return x.dev === y.dev && x.ino === y.ino;
  } catch {
    return false;
  }
}

type Options = { trusted: TrustedKey[] | undefined; policy: string | undefined } | { error: string; code: string };

/**
 * --trust and --policy, read and checked; the first problem as an error. A --trust file is refused
 * (SELF_TRUST_REFUSED) when it is the verified file itself (same device and inode, so links and other spellings of
 * the path count) or is itself evidence (trustedKeysFromJson): its keys would come out of what is being verified.
 */
function readOptions(values: { trust?: string | undefined; policy?: string | undefined }, file: string): Options {
  let trusted: TrustedKey[] | undefined;
  if (values.trust !== undefined) {
    if (sameFile(values.trust, file)) {
      return { code: 'SELF_TRUST_REFUSED', error: `--trust ${values.trust} is the file being verified: an object cannot vouch for its own keys; use the ledger's GET /v2/keys response` };
    }
    const t = readJson(values.trust);
    if ('error' in t) return t;
    const keys = trustedKeysFromJson(t.value);
    if ('error' in keys) return { code: 'selfTrust' in keys ? 'SELF_TRUST_REFUSED' : 'VALIDATION_ERROR', error: `--trust ${values.trust}: ${keys.error}` };
    trusted = keys.keys;
  }
  let policy: string | undefined;
  if (values.policy !== undefined) {
    try {
      policy = fs.readFileSync(values.policy, 'utf8');
    } catch (e) {
      return { code: 'UNREADABLE_FILE', error: `cannot read ${values.policy}: ${(e as Error).message}` };
    }
    try {
      parsePolicy(policy);
    } catch (e) {
      return { code: 'VALIDATION_ERROR', error: `${values.policy}: ${(e as Error).message}` };
    }
  }
  return { trusted, policy };
}

/** The whole-document path: parse the file, then verify what it holds. A number is an exit status (usage errors). */
/** --signer and --max-age-hours of the current command (pipeline receipts only). */
let pipelineOpts: { pipelineSigners?: string[]; maxAgeHours?: number } = {};

async function verifyWhole(
  file: string,
  opts: Options,
  io: Io,
  json: boolean,
  pool: VerifyPool | undefined,
): Promise<number | { report: Report; fromBundle: boolean; noTrust: boolean }> {
  const doc = readJson(file);
  if ('error' in doc) return fail(io, json, doc.code, doc.error);
  if ('error' in opts) return fail(io, json, opts.code, opts.error);
  let trusted = opts.trusted;
  let policy = opts.policy;

  // The file is either a verify request {kind?, object, trusted_keys?} or the object itself.
  let kind: string | undefined;
  let object: unknown = doc.value;
  if (isVerifyRequest(doc.value)) {
    const req = doc.value;
    if (req.kind !== undefined && (typeof req.kind !== 'string' || req.kind.length === 0 || req.kind.length > 64)) {
      return fail(io, json, 'VALIDATION_ERROR', `${file}: "kind" must be a string of 1–64 characters`);
    }
    kind = req.kind;
    object = req.object;
    if (policy === undefined && typeof req.policy === 'string') policy = req.policy;
    if (trusted === undefined && req.trusted_keys !== undefined) {
      const keys = Array.isArray(req.trusted_keys) ? trustedKeysFromJson(req.trusted_keys) : { error: 'trusted_keys must be an array' };
      if ('error' in keys) return fail(io, json, 'VALIDATION_ERROR', `${file}: trusted_keys: ${keys.error}`);
      trusted = keys.keys;
    }
  }
  if (detectKind({ kind, object }) === IVC_KIND) {
    return fail(io, json, 'UNSUPPORTED_OBJECT_KIND', 'proof-of-evolution (IVC) objects are not supported by this verifier');
  }

  const report = await verify(
    { kind, object, trusted_keys: trusted, policy },
    { trustBundleKeys: trusted === undefined && policy === undefined, plainJson: true, caller: 'cli', ...(pool ? { signatureVerifier: pool } : {}), ...pipelineOpts },
  );
  const fromBundle = report.checks.some((c) => c.name === BUNDLE_KEYS_TRUST_CHECK);
  return { report, fromBundle, noTrust: trusted === undefined && policy === undefined && !fromBundle };
}

/** How each check status is marked: a skipped check is never shown as a pass. */
export const STATUS_MARK = { passed: '✓', failed: '✗', skipped: '–' } as const;

/** The human-readable report. */
export function formatReport(r: Report, o: { file: string; fromBundle: boolean; noTrust: boolean }): string {
  const lines: string[] = [];
  if (o.fromBundle) lines.push(BUNDLE_KEYS_WARNING, '');
  lines.push(`${o.file}: ${r.kind} — ${r.status.toUpperCase()}`, '');
  for (const c of r.checks) {
    lines.push(`  ${STATUS_MARK[c.status]} ${c.name}`);
    if (c.reason !== undefined) lines.push(`      ${c.status === 'skipped' ? 'skipped' : 'not performed'}: ${c.reason}`);
  }
  if (r.problems.length > 0) {
    lines.push('', `problems (${r.problems.length}):`);
    for (const p of r.problems) lines.push(`  ${p.code}  ${p.path === '' ? '(object)' : p.path}  ${p.message}`);
  }
  if (r.pending && r.pending.length > 0) {
    lines.push('', 'pending (nothing is wrong yet; this evidence is not there yet):');
    for (const p of r.pending) lines.push(`  ${p.evidence} at ${p.path}: ${p.missing}`, `      retry: ${p.retry} (in about ${p.retry_after_s} s)`);
  }
  if (r.unauthenticated && r.unauthenticated.length > 0) {
    lines.push('', 'not authenticated (labels: nothing verified binds them; * = every element):');
    for (const p of r.unauthenticated) lines.push(`  ${p}`);
  }
  if (o.noTrust && !r.ok) lines.push('', NO_TRUST_HINT);
  if (o.fromBundle) lines.push('', BUNDLE_KEYS_WARNING);
  lines.push('');
  return lines.join('\n');
}
