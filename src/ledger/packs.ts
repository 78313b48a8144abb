// Audit packs: builds `proofstream-bundle/v1` documents (docs/bundle.md) for a sealed range of one stream.
//
// Streaming: a pack of a million events must never hold the range in memory (let alone twice). The builder
// writes the document straight to `<dataDir>/packs/<pack_id>.json.tmp`, reading events in keyset pages sized to
// about `pageBytes` (512 KiB) of document (at most `pageSize`, 1,000, rows) and feeding each event both to an
// ArraySectionDigest and, encoded in place, to one reused 1 MiB write buffer that is written out (awaited, so the
// disk sets the pace) whenever it fills. Every section except `events` is small and known before the first event
// is read, so the document is written in the documented member order (format, manifest, stream, keys, events,
// chain, …) with the manifest's `events` digest written as 64 zeros and overwritten in place (same length, so
// still valid JSON) once the last event is out. Then the file is fsynced, hashed (read back through the same
// buffer), renamed to `<pack_id>.json`, and its row — with the Idempotency-Key record, when there is one — is
// committed in one transaction. Memory stays at one page of rows plus the buffer whatever the range, and what a
// page allocates dies young (docs/bundle.md, "Building packs", has the measurements).
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { BUNDLE_FORMAT, ArraySectionDigest, sectionDigest } from '../protocol/bundle.js';
import { bytesToHex } from '../protocol/bytes.js';
import { genesisHead } from '../protocol/event.js';
import { consistencyProof, rangeProof } from '../protocol/merkle.js';
import { RECEIPT_ALG } from '../protocol/receipt.js';
import type { CheckpointRow } from '../store/checkpoints.js';
import type { EventRow } from '../store/events.js';
import { PacksRepo, type PackRow } from '../store/packs.js';
import type { IdempotencyWrite } from './appender.js';
import { ApiError, notFound } from './errors.js';
import { newId } from './ids.js';
import { checkedEvent, integrityError } from './integrity.js';
import type { Ledger } from './ledger.js';
import type { Principal } from './tenancy.js';

export interface PackRequest {
  stream_id: string;
  from_seq_no: number;
  to_seq_no: number;
}

/** A built pack: its row and the absolute path of its document. */
export interface PackFile {
  row: PackRow;
  file: string;
}

const ZERO64 = '0'.repeat(64);
export const PACKS_DIR = 'packs';

/** The body stored in an Idempotency-Key record for a pack: a reference, not the (possibly huge) document. */
export const packReplayBody = (packId: string): string => JSON.stringify({ pack_ref: packId });

/** The pack id in a stored replay body, or undefined when the body is not one of ours. */
export function packReplayRef(bodyText: string): string | undefined {
  try {
    const v = JSON.parse(bodyText) as { pack_ref?: unknown };
    return v && typeof v === 'object' && typeof v.pack_ref === 'string' && Object.keys(v).length === 1 ? v.pack_ref : undefined;
  } catch {
    return undefined;
  }
}

const checkpointSection = (c: CheckpointRow) => ({
  checkpoint_id: c.id,
  tree_size: c.treeSize,
  root_hash: c.rootHash,
  note: c.note,
  signer_vkey: c.signerVkey,
});

/** One event exactly as docs/bundle.md lists it; an erased event keeps its commitment, with payload and salt null. */
export function bundleEvent(ev: EventRow) {
  return {
    stream_event_id: ev.id,
    stream_id: ev.streamId,
    seq_no: ev.seqNo,
    source_ref: ev.sourceRef,
    event_type: ev.eventType,
    occurred_at: ev.occurredAt,
    received_at: ev.receivedAt,
    payload: ev.payload === null || ev.salt === null ? null : (JSON.parse(ev.payload) as unknown),
    salt: ev.payload === null || ev.salt === null ? null : ev.salt,
    payload_commitment: ev.payloadCommitment,
    event_hash: ev.eventHash,
    previous_event_hash: ev.previousEventHash,
    stream_head_hash: ev.streamHeadHash,
    receipt: { protocol: ev.protocol, alg: RECEIPT_ALG, kid: ev.kid, signature: ev.signature },
  };
}

