// The CI/CD view (docs/cicd.md, /api/v1): pipeline runs with their state and steps, artifacts, attestations and
// deployments, newest first, optionally of one repository, each list paging with its cursor. Every record links to its
// event (GET /v2/events), its receipt (GET /v2/receipts) and its repository's stream in the ledger view.

import { clearError, getJson, hasKey, pageSize, query, showError } from './api.js';
import { detailError, showDetail, showEvent, showReceipt } from './detail.js';
import { $, button, cell, emptyRow, facts, headRow, heading, nodeCell, para, row, short } from './dom.js';
import { Pager } from './pager.js';
import { artifactExtras } from './provenance.js';

interface RecordBase {
  id: string;
  repositoryFullName: string;
  createdAt: string;
  updatedAt: string;
  stream_id: string;
  seq_no: number;
  receipt: { stream_event_id: string };
}

interface Step {
  name: string;
  status: string;
  startedAt: string | null;
  finishedAt: string | null;
}

interface Run extends RecordBase {
  name: string;
  provider: string | null;
  externalId: string | null;
  commitSha: string | null;
  branch: string | null;
  prNumber: number | null;
  status: string;
  startedAt: string | null;
  finishedAt: string | null;
  steps: Step[];
}

export interface Artifact extends RecordBase {
  name: string;
  version: string;
  sha256: string;
  artifactType: string;
  commitSha: string;
  branch: string;
  pipelineRunId: string | null;
}

interface Attestation extends RecordBase {
  type: string;
  name: string;
  passed: boolean;
  prNumber: number | null;
  artifactSha256: string | null;
  commitSha: string | null;
  pipelineRunId: string | null;
}

interface Deployment extends RecordBase {
  environment: string;
  artifactSha256: string;
  artifactId: string;
  status: string;
  deployedAt: string | null;
}

interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

const table = (id: string) => $(id) as HTMLTableElement;

/** The links every record has: its event, its receipt, its stream. */
function recordLinks(what: string, r: RecordBase, openStream: (id: string) => void, ...more: HTMLButtonElement[]): HTMLTableCellElement {
  const ev = r.receipt.stream_event_id;
  return nodeCell(
    ...more.flatMap((b) => [b, ' ']),
    button('Event', `Event of ${what} ${r.id}`, () => void showEvent(ev)),
    ' ',
    button('Receipt', `Receipt of ${what} ${r.id}`, () => void showReceipt(ev)),
    ' ',
    button('Stream', `Stream of ${what} ${r.id}`, () => openStream(r.stream_id)),
  );
}

const repoFilter = (): string => ($('cicd-repo') as HTMLInputElement).value.trim();

/** A pager over one /api/v1 list: `render` makes a row of each record. */
function listPager<T>(tableId: string, what: string, path: string, render: (x: T) => HTMLTableRowElement): Pager<string | null> {
  return new Pager<string | null>($(`${tableId}-pager`), what, null, async (cursor) => {
    const body = table(tableId).tBodies[0]!;
    if (!hasKey()) {
      body.replaceChildren();
      return { next: null };
    }
    try {
      const r = await getJson<Page<T>>(`${path}${query({ limit: pageSize(200), repositoryFullName: repoFilter(), cursor })}`);
      body.replaceChildren(...r.items.map(render));
      if (r.items.length === 0) body.append(emptyRow(table(tableId), `No ${what}${repoFilter() ? ` of ${repoFilter()}` : ''}.`));
      return { next: r.next_cursor };
    } catch (e) {
      body.replaceChildren();
      showError(e);
      throw e;
    }
  });
}

const stepsSummary = (steps: Step[]): string => {
  if (steps.length === 0) return 'no steps';
  const done = steps.filter((s) => s.status === 'SUCCEEDED').length;
  const failed = steps.filter((s) => s.status === 'FAILED').length;
  return `${done} of ${steps.length} succeeded${failed ? `, ${failed} failed` : ''}: ${steps.map((s) => `${s.name} ${s.status}`).join(', ')}`;
};

function stepsTable(steps: Step[]): HTMLElement {
  const t = document.createElement('table');
  t.id = 'run-steps';
  const cap = t.createCaption();
  cap.className = 'visually-hidden';
  cap.textContent = 'Steps of the run';
  t.createTHead().append(headRow('step', 'status', 'started', 'finished'));
  t.createTBody().append(...steps.map((s) => row(cell(s.name), cell(s.status, `status-${s.status.toLowerCase()}`), cell(s.startedAt ?? ''), cell(s.finishedAt ?? ''))));
  const wrap = document.createElement('div');
  wrap.className = 'table-wrap';
  wrap.append(t);
  return wrap;
}

