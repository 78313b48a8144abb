// Load generator, run as its own process (pinned to the other core by bench/run.ts). Reads a JSON spec from
// argv[2], drives autocannon against 127.0.0.1 only, prints one JSON line with the results.
import autocannon from 'autocannon';

const spec = JSON.parse(process.argv[2]);
// spec.url: one URL, or several (autocannon spreads the connections over them round-robin)
const urls = Array.isArray(spec.url) ? spec.url : [spec.url];
for (const u of urls) if (new URL(u).hostname !== '127.0.0.1') throw new Error('bench load goes to 127.0.0.1 only');

let n = 0;
const prefix = `${spec.idemPrefix ?? 'b'}-${process.pid}-${Date.now()}`;
// With unique keys: the keys sent and not yet answered, and how many were answered 2xx. autocannon drops the
// requests still in flight when the duration ends (the server may commit them); the caller can settle those keys
// by sending them again, and then count exactly what the ledger must hold.
const unanswered = new Set();
let ok2xx = 0;
const request = {
  method: spec.method ?? 'GET',
  path: spec.path,
  headers: { 'content-type': 'application/json', authorization: `Bearer ${spec.key}`, ...(spec.headers ?? {}) },
  body: spec.body === undefined ? undefined : JSON.stringify(spec.body),
  setupRequest: (req, context) => {
    if (spec.idempotency === 'unique') {
      const key = `${prefix}-${n++}`;
      req.headers = { ...req.headers, 'idempotency-key': key };
      // one context per connection, and one request at a time on it: the response that comes next is this key's
      context.key = key;
      unanswered.add(key);
    }
    else if (spec.idempotency === 'same') req.headers = { ...req.headers, 'idempotency-key': `${prefix}-same` };
    if (spec.paths) req.path = spec.paths[n++ % spec.paths.length];
    return req;
  },
  onResponse: (status, _body, context) => {
    if (context.key === undefined) return;
    unanswered.delete(context.key);
    if (status >= 200 && status < 300) ok2xx++;
  },
};

const result = await autocannon({
  url: urls.length === 1 ? urls[0] : urls,
  connections: spec.connections ?? 64,
  duration: spec.duration ?? 10,
  requests: [request],
});
const non2xx = result.non2xx ?? 0;
console.log(
  JSON.stringify({
    requests_per_s: result.requests.average,
    total: result.requests.total,
    p50_ms: result.latency.p50,
    p99_ms: result.latency.p99,
    max_ms: result.latency.max,
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx,
    duration_s: result.duration,
    ...(spec.idempotency === 'unique' ? { ok_2xx: ok2xx, unanswered: [...unanswered] } : {}),
  }),
);
