// The process's one logger: JSON lines on stdout (pretty when stdout is a terminal), level from LOG_LEVEL (default
// info; `silent` turns it off). Tests capture lines with useLogDestination. Never log API keys, the Authorization
// header or request bodies.
import { pino, type DestinationStream, type Logger } from 'pino';
import pretty from 'pino-pretty';

const LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

function levelFromEnv(): string {
  const raw = (process.env.LOG_LEVEL ?? '').trim().toLowerCase();
  return LEVELS.has(raw) ? raw : 'info';
}

function build(dest: DestinationStream): Logger {
  return pino({ level: levelFromEnv(), base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }, dest);
}

function defaultDestination(): DestinationStream {
  // Asynchronous writes: under load, lines logged while a write is in flight go out together in the next one
  // (one syscall for many requests, not one each); pino flushes what is left when the process exits.
  return process.stdout.isTTY ? pretty({ colorize: true, sync: true, translateTime: 'SYS:standard' }) : pino.destination({ dest: 1, sync: false });
}

/** The logger. A live binding: useLogDestination replaces it everywhere. */
export let log: Logger = build(defaultDestination());

/** Sends every later line to `dest` (tests: an in-memory stream) at LOG_LEVEL; returns what puts the previous logger back. */
export function useLogDestination(dest: DestinationStream): () => void {
  const previous = log;
  log = build(dest);
  return () => {
    log = previous;
  };
}

/** An Error as a log field: its message (and code), not its stack, unless it is unexpected. */
export function errField(e: unknown): { message: string; code?: string } {
  if (e instanceof Error) {
    const code = (e as NodeJS.ErrnoException).code;
    return code ? { message: e.message, code: String(code) } : { message: e.message };
  }
  return { message: String(e) };
}