/** GET /api/v1/pipeline-runs/{id}: the run's current state (derived from its events) and its steps. */
async function openRun(id: string): Promise<void> {
  try {
    const r = await getJson<Run>(`/api/v1/pipeline-runs/${encodeURIComponent(id)}`);
    showDetail(
      `Pipeline run ${r.id}`,
      facts([
        ['repository', r.repositoryFullName],
        ['name', r.name],
        ['status', r.status],
        ['provider', `${r.provider ?? '—'}${r.externalId ? ` (run ${r.externalId})` : ''}`],
        ['commit', `${r.commitSha ?? '—'}${r.branch ? ` on ${r.branch}` : ''}${r.prNumber ? `, PR #${r.prNumber}` : ''}`],
        ['started / finished', `${r.startedAt ?? '—'} / ${r.finishedAt ?? '—'}`],
        ['latest event', `${r.receipt.stream_event_id} (seq_no ${r.seq_no} of ${r.stream_id})`],
      ]),
      heading(4, 'Steps'),
      r.steps.length ? stepsTable(r.steps) : para('No steps.'),
    );
  } catch (e) {
    detailError(`Pipeline run ${id}`, e);
  }
}

/** GET /api/v1/artifacts/{sha256}: the artifact, its attestations and deployments (first pages), and its provenance. */
export async function openArtifact(sha256: string): Promise<void> {
  const title = `Artifact ${short(sha256, 16)}`;
  try {
    const a = await getJson<Artifact>(`/api/v1/artifacts/${encodeURIComponent(sha256)}`);
    const [atts, deps] = await Promise.all([
      getJson<Page<Attestation>>(`/api/v1/attestations${query({ artifactSha256: a.sha256, limit: 50 })}`),
      getJson<Page<Deployment>>(`/api/v1/deployments${query({ artifactSha256: a.sha256, limit: 50 })}`),
    ]);
    const list = (items: string[], empty: string) => {
      if (items.length === 0) return para(empty);
      const ul = document.createElement('ul');
      for (const t of items) {
        const li = document.createElement('li');
        li.textContent = t;
        ul.append(li);
      }
      return ul;
    };
    showDetail(
      `Artifact ${a.name} ${a.version}`,
      facts([
        ['sha256', a.sha256],
        ['type', a.artifactType],
        ['repository', a.repositoryFullName],
        ['commit', `${a.commitSha} on ${a.branch}`],
        ['built by run', a.pipelineRunId ?? '—'],
        ['registered', a.createdAt],
        ['event', `${a.receipt.stream_event_id} (seq_no ${a.seq_no} of ${a.stream_id})`],
      ]),
      heading(4, 'Attestations'),
      list(atts.items.map((x) => `${x.type} ${x.name}: ${x.passed ? 'passed' : 'failed'} (${x.id})`), 'No attestations.'),
      heading(4, 'Deployments'),
      list(deps.items.map((x) => `${x.environment}: ${x.status}${x.deployedAt ? ` at ${x.deployedAt}` : ''} (${x.id})`), 'No deployments.'),
      ...artifactExtras(a),
    );
  } catch (e) {
    detailError(title, e);
  }
}

export function startCicd(onView: (name: string, f: () => void) => void, openStream: (id: string) => void): void {
  const runs = listPager<Run>('cicd-runs', 'pipeline runs', '/api/v1/pipeline-runs', (r) =>
    row(
      cell(r.id, 'mono'),
      cell(r.repositoryFullName),
      cell(r.name),
      cell(r.status, `status-${r.status.toLowerCase()}`),
      cell(stepsSummary(r.steps)),
      cell(`${r.startedAt ?? '—'} / ${r.finishedAt ?? '—'}`),
      recordLinks('pipeline run', r, openStream, button('Open', `Open pipeline run ${r.id}`, () => void openRun(r.id))),
    ),
  );
  const artifacts = listPager<Artifact>('cicd-artifacts', 'artifacts', '/api/v1/artifacts', (a) =>
    row(
      cell(short(a.sha256, 16), 'mono'),
      cell(a.name),
      cell(a.version),
      cell(a.artifactType),
      cell(a.repositoryFullName),
      cell(a.commitSha, 'mono'),
      recordLinks('artifact', a, openStream, button('Open', `Open artifact ${a.sha256}`, () => void openArtifact(a.sha256))),
    ),
  );
  const attestations = listPager<Attestation>('cicd-attestations', 'attestations', '/api/v1/attestations', (x) =>
    row(
      cell(x.id, 'mono'),
      cell(x.repositoryFullName),
      cell(x.type),
      cell(x.name),
      cell(x.passed ? 'passed' : 'failed', x.passed ? 'status-succeeded' : 'status-failed'),
      nodeCell(
        ...(x.prNumber ? [`PR #${x.prNumber}`] : []),
        ...(x.prNumber && x.artifactSha256 ? [', '] : []),
        ...(x.artifactSha256 ? [button(`artifact ${short(x.artifactSha256, 8)}`, `Open artifact ${x.artifactSha256}`, () => void openArtifact(x.artifactSha256!))] : []),
      ),
      recordLinks('attestation', x, openStream),
    ),
  );
  const deployments = listPager<Deployment>('cicd-deployments', 'deployments', '/api/v1/deployments', (d) =>
    row(
      cell(d.id, 'mono'),
      cell(d.environment),
      cell(d.status, `status-${d.status.toLowerCase()}`),
      nodeCell(button(short(d.artifactSha256, 8), `Open artifact ${d.artifactSha256}`, () => void openArtifact(d.artifactSha256))),
      cell(d.repositoryFullName),
      cell(d.deployedAt ?? d.createdAt),
      recordLinks('deployment', d, openStream),
    ),
  );
  const all = () => {
    clearError();
    return Promise.all([runs.reset(), artifacts.reset(), attestations.reset(), deployments.reset()]);
  };
  onView('cicd', () => void all());
  $('cicd-show').addEventListener('click', () => void all());
  $('cicd-repo').addEventListener('keydown', (e) => {
    if (e.key === 'Enter') void all();
  });
  // The sha256 goes to the API as typed (trimmed): a malformed one is refused there, and its envelope shown as sent.
  const find = () => {
    const sha = ($('artifact-sha') as HTMLInputElement).value.trim();
    if (sha === '') return;
    clearError();
    void openArtifact(sha);
  };
  $('artifact-find').addEventListener('click', find);
  $('artifact-sha').addEventListener('keydown', (e) => {
    if (e.key === 'Enter') find();
  });
}
