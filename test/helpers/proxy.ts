// A counting, fault-injecting HTTP proxy on 127.0.0.1 in front of a server child: it records every request (method,
// path, headers) and lets a test hold, drop or rewrite an answer, or point it at a restarted server.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Seen {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  status?: number;
}

/** What to do with an upstream answer: pass it on, swallow it and cut the connection, or send another body. */
export type Verdict = 'pass' | 'drop' | { body: Buffer | string };

export interface Proxy {
  url: string;
  seen: Seen[];
  /** where requests go; change it after a restart */
  target: { port: number };
  /** consulted for each upstream answer (default: pass) */
  onAnswer: ((req: Seen, status: number, body: Buffer) => Verdict | Promise<Verdict>) | null;
  close(): Promise<void>;
}

export async function startProxy(targetPort: number): Promise<Proxy> {
  const sockets = new Set<import('node:net').Socket>();
  const p: Proxy = { url: '', seen: [], target: { port: targetPort }, onAnswer: null, close: async () => {} };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const seen: Seen = { method: req.method!, path: req.url!, headers: req.headers };
      p.seen.push(seen);
      const headers = { ...req.headers, host: `127.0.0.1:${p.target.port}` };
      const up = http.request({ host: '127.0.0.1', port: p.target.port, method: req.method, path: req.url, headers }, (ur) => {
        const body: Buffer[] = [];
        ur.on('data', (c: Buffer) => body.push(c));
        ur.on('end', async () => {
          seen.status = ur.statusCode;
          const raw = Buffer.concat(body);
          const verdict = p.onAnswer ? await p.onAnswer(seen, ur.statusCode!, raw) : 'pass';
          if (verdict === 'drop') {
            req.socket.destroy();
            return;
          }
          const out = verdict === 'pass' ? raw : Buffer.from(verdict.body);
          const h = { ...ur.headers, 'content-length': String(out.length) };
          delete h['transfer-encoding'];
          res.writeHead(ur.statusCode!, h);
          res.end(out);
        });
        ur.on('error', () => req.socket.destroy());
      });
      // The server is down (killed, restarting): the client sees a broken connection, as it would without us.
      up.on('error', () => req.socket.destroy());
      up.end(Buffer.concat(chunks));
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  p.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  p.close = () =>
    new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    });
  return p;
}
