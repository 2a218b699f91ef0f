// build-scan under hostile input, through the bundle: a real buildah and a real registry behind basic
// auth. Registry passwords and build secrets never reach the log, outputs or summary in any form,
// and every refused input fails before anything is built or pushed.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAction, type ActionRun } from '../helpers/action';
import { runEnv } from '../helpers/run-env';
import { buildahEnv, startRegistry, type Registry } from '../services/registry';
import { expectInputError, expectNoLeaks } from './harness';

const WRONG_PASSWORD = 'Wr0ng/Pa55#w0rd?x@y';
// Every piece of 4+ characters is distinctive: the scanner looks for each one.
const BUILD_SECRET = 'npm_T0k3nX/w1thQ"u0te\'and$d0llar';
let registry: Registry;
let buildah: ReturnType<typeof buildahEnv>;
let work: string;

beforeAll(async () => {
  registry = await startRegistry();
  buildah = buildahEnv();
  work = mkdtempSync(join(tmpdir(), 'slipway-adversarial-build-'));
  mkdirSync(join(work, 'context'));
  writeFileSync(join(work, 'context', 'Containerfile'), 'FROM scratch\nARG NOTE=none\nLABEL note=$NOTE\nCOPY app.txt /app.txt\n');
  writeFileSync(join(work, 'context', 'app.txt'), 'hello\n');
}, 120_000);

afterAll(async () => {
  await registry?.stop();
  buildah?.remove();
  if (work) rmSync(work, { recursive: true, force: true });
});

function buildScan(inputs: Record<string, string>): Promise<ActionRun> {
  return runAction('build-scan', {
    context: join(work, 'context'),
    builder: 'buildah',
    push: 'true',
    scan: 'false',
    'upload-sarif': 'false',
    username: registry.username,
    password: registry.password,
    tags: 'type=raw,value=v1',
    ...inputs,
  }, { ...runEnv('9100'), ...buildah.env });
}

describe('build-scan, hostile', () => {
  it('a wrong registry password fails the login without showing it anywhere, and nothing is pushed', async () => {
    const run = await buildScan({ image: `${registry.host}/acme/wrongpass`, password: WRONG_PASSWORD, secrets: `npm=${BUILD_SECRET}` });
    expect(run.exitCode, run.stdout + run.stderr).toBe(1);
    expectNoLeaks(run, [WRONG_PASSWORD, BUILD_SECRET, registry.password]);
    expect((await registry.get('/v2/acme/wrongpass/tags/list')).status).toBe(404);
  });

  it('build secrets and arguments with quotes, dollars and newlines reach the builder as given and are never printed', async () => {
    const run = await buildScan({ image: `${registry.host}/acme/quoted`, secrets: `npm=${BUILD_SECRET}`, 'build-args': 'NOTE=it\'s "quoted" $HOME `x`' });
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    expectNoLeaks(run, [BUILD_SECRET, registry.password]);
    expect(await registry.labels('acme/quoted', 'v1')).toMatchObject({ note: 'it\'s "quoted" $HOME `x`' });
  });

  it.each([
    ['image', { image: `${'127.0.0.1'}:1/acme/shop;rm -rf /` }],
    ['image', { image: '../../etc/passwd' }],
    ['image', { image: `127.0.0.1:1/${'a'.repeat(100_000)}` }],
    ['tags', { tags: 'type=raw,value=v1\ntype=semver,pattern={{env.HOME}}' }],
    ['platforms', { platforms: 'linux/amd64\nlinux/../../x' }],
    ['secrets', { secrets: `${BUILD_SECRET}` }],
    ['build-args', { 'build-args': '1BAD=x' }],
  ])('refuses a hostile %s before building, naming it', async (input, inputs) => {
    const image = `${registry.host}/acme/refused-${input}`;
    const run = await buildScan({ image, ...inputs });
    expectInputError(run, input);
    expectNoLeaks(run, [BUILD_SECRET, registry.password]);
    expect((await registry.get(`/v2/acme/refused-${input}/tags/list`)).status).toBe(404);
  });
});
