// The SDK's event-stream parser on recorded byte streams split at every byte boundary, and follow() against a
// stub live-feed server on 127.0.0.1 that drops its connections (the real route: test/sdk.test.ts once it lands).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { Proofstream, SseParser, type FeedItem, type SseMessage } from 'proofstream/client';

const enc = new TextEncoder();

/** A recording in the live feed's shape, with the awkward parts of the format: CRLF, CR, BOM, multi-byte text. */
const RECORDED =
  '\uFEFFretry: 2500\n' +
  ': ping\n\n' +
  'id: 1\nevent: event\ndata: {"event":{"seq_no":1,"payload":"caf\u00e9 \u6f22\u5b57 \u{1F600}"}}\n\n' +
  'id: 2\r\nevent: event\r\ndata: {"event":\r\ndata: {"seq_no":2}}\r\n\r\n' +
  'event: checkpoint\rdata: {"tree_size":2}\r\r' +
  ':comment without a space\n' +
  'data:no-space\nunknown: field\nid\n\n' +
  'id: 3\nevent: event\ndata\n\n' +
  'id: 4\u0000x\ndata: {"nul id ignored":true}\n\n' +
  'event: overflow\ndata: {"resume_from_seq_no":4}\n\n' +
  'id: 9\nevent: event\ndata: {"incomplete": true}\n';

const EXPECTED: SseMessage[] = [
  { event: 'event', data: '{"event":{"seq_no":1,"payload":"caf\u00e9 \u6f22\u5b57 \u{1F600}"}}', id: '1' },
  { event: 'event', data: '{"event":\n{"seq_no":2}}', id: '2' },
  { event: 'checkpoint', data: '{"tree_size":2}', id: '2' },
  { event: 'message', data: 'no-space', id: '' },
  { event: 'event', data: '', id: '3' },
  { event: 'message', data: '{"nul id ignored":true}', id: '3' },
  { event: 'overflow', data: '{"resume_from_seq_no":4}', id: '3' },
];

function parseChunks(chunks: Uint8Array[]): { msgs: SseMessage[]; p: SseParser } {
  const p = new SseParser();
  const msgs: SseMessage[] = [];
  for (const c of chunks) msgs.push(...p.push(c));
  msgs.push(...p.end());
  return { msgs, p };
}

describe('SseParser', () => {
  const bytes = enc.encode(RECORDED);

  it('parses the recording whole: fields, comments, retry, CRLF/CR/LF, BOM, NUL ids; drops the unterminated last message', () => {
    const { msgs, p } = parseChunks([bytes]);
    expect(msgs).toEqual(EXPECTED);
    expect(p.retryMs).toBe(2500);
    expect(p.comments).toBe(2);
    expect(p.lastEventId).toBe('9');
  });

  it('gives the same messages however the bytes are split: at every boundary, in three pieces, and byte by byte', () => {
    for (let i = 0; i <= bytes.length; i++) {
      expect(parseChunks([bytes.subarray(0, i), bytes.subarray(i)]).msgs, `split at byte ${i}`).toEqual(EXPECTED);
    }
    for (let i = 1; i < bytes.length; i += 7) {
      for (let j = i; j < bytes.length; j += 11) {
        expect(parseChunks([bytes.subarray(0, i), bytes.subarray(i, j), bytes.subarray(j)]).msgs, `split at ${i}, ${j}`).toEqual(EXPECTED);
      }
    }
    expect(parseChunks(Array.from(bytes, (b) => Uint8Array.of(b))).msgs).toEqual(EXPECTED);
  });

  it('bounds a line that never ends', () => {
    const p = new SseParser({ maxLineChars: 1024 });
    expect(() => p.push(enc.encode('data: ' + 'x'.repeat(2000)))).toThrow(/longer than 1024/);
    const q = new SseParser({ maxLineChars: 1024 });
    expect(() => q.push(enc.encode('data: xxxxxxxxxx\n'.repeat(200)))).toThrow(/longer than 1024/);
  });
});

