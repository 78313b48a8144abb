// C2SP tlog-witness conformance: the wire-format parsers, the key file, and the real `proofstream witness`
// child process answering every status of c2sp.org/tlog-witness (plus the ledger-side client).
import { spawnSync } from 'node:child_process';
import { createHash, verify as nodeVerify } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { base64ToBytes, bytesToBase64 } from '../src/protocol/bytes.js';
import { ProtocolError } from '../src/protocol/merkle.js';
import { COSIGNATURE_TYPE, ED25519_TYPE, formatNote, parseNote, parseVerifierKey, signNoteEd25519, verifyNote } from '../src/protocol/note.js';
import {
  formatAddCheckpointRequest,
  formatCosignatureResponse,
  parseAddCheckpointRequest,
  parseCosignatureResponse,
  parseSizeResponse,
  TLOG_SIZE_CONTENT_TYPE,
  TlogWitnessError,
} from '../src/protocol/tlog-witness.js';
import { submitCheckpoint } from '../src/witness/client.js';
import { formatWitnessKeyFile, loadWitnessKey, parseWitnessKeyFile, WitnessKeyError } from '../src/witness/keys.js';
import { ROOT, BIN, tempDir } from './helpers/server.js';
import { ed25519PublicKeyObject, startWitness, TestKey, TestLog, type RunningWitnessProcess } from './helpers/witness.js';

const h = (b: number) => new Uint8Array(32).fill(b);

function expectCode(fn: () => unknown, code: string): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(TlogWitnessError);
    expect(e).toBeInstanceOf(ProtocolError);
    expect((e as TlogWitnessError).code).toBe(code);
    return;
  }
  throw new Error(`expected ${code}, nothing was thrown`);
}

async function post(url: string, body: string | Uint8Array): Promise<{ status: number; type: string | null; text: string }> {
  const res = await fetch(`${url}/add-checkpoint`, { method: 'POST', body: body as BodyInit });
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
}

async function submit(url: string, req: { old: number; proof: Uint8Array[]; note: string }) {
  return post(url, formatAddCheckpointRequest(req));
}

function cli(args: string[]) {
  return spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8' });
}

