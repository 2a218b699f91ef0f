// The nginx router against a real nginx from Debian in front of two real HTTP backends.
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NginxRouter, RoutingMayDifferError, renderUpstream, splitCommandLine, type NginxRouterOptions, type SwitchRecord } from '../src/routing/index';
import { exec } from '../src/exec';
import { freePort, listen, type Listening } from '../../../test/helpers/net';
import { reloadWrapper, startNginx, type Nginx } from '../../../test/services/nginx';

const record = (reason: string): SwitchRecord => ({ by: 'octocat', at: '2026-11-23T08:00:00.000Z', runUrl: 'https://github.com/acme/shop/actions/runs/42', reason });

let blue: Listening;
let green: Listening;
let nginx: Nginx;
let options: NginxRouterOptions;
const address = (l: Listening) => new URL(l.url).host;

beforeAll(async () => {
  // /slow on blue answers after 2 s: a request an old worker is still serving when nginx reloads.
  [blue, green] = await Promise.all([listen((req, res) => void setTimeout(() => res.end('blue'), req.url === '/slow' ? 2000 : 0)), listen((_req, res) => res.end('green'))]);
  const servers = { blue: [address(blue)], green: [address(green)] };
  nginx = await startNginx({
    upstream: 'app',
    writeUpstream: (file) => writeFileSync(file, renderUpstream({ upstream: 'app', backends: ['blue', 'green'], servers }, { blue: 100, green: 0 }, record('first setup'))),
  });
  options = { configPath: nginx.upstreamFile, upstream: 'app', backends: ['blue', 'green'], servers, testCommand: nginx.testCommand, reloadCommand: nginx.reloadCommand };
}, 60_000);
afterAll(async () => {
  await Promise.all([nginx?.stop(), blue?.close(), green?.close()]);
});

async function responses(count: number): Promise<Record<string, number>> {
  const seen: Record<string, number> = {};
  for (let i = 0; i < count; i++) {
    const body = await (await fetch(nginx.url)).text();
    seen[body] = (seen[body] ?? 0) + 1;
  }
  return seen;
}

describe('nginx router', () => {
  it('switches all traffic to green with a checked, reloaded include file, and restores it exactly', async () => {
    const router = new NginxRouter(options);
    const before = await router.read();
    expect(before.weights).toEqual({ blue: 100, green: 0 });
    expect(await responses(10)).toEqual({ blue: 10 });
    const original = readFileSync(nginx.upstreamFile, 'utf8');

    const after = await router.apply({ blue: 0, green: 100 }, record('switch'));
    expect(after.weights).toEqual({ blue: 0, green: 100 });
    expect(after.record).toEqual(record('switch'));
    const file = readFileSync(nginx.upstreamFile, 'utf8');
    expect(file).toContain(`server ${address(blue)} down;  # blue`);
    expect(file).toContain(`server ${address(green)} weight=100;  # green`);
    expect(file).toContain('# switch by octocat at 2026-11-23T08:00:00.000Z in https://github.com/acme/shop/actions/runs/42');
    await expect.poll(() => responses(10), { timeout: 5000 }).toEqual({ green: 10 });

    await router.restore(before.snapshot, record('rollback'));
    expect(readFileSync(nginx.upstreamFile, 'utf8')).toBe(original);
    await expect.poll(() => responses(10), { timeout: 5000 }).toEqual({ blue: 10 });
  }, 30_000);

  it('splits traffic by weight (smooth weighted round robin)', async () => {
    const router = new NginxRouter(options);
    await router.apply({ blue: 80, green: 20 }, record('canary step 20 %'));
    await new Promise((r) => setTimeout(r, 300));
    const seen = await responses(100);
    expect(seen.green).toBeGreaterThanOrEqual(15);
    expect(seen.green).toBeLessThanOrEqual(25);
    await router.apply({ blue: 100, green: 0 }, record('reset'));
    // `nginx -s reload` returns before the new workers take over; let the reset settle.
    await expect.poll(() => responses(10), { timeout: 5000 }).toEqual({ blue: 10 });
  }, 30_000);

  it('keeps weights in proportion when backends have different numbers of servers', () => {
    const text = renderUpstream({ upstream: 'app', backends: ['stable', 'canary'], servers: { stable: ['a:1', 'b:1', 'c:1'], canary: ['d:1'] } }, { stable: 90, canary: 10 }, record('x'));
    // 3 × 90 × 1 : 1 × 10 × 3 = 270 : 30 = 90 % : 10 %.
    expect(text.match(/weight=\d+/g)).toEqual(['weight=90', 'weight=90', 'weight=90', 'weight=30']);
  });

  it('refuses a backend none of whose servers accepts connections, changing nothing', async () => {
    const dead = `127.0.0.1:${await freePort()}`;
    const router = new NginxRouter({ ...options, servers: { blue: options.servers.blue ?? [], green: [dead] } });
    const before = readFileSync(nginx.upstreamFile, 'utf8');
    await expect(router.apply({ blue: 0, green: 100 }, record('switch'))).rejects.toThrow(`no server of green accepts connections (${dead})`);
    expect(readFileSync(nginx.upstreamFile, 'utf8')).toBe(before);
  });

  it('puts the previous file back when nginx -t rejects the new one', async () => {
    const router = new NginxRouter({ ...options, upstream: 'app;' });
    const before = readFileSync(nginx.upstreamFile, 'utf8');
    await expect(router.apply({ blue: 0, green: 100 }, record('switch'))).rejects.toThrow(/the nginx configuration test failed .*was put back as it was/s);
    expect(readFileSync(nginx.upstreamFile, 'utf8')).toBe(before);
    expect(await responses(5)).toEqual({ blue: 5 });
  });
});

