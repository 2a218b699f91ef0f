// The third way into Azure: the workflow's GitHub OIDC token exchanged at Microsoft Entra ID for a
// storage token, with no stored secret. Azurite over HTTPS with OAuth checks the bearer token's
// audience, issuer and lifetime; the identity services are strict stand-ins (test/fakes/identity.ts).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAction, visible } from '../../../test/helpers/action';
import { runEnv } from '../../../test/helpers/run-env';
import { selfSignedCert } from '../../../test/fakes/smtp';
import { startIdentityFake, type IdentityFake } from '../../../test/fakes/identity';
import { startAzurite, type Azurite } from '../../../test/services/azurite';
import { startPostgres, type Postgres } from '../../../test/services/postgres';

const SUBJECT = 'repo:acme/shop:ref:refs/heads/main';
let azurite: Azurite;
let pg: Postgres;
let identity: IdentityFake;
let caFile: string;

beforeAll(async () => {
  const tls = selfSignedCert();
  caFile = join(mkdtempSync(join(tmpdir(), 'slipway-oidc-')), 'ca.pem');
  writeFileSync(caFile, tls.cert);
  [azurite, pg, identity] = await Promise.all([startAzurite({ tls, oauth: true }), startPostgres(), startIdentityFake({ federatedSubject: SUBJECT })]);
  pg.sql('create database shop');
  pg.sql('create table orders (id int primary key, total numeric); insert into orders select g, g * 1.5 from generate_series(1, 100) g;', 'shop');
}, 120_000);
afterAll(async () => {
  await Promise.all([azurite?.stop(), pg?.stop(), identity?.close()]);
});

const inputs = () => ({
  uri: pg.uri('shop'),
  'azure-account-url': azurite.url,
  'azure-client-id': identity.clientId,
  'azure-tenant-id': identity.tenantId,
  'azure-authority-host': identity.authorityHost,
  container: 'oidc-backups',
});
// The runner's OIDC variables, and trust in Azurite's certificate as a runner trusts Azure's.
const env = () => ({ ...runEnv('5150'), ...identity.runnerEnv, NODE_EXTRA_CA_CERTS: caFile });

describe('backup-db with GitHub OIDC → Entra ID (no stored secret)', () => {
  it('backs up, verifies and restores with a federated token', async () => {
    const made = await runAction('backup-db', inputs(), env());
    expect(made.exitCode, made.stdout + made.stderr).toBe(0);
    expect(made.outputs.verified).toBe('true');
    expect(made.outputs['backup-url']).toBe(`${azurite.url}/oidc-backups/${made.outputs['backup-name']}`);
    expect(identity.issued.length).toBeGreaterThan(0);
    for (const token of identity.issued) {
      expect(made.stdout).toContain(`::add-mask::${token}`);
      expect(visible(made.stdout) + made.stderr).not.toContain(token);
    }

    pg.sql('create database copy');
    const restored = await runAction('backup-db', { ...inputs(), mode: 'restore', 'target-uri': pg.uri('copy') }, env());
    expect(restored.exitCode, restored.stdout + restored.stderr).toBe(0);
    expect(pg.sql('select count(*), sum(total) from orders', 'copy')).toBe(pg.sql('select count(*), sum(total) from orders', 'shop'));
  }, 120_000);

  it('fails naming Entra ID and its reason when the federated credential does not match the run', async () => {
    identity.githubSubject = 'repo:acme/shop:ref:refs/heads/feature';
    try {
      const refused = await runAction('backup-db', inputs(), env());
      expect(refused.exitCode).toBe(1);
      expect(refused.stdout).toMatch(/::error::.*Microsoft Entra ID token exchange.*AADSTS700213.*refs\/heads\/feature/);
    } finally {
      identity.githubSubject = SUBJECT;
    }
  }, 60_000);
});
