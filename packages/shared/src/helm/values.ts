// Values for a release, in the order Helm applies them (later wins): the values files, the `values`
// input (YAML, written to a 0600 temp file), the `set` lines, then image-repository and image-tag,
// checked against the image reference grammar and given as `--set-literal` (applied after every
// --set and never parsed, so a tag cannot carry `,other.key=value`). Values under secret-bearing keys,
// in the values files as in the inputs, are masked in logs.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { IMAGE_TAG, isImageName } from '../image/reference';
import { InputError } from '../inputs';
import { MIN_FRAGMENT_LENGTH, registerSecret, registerUrlCredentialParts } from '../secrets/index';

/** A key ending in one of these names a secret, in any case and run together too (`dbPassword`, `AUTH_TOKEN`, `adminpassword`, `.dockerconfigjson`). */
const SECRET_NOUN = /(password|passwd|passphrase|secret|token|credential|apikey|privatekey|secretkey|accesskey|htpasswd|dsn|dockerconfigjson|dockercfg|kubeconfig|netrc)s?$/;
/** Secret words that are too short to match inside another word (`bypass`, `checkpwd`…), so only whole. */
const SECRET_WORD = new Set(['pass', 'pwd', 'creds', 'sas']);
/** `key` names a secret only after one of these (`apiKey`, `ACCESS_KEY`), not as `topologyKey` or a toleration's `key`. */
const KEY_QUALIFIERS = new Set(['api', 'private', 'access', 'secret', 'account', 'signing', 'encryption', 'master', 'license', 'shared', 'client', 'ssh', 'gpg', 'pgp', 'auth', 'root', 'storage', 'routing', 'integration', 'app', 'hmac', 'jwt', 'session', 'subscription']);
/** A bare `key` beside or under these is a TLS private key (`tls.key`, `sslKey`). */
const TLS_WORDS = new Set(['tls', 'ssl', 'cert', 'certificate']);
/** Last words that say how a secret is written, not what it is: `credentialsJson`, `privateKeyPem`, `tokenBase64`, `client-key-data`. */
const FORMAT_WORDS = new Set(['json', 'yaml', 'pem', 'base', 'b', 'data']);
/**
 * Last words of keys that describe a secret rather than hold it: under `auth:`, `secrets:` or
 * `credentials:`, `name: shop-db`, `enabled: true`, `region: eu-west-1`, `username: admin` or an
 * external secret's `property: password` is no secret.
 */
const DESCRIPTORS = new Set(['name', 'names', 'enabled', 'create', 'type', 'kind', 'ref', 'path', 'file', 'namespace', 'annotations', 'labels', 'mode', 'optional', 'property', 'region', 'provider', 'role', 'audience', 'realm', 'address', 'host', 'hosts', 'server', 'endpoint', 'user', 'username']);
/** In a URL's query, these hold the credential too: a SAS `sig`, an S3 `X-Amz-Signature`, Google's `key`, Azure Functions' `code`. */
const QUERY_SECRET_WORDS = new Set(['sig', 'signature', 'key', 'code']);

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
  while (words.length > 1 && FORMAT_WORDS.has(words.at(-1) ?? '')) words.pop();
  const last = words.at(-1) ?? '';
  const before = words.slice(0, -1);
  // existingSecret, existingSecretPasswordKey: the name of a Kubernetes Secret and of a key in it.
  if (before.includes('existing')) return false;
  if (SECRET_NOUN.test(last) || SECRET_WORD.has(last)) return true;
  if (last === 'key') return KEY_QUALIFIERS.has(before.at(-1) ?? '') || [...before, ...keyWords(parent)].some((w) => TLS_WORDS.has(w));
  // apiKeys, accessKeys; but a `secretKeys:` mapping names the keys of a Kubernetes Secret (`adminPasswordKey: password`).
  if (last === 'keys') return before.at(-1) !== 'secret' && KEY_QUALIFIERS.has(before.at(-1) ?? '');
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

/**
 * The credentials in a URL-looking value under any key: the password of its user-info, read at each
 * `@` (users write passwords with `/`, `?`, `#` or `@` unencoded, so every reading is masked), and
 * its secret query parameters (`?password=`, `&sig=`).
 */
