// The reusable workflows as published: identical to their starter-workflow copies, hardened as the
// README says, and reported clean by actionlint (with shellcheck) and zizmor, both real.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { requireCommand } from '../services/process';
import { SLIPWAY, VERSION } from './act';

const ROOT = join(import.meta.dirname, '..', '..');
const TEMPLATES = join(ROOT, 'workflows-templates');
const WORKFLOWS = join(ROOT, '.github', 'workflows');
const NAMES = ['ci-cd', 'canary-release', 'blue-green-release', 'db-backup'];
/** Workflows of this repository's own CI, not templates. */
const REPOSITORY_ONLY = ['build-scan-self-test.yml'];
const ACTIONLINT = 'the pretest builds actionlint v1.7.12 from the Go module proxy into $(go env GOPATH)/bin';

interface Step { uses?: string; run?: string; env?: Record<string, string> }
interface Job { permissions?: unknown; uses?: string; steps?: Step[]; concurrency?: unknown }
interface Workflow { on: Record<string, unknown>; permissions?: unknown; jobs: Record<string, Job> }
const workflow = (name: string) => parse(readFileSync(join(TEMPLATES, `${name}.yml`), 'utf8')) as Workflow;

/** The ```yaml blocks of the templates' README: the caller examples. */
function callerExamples(): string[] {
  return [...readFileSync(join(TEMPLATES, 'README.md'), 'utf8').matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');
}

function actionlint(dir: string): ReturnType<typeof spawnSync> {
  requireCommand('shellcheck', 'apt-get install shellcheck (actionlint checks run: scripts with it)');
  return spawnSync(requireCommand('actionlint', ACTIONLINT), ['-no-color'], { cwd: dir, encoding: 'utf8' });
}

describe('workflows-templates/', () => {
  it('has the four templates, each with starter-workflow properties, and .github/workflows/ holds identical copies', () => {
    const templates = readdirSync(TEMPLATES).filter((f) => f.endsWith('.yml')).sort();
    expect(templates).toEqual(NAMES.map((n) => `${n}.yml`).sort());
    for (const name of NAMES) {
      expect(readFileSync(join(WORKFLOWS, `${name}.yml`), 'utf8'), `.github/workflows/${name}.yml differs from workflows-templates/${name}.yml: copy it over`).toBe(readFileSync(join(TEMPLATES, `${name}.yml`), 'utf8'));
      const props = JSON.parse(readFileSync(join(TEMPLATES, `${name}.properties.json`), 'utf8')) as Record<string, unknown>;
      expect(props).toMatchObject({ name: expect.any(String), description: expect.any(String), iconName: expect.any(String), categories: expect.any(Array) });
      expect(existsSync(join(TEMPLATES, `${String(props.iconName)}.svg`))).toBe(true);
      for (const pattern of (props.filePatterns as string[] | undefined) ?? []) expect(() => new RegExp(pattern)).not.toThrow();
    }
    // Nothing in .github/workflows/ that is neither a template's copy nor this repository's own CI.
    expect(readdirSync(WORKFLOWS).filter((f) => !REPOSITORY_ONLY.includes(f)).sort()).toEqual(templates);
  });

  it.each(NAMES)('%s.yml is hardened: workflow_call only, permissions per job, SHA-pinned third parties, no expressions in run:', (name) => {
    const wf = workflow(name);
    expect(Object.keys(wf.on)).toEqual(['workflow_call']);
    expect(wf.permissions).toEqual({});
    const text = readFileSync(join(TEMPLATES, `${name}.yml`), 'utf8');
    expect(text).not.toContain('pull_request_target');
    expect(text).not.toMatch(/permissions:\s*(write-all|read-all)/);
    for (const [id, job] of Object.entries(wf.jobs)) {
      expect(job.permissions, `job ${id} sets its own permissions`).toBeDefined();
      const uses = [job.uses, ...(job.steps ?? []).map((s) => s.uses)].filter((u): u is string => Boolean(u));
      for (const ref of uses) {
        const own = ref.startsWith(`${SLIPWAY}/`);
        if (own) {
          // Slipway's own actions and workflows by path and release tag, and they exist.
          const [path, version] = ref.slice(SLIPWAY.length + 1).split('@');
          expect(version).toBe(VERSION);
          expect(existsSync(join(ROOT, path ?? '', path?.endsWith('.yml') ? '' : 'action.yml')), `${ref} exists`).toBe(true);
        } else {
          expect(ref, `${ref} in job ${id} is pinned by full commit SHA`).toMatch(/^[\w.-]+\/[\w./-]+@[0-9a-f]{40}$/);
        }
      }
      for (const step of job.steps ?? []) expect(step.run ?? '', `a run: script in job ${id} takes inputs through env:`).not.toContain('${{');
    }
  });

  it('actionlint (with shellcheck) reports nothing on the workflows', () => {
    const run = actionlint(ROOT);
    expect(run.status, `${String(run.stdout)}${String(run.stderr)}`).toBe(0);
  });

  it('actionlint reports nothing on the caller examples in workflows-templates/README.md', () => {
    const examples = callerExamples();
    expect(examples).toHaveLength(NAMES.length);
    const repo = mkdtempSync(join(tmpdir(), 'slipway-callers-'));
    mkdirSync(join(repo, '.github', 'workflows'), { recursive: true });
    examples.forEach((example, i) => writeFileSync(join(repo, '.github', 'workflows', `example-${i}.yml`), example));
    // actionlint finds the project by its .git folder.
    mkdirSync(join(repo, '.git'));
    const run = actionlint(repo);
    expect(run.status, `${String(run.stdout)}${String(run.stderr)}`).toBe(0);
    for (const [i, example] of examples.entries()) expect(example, `example ${i} calls ${NAMES.join(', ')}`).toMatch(new RegExp(`uses: ${SLIPWAY}/\\.github/workflows/(${NAMES.join('|')})\\.yml@${VERSION}`));
  });

  it('zizmor (auditor persona) reports nothing on the workflows and actions', () => {
    const zizmor = requireCommand('zizmor', 'the pretest installs zizmor 1.25.2 from crates.io with `cargo install`');
    const run = spawnSync(zizmor, ['--offline', '--no-progress', '--persona', 'auditor', '--config', join(ROOT, '.github', 'zizmor.yml'), '--format', 'plain', ROOT], { encoding: 'utf8' });
    expect(run.status, `${run.stdout}${run.stderr}`).toBe(0);
    expect(run.stdout).toContain('No findings to report');
  });
});
