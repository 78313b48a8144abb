// Request and response schemas: the same objects validate traffic and generate /openapi.json.
import { z } from '@hono/zod-openapi';

export const Hex32 = z.string().regex(/^[0-9a-f]{64}$/).openapi({ description: 'lowercase hex SHA-256' });

const JsonValue = z
  .unknown()
  .refine((v) => v !== undefined, { message: 'required' })
  .openapi({ description: 'any JSON value; committed as RFC 8785 JCS with a per-event salt' });

/**
 * Event types under `proofstream.` are the ledger's own (the erasure record, docs/protocol.md §3.4), and those under
 * `cicd.` are written only by the CI/CD routes, whose record state follows them (docs/cicd.md): an auditor must be able
 * to trust that an event typed so was written by that system, so clients of the generic routes may not use either
 * prefix, in any case.
 */
export const RESERVED_EVENT_TYPE = /^(proofstream|cicd)\./i;
export const clientEventType = (schema: z.ZodString) =>
  schema.refine((t) => !RESERVED_EVENT_TYPE.test(t), { message: 'event types starting with "proofstream." or "cicd." are reserved for the ledger\'s own events and the CI/CD routes' });

export const EventInput = z
  .object({
    source_ref: z.string().min(1).max(512).openapi({ example: 'case-2026-0001:decision-1' }),
    event_type: clientEventType(z.string().min(1).max(128)).openapi({ example: 'ai.decision' }),
    payload: JsonValue,
    occurred_at: z.iso.datetime({ offset: true }).nullable().optional().openapi({ example: '2026-06-07T12:00:00Z' }),
  })
  .strict()
  .openapi('EventInput');

export const BatchInput = z.object({ events: z.array(EventInput).min(1).max(1000) }).strict().openapi('BatchInput');

export const ReceiptSignature = z
  .object({ protocol: z.string(), alg: z.literal('Ed25519'), kid: z.string(), signature: z.string() })
  .openapi('ReceiptSignature');

export const Receipt = z
  .object({
    stream_event_id: z.string(),
    stream_id: z.string(),
    seq_no: z.number().int().min(1),
    event_hash: Hex32,
    previous_event_hash: Hex32,
    stream_head_hash: Hex32,
    received_at: z.string(),
    receipt: ReceiptSignature,
  })
  .openapi('Receipt');

export const BatchReceipts = z.object({ stream_id: z.string(), receipts: z.array(Receipt) }).openapi('BatchReceipts');

/** On an event whose payload was erased (DELETE /v2/events/{id}/payload); absent otherwise. */
export const Erased = z
  .object({
    at: z.string().openapi({ description: "the erasure event's received_at" }),
    reason: z.string(),
    erasure_event_id: z.string(),
  })
  .openapi('Erased');

export const StoredEvent = Receipt.extend({
  source_ref: z.string(),
  event_type: z.string(),
  occurred_at: z.string().nullable(),
  payload: z.unknown().openapi({ description: 'null once erased' }),
  salt: z.string().nullable().openapi({ description: 'null once erased' }),
  payload_commitment: Hex32,
  erased: Erased.optional().openapi({ description: 'present only when the payload was erased' }),
}).openapi('StoredEvent');

export const WindowPolicy = z
  .object({
    max_events: z.number().int().min(1).max(100_000).optional(),
    max_age_ms: z.number().int().min(10).max(86_400_000).optional(),
  })
  .strict()
  .openapi('WindowPolicy');

export const WitnessQuorum = z
  .object({ required: z.number().int().min(0).max(100) })
  .strict()
  .openapi('WitnessQuorum', { description: "how many of the ledger's witnesses must cosign this stream's checkpoints" });

export const StreamInput = z
  .object({
    system_id: z.string().min(1).max(64).optional(),
    use_case: z.string().min(1).max(256),
    policy_id: z.string().min(1).max(256).nullable().optional(),
    metadata: z.record(z.string(), z.unknown()).nullable().optional(),
    window_policy: WindowPolicy.nullable().optional(),
    witness_quorum: WitnessQuorum.nullable().optional(),
  })
  .strict()
  .openapi('StreamInput');

export const Stream = z
  .object({
    stream_id: z.string(),
    tenant_id: z.string(),
    system_id: z.string(),
    use_case: z.string(),
    policy_id: z.string().nullable(),
    metadata: z.record(z.string(), z.unknown()).nullable(),
    window_policy: WindowPolicy.nullable(),
    witness_quorum: WitnessQuorum.nullable().openapi({ description: "null: the ledger's global quorum" }),
    created_at: z.string(),
    head_seq_no: z.number().int(),
    stream_head_hash: Hex32,
  })
  .openapi('Stream');

export const ErrorEnvelope = z
  .object({
    error: z.object({
      code: z.string(),
      message: z.string(),
      details: z.unknown(),
      request_id: z.string().nullable(),
    }),
  })
  .openapi('Error');

export const PublicKey = z
  .object({
    kid: z.string(),
    alg: z.string(),
    public_key: z.string(),
    public_key_format: z.literal('raw-hex'),
    created_at: z.string(),
    status: z.enum(['active', 'retiring', 'retired']).openapi({
      description: 'active: signs receipts and checkpoints; retiring: co-signs checkpoints until retired_at; retired: signs nothing',
    }),
    valid_from: z.string().nullable().openapi({ description: 'first received_at its receipts may carry (null: since the ledger began)' }),
    valid_until: z.string().nullable().openapi({ description: 'last received_at its receipts may carry (null: the active key)' }),
    retired_at: z.string().nullable().openapi({ description: 'when it stops (or stopped) co-signing checkpoints; null: the active key' }),
    current: z.boolean(),
  })
  .openapi('PublicKey');

