// An artifact's provenance (docs/cicd.md "Provenance", GET /api/v1/artifacts/{sha256}/provenance): the bundle — every
// record about the artifact with its events proved against one checkpoint — offered as a file for the auditor page,
// which verifies it in the browser (kind `provenance`); and the in-toto Statement (SLSA Provenance v1) in its DSSE
// envelope. A bundle whose events are not all sealed yet comes back `pending`: the console says so, and the file can
// be fetched again after the Retry-After the API gives.

import { ApiFailure, api } from './api.js';
import type { Artifact } from './cicd.js';
import { button, downloadLink, heading, para } from './dom.js';

async function fetchInto(out: HTMLElement, sha256: string, format: 'bundle' | 'in-toto'): Promise<void> {
  out.textContent = 'Fetching…';
  try {
    const res = await api('GET', `/api/v1/artifacts/${encodeURIComponent(sha256)}/provenance${format === 'in-toto' ? '?format=in-toto' : ''}`);
    const text = await res.text();
    if (format === 'in-toto') {
      out.replaceChildren(downloadLink('provenance-intoto-download', `provenance-${sha256.slice(0, 12)}.intoto.json`, text), ' (a DSSE envelope signed with the ledger key: keyid = a kid of GET /v2/keys).');
      return;
    }
    const b = JSON.parse(text) as { status: string; records: unknown[]; events: unknown[]; pending: unknown[] };
    const auditor = document.createElement('a');
    auditor.href = './';
    auditor.textContent = 'the auditor page';
    const retry = Number(res.headers.get('retry-after'));
    out.replaceChildren(
      downloadLink('provenance-download', `provenance-${sha256.slice(0, 12)}.json`, text),
      ` — ${b.records.length} records, ${b.events.length} events; `,
      b.status === 'pending'
        ? `pending: ${b.pending.length} events not sealed yet (fetch it again${Number.isFinite(retry) && retry > 0 ? ` in ${retry} s` : ' shortly'} for a complete bundle). `
        : 'complete. ',
      'Drop it on ',
      auditor,
      ' with the ledger\'s keys (GET /v2/keys) to verify it there.',
    );
    out.dataset.status = b.status;
  } catch (e) {
    out.textContent = e instanceof ApiFailure ? `${e.code}: ${e.message}` : `Error: ${(e as Error).message}`;
  }
}

export function artifactExtras(a: Artifact): Node[] {
  const out = para();
  out.id = 'provenance-status';
  out.setAttribute('role', 'status');
  out.setAttribute('aria-live', 'polite');
  return [
    heading(4, 'Provenance'),
    para(
      button('Provenance bundle', `Download the provenance bundle of artifact ${a.sha256}`, () => void fetchInto(out, a.sha256, 'bundle')),
      ' ',
      button('in-toto (DSSE)', `Download the in-toto provenance of artifact ${a.sha256}`, () => void fetchInto(out, a.sha256, 'in-toto')),
    ),
    out,
  ];
}
