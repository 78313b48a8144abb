// in-toto Statement v1 (github.com/in-toto/attestation spec/v1) and the SLSA Provenance v1 predicate
// (slsa.dev/spec/v1.0/provenance). docs/protocol.md §13. Pure and browser-safe.
//
// The serialized body is the statement's JCS (RFC 8785) bytes: any JSON parser reads it, and the same statement
// always gives the same bytes, so vectors (fixtures/vectors/dsse.json) are stable.
import { canonicalBytes } from './jcs.js';

export const IN_TOTO_STATEMENT_TYPE = 'https://in-toto.io/Statement/v1';
/** DSSE payloadType of an in-toto statement (in-toto attestation spec, envelope.md). */
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
export const SLSA_PROVENANCE_V1 = 'https://slsa.dev/provenance/v1';

/** in-toto ResourceDescriptor: at least one of uri, digest, content. */
export interface ResourceDescriptor {
  uri?: string;
  digest?: Record<string, string>;
  name?: string;
  downloadLocation?: string;
  mediaType?: string;
  content?: string;
  annotations?: Record<string, unknown>;
}

/** A statement subject: name and a non-empty digest set (algorithm -> lowercase hex). */
export interface InTotoSubject {
  name: string;
  digest: Record<string, string>;
}

export interface InTotoStatement<P = unknown> {
  _type: typeof IN_TOTO_STATEMENT_TYPE;
  subject: InTotoSubject[];
  predicateType: string;
  predicate: P;
}

export interface SlsaBuilder {
  id: string;
  version?: Record<string, string>;
  builderDependencies?: ResourceDescriptor[];
}

export interface SlsaBuildMetadata {
  invocationId?: string;
  startedOn?: string;
  finishedOn?: string;
}

export interface SlsaProvenanceV1 {
  buildDefinition: {
    buildType: string;
    externalParameters: Record<string, unknown>;
    internalParameters?: Record<string, unknown>;
    resolvedDependencies?: ResourceDescriptor[];
  };
  runDetails: {
    builder: SlsaBuilder;
    metadata?: SlsaBuildMetadata;
    byproducts?: ResourceDescriptor[];
  };
}

/** What slsaProvenanceV1 builds the predicate from; optional members left undefined are omitted. */
export interface SlsaProvenanceInput {
  buildType: string;
  externalParameters: Record<string, unknown>;
  internalParameters?: Record<string, unknown>;
  resolvedDependencies?: ResourceDescriptor[];
  builder: SlsaBuilder;
  metadata?: SlsaBuildMetadata;
  byproducts?: ResourceDescriptor[];
}

