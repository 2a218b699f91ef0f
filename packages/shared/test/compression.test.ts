import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkLevel, compressStream, decompressStream, hasZstd, type Compression } from '../src/backup/compression';
import { exec } from '../src/index';
import { requireCommand } from '../../../test/services/process';
import { collect } from '../../../test/helpers/streams';

async function* text(): AsyncGenerator<Buffer> {
  for (let i = 0; i < 2000; i++) yield Buffer.from(`INSERT INTO orders VALUES (${i}, 'customer ${i % 97}', ${(i * 31) % 1000});\n`);
}


const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('compression', () => {
  it('runs on a Node with zstd, as node24 is', () => {
    expect(hasZstd()).toBe(true);
  });

  it.each<[Compression, number | undefined]>([
    ['gzip', 1],
    ['gzip', 9],
    ['zstd', 3],
    ['none', undefined],
  ])('%s level %s round-trips and shrinks text', async (kind, level) => {
    const plain = await collect(text());
    const packed = await collect(compressStream(text(), kind, level));
    if (kind !== 'none') expect(packed.length).toBeLessThan(plain.length / 3);
    async function* again() {
      yield packed;
    }
    expect(sha(await collect(decompressStream(again(), kind)))).toBe(sha(plain));
  });

  it.each([
    ['gzip', '.gz'],
    ['zstd', '.zst'],
  ] as const)('writes %s files the standard CLI reads', async (kind, ext) => {
    requireCommand(kind, `apt-get install ${kind}`);
    const dir = mkdtempSync(join(tmpdir(), `slipway-${kind}-`));
    writeFileSync(join(dir, `dump.sql${ext}`), await collect(compressStream(text(), kind, 1)));
    await exec(kind, ['-t', join(dir, `dump.sql${ext}`)], { silent: true });
    await exec(kind, ['-d', join(dir, `dump.sql${ext}`)], { silent: true });
    expect(sha(readFileSync(join(dir, 'dump.sql')))).toBe(sha(await collect(text())));
  });

  it('passes a source failure on to the consumer instead of hanging', async () => {
    async function* failing(): AsyncGenerator<Buffer> {
      yield* text();
      throw new Error('pg_dump exited with code 1');
    }
    await expect(collect(compressStream(failing(), 'gzip', 1))).rejects.toThrow('pg_dump exited with code 1');
    await expect(collect(compressStream(failing(), 'zstd', 1))).rejects.toThrow('pg_dump exited with code 1');
  });

  it('rejects a level outside the range, naming the input', () => {
    expect(() => checkLevel('gzip', 10)).toThrow(/Input 'compression-level' is invalid: got "10"; expected a level from 1 to 9 for gzip/);
    expect(() => checkLevel('zstd', 0)).toThrow(/from 1 to 19 for zstd/);
    expect(() => checkLevel('none', 99)).not.toThrow();
  });
});
