// Group commit. Appends arriving together wait for one transaction (one fsync under synchronous=FULL) and
// are answered only after it commits, so a receipt never names an event that a crash could lose.
import { randomBytes } from 'node:crypto';
import { bytesToHex, hexToBytes, utf8ToBytes } from '../protocol/bytes.js';
import { commitCanonicalPayload, eventHash, genesisHead, nextHead } from '../protocol/event.js';
import { canonicalize, findUnsafeNumber } from '../protocol/jcs.js';
import { frontierAppend } from '../protocol/merkle.js';
import { RECEIPT_ALG, RECEIPT_PROTOCOL, receiptMessage, type ReceiptView } from '../protocol/receipt.js';
import type { Store } from '../store/index.js';
import type { StreamHead } from '../store/streams.js';
import { ApiError } from './errors.js';
import { newId } from './ids.js';
import type { Signer } from './signer.js';

export interface EventInput {
  source_ref: string;
  event_type: string;
  payload: unknown;
  occurred_at?: string | null;
}

export type { ReceiptView };

/** The idempotency record to write in the same transaction as the events. */
export interface IdempotencyWrite {
  tenantId: string;
  key: string;
  fingerprint: string;
  ttlMs: number;
}

export interface AppendResult {
  status: number;
  /** the JSON response text, byte-identical for the original answer and every replay */
  bodyText: string;
  receipts: ReceiptView[];
}

interface PreparedEvent {
  sourceRef: string;
  eventType: string;
  occurredAt: string | null;
  payloadJcs: string;
  salt: string;
  commitment: string;
}

interface Job {
  streamId: string;
  items: PreparedEvent[];
  idem: IdempotencyWrite | undefined;
  render: (receipts: ReceiptView[]) => unknown;
  resolve: (r: AppendResult) => void;
  reject: (e: unknown) => void;
}

/** Told, after each commit, the new head of every stream it touched. */
export type CommitListener = (streamId: string, headSeqNo: number) => void;

const ZERO_HEX = '0'.repeat(64);
/** Bounds one transaction so a burst cannot hold the event loop for long. */
const MAX_EVENTS_PER_COMMIT = 4096;

export function frontierToBuffer(frontier: Uint8Array[]): Buffer {
  return Buffer.concat(frontier);
}
export function frontierFromBuffer(b: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < b.length; i += 32) out.push(new Uint8Array(b.subarray(i, i + 32)));
  return out;
}

export function initialHead(streamId: string): StreamHead {
  return { seqNo: 0, headHash: bytesToHex(genesisHead(streamId)), lastEventHash: ZERO_HEX, frontier: Buffer.alloc(0) };
}

export class Appender {
  private queue: Job[] = [];
  private scheduled = false;
  private listeners: CommitListener[] = [];
  readonly stats = { commits: 0, events: 0 };

  constructor(
    private readonly store: Store,
    private readonly signer: Signer,
    private readonly commitDelayMs = 0,
  ) {}

  onCommit(l: CommitListener): void {
    this.listeners.push(l);
  }

