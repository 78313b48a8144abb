// The CI/CD evidence routes (/api/v1, docs/cicd.md): the seed API's record routes over src/cicd. Every route takes a
// Bearer key, is charged to the `cicd` rate-limit group (100/min per key by default, the seed's X-RateLimit headers),
// and answers validation failures with 400 naming the field. Writes honour Idempotency-Key.
import { createRoute, OpenAPIHono } from '@hono/zod-openapi';
import { Cicd } from '../../cicd/cicd.js';
import type { Deps } from '../deps.js';
import type { AppEnv } from '../env.js';
import { jsonText } from '../reply.js';
import { authErrors, ErrorEnvelope, IDEMPOTENCY_KEY_PARAM, json } from '../schemas.js';
import {
  Artifact,
  ArtifactInput,
  ArtifactQuery,
  Attestation,
  AttestationInput,
  AttestationQuery,
  cicdValidationHook,
  Deployment,
  DeploymentInput,
  DeploymentQuery,
  IdParam,
  pageOf,
  PipelineRun,
  PipelineRunInput,
  PipelineRunQuery,
  PipelineRunUpdateInput,
  Sha256Param,
} from './schemas.js';

const err = (description: string) => ({ description, content: { 'application/json': { schema: ErrorEnvelope } } });

const writeErrors = {
  ...authErrors,
  400: err('VALIDATION_ERROR (details.field names the field), MALFORMED_JSON, IDEMPOTENCY_KEY_INVALID'),
  404: err('the repository or record is not visible to this key'),
  409: err('IDEMPOTENCY_CONFLICT / IDEMPOTENCY_IN_PROGRESS, and per route PIPELINE_RUN_FINAL or ARTIFACT_EXISTS'),
  413: err('body over PROOFSTREAM_MAX_EVENT_BYTES'),
  415: err('not application/json'),
  422: err('REFERENCE_UNKNOWN (details.field), NOT_CANONICALIZABLE, DUPLICATE_KEY, FORBIDDEN_KEY'),
  507: err('storage full: nothing was written'),
} as const;

const readErrors = { ...authErrors, 400: err('VALIDATION_ERROR (details.field names the parameter)') } as const;

