// The pipeline routes (docs/pipelines.md): the seed API's /v1/pipelines, /v1/executions, /v1/receipts/verify and
// /v1/cache over src/pipelines/service.ts, plus the live progress feed of an execution (SSE, src/http/sse.ts). Every
// route takes a Bearer key with a pipelines scope (executing and cancelling: pipelines:execute, asked for by name),
// is charged to the key's rate-limit tier, and answers validation failures with 400 naming the field.
import { ServerResponse } from 'node:http';
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { createMiddleware } from 'hono/factory';
import { ApiError } from '../../ledger/errors.js';
import type { Principal } from '../../ledger/tenancy.js';
import { pipelinesFor, RUNNER_BUSY_RETRY_AFTER_S, type Pipelines } from '../../pipelines/service.js';
import type { Deps } from '../deps.js';
import type { AppEnv } from '../env.js';
import { jsonText } from '../reply.js';
import { authErrors, IDEMPOTENCY_KEY_PARAM, json } from '../schemas.js';
import { cutOffWhenEnded, keyRefusal, SseFeed, SseRegistry, sseText, type FeedItem } from '../sse.js';
import type { Ledger } from '../../ledger/ledger.js';
import {
  Blake3Param,
  CacheGcInput,
  CacheGcResult,
  CacheStats,
  errorOf,
  Execution,
  ExecutionList,
  ExecutionListQuery,
  ExecutionReceipt,
  ExecutionStarted,
  ExecuteInput,
  IdParam,
  Logs,
  LogsQuery,
  parsePolicy,
  Pipeline,
  PipelineConfigSchema,
  PipelineInput,
  PipelineList,
  PipelineListQuery,
  pipelinesValidationHook,
  VerifyReceiptInput,
  VerifyReceiptResult,
} from './schemas.js';

const tags = ['pipelines'];
const security = [{ bearer: [] }];
const readErrors = { ...authErrors, 400: errorOf('VALIDATION_ERROR (details.field names the parameter)') } as const;
const writeErrors = {
  ...authErrors,
  400: errorOf('VALIDATION_ERROR (details.field names the field, e.g. steps[0].run; details.issue says what is wrong), MALFORMED_JSON'),
  409: errorOf('IDEMPOTENCY_CONFLICT / IDEMPOTENCY_IN_PROGRESS'),
  413: errorOf('body over PROOFSTREAM_MAX_EVENT_BYTES'),
  415: errorOf('not application/json'),
  422: errorOf('NOT_CANONICALIZABLE, DUPLICATE_KEY, FORBIDDEN_KEY'),
  507: errorOf('storage full: nothing was written'),
} as const;

/** Rows read per page while replaying an execution's progress. */
const FEED_PAGE = 200;
const FEED_LIMIT_RETRY_AFTER_S = 5;

/** The open progress feeds of one server (GET /v1/executions/{id}/events). */
export class ExecutionFeeds {
  readonly registry: SseRegistry;
  private readonly byExecution = new Map<string, Set<SseFeed>>();
  /** executions whose last row is committed: their last position */
  private readonly ends = new Map<string, number>();

  constructor(
    private readonly ledger: Ledger,
    private readonly service: Pipelines,
  ) {
    const c = ledger.config;
    this.registry = new SseRegistry(c.sseMaxConnections, c.sseMaxConnectionsPerKey);
    service.onProgress((id, position, finished) => {
      const feeds = this.byExecution.get(id);
      if (!feeds) return;
      if (finished) this.ends.set(id, position);
      for (const f of [...feeds]) f.advance(position);
    });
  }

