// Placeholder until the tsa command lands; keeps main.ts compiling.
export async function tsaCommand(_argv: string[]): Promise<number> {
  process.stderr.write('proofstream: the tsa command is not available yet\n');
  return 2;
}
