import { describe, expect, it } from 'vitest';
import { ExecError, exec, feedCommand, streamCommand } from '../src/index';

const node = process.execPath;

describe('exec', () => {
  it('runs argv without a shell, capturing and streaming redacted output', async () => {
    const echoed: string[] = [];
    const result = await exec(node, ['-e', 'console.log(process.argv[1]); console.error("token=s3cr3t")', '$(touch /tmp/x); s3cr3t'], {
      secrets: ['s3cr3t'],
      onStdout: (t) => echoed.push(t),
      onStderr: (t) => echoed.push(t),
    });
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe('$(touch /tmp/x); ***\n');
    expect(echoed.join('')).not.toContain('s3cr3t');
    expect(result.stderr).toBe('token=***\n');
  });

  it('fails with the tail of stderr and the exit code', async () => {
    const error = await exec(node, ['-e', 'console.error("x".repeat(10000) + "the real reason"); process.exit(3)'], { silent: true }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ExecError);
    expect((error as ExecError).message).toMatch(/exited with code 3:\n…x+the real reason$/);
    expect((error as ExecError).message.length).toBeLessThan(4300);
    expect((error as ExecError).result.exitCode).toBe(3);
  });

  it('kills a command that runs past its timeout', async () => {
    const error = await exec(node, ['-e', 'setTimeout(() => {}, 60000)'], { timeoutMs: 300, silent: true }).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/timed out after 300 ms/);
  });

  it('says when a command is not installed', async () => {
    await expect(exec('slipway-no-such-tool', [], { silent: true })).rejects.toThrow(/is 'slipway-no-such-tool' installed and on PATH\?/);
  });

  it('feeds stdin and can return non-zero codes instead of throwing', async () => {
    const result = await exec(node, ['-e', 'process.stdin.pipe(process.stdout); process.stdin.on("end", () => process.exit(2))'], {
      input: 'hello',
      silent: true,
      ignoreExitCode: true,
    });
    expect(result).toMatchObject({ exitCode: 2, stdout: 'hello' });
  });
});

describe('streamCommand', () => {
  it('yields stdout as it comes and ends cleanly on exit 0', async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of streamCommand(node, ['-e', 'for (let i = 0; i < 200; i++) process.stdout.write("x".repeat(10000))'], { onStderr: () => {} })) chunks.push(chunk);
    expect(Buffer.concat(chunks).length).toBe(2_000_000);
  });

  it('ends with an error carrying the stderr tail when the command fails after writing', async () => {
    let bytes = 0;
    const consume = async () => {
      for await (const chunk of streamCommand(node, ['-e', 'process.stdout.write("partial dump"); console.error("FATAL: permission denied for table s3cr3t"); process.exit(1)'], { secrets: ['s3cr3t'], onStderr: () => {} })) {
        bytes += chunk.length;
      }
    };
    await expect(consume()).rejects.toThrow(/exited with code 1:\nFATAL: permission denied for table \*\*\*/);
    expect(bytes).toBe('partial dump'.length);
  });

  it('kills the command when the consumer stops early', async () => {
    const marker = `slipway-stream-${process.pid}-${Date.now()}`;
    for await (const chunk of streamCommand(node, ['-e', `process.title = "${marker}"; setInterval(() => process.stdout.write("y"), 5)`], { onStderr: () => {} })) {
      expect(chunk.length).toBeGreaterThan(0);
      break;
    }
    await new Promise((r) => setTimeout(r, 300));
    const { stdout } = await exec('ps', ['-eo', 'args'], { silent: true });
    expect(stdout).not.toContain(marker);
  });
});

describe('feedCommand', () => {
  /** 20 KiB in 1 KiB chunks, 20 ms apart: the command has often exited with no write in flight. */
  async function* slow(fail?: Error): AsyncGenerator<Uint8Array> {
    for (let i = 0; i < 20; i++) {
      if (fail && i === 3) throw fail;
      yield Buffer.alloc(1024, 65);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  it('a command that reads what it needs and exits 0 succeeds, however the pipe reports its end (EPIPE or a premature close)', async () => {
    // Before, a close with no write in flight failed the feed with "Premature close" (pg_restore stops before the end of a dump).
    for (let i = 0; i < 5; i++) await expect(feedCommand('head', ['-c', '10'], slow(), { onStderr: () => {} })).resolves.toMatchObject({ exitCode: 0 });
  });

  it('the source\'s own error is the feed\'s error, and the command is stopped', async () => {
    await expect(feedCommand('cat', [], slow(new Error('the download broke')), { onStderr: () => {} })).rejects.toThrow('the download broke');
  });

  it('a command that stops reading and fails is reported by its exit status', async () => {
    await expect(feedCommand(node, ['-e', 'process.stdin.once("data", () => { console.error("bad input"); process.exit(3); })'], slow(), { onStderr: () => {} })).rejects.toThrow(/exit(ed)? .*3|code 3/);
  });
});
