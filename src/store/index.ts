// The store: every repository over one connection, plus the transaction primitive the ledger builds on.
import { CheckRepo } from './check.js';
import { BuildsRepo } from './builds.js';
import { CicdRepo } from './cicd.js';
import { ConnectorsRepo } from './connectors.js';
import { CollectorsRepo } from './collectors.js';
import { CheckpointsRepo } from './checkpoints.js';
import type Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { isPostgresUrl, openDatabase, openPostgres, type Handle, type OpenOptions } from './db.js';
import type { PgDatabase } from './pg/database.js';
import { EventsRepo } from './events.js';
import { ErasuresRepo } from './erasures.js';
import { EvidenceRepo } from './evidence.js';
import { IdempotencyRepo } from './idempotency.js';
import { LedgerKeysRepo } from './ledger-keys.js';
import { PacksRepo } from './packs.js';
import { PipelinesRepo } from './pipelines.js';
import { StreamsRepo } from './streams.js';
import { TenancyRepo } from './tenancy.js';
import { WebhooksRepo } from './webhooks.js';

export class Store {
  readonly tenancy: TenancyRepo;
  readonly streams: StreamsRepo;
  readonly events: EventsRepo;
  readonly idempotency: IdempotencyRepo;
  readonly ledgerKeys: LedgerKeysRepo;
  readonly checkpoints: CheckpointsRepo;
  readonly packs: PacksRepo;
  readonly evidence: EvidenceRepo;
  /** whole-table reads for `proofstream check` (src/ledger/check.ts) */
  readonly check: CheckRepo;
  /** webhooks and their outbox (src/ledger/webhooks.ts) */
  readonly webhooks: WebhooksRepo;
  /** payload erasure (src/ledger/erasure.ts) */
  readonly erasures: ErasuresRepo;
  /** CI/CD evidence records' derived state (src/cicd/) */
  readonly cicd: CicdRepo;
  /** CI/CD connectors (src/cicd/connectors.ts) */
  readonly connectors: ConnectorsRepo;
  /** collector keys and accepted collector items (src/cicd/collectors.ts) */
  readonly collectors: CollectorsRepo;
  /** build jobs (src/builds/) */
  readonly builds: BuildsRepo;
  /** pipelines, executions and their logs (src/pipelines/) */
  readonly pipelines: PipelinesRepo;

  private readonly tx: Transactions;

  private constructor(private readonly h: Handle) {
    this.tx = new Transactions(h.sqlite);
    this.tenancy = new TenancyRepo(h.db);
    this.streams = new StreamsRepo(h.db);
    this.events = new EventsRepo(h.db);
    this.idempotency = new IdempotencyRepo(h.db);
    this.ledgerKeys = new LedgerKeysRepo(h.db);
    this.checkpoints = new CheckpointsRepo(h.db);
    this.packs = new PacksRepo(h.db);
    this.evidence = new EvidenceRepo(h.db);
    this.check = new CheckRepo(h.db);
    this.webhooks = new WebhooksRepo(h.db);
    this.erasures = new ErasuresRepo(h.db);
    this.cicd = new CicdRepo(h.db);
    this.connectors = new ConnectorsRepo(h.db);
    this.collectors = new CollectorsRepo(h.db);
    this.builds = new BuildsRepo(h.db);
    this.pipelines = new PipelinesRepo(h.db);
  }

  /** A SQLite file, or a PostgreSQL database when `target` is a postgres:// URL (DATABASE_URL). */
  static open(target: string, opts: OpenOptions = {}): Store {
    return new Store(isPostgresUrl(target) ? openPostgres(target) : openDatabase(target, opts));
  }

  get kind(): 'sqlite' | 'postgres' {
    return this.h.kind;
  }

  /**
   * Whether this process holds the named lease (work that must run on one node at a time). On SQLite there is one
   * process per database, so always. On PostgreSQL a session advisory lock, kept until the process ends.
   */
  tryLease(name: string): boolean {
    return this.h.kind === 'sqlite' || (this.h.sqlite as unknown as PgDatabase).tryLease(name);
  }

  /** BEGIN IMMEDIATE … COMMIT: takes the write lock up front, so concurrent writers serialize instead of failing. */
  write<T>(fn: () => T): T {
    return this.tx.run(fn, true);
  }

