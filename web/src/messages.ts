// The messages between the auditor page (main.ts) and its verification worker (worker.ts).
import type { Report } from '../../src/verify/index.js';

/** What the auditor gave as trust: a keys file (GET /v2/keys), a trust policy, or nothing (the bundle's own keys). */
export type TrustInput = { kind: 'none' } | { kind: 'text'; text: string; name: string };

export type ToWorker =
  | { type: 'verify'; file: Blob; name: string; trust: TrustInput }
  | { type: 'events'; id: number; query: string; offset: number; limit: number };

export type Phase = 'reading' | 'parsing' | 'verifying';

/** One row of the events table. */
export interface EventRow {
  index: number;
  seq_no: string;
  event_type: string;
  source_ref: string;
  occurred_at: string;
  event_hash: string;
  kid: string;
  payload: string;
}

export interface CheckpointSummary {
  checkpoint_id: string;
  origin: string;
  tree_size: string;
  root_hash: string;
}

export interface WitnessSummary {
  name: string;
  timestamp: string;
}

export interface AnchorSummary {
  kind: string;
  epoch_id: string;
  /** The TSA's genTime, ISO 8601, when the token parses. */
  time: string;
  tsa: string;
}

/** What the page shows besides the report: read from the object, labelled by whether the report vouches for it. */
export interface Summary {
  kind: string;
  trust: 'keys' | 'policy' | 'bundle' | 'none';
  /** The trust input's name, for the report header. */
  trustName: string;
  /** The quorum the policy asks for, in words; null without a policy. */
  quorum: string | null;
  checkpoint: CheckpointSummary | null;
  witnesses: WitnessSummary[];
  anchors: AnchorSummary[];
  events: number;
  stream_id: string;
  range: string;
}

export type FromWorker =
  | { type: 'progress'; phase: Phase; done: number; total: number }
  | { type: 'result'; report: Report; summary: Summary; ms: number; timing: { read_ms: number; parse_ms: number; verify_ms: number } }
  | { type: 'error'; message: string }
  | { type: 'events'; id: number; rows: EventRow[]; matched: number; total: number };
