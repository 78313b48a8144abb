// Placeholder until the witness command lands; keeps main.ts compiling.
export async function witnessCommand(_argv: string[]): Promise<number> {
  process.stderr.write('proofstream: the witness command is not available yet\n');
  return 2;
}
