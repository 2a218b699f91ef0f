import { createHash } from 'node:crypto';
import { BlobServiceClient, type BlockBlobClient, type ContainerClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blockSizeFor, capacity, MAX_BLOCKS, uploadBlocks } from '../src/azure/block-upload';
import { startAzurite, type Azurite } from '../../../test/services/azurite';

let azurite: Azurite;
let container: ContainerClient;

beforeAll(async () => {
  azurite = await startAzurite();
  container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('backups');
  await container.createIfNotExists();
});
afterAll(() => azurite.stop());

/** A deterministic stream of `total` bytes in chunks of awkward sizes. */
async function* bytes(total: number, seed = 1): AsyncGenerator<Buffer> {
  let sent = 0;
  let n = seed;
  while (sent < total) {
    const size = Math.min(total - sent, 65_536 + ((n * 7919) % 100_000));
    const chunk = Buffer.alloc(size, n % 251);
    chunk.writeUInt32BE(n, 0);
    yield chunk;
    sent += size;
    n++;
  }
}

async function sha256Of(iterable: AsyncIterable<Buffer>): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of iterable) hash.update(chunk);
  return hash.digest('hex');
}

describe('uploadBlocks against Azurite', () => {
  it('streams in blocks, commits once, and the blob reads back byte for byte', async () => {
    const blob = container.getBlockBlobClient('round-trip.bin');
    const progress: number[] = [];
    const total = 5 * 1024 * 1024 + 12_345;
    const result = await uploadBlocks(blob, bytes(total), {
      blockSize: 1024 * 1024,
      concurrency: 3,
      metadata: { sha256: 'later', engine: 'postgres' },
      onProgress: (b) => progress.push(b),
    });
    expect(result).toEqual({ sizeBytes: total, sha256: await sha256Of(bytes(total)), blocks: 6 });
    expect(progress.at(-1)).toBe(total);
    const props = await blob.getProperties();
    expect(props.contentLength).toBe(total);
    expect(props.metadata).toEqual({ sha256: 'later', engine: 'postgres' });
    const download = await blob.download();
    expect(await sha256Of(download.readableStreamBody as AsyncIterable<Buffer>)).toBe(result.sha256);
    const list = await blob.getBlockList('committed');
    expect(list.committedBlocks?.map((b) => b.size)).toEqual([...Array(5).fill(1024 * 1024), 12_345]);
  });

  it('uploads an empty stream as an empty blob', async () => {
    const blob = container.getBlockBlobClient('empty.bin');
    const result = await uploadBlocks(blob, bytes(0));
    expect(result).toMatchObject({ sizeBytes: 0, blocks: 1, sha256: createHash('sha256').digest('hex') });
    expect((await blob.getProperties()).contentLength).toBe(0);
  });

  it('never replaces a blob of the same name: the commit fails and the blob stays as it was', async () => {
    const blob = container.getBlockBlobClient('taken.bin');
    const first = await uploadBlocks(blob, bytes(2 * 1024 * 1024, 1), { blockSize: 1024 * 1024, metadata: { sha256: 'first' } });
    await expect(uploadBlocks(blob, bytes(3 * 1024 * 1024, 2), { blockSize: 1024 * 1024, metadata: { sha256: 'second' } })).rejects.toMatchObject({ statusCode: 409 });
    expect((await blob.getProperties()).metadata).toEqual({ sha256: 'first' });
    expect(await sha256Of((await blob.download()).readableStreamBody as AsyncIterable<Buffer>)).toBe(first.sha256);
  });

  it('commits nothing when the source fails part-way', async () => {
    const blob = container.getBlockBlobClient('failed-source.bin');
    async function* failing(): AsyncGenerator<Buffer> {
      yield* bytes(3 * 1024 * 1024);
      throw new Error('dump tool exited with code 1');
    }
    await expect(uploadBlocks(blob, failing(), { blockSize: 1024 * 1024 })).rejects.toThrow('dump tool exited with code 1');
    expect(await blob.exists()).toBe(false);
  });

  it('commits nothing when the storage goes away mid-upload', async () => {
    const blob = container.getBlockBlobClient('storage-down.bin');
    let sent = 0;
    async function* slow(): AsyncGenerator<Buffer> {
      for await (const chunk of bytes(8 * 1024 * 1024)) {
        sent += chunk.length;
        if (sent > 2 * 1024 * 1024 && sent - chunk.length <= 2 * 1024 * 1024) await azurite.pause();
        yield chunk;
      }
    }
    const noRetry = BlobServiceClient.fromConnectionString(azurite.connectionString, { retryOptions: { maxTries: 1 } })
      .getContainerClient('backups')
      .getBlockBlobClient('storage-down.bin');
    await expect(uploadBlocks(noRetry, slow(), { blockSize: 1024 * 1024 })).rejects.toThrow();
    await azurite.resume();
    expect(await blob.exists()).toBe(false);
  });
});

describe('block sizes', () => {
  it('double every 10,000 blocks, bounding memory while reaching terabytes', () => {
    expect(blockSizeFor(0, 4 * 1024 * 1024)).toBe(4 * 1024 * 1024);
    expect(blockSizeFor(9_999, 4 * 1024 * 1024)).toBe(4 * 1024 * 1024);
    expect(blockSizeFor(10_000, 4 * 1024 * 1024)).toBe(8 * 1024 * 1024);
    expect(blockSizeFor(MAX_BLOCKS - 1, 4 * 1024 * 1024)).toBe(64 * 1024 * 1024);
    expect(capacity(4 * 1024 * 1024) / 1024 ** 4).toBeCloseTo(1.18, 2);
    expect(capacity(64 * 1024 * 1024) / 1024 ** 4).toBeCloseTo(18.92, 2);
  });
});

describe('block limit', () => {
  it('stops as soon as the data outgrows 50,000 blocks, committing nothing, and says what to change', async () => {
    // The limit is arithmetic on block counts; a counting stub checks it without 50,000 requests.
    let staged = 0;
    let committed = false;
    const stub = {
      stageBlock: async () => {
        staged++;
      },
      commitBlockList: async () => {
        committed = true;
      },
    } as unknown as BlockBlobClient;
    await expect(uploadBlocks(stub, bytes(capacity(1) + 10), { blockSize: 1, concurrency: 64 })).rejects.toThrow(
      /larger than 50000 blocks starting at .* MiB can hold .*; use a larger block size/,
    );
    expect(staged).toBe(MAX_BLOCKS);
    expect(committed).toBe(false);
  });
});
