// A stand-in for GitHub's REST API that checks every request against GitHub's published OpenAPI
// description (npm @octokit/openapi): the operation must exist for the method and path, the token,
// Accept, API version and User-Agent headers must be there, and the JSON body must match the
// operation's request schema (types, enums, required fields, and no unknown top-level fields).
// Operations the tests need are answered as GitHub does; any other known one gets 501.
import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { gunzipSync } from 'node:zlib';
import { listen, readBody, type Listening } from '../helpers/net';
import { sarifValidator } from '../helpers/sarif-schema';

interface Operation {
  operationId: string;
  requestBody?: { content?: Record<string, { schema: object }> };
}
interface Spec {
  paths: Record<string, Record<string, Operation>>;
}

export interface GitHubRequest {
  method: string;
  path: string;
  operationId: string;
  body?: Record<string, unknown>;
  problems: string[];
}

/**
 * OpenAPI 3.0's `nullable` beside `oneOf` or `anyOf` without a `type` (as in issues/create's
 * `milestone`), which JSON Schema lacks: written as "or null", so Ajv can compile it.
 */
function jsonSchema(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(jsonSchema);
  if (!node || typeof node !== 'object') return node;
  const { nullable, ...rest } = node as Record<string, unknown>;
  const converted = Object.fromEntries(Object.entries(rest).map(([k, v]) => [k, jsonSchema(v)]));
  if (nullable === true && !('type' in rest)) return { anyOf: [converted, { type: 'null' }] };
  return nullable === undefined ? converted : { ...converted, nullable };
}

let spec: Spec | undefined;
/** The description is 70 MB: read once per test file. */
function loadSpec(): Spec {
  const file = createRequire(import.meta.url).resolve('@octokit/openapi/generated/api.github.com.deref.json');
  return (spec ??= JSON.parse(readFileSync(file, 'utf8')) as Spec);
}

export interface GitHubApi {
  url: string;
  requests: GitHubRequest[];
  /** SARIF logs uploaded to code scanning, decoded, by upload id. */
  sarifs: Map<string, object>;
  /** Issues created, as GitHub stores them. */
  issues: { number: number; title: string; body: string; labels: string[]; html_url: string }[];
  stop(): Promise<void>;
}

