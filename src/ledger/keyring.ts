// The ledger's signing keys and their windows (docs/trust.md, "Rotating the ledger key"). The `ledger_keys` table is
// the truth: the key with valid_until null signs receipts; it and every key still inside its overlap (retired_at in
// the future) sign checkpoints. `proofstream ledger-key rotate` changes the table from another process; the server
// notices through PRAGMA data_version inside its next write transaction, so the switch needs no restart and no
// receipt is ever signed by a key whose window has closed.
import fs from 'node:fs';
import path from 'node:path';
import { bytesToHex } from '../protocol/bytes.js';
import { RECEIPT_ALG } from '../protocol/receipt.js';
import type { Store } from '../store/index.js';
import type { LedgerKeyRow } from '../store/ledger-keys.js';
import { ApiError } from './errors.js';
import { createSignerFile, loadOrCreateSigner, loadSigner, type Signer } from './signer.js';
import { errField, log } from '../log.js';

export type LedgerKeyStatus = 'active' | 'retiring' | 'retired';

/** active: signs receipts and checkpoints; retiring: co-signs checkpoints until retired_at; retired: signs nothing. */
export function keyStatus(row: Pick<LedgerKeyRow, 'validUntil' | 'retiredAt'>, nowIso: string): LedgerKeyStatus {
  if (row.validUntil === null) return 'active';
  return row.retiredAt !== null && row.retiredAt > nowIso ? 'retiring' : 'retired';
}

/** Where a rotated key's private key lives. */
export const ledgerKeyFile = (dir: string, kid: string): string => path.join(dir, `${kid}.pem`);

export class LedgerKeyError extends ApiError {
  constructor(message: string) {
    super('LEDGER_KEY_UNAVAILABLE', message);
  }
}

/** Thrown by rotate/retire for a state the operator must change first (the CLI prints it, exit 2). */
export class KeyRotationError extends Error {}

export interface Rotation {
  /** the keys that were active and are now retiring (one, unless an old database had several) */
  previous: LedgerKeyRow[];
  next: LedgerKeyRow;
  file: string;
}

/**
 * Creates a key and makes it the active one; the previously active key keeps co-signing checkpoints for `overlapMs`.
 * The private key is written before the row commits, so a server never sees a kid it cannot load. The rotation time
 * is taken after the write lock is held: every receipt committed before it carries an earlier received_at, and every
 * one after it is signed by the new key (a flush re-reads the table under the same lock).
 */
export function rotateLedgerKey(store: Store, keysDir: string, overlapMs: number): Rotation {
  if (!store.ledgerKeys.list().some((k) => k.validUntil === null)) {
    throw new KeyRotationError('this database has no active ledger key yet: start the server on it once, then rotate');
  }
  const { signer, file } = createSignerFile(keysDir);
  try {
    return store.write(() => {
      const active = store.ledgerKeys.list().filter((k) => k.validUntil === null);
      if (!active.length) throw new KeyRotationError('this database has no active ledger key yet: start the server on it once, then rotate');
      const now = new Date();
      const nowIso = now.toISOString();
      const until = new Date(now.getTime() + overlapMs).toISOString();
      for (const k of active) store.ledgerKeys.close(k.kid, nowIso, until);
      const next = { kid: signer.kid, alg: RECEIPT_ALG, publicKey: bytesToHex(signer.publicKey), createdAt: nowIso, retiredAt: null, validFrom: nowIso, validUntil: null };
      store.ledgerKeys.register(next);
      return { previous: active.map((k) => ({ ...k, validUntil: nowIso, retiredAt: until })), next, file };
    });
  } catch (e) {
    fs.rmSync(file, { force: true }); // never committed: nobody will look for it
    throw e;
  }
}

