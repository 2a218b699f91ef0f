// Values for a release, in the order Helm applies them (later wins): the values files, the `values`
// input (YAML, written to a 0600 temp file), the `set` lines, then image-repository and image-tag.
// Values under secret-looking keys are masked in logs.
import * as core from '@actions/core';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InputError } from '../inputs';

/** Keys whose values are secrets: masked wherever they would be printed. */
export const SECRET_KEY = /pass(word)?|secret|token|key|credential|auth|cert|private|dsn|connection/i;

export interface ValuesSpec {
  valuesFiles: string[];
  /** YAML text; empty for none. */
  values: string;
  /** `key=value` lines. */
  set: string[];
  imageRepository?: string;
  imageTag?: string;
}

export interface ReleaseValues {
  files: string[];
  set: string[];
  /** Values registered as secrets. */
  secrets: string[];
  remove(): void;
}

/** Every scalar under a secret-looking key, at any depth. */
function secretLeaves(value: unknown, underSecret = false): string[] {
  if (value === null || value === undefined) return [];
  if (Array.isArray(value)) return value.flatMap((v) => secretLeaves(v, underSecret));
  if (typeof value === 'object') return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) => secretLeaves(v, underSecret || SECRET_KEY.test(k)));
  return underSecret && String(value).length > 0 ? [String(value)] : [];
}

/** Helm's --set key: dotted names, list indexes, escaped dots and commas. */
const SET_LINE = /^([A-Za-z0-9_\-./[\]\\]+)=(.*)$/s;

export async function releaseValues(spec: ValuesSpec): Promise<ReleaseValues> {
  const secrets: string[] = [];
  const files = [...spec.valuesFiles];
  let dir: string | undefined;
  if (spec.values.trim()) {
    let parsed: unknown;
    try {
      parsed = (await import('yaml')).parse(spec.values);
    } catch (error) {
      throw new InputError('values', '(YAML not shown: it may hold secrets)', `YAML values (${(error as Error).message.split('\n')[0]})`);
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new InputError('values', '(not shown)', 'a YAML mapping of values, e.g. `replicaCount: 3`');
    secrets.push(...secretLeaves(parsed));
    dir = mkdtempSync(join(tmpdir(), 'slipway-values-'));
    const file = join(dir, 'values.yaml');
    writeFileSync(file, spec.values, { mode: 0o600 });
    files.push(file);
  }
  const set = spec.set.map((line) => {
    const match = SET_LINE.exec(line);
    if (!match) throw new InputError('set', line.replace(/=.*/s, '=***'), 'one `key=value` per line, e.g. `image.tag=1.2.3` or `ingress.hosts[0]=shop.example.com`');
    if (SECRET_KEY.test(match[1] as string) && match[2]) secrets.push(match[2]);
    return line;
  });
  if (spec.imageRepository) set.push(`image.repository=${spec.imageRepository}`);
  if (spec.imageTag) set.push(`image.tag=${spec.imageTag}`);
  for (const secret of secrets) core.setSecret(secret);
  return { files, set, secrets, remove: () => dir && rmSync(dir, { recursive: true, force: true }) };
}
