// `proofstream backup <file>` and `proofstream restore <file> [--force]` (docs/operations.md, "Back up and restore").
//
// backup: SQLite's online backup API on a connection of its own, so a serving ledger keeps appending meanwhile. The
// high-water record (src/ledger/rollback-guard.ts) is read BEFORE the copy starts and written beside it as
// `<file>.highwater`: the record only ever lags the database, so one read before the copy is at or behind the copy,
// never ahead of it (read after, it could name commits the copy does not hold, and the guard would refuse the restore).
//
// restore: refuses while anything holds the database open (src/store/check.ts databaseInUse), refuses a backup behind
// what was published (the current high-water record and the witnesses, the rollback guard's own checks) unless
// --force, and refuses a backup whose `check --deep` is not clean. The replaced database is kept beside it.
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { checkLedger, describeCheck } from '../ledger/check.js';
import {
  checkAgainstRecord,
  describeRollback,
  HighwaterWriter,
  highwaterPath,
  probeWitnesses,
  readHighwater,
  type HighwaterRecord,
  type RollbackFinding,
  type WitnessAccepted,
} from '../ledger/rollback-guard.js';
import { backupDatabase, databaseInUse } from '../store/check.js';
import { Store } from '../store/index.js';

const USAGE = `usage: proofstream backup <file> [--db <file>]
       proofstream restore <file> [--force] [--db <file>]
`;
/** restore: exit codes besides 0 (restored) and 2 (usage, unreadable) */
const EXIT_REFUSED = 1;
const EXIT_BEHIND = 3;