/** Ends a retiring key's overlap now (`ledger-key retire`): from the next checkpoint on it no longer co-signs. */
export function retireLedgerKey(store: Store, kid: string): { row: LedgerKeyRow; was: LedgerKeyStatus } {
  return store.write(() => {
    const row = store.ledgerKeys.get(kid);
    if (!row) throw new KeyRotationError(`no ledger key ${JSON.stringify(kid)} (see: proofstream ledger-key list)`);
    const nowIso = new Date().toISOString();
    const was = keyStatus(row, nowIso);
    if (was === 'active') throw new KeyRotationError(`${kid} is the active key: rotate first (proofstream ledger-key rotate), then retire it`);
    if (was === 'retiring') store.ledgerKeys.setRetiredAt(kid, nowIso);
    return { row: store.ledgerKeys.get(kid)!, was };
  });
}

export class Keyring {
  private rows: LedgerKeyRow[] = [];
  private version = -1;
  private readonly signers = new Map<string, Signer>();
  private activeRow!: LedgerKeyRow;

  private constructor(
    private readonly store: Store,
    private readonly keysDir: string,
    /** the first key's file (PROOFSTREAM_SIGNING_KEY), found by kid like the others */
    private readonly firstKeyFile: string,
  ) {}

  /**
   * At start: on a new database the first key (created at `signingKeyPath` if missing) is registered with no lower
   * bound; a key file that is not in the table (an operator replaced the file, as before rotation existed) is taken
   * as a rotation with no overlap, and so is a key created because no private key file exists at all (a database
   * restored elsewhere). Throws LedgerKeyError when the active key's private key cannot be read although the
   * signing-key file exists (the keys directory was not brought along).
   */
  static open(store: Store, signingKeyPath: string, keysDir: string): Keyring {
    const ring = new Keyring(store, keysDir, signingKeyPath);
    store.write(() => {
      const rows = store.ledgerKeys.list();
      if (!rows.length) {
        const s = loadOrCreateSigner(signingKeyPath);
        ring.signers.set(s.kid, s);
        store.ledgerKeys.register({ kid: s.kid, alg: RECEIPT_ALG, publicKey: bytesToHex(s.publicKey), createdAt: new Date().toISOString() });
        return;
      }
      ring.settleLegacy(rows);
      const active = store.ledgerKeys.list().filter((r) => r.validUntil === null).at(-1);
      if (!fs.existsSync(signingKeyPath) && active && !fs.existsSync(ledgerKeyFile(keysDir, active.kid))) {
        // No private key anywhere (a backup restored on a new host): as before rotation existed, a new key is made;
        // below it becomes a rotation with no overlap, so the old key's receipts keep their window.
        loadOrCreateSigner(signingKeyPath);
      }
      if (fs.existsSync(signingKeyPath)) {
        const s = loadSigner(signingKeyPath);
        ring.signers.set(s.kid, s);
        if (!rows.some((r) => r.kid === s.kid)) {
          const nowIso = new Date().toISOString();
          for (const r of store.ledgerKeys.list()) if (r.validUntil === null) store.ledgerKeys.close(r.kid, nowIso, nowIso);
          store.ledgerKeys.register({ kid: s.kid, alg: RECEIPT_ALG, publicKey: bytesToHex(s.publicKey), createdAt: nowIso, validFrom: nowIso });
          log.warn({ event: 'ledger_key_replaced', kid: s.kid }, `the key file ${signingKeyPath} holds a key ${s.kid} this database has not seen: taken as a rotation with no overlap (use \`proofstream ledger-key rotate\` to rotate; restore the ledger-keys directory with a backup)`);
        }
      }
    });
    ring.refresh(true);
    ring.receiptSigner(); // refuse to start without the active private key
    return ring;
  }

  /** Databases from before rotation could hold several keys without windows: each one's window ends where the next began. */
  private settleLegacy(rows: LedgerKeyRow[]): void {
    const open = rows.filter((r) => r.validUntil === null);
    for (let i = 0; i + 1 < open.length; i++) {
      const end = open[i + 1]!.createdAt;
      this.store.ledgerKeys.close(open[i]!.kid, end, end);
    }
  }

