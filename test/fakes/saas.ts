import { createHmac, timingSafeEqual } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listen, readBody, type Listening } from '../helpers/net';
import { selfSignedCert } from './smtp';

/**
 * Local stand-ins for the SaaS APIs that cannot run here. Each validates what it receives as strictly
 * as the real service documents (required fields, sizes, card schema, signatures) and answers the way
 * the real one does on success and on error, so a payload these accept is one the service accepts.
 */

export interface Received {
  service: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
  json?: unknown;
  /** Why the stand-in rejected it; empty when accepted. */
  problems: string[];
}

interface Scripted {
  status: number;
  /** E.g. `location` for a redirect. */
  headers?: Record<string, string>;
  /** The body, or a function of the request: receivers often echo its URL in an error (see echoRequest). */
  body?: string | ((r: Received, origin: string) => string);
  delayMs?: number;
}

/**
 * An error body as receivers write them when they echo the request: the full URL, the path and query
 * (also JSON-escaped, `\/` as PHP writes it), and each path segment and query value on its own.
 */
export function echoRequest(r: Received, origin: string): string {
  const segments = r.path.split(/[/?&=]/).filter(Boolean);
  return [`No handler for POST ${origin}${r.path}`, `path: ${r.path}`, `escaped: ${r.path.replace(/\//g, '\\/')}`, `segments: ${segments.join(' ')}`].join('\n');
}

export const SLACK_TOKEN = 'xoxb-1111-2222-slipwaytesttoken';
export const SLACK_CHANNEL_ID = 'C0SLIPWAY1';
export const WEBHOOK_SECRET = 'whsec-slipway-test';
export const GITHUB_TOKEN = 'ghs_slipwaytesttoken0000000000000000';
export const PAGERDUTY_KEY = 'R0123456789abcdef0123456789abcde';

export class SaasFake {
  readonly received: Received[] = [];
  /** With tls: the self-signed certificate (PEM file) to trust, e.g. as NODE_EXTRA_CA_CERTS. */
  caFile?: string;
  private scripts = new Map<string, Scripted[]>();
  private listening?: Listening;
  /** GitHub stand-in data: workflow runs by id. */
  runs: { id: number; workflow_id: number; head_branch: string; conclusion: string | null; status: string; created_at: string }[] = [];

  get url(): string {
    if (!this.listening) throw new Error('not started');
    return this.listening.url;
  }

  constructor(private readonly options: { tls?: boolean } = {}) {}

  async start(): Promise<this> {
    const handler = (req: IncomingMessage, res: ServerResponse) => void this.handle(req, res);
    this.listening = this.options.tls ? await this.listenTls(handler) : await listen(handler);
    return this;
  }