  open(p: Principal, id: string, from: number, res?: ServerResponse): SseFeed {
    const execution = this.service.execution(p, id); // 404 for an execution the key may not see
    const refusal = this.registry.refusal(p.keyId);
    if (refusal) {
      const total = refusal === 'total';
      throw new ApiError(
        total ? 'LIVE_FEED_BUSY' : 'LIVE_FEED_LIMIT',
        total
          ? `this server has ${this.registry.maxConnections} execution feeds open (PROOFSTREAM_SSE_MAX_CONNECTIONS); retry later`
          : `this API key has ${this.registry.maxPerKey} execution feeds open (PROOFSTREAM_SSE_MAX_CONNECTIONS_PER_KEY); close one first`,
        { limit: total ? this.registry.maxConnections : this.registry.maxPerKey, retry_after_s: FEED_LIMIT_RETRY_AFTER_S },
      );
    }
    const { store } = this.ledger;
    const head = store.pipelines.lastPosition(id);
    const finishedAtOpen = execution.status !== 'running' ? head : null;
    const c = this.ledger.config;
    const read = (start: number, limit: number): FeedItem[] =>
      store.pipelines.logsFrom(id, start, limit).map((r) => ({
        position: r.position,
        text: sseText({
          id: r.position,
          event: r.kind,
          data: JSON.stringify({ position: r.position, execution_id: id, kind: r.kind, step: r.step, timestamp: r.at, level: r.level, message: r.message, data: r.data === null ? null : JSON.parse(r.data) }),
        }),
      }));
    const feed = new SseFeed(read, from, head, {
      maxBufferBytes: c.sseMaxBufferBytes,
      heartbeatMs: c.sseHeartbeatMs,
      retryMs: c.sseRetryMs,
      pageSize: FEED_PAGE,
      overflowData: (resumeFrom) => JSON.stringify({ resume_from_position: resumeFrom }),
      refusal: keyRefusal(this.ledger.tenancy, p.keyId),
      endAt: () => finishedAtOpen ?? this.ends.get(id) ?? null,
    }, {
      onOverflow: () => this.registry.stats.overflows++,
      onEnding: cutOffWhenEnded(res, c.sseHeartbeatMs),
    });
    this.registry.add(feed, p.keyId);
    let set = this.byExecution.get(id);
    if (!set) this.byExecution.set(id, (set = new Set()));
    set.add(feed);
    feed.onClose(() => {
      set.delete(feed);
      if (set.size === 0) {
        this.byExecution.delete(id);
        this.ends.delete(id);
      }
    });
    // Asked from past the end of a finished execution: nothing more will come.
    if (finishedAtOpen !== null && from > finishedAtOpen) feed.end();
    return feed;
  }

  endAll(): void {
    this.registry.endAll();
  }
}

const feedsOf = new WeakMap<Ledger, ExecutionFeeds>();
export function executionFeedsFor(ledger: Ledger): ExecutionFeeds {
  let f = feedsOf.get(ledger);
  if (!f) feedsOf.set(ledger, (f = new ExecutionFeeds(ledger, pipelinesFor(ledger))));
  return f;
}

/** A body that may be left out (POST …/executions, POST /v1/cache/gc with the defaults): parsed only when one came. */
const optionalBody = (parse: MiddlewareHandler<AppEnv>) =>
  createMiddleware<AppEnv>(async (c, next) => {
    const length = c.req.header('content-length');
    if ((length === undefined || length === '0') && c.req.header('transfer-encoding') === undefined) {
      // No body is the empty object, also for the Idempotency-Key fingerprint (a bare POST and `{}` ask the same).
      const none = Promise.resolve({});
      c.req.json = (() => none) as typeof c.req.json;
      return next();
    }
    return parse(c, next);
  });

/** Only digits, as this feed writes `id:` lines. */
function lastEventId(raw: string | undefined): number | null {
  if (raw === undefined || raw.trim() === '') return null;
  const t = raw.trim();
  if (!/^\d{1,15}$/.test(t)) {
    throw new ApiError('VALIDATION_ERROR', 'Last-Event-ID must be a position (the id: of a message of this feed)', { field: 'last-event-id', issue: 'expected a non-negative integer' }, 400);
  }
  return Number(t);
}

