// `node bin/run-ts.mjs bench/summarize-profile.ts <file.cpuprofile>`: self-time shares by area and top functions.
import fs from 'node:fs';
const file = process.argv[2]!;
interface Node { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }
const prof = JSON.parse(fs.readFileSync(file, 'utf8')) as { nodes: Node[]; samples: number[]; timeDeltas: number[] };
const self = new Map<number, number>();
prof.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0)));
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const fns = new Map<string, number>();
let total = 0;
for (const [id, t] of self) {
  const n = byId.get(id)!;
  if (n.callFrame.functionName === '(idle)') continue;
  total += t;
  const f = `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.replace(/^.*\/(node_modules|src)\//, '$1/')}:${n.callFrame.lineNumber + 1}`;
  fns.set(f, (fns.get(f) ?? 0) + t);
}
for (const [f, t] of [...fns].sort((x, y) => y[1] - x[1]).slice(0, Number(process.argv[3] ?? 40))) console.log(`${((100 * t) / total).toFixed(1).padStart(5)}%  ${f}`);