export class Packs {
  private readonly repo: PacksRepo;
  private readonly dir: string;

  /**
   * @param pageSize most events read per keyset page
   * @param pageBytes about how much document a page should make (pages are sized from the bytes per event so far)
   * @param bufferBytes the write buffer: the document's bytes go to the file through this one buffer
   */
  constructor(
    private readonly ledger: Ledger,
    private readonly pageSize = 1_000,
    private readonly pageBytes = 512 * 1024,
    private readonly bufferBytes = 1024 * 1024,
  ) {
    this.repo = ledger.store.packs;
    this.dir = path.join(ledger.config.dataDir, PACKS_DIR);
  }

  /**
   * Checks the request against the stream (404 for another tenant's, 422 for impossible ranges, 409
   * EVIDENCE_PENDING while the range is not sealed) and returns the stream row.
   */
  private admit(p: Principal, req: PackRequest) {
    const stream = this.ledger.streamFor(p, req.stream_id);
    const { from_seq_no: from, to_seq_no: to } = req;
    if (!Number.isSafeInteger(from) || from < 1) {
      throw new ApiError('VALIDATION_ERROR', 'from_seq_no must be an integer ≥ 1', { path: '/from_seq_no' });
    }
    if (!Number.isSafeInteger(to) || to < from) {
      throw new ApiError('VALIDATION_ERROR', `to_seq_no must be an integer ≥ from_seq_no (${from})`, { path: '/to_seq_no' });
    }
    if (to > stream.headSeqNo) {
      // Not "pending": these events do not exist, and waiting will not create them.
      throw new ApiError('VALIDATION_ERROR', `to_seq_no ${to} is beyond the stream head (${stream.headSeqNo})`, {
        path: '/to_seq_no',
        head_seq_no: stream.headSeqNo,
      });
    }
    if (to > stream.sealedSeqNo) {
      const halted = this.ledger.sealer.halted.has(stream.id);
      const maxAgeMs = stream.windowPolicy?.max_age_ms ?? this.ledger.config.windowMaxAgeMs;
      // A full window is sealed at once; a partial one at the latest max_age_ms after its first event.
      const retryAfterS = Math.max(1, Math.ceil(maxAgeMs / 1000));
      throw new ApiError(
        'EVIDENCE_PENDING',
        halted
          ? `events up to ${to} are not sealed (sealed through ${stream.sealedSeqNo}) and sealing of this stream is halted; an operator must look before a pack can be built`
          : `events up to ${to} are not sealed into a checkpoint yet (sealed through ${stream.sealedSeqNo}); retry in about ${retryAfterS} s`,
        {
          sealed_seq_no: stream.sealedSeqNo,
          head_seq_no: stream.headSeqNo,
          retry_after_s: halted ? null : retryAfterS,
          sealing_halted: halted,
        },
      );
    }
    return stream;
  }

  /**
   * The first checkpoint covering `to` whose evidence is complete (witness quorum met; anchored when a TSA is
   * configured). None yet → 409 EVIDENCE_PENDING naming what the first covering checkpoint still lacks.
   */
  private evidencedCheckpoint(streamId: string, to: number, sealedSeqNo: number) {
    const { store, evidence } = this.ledger;
    const first = store.checkpoints.firstCovering(streamId, to);
    if (!first) throw new Error(`stream ${streamId} is sealed through ${sealedSeqNo} but no checkpoint covers ${to}`);
    for (const c of store.evidence.coveringCheckpoints(streamId, to, 64)) {
      const ev = evidence.forCheckpoint(c);
      if (evidence.missing(ev).length === 0) return { checkpoint: c, evidence: ev };
    }
    const missing = evidence.missing(evidence.forCheckpoint(first));
    const cfg = this.ledger.config;
    const retryAfterS = Math.max(1, Math.ceil((missing.some((m) => m.includes('anchor')) ? cfg.anchorEpochMs : 1000) / 1000));
    throw new ApiError('EVIDENCE_PENDING', `checkpoint ${first.id} (tree size ${first.treeSize}) still lacks ${missing.join(' and ')}; retry in about ${retryAfterS} s`, {
      checkpoint_id: first.id,
      missing,
      retry_after_s: retryAfterS,
    });
  }