  /** HTTPS on loopback with a self-signed certificate for 127.0.0.1. */
  private async listenTls(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Listening> {
    const { key, cert } = selfSignedCert();
    this.caFile = join(mkdtempSync(join(tmpdir(), 'slipway-saas-ca-')), 'ca.pem');
    writeFileSync(this.caFile, cert);
    return listen(handler, { key, cert });
  }

  close(): Promise<void> {
    return this.listening?.close() ?? Promise.resolve();
  }

  /** The next answers of a service (before its normal behaviour), e.g. a 429 then a 500. */
  script(service: string, ...answers: Scripted[]): void {
    this.scripts.set(service, [...(this.scripts.get(service) ?? []), ...answers]);
  }

  /**
   * The next GitHub API answer is a rate limit, as GitHub sends it ("Rate limits for the REST API"): a
   * secondary limit is 403 with `retry-after`; an exhausted primary limit is 403 with
   * `x-ratelimit-remaining: 0` and `x-ratelimit-reset` (epoch seconds), here a second from now.
   */
  rateLimit(kind: 'secondary' | 'primary'): void {
    const docs = 'https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api';
    const json = { 'content-type': 'application/json; charset=utf-8', 'x-github-request-id': 'SLIPWAY:0001' };
    if (kind === 'secondary') {
      this.script('github', { status: 403, headers: { ...json, 'retry-after': '1' }, body: JSON.stringify({ message: 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.', documentation_url: `${docs}#about-secondary-rate-limits`, status: '403' }) });
    } else {
      const reset = String(Math.ceil(Date.now() / 1000) + 1);
      this.script('github', { status: 403, headers: { ...json, 'x-ratelimit-limit': '1000', 'x-ratelimit-remaining': '0', 'x-ratelimit-used': '1000', 'x-ratelimit-reset': reset, 'x-ratelimit-resource': 'core' }, body: JSON.stringify({ message: 'API rate limit exceeded for installation ID 1.', documentation_url: `${docs}#exceeding-the-rate-limit`, status: '403' }) });
    }
  }

  of(service: string): Received[] {
    return this.received.filter((r) => r.service === service);
  }

  reset(): void {
    this.received.length = 0;
    this.scripts.clear();
  }

  urls() {
    return {
      slack: `${this.url}/slack/services/T0SLIPWAY/B0SLIPWAY/slipwaywebhooksecret`,
      slackApi: `${this.url}/slack/api`,
      teams: `${this.url}/teams/workflows/abc123/triggers/manual/paths/invoke?api-version=1&sig=teamssecretsig`,
      discord: `${this.url}/discord/api/webhooks/123456789/discordsecrettoken`,
      pagerduty: `${this.url}/pagerduty/v2/enqueue`,
      webhook: `${this.url}/webhook`,
      github: `${this.url}/github`,
    };
  }

  /** notify's inputs for every HTTP channel, each pointed at this stand-in with the test credentials. */
  channelInputs(): Record<string, string> {
    const u = this.urls();
    return {
      'slack-webhook-url': u.slack,
      'slack-token': SLACK_TOKEN,
      'slack-channel': SLACK_CHANNEL_ID,
      'slack-api-url': u.slackApi,
      'teams-webhook-url': u.teams,
      'discord-webhook-url': u.discord,
      'pagerduty-routing-key': PAGERDUTY_KEY,
      'pagerduty-events-url': u.pagerduty,
      'webhook-url': u.webhook,
      'webhook-secret': WEBHOOK_SECRET,
    };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = req.url ?? '/';
    const service = serviceOf(path);
    const body = await readBody(req);
    const record: Received = { service, path, headers: req.headers, body, problems: [] };
    try {
      record.json = body ? JSON.parse(body) : undefined;
    } catch {
      if (req.method === 'POST') record.problems.push('body is not JSON');
    }
    this.received.push(record);
    const scripted = this.scripts.get(service)?.shift();
    if (scripted) {
      if (scripted.delayMs) await new Promise((r) => setTimeout(r, scripted.delayMs));
      if (res.destroyed) return;
      const answer = typeof scripted.body === 'function' ? scripted.body(record, this.url) : scripted.body;
      res.writeHead(scripted.status, scripted.headers).end(answer ?? '');
      return;
    }
    const answer = this.answer(service, req, record);
    res.writeHead(answer.status, { 'content-type': answer.type ?? 'application/json' }).end(answer.body);
  }

  private answer(service: string, req: IncomingMessage, r: Received): { status: number; body: string; type?: string } {
    const p = r.problems;
    const json = r.json as Record<string, unknown> | undefined;
    const isJsonType = /^application\/json/.test(String(req.headers['content-type']));
    switch (service) {
      case 'slack': {
        // Incoming webhooks: 200 "ok", or 400 with a short error word.
        if (!r.path.endsWith('/T0SLIPWAY/B0SLIPWAY/slipwaywebhooksecret')) return { status: 404, body: 'no_service', type: 'text/plain' };
        if (!isJsonType) p.push('content-type must be application/json');
        if (json) validateSlackMessage(json, p);
        return p.length ? { status: 400, body: 'invalid_blocks', type: 'text/plain' } : { status: 200, body: 'ok', type: 'text/plain' };
      }
      case 'slack-api': {
        // The Web API answers 200 with ok:false for errors.
        const method = r.path.split('/').pop();
        if (req.headers.authorization !== `Bearer ${SLACK_TOKEN}`) return { status: 200, body: JSON.stringify({ ok: false, error: 'invalid_auth' }) };
        if (!json) return { status: 200, body: JSON.stringify({ ok: false, error: 'invalid_json' }) };
        if (json.channel !== SLACK_CHANNEL_ID && json.channel !== '#deploys') return { status: 200, body: JSON.stringify({ ok: false, error: 'channel_not_found' }) };
        validateSlackMessage(json, p);
        if (method === 'chat.update') {
          if (json.channel !== SLACK_CHANNEL_ID) p.push('chat.update needs a channel ID');
          if (typeof json.ts !== 'string') p.push('chat.update needs ts');
        } else if (method !== 'chat.postMessage') {
          return { status: 200, body: JSON.stringify({ ok: false, error: 'unknown_method' }) };
        }
        if (json.thread_ts !== undefined && !/^\d+\.\d+$/.test(String(json.thread_ts))) p.push('thread_ts malformed');
        if (p.length) return { status: 200, body: JSON.stringify({ ok: false, error: 'invalid_blocks', errors: p }) };
        const ts = method === 'chat.update' ? String(json.ts) : `${Math.floor(Date.now() / 1000)}.000${this.received.length}00`;
        return { status: 200, body: JSON.stringify({ ok: true, channel: SLACK_CHANNEL_ID, ts }) };
      }
      case 'teams': {
        if (!r.path.includes('sig=teamssecretsig')) return { status: 401, body: JSON.stringify({ error: { code: 'DirectApiAuthorizationRequired' } }) };
        if (Buffer.byteLength(r.body) > 28 * 1024) p.push(`message is ${Buffer.byteLength(r.body)} bytes, over 28 KB`);
        if (json) validateTeams(json, p);
        return p.length ? { status: 400, body: JSON.stringify({ error: { code: 'InvalidRequestContent', message: p.join('; ') } }) } : { status: 202, body: '' };
      }
      case 'discord': {
        if (!r.path.endsWith('/123456789/discordsecrettoken')) return { status: 401, body: JSON.stringify({ message: 'Invalid Webhook Token', code: 50027 }) };
        if (!isJsonType) p.push('content-type must be application/json');
        if (json) validateDiscord(json, p);
        return p.length ? { status: 400, body: JSON.stringify({ message: 'Invalid Form Body', code: 50035, errors: p }) } : { status: 204, body: '' };
      }
      case 'pagerduty': {
        if (json) validatePagerDuty(json, p);
        if (p.length) return { status: 400, body: JSON.stringify({ status: 'invalid event', message: 'Event object is invalid', errors: p }) };
        return { status: 202, body: JSON.stringify({ status: 'success', message: 'Event processed', dedup_key: json?.dedup_key }) };
      }
      case 'webhook': {
        const signature = String(req.headers['x-slipway-signature-256'] ?? '');
        const expected = `sha256=${createHmac('sha256', WEBHOOK_SECRET).update(r.body, 'utf8').digest('hex')}`;
        if (signature && (signature.length !== expected.length || !timingSafeEqual(Buffer.from(signature), Buffer.from(expected)))) {
          p.push('signature does not match the body');
          return { status: 401, body: JSON.stringify({ error: 'bad signature' }) };
        }
        return { status: 200, body: JSON.stringify({ received: true }) };
      }
      case 'github':
        return this.github(req, r);
      default:
        return { status: 404, body: '{}' };
    }
  }

  private github(req: IncomingMessage, r: Received): { status: number; body: string } {
    if (req.headers.authorization !== `Bearer ${GITHUB_TOKEN}`) return { status: 401, body: JSON.stringify({ message: 'Bad credentials' }) };
    if (!String(req.headers.accept).includes('application/vnd.github+json')) r.problems.push('accept header');
    if (!req.headers['user-agent']) r.problems.push('GitHub requires a User-Agent');
    const url = new URL(r.path.replace(/^\/github/, ''), 'http://x');
    let m = /^\/repos\/([^/]+)\/([^/]+)\/actions\/runs\/(\d+)$/.exec(url.pathname);
    if (m) {
      const run = this.runs.find((x) => x.id === Number(m?.[3]));
      return run ? { status: 200, body: JSON.stringify(run) } : { status: 404, body: JSON.stringify({ message: 'Not Found' }) };
    }
    m = /^\/repos\/([^/]+)\/([^/]+)\/actions\/workflows\/(\d+)\/runs$/.exec(url.pathname);
    if (m) {
      const q = url.searchParams;
      const branch = q.get('branch');
      const status = q.get('status');
      if (status !== null && !['completed', 'in_progress', 'queued', 'success', 'failure'].includes(status)) return { status: 422, body: '{"message":"Validation Failed"}' };
      const runs = this.runs
        .filter((x) => x.workflow_id === Number(m?.[3]) && (!branch || x.head_branch === branch) && (status !== 'completed' || x.status === 'completed'))
        .sort((a, b) => b.created_at.localeCompare(a.created_at))
        .slice(0, Number(q.get('per_page') ?? 30));
      return { status: 200, body: JSON.stringify({ total_count: runs.length, workflow_runs: runs }) };
    }
    return { status: 404, body: JSON.stringify({ message: 'Not Found' }) };
  }
}

function serviceOf(path: string): string {
  if (path.startsWith('/slack/api/')) return 'slack-api';
  return path.split('/')[1] ?? '';
}

const str = (v: unknown): v is string => typeof v === 'string';

// https://docs.slack.dev/reference/block-kit/blocks
function validateSlackMessage(m: Record<string, unknown>, p: string[]): void {
  const attachments = (m.attachments ?? []) as Record<string, unknown>[];
  if (!str(m.text) && !Array.isArray(m.blocks) && attachments.length === 0) p.push('no_text');
  if (str(m.text) && m.text.length > 40_000) p.push('text over 40000');
  const blockSets = [m.blocks, ...attachments.map((a) => a.blocks)].filter(Array.isArray) as Record<string, unknown>[][];
  for (const a of attachments) if (a.color !== undefined && !/^#[0-9a-f]{6}$/i.test(String(a.color))) p.push('attachment color');
  for (const blocks of blockSets) {
    if (blocks.length > 50) p.push('more than 50 blocks');
    for (const b of blocks) {
      const text = b.text as { type?: string; text?: string } | undefined;
      switch (b.type) {
        case 'header':
          if (text?.type !== 'plain_text' || !str(text.text) || text.text.length > 150 || text.text.length === 0) p.push('header text');
          break;
        case 'section': {
          const fields = b.fields as { type: string; text: string }[] | undefined;
          if (!text && !fields) p.push('section needs text or fields');
          if (text && (!str(text.text) || text.text.length > 3000 || text.text.length === 0)) p.push('section text length');
          if (fields && (fields.length > 10 || fields.some((f) => !str(f.text) || f.text.length > 2000 || f.text.length === 0))) p.push('section fields');
          break;
        }
        case 'actions': {
          const elements = b.elements as Record<string, unknown>[];
          if (!Array.isArray(elements) || elements.length === 0 || elements.length > 25) p.push('actions elements');
          for (const e of elements ?? []) {
            const t = e.text as { type?: string; text?: string } | undefined;
            if (e.type !== 'button' || t?.type !== 'plain_text' || !str(t.text) || t.text.length > 75) p.push('button text');
            if (e.url !== undefined && (!str(e.url) || e.url.length > 3000 || !/^https?:\/\//.test(e.url))) p.push('button url');
            if (e.action_id !== undefined && (!str(e.action_id) || e.action_id.length > 255)) p.push('action_id');
          }
          const ids = elements?.map((e) => e.action_id).filter(Boolean) ?? [];
          if (new Set(ids).size !== ids.length) p.push('duplicate action_id');
          break;
        }
        case 'context': {
          const elements = b.elements as { text?: string }[];
          if (!Array.isArray(elements) || elements.length === 0 || elements.length > 10) p.push('context elements');
          break;
        }
        default:
          p.push(`unknown block type ${String(b.type)}`);
      }
    }
  }
}

const CARD_ELEMENTS = new Set(['TextBlock', 'FactSet', 'Container', 'ColumnSet', 'Image', 'RichTextBlock', 'ActionSet']);
const CARD_STYLES = new Set(['default', 'emphasis', 'good', 'attention', 'warning', 'accent']);

function validateCardElements(elements: unknown, p: string[]): void {
  if (!Array.isArray(elements)) return void p.push('body must be an array');
  for (const e of elements as Record<string, unknown>[]) {
    if (!CARD_ELEMENTS.has(String(e.type))) p.push(`unknown card element ${String(e.type)}`);
    if (e.type === 'TextBlock' && !str(e.text)) p.push('TextBlock.text must be a string');
    if (e.type === 'FactSet') {
      const facts = e.facts as { title?: unknown; value?: unknown }[];
      if (!Array.isArray(facts) || facts.some((f) => !str(f.title) || !str(f.value))) p.push('FactSet facts need string title and value');
    }
    if (e.type === 'Container') {
      if (e.style !== undefined && !CARD_STYLES.has(String(e.style))) p.push('Container.style');
      validateCardElements(e.items, p);
    }
  }
}

// https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using
function validateTeams(m: Record<string, unknown>, p: string[]): void {
  if (m.type !== 'message') p.push('type must be "message"');
  const attachments = m.attachments as Record<string, unknown>[] | undefined;
  if (!Array.isArray(attachments) || attachments.length !== 1) return void p.push('exactly one attachment');
  const a = attachments[0] as Record<string, unknown>;
  if (a.contentType !== 'application/vnd.microsoft.card.adaptive') p.push('contentType');
  const card = a.content as Record<string, unknown> | undefined;
  if (!card || card.type !== 'AdaptiveCard') return void p.push('content must be an AdaptiveCard');
  if (!['1.0', '1.1', '1.2', '1.3', '1.4', '1.5'].includes(String(card.version))) p.push('card version unsupported by Teams');
  validateCardElements(card.body, p);
  for (const action of (card.actions ?? []) as Record<string, unknown>[]) {
    if (action.type !== 'Action.OpenUrl' || !str(action.title) || !str(action.url) || !/^https?:\/\//.test(action.url)) p.push('Action.OpenUrl');
  }
}

// https://discord.com/developers/docs/resources/message#embed-object-embed-limits
function validateDiscord(m: Record<string, unknown>, p: string[]): void {
  if (str(m.content) && m.content.length > 2000) p.push('content over 2000');
  const embeds = (m.embeds ?? []) as Record<string, unknown>[];
  if (!str(m.content) && embeds.length === 0) p.push('empty message');
  if (embeds.length > 10) p.push('more than 10 embeds');
  let total = 0;
  for (const e of embeds) {
    const fields = (e.fields ?? []) as { name?: unknown; value?: unknown }[];
    const footer = e.footer as { text?: string } | undefined;
    if (str(e.title)) {
      if (e.title.length > 256) p.push('title over 256');
      total += e.title.length;
    }
    if (str(e.description)) {
      if (e.description.length > 4096) p.push('description over 4096');
      total += e.description.length;
    }
    if (fields.length > 25) p.push('more than 25 fields');
    for (const f of fields) {
      if (!str(f.name) || f.name.length === 0 || f.name.length > 256) p.push('field name');
      if (!str(f.value) || f.value.length === 0 || f.value.length > 1024) p.push('field value');
      total += String(f.name).length + String(f.value).length;
    }
    if (footer) {
      if (!str(footer.text) || footer.text.length > 2048) p.push('footer');
      total += String(footer.text).length;
    }
    if (e.color !== undefined && (!Number.isInteger(e.color) || (e.color as number) < 0 || (e.color as number) > 0xffffff)) p.push('color');
    if (e.timestamp !== undefined && Number.isNaN(Date.parse(String(e.timestamp)))) p.push('timestamp');
  }
  if (total > 6000) p.push(`embeds total ${total} over 6000`);
}

// https://developer.pagerduty.com/api-reference/368ae3d938c9e-send-an-event-to-pager-duty
function validatePagerDuty(m: Record<string, unknown>, p: string[]): void {
  if (m.routing_key !== PAGERDUTY_KEY) p.push('routing_key');
  if (!['trigger', 'acknowledge', 'resolve'].includes(String(m.event_action))) p.push('event_action');
  if (m.dedup_key !== undefined && (!str(m.dedup_key) || m.dedup_key.length > 255)) p.push('dedup_key');
  if (m.event_action === 'trigger') {
    const payload = m.payload as Record<string, unknown> | undefined;
    if (!payload) return void p.push('payload required for trigger');
    if (!str(payload.summary) || payload.summary.length === 0 || payload.summary.length > 1024) p.push('payload.summary');
    if (!str(payload.source) || payload.source.length === 0) p.push('payload.source');
    if (!['critical', 'error', 'warning', 'info'].includes(String(payload.severity))) p.push('payload.severity');
    if (payload.timestamp !== undefined && Number.isNaN(Date.parse(String(payload.timestamp)))) p.push('payload.timestamp');
  } else if (!str(m.dedup_key)) {
    p.push(`dedup_key required for ${String(m.event_action)}`);
  }
}