describe('tlog-witness wire format (src/protocol/tlog-witness.ts)', () => {
  const note = 'example.com/log\n3\n' + bytesToBase64(h(7)) + '\n\n\u2014 example.com/log AAAAAQ' + 'A'.repeat(86) + '==\n';

  it('formats the exact spec layout and round-trips 0, 1 and 63 proof lines', () => {
    const proof = [h(1), h(2)];
    expect(formatAddCheckpointRequest({ old: 20852014, proof, note })).toBe(
      `old 20852014\n${bytesToBase64(h(1))}\n${bytesToBase64(h(2))}\n\n${note}`,
    );
    for (const n of [0, 1, 63]) {
      const req = { old: n === 0 ? 0 : 5, proof: Array.from({ length: n }, (_, i) => h(i)), note };
      const back = parseAddCheckpointRequest(formatAddCheckpointRequest(req));
      expect(back.old).toBe(req.old);
      expect(back.note).toBe(note);
      expect(back.proof.map((x) => bytesToBase64(x))).toEqual(req.proof.map((x) => bytesToBase64(x)));
    }
  });

  it('rejects malformed request bodies with typed errors', () => {
    const p = bytesToBase64(h(9));
    expectCode(() => parseAddCheckpointRequest(`old 1\n${`${p}\n`.repeat(64)}\n${note}`), 'WITNESS_TOO_MANY_PROOF_LINES');
    expectCode(() => parseAddCheckpointRequest(`old 1\n${p.slice(0, -1)}!\n\n${note}`), 'WITNESS_PROOF_INVALID'); // bad base64
    expectCode(() => parseAddCheckpointRequest(`old 1\n${bytesToBase64(new Uint8Array(31))}\n\n${note}`), 'WITNESS_PROOF_INVALID');
    expectCode(() => parseAddCheckpointRequest(`old 1\n${p.replace(/=$/, '')}\n\n${note}`), 'WITNESS_PROOF_INVALID'); // unpadded
    expectCode(() => parseAddCheckpointRequest(`old 1\n${p}\n`), 'WITNESS_NO_BLANK_LINE');
    expectCode(() => parseAddCheckpointRequest(`old 1\n`), 'WITNESS_NO_BLANK_LINE');
    expectCode(() => parseAddCheckpointRequest(`old 1\n\n`), 'WITNESS_NOTE_INVALID');
    for (const bad of ['old 01', 'old -1', 'old +1', 'old x', 'old 1.0', 'Old 1', 'old  1', 'old 1 ', 'old', 'old 9007199254740992', '']) {
      expectCode(() => parseAddCheckpointRequest(`${bad}\n\n${note}`), 'WITNESS_OLD_INVALID');
    }
    expectCode(() => parseAddCheckpointRequest('old 1'), 'WITNESS_OLD_INVALID'); // no newline at all
    expect(parseAddCheckpointRequest(`old 0\n\n${note}`).old).toBe(0);
  });

  it('refuses to format requests the parser would reject', () => {
    expectCode(() => formatAddCheckpointRequest({ old: -1, proof: [], note }), 'WITNESS_OLD_INVALID');
    expectCode(() => formatAddCheckpointRequest({ old: 1.5, proof: [], note }), 'WITNESS_OLD_INVALID');
    expectCode(() => formatAddCheckpointRequest({ old: 1, proof: Array.from({ length: 64 }, () => h(1)), note }), 'WITNESS_TOO_MANY_PROOF_LINES');
    expectCode(() => formatAddCheckpointRequest({ old: 1, proof: [new Uint8Array(33)], note }), 'WITNESS_PROOF_INVALID');
    expectCode(() => formatAddCheckpointRequest({ old: 1, proof: [], note: '' }), 'WITNESS_NOTE_INVALID');
  });

  it('parses cosignature responses and rejects malformed ones', () => {
    const sigs = [
      { name: 'witness.example/w1', keyId: new Uint8Array([1, 2, 3, 4]), signature: new Uint8Array(72).fill(5) },
      { name: 'witness.example/w2', keyId: new Uint8Array([9, 9, 9, 9]), signature: new Uint8Array(72).fill(6) },
    ];
    const text = formatCosignatureResponse(sigs);
    expect(text.split('\n')).toHaveLength(3);
    expect(text.startsWith('\u2014 witness.example/w1 ')).toBe(true);
    const back = parseCosignatureResponse(text);
    expect(back.map((s) => [s.name, [...s.keyId], s.signature.length])).toEqual([
      ['witness.example/w1', [1, 2, 3, 4], 72],
      ['witness.example/w2', [9, 9, 9, 9], 72],
    ]);
    expect([...back[1]!.signature]).toEqual([...sigs[1]!.signature]);
    const line = text.split('\n')[0]!;
    expectCode(() => parseCosignatureResponse(''), 'WITNESS_RESPONSE_INVALID');
    expectCode(() => parseCosignatureResponse(line), 'WITNESS_RESPONSE_INVALID'); // no final newline
    expectCode(() => parseCosignatureResponse(`${line}\n\n`), 'WITNESS_RESPONSE_INVALID'); // empty line
    expectCode(() => parseCosignatureResponse(line.replace('\u2014', '-') + '\n'), 'WITNESS_RESPONSE_INVALID');
    expectCode(() => parseCosignatureResponse(line.replace('w1', 'w+1') + '\n'), 'WITNESS_RESPONSE_INVALID');
    expectCode(() => parseCosignatureResponse(`${line}!\n`), 'WITNESS_RESPONSE_INVALID');
    expectCode(() => parseCosignatureResponse('\u2014 w AQID\n'), 'WITNESS_RESPONSE_INVALID'); // 3 bytes: no room for key ID + sig
    expectCode(() => parseCosignatureResponse('\u2014 w\n'), 'WITNESS_RESPONSE_INVALID');
  });

  it('parses 409 size bodies strictly', () => {
    expect(parseSizeResponse('12\n')).toBe(12);
    expect(parseSizeResponse('0\n')).toBe(0);
    for (const bad of ['12', '012\n', '-1\n', ' 1\n', '1\n\n', '']) expectCode(() => parseSizeResponse(bad), 'WITNESS_SIZE_INVALID');
  });
});

