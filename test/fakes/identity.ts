// Stand-ins for the two identity services a workload-identity login crosses, which cannot run here:
// GitHub Actions' OIDC token endpoint (what core.getIDToken calls) and Microsoft Entra ID's v2.0 token
// endpoint with a federated credential. They check what they receive as the real ones do: the request
// token, the audience, the form fields, the assertion's RS256 signature, issuer, audience, subject and
// lifetime; and they answer with real JWTs and Entra's AADSTS error shapes.
import { createSign, createVerify, generateKeyPairSync, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { listen, readBody, type Listening } from '../helpers/net';

export const GITHUB_ISSUER = 'https://token.actions.githubusercontent.com';
export const EXCHANGE_AUDIENCE = 'api://AzureADTokenExchange';

const b64url = (data: string | Buffer) => Buffer.from(data).toString('base64url');

function signJwt(claims: Record<string, unknown>, privateKey: string): string {
  const body = `${b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid: 'slipway-test' }))}.${b64url(JSON.stringify(claims))}`;
  return `${body}.${createSign('RSA-SHA256').update(body).sign(privateKey, 'base64url')}`;
}

/** The claims of a JWT whose RS256 signature the key verifies, or the reason it is refused. */
function verifyJwt(token: string, publicKey: string): Record<string, unknown> | string {
  const [header, payload, signature] = token.split('.');
  if (!header || !payload || !signature) return 'not a JWT';
  if ((JSON.parse(Buffer.from(header, 'base64url').toString()) as { alg?: string }).alg !== 'RS256') return 'unsupported alg';
  if (!createVerify('RSA-SHA256').update(`${header}.${payload}`).verify(publicKey, signature, 'base64url')) return 'signature verification failed';
  return JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
}

export interface IdentityFake {
  /** ACTIONS_ID_TOKEN_REQUEST_URL and _TOKEN, as the runner sets them with `id-token: write`. */
  runnerEnv: Record<string, string>;
  /** For azure-authority-host. */
  authorityHost: string;
  tenantId: string;
  clientId: string;
  /** Access tokens Entra issued; every one must be masked in the action's log. */
  issued: string[];
  /** The subject GitHub puts in its tokens (the run's repository and ref). */
  githubSubject: string;
  close(): Promise<void>;
}

/**
 * `federatedSubject` is the one subject the app registration's federated credential trusts, e.g.
 * `repo:acme/shop:ref:refs/heads/main`; a token for any other subject is refused with AADSTS700213.
 */
export async function startIdentityFake(options: { federatedSubject: string; githubSubject?: string }): Promise<IdentityFake> {
  const github = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
  const entra = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
  const requestToken = `runtime-${randomUUID()}`;
  const tenantId = randomUUID();
  const clientId = randomUUID();
  const issued: string[] = [];
  const state = { githubSubject: options.githubSubject ?? options.federatedSubject };
  const now = () => Math.floor(Date.now() / 1000);

  const json = (res: ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };
  const aadError = (res: ServerResponse, status: number, error: string, code: string, text: string): void =>
    json(res, status, { error, error_description: `${code}: ${text} Trace ID: ${randomUUID()}`, error_codes: [Number(code.slice(5))], timestamp: new Date().toISOString() });

  function githubToken(req: IncomingMessage, res: ServerResponse, url: URL): void {
    if (req.method !== 'GET') return json(res, 405, { message: 'method not allowed' });
    if (req.headers.authorization !== `Bearer ${requestToken}`) return json(res, 401, { message: 'Bad credentials' });
    const audience = url.searchParams.get('audience');
    const claims = { iss: GITHUB_ISSUER, sub: state.githubSubject, aud: audience ?? 'https://github.com/acme', repository: 'acme/shop', ref: 'refs/heads/main', jti: randomUUID(), iat: now(), nbf: now() - 5, exp: now() + 300 };
    json(res, 200, { count: 1, value: signJwt(claims, github.privateKey) });
  }

  async function entraToken(req: IncomingMessage, res: ServerResponse, tenant: string): Promise<void> {
    if (req.method !== 'POST') return aadError(res, 405, 'invalid_request', 'AADSTS900561', 'The endpoint only accepts POST requests.');
    if (!/^application\/x-www-form-urlencoded\b/.test(req.headers['content-type'] ?? '')) return aadError(res, 400, 'invalid_request', 'AADSTS900144', 'The request body must be form-urlencoded.');
    if (tenant !== tenantId) return aadError(res, 400, 'invalid_request', 'AADSTS90002', `Tenant '${tenant}' not found.`);
    const form = new URLSearchParams(await readBody(req));
    if (form.get('grant_type') !== 'client_credentials') return aadError(res, 400, 'unsupported_grant_type', 'AADSTS70003', 'The app requested an unsupported grant type.');
    if (form.get('client_id') !== clientId) return aadError(res, 400, 'unauthorized_client', 'AADSTS700016', `Application with identifier '${form.get('client_id')}' was not found in the directory.`);
    if (form.get('scope') !== 'https://storage.azure.com/.default') return aadError(res, 400, 'invalid_scope', 'AADSTS1002012', 'The provided value for scope is not valid.');
    if (form.get('client_assertion_type') !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer') return aadError(res, 400, 'invalid_request', 'AADSTS50027', 'Invalid client_assertion_type.');
    const claims = verifyJwt(form.get('client_assertion') ?? '', github.publicKey);
    if (typeof claims === 'string') return aadError(res, 401, 'invalid_client', 'AADSTS50027', `JWT token is invalid or malformed: ${claims}.`);
    if (claims.iss !== GITHUB_ISSUER) return aadError(res, 401, 'invalid_client', 'AADSTS700211', `No matching federated identity record found for presented assertion issuer '${String(claims.iss)}'.`);
    if (claims.aud !== EXCHANGE_AUDIENCE) return aadError(res, 401, 'invalid_client', 'AADSTS700212', `No matching federated identity record found for presented assertion audience '${String(claims.aud)}'.`);
    if (typeof claims.exp !== 'number' || claims.exp < now()) return aadError(res, 401, 'invalid_client', 'AADSTS700024', 'Client assertion is not within its valid time range.');
    if (claims.sub !== options.federatedSubject) return aadError(res, 401, 'invalid_client', 'AADSTS700213', `No matching federated identity record found for presented assertion subject '${String(claims.sub)}'.`);
    // What Azure Storage checks: audience, issuer (sts.windows.net/<tenant>/), lifetime.
    const access = signJwt({ aud: 'https://storage.azure.com', iss: `https://sts.windows.net/${tenantId}/`, iat: now(), nbf: now() - 5, exp: now() + 3600, appid: clientId, oid: randomUUID(), tid: tenantId, sub: clientId }, entra.privateKey);
    issued.push(access);
    json(res, 200, { token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: access });
  }

  const server: Listening = await listen((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const entraPath = /^\/([^/]+)\/oauth2\/v2\.0\/token$/.exec(url.pathname);
    if (url.pathname === '/github/token') return githubToken(req, res, url);
    if (entraPath) {
      entraToken(req, res, decodeURIComponent(entraPath[1] ?? '')).catch((error: unknown) => json(res, 500, { error: String(error) }));
      return;
    }
    json(res, 404, { error: 'not found' });
  });
  return {
    // The runner's URL already has a query; core.getIDToken appends `&audience=…`.
    runnerEnv: { ACTIONS_ID_TOKEN_REQUEST_URL: `${server.url}/github/token?api-version=2.0`, ACTIONS_ID_TOKEN_REQUEST_TOKEN: requestToken },
    authorityHost: server.url,
    tenantId,
    clientId,
    issued,
    get githubSubject() {
      return state.githubSubject;
    },
    set githubSubject(subject: string) {
      state.githubSubject = subject;
    },
    close: () => server.close(),
  };
}
