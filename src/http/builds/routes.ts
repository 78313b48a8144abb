// The build-job routes (docs/builds.md): POST /build, GET /build/{id}/events (SSE, the attested-builds shapes),
// GET /build/{id}/result. Bearer keys: starting a build runs commands, so it takes `pipelines:execute`; following one
// and downloading its result take `pipelines:read` (as reading a pipeline execution and its logs does).
import fs from 'node:fs';
import { ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { bodyLimit } from 'hono/body-limit';
import type { ZodError } from 'zod';
import { buildsFor, existingBuilds, type Builds } from '../../builds/service.js';
import type { Ledger } from '../../ledger/ledger.js';
import { parsePipelineYaml, validatePipelineConfig, type PipelineConfig } from '../../builds/engine-port.js';
import { ApiError } from '../../ledger/errors.js';
import { pipelinesFor } from '../../pipelines/service.js';
import type { Principal } from '../../ledger/tenancy.js';
import type { Deps } from '../deps.js';
import type { AppEnv } from '../env.js';
import { authErrors, json } from '../schemas.js';
import { cutOffWhenEnded, keyRefusal, SseFeed, SseRegistry, sseText, type FeedItem } from '../sse.js';

const LIMIT_RETRY_AFTER_S = 5;
const BUILD_RETRY_AFTER_S = 30;
/** Events read per page while replaying (the byte bound is the buffer's, see sse.ts). */
const PAGE_EVENTS = 200;
const MAX_CONFIG_BYTES = 256 * 1024;

const JobId = z.object({ id: z.string().min(1).max(64).openapi({ param: { name: 'id', in: 'path' }, example: 'bld_3q2x…' }) });
const errorContent = authErrors[404].content;
const err = (description: string) => ({ description, content: errorContent });

/** The SSE feeds of build jobs on one server (their own connection limits, the live-feed settings). */
export class BuildFeeds {
  readonly registry: SseRegistry;
  constructor(
    private readonly builds: Builds,
    /** whether a feed's key still holds (revoked, expired): checked at each heartbeat, as the live feed does */
    private readonly tenancy: Parameters<typeof keyRefusal>[0],
    private readonly sse: { heartbeatMs: number; maxBufferBytes: number; retryMs: number; maxConnections: number; maxPerKey: number },
  ) {
    this.registry = new SseRegistry(sse.maxConnections, sse.maxPerKey);
  }

  open(p: Principal, jobId: string, from: number, res?: ServerResponse): SseFeed {
    this.builds.jobFor(p, jobId);
    const refusal = this.registry.refusal(p.keyId);
    if (refusal === 'total') throw new ApiError('LIVE_FEED_BUSY', `this server has ${this.registry.maxConnections} event streams open (PROOFSTREAM_SSE_MAX_CONNECTIONS); retry later`, { limit: this.registry.maxConnections, retry_after_s: LIMIT_RETRY_AFTER_S });
    if (refusal === 'key') throw new ApiError('LIVE_FEED_LIMIT', `this API key has ${this.registry.maxPerKey} build event streams open (PROOFSTREAM_SSE_MAX_CONNECTIONS_PER_KEY); close one first`, { limit: this.registry.maxPerKey, retry_after_s: LIMIT_RETRY_AFTER_S });
    // Synchronous from the head read to the subscription: no flush can fall between them.
    const row = this.builds.jobFor(p, jobId);
    const finished = row.status === 'ok' || row.status === 'failed';
    const read = (start: number, limit: number): FeedItem[] =>
      this.builds.events(jobId, start, limit).map((e) => ({ position: e.position, text: sseText({ id: e.position, data: e.data }) }));
    const feed = new SseFeed(read, from + 1, row.eventCount, {
      maxBufferBytes: this.sse.maxBufferBytes,
      heartbeatMs: this.sse.heartbeatMs,
      retryMs: this.sse.retryMs,
      pageSize: PAGE_EVENTS,
      overflowData: (resumeFrom) => JSON.stringify({ from: resumeFrom - 1 }),
      refusal: keyRefusal(this.tenancy, p.keyId),
      // `complete` is stored in the transaction that makes the job final, so once it is final its last event is known.
      endAt: () => this.builds.lastPosition(jobId),
    }, {
      onEnding: cutOffWhenEnded(res, this.sse.heartbeatMs),
    });
    this.registry.add(feed, p.keyId);
    if (finished && from >= row.eventCount) {
      feed.end(); // asked to skip everything there is, and there will be nothing more
      return feed;
    }
    const unwatch = this.builds.watch(jobId, (head) => feed.advance(head));
    feed.onClose(unwatch);
    return feed;
  }
}

const feedsOf = new WeakMap<Builds, BuildFeeds>();

/** A body or parameter that breaks the schema names the field (as every build validation error does), with 400. */
function buildValidationHook(result: { success: boolean; error?: ZodError; target: string }): undefined {
  if (result.success) return undefined;
  const first = result.error!.issues[0];
  const field = first?.path.map(String).join('.') || result.target;
  throw new ApiError('VALIDATION_ERROR', `${field}: ${first?.message ?? 'invalid'}`, { field }, 400);
}

/** A pipeline config from a multipart part: YAML or JSON text, validated like pipelines (400 naming the field). */
async function configFrom(part: unknown): Promise<PipelineConfig> {
  if (part === undefined) throw new ApiError('VALIDATION_ERROR', 'the `config` part is missing (the pipeline config, YAML or JSON)', { field: 'config' }, 400);
  let text: string;
  if (typeof part === 'string') text = part;
  else if (part instanceof Blob) {
    if (part.size > MAX_CONFIG_BYTES) throw new ApiError('PAYLOAD_TOO_LARGE', `the config is larger than ${MAX_CONFIG_BYTES} bytes`, { field: 'config', limit: MAX_CONFIG_BYTES });
    text = await part.text();
  } else throw new ApiError('VALIDATION_ERROR', 'the `config` part must be text', { field: 'config' }, 400);
  if (Buffer.byteLength(text) > MAX_CONFIG_BYTES) throw new ApiError('PAYLOAD_TOO_LARGE', `the config is larger than ${MAX_CONFIG_BYTES} bytes`, { field: 'config', limit: MAX_CONFIG_BYTES });
  const r = parsePipelineYaml(text);
  if (!r.ok) throw new ApiError('VALIDATION_ERROR', `config ${r.field}: ${r.message}`, { field: r.field }, 400);
  return r.config;
}

export function buildRoutes(app: OpenAPIHono<AppEnv>, d: Deps): void {
  const builds = buildsFor(d.ledger);
  // POST /build {pipeline_id}: a pipeline stored through /v1/pipelines, as its owner sees it (another system's: 404).
  builds.pipelines = (p, id) => {
    try {
      const v = pipelinesFor(d.ledger).get(p, id);
      return { config: v.config, streamId: v.stream_id };
    } catch (e) {
      if (e instanceof ApiError && e.code === 'RESOURCE_NOT_FOUND') return undefined;
      throw e;
    }
  };
  const c0 = d.ledger.config;
  let feeds = feedsOf.get(builds);
  if (!feeds) {
    feeds = new BuildFeeds(builds, d.ledger.tenancy, { heartbeatMs: c0.sseHeartbeatMs, maxBufferBytes: c0.sseMaxBufferBytes, retryMs: c0.sseRetryMs, maxConnections: c0.sseMaxConnections, maxPerKey: c0.sseMaxConnectionsPerKey });
    feedsOf.set(builds, feeds);
  }
  const theFeeds = feeds;
  const tags = ['builds'];
  const withRetryAfter = async (c: { header: (k: string, v: string) => void }, fn: () => Promise<Response> | Response): Promise<Response> => {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof ApiError) {
        if (e.code === 'BUILD_QUEUE_FULL' || e.code === 'BUILD_LIMIT') c.header('Retry-After', String(BUILD_RETRY_AFTER_S));
        if (e.code === 'LIVE_FEED_BUSY' || e.code === 'LIVE_FEED_LIMIT') c.header('Retry-After', String(LIMIT_RETRY_AFTER_S));
      }
      throw e;
    }
  };

  app.openapi(
    createRoute({
      method: 'post',
      path: '/build',
      tags,
      summary: 'Start a build job: a stored pipeline, or a pipeline config plus a .tar.gz source archive',
      description:
        'JSON `{pipeline_id}`, or multipart/form-data with `config` (YAML or JSON text, validated like pipelines) and `source` ' +
        '(a .tar.gz archive, checked entry by entry before anything runs). Needs `pipelines:execute` and PROOFSTREAM_RUNNER. See docs/builds.md.',
      security: [{ bearer: [] }],
      middleware: [
        d.auth('pipelines:execute'),
        d.rateLimit,
        // Before any body byte is read: building off, queue full, too many jobs for this key.
        async (c, next) => withRetryAfter(c, async () => {
          builds.admit(c.get('principal'));
          await next();
          return c.res;
        }),
        bodyLimit({
          maxSize: c0.builds.maxUploadBytes,
          onError: () => {
            throw new ApiError('PAYLOAD_TOO_LARGE', `the request body is larger than ${c0.builds.maxUploadBytes} bytes (PROOFSTREAM_BUILD_MAX_UPLOAD_BYTES)`, { limit: c0.builds.maxUploadBytes });
          },
        }),
      ] as const,
      request: {
        body: {
          content: {
            'multipart/form-data': {
              // Checked in the handler (a part may be text or a file); the schema documents the parts.
              schema: z.object({
                config: z.any().openapi({ type: 'string', description: 'the pipeline config (version "0.1", steps[]), YAML or JSON' }),
                source: z.any().openapi({ type: 'string', format: 'binary', description: 'the sources, a .tar.gz archive' }),
              }),
            },
            'application/json': { schema: z.object({ pipeline_id: z.string().min(1).max(128) }) },
          },
        },
      },
      responses: {
        202: json(z.object({ job_id: z.string() }).openapi('BuildJob'), 'queued; follow GET /build/{id}/events'),
        ...authErrors,
        400: err('VALIDATION_ERROR: the config is invalid or a part is missing; details.field names it'),
        413: err('PAYLOAD_TOO_LARGE (the upload) or ARCHIVE_TOO_LARGE (entries or unpacked bytes)'),
        415: err('neither multipart/form-data nor application/json'),
        422: err('ARCHIVE_UNSAFE (details.entry) or ARCHIVE_INVALID: nothing was run'),
        429: err('BUILD_LIMIT (this key has PROOFSTREAM_BUILD_MAX_PER_KEY jobs) or RATE_LIMIT_EXCEEDED; Retry-After'),
        503: err('RUNNER_DISABLED (PROOFSTREAM_RUNNER unset), RUNNER_UNAVAILABLE (sandbox without bubblewrap) or BUILD_QUEUE_FULL (Retry-After)'),
      },
    }),
    async (c) => {
      const p = c.get('principal');
      const type = (c.req.header('content-type') ?? '').toLowerCase();
      return (await withRetryAfter(c, async () => {
        if (type.startsWith('application/json')) {
          let body: unknown;
          try {
            body = await c.req.json();
          } catch {
            throw new ApiError('MALFORMED_JSON', 'the body is not JSON');
          }
          const id = (body as { pipeline_id?: unknown } | null)?.pipeline_id;
          if (typeof id !== 'string' || id.length === 0 || id.length > 128) throw new ApiError('VALIDATION_ERROR', 'pipeline_id must be a pipeline id', { field: 'pipeline_id' }, 400);
          return c.json(builds.submitPipeline(p, id), 202);
        }
        if (!type.startsWith('multipart/form-data')) {
          throw new ApiError('UNSUPPORTED_MEDIA_TYPE', 'POST /build takes multipart/form-data (config + source) or application/json ({pipeline_id})');
        }
        let form: Record<string, unknown>;
        try {
          form = await c.req.parseBody();
        } catch (e) {
          if (e instanceof ApiError) throw e;
          throw new ApiError('VALIDATION_ERROR', 'the multipart body could not be read', { field: 'body' }, 400);
        }
        const config = await configFrom(form.config);
        const source = form.source;
        if (Array.isArray(form.config) || Array.isArray(source)) throw new ApiError('VALIDATION_ERROR', 'send `config` and `source` once each', { field: Array.isArray(source) ? 'source' : 'config' }, 400);
        if (!(source instanceof Blob)) throw new ApiError('VALIDATION_ERROR', 'the `source` part is missing (a .tar.gz archive of the sources, sent as a file)', { field: 'source' }, 400);
        const bytes = new Uint8Array(await source.arrayBuffer());
        return c.json(await builds.submitArchive(p, config, bytes), 202);
      })) as never;
    },
    // A body that breaks the schema names the field (as every build validation error does), with 400.
    buildValidationHook,
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/build/{id}/events',
      tags,
      summary: "A build's events (server-sent events): every event so far, then live until `complete`",
      description:
        'Each message is `id: <position>` and one `data:` line holding one JSON object: queued{position}, vm{msg}, init{msg}, detect{msg}, ' +
        'build{msg} (one per log line), provenance{msg}, attest{msg}, complete{result}. `from` skips the first N events ' +
        '(a reconnecting client passes how many it has; Last-Event-ID does the same). The stream closes after `complete`.',
      security: [{ bearer: [] }],
      middleware: [d.auth('pipelines:read'), d.rateLimit] as const,
      request: {
        params: JobId,
        query: z.object({ from: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional().openapi({ description: 'skip the first N events (default 0)' }) }),
        headers: z.object({ 'last-event-id': z.string().max(64).optional() }),
      },
      responses: {
        200: { description: 'the events (text/event-stream)', content: { 'text/event-stream': { schema: z.string() } } },
        ...authErrors,
        404: err('no build job with this id (for this key)'),
        429: err('rate limited, or this key has too many event streams open (LIVE_FEED_LIMIT)'),
        503: err('this server has too many event streams open (LIVE_FEED_BUSY)'),
      },
    }),
    (c) => {
      const { id } = c.req.valid('param');
      const q = c.req.valid('query');
      const last = c.req.header('last-event-id');
      let from = q.from ?? 0;
      if (q.from === undefined && last !== undefined && last.trim() !== '') {
        if (!/^\d{1,15}$/.test(last.trim())) throw new ApiError('VALIDATION_ERROR', 'Last-Event-ID must be an event position (the id: of a message)', { field: 'last-event-id' }, 400);
        from = Number(last.trim());
      }
      return withRetryAfter(c, () => {
        const res = (c.env as { outgoing?: ServerResponse } | undefined)?.outgoing;
        const feed = theFeeds.open(c.get('principal'), id, from, res instanceof ServerResponse ? res : undefined);
        return c.body(feed.body, 200, {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-cache, no-transform',
          'x-accel-buffering': 'no',
        });
      }) as never;
    },
    buildValidationHook,
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/build/{id}/result',
      tags,
      summary: "A completed build's result: a .tar.gz of outputs/…, provenance.json (DSSE envelope) and receipt.json",
      security: [{ bearer: [] }],
      middleware: [d.auth('pipelines:read'), d.rateLimit] as const,
      request: { params: JobId },
      responses: {
        200: { description: 'the result archive', content: { 'application/gzip': { schema: z.string().openapi({ format: 'binary' }) } } },
        ...authErrors,
        404: err('no build job with this id (for this key), or its result was removed by retention (details.reason "expired")'),
        409: err('BUILD_NOT_READY: the job is queued, running or failed (details.status)'),
      },
    }),
    (c) => {
      const { id } = c.req.valid('param');
      const row = builds.jobFor(c.get('principal'), id);
      if (row.status !== 'ok') {
        throw new ApiError('BUILD_NOT_READY', row.status === 'failed' ? 'the build failed: it has no result' : `the build is ${row.status}: the result exists once it completes ok`, { status: row.status });
      }
      const file = builds.resultFile(id);
      let stat: fs.Stats;
      try {
        if (row.resultBytes === null) throw new Error('removed');
        stat = fs.statSync(file);
      } catch {
        throw new ApiError('RESOURCE_NOT_FOUND', 'the result of this build was removed by retention (docs/builds.md "Retention")', { reason: 'expired', removed_at: row.resultRemovedAt });
      }
      const body = Readable.toWeb(fs.createReadStream(file)) as ReadableStream<Uint8Array>;
      return c.body(body, 200, {
        'content-type': 'application/gzip',
        'content-length': String(stat.size),
        'content-disposition': `attachment; filename="${id}.tar.gz"`,
      }) as never;
    },
  );
}

/** Server shutdown: jobs end Interrupted (their process groups killed), then every build event stream ends. */
export function closeBuilds(ledger: Ledger): void {
  const b = existingBuilds(ledger);
  if (!b) return;
  b.close();
  feedsOf.get(b)?.registry.endAll();
}