describe('witness key file (src/witness/keys.ts)', () => {
  it('round-trips and derives the cosignature/v1 vkey and key ID', () => {
    const seed = new Uint8Array(32).map((_, i) => i);
    const text = formatWitnessKeyFile('witness.example/w1', seed);
    expect(text).toMatch(/^PRIVATE\+KEY\+witness\.example\/w1\+[0-9a-f]{8}\+[A-Za-z0-9+/]{44}\n$/);
    expect(base64ToBytes(text.trim().split('+').slice(4).join('+'))[0]).toBe(0x04);
    const k = parseWitnessKeyFile(text);
    const v = parseVerifierKey(k.vkey);
    expect(v.type).toBe(COSIGNATURE_TYPE);
    expect(v.name).toBe('witness.example/w1');
    expect(Buffer.from(v.publicKey)).toEqual(Buffer.from(k.publicKey));
    const expectedId = createHash('sha256').update('witness.example/w1\n').update(Buffer.from([0x04])).update(k.publicKey).digest().subarray(0, 4);
    expect(Buffer.from(v.keyId)).toEqual(expectedId);
    const sig = k.sign(new TextEncoder().encode('hello'));
    expect(nodeVerify(null, Buffer.from('hello'), ed25519PublicKeyObject(k.publicKey), sig)).toBe(true);
  });

  it('rejects tampered key files', () => {
    const text = formatWitnessKeyFile('w', new Uint8Array(32).fill(3));
    const parts = text.trim().split('+');
    const otherId = parts[3] === '00000000' ? '00000001' : '00000000';
    expect(() => parseWitnessKeyFile([...parts.slice(0, 3), otherId, ...parts.slice(4)].join('+'))).toThrow(WitnessKeyError);
    expect(() => parseWitnessKeyFile(text.replace('PRIVATE+KEY+', 'PUBLIC+KEY+'))).toThrow(WitnessKeyError);
    const wrongType = `PRIVATE+KEY+w+${parts[3]}+${bytesToBase64(new Uint8Array([1, ...new Uint8Array(32).fill(3)]))}\n`;
    expect(() => parseWitnessKeyFile(wrongType)).toThrow(/0x04/);
  });

  it('keygen CLI writes a 0600 key, prints its vkey and refuses to overwrite', () => {
    const dir = tempDir('ps-wkey-');
    const file = path.join(dir, 'sub', 'w.key');
    const r = cli(['witness', 'keygen', '--key', file, '--name', 'witness.test/keygen']);
    expect(r.status, r.stderr).toBe(0);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const k = loadWitnessKey(file);
    expect(r.stdout.trim()).toBe(k.vkey);
    expect(k.name).toBe('witness.test/keygen');
    const before = fs.readFileSync(file, 'utf8');
    const again = cli(['witness', 'keygen', '--key', file, '--name', 'witness.test/other']);
    expect(again.status).not.toBe(0);
    expect(again.stderr).toMatch(/refusing to overwrite/);
    expect(fs.readFileSync(file, 'utf8')).toBe(before);
  });

  it('exits 2 with usage on bad arguments', () => {
    const dir = tempDir('ps-wargs-');
    const key = path.join(dir, 'k');
    expect(cli(['witness', 'keygen', '--key', key]).status).toBe(2); // no --name
    expect(fs.existsSync(key)).toBe(false);
    expect(cli(['witness', 'keygen', '--key', key, '--name', 'bad name']).status).toBe(2);
    expect(cli(['witness', 'frobnicate']).status).toBe(2);
    expect(cli(['witness', 'keygen', '--key', key, '--name', 'w']).status).toBe(0);
    const log = new TestLog('example.com/args');
    const base = ['witness', 'serve', '--port', '0', '--db', path.join(dir, 'db'), '--key', key];
    const noLog = cli(base);
    expect(noLog.status).toBe(2);
    expect(noLog.stderr).toMatch(/usage:/);
    expect(cli([...base, '--log', log.origin]).status).toBe(2); // origin without vkey
    expect(cli([...base, '--log', log.origin, 'not-a-vkey']).status).toBe(2);
    expect(cli([...base, '--log', 'example.com/other', log.vkey]).status).toBe(2); // vkey name ≠ exact origin
    expect(cli([...base, '--port', 'x', '--log', log.origin, log.vkey]).status).toBe(2);
  });
});