const errorResponse = (description: string) => ({ description, content: { 'application/json': { schema: ErrorEnvelope } } });

/** The error statuses every authenticated route can answer. */
export const authErrors = {
  400: errorResponse('malformed request'),
  401: errorResponse('missing or invalid system key'),
  403: errorResponse('key lacks the scope'),
  404: errorResponse('not found, or not visible to this tenant'),
  429: {
    ...errorResponse("RATE_LIMIT_EXCEEDED: over the key's tier (or the operator's cap); details {limit, remaining, reset, retry_after_s, tier, policy}"),
    headers: {
      'Retry-After': { description: 'whole seconds until a request is allowed again', schema: { type: 'integer' } },
      'X-RateLimit-Limit': { description: 'bucket capacity (burst); on every answer of a limited key (docs/api.md "Rate limits")', schema: { type: 'integer' } },
      'X-RateLimit-Remaining': { description: 'requests left now', schema: { type: 'integer' } },
      'X-RateLimit-Reset': { description: 'unix seconds when the bucket is full again', schema: { type: 'integer' } },
      'RateLimit-Policy': { description: '"<tier>";q=<burst>;w=<seconds to fill> (draft-ietf-httpapi-ratelimit-headers-10)', schema: { type: 'string' } },
      RateLimit: { description: '"<tier>";r=<remaining>;t=<seconds until full>', schema: { type: 'string' } },
    },
  },
} as const;

export const writeErrors = {
  ...authErrors,
  409: errorResponse('Idempotency-Key conflict or in progress'),
  413: errorResponse('body too large'),
  415: errorResponse('not application/json'),
  422: errorResponse('valid JSON that breaks the contract'),
} as const;

export const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { 'application/json': { schema } },
});

/**
 * The Idempotency-Key header on the append routes, documented as a plain OpenAPI parameter rather than a
 * `request.headers` zod schema: that schema would add a validator that materializes every request header (a WHATWG
 * Headers object) on the hottest routes, only to re-check what the idempotency middleware already enforces.
 */
export const IDEMPOTENCY_KEY_PARAM = {
  name: 'idempotency-key',
  in: 'header' as const,
  required: false,
  description: '1–255 characters; required on append routes',
  schema: { type: 'string' as const, description: '1–255 characters; required on append routes' },
};

export const IdempotencyHeader = z.object({
  'idempotency-key': z.string().optional().openapi({ description: '1–255 characters; required on append routes' }),
});

export const StreamIdParam = z.object({ streamId: z.string().min(1).max(64) });

export const Cosignature = z
  .object({
    witness: z.string(),
    vkey: z.string().openapi({ description: 'the witness cosignature/v1 verifier key' }),
    timestamp: z.number().int().openapi({ description: 'POSIX seconds the witness signed' }),
    signature_line: z.string().openapi({ description: '— <name> base64(keyID ‖ time ‖ signature)' }),
  })
  .openapi('Cosignature');

export const Anchor = z
  .object({
    kind: z.literal('rfc3161'),
    epoch_id: z.string(),
    epoch_root: Hex32,
    epoch_size: z.number().int(),
    leaf_index: z.number().int(),
    checkpoint_hash: Hex32,
    path: z.array(Hex32),
    token: z.string().openapi({ description: 'base64 DER RFC 3161 TimeStampToken' }),
    tsa_chain: z.array(z.string()),
    gen_time: z.string(),
  })
  .openapi('Anchor');

export const Checkpoint = z
  .object({
    checkpoint_id: z.string(),
    stream_id: z.string(),
    tree_size: z.number().int(),
    root_hash: Hex32,
    note: z.string().openapi({ description: 'C2SP tlog-checkpoint signed note' }),
    signer_vkey: z.string().openapi({ description: 'C2SP verifier key: name+hex(keyID)+base64(0x01‖pubkey)' }),
    window_id: z.string(),
    previous_checkpoint_id: z.string().nullable(),
    created_at: z.string(),
    cosignatures: z.array(Cosignature),
    witness_quorum: z.object({ required: z.number().int(), count: z.number().int(), met: z.boolean() }),
    anchor: Anchor.nullable(),
    anchor_required: z.boolean().openapi({ description: 'false when the ledger has no TSA configured' }),
    cosigned_note: z.string().openapi({ description: 'the note with every witness cosignature line appended' }),
  })
  .openapi('Checkpoint');

export const Inclusion = z
  .object({
    leaf_index: z.number().int(),
    tree_size: z.number().int(),
    checkpoint_id: z.string().nullable(),
    root_hash: Hex32,
    proof: z.array(Hex32),
  })
  .openapi('Inclusion');

export const StoredReceipt = Receipt.extend({ inclusion: Inclusion.nullable() }).openapi('StoredReceipt');

export const Consistency = z
  .object({
    from_checkpoint_id: z.string(),
    to_checkpoint_id: z.string(),
    from_tree_size: z.number().int(),
    to_tree_size: z.number().int(),
    from_root: Hex32,
    to_root: Hex32,
    proof: z.array(Hex32),
  })
  .openapi('Consistency');

export const Window = z
  .object({
    window_id: z.string(),
    stream_id: z.string(),
    from_seq_no: z.number().int(),
    to_seq_no: z.number().int(),
    event_count: z.number().int(),
    window_root: Hex32,
    trigger: z.string(),
    sealed_at: z.string(),
    checkpoint: Checkpoint,
    events: z.array(
      z.object({
        stream_event_id: z.string(),
        seq_no: z.number().int(),
        event_hash: Hex32,
        leaf_index: z.number().int(),
        inclusion_proof: z.array(Hex32),
      }),
    ),
  })
  .openapi('Window');
