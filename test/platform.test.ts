// Every bundle refuses a runner it does not support before doing anything. The runner is simulated by
// Node itself: a module preloaded through NODE_OPTIONS (as a runner's environment may carry it) gives
// process.platform and process.arch another runner's values before the bundle starts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAction, visible } from './helpers/action';
import { listen, type Listening } from './helpers/net';

/** NODE_OPTIONS that make the bundle see this runner. */
const simulate = (platform: NodeJS.Platform, arch: NodeJS.Architecture) => ({
  NODE_OPTIONS: `--import=data:text/javascript,${encodeURIComponent(`Object.defineProperty(process,'platform',{value:'${platform}'});Object.defineProperty(process,'arch',{value:'${arch}'});`)}`,
});

let webhook: Listening;
const received: string[] = [];
beforeAll(async () => {
  webhook = await listen((req, res) => {
    received.push(`${req.method} ${req.url}`);
    req.resume().on('end', () => res.writeHead(200).end('ok'));
  });
});
afterAll(async () => webhook?.close());

describe('runner support, as the runner runs each bundle', () => {
  const refused: [string, NodeJS.Platform, NodeJS.Architecture, string][] = [
    ['build-scan', 'win32', 'x64', 'Windows x64 runners (win32/x64), only on Linux x64 and arm64'],
    ['build-scan', 'darwin', 'arm64', 'macOS arm64 runners (darwin/arm64), only on Linux x64 and arm64'],
    ['build-scan', 'linux', 's390x', 'Linux s390x runners (linux/s390x), only on Linux x64 and arm64'],
    ['backup-db', 'win32', 'x64', 'Windows x64 runners (win32/x64), only on Linux and macOS'],
    ['blue-green-switch', 'win32', 'x64', 'Windows x64 runners (win32/x64), only on Linux and macOS'],
    ['canary-analyze', 'win32', 'arm64', 'Windows arm64 runners (win32/arm64), only on Linux and macOS'],
    ['helm-deploy', 'freebsd', 'x64', 'freebsd x64 runners (freebsd/x64), only on Linux, macOS and Windows'],
    ['notify', 'freebsd', 'x64', 'freebsd x64 runners (freebsd/x64), only on Linux, macOS and Windows'],
  ];
  it.each(refused)('%s fails at once on %s/%s, saying where it runs, and does nothing', async (action, platform, arch, says) => {
    // Inputs that would do work (notify would post to the webhook) if the check did not come first.
    const run = await runAction(action, action === 'notify' ? { status: 'success', 'webhook-url': `${webhook.url}/hook` } : {}, simulate(platform, arch));
    expect(run.exitCode).toBe(1);
    expect(visible(run.stdout)).toContain(`::error::${action} does not run on ${says}; nothing was done. See the support matrix in Slipway's README.`);
    expect(run.outputs).toEqual({});
    expect(run.summary).toBe('');
    expect(received).toEqual([]);
  }, 30_000);

  it('notify runs on a Windows runner: the check lets it through and it delivers', async () => {
    const run = await runAction('notify', { status: 'success', 'webhook-url': `${webhook.url}/hook` }, simulate('win32', 'x64'));
    expect(run.stdout).not.toContain('does not run on');
    expect(run.exitCode, run.stdout).toBe(0);
    expect(received).toEqual(['POST /hook']);
  }, 30_000);
});