describe('witness server (real child process)', () => {
  const exact = new TestLog('example.com/exact');
  const shared = new TestKey(); // signs every `test.example/<case>` origin, configured as a wildcard
  const streamKey = new TestKey(); // the "ledger" key for `proofstream.localhost/*`
  let w: RunningWitnessProcess;
  let caseNo = 0;
  const fresh = (label: string) => new TestLog(`test.example/${label}-${caseNo++}`, shared);

  beforeAll(async () => {
    w = await startWitness({
      logs: [
        { origin: exact.origin, vkeys: [exact.vkey] },
        { origin: 'test.example/*', vkeys: [shared.vkey('test.example')] },
        { origin: 'proofstream.localhost/*', vkeys: [streamKey.vkey('proofstream.localhost')] },
      ],
    });
  });
  afterAll(async () => {
    await w?.stop();
  });

  it('GET / and /health identify a tlog-witness; other methods on /add-checkpoint are 405', async () => {
    for (const p of ['/', '/health']) {
      const res = await fetch(w.url + p);
      expect(res.status).toBe(200);
      const j = (await res.json()) as { role: string; vkey: string; name: string; logs: string[] };
      expect(j.role).toBe('tlog-witness');
      expect(j.vkey).toBe(w.vkey);
      expect(j.logs).toContain('proofstream.localhost/*');
    }
    expect((await fetch(`${w.url}/add-checkpoint`)).status).toBe(405);
  });

  it('200 on a first submission with old 0; the cosignature verifies byte for byte', async () => {
    exact.append(5);
    const req = await exact.request(0);
    const t0 = Math.floor(Date.now() / 1000);
    const r = await submit(w.url, req);
    const t1 = Math.ceil(Date.now() / 1000);
    expect(r.status, r.text).toBe(200);
    // Exactly one signature line: `— <witness name> base64(keyID ‖ 8-byte time ‖ 64-byte sig)\n`.
    const lines = r.text.split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toBe('');
    const m = /^\u2014 (\S+) ([A-Za-z0-9+/=]+)$/.exec(lines[0]!);
    expect(m).not.toBeNull();
    expect(m![1]).toBe(w.name);
    const raw = Buffer.from(m![2]!, 'base64');
    expect(raw.length).toBe(4 + 8 + 64);
    const vk = parseVerifierKey(w.vkey);
    expect(vk.type).toBe(0x04);
    const expectedKeyId = createHash('sha256').update(Buffer.from(`${w.name}\n`)).update(Buffer.from([0x04])).update(vk.publicKey).digest().subarray(0, 4);
    expect(raw.subarray(0, 4)).toEqual(expectedKeyId);
    const time = raw.readBigUInt64BE(4);
    expect(time >= BigInt(t0) && time <= BigInt(t1)).toBe(true);
    const body = exact.body(5);
    const message = Buffer.from(`cosignature/v1\ntime ${time}\n${body}`, 'utf8');
    const pub = ed25519PublicKeyObject(vk.publicKey);
    expect(nodeVerify(null, message, pub, raw.subarray(12))).toBe(true);
    // The signature commits to the time and the body: any change breaks it.
    expect(nodeVerify(null, Buffer.from(`cosignature/v1\ntime ${time + 1n}\n${body}`), pub, raw.subarray(12))).toBe(false);
    expect(nodeVerify(null, Buffer.from(`cosignature/v1\ntime ${time}\n${exact.body(4)}`), pub, raw.subarray(12))).toBe(false);
    // And the project's verifier agrees: checkpoint note + response = a note cosigned by the witness.
    const v = await verifyNote(req.note + r.text, [vk]);
    expect(v.ok).toBe(true);
    expect(v.verified[0]!.timestamp).toBe(time);
  });

  it('200 for a consistent extension with a real proof, and again for the same size and root', async () => {
    const log = fresh('extend');
    log.append(3);
    expect((await submit(w.url, await log.request(0))).status).toBe(200);
    for (const n of [1, 4, 9, 30]) {
      const old = log.size;
      log.append(n);
      const req = await log.request(old);
      expect(req.proof.length).toBeGreaterThan(0);
      const r = await submit(w.url, req);
      expect(r.status, r.text).toBe(200);
    }
    const again = await submit(w.url, await log.request(log.size));
    expect(again.status, again.text).toBe(200);
    expect(parseCosignatureResponse(again.text)[0]!.name).toBe(w.name);
  });

  it('409 with the latest cosigned size as text/x.tlog.size when old does not match', async () => {
    const log = fresh('conflict');
    log.append(12);
    expect((await submit(w.url, await log.request(0))).status).toBe(200);
    log.append(3);
    for (const old of [0, 3, 13]) {
      const r = await submit(w.url, await log.request(old));
      expect(r.status).toBe(409);
      expect(r.type).toBe(TLOG_SIZE_CONTENT_TYPE);
      expect(r.text).toBe('12\n');
    }
    // A brand-new origin: the latest cosigned size is 0.
    const other = fresh('conflict-new');
    other.append(4);
    const r = await submit(w.url, await other.request(2));
    expect([r.status, r.type, r.text]).toEqual([409, TLOG_SIZE_CONTENT_TYPE, '0\n']);
  });

  it('422 for a bad consistency proof, without changing the state', async () => {
    const log = fresh('badproof');
    log.append(6);
    expect((await submit(w.url, await log.request(0))).status).toBe(200);
    log.append(5);
    const good = await log.request(6);
    const flipped = good.proof.map((p, i) => (i === 0 ? p.map((b, j) => (j === 0 ? b ^ 1 : b)) : p));
    expect((await submit(w.url, { ...good, proof: flipped })).status).toBe(422);
    expect((await submit(w.url, { ...good, proof: good.proof.slice(1) })).status).toBe(422);
    expect((await submit(w.url, { ...good, proof: [] })).status).toBe(422);
    // A proof to a fork: the witness's root for 6 is not the one this proof starts from.
    const fork = new TestLog(log.origin, shared, 'fork');
    fork.append(11);
    expect((await submit(w.url, await fork.request(6))).status).toBe(422);
    // Nothing was recorded: the genuine proof from 6 still works.
    expect((await submit(w.url, good)).status).toBe(200);
  });

  it('422 for the same size with a different root', async () => {
    const log = fresh('sameroot');
    log.append(7);
    expect((await submit(w.url, await log.request(0))).status).toBe(200);
    const forged = await log.note(7, { root: h(0xab) });
    const r = await submit(w.url, { old: 7, proof: [], note: forged });
    expect(r.status).toBe(422);
    expect((await submit(w.url, await log.request(7))).status).toBe(200);
  });

  it('422 for a non-empty proof with old 0, and for a size-0 checkpoint without the empty root', async () => {
    const log = fresh('old0');
    log.append(4);
    const r = await submit(w.url, { old: 0, proof: [h(1)], note: await log.note(4) });
    expect(r.status).toBe(422);
    // Still never cosigned: old 0 with an empty proof is accepted afterwards.
    expect((await submit(w.url, await log.request(0))).status).toBe(200);
    const empty = fresh('size0');
    expect((await submit(w.url, { old: 0, proof: [], note: await empty.note(0, { root: h(1) }) })).status).toBe(422);
    expect((await submit(w.url, await empty.request(0, 0))).status).toBe(200);
  });

  it('404 for an unknown origin', async () => {
    const log = new TestLog('unknown.example/log');
    log.append(2);
    const r = await submit(w.url, await log.request(0));
    expect(r.status).toBe(404);
  });

  it('403 when no trusted key signed, or a trusted key signature fails', async () => {
    const log = fresh('forbidden');
    log.append(3);
    // Signed by a key the witness does not know (same name, so only the key ID differs): ignored → none trusted.
    const stranger = await log.note(3, { key: new TestKey() });
    expect((await submit(w.url, { old: 0, proof: [], note: stranger })).status).toBe(403);
    // The trusted key, but the signature bytes are corrupted.
    const good = await log.note(3);
    const parsed = parseNote(good);
    const sig = parsed.signatures[0]!;
    const bad = formatNote(parsed.text, [{ ...sig, signature: sig.signature.map((b, i) => (i === 10 ? b ^ 0x80 : b)) }]);
    expect((await submit(w.url, { old: 0, proof: [], note: bad })).status).toBe(403);
    // A good signature plus a failing one from the same trusted key is still rejected.
    const both = formatNote(parsed.text, [sig, { ...sig, signature: sig.signature.map((b, i) => (i === 0 ? b ^ 1 : b)) }]);
    expect((await submit(w.url, { old: 0, proof: [], note: both })).status).toBe(403);
    // An exact-origin log signed by another key under its name.
    const exactStranger = await exact.note(exact.size, { key: new TestKey() });
    expect((await submit(w.url, { old: 0, proof: [], note: exactStranger })).status).toBe(403);
    // None of this was recorded.
    expect((await submit(w.url, { old: 0, proof: [], note: good })).status).toBe(200);
  });

  it('400 when old is larger than the checkpoint size, and for malformed bodies', async () => {
    const log = fresh('badreq');
    log.append(3);
    const note = await log.note(3);
    const r = await submit(w.url, { old: 4, proof: [h(1)], note });
    expect(r.status).toBe(400);
    const p = bytesToBase64(h(1));
    for (const body of [
      'garbage',
      `old 0\n${note}`, // no empty line: the checkpoint lines are not base64 hashes
      `old 01\n\n${note}`,
      `old 1\n${p.slice(1)}\n\n${note}`,
      `old 1\n${`${p}\n`.repeat(64)}\n${note}`,
      `old 0\n\n${log.body(3)}`, // a checkpoint without signatures is not a signed note
      `old 0\n\n${note.replace('\n3\n', '\n03\n')}`, // not a checkpoint body
    ]) {
      const res = await post(w.url, body);
      expect(res.status, body.slice(0, 40)).toBe(400);
    }
    expect((await post(w.url, new Uint8Array([0x6f, 0x6c, 0x64, 0x20, 0x30, 0x0a, 0x0a, 0xff, 0xfe]))).status).toBe(400); // bad UTF-8
    expect((await post(w.url, 'x'.repeat((1 << 20) + 1))).status).toBe(413);
    // Still nothing recorded for this origin.
    expect((await submit(w.url, await log.request(0))).status).toBe(200);
  });

  it('race: two concurrent submissions with the same old → exactly one 200 and one 409', async () => {
    for (let round = 0; round < 5; round++) {
      const log = fresh('race');
      log.append(5);
      expect((await submit(w.url, await log.request(0))).status).toBe(200);
      log.append(3 + round);
      const a = await log.request(5, 7);
      const b = await log.request(5, log.size);
      const [ra, rb] = await Promise.all([submit(w.url, a), submit(w.url, b)]);
      const statuses = [ra.status, rb.status].sort();
      expect(statuses).toEqual([200, 409]);
      const winnerSize = ra.status === 200 ? 7 : log.size;
      const loser = ra.status === 409 ? ra : rb;
      expect(loser.text).toBe(`${winnerSize}\n`);
      // The state is the winner's: old 0 → 409 with its size.
      expect((await submit(w.url, await log.request(0))).text).toBe(`${winnerSize}\n`);
    }
  });

  it('wildcard origins: each stream origin is its own log under the shared public key', async () => {
    const a = new TestLog('proofstream.localhost/str_a', streamKey);
    const b = new TestLog('proofstream.localhost/str_b', streamKey);
    a.append(4);
    b.append(9);
    expect((await submit(w.url, await a.request(0))).status).toBe(200);
    expect((await submit(w.url, await b.request(0))).status).toBe(200);
    a.append(2);
    expect((await submit(w.url, await a.request(4))).status).toBe(200);
    const conflict = await submit(w.url, await b.request(0));
    expect([conflict.status, conflict.text]).toEqual([409, '9\n']);
    // Outside the prefix: unknown origin.
    for (const origin of ['proofstream.localhostX/str_a', 'proofstream.localhost', 'proofstream.localhost/', 'evil.example/proofstream.localhost/x']) {
      const log = new TestLog(origin, streamKey);
      log.append(1);
      const r = await submit(w.url, await log.request(0));
      expect(r.status, origin).toBe(404);
    }
    // Inside the prefix but signed under the vkey's own name (key ID for another name): not trusted.
    const c = new TestLog('proofstream.localhost/str_c', streamKey);
    c.append(1);
    const wrongName = await c.note(1, { keyName: 'proofstream.localhost' });
    expect((await submit(w.url, { old: 0, proof: [], note: wrongName })).status).toBe(403);
    // Inside the prefix, right name, different key: not trusted.
    const d = new TestLog('proofstream.localhost/str_d');
    d.append(1);
    expect((await submit(w.url, await d.request(0))).status).toBe(403);
    // The derived key for a concrete origin is keyId(origin, 0x01, pub): a note signed that way verifies.
    const text = c.body(1);
    const sig = await signNoteEd25519(text, c.origin, streamKey.publicKey, streamKey.sign);
    expect(Buffer.from(sig.keyId)).toEqual(
      createHash('sha256').update(`${c.origin}\n`).update(Buffer.from([ED25519_TYPE])).update(streamKey.publicKey).digest().subarray(0, 4),
    );
    expect((await submit(w.url, { old: 0, proof: [], note: formatNote(text, [sig]) })).status).toBe(200);
  });

  it('client: cosigned, conflict, rejected and unreachable', async () => {
    const log = fresh('client');
    log.append(8);
    const first = await submitCheckpoint(w.url + '/', await log.request(0));
    expect(first.kind).toBe('cosigned');
    if (first.kind !== 'cosigned') return;
    expect(first.signatures).toHaveLength(1);
    expect((await verifyNote((await log.note(8)) + first.raw, [parseVerifierKey(w.vkey)])).ok).toBe(true);
    expect(await submitCheckpoint(w.url, await log.request(0))).toEqual({ kind: 'conflict', size: 8 });
    const unknown = new TestLog('nowhere.example/x');
    unknown.append(1);
    const rej = await submitCheckpoint(w.url, await unknown.request(0));
    expect(rej).toMatchObject({ kind: 'rejected', status: 404 });
    // A closed port.
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const down = await submitCheckpoint(`http://127.0.0.1:${port}`, await log.request(8));
    expect(down.kind).toBe('unreachable');
  });
});

