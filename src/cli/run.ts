// `proofstream run attest.yaml`: runs a pipeline locally with the same engine as the server (src/pipelines/),
// progress per step on stderr, and writes the signed receipt (docs/runner.md "proofstream run"). With --ledger it
// appends the receipt as an `attest.receipt` event through the SDK and, once the event is sealed, writes the
// receipt bundle (receipt plus ledger placement) that `proofstream verify` checks offline.
//
// Exit status: 0 the pipeline completed (and, with --ledger, the receipt was appended); 1 it failed or was
// cancelled (the receipt is still written and, with --ledger, still appended); 2 bad usage, config or key;
// 4 the receipt was written but the ledger refused it or could not be reached.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadPipelineEngineLimits } from '../config.js';
import { parsePipelineYaml } from '../pipelines/config.js';
import { ContentCache } from '../pipelines/cache.js';
import { EngineError, runPipeline, sandboxAvailable, type EngineEvent } from '../pipelines/engine.js';
import {
  PIPELINE_RECEIPT_EVENT_TYPE,
  pipelineReceiptEventPayload,
  pipelineReceiptHash,
  type PipelineReceipt,
} from '../protocol/pipeline-receipt.js';
import { Proofstream } from '../client/index.js';

export const RUN_USAGE = `usage: proofstream run <attest.yaml> [options]

  --workspace DIR     where steps run and paths are resolved (default: the current directory)
  --cache DIR         content-addressed step cache (default: none)
  --sandbox           run each step under bubblewrap: no network, read-only system, only the workspace writable
  --var NAME=VALUE    a variable for the steps' environment (repeatable); steps see nothing else but PATH and HOME
  --key-file F        Ed25519 private key (PKCS#8 PEM) that signs the receipt
                      (default: ./.proofstream/runner-key.pem, created 0600 on first use)
  --out F             where the receipt goes (default: receipt.json)
  --ledger URL        append the receipt to this ledger as an ${PIPELINE_RECEIPT_EVENT_TYPE} event
  --key K             its API key (or PROOFSTREAM_API_KEY)
  --stream ID         the stream to append to (str_…)
  --wait-seal S       seconds to wait for the event to be sealed into a checkpoint (default 60; 0: do not wait)
  --step-timeout-ms N, --max-parallel N, --log-limit-bytes N
                      override PROOFSTREAM_PIPELINE_* (docs/runner.md "Limits")

  exit status: 0 completed, 1 failed or cancelled, 2 bad usage/config/key, 4 ledger submission failed
`;

export const DEFAULT_KEY_FILE = path.join('.proofstream', 'runner-key.pem');

