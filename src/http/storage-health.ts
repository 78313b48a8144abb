// Whether the ledger can still write. A write that failed for lack of space (SQLITE_FULL, ENOSPC) marks storage
// full; the next committed append, or room found again when /health looks, clears it. /health reports it.
import { isStorageFull } from '../ledger/storage-full.js';
import type { Store } from '../store/index.js';

/** Room the database must have again before /health stops saying "full" on its own. */
export const STORAGE_RECOVERED_BYTES = 1024 * 1024;

export { isStorageFull };

export class StorageHealth {
  private full = false;

  constructor(private readonly store: Pick<Store, 'headroomBytes'>) {}

  markFull(): void {
    this.full = true;
  }

  markWritten(): void {
    this.full = false;
  }

  /** 'full' while the last write failed for space and no room has appeared since; cheap when not full. */
  state(): 'ok' | 'full' {
    if (this.full) {
      try {
        if (this.store.headroomBytes() >= STORAGE_RECOVERED_BYTES) this.full = false;
      } catch {
        /* cannot tell: keep what the last write said */
      }
    }
    return this.full ? 'full' : 'ok';
  }
}
