// Every input of every JavaScript action, one at a time, gets hostile values through the bundle: a
// string of separators, quotes, newlines, `..`, template and shell syntax; a 100,000-character value;
// and zero. Whatever the action makes of it, it ends with exit 0 or a clear error (exit 1, an
// `::error::` that is no bare JavaScript exception, short), and no form of any secret it was given
// reaches the log, outputs, summary or what the receiving service got.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { readFileSync } from 'node:fs';
import { runAction, visible } from '../helpers/action';
import { freePort, listen, readBody, type Listening } from '../helpers/net';
import { runEnv } from '../helpers/run-env';
import { buildahEnv } from '../services/registry';
import { expectNoLeaks, type SeenRequest } from './harness';

const ROOT = join(import.meta.dirname, '..', '..');

// Each piece of 4+ characters is distinctive, so the scanner's piece check cannot match ordinary text.
const SECRETS = {
  password: 'Pg/Pa55#w0rdQ?z@k',
  token: 'ghs_AdversarialT0ken000000000000000',
  webhookSecret: 'whsec-Adv3rsarialXyz',
  runtime: 'ACTIONS-Runt1meT0kenQq',
  hookToken: 'H00kT0kenSegmentABCDEFGH0123',
};

const HOSTILE = {
  separators: `a,b;c|d\n'e"f\`$(id)\${{ github.token }} ../../x \\%zz\r\n  -- --flag`,
  // Alone, so that no other part of the value is refused first.
  template: '{{ env.INPUT_WEBHOOK-SECRET }} {{ env.INPUT_GITHUB-TOKEN }} {{ env.ACTIONS_RUNTIME_TOKEN }}',
  huge: 'x'.repeat(100_000),
  zero: '0',
} as const;

/** What no error message may be: an exception that escaped without saying which input is wrong. */
const BARE_ERROR = /TypeError|SyntaxError|RangeError|ReferenceError|Cannot read properties|is not a function|^Invalid URL$|URI malformed|ERR_INVALID|Unexpected token/m;

let sink: Listening;
/** What the sink received, by the case that sent it (the first path segment). */
const received = new Map<string, SeenRequest[]>();
let work: string;
let closedPort: number;
let buildah: ReturnType<typeof buildahEnv>;

beforeAll(async () => {
  sink = await listen((req: IncomingMessage, res) => {
    void readBody(req).then((body) => {
      // The path is the webhook credential the receiver is meant to get: only the body is scanned.
      const id = (req.url ?? '').split('/')[1] ?? '';
      received.set(id, [...(received.get(id) ?? []), { body, headers: req.headers }]);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
  });
  closedPort = await freePort();
  work = mkdtempSync(join(tmpdir(), 'slipway-every-input-'));
  mkdirSync(join(work, 'context'));
  writeFileSync(join(work, 'context', 'Containerfile'), 'FROM scratch\nCOPY app.txt /app.txt\n');
  writeFileSync(join(work, 'context', 'app.txt'), 'hello\n');
  mkdirSync(join(work, 'backups'));
  buildah = buildahEnv();
});

afterAll(async () => {
  await sink?.close();
  buildah?.remove();
  if (work) rmSync(work, { recursive: true, force: true });
});

/**
 * One ordinary step of each action that ends quickly here: notify posts to a local sink, backup-db
 * meets a closed port, blue-green-switch and canary-analyze health-check and measure closed ports,
 * helm-deploy renders a chart without a cluster, build-scan builds a scratch image without pushing.
 */
const BASELINES: Record<string, (id: string) => Record<string, string>> = {
  notify: (id) => ({
    status: 'success',
    'webhook-url': `${sink.url}/${id}/hooks/${SECRETS.hookToken}`,
    'webhook-secret': SECRETS.webhookSecret,
    'github-token': SECRETS.token,
    message: 'Deployed',
    retries: '0',
    timeout: '2s',
  }),
  'backup-db': () => ({
    uri: `postgres://slipway:${encodeURIComponent(SECRETS.password)}@127.0.0.1:${closedPort}/shop`,
    storage: 'local',
    'local-path': join(work, 'backups'),
    timeout: '30s',
  }),
  'blue-green-switch': () => ({
    router: 'nginx',
    target: 'green',
    'nginx-config-path': join(work, 'upstream.conf'),
    'nginx-upstream-blue': `127.0.0.1:${closedPort}`,
    'nginx-upstream-green': `127.0.0.1:${closedPort}`,
    'nginx-reload-command': 'true',
    'nginx-test-command': 'true',
    'health-url': `http://127.0.0.1:${closedPort}/health`,
    'health-timeout': '1s',
    'health-interval': '200ms',
  }),
  'canary-analyze': () => ({
    'prometheus-url': `http://metrics:${encodeURIComponent(SECRETS.password)}@127.0.0.1:${closedPort}`,
    mode: 'analyze',
    'step-duration': '2s',
    interval: '1s',
    'consecutive-error-limit': '1',
  }),
  'helm-deploy': () => ({
    release: 'shop',
    chart: join(ROOT, 'actions', 'helm-deploy', 'test', 'fixtures', 'shop'),
    'dry-run': 'client',
    'helm-test': 'false',
    'github-token': SECRETS.token,
  }),
  'build-scan': () => ({
    image: '127.0.0.1:1/acme/every-input',
    context: join(work, 'context'),
    builder: 'buildah',
    push: 'false',
    scan: 'false',
    'upload-sarif': 'false',
    password: SECRETS.password,
    username: 'ci',
    'github-token': SECRETS.token,
    tags: 'type=raw,value=v1',
  }),
};

const environment = () => ({ ...runEnv('4242'), ...buildah.env, ACTIONS_RUNTIME_TOKEN: SECRETS.runtime, RUNNER_TEMP: work });

function inputsOf(action: string): string[] {
  const manifest = parse(readFileSync(join(ROOT, 'actions', action, 'action.yml'), 'utf8')) as { inputs?: Record<string, unknown> };
  return Object.keys(manifest.inputs ?? {});
}

for (const [action, baseline] of Object.entries(BASELINES)) {
  // Concurrent: most runs wait on a closed port or a short timeout.
  describe.concurrent(`${action}: every input, hostile`, () => {
    const cases = inputsOf(action).flatMap((input) => Object.entries(HOSTILE).map(([kind, value]) => [input, kind, value] as const));
    it.each(cases)('%s = %s value', async (input, kind, value) => {
      const id = `${input}-${kind}`;
      const run = await runAction(action, { ...baseline(id), [input]: value }, environment());
      const log = visible(run.stdout);
      expect([0, 1], log + run.stderr).toContain(run.exitCode);
      if (run.exitCode === 1) {
        const errors = log.split('\n').filter((l) => l.startsWith('::error'));
        expect(errors.length, log).toBeGreaterThan(0);
        for (const error of errors) {
          expect(error).not.toMatch(BARE_ERROR);
          expect(error.length, 'an error line quotes at most a cut value').toBeLessThan(4000);
        }
      }
      expectNoLeaks(run, Object.values(SECRETS), received.get(id));
    });
  });
}
