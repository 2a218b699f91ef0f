// Findings from reports written to Trivy's and Grype's documented JSON shapes, the ignore file, the gate and SARIF.
import { describe, expect, it } from 'vitest';
import { sarifValidator } from '../../../test/helpers/sarif-schema';
import { gate, parseIgnoreFile, parseReport, parseSeverities } from '../src/image/findings';
import { toSarif } from '../src/image/sarif';

const trivy = {
  SchemaVersion: 2,
  ArtifactName: 'ghcr.io/acme/shop:1.0.0',
  ArtifactType: 'container_image',
  Results: [
    {
      Target: 'ghcr.io/acme/shop:1.0.0 (debian 12.8)',
      Class: 'os-pkgs',
      Type: 'debian',
      Vulnerabilities: [
        { VulnerabilityID: 'CVE-2024-0001', PkgName: 'openssl', InstalledVersion: '3.0.15-1', FixedVersion: '3.0.15-2', Status: 'fixed', Severity: 'CRITICAL', Title: 'openssl: a flaw', PrimaryURL: 'https://avd.aquasec.com/nvd/cve-2024-0001' },
        { VulnerabilityID: 'CVE-2024-0002', PkgName: 'zlib', InstalledVersion: '1.2.13', Status: 'affected', Severity: 'HIGH', Title: 'zlib: unfixed' },
        { VulnerabilityID: 'CVE-2024-0003', PkgName: 'bash', InstalledVersion: '5.2', FixedVersion: '5.2.1', Status: 'fixed', Severity: 'LOW' },
      ],
    },
    { Target: '/app/.env', Class: 'secret', Secrets: [{ RuleID: 'aws-access-key-id', Category: 'AWS', Severity: 'CRITICAL', Title: 'AWS Access Key ID', StartLine: 3, EndLine: 3, Match: 'AWS_ACCESS_KEY_ID=****' }] },
  ],
};

const grype = {
  matches: [
    { vulnerability: { id: 'GHSA-aaaa-bbbb-cccc', dataSource: 'https://github.com/advisories/GHSA-aaaa-bbbb-cccc', severity: 'High', description: 'lodash prototype pollution', fix: { versions: ['4.17.21'], state: 'fixed' } }, artifact: { name: 'lodash', version: '4.17.20', type: 'npm', locations: [{ path: '/app/node_modules/lodash/package.json' }] } },
    { vulnerability: { id: 'CVE-2024-0009', severity: 'Negligible', fix: { versions: [], state: 'not-fixed' } }, artifact: { name: 'tar', version: '1.34', type: 'deb' } },
  ],
  source: { type: 'image' },
  descriptor: { name: 'grype', version: '0.86.1' },
};

describe('findings', () => {
  it('reads Trivy vulnerabilities and secrets, and Grype matches, into one model', () => {
    const t = parseReport(trivy);
    expect(t.scanner).toBe('trivy');
    expect(t.findings.map((f) => [f.kind, f.id, f.severity, f.package, f.fixed, f.target])).toEqual([
      ['vulnerability', 'CVE-2024-0001', 'CRITICAL', 'openssl', '3.0.15-2', 'ghcr.io/acme/shop:1.0.0 (debian 12.8)'],
      ['vulnerability', 'CVE-2024-0002', 'HIGH', 'zlib', '', 'ghcr.io/acme/shop:1.0.0 (debian 12.8)'],
      ['vulnerability', 'CVE-2024-0003', 'LOW', 'bash', '5.2.1', 'ghcr.io/acme/shop:1.0.0 (debian 12.8)'],
      ['secret', 'aws-access-key-id', 'CRITICAL', '', '', '/app/.env:3'],
    ]);
    const g = parseReport(grype);
    expect(g.scanner).toBe('grype');
    expect(g.findings).toEqual([
      { kind: 'vulnerability', id: 'GHSA-aaaa-bbbb-cccc', severity: 'HIGH', package: 'lodash', installed: '4.17.20', fixed: '4.17.21', title: 'lodash prototype pollution', url: 'https://github.com/advisories/GHSA-aaaa-bbbb-cccc', target: '/app/node_modules/lodash/package.json' },
      { kind: 'vulnerability', id: 'CVE-2024-0009', severity: 'LOW', package: 'tar', installed: '1.34', fixed: '', title: 'CVE-2024-0009', url: '', target: '' },
    ]);
    expect(() => parseReport({ runs: [] })).toThrow(/not a Trivy .* or Grype .* JSON report/);
  });

  it('gates on the chosen severities, after the ignore file, optionally only fixable ones', () => {
    const { findings } = parseReport(trivy);
    const now = new Date('2026-11-23T00:00:00Z');
    const ignore = parseIgnoreFile('ignore-file', '# accepted until the base image moves\nCVE-2024-0001 exp:2026-12-31\nCVE-2024-0003 exp:2025-01-01\n');
    const result = gate(findings, { failOn: ['CRITICAL', 'HIGH'], ignoreUnfixed: false, ignore, now });
    expect(result.passed).toBe(false);
    expect(result.blocking.map((f) => f.id)).toEqual(['CVE-2024-0002', 'aws-access-key-id']);
    expect(result.ignored.map((f) => f.id)).toEqual(['CVE-2024-0001']);
    expect(result.expired.map((r) => r.id)).toEqual(['CVE-2024-0003']);
    expect(result.counts).toEqual({ CRITICAL: 1, HIGH: 1, MEDIUM: 0, LOW: 1, UNKNOWN: 0 });
    // Only fixable vulnerabilities count with ignore-unfixed; a leaked secret always does.
    const fixable = gate(findings, { failOn: ['CRITICAL', 'HIGH'], ignoreUnfixed: true, ignore, now });
    expect(fixable.blocking.map((f) => f.id)).toEqual(['aws-access-key-id']);
    expect(gate(findings, { failOn: ['CRITICAL'], ignoreUnfixed: true, ignore: parseIgnoreFile('ignore-file', 'CVE-2024-0001\naws-access-key-id'), now }).passed).toBe(true);
  });

  it('refuses unknown severities and malformed ignore lines, naming the input', () => {
    expect(parseSeverities('fail-on', 'critical, High')).toEqual(['CRITICAL', 'HIGH']);
    expect(() => parseSeverities('fail-on', 'CRITICAL,SEVERE')).toThrow(/^Input 'fail-on' is invalid: got "CRITICAL,SEVERE"; expected severities from CRITICAL, HIGH, MEDIUM, LOW, UNKNOWN/);
    expect(() => parseIgnoreFile('ignore-file', 'CVE-2024-0001 until:2026-01-01')).toThrow(/Input 'ignore-file' is invalid: got "CVE-2024-0001 until:2026-01-01"; expected one finding id per line/);
  });
});