  /** Re-reads the table when another connection committed since the last look (cheap: one pragma otherwise). */
  private refresh(force = false): void {
    const v = this.store.tenancy.dataVersion();
    if (!force && v === this.version) return;
    this.version = v;
    this.rows = this.store.ledgerKeys.list();
    const active = this.rows.filter((r) => r.validUntil === null);
    // Two active rows can only come from a hand-edited table: the newest one wins, as rotation would have made it.
    const next = active[active.length - 1];
    if (!next) throw new LedgerKeyError('the ledger_keys table has no active key');
    if (this.activeRow && this.activeRow.kid !== next.kid) {
      log.info({ event: 'ledger_key_rotated', kid: next.kid, previous: this.activeRow.kid }, `ledger key rotated: now signing with ${next.kid} (previous ${this.activeRow.kid})`);
    }
    this.activeRow = next;
  }

  private signerFor(kid: string): Signer {
    let s = this.signers.get(kid);
    if (s) return s;
    const file = ledgerKeyFile(this.keysDir, kid);
    // A rotated key lives in the keys directory; the first one may still be only the PROOFSTREAM_SIGNING_KEY file.
    const candidates = fs.existsSync(file) || !fs.existsSync(this.firstKeyFile) ? [file] : [file, this.firstKeyFile];
    const problems: string[] = [];
    for (const f of candidates) {
      try {
        s = loadSigner(f);
      } catch (e) {
        problems.push(`${f}: ${(e as Error).message}`);
        continue;
      }
      if (s.kid === kid) {
        this.signers.set(kid, s);
        return s;
      }
      problems.push(`${f} holds key ${s.kid}`);
    }
    throw new LedgerKeyError(`the private key of ledger key ${kid} cannot be read (${problems.join('; ')})`);
  }

  /** The key that signs receipts now. Call inside the write transaction that uses it. Throws LedgerKeyError. */
  receiptSigner(): Signer {
    this.refresh();
    return this.signerFor(this.activeRow.kid);
  }

  /** The first received_at the active key may sign (null: no lower bound). */
  get activeValidFrom(): string | null {
    return this.activeRow.validFrom;
  }

  /**
   * The keys that sign a checkpoint now: the active one first (the checkpoint's signer_vkey), then every key inside
   * its overlap. A retiring key whose file cannot be read is left out (logged): the checkpoint is still signed.
   */
  checkpointSigners(): Signer[] {
    const active = this.receiptSigner();
    const nowIso = new Date().toISOString();
    const out = [active];
    for (const r of this.rows) {
      if (r.kid === active.kid || keyStatus(r, nowIso) !== 'retiring') continue;
      try {
        out.push(this.signerFor(r.kid));
      } catch (e) {
        log.error({ event: 'ledger_key_unavailable', kid: r.kid, err: errField(e) }, `retiring ledger key ${r.kid} cannot co-sign: ${(e as Error).message}`);
      }
    }
    return out;
  }

  /**
   * The active signer as last seen (no database read), for /health and start lines. While the active key's file is
   * unreadable this is the previous one, which signs nothing any more (receiptSigner throws): it only names a key.
   */
  get current(): Signer {
    try {
      this.lastCurrent = this.signerFor(this.activeRow.kid);
    } catch {
      /* keep the last one that loaded */
    }
    return this.lastCurrent!;
  }

  private lastCurrent: Signer | undefined;

  /** The active key's kid as last seen (no database or file read). */
  get activeKid(): string {
    return this.activeRow.kid;
  }

  /** The keys as last read (no database access). */
  cached(): readonly LedgerKeyRow[] {
    return this.rows;
  }

  /** Every key with its window, oldest first, as of now. */
  list(): LedgerKeyRow[] {
    this.refresh();
    return this.rows;
  }
}
