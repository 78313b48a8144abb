// Events (the leaves) and the Merkle nodes above them.
import { and, asc, eq, gte, sql } from 'drizzle-orm';
import type { Db } from './db.js';
import { events, merkleNodes } from './schema.js';

export type EventRow = typeof events.$inferSelect;

export class EventsRepo {
  private readonly insertStmt;
  private readonly insertNodeStmt;
  private readonly getStmt;
  constructor(private readonly db: Db) {
    const p = <T>(name: string) => sql.placeholder(name) as unknown as T;
    this.insertStmt = db
      .insert(events)
      .values({
        id: p('id'),
        streamId: p('streamId'),
        seqNo: p('seqNo'),
        sourceRef: p('sourceRef'),
        eventType: p('eventType'),
        occurredAt: p('occurredAt'),
        receivedAt: p('receivedAt'),
        payload: p('payload'),
        salt: p('salt'),
        payloadCommitment: p('payloadCommitment'),
        eventHash: p('eventHash'),
        previousEventHash: p('previousEventHash'),
        streamHeadHash: p('streamHeadHash'),
        protocol: p('protocol'),
        kid: p('kid'),
        signature: p('signature'),
      })
      .prepare();
    this.insertNodeStmt = db
      .insert(merkleNodes)
      .values({ streamId: p('streamId'), level: p('level'), idx: p('idx'), hash: p('hash') })
      .prepare();
    this.getStmt = db.select().from(events).where(eq(events.id, sql.placeholder('id'))).prepare();
  }

  insert(row: EventRow): void {
    this.insertStmt.run(row);
  }

  insertNode(streamId: string, level: number, idx: number, hash: Uint8Array): void {
    this.insertNodeStmt.run({ streamId, level, idx, hash: Buffer.from(hash.buffer, hash.byteOffset, hash.byteLength) });
  }

  get(id: string): EventRow | undefined {
    return this.getStmt.get({ id });
  }

  list(streamId: string, fromSeqNo: number, limit: number): EventRow[] {
    return this.db
      .select()
      .from(events)
      .where(and(eq(events.streamId, streamId), gte(events.seqNo, fromSeqNo)))
      .orderBy(asc(events.seqNo))
      .limit(limit)
      .all();
  }
}
