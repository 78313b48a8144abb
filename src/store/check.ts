// The reads `proofstream check` makes: whole tables walked in key order, page by page, so a deep check of any size
// holds one page at a time. Read-only; no caches (a check must see what is stored, not what was remembered).
import fs from 'node:fs';
import Database from 'better-sqlite3';
import type { Db } from './db.js';
import { merkleNodePos, type EventRow } from './events.js';
import type { ErasureRow } from './erasures.js';
import type { CheckpointRow, WindowRow } from './checkpoints.js';
import type { LedgerKeyRow } from './ledger-keys.js';
import { sqliteOf, type StreamRow } from './streams.js';

const EVENT_COLUMNS =
  '"id", "stream_id" AS "streamId", "seq_no" AS "seqNo", "source_ref" AS "sourceRef", "event_type" AS "eventType", ' +
  '"occurred_at" AS "occurredAt", "received_at" AS "receivedAt", "payload", "salt", "payload_commitment" AS "payloadCommitment", ' +
  '"event_hash" AS "eventHash", "previous_event_hash" AS "previousEventHash", "stream_head_hash" AS "streamHeadHash", ' +
  '"protocol", "kid", "signature"';
const CHECKPOINT_COLUMNS =
  '"id", "stream_id" AS "streamId", "tree_size" AS "treeSize", "root_hash" AS "rootHash", "note", "signer_vkey" AS "signerVkey", ' +
  '"window_id" AS "windowId", "previous_checkpoint_id" AS "previousCheckpointId", "created_at" AS "createdAt"';
const WINDOW_COLUMNS =
  '"id", "stream_id" AS "streamId", "from_seq_no" AS "fromSeqNo", "to_seq_no" AS "toSeqNo", "window_root" AS "windowRoot", ' +
  '"checkpoint_id" AS "checkpointId", "trigger", "sealed_at" AS "sealedAt"';

/** The stream columns the check compares with the events (the frontier as stored bytes). */
export type CheckStreamRow = Pick<StreamRow, 'id' | 'headSeqNo' | 'headHash' | 'lastEventHash' | 'frontier' | 'sealedSeqNo' | 'lastCheckpointId'>;

export class CheckRepo {
  private readonly sqlite: Database.Database;
  private readonly stmts = new Map<string, Database.Statement>();
  constructor(db: Db) {
    this.sqlite = sqliteOf(db);
  }

  private stmt(sql: string): Database.Statement {
    let s = this.stmts.get(sql);
    if (!s) this.stmts.set(sql, (s = this.sqlite.prepare(sql)));
    return s;
  }

  /** Streams in id order after `afterId` ('' for the first page). */
  streams(afterId: string, limit: number): CheckStreamRow[] {
    return this.stmt(
      'SELECT "id", "head_seq_no" AS "headSeqNo", "head_hash" AS "headHash", "last_event_hash" AS "lastEventHash", "frontier", ' +
        '"sealed_seq_no" AS "sealedSeqNo", "last_checkpoint_id" AS "lastCheckpointId" FROM "streams" WHERE "id" > ? ORDER BY "id" LIMIT ?',
    ).all(afterId, limit) as CheckStreamRow[];
  }

  /** Events of a stream with seq_no > afterSeqNo, in seq order (payloads included: the commitment is checked). */
  events(streamId: string, afterSeqNo: number, limit: number): EventRow[] {
    return this.stmt(`SELECT ${EVENT_COLUMNS} FROM "events" WHERE "stream_id" = ? AND "seq_no" > ? ORDER BY "seq_no" LIMIT ?`).all(
      streamId,
      afterSeqNo,
      limit,
    ) as EventRow[];
  }

  /** The last `limit` events of a stream, in seq order. */
  latestEvents(streamId: string, limit: number): EventRow[] {
    const rows = this.stmt(`SELECT ${EVENT_COLUMNS} FROM "events" WHERE "stream_id" = ? ORDER BY "seq_no" DESC LIMIT ?`).all(
      streamId,
      limit,
    ) as EventRow[];
    return rows.reverse();
  }

  /** The event of a stream at seq_no, entry fields only. */
  eventHashAt(streamId: string, seqNo: number): string | undefined {
    return this.stmt('SELECT "event_hash" FROM "events" WHERE "stream_id" = ? AND "seq_no" = ?').pluck().get(streamId, seqNo) as string | undefined;
  }

  eventCount(streamId: string): number {
    return this.stmt('SELECT COUNT(*) FROM "events" WHERE "stream_id" = ?').pluck().get(streamId) as number;
  }

  /** One event by id (payload included), or undefined. */
  eventById(id: string): EventRow | undefined {
    return this.stmt(`SELECT ${EVENT_COLUMNS} FROM "events" WHERE "id" = ?`).get(id) as EventRow | undefined;
  }

  /** Payload erasures in event_id order after `afterEventId` ('' for the first page). */
  erasures(afterEventId: string, limit: number): ErasureRow[] {
    return this.stmt(
      'SELECT "event_id" AS "eventId", "stream_id" AS "streamId", "seq_no" AS "seqNo", "erased_at" AS "erasedAt", "reason", ' +
        '"erasure_event_id" AS "erasureEventId", "erased_by_key" AS "erasedByKey" FROM "event_erasures" WHERE "event_id" > ? ORDER BY "event_id" LIMIT ?',
    ).all(afterEventId, limit) as ErasureRow[];
  }