/** The signing key: read from `file`, or (default path only) created 0600 on first use. */
export function loadOrCreateRunnerKey(file: string | undefined, log: (s: string) => void): { key: crypto.KeyObject; publicKey: Uint8Array } {
  const target = file ?? DEFAULT_KEY_FILE;
  let pem: string;
  try {
    pem = fs.readFileSync(target, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || file !== undefined) throw new Error(`cannot read key file ${target}: ${(e as Error).message}`);
    const { privateKey } = crypto.generateKeyPairSync('ed25519');
    pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    fs.mkdirSync(path.dirname(target), { recursive: true, mode: 0o700 });
    // wx: never overwrite a key another run created meanwhile
    fs.writeFileSync(target, pem, { mode: 0o600, flag: 'wx' });
    log(`proofstream run: created signing key ${target} (0600); keep it, or pass --key-file\n`);
  }
  let key: crypto.KeyObject;
  try {
    key = crypto.createPrivateKey(pem);
  } catch (e) {
    throw new Error(`${target} is not a PEM private key: ${(e as Error).message}`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`${target} is not an Ed25519 key (${key.asymmetricKeyType})`);
  const publicKey = new Uint8Array(crypto.createPublicKey(key).export({ format: 'der', type: 'spki' }).subarray(-32));
  return { key, publicKey };
}

interface Io { err: (s: string) => void }
const stdio: Io = { err: (s) => process.stderr.write(s) };

const positiveInt = (name: string, raw: string | undefined): number | undefined => {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${name} must be a positive integer`);
  return n;
};

export async function runCommand(args: string[], io: Io = stdio): Promise<number> {
  let values: Record<string, string | boolean | string[] | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        workspace: { type: 'string' }, cache: { type: 'string' }, sandbox: { type: 'boolean' },
        var: { type: 'string', multiple: true }, 'key-file': { type: 'string' }, out: { type: 'string' },
        ledger: { type: 'string' }, key: { type: 'string' }, stream: { type: 'string' }, 'wait-seal': { type: 'string' },
        'step-timeout-ms': { type: 'string' }, 'max-parallel': { type: 'string' }, 'log-limit-bytes': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    io.err(`proofstream run: ${(e as Error).message}\n${RUN_USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(RUN_USAGE);
    return 0;
  }
  if (positionals.length !== 1) {
    io.err(RUN_USAGE);
    return 2;
  }
  const usage = (m: string) => {
    io.err(`proofstream run: ${m}\n`);
    return 2;
  };
  const configFile = positionals[0]!;
  let text: string;
  try {
    text = fs.readFileSync(configFile, 'utf8');
  } catch (e) {
    return usage(`cannot read ${configFile}: ${(e as Error).message}`);
  }
  const parsed = parsePipelineYaml(text);
  if (!parsed.ok) return usage(`${configFile}: ${parsed.field}: ${parsed.message}`);

  const variables: Record<string, string> = {};
  for (const v of (values.var as string[] | undefined) ?? []) {
    const eq = v.indexOf('=');
    if (eq <= 0) return usage(`--var ${v}: expected NAME=VALUE`);
    variables[v.slice(0, eq)] = v.slice(eq + 1);
  }
  const ledgerUrl = values.ledger as string | undefined;
  const apiKey = (values.key as string | undefined) ?? process.env.PROOFSTREAM_API_KEY;
  const streamId = values.stream as string | undefined;
  if (ledgerUrl !== undefined && (!apiKey || !streamId)) return usage('--ledger needs --key (or PROOFSTREAM_API_KEY) and --stream');
  if (ledgerUrl === undefined && (streamId !== undefined || values.key !== undefined)) return usage('--key and --stream go with --ledger');
  let limits;
  let waitSealS: number;
  try {
    const base = loadPipelineEngineLimits(process.env);
    limits = {
      stepTimeoutMs: positiveInt('--step-timeout-ms', values['step-timeout-ms'] as string | undefined) ?? base.stepTimeoutMs,
      maxParallel: positiveInt('--max-parallel', values['max-parallel'] as string | undefined) ?? base.maxParallel,
      logLimitBytes: positiveInt('--log-limit-bytes', values['log-limit-bytes'] as string | undefined) ?? base.logLimitBytes,
      base,
    };
    const ws = values['wait-seal'] as string | undefined;
    waitSealS = ws === undefined ? 60 : Number(ws);
    if (!Number.isFinite(waitSealS) || waitSealS < 0) throw new Error('--wait-seal must be a non-negative number of seconds');
  } catch (e) {
    return usage((e as Error).message);
  }
  const mode = values.sandbox ? 'sandbox' : 'process';
  if (mode === 'sandbox' && !sandboxAvailable()) return usage('--sandbox: bubblewrap (bwrap) is not installed or cannot create namespaces here');
  const workspace = path.resolve((values.workspace as string | undefined) ?? '.');
  if (!fs.statSync(workspace, { throwIfNoEntry: false })?.isDirectory()) return usage(`--workspace ${workspace} is not a directory`);
  let signer;
  try {
    signer = loadOrCreateRunnerKey(values['key-file'] as string | undefined, io.err);
  } catch (e) {
    return usage((e as Error).message);
  }
  const out = path.resolve((values.out as string | undefined) ?? 'receipt.json');
  const cache = values.cache ? new ContentCache(values.cache as string, { maxBytes: limits.base.cacheMaxBytes }) : undefined;

  // Ctrl-C cancels: running groups are killed, the receipt of a cancelled execution is still written.
  const ac = new AbortController();
  const onSignal = () => {
    io.err('proofstream run: cancelling…\n');
    ac.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let result;
  try {
    result = await runPipeline(parsed.config, {
      workspace, cache, mode, variables, signal: ac.signal,
      stepTimeoutMs: limits.stepTimeoutMs, logLimitBytes: limits.logLimitBytes, maxParallel: limits.maxParallel,
      hashLimits: { maxFiles: limits.base.hashMaxFiles, maxBytes: limits.base.hashMaxBytes },
      sign: (m) => new Uint8Array(crypto.sign(null, m, signer.key)),
      signerPublicKey: signer.publicKey,
      onEvent: (e) => io.err(progressLine(e)),
    });
  } catch (e) {
    if (e instanceof EngineError) return usage(e.message);
    throw e;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  const receipt = result.receipt;
  writeJson(out, receipt);
  io.err(`proofstream run: ${result.status}; receipt ${pipelineReceiptHash(receipt)} written to ${out} (signer ${receipt.signer_public_key})\n`);
  const runStatus = result.status === 'completed' ? 0 : 1;
  if (ledgerUrl === undefined) return runStatus;

  try {
    const bundle = await submit(receipt, { ledgerUrl, apiKey: apiKey!, streamId: streamId!, waitSealMs: waitSealS * 1000 }, io);
    writeJson(out, bundle);
    io.err(`proofstream run: receipt appended to ${streamId} at seq_no ${bundle.ledger.seq_no}${bundle.ledger.inclusion ? `, sealed in checkpoint ${bundle.ledger.inclusion.checkpoint_id}` : ' (not sealed yet: the bundle carries the event and its receipt, no inclusion proof)'}; bundle written to ${out}\n`);
  } catch (e) {
    io.err(`proofstream run: the ledger did not take the receipt: ${(e as Error).message}\n`);
    return 4;
  }
  return runStatus;
}

function writeJson(file: string, value: unknown): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(value, null, 2) + '\n');
  fs.renameSync(tmp, file);
}

function progressLine(e: EngineEvent): string {
  switch (e.type) {
    case 'step.started':
      return `▶ ${e.step}\n`;
    case 'step.log':
      return `  [${e.step}] ${e.line}\n`;
    case 'step.finished': {
      const mark = e.status === 'completed' ? '✓' : e.status === 'skipped' || e.status === 'cancelled' ? '–' : '✗';
      const detail = e.status === 'completed'
        ? `${e.duration_seconds}s${e.cache_hit ? ', cache hit' : ''}`
        : `${e.status}${e.exit_code !== null ? `, exit ${e.exit_code}` : ''}${e.duration_seconds ? `, ${e.duration_seconds}s` : ''}`;
      return `${mark} ${e.step} (${detail})\n`;
    }
  }
}

/** Appends the receipt, waits (bounded) for its checkpoint, and returns the receipt bundle of §14. */
async function submit(receipt: PipelineReceipt, o: { ledgerUrl: string; apiKey: string; streamId: string; waitSealMs: number }, io: Io) {
  const ps = new Proofstream({ baseUrl: o.ledgerUrl, apiKey: o.apiKey });
  const payload = pipelineReceiptEventPayload(receipt);
  const appended = await ps.events.append(o.streamId, {
    source_ref: `pipeline-receipt:${payload.receipt_hash}`,
    event_type: PIPELINE_RECEIPT_EVENT_TYPE,
    payload: payload as never,
    occurred_at: receipt.timestamp,
  });
  const deadline = Date.now() + o.waitSealMs;
  let inclusion = null;
  if (o.waitSealMs > 0) io.err(`proofstream run: appended at seq_no ${appended.seq_no}; waiting up to ${o.waitSealMs / 1000}s for a checkpoint…\n`);
  for (;;) {
    const stored = await ps.receipts.get(appended.stream_event_id);
    if (stored.inclusion && stored.inclusion.checkpoint_id) {
      inclusion = stored.inclusion;
      break;
    }
    if (Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, Math.min(500, Math.max(0, deadline - Date.now()))));
  }
  const event = await ps.events.get(appended.stream_event_id);
  const keys = await ps.keys();
  const checkpoint = inclusion ? await ps.checkpoints.get(inclusion.checkpoint_id!) : null;
  return {
    receipt,
    ledger: { ...event, ...(inclusion ? { inclusion, checkpoint } : {}), keys },
  };
}
