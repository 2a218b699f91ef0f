import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { decryptStream, encryptStream, parseIdentities } from '../src/backup/encryption';
import { exec } from '../src/index';
import { requireCommand } from '../../../test/services/process';
import { collect } from '../../../test/helpers/streams';

const dir = mkdtempSync(join(tmpdir(), 'slipway-age-'));
let publicKey: string;
let identity: string;

beforeAll(async () => {
  requireCommand('age', 'apt-get install age');
  await exec('age-keygen', ['-o', join(dir, 'key.txt')], { silent: true });
  publicKey = (await exec('age-keygen', ['-y', join(dir, 'key.txt')], { silent: true })).stdout.trim();
  identity = parseIdentities(readFileSync(join(dir, 'key.txt'), 'utf8'))[0]!;
});

/** 3 MiB in uneven chunks: more than one 64 KiB age chunk, with a partial last one. */
async function* data(): AsyncGenerator<Buffer> {
  for (let i = 0; i < 48; i++) yield Buffer.alloc(65_536 + (i % 3), i);
}


const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('age encryption', () => {
  it('encrypts to a recipient so that the age CLI decrypts it', async () => {
    const plain = await collect(data());
    const encrypted = await collect(await encryptStream(data(), { recipients: [publicKey] }));
    expect(encrypted.subarray(0, 21).toString()).toBe('age-encryption.org/v1');
    writeFileSync(join(dir, 'ours.age'), encrypted);
    await exec('age', ['-d', '-i', join(dir, 'key.txt'), '-o', join(dir, 'ours.out'), join(dir, 'ours.age')], { silent: true });
    expect(sha(readFileSync(join(dir, 'ours.out')))).toBe(sha(plain));
  });

  it('decrypts what the age CLI encrypted', async () => {
    const plain = await collect(data());
    writeFileSync(join(dir, 'plain.bin'), plain);
    await exec('age', ['-r', publicKey, '-o', join(dir, 'cli.age'), join(dir, 'plain.bin')], { silent: true });
    async function* file() {
      yield readFileSync(join(dir, 'cli.age'));
    }
    expect(sha(await collect(await decryptStream(file(), { identities: [identity] })))).toBe(sha(plain));
  });

  it('round-trips with a passphrase and refuses the wrong one', async () => {
    const encrypted = await collect(await encryptStream(data(), { passphrase: 'correct horse battery staple' }));
    async function* again() {
      yield encrypted;
    }
    expect(sha(await collect(await decryptStream(again(), { passphrase: 'correct horse battery staple' })))).toBe(sha(await collect(data())));
    await expect(decryptStream(again(), { passphrase: 'wrong' }).then(collect)).rejects.toThrow();
  });

  it('fails on a wrong key and on a flipped byte, never yielding garbage', async () => {
    const encrypted = await collect(await encryptStream(data(), { recipients: [publicKey] }));
    await exec('age-keygen', ['-o', join(dir, 'other.txt')], { silent: true });
    const other = parseIdentities(readFileSync(join(dir, 'other.txt'), 'utf8'));
    async function* of(b: Buffer) {
      yield b;
    }
    await expect(decryptStream(of(encrypted), { identities: other }).then(collect)).rejects.toThrow(/no identity matched/i);
    const flipped = Buffer.from(encrypted);
    flipped[flipped.length - 1000]! ^= 0x01;
    await expect(decryptStream(of(flipped), { identities: [identity] }).then(collect)).rejects.toThrow();
  });

  it('rejects malformed keys naming the input, and never echoes an identity', async () => {
    await expect(encryptStream(data(), { recipients: ['age1notakey'] })).rejects.toThrow(/Input 'encryption-recipients' is invalid: got "age1notakey"/);
    await expect(encryptStream(data(), { recipients: [publicKey], passphrase: 'x' })).rejects.toThrow(/either encryption-recipients or encryption-passphrase, not both/);
    const error = await decryptStream(data(), { identities: ['AGE-SECRET-KEY-1BROKEN'] }).catch((e: Error) => e);
    expect(String(error)).toMatch(/Input 'decryption-identity' is invalid: got "\*\*\*"/);
  });
});
