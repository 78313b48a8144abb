// Audit packs: POST builds a proofstream-bundle/v1 document for a sealed range (docs/bundle.md), GET returns it.
// The document is a file, streamed as the response body; it is never held in memory whole.
import fs from 'node:fs';
import { Readable } from 'node:stream';
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler } from 'hono';
import { createMiddleware } from 'hono/factory';
import { ApiError } from '../../ledger/errors.js';
import { packReplayRef, Packs, type PackFile } from '../../ledger/packs.js';
import type { Deps } from '../deps.js';
import type { AppEnv } from '../env.js';
import { authErrors, Hex32, IdempotencyHeader, json, writeErrors } from '../schemas.js';

export const PackInput = z
  .object({
    stream_id: z.string().min(1).max(64),
    from_seq_no: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
    to_seq_no: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
  })
  .strict()
  .refine((v) => v.to_seq_no >= v.from_seq_no, { message: 'to_seq_no must be ≥ from_seq_no', path: ['to_seq_no'] })
  .openapi('PackInput');

const CheckpointRef = z.object({
  checkpoint_id: z.string(),
  tree_size: z.number().int(),
  root_hash: Hex32,
  note: z.string(),
  signer_vkey: z.string(),
});

/** Documented shape of the response (the server writes it; src/verify checks it — this schema is for /openapi.json). */
export const Bundle = z
  .object({
    format: z.literal('proofstream-bundle/v1'),
    manifest: z.object({
      pack_id: z.string(),
      stream_id: z.string(),
      from_seq_no: z.number().int(),
      to_seq_no: z.number().int(),
      created_at: z.string(),
      sections: z.record(z.string(), Hex32).openapi({ description: 'section name → digest (docs/bundle.md, "Section digests")' }),
    }),
    stream: z.object({
      stream_id: z.string(),
      origin: z.string(),
      use_case: z.string(),
      policy_id: z.string().nullable(),
      metadata: z.record(z.string(), z.unknown()).nullable(),
      created_at: z.string(),
    }),
    keys: z.array(
      z.object({
        kid: z.string(),
        alg: z.string(),
        public_key: z.string(),
        valid_from: z.string().optional().openapi({ description: 'a rotated key: first received_at its receipts may carry' }),
        valid_until: z.string().optional().openapi({ description: 'a rotated-out key: last received_at its receipts may carry' }),
      }),
    ),
    events: z.array(z.record(z.string(), z.unknown())).openapi({ description: 'the range in seq order; erased events have payload and salt null' }),
    chain: z.object({ head_before: Hex32, event_hash_before: Hex32 }),
    checkpoint: CheckpointRef,
    range_proof: z.object({ from_index: z.number().int(), to_index: z.number().int(), tree_size: z.number().int(), proof: z.array(Hex32) }),
    consistency: z.array(z.object({ from: CheckpointRef, proof: z.array(Hex32) })),
    witnesses: z.array(z.unknown()),
    anchors: z.array(z.unknown()),
  })
  .openapi('Bundle');

/** Sends a pack's file as the body, streamed. */
function sendPack(c: Context<AppEnv>, pack: PackFile, status: 200 | 201, extra: Record<string, string> = {}): Response {
  const headers = {
    'Content-Type': 'application/json',
    'Content-Length': String(pack.row.byteSize),
    ETag: `"${pack.row.sha256}"`,
    ...(status === 201 ? { Location: `/v2/audit/packs/${pack.row.id}` } : {}),
    ...extra,
  };
  // HEAD: Hono drops the body of the GET answer without cancelling it, so a stream opened here would keep its file
  // descriptor (paused once its buffer fills) until the process exits. Open nothing.
  if (c.req.method === 'HEAD') return c.body(null, status, headers);
  return c.body(Readable.toWeb(fs.createReadStream(pack.file)) as unknown as ReadableStream, status, headers);
}

function assertFileExists(pack: PackFile): void {
  if (!fs.existsSync(pack.file)) {
    // The row outlived its file: an operator removed it. Say so rather than send a truncated body.
    throw new ApiError('RESOURCE_NOT_FOUND', `pack ${pack.row.id} exists but its document is no longer stored`);
  }
}

export function auditRoutes(app: OpenAPIHono<AppEnv>, d: Deps) {
  const packs = d.ledger.packs;

  /**
   * An Idempotency-Key record for a pack holds a reference (`{"pack_ref":…}`), not the document: this turns
   * the idempotency middleware's replay of that reference back into the original document, byte for byte.
   */
  const replayPack: MiddlewareHandler<AppEnv> = createMiddleware<AppEnv>(async (c, next) => {
    await next();
    if (c.res.headers.get('idempotent-replayed') !== 'true') return;
    const ref = packReplayRef(await c.res.clone().text());
    if (!ref) return;
    const pack = packs.get(c.get('principal'), ref);
    assertFileExists(pack);
    c.res = sendPack(c, pack, 201, { 'Idempotent-Replayed': 'true' });
  });

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v2/audit/packs',
      tags: ['audit'],
      summary: 'Build an audit pack (proofstream-bundle/v1) for a sealed range of one stream',
      description:
        'The range must be sealed (to_seq_no ≤ the sealed head): otherwise 409 EVIDENCE_PENDING with Retry-After. ' +
        'Idempotency-Key is optional; a replay returns the same document byte for byte.',
      security: [{ bearer: [] }],
      middleware: [d.auth('audit'), d.rateLimit, d.body(d.ledger.config.maxEventBytes), replayPack, d.idempotency(false)] as const,
      request: { headers: IdempotencyHeader, body: { required: true, content: { 'application/json': { schema: PackInput } } } },
      responses: {
        201: json(Bundle, 'the pack document'),
        ...writeErrors,
        409: { description: 'EVIDENCE_PENDING (range not sealed yet; see Retry-After) or an Idempotency-Key conflict' },
      },
    }),
    async (c) => {
      let pack: PackFile;
      try {
        pack = await packs.build(c.get('principal'), c.req.valid('json'), c.get('idempotency'));
      } catch (e) {
        if (e instanceof ApiError && e.code === 'EVIDENCE_PENDING') {
          const s = (e.details as { retry_after_s?: number | null } | null)?.retry_after_s;
          if (typeof s === 'number') c.header('Retry-After', String(s));
        }
        throw e;
      }
      return sendPack(c, pack, 201) as never;
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v2/audit/packs/{packId}',
      tags: ['audit'],
      summary: 'An audit pack built earlier, the same document byte for byte',
      security: [{ bearer: [] }],
      middleware: [d.auth('audit'), d.rateLimit] as const,
      request: { params: z.object({ packId: z.string().min(1).max(64) }) },
      responses: { 200: json(Bundle, 'the pack document'), ...authErrors },
    }),
    (c) => {
      const pack = packs.get(c.get('principal'), c.req.valid('param').packId);
      assertFileExists(pack);
      return sendPack(c, pack, 200) as never;
    },
  );
}
