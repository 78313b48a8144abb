// Load generator, run as its own process (pinned to the other core by bench/run.ts). Reads a JSON spec from
// argv[2], drives autocannon against 127.0.0.1 only, prints one JSON line with the results.
import autocannon from 'autocannon';

const spec = JSON.parse(process.argv[2]);
const url = new URL(spec.url);
if (url.hostname !== '127.0.0.1') throw new Error('bench load goes to 127.0.0.1 only');

let n = 0;
const prefix = `${spec.idemPrefix ?? 'b'}-${process.pid}-${Date.now()}`;
const request = {
  method: spec.method ?? 'GET',
  path: spec.path,
  headers: { 'content-type': 'application/json', authorization: `Bearer ${spec.key}`, ...(spec.headers ?? {}) },
  body: spec.body === undefined ? undefined : JSON.stringify(spec.body),
  setupRequest: (req) => {
    if (spec.idempotency === 'unique') req.headers = { ...req.headers, 'idempotency-key': `${prefix}-${n++}` };
    else if (spec.idempotency === 'same') req.headers = { ...req.headers, 'idempotency-key': `${prefix}-same` };
    if (spec.paths) req.path = spec.paths[n++ % spec.paths.length];
    return req;
  },
};

const result = await autocannon({
  url: spec.url,
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
  }),
);
