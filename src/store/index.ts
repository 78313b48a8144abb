// The store: every repository over one connection, plus the transaction primitive the ledger builds on.
import { CheckpointsRepo } from './checkpoints.js';
import { openDatabase, type Handle } from './db.js';
import { EventsRepo } from './events.js';
import { EvidenceRepo } from './evidence.js';
import { IdempotencyRepo } from './idempotency.js';
import { LedgerKeysRepo } from './ledger-keys.js';
import { PacksRepo } from './packs.js';
import { StreamsRepo } from './streams.js';
import { TenancyRepo } from './tenancy.js';

export class Store {
  readonly tenancy: TenancyRepo;
  readonly streams: StreamsRepo;
  readonly events: EventsRepo;
  readonly idempotency: IdempotencyRepo;
  readonly ledgerKeys: LedgerKeysRepo;
  readonly checkpoints: CheckpointsRepo;
  readonly packs: PacksRepo;
  readonly evidence: EvidenceRepo;

  private constructor(private readonly h: Handle) {
    this.tenancy = new TenancyRepo(h.db);
    this.streams = new StreamsRepo(h.db);
    this.events = new EventsRepo(h.db);
    this.idempotency = new IdempotencyRepo(h.db);
    this.ledgerKeys = new LedgerKeysRepo(h.db);
    this.checkpoints = new CheckpointsRepo(h.db);
    this.packs = new PacksRepo(h.db);
    this.evidence = new EvidenceRepo(h.db);
  }

  static open(file: string): Store {
    return new Store(openDatabase(file));
  }

  /** BEGIN IMMEDIATE … COMMIT: takes the write lock up front, so concurrent writers serialize instead of failing. */
  write<T>(fn: () => T): T {
    return this.h.sqlite.transaction(fn).immediate();
  }

  /** A savepoint inside write(): rolls back only this part when fn throws. */
  savepoint<T>(fn: () => T): T {
    return this.h.sqlite.transaction(fn)();
  }

  ping(): boolean {
    return this.h.sqlite.prepare('SELECT 1 AS ok').get() !== undefined;
  }

  close(): void {
    if (this.h.sqlite.open) this.h.sqlite.close();
  }
}