export function cicdRoutes(app: OpenAPIHono<AppEnv>, d: Deps): void {
  const cfg = d.ledger.config;
  const cicd = new Cicd(d.ledger);
  // One group for every /api/v1 route: its buckets are shared across them (docs/api.md "Rate limits").
  const limit = d.rateLimitGroup('cicd', cfg.cicdRateLimit);
  const write = () => [d.auth('events:write'), limit, d.body(cfg.maxEventBytes), d.idempotency(false)];
  const read = () => [d.auth('read'), limit];
  const tags = ['cicd'];
  const security = [{ bearer: [] }];

  // ---- attestations ----
  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/v1/attestations',
      tags,
      security,
      summary: 'Record an attestation (test results, security scan, SBOM, …) on a pull request or an artifact',
      middleware: write(),
      parameters: [IDEMPOTENCY_KEY_PARAM],
      request: { body: { required: true, content: { 'application/json': { schema: AttestationInput } } } },
      responses: { 201: json(Attestation, 'the attestation, its event and receipt'), ...writeErrors },
    }),
    async (c) => {
      const r = await cicd.createAttestation(c.get('principal'), c.req.valid('json'), c.get('idempotency'));
      return jsonText(c, r.status, r.bodyText);
    },
    cicdValidationHook,
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/attestations',
      tags,
      security,
      summary: 'Attestations, newest first, filtered by repository, PR, artifact, pipeline run, type, passed',
      middleware: read(),
      request: { query: AttestationQuery },
      responses: { 200: json(pageOf(Attestation, 'CicdAttestationPage'), 'a page of attestations'), ...readErrors },
    }),
    (c) => {
      const { limit: n, cursor, type, ...f } = c.req.valid('query');
      return c.json(cicd.list(c.get('principal'), 'attestation', { ...f, attestationType: type }, cursor, n) as never, 200);
    },
    cicdValidationHook,
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/attestations/{id}',
      tags,
      security,
      summary: 'One attestation with its receipt',
      middleware: read(),
      request: { params: IdParam },
      responses: { 200: json(Attestation, 'the attestation'), ...readErrors },
    }),
    (c) => c.json(cicd.get(c.get('principal'), 'attestation', c.req.valid('param').id, 'attestation') as never, 200),
    cicdValidationHook,
  );

  // ---- pipeline runs ----
  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/v1/pipeline-runs',
      tags,
      security,
      summary: 'Register a pipeline run with its steps and timing',
      middleware: write(),
      parameters: [IDEMPOTENCY_KEY_PARAM],
      request: { body: { required: true, content: { 'application/json': { schema: PipelineRunInput } } } },
      responses: { 201: json(PipelineRun, 'the run, its event and receipt'), ...writeErrors },
    }),
    async (c) => {
      const r = await cicd.createPipelineRun(c.get('principal'), c.req.valid('json'), c.get('idempotency'));
      return jsonText(c, r.status, r.bodyText);
    },
    cicdValidationHook,
  );

  app.openapi(
    createRoute({
      method: 'put',
      path: '/api/v1/pipeline-runs/{id}',
      tags,
      security,
      summary: 'Update a run: status, finishedAt, step results (merged by step name); a final run (SUCCEEDED, FAILED, CANCELLED) answers 409',
      middleware: write(),
      parameters: [IDEMPOTENCY_KEY_PARAM],
      request: { params: IdParam, body: { required: true, content: { 'application/json': { schema: PipelineRunUpdateInput } } } },
      responses: { 200: json(PipelineRun, "the run's state after this update, and the update event's receipt"), ...writeErrors },
    }),
    async (c) => {
      const r = await cicd.updatePipelineRun(c.get('principal'), c.req.valid('param').id, c.req.valid('json'), c.get('idempotency'));
      return jsonText(c, r.status, r.bodyText);
    },
    cicdValidationHook,
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/pipeline-runs',
      tags,
      security,
      summary: 'Pipeline runs, newest first, filtered by repository and status',
      middleware: read(),
      request: { query: PipelineRunQuery },
      responses: { 200: json(pageOf(PipelineRun, 'CicdPipelineRunPage'), 'a page of runs'), ...readErrors },
    }),
    (c) => {
      const { limit: n, cursor, ...f } = c.req.valid('query');
      return c.json(cicd.list(c.get('principal'), 'pipeline_run', f, cursor, n) as never, 200);
    },
    cicdValidationHook,
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/pipeline-runs/{id}',
      tags,
      security,
      summary: "A run's current state (derived from its events) with its latest event's receipt",
      middleware: read(),
      request: { params: IdParam },
      responses: { 200: json(PipelineRun, 'the run'), ...readErrors },
    }),
    (c) => c.json(cicd.get(c.get('principal'), 'pipeline_run', c.req.valid('param').id, 'pipeline run') as never, 200),
    cicdValidationHook,
  );

  // ---- artifacts ----
  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/v1/artifacts',
      tags,
      security,
      summary: 'Register a build artifact by its SHA-256 (once per tenant: a second registration is 409 ARTIFACT_EXISTS)',
      middleware: write(),
      parameters: [IDEMPOTENCY_KEY_PARAM],
      request: { body: { required: true, content: { 'application/json': { schema: ArtifactInput } } } },
      responses: { 201: json(Artifact, 'the artifact, its event and receipt'), ...writeErrors },
    }),
    async (c) => {
      const r = await cicd.registerArtifact(c.get('principal'), c.req.valid('json'), c.get('idempotency'));
      return jsonText(c, r.status, r.bodyText);
    },
    cicdValidationHook,
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/artifacts',
      tags,
      security,
      summary: 'Artifacts, newest first, filtered by repository and by the run that built them',
      middleware: read(),
      request: { query: ArtifactQuery },
      responses: { 200: json(pageOf(Artifact, 'CicdArtifactPage'), 'a page of artifacts'), ...readErrors },
    }),
    (c) => {
      const { limit: n, cursor, ...f } = c.req.valid('query');
      return c.json(cicd.list(c.get('principal'), 'artifact', f, cursor, n) as never, 200);
    },
    cicdValidationHook,
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/artifacts/{sha256}',
      tags,
      security,
      summary: 'The artifact registered with this SHA-256',
      middleware: read(),
      request: { params: Sha256Param },
      responses: { 200: json(Artifact, 'the artifact'), ...readErrors },
    }),
    (c) => c.json(cicd.getArtifact(c.get('principal'), c.req.valid('param').sha256) as never, 200),
    cicdValidationHook,
  );

  // ---- deployments ----
  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/v1/deployments',
      tags,
      security,
      summary: 'Record a deployment of a registered artifact to an environment',
      middleware: write(),
      parameters: [IDEMPOTENCY_KEY_PARAM],
      request: { body: { required: true, content: { 'application/json': { schema: DeploymentInput } } } },
      responses: { 201: json(Deployment, 'the deployment, its event and receipt'), ...writeErrors },
    }),
    async (c) => {
      const r = await cicd.recordDeployment(c.get('principal'), c.req.valid('json'), c.get('idempotency'));
      return jsonText(c, r.status, r.bodyText);
    },
    cicdValidationHook,
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/deployments',
      tags,
      security,
      summary: 'Deployments, newest first, by environment, artifact, repository, status',
      middleware: read(),
      request: { query: DeploymentQuery },
      responses: { 200: json(pageOf(Deployment, 'CicdDeploymentPage'), 'a page of deployments'), ...readErrors },
    }),
    (c) => {
      const { limit: n, cursor, ...f } = c.req.valid('query');
      return c.json(cicd.list(c.get('principal'), 'deployment', f, cursor, n) as never, 200);
    },
    cicdValidationHook,
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/deployments/{id}',
      tags,
      security,
      summary: 'One deployment with its receipt',
      middleware: read(),
      request: { params: IdParam },
      responses: { 200: json(Deployment, 'the deployment'), ...readErrors },
    }),
    (c) => c.json(cicd.get(c.get('principal'), 'deployment', c.req.valid('param').id, 'deployment') as never, 200),
    cicdValidationHook,
  );
}