export async function backupCommand(argv: string[]): Promise<number> {
  const [cmd, ...args] = argv;
  let parsed: { values: { force?: boolean; db?: string }; positionals: string[] };
  try {
    parsed = parseArgs({ args, allowPositionals: true, options: { force: { type: 'boolean' }, db: { type: 'string' } } });
  } catch (e) {
    process.stderr.write(`proofstream ${cmd}: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 1 || (cmd === 'backup' && values.force)) {
    process.stderr.write(USAGE);
    return 2;
  }
  if (values.db === undefined && loadConfig().databaseUrl) {
    // A PostgreSQL ledger is backed up with PostgreSQL's own tools (pg_dump, base backups): docs/operations.md.
    process.stderr.write(`proofstream ${cmd}: DATABASE_URL names PostgreSQL; use pg_dump / pg_basebackup (docs/operations.md "PostgreSQL")\n`);
    return 2;
  }
  const dbPath = values.db ?? loadConfig().dbPath;
  return cmd === 'backup' ? backup(dbPath, positionals[0]!) : restore(dbPath, positionals[0]!, values.force ?? false);
}

function writeOwnerOnly(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, text, { mode: 0o600 });
  fs.renameSync(tmp, file);
}

async function backup(dbPath: string, dest: string): Promise<number> {
  if (!fs.existsSync(dbPath)) {
    process.stderr.write(`proofstream backup: no database at ${dbPath}\n`);
    return 2;
  }
  // First the record, then the copy: see the top of this file.
  const hw = highwaterPath(dbPath);
  let record: string | undefined;
  try {
    record = fs.readFileSync(hw, 'utf8');
    readHighwater(hw); // a record the guard could not read is not worth copying: say so, back up anyway
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') process.stderr.write(`warning: the high-water record ${hw} is unreadable (${(e as Error).message}); not copied\n`);
    record = undefined;
  }
  const t0 = performance.now();
  try {
    await backupDatabase(dbPath, dest);
  } catch (e) {
    process.stderr.write(`proofstream backup: ${(e as Error).message}\n`);
    return 2;
  }
  if (record !== undefined) writeOwnerOnly(highwaterPath(dest), record);
  else fs.rmSync(highwaterPath(dest), { force: true }); // never leave an older backup's record beside this one
  const bytes = fs.statSync(dest).size;
  process.stdout.write(
    `backed up ${dbPath} to ${dest} (${bytes} bytes, ${Math.round(performance.now() - t0)} ms)${record !== undefined ? `, high-water record to ${highwaterPath(dest)}` : ''}\n`,
  );
  return 0;
}

async function restore(dbPath: string, file: string, force: boolean): Promise<number> {
  const config = loadConfig();
  if (!fs.existsSync(file)) {
    process.stderr.write(`proofstream restore: no backup at ${file}\n`);
    return 2;
  }
  if (databaseInUse(dbPath)) {
    process.stderr.write(`proofstream restore: ${dbPath} is open in another process (a running server?): stop it first\n`);
    return EXIT_REFUSED;
  }
  // Staged beside the database (same filesystem: the final rename is atomic) and checked there before it replaces it.
  const staging = `${dbPath}.restoring-${process.pid}`;
  const removeStaging = () => {
    for (const f of [staging, `${staging}-wal`, `${staging}-shm`]) fs.rmSync(f, { force: true });
  };
  fs.mkdirSync(path.dirname(dbPath), { recursive: true, mode: 0o700 });
  fs.copyFileSync(file, staging);
  fs.chmodSync(staging, 0o600);
  let findings: RollbackFinding[] = [];
  let record: HighwaterRecord | undefined;
  const hw = highwaterPath(dbPath);
  let store: Store | undefined;
  try {
    store = Store.open(staging);
    try {
      record = readHighwater(hw);
      if (record) findings = checkAgainstRecord(store, record);
    } catch (e) {
      findings = [{ streamId: null, source: 'high-water', published: `a record in ${hw}`, database: `nothing comparable: the record is unreadable (${(e as Error).message})` }];
    }
    if (config.witnesses.length) {
      const w = await probeWitnesses(store, config.witnesses, config.startWitnessTimeoutMs, record?.witness_accepted);
      for (const x of w.warnings) process.stderr.write(`warning: ${x}\n`);
      findings.push(...w.findings);
    }
    if (findings.length && !force) {
      process.stderr.write(
        `${describeRollback(findings, file, false).replace(/^refusing to start: the database/, 'refusing to restore: the backup')}\n` +
          'Restore a newer backup, or, only if that history is truly lost, run again with --force.\n',
      );
      return EXIT_BEHIND;
    }
    const report = checkLedger(store, { deep: true });
    if (!report.ok) {
      process.stderr.write(`refusing to restore: the backup ${file} is damaged:\n${describeCheck(report)}\n`);
      return EXIT_REFUSED;
    }
    store.close();
    store = undefined;
    // The replaced database is kept (renamed, with its -wal) rather than deleted: a restore is itself undoable.
    if (fs.existsSync(dbPath)) {
      const aside = `${dbPath}.replaced-${new Date().toISOString().replace(/[:.]/g, '-')}`;
      fs.renameSync(dbPath, aside);
      for (const ext of ['-wal', '-shm']) if (fs.existsSync(dbPath + ext)) fs.renameSync(dbPath + ext, aside + ext);
      process.stdout.write(`kept the replaced database as ${aside}\n`);
    }
    fs.rmSync(`${staging}-shm`, { force: true });
    fs.renameSync(staging, dbPath);
    if (findings.length) {
      // --force: the record (and the witnesses' sizes) must now describe the restored database, or every start
      // would be refused; what was accepted is said, as `serve --allow-rollback` does.
      process.stderr.write(`${describeRollback(findings, dbPath, true)}\n`);
      const accepted: WitnessAccepted = { ...record?.witness_accepted };
      for (const f of findings) {
        if (!f.streamId || !f.witness) continue;
        const m = (accepted[f.streamId] = { ...accepted[f.streamId] });
        m[f.witness.name] = Math.max(m[f.witness.name] ?? 0, f.witness.size);
      }
      const restored = Store.open(dbPath);
      try {
        new HighwaterWriter(restored, hw, config.highwaterIntervalMs, accepted).writeNow();
      } finally {
        restored.close();
      }
    } else if (!record && fs.existsSync(highwaterPath(file))) {
      // No record beside the database (lost with it?): the backup's own is at or behind the backup, a safe start.
      writeOwnerOnly(hw, fs.readFileSync(highwaterPath(file), 'utf8'));
    }
    process.stdout.write(`restored ${file} to ${dbPath}: ${describeCheck(report)}\n`);
    return 0;
  } finally {
    store?.close();
    removeStaging();
  }
}