export function pipelineRoutes(app: OpenAPIHono<AppEnv>, d: Deps): void {
  const cfg = d.ledger.config;
  const service = pipelinesFor(d.ledger);
  const feeds = executionFeedsFor(d.ledger);
  app.openAPIRegistry.register('PipelineConfig', PipelineConfigSchema as never);
  const limit = d.rateLimit;
  const hook = pipelinesValidationHook;

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/pipelines',
      tags,
      security,
      summary: 'Create a pipeline: its config is validated, it gets a ledger stream, and its creation is that stream’s first event',
      middleware: [d.auth('pipelines:write'), limit, d.body(cfg.maxEventBytes), d.idempotency(false)] as const,
      parameters: [IDEMPOTENCY_KEY_PARAM],
      request: { body: { required: true, content: { 'application/json': { schema: PipelineInput } } } },
      responses: { 201: json(Pipeline, 'the pipeline, with its pipeline.created event and receipt (ledger)'), ...writeErrors },
    }),
    async (c) => {
      const r = await service.create(c.get('principal'), c.req.valid('json'), c.get('idempotency'));
      return jsonText(c, r.status, r.bodyText);
    },
    hook,
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/pipelines',
      tags,
      security,
      summary: 'Pipelines, by creation time (sort=created_at:desc|asc), offset-paged, with execution counts and success rates',
      middleware: [d.auth('pipelines:read'), limit] as const,
      request: { query: PipelineListQuery },
      responses: { 200: json(PipelineList, 'a page of pipelines'), ...readErrors },
    }),
    (c) => {
      const q = c.req.valid('query');
      return c.json(service.list(c.get('principal'), { limit: q.limit, offset: q.offset, order: q.sort === 'created_at:asc' ? 'asc' : 'desc' }) as never, 200);
    },
    hook,
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/pipelines/{id}',
      tags,
      security,
      summary: 'One pipeline',
      middleware: [d.auth('pipelines:read'), limit] as const,
      request: { params: IdParam },
      responses: { 200: json(Pipeline, 'the pipeline'), ...readErrors },
    }),
    (c) => c.json(service.get(c.get('principal'), c.req.valid('param').id) as never, 200),
    hook,
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/pipelines/{id}/executions',
      tags,
      security,
      summary: 'A pipeline’s executions, by start time (sort=started_at:desc|asc), offset-paged, each as GET /v1/executions/{id}',
      middleware: [d.auth('pipelines:read'), limit] as const,
      request: { params: IdParam, query: ExecutionListQuery },
      responses: { 200: json(ExecutionList, 'a page of executions'), ...readErrors },
    }),
    (c) => {
      const q = c.req.valid('query');
      const order = q.sort === 'started_at:asc' ? 'asc' : 'desc';
      return c.json(service.executions(c.get('principal'), c.req.valid('param').id, { limit: q.limit, offset: q.offset, order }) as never, 200);
    },
    hook,
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/pipelines/{id}/executions',
      tags,
      security,
      summary: 'Execute a pipeline in the background (202); its signed receipt is appended to the pipeline’s stream when it ends',
      middleware: [d.auth('pipelines:execute'), limit, optionalBody(d.body(cfg.maxEventBytes)), d.idempotency(false)] as const,
      parameters: [IDEMPOTENCY_KEY_PARAM],
      request: { params: IdParam, body: { required: false, content: { 'application/json': { schema: ExecuteInput } } } },
      responses: {
        202: json(ExecutionStarted, 'started: poll execution_id, or follow events_url'),
        ...writeErrors,
        503: {
          ...errorOf('RUNNER_DISABLED (PROOFSTREAM_RUNNER unset), RUNNER_UNAVAILABLE (sandbox without bubblewrap), RUNNER_BUSY (PROOFSTREAM_PIPELINE_MAX_CONCURRENT; Retry-After)'),
          headers: { 'Retry-After': { description: 'seconds (RUNNER_BUSY)', schema: { type: 'integer' } } },
        },
      },
    }),
    (c) => {
      try {
        const r = service.execute(c.get('principal'), c.req.valid('param').id, c.req.valid('json') ?? {}, c.get('idempotency'));
        return jsonText(c, 202, r.bodyText);
      } catch (e) {
        if (e instanceof ApiError && e.code === 'RUNNER_BUSY') c.header('Retry-After', String(RUNNER_BUSY_RETRY_AFTER_S));
        throw e;
      }
    },
    hook,
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/executions/{id}',
      tags,
      security,
      summary: 'An execution: status, exit code, timing, and each step’s status, exit code, duration and cache hit',
      middleware: [d.auth('pipelines:read'), limit] as const,
      request: { params: IdParam },
      responses: { 200: json(Execution, 'the execution'), ...readErrors },
    }),
    (c) => c.json(service.execution(c.get('principal'), c.req.valid('param').id) as never, 200),
    hook,
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/executions/{id}/logs',
      tags,
      security,
      summary: 'An execution’s log: the last `tail` lines (default 100), of one `step` or all, with total_lines and has_more',
      middleware: [d.auth('pipelines:read'), limit] as const,
      request: { params: IdParam, query: LogsQuery },
      responses: { 200: json(Logs, 'log lines, oldest first'), ...readErrors },
    }),
    (c) => {
      const q = c.req.valid('query');
      return c.json(service.logs(c.get('principal'), c.req.valid('param').id, { step: q.step, tail: q.tail }) as never, 200);
    },
    hook,
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/executions/{id}/cancel',
      tags,
      security,
      summary: 'Cancel a running execution: every running step’s process group is killed; the cancelled receipt is still signed and appended',
      middleware: [d.auth('pipelines:execute'), limit] as const,
      request: { params: IdParam },
      responses: { 202: json(Execution, 'cancelling: the execution as it is now'), ...readErrors, 409: errorOf('EXECUTION_FINISHED') },
    }),
    (c) => c.json(service.cancel(c.get('principal'), c.req.valid('param').id) as never, 202),
    hook,
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/executions/{id}/receipt',
      tags,
      security,
      summary: 'The signed receipt, checked now (signature, timestamp, chain of trust), and its place in the ledger (event, receipt, inclusion once sealed)',
      middleware: [d.auth('pipelines:read'), limit] as const,
      request: { params: IdParam },
      responses: {
        200: json(ExecutionReceipt, 'the receipt'),
        ...readErrors,
        409: errorOf('RECEIPT_PENDING: the execution is still running'),
      },
    }),
    (c) => c.json(service.receipt(c.get('principal'), c.req.valid('param').id) as never, 200),
    hook,
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/executions/{id}/events',
      tags,
      security,
      summary: 'An execution’s progress as server-sent events: replay from `from` (or Last-Event-ID + 1, else 1), then live until it ends',
      description:
        'Messages: `retry:` first; `id: <position>` / `event: execution.started|step.started|log|step.finished|execution.finished` / ' +
        '`data: {position, execution_id, kind, step, timestamp, level, message, data}`; `: ping` heartbeats; the feed ends after ' +
        '`execution.finished` (with a last `retry:`). `event: overflow` `{resume_from_position}` before a consumer that fell behind is closed.',
      middleware: [d.auth('pipelines:read'), limit] as const,
      request: {
        params: IdParam,
        query: z.object({ from: z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional() }),
        headers: z.object({ 'last-event-id': z.string().max(64).optional() }),
      },
      responses: {
        200: { description: 'the feed (text/event-stream)', content: { 'text/event-stream': { schema: z.string() } } },
        ...readErrors,
        429: { description: 'rate limited, or this key has too many feeds open (LIVE_FEED_LIMIT)', content: authErrors[429].content },
        503: errorOf('this server has too many feeds open (LIVE_FEED_BUSY)'),
      },
    }),
    (c) => {
      const { id } = c.req.valid('param');
      const q = c.req.valid('query');
      const last = lastEventId(c.req.header('last-event-id'));
      const from = q.from ?? (last === null ? 1 : last + 1);
      let feed: SseFeed;
      try {
        const res = (c.env as { outgoing?: ServerResponse } | undefined)?.outgoing;
        feed = feeds.open(c.get('principal'), id, from, res instanceof ServerResponse ? res : undefined);
      } catch (e) {
        if (e instanceof ApiError && (e.code === 'LIVE_FEED_BUSY' || e.code === 'LIVE_FEED_LIMIT')) c.header('Retry-After', String(FEED_LIMIT_RETRY_AFTER_S));
        throw e;
      }
      return c.body(feed.body, 200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform', 'x-accel-buffering': 'no' }) as never;
    },
    hook,
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/receipts/verify',
      tags,
      security,
      summary: 'Verify a pipeline receipt (or receipt bundle) offline against trusted keys and policies (require-signature, max-age-<N>h)',
      middleware: [d.auth('pipelines:read'), limit, d.body(cfg.maxEventBytes)] as const,
      request: { body: { required: true, content: { 'application/json': { schema: VerifyReceiptInput } } } },
      responses: { 200: json(VerifyReceiptResult, 'the verdict (valid: false is still a 200)'), ...writeErrors },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const policies = (body.policies ?? []).map((name, i) => {
        const parsed = parsePolicy(name);
        if (!parsed) {
          throw new ApiError('VALIDATION_ERROR', `policies[${i}]: unknown policy ${JSON.stringify(name)} (known: require-signature, max-age-<N>h such as max-age-24h)`, {
            field: `policies[${i}]`,
            issue: 'unknown policy',
            policy: name,
          }, 400);
        }
        return { name, ...parsed };
      });
      return c.json((await service.verifyReceipt(body.receipt, body.trusted_keys, policies)) as never, 200);
    },
    hook,
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/cache/stats',
      tags,
      security,
      summary: 'The tenant’s step cache: size, entries, hit and miss rates (since this server started)',
      middleware: [d.auth('pipelines:read'), limit] as const,
      responses: { 200: json(CacheStats, 'the statistics'), ...readErrors },
    }),
    (c) => c.json(cacheStats(service, c.get('principal').tenantId, cfg.cacheMaxBytes) as never, 200),
    hook,
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/v1/cache/objects/{blake3}',
      tags,
      security,
      summary: 'Remove one object from the tenant’s step cache by its blake3 hash',
      middleware: [d.auth('pipelines:write'), limit] as const,
      request: { params: Blake3Param },
      responses: { 200: json(z.object({ deleted: z.literal(true), blake3: z.string() }), 'removed'), ...readErrors },
    }),
    (c) => {
      const { blake3 } = c.req.valid('param');
      if (!service.cacheOf(c.get('principal').tenantId).delete(blake3)) throw new ApiError('RESOURCE_NOT_FOUND', 'cache object not found', { blake3 });
      return c.json({ deleted: true as const, blake3 }, 200);
    },
    hook,
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/cache/gc',
      tags,
      security,
      summary: 'Garbage-collect the tenant’s step cache: entries older than max_age_days, then oldest first down to target_size_percent',
      middleware: [d.auth('pipelines:write'), limit, optionalBody(d.body(4096))] as const,
      request: { body: { required: false, content: { 'application/json': { schema: CacheGcInput } } } },
      responses: { 200: json(CacheGcResult, 'what was removed, and the statistics after'), ...writeErrors },
    }),
    (c) => {
      const tenant = c.get('principal').tenantId;
      const r = service.cacheOf(tenant).gc(c.req.valid('json') ?? {});
      return c.json({ removed_entries: r.removed_entries, freed_bytes: r.freed_bytes, stats: cacheStats(service, tenant, cfg.cacheMaxBytes) } as never, 200);
    },
    hook,
  );
}

function cacheStats(service: Pipelines, tenantId: string, maxBytes: number) {
  const s = service.cacheOf(tenantId).stats();
  return {
    total_size_bytes: s.total_size_bytes,
    total_entries: s.total_entries,
    hits: s.hits,
    misses: s.misses,
    hit_rate: s.hit_rate,
    miss_rate: s.miss_rate,
    max_size_bytes: maxBytes,
    backends: { local: { size_bytes: s.total_size_bytes, entries: s.total_entries, hit_rate: s.hit_rate } },
  };
}
