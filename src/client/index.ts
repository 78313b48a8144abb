// proofstream/client: the TypeScript SDK (docs/sdk.md). Browser-safe: nothing here reaches a Node built-in
// (test/sdk-bundle.test.ts bundles it with platform "browser" and fails on any). Node-only extras live in
// proofstream/client/node.
export { Proofstream, type ProofstreamOptions, type WaitOptions, type WriteOptions } from './client.js';
export { ProofstreamError, ProofstreamVerificationError, type ClientErrorCode } from './errors.js';
export { isRetryable, newIdempotencyKey, type RequestOptions, type RetryInfo, type RetryOptions } from './transport.js';
export { SseParser, type SseMessage } from './sse.js';
export type { FeedCheckpoint, FeedEvent, FeedItem, FollowOptions } from './follow.js';
export { MemoryCheckpointStore, Monitor, type CheckpointStore, type ForkAlarm, type MonitorOptions, type MonitorResult, type VerifiedCheckpoint } from './monitor.js';
export type { Trust } from './trust.js';
export type { Report, TrustedKey } from '../verify/index.js';
export type { ForkEvidence } from '../verify/report.js';
export type * from './types.js';
export { verifyWebhookSignature, type WebhookRequest, type WebhookVerdict } from './webhook-signature.js';