  /**
   * Validates and prepares outside the transaction (JCS, salt, commitment do not depend on the position),
   * then queues. Throws ApiError synchronously for input that can never be appended.
   */
  append(
    streamId: string,
    inputs: readonly EventInput[],
    idem: IdempotencyWrite | undefined,
    render: (receipts: ReceiptView[]) => unknown,
  ): Promise<AppendResult> {
    const items = inputs.map((e, i) => prepare(e, inputs.length > 1 ? i : undefined));
    return new Promise((resolve, reject) => {
      this.queue.push({ streamId, items, idem, render, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    const run = () => {
      this.scheduled = false;
      this.flush();
    };
    if (this.commitDelayMs > 0) setTimeout(run, this.commitDelayMs);
    else setImmediate(run);
  }

  /** One transaction for everything queued (up to the bound); each job in its own savepoint. */
  flush(): void {
    let n = 0;
    let take = 0;
    while (take < this.queue.length && (take === 0 || n + this.queue[take]!.items.length <= MAX_EVENTS_PER_COMMIT)) {
      n += this.queue[take]!.items.length;
      take++;
    }
    const jobs = this.queue.splice(0, take);
    if (this.queue.length) this.schedule();
    if (!jobs.length) return;

    const outcomes: Array<{ ok: true; r: AppendResult } | { ok: false; e: unknown }> = [];
    const heads = new Map<string, StreamHead>();
    try {
      this.store.write(() => {
        for (const job of jobs) {
          try {
            const { result, head } = this.store.savepoint(() => this.applyJob(job, heads.get(job.streamId)));
            heads.set(job.streamId, head);
            outcomes.push({ ok: true, r: result });
          } catch (e) {
            outcomes.push({ ok: false, e });
          }
        }
        for (const [id, h] of heads) this.store.streams.saveHead(id, h);
      });
    } catch (e) {
      // The commit itself failed: nothing is durable, so nobody gets a receipt.
      for (const j of jobs) j.reject(e);
      return;
    }
    this.stats.commits++;
    jobs.forEach((job, i) => {
      const o = outcomes[i]!;
      if (o.ok) {
        this.stats.events += job.items.length;
        job.resolve(o.r);
      } else job.reject(o.e);
    });
    for (const [id, h] of heads) for (const l of this.listeners) l(id, h.seqNo);
  }

  private applyJob(job: Job, cached: StreamHead | undefined): { result: AppendResult; head: StreamHead } {
    const start = cached ?? this.store.streams.head(job.streamId);
    if (!start) throw new ApiError('RESOURCE_NOT_FOUND', 'stream not found');
    let seqNo = start.seqNo;
    let head = hexToBytes(start.headHash);
    let prevEventHash = start.lastEventHash;
    let frontier = frontierFromBuffer(start.frontier);
    const receivedAt = new Date().toISOString();
    const receipts: ReceiptView[] = [];

    for (const it of job.items) {
      seqNo++;
      const fields = {
        stream_id: job.streamId,
        seq_no: seqNo,
        source_ref: it.sourceRef,
        event_type: it.eventType,
        occurred_at: it.occurredAt,
        received_at: receivedAt,
        payload_commitment: it.commitment,
      };
      const evHash = eventHash(fields);
      head = nextHead(head, evHash);
      const evHex = bytesToHex(evHash);
      const headHex = bytesToHex(head);
      const signature = bytesToHex(
        this.signer.sign(
          receiptMessage({
            kid: this.signer.kid,
            stream_id: job.streamId,
            seq_no: seqNo,
            event_hash: evHex,
            stream_head_hash: headHex,
            received_at: receivedAt,
          }),
        ),
      );
      const id = newId('sev');
      this.store.events.insert({
        id,
        streamId: job.streamId,
        seqNo,
        sourceRef: it.sourceRef,
        eventType: it.eventType,
        occurredAt: it.occurredAt,
        receivedAt,
        payload: it.payloadJcs,
        salt: it.salt,
        payloadCommitment: it.commitment,
        eventHash: evHex,
        previousEventHash: prevEventHash,
        streamHeadHash: headHex,
        protocol: RECEIPT_PROTOCOL,
        kid: this.signer.kid,
        signature,
      });
      const step = frontierAppend(frontier, seqNo - 1, evHash);
      frontier = step.frontier;
      for (const n of step.completed) this.store.events.insertNode(job.streamId, n.level, n.index, n.hash);
      receipts.push({
        stream_event_id: id,
        stream_id: job.streamId,
        seq_no: seqNo,
        event_hash: evHex,
        previous_event_hash: prevEventHash,
        stream_head_hash: headHex,
        received_at: receivedAt,
        receipt: { protocol: RECEIPT_PROTOCOL, alg: RECEIPT_ALG, kid: this.signer.kid, signature },
      });
      prevEventHash = evHex;
    }

    const bodyText = JSON.stringify(job.render(receipts));
    if (job.idem) {
      const now = Date.now();
      const fresh = this.store.idempotency.insert({
        tenantId: job.idem.tenantId,
        key: job.idem.key,
        fingerprint: job.idem.fingerprint,
        status: 201,
        responseBody: bodyText,
        createdAt: now,
        expiresAt: now + job.idem.ttlMs,
      });
      // Only reachable when another process holds the key: roll this job back rather than answer twice.
      if (!fresh) throw new ApiError('IDEMPOTENCY_IN_PROGRESS', 'this Idempotency-Key was used concurrently; retry');
    }
    return {
      result: { status: 201, bodyText, receipts },
      head: { seqNo, headHash: bytesToHex(head), lastEventHash: prevEventHash, frontier: frontierToBuffer(frontier) },
    };
  }
}

function prepare(e: EventInput, index: number | undefined): PreparedEvent {
  const at = index === undefined ? '/payload' : `/events/${index}/payload`;
  const unsafe = findUnsafeNumber(e.payload);
  if (unsafe !== null) {
    throw new ApiError('NOT_CANONICALIZABLE', 'payload has an integer beyond ±(2^53−1), which I-JSON readers cannot reproduce', {
      path: at + unsafe,
      index,
    });
  }
  let payloadJcs: string;
  try {
    payloadJcs = canonicalize(e.payload);
  } catch (err) {
    throw new ApiError('NOT_CANONICALIZABLE', `payload cannot be canonicalized (RFC 8785): ${(err as Error).message}`, {
      path: at + ((err as { path?: string }).path ?? ''),
      index,
    });
  }
  const salt = randomBytes(32);
  return {
    sourceRef: e.source_ref,
    eventType: e.event_type,
    occurredAt: e.occurred_at ?? null,
    payloadJcs,
    salt: salt.toString('hex'),
    commitment: bytesToHex(commitCanonicalPayload(salt, utf8ToBytes(payloadJcs))),
  };
}