/**
 * Routing back as `snapshot` says, with the real reload, once nginx serves it: `nginx -s reload`
 * returns before nginx has read the file, so a test writing the next file at once could race it.
 */
async function reset(snapshot: string): Promise<void> {
  const router = new NginxRouter(options);
  await router.restore(snapshot, record('reset'));
  await router.confirmServing(10_000);
}

describe('nginx router: a reload that fails after nginx reloaded', () => {
  // Wrappers such as `systemctl reload` or `docker exec` can report failure although nginx reloaded.
  it('puts the previous file back and reloads nginx with it, so traffic stays where the file says', async () => {
    const wrapper = reloadWrapper(nginx, { failOnCalls: [1] });
    const router = new NginxRouter({ ...options, reloadCommand: [wrapper.command] });
    const before = readFileSync(nginx.upstreamFile, 'utf8');
    await expect(router.apply({ blue: 0, green: 100 }, record('switch'))).rejects.toThrow(/the nginx reload failed .*call 1 reports failure; .* was put back as it was and nginx reloaded with it$/s);
    expect(wrapper.calls()).toBe(2);
    expect(readFileSync(nginx.upstreamFile, 'utf8')).toBe(before);
    await router.confirmServing(10_000);
    expect(await responses(20)).toEqual({ blue: 20 });
  }, 30_000);

  it('says routing and the file may differ when reloading the file put back fails too', async () => {
    const wrapper = reloadWrapper(nginx, { failFromCall: 1 });
    const router = new NginxRouter({ ...options, reloadCommand: [wrapper.command] });
    const before = readFileSync(nginx.upstreamFile, 'utf8');
    const error = await router.apply({ blue: 0, green: 100 }, record('switch')).catch((e: unknown) => e as Error);
    expect(error).toBeInstanceOf(RoutingMayDifferError);
    expect((error as Error).message).toMatch(/was put back as it was, but reloading nginx with it failed too .*routing and .* may differ/s);
    expect(readFileSync(nginx.upstreamFile, 'utf8')).toBe(before);
    await router.confirmServing(10_000);
  }, 30_000);

  it('in a rollback, keeps the restored file and reloads again: the failing state is never put back', async () => {
    const wrapper = reloadWrapper(nginx, { failOnCalls: [2] });
    const router = new NginxRouter({ ...options, reloadCommand: [wrapper.command] });
    const before = await router.read();
    const original = readFileSync(nginx.upstreamFile, 'utf8');
    await router.apply({ blue: 20, green: 80 }, record('canary step 80 %'));
    await router.restore(before.snapshot, record('rollback'));
    expect(wrapper.calls()).toBe(3);
    expect(readFileSync(nginx.upstreamFile, 'utf8')).toBe(original);
    await router.confirmServing(10_000);
    expect(await responses(20)).toEqual({ blue: 20 });

    const failing = new NginxRouter({ ...options, reloadCommand: [reloadWrapper(nginx, { failFromCall: 2 }).command] });
    await failing.apply({ blue: 20, green: 80 }, record('canary step 80 %'));
    await expect(failing.restore(before.snapshot, record('rollback'))).rejects.toThrow(RoutingMayDifferError);
    expect(readFileSync(nginx.upstreamFile, 'utf8')).toBe(original);
    await reset(before.snapshot);
  }, 30_000);
});

