import { randomFillSync } from 'node:crypto';

// One randomFillSync per 64 KiB instead of one randomBytes call (a syscall-backed CSPRNG read plus a Buffer) per id
// or salt: the append path needs 32 bytes of salt and 16 of id per event. Every byte is handed out once.
const POOL_SIZE = 64 * 1024;
const pool = Buffer.allocUnsafe(POOL_SIZE);
let offset = POOL_SIZE;

/** `n` fresh CSPRNG bytes (n ≤ 64 KiB) as a view into the pool: copy them if you keep them beyond the next call. */
function take(n: number): Buffer {
  if (offset + n > POOL_SIZE) {
    randomFillSync(pool);
    offset = 0;
  }
  const b = pool.subarray(offset, offset + n);
  offset += n;
  return b;
}

/** `n` fresh random bytes the caller owns (a copy out of the pool). */
export const randomBytesPooled = (n: number): Buffer => Buffer.from(take(n));

/** `<prefix>_<22 chars base64url>`: 128 random bits, unguessable so ids never leak tenancy by enumeration. */
export const newId = (prefix: string): string => `${prefix}_${take(16).toString('base64url')}`;

// The base64url characters in ASCII order, so that the text order of ids is the numeric order of what they encode.
const SORTED64 = '-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz';

/**
 * `<prefix>_<22 chars>` from the same alphabet as newId, but time-ordered: 8 characters of the millisecond clock
 * (48 bits) then 14 random characters (84 bits, still far beyond enumeration). Ids made later sort later, so
 * inserting them appends at the right edge of the primary-key index instead of dirtying a random page per row.
 * For events, whose receipt states received_at anyway, so the embedded time discloses nothing new.
 */
export function newTimeOrderedId(prefix: string, nowMs: number = Date.now()): string {
  let s = prefix + '_';
  let t = Math.max(0, Math.floor(nowMs));
  const time = new Array<string>(8);
  for (let i = 7; i >= 0; i--) {
    time[i] = SORTED64[t % 64]!;
    t = Math.floor(t / 64);
  }
  s += time.join('');
  const r = take(14);
  for (let i = 0; i < 14; i++) s += SORTED64[r[i]! & 63];
  return s;
}
