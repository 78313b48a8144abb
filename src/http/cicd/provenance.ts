// GET /api/v1/artifacts/{sha256}/provenance (docs/cicd.md "Provenance"): the artifact's provenance bundle, verifiable
// offline (`proofstream verify`, POST /v2/verify, the browser auditor), or with ?format=in-toto an in-toto Statement
// (SLSA Provenance v1) in a DSSE envelope signed with the ledger's current key.
import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { Provenance } from '../../cicd/provenance.js';
import { PROVENANCE_FORMAT, PROVENANCE_RECORD_KINDS, SEAL_RETRY_AFTER_S } from '../../verify/provenance.js';
import type { Deps } from '../deps.js';
import type { AppEnv } from '../env.js';
import { authErrors, ErrorEnvelope, json } from '../schemas.js';
import { Anchor, Hex32, StoredEvent } from '../schemas.js';
import { cicdValidationHook, Sha256Param } from './schemas.js';

const err = (description: string) => ({ description, content: { 'application/json': { schema: ErrorEnvelope } } });

const ProvenanceQuery = z.object({
  format: z
    .enum(['bundle', 'in-toto'])
    .default('bundle')
    .openapi({ description: 'bundle (default): the verifiable provenance bundle; in-toto: a DSSE envelope of an in-toto Statement v1 with a SLSA Provenance v1 predicate' }),
});

const ProvenanceInclusion = z.object({ leaf_index: z.number().int(), tree_size: z.number().int(), checkpoint_id: z.string(), proof: z.array(Hex32) });

export const ProvenanceBundle = z
  .object({
    format: z.literal(PROVENANCE_FORMAT),
    status: z.enum(['complete', 'pending']).openapi({ description: 'pending: some events are not sealed yet (listed in `pending`); fetch again after Retry-After' }),
    artifact_sha256: Hex32,
    repository_full_name: z.string(),
    stream_id: z.string(),
    commit: z.object({ sha: z.string(), branch: z.string(), pr_numbers: z.array(z.number().int()) }),
    records: z.array(
      z.object({
        kind: z.enum(PROVENANCE_RECORD_KINDS),
        id: z.string(),
        record: z.record(z.string(), z.unknown()),
        created_at: z.string(),
        updated_at: z.string(),
        seq_nos: z.array(z.number().int()).openapi({ description: "the record's events, oldest first" }),
      }),
    ),
    events: z.array(z.object({ event: StoredEvent, inclusion: ProvenanceInclusion.nullable().openapi({ description: 'null while the event is not sealed' }) })),
    pending: z.array(z.object({ kind: z.enum(PROVENANCE_RECORD_KINDS), id: z.string(), seq_no: z.number().int() })),
    checkpoint: z
      .object({
        checkpoint_id: z.string(),
        stream_id: z.string(),
        tree_size: z.number().int(),
        root_hash: Hex32,
        note: z.string(),
        signer_vkey: z.string(),
        cosignatures: z.array(z.object({ witness: z.string(), vkey: z.string(), timestamp: z.number().int(), signature_line: z.string() })),
        witness_quorum: z.object({ required: z.number().int(), count: z.number().int(), met: z.boolean() }),
        anchor: Anchor.nullable(),
        cosigned_note: z.string(),
      })
      .nullable()
      .openapi({ description: "the repository stream's latest checkpoint, with its cosignatures and anchor; null while nothing is sealed" }),
    keys: z.array(z.object({ kid: z.string(), alg: z.string(), public_key: z.string(), public_key_format: z.string() })),
    generated_at: z.string(),
  })
  .openapi('ProvenanceBundle');

export const DsseEnvelope = z
  .object({
    payloadType: z.literal('application/vnd.in-toto+json'),
    payload: z.string().openapi({ description: 'base64 of the JCS of an in-toto Statement v1 (predicateType https://slsa.dev/provenance/v1)' }),
    signatures: z.array(z.object({ keyid: z.string().openapi({ description: 'the ledger key kid (GET /v2/keys)' }), sig: z.string().openapi({ description: 'base64 Ed25519 over PAE' }) })),
  })
  .openapi('DsseEnvelope');

export function provenanceRoutes(app: OpenAPIHono<AppEnv>, d: Deps): void {
  const cfg = d.ledger.config;
  const provenance = new Provenance(d.ledger, { maxRecords: cfg.provenanceMaxRecords, maxEvents: cfg.provenanceMaxEvents });
  // The same bucket as every other /api/v1 route (rateLimitGroup shares buckets by name).
  const limit = d.rateLimitGroup('cicd', cfg.cicdRateLimit);

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/artifacts/{sha256}/provenance',
      tags: ['cicd'],
      security: [{ bearer: [] }],
      summary: "Everything known about an artifact, each record's events proved against one checkpoint (or ?format=in-toto: SLSA provenance in DSSE)",
      middleware: [d.auth('read'), limit],
      request: { params: Sha256Param, query: ProvenanceQuery },
      responses: {
        200: json(z.union([ProvenanceBundle, DsseEnvelope]), 'the provenance bundle, or with format=in-toto the DSSE envelope'),
        ...authErrors,
        400: err('VALIDATION_ERROR: sha256 is not 64 lowercase hex digits, or format is unknown (details.field)'),
        404: err('no artifact with this sha256 is visible to this key'),
        409: err('PROVENANCE_NO_RUN (format=in-toto): no pipeline run is known to have built the artifact'),
        422: err('PROVENANCE_TOO_LARGE: more records or events than PROOFSTREAM_PROVENANCE_MAX_RECORDS / _MAX_EVENTS'),
      },
    }),
    (c) => {
      const p = c.get('principal');
      const { sha256 } = c.req.valid('param');
      if (c.req.valid('query').format === 'in-toto') return c.json(provenance.inToto(p, sha256) as never, 200);
      const b = provenance.bundle(p, sha256);
      // Wait-free: unsealed events are listed as pending; say when sealing will likely have caught up.
      if (b.status === 'pending') c.header('Retry-After', String(SEAL_RETRY_AFTER_S));
      return c.json(b as never, 200);
    },
    cicdValidationHook,
  );
}