  /**
   * Builds, stores and records a pack; the document is then at `file`. A payload erasure in the range that commits
   * while the build runs may have come after the build read that event: such a document is discarded before its row
   * is written and the pack built again from what is stored now, so no stored pack holds an erased payload.
   */
  async build(p: Principal, req: PackRequest, idem: IdempotencyWrite | undefined): Promise<PackFile> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.buildOnce(p, req, idem);
      } catch (e) {
        if (!(e instanceof ErasedDuringBuild) || attempt >= MAX_BUILD_ATTEMPTS) throw e;
      }
    }
  }

  private async buildOnce(p: Principal, req: PackRequest, idem: IdempotencyWrite | undefined): Promise<PackFile> {
    const stream = this.admit(p, req);
    const { store, sealer } = this.ledger;
    const streamId = stream.id;
    const from = req.from_seq_no;
    const to = req.to_seq_no;

    // Before the first event is read: compared again in the transaction that records the pack.
    const erasuresBefore = store.erasures.countInRange(streamId, from, to);
    const { checkpoint, evidence } = this.evidencedCheckpoint(streamId, to, stream.sealedSeqNo);
    const src = store.checkpoints.nodeSource(streamId);
    const previous = checkpoint.previousCheckpointId ? store.checkpoints.checkpoint(checkpoint.previousCheckpointId) : undefined;

    let chain: { head_before: string; event_hash_before: string };
    if (from === 1) {
      chain = { head_before: bytesToHex(genesisHead(streamId)), event_hash_before: ZERO64 };
    } else {
      const before = this.repo.eventAt(streamId, from - 1);
      if (!before) throw new Error(`event ${from - 1} of ${streamId} is not stored`);
      // Its hashes open the pack's chain section: a damaged row must not start an auditor's document.
      checkedEvent(before);
      chain = { head_before: before.streamHeadHash, event_hash_before: before.eventHash };
    }

    const sections = {
      stream: {
        stream_id: streamId,
        origin: sealer.originOf(streamId),
        use_case: stream.useCase,
        policy_id: stream.policyId,
        metadata: stream.metadata,
        created_at: stream.createdAt,
      },
      // A rotated key carries its receipt window; a key without one keeps the three members packs always had.
      keys: store.ledgerKeys.list().map((k) => ({
        kid: k.kid,
        alg: k.alg,
        public_key: k.publicKey,
        ...(k.validFrom !== null ? { valid_from: k.validFrom } : {}),
        ...(k.validUntil !== null ? { valid_until: k.validUntil } : {}),
      })),
      chain,
      checkpoint: checkpointSection(checkpoint),
      range_proof: {
        from_index: from - 1,
        to_index: to,
        tree_size: checkpoint.treeSize,
        proof: rangeProof(src, from - 1, to, checkpoint.treeSize).map(bytesToHex),
      },
      consistency: previous
        ? [
            {
              from: checkpointSection(previous),
              proof: consistencyProof(src, previous.treeSize, checkpoint.treeSize).map(bytesToHex),
            },
          ]
        : [],
      // Only cosignatures from witnesses the ledger is configured with now: what its trust policy lists.
      witnesses: evidence.cosignatures
        .filter((c) => this.ledger.config.witnesses.some((w) => w.name === c.witness && w.vkey === c.vkey))
        .map((c) => ({ checkpoint_id: checkpoint.id, name: c.witness, vkey: c.vkey, timestamp: c.timestamp, signature_line: c.signature_line })),
      anchors: evidence.anchor ? [{ checkpoint_id: checkpoint.id, ...evidence.anchor }] : [],
    };

    const packId = newId('pack');
    const createdAt = new Date().toISOString();
    const manifest = {
      pack_id: packId,
      stream_id: streamId,
      from_seq_no: from,
      to_seq_no: to,
      created_at: createdAt,
      sections: {
        stream: sectionDigest('stream', sections.stream),
        keys: sectionDigest('keys', sections.keys),
        events: ZERO64, // written in place once the last event is out
        chain: sectionDigest('chain', sections.chain),
        checkpoint: sectionDigest('checkpoint', sections.checkpoint),
        range_proof: sectionDigest('range_proof', sections.range_proof),
        consistency: sectionDigest('consistency', sections.consistency),
        witnesses: sectionDigest('witnesses', sections.witnesses),
        anchors: sectionDigest('anchors', sections.anchors),
      },
    };

    const manifestText = JSON.stringify(manifest);
    const marker = `"events":"${ZERO64}"`;
    const at = manifestText.indexOf(marker);
    if (at < 0 || manifestText.indexOf(marker, at + 1) >= 0) throw new Error('manifest events digest is not uniquely placed');
    const head = `{"format":${JSON.stringify(BUNDLE_FORMAT)},\n"manifest":${manifestText},\n`;
    // Byte offset of the digest's first hex digit: the manifest is ASCII, but measure bytes anyway.
    const digestOffset = Buffer.byteLength(head.slice(0, head.indexOf(marker) + '"events":"'.length), 'utf8');

    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const relPath = `${PACKS_DIR}/${packId}.json`;
    const file = path.join(this.ledger.config.dataDir, relPath);
    const tmp = `${file}.${process.pid}.tmp`; // the builder's pid: sweepOrphans() can tell a dead build at once
    let byteSize = 0;
    let renamed = false;
    try {
      const fh = await fs.promises.open(tmp, 'w+', 0o600); // w+: read back for the hash
      let sha256: string;
      try {
        const out = new FileSink(fh, this.bufferBytes);
        await out.put(head);
        await out.put(`"stream":${JSON.stringify(sections.stream)},\n"keys":${JSON.stringify(sections.keys)},\n"events":[`);
        const digest = new ArraySectionDigest('events');
        let expected = from;
        let prevEventHash = chain.event_hash_before;
        let eventBytes = 0; // bytes of the event lines written so far: sizes the next page
        while (expected <= to) {
          // A page is a fresh keyset query, sized so that it holds about `pageBytes` of document (at most pageSize
          // rows): small rows, big pages; 64 KiB payloads, a few rows. Nothing of a page outlives it.
          const done = expected - from;
          const rows = done === 0 ? Math.min(this.pageSize, 64) : Math.max(1, Math.min(this.pageSize, Math.floor((this.pageBytes * done) / eventBytes)));
          const page = this.repo.eventsPage(streamId, expected, to, rows);
          if (page.length === 0) throw new Error(`events ${expected}..${to} of ${streamId} are not stored`);
          for (const row of page) {
            // A pack that would fail verification because the store is damaged is a defect to report (500
            // INTEGRITY_ERROR naming the row), not a document to hand to an auditor.
            if (row.seqNo !== expected) throw integrityError(row, `expected seq_no ${expected} here, the store holds ${row.seqNo}`);
            checkedEvent(row);
            if (row.previousEventHash !== prevEventHash) throw integrityError(row, `its previous_event_hash is not the event_hash of seq_no ${expected - 1}`);
            const ev = bundleEvent(row);
            digest.add(ev);
            const line = (expected === from ? '\n' : ',\n') + JSON.stringify(ev);
            eventBytes += line.length;
            // Written into the sink's one buffer; a full buffer is written out (awaited) before going on.
            if (!out.tryPut(line)) await out.put(line);
            prevEventHash = row.eventHash;
            expected++;
          }
        }
        const tail =
          `\n],\n"chain":${JSON.stringify(sections.chain)},\n"checkpoint":${JSON.stringify(sections.checkpoint)},\n` +
          `"range_proof":${JSON.stringify(sections.range_proof)},\n"consistency":${JSON.stringify(sections.consistency)},\n` +
          `"witnesses":${JSON.stringify(sections.witnesses)},\n"anchors":${JSON.stringify(sections.anchors)}}\n`;
        await out.put(tail);
        await out.flush();
        byteSize = out.bytes;
        await writeAll(fh, Buffer.from(digest.digest(), 'latin1'), digestOffset);
        await fh.sync();
        // The file's SHA-256 (its ETag), read back through the same buffer: the digest above sits near its start.
        sha256 = await out.hashFile();
      } finally {
        await fh.close();
      }
      await fs.promises.rename(tmp, file);
      renamed = true;
      syncDir(this.dir);

      const row: PackRow = {
        id: packId,
        tenantId: p.tenantId,
        streamId,
        fromSeqNo: from,
        toSeqNo: to,
        checkpointId: checkpoint.id,
        filePath: relPath,
        sha256,
        byteSize,
        createdAt,
      };
      store.write(() => {
        if (store.erasures.countInRange(streamId, from, to) !== erasuresBefore) throw new ErasedDuringBuild();
        this.repo.insert(row);
        if (idem) {
          const now = Date.now();
          const fresh = store.idempotency.insert({
            tenantId: idem.tenantId,
            key: idem.key,
            fingerprint: idem.fingerprint,
            status: 201,
            responseBody: packReplayBody(packId),
            createdAt: now,
            expiresAt: now + idem.ttlMs,
          });
          if (!fresh) throw new ApiError('IDEMPOTENCY_IN_PROGRESS', 'this Idempotency-Key was used concurrently; retry');
        }
      });
      return { row, file };
    } catch (e) {
      // Nothing half-built stays behind: no row was committed, so the file is nobody's.
      fs.rmSync(renamed ? file : tmp, { force: true });
      throw e;
    }
  }

  /**
   * Retention: deletes packs created more than PROOFSTREAM_PACK_TTL_MS ago (0 keeps them). The row goes first, in
   * its own transaction, so a pack is never served without its file; then the file. A crash in between leaves a
   * file without a row, which sweepOrphans() removes at the next start. Returns how many packs went.
   */
  purgeExpired(now: number): number {
    const ttl = this.ledger.config.packTtlMs;
    if (ttl <= 0) return 0;
    const cutoff = new Date(now - ttl).toISOString();
    let n = 0;
    for (const row of this.repo.createdBefore(cutoff, 1000)) {
      this.ledger.store.write(() => this.repo.delete(row.id));
      fs.rmSync(path.join(this.ledger.config.dataDir, row.filePath), { force: true });
      n++;
    }
    return n;
  }

  /**
   * At start, before this process builds anything: files in the packs directory that no row refers to go.
   * A partial `<pack>.json.<pid>.tmp` whose builder is dead — or is this process's pid, a previous process's
   * (containers reuse pids) — goes at once. Anything else unreferenced (a renamed file whose row never committed,
   * a purge interrupted between row and file, a .tmp of a live process — another server on this data directory —
   * or an untagged `.json.tmp` of older versions) goes once it has not been written for `quietMs`
   * (an hour), so a build still running elsewhere is never touched.
   */
  sweepOrphans(now = Date.now(), quietMs = 3600_000): number {
    if (!fs.existsSync(this.dir)) return 0;
    const known = this.repo.filePaths();
    let n = 0;
    for (const name of fs.readdirSync(this.dir)) {
      if (known.has(`${PACKS_DIR}/${name}`)) continue;
      const file = path.join(this.dir, name);
      try {
        if (!deadBuild(name) && now - fs.statSync(file).mtimeMs < quietMs) continue;
        fs.rmSync(file, { force: true });
        n++;
      } catch {
        /* gone meanwhile */
      }
    }
    return n;
  }

  /** A pack of a stream the caller acts on (its system's, or its tenant's when tenant-wide); anything else is "not found". */
  get(p: Principal, packId: string): PackFile {
    const row = this.repo.get(packId);
    if (!row || row.tenantId !== p.tenantId) throw notFound('pack');
    this.ledger.streamFor(p, row.streamId, 'pack');
    return { row, file: path.join(this.ledger.config.dataDir, row.filePath) };
  }
}

