// The Helm library without a cluster: flags per Helm major version (asked of the real Helm 4 and
// Helm 3 binaries), values precedence and masking, and the manifest diff.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Helm, testPods, type UpgradeOptions } from '../src/helm/helm';
import { manifestDiff, normalize, workloads } from '../src/helm/manifest';
import { releaseValues } from '../src/helm/values';
import { binDir } from '../../../test/cluster/tools.mjs';

const options: UpgradeOptions = { release: 'shop', chart: './chart', createNamespace: true, valuesFiles: ['a.yaml'], set: ['x=1'], wait: true, timeout: '600s', rollbackOnFailure: true, historyMax: 10 };

describe('Helm flags', () => {
  it('Helm 4: --rollback-on-failure and --wait=watcher; Helm 3: --atomic and --wait', async () => {
    const helm4 = await Helm.open(join(binDir(), 'helm'), { namespace: 'shop' });
    const helm3 = await Helm.open(join(binDir(), 'helm3'), { namespace: 'shop' });
    expect([helm4.major, helm3.major]).toEqual([4, 3]);
    expect(helm4.upgradeArgs(options)).toEqual(['upgrade', 'shop', './chart', '--values', 'a.yaml', '--set', 'x=1', '--install', '--history-max', '10', '--timeout', '600s', '--create-namespace', '--rollback-on-failure', '--wait=watcher', '--cleanup-on-fail']);
    expect(helm3.upgradeArgs(options).slice(-3)).toEqual(['--atomic', '--wait', '--cleanup-on-fail']);
    expect(helm3.upgradeArgs({ ...options, rollbackOnFailure: false, wait: false }).slice(-1)).toEqual(['--create-namespace']);
    expect(helm4.upgradeArgs({ ...options, dryRun: 'server' }).slice(-3)).toEqual(['--dry-run=server', '--output', 'json']);
  });

  it('finds the test pods in helm test output', () => {
    expect(testPods('NAME: shop\nTEST SUITE:     shop-test\nLast Started: x\nPhase: Failed\nTEST SUITE:     shop-db-test\n')).toEqual(['shop-test', 'shop-db-test']);
    expect(testPods('TEST SUITE: None\n')).toEqual([]);
  });
});

describe('release values', () => {
  it('keeps precedence (files, values, set, image) and masks values under secret-looking keys', async () => {
    const values = await releaseValues({ valuesFiles: ['prod.yaml'], values: 'replicas: 3\ndatabase:\n  password: hunter2-x\n  host: db\napi:\n  token: t0k3n\n', set: ['image.tag=ignored', 'smtp.password=s3cret'], imageRepository: 'ghcr.io/acme/shop', imageTag: '1.2.3' });
    try {
      expect(values.files[0]).toBe('prod.yaml');
      const file = values.files[1] as string;
      expect(readFileSync(file, 'utf8')).toContain('hunter2-x');
      expect(values.set).toEqual(['image.tag=ignored', 'smtp.password=s3cret', 'image.repository=ghcr.io/acme/shop', 'image.tag=1.2.3']);
      expect(values.secrets.sort()).toEqual(['hunter2-x', 's3cret', 't0k3n']);
      values.remove();
      expect(existsSync(file)).toBe(false);
    } finally {
      values.remove();
    }
  });

  it('refuses a set line without `=`, without echoing what may be a secret', async () => {
    await expect(releaseValues({ valuesFiles: [], values: '', set: ['db.password'] })).rejects.toThrow(/Input 'set' is invalid: got "db.password"; expected one `key=value` per line/);
    await expect(releaseValues({ valuesFiles: [], values: '- a list', set: [] })).rejects.toThrow(/Input 'values' is invalid: got "\(not shown\)"; expected a YAML mapping/);
  });
});

const before = `---
# Source: shop/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata: { name: shop }
spec: { template: { spec: { containers: [{ name: app, image: "shop:1.0" }] } } }
---
apiVersion: v1
kind: Secret
metadata: { name: shop-db }
stringData: { password: old-secret }
`;

describe('release manifest', () => {
  it('diffs two revisions with Secrets hashed, so a change shows but not the value', () => {
    const after = before.replace('shop:1.0', 'shop:1.1').replace('old-secret', 'new-secret');
    const diff = manifestDiff(before, after, 'revision 1', 'revision 2');
    expect(diff).toContain('--- revision 1\n+++ revision 2');
    expect(diff).toMatch(/-\s+image: shop:1\.0\n\+\s+image: shop:1\.1/);
    expect(diff).toMatch(/-\s+password: \(hidden, sha256:[0-9a-f]{12}\)\n\+\s+password: \(hidden, sha256:[0-9a-f]{12}\)/);
    expect(diff).not.toMatch(/old-secret|new-secret/);
    expect(manifestDiff(before, before, 'a', 'b')).toBe('');
    // Sorted by kind and name: document order does not make a diff.
    expect(normalize(before.split('---').reverse().join('---'))).toBe(normalize(before));
  });

  it('lists the workloads to wait for', () => {
    expect(workloads(before, 'shop')).toEqual([{ kind: 'deployment', name: 'shop', namespace: 'shop' }]);
  });
});
