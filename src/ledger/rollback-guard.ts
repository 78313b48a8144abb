// The rollback guard: the ledger refuses to start on a database that is behind what it has already published.
//
// A lost -wal file or a restored backup leaves a perfectly valid SQLite database at an older state. Started on it,
// the ledger would reissue seq_nos and checkpoint sizes it already signed with different hashes: two valid signed
// answers for one position. Two independent memories of what was published are compared with the database at start:
//  - the high-water record `<db>.highwater`: per stream the committed head and latest checkpoint, rewritten
//    atomically (temp file, fsync, rename, fsync of the directory) after commits, coalesced, off the event loop's
//    critical path. It is written only from committed rows, so it may lag the database but never lead it;
//  - the configured witnesses: each knows the largest size it cosigned per stream (c2sp.org/tlog-witness answers a
//    wrong `old` with 409 and its size), which survives even when the high-water file went with the database.
// docs/architecture.md ("The rollback guard") and docs/operations.md say what the operator sees and does.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { storeName, storeTarget, type Config, type WitnessConfig } from '../config.js';
import { isPostgresUrl } from '../store/db.js';
import type { PublishedState } from '../store/checkpoints.js';
import { Store } from '../store/index.js';
import { submitCheckpoint } from '../witness/client.js';
import { errField, log } from '../log.js';

export const HIGHWATER_FORMAT = 'proofstream-highwater/1';

/**
 * Dirty streams re-read per flush at most (about 5–10 µs each, on the event loop); the rest wait for the next flush,
 * their entries meanwhile lagging (which is safe).
 */
const MAX_REFRESH_PER_FLUSH = 512;

/** Streams probed at one witness concurrently at start. */
const PROBES_IN_FLIGHT = 8;

export const highwaterPath = (dbPath: string): string => `${dbPath}.highwater`;

/** One stream's published state as the record keeps it (hashes hex; a stream without a checkpoint has size 0). */
export interface HighwaterStream {
  head_seq_no: number;
  head_hash: string;
  checkpoint_size: number;
  checkpoint_root: string | null;
}

export interface HighwaterRecord {
  format: typeof HIGHWATER_FORMAT;
  written_at: string;
  streams: Record<string, HighwaterStream>;
  /**
   * stream id → witness name → the size that witness had cosigned when an operator accepted a rollback past it.
   * The witness cannot forget that size, so without this every later start would be refused again.
   */
  witness_accepted?: WitnessAccepted;
}

export type WitnessAccepted = Record<string, Record<string, number>>;

/** One way the database is behind what was published. */
export interface RollbackFinding {
  /** the stream concerned; null for the record as a whole (e.g. an unreadable file) */
  streamId: string | null;
  /** who remembers the publication: 'high-water' or `witness <name>` */
  source: string;
  /** for a witness's finding: its name and the size it has cosigned */
  witness?: { name: string; size: number };
  published: string;
  database: string;
}

export class RollbackError extends Error {
  readonly code = 'ROLLBACK_DETECTED';
  constructor(
    readonly findings: readonly RollbackFinding[],
    readonly dbPath: string,
  ) {
    super(describeRollback(findings, dbPath, false));
  }
}

const short = (hex: string | null) => (hex ? `${hex.slice(0, 16)}…` : 'none');

/** The operator-facing text: what was published, what the database holds, the likely cause, the override. */
export function describeRollback(findings: readonly RollbackFinding[], dbPath: string, accepted: boolean): string {
  const lines = findings.map(
    (f) => `  - ${f.streamId ? `stream ${f.streamId}` : 'record'} (${f.source}): published ${f.published}; the database holds ${f.database}`,
  );
  if (accepted) {
    return [
      `ROLLBACK ACCEPTED (--allow-rollback / PROOFSTREAM_ALLOW_ROLLBACK): starting on ${dbPath} although it is behind what this ledger published:`,
      ...lines,
      'Receipts and checkpoints issued past these points are no longer in the database; new ones will reuse their',
      'seq_nos and sizes with different hashes. The high-water record is rewritten to the database as it is now.',
    ].join('\n');
  }
  return [
    `refusing to start: the database ${dbPath} is behind what this ledger has already published (a rollback):`,
    ...lines,
    ...(isPostgresUrl(dbPath)
      ? [
          'Likely cause: the database was restored from an older dump or snapshot, DATABASE_URL names another (or a new) database,',
          'or a failover promoted a replica that had not received the latest commits.',
          'What to do: stop and point this node at the database that holds them. Only if that history is truly lost, start',
        ]
      : [
          'Likely cause: the database was restored from an older backup, or its -wal file was deleted or not copied with it',
          '(the main .db file alone lacks the most recent commits).',
          'What to do: stop and put the newer database back (with its -wal file). Only if that history is truly lost, start',
        ]),
    'once with `proofstream serve --allow-rollback` (or PROOFSTREAM_ALLOW_ROLLBACK=1) and tell whoever holds receipts',
    'or checkpoints past these points. See docs/operations.md ("Start refused: rollback").',
  ].join('\n');
}