/** A payload in the pack's range was erased while it was built (see Packs.build): build it again. */
class ErasedDuringBuild extends Error {}
/** Builds of one request before an erasure race is reported as an error (each needs an erasure to commit mid-build). */
const MAX_BUILD_ATTEMPTS = 3;

/** A build's partial file whose builder cannot be writing it any more (see sweepOrphans). */
function deadBuild(name: string): boolean {
  if (!name.endsWith('.tmp')) return false;
  const tagged = /\.json\.(\d+)\.tmp$/.exec(name);
  if (!tagged) return false; // an untagged .json.tmp (older versions): no way to tell, so the quiet rule
  const pid = Number(tagged[1]);
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0); // signal 0: only asks whether the process exists
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH'; // EPERM: it exists, another user's
  }
}

/** Writes all of `buf[offset, offset+length)` at `position` (a file write may be short). */
async function writeAll(fh: fs.promises.FileHandle, buf: Buffer, position: number | null = null, offset = 0, length = buf.length - offset): Promise<void> {
  while (length > 0) {
    const { bytesWritten } = await fh.write(buf, offset, length, position);
    if (bytesWritten <= 0) throw new Error('short write to a pack file');
    offset += bytesWritten;
    length -= bytesWritten;
    if (position !== null) position += bytesWritten;
  }
}

