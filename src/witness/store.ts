// The witness's state: per origin, the latest cosigned (size, root hash), in its own SQLite database
// (WAL, synchronous=FULL: a commit is on disk when it returns). Migrations (drizzle-witness/) are applied
// when the store opens.
//
// The tlog-witness spec requires the "old == latest cosigned size" check and the update of the latest
// checkpoint to be one atomic step (otherwise two requests with the same old size could roll the state
// back). `advance` does the check, the consistency check and the write inside one BEGIN IMMEDIATE
// transaction, synchronously: no other request of this process can interleave (better-sqlite3 is
// synchronous), and the IMMEDIATE write lock serializes other processes on the same file.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { eq } from 'drizzle-orm';
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { bytesEqual, bytesToHex, hexToBytes } from '../protocol/bytes.js';
import { verifyConsistency } from '../protocol/merkle.js';
import * as schema from './schema.js';

const MIGRATIONS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../drizzle-witness');

/** The latest cosigned checkpoint of one origin. */
export interface WitnessedState {
  size: number;
  rootHash: Uint8Array;
}

/** What `advance` wants to record: the checkpoint being cosigned and the proof from `old`. */
export interface AdvanceRequest {
  origin: string;
  old: number;
  size: number;
  rootHash: Uint8Array;
  proof: readonly Uint8Array[];
  /** Checkpoint body (note text), stored for the record. */
  checkpoint: string;
}

/**
 * Outcome of `advance`:
 *  - ok: recorded (or, for old == size with the same root, re-confirmed); cosign it;
 *  - conflict: `old` is not the latest cosigned size, which is `size` (→ 409);
 *  - inconsistent: same size with a different root, or the consistency proof does not verify (→ 422).
 */
export type AdvanceResult =
  | { kind: 'ok' }
  | { kind: 'conflict'; size: number }
  | { kind: 'inconsistent'; reason: 'root_mismatch' | 'bad_proof' };

export class WitnessStore {
  private readonly db: BetterSQLite3Database<typeof schema>;

  private constructor(private readonly sqlite: Database.Database) {
    this.db = drizzle(sqlite, { schema });
  }

  /** Opens (creating if needed) the database file and applies migrations. */
  static open(file: string): WitnessStore {
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true, mode: 0o700 });
    const sqlite = new Database(file);
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = FULL');
    sqlite.pragma('busy_timeout = 5000');
    const store = new WitnessStore(sqlite);
    migrate(store.db, { migrationsFolder: MIGRATIONS });
    return store;
  }

  /** The latest cosigned state of `origin`, or undefined if it never cosigned one (size 0). */
  get(origin: string): WitnessedState | undefined {
    const row = this.db.select().from(schema.cosignedCheckpoints).where(eq(schema.cosignedCheckpoints.origin, origin)).get();
    return row ? { size: row.size, rootHash: hexToBytes(row.rootHash) } : undefined;
  }

  /**
   * Atomically: check that `old` equals the latest cosigned size (0 if none), check that the checkpoint
   * is consistent with the stored one (same root when old == size; a valid RFC 9162 consistency proof
   * from the stored root when 0 < old < size; nothing to check when old == 0), and record it.
   * Callers must already have verified the log signature and that old ≤ size.
   */
  advance(req: AdvanceRequest): AdvanceResult {
    return this.sqlite
      .transaction((): AdvanceResult => {
        const cur = this.get(req.origin);
        const curSize = cur?.size ?? 0;
        if (req.old !== curSize) return { kind: 'conflict', size: curSize };
        if (cur && req.old === req.size) {
          if (req.proof.length !== 0 || !bytesEqual(cur.rootHash, req.rootHash)) return { kind: 'inconsistent', reason: 'root_mismatch' };
        } else if (cur && req.old > 0) {
          if (!verifyConsistency(req.old, req.size, req.proof, cur.rootHash, req.rootHash)) return { kind: 'inconsistent', reason: 'bad_proof' };
        }
        const values = {
          origin: req.origin,
          size: req.size,
          rootHash: bytesToHex(req.rootHash),
          checkpoint: req.checkpoint,
          updatedAt: new Date().toISOString(),
        };
        this.db
          .insert(schema.cosignedCheckpoints)
          .values(values)
          .onConflictDoUpdate({
            target: schema.cosignedCheckpoints.origin,
            set: { size: values.size, rootHash: values.rootHash, checkpoint: values.checkpoint, updatedAt: values.updatedAt },
          })
          .run();
        return { kind: 'ok' };
      })
      .immediate();
  }

  close(): void {
    if (this.sqlite.open) this.sqlite.close();
  }
}
