// The detail panel: one record at a time (an event, a receipt, a window, an artifact…), opened from any list, with
// focus moved to it so keyboard and screen-reader users land on what they asked for; Close returns focus to the
// button that opened it.

import { ApiFailure, getJson } from './api.js';
import { $, downloadLink, para, pre } from './dom.js';

let opener: HTMLElement | null = null;

export function showDetail(title: string, ...nodes: (Node | string)[]): void {
  opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
  const box = $('detail');
  $('detail-h').textContent = title;
  $('detail-body').replaceChildren(...nodes);
  box.hidden = false;
  box.focus();
  box.scrollIntoView({ block: 'start' });
}

export function closeDetail(): void {
  $('detail').hidden = true;
  $('detail-body').replaceChildren();
  opener?.focus();
  opener = null;
}

/** An error while loading a detail: shown in the panel, as the API sent it. */
export function detailError(title: string, e: unknown): void {
  const p = para(e instanceof ApiFailure ? `${e.code}: ${e.message}` : `Error: ${(e as Error)?.message ?? String(e)}`);
  p.className = 'verdict error';
  p.setAttribute('role', 'alert');
  showDetail(title, p);
}

const auditorLink = (text: string): HTMLAnchorElement => {
  const a = document.createElement('a');
  a.href = './';
  a.textContent = text;
  return a;
};

/** GET /v2/events/{id}: the event as stored (payload, salt, hashes). */
export async function showEvent(eventId: string): Promise<void> {
  const title = `Event ${eventId}`;
  try {
    const ev = await getJson<unknown>(`/v2/events/${encodeURIComponent(eventId)}`);
    const text = JSON.stringify(ev, null, 2);
    showDetail(title, pre(text), para(downloadLink('detail-download', `event-${eventId}.json`, text)));
  } catch (e) {
    detailError(title, e);
  }
}

/** GET /v2/receipts/{id}: the signed receipt with its inclusion proof; downloadable for the auditor page. */
export async function showReceipt(eventId: string): Promise<void> {
  const title = `Receipt of ${eventId}`;
  try {
    const r = await getJson<{ receipt: { kid: string }; inclusion: { checkpoint_id: string | null; tree_size: number } | null }>(`/v2/receipts/${encodeURIComponent(eventId)}`);
    const text = JSON.stringify(r, null, 2);
    showDetail(
      title,
      para(
        `Signed by ${r.receipt.kid}; `,
        r.inclusion ? `included in checkpoint ${r.inclusion.checkpoint_id ?? '(none)'} at tree size ${r.inclusion.tree_size}.` : 'not sealed into a checkpoint yet.',
      ),
      pre(text),
      para(downloadLink('detail-download', `receipt-${eventId}.json`, text), ' — ', auditorLink('verify it on the auditor page'), ' (with the ledger\'s keys from GET /v2/keys).'),
    );
  } catch (e) {
    detailError(title, e);
  }
}

export function startDetail(): void {
  $('detail-close').addEventListener('click', closeDetail);
  $('detail').addEventListener('keydown', (e) => {
    if (e.key === 'Escape') closeDetail();
  });
}
