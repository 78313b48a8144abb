// v1 request and response schemas (docs/api.md, "v1"): they validate traffic and generate /openapi.json.
import { z } from '@hono/zod-openapi';
import { clientEventType } from '../schemas.js';
import { V1_STATUSES } from '../../verify/v1-proof.js';
import { Checkpoint, Hex32, PublicKey, StoredEvent } from '../schemas.js';

export const V1EventInput = z
  .object({
    type: clientEventType(z.string().min(1).max(128)).default('event').openapi({ example: 'ai.decision', description: 'the v2 event_type; default "event"' }),
    status: z.string().min(1).max(64).default('recorded').openapi({ example: 'verified', description: 'committed in the payload; default "recorded"' }),
    occurred_at: z.iso.datetime({ offset: true }).nullable().optional().openapi({ example: '2026-06-07T12:00:00Z', description: 'RFC 3339' }),
    source_ref: z.string().min(1).max(512).openapi({ example: 'case-2026-0001' }),
    payload: z
      .unknown()
      .refine((v) => v !== undefined, { message: 'required' })
      .openapi({ description: 'any JSON value; committed (with status and tenant) as RFC 8785 JCS with a per-event salt' }),
  })
  .strict()
  .openapi('V1EventInput');

export const V1BatchInput = z.object({ events: z.array(V1EventInput).min(1).max(1000) }).strict().openapi('V1BatchInput');

export const V1Receipt = z
  .object({
    id: z.string().openapi({ example: 'evt_…' }),
    tenant_id: z.string(),
    event_hash: Hex32,
    received_at: z.string(),
    signature: z.object({
      alg: z.literal('Ed25519'),
      kid: z.string(),
      value: z.string().openapi({ description: 'the receipt signature (docs/protocol.md §4), 128 lowercase hex digits' }),
    }),
  })
  .openapi('V1Receipt');

export const V1BatchReceipts = z.object({ events: z.array(V1Receipt) }).openapi('V1BatchReceipts');

export const V1Inclusion = z
  .object({
    leaf_index: z.number().int(),
    tree_size: z.number().int(),
    checkpoint_id: z.string(),
    proof: z.array(Hex32),
  })
  .openapi('V1Inclusion');

export const V1Proof = z
  .object({
    kind: z.literal('v1_proof'),
    status: z.enum(V1_STATUSES),
    event: StoredEvent,
    receipt: V1Receipt,
    inclusion: V1Inclusion.nullable(),
    checkpoint: Checkpoint.passthrough()
      .nullable()
      .openapi({ description: 'as GET /v2/checkpoints/{id} returns it (with its witness and anchor evidence when present)' }),
    anchor: z.unknown().openapi({ description: "the checkpoint's anchor, null when none" }),
    keys: z.array(PublicKey),
  })
  .openapi('V1Proof');

export const V1EventIdParam = z.object({ eventId: z.string().min(1).max(64) });
