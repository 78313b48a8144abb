// Small DOM builders for the console: text only (textContent), never HTML strings, so nothing the API returns can
// become markup.

export const $ = <T extends HTMLElement = HTMLElement>(id: string): T => document.getElementById(id) as T;

export function cell(text: string, cls = ''): HTMLTableCellElement {
  const td = document.createElement('td');
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

export function nodeCell(...nodes: (Node | string)[]): HTMLTableCellElement {
  const td = document.createElement('td');
  td.append(...nodes);
  return td;
}

export function row(...cells: HTMLTableCellElement[]): HTMLTableRowElement {
  const tr = document.createElement('tr');
  tr.append(...cells);
  return tr;
}

/** A header row of column names (th scope=col). */
export function headRow(...names: string[]): HTMLTableRowElement {
  const tr = document.createElement('tr');
  for (const n of names) {
    const th = document.createElement('th');
    th.scope = 'col';
    th.textContent = n;
    tr.append(th);
  }
  return tr;
}

/** A button whose visible text is short and whose accessible name says what it acts on. */
export function button(text: string, label: string, onClick: () => void): HTMLButtonElement {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = text;
  b.setAttribute('aria-label', label);
  b.addEventListener('click', onClick);
  return b;
}

/** A row saying the list is empty, across every column of its table. */
export function emptyRow(table: HTMLTableElement, text: string): HTMLTableRowElement {
  const td = cell(text, 'hint');
  td.colSpan = table.tHead?.rows[0]?.cells.length ?? 1;
  return row(td);
}

export const short = (hex: string, n = 12): string => (hex.length > n ? `${hex.slice(0, n)}…` : hex);

/** A download link for bytes made here (a blob: URL; the CSP allows no other kind of download source). */
export function downloadLink(id: string, name: string, body: BlobPart, type = 'application/json'): HTMLAnchorElement {
  const blob = new Blob([body], { type });
  const a = document.createElement('a');
  a.id = id;
  a.href = URL.createObjectURL(blob);
  a.download = name;
  a.textContent = `Download ${name} (${blob.size.toLocaleString('en-US')} bytes)`;
  return a;
}

export function facts(entries: [string, string | Node][]): HTMLDListElement {
  const dl = document.createElement('dl');
  dl.className = 'facts';
  for (const [k, v] of entries) {
    const dt = document.createElement('dt');
    dt.textContent = k;
    const dd = document.createElement('dd');
    dd.append(v);
    dl.append(dt, dd);
  }
  return dl;
}

export function pre(text: string, cls = 'json'): HTMLPreElement {
  const p = document.createElement('pre');
  p.className = cls;
  p.textContent = text;
  return p;
}

export function heading(level: 3 | 4, text: string): HTMLHeadingElement {
  const h = document.createElement(`h${level}`);
  h.textContent = text;
  return h;
}

export function para(...nodes: (Node | string)[]): HTMLParagraphElement {
  const p = document.createElement('p');
  p.append(...nodes);
  return p;
}