describe('follow() over a stub live feed', () => {
  const servers: http.Server[] = [];
  afterAll(async () => {
    for (const s of servers) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
  });

  it('resumes with Last-Event-ID after drops, an overflow and a replayed duplicate: every seq_no once, in order', async () => {
    const requests: Array<{ lastEventId: string | undefined; from: string | null }> = [];
    const event = (n: number) => {
      const e = { stream_id: 'str_x', seq_no: n, stream_event_id: `sev_${n}` };
      return `id: ${n}\nevent: event\ndata: ${JSON.stringify({ event: e, receipt: e })}\n\n`;
    };
    const srv = http.createServer((req, res) => {
      const u = new URL(req.url!, 'http://x');
      const lastEventId = req.headers['last-event-id'] as string | undefined;
      requests.push({ lastEventId, from: u.searchParams.get('from_seq_no') });
      const start = lastEventId !== undefined ? Number(lastEventId) + 1 : Number(u.searchParams.get('from_seq_no'));
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('retry: 10\n\n');
      const n = requests.length;
      if (n === 1) {
        // 3, 4, then the connection breaks mid-message.
        res.write(event(start) + event(start + 1) + 'id: 5\nevent: ev', () => res.destroy());
      } else if (n === 2) {
        // replays 4 (a duplicate), sends 5, 6, then an overflow close.
        res.write(event(start - 1) + event(start) + event(start + 1) + 'event: overflow\ndata: {"resume_from_seq_no":7}\n\n');
        res.end();
      } else if (n === 3) {
        // a checkpoint message, then a gap (8 before 7): never delivered; the client reconnects from 7.
        res.write('event: checkpoint\ndata: {"stream_id":"str_x","tree_size":6,"checkpoint":{},"status":"signed"}\n\n' + event(start + 1));
      } else {
        res.write(': ping\n\n' + event(start) + event(start + 1));
      }
    });
    servers.push(srv);
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const ps = new Proofstream({ baseUrl: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`, apiKey: 'k' });
    const got: FeedItem[] = [];
    const reasons: string[] = [];
    for await (const item of ps.follow('str_x', { from: 3, reconnectBaseMs: 5, onReconnect: (i) => reasons.push(i.reason) })) {
      got.push(item);
      if (item.type === 'event' && item.seq_no === 8) break;
    }
    expect(got.map((i) => (i.type === 'event' ? i.seq_no : `cp${i.tree_size}`))).toEqual([3, 4, 5, 6, 'cp6', 7, 8]);
    expect(requests).toEqual([
      { lastEventId: undefined, from: '3' },
      { lastEventId: '4', from: null },
      { lastEventId: '6', from: null },
      { lastEventId: '6', from: null },
    ]);
    expect(reasons).toEqual([expect.stringMatching(/closed|failed/), expect.stringMatching(/^overflow/), expect.stringMatching(/^gap: expected seq_no 7, got 8/)]);
  });

  it('a silent connection (no event, no ping) is dropped after heartbeatTimeoutMs and resumed', async () => {
    let n = 0;
    const srv = http.createServer((req, res) => {
      n++;
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const e = { stream_id: 'str_y', seq_no: n, stream_event_id: `sev_${n}` };
      res.write(`id: ${n}\nevent: event\ndata: ${JSON.stringify({ event: e, receipt: e })}\n\n`);
      // …and then nothing: a half-open connection as a dead NAT leaves it.
    });
    servers.push(srv);
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const ps = new Proofstream({ baseUrl: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`, apiKey: 'k' });
    const seqs: number[] = [];
    for await (const item of ps.follow('str_y', { from: 1, heartbeatTimeoutMs: 200, reconnectBaseMs: 5 })) {
      if (item.type === 'event') seqs.push(item.seq_no);
      if (seqs.length === 3) break;
    }
    expect(seqs).toEqual([1, 2, 3]);
  });

  it('an `event: error` message (INTEGRITY_ERROR) ends the iterator after the events before it, with the code', async () => {
    const srv = http.createServer((req, res) => {
      const e = { stream_id: 'str_e', seq_no: 1, stream_event_id: 'sev_1' };
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(
        `id: 1\nevent: event\ndata: ${JSON.stringify({ event: e, receipt: e })}\n\n` +
          'event: error\ndata: {"error":{"code":"INTEGRITY_ERROR","message":"event 2 fails its hash"},"resume_from_seq_no":2}\n\n',
      );
    });
    servers.push(srv);
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const ps = new Proofstream({ baseUrl: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`, apiKey: 'k' });
    const it = ps.follow('str_e', { from: 1 });
    expect((await it.next()).value).toMatchObject({ type: 'event', seq_no: 1 });
    await expect(it.next()).rejects.toMatchObject({ code: 'INTEGRITY_ERROR', details: { resume_from_seq_no: 2 } });
  });

  it('with trust pinned, an event whose receipt fails verification ends the iterator (VERIFICATION_FAILED), never yielded', async () => {
    const srv = http.createServer((req, res) => {
      const e = { stream_id: 'str_v', seq_no: 1, stream_event_id: 'sev_1', event_hash: 'ab'.repeat(32) };
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`id: 1\nevent: event\ndata: ${JSON.stringify({ event: e, receipt: e })}\n\n`);
    });
    servers.push(srv);
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const ps = new Proofstream({
      baseUrl: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`,
      apiKey: 'k',
      trustedKeys: [{ kid: 'ps-ed25519-x', alg: 'Ed25519', public_key: 'cd'.repeat(32) }],
    });
    await expect(ps.follow('str_v', { from: 1 }).next()).rejects.toMatchObject({ code: 'VERIFICATION_FAILED' });
  });

  it('a refusal that retrying cannot cure (401) ends the iterator with the typed error', async () => {
    const srv = http.createServer((req, res) => {
      res.writeHead(401, { 'content-type': 'application/json', 'x-request-id': 'req_stub' });
      res.end(JSON.stringify({ error: { code: 'AUTHENTICATION_FAILED', message: 'no', details: null, request_id: 'req_stub' } }));
    });
    servers.push(srv);
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const ps = new Proofstream({ baseUrl: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`, apiKey: 'bad' });
    const it = ps.follow('str_z', { from: 1 });
    await expect(it.next()).rejects.toMatchObject({ status: 401, code: 'AUTHENTICATION_FAILED', request_id: 'req_stub' });
  });
});
