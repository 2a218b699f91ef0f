// Image tag rules with docker/metadata-action's meanings, for build-scan.
import { describe, expect, it } from 'vitest';
import { computeTags, DEFAULT_TAG_RULES, imageVersion, ociLabels, parseTagRule, sanitizeTag } from '../src/image/tags';

const SHA = 'c0ffee0123456789abcdef0123456789abcdef01';
const rules = (lines: string[]) => lines.map((l) => parseTagRule('tags', l));
const tags = (lines: string[], ref: string) => computeTags(rules(lines), { ref, sha: SHA, defaultBranch: 'main' });

describe('tag rules', () => {
  it('defaults: branch, pull request, version and sha-<7>, plus latest on the default branch', () => {
    expect(tags(DEFAULT_TAG_RULES, 'refs/heads/main')).toEqual(['main', 'sha-c0ffee0', 'latest']);
    expect(tags(DEFAULT_TAG_RULES, 'refs/heads/feature/login')).toEqual(['feature-login', 'sha-c0ffee0']);
    expect(tags(DEFAULT_TAG_RULES, 'refs/pull/42/merge')).toEqual(['pr-42', 'sha-c0ffee0']);
    expect(tags(DEFAULT_TAG_RULES, 'refs/tags/v1.2.3')).toEqual(['1.2.3', 'sha-c0ffee0']);
  });

  it('semver patterns; a pre-release gets only its full version; a non-semver tag none', () => {
    const semver = ['type=semver,pattern={{version}}', 'type=semver,pattern={{major}}.{{minor}}', 'type=semver,pattern={{major}}', 'type=semver,pattern=v{{major}},suffix=-slim'];
    expect(tags(semver, 'refs/tags/v2.4.1')).toEqual(['2.4.1', '2.4', '2', 'v2-slim']);
    expect(tags(semver, 'refs/tags/v3.0.0-rc.1')).toEqual(['3.0.0-rc.1']);
    expect(tags(semver, 'refs/tags/nightly')).toEqual([]);
  });

  it('sha, raw, tag refs, prefixes and enable', () => {
    expect(tags(['type=sha,format=long,prefix=', 'type=raw,value=edge', 'type=raw,value=off,enable=false', 'type=ref,event=tag,prefix=release-'], 'refs/tags/2026.11'))
      .toEqual([SHA, 'edge', 'release-2026.11']);
  });

  it('refuses malformed rules, naming the input and the rule', () => {
    expect(() => parseTagRule('tags', 'type=semver,pattern=latest')).toThrow(/^Input 'tags' is invalid: got "type=semver,pattern=latest"; expected a `pattern` with \{\{version\}\}/);
    expect(() => parseTagRule('tags', 'type=ref,event=push')).toThrow(/expected `event=branch`, `event=tag` or `event=pr` with type=ref/);
    expect(() => parseTagRule('tags', 'type=branch')).toThrow(/expected a rule starting with `type=semver`/);
    expect(() => parseTagRule('tags', 'type=sha,length=7')).toThrow(/expected only prefix, suffix, enable, format with type=sha \(unknown: length\)/);
    expect(() => parseTagRule('tags', 'type=raw')).toThrow(/expected a `value` with type=raw/);
    expect(() => parseTagRule('tags', 'latest')).toThrow(/expected comma-separated `key=value` attributes/);
  });

  it('makes ref names valid tags', () => {
    expect(sanitizeTag('feature/ä-x')).toBe('feature---x');
    expect(sanitizeTag('.hidden')).toBe('hidden');
    expect(sanitizeTag('x'.repeat(200))).toHaveLength(128);
  });
});

describe('OCI labels', () => {
  it('source, revision, created, version and title, with the user\'s labels winning', () => {
    const ctx = { ref: 'refs/tags/v1.4.0', sha: SHA, serverUrl: 'https://github.com', repo: 'acme/shop', created: new Date('2026-11-23T10:00:00Z') };
    expect(ociLabels(ctx, { 'org.opencontainers.image.title': 'Shop API', team: 'payments' })).toEqual({
      'org.opencontainers.image.title': 'Shop API',
      'org.opencontainers.image.source': 'https://github.com/acme/shop',
      'org.opencontainers.image.url': 'https://github.com/acme/shop',
      'org.opencontainers.image.revision': SHA,
      'org.opencontainers.image.version': '1.4.0',
      'org.opencontainers.image.created': '2026-11-23T10:00:00.000Z',
      team: 'payments',
    });
    expect(imageVersion({ ref: 'refs/heads/feature/x', sha: SHA })).toBe('feature-x');
    expect(imageVersion({ ref: 'refs/pull/7/merge', sha: SHA })).toBe('pr-7');
    expect(imageVersion({ ref: '', sha: SHA })).toBe('c0ffee0');
  });
});
