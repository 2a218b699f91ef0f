import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { routerInputNames, type RouterInputSpec } from '../packages/shared/src/routing/inputs';

/**
 * action.yml is the contract. For every action, the inputs and outputs the code reads and sets, the
 * ones action.yml declares, and the ones its README documents must be the same sets, with the same
 * defaults in action.yml and README.
 */
const ROOT = join(import.meta.dirname, '..');
const actions = readdirSync(join(ROOT, 'actions')).filter((name) => existsSync(join(ROOT, 'actions', name, 'action.yml')));

interface ActionYml {
  inputs?: Record<string, { description?: string; default?: string; required?: boolean }>;
  outputs?: Record<string, { description?: string; value?: string }>;
  runs: { using: string; main?: string; steps?: { id?: string; env?: Record<string, string>; with?: Record<string, string> }[] };
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => readFileSync(join(e.parentPath, e.name), 'utf8'));
}

/** The input names passed as the first argument of an input reader in the action's own source. */
function inputsInCode(sources: string[]): Set<string> {
  const reader = /\b(?:get(?:String|Boolean|Integer|Number|Duration|List|Enum|Object|KeyValues|Pairs|Url|Endpoint)|render|checkTs|url)\(\s*'([a-z][a-z0-9-]*)'/g;
  return new Set(sources.flatMap((s) => [...s.matchAll(reader)].map((m) => m[1] ?? '')));
}

function outputsInCode(sources: string[]): Set<string> {
  return new Set(sources.flatMap((s) => [...s.matchAll(/\bsetOutput\(\s*'([a-z][a-z0-9-]*)'/g)].map((m) => m[1] ?? '')));
}

/** Rows of the README table under a heading: first cell `name`, and the second cell when it is a default. */
function readmeTable(readme: string, heading: string): Map<string, string | undefined> {
  const section = readme.split(new RegExp(`^## ${heading}\\s*$`, 'm'))[1]?.split(/^## /m)[0] ?? '';
  const rows = new Map<string, string | undefined>();
  for (const line of section.split('\n')) {
    const cells = line.split(/(?<!\\)\|/).map((c) => c.trim());
    const name = /^`([a-z][a-z0-9-]*)`$/.exec(cells[1] ?? '')?.[1];
    if (name) rows.set(name, cells.length > 4 ? /^`(.*)`$/.exec(cells[2] ?? '')?.[1]?.replace(/\\\|/g, '|') : undefined);
  }
  return rows;
}

const sorted = (s: Iterable<string>) => [...s].sort();

describe.each(actions)('actions/%s', (name) => {
  const dir = join(ROOT, 'actions', name);
  const yml = parse(readFileSync(join(dir, 'action.yml'), 'utf8')) as ActionYml;
  const readme = readFileSync(join(dir, 'README.md'), 'utf8');
  const declaredInputs = Object.keys(yml.inputs ?? {});
  const declaredOutputs = Object.keys(yml.outputs ?? {});

  it('runs on node24 from its committed bundle, or is a composite of Slipway steps', () => {
    expect(['node24', 'composite']).toContain(yml.runs.using);
    if (yml.runs.using === 'node24') {
      expect(yml.runs.main).toBe(`../../dist/${name}/index.js`);
      expect(existsSync(join(dir, yml.runs.main ?? ''))).toBe(true);
    } else {
      // The Slipway step gets every input (the whole `inputs` context) and runs the committed bundle.
      const step = yml.runs.steps?.find((s) => s.id === name);
      expect(step?.env?.SLIPWAY_INPUTS).toBe('${{ toJSON(inputs) }}');
      expect(step?.with?.script).toContain(`'dist', '${name}', 'index.js'`);
      expect(existsSync(join(ROOT, 'dist', name, 'index.js'))).toBe(true);
      for (const [output, spec] of Object.entries(yml.outputs ?? {})) expect(spec.value, `value of ${output}`).toBe(`\${{ steps.${name}.outputs.${output} }}`);
    }
  });

  it('declares every input the code reads, and reads every input it declares', async () => {
    const read = inputsInCode(sourceFiles(join(dir, 'src')));
    // The shared router inputs, named after the action's backends, are read by packages/shared/src/routing/inputs.ts.
    const inputsModule = join(dir, 'src', 'inputs.ts');
    const spec = existsSync(inputsModule) ? ((await import(inputsModule)) as { ROUTER_INPUTS?: RouterInputSpec }).ROUTER_INPUTS : undefined;
    for (const input of spec ? routerInputNames(spec) : []) read.add(input);
    expect(sorted(read)).toEqual(sorted(declaredInputs));
  });

  it('declares every output the code sets, and sets every output it declares', () => {
    expect(sorted(outputsInCode(sourceFiles(join(dir, 'src'))))).toEqual(sorted(declaredOutputs));
  });

  it('documents every input with its default, and every output, in the README', () => {
    const inputs = readmeTable(readme, 'Inputs');
    expect(sorted(inputs.keys())).toEqual(sorted(declaredInputs));
    for (const [input, spec] of Object.entries(yml.inputs ?? {})) {
      expect(inputs.get(input), `default of ${input}`).toBe(spec.default === undefined ? undefined : String(spec.default));
      expect(spec.description, `description of ${input}`).toBeTruthy();
      // The runner's manifest schema refuses expressions in a description (act reports "expressions are not allowed here").
      expect(spec.description, `description of ${input}`).not.toContain('${{');
    }
    expect(sorted(readmeTable(readme, 'Outputs').keys())).toEqual(sorted(declaredOutputs));
  });
});
