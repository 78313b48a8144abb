// Node-only helpers ('proofstream/client/node'): a CheckpointStore in a JSON file, so a monitor remembers the
// last verified checkpoints across restarts. Kept out of 'proofstream/client', which must bundle for browsers.
import fs from 'node:fs/promises';
import path from 'node:path';
import type { CheckpointStore, VerifiedCheckpoint } from './monitor.js';

export * from './index.js';

/**
 * `{format: "proofstream-monitor/1", streams: {<stream_id>: checkpoint}}`. Each set rewrites the file atomically
 * (temp file, fsync, rename, fsync of the directory): a crash leaves the old or the new state, never half of one.
 */
export class FileCheckpointStore implements CheckpointStore {
  private cache: Map<string, VerifiedCheckpoint> | null = null;
  private writing: Promise<void> = Promise.resolve();

  constructor(readonly file: string) {}

  async get(streamId: string): Promise<VerifiedCheckpoint | null> {
    return (await this.load()).get(streamId) ?? null;
  }

  async set(streamId: string, cp: VerifiedCheckpoint): Promise<void> {
    const m = await this.load();
    m.set(streamId, cp);
    const text = JSON.stringify({ format: 'proofstream-monitor/1', streams: Object.fromEntries(m) }, null, 1) + '\n';
    const write = this.writing.then(() => writeAtomic(this.file, text));
    this.writing = write.catch(() => undefined);
    await write;
  }

  private async load(): Promise<Map<string, VerifiedCheckpoint>> {
    if (this.cache) return this.cache;
    let text: string;
    try {
      text = await fs.readFile(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      return (this.cache = new Map());
    }
    // An unreadable state file is an error, not a fresh start: starting over would accept any history.
    const doc = JSON.parse(text) as { format?: unknown; streams?: Record<string, VerifiedCheckpoint> };
    if (doc?.format !== 'proofstream-monitor/1' || typeof doc.streams !== 'object' || doc.streams === null) {
      throw new Error(`${this.file}: not a proofstream-monitor/1 file`);
    }
    return (this.cache = new Map(Object.entries(doc.streams)));
  }
}

async function writeAtomic(file: string, text: string): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  const fh = await fs.open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fs.rename(tmp, file);
  const dir = await fs.open(path.dirname(file), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
