// Raw HTTP requests for bodies fetch() cannot shape: a declared Content-Length with the body held back, chunked
// bodies, answers that arrive while the body is still being sent.
import http from 'node:http';

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  body: any;
  /** ms from the request's start to the end of the answer */
  ms: number;
}

export interface RawRequest {
  /** resolves with the answer (also when it comes before the body was all sent) */
  response: Promise<RawResponse>;
  /**
   * Sends more of the body; resolves once the socket takes more (drain), or the request has ended or been answered,
   * so a caller that awaits it sends no faster than the server reads.
   */
  write(chunk: Buffer | string): Promise<void>;
  /** end the body */
  end(chunk?: Buffer | string): void;
}

/**
 * Starts a request and sends its headers at once. With `contentLength` the body is declared; without, it is
 * chunked. Socket errors after an answer arrived (the server stopped reading a refused body) are ignored.
 */
export function rawRequest(base: string, method: string, path: string, opts: { contentLength?: number; headers?: Record<string, string> } = {}): RawRequest {
  const t0 = performance.now();
  const headers: Record<string, string | number> = { 'content-type': 'application/json', ...opts.headers };
  if (opts.contentLength !== undefined) headers['content-length'] = opts.contentLength;
  const req = http.request(base + path, { method, headers, agent: false });
  let answered = false;
  const response = new Promise<RawResponse>((resolve, reject) => {
    req.on('response', (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          body = undefined;
        }
        resolve({ status: res.statusCode!, headers: res.headers, text, body, ms: performance.now() - t0 });
      });
      res.on('error', reject);
    });
    req.on('error', (e) => {
      if (!answered) reject(e);
    });
  });
  req.flushHeaders();
  return {
    response,
    write: (chunk) => {
      if (req.destroyed || req.write(chunk)) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const done = () => {
          req.off('drain', done).off('close', done).off('response', done);
          resolve();
        };
        req.on('drain', done).on('close', done).on('response', done);
      });
    },
    end: (chunk) => {
      if (!req.destroyed) req.end(chunk);
    },
  };
}

/** One whole request with `body` (a Content-Length request unless `chunked`). */
export function rawPost(base: string, path: string, body: Buffer | string, opts: { chunked?: boolean; headers?: Record<string, string> } = {}): Promise<RawResponse> {
  const buf = typeof body === 'string' ? Buffer.from(body) : body;
  const r = rawRequest(base, 'POST', path, { contentLength: opts.chunked ? undefined : buf.length, headers: opts.headers });
  if (opts.chunked) {
    for (let at = 0; at < buf.length; at += 1 << 20) r.write(buf.subarray(at, at + (1 << 20)));
    r.end();
  } else {
    r.end(buf);
  }
  return r.response;
}
