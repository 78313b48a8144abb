// Pipelines (src/pipelines/, docs/pipelines.md): pipeline configs, their executions and execution logs.
import { and, asc, count, desc, eq, gt, inArray, sql } from 'drizzle-orm';
import type { Db } from './db.js';
import { pipelineExecutionLogs, pipelineExecutions, pipelines } from './schema.js';

export type PipelineRow = typeof pipelines.$inferSelect;
export type ExecutionRow = typeof pipelineExecutions.$inferSelect;
export type ExecutionLogRow = typeof pipelineExecutionLogs.$inferSelect;

export class PipelinesRepo {
  constructor(private readonly db: Db) {}

  insert(row: PipelineRow): void {
    this.db.insert(pipelines).values(row).run();
  }

  get(id: string): PipelineRow | undefined {
    return this.db.select().from(pipelines).where(eq(pipelines.id, id)).get();
  }

  /** A page of the tenant's pipelines (one system's when `systemId`), by (created_at, id) in `order`, and the total. */
  list(tenantId: string, systemId: string | undefined, order: 'asc' | 'desc', offset: number, limit: number): { rows: PipelineRow[]; total: number } {
    const where = and(eq(pipelines.tenantId, tenantId), systemId === undefined ? undefined : eq(pipelines.systemId, systemId));
    const by = order === 'asc' ? [asc(pipelines.createdAt), asc(pipelines.id)] : [desc(pipelines.createdAt), desc(pipelines.id)];
    const rows = this.db.select().from(pipelines).where(where).orderBy(...by).limit(limit).offset(offset).all();
    const total = this.db.select({ n: count() }).from(pipelines).where(where).get()!.n;
    return { rows, total };
  }

  /** Counts an execution that started (in the transaction that inserts it). */
  countStarted(id: string, at: string): void {
    this.db.update(pipelines).set({ executionCount: sql`${pipelines.executionCount} + 1`, updatedAt: at }).where(eq(pipelines.id, id)).run();
  }

  /** Counts an execution that ended (in the transaction that records its end). */
  countFinished(id: string, completed: boolean, at: string): void {
    this.db
      .update(pipelines)
      .set({
        finishedCount: sql`${pipelines.finishedCount} + 1`,
        completedCount: sql`${pipelines.completedCount} + ${completed ? 1 : 0}`,
        updatedAt: at,
      })
      .where(eq(pipelines.id, id))
      .run();
  }

  // ---- executions ----

  insertExecution(row: ExecutionRow): void {
    this.db.insert(pipelineExecutions).values(row).run();
  }

  execution(id: string): ExecutionRow | undefined {
    return this.db.select().from(pipelineExecutions).where(eq(pipelineExecutions.id, id)).get();
  }

  /** A page of one pipeline's executions, by (started_at, id) in `order` (index pipeline_executions_pipeline), and the total. */
  listExecutions(pipelineId: string, order: 'asc' | 'desc', offset: number, limit: number): { rows: ExecutionRow[]; total: number } {
    const where = eq(pipelineExecutions.pipelineId, pipelineId);
    const by = order === 'asc' ? [asc(pipelineExecutions.startedAt), asc(pipelineExecutions.id)] : [desc(pipelineExecutions.startedAt), desc(pipelineExecutions.id)];
    const rows = this.db.select().from(pipelineExecutions).where(where).orderBy(...by).limit(limit).offset(offset).all();
    const total = this.db.select({ n: count() }).from(pipelineExecutions).where(where).get()!.n;
    return { rows, total };
  }

  updateExecution(id: string, set: Partial<ExecutionRow>): void {
    this.db.update(pipelineExecutions).set(set).where(eq(pipelineExecutions.id, id)).run();
  }

  /** Executions a previous process left running (it died with them). */
  unfinished(): ExecutionRow[] {
    return this.db.select().from(pipelineExecutions).where(inArray(pipelineExecutions.status, ['running'])).all();
  }

  // ---- logs ----

  insertLogs(rows: ExecutionLogRow[]): void {
    if (rows.length) this.db.insert(pipelineExecutionLogs).values(rows).run();
  }

  /** Rows from `from` on, ascending, at most `limit`. */
  logsFrom(executionId: string, from: number, limit: number): ExecutionLogRow[] {
    const l = pipelineExecutionLogs;
    return this.db
      .select()
      .from(l)
      .where(and(eq(l.executionId, executionId), gt(l.position, from - 1)))
      .orderBy(asc(l.position))
      .limit(limit)
      .all();
  }

  /** The last `tail` rows (of one step when `step`) in ascending order, and how many there are in all. */
  logsTail(executionId: string, step: string | undefined, tail: number): { rows: ExecutionLogRow[]; total: number } {
    const l = pipelineExecutionLogs;
    const where = and(eq(l.executionId, executionId), step === undefined ? undefined : eq(l.step, step));
    const total = this.db.select({ n: count() }).from(l).where(where).get()!.n;
    const rows = this.db.select().from(l).where(where).orderBy(desc(l.position)).limit(tail).all().reverse();
    return { rows, total };
  }

  /** The highest position written for an execution (0: none). */
  lastPosition(executionId: string): number {
    const l = pipelineExecutionLogs;
    return this.db.select({ m: sql<number | null>`max(${l.position})` }).from(l).where(eq(l.executionId, executionId)).get()?.m ?? 0;
  }
}