  eventExists(id: string): boolean {
    return this.stmt('SELECT 1 FROM "events" WHERE "id" = ?').pluck().get(id) !== undefined;
  }

  /** One stored Merkle node (level ≥ 1), or undefined. */
  node(streamId: string, level: number, idx: number): Buffer | undefined {
    return this.stmt('SELECT "hash" FROM "merkle_nodes" WHERE "stream_id" = ? AND "pos" = ?').pluck().get(streamId, merkleNodePos(level, idx)) as
      | Buffer
      | undefined;
  }

  nodeCount(streamId: string): number {
    return this.stmt('SELECT COUNT(*) FROM "merkle_nodes" WHERE "stream_id" = ?').pluck().get(streamId) as number;
  }

  /** One stored tile blob as stored (any length), or undefined. */
  tile(streamId: string, tileLevel: number, tileIdx: number): Buffer | undefined {
    return this.stmt('SELECT "hashes" FROM "merkle_tiles" WHERE "stream_id" = ? AND "tile_level" = ? AND "tile_idx" = ?')
      .pluck()
      .get(streamId, tileLevel, tileIdx) as Buffer | undefined;
  }

  tileCount(streamId: string): number {
    return this.stmt('SELECT COUNT(*) FROM "merkle_tiles" WHERE "stream_id" = ?').pluck().get(streamId) as number;
  }

  /** Checkpoints of a stream with tree_size > afterSize, smallest first. */
  checkpoints(streamId: string, afterSize: number, limit: number): CheckpointRow[] {
    return this.stmt(`SELECT ${CHECKPOINT_COLUMNS} FROM "checkpoints" WHERE "stream_id" = ? AND "tree_size" > ? ORDER BY "tree_size" LIMIT ?`).all(
      streamId,
      afterSize,
      limit,
    ) as CheckpointRow[];
  }

  latestCheckpoint(streamId: string): CheckpointRow | undefined {
    return this.stmt(`SELECT ${CHECKPOINT_COLUMNS} FROM "checkpoints" WHERE "stream_id" = ? ORDER BY "tree_size" DESC LIMIT 1`).get(streamId) as
      | CheckpointRow
      | undefined;
  }

  checkpointById(id: string): CheckpointRow | undefined {
    return this.stmt(`SELECT ${CHECKPOINT_COLUMNS} FROM "checkpoints" WHERE "id" = ?`).get(id) as CheckpointRow | undefined;
  }

  /** Windows of a stream with from_seq_no > afterFrom, in order. */
  windows(streamId: string, afterFrom: number, limit: number): WindowRow[] {
    return this.stmt(`SELECT ${WINDOW_COLUMNS} FROM "windows" WHERE "stream_id" = ? AND "from_seq_no" > ? ORDER BY "from_seq_no" LIMIT ?`).all(
      streamId,
      afterFrom,
      limit,
    ) as WindowRow[];
  }

  /** Idempotency records after (tenantId, key), in key order. */
  idempotency(after: { tenantId: string; key: string }, limit: number): { tenantId: string; key: string; responseBody: string }[] {
    return this.stmt(
      'SELECT "tenant_id" AS "tenantId", "key", "response_body" AS "responseBody" FROM "idempotency_records" ' +
        'WHERE ("tenant_id", "key") > (?, ?) ORDER BY "tenant_id", "key" LIMIT ?',
    ).all(after.tenantId, after.key, limit) as { tenantId: string; key: string; responseBody: string }[];
  }

  ledgerKeys(): LedgerKeyRow[] {
    return this.stmt('SELECT "kid", "alg", "public_key" AS "publicKey", "created_at" AS "createdAt", "retired_at" AS "retiredAt", "valid_from" AS "validFrom", "valid_until" AS "validUntil" FROM "ledger_keys"').all() as LedgerKeyRow[];
  }
}

/**
 * Whether another connection (a running server) has the database open: an exclusive lock in EXCLUSIVE locking mode
 * cannot be had while any other connection holds it open in WAL mode (busy at once, no waiting). Closing this probe
 * connection checkpoints the WAL into the file when it got the lock.
 */
export function databaseInUse(file: string): boolean {
  if (!fs.existsSync(file)) return false;
  const probe = new Database(file, { fileMustExist: true });
  try {
    probe.pragma('busy_timeout = 0');
    probe.pragma('locking_mode = EXCLUSIVE');
    probe.exec('BEGIN EXCLUSIVE');
    probe.exec('COMMIT');
    return false;
  } catch (e) {
    if ((e as { code?: string }).code === 'SQLITE_BUSY' || (e as { code?: string }).code === 'SQLITE_LOCKED') return true;
    throw e;
  } finally {
    probe.close();
  }
}

/**
 * A consistent copy of a live database through SQLite's online backup API, on a connection of its own (WAL: the
 * server keeps appending meanwhile; a write during the copy restarts it, so the result is one committed state).
 * Written to a 0600 temp file beside `dest`, fsynced, then renamed over it.
 */
export async function backupDatabase(source: string, dest: string): Promise<void> {
  const src = new Database(source, { fileMustExist: true });
  const tmp = `${dest}.tmp-${process.pid}`;
  try {
    src.pragma('busy_timeout = 5000');
    fs.closeSync(fs.openSync(tmp, 'w', 0o600));
    await src.backup(tmp);
    fs.chmodSync(tmp, 0o600);
    const fd = fs.openSync(tmp, 'r+');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, dest);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  } finally {
    src.close();
  }
}
