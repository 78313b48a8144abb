import type { Context } from 'hono';

/**
 * Sends an already-serialized JSON body. Appends answer with the exact bytes stored in the idempotency
 * record, so an original answer and its replays are byte-identical.
 */
export function jsonText(c: Context, status: number, text: string): never {
  return c.body(text, status as 201, { 'Content-Type': 'application/json' }) as never;
}
