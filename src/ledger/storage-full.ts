// Out of space is an operating condition, not a defect: writers that meet it retry later instead of giving up.
const SPACE_CODES = new Set(['SQLITE_FULL', 'ENOSPC', 'EDQUOT']);

/** True when err (or an error it wraps) says the database or the disk is full. */
export function isStorageFull(err: unknown): boolean {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && SPACE_CODES.has(code)) return true;
  }
  return false;
}
