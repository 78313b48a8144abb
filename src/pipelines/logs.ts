// An execution's progress as rows of pipeline_execution_logs: lifecycle rows and output lines, numbered 1, 2, … (the
// SSE ids of GET /v1/executions/{id}/events). Lines arrive one engine event at a time; they are buffered and written
// in batches (one transaction per batch, not per line), and at most `maxLines` output lines are stored per execution:
// past the cap one warn row says so and later lines are only counted, so a step that prints forever cannot grow the
// database or this process's memory without bound.
import type { Store } from '../store/index.js';
import type { ExecutionLogRow } from '../store/pipelines.js';
import { errField, log } from '../log.js';

/** Rows buffered before a write is due at once; otherwise the buffer is written FLUSH_MS after its first row. */
const BATCH_ROWS = 256;
const FLUSH_MS = 50;

export type LogLevel = 'info' | 'warn' | 'error';
export type LogKind = 'execution.started' | 'step.started' | 'log' | 'step.finished' | 'execution.finished';

export interface LogEntry {
  kind: LogKind;
  step: string | null;
  at: string;
  level: LogLevel;
  message: string;
  data?: unknown;
}

export class ExecutionLog {
  private buffer: ExecutionLogRow[] = [];
  private timer: NodeJS.Timeout | undefined;
  private position: number;
  private lines = 0;
  /** output lines not stored because of the cap */
  dropped = 0;
  private closed = false;

  constructor(
    private readonly store: Store,
    readonly executionId: string,
    private readonly maxLines: number,
    /** told the highest position committed after each write */
    private readonly onWritten: (executionId: string, position: number) => void,
    startPosition = 0,
  ) {
    this.position = startPosition;
  }

  /** The next position (what a row added now would get). */
  get nextPosition(): number {
    return this.position + 1;
  }

  /** An output line (counted against the cap) or a lifecycle row (always kept). */
  add(e: LogEntry): void {
    if (this.closed) return;
    if (e.kind === 'log') {
      if (this.lines >= this.maxLines) {
        if (this.dropped++ === 0) {
          this.push({ ...e, level: 'warn', message: `log truncated: more than ${this.maxLines} lines (PROOFSTREAM_PIPELINE_LOG_MAX_LINES); later lines are not stored`, data: undefined });
        }
        return;
      }
      this.lines++;
    }
    this.push(e);
  }

  private push(e: LogEntry): void {
    this.buffer.push({
      executionId: this.executionId,
      position: ++this.position,
      kind: e.kind,
      step: e.step,
      at: e.at,
      level: e.level,
      message: e.message,
      data: e.data === undefined ? null : JSON.stringify(e.data),
    });
    if (this.buffer.length >= BATCH_ROWS) this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), FLUSH_MS);
      this.timer.unref();
    }
  }

  /** Writes what is buffered now (one transaction). */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.buffer.length === 0) return;
    const rows = this.buffer;
    this.buffer = [];
    try {
      this.store.write(() => this.store.pipelines.insertLogs(rows));
    } catch (e) {
      // A full disk or a closed database (shutdown): the lines are lost, the execution and its receipt are not.
      log.error({ event: 'pipeline_log_write_failed', execution_id: this.executionId, rows: rows.length, err: errField(e) }, 'execution log lines could not be written');
      return;
    }
    this.onWritten(this.executionId, rows[rows.length - 1]!.position);
  }

  /**
   * The last row, written by the caller inside its own transaction (the one that records the execution's end): writes
   * what is buffered first, then hands the row over and takes no more.
   */
  finalRow(e: LogEntry): ExecutionLogRow {
    this.flush();
    this.closed = true;
    return {
      executionId: this.executionId,
      position: ++this.position,
      kind: e.kind,
      step: e.step,
      at: e.at,
      level: e.level,
      message: e.message,
      data: e.data === undefined ? null : JSON.stringify(e.data),
    };
  }
}