function urlSecrets(value: string): string[] {
  const body = /^[a-z][a-z0-9+.-]*:\/\/(.+)$/is.exec(value)?.[1];
  if (!body) return [];
  const found: string[] = [];
  const colon = body.indexOf(':');
  for (let at = body.indexOf('@'); at >= 0; at = body.indexOf('@', at + 1)) {
    if (colon >= 0 && colon < at && !/[/?#]/.test(body.slice(0, colon))) found.push(body.slice(colon + 1, at));
  }
  const query = body.indexOf('?');
  if (query >= 0) {
    for (const [key, param] of new URLSearchParams(body.slice(query + 1).split('#')[0])) {
      if (isSecretKey(key) || QUERY_SECRET_WORDS.has(keyWords(key).at(-1) ?? '')) found.push(param);
    }
  }
  return found;
}

/** A webhook's URL, whose path and query are its credential: `slackWebhookUrl`, `webhooks: […]`, `webhook: {url: …}`. */
function isWebhookKey(key: string, parent: string): boolean {
  const words = keyWords(key);
  const last = words.at(-1) ?? '';
  if (last === 'webhook' || last === 'webhooks') return true;
  const before = words.at(-2) ?? keyWords(parent).at(-1);
  return ['url', 'uri', 'urls'].includes(last) && (before === 'webhook' || before === 'hook');
}

/** YAML as Helm reads values: `<<` merge keys apply, a repeated key wins. */
const parseYaml = (text: string): unknown => parse(text, { merge: true, uniqueKeys: false });

/** The mapping or list a text holds, if it is a YAML or JSON document (a config file, a kubeconfig, a key file). */
function embeddedDocument(text: string): object | undefined {
  try {
    const parsed = parseYaml(text);
    return parsed !== null && typeof parsed === 'object' ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Registers the secrets of a values tree (parsed YAML or JSON) and returns the scalars registered:
 * text under a secret-bearing key at any depth (except its descriptors), the `value` of a
 * Kubernetes-style `{name: DB_PASSWORD, value: …}` entry, docker config `auths.<registry>.auth`,
 * URL passwords and secret query parameters anywhere, the path and query of webhook URLs, and the
 * same within YAML or JSON documents held in strings.
 */
export function registerValuesSecrets(tree: unknown): string[] {
  const found: string[] = [];
  const walk = (value: unknown, path: string[], underSecret: boolean): void => {
    if (Array.isArray(value)) return value.forEach((v) => walk(v, path, underSecret));
    if (value instanceof Uint8Array) {
      // `!!binary`: Helm renders the decoded text.
      if (underSecret) found.push(Buffer.from(value).toString());
      return;
    }
    if (value !== null && typeof value === 'object') {
      const entries = value as Record<string, unknown>;
      const namedSecret = typeof entries.name === 'string' && isSecretKey(entries.name);
      for (const [k, v] of Object.entries(entries)) {
        walk(v, [...path, k], (underSecret && !isDescriptor(k)) || isSecretKey(k, path.at(-1)) || (namedSecret && k === 'value') || (k === 'auth' && path.at(-2) === 'auths'));
      }
      return;
    }
    if (typeof value !== 'string') return;
    // An embedded document (an application.yaml, a kubeconfig, a service account's JSON key): its own
    // keys say what is secret. Registered whole, each of its lines would be masked (`apiVersion: v1`).
    const embedded = /\n|^\s*\{/.test(value) ? embeddedDocument(value) : undefined;
    if (embedded) {
      walk(embedded, path, false);
      if (value.includes('\n')) return;
    }
    if (isWebhookKey(path.at(-1) ?? '', path.at(-2) ?? '')) {
      try {
        registerUrlCredentialParts(new URL(value));
      } catch {
        // Not a URL: nothing of it is a path.
      }
    }
    found.push(...(underSecret ? [value] : []), ...urlSecrets(value));
  };
  walk(tree, [], false);
  const secrets = [...new Set(found.map(secretText).filter((s): s is string => s !== undefined))];
  for (const secret of secrets) registerSecret(secret, { fragment: true });
  return secrets;
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

/** Helm's --set key: dotted names, list indexes, escaped dots. */
const SET_KEY = /^[A-Za-z0-9_\-./[\]\\]+$/;

interface SetAssignment {
  path: string;
  /** As written (escapes kept). */
  values: string[];
  /** Whether the value is a `{a,b}` list. */
  list: boolean;
}

const unescape = (text: string) => text.replace(/\\(.)/gs, '$1');

/**
 * The assignments of a --set line as Helm reads it: `,` separates them (not `\,`, nor inside a value
 * that is a `{a,b}` list). Undefined where Helm would refuse the line: its error quotes the piece
 * without `=`, which may be the rest of a password that held a comma.
 */
function setAssignments(line: string): SetAssignment[] | undefined {
  const found: SetAssignment[] = [];
  let i = 0;
  /** The text up to an unescaped stop character, as written. */
  const until = (stops: string) => {
    const start = i;
    while (i < line.length && !stops.includes(line[i] as string)) i += line[i] === '\\' ? 2 : 1;
    return line.slice(start, i);
  };
  while (i < line.length) {
    const path = until('=,');
    if (line[i] !== '=' || !SET_KEY.test(path)) return undefined;
    i++;
    const values: string[] = [];
    const list = line[i] === '{';
    if (list) {
      do {
        i++;
        values.push(until(',}'));
      } while (line[i] === ',');
      if (line[i] !== '}') return undefined;
      i++;
      if (i < line.length && line[i] !== ',') return undefined;
    } else values.push(until(','));
    found.push({ path, values, list });
    i++;
  }
  return found;
}

type Tree = Record<string | number, unknown>;

/** The values the assignments set, as a tree (`env[0].name` → `{env: [{name}]}`), to find their secrets as in values. */
function setTree(assignments: SetAssignment[]): Tree {
  const root: Tree = {};
  for (const { path, values, list } of assignments) {
    const steps = path.split(/(?<!\\)\./).flatMap((segment) => {
      const [name = '', ...indexes] = segment.split(/(?<!\\)\[/);
      return [unescape(name), ...indexes.map((index) => Number(index.replace(/\]$/, '')))];
    });
    let node = root;
    steps.forEach((step, i) => {
      if (i === steps.length - 1) node[step] = list ? values.map(unescape) : unescape(values[0] ?? '');
      else {
        const next = node[step];
        node = (next !== null && typeof next === 'object' ? next : (node[step] = typeof steps[i + 1] === 'number' ? [] : {})) as Tree;
      }
    });
  }
  return root;
}


export async function releaseValues(spec: ValuesSpec): Promise<ReleaseValues> {
  if (spec.imageRepository && !isImageName(spec.imageRepository)) {
    throw new InputError('image-repository', spec.imageRepository, 'an image repository without tag or digest, e.g. `ghcr.io/acme/shop` or `localhost:5000/shop` (lowercase path)');
  }
  if (spec.imageTag && !IMAGE_TAG.test(spec.imageTag)) {
    throw new InputError('image-tag', spec.imageTag, 'an image tag: up to 128 letters, digits, `_`, `.` and `-`, not starting with `.` or `-`');
  }
  const secrets: string[] = [];
  // A values file's secrets are masked as the values input's are: templates print them the same way.
  for (const file of spec.valuesFiles) {
    let parsed: unknown;
    try {
      parsed = parseYaml(readFileSync(file, 'utf8'));
    } catch (error) {
      throw new InputError('values-files', file, `YAML values files (${(error as Error).message.split('\n')[0]})`);
    }
    secrets.push(...registerValuesSecrets(parsed));
  }
  const files = [...spec.valuesFiles];
  let dir: string | undefined;
  if (spec.values.trim()) {
    let parsed: unknown;
    try {
      parsed = parseYaml(spec.values);
    } catch (error) {
      throw new InputError('values', '(YAML not shown: it may hold secrets)', `YAML values (${(error as Error).message.split('\n')[0]})`);
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new InputError('values', '(not shown)', 'a YAML mapping of values, e.g. `replicaCount: 3`');
    secrets.push(...registerValuesSecrets(parsed));
    dir = mkdtempSync(join(tmpdir(), 'slipway-values-'));
    const file = join(dir, 'values.yaml');
    writeFileSync(file, spec.values, { mode: 0o600 });
    files.push(file);
  }
  const assignments = spec.set.flatMap((line, i) => {
    const found = setAssignments(line);
    // The line itself may be `password: hunter2`, or a password with a comma: only its number is shown.
    if (!found) throw new InputError('set', `line ${i + 1} (not shown: it may hold a secret)`, 'one `key=value` per line, e.g. `image.tag=1.2.3` or `ingress.hosts[0]=shop.example.com`; `,` separates assignments, so write a comma inside a value as `\\,`');
    return found;
  });
  const setSecrets = registerValuesSecrets(setTree(assignments));
  // As written on the command line too, escapes and all (`pa\,ss`).
  for (const raw of assignments.flatMap((a) => a.values)) if (setSecrets.includes(unescape(raw))) registerSecret(raw, { fragment: true });
  secrets.push(...setSecrets);
  const literal = [...(spec.imageRepository ? [`image.repository=${spec.imageRepository}`] : []), ...(spec.imageTag ? [`image.tag=${spec.imageTag}`] : [])];
  return { files, set: spec.set, literal, secrets: [...new Set(secrets)], remove: () => dir && rmSync(dir, { recursive: true, force: true }) };
}
