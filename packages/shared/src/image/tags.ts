// Image tags from git refs, as docker/metadata-action's `tags` rules write them, one rule per line:
//   type=semver,pattern={{version}}   type=ref,event=branch   type=ref,event=pr   type=sha   type=raw,value=edge
// with `prefix=`, `suffix=` and `enable=` on any rule; `latest` is added on the default branch.
import { InputError } from '../inputs';
import { IMAGE_TAG } from './reference';

export interface RefContext {
  /** e.g. refs/heads/main, refs/tags/v1.2.3, refs/pull/42/merge */
  ref: string;
  sha: string;
  defaultBranch?: string;
}

export type TagRule =
  | { type: 'semver'; pattern: string; prefix: string; suffix: string; enable: boolean }
  | { type: 'ref'; event: 'branch' | 'tag' | 'pr'; prefix: string; suffix: string; enable: boolean }
  | { type: 'sha'; format: 'short' | 'long'; prefix: string; suffix: string; enable: boolean }
  | { type: 'raw'; value: string; prefix: string; suffix: string; enable: boolean };

/** Used when the `tags` input is empty. */
export const DEFAULT_TAG_RULES = ['type=ref,event=branch', 'type=ref,event=pr', 'type=semver,pattern={{version}}', 'type=sha'];

const ALLOWED: Record<TagRule['type'], string[]> = {
  semver: ['pattern'],
  ref: ['event'],
  sha: ['format'],
  raw: ['value'],
};

/** One rule line, checked; `input` names the input in errors. */
export function parseTagRule(input: string, line: string): TagRule {
  const bad = (expected: string) => new InputError(input, line, expected);
  const attributes = new Map<string, string>();
  for (const part of line.split(',')) {
    const match = /^\s*([a-z]+)=(.*?)\s*$/.exec(part);
    if (!match) throw bad('comma-separated `key=value` attributes, e.g. `type=semver,pattern={{version}}`');
    attributes.set(match[1] as string, match[2] as string);
  }
  const type = attributes.get('type') as TagRule['type'] | undefined;
  if (!type || !(type in ALLOWED)) throw bad('a rule starting with `type=semver`, `type=ref`, `type=sha` or `type=raw`');
  const unknown = [...attributes.keys()].filter((k) => !['type', 'prefix', 'suffix', 'enable', ...ALLOWED[type]].includes(k));
  if (unknown.length) throw bad(`only ${['prefix', 'suffix', 'enable', ...ALLOWED[type]].join(', ')} with type=${type} (unknown: ${unknown.join(', ')})`);
  const enableText = attributes.get('enable') ?? 'true';
  if (enableText !== 'true' && enableText !== 'false') throw bad('`enable=true` or `enable=false`');
  const common = { prefix: attributes.get('prefix') ?? '', suffix: attributes.get('suffix') ?? '', enable: enableText === 'true' };
  switch (type) {
    case 'semver': {
      const pattern = attributes.get('pattern') ?? '{{version}}';
      if (!/\{\{\s*(version|major|minor|patch)\s*\}\}/.test(pattern)) throw bad('a `pattern` with {{version}}, {{major}}, {{minor}} or {{patch}}');
      return { type, pattern, ...common };
    }
    case 'ref': {
      const event = attributes.get('event');
      if (event !== 'branch' && event !== 'tag' && event !== 'pr') throw bad('`event=branch`, `event=tag` or `event=pr` with type=ref');
      return { type, event, ...common };
    }
    case 'sha': {
      const format = attributes.get('format') ?? 'short';
      if (format !== 'short' && format !== 'long') throw bad('`format=short` or `format=long` with type=sha');
      return { type, format, ...common, prefix: attributes.get('prefix') ?? 'sha-' };
    }
    case 'raw': {
      const value = attributes.get('value');
      if (!value) throw bad('a `value` with type=raw');
      return { type, value, ...common };
    }
  }
}

const SEMVER = /^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/;
/** Docker's tag grammar: up to 128 of [A-Za-z0-9_.-], not starting with `.` or `-`. */

