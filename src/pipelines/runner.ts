// One step as a child process: `sh -c` in its own process group (or under bwrap in sandbox mode), with exactly the
// environment it is given, a timeout and cancellation that kill the whole group, and a per-step log cap.
import { spawn } from 'node:child_process';
import { bwrapArgs, BWRAP } from './sandbox.js';

export interface StepProcessOptions {
  command: string;
  cwd: string;
  env: Record<string, string>;
  mode: 'process' | 'sandbox';
  timeoutMs: number;
  /** bytes of log (stdout and stderr together) kept per step; the rest is dropped after one marker line */
  logLimitBytes: number;
  signal?: AbortSignal;
  onLog: (stream: 'stdout' | 'stderr', line: string) => void;
  sandboxReadOnly?: readonly string[];
}

export interface StepProcessResult {
  status: 'completed' | 'failed' | 'timed_out' | 'cancelled';
  exit_code: number | null;
  /** the group leader's pid (sh, or bwrap in sandbox mode) */
  pid: number | undefined;
  log_truncated: boolean;
}

/** A line longer than this is emitted in pieces, so one newline-free stream cannot grow memory. */
export const MAX_LINE_BYTES = 64 * 1024;

export const truncationMarker = (limit: number): string => `[proofstream: log truncated after ${limit} bytes]`;

/** Kills the process group led by `pid`; a group that is already gone is fine. */
export function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    /* ESRCH: nothing left in the group */
  }
}

export function runStepProcess(o: StepProcessOptions): Promise<StepProcessResult> {
  return new Promise((resolve) => {
    if (o.signal?.aborted) {
      resolve({ status: 'cancelled', exit_code: null, pid: undefined, log_truncated: false });
      return;
    }
    const [file, args] = o.mode === 'sandbox' ? [BWRAP, bwrapArgs(o.cwd, o.command, o.sandboxReadOnly)] : ['/bin/sh', ['-c', o.command]];
    // detached: the child leads a new process group, so one kill(-pid) reaches everything it started.
    const child = spawn(file, args as string[], { cwd: o.cwd, env: o.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const pid = child.pid;
    let budget = o.logLimitBytes;
    let truncated = false;
    let ending: 'timed_out' | 'cancelled' | null = null;
    let spawnError: Error | null = null;

    const emit = (stream: 'stdout' | 'stderr', line: string): void => {
      if (truncated) return;
      const n = Buffer.byteLength(line) + 1;
      if (n > budget) {
        truncated = true;
        o.onLog(stream, truncationMarker(o.logLimitBytes));
        return;
      }
      budget -= n;
      o.onLog(stream, line);
    };
    const lineReader = (stream: 'stdout' | 'stderr') => {
      const decoder = new TextDecoder();
      let pending = '';
      return {
        data(chunk: Buffer) {
          if (truncated) return; // keep draining so the child never blocks on a full pipe
          pending += decoder.decode(chunk, { stream: true });
          let nl: number;
          while ((nl = pending.indexOf('\n')) >= 0) {
            emit(stream, pending.slice(0, nl).replace(/\r$/, ''));
            pending = pending.slice(nl + 1);
          }
          while (pending.length > MAX_LINE_BYTES) {
            emit(stream, pending.slice(0, MAX_LINE_BYTES));
            pending = pending.slice(MAX_LINE_BYTES);
          }
        },
        end() {
          pending += decoder.decode();
          if (pending.length > 0) emit(stream, pending);
          pending = '';
        },
      };
    };
    const out = lineReader('stdout');
    const err = lineReader('stderr');
    child.stdout!.on('data', out.data);
    child.stderr!.on('data', err.data);

    let exited = false;
    const timer = setTimeout(() => {
      if (!exited) ending ??= 'timed_out';
      killGroup(pid);
    }, o.timeoutMs);
    const onAbort = () => {
      if (!exited) ending ??= 'cancelled';
      killGroup(pid);
    };
    o.signal?.addEventListener('abort', onAbort, { once: true });

    child.on('error', (e) => {
      spawnError = e;
    });
    // When the leader exits, whatever it left running in its group (a backgrounded daemon) is ended too: a step
    // leaves nothing behind, and its pipes close so 'close' fires.
    child.on('exit', () => {
      exited = true;
      clearTimeout(timer);
      killGroup(pid);
    });
    child.on('close', (code, sig) => {
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      out.end();
      err.end();
      if (spawnError && pid === undefined) {
        o.onLog('stderr', `[proofstream: could not start the step: ${spawnError.message}]`);
        resolve({ status: 'failed', exit_code: null, pid, log_truncated: truncated });
        return;
      }
      const exit = sig ? null : code;
      if (ending) resolve({ status: ending, exit_code: exit, pid, log_truncated: truncated });
      else resolve({ status: code === 0 ? 'completed' : 'failed', exit_code: exit, pid, log_truncated: truncated });
    });
  });
}
