// Build jobs (src/builds/): jobs, their stored SSE events, and the stream per tenant and system their receipts go to.
import { and, asc, eq, gte, inArray, lt, sql } from 'drizzle-orm';
import type { Db } from './db.js';
import { buildEvents, buildJobs, buildStreams } from './schema.js';

export type BuildJobRow = typeof buildJobs.$inferSelect;
export type BuildStreamRow = typeof buildStreams.$inferSelect;

export class BuildsRepo {
  constructor(private readonly db: Db) {}

  insertJob(row: BuildJobRow): void {
    this.db.insert(buildJobs).values(row).run();
  }

  job(id: string): BuildJobRow | undefined {
    return this.db.select().from(buildJobs).where(eq(buildJobs.id, id)).get();
  }

  updateJob(id: string, f: Partial<Omit<BuildJobRow, 'id'>>): void {
    this.db.update(buildJobs).set(f).where(eq(buildJobs.id, id)).run();
  }

  /** Jobs in these states, oldest first (queue order; interrupted jobs at start). */
  jobsWithStatus(statuses: string[]): BuildJobRow[] {
    return this.db.select().from(buildJobs).where(inArray(buildJobs.status, statuses)).orderBy(asc(buildJobs.createdAt), asc(buildJobs.id)).all();
  }

  /** Appends one event at the job's next position (in the caller's transaction) and returns that position. */
  appendEvent(jobId: string, data: string): number {
    const row = this.db
      .update(buildJobs)
      .set({ eventCount: sql`${buildJobs.eventCount} + 1` })
      .where(eq(buildJobs.id, jobId))
      .returning({ n: buildJobs.eventCount })
      .get();
    if (!row) throw new Error(`build job ${jobId} is gone`);
    this.db.insert(buildEvents).values({ jobId, position: row.n, data }).run();
    return row.n;
  }

  /** Events from position `from` on, at most `limit`. */
  events(jobId: string, from: number, limit: number): { position: number; data: string }[] {
    return this.db
      .select({ position: buildEvents.position, data: buildEvents.data })
      .from(buildEvents)
      .where(and(eq(buildEvents.jobId, jobId), gte(buildEvents.position, from)))
      .orderBy(asc(buildEvents.position))
      .limit(limit)
      .all();
  }

  /** Finished jobs completed before `before` (ISO), oldest first. */
  finishedBefore(before: string, limit: number): BuildJobRow[] {
    return this.db
      .select()
      .from(buildJobs)
      .where(and(inArray(buildJobs.status, ['ok', 'failed']), lt(buildJobs.completedAt, before)))
      .orderBy(asc(buildJobs.completedAt))
      .limit(limit)
      .all();
  }

  /** Finished jobs whose result archive is still kept, newest first. */
  keptResults(): Pick<BuildJobRow, 'id' | 'resultBytes' | 'completedAt'>[] {
    return this.db
      .select({ id: buildJobs.id, resultBytes: buildJobs.resultBytes, completedAt: buildJobs.completedAt })
      .from(buildJobs)
      .where(sql`${buildJobs.resultBytes} IS NOT NULL`)
      .orderBy(sql`${buildJobs.completedAt} DESC`)
      .all();
  }

  deleteJob(id: string): void {
    this.db.delete(buildEvents).where(eq(buildEvents.jobId, id)).run();
    this.db.delete(buildJobs).where(eq(buildJobs.id, id)).run();
  }

  stream(tenantId: string, systemId: string): BuildStreamRow | undefined {
    return this.db.select().from(buildStreams).where(and(eq(buildStreams.tenantId, tenantId), eq(buildStreams.systemId, systemId))).get();
  }

  insertStream(row: BuildStreamRow): void {
    this.db.insert(buildStreams).values(row).run();
  }
}