/** A statement or predicate that does not meet the spec; `field` is a JSON path into the input. */
export class InTotoError extends Error {
  readonly code = 'IN_TOTO_INVALID';
  constructor(message: string, readonly field: string) {
    super(`${field}: ${message}`);
  }
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const HEX = /^(?:[0-9a-f]{2})+$/;
// RFC 3339 in UTC, as the SLSA spec's Timestamp requires ("Z", optional fraction).
const UTC_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z$/;
const URI = /^[A-Za-z][A-Za-z0-9+.-]*:\S+$/;

function checkDigest(d: unknown, field: string): void {
  if (!isObj(d) || Object.keys(d).length === 0) throw new InTotoError('must be a non-empty {algorithm: hex} map', field);
  for (const [alg, v] of Object.entries(d)) {
    if (typeof v !== 'string' || !HEX.test(v)) throw new InTotoError('must be lowercase hex', `${field}.${alg}`);
  }
  if ('sha256' in d && (d.sha256 as string).length !== 64) throw new InTotoError('must be 64 hex digits', `${field}.sha256`);
}

function checkDescriptor(r: unknown, field: string): void {
  if (!isObj(r)) throw new InTotoError('must be an object', field);
  if (r.uri === undefined && r.digest === undefined && r.content === undefined) {
    throw new InTotoError('needs at least one of uri, digest, content', field);
  }
  for (const k of ['uri', 'name', 'downloadLocation', 'mediaType', 'content'] as const) {
    if (r[k] !== undefined && typeof r[k] !== 'string') throw new InTotoError('must be a string', `${field}.${k}`);
  }
  if (r.digest !== undefined) checkDigest(r.digest, `${field}.digest`);
  if (r.annotations !== undefined && !isObj(r.annotations)) throw new InTotoError('must be an object', `${field}.annotations`);
}

function checkDescriptors(list: unknown, field: string): void {
  if (!Array.isArray(list)) throw new InTotoError('must be an array', field);
  list.forEach((r, i) => checkDescriptor(r, `${field}[${i}]`));
}

/** Copies `o` without members whose value is undefined (JCS refuses undefined; absent is what the spec means). */
function defined<T extends Record<string, unknown>>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** An in-toto Statement v1; throws InTotoError when a subject, the predicateType or the predicate is invalid. */
export function inTotoStatement<P>(subjects: readonly InTotoSubject[], predicateType: string, predicate: P): InTotoStatement<P> {
  if (!Array.isArray(subjects) || subjects.length === 0) throw new InTotoError('must be a non-empty array', 'subject');
  subjects.forEach((s, i) => {
    if (!isObj(s)) throw new InTotoError('must be an object', `subject[${i}]`);
    if (typeof s.name !== 'string') throw new InTotoError('must be a string', `subject[${i}].name`);
    checkDigest(s.digest, `subject[${i}].digest`);
  });
  if (typeof predicateType !== 'string' || !URI.test(predicateType)) throw new InTotoError('must be a URI', 'predicateType');
  if (!isObj(predicate)) throw new InTotoError('must be an object', 'predicate');
  return {
    _type: IN_TOTO_STATEMENT_TYPE,
    subject: subjects.map((s) => ({ name: s.name, digest: { ...s.digest } })),
    predicateType,
    predicate,
  };
}

/** A SLSA Provenance v1 predicate; throws InTotoError naming the member that does not meet the spec. */
export function slsaProvenanceV1(input: SlsaProvenanceInput): SlsaProvenanceV1 {
  if (!isObj(input)) throw new InTotoError('must be an object', 'predicate');
  if (typeof input.buildType !== 'string' || !URI.test(input.buildType)) throw new InTotoError('must be a URI', 'buildDefinition.buildType');
  if (!isObj(input.externalParameters)) throw new InTotoError('must be an object', 'buildDefinition.externalParameters');
  if (input.internalParameters !== undefined && !isObj(input.internalParameters)) {
    throw new InTotoError('must be an object', 'buildDefinition.internalParameters');
  }
  if (input.resolvedDependencies !== undefined) checkDescriptors(input.resolvedDependencies, 'buildDefinition.resolvedDependencies');
  const b = input.builder;
  if (!isObj(b) || typeof b.id !== 'string' || !URI.test(b.id)) throw new InTotoError('must be a URI', 'runDetails.builder.id');
  if (b.version !== undefined && (!isObj(b.version) || Object.values(b.version).some((v) => typeof v !== 'string'))) {
    throw new InTotoError('must be a {string: string} map', 'runDetails.builder.version');
  }
  if (b.builderDependencies !== undefined) checkDescriptors(b.builderDependencies, 'runDetails.builder.builderDependencies');
  const m = input.metadata;
  if (m !== undefined) {
    if (!isObj(m)) throw new InTotoError('must be an object', 'runDetails.metadata');
    if (m.invocationId !== undefined && typeof m.invocationId !== 'string') throw new InTotoError('must be a string', 'runDetails.metadata.invocationId');
    for (const k of ['startedOn', 'finishedOn'] as const) {
      if (m[k] !== undefined && (typeof m[k] !== 'string' || !UTC_TIMESTAMP.test(m[k]!))) {
        throw new InTotoError('must be an RFC 3339 UTC timestamp', `runDetails.metadata.${k}`);
      }
    }
  }
  if (input.byproducts !== undefined) checkDescriptors(input.byproducts, 'runDetails.byproducts');
  const md = input.metadata;
  const metadata = md === undefined ? undefined : defined({ invocationId: md.invocationId, startedOn: md.startedOn, finishedOn: md.finishedOn });
  return {
    buildDefinition: defined({
      buildType: input.buildType,
      externalParameters: input.externalParameters,
      internalParameters: input.internalParameters,
      resolvedDependencies: input.resolvedDependencies,
    }),
    runDetails: defined({
      builder: defined({ id: b.id, version: b.version, builderDependencies: b.builderDependencies }),
      metadata: metadata && Object.keys(metadata).length > 0 ? metadata : undefined,
      byproducts: input.byproducts,
    }),
  };
}

/** The serialized body of a statement (its DSSE payload): JCS bytes. Throws if it holds non-JSON values. */
export const inTotoStatementBytes = (statement: InTotoStatement): Uint8Array => canonicalBytes(statement);

/**
 * Parses a verified DSSE payload as an in-toto Statement v1 (never re-read from the envelope): throws
 * InTotoError when it is not JSON or not a v1 statement.
 */
export function parseInTotoStatement(payload: Uint8Array): InTotoStatement {
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload));
  } catch {
    throw new InTotoError('is not UTF-8 JSON', 'payload');
  }
  if (!isObj(v)) throw new InTotoError('must be an object', 'payload');
  if (v._type !== IN_TOTO_STATEMENT_TYPE) throw new InTotoError(`must be ${IN_TOTO_STATEMENT_TYPE}`, '_type');
  return inTotoStatement(v.subject as InTotoSubject[], v.predicateType as string, v.predicate);
}