/**
 * Sequential writes to a pack file through one reused buffer. Text is encoded straight into the buffer, and a
 * full buffer is written out (awaited: the file sets the pace) before more is taken, so at most `size` bytes of
 * the document are in memory at a time and no per-chunk Buffer is left for the GC.
 */
class FileSink {
  private readonly buf: Buffer;
  private used = 0;
  /** Bytes taken so far (written or buffered). */
  bytes = 0;

  constructor(
    private readonly fh: fs.promises.FileHandle,
    size: number,
  ) {
    this.buf = Buffer.allocUnsafe(size);
  }

  /** Buffers `s` when it surely fits (no await); false when the caller must `await put(s)` instead. */
  tryPut(s: string): boolean {
    const free = this.buf.length - this.used;
    // At most 3 UTF-8 bytes per UTF-16 code unit; measure exactly only when that bound does not fit.
    if (s.length * 3 > free && Buffer.byteLength(s, 'utf8') > free) return false;
    const n = this.buf.write(s, this.used, 'utf8');
    this.used += n;
    this.bytes += n;
    return true;
  }

  async put(s: string): Promise<void> {
    if (this.tryPut(s)) return;
    await this.flush();
    if (this.tryPut(s)) return;
    const b = Buffer.from(s, 'utf8'); // larger than the whole buffer: written on its own
    await writeAll(this.fh, b);
    this.bytes += b.length;
  }

  async flush(): Promise<void> {
    if (this.used === 0) return;
    await writeAll(this.fh, this.buf, null, 0, this.used);
    this.used = 0;
  }

  /** SHA-256 of the whole file, read from the start through the same buffer (call after flush). */
  async hashFile(): Promise<string> {
    const hash = createHash('sha256');
    for (let pos = 0; ; ) {
      const { bytesRead } = await this.fh.read(this.buf, 0, this.buf.length, pos);
      if (bytesRead === 0) break;
      hash.update(this.buf.subarray(0, bytesRead));
      pos += bytesRead;
    }
    return hash.digest('hex');
  }
}

function syncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // Some platforms cannot fsync a directory; the row is only written after the rename either way.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}
