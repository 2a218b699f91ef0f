// The Helm library without a cluster: flags per Helm major version (asked of the real Helm 4 and
// Helm 3 binaries), values precedence and masking, and the manifest diff.
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Helm, testPods, type UpgradeOptions } from '../src/helm/helm';
import { HELM_RELEASES, helmArchive, installHelm } from '../src/helm/install';
import { manifestDiff, normalize, workloads } from '../src/helm/manifest';
import { isSecretKey, keyWords, releaseValues } from '../src/helm/values';
import { registeredSecrets } from '../src/secrets/index';
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

  it('passes image values with --set-literal after every --set, and refuses a Helm 3 without it', async () => {
    const helm4 = await Helm.open(join(binDir(), 'helm'), { namespace: 'shop' });
    const helm3 = await Helm.open(join(binDir(), 'helm3'), { namespace: 'shop' });
    const literal = { ...options, set: ['x=1', 'image.tag=from-set'], literal: ['image.tag=1.2.3'] };
    for (const h of [helm4, helm3]) expect(h.upgradeArgs(literal).slice(2, 12)).toEqual(['./chart', '--values', 'a.yaml', '--set', 'x=1', '--set', 'image.tag=from-set', '--set-literal', 'image.tag=1.2.3', '--install']);
    // Both real Helms know the flag.
    for (const h of [helm4, helm3]) expect(await h.run(['upgrade', '--help'])).toContain('--set-literal');
    // Helm 3.11 had no --set-literal: a fake `helm` that says it is v3.11.3.
    const dir = mkdtempSync(join(tmpdir(), 'slipway-old-helm-'));
    writeFileSync(join(dir, 'helm'), '#!/bin/sh\necho v3.11.3\n');
    chmodSync(join(dir, 'helm'), 0o755);
    const old = await Helm.open(join(dir, 'helm'), { namespace: 'shop' });
    expect(old.upgradeArgs(options)).toContain('--set');
    expect(() => old.upgradeArgs(literal)).toThrow(/helm v3\.11\.3 has no --set-literal \(Helm 3\.12 and later\)/);
  });

  it('finds the test pods in helm test output', () => {
    expect(testPods('NAME: shop\nTEST SUITE:     shop-test\nLast Started: x\nPhase: Failed\nTEST SUITE:     shop-db-test\n')).toEqual(['shop-test', 'shop-db-test']);
    expect(testPods('TEST SUITE: None\n')).toEqual([]);
  });
});

