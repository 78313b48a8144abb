// Test helpers for the C2SP tlog-witness (`proofstream witness serve`):
//  - startWitness(): the real witness in a child process on 127.0.0.1 (key and DB in a temp dir);
//  - TestLog: an in-memory log (Ed25519 key, RFC 9162 tree) producing signed checkpoints, consistency
//    proofs and ready-to-submit add-checkpoint requests.
import type { ChildProcess } from 'node:child_process';
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign as nodeSign, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { formatCheckpoint } from '../../src/protocol/checkpoint.js';
import { consistencyProof, leafHash, MemoryNodeSource, nodeHash, rootAt, EMPTY_ROOT } from '../../src/protocol/merkle.js';
import { encodeVerifierKey, formatNote, signNoteEd25519 } from '../../src/protocol/note.js';
import { generateWitnessKey, loadWitnessKey } from '../../src/witness/keys.js';
import { BIN, spawnListening, tempDir } from './server.js';

/** One `--log <origin> <vkey>…` entry; `origin` may be a wildcard `<prefix>/*`. */
export interface WitnessLog {
  origin: string;
  vkeys: string[];
}

export interface StartWitnessOptions {
  logs: WitnessLog[];
  /** Directory for the default key file and DB (a new temp dir by default). */
  dir?: string;
  /** Witness DB file (default `<dir>/witness.db`); pass the same one to restart on existing state. */
  dbPath?: string;
  /** Witness key file (default `<dir>/witness.key`); created with `name` if it does not exist. */
  keyFile?: string;
  /** Witness name for a new key (default `witness.test/w1`). */
  name?: string;
  /** Port (default 0: any free port). */
  port?: number;
}

export interface RunningWitnessProcess {
  /** Base URL (the submission prefix): POST `${url}/add-checkpoint`. */
  url: string;
  port: number;
  /** Witness verifier key `name+keyid+base64(0x04 ‖ pub)`. */
  vkey: string;
  name: string;
  /** 32-byte Ed25519 public key of the witness. */
  publicKey: Uint8Array;
  dir: string;
  dbPath: string;
  keyFile: string;
  proc: ChildProcess;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  /** SIGTERM and wait for exit (no-op if already exited). */
  stop(): Promise<void>;
  /** SIGKILL and wait for exit: no clean shutdown. */
  kill(): Promise<void>;
}

/** `--log` arguments for the witness CLI. */
export function logArgs(logs: readonly WitnessLog[]): string[] {
  return logs.flatMap((l) => ['--log', l.origin, ...l.vkeys]);
}

/** Spawns `proofstream witness serve` on 127.0.0.1 and waits for its "witness listening on" line. */
export async function startWitness(opts: StartWitnessOptions): Promise<RunningWitnessProcess> {
  const dir = opts.dir ?? tempDir('ps-witness-');
  const dbPath = opts.dbPath ?? path.join(dir, 'witness.db');
  const keyFile = opts.keyFile ?? path.join(dir, 'witness.key');
  if (!fs.existsSync(keyFile)) generateWitnessKey(keyFile, opts.name ?? 'witness.test/w1');
  const key = loadWitnessKey(keyFile);
  const args = [BIN, 'witness', 'serve', '--host', '127.0.0.1', '--port', String(opts.port ?? 0), '--db', dbPath, '--key', keyFile, ...logArgs(opts.logs)];
  const p = await spawnListening('witness', args);
  return {
    url: `http://127.0.0.1:${p.port}`,
    port: p.port,
    vkey: key.vkey,
    name: key.name,
    publicKey: key.publicKey,
    dir,
    dbPath,
    keyFile,
    proc: p.proc,
    output: p.output,
    stop: p.stop,
    kill: p.kill,
  };
}

const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** node:crypto public KeyObject for a raw 32-byte Ed25519 public key. */
export function ed25519PublicKeyObject(pub: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, Buffer.from(pub)]), format: 'der', type: 'spki' });
}

/** An Ed25519 key pair for signing test checkpoints. */
export class TestKey {
  readonly privateKey: KeyObject;
  readonly publicKey: Uint8Array;
  constructor(seed?: Uint8Array) {
    this.privateKey = seed
      ? createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, Buffer.from(seed)]), format: 'der', type: 'pkcs8' })
      : generateKeyPairSync('ed25519').privateKey;
    const jwk = createPublicKey(this.privateKey).export({ format: 'jwk' });
    this.publicKey = new Uint8Array(Buffer.from(jwk.x!, 'base64url'));
  }
  sign = (msg: Uint8Array): Uint8Array => new Uint8Array(nodeSign(null, msg, this.privateKey));
  /** Ed25519 (type 0x01) vkey under `name`. */
  vkey(name: string): string {
    return encodeVerifierKey(name, this.publicKey);
  }
}

/**
 * An in-memory append-only log with origin `origin`, signing checkpoints with `key` under key name
 * `origin` (as the ledger does, one origin per stream). Leaves are `${origin}#${salt}${i}`: two logs
 * with the same origin and key but different salts are forks of each other.
 */
export class TestLog {
  readonly key: TestKey;
  private readonly nodes = new MemoryNodeSource();
  private count = 0;

  constructor(
    readonly origin: string,
    key?: TestKey,
    readonly salt = '',
  ) {
    this.key = key ?? new TestKey();
  }

  /** Ed25519 vkey of this log (name = origin). */
  get vkey(): string {
    return this.key.vkey(this.origin);
  }

  get size(): number {
    return this.count;
  }

  /** Appends n leaves; returns the new size. */
  append(n: number): number {
    for (let k = 0; k < n; k++) {
      const i = this.count++;
      this.nodes.put(0, i, leafHash(new TextEncoder().encode(`${this.origin}#${this.salt}${i}`)));
      // Complete every perfect subtree that leaf i closes.
      for (let level = 1, width = 2; (i + 1) % width === 0; level++, width *= 2) {
        const idx = (i + 1) / width - 1;
        this.nodes.put(level, idx, nodeHash(this.nodes.get(level - 1, 2 * idx), this.nodes.get(level - 1, 2 * idx + 1)));
      }
    }
    return this.count;
  }

  /** Root hash at `size` (≤ current size). */
  root(size = this.count): Uint8Array {
    return size === 0 ? EMPTY_ROOT : rootAt(this.nodes, size);
  }

  /** Checkpoint body at `size`; `root` overrides the real root (to forge an inconsistent one). */
  body(size = this.count, root?: Uint8Array): string {
    return formatCheckpoint({ origin: this.origin, size, rootHash: root ?? this.root(size) });
  }

  /** Signed checkpoint note; `root` forges the root, `key`/`keyName` override who signs and under which name. */
  async note(size = this.count, opts: { root?: Uint8Array; key?: TestKey; keyName?: string } = {}): Promise<string> {
    const text = this.body(size, opts.root);
    const key = opts.key ?? this.key;
    const sig = await signNoteEd25519(text, opts.keyName ?? this.origin, key.publicKey, key.sign);
    return formatNote(text, [sig]);
  }

  /** RFC 9162 consistency proof old → size ([] when old is 0 or old == size). */
  proof(old: number, size = this.count): Uint8Array[] {
    return old === 0 || old === size ? [] : consistencyProof(this.nodes, old, size);
  }

  /** An add-checkpoint request from `old` to `size`. */
  async request(old: number, size = this.count): Promise<{ old: number; proof: Uint8Array[]; note: string }> {
    return { old, proof: this.proof(old, size), note: await this.note(size) };
  }
}
