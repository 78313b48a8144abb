// `node bin/run-ts.mjs bench/seal-ab.ts [rounds=6] [seconds=10]`: what sealing does to single-append p99, measured
// as interleaved pairs — the same load against a server with default windows (1,000 events / 1 s: a window sealed
// every ~0.2 s at these rates) and one whose windows never close, alternating, fresh key per request, server pinned
// to core 0 and load to core 1 as in bench/run.ts. Sequential medians (the bench table's "sealing off" row) drift
// with the machine by more than the effect; pairs taken seconds apart share most of that drift. Prints one JSON line.
import { EVENT as event, load, startLedgerPinned } from './lib.js';
import { client, type RunningServer } from '../test/helpers/server.js';

const rounds = Number(process.argv[2] ?? 6);
const seconds = Number(process.argv[3] ?? 10);

async function server(env: Record<string, string>): Promise<{ s: RunningServer; path: string }> {
  const s = await startLedgerPinned(env);
  const sid = (await client(s.url, s.key)('POST', '/v2/streams', { use_case: 'seal-ab' })).body.stream_id;
  return { s, path: `/v2/streams/${sid}/events` };
}

const on = await server({});
const off = await server({ PROOFSTREAM_WINDOW_MAX_EVENTS: '100000000', PROOFSTREAM_WINDOW_MAX_AGE_MS: '86400000' });
const run = (x: { s: RunningServer; path: string }) =>
  load({ duration: seconds, connections: 64, url: x.s.url, key: x.s.key, method: 'POST', path: x.path, body: event, idempotency: 'unique' });
const pairs: Array<{ on_p99_ms: number; off_p99_ms: number; on_rps: number; off_rps: number }> = [];
for (let i = 0; i < rounds; i++) {
  // alternate which goes first, so a trend over the run does not favour one side
  const [a, b] = i % 2 ? [await run(off), await run(on)] : [await run(on), await run(off)];
  const [rOn, rOff] = i % 2 ? [b, a] : [a, b];
  pairs.push({ on_p99_ms: rOn.p99_ms, off_p99_ms: rOff.p99_ms, on_rps: Math.round(rOn.requests_per_s), off_rps: Math.round(rOff.requests_per_s) });
  console.error(`seal-ab: round ${i + 1}/${rounds}: sealing on p99 ${rOn.p99_ms} ms (${Math.round(rOn.requests_per_s)}/s), off p99 ${rOff.p99_ms} ms (${Math.round(rOff.requests_per_s)}/s)`);
}
await on.s.stop();
await off.s.stop();
const diffs = pairs.map((p) => p.on_p99_ms - p.off_p99_ms).sort((x, y) => x - y);
console.log(JSON.stringify({ rounds, seconds, p99_diff_ms_median: diffs[diffs.length >> 1], p99_diff_ms: diffs, pairs }));
