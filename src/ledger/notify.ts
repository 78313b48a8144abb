// In-process notifications after commit: what the live feed (src/http/sse.ts) and other in-process consumers listen
// to. Every notification is emitted only after the transaction that wrote it committed, so nothing is announced that
// did not commit. They are hints, not a log: a process that was not listening (or a second process writing the same
// database) misses them, and a consumer that must not miss anything reads the committed rows from a position
// (the live feed does). A listener that throws is logged and never disturbs the commit path or other listeners.
import { errField, log } from '../log.js';
import type { Store } from '../store/index.js';
import type { Anchoring } from './anchoring.js';
import type { Appender } from './appender.js';
import type { Evidence } from './evidence.js';
import type { Sealer } from './sealer.js';
import type { Witnessing } from './witnessing.js';

/** Events `fromSeqNo..toSeqNo` of a stream are committed (one per stream per group commit). */
export interface EventsCommitted {
  streamId: string;
  fromSeqNo: number;
  toSeqNo: number;
}

/**
 * What just happened to a checkpoint: `signed` (sealed and signed by the ledger), `witnessed` (its witness quorum was
 * just met), `anchored` (its RFC 3161 anchor was just stored).
 */
export type CheckpointStatus = 'signed' | 'witnessed' | 'anchored';

export interface CheckpointMoment {
  streamId: string;
  checkpointId: string;
  treeSize: number;
  status: CheckpointStatus;
}

interface Topics {
  events: EventsCommitted;
  checkpoint: CheckpointMoment;
}

export type Topic = keyof Topics;

export class Notifications {
  private readonly listeners: { [K in Topic]: Set<(n: Topics[K]) => void> } = { events: new Set(), checkpoint: new Set() };

  /** Subscribes; returns the function that unsubscribes. */
  on<K extends Topic>(topic: K, fn: (n: Topics[K]) => void): () => void {
    const set = this.listeners[topic] as Set<(n: Topics[K]) => void>;
    set.add(fn);
    return () => {
      set.delete(fn);
    };
  }

  /** Whether anyone listens: producers skip the reads a notification needs when nobody does. */
  has(topic: Topic): boolean {
    return this.listeners[topic].size > 0;
  }

  emit<K extends Topic>(topic: K, n: Topics[K]): void {
    for (const fn of this.listeners[topic] as Set<(n: Topics[K]) => void>) {
      try {
        fn(n);
      } catch (e) {
        log.error({ event: 'notification_listener_failed', topic, err: errField(e) }, `a ${topic} notification listener failed`);
      }
    }
  }
}

/** The parts of the engine that announce commits; wired once by the Ledger. */
export interface NotificationSources {
  store: Store;
  appender: Appender;
  sealer: Sealer;
  evidence: Evidence;
  witnessing: Witnessing | null;
  anchoring: Anchoring | null;
}

/**
 * Connects the engine's after-commit hooks to one Notifications. The reads a checkpoint moment needs (which
 * checkpoint, whether a quorum was just met, which checkpoints an epoch anchored) happen only while someone listens.
 */
export function wireNotifications(src: NotificationSources): Notifications {
  const n = new Notifications();
  const { store } = src;
  const guarded = (what: string, fn: () => void) => {
    try {
      fn();
    } catch (e) {
      log.error({ event: 'notification_failed', what, err: errField(e) }, `preparing a ${what} notification failed`);
    }
  };
  src.appender.onCommit((streamId, headSeqNo, leaves) => {
    if (leaves.length && n.has('events')) n.emit('events', { streamId, fromSeqNo: headSeqNo - leaves.length + 1, toSeqNo: headSeqNo });
  });
  src.sealer.onCheckpoint((streamId, treeSize) => {
    if (!n.has('checkpoint')) return;
    guarded('checkpoint', () => {
      const cp = store.checkpoints.checkpointAtSize(streamId, treeSize);
      if (cp) n.emit('checkpoint', { streamId, checkpointId: cp.id, treeSize, status: 'signed' });
    });
  });
  if (src.witnessing) {
    src.witnessing.onCosigned = (streamId, checkpointId) => {
      if (!n.has('checkpoint')) return;
      guarded('checkpoint', () => {
        const cp = store.checkpoints.checkpoint(checkpointId);
        if (!cp) return;
        const q = src.evidence.forCheckpoint(cp).witness_quorum;
        // Cosignatures arrive one per commit, so the count equals the quorum exactly once: the moment it is met.
        if (q.required > 0 && q.count === q.required) n.emit('checkpoint', { streamId, checkpointId, treeSize: cp.treeSize, status: 'witnessed' });
      });
    };
  }
  if (src.anchoring) {
    src.anchoring.onStamped = (epochId) => {
      if (!n.has('checkpoint')) return;
      guarded('checkpoint', () => {
        for (const leaf of store.evidence.epochLeaves(epochId)) {
          const cp = store.checkpoints.checkpoint(leaf.checkpointId);
          if (cp) n.emit('checkpoint', { streamId: cp.streamId, checkpointId: cp.id, treeSize: cp.treeSize, status: 'anchored' });
        }
      });
    };
  }
  return n;
}
