// Idempotency-Key semantics shared by every write route. The durable record is written by the write's own
// transaction (see Appender); this gate adds the in-flight view a single process needs: a duplicate that
// arrives while the original is running waits (bounded) for its outcome instead of executing twice.
import { hash } from 'node:crypto';
import { canonicalize } from '../protocol/jcs.js';
import type { Store } from '../store/index.js';
import { ApiError } from './errors.js';
import { RebuiltAnswers, replayBodyText } from './replay.js';

export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;

/** Same method, path and JCS body ⇔ same fingerprint: lowercase hex SHA-256 of `METHOD path\nJCS(body)`. */
export function requestFingerprint(method: string, path: string, body: unknown): string {
  return hash('sha256', `${method.toUpperCase()} ${path}\n${canonicalize(body ?? null)}`, 'hex');
}

export type GateDecision =
  | { kind: 'replay'; status: number; bodyText: string }
  | { kind: 'proceed'; release: () => void };

interface InFlight {
  fingerprint: string;
  /** created only when a duplicate actually waits (rare): most requests never need it */
  done?: Promise<void>;
  wake?: () => void;
}

export class IdempotencyGate {
  private readonly inFlight = new Map<string, InFlight>();
  private readonly rebuilt = new RebuiltAnswers();

  constructor(
    private readonly store: Store,
    private readonly waitMs: number,
  ) {}

  /**
   * Replay, proceed, or (for a duplicate of a request still running) wait for it. Synchronous, without a promise,
   * whenever no wait is needed, which is every request but concurrent duplicates.
   */
  enter(tenantId: string, key: string, fingerprint: string): GateDecision | Promise<GateDecision> {
    const slot = `${tenantId}\u0000${key}`;
    return this.decide(tenantId, key, fingerprint, slot) ?? this.waitAndEnter(tenantId, key, fingerprint, slot);
  }

  /** The decision when it needs no wait; undefined (and nothing changed) when an original with this key is running. */
  private decide(tenantId: string, key: string, fingerprint: string, slot: string): GateDecision | undefined {
    const rec = this.store.idempotency.get(tenantId, key, Date.now());
    if (rec) {
      if (rec.fingerprint !== fingerprint) throw conflict();
      return { kind: 'replay', status: rec.status, bodyText: replayBodyText(this.store, rec.responseBody, this.rebuilt) };
    }
    const running = this.inFlight.get(slot);
    if (running) {
      if (running.fingerprint !== fingerprint) throw conflict();
      return undefined;
    }
    const mine: InFlight = { fingerprint };
    this.inFlight.set(slot, mine);
    return {
      kind: 'proceed',
      release: () => {
        this.inFlight.delete(slot);
        mine.wake?.();
      },
    };
  }

  private async waitAndEnter(tenantId: string, key: string, fingerprint: string, slot: string): Promise<GateDecision> {
    for (;;) {
      const running = this.inFlight.get(slot)!;
      running.done ??= new Promise<void>((r) => (running.wake = r));
      const finished = await Promise.race([running.done.then(() => true), delay(this.waitMs).then(() => false)]);
      if (!finished) {
        throw new ApiError('IDEMPOTENCY_IN_PROGRESS', 'a request with this Idempotency-Key is still being processed; retry later', {
          retry_after_ms: 1000,
        });
      }
      // The original finished: replay its record, or (if it failed and left none) run ourselves.
      const d = this.decide(tenantId, key, fingerprint, slot);
      if (d) return d;
    }
  }
}

const conflict = () =>
  new ApiError('IDEMPOTENCY_CONFLICT', 'this Idempotency-Key was already used with a different request', null);

function delay(ms: number): Promise<void> {
  return new Promise((r) => {
    const t = setTimeout(r, ms);
    t.unref?.();
  });
}