describe('witness client against misbehaving servers', () => {
  const fakeFetch = (status: number, body: string, type?: string): typeof fetch =>
    (async () => new Response(body, { status, headers: type ? { 'content-type': type } : {} })) as typeof fetch;
  const req = { old: 0, proof: [], note: 'x\n\n\u2014 k AAAAAAA=\n' };

  it('classifies malformed 200/409 bodies as rejected and thrown fetch errors as unreachable', async () => {
    expect(await submitCheckpoint('http://w', req, { fetch: fakeFetch(409, '12\n', 'text/plain') })).toMatchObject({ kind: 'rejected', status: 409 });
    expect(await submitCheckpoint('http://w', req, { fetch: fakeFetch(409, 'twelve\n', TLOG_SIZE_CONTENT_TYPE) })).toMatchObject({ kind: 'rejected', status: 409 });
    expect(await submitCheckpoint('http://w', req, { fetch: fakeFetch(409, '12\n', `${TLOG_SIZE_CONTENT_TYPE}; charset=utf-8`) })).toEqual({ kind: 'conflict', size: 12 });
    expect(await submitCheckpoint('http://w', req, { fetch: fakeFetch(200, 'not a signature\n') })).toMatchObject({ kind: 'rejected', status: 200 });
    expect(await submitCheckpoint('http://w', req, { fetch: fakeFetch(500, 'boom') })).toEqual({ kind: 'rejected', status: 500, body: 'boom' });
    const throwing = (async () => {
      throw new TypeError('fetch failed');
    }) as typeof fetch;
    expect(await submitCheckpoint('http://w', req, { fetch: throwing })).toMatchObject({ kind: 'unreachable' });
  });

  it('posts the exact request body to <url>/add-checkpoint and gives up on a silent server', async () => {
    let seen: { url: string; body: string } | undefined;
    const capture = (async (url: string, init: RequestInit) => {
      seen = { url, body: String(init.body) };
      return new Response('0\n', { status: 409, headers: { 'content-type': TLOG_SIZE_CONTENT_TYPE } });
    }) as unknown as typeof fetch;
    await submitCheckpoint('http://w.example/prefix/', { old: 3, proof: [h(2)], note: req.note }, { fetch: capture });
    expect(seen).toEqual({ url: 'http://w.example/prefix/add-checkpoint', body: `old 3\n${bytesToBase64(h(2))}\n\n${req.note}` });
    // A server that accepts the request and never answers.
    const hang = http.createServer(() => {});
    await new Promise<void>((r) => hang.listen(0, '127.0.0.1', () => r()));
    try {
      const port = (hang.address() as net.AddressInfo).port;
      const r = await submitCheckpoint(`http://127.0.0.1:${port}`, req, { timeoutMs: 300 });
      expect(r.kind).toBe('unreachable');
    } finally {
      hang.closeAllConnections();
      hang.close();
    }
  });
});

