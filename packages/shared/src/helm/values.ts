// Values for a release, in the order Helm applies them (later wins): the values files, the `values`
// input (YAML, written to a 0600 temp file), the `set` lines, then image-repository and image-tag,
// checked against the image reference grammar and given as `--set-literal` (applied after every
// --set and never parsed, so a tag cannot carry `,other.key=value`). Values under secret-bearing keys
// are masked in logs.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IMAGE_TAG, isImageName } from '../image/reference';
import { InputError } from '../inputs';
import { MIN_FRAGMENT_LENGTH, registerSecret } from '../secrets/index';

/** A key ending in one of these names a secret, in any case and run together too (`dbPassword`, `AUTH_TOKEN`, `adminpassword`). */
const SECRET_NOUN = /(password|passwd|passphrase|secret|token|credential|apikey|privatekey|secretkey|accesskey|htpasswd|dsn)s?$/;
/** Secret words that are too short to match inside another word (`bypass`, `checkpwd`…), so only whole. */
const SECRET_WORD = new Set(['pass', 'pwd', 'creds', 'sas']);
/** `key` names a secret only after one of these (`apiKey`, `ACCESS_KEY`), not as `topologyKey` or a toleration's `key`. */
const KEY_QUALIFIERS = new Set(['api', 'private', 'access', 'secret', 'account', 'signing', 'encryption', 'master', 'license', 'shared', 'client', 'ssh', 'gpg', 'pgp', 'auth', 'root', 'storage', 'routing', 'integration', 'app', 'hmac', 'jwt', 'session', 'subscription']);
/** A bare `key` beside or under these is a TLS private key (`tls.key`, `sslKey`). */
const TLS_WORDS = new Set(['tls', 'ssl', 'cert', 'certificate']);
/** Last words of keys that describe a secret rather than hold it: under `auth:` or `secrets:`, `name: shop-db` or `enabled: true` is no secret. */
const DESCRIPTORS = new Set(['name', 'names', 'enabled', 'create', 'type', 'kind', 'ref', 'path', 'file', 'namespace', 'annotations', 'labels', 'mode', 'optional']);

/** The words of a key: camelCase, `_`, `-`, `.` and digits split, lowercase (`automountServiceAccountToken` → automount service account token). */
export function keyWords(key: string): string[] {
  return key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z]+/)
    .filter(Boolean);
}

/** Whether the value of `key` (in the mapping held by `parent`) is a secret, by the key's last word. */
export function isSecretKey(key: string, parent = ''): boolean {
  const words = keyWords(key);
  const last = words.at(-1) ?? '';
  const before = words.slice(0, -1);
  // existingSecret, existingSecretPasswordKey: the name of a Kubernetes Secret and of a key in it.
  if (before.includes('existing')) return false;
  if (SECRET_NOUN.test(last) || SECRET_WORD.has(last)) return true;
  if (last === 'key') return KEY_QUALIFIERS.has(before.at(-1) ?? '') || [...before, ...keyWords(parent)].some((w) => TLS_WORDS.has(w));
  if (last === 'string') return before.at(-1) === 'connection';
  if (last === 'auth') return before.at(-1) === 'basic';
  return false;
}

/** A descriptor key, or a bare `key` (which key of a Secret), but not `STRIPE_KEY`. */
function isDescriptor(key: string): boolean {
  const words = keyWords(key);
  return DESCRIPTORS.has(words.at(-1) ?? '') || (words.length === 1 && words[0] === 'key');
}

/**
 * The text of a secret scalar worth masking: never a boolean or number (masking `true` or `3` would
 * hide it across the whole job log), nor a string that reads as one, nor one shorter than
 * MIN_FRAGMENT_LENGTH.
 */
function secretText(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.trim().length < MIN_FRAGMENT_LENGTH) return undefined;
  if (/^(true|false|yes|no|on|off|null)$/i.test(value.trim()) || !Number.isNaN(Number(value))) return undefined;
  return value;
}

