// The build's provenance: an in-toto Statement v1 (github.com/in-toto/attestation, spec/v1) whose predicate is SLSA
// Provenance v1 (slsa.dev/spec/v1.0/provenance), with one subject per output file (its sha256), DSSE-signed with the
// ledger key. docs/builds.md "Provenance" lists every field.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { dsseEnvelope, type DsseEnvelope } from '../protocol/dsse.js';
import { IN_TOTO_PAYLOAD_TYPE, inTotoStatement, inTotoStatementBytes, SLSA_PROVENANCE_V1, slsaProvenanceV1, type InTotoStatement } from '../protocol/in-toto.js';
import type { PipelineConfig } from './engine-port.js';
/** What a build job is, as SLSA's buildType: documented in docs/builds.md "Provenance". */
export const BUILD_TYPE = 'urn:proofstream:build-type:build-job:v1';

export interface Subject {
  name: string;
  digest: { sha256: string };
}

export interface ProvenanceInput {
  jobId: string;
  builderId: string;
  config: PipelineConfig;
  pipelineHash: string;
  pipelineId: string | null;
  /** the uploaded archive's sha256 (null when the build was started from a stored pipeline without sources) */
  sourceSha256: string | null;
  runner: { mode: 'process' | 'sandbox'; isolation: string };
  toolchains: string[];
  startedOn: string;
  finishedOn: string;
  subjects: Subject[];
  /** the signed pipeline receipt this provenance sits beside, as blake3 */
  receiptHash: string;
}

/** The statement (src/protocol/in-toto.ts checks every member against in-toto v1 and SLSA v1; it throws otherwise). */
export function statementOf(x: ProvenanceInput): InTotoStatement {
  const predicate = slsaProvenanceV1({
    buildType: BUILD_TYPE,
    externalParameters: { config: x.config, ...(x.pipelineId ? { pipeline_id: x.pipelineId } : {}) },
    internalParameters: { pipeline_hash: x.pipelineHash, runner: x.runner, toolchains: x.toolchains },
    resolvedDependencies: x.sourceSha256 ? [{ name: 'source.tar.gz', digest: { sha256: x.sourceSha256 } }] : [],
    builder: { id: x.builderId },
    metadata: { invocationId: x.jobId, startedOn: x.startedOn, finishedOn: x.finishedOn },
    byproducts: [{ name: 'receipt.json', digest: { blake3: x.receiptHash.replace(/^blake3:/, '') } }],
  });
  return inTotoStatement(x.subjects, SLSA_PROVENANCE_V1, predicate);
}

/** The statement as JCS bytes in a DSSE envelope signed by the ledger key. */
export function signedProvenance(x: ProvenanceInput, kid: string, sign: (m: Uint8Array) => Uint8Array): DsseEnvelope {
  return dsseEnvelope(IN_TOTO_PAYLOAD_TYPE, inTotoStatementBytes(statementOf(x) as InTotoStatement), { keyid: kid, sign });
}

export async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

export class OutputError extends Error {}

/**
 * Every regular file under the given output paths (files or directories, relative to `workspace`), sorted, with its
 * sha256 — refusing symbolic links and anything outside the workspace, and stopping beyond `maxBytes` in total.
 */
export async function collectOutputs(workspace: string, outputs: string[], maxBytes: number): Promise<{ subjects: Subject[]; bytes: number }> {
  const files = new Map<string, string>();
  let bytes = 0;
  const root = fs.realpathSync(workspace);
  const visit = async (rel: string): Promise<void> => {
    const abs = path.join(root, rel);
    const r = path.relative(root, abs);
    if (r.startsWith('..') || path.isAbsolute(r)) throw new OutputError(`output ${JSON.stringify(rel)} is outside the workspace`);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(abs);
    } catch {
      throw new OutputError(`output ${JSON.stringify(rel)} was not produced`);
    }
    if (st.isSymbolicLink()) throw new OutputError(`output ${JSON.stringify(rel)} is a symbolic link; outputs must be files or directories`);
    if (st.isDirectory()) {
      for (const name of fs.readdirSync(abs).sort()) await visit(r === '' ? name : `${r}/${name}`);
      return;
    }
    if (!st.isFile()) throw new OutputError(`output ${JSON.stringify(rel)} is not a regular file`);
    if (files.has(r)) return;
    bytes += st.size;
    if (bytes > maxBytes) throw new OutputError(`the outputs exceed ${maxBytes} bytes (PROOFSTREAM_BUILD_MAX_RESULT_BYTES)`);
    files.set(r.split(path.sep).join('/'), await sha256File(abs));
  };
  for (const o of outputs) await visit(o);
  const subjects = [...files.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([name, sha256]) => ({ name, digest: { sha256 } }));
  return { subjects, bytes };
}