describe('SARIF', () => {
  it('is a valid SARIF 2.1.0 log (the OASIS schema, from @microsoft/sarif-multitool-linux), with GitHub severities', () => {
    const findings = [...parseReport(trivy).findings, ...parseReport(grype).findings];
    const log = toSarif(findings, { name: 'Trivy', version: '0.58.1', informationUri: 'https://github.com/aquasecurity/trivy' }, 'ghcr.io/acme/shop:1.0.0') as { runs: { tool: { driver: { rules: { id: string; properties: Record<string, unknown> }[] } }; results: { ruleId: string; level: string; locations: { physicalLocation: { artifactLocation: { uri: string }; region: { startLine: number } } }[] }[] }[] };
    const validate = sarifValidator();
    expect(validate(log), JSON.stringify(validate.errors)).toBe(true);
    const run = log.runs[0];
    expect(run?.tool.driver.rules.map((r) => [r.id, r.properties['security-severity']])).toEqual([
      ['CVE-2024-0001', '9.5'], ['CVE-2024-0002', '8.0'], ['CVE-2024-0003', '2.0'], ['aws-access-key-id', '9.5'], ['GHSA-aaaa-bbbb-cccc', '8.0'], ['CVE-2024-0009', '2.0'],
    ]);
    expect(run?.results[3]).toMatchObject({ ruleId: 'aws-access-key-id', level: 'error', locations: [{ physicalLocation: { artifactLocation: { uri: 'app/.env' }, region: { startLine: 3 } } }] });
    // An invalid log is refused by the same schema: the check can fail.
    expect(validate({ version: '2.0.0', runs: [] })).toBe(false);
  });

  it('has one run per platform scanned, each with its own category, platform and findings', () => {
    const [secret] = parseReport(trivy).findings.filter((f) => f.kind === 'secret');
    const image = `ghcr.io/acme/shop@sha256:${'a'.repeat(64)}`;
    const log = toSarif([{ ...secret!, platform: 'linux/arm64' }], { name: 'Trivy', version: '0.69.3', informationUri: 'https://trivy.dev' }, image, [{ platform: 'linux/amd64', digest: `sha256:${'b'.repeat(64)}` }, { platform: 'linux/arm64' }]) as { runs: { automationDetails: { id: string }; properties: Record<string, string>; results: { ruleId: string; message: { text: string } }[] }[] };
    const validate = sarifValidator();
    expect(validate(log), JSON.stringify(validate.errors)).toBe(true);
    expect(log.runs.map((r) => [r.automationDetails.id, r.properties, r.results.map((x) => x.ruleId)])).toEqual([
      ['build-scan/ghcr.io/acme/shop/linux/amd64/', { image, digest: `sha256:${'a'.repeat(64)}`, platform: 'linux/amd64', platformDigest: `sha256:${'b'.repeat(64)}` }, []],
      ['build-scan/ghcr.io/acme/shop/linux/arm64/', { image, digest: `sha256:${'a'.repeat(64)}`, platform: 'linux/arm64' }, ['aws-access-key-id']],
    ]);
    expect(log.runs[1]?.results[0]?.message.text).toMatch(/ \(linux\/arm64\)$/);
  });
});