describe('release values', () => {
  it('keeps precedence (files, values, set, image) and masks values under secret-looking keys', async () => {
    const prod = join(mkdtempSync(join(tmpdir(), 'slipway-values-test-')), 'prod.yaml');
    writeFileSync(prod, 'replicas: 2\nsmtp: {password: file-s3cret}\n');
    const values = await releaseValues({ valuesFiles: [prod], values: 'replicas: 3\ndatabase:\n  password: hunter2-x\n  host: db\napi:\n  token: t0k3n\n', set: ['image.tag=ignored', 'smtp.password=s3cret'], imageRepository: 'ghcr.io/acme/shop', imageTag: '1.2.3' });
    try {
      expect(values.files[0]).toBe(prod);
      const file = values.files[1] as string;
      expect(readFileSync(file, 'utf8')).toContain('hunter2-x');
      expect(values.set).toEqual(['image.tag=ignored', 'smtp.password=s3cret']);
      expect(values.literal).toEqual(['image.repository=ghcr.io/acme/shop', 'image.tag=1.2.3']);
      expect(values.secrets.sort()).toEqual(['file-s3cret', 'hunter2-x', 's3cret', 't0k3n']);
      values.remove();
      expect(existsSync(file)).toBe(false);
    } finally {
      values.remove();
    }
  });

  it('refuses a set line without `=` by its number, never echoing the line', async () => {
    const error = await releaseValues({ valuesFiles: [], values: '', set: ['replicas=2', 'db.password: hunter2-in-set'] }).then(() => new Error('accepted'), (e: unknown) => e as Error);
    expect(error.message).toMatch(/^Input 'set' is invalid: got "line 2 \(not shown: it may hold a secret\)"; expected one `key=value` per line/);
    expect(error.message).not.toContain('hunter2');
    await expect(releaseValues({ valuesFiles: [], values: '', set: ['db.password'] })).rejects.toThrow(/got "line 1 \(not shown/);
    await expect(releaseValues({ valuesFiles: [], values: '- a list', set: [] })).rejects.toThrow(/Input 'values' is invalid: got "\(not shown\)"; expected a YAML mapping/);
  });

  it('splits keys into words', () => {
    expect(keyWords('automountServiceAccountToken')).toEqual(['automount', 'service', 'account', 'token']);
    expect(keyWords('AWS_SECRET_ACCESS_KEY')).toEqual(['aws', 'secret', 'access', 'key']);
    expect(keyWords('APIKey')).toEqual(['api', 'key']);
    expect(keyWords('smtp-password2')).toEqual(['smtp', 'password']);
  });

  it('knows secret-bearing keys by whole words, not by substrings', () => {
    const secret = ['password', 'dbPassword', 'DB_PASSWORD', 'adminpassword', 'passwd', 'smtp-pass', 'pwd', 'secret', 'clientSecret', 'secrets', 'token', 'authToken', 'sasToken', 'api_key', 'apiKey', 'API_KEY', 'apikey', 'secretKey', 'AWS_SECRET_ACCESS_KEY', 'privateKey', 'private-key', 'credentials', 'creds', 'sentryDsn', 'connectionString', 'basicAuth', 'passphrase', 'tlsKey'];
    const plain = ['key', 'topologyKey', 'keyFile', 'auth', 'authEnabled', 'author', 'certManager', 'passthrough', 'bypass', 'existingSecret', 'existingSecretPasswordKey', 'secretName', 'passwordSecretName', 'tokenExpiry', 'tokenTTL', 'monkey', 'hotkey', 'credentialsRef', 'pkg', 'tolerations'];
    expect(secret.filter((k) => !isSecretKey(k))).toEqual([]);
    expect(plain.filter((k) => isSecretKey(k))).toEqual([]);
    // A bare `key` is a TLS private key beside tls or a certificate, and nothing under tolerations.
    expect([isSecretKey('key', 'tls'), isSecretKey('key', 'certificate'), isSecretKey('key', 'tolerations'), isSecretKey('key', 'tolerations[0]')]).toEqual([true, true, false, false]);
  });

  it('never masks booleans, numbers, short values, descriptors, nor the words a toleration or an auth block holds', async () => {
    const values = await releaseValues({
      valuesFiles: [],
      values: [
        'tolerations: [{key: dedicated, operator: Equal, value: gpu-nodes, effect: NoSchedule}]',
        'automountServiceAccountToken: false',
        'auth: {enabled: true, username: admin-user, password: auth-pa55-91}',
        'tokenTTL: 3600',
        'apiKey: "1234"',
        'api: {token: "abc"}',
        'db: {password: "true", port: 5432}',
        'secrets: {name: shop-db, enabled: true, STRIPE_KEY: sk_live_4eC39Hq}',
        'existingSecret: shop-credentials',
        'extraEnv: [{name: DB_PASSWORD, value: env-pa55-33}, {name: LOG_LEVEL, value: debug-all}]',
        'affinity: {podAntiAffinity: {preferredDuringSchedulingIgnoredDuringExecution: [{podAffinityTerm: {topologyKey: kubernetes.io/hostname}}]}}',
        'databaseUrl: postgres://shop:Url-pa55-77@db.example.com/shop',
        'tls: {crt: "-----BEGIN CERTIFICATE-----", key: "-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBg\\n-----END PRIVATE KEY-----"}',
      ].join('\n'),
      set: ['tolerations[0].key=dedicated', 'auth.enabled=true', 'auth.password=set-pa55-12', 'secrets.name=shop-db', 'secrets.API=set-api-9981', 'ingress.hosts[0]=shop.example.com', 'db.password=12345678'],
    });
    try {
      expect(values.secrets.sort()).toEqual(['-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY-----', 'Url-pa55-77', 'auth-pa55-91', 'env-pa55-33', 'set-api-9981', 'set-pa55-12', 'sk_live_4eC39Hq']);
      const masked = registeredSecrets();
      for (const word of ['dedicated', 'false', 'true', 'admin-user', '3600', '1234', 'abc', 'shop-db', 'shop-credentials', 'kubernetes.io/hostname', 'gpu-nodes', 'DB_PASSWORD', 'debug-all', '12345678', 'shop', 'postgres://shop:Url-pa55-77@db.example.com/shop']) expect(masked).not.toContain(word);
      // Each line of a PEM key is masked on its own, as the runner matches a line at a time.
      expect(masked).toEqual(expect.arrayContaining(['auth-pa55-91', 'Url-pa55-77', 'MIIEvQIBADANBg']));
    } finally {
      values.remove();
    }
  });

  it('checks image-repository and image-tag against the image reference grammar', async () => {
    const spec = { valuesFiles: [], values: '', set: [] };
    for (const imageTag of ['1.2.3,securityContext.privileged=true', '1.2.3 --set x=y', '.hidden', '-rc', 'a'.repeat(129), 'v1{a}', 'sha256:abc']) {
      await expect(releaseValues({ ...spec, imageTag }), imageTag).rejects.toThrow(/^Input 'image-tag' is invalid: .*expected an image tag: up to 128 letters/);
    }
    for (const imageRepository of ['ghcr.io/acme/shop:1.0', 'ghcr.io/acme/shop@sha256:abc', 'ghcr.io/Acme/shop', 'shop,securityContext.privileged=true', 'shop/', '-shop', `r/${'a'.repeat(255)}`]) {
      await expect(releaseValues({ ...spec, imageRepository }), imageRepository).rejects.toThrow(/^Input 'image-repository' is invalid: .*expected an image repository without tag or digest/);
    }
    for (const imageRepository of ['shop', 'acme/shop', 'ghcr.io/acme/shop', 'localhost:5000/shop', 'Registry.Example.com:443/team/shop__v2', '[::1]:5000/shop', 'a.b-c/d-e.f_g']) {
      expect((await releaseValues({ ...spec, imageRepository, imageTag: 'v1.2.3-rc.1_x' })).literal).toEqual([`image.repository=${imageRepository}`, 'image.tag=v1.2.3-rc.1_x']);
    }
  });
});

describe('Helm install', () => {
  it('pins the SHA-256 of the supported Helm releases for this runner', () => {
    for (const version of ['v3.19.0', 'v4.1.4']) {
      const archive = helmArchive(version);
      expect(archive.name).toBe(`helm-${version}-${archive.folder}.tar.gz`);
      expect(archive.pinned).toMatch(/^[0-9a-f]{64}$/);
    }
    for (const sums of Object.values(HELM_RELEASES)) for (const sha of Object.values(sums)) expect(sha).toMatch(/^[0-9a-f]{64}$/);
    expect(HELM_RELEASES['v4.1.4']?.['linux-amd64']).toBe('70b2c30a19da4db264dfd68c8a3664e05093a361cefd89572ffb36f8abfa3d09');
    expect(helmArchive('v3.18.0').pinned).toBeUndefined();
  });

  it('refuses a version it does not pin when no checksum is given, before downloading anything', async () => {
    const { folder } = helmArchive('v3.18.0');
    await expect(installHelm('v3.18.0', 'https://get.helm.sh.invalid')).rejects.toThrow(`Helm v3.18.0 is not pinned by Slipway for ${folder} (pinned: v3.19.0, v4.1.4), and no checksum was given for helm-v3.18.0-${folder}.tar.gz`);
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
    expect(diff).toMatch(/-\s+password: \(hidden, digest [0-9a-f]{12}\)\n\+\s+password: \(hidden, digest [0-9a-f]{12}\)/);
    expect(diff).not.toMatch(/old-secret|new-secret/);
    expect(manifestDiff(before, before, 'a', 'b')).toBe('');
    // Sorted by kind and name: document order does not make a diff.
    expect(normalize(before.split('---').reverse().join('---'))).toBe(normalize(before));
  });

  it('lists the workloads to wait for', () => {
    expect(workloads(before, 'shop')).toEqual([{ kind: 'deployment', name: 'shop', namespace: 'shop' }]);
  });
});
