// CI/CD evidence (src/cicd/): repositories' streams and the derived state of their records.
import { and, desc, eq, lte, lt, or, sql, type SQL } from 'drizzle-orm';
import type { Db } from './db.js';
import { cicdRecords, cicdRepositories, events } from './schema.js';

export type CicdRepositoryRow = typeof cicdRepositories.$inferSelect;
export type CicdRecordRow = typeof cicdRecords.$inferSelect;
export type CicdKind = 'attestation' | 'pipeline_run' | 'artifact' | 'deployment';

/** Equality filters of the list routes (undefined: not filtered). */
export interface CicdRecordFilter {
  repositoryKey?: string | undefined;
  status?: string | undefined;
  attestationType?: string | undefined;
  passed?: boolean | undefined;
  prNumber?: number | undefined;
  artifactSha256?: string | undefined;
  environment?: string | undefined;
  pipelineRunId?: string | undefined;
}

export class CicdRepo {
  constructor(private readonly db: Db) {}

  repository(tenantId: string, repositoryKey: string): CicdRepositoryRow | undefined {
    return this.db
      .select()
      .from(cicdRepositories)
      .where(and(eq(cicdRepositories.tenantId, tenantId), eq(cicdRepositories.repositoryKey, repositoryKey)))
      .get();
  }

  insertRepository(row: CicdRepositoryRow): void {
    this.db.insert(cicdRepositories).values(row).run();
  }

  record(id: string): CicdRecordRow | undefined {
    return this.db.select().from(cicdRecords).where(eq(cicdRecords.id, id)).get();
  }

  artifactBySha256(tenantId: string, sha256: string): CicdRecordRow | undefined {
    return this.db
      .select()
      .from(cicdRecords)
      .where(and(eq(cicdRecords.tenantId, tenantId), eq(cicdRecords.kind, 'artifact'), eq(cicdRecords.artifactSha256, sha256)))
      .get();
  }

  insertRecord(row: CicdRecordRow): void {
    this.db.insert(cicdRecords).values(row).run();
  }

  /** Replaces the state of a record after an update event. */
  updateRecord(id: string, f: Pick<CicdRecordRow, 'record' | 'status' | 'updatedAt' | 'eventId' | 'seqNo' | 'eventCount'>): void {
    this.db.update(cicdRecords).set(f).where(eq(cicdRecords.id, id)).run();
  }

  /**
   * Newest first, keyset-paged by (created_at, id) strictly before `before`: a record created while a client pages
   * is never skipped, only not yet seen. `systemId` limits the page to one system's records (non tenant-wide keys).
   */
  list(
    tenantId: string,
    kind: CicdKind,
    f: CicdRecordFilter,
    before: { createdAt: string; id: string } | undefined,
    limit: number,
    systemId?: string,
  ): CicdRecordRow[] {
    const c = cicdRecords;
    const eqIf = <T>(col: Parameters<typeof eq>[0], v: T | undefined): SQL | undefined => (v === undefined ? undefined : eq(col, v));
    const where = and(
      eq(c.tenantId, tenantId),
      eq(c.kind, kind),
      eqIf(c.systemId, systemId),
      eqIf(c.repositoryKey, f.repositoryKey),
      eqIf(c.status, f.status),
      eqIf(c.attestationType, f.attestationType),
      eqIf(c.passed, f.passed === undefined ? undefined : f.passed ? 1 : 0),
      eqIf(c.prNumber, f.prNumber),
      eqIf(c.artifactSha256, f.artifactSha256),
      eqIf(c.environment, f.environment),
      eqIf(c.pipelineRunId, f.pipelineRunId),
      before ? or(lt(c.createdAt, before.createdAt), and(eq(c.createdAt, before.createdAt), lt(c.id, before.id))) : undefined,
    );
    return this.db.select().from(c).where(where).orderBy(desc(c.createdAt), desc(c.id)).limit(limit).all();
  }

  // ---- provenance (src/cicd/provenance.ts) ----

  /**
   * Records of one repository whose stored JSON has `"member":value` (a field no column indexes, e.g. commitSha),
   * newest first, at most `limit`. A text match in SQL (LIKE, as PostgreSQL has it too) narrows the rows; callers
   * re-check the parsed record, since the text could also occur inside another member's string.
   */
  recordsWithMember(tenantId: string, kind: CicdKind, repositoryKey: string, member: string, value: string, limit: number, systemId?: string): CicdRecordRow[] {
    const c = cicdRecords;
    const needle = `${JSON.stringify(member)}:${JSON.stringify(value)}`.replace(/[\\%_]/g, (ch) => `\\${ch}`);
    return this.db
      .select()
      .from(c)
      .where(
        and(
          eq(c.tenantId, tenantId),
          eq(c.kind, kind),
          eq(c.repositoryKey, repositoryKey),
          systemId === undefined ? undefined : eq(c.systemId, systemId),
          sql`${c.record} LIKE ${`%${needle}%`} ESCAPE '\\'`,
        ),
      )
      .orderBy(desc(c.createdAt), desc(c.id))
      .limit(limit)
      .all();
  }

  /** The seq_nos of a record's events (source_ref = its id) up to its latest, newest first, at most `limit`. */
  recordEventSeqNos(streamId: string, recordId: string, latestSeqNo: number, limit: number): number[] {
    return this.db
      .select({ seqNo: events.seqNo })
      .from(events)
      .where(and(eq(events.streamId, streamId), eq(events.sourceRef, recordId), lte(events.seqNo, latestSeqNo)))
      .orderBy(desc(events.seqNo))
      .limit(limit)
      .all()
      .map((r) => r.seqNo);
  }
}
