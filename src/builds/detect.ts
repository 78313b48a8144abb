// Toolchain detection for build jobs' `detect` event: which build systems the sources' top directory declares.
import fs from 'node:fs';
import path from 'node:path';

/** Marker file at the top of the sources → toolchain name, in the order they are reported. */
export const TOOLCHAIN_MARKERS: ReadonlyArray<readonly [string, string]> = [
  ['flake.nix', 'nix'],
  ['Cargo.toml', 'cargo'],
  ['go.mod', 'go'],
  ['package.json', 'node'],
  ['pyproject.toml', 'python'],
  ['setup.py', 'python'],
  ['pom.xml', 'maven'],
  ['build.gradle', 'gradle'],
  ['build.gradle.kts', 'gradle'],
  ['CMakeLists.txt', 'cmake'],
  ['meson.build', 'meson'],
  ['Makefile', 'make'],
  ['makefile', 'make'],
  ['GNUmakefile', 'make'],
];

/** Names of the toolchains whose marker is a regular file at the top of `dir` (not a link), without repeats. */
export function detectToolchains(dir: string): string[] {
  const found: string[] = [];
  for (const [file, name] of TOOLCHAIN_MARKERS) {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(path.join(dir, file));
    } catch {
      continue;
    }
    if (st.isFile() && !found.includes(name)) found.push(name);
  }
  return found;
}