  /**
   * `fn`'s reads from one consistent snapshot, blocking no writer (SQLite: a deferred read transaction; PostgreSQL:
   * REPEATABLE READ). For readers that compare tables with each other while the server writes (proofstream check).
   */
  readSnapshot<T>(fn: () => T): T {
    // On PostgreSQL a plain BEGIN takes the writer lock (src/store/pg/database.ts), hence its own snapshot call.
    if (this.h.kind === 'postgres') return (this.h.sqlite as unknown as PgDatabase).readSnapshot(fn);
    return this.tx.run(fn, false);
  }

  /** A savepoint inside write(): rolls back only this part when fn throws. */
  savepoint<T>(fn: () => T): T {
    return this.tx.run(fn, false);
  }

  /** PostgreSQL: the database's size on the server (a metric); SQLite's size is its file's. */
  databaseBytes(): number {
    if (this.h.kind !== 'postgres') return fs.statSync(this.h.sqlite.name).size;
    return this.h.sqlite.prepare('SELECT pg_database_size(current_database())').pluck().get() as number;
  }

  ping(): boolean {
    return this.tx.ping.get() !== undefined;
  }

  /**
   * Whether a write could start now: takes the write lock (BEGIN IMMEDIATE) and lets it go, writing nothing. Throws
   * what SQLite says (read-only file, lock held past busy_timeout). Inside an open transaction it only checks the mode.
   */
  probeWrite(): void {
    const db = this.h.sqlite;
    if (this.h.kind === 'postgres') {
      if (!db.inTransaction) this.tx.run(() => undefined, true);
      return;
    }
    if (db.readonly) throw new Error('the database is open read-only');
    if (db.inTransaction) return;
    db.exec('BEGIN IMMEDIATE');
    db.exec('ROLLBACK');
  }

  /** Bytes the database can still grow by: under its max_page_count, and on its filesystem, whichever is less. */
  headroomBytes(): number {
    // PostgreSQL's space is the server's to watch (a full disk still fails writes with SQLITE_FULL's meaning).
    if (this.h.kind === 'postgres') return Number.MAX_SAFE_INTEGER;
    const p = (name: string) => this.h.sqlite.pragma(name, { simple: true }) as number;
    const pageSize = p('page_size');
    const underCap = (p('max_page_count') - p('page_count') + p('freelist_count')) * pageSize;
    const fsStat = fs.statfsSync(path.dirname(path.resolve(this.h.sqlite.name)));
    return Math.min(underCap, fsStat.bavail * fsStat.bsize);
  }

  close(): void {
    if (this.h.sqlite.open) this.h.sqlite.close();
  }
}

/**
 * better-sqlite3's db.transaction(fn) semantics (BEGIN … COMMIT, or a savepoint when already inside a transaction;
 * on a throw, roll back and rethrow) over statements prepared once. db.transaction(fn) builds four wrapper functions
 * and their properties on every call, which the group committer would pay once per job.
 */
class Transactions {
  private readonly begin: Database.Statement;
  private readonly beginImmediate: Database.Statement;
  private readonly commit: Database.Statement;
  private readonly rollback: Database.Statement;
  private readonly savepoint: Database.Statement;
  private readonly release: Database.Statement;
  private readonly rollbackTo: Database.Statement;
  readonly ping: Database.Statement;

  constructor(private readonly db: Database.Database) {
    this.begin = db.prepare('BEGIN');
    this.beginImmediate = db.prepare('BEGIN IMMEDIATE');
    this.commit = db.prepare('COMMIT');
    this.rollback = db.prepare('ROLLBACK');
    this.savepoint = db.prepare('SAVEPOINT "ps_sp"');
    this.release = db.prepare('RELEASE "ps_sp"');
    this.rollbackTo = db.prepare('ROLLBACK TO "ps_sp"');
    this.ping = db.prepare('SELECT 1 AS ok');
  }

  run<T>(fn: () => T, immediate: boolean): T {
    const nested = this.db.inTransaction;
    const after = nested ? this.release : this.commit;
    (nested ? this.savepoint : immediate ? this.beginImmediate : this.begin).run();
    try {
      const result = fn();
      if (result && typeof (result as { then?: unknown }).then === 'function') {
        throw new TypeError('Transaction function cannot return a promise');
      }
      after.run();
      return result;
    } catch (e) {
      if (this.db.inTransaction) {
        if (nested) {
          this.rollbackTo.run();
          this.release.run();
        } else this.rollback.run();
      }
      throw e;
    }
  }
}