export async function startGitHubApi(token: string): Promise<GitHubApi> {
  const { paths } = loadSpec();
  const routes = Object.entries(paths).map(([template, ops]) => ({
    regex: new RegExp(`^${template.replace(/\{[^}]+\}/g, '([^/]+)')}$`),
    ops,
  }));
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  const validators = new Map<string, ValidateFunction>();
  const requests: GitHubRequest[] = [];
  const sarifs = new Map<string, object>();
  const sarifErrors = new Map<string, string[]>();
  const issues: GitHubApi['issues'] = [];
  let nextDeployment = 1000;
  let nextStatus = 1;

  const listening: Listening = await listen(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = (req.method ?? 'GET').toLowerCase();
    const route = routes.find((r) => r.regex.test(url.pathname) && r.ops[method]);
    const send = (status: number, body: object) => res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(body));
    if (!route) return send(404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' });
    const operation = route.ops[method] as Operation;
    const record: GitHubRequest = { method: method.toUpperCase(), path: url.pathname, operationId: operation.operationId, problems: [] };
    requests.push(record);
    if (req.headers.authorization !== `Bearer ${token}` && req.headers.authorization !== `token ${token}`) return send(401, { message: 'Bad credentials' });
    if (!String(req.headers.accept ?? '').includes('application/vnd.github')) record.problems.push('Accept should be application/vnd.github+json');
    if (!req.headers['user-agent']) record.problems.push('GitHub requires a User-Agent header');
    const version = req.headers['x-github-api-version'];
    if (version !== undefined && version !== '2022-11-28') record.problems.push(`unknown X-GitHub-Api-Version ${String(version)}`);
    const schema = operation.requestBody?.content?.['application/json']?.schema;
    if (schema) {
      try {
        record.body = JSON.parse(await readBody(req)) as Record<string, unknown>;
      } catch {
        record.problems.push('body is not JSON');
      }
      let validate = validators.get(operation.operationId);
      if (!validate) {
        validate = ajv.compile({ ...(jsonSchema(schema) as object), additionalProperties: false });
        validators.set(operation.operationId, validate);
      }
      if (record.body && !validate(record.body)) record.problems.push(...(validate.errors ?? []).map((e) => `${e.instancePath || 'body'} ${e.message ?? ''} ${JSON.stringify(e.params)}`));
    }
    if (record.problems.length) return send(422, { message: 'Validation Failed', errors: record.problems });
    const [, owner, repo, id] = /^\/repos\/([^/]+)\/([^/]+)(?:\/(?:deployments|code-scanning\/sarifs)\/([^/]+))?/.exec(url.pathname) ?? [];
    const base = `${listening.url}/repos/${owner}/${repo}`;
    switch (operation.operationId) {
      case 'repos/create-deployment': {
        const deploymentId = nextDeployment++;
        return send(201, { id: deploymentId, url: `${base}/deployments/${deploymentId}`, ref: record.body?.ref, sha: record.body?.ref, environment: record.body?.environment, task: 'deploy', statuses_url: `${base}/deployments/${deploymentId}/statuses` });
      }
      case 'repos/create-deployment-status':
        return send(201, { id: nextStatus++, url: `${base}/deployments/${id}/statuses`, state: record.body?.state, environment_url: record.body?.environment_url ?? '', log_url: record.body?.log_url ?? '' });
      case 'code-scanning/upload-sarif': {
        // GitHub takes the log gzipped and base64-encoded, then processes it: a log that is not SARIF 2.1.0 fails there.
        let log: object;
        try {
          log = JSON.parse(gunzipSync(Buffer.from(String(record.body?.sarif), 'base64')).toString('utf8')) as object;
        } catch {
          return send(400, { message: 'Invalid request. The sarif field must be gzip compressed and base64 encoded.' });
        }
        const uploadId = `sarif-${sarifs.size + 1}`;
        sarifs.set(uploadId, log);
        const validate = sarifValidator();
        sarifErrors.set(uploadId, validate(log) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''}`));
        return send(202, { id: uploadId, url: `${base}/code-scanning/sarifs/${uploadId}` });
      }
      case 'code-scanning/get-sarif': {
        const errors = sarifErrors.get(id ?? '');
        if (!errors) return send(404, { message: 'Not Found' });
        return send(200, { processing_status: errors.length ? 'failed' : 'complete', analyses_url: `${base}/code-scanning/analyses?sarif_id=${id}`, errors: errors.length ? errors : null });
      }
      case 'issues/create': {
        const body = record.body as { title: string; body?: string; labels?: (string | { name?: string })[] };
        const issue = { number: issues.length + 1, title: String(body.title), body: body.body ?? '', labels: (body.labels ?? []).map((l) => (typeof l === 'string' ? l : (l.name ?? ''))), html_url: `https://github.com/${owner}/${repo}/issues/${issues.length + 1}` };
        issues.push(issue);
        return send(201, { id: 5000 + issue.number, number: issue.number, title: issue.title, body: issue.body, state: 'open', html_url: issue.html_url, url: `${base}/issues/${issue.number}`, labels: issue.labels.map((name) => ({ name })) });
      }
      case 'issues/list-for-repo': {
        // Filtered by label (all given) and paged as GitHub does; state=all lists closed ones too.
        const labels = (url.searchParams.get('labels') ?? '').split(',').filter(Boolean);
        const perPage = Number(url.searchParams.get('per_page') ?? 30);
        const page = Number(url.searchParams.get('page') ?? 1);
        if (!(perPage >= 1 && perPage <= 100) || !(page >= 1)) return send(422, { message: 'Validation Failed' });
        const matching = issues.filter((i) => labels.every((l) => i.labels.includes(l))).reverse();
        return send(200, matching.slice((page - 1) * perPage, page * perPage).map((i) => ({ id: 5000 + i.number, number: i.number, title: i.title, body: i.body, state: 'open', html_url: i.html_url, labels: i.labels.map((name) => ({ name })) })));
      }
      default:
        return send(501, { message: `${operation.operationId} is not answered by the test stand-in` });
    }
  });
  return { url: listening.url, requests, sarifs, issues, stop: () => listening.close() };
}