describe('nginx router: confirming that the new file serves', () => {
  it('confirms only once nginx took the reload up and its old workers exited, however late that is', async () => {
    // Returns at once and reloads 1.5 s later, as `systemctl reload --no-block` or a signal to a container.
    const router = new NginxRouter({ ...options, reloadCommand: [reloadWrapper(nginx, { delayMs: 1500 }).command] });
    const before = await router.read();
    // A failure here must not leave the next test a routing it did not expect.
    try {
      const started = Date.now();
      await router.apply({ blue: 0, green: 100 }, record('switch'));
      // What a watch started now would measure: the old colour.
      expect(await responses(3)).toEqual({ blue: 3 });
      // Under load a worker of an earlier generation may still be shutting down when the snapshot is taken.
      expect(await router.confirmServing(10_000)).toMatch(/^nginx's old workers \(\d+(, \d+)*\) have exited [\d.]+s after the reload: only the new file serves$/);
      expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
      expect(await responses(20)).toEqual({ green: 20 });
    } finally {
      await reset(before.snapshot);
    }
  }, 30_000);

  it('waits for an old worker still serving a request begun before the reload', async () => {
    const router = new NginxRouter(options);
    const before = await router.read();
    const slow = fetch(`${nginx.url}/slow`).then((r) => r.text());
    await new Promise((r) => setTimeout(r, 200));
    const started = Date.now();
    await router.apply({ blue: 0, green: 100 }, record('switch'));
    await router.confirmServing(10_000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1500);
    expect(await slow).toBe('blue');
    await reset(before.snapshot);
  }, 30_000);

  it('fails clearly when nginx never takes the reload up', async () => {
    const router = new NginxRouter({ ...options, reloadCommand: ['true'] });
    const before = await router.read();
    await router.apply({ blue: 0, green: 100 }, record('switch'));
    await expect(router.confirmServing(1000)).rejects.toThrow(/^nginx \(master \d+\) started no new workers within 1(\.\d)?s of the reload: it did not take the new file up/);
    await reset(before.snapshot);
  }, 30_000);
});

describe('nginx router: which nginx it confirms', () => {
  it('watches only the master started with its commands\' config file, so another nginx reloading proves nothing', async () => {
    const other = await startNginx({ upstream: 'app', writeUpstream: (file) => writeFileSync(file, renderUpstream({ upstream: 'app', backends: ['blue', 'green'], servers: options.servers }, { blue: 100, green: 0 }, record('other'))) });
    try {
      const router = new NginxRouter({ ...options, reloadCommand: ['true'] });
      const before = await router.read();
      await router.apply({ blue: 0, green: 100 }, record('switch'));
      // The other nginx reloads; this one never does.
      await exec(other.reloadCommand[0] as string, other.reloadCommand.slice(1), { silent: true });
      await expect(router.confirmServing(1500)).rejects.toThrow(/started no new workers/);
      await reset(before.snapshot);
      // Without a config file in its commands, two masters are one too many.
      const unnamed = new NginxRouter({ ...options, reloadCommand: ['true'], testCommand: ['true'] });
      expect(await unnamed.cannotConfirm()).toMatch(/^\d+ nginx masters run on this runner \([\d, ]+\) and the reload command does not say which is this one/);
    } finally {
      await other.stop();
    }
  }, 30_000);
});

describe('command lines from inputs', () => {
  it('splits words and quotes like a shell, without one', () => {
    expect(splitCommandLine('nginx-reload-command', `sudo systemctl reload nginx`)).toEqual(['sudo', 'systemctl', 'reload', 'nginx']);
    expect(splitCommandLine('x', `docker exec "my proxy" nginx -s 'reload'`)).toEqual(['docker', 'exec', 'my proxy', 'nginx', '-s', 'reload']);
    expect(splitCommandLine('x', `a\\ b "c \\"d\\""`)).toEqual(['a b', 'c "d"']);
  });

  it('refuses what only a shell would do, naming the input', () => {
    expect(() => splitCommandLine('nginx-test-command', 'nginx -t && echo ok')).toThrow(/Input 'nginx-test-command' is invalid: got "nginx -t && echo ok"; expected a plain command .* without a shell, so '&'/);
    expect(() => splitCommandLine('nginx-test-command', `nginx "-t`)).toThrow(/balanced quotes/);
    expect(() => splitCommandLine('nginx-test-command', '  ')).toThrow(/expected a command/);
  });
});