// ---- the high-water record ----

function toRecordEntry(s: PublishedState): HighwaterStream {
  return { head_seq_no: s.headSeqNo, head_hash: s.headHash, checkpoint_size: s.checkpointSize, checkpoint_root: s.checkpointRoot };
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isHex = (v: unknown): v is string => typeof v === 'string' && /^[0-9a-f]{64}$/.test(v);

/** Reads the record; undefined when there is none; throws Error when it exists but is not one this code wrote. */
export function readHighwater(file: string): HighwaterRecord | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  const r = JSON.parse(text) as HighwaterRecord;
  if (r?.format !== HIGHWATER_FORMAT || typeof r.streams !== 'object' || r.streams === null) throw new Error(`not a ${HIGHWATER_FORMAT} record`);
  for (const [id, s] of Object.entries(r.streams)) {
    const ok =
      isCount(s?.head_seq_no) &&
      isHex(s.head_hash) &&
      isCount(s.checkpoint_size) &&
      s.checkpoint_size <= s.head_seq_no &&
      (s.checkpoint_size === 0 ? s.checkpoint_root === null : isHex(s.checkpoint_root));
    if (!ok) throw new Error(`malformed entry for stream ${id}`);
  }
  const acc = r.witness_accepted ?? {};
  if (typeof acc !== 'object' || acc === null || !Object.values(acc).every((m) => typeof m === 'object' && m !== null && Object.values(m).every(isCount))) {
    throw new Error('malformed witness_accepted');
  }
  return r;
}

/** Every way `store` is behind `record` (empty: it is at or beyond everything recorded). */
export function checkAgainstRecord(store: Store, record: HighwaterRecord): RollbackFinding[] {
  const findings: RollbackFinding[] = [];
  const db = new Map(store.checkpoints.published().map((s) => [s.streamId, s]));
  for (const [streamId, rec] of Object.entries(record.streams)) {
    const f = (published: string, database: string) => findings.push({ streamId, source: 'high-water', published, database });
    const cur = db.get(streamId);
    if (!cur) {
      f(`head seq_no ${rec.head_seq_no}, checkpoint size ${rec.checkpoint_size}`, `no such stream${db.size === 0 ? ' (no streams at all)' : ''}`);
      continue;
    }
    if (rec.checkpoint_size > 0) {
      if (cur.checkpointSize < rec.checkpoint_size) {
        f(`a checkpoint of size ${rec.checkpoint_size} (root ${short(rec.checkpoint_root)})`, `its latest checkpoint at size ${cur.checkpointSize}`);
      } else {
        const at = store.checkpoints.checkpointAtSize(streamId, rec.checkpoint_size);
        if (at?.rootHash !== rec.checkpoint_root) {
          f(`a checkpoint of size ${rec.checkpoint_size} with root ${short(rec.checkpoint_root)}`, at ? `root ${short(at.rootHash)} at that size` : 'no checkpoint at that size');
        }
      }
    }
    if (cur.headSeqNo < rec.head_seq_no) {
      f(`receipts up to seq_no ${rec.head_seq_no}`, `head seq_no ${cur.headSeqNo}`);
    } else if (rec.head_seq_no > 0) {
      const h = store.checkpoints.headHashAt(streamId, rec.head_seq_no);
      if (h !== rec.head_hash) f(`seq_no ${rec.head_seq_no} with head hash ${short(rec.head_hash)}`, h ? `head hash ${short(h)} there` : 'no event there');
    }
  }
  return findings;
}

