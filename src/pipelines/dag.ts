// Scheduling order over a validated config: which steps may start, which must be skipped.
import type { StepConfig } from './config.js';

export type NodeState = 'pending' | 'running' | 'completed' | 'failed' | 'skipped' | 'cancelled' | 'timed_out';

/** Steps (by index, config order) whose every need completed and that are still pending. */
export function readySteps(steps: readonly StepConfig[], state: readonly NodeState[], index: ReadonlyMap<string, number>): number[] {
  const out: number[] = [];
  for (let i = 0; i < steps.length; i++) {
    if (state[i] !== 'pending') continue;
    if (steps[i]!.needs.every((n) => state[index.get(n)!] === 'completed')) out.push(i);
  }
  return out;
}

/** Pending steps with a need that ended in anything but `completed`: they can never run. */
export function doomedSteps(steps: readonly StepConfig[], state: readonly NodeState[], index: ReadonlyMap<string, number>): number[] {
  const out: number[] = [];
  for (let i = 0; i < steps.length; i++) {
    if (state[i] !== 'pending') continue;
    const bad = steps[i]!.needs.some((n) => {
      const s = state[index.get(n)!]!;
      return s !== 'completed' && s !== 'pending' && s !== 'running';
    });
    if (bad) out.push(i);
  }
  return out;
}
