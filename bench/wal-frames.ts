// What bench/wal-pages.ts and bench/wal-layouts.ts both measure: the page numbers of the WAL frames one commit wrote,
// and those pages grouped by the table or index that owns them (SQLite's dbstat).
import fs from 'node:fs';

/** Page numbers of the frames written to `wal` between its sizes `before` and now (32-byte header, 24-byte frame headers). */
export function walFramePages(wal: string, before: number, frameBytes: number): number[] {
  const after = fs.statSync(wal).size;
  const fd = fs.openSync(wal, 'r');
  const hdr = Buffer.alloc(24);
  const pages: number[] = [];
  try {
    for (let off = before === 0 ? 32 : before; off + frameBytes <= after; off += frameBytes) {
      fs.readSync(fd, hdr, 0, 24, off);
      pages.push(hdr.readUInt32BE(0));
    }
  } finally {
    fs.closeSync(fd);
  }
  return pages;
}

/** Frames of all commits, and per owning tree (table or index name; `header` for page 1). */
export function framesByTree(db: { prepare(sql: string): { all(): unknown[] } }, perCommit: number[][]): { frames: number; byTree: Map<string, number> } {
  const owner = new Map<number, string>();
  for (const r of db.prepare('SELECT name, pageno FROM dbstat').all() as Array<{ name: string; pageno: number }>) owner.set(r.pageno, r.name);
  const byTree = new Map<string, number>();
  let frames = 0;
  for (const pages of perCommit) {
    frames += pages.length;
    for (const p of pages) {
      const t = owner.get(p) ?? (p === 1 ? 'header' : '?');
      byTree.set(t, (byTree.get(t) ?? 0) + 1);
    }
  }
  return { frames, byTree };
}