describe('witness restart persistence', () => {
  it('the latest cosigned size survives a kill and restart on the same DB', async () => {
    const log = new TestLog('example.com/persist');
    const logs = [{ origin: log.origin, vkeys: [log.vkey] }];
    const first = await startWitness({ logs });
    let second: RunningWitnessProcess | undefined;
    try {
      log.append(7);
      expect((await submit(first.url, await log.request(0))).status).toBe(200);
      await first.kill(); // SIGKILL: only what was committed (synchronous=FULL) survives
      second = await startWitness({ logs, dir: first.dir });
      expect(second.vkey).toBe(first.vkey);
      const r = await submit(second.url, await log.request(0));
      expect([r.status, r.type, r.text]).toEqual([409, TLOG_SIZE_CONTENT_TYPE, '7\n']);
      // The stored root survived too: a proof from 7 verifies against it.
      log.append(6);
      expect((await submit(second.url, await log.request(7))).status).toBe(200);
      await second.stop(); // SIGTERM: clean shutdown
      expect(second.proc.exitCode).toBe(0);
      const third = await startWitness({ logs, dir: first.dir });
      try {
        expect((await submit(third.url, await log.request(0))).text).toBe('13\n');
      } finally {
        await third.stop();
      }
    } finally {
      await first.stop();
      await second?.stop();
    }
  });
});