/** The password of a URL-looking value (`postgres://shop:pw@db/shop`) under any key. */
function urlPassword(value: unknown): string | undefined {
  if (typeof value !== 'string' || !/^[a-z][a-z0-9+.-]*:\/\/[^/]*@/i.test(value)) return undefined;
  try {
    return secretText(new URL(value).password);
  } catch {
    return undefined;
  }
}

/**
 * Every scalar to mask: under a secret-bearing key at any depth (except its descriptors), the `value`
 * of a Kubernetes-style `{name: DB_PASSWORD, value: …}` entry, and URL passwords anywhere.
 */
function secretLeaves(value: unknown, underSecret = false, parent = ''): string[] {
  if (Array.isArray(value)) return value.flatMap((v) => secretLeaves(v, underSecret, parent));
  if (value !== null && typeof value === 'object') {
    const entries = value as Record<string, unknown>;
    const namedSecret = typeof entries.name === 'string' && isSecretKey(entries.name);
    return Object.entries(entries).flatMap(([k, v]) => secretLeaves(v, (underSecret && !isDescriptor(k)) || isSecretKey(k, parent) || (namedSecret && k === 'value'), k));
  }
  const secret = underSecret ? secretText(value) : urlPassword(value);
  return secret ? [secret] : [];
}

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
  /** `--set` arguments: the user's own lines, in Helm's syntax. */
  set: string[];
  /** `--set-literal` arguments, applied after every --set, never parsed. */
  literal: string[];
  /** Values registered as secrets. */
  secrets: string[];
  remove(): void;
}

/** Helm's --set key: dotted names, list indexes, escaped dots and commas. */
const SET_LINE = /^([A-Za-z0-9_\-./[\]\\]+)=(.*)$/s;

/** The secrets of a `--set` line: its value when a segment of its path is secret-bearing, as written and unescaped. */
function setLineSecrets(path: string, value: string): string[] {
  const segments = path.split(/(?<!\\)\./).map((s) => s.replace(/\\(.)/g, '$1'));
  let underSecret = false;
  segments.forEach((segment, i) => {
    underSecret = (underSecret && !isDescriptor(segment)) || isSecretKey(segment, segments[i - 1]);
  });
  const secret = underSecret ? secretText(value) : urlPassword(value);
  return secret ? [...new Set([secret, secret.replace(/\\(.)/g, '$1')])] : [];
}

export async function releaseValues(spec: ValuesSpec): Promise<ReleaseValues> {
  if (spec.imageRepository && !isImageName(spec.imageRepository)) {
    throw new InputError('image-repository', spec.imageRepository, 'an image repository without tag or digest, e.g. `ghcr.io/acme/shop` or `localhost:5000/shop` (lowercase path)');
  }
  if (spec.imageTag && !IMAGE_TAG.test(spec.imageTag)) {
    throw new InputError('image-tag', spec.imageTag, 'an image tag: up to 128 letters, digits, `_`, `.` and `-`, not starting with `.` or `-`');
  }
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
  const set = spec.set.map((line, i) => {
    const match = SET_LINE.exec(line);
    // The line itself may be `password: hunter2`: only its number is shown.
    if (!match) throw new InputError('set', `line ${i + 1} (not shown: it may hold a secret)`, 'one `key=value` per line, e.g. `image.tag=1.2.3` or `ingress.hosts[0]=shop.example.com`');
    secrets.push(...setLineSecrets(match[1] as string, match[2] as string));
    return line;
  });
  const literal = [...(spec.imageRepository ? [`image.repository=${spec.imageRepository}`] : []), ...(spec.imageTag ? [`image.tag=${spec.imageTag}`] : [])];
  for (const secret of secrets) registerSecret(secret, { fragment: true });
  return { files, set, literal, secrets: [...new Set(secrets)], remove: () => dir && rmSync(dir, { recursive: true, force: true }) };
}
