// Payload erasure (docs/operations.md "Erasing a payload"): the payload and salt of one event leave the database,
// and the erasure is itself an event appended to the same stream through Ledger.append. The entry, event hash, chain,
// Merkle tree, receipts and checkpoints are untouched: the salted commitment (docs/protocol.md §3.1) stands for the
// payload from then on.
import fs from 'node:fs';
import path from 'node:path';
import { ERASURE_EVENT_TYPE, erasureRecord, erasureSourceRef } from '../protocol/erasure.js';
import type { ReceiptView } from '../protocol/receipt.js';
import { streamEventIdOf } from '../verify/v1-proof.js';
import type { AppendResult, EventInput, IdempotencyWrite } from './appender.js';
import { ApiError, notFound } from './errors.js';
import { checkedEvent } from './integrity.js';
import { erasedView, type ErasedView, type Ledger } from './ledger.js';
import type { Principal } from './tenancy.js';
import { toV2Event } from './v1.js';
import { errField, log } from '../log.js';

/** The answer of DELETE /v2/events/{id}/payload. */
export interface ErasureAnswer {
  erased_event_id: string;
  erased: ErasedView;
  /** the erasure event's receipt */
  erasure: ReceiptView;
}

export class Erasures {
  constructor(private readonly ledger: Ledger) {}

  /**
   * Erases the payload of `eventId` (a `sev_…`, or a v1 `evt_…` id) for `reason`. 404 for an unknown event or one the
   * caller may not act on; 409 ALREADY_ERASED when its payload is gone already (also when a concurrent erasure won
   * inside the transaction); 409 NOT_ERASABLE for an erasure event (it is the record of an erasure).
   */
  async erase(p: Principal, eventId: string, reason: string, idem: IdempotencyWrite | undefined): Promise<AppendResult> {
    const { store } = this.ledger;
    const ev = store.events.get(streamEventIdOf(eventId) ?? eventId);
    if (!ev) throw notFound('event');
    const stream = this.ledger.streamFor(p, ev.streamId, 'event');
    const done = store.erasures.get(ev.id);
    if (done || ev.payload === null) {
      throw new ApiError('ALREADY_ERASED', 'the payload of this event was erased already', {
        event_id: ev.id,
        erased: done ? erasedView(done) : null,
      });
    }
    if (store.erasures.byErasureEvent(ev.id)) {
      throw new ApiError('NOT_ERASABLE', 'this event records an erasure; its payload is the fact of that erasure and stays', { event_id: ev.id });
    }
    checkedEvent(ev); // a damaged row is reported (INTEGRITY_ERROR), not erased over

    const record = erasureRecord({
      event_id: ev.id,
      seq_no: ev.seqNo,
      event_hash: ev.eventHash,
      payload_commitment: ev.payloadCommitment,
      reason,
      erased_by_key: p.keyId,
    });
    const base: EventInput = { source_ref: erasureSourceRef(ev.id), event_type: ERASURE_EVENT_TYPE, occurred_at: null, payload: record };
    // In a v1 stream every payload is a v1 envelope (docs/api.md "v1"), so the erasure event's v1 proof verifies too.
    const input =
      stream.kind === 'v1'
        ? toV2Event(stream.tenantId, { type: ERASURE_EVENT_TYPE, source_ref: base.source_ref, occurred_at: null, payload: record })
        : base;

    let packFiles: Array<{ id: string; filePath: string }> = [];
    let erased: ErasedView | undefined;
    const result = await this.ledger.append(
      p,
      ev.streamId,
      [input],
      idem,
      (receipts) => ({ erased_event_id: ev.id, erased, erasure: receipts[0] }) satisfies Partial<ErasureAnswer>,
      {
        status: 200,
        inTransaction: (receipts) => {
          const r = receipts[0]!;
          const row = {
            eventId: ev.id,
            streamId: ev.streamId,
            seqNo: ev.seqNo,
            erasedAt: r.received_at,
            reason,
            erasureEventId: r.stream_event_id,
            erasedByKey: p.keyId,
          };
          if (!store.erasures.erase(row)) throw new ApiError('ALREADY_ERASED', 'the payload of this event was erased already', { event_id: ev.id, erased: null });
          erased = erasedView(row);
          // Stored packs holding the payload go with it (their rows here, their files once this commits).
          packFiles = store.erasures.deletePacksCovering(ev.streamId, ev.seqNo);
        },
      },
    );
    this.afterCommit(ev.id, packFiles);
    // The operator's trail (the reason stays out of the log: it is in the erasure event for those who may read it).
    log.info(
      { event: 'payload_erased', event_id: ev.id, stream_id: ev.streamId, erasure_event_id: result.receipts[0]?.stream_event_id, key_id: p.keyId, packs_removed: packFiles.map((f) => f.id) },
      `payload of ${ev.id} erased`,
    );
    return result;
  }

  /** Removes the deleted packs' files and truncates the WAL, where the old page images still hold the payload. */
  private afterCommit(eventId: string, packFiles: Array<{ id: string; filePath: string }>): void {
    const { store, config } = this.ledger;
    for (const f of packFiles) {
      // A file that will not go is an orphan: Packs.sweepOrphans removes it at the next start.
      try {
        fs.rmSync(path.join(config.dataDir, f.filePath), { force: true });
      } catch (e) {
        log.error({ event: 'erasure_pack_remove_failed', pack_id: f.id, err: errField(e) }, `could not remove pack ${f.id} after an erasure`);
      }
    }
    try {
      if (!store.erasures.checkpointTruncate()) {
        log.warn({ event: 'erasure_wal_busy', event_id: eventId }, 'a reader kept the WAL from being truncated after an erasure; the next checkpoint overwrites it');
      }
    } catch (e) {
      log.error({ event: 'erasure_wal_checkpoint_failed', event_id: eventId, err: errField(e) }, 'WAL checkpoint after an erasure failed');
    }
  }
}