/** The record's text from each stream's `"<id>":{…}` member (kept serialized: a flush joins, never re-stringifies all). */
function serialize(members: Map<string, string>, accepted: WitnessAccepted): string {
  const head = `{"format":${JSON.stringify(HIGHWATER_FORMAT)},"written_at":${JSON.stringify(new Date().toISOString())},"streams":{`;
  const tail = Object.keys(accepted).length ? `,"witness_accepted":${JSON.stringify(accepted)}` : '';
  return `${head}${[...members.values()].join(',')}}${tail}}\n`;
}

let tmpCounter = 0;
const tmpName = (file: string) => `${file}.tmp-${process.pid}-${++tmpCounter}`;

/** Temp file, fsync, rename over `file`, fsync of the directory (so the rename itself survives a power cut). */
function writeAtomicSync(file: string, data: string): void {
  const tmp = tmpName(file);
  const fd = fs.openSync(tmp, 'w', 0o600);
  try {
    fs.writeFileSync(fd, data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  const dir = fs.openSync(path.dirname(file), 'r');
  try {
    fs.fsyncSync(dir);
  } finally {
    fs.closeSync(dir);
  }
}

/**
 * writeAtomicSync on libuv's thread pool: the fsyncs do not hold the event loop. `superseded()` is asked before the
 * rename: a synchronous write made meanwhile (at close) is newer and must not be replaced by this one.
 */
async function writeAtomic(file: string, data: string, superseded: () => boolean): Promise<void> {
  const tmp = tmpName(file);
  const fh = await fsp.open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  if (superseded()) {
    await fsp.rm(tmp, { force: true });
    return;
  }
  await fsp.rename(tmp, file);
  const dir = await fsp.open(path.dirname(file), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/**
 * Keeps `<db>.highwater` up to date. Commits only mark streams dirty (a Set.add on the append path); at most every
 * `intervalMs` the dirty streams' committed state is read (one indexed row each) and the whole record is written
 * asynchronously, one write in flight at most. Every value comes from a committed row, so the file can lag the
 * database (a crash between commit and write) but never lead it.
 */
export class HighwaterWriter {
  /** stream id → its serialized member of the record */
  private readonly members = new Map<string, string>();
  private readonly dirty = new Set<string>();
  /** streams with events past their latest checkpoint: a seal may have advanced them */
  private readonly unsealed = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private inFlight = false;
  private closed = false;
  /** lastLoopMs: the part of the last flush on the event loop (re-read, serialize); lastWriteMs: the whole flush */
  readonly stats = { writes: 0, failures: 0, lastLoopMs: 0, lastWriteMs: 0, maxWriteMs: 0 };

  constructor(
    private readonly store: Store,
    readonly file: string,
    private readonly intervalMs: number,
    /** carried over from the record as it was (see HighwaterRecord.witness_accepted) */
    private readonly accepted: WitnessAccepted = {},
  ) {
    for (const s of store.checkpoints.published()) this.set(s);
  }

  private set(s: PublishedState): void {
    this.members.set(s.streamId, `${JSON.stringify(s.streamId)}:${JSON.stringify(toRecordEntry(s))}`);
    if (s.checkpointSize < s.headSeqNo) this.unsealed.add(s.streamId);
    else this.unsealed.delete(s.streamId);
  }

  /** Writes the record as the database is now, synchronously (at open and at close). */
  writeNow(): void {
    this.refresh(Number.POSITIVE_INFINITY);
    writeAtomicSync(this.file, serialize(this.members, this.accepted));
  }

  /** The appender committed events of `streamId`. */
  touch(streamId: string): void {
    this.dirty.add(streamId);
    this.schedule();
  }

  /** A sealing transaction committed checkpoints (for some of the streams not yet sealed through their head). */
  sealed(): void {
    for (const id of this.unsealed) this.dirty.add(id);
    this.schedule();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    try {
      this.writeNow();
    } catch (e) {
      log.error({ event: 'highwater_write_failed', file: this.file, err: errField(e) }, `writing the high-water record ${this.file} failed`);
    }
  }

  private refresh(max: number): void {
    let n = 0;
    for (const id of this.dirty) {
      if (n++ >= max) break;
      this.dirty.delete(id);
      const s = this.store.checkpoints.published(id)[0];
      if (s) this.set(s);
    }
  }

  private schedule(): void {
    if (this.timer || this.inFlight || this.closed) return;
    this.timer = setTimeout(() => void this.flush(), this.intervalMs);
    this.timer.unref();
  }

  private async flush(): Promise<void> {
    this.timer = undefined;
    if (this.closed) return;
    this.inFlight = true;
    const t0 = performance.now();
    try {
      this.refresh(MAX_REFRESH_PER_FLUSH);
      const text = serialize(this.members, this.accepted);
      this.stats.lastLoopMs = performance.now() - t0;
      await writeAtomic(this.file, text, () => this.closed);
      this.stats.writes++;
      this.stats.lastWriteMs = performance.now() - t0;
      this.stats.maxWriteMs = Math.max(this.stats.maxWriteMs, this.stats.lastWriteMs);
    } catch (e) {
      // The file keeps its older (safe) content; retried on the next commit or seal.
      this.stats.failures++;
      log.error({ event: 'highwater_write_failed', file: this.file, err: errField(e) }, `writing the high-water record ${this.file} failed; will retry`);
    } finally {
      this.inFlight = false;
    }
    if (this.dirty.size) this.schedule();
  }
}

/**
 * Before the database is opened (which would create an empty one): a record of published streams beside a database
 * file that does not exist is a rollback to nothing. Throws RollbackError unless allowed.
 */
export function refuseMissingDatabase(config: Pick<Config, 'dbPath' | 'databaseUrl' | 'allowRollback'>): void {
  // On PostgreSQL there is no file to be missing: openHighwater compares the record with the database's rows.
  if (config.allowRollback || config.databaseUrl || fs.existsSync(config.dbPath)) return;
  let record: HighwaterRecord | undefined;
  try {
    record = readHighwater(highwaterPath(config.dbPath));
  } catch {
    record = undefined; // unreadable: openHighwater reports it
  }
  const findings = Object.entries(record?.streams ?? {}).map(
    ([streamId, s]): RollbackFinding => ({
      streamId,
      source: 'high-water',
      published: `head seq_no ${s.head_seq_no}, checkpoint size ${s.checkpoint_size}`,
      database: 'nothing: the database file does not exist',
    }),
  );
  if (findings.length) throw new RollbackError(findings, storeName(config));
}

/**
 * At open, before anything is sealed or appended: compares the database with its high-water record. Throws
 * RollbackError when it is behind (unless `allowRollback`, which logs what was accepted); then rewrites the record
 * to the database as it is and returns the writer that keeps it current.
 */
export function openHighwater(store: Store, config: Pick<Config, 'dbPath' | 'databaseUrl' | 'allowRollback' | 'highwaterIntervalMs'>): HighwaterWriter {
  const file = highwaterPath(config.dbPath);
  let findings: RollbackFinding[];
  let record: HighwaterRecord | undefined;
  try {
    record = readHighwater(file);
    findings = record ? checkAgainstRecord(store, record) : [];
  } catch (e) {
    findings = [{ streamId: null, source: 'high-water', published: `a record in ${file}`, database: `nothing comparable: the record is unreadable (${(e as Error).message})` }];
  }
  if (findings.length) {
    if (!config.allowRollback) throw new RollbackError(findings, storeName(config));
    log.warn({ event: 'rollback_accepted' }, describeRollback(findings, storeName(config), true));
  }
  const writer = new HighwaterWriter(store, file, config.highwaterIntervalMs, record?.witness_accepted);
  if (!record && !findings.length) {
    const published = store.checkpoints.published();
    if (published.some((s) => s.checkpointSize > 0 || s.headSeqNo > 0)) {
      log.info({ event: 'highwater_created', file }, `no high-water record beside the database (first start after an upgrade?): created ${file} from ${published.length} streams`);
    }
  }
  writer.writeNow();
  return writer;
}

// ---- the witnesses ----

export interface WitnessProbeResult {
  findings: RollbackFinding[];
  /** witnesses or streams that could not be checked (unreachable, timed out, refused the probe) */
  warnings: string[];
}

/**
 * Asks every witness, for every stream with a checkpoint, whether it has cosigned beyond the database's latest
 * checkpoint: the checkpoint is submitted with `old` = its own size and an empty proof. A witness at that size with
 * the same root cosigns it again (harmless); at any other size it answers 409 with its size; at that size with
 * another root, 409 with our size (the spec) or 422 (our witness). A witness that does not answer within
 * `timeoutMs` overall is a warning, not a refusal: start must not depend on a third party being up.
 */
export async function probeWitnesses(
  store: Store,
  witnesses: readonly WitnessConfig[],
  timeoutMs: number,
  accepted: WitnessAccepted = {},
): Promise<WitnessProbeResult> {
  const findings: RollbackFinding[] = [];
  const warnings: string[] = [];
  const latest = store.checkpoints
    .published()
    .filter((s) => s.checkpointSize > 0)
    .map((s) => store.checkpoints.checkpointAtSize(s.streamId, s.checkpointSize)!)
    .filter(Boolean);
  if (latest.length === 0 || witnesses.length === 0) return { findings, warnings };
  const deadline = Date.now() + timeoutMs;
  await Promise.all(
    witnesses.map(async (w) => {
      let down: string | null = null;
      let next = 0;
      const source = `witness ${w.name}`;
      const worker = async () => {
        for (;;) {
          const cp = latest[next++];
          if (!cp || down) return;
          const left = deadline - Date.now();
          if (left <= 0) {
            down = `no answer within ${timeoutMs} ms`;
            return;
          }
          const res = await submitCheckpoint(w.url, { old: cp.treeSize, proof: [], note: cp.note }, { timeoutMs: left });
          const mine = `its latest checkpoint at size ${cp.treeSize} (root ${short(cp.rootHash)})`;
          const found = (size: number, published: string) => {
            // A rollback past this witness's size that an operator already accepted is not reported again.
            if ((accepted[cp.streamId]?.[w.name] ?? -1) >= size) return;
            findings.push({ streamId: cp.streamId, source, published, database: mine, witness: { name: w.name, size } });
          };
          if (res.kind === 'conflict' && res.size > cp.treeSize) {
            found(res.size, `a checkpoint of size ${res.size}, which the witness cosigned`);
          } else if (res.kind === 'conflict' && res.size === cp.treeSize) {
            found(res.size, `a different root at size ${cp.treeSize}, which the witness cosigned`);
          } else if (res.kind === 'rejected' && res.status === 422) {
            found(cp.treeSize, 'a checkpoint the witness finds inconsistent with this one (HTTP 422)');
          } else if (res.kind === 'rejected') {
            warnings.push(`witness ${w.name} refused the start check for stream ${cp.streamId}: HTTP ${res.status} ${res.body.slice(0, 120).trim()}`);
          } else if (res.kind === 'unreachable') {
            down = res.error;
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(PROBES_IN_FLIGHT, latest.length) }, worker));
      if (down) warnings.push(`witness ${w.name} (${w.url}) could not be asked at start (${down}); started without its check`);
    }),
  );
  return { findings, warnings };
}

/**
 * `proofstream serve`'s witness check, before Ledger.open: throws RollbackError when a witness has cosigned beyond
 * the database (unless allowed, which logs it). Warns and goes on when a witness cannot be asked. Does nothing when
 * the database file does not exist (opening it here would create it; the high-water check speaks for that case).
 */
export async function checkWitnessesAtStart(config: Config): Promise<void> {
  if (config.witnesses.length === 0 || (!config.databaseUrl && !fs.existsSync(config.dbPath))) return;
  const file = highwaterPath(config.dbPath);
  let record: HighwaterRecord | undefined;
  try {
    record = readHighwater(file);
  } catch {
    record = undefined; // openHighwater reports an unreadable record
  }
  const store = Store.open(storeTarget(config));
  let r: WitnessProbeResult;
  try {
    r = await probeWitnesses(store, config.witnesses, config.startWitnessTimeoutMs, record?.witness_accepted);
  } finally {
    store.close();
  }
  for (const w of r.warnings) log.warn({ event: 'witness_probe_warning' }, `warning: ${w}`);
  if (r.findings.length === 0) return;
  if (!config.allowRollback) throw new RollbackError(r.findings, storeName(config));
  log.warn({ event: 'rollback_accepted' }, describeRollback(r.findings, storeName(config), true));
  // Remember what was accepted: the witnesses keep their sizes, and the next start must not refuse them again.
  const accepted: WitnessAccepted = { ...record?.witness_accepted };
  for (const f of r.findings) {
    if (!f.streamId || !f.witness) continue;
    const m = (accepted[f.streamId] = { ...accepted[f.streamId] });
    m[f.witness.name] = Math.max(m[f.witness.name] ?? 0, f.witness.size);
  }
  const next: HighwaterRecord = { format: HIGHWATER_FORMAT, written_at: new Date().toISOString(), streams: record?.streams ?? {}, witness_accepted: accepted };
  writeAtomicSync(file, `${JSON.stringify(next)}\n`);
}