/** A ref name as a tag: characters Docker does not allow become `-`. */
export function sanitizeTag(text: string): string {
  return text.replace(/[^A-Za-z0-9_.-]/g, '-').replace(/^[.-]+/, '').slice(0, 128);
}

function ruleTag(rule: TagRule, ctx: RefContext): string | undefined {
  const branch = /^refs\/heads\/(.+)$/.exec(ctx.ref)?.[1];
  const tag = /^refs\/tags\/(.+)$/.exec(ctx.ref)?.[1];
  const pr = /^refs\/pull\/(\d+)\//.exec(ctx.ref)?.[1];
  switch (rule.type) {
    case 'semver': {
      const m = tag ? SEMVER.exec(tag) : null;
      if (!m) return undefined;
      const [, major, minor, patch, prerelease] = m;
      // A pre-release gets its full version only: 2.0.0-rc.1 must not become `2` or `2.0`.
      if (prerelease && !/\{\{\s*version\s*\}\}/.test(rule.pattern)) return undefined;
      const version = `${major}.${minor}.${patch}${prerelease ? `-${prerelease}` : ''}`;
      return rule.pattern.replace(/\{\{\s*(version|major|minor|patch)\s*\}\}/g, (_, k: string) => ({ version, major, minor, patch })[k] as string);
    }
    case 'ref':
      return rule.event === 'branch' ? branch : rule.event === 'tag' ? tag : pr ? `pr-${pr}` : undefined;
    case 'sha':
      return ctx.sha ? (rule.format === 'long' ? ctx.sha : ctx.sha.slice(0, 7)) : undefined;
    case 'raw':
      return rule.value;
  }
}

/** The tags these rules give for this ref, in rule order, without duplicates; `latest` on the default branch. */
export function computeTags(rules: readonly TagRule[], ctx: RefContext): string[] {
  const tags: string[] = [];
  for (const rule of rules) {
    if (!rule.enable) continue;
    const value = ruleTag(rule, ctx);
    if (value === undefined) continue;
    const tagText = sanitizeTag(`${rule.prefix}${value}${rule.suffix}`);
    if (IMAGE_TAG.test(tagText) && !tags.includes(tagText)) tags.push(tagText);
  }
  if (ctx.defaultBranch && ctx.ref === `refs/heads/${ctx.defaultBranch}` && !tags.includes('latest')) tags.push('latest');
  return tags;
}

/** The version an image is labelled with: the semver of a tag ref, else the ref's name, else the short commit. */
export function imageVersion(ctx: RefContext): string {
  const tag = /^refs\/tags\/(.+)$/.exec(ctx.ref)?.[1];
  const semver = tag ? SEMVER.exec(tag) : null;
  if (semver) return tag?.replace(/^v/, '') ?? '';
  const name = /^refs\/(?:heads|tags)\/(.+)$/.exec(ctx.ref)?.[1] ?? (/^refs\/pull\/(\d+)\//.exec(ctx.ref) ? `pr-${/^refs\/pull\/(\d+)\//.exec(ctx.ref)?.[1]}` : undefined);
  return name ? sanitizeTag(name) : ctx.sha.slice(0, 7);
}

/** OCI annotations (`org.opencontainers.image.*`) for the image, then the user's labels, which win. */
export function ociLabels(ctx: RefContext & { serverUrl: string; repo: string; created: Date }, extra: Record<string, string> = {}): Record<string, string> {
  const source = `${ctx.serverUrl.replace(/\/+$/, '')}/${ctx.repo}`;
  return {
    'org.opencontainers.image.title': ctx.repo.split('/')[1] ?? ctx.repo,
    'org.opencontainers.image.source': source,
    'org.opencontainers.image.url': source,
    'org.opencontainers.image.revision': ctx.sha,
    'org.opencontainers.image.version': imageVersion(ctx),
    'org.opencontainers.image.created': ctx.created.toISOString(),
    ...extra,
  };
}
