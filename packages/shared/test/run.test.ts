import { afterEach, describe, expect, it, vi } from 'vitest';
import { run } from '../src/run';

afterEach(() => {
  vi.restoreAllMocks();
  process.exitCode = undefined;
});

describe('run', () => {
  it('fails the step with exit code 1 and a message cut to 4,000 characters, however long the error', async () => {
    const written: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    await run(async () => {
      throw new Error(`ENAMETOOLONG: name too long, mkdir '/${'x'.repeat(100_000)}'`);
    });
    const error = written.join('').split('\n').find((l) => l.startsWith('::error::')) ?? '';
    expect(process.exitCode).toBe(1);
    expect(error.length).toBeLessThan(4100);
    expect(error).toMatch(/… \(\d+ more characters\)$/);
  });
});
