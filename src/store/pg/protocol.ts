// The messages between the main thread and the PostgreSQL worker (src/store/pg/worker.ts). Values cross by
// structured clone: a Buffer arrives as a Uint8Array and is turned back into a Buffer on the other side.

export type PgRequest =
  /** `init`: session settings, run on this connection and again whenever it is re-established */
  | { op: 'connect'; conn: number; url: string; role: 'main' | 'lease'; init?: string }
  /** `before`: deferred writes sent ahead of the statement in the same request (see database.ts runDeferred) */
  | { op: 'query'; conn: number; text: string; params: unknown[]; rowMode: 'array' | 'object'; name?: string; before?: Array<{ text: string; params: unknown[] }> }
  /** several statements without parameters in one round trip (simple query protocol) */
  | { op: 'exec'; conn: number; text: string }
  /** deferred writes, in order; consecutive INSERTs of one statement become one multi-row INSERT */
  | { op: 'batch'; conn: number; statements: Array<{ text: string; params: unknown[] }> }
  | { op: 'migrate'; conn: number; folder: string; lockKey: string }
  | { op: 'close'; conn: number };

export interface PgErrorShape {
  message: string;
  /** SQLSTATE, e.g. 23505 */
  sqlState?: string;
  constraint?: string;
  detail?: string;
}

export type PgResponse =
  | { ok: true; rows: unknown[]; rowCount: number; fields: string[] }
  | { ok: false; error: PgErrorShape };
