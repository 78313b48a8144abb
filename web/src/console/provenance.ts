// What an artifact's detail shows beyond its record (e.g. its provenance, when this ledger serves one).
import type { Artifact } from './cicd.js';

export function artifactExtras(_a: Artifact): Node[] {
  return [];
}
