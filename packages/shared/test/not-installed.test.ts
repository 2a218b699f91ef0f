// A tool that is not on the runner is named as not installed, with how to get it: spawn's errno
// (ENOENT) travels on the ExecError, which kubectl and Helm callers look at.
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { removeCanary } from '../src/canary/removal';
import { exec, ExecError } from '../src/exec';
import { Helm, HelmNotInstalled } from '../src/helm/helm';
import { Kubectl } from '../src/routing/kubectl';
import { runAction } from '../../../test/helpers/action';

const ROOT = join(import.meta.dirname, '..', '..', '..');
let path: string | undefined;
beforeEach(() => {
  path = process.env.PATH;
  // Nothing of the tools' on PATH: neither kubectl nor helm can be found.
  process.env.PATH = '/nonexistent';
});
afterEach(() => {
  process.env.PATH = path;
});

describe('a command that is not installed', () => {
  it('fails with an ExecError carrying ENOENT', async () => {
    const error = await exec('slipway-no-such-tool', ['--version'], { silent: true }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ExecError);
    expect((error as ExecError).code).toBe('ENOENT');
    expect((error as ExecError).message).toContain("(is 'slipway-no-such-tool' installed and on PATH?)");
  });

  it('is kubectl not installed, with how to install it, not a failed kubectl call', async () => {
    const kubectl = new Kubectl({ namespace: 'default' });
    await expect(kubectl.run(['version'])).rejects.toThrow('kubectl is not installed on this runner: install it (e.g. azure/setup-kubectl) before this step');
    kubectl.close();
  });

  it('is Helm not installed, naming no input, and the canary removal says what else it can do', async () => {
    await expect(Helm.open('helm', { namespace: 'default' })).rejects.toThrow(HelmNotInstalled);
    await expect(Helm.open('helm', { namespace: 'default' })).rejects.toThrow('helm is not installed on this runner (helm): install Helm 3 or 4 (e.g. azure/setup-helm) before this step');
    await expect(removeCanary('uninstall', { release: 'shop-canary', namespace: 'default', timeout: '60s' })).rejects.toThrow('cannot uninstall the canary: helm is not installed on this runner (helm): install Helm 3 or 4 (e.g. azure/setup-helm) before this step, or scale the canary to 0 instead');
  });

  it('is, through helm-deploy\'s bundle, an error naming helm-version, the input that installs one', async () => {
    const run = await runAction('helm-deploy', { release: 'shop', chart: join(ROOT, 'examples', 'demo-app', 'chart') }, { PATH: '/nonexistent' });
    expect(run.exitCode).toBe(1);
    expect(run.stdout).toContain("::error::Input 'helm-version' is invalid: got an empty value; expected a Helm release for this step to install (e.g. `v3.19.0`), since helm is not installed on this runner (helm): install Helm 3 or 4 (e.g. azure/setup-helm) before this step");
  });
});
