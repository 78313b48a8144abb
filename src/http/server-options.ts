// The node HTTP server's own limits: how many connections, how long each input may take, and what node's HTTP
// parser answers when it refuses a request itself (before Hono ever sees it) — the same error envelope as every
// route. docs/api.md, "Server limits", lists them.
import type { Server, ServerOptions } from 'node:http';
import type { Socket } from 'node:net';
import type { Config } from '../config.js';
import { STATUS_OF, type ErrorCode } from '../ledger/errors.js';
import { newId } from '../ledger/ids.js';

type Limits = Pick<Config, 'maxConnections' | 'keepAliveTimeoutMs' | 'headersTimeoutMs' | 'requestTimeoutMs'>;

/** Options for http.createServer (some of them can only be given there). */
export function serverOptions(cfg: Limits): ServerOptions {
  if (cfg.headersTimeoutMs > 0 && cfg.requestTimeoutMs > 0 && cfg.headersTimeoutMs > cfg.requestTimeoutMs) {
    throw new Error(`PROOFSTREAM_HEADERS_TIMEOUT_MS (${cfg.headersTimeoutMs}) must not exceed PROOFSTREAM_REQUEST_TIMEOUT_MS (${cfg.requestTimeoutMs})`);
  }
  const shortest = Math.min(...[cfg.headersTimeoutMs, cfg.requestTimeoutMs].filter((t) => t > 0), 2000);
  return {
    keepAliveTimeout: cfg.keepAliveTimeoutMs,
    headersTimeout: cfg.headersTimeoutMs,
    requestTimeout: cfg.requestTimeoutMs,
    // Node only notices an expired headers/request timeout when it sweeps its connections (every 30 s by default):
    // sweep often enough that a timeout means what it says.
    connectionsCheckingInterval: Math.max(100, Math.floor(shortest / 2)),
  };
}

/** What node's parser errors become: status and code of the envelope. */
function refusalOf(err: NodeJS.ErrnoException): { status: number; code: ErrorCode; message: string } {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, code: 'HEADERS_TOO_LARGE', message: 'request headers are too large' };
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return { status: 413, code: 'PAYLOAD_TOO_LARGE', message: 'chunk extensions are too large' };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, code: 'REQUEST_TIMEOUT', message: 'the request did not arrive in time' };
    default:
      return { status: 400, code: 'MALFORMED_REQUEST', message: 'malformed HTTP request' };
  }
}

const REASON: Record<number, string> = { 400: 'Bad Request', 408: 'Request Timeout', 413: 'Payload Too Large', 431: 'Request Header Fields Too Large' };

/** The raw HTTP/1.1 response node would have sent for a parser error, with our envelope as its body. */
export function clientErrorResponse(err: NodeJS.ErrnoException): string {
  const { status, code, message } = refusalOf(err);
  if (STATUS_OF[code] !== status) throw new Error(`${code} is not a ${status}`);
  const body = JSON.stringify({ error: { code, message, details: null, request_id: newId('req') } });
  return (
    `HTTP/1.1 ${status} ${REASON[status]}\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
  );
}

/** Applies the connection cap and installs the parser-error handler on a server made with serverOptions(). */
export function hardenServer(server: Server, cfg: Limits): void {
  // Each connection holds a descriptor; beyond the cap node closes new sockets on accept, so the ones already
  // open (and the database, and pack files) keep working.
  if (cfg.maxConnections > 0) server.maxConnections = cfg.maxConnections;
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    // As node's default handler: answer only when nothing of a response was written to this socket yet.
    const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (err.code !== 'ECONNRESET' && socket.writable && !inFlight?.headersSent) {
      socket.end(clientErrorResponse(err));
      // end() lets the answer drain; a peer that never reads it must not hold the descriptor.
      setTimeout(() => socket.destroy(), 1000).unref();
    } else {
      socket.destroy();
    }
  });
}
