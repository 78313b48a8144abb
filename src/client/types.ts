// The SDK's types, inferred from the zod schemas the server validates and documents its traffic with. Type-only
// imports: they vanish at build time, so no server (or zod) code reaches a browser bundle.
import type { z } from '@hono/zod-openapi';
import type * as S from '../http/schemas.js';
import type * as V1 from '../http/v1/schemas.js';
import type { Bundle, PackInput } from '../http/v2/audit.js';
import type { VerifyReport, VerifyRequest } from '../http/v2/verify.js';
import type * as W from '../http/v2/webhooks.js';
import type { WEBHOOK_EVENT_TYPES } from '../ledger/webhooks.js';

export type EventInput = z.input<typeof S.EventInput>;
export type Receipt = z.output<typeof S.Receipt>;
export type BatchReceipts = z.output<typeof S.BatchReceipts>;
export type StoredEvent = z.output<typeof S.StoredEvent>;
export type StoredReceipt = z.output<typeof S.StoredReceipt>;
export type StreamInput = z.input<typeof S.StreamInput>;
export type Stream = z.output<typeof S.Stream>;
export type Checkpoint = z.output<typeof S.Checkpoint>;
export type Consistency = z.output<typeof S.Consistency>;
export type Inclusion = z.output<typeof S.Inclusion>;
export type Window = z.output<typeof S.Window>;
export type PublicKey = z.output<typeof S.PublicKey>;
export type ErrorEnvelope = z.output<typeof S.ErrorEnvelope>;
export type PackRange = z.input<typeof PackInput>;
export type AuditPack = z.output<typeof Bundle>;
export type VerifyRequestBody = z.input<typeof VerifyRequest>;
export type ServerVerifyReport = z.output<typeof VerifyReport>;

export type V1EventInput = z.input<typeof V1.V1EventInput>;
export type V1Receipt = z.output<typeof V1.V1Receipt>;
export type V1Proof = z.output<typeof V1.V1Proof>;

/** DELETE /v2/events/{id}/payload answers this (src/http/v2/erasure.ts). */
export interface Erasure {
  erased_event_id: string;
  erased: unknown;
  /** the erasure event's receipt */
  erasure: Receipt;
}

export interface StreamPage {
  streams: Stream[];
  next_cursor: string | null;
}
export interface EventPage {
  events: StoredEvent[];
  next_from_seq_no: number | null;
}
export interface CheckpointPage {
  checkpoints: Checkpoint[];
  next_before: number | null;
}

// Webhooks (docs/webhooks.md): from the webhook routes' schemas.
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];
export type WebhookInput = z.input<typeof W.WebhookInput>;
export type WebhookPatch = z.input<typeof W.WebhookPatch>;
export type Webhook = z.output<typeof W.Webhook>;
export type CreatedWebhook = z.output<typeof W.CreatedWebhook>;
export type WebhookDelivery = z.output<typeof W.Delivery>;

export interface WebhookPage {
  webhooks: Webhook[];
  next_cursor: string | null;
}
export interface DeliveryPage {
  deliveries: WebhookDelivery[];
  next_cursor: string | null;
}
